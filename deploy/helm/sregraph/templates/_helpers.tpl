{{/* The chart's name, or nameOverride. */}}
{{- define "sregraph.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* The release's objects are named after it, unless it already says sregraph. */}}
{{- define "sregraph.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{- define "sregraph.selectorLabels" -}}
app.kubernetes.io/name: {{ include "sregraph.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "sregraph.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{ include "sregraph.selectorLabels" . }}
app.kubernetes.io/version: {{ .Values.image.tag | default .Chart.AppVersion | trunc 63 | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: sregraph
{{- end }}

{{- define "sregraph.image" -}}
{{- if .Values.image.digest }}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest }}
{{- else }}
{{- printf "%s:%s" .Values.image.repository (.Values.image.tag | default .Chart.AppVersion) }}
{{- end }}
{{- end }}

{{- define "sregraph.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "sregraph.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{- define "sregraph.secretName" -}}
{{- .Values.secrets.existingSecret | default (include "sregraph.fullname" .) }}
{{- end }}

{{/* The tokens file the chart writes: secrets.tokens, and Prometheus's token. */}}
{{- define "sregraph.tokensFile" -}}
{{- $tokens := .Values.secrets.tokens | default list }}
{{- if .Values.serviceMonitor.token }}
{{- $tokens = append $tokens (dict "name" "prometheus" "token" .Values.serviceMonitor.token "scopes" (list "read")) }}
{{- end }}
{{- toYaml $tokens }}
{{- end }}

{{/* The keys of the Secret (the chart's or the existing one), as a JSON list. */}}
{{- define "sregraph.secretKeys" -}}
{{- $keys := list }}
{{- if .Values.secrets.existingSecret }}
{{- $keys = .Values.secrets.existingSecretKeys | default list }}
{{- else }}
{{- if or .Values.secrets.tokens .Values.serviceMonitor.token }}{{ $keys = append $keys "tokens.yaml" }}{{ end }}
{{- if .Values.serviceMonitor.token }}{{ $keys = append $keys "metrics-token" }}{{ end }}
{{- if .Values.secrets.webhookToken }}{{ $keys = append $keys "webhook-token" }}{{ end }}
{{- range $source := list "github" "jira" "pagerduty" "flux" }}
{{- if index $.Values.secrets $source }}{{ $keys = append $keys (printf "%s-secret" $source) }}{{ end }}
{{- end }}
{{- if .Values.secrets.neo4jPassword }}{{ $keys = append $keys "neo4j-password" }}{{ end }}
{{- end }}
{{- toJson $keys }}
{{- end }}

{{/*
sregraph.yaml: the keys are the flag names of `sregraph serve`. The chart
sets the store, Kafka, the files it mounts and the public URL from the
values; .Values.config adds or overrides the rest.
*/}}
{{- define "sregraph.config" -}}
{{- $keys := include "sregraph.secretKeys" . | fromJsonArray }}
{{- $c := dict }}
{{- if .Values.neo4j.uri }}
{{- $_ := set $c "store" .Values.neo4j.uri }}
{{- $_ := set $c "neo4j-user" .Values.neo4j.user }}
{{- $_ := set $c "neo4j-database" .Values.neo4j.database }}
{{- else }}
{{- $_ := set $c "store" "embedded" }}
{{- end }}
{{- if .Values.kafka.brokers }}
{{- $_ := set $c "kafka-brokers" (join "," .Values.kafka.brokers) }}
{{- $_ := set $c "kafka-group" .Values.kafka.group }}
{{- range $family, $topic := .Values.kafka.topics }}
{{- if not (has $family (list "deploys" "scale" "tickets" "slo" "spans")) }}
{{- fail (printf "kafka.topics.%s: no such family (deploys, scale, tickets, slo, spans)" $family) }}
{{- end }}
{{- $_ := set $c (printf "kafka-topic-%s" $family) $topic }}
{{- end }}
{{- end }}
{{- if has "tokens.yaml" $keys }}
{{- $_ := set $c "tokens" "/etc/sregraph/secret/tokens.yaml" }}
{{- end }}
{{- if has "webhook-token" $keys }}
{{- $_ := set $c "webhook-token-file" "/etc/sregraph/secret/webhook-token" }}
{{- end }}
{{- range $source := list "github" "jira" "pagerduty" "flux" }}
{{- if has (printf "%s-secret" $source) $keys }}
{{- $_ := set $c (printf "%s-secret-file" $source) (printf "/etc/sregraph/secret/%s-secret" $source) }}
{{- end }}
{{- end }}
{{- if .Values.aliases }}
{{- $_ := set $c "aliases" "/etc/sregraph/aliases.yaml" }}
{{- end }}
{{- if .Values.publicURL }}
{{- $_ := set $c "public-url" .Values.publicURL }}
{{- end }}
{{- if .Values.insecureListen }}
{{- $_ := set $c "insecure-listen" true }}
{{- end }}
{{- range $k := list "http" "data-dir" }}
{{- if hasKey $.Values.config $k }}
{{- fail (printf "config.%s: the chart sets it (the container port, the volume); leave it out" $k) }}
{{- end }}
{{- end }}
{{- toYaml (mustMergeOverwrite $c (deepCopy (.Values.config | default dict))) }}
{{- end }}

{{/* Refuse value combinations that would not run. */}}
{{- define "sregraph.validate" -}}
{{- $keys := include "sregraph.secretKeys" . | fromJsonArray }}
{{- if and (not .Values.insecureListen) (not (has "tokens.yaml" $keys)) }}
{{- fail "sregraph listens on the pod's network: give API tokens (secrets.tokens, or secrets.existingSecret with tokens.yaml in secrets.existingSecretKeys), or set insecureListen=true to let anyone who reaches the Service read and write" }}
{{- end }}
{{- if and (gt (int .Values.replicaCount) 1) (not .Values.neo4j.uri) }}
{{- fail "replicaCount > 1 needs the Neo4j store (neo4j.uri): the embedded store belongs to one process" }}
{{- end }}
{{- if and .Values.serviceMonitor.enabled (not .Values.insecureListen) (not (has "metrics-token" $keys)) }}
{{- fail "serviceMonitor.enabled: /metrics needs a token with the read scope; set serviceMonitor.token (or metrics-token in the existing Secret)" }}
{{- end }}
{{- end }}
