// Leader election through a coordination.k8s.io Lease, as client-go's leaderelection: a
// candidate takes the Lease when it is free or expired, the leader renews it every
// `retryPeriod`, and a leader that cannot renew within `renewDeadline` steps down (the
// process then exits, as controller-runtime's do, and restarts as a candidate). Writes use
// the Lease's resourceVersion, so two candidates never both win.
import type { KubeConfig } from "@kubernetes/client-node";
import { microTime, requestJson } from "./raw-client.ts";
import { type Clock, systemClock } from "./work-queue.ts";

/** A coordination.k8s.io/v1 Lease as JSON (times are RFC 3339 strings with microseconds). */
interface Lease {
  apiVersion: "coordination.k8s.io/v1";
  kind: "Lease";
  metadata: { name: string; namespace: string; resourceVersion?: string };
  spec?: {
    holderIdentity?: string;
    leaseDurationSeconds?: number;
    acquireTime?: string;
    renewTime?: string;
    leaseTransitions?: number;
  };
}

export interface LeaderElectionOptions {
  kubeConfig: KubeConfig;
  namespace: string;
  name: string;
  identity: string;
  leaseDurationMs?: number;
  renewDeadlineMs?: number;
  retryPeriodMs?: number;
  clock?: Clock;
  onStartedLeading: () => void;
  onStoppedLeading: () => void;
  logger: {
    info(message: string, meta?: Record<string, unknown>): void;
    warn(message: string, meta?: Record<string, unknown>): void;
  };
}

export class LeaderElector {
  readonly #kubeConfig: KubeConfig;
  readonly #options: LeaderElectionOptions;
  readonly #leaseDuration: number;
  readonly #renewDeadline: number;
  readonly #retryPeriod: number;
  readonly #clock: Clock;
  #leading = false;
  #lastRenew = 0;
  #timer: { cancel(): void } | undefined;
  #stopped = false;

  constructor(options: LeaderElectionOptions) {
    this.#kubeConfig = options.kubeConfig;
    this.#options = options;
    this.#leaseDuration = options.leaseDurationMs ?? 15_000;
    this.#renewDeadline = options.renewDeadlineMs ?? 10_000;
    this.#retryPeriod = options.retryPeriodMs ?? 2_000;
    this.#clock = options.clock ?? systemClock;
  }

  get leading(): boolean {
    return this.#leading;
  }

  start(): void {
    void this.#tick();
  }

  /** Gives the Lease up (so a successor need not wait for it to expire) and stops. */
  async stop(): Promise<void> {
    this.#stopped = true;
    this.#timer?.cancel();
    if (!this.#leading) return;
    this.#leading = false;
    try {
      const lease = await this.#read();
      if (lease?.spec?.holderIdentity === this.#options.identity) {
        await this.#write({
          ...lease,
          spec: { ...lease.spec, holderIdentity: undefined as never, leaseDurationSeconds: 1 },
        });
      }
    } catch {
      // expiry frees it anyway
    }
  }

  async #tick(): Promise<void> {
    if (this.#stopped) return;
    try {
      const acquired = await this.#tryAcquireOrRenew();
      const now = this.#clock.now();
      if (acquired) {
        this.#lastRenew = now;
        if (!this.#leading) {
          this.#leading = true;
          this.#options.logger.info("became the leader", {
            lease: this.#options.name,
            identity: this.#options.identity,
          });
          this.#options.onStartedLeading();
        }
      } else if (this.#leading) {
        this.#lose("another candidate holds the lease");
        return;
      }
    } catch (error) {
      this.#options.logger.warn("lease update failed", { error: (error as Error).message });
      if (this.#leading && this.#clock.now() - this.#lastRenew > this.#renewDeadline) {
        this.#lose("could not renew the lease in time");
        return;
      }
    }
    this.#timer = this.#clock.setTimeout(() => void this.#tick(), this.#retryPeriod);
  }

  #lose(reason: string): void {
    this.#leading = false;
    this.#stopped = true;
    this.#options.logger.warn("lost leadership", { reason });
    this.#options.onStoppedLeading();
  }

  async #tryAcquireOrRenew(): Promise<boolean> {
    const now = new Date(this.#clock.now());
    const identity = this.#options.identity;
    const lease = await this.#read();
    const spec = {
      holderIdentity: identity,
      leaseDurationSeconds: Math.ceil(this.#leaseDuration / 1000),
      renewTime: microTime(now),
    };
    if (!lease) {
      await requestJson(this.#kubeConfig, "POST", `${this.#collection()}`, {
        apiVersion: "coordination.k8s.io/v1",
        kind: "Lease",
        metadata: { name: this.#options.name, namespace: this.#options.namespace },
        spec: { ...spec, acquireTime: microTime(now), leaseTransitions: 0 },
      });
      return true;
    }
    const holder = lease.spec?.holderIdentity;
    const renewed = lease.spec?.renewTime ? Date.parse(lease.spec.renewTime) : 0;
    const expired = renewed + (lease.spec?.leaseDurationSeconds ?? 0) * 1000 < now.getTime();
    if (holder && holder !== identity && !expired) return false;
    await this.#write({
      ...lease,
      spec: {
        ...lease.spec,
        ...spec,
        acquireTime: holder === identity && lease.spec?.acquireTime ? lease.spec.acquireTime : microTime(now),
        leaseTransitions: (lease.spec?.leaseTransitions ?? 0) + (holder === identity ? 0 : 1),
      },
    });
    return true;
  }

  #collection(): string {
    return `/apis/coordination.k8s.io/v1/namespaces/${this.#options.namespace}/leases`;
  }

  async #read(): Promise<Lease | undefined> {
    try {
      return await requestJson<Lease>(this.#kubeConfig, "GET", `${this.#collection()}/${this.#options.name}`);
    } catch (error) {
      if ((error as { code?: number }).code === 404) return undefined;
      throw error;
    }
  }

  /** A replace with the read resourceVersion: a concurrent writer makes this fail (409). */
  #write(lease: Lease): Promise<Lease> {
    return requestJson<Lease>(this.#kubeConfig, "PUT", `${this.#collection()}/${this.#options.name}`, lease);
  }
}
