#!/usr/bin/env bash
# Roll a deploy back: traffic to the slot that served before, the failed Helm release to its previous revision,
# the Function app's slots swapped back. Each part runs only when its options are given.
#
#   rollback.sh --namespace media --failed-slot green --restore-slot blue --max-replicas 10   # blue/green
#   rollback.sh --namespace media --failed-slot blue --max-replicas 10        # first deploy: pause it only
#   rollback.sh --namespace media --helm-release transcoder-blue                              # in-place release
#   rollback.sh ... --functionapp func-transcoder-staging --resource-group rg-transcoder-staging
#
# --dry-run (or DRY_RUN=1) prints the commands instead of running them.
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
PYTHON=${PYTHON:-python3}
DRY_RUN=${DRY_RUN:-0}
NAMESPACE=media
FAILED_SLOT=""
RESTORE_SLOT=""
MAX_REPLICAS=""
KIND=ScaledObject
HELM_RELEASE=""
HELM_TIMEOUT=20m
FUNCTIONAPP=""
RESOURCE_GROUP=""

usage() { sed -n '2,10p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2; }
die() { echo "rollback: $*" >&2; exit 2; }

while [ $# -gt 0 ]; do
  case "$1" in
    --namespace) NAMESPACE=${2:?}; shift 2 ;;
    --failed-slot) FAILED_SLOT=${2:?}; shift 2 ;;
    --restore-slot) RESTORE_SLOT=${2:?}; shift 2 ;;
    --max-replicas) MAX_REPLICAS=${2:?}; shift 2 ;;
    --kind) KIND=${2:?}; shift 2 ;;
    --helm-release) HELM_RELEASE=${2:?}; shift 2 ;;
    --helm-timeout) HELM_TIMEOUT=${2:?}; shift 2 ;;
    --functionapp) FUNCTIONAPP=${2:?}; shift 2 ;;
    --resource-group) RESOURCE_GROUP=${2:?}; shift 2 ;;
    -n|--dry-run) DRY_RUN=1; shift ;;
    -h|--help) usage ;;
    *) die "unknown option $1" ;;
  esac
done

case "$DRY_RUN" in 1|true|yes) DRY_RUN=1 ;; *) DRY_RUN=0 ;; esac
if [ -n "$RESTORE_SLOT" ] && [ -z "$FAILED_SLOT" ]; then die "--restore-slot needs --failed-slot"; fi
if [ -n "$FAILED_SLOT" ] && [ -z "$MAX_REPLICAS" ]; then die "--failed-slot needs --max-replicas"; fi
if [ -n "$FAILED_SLOT" ] && [ "$FAILED_SLOT" = "$RESTORE_SLOT" ]; then die "--failed-slot and --restore-slot differ"; fi
if [ -n "$FUNCTIONAPP" ] && [ -z "$RESOURCE_GROUP" ]; then die "--functionapp needs --resource-group"; fi
if [ -z "$FAILED_SLOT$HELM_RELEASE$FUNCTIONAPP" ]; then die "nothing to roll back: see --help"; fi

run() {
  if [ "$DRY_RUN" = 1 ]; then
    printf '+'; printf ' %q' "$@"; printf '\n'
  else
    printf '+'  >&2; printf ' %q' "$@" >&2; printf '\n' >&2
    "$@"
  fi
}

# 1. Traffic first: the slot that served before takes the whole queue again, the failed one is paused (with no
#    slot to restore, as on the first deploy, the failed one is only paused).
if [ -n "$FAILED_SLOT" ]; then
  dry=()
  [ "$DRY_RUN" = 1 ] && dry=(--dry-run)
  "$PYTHON" "$HERE/traffic.py" "${dry[@]}" shift --namespace "$NAMESPACE" --new "$FAILED_SLOT" \
    --old "$RESTORE_SLOT" --percent 0 --max-replicas "$MAX_REPLICAS" --kind "$KIND"
fi

# 2. The release back to its previous revision (revision 0 = the one before the current), when it has one.
if [ -n "$HELM_RELEASE" ]; then
  revisions=2
  if [ "$DRY_RUN" != 1 ]; then
    revisions=$(helm history "$HELM_RELEASE" -n "$NAMESPACE" -o json | "$PYTHON" -c 'import json,sys; print(len(json.load(sys.stdin)))')
  fi
  if [ "$revisions" -ge 2 ]; then
    run helm rollback "$HELM_RELEASE" 0 -n "$NAMESPACE" --wait --timeout "$HELM_TIMEOUT" --cleanup-on-fail
  else
    echo "rollback: $HELM_RELEASE has no earlier revision; left as it is" >&2
  fi
fi

# 3. The Function app: the staging slot holds the code production ran before the swap.
if [ -n "$FUNCTIONAPP" ]; then
  run az functionapp deployment slot swap --resource-group "$RESOURCE_GROUP" --name "$FUNCTIONAPP" \
    --slot staging --target-slot production
fi
echo "rollback: done" >&2
