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
