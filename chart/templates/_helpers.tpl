{{/*
Names, labels and small derived values shared by the agent and aggregator templates.
*/}}

{{/* Chart name, or nameOverride. */}}
{{- define "k8s-logs.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
Prefix of every resource name: fullnameOverride, else "<release>-<name>" (just the release
name when it already contains the chart name). Kept to 52 characters so the longest suffix
("-aggregator") still fits the 63-character limit of names and labels.
*/}}
{{- define "k8s-logs.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 52 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 52 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 52 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{- define "k8s-logs.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Labels on every resource. */}}
{{- define "k8s-logs.labels" -}}
helm.sh/chart: {{ include "k8s-logs.chart" . }}
app.kubernetes.io/name: {{ include "k8s-logs.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}

{{/* Selector labels of one component; call with (dict "ctx" $ "component" "agent"). */}}
{{- define "k8s-logs.selectorLabels" -}}
app.kubernetes.io/name: {{ include "k8s-logs.name" .ctx }}
app.kubernetes.io/instance: {{ .ctx.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end }}

{{/* All labels of one component's resources; same arguments as selectorLabels. */}}
{{- define "k8s-logs.componentLabels" -}}
{{ include "k8s-logs.labels" .ctx }}
app.kubernetes.io/component: {{ .component }}
{{- end }}

{{/* Image reference: repository@digest, else repository:tag (tag defaults to appVersion). */}}
{{- define "k8s-logs.image" -}}
{{- if .Values.image.digest }}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest }}
{{- else }}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) }}
{{- end }}
{{- end }}

{{- define "k8s-logs.aggregator.fullname" -}}
{{- printf "%s-aggregator" (include "k8s-logs.fullname" .) }}
{{- end }}

{{- define "k8s-logs.agent.fullname" -}}
{{- printf "%s-agent" (include "k8s-logs.fullname" .) }}
{{- end }}

{{/* The ServiceAccount (and its ClusterRole) an aggregator reads this cluster's API with. */}}
{{- define "k8s-logs.apiReader.fullname" -}}
{{- printf "%s-api-reader" (include "k8s-logs.fullname" .) }}
{{- end }}

{{/* The agent's ServiceAccount. */}}
{{- define "k8s-logs.agent.serviceAccountName" -}}
{{- if .Values.agent.serviceAccount.create }}
{{- default (include "k8s-logs.agent.fullname" .) .Values.agent.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.agent.serviceAccount.name }}
{{- end }}
{{- end }}

{{/* Where agents send: agent.aggregatorUrl, else this release's aggregator Service. */}}
{{- define "k8s-logs.agent.aggregatorUrl" -}}
{{- if .Values.agent.aggregatorUrl }}
{{- .Values.agent.aggregatorUrl }}
{{- else }}
{{- printf "http://%s.%s.svc:%v" (include "k8s-logs.aggregator.fullname" .) .Release.Namespace .Values.aggregator.service.port }}
{{- end }}
{{- end }}

{{/* Secret holding the bootstrap admin token, and its key. */}}
{{- define "k8s-logs.adminToken.secretName" -}}
{{- default (printf "%s-admin-token" (include "k8s-logs.fullname" .)) .Values.aggregator.adminToken.existingSecret }}
{{- end }}
{{- define "k8s-logs.adminToken.secretKey" -}}
{{- if .Values.aggregator.adminToken.existingSecret }}{{ .Values.aggregator.adminToken.existingSecretKey }}{{ else }}token{{ end }}
{{- end }}

{{/* Secret holding the agents' ingest token, and its key. */}}
{{- define "k8s-logs.ingestToken.secretName" -}}
{{- default (printf "%s-agent-token" (include "k8s-logs.fullname" .)) .Values.agent.ingestToken.existingSecret }}
{{- end }}
{{- define "k8s-logs.ingestToken.secretKey" -}}
{{- if .Values.agent.ingestToken.existingSecret }}{{ .Values.agent.ingestToken.existingSecretKey }}{{ else }}token{{ end }}
{{- end }}

{{/* Secret holding the OpenSearch basic-auth credentials; empty when there is no basic auth. */}}
{{- define "k8s-logs.opensearchAuth.secretName" -}}
{{- if .Values.opensearch.auth.existingSecret }}
{{- .Values.opensearch.auth.existingSecret }}
{{- else if .Values.opensearch.auth.username }}
{{- printf "%s-opensearch" (include "k8s-logs.fullname" .) }}
{{- end }}
{{- end }}

{{/*
A Kubernetes quantity in bytes, as a float (for comparisons): "256Mi", "1G", "1.5Gi", 1048576.
*/}}
{{- define "k8s-logs.quantityBytes" -}}
{{- $q := toString . }}
{{- $units := dict "" 1 "k" 1000 "K" 1000 "M" 1000000 "G" 1000000000 "T" 1000000000000 "Ki" 1024 "Mi" 1048576 "Gi" 1073741824 "Ti" 1099511627776 }}
{{- $m := regexFind "[A-Za-z]+$" $q }}
{{- if not (hasKey $units $m) }}
{{- fail (printf "cannot read memory quantity %q (use a number with Ki, Mi, Gi, K, M or G)" $q) }}
{{- end }}
{{- mulf (float64 (trimSuffix $m $q)) (index $units $m) }}
{{- end }}

{{/*
Fails the render when the agent's memory limit cannot hold its queue: the queue
(agent.maxQueueBytes of log data awaiting acknowledgement) is held as buffers plus the
records built from them, so up to about twice its size, on top of ~96 MiB for the Node.js
runtime, the Kubernetes watch and in-flight requests.
*/}}
{{- define "k8s-logs.agent.checkMemory" -}}
{{- $limit := dig "limits" "memory" "" (.Values.agent.resources | default dict) }}
{{- if $limit }}
{{- $need := addf (mulf 2 (float64 .Values.agent.maxQueueBytes)) 100663296 }}
{{- $have := include "k8s-logs.quantityBytes" $limit | float64 }}
{{- if lt $have $need }}
{{- fail (printf "agent.resources.limits.memory (%v) is below 2 × agent.maxQueueBytes + 96Mi = %.0f bytes (%.0fMi): raise the limit or lower maxQueueBytes" $limit $need (divf $need 1048576)) }}
{{- end }}
{{- end }}
{{- end }}

{{- /*
The chart holds the agents' ingest token itself (no existingSecret): from agent.ingestToken.value,
or generated when the agents send to this release's aggregator, which then registers it
(K8S_LOGS_BOOTSTRAP_INGEST_TOKEN) — so an install wires its agents with no manual step.
*/}}
{{- define "k8s-logs.ingestToken.chartOwned" -}}
{{- if and .Values.agent.enabled (not .Values.agent.ingestToken.existingSecret) (or .Values.agent.ingestToken.value (not .Values.agent.aggregatorUrl)) }}true{{ end }}
{{- end }}

{{- define "k8s-logs.ingestToken.registeredHere" -}}
{{- if and .Values.agent.enabled (not .Values.agent.ingestToken.existingSecret) (not .Values.agent.aggregatorUrl) }}true{{ end }}
{{- end }}
