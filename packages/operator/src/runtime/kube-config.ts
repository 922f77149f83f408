// The kubeconfig every API client of the process uses: a file, or in-cluster / KUBECONFIG /
// ~/.kube/config. client-node 2.0 builds a new undici Agent for every request it
// authenticates, so every request opened its own TLS connection (with a TLS context built
// from the CA, certificate and key each time) that then idled until its keep-alive ran out:
// with 100 resources that held ~300 MiB. Here one connection pool is kept per cluster and
// user, as client-go keeps one transport.
import { KubeConfig, type RequestContext } from "@kubernetes/client-node";

type Dispatcher = ReturnType<RequestContext["getDispatcher"]>;

export class SharedPoolKubeConfig extends KubeConfig {
  readonly #pools = new Map<string, NonNullable<Dispatcher>>();

  override async applySecurityAuthentication(context: RequestContext): Promise<void> {
    await super.applySecurityAuthentication(context);
    const fresh = context.getDispatcher();
    if (!fresh) return; // plain http or no TLS settings: undici's global pool is shared already
    const key = `${this.getCurrentCluster()?.server}\n${this.getCurrentUser()?.name}`;
    const pool = this.#pools.get(key) ?? fresh;
    this.#pools.set(key, pool);
    context.setDispatcher(pool);
  }
}

/** The kubeconfig from a file, else in-cluster, KUBECONFIG or ~/.kube/config. */
export function loadKubeConfig(file?: string): KubeConfig {
  const kubeConfig = new SharedPoolKubeConfig();
  if (file) kubeConfig.loadFromFile(file);
  else kubeConfig.loadFromDefault();
  return kubeConfig;
}
