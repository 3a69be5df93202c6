#!/usr/bin/env bash
# The Azure resources of one environment, created when missing and left alone when present (safe to re-run):
# resource group, storage account (no shared keys) with its containers, queue and table, the worker's managed
# identity federated with both slots' ServiceAccounts and given its data roles, an AKS cluster (OIDC issuer,
# workload identity, KEDA, managed Prometheus) with a GPU node pool that scales to zero, and the Function app
# with its `staging` slot. `--events` (after the Function's code is deployed: its blobs_extension key exists only
# once the app has been indexed) subscribes the Function to the uploads container's BlobCreated events instead.
#
#   STORAGE_ACCOUNT=transcodedev ACR_NAME=transcodeacr FUNCTIONAPP_NAME=func-transcoder-dev \
#     infra.sh --env dev --location eastus [--dry-run]
#
# Names: rg-$PREFIX-$ENV, aks-$PREFIX-$ENV, id-$PREFIX-$ENV-worker (PREFIX defaults to transcoder; RESOURCE_GROUP
# and AKS_CLUSTER override). The Function host's own storage (keys, leases, receipts) is a second account,
# HOST_STORAGE_ACCOUNT (default: STORAGE_ACCOUNT + "fn"), so that its host-wide roles never reach the media.
# Every data role on the media account is scoped to the one container, queue or table it is needed for. --dry-run (or DRY_RUN=1) prints every check and every command instead of running them.
# Prints `workload_client_id=...` last, for $GITHUB_OUTPUT.
set -euo pipefail

ENV_NAME=""
LOCATION=${LOCATION:-eastus}
DRY_RUN=${DRY_RUN:-0}
EVENTS=0
while [ $# -gt 0 ]; do
  case "$1" in
    --env) ENV_NAME=${2:?}; shift 2 ;;
    --location) LOCATION=${2:?}; shift 2 ;;
    --events) EVENTS=1; shift ;;
    -n|--dry-run) DRY_RUN=1; shift ;;
    -h|--help) sed -n '2,16p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "infra: unknown option $1" >&2; exit 2 ;;
  esac
done
case "$DRY_RUN" in 1|true|yes) DRY_RUN=1 ;; *) DRY_RUN=0 ;; esac
: "${ENV_NAME:?infra: --env is required}"
: "${STORAGE_ACCOUNT:?infra: set STORAGE_ACCOUNT}" "${ACR_NAME:?infra: set ACR_NAME}"
: "${FUNCTIONAPP_NAME:?infra: set FUNCTIONAPP_NAME}"

PREFIX=${PREFIX:-transcoder}
RG=${RESOURCE_GROUP:-rg-$PREFIX-$ENV_NAME}
AKS=${AKS_CLUSTER:-aks-$PREFIX-$ENV_NAME}
IDENTITY=id-$PREFIX-$ENV_NAME-worker
NAMESPACE=${NAMESPACE:-media}
QUEUE=${QUEUE_NAME:-transcode-jobs}
GPU_VM_SIZE=${GPU_VM_SIZE:-Standard_NC4as_T4_v3}
GPU_MAX_NODES=${GPU_MAX_NODES:-2}
STORAGE_SKU=${STORAGE_SKU:-Standard_GRS}
HOST_STORAGE_ACCOUNT=${HOST_STORAGE_ACCOUNT:-${STORAGE_ACCOUNT}fn}
if [ ${#HOST_STORAGE_ACCOUNT} -gt 24 ]; then
  echo "infra: HOST_STORAGE_ACCOUNT $HOST_STORAGE_ACCOUNT is over 24 characters: set it" >&2; exit 2
fi

say() { printf '+'; printf ' %q' "$@"; printf '\n'; }
# run CMD...: the command, or its line in dry-run
run() { if [ "$DRY_RUN" = 1 ]; then say "$@"; else say "$@" >&2; "$@"; fi; }
# exists CMD...: whether a `show` succeeds; in dry-run the check is printed and counts as "missing"
exists() { if [ "$DRY_RUN" = 1 ]; then printf '?'; printf ' %q' "$@"; printf '\n'; return 1; fi; "$@" >/dev/null 2>&1; }
# value CMD...: a command's output (a placeholder in dry-run)
value() { if [ "$DRY_RUN" = 1 ]; then printf '<%s>' "$1"; else shift; "$@"; fi; }

# grant PRINCIPAL SCOPE ROLE...: each role on SCOPE (a container, queue, table or account id), unless assigned
grant() {
  local principal=$1 scope=$2 role assigned
  shift 2
  for role in "$@"; do
    assigned=$(value none az role assignment list --assignee "$principal" --role "$role" --scope "$scope" \
      --query "[0].id" -o tsv)
    if [ -z "$assigned" ] || [ "$assigned" = "<none>" ]; then
      run az role assignment create --assignee-object-id "$principal" --assignee-principal-type ServicePrincipal \
        --role "$role" --scope "$scope" -o none
    fi
  done
}
# the scope of one container, queue or table of the media account
container_scope() { printf '%s/blobServices/default/containers/%s' "$storage_id" "$1"; }
queue_scope() { printf '%s/queueServices/default/queues/%s' "$storage_id" "$1"; }
table_scope() { printf '%s/tableServices/default/tables/%s' "$storage_id" "$1"; }

if [ "$EVENTS" = 1 ]; then
  topic=uploads-events
  storage_id=$(value storage-id az storage account show --name "$STORAGE_ACCOUNT" --resource-group "$RG" --query id -o tsv)
  exists az eventgrid system-topic show --name "$topic" --resource-group "$RG" ||
    run az eventgrid system-topic create --name "$topic" --resource-group "$RG" --location "$LOCATION" \
      --topic-type Microsoft.Storage.StorageAccounts --source "$storage_id"
  if ! exists az eventgrid system-topic event-subscription show --name enqueue-transcode \
      --system-topic-name "$topic" --resource-group "$RG"; then
    key=$(value blobs-extension-key az functionapp keys list --name "$FUNCTIONAPP_NAME" --resource-group "$RG" \
      --query systemKeys.blobs_extension -o tsv)
    host=$(value host az functionapp show --name "$FUNCTIONAPP_NAME" --resource-group "$RG" --query defaultHostName -o tsv)
    [ "$DRY_RUN" = 1 ] || echo "::add-mask::$key"
    run az eventgrid system-topic event-subscription create --name enqueue-transcode --system-topic-name "$topic" \
      --resource-group "$RG" --endpoint-type webhook \
      --endpoint "https://$host/runtime/webhooks/blobs?functionName=Host.Functions.enqueue_transcode&code=$key" \
      --included-event-types Microsoft.Storage.BlobCreated \
      --subject-begins-with /blobServices/default/containers/uploads/ \
      --advanced-filter data.api stringin PutBlob PutBlockList CopyBlob FlushWithClose
  fi
  exit 0
fi

exists az group show --name "$RG" || run az group create --name "$RG" --location "$LOCATION"

exists az storage account show --name "$STORAGE_ACCOUNT" --resource-group "$RG" ||
  run az storage account create --name "$STORAGE_ACCOUNT" --resource-group "$RG" --location "$LOCATION" \
    --sku "$STORAGE_SKU" --kind StorageV2 --min-tls-version TLS1_2 --allow-blob-public-access false \
    --allow-shared-key-access false
for container in uploads outputs; do
  run az storage container create --account-name "$STORAGE_ACCOUNT" --auth-mode login --name "$container" -o none
done
for queue in "$QUEUE" "$QUEUE-poison" webjobs-blobtrigger-poison; do
  run az storage queue create --account-name "$STORAGE_ACCOUNT" --auth-mode login --name "$queue" -o none
done
run az storage table create --account-name "$STORAGE_ACCOUNT" --auth-mode login --name jobs -o none

exists az identity show --name "$IDENTITY" --resource-group "$RG" ||
  run az identity create --name "$IDENTITY" --resource-group "$RG" --location "$LOCATION"
client_id=$(value client-id az identity show --name "$IDENTITY" --resource-group "$RG" --query clientId -o tsv)
principal_id=$(value principal-id az identity show --name "$IDENTITY" --resource-group "$RG" --query principalId -o tsv)
storage_id=$(value storage-id az storage account show --name "$STORAGE_ACCOUNT" --resource-group "$RG" --query id -o tsv)
# the worker: reads uploads, writes outputs, leases and re-sends jobs, poisons, keeps the job records
grant "$principal_id" "$(container_scope uploads)" "Storage Blob Data Reader"
grant "$principal_id" "$(container_scope outputs)" "Storage Blob Data Contributor"
grant "$principal_id" "$(queue_scope "$QUEUE")" "Storage Queue Data Message Processor" "Storage Queue Data Message Sender"
grant "$principal_id" "$(queue_scope "$QUEUE-poison")" "Storage Queue Data Message Sender"
grant "$principal_id" "$(table_scope jobs)" "Storage Table Data Contributor"

exists az aks show --name "$AKS" --resource-group "$RG" ||
  run az aks create --name "$AKS" --resource-group "$RG" --location "$LOCATION" --node-count 2 \
    --enable-oidc-issuer --enable-workload-identity --enable-keda --enable-azure-monitor-metrics \
    --attach-acr "$ACR_NAME" --generate-ssh-keys
exists az aks nodepool show --cluster-name "$AKS" --resource-group "$RG" --name gpu ||
  run az aks nodepool add --cluster-name "$AKS" --resource-group "$RG" --name gpu --node-vm-size "$GPU_VM_SIZE" \
    --node-taints sku=gpu:NoSchedule --enable-cluster-autoscaler --min-count 0 --max-count "$GPU_MAX_NODES"
issuer=$(value oidc-issuer az aks show --name "$AKS" --resource-group "$RG" --query oidcIssuerProfile.issuerUrl -o tsv)
for slot in blue green; do
  exists az identity federated-credential show --name "transcoder-$slot" --identity-name "$IDENTITY" \
      --resource-group "$RG" ||
    run az identity federated-credential create --name "transcoder-$slot" --identity-name "$IDENTITY" \
      --resource-group "$RG" --issuer "$issuer" --subject "system:serviceaccount:$NAMESPACE:transcoder-$slot" \
      --audiences api://AzureADTokenExchange
done

exists az storage account show --name "$HOST_STORAGE_ACCOUNT" --resource-group "$RG" ||
  run az storage account create --name "$HOST_STORAGE_ACCOUNT" --resource-group "$RG" --location "$LOCATION" \
    --sku Standard_LRS --kind StorageV2 --min-tls-version TLS1_2 --allow-blob-public-access false \
    --allow-shared-key-access false
host_storage_id=$(value host-storage-id az storage account show --name "$HOST_STORAGE_ACCOUNT" --resource-group "$RG" \
  --query id -o tsv)

plan="plan-$PREFIX-$ENV_NAME"
exists az functionapp plan show --name "$plan" --resource-group "$RG" ||
  run az functionapp plan create --name "$plan" --resource-group "$RG" --location "$LOCATION" --sku EP1 --is-linux
exists az functionapp show --name "$FUNCTIONAPP_NAME" --resource-group "$RG" ||
  run az functionapp create --name "$FUNCTIONAPP_NAME" --resource-group "$RG" --plan "$plan" \
    --storage-account "$HOST_STORAGE_ACCOUNT" --runtime python --runtime-version 3.11 --functions-version 4 \
    --os-type Linux --assign-identity "[system]"
app_principal=$(value app-principal-id az functionapp identity show --name "$FUNCTIONAPP_NAME" --resource-group "$RG" \
  --query principalId -o tsv)
# the Function: its own host account whole; on the media account only the uploads it is triggered by, the jobs
# queue it sends to, the trigger's poison queue and the job records
grant "$app_principal" "$host_storage_id" "Storage Blob Data Owner" "Storage Queue Data Contributor" \
  "Storage Table Data Contributor"
grant "$app_principal" "$(container_scope uploads)" "Storage Blob Data Reader"
grant "$app_principal" "$(queue_scope "$QUEUE")" "Storage Queue Data Message Sender"
grant "$app_principal" "$(queue_scope webjobs-blobtrigger-poison)" "Storage Queue Data Contributor"
grant "$app_principal" "$(table_scope jobs)" "Storage Table Data Contributor"
endpoint() { printf 'https://%s.%s.core.windows.net' "$STORAGE_ACCOUNT" "$1"; }
run az functionapp config appsettings set --name "$FUNCTIONAPP_NAME" --resource-group "$RG" -o none --settings \
  "AzureWebJobsStorage__accountName=$HOST_STORAGE_ACCOUNT" "TranscodeStorage__blobServiceUri=$(endpoint blob)" \
  "TranscodeStorage__queueServiceUri=$(endpoint queue)" "TranscodeStorage__tableServiceUri=$(endpoint table)" \
  "UPLOADS_CONTAINER=uploads" "JOBS_QUEUE=$QUEUE"
exists az functionapp show --name "$FUNCTIONAPP_NAME" --resource-group "$RG" --slot staging ||
  run az functionapp deployment slot create --name "$FUNCTIONAPP_NAME" --resource-group "$RG" --slot staging \
    --configuration-source "$FUNCTIONAPP_NAME"

echo "workload_client_id=$client_id"
