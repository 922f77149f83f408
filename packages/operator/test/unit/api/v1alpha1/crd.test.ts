// The CRD built from the zod schema (api/v1alpha1/crd.ts): what kubectl explain and the
// API server read from it.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { buildCrd } from "../../../../src/api/v1alpha1/crd.ts";

type Schema = {
  description?: string;
  properties?: Record<string, Schema>;
  items?: Schema;
  additionalProperties?: Schema;
};

/** Every field below spec and status, by its path, that has no description. */
function undocumented(schema: Schema, at: string): string[] {
  const missing: string[] = [];
  for (const [name, child] of Object.entries(schema.properties ?? {})) {
    const path = `${at}.${name}`;
    if (!child.description) missing.push(path);
    missing.push(...undocumented(child, path));
    if (child.items) missing.push(...undocumented(child.items, `${path}[]`));
  }
  return missing;
}

describe("CRD schema", () => {
  it("describes every field (kubectl explain shows them)", () => {
    const crd = buildCrd() as {
      spec: { versions: { schema: { openAPIV3Schema: { properties: Record<string, Schema> } } }[] };
    };
    const root = crd.spec.versions[0]?.schema.openAPIV3Schema.properties ?? {};
    const missing = [...undocumented(root.spec as Schema, "spec"), ...undocumented(root.status as Schema, "status")];
    assert.deepEqual(missing, []);
  });
});
