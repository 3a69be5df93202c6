#!/usr/bin/env bash
# Parts of the weekly disaster-recovery drill, one function each.
#
#   dr-drill.sh rpo --accounts "acct1 acct2" --max-lag-seconds 900   # geo-replication lag of production storage
#   dr-drill.sh storage-failover --account A --resource-group G [--failover]   # geoReplicationStats; --failover:
#                                                   # a planned failover to the secondary region (disruptive)
#   dr-drill.sh cosmos-restore --source-account C --target-account C2 --resource-group rg-x-dr --location L \
#     [--timestamp 2026-01-05T04:00:00Z] [--table jobs]   # point-in-time restore into a new account, table check
#   dr-drill.sh frontdoor-failover --resource-group G --profile P --endpoint-host H --origin-group OG \
#     --primary-origin O --workspace-id ID [--probe-path /] [--timeout 1800]   # primary off until the secondary serves
#   dr-drill.sh rto --started EPOCH --max-seconds 3600                # the drill's time to a working region
#   dr-drill.sh teardown --resource-group rg-transcoder-dr            # delete the drill's region (only *-dr)
#
# --dry-run (or DRY_RUN=1) prints the commands instead of running them.
set -euo pipefail

PYTHON=${PYTHON:-python3}
DRY_RUN=${DRY_RUN:-0}
cmd=${1:-}
[ $# -gt 0 ] && shift
ACCOUNTS=""
MAX_LAG=900
STARTED=""
MAX_SECONDS=3600
GROUP=""
ACCOUNT=""
FAILOVER=0
SOURCE_ACCOUNT=""
TARGET_ACCOUNT=""
LOCATION=""
TIMESTAMP=""
TABLE="jobs"
PROFILE=""
ENDPOINT_HOST=""
ORIGIN_GROUP=""
PRIMARY=""
WORKSPACE_ID=""
PROBE_PATH=/
TIMEOUT=1800
INTERVAL=${PROBE_INTERVAL:-30}
NOW=${NOW:-$(date +%s)}
while [ $# -gt 0 ]; do
  case "$1" in
    --accounts) ACCOUNTS=${2:?}; shift 2 ;;
    --max-lag-seconds) MAX_LAG=${2:?}; shift 2 ;;
    --started) STARTED=${2:?}; shift 2 ;;
    --max-seconds) MAX_SECONDS=${2:?}; shift 2 ;;
    --resource-group) GROUP=${2:?}; shift 2 ;;
    --account) ACCOUNT=${2:?}; shift 2 ;;
    --failover) FAILOVER=1; shift ;;
    --source-account) SOURCE_ACCOUNT=${2:?}; shift 2 ;;
    --target-account) TARGET_ACCOUNT=${2:?}; shift 2 ;;
    --location) LOCATION=${2:?}; shift 2 ;;
    --timestamp) TIMESTAMP=${2:?}; shift 2 ;;
    --table) TABLE=${2:?}; shift 2 ;;
    --profile) PROFILE=${2:?}; shift 2 ;;
    --endpoint-host) ENDPOINT_HOST=${2:?}; shift 2 ;;
    --origin-group) ORIGIN_GROUP=${2:?}; shift 2 ;;
    --primary-origin) PRIMARY=${2:?}; shift 2 ;;
    --workspace-id) WORKSPACE_ID=${2:?}; shift 2 ;;
    --probe-path) PROBE_PATH=${2:?}; shift 2 ;;
    --timeout) TIMEOUT=${2:?}; shift 2 ;;
    -n|--dry-run) DRY_RUN=1; shift ;;
    *) echo "dr-drill: unknown option $1" >&2; exit 2 ;;
  esac
done
case "$DRY_RUN" in 1|true|yes) DRY_RUN=1 ;; *) DRY_RUN=0 ;; esac

exec 3>&1  # the dry run's command lines reach stdout from inside $(...) too
say() { printf '+' >&3; printf ' %q' "$@" >&3; printf '\n' >&3; }
# run CMD...: the command, or its line in dry-run
run() { if [ "$DRY_RUN" = 1 ]; then say "$@"; else say "$@" 3>&2; "$@"; fi; }
# value PLACEHOLDER CMD...: a command's output (PLACEHOLDER in dry-run, where the command is printed)
value() { local placeholder=$1; shift; if [ "$DRY_RUN" = 1 ]; then say "$@"; printf '%s' "$placeholder"; else "$@"; fi; }
need() { local name=$1 given=$2; [ -n "$given" ] || { echo "dr-drill: $cmd needs $name" >&2; exit 2; }; }
drill_group_only() {
  case "$GROUP" in
    *-dr) ;;
    *) echo "dr-drill: refusing to $1 '$GROUP': only a drill group (*-dr) is used" >&2; exit 2 ;;
  esac
}

rpo() {
  need --accounts "$ACCOUNTS"
  local worst=0 account synced lag
  for account in $ACCOUNTS; do
    query=(az storage account show --name "$account" --expand geoReplicationStats
           --query geoReplicationStats.lastSyncTime -o tsv)
    if [ "$DRY_RUN" = 1 ]; then say "${query[@]}"; continue; fi
    synced=$("${query[@]}")
    if [ -z "$synced" ]; then
      echo "dr-drill: $account reports no geo-replication (not a GRS/GZRS account?)" >&2; exit 1
    fi
    lag=$(( NOW - $(date -d "$synced" +%s) ))
    echo "$account: last sync $synced, ${lag}s behind"
    [ "$lag" -gt "$worst" ] && worst=$lag
  done
  if [ "$worst" -gt "$MAX_LAG" ]; then
    echo "dr-drill: replication lag ${worst}s exceeds the RPO of ${MAX_LAG}s" >&2; exit 1
  fi
}

# The media account's geo-replication, read-only: it must be Live (and able to fail over when asked). With
# --failover, a planned failover to the secondary region, then where the account's primary now is.
storage_failover() {
  need --account "$ACCOUNT"; need --resource-group "$GROUP"
  local stats status can
  stats=$(value '{"status": "Live", "canFailover": true, "canPlannedFailover": true}' \
    az storage account show --name "$ACCOUNT" --resource-group "$GROUP" --expand geoReplicationStats \
    --query geoReplicationStats -o json)
  read -r status can < <("$PYTHON" -c 'import json, sys
s = json.loads(sys.argv[1] or "null") or {}
print(s.get("status") or "none", str(bool(s.get("canPlannedFailover", s.get("canFailover")))).lower())' "$stats")
  echo "$ACCOUNT: geo-replication $status, can fail over: $can"
  if [ "$status" != Live ]; then
    echo "dr-drill: $ACCOUNT's geo-replication is '$status', not Live (not a GRS account, or bootstrapping)" >&2
    exit 1
  fi
  if [ "$FAILOVER" != 1 ]; then
    echo "dr-drill: no failover asked (--failover): read-only check only"
    return 0
  fi
  if [ "$can" != true ]; then
    echo "dr-drill: $ACCOUNT cannot fail over now" >&2; exit 1
  fi
  run az storage account failover --name "$ACCOUNT" --resource-group "$GROUP" --failover-type Planned --yes
  run az storage account show --name "$ACCOUNT" --resource-group "$GROUP" \
    --query "{primary: primaryLocation, secondary: secondaryLocation, status: statusOfPrimary}" -o json
}

# Cosmos DB point-in-time restore of the source account into a new account in the drill's group, then the jobs
# table must be there. The timestamp defaults to five minutes ago.
cosmos_restore() {
  need --source-account "$SOURCE_ACCOUNT"; need --target-account "$TARGET_ACCOUNT"; need --location "$LOCATION"
  need --resource-group "$GROUP"
  drill_group_only "restore into"
  local at found
  at=${TIMESTAMP:-$(date -u -d "@$(( NOW - 300 ))" +%Y-%m-%dT%H:%M:%SZ)}
  run az cosmosdb restore --account-name "$SOURCE_ACCOUNT" --target-database-account-name "$TARGET_ACCOUNT" \
    --resource-group "$GROUP" --location "$LOCATION" --restore-timestamp "$at"
  found=$(value "$TABLE" az cosmosdb table show --account-name "$TARGET_ACCOUNT" --resource-group "$GROUP" \
    --name "$TABLE" --query name -o tsv) || found=""
  if [ "$found" != "$TABLE" ]; then
    echo "dr-drill: the restored account $TARGET_ACCOUNT has no table $TABLE" >&2; exit 1
  fi
  echo "$TARGET_ACCOUNT: restored from $SOURCE_ACCOUNT as of $at, table $TABLE present"
}

# Front Door origin failover: the primary origin disabled, the endpoint probed until Front Door's access log says a
# probe was served by the secondary origin (the enabled one of lowest priority after the primary), the primary
# enabled again (also when the drill fails half-way).
frontdoor_failover() {
  need --resource-group "$GROUP"; need --profile "$PROFILE"; need --endpoint-host "$ENDPOINT_HOST"
  need --origin-group "$ORIGIN_GROUP"; need --primary-origin "$PRIMARY"; need --workspace-id "$WORKSPACE_ID"
  local origins secondary workspace refs="" ref served deadline
  # global: the EXIT trap that re-enables the primary reads it
  origin=(--resource-group "$GROUP" --profile-name "$PROFILE" --origin-group-name "$ORIGIN_GROUP")
  origins=$(value '[]' az afd origin list "${origin[@]}" -o json)
  if [ "$DRY_RUN" = 1 ]; then
    secondary="<secondary-origin-host>"
  else
    secondary=$("$PYTHON" -c 'import json, sys
others = [o for o in json.loads(sys.argv[1]) if o.get("name") != sys.argv[2] and o.get("enabledState") == "Enabled"]
others.sort(key=lambda o: o.get("priority") or 0)
print(others[0]["hostName"] if others else "")' "$origins" "$PRIMARY")
    if [ -z "$secondary" ]; then
      echo "dr-drill: $ORIGIN_GROUP has no enabled origin besides $PRIMARY: nothing to fail over to" >&2; exit 1
    fi
  fi
  workspace=$(value '<workspace-customer-id>' az monitor log-analytics workspace show --ids "$WORKSPACE_ID" \
    --query customerId -o tsv)
  run az afd origin update "${origin[@]}" --origin-name "$PRIMARY" --enabled-state Disabled -o none
  [ "$DRY_RUN" = 1 ] || trap 'run az afd origin update "${origin[@]}" --origin-name "$PRIMARY" --enabled-state Enabled -o none' EXIT
  deadline=$(( NOW + TIMEOUT ))
  while :; do
    if [ "$DRY_RUN" = 1 ]; then
      say curl -sS -o /dev/null -D - "https://$ENDPOINT_HOST$PROBE_PATH"; ref="<x-azure-ref>"
    else
      ref=$(curl -sS -o /dev/null -D - "https://$ENDPOINT_HOST$PROBE_PATH" \
        | tr -d '\r' | sed -n 's/^[Xx]-[Aa]zure-[Rr]ef: *//p' | head -n 1) || ref=""
    fi
    [ -n "$ref" ] && refs="$refs${refs:+,}'$ref'"
    served=""
    if [ -n "$refs" ]; then
      served=$(value "$secondary:443" az monitor log-analytics query --workspace "$workspace" --analytics-query \
        "AzureDiagnostics | where Category == 'FrontDoorAccessLog' and trackingReference_s in ($refs) | distinct originName_s" \
        --query "[].originName_s" -o tsv) || served=""
    fi
    if grep -q "^$secondary" <<<"$served"; then break; fi
    if [ "$(date +%s)" -ge "$deadline" ]; then
      echo "dr-drill: $ENDPOINT_HOST did not serve from $secondary within ${TIMEOUT}s (served: ${served:-none})" >&2
      exit 1
    fi
    sleep "$INTERVAL"
  done
  echo "$ENDPOINT_HOST: served from $secondary with $PRIMARY disabled"
  trap - EXIT
  run az afd origin update "${origin[@]}" --origin-name "$PRIMARY" --enabled-state Enabled -o none
}

rto() {
  need --started "$STARTED"
  local took=$(( NOW - STARTED ))
  echo "recovery took ${took}s (objective ${MAX_SECONDS}s)"
  [ "$took" -le "$MAX_SECONDS" ] || { echo "dr-drill: RTO objective missed" >&2; exit 1; }
}

teardown() {
  drill_group_only delete
  run az group delete --name "$GROUP" --yes --no-wait
}

case "$cmd" in
  rpo) rpo ;;
  storage-failover) storage_failover ;;
  cosmos-restore) cosmos_restore ;;
  frontdoor-failover) frontdoor_failover ;;
  rto) rto ;;
  teardown) teardown ;;
  *) sed -n '2,16p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2 ;;
esac
