// Plain JSON requests to the API server with the kubeconfig's credentials, for the few
// objects client-node's typed serializer cannot send as is: it writes metav1.MicroTime
// with milliseconds, which the API server refuses (it wants six fractional digits).
import https from "node:https";
import type { KubeConfig } from "@kubernetes/client-node";

export class ApiError extends Error {
  readonly code: number;
  readonly body: unknown;
  constructor(code: number, body: unknown) {
    super(`API server answered ${code}: ${JSON.stringify(body).slice(0, 300)}`);
    this.code = code;
    this.body = body;
  }
}

/** RFC 3339 with microseconds, as metav1.MicroTime is serialized. */
export function microTime(date: Date): string {
  return date.toISOString().replace(/\.(\d{3})Z$/, ".$1000Z");
}

export async function requestJson<T>(
  kubeConfig: KubeConfig,
  method: string,
  path: string,
  body?: unknown,
  contentType = "application/json",
  signal?: AbortSignal,
  accept = "application/json",
): Promise<T> {
  const cluster = kubeConfig.getCurrentCluster();
  if (!cluster) throw new Error("the kubeconfig names no current cluster");
  const url = new URL(path, cluster.server);
  const options: https.RequestOptions = {
    method,
    hostname: url.hostname,
    port: url.port,
    path: `${url.pathname}${url.search}`,
    headers: { accept, "content-type": contentType },
    ...(signal ? { signal } : {}),
  };
  await kubeConfig.applyToHTTPSOptions(options);
  return new Promise<T>((resolve, reject) => {
    const request = https.request(options, (response) => {
      let text = "";
      response.setEncoding("utf8");
      response.on("data", (chunk: string) => {
        text += chunk;
      });
      response.on("end", () => {
        let parsed: unknown;
        try {
          parsed = text ? JSON.parse(text) : undefined;
        } catch {
          parsed = text;
        }
        const status = response.statusCode ?? 0;
        if (status >= 200 && status < 300) resolve(parsed as T);
        else reject(new ApiError(status, parsed));
      });
    });
    request.on("error", reject);
    request.setTimeout(15_000, () => request.destroy(new Error(`${method} ${path} timed out`)));
    request.end(body === undefined ? undefined : JSON.stringify(body));
  });
}
