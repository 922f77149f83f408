// The kubeconfig every API client of the process uses: a file, or in-cluster / KUBECONFIG /
// ~/.kube/config, loaded and authenticated by client-node (exec plugins, OIDC, token files).
// client-node 2.0 builds a new undici Agent for every request it authenticates, so every
// request opened its own TLS connection (with a TLS context built from the CA, certificate
// and key each time) that then idled until its keep-alive ran out: with 100 resources that
// held ~300 MiB. Here one connection pool is kept per cluster and user, as client-go keeps
// one transport, and every request of the operator (raw-client.ts) goes through it.
//
// Imported from client-node's own modules, not its index: the index loads the ~2,700
// generated models, API classes and their serializer (~14 MiB resident), which the operator
// does not use; the bundle (scripts/build.ts) keeps only what config.js runs (decision 023).
import { KubeConfig } from "@kubernetes/client-node/dist/config.js";
import { HttpMethod, RequestContext } from "@kubernetes/client-node/dist/gen/http/http.js";

type Dispatcher = NonNullable<ReturnType<RequestContext["getDispatcher"]>>;

export class SharedPoolKubeConfig extends KubeConfig {
  readonly #pools = new Map<string, Dispatcher>();

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

/** What a request to the API server needs: its URL, the credentials' headers, the pool. */
export interface Connection {
  url: string;
  headers: Record<string, string>;
  dispatcher?: Dispatcher;
}

/** The current cluster's URL for an API path (the server may have a path prefix), authenticated. */
export async function connect(kubeConfig: KubeConfig, path: string): Promise<Connection> {
  const cluster = kubeConfig.getCurrentCluster();
  if (!cluster) throw new Error("the kubeconfig names no current cluster");
  const url = `${cluster.server.replace(/\/+$/, "")}${path}`;
  const context = new RequestContext(url, HttpMethod.GET);
  await kubeConfig.applySecurityAuthentication(context);
  const dispatcher = context.getDispatcher();
  return { url, headers: context.getHeaders(), ...(dispatcher ? { dispatcher } : {}) };
}

/** A kubeconfig that cannot be used: one sentence for the user, no stack trace. */
export class KubeConfigError extends Error {}

/**
 * What client-node's loadFromDefault falls back to when it finds no KUBECONFIG, no
 * ~/.kube/config and no in-cluster token: a made-up http://localhost:8080, which every
 * request then refused with "HTTP protocol is not allowed when skipTLSVerify is not set".
 */
function isMadeUpDefault(kubeConfig: KubeConfig): boolean {
  const cluster = kubeConfig.getCurrentCluster();
  return cluster?.name === "cluster" && cluster.server === "http://localhost:8080" && !process.env.KUBECONFIG;
}

/** The kubeconfig from a file, else KUBECONFIG, ~/.kube/config or in-cluster; a KubeConfigError when none is usable. */
export function loadKubeConfig(file?: string): KubeConfig {
  const kubeConfig = new SharedPoolKubeConfig();
  try {
    if (file) kubeConfig.loadFromFile(file);
    else kubeConfig.loadFromDefault();
  } catch (error) {
    const { code, message } = error as NodeJS.ErrnoException;
    // A YAML error's message goes on with an excerpt of the file under a caret: its first line says it.
    const why = code === "ENOENT" ? "no such file" : code === "EACCES" ? "permission denied" : message.split("\n")[0];
    throw new KubeConfigError(`cannot read the kubeconfig ${file ?? process.env.KUBECONFIG ?? ""}: ${why}`);
  }
  if (!file && isMadeUpDefault(kubeConfig)) {
    throw new KubeConfigError(
      "no kubeconfig found and not in a cluster: pass --kubeconfig FILE, set KUBECONFIG, or create ~/.kube/config",
    );
  }
  if (!kubeConfig.getCurrentCluster()) {
    throw new KubeConfigError(`the kubeconfig${file ? ` ${file}` : ""} names no current context with a cluster`);
  }
  return kubeConfig;
}
