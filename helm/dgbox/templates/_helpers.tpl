{{/*
Names, labels and the pod/container pieces shared by web, worker, beat and the migrate Job.
Helpers that take a component are called with
  (dict "component" "web" "values" .Values.web "context" $)
*/}}

{{- define "dgbox.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "dgbox.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- $name := default .Chart.Name .Values.nameOverride -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{/* Name of a component's resources: <fullname>-<component>, within 63 characters. */}}
{{- define "dgbox.componentName" -}}
{{- printf "%s-%s" (include "dgbox.fullname" .context | trunc 50 | trimSuffix "-") .component -}}
{{- end -}}

{{- define "dgbox.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* Labels on every resource; pass (dict "component" "" "context" $) for release-wide ones. */}}
{{- define "dgbox.labels" -}}
helm.sh/chart: {{ include "dgbox.chart" .context }}
{{ include "dgbox.selectorLabels" . }}
app.kubernetes.io/version: {{ .context.Values.image.tag | default .context.Chart.AppVersion | trunc 63 | quote }}
app.kubernetes.io/managed-by: {{ .context.Release.Service }}
app.kubernetes.io/part-of: dgbox
{{- with .context.Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end -}}

{{- define "dgbox.selectorLabels" -}}
app.kubernetes.io/name: {{ include "dgbox.name" .context }}
app.kubernetes.io/instance: {{ .context.Release.Name }}
{{- if .component }}
app.kubernetes.io/component: {{ .component }}
{{- end }}
{{- end -}}

{{/* metadata.annotations block (commonAnnotations plus extra); empty when there are none. */}}
{{- define "dgbox.annotations" -}}
{{- $annotations := merge (deepCopy (.extra | default dict)) (.context.Values.commonAnnotations | default dict) -}}
{{- if $annotations -}}
annotations:
  {{- toYaml $annotations | nindent 2 }}
{{- end }}
{{- end -}}

{{- define "dgbox.image" -}}
{{- $registry := .Values.global.imageRegistry | default .Values.image.registry -}}
{{- $repository := .Values.image.repository -}}
{{- if $registry -}}
{{- $repository = printf "%s/%s" $registry $repository -}}
{{- end -}}
{{- if .Values.image.digest -}}
{{- printf "%s@%s" $repository .Values.image.digest -}}
{{- else -}}
{{- printf "%s:%s" $repository (.Values.image.tag | default .Chart.AppVersion) -}}
{{- end -}}
{{- end -}}

{{- define "dgbox.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "dgbox.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{- define "dgbox.configMapName" -}}
{{- printf "%s-config" (include "dgbox.fullname" . | trunc 56 | trimSuffix "-") -}}
{{- end -}}

{{/* The Secret the pods read: the existing one, or the one this chart renders. */}}
{{- define "dgbox.secretName" -}}
{{- if .Values.secrets.existingSecret -}}
{{- .Values.secrets.existingSecret -}}
{{- else -}}
{{- include "dgbox.fullname" . -}}
{{- end -}}
{{- end -}}

{{/* Name of the hook-scoped copies (ConfigMap, Secret, ServiceAccount) of the migrate Job. */}}
{{- define "dgbox.migrateHookName" -}}
{{- printf "%s-migrate" (include "dgbox.fullname" . | trunc 55 | trimSuffix "-") -}}
{{- end -}}

{{/* Non-secret environment, shared by the release ConfigMap and the migrate hook copy. */}}
{{- define "dgbox.configData" -}}
DJANGO_SETTINGS_MODULE: {{ .Values.config.settingsModule | quote }}
DGBOX_BASE_DOMAIN: {{ .Values.config.baseDomain | quote }}
{{- with .Values.config.allowedHosts }}
DGBOX_ALLOWED_HOSTS: {{ join "," . | quote }}
{{- end }}
DGBOX_DB_POOLER: {{ .Values.config.dbPooler | quote }}
DGBOX_STATE_DIR: {{ .Values.config.stateDir | quote }}
DGBOX_TRUSTED_PROXIES: {{ .Values.config.trustedProxies | quote }}
DGBOX_S3_ENDPOINT_URL: {{ .Values.config.s3.endpointUrl | quote }}
DGBOX_S3_BUCKET: {{ .Values.config.s3.bucket | quote }}
DGBOX_S3_REGION: {{ .Values.config.s3.region | quote }}
DGBOX_PUBLIC_MEDIA: {{ .Values.config.publicMedia | quote }}
DGBOX_BROKER_VISIBILITY_TIMEOUT: {{ .Values.config.brokerVisibilityTimeout | quote }}
DGBOX_LOG_FORMAT: {{ .Values.observability.logFormat | quote }}
DGBOX_SENTRY_ENVIRONMENT: {{ .Values.observability.sentryEnvironment | quote }}
DGBOX_METRICS_FLEET_SECONDS: {{ .Values.observability.metrics.fleetSeconds | quote }}
PYTHONUNBUFFERED: "1"
PYTHONDONTWRITEBYTECODE: "1"
{{- range $name, $value := .Values.config.extraEnv }}
{{ $name }}: {{ $value | toString | quote }}
{{- end }}
{{- end -}}

{{/*
The Django secret key: the value given, else the one already stored in the release Secret
(so upgrades keep sessions valid), else a new random one. `helm template` cannot look the
stored one up: GitOps users set secrets.secretKey or secrets.existingSecret.
*/}}
{{- define "dgbox.secretKey" -}}
{{- if .Values.secrets.secretKey -}}
{{- .Values.secrets.secretKey -}}
{{- else -}}
{{- $stored := "" -}}
{{- $existing := lookup "v1" "Secret" .Release.Namespace (include "dgbox.fullname" .) -}}
{{- if $existing -}}
{{- if $existing.data -}}
{{- $stored = index $existing.data "DGBOX_SECRET_KEY" | default "" | b64dec -}}
{{- end -}}
{{- end -}}
{{- $stored | default (randAlphaNum 64) -}}
{{- end -}}
{{- end -}}

{{/* Secret data (base64) of the chart-managed Secret; empty optional values are left out. */}}
{{- define "dgbox.secretData" -}}
DGBOX_SECRET_KEY: {{ include "dgbox.secretKey" . | b64enc | quote }}
{{- $values := dict
    "DATABASE_URL" .Values.secrets.databaseUrl
    "REDIS_URL" .Values.secrets.redisUrl
    "DGBOX_BROKER_URL" .Values.secrets.brokerUrl
    "EMAIL_URL" .Values.secrets.emailUrl
    "AWS_ACCESS_KEY_ID" .Values.secrets.awsAccessKeyId
    "AWS_SECRET_ACCESS_KEY" .Values.secrets.awsSecretAccessKey
    "DGBOX_SENTRY_DSN" .Values.secrets.sentryDsn
    "DGBOX_METRICS_TOKEN" .Values.secrets.metricsToken }}
{{- range $key, $value := $values }}
{{- if $value }}
{{ $key }}: {{ $value | b64enc | quote }}
{{- end }}
{{- end }}
{{- end -}}

{{/*
Missing required settings, one per line; NOTES.txt prints them. Required keys are referenced
non-optionally, so a pod without them stays in CreateContainerConfigError naming the key.
*/}}
{{- define "dgbox.missingSettings" -}}
{{- if not .Values.secrets.existingSecret -}}
{{- if not .Values.secrets.databaseUrl }}
- secrets.databaseUrl (DATABASE_URL) is empty: set it or secrets.existingSecret.
{{- end }}
{{- if not .Values.secrets.redisUrl }}
- secrets.redisUrl (REDIS_URL) is empty: set it or secrets.existingSecret.
{{- end }}
{{- if not .Values.secrets.secretKey }}
- secrets.secretKey is empty: a random key was generated and is kept across upgrades.
{{- end }}
{{- end -}}
{{- end -}}

{{/* Environment of every dgbox container: ConfigMap, then Secret keys, the metrics port's
variables for the components that serve it (`metrics: true`), then extra vars. */}}
{{- define "dgbox.env" -}}
{{- $root := .context -}}
envFrom:
  - configMapRef:
      name: {{ .configMapName | default (include "dgbox.configMapName" $root) }}
env:
  {{- $secretName := .secretName | default (include "dgbox.secretName" $root) }}
  {{- range $key := list "DGBOX_SECRET_KEY" "DATABASE_URL" "REDIS_URL" }}
  - name: {{ $key }}
    valueFrom:
      secretKeyRef:
        name: {{ $secretName }}
        key: {{ $key }}
  {{- end }}
  {{- range $key := list "DGBOX_BROKER_URL" "EMAIL_URL" "AWS_ACCESS_KEY_ID" "AWS_SECRET_ACCESS_KEY" "DGBOX_SENTRY_DSN" "DGBOX_METRICS_TOKEN" }}
  - name: {{ $key }}
    valueFrom:
      secretKeyRef:
        name: {{ $secretName }}
        key: {{ $key }}
        optional: true
  {{- end }}
  {{- /* The processes that serve the internal metrics port (web, worker): docs/observability.md */}}
  {{- if and .metrics $root.Values.observability.metrics.enabled }}
  - name: PROMETHEUS_MULTIPROC_DIR
    value: {{ $root.Values.observability.metrics.multiprocDir | quote }}
  - name: DGBOX_METRICS_PORT
    value: {{ $root.Values.observability.metrics.port | quote }}
  {{- end }}
  {{- with .values.extraEnvVars }}
  {{- toYaml . | nindent 2 }}
  {{- end }}
{{- end -}}

{{/* Pod template annotations: config checksums roll the pods when configuration changes. */}}
{{- define "dgbox.podAnnotations" -}}
{{- $root := .context -}}
checksum/config: {{ include "dgbox.configData" $root | sha256sum }}
{{- if not $root.Values.secrets.existingSecret }}
checksum/secret: {{ include (print $root.Template.BasePath "/secret.yaml") $root | sha256sum }}
{{- end }}
{{- with .values.podAnnotations }}
{{ toYaml . }}
{{- end }}
{{- end -}}

{{- define "dgbox.affinity" -}}
{{- if .values.affinity -}}
{{- toYaml .values.affinity -}}
{{- else if eq (.values.podAntiAffinityPreset | default "") "soft" -}}
podAntiAffinity:
  preferredDuringSchedulingIgnoredDuringExecution:
    - weight: 1
      podAffinityTerm:
        topologyKey: kubernetes.io/hostname
        labelSelector:
          matchLabels:
            {{- include "dgbox.selectorLabels" . | nindent 12 }}
{{- else if eq (.values.podAntiAffinityPreset | default "") "hard" -}}
podAntiAffinity:
  requiredDuringSchedulingIgnoredDuringExecution:
    - topologyKey: kubernetes.io/hostname
      labelSelector:
        matchLabels:
          {{- include "dgbox.selectorLabels" . | nindent 10 }}
{{- end -}}
{{- end -}}

{{/* Pod spec fields shared by every component (everything but the containers). */}}
{{- define "dgbox.podSpec" -}}
{{- $root := .context -}}
serviceAccountName: {{ .serviceAccountName | default (include "dgbox.serviceAccountName" $root) }}
automountServiceAccountToken: {{ $root.Values.serviceAccount.automountServiceAccountToken }}
{{- $pullSecrets := concat ($root.Values.global.imagePullSecrets | default list) ($root.Values.image.pullSecrets | default list) | uniq }}
{{- if $pullSecrets }}
imagePullSecrets:
  {{- range $pullSecrets }}
  - name: {{ . }}
  {{- end }}
{{- end }}
securityContext:
  {{- toYaml $root.Values.podSecurityContext | nindent 2 }}
{{- with .values.priorityClassName }}
priorityClassName: {{ . }}
{{- end }}
{{- with .values.nodeSelector }}
nodeSelector:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .values.tolerations }}
tolerations:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with (include "dgbox.affinity" .) }}
affinity:
  {{- . | nindent 2 }}
{{- end }}
{{- with .values.topologySpreadConstraints }}
topologySpreadConstraints:
  {{- toYaml . | nindent 2 }}
{{- end }}
volumes:
  - name: tmp
    emptyDir:
      sizeLimit: {{ $root.Values.tmpVolume.sizeLimit }}
  - name: state
    emptyDir:
      sizeLimit: {{ $root.Values.stateVolume.sizeLimit }}
{{- end -}}

{{/* Container fields shared by every component (everything but name, args and probes). */}}
{{- define "dgbox.containerCommon" -}}
{{- $root := .context -}}
image: {{ include "dgbox.image" $root }}
imagePullPolicy: {{ $root.Values.image.pullPolicy }}
securityContext:
  {{- toYaml $root.Values.containerSecurityContext | nindent 2 }}
{{ include "dgbox.env" . }}
volumeMounts:
  - name: tmp
    mountPath: /tmp
  - name: state
    mountPath: {{ $root.Values.config.stateDir }}
resources:
  {{- toYaml .values.resources | nindent 2 }}
{{- end -}}

{{- define "dgbox.httpProbe" -}}
httpGet:
  path: {{ .path }}
  port: http
initialDelaySeconds: {{ .probe.initialDelaySeconds }}
periodSeconds: {{ .probe.periodSeconds }}
timeoutSeconds: {{ .probe.timeoutSeconds }}
failureThreshold: {{ .probe.failureThreshold }}
successThreshold: {{ .probe.successThreshold }}
{{- end -}}

{{/* NetworkPolicy egress: anywhere, or DNS plus networkPolicy.extraEgress. */}}
{{- define "dgbox.networkPolicyEgress" -}}
egress:
{{- if .Values.networkPolicy.allowExternalEgress }}
  - {}
{{- else }}
  - ports:
      - port: 53
        protocol: UDP
      - port: 53
        protocol: TCP
  {{- with .Values.networkPolicy.extraEgress }}
  {{- toYaml . | nindent 2 }}
  {{- end }}
{{- end }}
{{- end }}

{{/* NetworkPolicy ingress rule for the metrics port; empty when metrics are off. */}}
{{- define "dgbox.metricsIngress" -}}
{{- if .Values.observability.metrics.enabled -}}
- ports:
    - port: {{ .Values.observability.metrics.port }}
      protocol: TCP
  from:
    - namespaceSelector:
        {{- with .Values.observability.metrics.allowedNamespaceLabels }}
        matchLabels:
          {{- toYaml . | nindent 10 }}
        {{- else }}
        {}
        {{- end }}
{{- end -}}
{{- end -}}
