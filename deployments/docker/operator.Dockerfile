# mcp-oidc-operator container image (deployments/kubernetes/operator/install.yaml runs it).
# Build from the repository root:
#   docker build -f deployments/docker/operator.Dockerfile -t mcp-oidc-operator:0.1.0 .
# The image holds the bundled build only (packages/operator/scripts/build.ts, decision 019):
# one ES module with its dependencies, no node_modules, no type stripping at run time.

FROM node:24-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
COPY packages/proxy/package.json packages/proxy/package.json
COPY packages/operator/package.json packages/operator/package.json
RUN npm ci --workspace @mcp-oidc-proxy/operator --include-workspace-root=false --no-audit --no-fund
COPY packages/operator/scripts packages/operator/scripts
COPY packages/operator/src packages/operator/src
RUN node packages/operator/scripts/build.ts

FROM node:24-bookworm-slim
ENV NODE_ENV=production
WORKDIR /app
# A small young generation, as the installed command runs it: memory, not speed, is what an
# operator spends (decision 019). The entrypoint keeps it and sizes the old generation from
# the container's memory limit, with two malloc arenas (node-memory.sh; decision 023).
ENV NODE_OPTIONS=--max-semi-space-size=1
COPY deployments/docker/node-memory.sh deployments/docker/node-memory.sh
COPY --from=build /app/packages/operator/dist/mcp-oidc-operator.mjs packages/operator/dist/mcp-oidc-operator.mjs
USER 10001:10001
EXPOSE 8080 8081
# Interpreted only (no Sparkplug, Maglev or TurboFan) and V8's size-over-speed heuristics:
# the optimizing tiers' code, compiled code and compile zones were ~25 MiB of the RSS at
# 1,000 resources, for ~50% more CPU per reconcile (decision 023). WebAssembly stays (undici's
# HTTP/1.1 parser), which --lite-mode/--jitless would take away. Command-line flags: Node
# refuses these in NODE_OPTIONS.
ENTRYPOINT ["/app/deployments/docker/node-memory.sh", "node", "--no-opt", "--no-maglev", "--no-sparkplug", "--optimize-for-size", "/app/packages/operator/dist/mcp-oidc-operator.mjs"]
