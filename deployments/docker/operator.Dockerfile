# mcp-oidc-operator container image (deployments/kubernetes/operator/install.yaml runs it).
# Build from the repository root:
#   docker build -f deployments/docker/operator.Dockerfile -t mcp-oidc-operator:0.1.0 .

FROM node:24-bookworm-slim AS dependencies
WORKDIR /app
COPY package.json package-lock.json ./
COPY packages/proxy/package.json packages/proxy/package.json
COPY packages/operator/package.json packages/operator/package.json
RUN npm ci --omit=dev --workspace @mcp-oidc-proxy/operator --include-workspace-root=false --no-audit --no-fund \
 && npm cache clean --force

FROM node:24-bookworm-slim
ENV NODE_ENV=production
WORKDIR /app
COPY --from=dependencies /app/node_modules ./node_modules
COPY packages/operator/package.json packages/operator/package.json
COPY packages/operator/bin packages/operator/bin
COPY packages/operator/src packages/operator/src
USER 10001:10001
EXPOSE 8080 8081
ENTRYPOINT ["node", "/app/packages/operator/bin/mcp-oidc-operator.js"]
