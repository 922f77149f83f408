// Where the leader election Lease goes when no flag says: where the operator may put it.
import assert from "node:assert/strict";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { describe, it } from "node:test";
import { defaultLeaseNamespace, parseOptions } from "../../../src/cli/options.ts";

describe("the Lease's namespace by default", () => {
  const missing = path.join(tmpdir(), "no-such-serviceaccount", "namespace");

  it("is mcp-system outside a cluster, where rbac.yaml grants the Lease (was default, where it grants nothing)", () => {
    assert.equal(defaultLeaseNamespace({}, missing), "mcp-system");
  });

  it("is the pod's own namespace in a cluster, POD_NAMESPACE first", () => {
    const file = path.join(mkdtempSync(path.join(tmpdir(), "sa-")), "namespace");
    writeFileSync(file, "operators\n");
    assert.equal(defaultLeaseNamespace({}, file), "operators");
    assert.equal(defaultLeaseNamespace({ POD_NAMESPACE: "mcp-ops" }, file), "mcp-ops");
  });

  it("gives way to --lease-namespace", () => {
    const options = parseOptions(["node", "mcp-oidc-operator", "--lease-namespace", "ops"], { POD_NAMESPACE: "x" });
    assert.equal(options.leaseNamespace, "ops");
  });
});
