// A watch of one kind of object that keeps running, caching only what the controller reads:
// list, then watch from the list's resourceVersion, resuming from the last one seen when a
// watch ends, relisting when the API server has forgotten it (410 Gone, as client-go's
// reflector), and starting over with capped backoff after an error. Events only become keys
// (reconcile reads the object afresh), so the cache keeps each object's identifying
// metadata and nothing else: the list asks the API server for metadata only
// (PartialObjectMetadataList, as controller-runtime's metadata informers do), and each
// watched object is cut down the same way before it enters the cache. Whole Deployments
// with their managedFields, held for every resource, were most of the operator's memory.
// Not client-node's ListWatch: it loads the typed models' serializer (decision 023).
import { setTimeout as delay } from "node:timers/promises";
import type { KubeConfig, KubernetesListObject, KubernetesObject } from "@kubernetes/client-node";
import { summarizeApiError } from "./api-error.ts";
import { requestJson, type WatchEvent, watchJson } from "./raw-client.ts";

export interface WatchLogger {
  warn(message: string, meta?: Record<string, unknown>): void;
}

/** An owner reference as cached: who owns the object, and whether as its controller. */
export interface CachedOwnerReference {
  apiVersion: string;
  kind: string;
  name: string;
  uid: string;
  controller?: boolean;
}

/**
 * What an event hands on: enough to name the object, its owner and its generation (and for
 * the reconcile to tell its own children from someone else's objects of the same name).
 */
export interface ObjectKeyFields extends KubernetesObject {
  metadata: {
    name?: string;
    namespace?: string;
    uid?: string;
    resourceVersion?: string;
    generation?: number;
    ownerReferences?: CachedOwnerReference[];
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
            ownerReferences: ownerReferences.map(({ apiVersion, kind, name, uid, controller }) => ({
              apiVersion,
              kind,
              name,
              uid,
              ...(controller !== undefined ? { controller } : {}),
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

/** A watch that hears nothing for this long (bookmarks included) is resumed on a new connection. */
const WATCH_IDLE_MS = 90_000;
/** The API server ends each watch after this long (client-go asks for 5–10 minutes). */
const WATCH_SECONDS = 300;
/** The least time between the starts of two watches. */
const WATCH_MIN_MS = 1_000;

export type Verb = "add" | "update" | "delete";

export interface InformerOptions {
  kubeConfig: KubeConfig;
  name: string;
  /** The collection path, e.g. /apis/apps/v1/namespaces/x/deployments. */
  path: string;
  labelSelector?: string;
  logger: WatchLogger;
  onObject: (object: ObjectKeyFields, verb: Verb) => void;
}

export class RestartingInformer {
  readonly #options: InformerOptions;
  /** Key fields by namespace/name. */
  readonly #cache = new Map<string, ObjectKeyFields>();
  readonly #stop = new AbortController();
  #running: Promise<void> | undefined;
  #resourceVersion = "";
  #failures = 0;
  #synced = false;

  constructor(options: InformerOptions) {
    this.#options = options;
  }

  /** True once the initial list has been delivered (and again after a restart's list). */
  get synced(): boolean {
    return this.#synced;
  }

  /** The cached object; null when the synced cache has none; undefined until synced (it cannot tell yet). */
  get(namespace: string, name: string): ObjectKeyFields | null | undefined {
    return this.#synced ? (this.#cache.get(`${namespace}/${name}`) ?? null) : undefined;
  }

  /** The cached key fields of every object seen (a test reads what the cache holds). */
  cached(): readonly ObjectKeyFields[] {
    return [...this.#cache.values()];
  }

  /** Resolves once the first list has been delivered, or has failed (then retried with backoff). */
  start(): Promise<void> {
    const { promise, resolve } = Promise.withResolvers<void>();
    this.#running = this.#run(resolve);
    return promise;
  }

  /** Ends the watch; no event is handed on once this resolves. */
  async stop(): Promise<void> {
    this.#stop.abort();
    await this.#running;
  }

  async #run(firstListDone: () => void): Promise<void> {
    while (!this.#stop.signal.aborted) {
      const listing = !this.#resourceVersion;
      try {
        if (listing) await this.#relist();
        firstListDone();
        const started = performance.now();
        await this.#watch();
        // A watch the API server ends at once, again and again, is not resumed in a tight loop.
        const lasted = performance.now() - started;
        if (lasted < WATCH_MIN_MS) await delay(WATCH_MIN_MS - lasted, undefined, { signal: this.#stop.signal });
      } catch (error) {
        firstListDone();
        if (this.#stop.signal.aborted) return;
        // Events may have been missed: the next round lists afresh, as client-go's reflector.
        this.#resourceVersion = "";
        this.#synced = false;
        const wait = Math.min(500 * 2 ** this.#failures, 30_000);
        this.#failures += 1;
        const { status, message } = summarizeApiError(error);
        const meta = { watch: this.#options.name, status, error: message, retry_in_ms: wait };
        this.#options.logger.warn(listing ? "list failed; retrying" : "watch failed; restarting", meta);
        await delay(wait, undefined, { signal: this.#stop.signal }).catch(() => {});
      }
    }
  }

  /** Lists afresh: what the cache has and the list lacks was deleted meanwhile. */
  async #relist(): Promise<void> {
    const { kubeConfig, path, labelSelector } = this.#options;
    const list = await listKeyFields(kubeConfig, path, labelSelector);
    const listed = new Set(list.items.map(cacheKey));
    for (const [key, object] of this.#cache) {
      if (listed.has(key)) continue;
      this.#cache.delete(key);
      this.#options.onObject(object, "delete");
    }
    for (const object of list.items) this.#store(object);
    this.#resourceVersion = list.metadata?.resourceVersion ?? "";
    this.#failures = 0;
    this.#synced = true;
  }

  async #watch(): Promise<void> {
    const query = new URLSearchParams({
      watch: "true",
      allowWatchBookmarks: "true",
      timeoutSeconds: String(WATCH_SECONDS),
      resourceVersion: this.#resourceVersion,
      ...(this.#options.labelSelector ? { labelSelector: this.#options.labelSelector } : {}),
    });
    const path = `${this.#options.path}?${query}`;
    const watching = new AbortController();
    const signal = AbortSignal.any([this.#stop.signal, watching.signal]);
    const onEvent = (event: WatchEvent<KubernetesObject>) => {
      if (event.type === "ERROR") {
        // A Status: most often 410 (the resourceVersion is too old). Either way the
        // stream is over; listing again is what brings the cache back to the truth.
        this.#resourceVersion = "";
        watching.abort();
        return;
      }
      this.#failures = 0;
      this.#resourceVersion = event.object.metadata?.resourceVersion ?? this.#resourceVersion;
      if (event.type === "BOOKMARK") return;
      const object = keyFields(event.object);
      if (event.type === "DELETED") {
        if (this.#cache.delete(cacheKey(object))) this.#options.onObject(object, "delete");
      } else this.#store(object);
    };
    await watchJson(this.#options.kubeConfig, path, onEvent, signal, WATCH_IDLE_MS).catch((error: unknown) => {
      if (!watching.signal.aborted) throw error;
    });
  }

  /** Adds or updates the cached object; an unchanged resourceVersion is no event. */
  #store(object: ObjectKeyFields): void {
    const key = cacheKey(object);
    const cached = this.#cache.get(key);
    if (cached && cached.metadata.resourceVersion === object.metadata.resourceVersion) return;
    this.#cache.set(key, object);
    this.#options.onObject(object, cached ? "update" : "add");
  }
}

function cacheKey(object: ObjectKeyFields): string {
  return `${object.metadata.namespace ?? ""}/${object.metadata.name ?? ""}`;
}
