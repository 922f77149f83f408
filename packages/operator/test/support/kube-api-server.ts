// A real Kubernetes API server for tests, the way controller-runtime's envtest does it:
// etcd and kube-apiserver (built once by scripts/ensure-kube-binaries.sh) on free loopback
// ports, with a throw-away data directory and a static admin token. No controllers run:
// nothing garbage-collects and no pods start; the API behaves as in a cluster.
import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { generateKeyPairSync, randomBytes } from "node:crypto";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import type { KubeConfig } from "@kubernetes/client-node";
import { Agent, fetch as undiciFetch } from "undici";
import { loadKubeConfig } from "../../src/runtime/kube-config.ts";
import { freePort } from "./eventually.ts";

const repoRoot = path.resolve(import.meta.dirname, "../../../..");
export const OPERATOR_USER = "system:serviceaccount:mcp-system:mcp-oidc-operator";

export interface TestApiServer {
  url: string;
  token: string;
  kubeConfig(): KubeConfig;
  /** As the operator's ServiceAccount (system:serviceaccount:mcp-system:mcp-oidc-operator): only RBAC's grants. */
  operatorKubeConfig(): KubeConfig;
  /** The same identity as a kubeconfig file, for the operator's own process. */
  operatorKubeConfigFile: string;
  /** kubeconfig YAML for a process (the operator binary, kubectl). */
  kubeConfigFile: string;
  /** A raw JSON request as the admin, for what the typed client cannot send as is. */
  request(method: string, path: string, body?: unknown): Promise<{ status: number; body: unknown }>;
  /** Kills kube-apiserver and starts it again (etcd, and so all objects, stay). */
  restart(): Promise<void>;
  /** Freezes kube-apiserver (SIGSTOP): connections stay open, nothing is answered. */
  freeze(): void;
  /** Lets a frozen kube-apiserver run on (SIGCONT). */
  thaw(): void;
  close(): Promise<void>;
}

export function kubeBinariesDir(): string {
  return execFileSync(path.join(repoRoot, "scripts/ensure-kube-binaries.sh"), { encoding: "utf8" }).trim();
}

function startProcess(binary: string, args: string[], logFile: string): ChildProcess {
  const child = spawn(binary, args, { stdio: ["ignore", "pipe", "pipe"] });
  let log = "";
  const keep = (chunk: Buffer) => {
    log = (log + chunk.toString()).slice(-20_000);
  };
  child.stdout?.on("data", keep);
  child.stderr?.on("data", keep);
  child.once("exit", () => writeFileSync(logFile, log));
  return child;
}

async function stopProcess(child: ChildProcess | undefined, signal: NodeJS.Signals = "SIGTERM"): Promise<void> {
  if (!child || child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  child.kill(signal);
  await exited;
}

/** Polls a health URL until it answers 200; bounded, and fails early if the process died. */
async function waitHealthy(
  url: string,
  child: ChildProcess,
  headers: Record<string, string>,
  what: string,
  caFile?: string,
): Promise<void> {
  for (let attempt = 0; attempt < 600; attempt++) {
    if (child.exitCode !== null) throw new Error(`${what} exited with ${child.exitCode}`);
    try {
      // The serving certificate is self-signed by kube-apiserver at start; trust exactly it.
      const dispatcher =
        caFile && existsSync(caFile) ? new Agent({ connect: { ca: readFileSync(caFile) } }) : undefined;
      if (caFile && !dispatcher) throw new Error("certificate not written yet");
      const response = await undiciFetch(url, { headers, ...(dispatcher ? { dispatcher } : {}) });
      await response.body?.cancel();
      if (response.status === 200) return;
    } catch {
      // not listening yet
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`${what} did not become healthy at ${url}`);
}

export interface TestApiServerOptions {
  /** Admission plugins to enable besides the defaults, e.g. OwnerReferencesPermissionEnforcement (OpenShift's). */
  admissionPlugins?: string[];
}

export async function startTestApiServer(options: TestApiServerOptions = {}): Promise<TestApiServer> {
  const binaries = kubeBinariesDir();
  const dir = mkdtempSync(path.join(tmpdir(), "mcp-operator-apiserver-"));
  const [etcdPort, peerPort, apiPort] = [await freePort(), await freePort(), await freePort()];
  const token = randomBytes(24).toString("hex");
  // A second identity: the operator's ServiceAccount, with only what RBAC grants it.
  const operatorToken = randomBytes(24).toString("hex");
  writeFileSync(
    path.join(dir, "tokens.csv"),
    `${token},admin,admin-uid,system:masters\n` +
      `${operatorToken},${OPERATOR_USER},operator-uid,"system:serviceaccounts,system:serviceaccounts:mcp-system,system:authenticated"\n`,
  );
  const { publicKey, privateKey } = generateKeyPairSync("rsa", { modulusLength: 2048 });
  writeFileSync(path.join(dir, "sa.pub"), publicKey.export({ type: "spki", format: "pem" }));
  writeFileSync(path.join(dir, "sa.key"), privateKey.export({ type: "pkcs8", format: "pem" }));

  const etcdUrl = `http://127.0.0.1:${etcdPort}`;
  const etcd = startProcess(
    path.join(binaries, "etcd"),
    [
      `--data-dir=${path.join(dir, "etcd")}`,
      `--listen-client-urls=${etcdUrl}`,
      `--advertise-client-urls=${etcdUrl}`,
      `--listen-peer-urls=http://127.0.0.1:${peerPort}`,
      `--initial-advertise-peer-urls=http://127.0.0.1:${peerPort}`,
      `--initial-cluster=default=http://127.0.0.1:${peerPort}`,
      "--unsafe-no-fsync",
      "--log-level=warn",
    ],
    path.join(dir, "etcd.log"),
  );
  await waitHealthy(`${etcdUrl}/health`, etcd, {}, "etcd");

  const url = `https://127.0.0.1:${apiPort}`;
  const caFile = path.join(dir, "certs", "apiserver.crt");
  const auth = { authorization: `Bearer ${token}` };
  let apiServer: ChildProcess | undefined;
  const startApiServer = async () => {
    apiServer = startProcess(
      path.join(binaries, "kube-apiserver"),
      [
        `--etcd-servers=${etcdUrl}`,
        `--cert-dir=${path.join(dir, "certs")}`,
        `--secure-port=${apiPort}`,
        "--bind-address=127.0.0.1",
        "--advertise-address=127.0.0.1",
        // Room for thousands of Services (make bench-operator creates one per resource).
        "--service-cluster-ip-range=10.96.0.0/16",
        "--allow-privileged=true",
        "--authorization-mode=RBAC",
        `--token-auth-file=${path.join(dir, "tokens.csv")}`,
        "--service-account-issuer=https://kubernetes.default.svc.cluster.local",
        `--service-account-key-file=${path.join(dir, "sa.pub")}`,
        `--service-account-signing-key-file=${path.join(dir, "sa.key")}`,
        // No controllers run here to create service account tokens.
        "--disable-admission-plugins=ServiceAccount",
        ...(options.admissionPlugins?.length
          ? [`--enable-admission-plugins=${options.admissionPlugins.join(",")}`]
          : []),
        "--enable-priority-and-fairness=false",
        "--v=0",
      ],
      path.join(dir, "kube-apiserver.log"),
    );
    await waitHealthy(`${url}/readyz`, apiServer, auth, "kube-apiserver", caFile);
  };
  await startApiServer();

  const writeKubeConfig = (file: string, userToken: string) =>
    writeFileSync(
      file,
      [
        "apiVersion: v1",
        "kind: Config",
        `clusters: [{name: test, cluster: {server: '${url}', certificate-authority: '${caFile}'}}]`,
        `users: [{name: user, user: {token: '${userToken}'}}]`,
        "contexts: [{name: test, context: {cluster: test, user: user}}]",
        "current-context: test",
        "",
      ].join("\n"),
    );
  const kubeConfigFile = path.join(dir, "kubeconfig");
  writeKubeConfig(kubeConfigFile, token);
  const operatorKubeConfigFile = path.join(dir, "kubeconfig-operator");
  writeKubeConfig(operatorKubeConfigFile, operatorToken);
  return {
    url,
    token,
    kubeConfigFile,
    operatorKubeConfigFile,
    async request(method, requestPath, body) {
      const response = await undiciFetch(`${url}${requestPath}`, {
        method,
        headers: { ...auth, "content-type": "application/json" },
        dispatcher: new Agent({ connect: { ca: readFileSync(caFile) } }),
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      });
      return { status: response.status, body: await response.json() };
    },
    // The operator's own loader (one connection pool per process), as main uses it.
    kubeConfig: () => loadKubeConfig(kubeConfigFile),
    operatorKubeConfig: () => loadKubeConfig(operatorKubeConfigFile),
    async restart() {
      // A crash, not a drain: a draining API server waits for open watches (tens of seconds).
      await stopProcess(apiServer, "SIGKILL");
      await startApiServer();
    },
    freeze() {
      apiServer?.kill("SIGSTOP");
    },
    thaw() {
      apiServer?.kill("SIGCONT");
    },
    async close() {
      apiServer?.kill("SIGCONT");
      await stopProcess(apiServer);
      await stopProcess(etcd);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
