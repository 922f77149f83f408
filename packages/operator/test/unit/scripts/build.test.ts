// The operator's bundle leaves client-node's generated models, API classes and serializer
// out: the operator sends plain JSON (runtime/raw-client.ts), and those ~2,700 modules cost
// ~14 MiB of RSS when loaded (decision 023). An import of client-node's index, of its
// ListWatch or of a typed API class anywhere in src/ would bring them back.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { build } from "esbuild";
import { BUILD_OPTIONS } from "../../../scripts/build.ts";

describe("the operator's bundle", () => {
  it("holds none of client-node's generated models, API classes or serializer", async () => {
    const result = await build({ ...BUILD_OPTIONS, write: false, metafile: true, outfile: "operator.mjs" });
    // esbuild reads every module imported; only those with code in the output were kept.
    const [output] = Object.values(result.metafile.outputs);
    assert.ok(output);
    const inputs = Object.entries(output.inputs).flatMap(([input, { bytesInOutput }]) =>
      bytesInOutput > 0 ? [input] : [],
    );
    const generated = inputs.filter((input) =>
      /@kubernetes\/client-node\/dist\/(gen\/(models|apis|types)\/|serializer\.js|cache\.js)/.test(input),
    );
    assert.deepEqual(generated, []);
    // What it does hold of client-node: the kubeconfig and its authentication.
    assert.ok(inputs.some((input) => input.endsWith("@kubernetes/client-node/dist/config.js")));
  });
});
