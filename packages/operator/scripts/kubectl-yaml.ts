// YAML for files a user hands to kubectl or Helm. Both read YAML the 1.1 way
// (sigs.k8s.io/yaml): a plain `off`, `on`, `yes`, `no`, `y` or `1:20` is not the string it
// looks like, so `default: off` in a CRD arrived as a boolean and the API server refused the
// CRD. The yaml package writes YAML 1.2, where those are plain strings; here every string
// scalar that a YAML 1.1 reader would take for something else is quoted.
import { Document, parse, Scalar, visit } from "yaml";

/** True when `text`, written plain, would not read back as this string in YAML 1.1. */
function readsAsOtherThan(text: string): boolean {
  try {
    return parse(text, { version: "1.1", logLevel: "silent" }) !== text;
  } catch {
    return true;
  }
}

export function stringifyForKubectl(value: unknown): string {
  const document = new Document(value);
  visit(document, {
    Scalar(_key, node) {
      if (typeof node.value === "string" && readsAsOtherThan(node.value)) node.type = Scalar.QUOTE_DOUBLE;
    },
  });
  return document.toString({ lineWidth: 0 });
}
