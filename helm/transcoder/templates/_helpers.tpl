{{/* Chart name, for the app.kubernetes.io/name label. */}}
{{- define "transcoder.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/*
Full name: <release>-<chart> (the release name alone when it contains the chart name), then "-<slot>". A release
already named for its slot (transcoder-green) is not suffixed twice. Kept to 46 characters: KEDA appends a suffix
to the Jobs of a ScaledJob, and Kubernetes to their pods.
*/}}
{{- define "transcoder.fullname" -}}
{{- $base := "" -}}
{{- if .Values.fullnameOverride -}}
{{- $base = .Values.fullnameOverride -}}
{{- else -}}
{{- $name := default .Chart.Name .Values.nameOverride -}}
{{- if contains $name .Release.Name -}}
{{- $base = .Release.Name -}}
{{- else -}}
{{- $base = printf "%s-%s" .Release.Name $name -}}
{{- end -}}
{{- end -}}
{{- $suffix := printf "-%s" (toString .Values.slot) -}}
{{- printf "%s%s" ($base | trimSuffix $suffix | trunc (int (sub 46 (len $suffix))) | trimSuffix "-") $suffix -}}
{{- end -}}

{{/* Labels that select this slot's pods. */}}
{{- define "transcoder.selectorLabels" -}}
app.kubernetes.io/name: {{ include "transcoder.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
slot: {{ .Values.slot | quote }}
{{- end -}}

{{/* Labels on every resource. */}}
{{- define "transcoder.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{ include "transcoder.selectorLabels" . }}
app.kubernetes.io/version: {{ include "transcoder.tag" . | trunc 63 | quote }}
app.kubernetes.io/component: worker
app.kubernetes.io/part-of: azure-gpu-transcoder
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- with .Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end -}}

{{- define "transcoder.tag" -}}
{{- .Values.image.tag | default .Chart.AppVersion -}}
{{- end -}}

{{/* The image: repository@digest when a digest is given, else repository:tag (tag defaults to appVersion). */}}
{{- define "transcoder.image" -}}
{{- if .Values.image.digest -}}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest -}}
{{- else -}}
{{- printf "%s:%s" .Values.image.repository (include "transcoder.tag" .) -}}
{{- end -}}
{{- end -}}

{{/* Annotations of the workload object (Deployment or ScaledJob). */}}
{{- define "transcoder.workloadAnnotations" -}}
{{- if not .Values.image.digest }}
checkov.io/skip1: CKV_K8S_43=pulled by tag (image.tag, default the chart's appVersion) until image.digest is set
{{- end }}
{{- end -}}

{{- define "transcoder.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "transcoder.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{/* Blob endpoint: storage.accountUrl, or derived from the account name and the cloud's DNS suffix. */}}
{{- define "transcoder.accountUrl" -}}
{{- if .Values.storage.accountUrl -}}
{{- .Values.storage.accountUrl | trimSuffix "/" -}}
{{- else -}}
{{- printf "https://%s.blob.%s" .Values.storage.accountName .Values.storage.endpointSuffix -}}
{{- end -}}
{{- end -}}

{{- define "transcoder.encoder" -}}
{{- .Values.worker.encoder | default (ternary "auto" "cpu" .Values.gpu.enabled) -}}
{{- end -}}

{{/*
apiVersion of the ServiceMonitor, empty for none. metrics.collection=auto takes managed Prometheus's API where the
cluster serves it (AKS with the metrics add-on), else the Prometheus Operator's; azure-managed and
prometheus-operator name theirs whatever the cluster serves, so an install fails where that CRD is missing.
*/}}
{{- define "transcoder.monitorApiVersion" -}}
{{- $azure := "azmonitoring.coreos.com/v1" -}}
{{- $operator := "monitoring.coreos.com/v1" -}}
{{- $collection := .Values.metrics.collection -}}
{{- if eq $collection "azure-managed" -}}
{{- $azure -}}
{{- else if eq $collection "prometheus-operator" -}}
{{- $operator -}}
{{- else if eq $collection "auto" -}}
{{- if .Capabilities.APIVersions.Has (printf "%s/ServiceMonitor" $azure) -}}
{{- $azure -}}
{{- else if .Capabilities.APIVersions.Has (printf "%s/ServiceMonitor" $operator) -}}
{{- $operator -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{/* Annotations of the worker pods: the prometheus.io scrape annotations, then podAnnotations over them. */}}
{{- define "transcoder.podAnnotations" -}}
{{- $annotations := dict -}}
{{- if and .Values.metrics.scrapeAnnotations (ne .Values.metrics.collection "none") -}}
{{- $_ := set $annotations "prometheus.io/scrape" "true" -}}
{{- $_ := set $annotations "prometheus.io/port" (toString .Values.worker.httpPort) -}}
{{- $_ := set $annotations "prometheus.io/path" "/metrics" -}}
{{- end -}}
{{- $annotations = mergeOverwrite $annotations (deepCopy (.Values.podAnnotations | default dict)) -}}
{{- with $annotations -}}
{{- toYaml . -}}
{{- end -}}
{{- end -}}

{{- define "transcoder.isJob" -}}
{{- if eq .Values.scaling.kind "ScaledJob" }}true{{ end -}}
{{- end -}}

{{/*
The worker's pod template, shared by the Deployment and the ScaledJob's Job. In a Job the worker takes one message
(WORKER_MAX_JOBS=1) and exits, or exits after WORKER_IDLE_EXIT_S without one.
*/}}
{{/* The workers' pool: node selector and tolerations, the GPU pool's merged in when gpu.enabled. */}}
{{- define "transcoder.placement" -}}
{{- $nodeSelector := .Values.nodeSelector | default dict }}
{{- if .Values.gpu.enabled }}
{{- $nodeSelector = merge (deepCopy $nodeSelector) (.Values.gpu.nodeSelector | default dict) }}
{{- end }}
{{- $tolerations := .Values.tolerations | default list }}
{{- if .Values.gpu.enabled }}
{{- $tolerations = concat (.Values.gpu.tolerations | default list) $tolerations }}
{{- end }}
{{- with $nodeSelector }}
nodeSelector:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with $tolerations }}
tolerations:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- end -}}

{{/* Pod-level security context of every pod of the chart. */}}
{{- define "transcoder.podSecurityContext" -}}
securityContext:
  runAsNonRoot: true
  runAsUser: 10001
  runAsGroup: 10001
  fsGroup: 10001
  seccompProfile:
    type: RuntimeDefault
{{- end -}}

{{/* Container-level security context of every container of the chart. */}}
{{- define "transcoder.containerSecurityContext" -}}
securityContext:
  runAsNonRoot: true
  runAsUser: 10001
  runAsGroup: 10001
  readOnlyRootFilesystem: true
  allowPrivilegeEscalation: false
  privileged: false
  capabilities:
    drop: ["ALL"]
  seccompProfile:
    type: RuntimeDefault
{{- end -}}

{{- define "transcoder.podTemplate" -}}
{{- $job := include "transcoder.isJob" . -}}
metadata:
  labels:
    {{- include "transcoder.selectorLabels" . | nindent 4 }}
    azure.workload.identity/use: "true"
    {{- with .Values.podLabels }}
    {{- toYaml . | nindent 4 }}
    {{- end }}
  annotations:
    checksum/profile: {{ include (print $.Template.BasePath "/configmap.yaml") . | sha256sum }}
    {{- with include "transcoder.podAnnotations" . }}
    {{- . | nindent 4 }}
    {{- end }}
spec:
  serviceAccountName: {{ include "transcoder.serviceAccountName" . }}
  # the workload identity webhook projects its own token; the API token is not needed
  automountServiceAccountToken: false
  enableServiceLinks: false
  terminationGracePeriodSeconds: {{ .Values.terminationGracePeriodSeconds }}
  {{- if $job }}
  restartPolicy: Never
  {{- end }}
  {{- if and .Values.gpu.enabled .Values.gpu.runtimeClassName }}
  runtimeClassName: {{ .Values.gpu.runtimeClassName }}
  {{- end }}
  {{- with .Values.priorityClassName }}
  priorityClassName: {{ . }}
  {{- end }}
  {{- include "transcoder.podSecurityContext" . | nindent 2 }}
  {{- include "transcoder.placement" . | nindent 2 }}
  {{- with .Values.affinity }}
  affinity:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  containers:
    - name: worker
      image: {{ include "transcoder.image" . | quote }}
      {{- $pullPolicy := ternary "IfNotPresent" "Always" (not (empty .Values.image.digest)) }}
      imagePullPolicy: {{ .Values.image.pullPolicy | default $pullPolicy }}
      args: ["run"]
      ports:
        - name: http
          containerPort: {{ .Values.worker.httpPort }}
          protocol: TCP
      env:
        - name: WORKER_STORAGE_ACCOUNT_URL
          value: {{ include "transcoder.accountUrl" . | quote }}
        - name: WORKER_JOBS_QUEUE
          value: {{ .Values.queue.name | quote }}
        - name: WORKER_JOBS_TABLE
          value: {{ .Values.table.name | quote }}
        {{- with .Values.table.accountUrl }}
        - name: WORKER_TABLE_ACCOUNT_URL
          value: {{ . | quote }}
        {{- end }}
        - name: WORKER_OUTPUTS_CONTAINER
          value: {{ .Values.outputs.container | quote }}
        - name: WORKER_UPLOADS_CONTAINER
          value: {{ .Values.uploads.container | quote }}
        - name: WORKER_ENCODER
          value: {{ include "transcoder.encoder" . | quote }}
        - name: WORKER_CONCURRENCY
          value: {{ .Values.worker.concurrency | quote }}
        - name: WORKER_MAX_DEQUEUE
          value: {{ .Values.worker.maxDequeue | quote }}
        - name: WORKER_VISIBILITY_TIMEOUT_S
          value: {{ .Values.worker.visibilityTimeoutSeconds | quote }}
        - name: WORKER_DRAIN_SECONDS
          value: {{ .Values.worker.drainSeconds | quote }}
        - name: WORKER_MAX_JOBS
          value: {{ ternary "1" "0" (eq $job "true") | quote }}
        - name: WORKER_IDLE_EXIT_S
          value: {{ ternary .Values.scaling.job.idleExitSeconds 0 (eq $job "true") | quote }}
        - name: WORKER_HTTP_PORT
          value: {{ .Values.worker.httpPort | quote }}
        - name: WORKER_SCRATCH_DIR
          value: /scratch
        - name: WORKER_SCRATCH_LIMIT
          value: {{ .Values.scratch.sizeLimit | quote }}
        - name: WORKER_MIN_FREE_BYTES
          value: {{ .Values.worker.minFreeBytes | int64 | quote }}
        - name: WORKER_PROFILE
          value: /etc/transcoder/profile.yaml
        - name: WORKER_LOG_FORMAT
          value: {{ .Values.worker.logFormat | quote }}
        - name: WORKER_QUALITY_POLICY
          value: {{ .Values.quality.policy | quote }}
        - name: WORKER_QUALITY_SAMPLING
          value: {{ .Values.quality.sampling | quote }}
        - name: WORKER_QUALITY_FULL_BELOW_S
          value: {{ .Values.quality.fullBelowSeconds | quote }}
        - name: WORKER_VMAF_SUBSAMPLE
          value: {{ .Values.quality.subsample | quote }}
        - name: WORKER_MAX_DECODE_ERROR_RATE
          value: {{ .Values.quality.maxDecodeErrorRate | quote }}
        - name: TMPDIR
          value: /tmp
        - name: HOME
          value: /tmp
        - name: MPLCONFIGDIR
          value: /tmp/matplotlib
        {{- if .Values.workloadIdentity.tenantId }}
        - name: AZURE_TENANT_ID
          value: {{ .Values.workloadIdentity.tenantId | quote }}
        {{- end }}
        {{- range .Values.worker.extraEnv }}
        - name: {{ .name }}
          value: {{ .value | quote }}
        {{- end }}
      {{- $resources := deepCopy (.Values.resources | default dict) }}
      {{- if .Values.gpu.enabled }}
      {{- $limits := get $resources "limits" | default dict }}
      {{- $_ := set $limits .Values.gpu.resourceName (int .Values.gpu.count) }}
      {{- $_ := set $resources "limits" $limits }}
      {{- end }}
      {{- with $resources }}
      resources:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      startupProbe:
        httpGet:
          path: /healthz
          port: http
        {{- toYaml .Values.probes.startup | nindent 8 }}
      livenessProbe:
        httpGet:
          path: /healthz
          port: http
        {{- toYaml .Values.probes.liveness | nindent 8 }}
      readinessProbe:
        httpGet:
          path: /readyz
          port: http
        {{- toYaml .Values.probes.readiness | nindent 8 }}
      {{- include "transcoder.containerSecurityContext" . | nindent 6 }}
      volumeMounts:
        - name: scratch
          mountPath: /scratch
        - name: tmp
          mountPath: /tmp
        - name: profile
          mountPath: /etc/transcoder
          readOnly: true
  volumes:
    - name: scratch
      emptyDir:
        sizeLimit: {{ .Values.scratch.sizeLimit | quote }}
        {{- with .Values.scratch.medium }}
        medium: {{ . }}
        {{- end }}
    - name: tmp
      emptyDir:
        sizeLimit: {{ .Values.tmp.sizeLimit | quote }}
    - name: profile
      configMap:
        name: {{ include "transcoder.fullname" . }}-profile
{{- end -}}

{{/* KEDA's cloud name for storage.endpointSuffix (validation.yaml refuses suffixes not listed here). */}}
{{- define "transcoder.kedaCloud" -}}
{{- $clouds := dict "core.windows.net" "AzurePublicCloud" "core.usgovcloudapi.net" "AzureUSGovernmentCloud"
    "core.chinacloudapi.cn" "AzureChinaCloud" -}}
{{- get $clouds .Values.storage.endpointSuffix -}}
{{- end -}}

{{/* The KEDA azure-queue trigger, shared by the ScaledObject and the ScaledJob. */}}
{{- define "transcoder.trigger" -}}
- type: azure-queue
  name: jobs-queue
  metadata:
    accountName: {{ .Values.storage.accountName | quote }}
    queueName: {{ .Values.queue.name | quote }}
    queueLength: {{ .Values.scaling.queueLength | quote }}
    activationQueueLength: {{ .Values.scaling.activationQueueLength | quote }}
    queueLengthStrategy: {{ .Values.scaling.queueLengthStrategy | quote }}
    cloud: {{ include "transcoder.kedaCloud" . | quote }}
  authenticationRef:
    name: {{ include "transcoder.fullname" . }}
{{- end -}}
