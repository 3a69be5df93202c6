"""Infrastructure as code in the pipeline: the validation job compiles and lints the Bicep templates and keeps the
ARM JSON as an artifact; every deploy of them (dev, staging, each production region, the drill's region) goes
through scripts/deploy/infra_deploy.py, which runs a what-if first, in the same job and step, with the environment's
parameter file; the jobs read the names the templates give from the deployment's outputs; the imperative script
that created the environments before the templates is gone."""

from __future__ import annotations

import json
import re
import shlex
import subprocess
from pathlib import Path
from typing import Any

import infra_deploy  # scripts/deploy/infra_deploy.py: conftest puts scripts/deploy on sys.path
import pytest

from tests.pipeline.conftest import DR, ROOT, SCRIPTS, all_workflows, commands, load_yaml, run_script, tools_env
from tests.pipeline.test_steps_offline import make_sandbox, run_step

ENVS = ["dev", "staging", "production-eastus", "production-westeurope", "production-southeastasia"]
OUTPUTS = re.findall(r"^output\s+(\w+)\s", (ROOT / "infra" / "main.bicep").read_text(), flags=re.M)
PRINTED = {"resource_group", "deployment", *(infra_deploy.snake(o) for o in OUTPUTS)}
GONE = "infra" + ".sh"


def az_lines(stdout: str) -> list[list[str]]:
    return [shlex.split(line) for line in commands(stdout)]


CLIENT = "99999999-8888-7777-6666-555555555555"


def params(env: str, events: bool = False, principal: str = "oid-1") -> list[str]:
    return ["--template-file", "build/infra/main.json", "--parameters", f"@infra/params/{env}.parameters.json",
            "--parameters", "alertEmail=ops@example.com", f"dashboardClientId={CLIENT}",
            f"pipelinePrincipalId={principal}", f"enableBlobEvents={'true' if events else 'false'}"]


# -- the script ---------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("env", ENVS)
def test_what_if_then_create_then_the_outputs_with_the_envs_parameter_file(env: str) -> None:
    result = run_script("infra_deploy.py", "--env", env, "--resource-group", f"rg-{env}", "--alert-email",
                        "ops@example.com", "--dashboard-client-id", CLIENT, "--pipeline-principal-id", "oid-1",
                        "--dry-run")
    assert result.returncode == 0, result.stderr
    group = ["--resource-group", f"rg-{env}", "--name", f"transcoder-{env}"]
    assert az_lines(result.stdout) == [
        ["az", "deployment", "group", "what-if", *group, *params(env)],
        ["az", "deployment", "group", "create", *group, *params(env), "--output", "none"],
        ["az", "deployment", "group", "show", *group, "--query", "properties.outputs", "--output", "json"]]
    printed = [line for line in result.stdout.splitlines() if not line.startswith("+ ")]
    assert printed[:2] == [f"resource_group=rg-{env}", f"deployment=transcoder-{env}"]
    assert printed[2:] == [f"{infra_deploy.snake(o)}=<{o}>" for o in OUTPUTS]


def test_the_second_deployment_subscribes_the_function_to_the_uploads() -> None:
    result = run_script("infra_deploy.py", "--env", "staging", "--resource-group", "rg-s", "--alert-email",
                        "ops@example.com", "--dashboard-client-id", CLIENT, "--pipeline-principal-id", "oid-1",
                        "--blob-events", "--dry-run")
    assert result.returncode == 0, result.stderr
    what_if, create, _ = az_lines(result.stdout)
    assert what_if[3] == "what-if" and create[3] == "create"
    assert what_if[8:] == params("staging", events=True) and create[8:-2] == params("staging", events=True)


def test_what_if_only_and_outputs_only() -> None:
    base = ["--env", "production-eastus", "--resource-group", "rg-p", "--alert-email", "a@b", "--dashboard-client-id",
            CLIENT, "--dry-run"]
    lines = az_lines(run_script("infra_deploy.py", *base, "--what-if-only").stdout)
    assert [line[:4] for line in lines] == [["az", "deployment", "group", "what-if"]]
    result = run_script("infra_deploy.py", "--env", "production-eastus", "--resource-group", "rg-p", "--outputs-only",
                        "--dry-run")  # reading needs no alert address
    assert result.returncode == 0, result.stderr
    assert [line[:4] for line in az_lines(result.stdout)] == [["az", "deployment", "group", "show"]]
    assert "aks_name=<aksName>" in result.stdout.splitlines()


def test_a_region_from_nothing_creates_its_group_and_overrides_the_file() -> None:
    result = run_script("infra_deploy.py", "--env", "production-eastus", "--resource-group", "rg-transcoder-dr",
                        "--alert-email", "a@b", "--dashboard-client-id", CLIENT, "--create-group", "--set",
                        "location=westus3", "--set", "regionShort=dr", "--dry-run")
    assert result.returncode == 0, result.stderr
    lines = az_lines(result.stdout)
    assert lines[0] == ["az", "group", "create", "--name", "rg-transcoder-dr", "--location", "westus3", "--output",
                        "none"]
    assert lines[1][3] == "what-if" and lines[1][-2:] == ["location=westus3", "regionShort=dr"]
    # without an override the group goes where the file says
    result = run_script("infra_deploy.py", "--env", "production-westeurope", "--resource-group", "rg-w",
                        "--alert-email", "a@b", "--dashboard-client-id", CLIENT, "--create-group", "--dry-run")
    assert az_lines(result.stdout)[0][6] == "westeurope"


@pytest.mark.parametrize(("args", "why"), [
    (["--env", "qa", "--resource-group", "rg"], "no parameter file infra/params/qa.parameters.json"),
    (["--env", "dev", "--resource-group", "rg"], "--alert-email (or ALERT_EMAIL) is required"),
    (["--env", "dev", "--resource-group", "rg", "--alert-email", "a@b"],
     "--dashboard-client-id (or DASHBOARD_CLIENT_ID) is required"),
    (["--env", "dev", "--resource-group", "rg", "--alert-email", "a@b", "--dashboard-client-id", "c", "--set",
      "location"], "give PARAM=VALUE"),
    (["--env", "dev", "--resource-group", "rg", "--alert-email", "a@b", "--dashboard-client-id", "c", "--set",
      "enableBlobEvents=true"], "use its own option"),
    (["--env", "dev", "--resource-group", "rg", "--alert-email", "a@b", "--dashboard-client-id", "c", "--set",
      "dashboardClientId=d"], "use its own option"),
])
def test_bad_input_exits_2(args: list[str], why: str) -> None:
    result = run_script("infra_deploy.py", *args, "--dry-run", env=tools_env(ALERT_EMAIL="", DASHBOARD_CLIENT_ID=""))
    assert result.returncode == 2 and why in result.stderr and "+ az" not in result.stdout


FAKE_AZ = """#!/usr/bin/env bash
echo "$*" >> "$AZ_LOG"
case "$*" in
  "deployment group what-if"*) [ -z "$FAIL_WHAT_IF" ] || { echo "InvalidTemplate" >&2; exit 1; }
                               echo "Resource changes: 1 to create." ;;
  "deployment group create"*) [ -z "$FAIL_CREATE" ] || { echo "DeploymentFailed" >&2; exit 1; } ;;
  "deployment group show"*) cat "$OUTPUTS_FILE" ;;
esac
"""


@pytest.fixture
def fake_az(tmp_path: Path) -> dict[str, str]:
    (tmp_path / "bin").mkdir()
    (tmp_path / "bin" / "az").write_text(FAKE_AZ)
    (tmp_path / "bin" / "az").chmod(0o755)
    (tmp_path / "build" / "infra").mkdir(parents=True)
    (tmp_path / "build" / "infra" / "main.json").write_text("{}")
    (tmp_path / "outputs.json").write_text(json.dumps({
        "aksName": {"type": "String", "value": "aks-transcoder-dev-eus"},
        "workloadClientId": {"type": "String", "value": "11111111-2222-3333-4444-555555555555"},
        "gpuPools": {"type": "Array", "value": ["gpu"]}}))
    env = tools_env(AZ_LOG=str(tmp_path / "az.log"), OUTPUTS_FILE=str(tmp_path / "outputs.json"))
    env["PATH"] = f"{tmp_path / 'bin'}:{env['PATH']}"
    return env


def deploy(env: dict[str, str], cwd: Path, **extra: str) -> subprocess.CompletedProcess[str]:
    return run_script("infra_deploy.py", "--env", "dev", "--resource-group", "rg-dev", "--alert-email", "a@b",
                      "--dashboard-client-id", CLIENT, "--params-dir", str(ROOT / "infra" / "params"),
                      env={**env, **extra}, cwd=cwd)


def test_the_outputs_are_read_back_after_the_what_if_was_kept(fake_az: dict[str, str], tmp_path: Path) -> None:
    result = deploy(fake_az, tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == ["resource_group=rg-dev", "deployment=transcoder-dev",
                                          "aks_name=aks-transcoder-dev-eus",
                                          "workload_client_id=11111111-2222-3333-4444-555555555555",
                                          'gpu_pools=["gpu"]']
    calls = Path(fake_az["AZ_LOG"]).read_text().splitlines()
    assert [c.split(" --")[0] for c in calls] == ["deployment group what-if", "deployment group create",
                                                  "deployment group show"]
    assert (tmp_path / "build/infra/what-if-dev.txt").read_text() == "Resource changes: 1 to create.\n"
    assert "Resource changes: 1 to create." in result.stderr  # printed in the job's log too


def test_nothing_is_deployed_when_the_what_if_fails(fake_az: dict[str, str], tmp_path: Path) -> None:
    result = deploy(fake_az, tmp_path, FAIL_WHAT_IF="1")
    assert result.returncode == 1 and "InvalidTemplate" in result.stderr and result.stdout == ""
    assert [c.split(" --")[0] for c in Path(fake_az["AZ_LOG"]).read_text().splitlines()] == [
        "deployment group what-if"]


def test_a_failed_deployment_prints_no_outputs(fake_az: dict[str, str], tmp_path: Path) -> None:
    result = deploy(fake_az, tmp_path, FAIL_CREATE="1")
    assert result.returncode == 1 and "DeploymentFailed" in result.stderr and result.stdout == ""


def test_without_the_compiled_template_nothing_runs(fake_az: dict[str, str], tmp_path: Path) -> None:
    (tmp_path / "build" / "infra" / "main.json").unlink()
    result = deploy(fake_az, tmp_path)
    assert result.returncode == 2 and "az bicep build --file infra/main.bicep" in result.stderr
    assert not Path(fake_az["AZ_LOG"]).exists()


# -- the workflows ------------------------------------------------------------------------------------------------

def test_validation_compiles_and_lints_the_templates_and_keeps_the_json() -> None:
    steps = load_yaml(ROOT / ".github/workflows/delivery.yml")["jobs"]["validation"]["steps"]
    build = next(i for i, s in enumerate(steps) if "az bicep build" in s.get("run", ""))
    run = steps[build]["run"]
    assert "az bicep build --file infra/main.bicep --outdir build/infra" in run
    assert "for template in infra/main.bicep infra/modules/*.bicep; do" in run
    assert 'az bicep lint --file "$template"' in run
    # main.bicep includes the subscription-scope module: one build compiles both
    assert "module costAnomaly 'modules/cost-anomaly.bicep'" in (ROOT / "infra/main.bicep").read_text()
    upload = steps[build + 1]
    assert upload["uses"].startswith("actions/upload-artifact@")
    assert upload["with"]["name"] == "infra-templates" and upload["with"]["path"] == "build/infra/"
    assert upload["with"]["if-no-files-found"] == "error"
    tests = next(s for s in steps if "pytest" in s.get("run", ""))
    assert "tests/infra" in tests["run"].split() and "DEPLOY_TOOLS_BIN" in tests["env"]  # pycep and checkov


def infra_steps() -> list[Any]:
    """Every step of every workflow that deploys the templates (infra_deploy.py without --outputs-only)."""
    found = []
    for path in all_workflows():
        doc = load_yaml(path)
        for job_id, job in doc["jobs"].items():
            for index, step in enumerate(job["steps"]):
                run = step.get("run", "")
                if "infra_deploy.py" in run and "--outputs-only" not in run:
                    found.append(pytest.param(doc, job_id, index, id=f"{path.stem}:{job_id}:{index}"))
    return found


def test_the_deploys_are_the_ones_expected() -> None:
    where = [(p.id.split(":")[1], "--blob-events" in p.values[0]["jobs"][p.values[1]]["steps"][p.values[2]]["run"])
             for p in infra_steps()]
    # dev's first phase is storage-setup's, its second deploy-dev's; staging, production and the drill deploy both
    expected = [("storage-setup", False), ("deploy-dev", True)] + [
        (job, events) for job in ("deploy-staging", "deploy-production", "disaster-recovery")
        for events in (False, True)]
    assert where == expected


@pytest.mark.parametrize(("doc", "job_id", "index"), infra_steps())
def test_every_deploy_of_the_templates_is_preceded_by_its_what_if(doc: dict[str, Any], job_id: str, index: int,
                                                                  tmp_path: Path) -> None:
    """Run as the runner would (offline): the what-if comes first, in the same step, then the deployment of the same
    template with the same parameter file, group and name."""
    step = doc["jobs"][job_id]["steps"][index]
    (tmp_path / "runner").mkdir()
    result, output, stubs = run_step(doc, job_id, step, make_sandbox(tmp_path / "runner"), tmp_path)
    assert result.returncode == 0, f"{result.stdout}\n{result.stderr}"
    assert stubs == ""
    lines = [line for line in az_lines(result.stdout) if line[:3] == ["az", "deployment", "group"]]
    assert [line[3] for line in lines] == ["what-if", "create", "show"]
    what_if, create = lines[0][4:], lines[1][4:-2]
    assert what_if == create and f"enableBlobEvents={str('--blob-events' in step['run']).lower()}" in create
    param_file = create[create.index("--parameters") + 1]
    env = {"storage-setup": "dev", "deploy-dev": "dev", "deploy-staging": "staging",
           "deploy-production": "production-westeurope", "disaster-recovery": "production-eastus"}[job_id]
    folder = "release/infra/params" if job_id == "disaster-recovery" else "infra/params"
    assert param_file == f"@{folder}/{env}.parameters.json"
    assert create[create.index("--template-file") + 1] == "build/infra/main.json"
    if step.get("id") == "infra":  # the first deployment hands the names to the job
        assert {line.split("=", 1)[0] for line in output.splitlines()} == PRINTED


@pytest.mark.parametrize(("doc", "job_id", "index"), infra_steps())
def test_the_template_and_the_what_if_record_are_in_the_job(doc: dict[str, Any], job_id: str, index: int) -> None:
    steps = doc["jobs"][job_id]["steps"]
    before = steps[:index]
    compiled = any(s.get("with", {}).get("name") == "infra-templates" for s in before
                   if str(s.get("uses", "")).startswith("actions/download-artifact@")) or any(
        "az bicep build --file release/infra/main.bicep --outdir build/infra" in s.get("run", "") for s in before)
    assert compiled, "the compiled template reaches the job before its deploy"
    kept = [s for s in steps[index:] if str(s.get("uses", "")).startswith("actions/upload-artifact@")
            and "build/infra/what-if-*.txt" in s["with"]["path"]]
    assert kept and kept[0]["if"] == "always()"


def test_nothing_deploys_the_templates_around_the_script() -> None:
    for path in all_workflows():
        text = path.read_text()
        assert not re.search(r"az deployment (group|sub|mg|tenant) (create|what-if)", text), path.name


# where each deploy job reads its environment's names: dev's from storage-setup, the others' from their own step
NAMES_FROM = {"deploy-dev": "needs.storage-setup.outputs", "deploy-staging": "steps.infra.outputs",
              "deploy-production": "steps.infra.outputs"}


@pytest.mark.parametrize("job_id", list(NAMES_FROM))
def test_each_deploy_job_deploys_its_infrastructure_first_and_the_events_after_the_code(job_id: str) -> None:
    jobs = load_yaml(ROOT / ".github/workflows/delivery.yml")["jobs"]
    steps = jobs[job_id]["steps"]
    names = [s.get("name", "") for s in steps]
    if job_id == "deploy-dev":  # deployed by the job it needs, before any of its steps
        assert "storage-setup" in jobs[job_id]["needs"]
        assert any(s.get("id") == "infra" for s in jobs["storage-setup"]["steps"])
        infra = -1
    else:
        infra = next(i for i, s in enumerate(steps) if s.get("id") == "infra")
    helm = next(i for i, s in enumerate(steps) if "helm upgrade" in s.get("run", ""))
    swap = next(i for i, s in enumerate(steps) if "slot swap" in s.get("run", ""))
    events = next(i for i, s in enumerate(steps) if "--blob-events" in s.get("run", ""))
    assert infra < helm < swap < events, names
    imported = next(i for i, s in enumerate(steps) if "az acr import" in s.get("run", ""))
    assert infra < imported < helm
    run = steps[imported]["run"]
    source = NAMES_FROM[job_id]
    # the scanned digest, into the registry the templates gave the environment, which its cluster pulls from
    assert '--source "$IMAGE_REPOSITORY@${{ needs.build.outputs.digest }}"' in run
    assert steps[imported]["env"]["REGISTRY_NAME"] == f"${{{{ {source}.registry_name }}}}"
    assert steps[helm]["env"]["DEPLOY_REPOSITORY"] == f"${{{{ {source}.acr_login_server }}}}/transcoder-worker"


def test_storage_setup_runs_the_what_if_before_the_create_of_dev_and_hands_its_outputs_on(tmp_path: Path) -> None:
    """Run as the runner would (offline): storage-setup's step runs dev's what-if, then the first deployment
    (enableBlobEvents=false), then writes every name deploy-dev reads to $GITHUB_OUTPUT; deploy-dev itself runs
    only the second phase (enableBlobEvents=true)."""
    doc = load_yaml(ROOT / ".github/workflows/delivery.yml")
    setup = doc["jobs"]["storage-setup"]
    (step,) = [s for s in setup["steps"] if "infra_deploy.py" in s.get("run", "")]
    (tmp_path / "runner").mkdir()
    sandbox = make_sandbox(tmp_path / "runner")
    result, output, stubs = run_step(doc, "storage-setup", step, sandbox, tmp_path)
    assert result.returncode == 0, f"{result.stdout}\n{result.stderr}"
    assert stubs == ""
    lines = [line for line in az_lines(result.stdout) if line[:3] == ["az", "deployment", "group"]]
    assert [line[3] for line in lines] == ["what-if", "create", "show"]
    group = ["--resource-group", "var-resource-group", "--name", "transcoder-dev"]
    first = ["--template-file", "build/infra/main.json", "--parameters", "@infra/params/dev.parameters.json",
             "--parameters", "alertEmail=var-alert-email", "dashboardClientId=var-dashboard-client-id",
             "pipelinePrincipalId=var-pipeline-principal-id", "enableBlobEvents=false"]
    assert lines[0][4:] == [*group, *first]
    assert lines[1][4:] == [*group, *first, "--output", "none"]
    written = dict(line.split("=", 1) for line in output.splitlines())
    assert set(written) == PRINTED and written["resource_group"] == "var-resource-group"
    exposed = {key: re.fullmatch(r"\$\{\{ steps\.infra\.outputs\.(\w+) \}\}", value)
               for key, value in setup["outputs"].items()}
    assert all(match and match.group(1) == key for key, match in exposed.items()), setup["outputs"]
    assert set(setup["outputs"]) <= set(written)
    # deploy-dev: no first phase of its own, the second after the code
    deploys = [s for s in doc["jobs"]["deploy-dev"]["steps"] if "infra_deploy.py" in s.get("run", "")]
    assert len(deploys) == 1 and "--blob-events" in deploys[0]["run"]
    (tmp_path / "events").mkdir()
    result, _, stubs = run_step(doc, "deploy-dev", deploys[0], sandbox, tmp_path / "events")
    assert result.returncode == 0, f"{result.stdout}\n{result.stderr}"
    lines = [line for line in az_lines(result.stdout) if line[:3] == ["az", "deployment", "group"]]
    second = [*first[:-1], "enableBlobEvents=true"]
    assert [line[3:] for line in lines[:2]] == [["what-if", *group, *second],
                                                ["create", *group, *second, "--output", "none"]]


def test_the_names_come_from_the_outputs_not_from_variables() -> None:
    declared: dict[str, set[str]] = {}
    for path in all_workflows():
        doc = load_yaml(path)
        for job_id, job in doc["jobs"].items():
            declared[job_id] = set(job.get("outputs", {}))
        text = path.read_text()
        # what the templates name is never a variable any more
        assert not re.search(r"vars\.(STORAGE_ACCOUNT\b|STORAGE_ACCOUNT_PREFIX|AKS_CLUSTER|FUNCTIONAPP_NAME|"
                             r"WORKLOAD_CLIENT_ID|PROMETHEUS_QUERY_URL|STAGING_|LOCATION\b)", text), path.name
        for step_id, key in re.findall(r"steps\.(infra|source)\.outputs\.(\w+)", text):
            assert key in PRINTED, f"{path.name}: steps.{step_id}.outputs.{key} is not an output infra_deploy.py prints"
    for path in all_workflows():
        for job_id, key in re.findall(r"needs\.([\w-]+)\.outputs\.(\w+)", path.read_text()):
            assert key in declared[job_id], f"{path.name}: {job_id} has no output {key}"


def test_the_drill_builds_its_region_from_the_production_templates() -> None:
    steps = load_yaml(DR)["jobs"]["disaster-recovery"]["steps"]
    infra = next(s for s in steps if s.get("id") == "infra")["run"]
    for needle in ['--env "production-$SOURCE_REGION"', '--resource-group "$RESOURCE_GROUP"', "--create-group",
                   '--set location="$LOCATION"', "--set regionShort=dr", "--set deployCostAnomalyAlert=false",
                   "--params-dir release/infra/params"]:
        assert needle in infra, needle


def test_the_imperative_script_is_gone_and_nothing_names_it() -> None:
    assert not (SCRIPTS / GONE).exists()
    files = subprocess.run(["git", "ls-files", "--cached", "--others", "--exclude-standard"], cwd=ROOT,
                           capture_output=True, text=True, check=True).stdout.split()
    # functions_app/README.md belongs to the Function app's own documentation, maintained with that code
    mine = [f for f in files if not f.startswith("functions_app/") and (ROOT / f).is_file()
            and Path(f).suffix in {".py", ".sh", ".yml", ".yaml", ".md", ".bicep", ".json", ".toml", ".txt", ""}]
    naming = [f for f in mine if GONE in (ROOT / f).read_text(errors="replace")]
    assert naming == []
