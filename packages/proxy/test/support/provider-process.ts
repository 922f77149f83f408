// The development OpenID provider as a process of its own, for tests of a provider that
// stops answering: paused with SIGSTOP its port still accepts connections and answers
// nothing (as a hung provider does), killed its port refuses them. Run directly, this file
// starts the provider with the options in PROVIDER_OPTIONS (JSON) and prints its issuer.
import { type ChildProcess, spawn } from "node:child_process";
import { once } from "node:events";
import { createInterface } from "node:readline";
import { type DevIdentityProviderOptions, startDevIdentityProvider } from "../../dev/identity-provider.ts";

export interface ProviderProcess {
  issuer: string;
  /** SIGSTOP: connections are accepted and never answered. */
  pause(): void;
  /** SIGCONT: it answers again, the requests it held first. */
  resume(): void;
  /** Ends the process: its port refuses connections. */
  close(): Promise<void>;
}

export async function startProviderProcess(options: DevIdentityProviderOptions): Promise<ProviderProcess> {
  const child: ChildProcess = spawn(process.execPath, [import.meta.filename], {
    env: { ...process.env, PROVIDER_OPTIONS: JSON.stringify(options) },
    stdio: ["ignore", "pipe", "inherit"],
  });
  // A run cut short leaves no provider behind (paused or not).
  const killOnExit = () => {
    child.kill("SIGCONT");
    child.kill("SIGKILL");
  };
  process.once("exit", killOnExit);
  const [issuer] = (await once(createInterface({ input: child.stdout as NodeJS.ReadableStream }), "line")) as [string];
  return {
    issuer,
    pause: () => child.kill("SIGSTOP"),
    resume: () => child.kill("SIGCONT"),
    async close() {
      process.off("exit", killOnExit);
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = once(child, "exit");
      child.kill("SIGCONT");
      child.kill("SIGKILL");
      await exited;
    },
  };
}

if (import.meta.main) {
  const provider = await startDevIdentityProvider(JSON.parse(process.env.PROVIDER_OPTIONS ?? "{}"));
  console.log(provider.issuer);
}
