// Whether an object that bears a child's name is this McpOidcProxy's own. The operator
// writes with server-side apply forcing its fields, which would take any object of that name
// over: a user's own Service named like the proxy (the MCP server's, say) had its selector
// replaced and an owner reference added, so deleting the proxy would have garbage-collected
// it. An object is the proxy's when an owner reference names the proxy's uid as controller,
// as controller-runtime's SetControllerReference marks it; or, with no controller at all,
// when it carries the operator's labels for this resource: a child orphaned by
// `kubectl delete --cascade=orphan` is adopted by the resource recreated under its name, as
// a Deployment adopts the ReplicaSets its selector matches. Anything else of that name — an
// object without those labels, or controlled by anything else — is left untouched and reported.
import type { KubernetesObject } from "@kubernetes/client-node";
import type { McpOidcProxy } from "../api/v1alpha1/mcp-oidc-proxy.ts";
import { FIELD_MANAGER } from "../desired/children.ts";

/** The part of an object's metadata ownership is judged by (a cached or a whole object). */
export interface OwnedObject {
  metadata?: {
    ownerReferences?: { kind: string; name: string; uid: string; controller?: boolean }[];
    labels?: Record<string, string>;
  };
}

/** The kind and name of a child the resource asks for. */
export interface ChildName {
  kind: string;
  name: string;
}

/** Whether an owner reference names this resource as the object's controller. */
export function controlledBy(object: OwnedObject, cr: McpOidcProxy): boolean {
  return (object.metadata?.ownerReferences ?? []).some((ref) => ref.controller === true && ref.uid === cr.metadata.uid);
}

/**
 * Whether the object is this resource's to write: controlled by it, or an orphan the
 * operator made for a resource of this name (no controller, the operator's labels). Labels
 * are read from the whole object only (the watch caches do not keep them).
 */
export function isOwnChild(object: OwnedObject, cr: McpOidcProxy): boolean {
  if (controlledBy(object, cr)) return true;
  if (object.metadata?.ownerReferences?.some((ref) => ref.controller === true)) return false;
  const labels = object.metadata?.labels ?? {};
  return (
    labels["app.kubernetes.io/managed-by"] === FIELD_MANAGER &&
    labels["app.kubernetes.io/instance"] === cr.metadata.name
  );
}

/** What the status says about an object of a child's name that is not the resource's. */
export function conflictMessage(child: ChildName, object: OwnedObject): string {
  const controller = object.metadata?.ownerReferences?.find((ref) => ref.controller === true);
  const whose = controller ? ` (its controller is ${controller.kind} ${controller.name})` : "";
  return `${child.kind} ${child.name} exists and is not owned by this McpOidcProxy${whose}; it is left untouched: rename the McpOidcProxy, or remove that ${child.kind} if nothing else needs it`;
}

/** The kind and name of a built child. */
export function childName(object: KubernetesObject): ChildName {
  return { kind: object.kind ?? "", name: object.metadata?.name ?? "" };
}
