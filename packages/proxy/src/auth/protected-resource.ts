// This MCP server as an OAuth 2.1 protected resource (RFC 9728, MCP authorization spec):
// the metadata document at every well-known form clients try, and the WWW-Authenticate
// challenge that points clients to it.
import cors from "cors";
import express, { type Router } from "express";
import type { OwnedPaths } from "../own-paths.ts";

export interface ProtectedResourceOptions {
  /** The resource identifier (RFC 8707), e.g. https://mcp.example.com */
  resource: string;
  /** Issuers MCP clients get their tokens from. */
  authorizationServers: string[];
  scopesSupported: string[];
  requiredScopes: string[];
}

export const PROTECTED_RESOURCE_PATH = "/.well-known/oauth-protected-resource";

export class ProtectedResource {
  /** The root form and every path-inserted form. */
  readonly paths: OwnedPaths = { prefixes: [PROTECTED_RESOURCE_PATH] };
  readonly metadataUrl: string;
  readonly #document: string;
  readonly #scopeParam: string;

  constructor(options: ProtectedResourceOptions) {
    const base = options.resource.replace(/\/$/, "");
    const resourcePath = new URL(base).pathname.replace(/\/$/, "");
    // The metadata URL of a resource with a path has the path after the well-known part.
    this.metadataUrl = `${new URL(base).origin}${PROTECTED_RESOURCE_PATH}${resourcePath}`;
    this.#document = JSON.stringify({
      resource: base,
      authorization_servers: options.authorizationServers,
      bearer_methods_supported: ["header"],
      scopes_supported: options.scopesSupported,
      resource_name: "MCP server behind mcp-oidc-proxy",
    });
    this.#scopeParam = options.requiredScopes.length > 0 ? `, scope="${options.requiredScopes.join(" ")}"` : "";
  }

  /** The challenge of a 401 (or a 403 with insufficient_scope). */
  challenge(error?: "invalid_token" | "insufficient_scope", description?: string, scopes?: string[]): string {
    const scopeParam = scopes && scopes.length > 0 ? `, scope="${scopes.join(" ")}"` : this.#scopeParam;
    const parts = [`Bearer resource_metadata="${this.metadataUrl}"${scopeParam}`];
    if (error) parts.push(`error="${error}"`);
    if (description) parts.push(`error_description="${description.replace(/["\\]/g, "")}"`);
    return parts.join(", ");
  }

  /** Served at the root form and every path-inserted form: clients differ in which they try. */
  router(): Router {
    const router = express.Router();
    const send: express.RequestHandler = (_req, res) => {
      res.setHeader("content-type", "application/json");
      res.setHeader("cache-control", "public, max-age=300");
      res.setHeader("access-control-allow-origin", "*");
      res.end(this.#document);
    };
    // Public and credential-free: any origin may read it, preflights included (browser clients
    // such as MCP Inspector send MCP-Protocol-Version, which needs one).
    const openCors = cors({ origin: "*", methods: ["GET"], maxAge: 600 });
    for (const path of [PROTECTED_RESOURCE_PATH, `${PROTECTED_RESOURCE_PATH}/*rest`]) {
      router.options(path, openCors);
      router.get(path, send);
    }
    return router;
  }
}
