// A watch of one kind of object that keeps running, caching only what the controller reads.
// client-node's ListWatch (list, then watch from the list's resourceVersion, relisting on
// 410 Gone) stops on any watch error, so it is restarted with capped backoff. Events only
// become keys (reconcile reads the object afresh), so the cache keeps each object's
// identifying metadata and nothing else: the list asks the API server for metadata only
// (PartialObjectMetadataList, as controller-runtime's metadata informers do), and each
// watched object is cut down the same way before it enters the cache. Whole Deployments
// with their managedFields, held for every resource, were most of the operator's memory.
import {
  ERROR,
  type KubeConfig,
  type KubernetesListObject,
  type KubernetesObject,
  ListWatch,
  Watch,
} from "@kubernetes/client-node";
import { summarizeApiError } from "./api-error.ts";
import { requestJson } from "./raw-client.ts";
import { systemClock } from "./work-queue.ts";

export interface WatchLogger {
  warn(message: string, meta?: Record<string, unknown>): void;
}

/** What an event hands on: enough to name the object, its owner and its generation. */
export interface ObjectKeyFields extends KubernetesObject {
  metadata: {
    name?: string;
    namespace?: string;
    uid?: string;
    resourceVersion?: string;
    generation?: number;
    ownerReferences?: { apiVersion: string; kind: string; name: string; uid: string }[];
  };
}

const METADATA_LIST = "application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1";

/** The fields events are keyed by; everything else (spec, status, managedFields) is dropped. */
export function keyFields(object: KubernetesObject): ObjectKeyFields {
  const { name, namespace, uid, resourceVersion, generation, ownerReferences } = object.metadata ?? {};
  return {
    metadata: {
      ...(name !== undefined ? { name } : {}),
      ...(namespace !== undefined ? { namespace } : {}),
      ...(uid !== undefined ? { uid } : {}),
      ...(resourceVersion !== undefined ? { resourceVersion } : {}),
      ...(generation !== undefined ? { generation } : {}),
      ...(ownerReferences
        ? {
            ownerReferences: ownerReferences.map(({ apiVersion, kind, name, uid }) => ({
              apiVersion,
              kind,
              name,
              uid,
            })),
          }
        : {}),
    },
  };
}

/** Every object of a collection as key fields, listed as metadata only, with the list's resourceVersion. */
export async function listKeyFields(
  kubeConfig: KubeConfig,
  path: string,
  labelSelector?: string,
): Promise<KubernetesListObject<ObjectKeyFields>> {
  const query = labelSelector ? `?labelSelector=${encodeURIComponent(labelSelector)}` : "";
  const answer = await requestJson<KubernetesListObject<KubernetesObject>>(
    kubeConfig,
    "GET",
    `${path}${query}`,
    undefined,
    undefined,
    undefined,
    METADATA_LIST,
  );
  // The API server answers an empty metadata-only list with "items": null.
  return { ...answer, items: (answer.items ?? []).map(keyFields) };
}

/** client-node's Watch, with each object cut down to its key fields as it arrives. */
class KeyFieldsWatch extends Watch {
  override watch(
    path: string,
    queryParams: Record<string, string | number | boolean | undefined>,
    callback: (phase: string, apiObj: KubernetesObject) => void,
    done: (err: unknown) => void,
  ): Promise<AbortController> {
    // An ERROR event carries a Status (its code 410 makes the ListWatch relist): passed as is.
    const cut = (phase: string, object: KubernetesObject) =>
      callback(phase, phase === "ERROR" ? object : keyFields(object));
    return super.watch(path, queryParams, cut, done);
  }
}

export class RestartingInformer {
  readonly #informer: ListWatch<ObjectKeyFields>;
  readonly #name: string;
  readonly #logger: WatchLogger;
  #failures = 0;
  #stopped = false;
  #synced = false;

  constructor(options: {
    kubeConfig: KubeConfig;
    name: string;
    /** The collection path, e.g. /apis/apps/v1/namespaces/x/deployments. */
    path: string;
    labelSelector?: string;
    logger: WatchLogger;
    onObject: (object: ObjectKeyFields, verb: "add" | "update" | "delete") => void;
  }) {
    this.#name = options.name;
    this.#logger = options.logger;
    // The list's resourceVersion is where the watch starts.
    const list = () => listKeyFields(options.kubeConfig, options.path, options.labelSelector);
    const watch = new KeyFieldsWatch(options.kubeConfig);
    this.#informer = new ListWatch(options.path, watch, list, false, options.labelSelector);
    for (const verb of ["add", "update", "delete"] as const) {
      this.#informer.on(verb, (object) => {
        this.#failures = 0;
        options.onObject(object, verb);
      });
    }
    this.#informer.on(ERROR, (error) => this.#onError(error));
  }

  /** True once the initial list has been delivered (and again after a restart's list). */
  get synced(): boolean {
    return this.#synced;
  }

  /** The cached key fields of every object seen (a test reads what the cache holds). */
  cached(): readonly ObjectKeyFields[] {
    return this.#informer.list();
  }

  async start(): Promise<void> {
    await this.#start();
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    await this.#informer.stop();
  }

  #onError(error: unknown): void {
    if (this.#stopped) return;
    this.#synced = false;
    const delay = Math.min(500 * 2 ** this.#failures, 30_000);
    this.#failures += 1;
    const { status, message } = summarizeApiError(error);
    this.#logger.warn("watch failed; restarting", { watch: this.#name, status, error: message, retry_in_ms: delay });
    systemClock.setTimeout(() => void this.#start(), delay);
  }

  async #start(): Promise<void> {
    if (this.#stopped) return;
    try {
      await this.#informer.start();
      this.#synced = true;
    } catch (error) {
      // start() rejects when the initial list fails; the ERROR handler schedules the retry.
      const { status, message } = summarizeApiError(error);
      this.#logger.warn("initial list failed", { watch: this.#name, status, error: message });
    }
  }
}
