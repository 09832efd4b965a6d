{{/* Names and labels shared by every template. */}}

{{- define "autopack.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "autopack.labels" -}}
app.kubernetes.io/name: {{ .Chart.Name }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- end -}}

{{- define "autopack.operatorSelector" -}}
app.kubernetes.io/name: {{ .Chart.Name }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: operator
{{- end -}}

{{- define "autopack.runnerNamespaces" -}}
{{- $namespaces := list .Release.Namespace -}}
{{- range .Values.runner.namespaces -}}
{{- if not (has . $namespaces) -}}{{- $namespaces = append $namespaces . -}}{{- end -}}
{{- end -}}
{{- join "," $namespaces -}}
{{- end -}}

{{- define "autopack.restrictedContainer" -}}
allowPrivilegeEscalation: false
readOnlyRootFilesystem: true
runAsNonRoot: true
runAsUser: 10001
runAsGroup: 10001
capabilities:
  drop: ["ALL"]
seccompProfile:
  type: RuntimeDefault
{{- end -}}

{{/* The Secret holding the history database URL (devPostgres wins), or nothing. */}}
{{- define "autopack.databaseSecret" -}}
{{- if .Values.devPostgres.enabled -}}
{{- printf "%s-dev-postgres" (include "autopack.fullname" .) -}}
{{- else -}}
{{- .Values.secrets.database.existingSecret -}}
{{- end -}}
{{- end -}}

{{/* The key of the URL in that Secret. */}}
{{- define "autopack.databaseSecretKey" -}}
{{- ternary "url" .Values.secrets.database.key .Values.devPostgres.enabled -}}
{{- end -}}

{{/* The Qdrant server runners use (memory.qdrant.url wins over devQdrant), or nothing. */}}
{{- define "autopack.qdrantUrl" -}}
{{- if .Values.memory.qdrant.url -}}
{{- .Values.memory.qdrant.url -}}
{{- else if .Values.devQdrant.enabled -}}
{{- printf "http://%s-dev-qdrant.%s.svc:6333" (include "autopack.fullname" .) .Release.Namespace -}}
{{- end -}}
{{- end -}}

{{/* Secrets every runner pod reads in its run's namespace, comma-separated (maybe empty). */}}
{{- define "autopack.runnerSecrets" -}}
{{- $secrets := list -}}
{{- with include "autopack.databaseSecret" . -}}{{- $secrets = append $secrets . -}}{{- end -}}
{{- if and (include "autopack.qdrantUrl" .) .Values.memory.qdrant.apiKeySecret -}}
{{- if not (has .Values.memory.qdrant.apiKeySecret $secrets) -}}
{{- $secrets = append $secrets .Values.memory.qdrant.apiKeySecret -}}
{{- end -}}
{{- end -}}
{{- join "," $secrets -}}
{{- end -}}
