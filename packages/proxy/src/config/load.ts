// Loads the configuration: defaults < files (configs/base.yaml, then configs/<env>.yaml,
// then --config) < environment < flags. Every problem is collected and reported at once,
// each naming the field, the bad value and where it came from.
import { X509Certificate } from "node:crypto";
import { accessSync, constants, existsSync, readFileSync } from "node:fs";
import path from "node:path";
import { parseDocument } from "yaml";
import type { z } from "zod";
import { redactUrl } from "../observability/redact.ts";
import { type Config, configSchema, environments } from "./schema.ts";
import { environmentLayer, flagLayer, type RawTree, type SourceLayer } from "./sources.ts";
import { applyTargetPrecedence } from "./target-layers.ts";
import { secretSourceProblems, validateConfig } from "./validate.ts";

/** Fields whose value is a credential: an error names the field, never the value. */
const SECRET_FIELD = /(^|[._])(secret|password|token|arguments_key)$/;

/** A value as an error message may show it: secrets hidden, URLs without their credentials. */
function shownValue(field: string, value: unknown): string {
  // An entry of a list of secrets (session.secret.1) is a secret too.
  if (SECRET_FIELD.test(field.replace(/(\.\d+)+$/, ""))) return "redacted";
  // Anything that looks like a URL, parsable or not, without what may be its credentials.
  if (typeof value === "string" && /^[a-z][a-z0-9+.-]*:\/\//i.test(value)) return JSON.stringify(redactUrl(value));
  return JSON.stringify(value);
}

export class ConfigError extends Error {
  readonly problems: readonly string[];
  constructor(problems: readonly string[]) {
    super(`invalid configuration:\n${problems.map((p) => `  - ${p}`).join("\n")}`);
    this.name = "ConfigError";
    this.problems = problems;
  }
}

export interface LoadOptions {
  /** A config file (--config). */
  file?: string | undefined;
  /** A directory with base.yaml and <environment>.yaml (--config-dir). */
  directory?: string | undefined;
  /** Environment name choosing the layer in `directory` (--env, else MCP_ENV). */
  environment?: string | undefined;
  env?: NodeJS.ProcessEnv;
  flags?: Record<string, unknown>;
  /**
   * Check fields only, not the rules between them: the first pass when secrets still have to
   * be fetched from Vault or AWS (a required secret may be among them).
   */
  fieldsOnly?: boolean;
}

export interface LoadedConfig {
  config: Config;
  /** Files read, in the order they were applied. */
  files: string[];
  /** What the sources did that a reader of one of them would not expect (logged at start, printed by --config-test). */
  notices: string[];
}

/**
 * A notice when later sources' target host, port or protocol rewrote an earlier source's
 * target.url (decision 041): whoever reads that file sees another address than the one used
 * (the compose file's MCP_TARGET_HOST over a mounted config.yaml's url, say).
 */
function targetRewriteNotice(before: unknown, after: unknown, layers: readonly SourceLayer[]): string[] {
  if (before === after || typeof before !== "string" || typeof after !== "string") return [];
  if (!URL.canParse(before) || !URL.canParse(after)) return [];
  const [was, now] = [new URL(before), new URL(after)];
  const parts = [
    was.protocol !== now.protocol ? "protocol" : "",
    was.hostname !== now.hostname ? "host" : "",
    was.port !== now.port ? "port" : "",
  ].filter(Boolean);
  const by = parts.map((part) => `target.${part} from ${originOf(layers, `target.${part}`)}`).join(", ");
  return [
    `target.url from ${originOf(layers, "target.url")} (${redactUrl(before)}) is used as ${redactUrl(after)}: ${by} outrank${parts.length === 1 ? "s" : ""} it`,
  ];
}

function isPlainObject(value: unknown): value is RawTree {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** Later layers win; objects merge key by key, everything else (lists too) is replaced. */
export function mergeTrees(base: RawTree, over: RawTree): RawTree {
  const out: RawTree = { ...base };
  for (const [key, value] of Object.entries(over)) {
    const current = out[key];
    out[key] = isPlainObject(current) && isPlainObject(value) ? mergeTrees(current, value) : value;
  }
  return out;
}

function readYamlFile(file: string, problems: string[]): SourceLayer | undefined {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (error) {
    problems.push(`${file}: cannot read config file (${(error as NodeJS.ErrnoException).code ?? error})`);
    return undefined;
  }
  const doc = parseDocument(text, { prettyErrors: true });
  if (doc.errors.length > 0) {
    // One line per problem: the message and its place, without the snippet prettyErrors adds below.
    for (const error of doc.errors) problems.push(`${file}: ${error.message.split("\n")[0]?.replace(/:$/, "")}`);
    return undefined;
  }
  const tree: unknown = doc.toJS() ?? {};
  if (!isPlainObject(tree)) {
    problems.push(`${file}: the top level must be a mapping of sections (server:, target:, oidc:, ...)`);
    return undefined;
  }
  return { tree, origins: new Map([["", file]]) };
}

function readSecretFile(file: string, field: string, problems: string[]): string | undefined {
  try {
    return readFileSync(file, "utf8").replace(/\r?\n$/, "");
  } catch (error) {
    problems.push(`${field}: cannot read ${file} (${(error as NodeJS.ErrnoException).code ?? error})`);
    return undefined;
  }
}

function originOf(layers: readonly SourceLayer[], fieldPath: string): string | undefined {
  for (let i = layers.length - 1; i >= 0; i--) {
    const layer = layers[i] as SourceLayer;
    // A field inside a value one source gave whole (VAULT_SECRETS → vault.secrets.0.key) is its.
    for (let at = fieldPath; at; at = at.slice(0, Math.max(at.lastIndexOf("."), 0))) {
      const direct = layer.origins.get(at);
      if (direct) return direct;
    }
    const file = layer.origins.get("");
    if (file && hasPath(layer.tree, fieldPath)) return file;
  }
  return undefined;
}

/** The value under one key of a mapping, or one index of a list (mcp_policy.rules.0). */
function childOf(node: unknown, key: string): { found: boolean; value?: unknown } {
  if (Array.isArray(node))
    return /^\d+$/.test(key) && Number(key) < node.length
      ? { found: true, value: node[Number(key)] }
      : { found: false };
  if (isPlainObject(node) && key in node) return { found: true, value: node[key] };
  return { found: false };
}

function hasPath(tree: RawTree, fieldPath: string): boolean {
  let node: unknown = tree;
  for (const key of fieldPath.split(".")) {
    const child = childOf(node, key);
    if (!child.found) return false;
    node = child.value;
  }
  return true;
}

function valueAt(tree: RawTree, fieldPath: string): unknown {
  let node: unknown = tree;
  for (const key of fieldPath.split(".")) node = childOf(node, key).value;
  return node;
}

/**
 * A field as problems name it: list indexes in brackets (mcp_policy.rules[0].users), one
 * style for the schema's problems and validate.ts's. Inside, paths are dotted (the sources' origins).
 */
function shownField(fieldPath: string): string {
  return fieldPath.replace(/\.(\d+)(?=\.|$)/g, "[$1]");
}

/**
 * A rule's problem ("oidc.client_secret_file: cannot read …") with the source of its field
 * added, as the schema's problems have it; unchanged when the field came from no source (a
 * default, or required and missing) or the problem names that source already ("(env X)").
 */
function withOrigin(problem: string, layers: SourceLayer[]): string {
  const field = /^([a-z0-9_]+(?:\.[a-z0-9_]+|\[\d+\])*): /.exec(problem)?.[1]?.replace(/\[(\d+)\]/g, ".$1");
  const origin = field ? originOf(layers, field) : undefined;
  if (!origin || problem.includes(" [from ") || problem.includes(origin.split(" ").at(-1) as string)) return problem;
  return `${problem} [from ${origin}]`;
}

interface FieldProblem {
  field: string;
  message: string;
  unknown: boolean;
}

/** The schema's issues as one problem per field (an unknown key is a field of its own). */
function failingFields(issues: readonly z.core.$ZodIssue[]): FieldProblem[] {
  return issues.flatMap<FieldProblem>((issue) => {
    const keys = issue.path.map(String);
    if (issue.code === "unrecognized_keys" && issue.keys.length > 0)
      return issue.keys.map((k) => ({
        field: [...keys, k].join("."),
        message: "unknown field (check the spelling)",
        unknown: true,
      }));
    return [{ field: keys.join("."), message: issue.message, unknown: false }];
  });
}

/**
 * The rules across fields, checked as if the failing fields were left out (their defaults
 * in their place), so that one run of --config-test names every problem, not only the
 * schema's. A problem about a left-out field or its value is not shown: it would be about
 * a value the user did not write. Nothing when the rest does not parse either (a required field).
 */
function problemsBesides(merged: RawTree, failing: readonly FieldProblem[], fieldsOnly: boolean): string[] {
  if (failing.some(({ field }) => field === "")) return [];
  const rest = structuredClone(merged);
  for (const { field } of failing) {
    // A bad entry of a list leaves the whole list out (the field nearest it in a mapping):
    // removing the entry alone would renumber the entries after it in what validate.ts names.
    const keys = field.split(".");
    while (keys.length > 1 && !isPlainObject(valueAt(rest, keys.slice(0, -1).join(".")))) keys.pop();
    const parent = keys.length === 1 ? rest : valueAt(rest, keys.slice(0, -1).join("."));
    if (isPlainObject(parent)) delete parent[keys.at(-1) as string];
  }
  const reparsed = configSchema.safeParse(rest);
  if (!reparsed.success) return [];
  // Before secrets are fetched (fieldsOnly) the rules that need them wait, unless no source
  // would bring any: then this is the only run there will be.
  const { vault, aws_secrets_manager: aws } = reparsed.data;
  const waiting = fieldsOnly && (vault.secrets.length > 0 || aws.secrets.length > 0);
  const problems = waiting ? secretSourceProblems(reparsed.data) : validateConfig(reparsed.data);
  // About a left-out field, or about its (default) value: "…: required when auth.mode is oidc".
  const aboutLeftOut = (problem: string, field: string) =>
    problem.startsWith(`${field}:`) || problem.includes(`${field} is `) || problem.includes(`${field} must `);
  return problems.filter((problem) => !failing.some(({ field }) => aboutLeftOut(problem, shownField(field))));
}

/** Fills secrets given as files (*_file) in, unless set directly; checks that oidc.ca_file reads. */
function readSecretFiles(config: Config, problems: string[]): void {
  if (config.oidc.client_secret_file && !config.oidc.client_secret) {
    config.oidc.client_secret = readSecretFile(config.oidc.client_secret_file, "oidc.client_secret_file", problems);
  }
  if (config.session.secret_file && !config.session.secret) {
    const secret = readSecretFile(config.session.secret_file, "session.secret_file", problems);
    if (secret !== undefined)
      config.session.secret = secret
        .split(",")
        .map((s) => s.trim())
        .filter(Boolean);
  }
  if (config.redis.password_file && !config.redis.password) {
    config.redis.password = readSecretFile(config.redis.password_file, "redis.password_file", problems);
  }
  const audit = config.mcp_policy.audit;
  if (audit.arguments_key_file && !audit.arguments_key) {
    audit.arguments_key = readSecretFile(audit.arguments_key_file, "mcp_policy.audit.arguments_key_file", problems);
  }
  if (config.oidc.ca_file) {
    const bundle = readSecretFile(config.oidc.ca_file, "oidc.ca_file", problems);
    if (bundle !== undefined && !isPemCertificates(bundle)) {
      problems.push(
        `oidc.ca_file: ${config.oidc.ca_file} holds no PEM certificate (-----BEGIN CERTIFICATE-----); give the CA in PEM form (a DER file: openssl x509 -inform der -in ca.der -out ca.crt)`,
      );
    }
  }
}

const PEM_CERTIFICATE = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g;

/**
 * Whether a CA bundle is one or more PEM certificates, each of which parses. Node's TLS
 * would skip anything else without a word, and every sign-in would fail at the provider's
 * certificate instead of at start (an operator's caConfigMapRef with a DER or a key in ca.crt).
 */
function isPemCertificates(bundle: string): boolean {
  const certificates = bundle.match(PEM_CERTIFICATE) ?? [];
  return (
    certificates.length > 0 &&
    certificates.every((pem) => {
      try {
        return new X509Certificate(pem).raw.length > 0;
      } catch {
        return false;
      }
    })
  );
}

/**
 * The audit trail's file must be one the proxy can append to (it opens it at start): said
 * here, with the field, rather than as an open() error when the proxy starts.
 */
function checkAuditOutput(config: Config, problems: string[]): void {
  const { enabled, output } = config.mcp_policy.audit;
  if (!enabled || output === "stdout") return;
  const target = existsSync(output) ? output : path.dirname(output);
  try {
    accessSync(target, constants.W_OK);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code ?? String(error);
    problems.push(
      `mcp_policy.audit.output: cannot append to ${output} (${code} on ${target}); use a writable path or stdout`,
    );
  }
}

/** Reads, merges and validates the configuration, or throws a ConfigError listing every problem. */
export function loadConfig(options: LoadOptions = {}): LoadedConfig {
  const env = options.env ?? process.env;
  const problems: string[] = [];
  const layers: SourceLayer[] = [];
  const files: string[] = [];

  if (options.directory) {
    const base = path.join(options.directory, "base.yaml");
    const baseLayer = readYamlFile(base, problems);
    if (baseLayer) {
      layers.push(baseLayer);
      files.push(base);
    }
    const envName = options.environment ?? env.MCP_ENV ?? baseLayer?.tree.environment ?? "development";
    if (typeof envName !== "string" || !(environments as readonly string[]).includes(envName)) {
      problems.push(`environment: "${String(envName)}" is not one of ${environments.join(", ")}`);
    } else {
      const file = path.join(options.directory, `${envName}.yaml`);
      const layer = readYamlFile(file, problems);
      if (layer) {
        layer.tree = mergeTrees({ environment: envName }, layer.tree);
        layers.push(layer);
        files.push(file);
      }
    }
  }
  if (options.file) {
    const layer = readYamlFile(options.file, problems);
    if (layer) {
      layers.push(layer);
      files.push(options.file);
    }
  }
  layers.push(environmentLayer(env));
  if (options.environment) {
    layers.push({ tree: { environment: options.environment }, origins: new Map([["environment", "flag --env"]]) });
  }
  layers.push(flagLayer(options.flags ?? {}));
  if (problems.length > 0) throw new ConfigError(problems);

  const merged = layers.reduce<RawTree>((tree, layer) => mergeTrees(tree, layer.tree), {});
  const urlBefore = (merged.target as RawTree | undefined)?.url;
  problems.push(...applyTargetPrecedence(merged, layers, (field) => originOf(layers, field)));
  const notices = targetRewriteNotice(urlBefore, (merged.target as RawTree | undefined)?.url, layers);
  if (problems.length > 0) throw new ConfigError(problems);
  const parsed = configSchema.safeParse(merged);
  if (!parsed.success) {
    const fields = failingFields(parsed.error.issues);
    for (const { field, message, unknown } of fields) {
      const origin = originOf(layers, field);
      const value = valueAt(merged, field);
      const quoted = value === undefined || unknown ? "" : ` (got ${shownValue(field, value)})`;
      problems.push(`${shownField(field) || "(top level)"}: ${message}${quoted}${origin ? ` [from ${origin}]` : ""}`);
    }
    const besides = problemsBesides(merged, fields, options.fieldsOnly === true);
    problems.push(...besides.map((problem) => withOrigin(problem, layers)));
    throw new ConfigError(problems);
  }

  const config = parsed.data;
  readSecretFiles(config, problems);
  checkAuditOutput(config, problems);
  problems.push(...(options.fieldsOnly ? secretSourceProblems(config) : validateConfig(config)));
  if (problems.length > 0) throw new ConfigError(problems.map((problem) => withOrigin(problem, layers)));
  return { config, files, notices };
}
