// How events become keys: watches of McpOidcProxy resources and of the objects the operator
// owns (selected by its managed-by label) feed one work queue; owned objects map to their
// owner's key. The generated session Secrets are watched the same way (by the label, so no
// other Secret is ever sent to the operator): a deleted one is recreated at once. Workers
// reconcile keys (never one key twice at once); every key is requeued periodically so drift
// is corrected even if an event was missed.
import {
  AppsV1Api,
  AutoscalingV2Api,
  CoreV1Api,
  CustomObjectsApi,
  type KubeConfig,
  type KubernetesListObject,
  type KubernetesObject,
  PolicyV1Api,
} from "@kubernetes/client-node";
import { GROUP, KIND, PLURAL, VERSION } from "../api/v1alpha1/mcp-oidc-proxy.ts";
import { FIELD_MANAGER } from "../desired/children.ts";
import { summarizeApiError } from "../runtime/api-error.ts";
import { Applier } from "../runtime/apply.ts";
import { RestartingInformer } from "../runtime/informer.ts";
import { WorkQueue } from "../runtime/work-queue.ts";
import { MissingReferenceError, Reconciler, type ReconcilerLogger, TerminalError } from "./reconciler.ts";

export interface ControllerObserver {
  reconciled(result: "success" | "error" | "requeue_after" | "terminal", seconds: number): void;
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

export async function startController(options: ControllerOptions): Promise<RunningController> {
  const { kubeConfig, namespace, logger } = options;
  const queue = new WorkQueue();
  const reconciler = new Reconciler({
    kubeConfig,
    applier: new Applier(kubeConfig),
    logger,
    ...(options.secretRecheckMs !== undefined ? { secretRecheckMs: options.secretRecheckMs } : {}),
  });
  const core = kubeConfig.makeApiClient(CoreV1Api);
  const apps = kubeConfig.makeApiClient(AppsV1Api);
  const policy = kubeConfig.makeApiClient(PolicyV1Api);
  const autoscaling = kubeConfig.makeApiClient(AutoscalingV2Api);
  const custom = kubeConfig.makeApiClient(CustomObjectsApi);
  const scope = namespace ? `/namespaces/${namespace}` : "";

  const owned = <T extends KubernetesObject>(
    name: string,
    path: string,
    list: () => Promise<KubernetesListObject<T>>,
  ) =>
    new RestartingInformer<T>({
      kubeConfig,
      name,
      path,
      list,
      labelSelector: MANAGED,
      logger,
      onObject: (object) => {
        const key = ownerKey(object);
        if (key) queue.add(key);
      },
    });

  // Like controller-runtime's GenerationChangedPredicate: the last generation seen per key.
  const seenGenerations = new Map<string, number | undefined>();
  const generationChanged = (object: KubernetesObject) => {
    const key = keyOf(object);
    const changed = seenGenerations.get(key) !== object.metadata?.generation;
    seenGenerations.set(key, object.metadata?.generation);
    return changed;
  };

  const resources = new RestartingInformer<KubernetesObject>({
    kubeConfig,
    name: "mcpoidcproxies",
    path: `/apis/${GROUP}/${VERSION}${scope}/${PLURAL}`,
    list: () =>
      (namespace
        ? custom.listNamespacedCustomObject({ group: GROUP, version: VERSION, namespace, plural: PLURAL })
        : custom.listClusterCustomObject({ group: GROUP, version: VERSION, plural: PLURAL })) as Promise<
        KubernetesListObject<KubernetesObject>
      >,
    logger,
    onObject: (object, verb) => {
      if (verb === "delete") seenGenerations.delete(keyOf(object));
      // A status write (ours) changes neither generation nor spec: nothing to reconcile.
      else if (!generationChanged(object) && verb === "update") return;
      queue.add(keyOf(object));
    },
  });
  const selector = { labelSelector: MANAGED };
  const informers: RestartingInformer<KubernetesObject>[] = [
    resources,
    owned(`deployments`, `/apis/apps/v1${scope}/deployments`, () =>
      namespace
        ? apps.listNamespacedDeployment({ namespace, ...selector })
        : apps.listDeploymentForAllNamespaces(selector),
    ),
    owned(`secrets`, `/api/v1${scope}/secrets`, () =>
      namespace ? core.listNamespacedSecret({ namespace, ...selector }) : core.listSecretForAllNamespaces(selector),
    ),
    owned(`configmaps`, `/api/v1${scope}/configmaps`, () =>
      namespace
        ? core.listNamespacedConfigMap({ namespace, ...selector })
        : core.listConfigMapForAllNamespaces(selector),
    ),
    owned(`services`, `/api/v1${scope}/services`, () =>
      namespace ? core.listNamespacedService({ namespace, ...selector }) : core.listServiceForAllNamespaces(selector),
    ),
    owned(`serviceaccounts`, `/api/v1${scope}/serviceaccounts`, () =>
      namespace
        ? core.listNamespacedServiceAccount({ namespace, ...selector })
        : core.listServiceAccountForAllNamespaces(selector),
    ),
    owned(`poddisruptionbudgets`, `/apis/policy/v1${scope}/poddisruptionbudgets`, () =>
      namespace
        ? policy.listNamespacedPodDisruptionBudget({ namespace, ...selector })
        : policy.listPodDisruptionBudgetForAllNamespaces(selector),
    ),
    owned(`horizontalpodautoscalers`, `/apis/autoscaling/v2${scope}/horizontalpodautoscalers`, () =>
      namespace
        ? autoscaling.listNamespacedHorizontalPodAutoscaler({ namespace, ...selector })
        : autoscaling.listHorizontalPodAutoscalerForAllNamespaces(selector),
    ),
  ];

  /** The named outcome of a failed reconcile: retried with backoff, or terminal. */
  const onFailure = (key: string, error: unknown): "error" | "terminal" => {
    if (error instanceof MissingReferenceError) {
      // Looked at again soon (the user may be creating the Secret right now), with the
      // queue's backoff from 100 ms up to 5 min; counted as an error, as it is one while it
      // lasts (the failing-reconciles alert points at the Degraded condition).
      const delay = queue.retry(key);
      logger.warn("waiting for a referenced object", { key, error: error.message, recheck_in_ms: delay });
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
  };

  let running = true;
  const work = async () => {
    for (;;) {
      const key = await queue.next();
      if (key === undefined) return;
      const started = performance.now();
      let result: "success" | "error" | "requeue_after" | "terminal" = "success";
      try {
        const outcome = await reconciler.reconcile(key);
        queue.forget(key);
        if (outcome.requeueAfterMs !== undefined) {
          result = "requeue_after";
          queue.addAfter(key, outcome.requeueAfterMs);
        }
      } catch (error) {
        result = onFailure(key, error);
      } finally {
        queue.done(key);
        options.observer?.reconciled(result, (performance.now() - started) / 1000);
      }
      if (!running) return;
    }
  };
  const workers = Array.from({ length: options.workers ?? 4 }, () => work());

  // Drift correction: every resource is looked at again now and then, events or not.
  const resyncMs = options.resyncMs ?? 10 * 60_000;
  const resync = setInterval(async () => {
    const list = (await (namespace
      ? custom.listNamespacedCustomObject({ group: GROUP, version: VERSION, namespace, plural: PLURAL })
      : custom.listClusterCustomObject({ group: GROUP, version: VERSION, plural: PLURAL })
    ).catch(() => ({ items: [] }))) as KubernetesListObject<KubernetesObject>;
    for (const item of list.items) queue.add(keyOf(item));
  }, resyncMs);
  resync.unref();

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
