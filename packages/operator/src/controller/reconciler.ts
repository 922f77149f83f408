// reconcile(key): level-based. It reads the McpOidcProxy afresh, builds every child from
// the spec, applies them server-side, removes what the spec no longer asks for, and writes
// the status only when it changed. Outcomes: done (maybe requeue after a delay), an error
// (retried with backoff), a TerminalError (reported in the status, not retried), or a
// BlockedError (reported like a terminal one, but looked at again with backoff: a missing
// Secret may be created any moment, a foreign object of a child's name removed). Before
// anything is written, every child's name is checked: an object of that name that this
// resource does not control is never touched (ownership.ts).
import { createHash, randomBytes } from "node:crypto";
import type { KubeConfig, KubernetesObject, V1Deployment } from "@kubernetes/client-node";
import {
  collectionPath,
  type KindInfo,
  kindNamed,
  OWNED_KINDS,
  objectPath,
  RESOURCE_KIND,
} from "../api/owned-kinds.ts";
import {
  ConditionType,
  GROUP,
  KIND,
  type McpOidcProxy,
  type McpOidcProxyStatus,
  Reason,
  specSchema,
  storedSpec,
  VERSION,
} from "../api/v1alpha1/mcp-oidc-proxy.ts";
import {
  configMapFor,
  deploymentFor,
  FIELD_MANAGER,
  horizontalPodAutoscalerFor,
  names,
  ownerReference,
  podDisruptionBudgetFor,
  SESSION_SECRET_KEY,
  selectorLabels,
  serviceAccountFor,
  serviceFor,
} from "../desired/children.ts";
import { proxyUrl } from "../desired/proxy-config.ts";
import { isInvalidObject, summarizeApiError } from "../runtime/api-error.ts";
import type { Applier } from "../runtime/apply.ts";
import type { ObjectKeyFields } from "../runtime/informer.ts";
import { requestJson } from "../runtime/raw-client.ts";
import { setCondition } from "./conditions.ts";
import { EventRecorder } from "./events.ts";
import { type ChildName, childName, conflictMessage, controlledBy, isOwnChild, type OwnedObject } from "./ownership.ts";
import { envReclaimPatch } from "./reclaim-env.ts";
import { foreignManagers, templateReclaimPatch } from "./reclaim-template.ts";
import { stableJson } from "./stable-json.ts";
import { type ConditionInput, retryingConditions, rolloutConditions, stalledConditions } from "./status.ts";

const REPLICAS_HANDOFF_MANAGER = "mcp-oidc-operator-replicas-handoff";

export interface ReconcileResult {
  requeueAfterMs?: number;
}

/** A problem only a change of the resource can fix: reported, counted, not retried. */
export class TerminalError extends Error {
  readonly reason: string;
  constructor(reason: string, message: string) {
    super(message);
    this.reason = reason;
  }
}

/**
 * Terminal until another object changes, which the operator does not watch (a user's
 * Secret, a user's object of a child's name): reported, and looked at again with backoff.
 */
export class BlockedError extends TerminalError {}

/** A referenced Secret or ConfigMap (or its key) is missing: terminal until it appears. */
export class MissingReferenceError extends BlockedError {}

/** An object of a child's name exists and is not this resource's: left alone until it goes. */
export class ChildConflictError extends BlockedError {}

/**
 * What a watch cache holds of an owned object (its key fields); null when it has none;
 * undefined when it cannot tell (not synced yet). It holds only the operator's labelled
 * objects, so "none" does not mean no object of that name exists.
 */
export type CachedChild = (kind: string, namespace: string, name: string) => ObjectKeyFields | null | undefined;

/**
 * What the ownership check found under each child's name (by "Kind/name"): the uid of the
 * resource's own object, or null when there was none. Each write is held to it, so an
 * object made or replaced by someone else after the check is refused, not taken over.
 */
type FoundObject = { uid: string; live?: DataObject } | null;
type Found = Map<string, FoundObject>;
const foundKey = (child: ChildName) => `${child.kind}/${child.name}`;

export interface ReconcilerLogger {
  info(message: string, meta?: Record<string, unknown>): void;
  warn(message: string, meta?: Record<string, unknown>): void;
}

function childInvalid(object: KubernetesObject, error: unknown): TerminalError {
  const { message } = summarizeApiError(error);
  return new TerminalError(Reason.ChildInvalid, `${object.kind} ${object.metadata?.name}: ${message}`);
}

/** An apply error as the reconcile ends on it: terminal when the child is invalid, else retried. */
function applyFailure(object: KubernetesObject, error: unknown): unknown {
  return isInvalidObject(error) ? childInvalid(object, error) : error;
}

/**
 * The proxy's Service has the resource's name: an upstream Service of that name is the
 * proxy itself (every request would loop back into it). The CRD refuses it too; this is for
 * a CRD installed before that rule.
 */
function refuseSelfReference(cr: McpOidcProxy): void {
  if (cr.spec.upstream.service?.name !== cr.metadata.name) return;
  throw new TerminalError(
    Reason.InvalidSpec,
    `upstream.service.name must not be ${cr.metadata.name}, the McpOidcProxy's own name: the proxy's Service has that name, so the proxy would forward to itself`,
  );
}

/** The optional children by kind: the object when the spec asks for one, else undefined. */
function optionalChildren(cr: McpOidcProxy): Record<string, KubernetesObject | undefined> {
  return { PodDisruptionBudget: podDisruptionBudgetFor(cr), HorizontalPodAutoscaler: horizontalPodAutoscalerFor(cr) };
}

function isNotFound(error: unknown): boolean {
  return (error as { code?: number }).code === 404;
}

/**
 * An apply held to a uid that is no longer the object's: gone (409 "uid mismatch") or made
 * anew under the name (422 on metadata.uid, which cannot change).
 */
function isReplaced(error: unknown): boolean {
  const { code, message } = error as { code?: number; message?: string };
  return code === 409 || (code === 422 && /metadata\.uid/.test(message ?? ""));
}

/** What the reconcile reads of a Secret or ConfigMap: its data, each value a string. */
interface DataObject {
  data?: Record<string, unknown>;
}

/** A value of a Secret's or ConfigMap's data, if it is there and a string. */
function dataValue(object: DataObject, key: string): string | undefined {
  const value = object.data?.[key];
  return typeof value === "string" ? value : undefined;
}

/**
 * The session key of the generated Secret. Without it every pod would fail to start
 * (CreateContainerConfigError) with nothing in the status; the operator may only create
 * Secrets (RBAC: no update of any Secret in the cluster), so it says how to get a new one.
 */
function sessionKeyOf(name: string, secret: DataObject): string {
  const value = dataValue(secret, SESSION_SECRET_KEY);
  if (value) return value;
  throw new MissingReferenceError(
    Reason.SecretMissing,
    `Secret ${name} (the generated session key) has no key ${SESSION_SECRET_KEY}: delete the Secret and the operator generates a new one`,
  );
}

const SECRET = kindNamed("Secret");
const CONFIG_MAP = kindNamed("ConfigMap");
const DEPLOYMENT = kindNamed("Deployment");

export class Reconciler {
  readonly #kubeConfig: KubeConfig;
  readonly #applier: Applier;
  readonly #logger: ReconcilerLogger;
  readonly #now: () => Date;
  readonly #events: EventRecorder;
  readonly #secretRecheckMs: number;
  readonly #cached: CachedChild;

  constructor(options: {
    kubeConfig: KubeConfig;
    applier: Applier;
    logger: ReconcilerLogger;
    now?: () => Date;
    secretRecheckMs?: number;
    /** What the watch caches know of the owned objects; without it every prune is sent. */
    cached?: CachedChild;
  }) {
    this.#cached = options.cached ?? (() => undefined);
    this.#events = new EventRecorder(options.kubeConfig);
    this.#secretRecheckMs = options.secretRecheckMs ?? 5 * 60_000;
    this.#kubeConfig = options.kubeConfig;
    this.#applier = options.applier;
    this.#logger = options.logger;
    this.#now = options.now ?? (() => new Date());
  }

  async reconcile(key: string): Promise<ReconcileResult> {
    const [namespace, name] = key.split("/") as [string, string];
    const cr = await this.#read<McpOidcProxy>(RESOURCE_KIND, namespace, name);
    // Deleted: owner references let the garbage collector clean up.
    if (!cr || cr.metadata.deletionTimestamp) return {};

    try {
      return await this.#reconcileChildren(cr);
    } catch (error) {
      if (!(error instanceof TerminalError)) {
        // Retried with backoff; meanwhile the resource says why it is not converging.
        await this.#reportRetrying(cr, error).catch(() => {});
        throw error;
      }
      await this.#writeStatus(cr, {
        ...this.#baseStatus(cr),
        conditions: this.#conditions(cr, stalledConditions(error.reason, error.message)),
      });
      throw error;
    }
  }

  async #reconcileChildren(cr: McpOidcProxy): Promise<ReconcileResult> {
    const parsed = specSchema.safeParse(storedSpec(cr.spec));
    if (!parsed.success) {
      throw new TerminalError(
        Reason.InvalidSpec,
        parsed.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`).join("; "),
      );
    }
    cr = { ...cr, spec: parsed.data };
    refuseSelfReference(cr);
    const children = [serviceAccountFor(cr), configMapFor(cr), serviceFor(cr)];
    const optional = optionalChildren(cr);
    const found = await this.#refuseForeignObjects(cr, [
      { kind: "Secret", name: names(cr).keys },
      ...children.map(childName),
      { kind: "Deployment", name: names(cr).workload },
      ...Object.values(optional).flatMap((child) => (child ? [childName(child)] : [])),
    ]);
    // The generated session key is part of what the pods read: a recreated one rolls them.
    const sessionKey = await this.#ensureKeys(cr, found.get(foundKey({ kind: "Secret", name: names(cr).keys })));
    const fingerprint = await this.#secretsFingerprint(cr, sessionKey);

    for (const child of children) await this.#applyChild(cr, child, found);
    if (cr.spec.autoscaling?.enabled) await this.#handReplicasOver(cr);
    const deployment = await this.#reclaimTemplate(
      await this.#applyDeployment(cr, deploymentFor(cr, fingerprint), found),
    );
    await this.#applyOrPrune(cr, optional, found);

    await this.#writeStatus(cr, this.#rolloutStatus(cr, deployment));
    // Referenced Secrets are not watched (that would stream every Secret in the cluster
    // into the operator; decision 014): a resource that references one (or a CA
    // ConfigMap) is looked at again every secretRecheckMs, so a rotation rolls the pods.
    return this.#referencesSecrets(cr) ? { requeueAfterMs: this.#secretRecheckMs } : {};
  }

  /**
   * Every child's name, before anything is written: an object of that name this resource
   * does not control (a user's own Service or ConfigMap) is left as it is, and the resource
   * reports the conflict. The watch caches answer for the children they hold (no request
   * for a settled resource); a name they lack (only the operator's labelled objects are
   * cached) is read, once per reconcile while it is missing. Returns what was found.
   */
  async #refuseForeignObjects(cr: McpOidcProxy, children: ChildName[]): Promise<Found> {
    const objects = await Promise.all(children.map((child) => this.#objectNamed(cr, child)));
    const found: Found = new Map();
    const conflicts = children.flatMap((child, i) => {
      const object = objects[i];
      if (object && !object.own) return [conflictMessage(child, object.object)];
      found.set(foundKey(child), object ? { uid: object.uid, ...(object.live ? { live: object.live } : {}) } : null);
      return [];
    });
    if (conflicts.length > 0) throw new ChildConflictError(Reason.ChildConflict, conflicts.join("; "));
    return found;
  }

  /** The object of a child's name, if any: whether it is this resource's own, its uid, what was read. */
  async #objectNamed(
    cr: McpOidcProxy,
    child: ChildName,
  ): Promise<{ own: boolean; uid: string; object: OwnedObject; live?: DataObject } | undefined> {
    const cached = this.#cached(child.kind, cr.metadata.namespace, child.name);
    if (cached?.metadata.uid && controlledBy(cached, cr))
      return { own: true, uid: cached.metadata.uid, object: cached };
    const live = await this.#read<DataObject & OwnedObject & KubernetesObject>(
      kindNamed(child.kind),
      cr.metadata.namespace,
      child.name,
    );
    if (!live) return undefined;
    return { own: isOwnChild(live, cr), uid: live.metadata?.uid ?? "", object: live, live };
  }

  /**
   * The optional children (prunable in the owned-kinds table): applied when asked for, else
   * removed if this resource's own — not when the watch cache says there is none (two
   * DELETEs answered 404 were a fifth of a settled reconcile's requests). A child the cache
   * has not seen yet is no risk: its creation is an event, and that reconcile removes it.
   */
  async #applyOrPrune(
    cr: McpOidcProxy,
    optional: Record<string, KubernetesObject | undefined>,
    found: Found,
  ): Promise<void> {
    const metadata = { namespace: cr.metadata.namespace, name: names(cr).workload };
    for (const owned of OWNED_KINDS.filter((kind) => kind.prunable)) {
      const desired = optional[owned.kind];
      if (desired) await this.#applyChild(cr, desired, found);
      else if (await this.#ownsObject(cr, owned, metadata.name))
        await this.#applier.remove({ apiVersion: owned.apiVersion, kind: owned.kind, metadata });
    }
  }

  /** Whether the object of that kind and name is this resource's own (false when there is none). */
  async #ownsObject(cr: McpOidcProxy, kind: KindInfo, name: string): Promise<boolean> {
    const cached = this.#cached(kind.kind, cr.metadata.namespace, name);
    // Not even labelled as the operator's: neither controlled by the resource nor its orphan.
    if (cached === null) return false;
    if (cached && controlledBy(cached, cr)) return true;
    const live = await this.#read<OwnedObject>(kind, cr.metadata.namespace, name);
    return live !== undefined && isOwnChild(live, cr);
  }

  #referencesSecrets(cr: McpOidcProxy): boolean {
    return Boolean(
      cr.spec.provider?.clientSecretRef ||
        cr.spec.provider?.caConfigMapRef ||
        cr.spec.session.redis?.urlSecretRef ||
        cr.spec.session.redis?.passwordSecretRef,
    );
  }

  /**
   * Server-side apply of a child built from the spec. A child the API server finds invalid
   * (a ConfigMap over 1 MiB, CPU requests above the limits, a quantity it cannot parse)
   * cannot succeed without a change of the spec: terminal (Stalled), not retried forever.
   */
  async #applyChild<T extends KubernetesObject>(cr: McpOidcProxy, object: T, found: Found): Promise<T> {
    try {
      return await this.#write(cr, object, found);
    } catch (error) {
      throw applyFailure(object, error);
    }
  }

  /**
   * A child written as what the ownership check found: created when there was none (one
   * made meanwhile is judged as the check would have: refused unless it is ours), applied
   * to that uid when there was (one replaced meanwhile is looked at again: retried).
   */
  async #write<T extends KubernetesObject>(cr: McpOidcProxy, object: T, found: Found): Promise<T> {
    const child = childName(object);
    const seen = found.get(foundKey(child));
    if (seen === undefined) return this.#applier.apply(object);
    if (seen === null) {
      try {
        return await this.#applier.create(object);
      } catch (error) {
        if ((error as { code?: number }).code !== 409) throw error;
        const theirs = await this.#objectNamed(cr, child);
        if (!theirs) throw error;
        if (!theirs.own) throw new ChildConflictError(Reason.ChildConflict, conflictMessage(child, theirs.object));
        return this.#applier.apply(object, FIELD_MANAGER, theirs.uid);
      }
    }
    try {
      return await this.#applier.apply(object, FIELD_MANAGER, seen.uid);
    } catch (error) {
      if (!isReplaced(error)) throw error;
      throw new Error(`${child.kind} ${child.name} was replaced since it was read; looking at it again`);
    }
  }

  /** Server-side apply; a 422 caused by fields another manager put on our env vars is undone once. */
  async #applyDeployment(cr: McpOidcProxy, desired: V1Deployment, found: Found): Promise<V1Deployment> {
    try {
      return await this.#write(cr, desired, found);
    } catch (error) {
      if ((error as { code?: number }).code !== 422) throw applyFailure(desired, error);
      const header = { name: desired.metadata?.name ?? "", namespace: desired.metadata?.namespace ?? "" };
      const live = await this.#read<V1Deployment>(DEPLOYMENT, header.namespace, header.name);
      const patch = live && envReclaimPatch(live, desired);
      if (!patch) throw childInvalid(desired, error);
      await this.#applier.patchDeployment(header, patch);
      this.#logger.warn("took back hand-edited environment variables", {
        namespace: header.namespace,
        deployment: header.name,
        variables: patch.flatMap((op) => (op.op === "test" && op.path.endsWith("/name") ? [op.value] : [])),
      });
      return await this.#applyChild(cr, desired, found);
    }
  }

  /**
   * Removes what other field managers added to the pod template, spec.paused or the labels
   * (server-side apply leaves them); the write is an update event, so the next reconcile
   * sees the healed Deployment. A conflict (someone wrote meanwhile) is retried.
   */
  async #reclaimTemplate(applied: V1Deployment): Promise<V1Deployment> {
    const patch = templateReclaimPatch(applied);
    if (!patch) return applied;
    const header = { name: applied.metadata?.name ?? "", namespace: applied.metadata?.namespace ?? "" };
    const healed = (await this.#applier.patchDeployment(header, patch)) as V1Deployment;
    this.#logger.warn("removed fields other managers added to the Deployment", {
      ...header,
      managers: foreignManagers(applied),
      fields: patch.flatMap((op) => (op.op === "remove" ? [op.path] : [])),
    });
    return healed;
  }

  /**
   * Before the operator stops setting spec.replicas (the HPA owns it now), another field
   * manager takes the field over at its current value; otherwise server-side apply would
   * remove it and the Deployment would fall back to one replica until the HPA reacts.
   */
  async #handReplicasOver(cr: McpOidcProxy): Promise<void> {
    const current = await this.#read<V1Deployment>(DEPLOYMENT, cr.metadata.namespace, names(cr).workload);
    if (!current) return;
    const ownsReplicas = current.metadata?.managedFields?.some(
      (field) =>
        field.manager === FIELD_MANAGER &&
        field.operation === "Apply" &&
        (field.fieldsV1 as { "f:spec"?: Record<string, unknown> } | undefined)?.["f:spec"]?.["f:replicas"] !==
          undefined,
    );
    if (!ownsReplicas) return;
    await this.#applier.apply(
      {
        apiVersion: "apps/v1",
        kind: "Deployment",
        metadata: { name: names(cr).workload, namespace: cr.metadata.namespace },
        spec: { replicas: current.spec?.replicas ?? 1 },
      },
      REPLICAS_HANDOFF_MANAGER,
    );
  }

  /** Hash of the referenced Secrets' data; a missing Secret or key is for the user to fix. */
  async #secretsFingerprint(cr: McpOidcProxy, sessionKey: string): Promise<string> {
    const refs = [
      cr.spec.provider?.clientSecretRef,
      cr.spec.session.redis?.urlSecretRef,
      cr.spec.session.redis?.passwordSecretRef,
    ]
      .filter((ref): ref is { name: string; key: string } => ref !== undefined)
      .sort((a, b) => `${a.name}/${a.key}`.localeCompare(`${b.name}/${b.key}`));
    const hash = createHash("sha256");
    hash.update(`generated:${names(cr).keys}/${SESSION_SECRET_KEY}=${sessionKey}\n`);
    for (const ref of refs) {
      const secret = await this.#read<DataObject>(SECRET, cr.metadata.namespace, ref.name);
      if (!secret) throw new MissingReferenceError(Reason.SecretMissing, `Secret ${ref.name} does not exist`);
      const value = dataValue(secret, ref.key);
      if (value === undefined)
        throw new MissingReferenceError(Reason.SecretMissing, `Secret ${ref.name} has no key ${ref.key}`);
      hash.update(`${ref.name}/${ref.key}=${value}\n`);
    }
    const ca = cr.spec.provider?.caConfigMapRef;
    if (ca) {
      const configMap = await this.#read<DataObject>(CONFIG_MAP, cr.metadata.namespace, ca.name);
      if (!configMap) throw new MissingReferenceError(Reason.ConfigMapMissing, `ConfigMap ${ca.name} does not exist`);
      const pem = dataValue(configMap, ca.key);
      if (pem === undefined)
        throw new MissingReferenceError(Reason.ConfigMapMissing, `ConfigMap ${ca.name} has no key ${ca.key}`);
      hash.update(`configmap:${ca.name}/${ca.key}=${pem}\n`);
    }
    return hash.digest("hex");
  }

  /**
   * The generated session secret: created once, never rotated by a reconcile. Returns its
   * value. (Whether an existing one is this resource's own was checked before; what that
   * check read, or that it found none, saves reading it again.)
   */
  async #ensureKeys(cr: McpOidcProxy, found: FoundObject | undefined): Promise<string> {
    const name = names(cr).keys;
    const existing =
      found === null ? undefined : (found?.live ?? (await this.#read<DataObject>(SECRET, cr.metadata.namespace, name)));
    if (existing) return sessionKeyOf(name, existing);
    const value = randomBytes(36).toString("base64url");
    try {
      await requestJson(this.#kubeConfig, "POST", collectionPath(SECRET, cr.metadata.namespace), {
        apiVersion: "v1",
        kind: "Secret",
        metadata: {
          name,
          namespace: cr.metadata.namespace,
          labels: { ...selectorLabels(cr), "app.kubernetes.io/managed-by": "mcp-oidc-operator" },
          ownerReferences: [ownerReference(cr)],
        },
        type: "Opaque",
        stringData: { [SESSION_SECRET_KEY]: value },
      });
      this.#logger.info("generated session secret", { namespace: cr.metadata.namespace, name });
      return Buffer.from(value).toString("base64");
    } catch (error) {
      if ((error as { code?: number }).code !== 409) throw error;
      // Created meanwhile: kept if it is this resource's own (another worker's, an earlier run's).
      const theirs = await this.#read<DataObject & OwnedObject>(SECRET, cr.metadata.namespace, name);
      if (!theirs) throw error;
      if (!isOwnChild(theirs, cr))
        throw new ChildConflictError(Reason.ChildConflict, conflictMessage({ kind: "Secret", name }, theirs));
      return sessionKeyOf(name, theirs);
    }
  }

  #baseStatus(cr: McpOidcProxy): McpOidcProxyStatus {
    return {
      observedGeneration: cr.metadata.generation,
      url: proxyUrl(cr),
      selector: Object.entries(selectorLabels(cr))
        .map(([k, v]) => `${k}=${v}`)
        .join(","),
      replicas: cr.status?.replicas ?? 0,
      readyReplicas: cr.status?.readyReplicas ?? 0,
    };
  }

  #conditions(cr: McpOidcProxy, next: ConditionInput[]): NonNullable<McpOidcProxyStatus["conditions"]> {
    let conditions = cr.status?.conditions ?? [];
    for (const condition of next) {
      conditions = setCondition(conditions, { ...condition, observedGeneration: cr.metadata.generation }, this.#now());
    }
    return conditions;
  }

  #rolloutStatus(cr: McpOidcProxy, deployment: V1Deployment): McpOidcProxyStatus {
    return {
      ...this.#baseStatus(cr),
      replicas: deployment.status?.replicas ?? 0,
      readyReplicas: deployment.status?.readyReplicas ?? 0,
      conditions: this.#conditions(cr, rolloutConditions(deployment)),
    };
  }

  /**
   * A Kubernetes Event when Ready or Degraded changes (kubectl describe shows them), not on
   * every reconcile: events are for what an operator of the cluster should notice.
   */
  async #announceTransitions(cr: McpOidcProxy, next: McpOidcProxyStatus): Promise<void> {
    const before = new Map((cr.status?.conditions ?? []).map((c) => [c.type, c.status]));
    for (const condition of next.conditions ?? []) {
      if (before.get(condition.type) === condition.status) continue;
      const warning = condition.type === ConditionType.Degraded && condition.status === "True";
      const readyNow = condition.type === ConditionType.Ready && condition.status === "True";
      if (!warning && !readyNow) continue;
      await this.#events
        .emit(cr, warning ? "Warning" : "Normal", condition.reason, condition.message)
        .catch((error: unknown) => {
          const { status, message } = summarizeApiError(error);
          this.#logger.warn("could not record an event", { status, error: message });
        });
    }
  }

  async #reportRetrying(cr: McpOidcProxy, error: unknown): Promise<void> {
    const { status, message: apiMessage } = summarizeApiError(error);
    // One message on every condition, the API server's status at its end (not its start).
    const message = `retrying: ${apiMessage}${status !== undefined ? ` (HTTP ${status})` : ""}`;
    await this.#writeStatus(cr, {
      ...this.#baseStatus(cr),
      conditions: this.#conditions(cr, retryingConditions(Reason.ApplyFailed, message)),
    });
  }

  /** Writes only a changed status, with optimistic concurrency (a conflict is retried). */
  async #writeStatus(cr: McpOidcProxy, status: McpOidcProxyStatus): Promise<void> {
    if (stableJson(status) === stableJson(cr.status ?? {})) return;
    await this.#announceTransitions(cr, status);
    await requestJson(
      this.#kubeConfig,
      "PUT",
      `${objectPath(RESOURCE_KIND, cr.metadata.namespace, cr.metadata.name)}/status`,
      { apiVersion: `${GROUP}/${VERSION}`, kind: KIND, metadata: cr.metadata, spec: cr.spec, status },
    );
  }

  /** An object as JSON, or undefined when it does not exist. */
  async #read<T>(kind: KindInfo, namespace: string, name: string): Promise<T | undefined> {
    try {
      return await requestJson<T>(this.#kubeConfig, "GET", objectPath(kind, namespace, name));
    } catch (error) {
      if (isNotFound(error)) return undefined;
      throw error;
    }
  }
}
