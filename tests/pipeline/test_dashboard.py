"""The dashboard in the pipeline: the build job builds and tests it (npm) and keeps dashboard/dist as the `dashboard`
artifact; dev, staging and each production region deploy that artifact to their static web app after the Function
app's code, with scripts/deploy/dashboard_deploy.sh (run here in dry-run from the workflow's own steps, and for real
against a fake az and npx); the static web app's config file (dashboard/public, copied into dist by Vite) requires a
sign-in everywhere, with the Entra ID provider the templates and the script fill in."""

from __future__ import annotations

import json
import os
import re
import shlex
from pathlib import Path
from typing import Any

import pytest

from tests.pipeline.conftest import DELIVERY, ROOT, SCRIPTS, commands, load_yaml, run_script, tools_env
from tests.pipeline.test_steps_offline import make_sandbox, run_step

DASHBOARD = ROOT / "dashboard"
CONFIG = DASHBOARD / "public" / "staticwebapp.config.json"
SCRIPT = SCRIPTS / "dashboard_deploy.sh"
DEPLOY_JOBS = ["deploy-dev", "deploy-staging", "deploy-production"]
PLACEHOLDER = "__ENTRA_TENANT_ID__"


def pinned_cli() -> str:
    match = re.search(r'^SWA_CLI="(@azure/static-web-apps-cli@[^"]+)"$', SCRIPT.read_text(), flags=re.M)
    assert match, "dashboard_deploy.sh names no Static Web Apps CLI"
    return match.group(1)


def uses(step: dict[str, Any]) -> str:
    return str(step.get("uses", ""))


def dashboard_step(job: dict[str, Any]) -> int:
    found = [i for i, s in enumerate(job["steps"]) if "scripts/deploy/dashboard_deploy.sh" in s.get("run", "")]
    assert len(found) == 1, found
    return found[0]


def expected_commands(group: str, tenant: str, names: str = "out") -> list[list[str]]:
    """The argv of each command the dry run prints (it quotes them as the shell would read them); ``names``: the
    prefix of the test values of the outputs the step reads (test_steps_offline.KNOWN)."""
    site = ["--name", f"{names}-dashboard-name", "--resource-group", group]
    stage = "build/dashboard-site"
    return [
        ["az", "staticwebapp", "appsettings", "set", *site, "--setting-names",
         f"AZURE_CLIENT_ID={names}-dashboard-client-id", "--output", "none"],
        ["az", "staticwebapp", "appsettings", "list", *site, "--query",
         "contains(keys(properties), 'AZURE_CLIENT_SECRET_APP_SETTING_NAME')", "-o", "tsv"],
        ["rm", "-rf", stage],
        ["mkdir", "-p", stage],
        ["cp", "-R", "build/dashboard/.", f"{stage}/"],
        ["sed", "-i", f"s/{PLACEHOLDER}/{tenant}/g", f"{stage}/staticwebapp.config.json"],
        ["az", "staticwebapp", "secrets", "list", *site, "--query", "properties.apiKey", "-o", "tsv"],
        ["env", "npm_config_ignore_scripts=true", "npx", "--yes", pinned_cli(), "deploy", stage,
         "--swa-config-location", stage, "--deployment-token", "***", "--env", "production"],
    ]


def printed(stdout: str) -> list[list[str]]:
    return [shlex.split(line) for line in commands(stdout)]


# -- the build ----------------------------------------------------------------------------------------------------

def test_the_build_job_builds_tests_and_keeps_the_dashboard() -> None:
    steps = load_yaml(DELIVERY)["jobs"]["build"]["steps"]
    npm = [i for i, s in enumerate(steps) if "npm" in s.get("run", "")]
    assert len(npm) == 1
    step = steps[npm[0]]
    assert step["working-directory"] == "dashboard"
    assert step["run"].strip() == "npm ci && npm run build && npm test"  # a failed test fails the build
    node = [i for i, s in enumerate(steps) if uses(s).startswith("actions/setup-node@")]
    assert node and node[0] < npm[0] and steps[node[0]]["with"]["node-version"] == "20"
    upload = steps[npm[0] + 1]
    assert uses(upload).startswith("actions/upload-artifact@")
    assert upload["with"] == {"name": "dashboard", "path": "dashboard/dist/", "retention-days": 30,
                              "if-no-files-found": "error"}
    assert "if" not in upload  # only a build that passed its tests is kept


def test_npm_builds_into_dist_with_the_public_folder_and_tests_with_vitest() -> None:
    package = json.loads((DASHBOARD / "package.json").read_text())
    assert "vite build" in package["scripts"]["build"] and package["scripts"]["test"] == "vitest run"
    assert (DASHBOARD / "package-lock.json").is_file()  # npm ci installs exactly the lock file
    vite = (DASHBOARD / "vite.config.ts").read_text()
    assert 'outDir: "dist"' in vite
    assert "publicDir" not in vite  # Vite's default, public/, is copied into dist as it is
    built = DASHBOARD / "dist" / CONFIG.name
    if built.exists():  # after `npm run build`: the file reached the artifact's folder unchanged
        assert built.read_text() == CONFIG.read_text()


# -- the deploys --------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("job_id", DEPLOY_JOBS)
def test_each_deploy_job_deploys_the_artifact_after_the_function_code(job_id: str) -> None:
    job = load_yaml(DELIVERY)["jobs"][job_id]
    steps = job["steps"]
    at = dashboard_step(job)
    # dev's templates are deployed by storage-setup, which deploy-dev needs: before any of its steps
    infra = -1 if job_id == "deploy-dev" else next(i for i, s in enumerate(steps) if s.get("id") == "infra")
    swap = next(i for i, s in enumerate(steps) if "az functionapp deployment slot swap" in s.get("run", ""))
    assert infra < swap < at
    download = [i for i, s in enumerate(steps[:at]) if uses(s).startswith("actions/download-artifact@")
                and s["with"]["name"] == "dashboard"]
    assert len(download) == 1 and steps[download[0]]["with"]["path"] == "build/dashboard"
    step = steps[at]
    # dev's names are storage-setup's outputs; staging and production deploy their templates in the job
    source = "needs.storage-setup.outputs" if job_id == "deploy-dev" else "steps.infra.outputs"
    assert step["env"] == {
        "DASHBOARD_NAME": f"${{{{ {source}.dashboard_name }}}}",
        "DASHBOARD_CLIENT_ID": f"${{{{ {source}.dashboard_client_id }}}}",
        "DASHBOARD_TENANT_ID": f"${{{{ {source}.dashboard_tenant_id }}}}"}
    argv = shlex.split(step["run"].replace("\\\n", " "))
    assert argv[0] == "scripts/deploy/dashboard_deploy.sh"
    assert argv[argv.index("--source") + 1] == "build/dashboard"
    assert argv[argv.index("--resource-group") + 1] == "$RESOURCE_GROUP"
    # the templates need the app registration's client id at every deployment
    assert job["env"]["DASHBOARD_CLIENT_ID"] == "${{ vars.DASHBOARD_CLIENT_ID }}"
    for s in steps:
        if "infra_deploy.py" in s.get("run", ""):
            assert '--dashboard-client-id "$DASHBOARD_CLIENT_ID"' in s["run"], s.get("name")


@pytest.mark.parametrize(("job_id", "group", "names"), [("deploy-dev", "var-resource-group", "dev"),
                                                        ("deploy-staging", "var-resource-group", "out"),
                                                        ("deploy-production", "rg-var-resource-prefix-westeurope",
                                                         "out")])
def test_the_deploy_step_prints_the_az_and_npx_commands_in_dry_run(job_id: str, group: str, names: str,
                                                                   tmp_path: Path) -> None:
    doc = load_yaml(DELIVERY)
    step = doc["jobs"][job_id]["steps"][dashboard_step(doc["jobs"][job_id])]
    (tmp_path / "runner").mkdir()
    result, _, stubs = run_step(doc, job_id, step, make_sandbox(tmp_path / "runner"), tmp_path)
    assert result.returncode == 0, f"{result.stdout}\n{result.stderr}"
    assert stubs == ""  # printed, never run
    assert printed(result.stdout) == expected_commands(group, f"{names}-dashboard-tenant-id", names)


def test_the_cli_is_pinned_to_an_exact_published_version() -> None:
    assert re.fullmatch(r"@azure/static-web-apps-cli@\d+\.\d+\.\d+", pinned_cli())


def test_the_pipeline_never_handles_the_client_secret() -> None:
    """The client secret is set once per site by an operator (docs/deploy.md): no GitHub secret carries it, and the
    script only asks whether the setting exists (a yes or no), never its value."""
    text = SCRIPT.read_text()
    assert "AZURE_CLIENT_SECRET_APP_SETTING_NAME=" not in text and "DASHBOARD_CLIENT_SECRET" not in text
    assert "secrets.DASHBOARD" not in DELIVERY.read_text()
    assert re.search(r"--query \"contains\(keys\(properties\), '\$SECRET_SETTING'\)\" -o tsv", text)


@pytest.mark.parametrize(("args", "why"), [
    (["--name", "s", "--client-id", "c", "--tenant-id", "t"], "--resource-group is required"),
    (["--resource-group", "rg", "--client-id", "c", "--tenant-id", "t"], "--name is required"),
    (["--resource-group", "rg", "--name", "s", "--tenant-id", "t"], "--client-id is required"),
    (["--resource-group", "rg", "--name", "s", "--client-id", "c", "--tenant-id", "t/../x"], "is not a tenant id"),
    (["--resource-group", "rg", "--name", "s", "--client-id", "c", "--tenant-id", "t", "--stage-dir",
      "build/dashboard"], "would overwrite the build"),
])
def test_bad_input_exits_2(args: list[str], why: str) -> None:
    result = run_script("dashboard_deploy.sh", "--dry-run", *args)
    assert result.returncode == 2 and why in result.stderr and result.stdout == ""


FAKE_AZ = """#!/usr/bin/env bash
echo "az $*" >> "$FAKE_LOG"
case "$*" in
  "staticwebapp secrets list"*) echo "tok3n-0123456789abcdef" ;;
  "staticwebapp appsettings list"*) echo "${HAS_SECRET:-true}" ;;
esac
"""
FAKE_NPX = """#!/usr/bin/env bash
echo "npx $* ignore_scripts=${npm_config_ignore_scripts:-}" >> "$FAKE_LOG"
cp "build/dashboard-site/staticwebapp.config.json" "$FAKE_DIR/deployed-config.json"
ls build/dashboard-site > "$FAKE_DIR/deployed-files.txt"
"""


@pytest.fixture
def fakes(tmp_path: Path) -> dict[str, str]:
    (tmp_path / "bin").mkdir()
    for name, text in (("az", FAKE_AZ), ("npx", FAKE_NPX)):
        (tmp_path / "bin" / name).write_text(text)
        (tmp_path / "bin" / name).chmod(0o755)
    build = tmp_path / "work" / "build" / "dashboard"
    (build / "assets").mkdir(parents=True)
    (build / "index.html").write_text("<!doctype html>")
    (build / "assets" / "index.js").write_text("console.log(1)")
    (build / "staticwebapp.config.json").write_text(CONFIG.read_text())
    env = tools_env(FAKE_LOG=str(tmp_path / "calls.log"), FAKE_DIR=str(tmp_path))
    env["PATH"] = f"{tmp_path / 'bin'}{os.pathsep}{env['PATH']}"
    return env


def deploy(env: dict[str, str], tmp_path: Path) -> Any:
    return run_script("dashboard_deploy.sh", "--resource-group", "rg-dev", "--name", "stapp-transcoder-dev-eus",
                      "--client-id", "99999999-8888-7777-6666-555555555555", "--tenant-id",
                      "00000000-1111-2222-3333-444444444444", env=env, cwd=tmp_path / "work")


def test_a_real_run_sets_the_client_id_fills_the_tenant_and_deploys_with_a_masked_token(fakes: dict[str, str],
                                                                                       tmp_path: Path) -> None:
    result = deploy(fakes, tmp_path)
    assert result.returncode == 0, result.stderr
    calls = (tmp_path / "calls.log").read_text().splitlines()
    assert calls == [
        "az staticwebapp appsettings set --name stapp-transcoder-dev-eus --resource-group rg-dev --setting-names "
        "AZURE_CLIENT_ID=99999999-8888-7777-6666-555555555555 --output none",
        "az staticwebapp appsettings list --name stapp-transcoder-dev-eus --resource-group rg-dev --query "
        "contains(keys(properties), 'AZURE_CLIENT_SECRET_APP_SETTING_NAME') -o tsv",
        "az staticwebapp secrets list --name stapp-transcoder-dev-eus --resource-group rg-dev --query "
        "properties.apiKey -o tsv",
        f"npx --yes {pinned_cli()} deploy build/dashboard-site --swa-config-location build/dashboard-site "
        "--deployment-token tok3n-0123456789abcdef --env production ignore_scripts=true"]
    # the token is masked before anything could print it, and the script never prints it
    assert result.stdout.splitlines() == ["::add-mask::tok3n-0123456789abcdef"]
    assert "tok3n" not in result.stderr
    assert "--deployment-token *** --env production" in result.stderr
    deployed = json.loads((tmp_path / "deployed-config.json").read_text())
    issuer = deployed["auth"]["identityProviders"]["azureActiveDirectory"]["registration"]["openIdIssuer"]
    assert issuer == "https://login.microsoftonline.com/00000000-1111-2222-3333-444444444444/v2.0"
    assert (tmp_path / "deployed-files.txt").read_text().split() == ["assets", "index.html",
                                                                     "staticwebapp.config.json"]
    # the artifact itself is left as it was: the next environment fills in its own tenant
    assert PLACEHOLDER in (tmp_path / "work" / "build" / "dashboard" / "staticwebapp.config.json").read_text()


def test_a_site_without_the_client_secret_is_deployed_with_a_warning(fakes: dict[str, str], tmp_path: Path) -> None:
    """The first deployment of an environment creates the site: its secret can only be set after that."""
    result = deploy({**fakes, "HAS_SECRET": "false"}, tmp_path)
    assert result.returncode == 0, result.stderr
    warning = [line for line in result.stdout.splitlines() if line.startswith("::warning::")]
    assert warning == ["::warning::stapp-transcoder-dev-eus has no AZURE_CLIENT_SECRET_APP_SETTING_NAME setting: "
                       "sign-in fails until an operator sets the client secret (docs/deploy.md)"]
    assert (tmp_path / "calls.log").read_text().splitlines()[-1].startswith("npx ")


@pytest.mark.parametrize("broken", ["no build", "no placeholder"])
def test_nothing_is_deployed_from_a_build_it_cannot_fill_in(fakes: dict[str, str], tmp_path: Path,
                                                            broken: str) -> None:
    build = tmp_path / "work" / "build" / "dashboard"
    if broken == "no build":
        (build / "index.html").unlink()
    else:
        (build / "staticwebapp.config.json").write_text("{}")
    result = deploy(fakes, tmp_path)
    assert result.returncode == 2 and not (tmp_path / "calls.log").exists(), result.stderr


# -- the config file ----------------------------------------------------------------------------------------------

def config() -> dict[str, Any]:
    return json.loads(CONFIG.read_text())  # type: ignore[no-any-return]


def test_every_route_requires_a_sign_in() -> None:
    routes = config()["routes"]
    assert routes[-1] == {"route": "/*", "allowedRoles": ["authenticated"]}  # the catch-all, last
    assert {"route": "/api/*", "allowedRoles": ["authenticated"]} in routes
    for route in routes:
        assert route.get("allowedRoles") == ["authenticated"], route  # nothing anonymous, nothing wider
    override = config()["responseOverrides"]["401"]
    assert override["statusCode"] == 302 and override["redirect"].startswith("/.auth/login/aad")


def test_the_single_page_app_falls_back_to_index_html_but_not_for_the_api_or_assets() -> None:
    fallback = config()["navigationFallback"]
    assert fallback["rewrite"] == "/index.html"
    assert {"/api/*", "/assets/*"} <= set(fallback["exclude"])


def test_the_sign_in_is_entra_id_from_the_app_settings_with_the_roles_from_the_api() -> None:
    auth = config()["auth"]
    assert list(auth["identityProviders"]) == ["azureActiveDirectory"]  # a custom provider: the others are off
    registration = auth["identityProviders"]["azureActiveDirectory"]["registration"]
    assert registration == {
        "openIdIssuer": f"https://login.microsoftonline.com/{PLACEHOLDER}/v2.0",
        "clientIdSettingName": "AZURE_CLIENT_ID",
        "clientSecretSettingName": "AZURE_CLIENT_SECRET_APP_SETTING_NAME"}
    # the app role `admin` reaches the API's principal as a role through the roles function
    assert auth["rolesSource"] == "/api/roles"
    text = SCRIPT.read_text()
    assert f'PLACEHOLDER="{PLACEHOLDER}"' in text
    assert "AZURE_CLIENT_ID=$CLIENT_ID" in text and "SECRET_SETTING=AZURE_CLIENT_SECRET_APP_SETTING_NAME" in text
