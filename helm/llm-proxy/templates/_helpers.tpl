{{/*
Chart name, truncated to 63 characters (the DNS label limit).
*/}}
{{- define "llm-proxy.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
Full name: <release>-<chart> unless the release name already holds the chart name.
*/}}
{{- define "llm-proxy.fullname" -}}
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

{{/*
Names of the components' resources.
*/}}
{{- define "llm-proxy.controlplane.fullname" -}}
{{- printf "%s-controlplane" (include "llm-proxy.fullname" .) | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "llm-proxy.dataplane.fullname" -}}
{{- printf "%s-dataplane" (include "llm-proxy.fullname" .) | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "llm-proxy.postgresql.fullname" -}}
{{- printf "%s-postgresql" (include "llm-proxy.fullname" .) | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
Chart label value: name-version.
*/}}
{{- define "llm-proxy.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
Common labels.
*/}}
{{- define "llm-proxy.labels" -}}
helm.sh/chart: {{ include "llm-proxy.chart" . }}
{{ include "llm-proxy.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: llm-proxy
{{- end }}

{{/*
Selector labels (stable across upgrades: never add a changing value here).
*/}}
{{- define "llm-proxy.selectorLabels" -}}
app.kubernetes.io/name: {{ include "llm-proxy.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{/*
Labels and selector labels of one component: call with (dict "root" $ "component" "controlplane").
*/}}
{{- define "llm-proxy.componentLabels" -}}
{{ include "llm-proxy.labels" .root }}
app.kubernetes.io/component: {{ .component }}
{{- end }}

{{- define "llm-proxy.componentSelectorLabels" -}}
{{ include "llm-proxy.selectorLabels" .root }}
app.kubernetes.io/component: {{ .component }}
{{- end }}

{{/*
ServiceAccount name.
*/}}
{{- define "llm-proxy.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "llm-proxy.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/*
Name of the Secret holding the tokens, the encryption key and the database URL.
*/}}
{{- define "llm-proxy.secretName" -}}
{{- if .Values.secrets.existingSecret }}
{{- .Values.secrets.existingSecret }}
{{- else }}
{{- include "llm-proxy.fullname" . }}
{{- end }}
{{- end }}

{{/*
Image reference of a component: call with (dict "root" $ "image" .Values.controlplane.image).
*/}}
{{- define "llm-proxy.image" -}}
{{- printf "%s:%s" .image.repository (default .root.Chart.AppVersion .image.tag) }}
{{- end }}

{{/*
A value of the chart's own Secret as it is in the cluster (so generated secrets
survive upgrades), or "" when the Secret does not exist yet (or under
`helm template`). Call with (dict "root" $ "key" "admin-token").
*/}}
{{- define "llm-proxy.existingSecretValue" -}}
{{- $secret := lookup "v1" "Secret" .root.Release.Namespace (include "llm-proxy.fullname" .root) }}
{{- if and $secret $secret.data }}
{{- $value := get $secret.data .key }}
{{- if $value }}
{{- $value | b64dec }}
{{- end }}
{{- end }}
{{- end }}

{{/*
Password of the bundled PostgreSQL: the value, else the one in the cluster, else a new one.
*/}}
{{- define "llm-proxy.postgresql.password" -}}
{{- $existing := include "llm-proxy.existingSecretValue" (dict "root" . "key" "postgresql-password") }}
{{- .Values.postgresql.auth.password | default $existing | default (randAlphaNum 32) }}
{{- end }}

{{/*
Fails rendering when the control plane would have no database.
*/}}
{{- define "llm-proxy.validateValues" -}}
{{- if and (not .Values.secrets.existingSecret) (not .Values.secrets.databaseUrl) (not .Values.postgresql.enabled) }}
{{- fail "llm-proxy: no database. Set secrets.databaseUrl (postgresql://...), or secrets.existingSecret (a Secret with database-url), or postgresql.enabled=true (evaluation only)." }}
{{- end }}
{{- end }}

{{/*
Restricted securityContext blocks.
*/}}
{{- define "llm-proxy.podSecurityContext" -}}
{{- toYaml .Values.podSecurityContext }}
{{- end }}

{{- define "llm-proxy.containerSecurityContext" -}}
{{- toYaml .Values.securityContext }}
{{- end }}

{{/*
Default affinity: prefer spreading a component's Pods across nodes.
Call with (dict "root" $ "component" "dataplane" "affinity" .Values.dataplane.affinity).
*/}}
{{- define "llm-proxy.affinity" -}}
{{- if .affinity }}
{{- toYaml .affinity }}
{{- else }}
podAntiAffinity:
  preferredDuringSchedulingIgnoredDuringExecution:
    - weight: 100
      podAffinityTerm:
        topologyKey: kubernetes.io/hostname
        labelSelector:
          matchLabels:
            {{- include "llm-proxy.componentSelectorLabels" (dict "root" .root "component" .component) | nindent 12 }}
{{- end }}
{{- end }}
