#!/usr/bin/env bash
# Pieces of the weekly disaster-recovery drill that are not plain infra/deploy/smoke calls.
#
#   dr-drill.sh rpo --accounts "acct1 acct2" --max-lag-seconds 900   # geo-replication lag of production storage
#   dr-drill.sh rto --started EPOCH --max-seconds 3600                # the drill's time to a working region
#   dr-drill.sh teardown --resource-group rg-transcoder-dr            # delete the drill's region (only *-dr)
#
# --dry-run (or DRY_RUN=1) prints the commands instead of running them.
set -euo pipefail

DRY_RUN=${DRY_RUN:-0}
cmd=${1:-}
[ $# -gt 0 ] && shift
ACCOUNTS=""
MAX_LAG=900
STARTED=""
MAX_SECONDS=3600
GROUP=""
NOW=${NOW:-$(date +%s)}
while [ $# -gt 0 ]; do
  case "$1" in
    --accounts) ACCOUNTS=${2:?}; shift 2 ;;
    --max-lag-seconds) MAX_LAG=${2:?}; shift 2 ;;
    --started) STARTED=${2:?}; shift 2 ;;
    --max-seconds) MAX_SECONDS=${2:?}; shift 2 ;;
    --resource-group) GROUP=${2:?}; shift 2 ;;
    -n|--dry-run) DRY_RUN=1; shift ;;
    *) echo "dr-drill: unknown option $1" >&2; exit 2 ;;
  esac
done
case "$DRY_RUN" in 1|true|yes) DRY_RUN=1 ;; *) DRY_RUN=0 ;; esac

say() { printf '+'; printf ' %q' "$@"; printf '\n'; }

case "$cmd" in
  rpo)
    [ -n "$ACCOUNTS" ] || { echo "dr-drill: --accounts is required" >&2; exit 2; }
    worst=0
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
    ;;
  rto)
    [ -n "$STARTED" ] || { echo "dr-drill: --started is required" >&2; exit 2; }
    took=$(( NOW - STARTED ))
    echo "recovery took ${took}s (objective ${MAX_SECONDS}s)"
    [ "$took" -le "$MAX_SECONDS" ] || { echo "dr-drill: RTO objective missed" >&2; exit 1; }
    ;;
  teardown)
    case "$GROUP" in
      *-dr) ;;
      *) echo "dr-drill: refusing to delete '$GROUP': only a drill group (*-dr) is torn down" >&2; exit 2 ;;
    esac
    if [ "$DRY_RUN" = 1 ]; then say az group delete --name "$GROUP" --yes --no-wait
    else az group delete --name "$GROUP" --yes --no-wait; fi
    ;;
  *) sed -n '2,9p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2 ;;
esac
