{{/* Names and labels shared by every template. */}}
{{- define "mcp-oidc-proxy.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "mcp-oidc-proxy.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else if contains (include "mcp-oidc-proxy.name" .) .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name (include "mcp-oidc-proxy.name" .) | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}

{{- define "mcp-oidc-proxy.selectorLabels" -}}
app.kubernetes.io/name: {{ include "mcp-oidc-proxy.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "mcp-oidc-proxy.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
{{ include "mcp-oidc-proxy.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}

{{- define "mcp-oidc-proxy.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "mcp-oidc-proxy.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{- define "mcp-oidc-proxy.secretName" -}}
{{- default (include "mcp-oidc-proxy.fullname" .) .Values.secrets.existingSecret }}
{{- end }}

{{/* The proxy's config file: the user's config with what the chart owns laid over it. */}}
{{- define "mcp-oidc-proxy.config" -}}
{{- /* In-cluster clients use the Service's names; the proxy answers other hosts than the public URL's with 421. */ -}}
{{- $svc := include "mcp-oidc-proxy.fullname" . }}
{{- $ns := .Release.Namespace }}
{{- $hosts := concat (dig "server" "allowed_hosts" list .Values.config) (list $svc (printf "%s.%s" $svc $ns) (printf "%s.%s.svc" $svc $ns) (printf "%s.%s.svc.cluster.local" $svc $ns)) }}
{{- $owned := dict "server" (dict "host" "0.0.0.0" "port" 8080 "allowed_hosts" $hosts "shutdown_timeout" (printf "%ds" (sub (int .Values.terminationGracePeriodSeconds) 5))) "metrics" (dict "enabled" .Values.metrics.enabled "port" (int .Values.metrics.port)) "logging" (dict "format" "json") }}
{{- toYaml (mergeOverwrite (deepCopy .Values.config) $owned) }}
{{- end }}

{{/*
Values that would render a config the proxy refuses at start (exit 2: a pod in a crash loop),
or that point at something nothing creates, stop `helm install` and `helm template` here, all
at once, each naming the value to set. A value may also come as its environment variable in
`env`, which the proxy reads over the file.
*/}}
{{- define "mcp-oidc-proxy.validate" -}}
{{- $c := .Values.config }}
{{- $env := .Values.env }}
{{- $problems := list }}
{{- $environment := get $env "MCP_ENV" | default (dig "environment" "development" $c) }}
{{- $production := eq $environment "production" }}
{{- if eq (get $env "AUTH_MODE" | default (dig "auth" "mode" "oidc" $c)) "oidc" }}
{{- if not (get $env "OIDC_DISCOVERY_URL" | default (dig "oidc" "discovery_url" "" $c)) }}
{{- $problems = append $problems "config.oidc.discovery_url: required with auth.mode oidc, your OpenID provider's issuer URL (e.g. https://login.example.com/realms/company)" }}
{{- end }}
{{- if not (get $env "OIDC_CLIENT_ID" | default (dig "oidc" "client_id" "" $c)) }}
{{- $problems = append $problems "config.oidc.client_id: required with auth.mode oidc, the client registered at your OpenID provider for this proxy" }}
{{- end }}
{{- end }}
{{- $publicUrl := get $env "MCP_PUBLIC_URL" | default (dig "server" "public_url" "" $c) }}
{{- if and $production (not $publicUrl) }}
{{- $problems = append $problems "config.server.public_url: required with environment production, the URL clients use (e.g. https://mcp.example.com); register <public_url>/callback at the provider" }}
{{- end }}
{{- /* The proxy's PUBLIC_URL_PATTERN (config/schema.ts, decision 035): its routes are at the root of its host. */ -}}
{{- if and $publicUrl (not (regexMatch "^[Hh][Tt][Tt][Pp][Ss]?://([A-Za-z0-9.-]+|\\[[0-9A-Fa-f:.]+\\])(:[0-9]+)?/?$" $publicUrl)) }}
{{- $problems = append $problems (printf "config.server.public_url: must be an origin such as https://mcp.example.com, with no path, query or fragment (got %s): the proxy serves at the root of its host and cannot be served under a path prefix; give it a host name of its own" $publicUrl) }}
{{- end }}
{{- $problems = concat $problems (include "mcp-oidc-proxy.crossFieldProblems" . | fromYamlArray) }}
{{- if not (or (get $env "MCP_TARGET_URL") (get $env "MCP_TARGET_HOST") (dig "target" "url" "" $c) (dig "target" "urls" list $c) (dig "target" "host" "" $c)) }}
{{- $problems = append $problems "config.target.url: required, the MCP server behind the proxy (e.g. http://mcp-server.mcp-system.svc:3000)" }}
{{- end }}
{{- /* A mistyped existingSecret left pods waiting for it. `lookup` sees the cluster at install and upgrade (not in helm template, where both are empty): */ -}}
{{- /* the Secret itself is missing only if the namespace's Secrets can be listed, so "no cluster" is not taken for "no Secret". */ -}}
{{- with .Values.secrets.existingSecret }}
{{- if and (not (lookup "v1" "Secret" $.Release.Namespace .)) (lookup "v1" "Secret" $.Release.Namespace "") }}
{{- $problems = append $problems (printf "secrets.existingSecret: there is no Secret %s in %s; create it first (keys %s, %s) or leave existingSecret empty and give secrets.sessionSecret and secrets.oidcClientSecret" . $.Release.Namespace $.Values.secrets.keys.sessionSecret $.Values.secrets.keys.oidcClientSecret) }}
{{- end }}
{{- end }}
{{- $store := get $env "SESSION_STORE" | default (dig "session" "store" "memory" $c) }}
{{- $problems = concat $problems (include "mcp-oidc-proxy.sessionSecretProblems" (dict "Values" .Values "Release" .Release "required" (or $production (eq $store "redis"))) | fromYamlArray) }}
{{- if and (eq $store "redis") (eq (dig "redis" "mode" "standalone" $c) "standalone") (not (get $env "REDIS_URL" | default (dig "redis" "url" "" $c))) }}
{{- $problems = append $problems "config.redis.url: required with session.store redis, the Redis every pod shares (e.g. redis://redis-master.mcp-system.svc:6379); this chart does not install Redis" }}
{{- end }}
{{- if $problems }}
{{- fail (printf "\n%s cannot start with these values; set:\n  - %s" .Chart.Name (join "\n  - " $problems)) }}
{{- end }}
{{- end }}

{{/*
The proxy's rules across fields (packages/proxy/src/config/validate.ts), said in the chart's
value names. The proxy stays their owner: helm.test.ts holds each refusal here to the
proxy's own on the same config, and every ci/ values file to its --config-test. A YAML list.
*/}}
{{- define "mcp-oidc-proxy.crossFieldProblems" -}}
{{- $c := .Values.config }}
{{- $env := .Values.env }}
{{- $problems := list }}
{{- $environment := get $env "MCP_ENV" | default (dig "environment" "development" $c) }}
{{- $auth := get $env "AUTH_MODE" | default (dig "auth" "mode" "oidc" $c) }}
{{- $mcpAuth := get $env "MCP_AUTH_MODE" | default (dig "mcp_auth" "mode" "off" $c) }}
{{- /* env is free text to values.schema.json; the proxy reads its modes over config's and refuses other spellings. */ -}}
{{- $choices := list (list "MCP_ENV" "environment" (list "development" "staging" "production")) (list "AUTH_MODE" "auth.mode" (list "oidc" "bypass")) (list "MCP_AUTH_MODE" "mcp_auth.mode" (list "off" "provider" "proxy")) }}
{{- range $choices }}
{{- $given := get $env (index . 0) }}
{{- if and $given (not (has $given (index . 2))) }}
{{- $problems = append $problems (printf "config.%s: env.%s %q is not one of %s" (index . 1) (index . 0) $given (join ", " (index . 2))) }}
{{- end }}
{{- end }}
{{- if and (eq $auth "bypass") (eq $environment "production") }}
{{- $problems = append $problems "config.auth.mode: bypass turns authentication off and is refused with environment production; use oidc (or config.environment development)" }}
{{- end }}
{{- if and (ne $auth "oidc") (has $mcpAuth (list "provider" "proxy")) }}
{{- $problems = append $problems (printf "config.mcp_auth.mode: %q needs config.auth.mode oidc (MCP clients' users sign in at the OpenID provider); with auth.mode %s set config.mcp_auth.mode \"off\" (the chart's default is proxy)" $mcpAuth $auth) }}
{{- end }}
{{- if eq $auth "oidc" }}
{{- $scopes := dig "oidc" "scopes" (list "openid") $c }}
{{- if and (kindIs "slice" $scopes) (not (has "openid" $scopes)) }}
{{- $problems = append $problems "config.oidc.scopes: must include openid (the proxy signs users in with OpenID Connect)" }}
{{- end }}
{{- $issuer := get $env "OIDC_DISCOVERY_URL" | default (dig "oidc" "discovery_url" "" $c) }}
{{- if and (hasPrefix "http://" $issuer) (not (regexMatch "^http://(localhost|127\\.[^/:]*|\\[::1\\])([:/]|$)" $issuer)) }}
{{- if eq $environment "production" }}
{{- $problems = append $problems (printf "config.oidc.discovery_url: must be https with environment production (got %s)" $issuer) }}
{{- else if not (dig "oidc" "allow_insecure_issuer" false $c) }}
{{- $problems = append $problems (printf "config.oidc.discovery_url: %s is plain http; use https or set config.oidc.allow_insecure_issuer: true for a test provider" $issuer) }}
{{- end }}
{{- end }}
{{- end }}
{{- if eq $mcpAuth "off" }}
{{- range $index, $rule := dig "mcp_policy" "rules" list $c }}
{{- range $key := list "clients" "scopes" }}
{{- if hasKey $rule $key }}
{{- $problems = append $problems (printf "config.mcp_policy.rules[%d].%s: %s are properties of bearer tokens, so config.mcp_auth.mode must be proxy or provider" $index $key $key) }}
{{- end }}
{{- end }}
{{- end }}
{{- end }}
{{- if and (dig "target" "url" "" $c) (dig "target" "urls" list $c) }}
{{- $problems = append $problems "config.target.urls: set either config.target.url (one endpoint) or config.target.urls (several), not both" }}
{{- end }}
{{- if eq (int .Values.metrics.port) 8080 }}
{{- $problems = append $problems "metrics.port: 8080 is the proxy's own port (server.port, set by the chart); choose another, e.g. 9090" }}
{{- end }}
{{- if and (eq (dig "session" "cookie_same_site" "lax" $c) "none") (eq (dig "session" "cookie_secure" "auto" $c) "never") }}
{{- $problems = append $problems "config.session.cookie_same_site: none requires Secure cookies; set config.session.cookie_secure to auto or always" }}
{{- end }}
{{- $vaultLogin := get $env "VAULT_AUTH_METHOD" | default (dig "vault" "auth_method" "token" $c) }}
{{- $vaultUsed := or (get $env "VAULT_SECRETS") (dig "vault" "secrets" list $c) (dig "vault" "enabled" false $c) }}
{{- if and $vaultUsed (eq $vaultLogin "kubernetes") (not .Values.serviceAccount.automountToken) (not (dig "vault" "service_account_token_file" "" $c)) }}
{{- $problems = append $problems "serviceAccount.automountToken: set it to true for config.vault.auth_method kubernetes, which logs in to Vault with the pod's service account token (the pod has none without it)" }}
{{- end }}
{{- if eq $mcpAuth "proxy" }}
{{- $clientTtl := get $env "MCP_CLIENT_TTL" | default (dig "mcp_auth" "server" "client_ttl" "30d" $c) }}
{{- $refreshTtl := get $env "MCP_REFRESH_TOKEN_TTL" | default (dig "mcp_auth" "server" "refresh_token_ttl" "14d" $c) }}
{{- $clientSeconds := include "mcp-oidc-proxy.durationSeconds" $clientTtl }}
{{- $refreshSeconds := include "mcp-oidc-proxy.durationSeconds" $refreshTtl }}
{{- if and $clientSeconds $refreshSeconds (ne (float64 $clientSeconds) 0.0) (lt (float64 $clientSeconds) (float64 $refreshSeconds)) }}
{{- $problems = append $problems (printf "config.mcp_auth.server.client_ttl: must be at least config.mcp_auth.server.refresh_token_ttl (%v) or 0 (got %v): a client forgotten after its last use would strand the refresh tokens it still holds" $refreshTtl $clientTtl) }}
{{- end }}
{{- end }}
{{- $redisMode := get $env "REDIS_MODE" | default (dig "redis" "mode" "standalone" $c) }}
{{- if and (has $redisMode (list "sentinel" "cluster")) (not (or (get $env "REDIS_NODES") (dig "redis" "nodes" list $c))) }}
{{- $problems = append $problems (printf "config.redis.nodes: required with redis.mode %s (host:port list)" $redisMode) }}
{{- end }}
{{- toYaml $problems }}
{{- end }}

{{/*
A duration as the proxy reads it (the ms package: "30s", "5m", "14d", "1.5h"; a number is
seconds, also as text: "86400"), in seconds; empty for a spelling not read here, which the
proxy then judges alone.
*/}}
{{- define "mcp-oidc-proxy.durationSeconds" -}}
{{- if or (kindIs "float64" .) (kindIs "int" .) (kindIs "int64" .) }}
{{- float64 . }}
{{- else }}
{{- $match := regexFindAll "^\\s*([0-9]+(?:\\.[0-9]+)?)\\s*(ms|s|m|h|d|w|y)?\\s*$" (toString .) 1 }}
{{- if $match }}
{{- $number := regexReplaceAll "[^0-9.]" (regexFind "^\\s*[0-9.]+" (toString .)) "" }}
{{- $unit := regexReplaceAll "[^a-z]" (toString .) "" }}
{{- $factors := dict "" 1 "ms" 0.001 "s" 1 "m" 60 "h" 3600 "d" 86400 "w" 604800 "y" 31557600 }}
{{- mulf (float64 $number) (get $factors $unit) }}
{{- end }}
{{- end }}
{{- end }}

{{/*
The session secret signs cookies; the proxy requires one in production and with Redis. Its
sources: the chart's Secret, an existing Secret, a file, Vault or AWS Secrets Manager. An
existing Secret is read when helm can (install, upgrade; not template) and refused if it
exists without the key. A YAML list of problems.
*/}}
{{- define "mcp-oidc-proxy.sessionSecretProblems" -}}
{{- $c := .Values.config }}
{{- $s := .Values.secrets }}
{{- $key := $s.keys.sessionSecret }}
{{- $problems := list }}
{{- $fetched := list }}
{{- range concat (dig "vault" "secrets" list $c) (dig "aws_secrets_manager" "secrets" list $c) }}
{{- $fetched = append $fetched .env }}
{{- end }}
{{- $elsewhere := or (dig "session" "secret" "" $c) (dig "session" "secret_file" "" $c) (get .Values.env "SESSION_SECRET") (get .Values.env "SESSION_SECRET_FILE") (has "SESSION_SECRET" $fetched) }}
{{- if $s.existingSecret }}
{{- $existing := lookup "v1" "Secret" .Release.Namespace $s.existingSecret }}
{{- if and .required (not $elsewhere) $existing (not (hasKey ($existing.data | default dict) $key)) }}
{{- $problems = append $problems (printf "secrets.existingSecret: the Secret %s in %s has no key %s (secrets.keys.sessionSecret): add 32+ random characters under it" $s.existingSecret .Release.Namespace $key) }}
{{- end }}
{{- else if $s.sessionSecret }}
{{- range splitList "," $s.sessionSecret }}
{{- if lt (len (trim .)) 32 }}
{{- $problems = append $problems (printf "secrets.sessionSecret: each secret needs at least 32 characters (one has %d); e.g. openssl rand -hex 32" (len (trim .))) }}
{{- end }}
{{- end }}
{{- else if and .required (not $elsewhere) }}
{{- $problems = append $problems (printf "secrets.sessionSecret: required with environment production or session.store redis, 32+ random characters (e.g. openssl rand -hex 32), or secrets.existingSecret naming a Secret with the key %s" $key) }}
{{- end }}
{{- toYaml $problems }}
{{- end }}
