// A watch of one kind of object that keeps running: client-node's informer (list, then
// watch from the list's resourceVersion, relisting on 410 Gone) stops on any watch error,
// so it is restarted with capped backoff. Every event is handed on as the object's key.
import {
  ERROR,
  type Informer,
  type KubeConfig,
  type KubernetesObject,
  type ListPromise,
  makeInformer,
} from "@kubernetes/client-node";
import { summarizeApiError } from "./api-error.ts";
import { systemClock } from "./work-queue.ts";

export interface WatchLogger {
  warn(message: string, meta?: Record<string, unknown>): void;
}

export class RestartingInformer<T extends KubernetesObject> {
  readonly #informer: Informer<T>;
  readonly #name: string;
  readonly #logger: WatchLogger;
  #failures = 0;
  #stopped = false;
  #synced = false;

  constructor(options: {
    kubeConfig: KubeConfig;
    name: string;
    path: string;
    list: ListPromise<T>;
    labelSelector?: string;
    logger: WatchLogger;
    onObject: (object: T, verb: "add" | "update" | "delete") => void;
  }) {
    this.#name = options.name;
    this.#logger = options.logger;
    this.#informer = makeInformer(options.kubeConfig, options.path, options.list, options.labelSelector);
    for (const verb of ["add", "update", "delete"] as const) {
      this.#informer.on(verb, (object) => {
        this.#failures = 0;
        options.onObject(object, verb);
      });
    }
    this.#informer.on(ERROR, (error) => {
      if (this.#stopped) return;
      this.#synced = false;
      const delay = Math.min(500 * 2 ** this.#failures, 30_000);
      this.#failures += 1;
      const { status, message } = summarizeApiError(error);
      this.#logger.warn("watch failed; restarting", { watch: this.#name, status, error: message, retry_in_ms: delay });
      systemClock.setTimeout(() => void this.#start(), delay);
    });
  }

  /** True once the initial list has been delivered (and again after a restart's list). */
  get synced(): boolean {
    return this.#synced;
  }

  async start(): Promise<void> {
    await this.#start();
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    await this.#informer.stop();
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
