// The Argo CD health check of McpOidcProxy, run by a real Lua interpreter (Debian's lua5.4)
// the way Argo CD runs it: `obj` is the resource, the script returns {status, message}.
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import path from "node:path";
import { describe, it } from "node:test";
import { parse } from "yaml";

const DIR = path.resolve(import.meta.dirname, "../../../../deployments/gitops/argocd");
const SCRIPT = readFileSync(path.join(DIR, "health-mcpoidcproxy.lua"), "utf8");

/** A JSON value as a Lua table constructor. */
function lua(value: unknown): string {
  if (value === null || value === undefined) return "nil";
  if (Array.isArray(value)) return `{${value.map(lua).join(", ")}}`;
  if (typeof value === "object") {
    return `{${Object.entries(value)
      .map(([k, v]) => `[${JSON.stringify(k)}] = ${lua(v)}`)
      .join(", ")}}`;
  }
  return JSON.stringify(value);
}

function health(resource: unknown): { status: string; message: string } {
  const program = `local obj = ${lua(resource)}\nlocal hs = (function()\n${SCRIPT}\nend)()\nprint(hs.status .. "\\t" .. (hs.message or ""))`;
  const [status = "", message = ""] = execFileSync("lua5.4", ["-"], { input: program, encoding: "utf8" })
    .trim()
    .split("\t");
  return { status, message };
}

const condition = (type: string, status: string, message = "") => ({
  type,
  status,
  reason: "R",
  message,
  lastTransitionTime: "",
});
const resource = (generation: number, status?: unknown) => ({
  metadata: { generation },
  ...(status ? { status } : {}),
});

describe("Argo CD health check", () => {
  it("is Progressing until the operator has reported on the current generation", () => {
    assert.equal(health(resource(1)).status, "Progressing");
    assert.equal(
      health(resource(2, { observedGeneration: 1, conditions: [condition("Ready", "True")] })).status,
      "Progressing",
    );
  });

  it("is Healthy when Ready, Progressing while rolling out, Degraded with the operator's message", () => {
    assert.equal(
      health(resource(3, { observedGeneration: 3, conditions: [condition("Ready", "True", "2 of 2")] })).status,
      "Healthy",
    );
    assert.equal(
      health(
        resource(3, {
          observedGeneration: 3,
          conditions: [condition("Ready", "False"), condition("Progressing", "True")],
        }),
      ).status,
      "Progressing",
    );
    const degraded = health(
      resource(3, {
        observedGeneration: 3,
        conditions: [condition("Ready", "False"), condition("Degraded", "True", "Secret oidc does not exist")],
      }),
    );
    assert.deepEqual(degraded, { status: "Degraded", message: "Secret oidc does not exist" });
  });

  it("is Degraded when Stalled (a broken rollout), with the operator's message", () => {
    const stalled = health(
      resource(4, {
        observedGeneration: 4,
        conditions: [
          condition("Ready", "False"),
          condition("Progressing", "False"),
          condition("Stalled", "True", "Deployment tools: ReplicaSet has timed out progressing."),
        ],
      }),
    );
    assert.deepEqual(stalled, {
      status: "Degraded",
      message: "Deployment tools: ReplicaSet has timed out progressing.",
    });
  });

  it("is the same script as the one in the argocd-cm patch", () => {
    const patch = parse(readFileSync(path.join(DIR, "argocd-cm-patch.yaml"), "utf8")) as {
      data: Record<string, string>;
    };
    const embedded = patch.data["resource.customizations.health.mcp-oidc-proxy.dev_McpOidcProxy"] ?? "";
    const code = (text: string) =>
      text
        .split("\n")
        .filter((l) => l.trim() && !l.trim().startsWith("--"))
        .map((l) => l.trim());
    assert.deepEqual(code(embedded), code(SCRIPT));
  });
});
