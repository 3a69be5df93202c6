#!/usr/bin/env bash
# Post a pipeline event to a chat webhook (Slack, Teams workflows and most incoming webhooks read "text").
#
#   notify.sh failure                      # in a step with `if: failure()`
#   notify.sh success "production: all regions healthy"
#
# The URL comes from NOTIFY_WEBHOOK_URL (a secret or a variable); without one the event is only logged. The run's
# context comes from the GITHUB_* variables every job has. Best effort: a webhook that does not answer gives a
# warning, never a failed step. --dry-run (or DRY_RUN=1) prints the request instead of sending it.
set -euo pipefail

DRY_RUN=${DRY_RUN:-0}
if [ "${1:-}" = "--dry-run" ] || [ "${1:-}" = "-n" ]; then DRY_RUN=1; shift; fi
STATUS=${1:?usage: notify.sh STATUS [MESSAGE]}
MESSAGE=${2:-}
PYTHON=${PYTHON:-python3}

run_url="${GITHUB_SERVER_URL:-https://github.com}/${GITHUB_REPOSITORY:-local}/actions/runs/${GITHUB_RUN_ID:-0}"
payload=$(STATUS="$STATUS" MESSAGE="$MESSAGE" RUN_URL="$run_url" "$PYTHON" -c '
import json, os
env = os.environ
fields = {"status": env["STATUS"], "workflow": env.get("GITHUB_WORKFLOW", "pipeline"), "job": env.get("GITHUB_JOB", ""),
          "ref": env.get("GITHUB_REF", ""), "sha": env.get("GITHUB_SHA", ""), "run_url": env["RUN_URL"]}
text = "{workflow}: job {job} {status} at {short}".format(short=fields["sha"][:12], **fields)
if env.get("MESSAGE"):
    text += " - " + env["MESSAGE"]
fields["text"] = text + " (" + fields["run_url"] + ")"
print(json.dumps(fields, sort_keys=True))')

if [ -z "${NOTIFY_WEBHOOK_URL:-}" ]; then
  echo "notify: no NOTIFY_WEBHOOK_URL configured; event: $payload" >&2
  exit 0
fi
if [ "$DRY_RUN" = 1 ]; then
  # the URL is a credential of sorts: never printed
  echo "+ curl --fail --silent --show-error --max-time 10 --retry 2 -H 'Content-Type: application/json' --data \"\$payload\" <NOTIFY_WEBHOOK_URL>"
  echo "payload: $payload"
  exit 0
fi
if ! curl --fail --silent --show-error --max-time 10 --retry 2 -H 'Content-Type: application/json' \
    --data "$payload" "$NOTIFY_WEBHOOK_URL" >/dev/null; then
  echo "::warning::notify: the webhook did not accept the $STATUS event"
fi
