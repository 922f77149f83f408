// How events become keys: watches of McpOidcProxy resources and of the objects the operator
// owns (selected by its managed-by label) feed one work queue; owned objects map to their
// owner's key. The generated session Secrets are watched the same way (by the label, so no
// other Secret is ever sent to the operator): a deleted one is recreated at once. Workers
// reconcile keys (never one key twice at once); every key is requeued periodically so drift
// is corrected even if an event was missed.
import type { KubeConfig, KubernetesObject } from "@kubernetes/client-node";
import { collectionPath, OWNED_KINDS, RESOURCE_KIND } from "../api/owned-kinds.ts";
import { GROUP, KIND, PLURAL } from "../api/v1alpha1/mcp-oidc-proxy.ts";
import { FIELD_MANAGER } from "../desired/children.ts";
import { summarizeApiError } from "../runtime/api-error.ts";
import { Applier } from "../runtime/apply.ts";
import { listKeyFields, type ObjectKeyFields, RestartingInformer } from "../runtime/informer.ts";
import { WorkQueue } from "../runtime/work-queue.ts";
import { BlockedError, Reconciler, type ReconcilerLogger, TerminalError } from "./reconciler.ts";

/** The named outcome of one reconcile, as controller-runtime's reconcile_total counts it. */
export type Outcome = "success" | "error" | "requeue_after" | "terminal";

export interface ControllerObserver {
  reconciled(result: Outcome, seconds: number): void;
}

export interface ControllerOptions {
  kubeConfig: KubeConfig;
  /** Watch one namespace; all namespaces when undefined. */
  namespace?: string;
  logger: ReconcilerLogger;
  resyncMs?: number;
  observer?: ControllerObserver;
  /** Keys reconciled at once (never the same key twice at once). */
  workers?: number;
  /** How often a resource that references Secrets is looked at again (rotated Secrets). */
  secretRecheckMs?: number;
  /** What writes the children (a test's own holds a write back to open the check→write window). */
  applier?: Applier;
}

export interface RunningController {
  queue: WorkQueue;
  /** True once every watch has delivered its initial list. */
  synced(): boolean;
  stop(): Promise<void>;
}

const MANAGED = `app.kubernetes.io/managed-by=${FIELD_MANAGER}`;

function keyOf(object: KubernetesObject): string {
  return `${object.metadata?.namespace}/${object.metadata?.name}`;
}

function ownerKey(object: KubernetesObject): string | undefined {
  const owner = object.metadata?.ownerReferences?.find(
    (ref) => ref.kind === KIND && ref.apiVersion.startsWith(`${GROUP}/`),
  );
  return owner ? `${object.metadata?.namespace}/${owner.name}` : undefined;
}

/** The longest wait before a missing Secret or ConfigMap (or a conflicting object) is looked at again. */
export const MISSING_REFERENCE_RECHECK_MAX_MS = 30_000;

/** One watch per owned kind (from the table), each event mapped to its owner's key; by kind. */
function ownedInformers(options: ControllerOptions, queue: WorkQueue): Map<string, RestartingInformer> {
  const informers = OWNED_KINDS.map(
    (kind) =>
      new RestartingInformer({
        kubeConfig: options.kubeConfig,
        name: kind.plural,
        path: collectionPath(kind, options.namespace),
        labelSelector: MANAGED,
        logger: options.logger,
        onObject: (object) => {
          const key = ownerKey(object);
          if (key) queue.add(key);
        },
      }),
  );
  return new Map(OWNED_KINDS.map((kind, i) => [kind.kind, informers[i] as RestartingInformer]));
}

/** The watch of the McpOidcProxy resources; a status-only update (ours) is not a new key. */
function resourceInformer(options: ControllerOptions, queue: WorkQueue): RestartingInformer {
  // Like controller-runtime's GenerationChangedPredicate: the last generation seen per key.
  const seenGenerations = new Map<string, number | undefined>();
  const generationChanged = (object: ObjectKeyFields) => {
    const key = keyOf(object);
    const changed = seenGenerations.get(key) !== object.metadata.generation;
    seenGenerations.set(key, object.metadata.generation);
    return changed;
  };
  return new RestartingInformer({
    kubeConfig: options.kubeConfig,
    name: PLURAL,
    path: collectionPath(RESOURCE_KIND, options.namespace),
    logger: options.logger,
    onObject: (object, verb) => {
      if (verb === "delete") seenGenerations.delete(keyOf(object));
      // A status write (ours) changes neither generation nor spec: nothing to reconcile.
      else if (!generationChanged(object) && verb === "update") return;
      queue.add(keyOf(object));
    },
  });
}

/** The named outcome of a failed reconcile: retried with backoff, or terminal. */
function failureOutcome(queue: WorkQueue, logger: ReconcilerLogger, key: string, error: unknown): Outcome {
  if (error instanceof BlockedError) {
    // Looked at again soon (the user may be creating the Secret, or removing the object
    // in the way, right now), with the queue's backoff from 100 ms, capped at 30 s (a few
    // cheap GETs, so a change is noticed within half a minute); counted as an error, as it
    // is one while it lasts (the failing-reconciles alert points at the Degraded condition).
    const delay = queue.retry(key, MISSING_REFERENCE_RECHECK_MAX_MS);
    logger.warn("waiting for another object", {
      key,
      reason: error.reason,
      error: error.message,
      recheck_in_ms: delay,
    });
    return "error";
  }
  if (error instanceof TerminalError) {
    queue.forget(key);
    logger.warn("reconcile stopped: the resource must change", { key, reason: error.reason, error: error.message });
    return "terminal";
  }
  const delay = queue.retry(key);
  // The status and the API server's message, not client-node's dump of every header.
  const { status, message } = summarizeApiError(error);
  logger.warn("reconcile failed; retrying", { key, status, error: message, retry_in_ms: delay });
  return "error";
}

/** A worker: takes keys until the queue shuts down, one reconcile at a time. */
async function work(
  queue: WorkQueue,
  reconciler: Reconciler,
  options: ControllerOptions,
  running: () => boolean,
): Promise<void> {
  for (;;) {
    const key = await queue.next();
    if (key === undefined) return;
    const started = performance.now();
    let result: Outcome = "success";
    try {
      const outcome = await reconciler.reconcile(key);
      queue.forget(key);
      if (outcome.requeueAfterMs !== undefined) {
        result = "requeue_after";
        queue.addAfter(key, outcome.requeueAfterMs);
      }
    } catch (error) {
      result = failureOutcome(queue, options.logger, key, error);
    } finally {
      queue.done(key);
      options.observer?.reconciled(result, (performance.now() - started) / 1000);
    }
    if (!running()) return;
  }
}

/** Drift correction: every resource is looked at again now and then, events or not. */
function startResync(options: ControllerOptions, queue: WorkQueue): NodeJS.Timeout {
  const path = collectionPath(RESOURCE_KIND, options.namespace);
  const resync = setInterval(
    async () => {
      const list = await listKeyFields(options.kubeConfig, path).catch(() => ({ items: [] }));
      for (const item of list.items) queue.add(keyOf(item));
    },
    options.resyncMs ?? 10 * 60_000,
  );
  resync.unref();
  return resync;
}

export async function startController(options: ControllerOptions): Promise<RunningController> {
  const { kubeConfig, logger } = options;
  const queue = new WorkQueue();
  const owned = ownedInformers(options, queue);
  const reconciler = new Reconciler({
    kubeConfig,
    applier: options.applier ?? new Applier(kubeConfig),
    logger,
    cached: (kind, namespace, name) => owned.get(kind)?.get(namespace, name),
    ...(options.secretRecheckMs !== undefined ? { secretRecheckMs: options.secretRecheckMs } : {}),
  });
  const informers = [resourceInformer(options, queue), ...owned.values()];
  let running = true;
  const workers = Array.from({ length: options.workers ?? 4 }, () => work(queue, reconciler, options, () => running));
  const resync = startResync(options, queue);

  await Promise.all(informers.map((informer) => informer.start()));
  return {
    queue,
    synced: () => informers.every((informer) => informer.synced),
    async stop() {
      running = false;
      clearInterval(resync);
      await Promise.all(informers.map((informer) => informer.stop()));
      queue.shutDown();
      await Promise.all(workers);
    },
  };
}
