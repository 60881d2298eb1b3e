{{/* Names, labels and the checks every template shares. */}}

{{- define "tarot.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "tarot.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else if contains (include "tarot.name" .) .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name (include "tarot.name" .) | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{/* Common labels; call with (dict "ctx" $ "component" "gateway"). */}}
{{- define "tarot.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .ctx.Chart.Name .ctx.Chart.Version | replace "+" "_" }}
app.kubernetes.io/managed-by: {{ .ctx.Release.Service }}
app.kubernetes.io/part-of: tarot-monitoring
app.kubernetes.io/version: {{ .ctx.Chart.AppVersion | quote }}
{{ include "tarot.selectorLabels" . }}
{{- end -}}

{{- define "tarot.selectorLabels" -}}
app.kubernetes.io/name: {{ include "tarot.name" .ctx }}
app.kubernetes.io/instance: {{ .ctx.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{/* A required Secret name: fails `helm template` naming the value and what the Secret holds. */}}
{{- define "tarot.requiredSecret" -}}
{{- $value := index . 0 -}}{{- $path := index . 1 -}}{{- $holds := index . 2 -}}
{{- required (printf "%s is required: the name of an existing Secret holding %s (secrets are never chart values)" $path $holds) $value -}}
{{- end -}}

{{/* One collector config file from files/, or a failure naming the missing file. */}}
{{- define "tarot.collectorFile" -}}
{{- $content := .ctx.Files.Get (printf "files/%s" .file) -}}
{{- if not $content -}}
{{- fail (printf "collector config file %s is missing or empty in the chart (files/collector is a symlink to otel-collector/config; files/*.yaml are the chart's own)" .file) -}}
{{- end -}}
{{- $content -}}
{{- end -}}

{{/* The ConfigMap key of a config file: collector/base.yaml -> base.yaml. */}}
{{- define "tarot.configKey" -}}
{{- base . -}}
{{- end -}}

{{/* --config flags for a list of config files mounted at /etc/otelcol-tarot/config. */}}
{{- define "tarot.collectorArgs" -}}
{{- range . }}
- --config=/etc/otelcol-tarot/config/{{ base . }}
{{- end }}
{{- end -}}

{{/* Env every collector shares: the secrets' file paths and the environment's name. */}}
{{- define "tarot.collectorEnv" -}}
- name: TAROT_ENVIRONMENT
  value: {{ .Values.environment | quote }}
- name: TAROT_COLLECTOR_LOG_LEVEL
  value: {{ .Values.collector.logLevel | quote }}
- name: TAROT_COLLECTOR_STORAGE_DIR
  value: /var/lib/otelcol-tarot
- name: TAROT_COLLECTOR_HEALTH_ADDR
  value: 0.0.0.0:13133
- name: TAROT_COLLECTOR_OTLP_GRPC_ADDR
  value: 0.0.0.0:4317
- name: TAROT_COLLECTOR_OTLP_HTTP_ADDR
  value: 0.0.0.0:4318
- name: TAROT_COLLECTOR_TOKEN_FILE
  value: /etc/otelcol-tarot/ingest/{{ .Values.collector.ingestToken.key }}
- name: TAROT_COLLECTOR_TLS_CERT_FILE
  value: /etc/otelcol-tarot/tls/tls.crt
- name: TAROT_COLLECTOR_TLS_KEY_FILE
  value: /etc/otelcol-tarot/tls/tls.key
- name: TAROT_BACKEND_CA_FILE
  value: /etc/otelcol-tarot/tls/ca.crt
- name: TAROT_PROMETHEUS_REMOTE_WRITE_URL
  value: {{ .Values.backends.prometheusRemoteWriteUrl | quote }}
- name: TAROT_TEMPO_OTLP_ENDPOINT
  value: {{ .Values.backends.tempoOtlpEndpoint | quote }}
- name: TAROT_LOKI_OTLP_ENDPOINT
  value: {{ .Values.backends.lokiOtlpEndpoint | quote }}
- name: K8S_NODE_NAME
  valueFrom:
    fieldRef:
      fieldPath: spec.nodeName
- name: K8S_POD_NAME
  valueFrom:
    fieldRef:
      fieldPath: metadata.name
{{- end -}}

{{/* Volumes every collector shares: its config, TLS and ingest tokens from Secrets. */}}
{{- define "tarot.collectorVolumes" -}}
- name: config
  configMap:
    name: {{ include "tarot.fullname" . }}-collector
- name: tls
  secret:
    secretName: {{ include "tarot.requiredSecret" (list .Values.collector.tls.existingSecret "collector.tls.existingSecret" "tls.crt, tls.key and ca.crt for the OTLP listeners") }}
    defaultMode: 0440
- name: ingest-token
  secret:
    secretName: {{ include "tarot.requiredSecret" (list .Values.collector.ingestToken.existingSecret "collector.ingestToken.existingSecret" (printf "the OTLP bearer tokens under the key %q" .Values.collector.ingestToken.key)) }}
    defaultMode: 0440
{{- end -}}

{{- define "tarot.collectorVolumeMounts" -}}
- name: config
  mountPath: /etc/otelcol-tarot/config
  readOnly: true
- name: tls
  mountPath: /etc/otelcol-tarot/tls
  readOnly: true
- name: ingest-token
  mountPath: /etc/otelcol-tarot/ingest
  readOnly: true
- name: storage
  mountPath: /var/lib/otelcol-tarot
{{- end -}}

{{/* The collector's health_check extension as liveness and readiness probes. */}}
{{- define "tarot.collectorProbes" -}}
livenessProbe:
  httpGet:
    path: /
    port: health
  periodSeconds: 10
  failureThreshold: 3
readinessProbe:
  httpGet:
    path: /
    port: health
  periodSeconds: 5
  failureThreshold: 2
{{- end -}}

{{- define "tarot.restrictedSecurityContext" -}}
allowPrivilegeEscalation: false
readOnlyRootFilesystem: true
capabilities:
  drop: [ALL]
seccompProfile:
  type: RuntimeDefault
{{- end -}}
