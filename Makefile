# mcp-oidc-proxy — every target runs with Node 24 (project-local when the machine's is older).
SHELL := /bin/bash
NODE_BIN := $(shell ./scripts/ensure-node.sh)
export PATH := $(CURDIR)/node_modules/.bin:$(NODE_BIN):$(PATH)
export NODE_OPTIONS := --disable-warning=ExperimentalWarning

TESTS := packages/proxy/test/**/*.test.ts packages/operator/test/**/*.test.ts

.PHONY: setup run test lint format typecheck kube-binaries helm-binary binary lambda crds bench bench-memory bench-operator clean help

help: ## list the targets
	@grep -E '^[a-z-]+:.*##' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-12s %s\n", $$1, $$2}'

setup: node_modules/.installed packages/operator/dist/mcp-oidc-operator.mjs ## install Node 24 (if needed), npm packages and redis-server; build the operator bundle
	@./scripts/ensure-system-deps.sh

node_modules/.installed: package.json package-lock.json packages/*/package.json
	npm ci --no-audit --no-fund
	@touch $@

# The operator's bundled build, which its installed command and container run (decision 019).
packages/operator/dist/mcp-oidc-operator.mjs: node_modules/.installed packages/operator/scripts/build.ts $(shell find packages/operator/src -name '*.ts')
	@node packages/operator/scripts/build.ts >/dev/null

run: setup ## local demo: identity provider + MCP server + proxy on http://localhost:8080
	node packages/proxy/dev/demo.ts

test: setup lint typecheck kube-binaries helm-binary binary ## every test: lint, type check, unit and integration tests
	@# The many-streams test holds 300 streams in one process (4 descriptors each): room above the usual 1024.
	[ "$$(ulimit -n)" = unlimited ] || [ "$$(ulimit -n)" -ge 8192 ] || ulimit -n 8192 2>/dev/null || ulimit -n "$$(ulimit -Hn)"; \
	node --test --test-concurrency=1 --test-timeout=120000 $(foreach t,$(TESTS),"$(t)")

lint: setup ## formatter and linter (Biome)
	biome ci .

format: setup ## rewrite files with the formatter
	biome check --write .

typecheck: setup ## tsc --noEmit over every package, tests included
	tsc -p .

crds: setup ## regenerate crds/, the install manifest and the charts' generated files from the zod schemas (tests fail when they differ)
	node packages/operator/scripts/generate-crd.ts
	node packages/operator/scripts/generate-install.ts
	node packages/proxy/scripts/generate-helm-schema.ts

kube-binaries: ## build kube-apiserver, etcd and kubectl for the operator tests (cached outside the repo)
	@./scripts/ensure-kube-binaries.sh >/dev/null

binary: setup ## the proxy as one executable file: dist/mcp-oidc-proxy (Node single executable application)
	@node packages/proxy/scripts/build-binary.ts 2> >(grep -v "Can't find string offset" >&2)

lambda: setup ## the AWS Lambda function: dist/lambda/index.mjs (deployments/serverless/template.yaml deploys it)
	node packages/proxy/scripts/build-lambda.ts

helm-binary: ## build helm for the chart tests (cached outside the repo)
	@./scripts/ensure-helm.sh >/dev/null

bench: setup ## throughput, footprint and latency (open model) beside a bare Node proxy and oauth2-proxy; needs Go on first use (builds oauth2-proxy and vegeta, cached)
	node packages/proxy/bench/run.ts

bench-memory: setup ## the proxy's RSS idle and after load, as the container runs it (BENCH_MEMORY_RUNS=3)
	node packages/proxy/bench/memory.ts

bench-operator: setup kube-binaries ## N McpOidcProxy resources (BENCH_RESOURCES=1000) reconciled against a real API server
	node packages/operator/bench/run.ts

clean: ## remove installed packages, the local Node and built files
	rm -rf node_modules .tools dist packages/proxy/dist packages/operator/dist
