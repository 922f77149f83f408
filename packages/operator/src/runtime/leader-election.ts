// Leader election through a coordination.k8s.io Lease, as client-go's leaderelection: a
// candidate takes the Lease when it is free or expired, the leader renews it every
// `retryPeriod`, and a leader that cannot renew within `renewDeadline` steps down (the
// process then exits, as controller-runtime's do, and restarts as a candidate). Writes use
// the Lease's resourceVersion, so two candidates never both win.
//
// The renew deadline is kept by the leader's own clock, not by the outcome of a request: a
// request to a frozen API server may hang for any time and then succeed with a renewTime
// long past, after a standby has already taken over. So a timer armed at each successful
// renew ends the leadership when it fires, whatever the request in flight is doing (and
// aborts it). Counted from when the successful request was sent, the deadline ends before
// any standby, which waits a whole leaseDuration from the renew it saw, can take over.
//
// A Lease the operator may not use (RBAC refuses it, its namespace does not exist) is no
// passing trouble: it is logged once, clearly, and the candidate reports itself unusable
// (/readyz fails) while it keeps trying, so granting the Role later is picked up
// (decision 034). It was a warning every retry period, forever, beside a /readyz of ok.
import type { KubeConfig } from "@kubernetes/client-node";
import { FIELD_MANAGER } from "../desired/children.ts";
import { summarizeApiError } from "./api-error.ts";
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
    error(message: string, meta?: Record<string, unknown>): void;
  };
}

/** Why the Lease cannot be used at all (not a passing failure), or undefined. */
function unusableLease(error: unknown, namespace: string, name: string): string | undefined {
  const code = (error as { code?: unknown }).code;
  if (code !== 401 && code !== 403 && code !== 404) return undefined;
  const { message } = summarizeApiError(error);
  const hint =
    code === 404
      ? `create the namespace ${namespace} or pass --lease-namespace`
      : `grant get, create and update on leases in ${namespace} (rbac.yaml grants them in mcp-system) or pass --lease-namespace`;
  return `cannot use the leader election Lease ${namespace}/${name}: ${message} (HTTP ${code}); ${hint}`;
}

export class LeaderElector {
  readonly #kubeConfig: KubeConfig;
  readonly #options: LeaderElectionOptions;
  readonly #leaseDuration: number;
  readonly #renewDeadline: number;
  readonly #retryPeriod: number;
  readonly #clock: Clock;
  #leading = false;
  #timer: { cancel(): void } | undefined;
  #deadline: { cancel(): void } | undefined;
  #inFlight: AbortController | undefined;
  #observed: { record: string; at: number } | undefined;
  #stopped = false;
  #unusable: string | undefined;

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

  /** False while the last attempt found the Lease unusable (forbidden, no such namespace). */
  get usable(): boolean {
    return this.#unusable === undefined;
  }

  start(): void {
    void this.#tick();
  }

  /** Gives the Lease up (so a successor need not wait for it to expire) and stops. */
  async stop(): Promise<void> {
    if (!this.#halt()) return;
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
    const sentAt = this.#clock.now();
    const inFlight = new AbortController();
    this.#inFlight = inFlight;
    // Every attempt (a GET and a write) ends within half the renew deadline: a request sent
    // to a frozen API server would otherwise hang until the socket times out, and a standby
    // would try again only then, long after the API server answers again.
    let timedOut = false;
    const timeout = this.#clock.setTimeout(() => {
      timedOut = true;
      inFlight.abort();
    }, this.#renewDeadline / 2);
    try {
      const acquired = await this.#tryAcquireOrRenew(sentAt, inFlight.signal);
      // The deadline may have ended the leadership while the request was in flight.
      if (this.#stopped) return;
      this.#usableAgain();
      if (acquired) {
        this.#armDeadline(sentAt);
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
      if (this.#stopped) return;
      this.#failed(error, timedOut);
    } finally {
      timeout.cancel();
    }
    this.#timer = this.#clock.setTimeout(() => void this.#tick(), this.#retryPeriod);
  }

  /** A failed attempt: an unusable Lease is logged when it becomes so, a passing failure each time. */
  #failed(error: unknown, timedOut: boolean): void {
    const unusable = timedOut ? undefined : unusableLease(error, this.#options.namespace, this.#options.name);
    if (unusable) {
      if (unusable !== this.#unusable) this.#options.logger.error(unusable);
      this.#unusable = unusable;
      return;
    }
    const { status, message } = summarizeApiError(error);
    this.#options.logger.warn(
      "lease update failed",
      timedOut ? { error: `no answer within ${this.#renewDeadline / 2} ms` } : { status, error: message },
    );
  }

  #usableAgain(): void {
    if (this.#unusable === undefined) return;
    this.#unusable = undefined;
    this.#options.logger.info("the leader election Lease can be used now", {
      lease: `${this.#options.namespace}/${this.#options.name}`,
    });
  }

  /** Leadership ends `renewDeadline` after the last successful renew was sent, unless renewed again. */
  #armDeadline(sentAt: number): void {
    this.#deadline?.cancel();
    const remaining = sentAt + this.#renewDeadline - this.#clock.now();
    this.#deadline = this.#clock.setTimeout(
      () => this.#lose("could not renew the lease within the renew deadline"),
      Math.max(remaining, 0),
    );
  }

  #lose(reason: string): void {
    if (this.#stopped) return;
    if (!this.#halt()) return;
    this.#options.logger.warn("lost leadership", { reason });
    this.#options.onStoppedLeading();
  }

  /** Stops for good, both ways (stop, or leadership lost): no more ticks, deadline or request; whether it was leading until now. */
  #halt(): boolean {
    this.#stopped = true;
    this.#timer?.cancel();
    this.#deadline?.cancel();
    this.#inFlight?.abort();
    const wasLeading = this.#leading;
    this.#leading = false;
    return wasLeading;
  }

  async #tryAcquireOrRenew(sentAt: number, signal: AbortSignal): Promise<boolean> {
    const now = new Date(sentAt);
    const identity = this.#options.identity;
    const lease = await this.#read(signal);
    const spec = {
      holderIdentity: identity,
      leaseDurationSeconds: Math.ceil(this.#leaseDuration / 1000),
      renewTime: microTime(now),
    };
    if (!lease) {
      await requestJson(
        this.#kubeConfig,
        "POST",
        `${this.#collection()}?fieldManager=${FIELD_MANAGER}`,
        {
          apiVersion: "coordination.k8s.io/v1",
          kind: "Lease",
          metadata: { name: this.#options.name, namespace: this.#options.namespace },
          spec: { ...spec, acquireTime: microTime(now), leaseTransitions: 0 },
        },
        undefined,
        signal,
      );
      return true;
    }
    const holder = lease.spec?.holderIdentity;
    const expired = this.#observe(lease) + (lease.spec?.leaseDurationSeconds ?? 0) * 1000 < sentAt;
    if (holder && holder !== identity && !expired) return false;
    await this.#write(
      {
        ...lease,
        spec: {
          ...lease.spec,
          ...spec,
          acquireTime: holder === identity && lease.spec?.acquireTime ? lease.spec.acquireTime : microTime(now),
          leaseTransitions: (lease.spec?.leaseTransitions ?? 0) + (holder === identity ? 0 : 1),
        },
      },
      signal,
    );
    return true;
  }

  /**
   * When this candidate first saw the Lease as it is now, by its own clock (client-go's
   * observedTime): expiry is judged from that, not from the holder's renewTime, so clocks
   * that disagree between nodes cannot make a live leader look expired.
   */
  #observe(lease: Lease): number {
    const record = `${lease.spec?.holderIdentity ?? ""} ${lease.spec?.renewTime ?? ""}`;
    if (this.#observed?.record !== record) this.#observed = { record, at: this.#clock.now() };
    return this.#observed.at;
  }

  #collection(): string {
    return `/apis/coordination.k8s.io/v1/namespaces/${this.#options.namespace}/leases`;
  }

  async #read(signal?: AbortSignal): Promise<Lease | undefined> {
    try {
      const path = `${this.#collection()}/${this.#options.name}`;
      return await requestJson<Lease>(this.#kubeConfig, "GET", path, undefined, undefined, signal);
    } catch (error) {
      if ((error as { code?: number }).code === 404) return undefined;
      throw error;
    }
  }

  /** A replace with the read resourceVersion: a concurrent writer makes this fail (409). */
  #write(lease: Lease, signal?: AbortSignal): Promise<Lease> {
    const path = `${this.#collection()}/${this.#options.name}?fieldManager=${FIELD_MANAGER}`;
    return requestJson<Lease>(this.#kubeConfig, "PUT", path, lease, undefined, signal);
  }
}
