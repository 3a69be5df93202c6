#!/usr/bin/env bash
# Deploy the dashboard's build (the `dashboard` artifact: dashboard/dist) to the environment's static web app.
#
#   dashboard_deploy.sh --resource-group RG --name SITE --client-id ID --tenant-id TENANT [--source build/dashboard]
#
# 1. The app setting the sign-in reads its client id from (AZURE_CLIENT_ID; `set` adds or changes, keeping the rest),
#    and a warning when the client secret's setting (AZURE_CLIENT_SECRET_APP_SETTING_NAME) is missing: an operator
#    sets that one once per site (docs/deploy.md), as no secret is kept in the repository or its GitHub secrets.
# 2. A copy of the build (--stage-dir) with the tenant in the config file's openIdIssuer: the build is the same for
#    every environment, and its config file holds the placeholder __ENTRA_TENANT_ID__.
# 3. The site's deployment token (az staticwebapp secrets list), masked in the job's log, and the copy deployed to
#    the production environment with the Static Web Apps CLI at a pinned version.
#
# --dry-run (or DRY_RUN=1) prints the commands instead of running them; the token prints as ***.
# Exits 0 when deployed, 2 on bad input, and with the failed command's status otherwise.
set -euo pipefail

SWA_CLI="@azure/static-web-apps-cli@2.0.10"
PLACEHOLDER="__ENTRA_TENANT_ID__"
CONFIG=staticwebapp.config.json
DRY_RUN=${DRY_RUN:-0}
RESOURCE_GROUP=""
NAME=""
CLIENT_ID=""
TENANT_ID=""
SOURCE=build/dashboard
STAGE=build/dashboard-site
SECRET_SETTING=AZURE_CLIENT_SECRET_APP_SETTING_NAME
TOKEN=""

usage() { sed -n '2,15p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2; }
die() { echo "dashboard_deploy: $*" >&2; exit 2; }

while [ $# -gt 0 ]; do
  case "$1" in
    --resource-group) RESOURCE_GROUP=${2:?}; shift 2 ;;
    --name) NAME=${2:?}; shift 2 ;;
    --client-id) CLIENT_ID=${2:?}; shift 2 ;;
    --tenant-id) TENANT_ID=${2:?}; shift 2 ;;
    --source) SOURCE=${2:?}; shift 2 ;;
    --stage-dir) STAGE=${2:?}; shift 2 ;;
    -n|--dry-run) DRY_RUN=1; shift ;;
    -h|--help) usage ;;
    *) die "unknown option $1" ;;
  esac
done

case "$DRY_RUN" in 1|true|yes) DRY_RUN=1 ;; *) DRY_RUN=0 ;; esac
[ -n "$RESOURCE_GROUP" ] || die "--resource-group is required"
[ -n "$NAME" ] || die "--name is required (the dashboardName output of the templates)"
[ -n "$CLIENT_ID" ] || die "--client-id is required (the Entra ID app registration the dashboard signs in with)"
# a GUID or a verified domain: it goes into a URL and a sed expression
[[ "$TENANT_ID" =~ ^[A-Za-z0-9][A-Za-z0-9.-]*$ ]] || die "--tenant-id ${TENANT_ID@Q} is not a tenant id or domain"
case "$STAGE" in ""|/|.|"$SOURCE") die "--stage-dir ${STAGE@Q} would overwrite the build" ;; esac

# each argument as the shell would read it, with the token as ***
show() {
  local arg quoted out=""
  for arg in "$@"; do
    quoted=$(printf '%q' "$arg")
    if [ -n "$TOKEN" ]; then quoted=${quoted//"$(printf '%q' "$TOKEN")"/***}; fi
    out+=" $quoted"
  done
  printf '+%s\n' "$out"
}

run() {
  if [ "$DRY_RUN" = 1 ]; then
    show "$@"
  else
    show "$@" >&2
    "$@"
  fi
}

if [ "$DRY_RUN" != 1 ]; then
  [ -f "$SOURCE/index.html" ] || die "no build in $SOURCE (index.html): download the dashboard artifact first"
  grep -q "$PLACEHOLDER" "$SOURCE/$CONFIG" 2>/dev/null || die "$SOURCE/$CONFIG has no $PLACEHOLDER to fill in"
fi

# 1. the sign-in's settings, before the content whose config file reads them; of the secret only whether it is set
run az staticwebapp appsettings set --name "$NAME" --resource-group "$RESOURCE_GROUP" \
  --setting-names "AZURE_CLIENT_ID=$CLIENT_ID" --output none
has_secret=(az staticwebapp appsettings list --name "$NAME" --resource-group "$RESOURCE_GROUP"
            --query "contains(keys(properties), '$SECRET_SETTING')" -o tsv)
if [ "$DRY_RUN" = 1 ]; then
  show "${has_secret[@]}"
else
  show "${has_secret[@]}" >&2
  if [ "$("${has_secret[@]}")" != true ]; then
    echo "::warning::$NAME has no $SECRET_SETTING setting: sign-in fails until an operator sets the client secret" \
      "(docs/deploy.md)"
  fi
fi

# 2. the environment's copy of the build
run rm -rf "$STAGE"
run mkdir -p "$STAGE"
run cp -R "$SOURCE/." "$STAGE/"
run sed -i "s/$PLACEHOLDER/$TENANT_ID/g" "$STAGE/$CONFIG"
if [ "$DRY_RUN" != 1 ] && grep -q "$PLACEHOLDER" "$STAGE/$CONFIG"; then
  echo "dashboard_deploy: $STAGE/$CONFIG still holds $PLACEHOLDER" >&2
  exit 1
fi

# 3. the token (never printed: masked before anything could echo it), then the content
token_cmd=(az staticwebapp secrets list --name "$NAME" --resource-group "$RESOURCE_GROUP"
           --query properties.apiKey -o tsv)
if [ "$DRY_RUN" = 1 ]; then
  show "${token_cmd[@]}"
  TOKEN="<deployment-token>"
else
  show "${token_cmd[@]}" >&2
  TOKEN=$("${token_cmd[@]}")
  [ -n "$TOKEN" ] || { echo "dashboard_deploy: $NAME returned no deployment token" >&2; exit 1; }
  echo "::add-mask::$TOKEN"
fi
# install scripts off: the CLI needs none (its one native dependency stores interactive logins, unused here)
run env npm_config_ignore_scripts=true npx --yes "$SWA_CLI" deploy "$STAGE" --swa-config-location "$STAGE" \
  --deployment-token "$TOKEN" --env production
[ "$DRY_RUN" = 1 ] || echo "dashboard_deploy: $STAGE deployed to $NAME (production)" >&2
