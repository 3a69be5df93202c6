"""Every workflow step that calls a deploy script, run as the runner would (bash -eo pipefail) with DRY_RUN=1,
its `${{ }}` expressions filled in, and az, helm, kubectl, docker, gh, sleep and pip replaced by stubs that only
log: the steps' own arguments reach the scripts and parse, and the decisive steps print the commands they must:
each job's rollback step the commands that undo its deploy, each canary step the load of its bake and an analysis
from the bake's start."""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import bake_load  # scripts/deploy/bake_load.py: conftest puts scripts/deploy on sys.path
import canary
import pytest

from tests.pipeline.conftest import DELIVERY, ROOT, all_workflows, commands, load_yaml, tool_dirs

SHA = "0123456789abcdef0123456789abcdef01234567"
# the names storage-setup hands deploy-dev (its job outputs, from dev's deployment): dev-<name> in the tests, so a step
# that read them from anywhere else would print other names
STORAGE_SETUP_OUTPUTS = ["registry_name", "acr_login_server", "aks_name", "media_storage_account_name",
                         "jobs_queue_name", "records_table_endpoint", "workload_client_id", "keda_client_id",
                         "function_app_name", "dashboard_name", "dashboard_client_id", "dashboard_tenant_id"]
RECORDED_SINCE = int(time.time()) - 900  # an epoch second a step recorded earlier in its job
KNOWN = {
    "github.sha": SHA,
    "github.ref": "refs/heads/main",
    "github.job": "job",
    "github.workspace": ".",
    "matrix.region": "westeurope",
    "matrix.short": "weu",
    "steps.slots.outputs.idle": "green",
    "steps.slots.outputs.live": "blue",
    "needs.performance-test.outputs.new_slot": "green",
    "needs.performance-test.outputs.old_slot": "blue",
    "needs.deploy-staging.outputs.new_slot": "green",
    "needs.deploy-staging.outputs.old_slot": "blue",
    "steps.swap.outcome": "success",
    "steps.release.outputs.sha": SHA,
    "steps.judged.outputs.since": str(RECORDED_SINCE),
    "github.token": "",
    "github.event_name": "push",
    # on main the registry expression resolves to the production registry
    "github.base_ref && vars.PR_ACR_NAME || vars.ACR_NAME": "var-acr-name",
    "needs.build.outputs.digest": "sha256:" + "ab" * 32,
    **{f"needs.storage-setup.outputs.{key}": "dev-" + key.replace("_", "-") for key in STORAGE_SETUP_OUTPUTS},
}
STUBS = ["az", "helm", "kubectl", "docker", "gh", "sleep", "curl"]


def resolve(expr: str, env: dict[str, str]) -> str:
    expr = expr.strip()
    if "secrets." in expr:
        return ""  # no webhook in tests: notify only logs
    default = re.search(r"\|\|\s*'([^']*)'", expr)
    if default:
        return default.group(1)
    if expr in KNOWN:
        return KNOWN[expr]
    if expr.startswith("env."):
        return env.get(expr[4:], "")
    if expr.startswith("vars."):
        return "var-" + expr[5:].lower().replace("_", "-")
    if expr.startswith("needs.storage-setup."):
        raise AssertionError(f"{expr}: not one of the outputs storage-setup hands on (STORAGE_SETUP_OUTPUTS)")
    output = re.fullmatch(r"(?:steps|needs)\.[\w-]+\.outputs\.(\w+)", expr)
    if output:  # the outputs of the infrastructure step (its dry run prints placeholders) and their job outputs
        return "out-" + output.group(1).replace("_", "-")
    raise AssertionError(f"no test value for the expression {expr!r}")


def fill(text: str, env: dict[str, str]) -> str:
    return re.sub(r"\$\{\{(.*?)\}\}", lambda m: resolve(m.group(1), env), str(text))


def script_steps() -> list[Any]:
    found = []
    for path in all_workflows():
        doc = load_yaml(path)
        for job_id, job in doc["jobs"].items():
            for step in job["steps"]:
                if "scripts/deploy/" in step.get("run", ""):
                    label = f"{path.stem}:{job_id}:{step.get('name', step['run'].split()[0])}"
                    found.append(pytest.param(doc, job_id, step, id=label))
    return found


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_sandbox(tmp_path_factory.mktemp("runner"))


def make_sandbox(root: Path) -> Path:
    """A workspace with the repository's scripts, and a bin folder of stubs."""
    (root / "scripts").symlink_to(ROOT / "scripts")
    (root / "infra").symlink_to(ROOT / "infra")  # the parameter files infra_deploy.py and compliance.py read
    (root / "release").symlink_to(ROOT)  # the drill's checkout of the release
    stubs = root / "stubs"
    stubs.mkdir()
    for name in STUBS:
        (stubs / name).write_text(f'#!/bin/sh\necho "{name} $*" >> "$STUB_LOG"\n')
        (stubs / name).chmod(0o755)
    for name in ("python", "python3"):
        (stubs / name).write_text('#!/bin/sh\nif [ "$1" = -m ] && [ "$2" = pip ]; then echo "pip $*" >> "$STUB_LOG"; '
                                  f'exit 0; fi\nexec "{sys.executable}" "$@"\n')
        (stubs / name).chmod(0o755)
    return root


def run_step(doc: dict[str, Any], job_id: str, step: dict[str, Any], sandbox: Path,
             tmp_path: Path, xtrace: bool = False) -> tuple[subprocess.CompletedProcess[str], str, str]:
    """Run one step; with ``xtrace`` (bash -x) stderr shows every command with its arguments expanded."""
    env: dict[str, str] = {}
    for layer in (doc.get("env", {}), doc["jobs"][job_id].get("env", {}), step.get("env", {})):
        for key, value in layer.items():
            env[key] = fill(value, env)
    output, log = tmp_path / "output", tmp_path / "stubs.log"
    output.touch()
    log.touch()
    tools = os.pathsep.join(str(d) for d in tool_dirs() if d.is_dir())
    env.update({"DRY_RUN": "1", "GITHUB_OUTPUT": str(output), "GITHUB_ENV": str(tmp_path / "env"),
                "GITHUB_PATH": str(tmp_path / "path"), "GITHUB_JOB": job_id, "GITHUB_RUN_ID": "77",
                "STARTED": str(int(time.time())), "STUB_LOG": str(log), "PYTHON": sys.executable,
                "HOME": str(tmp_path), "PATH": f"{sandbox / 'stubs'}{os.pathsep}{tools}{os.pathsep}/usr/bin:/bin"})
    script = fill(step["run"], env)
    result = subprocess.run(["bash", "--noprofile", "--norc", "-xeo" if xtrace else "-eo", "pipefail", "-c", script],
                            cwd=sandbox,
                            env=env, capture_output=True, text=True, timeout=60)
    return result, output.read_text(), log.read_text()


@pytest.mark.parametrize(("doc", "job_id", "step"), script_steps())
def test_the_step_runs_in_dry_run(doc: dict[str, Any], job_id: str, step: dict[str, Any], sandbox: Path,
                                  tmp_path: Path) -> None:
    result, _, stubs = run_step(doc, job_id, step, sandbox, tmp_path)
    assert result.returncode == 0, f"{step.get('name')}:\n{result.stdout}\n{result.stderr}"
    # the scripts themselves never reached a real tool: only the step's own lines may use the stubs
    scripts_in_step = re.findall(r"scripts/deploy/\S+", step["run"])
    assert scripts_in_step
    if not re.search(r"^\s*(az|helm|kubectl|docker|gh|sleep|curl|python -m pip)\b", step["run"], flags=re.M):
        assert stubs.strip() == "", f"a script ran a tool in dry-run:\n{stubs}"


def test_the_steps_cover_every_script() -> None:
    called = {name for p in script_steps()
              for name in re.findall(r"scripts/deploy/([\w.-]+)", p.values[2]["run"])}
    assert called == {"notify.sh", "infra_deploy.py", "compliance.py", "traffic.py", "canary.py", "rollback.sh",
                      "smoke_test.py", "health_gate.py", "dr-drill.sh", "bake_load.py", "dashboard_deploy.sh"}


def named(job_id: str, fragment: str) -> tuple[dict[str, Any], dict[str, Any]]:
    for param in script_steps():
        doc, job, step = param.values
        if job == job_id and fragment in step.get("name", ""):
            return doc, step  # type: ignore[return-value]
    raise AssertionError(f"no step {fragment!r} in {job_id}")


def staging_undo(group: str, app: str) -> list[str]:
    """The old slot (blue) takes the whole queue again, the new one (green) is paused, the Function app's slots are
    swapped back."""
    return [
        "kubectl patch scaledobject transcoder-blue -n media --type merge -p "
        """'{"metadata":{"annotations":{"autoscaling.keda.sh/paused-replicas":null}},"spec":{"maxReplicaCount":10}}'""",
        "kubectl patch scaledobject transcoder-green -n media --type merge -p "
        """'{"metadata":{"annotations":{"autoscaling.keda.sh/paused-replicas":"0"}},"spec":{"maxReplicaCount":10}}'""",
        f"az functionapp deployment slot swap --resource-group {group} --name {app} "
        "--slot staging --target-slot production",
    ]


# deploy-staging names its Function app from its infrastructure step; the jobs after it from its outputs
STAGING_UNDO = staging_undo("out-resource-group", "out-functionapp-name")
PRODUCTION_UNDO = [  # the region's release to its previous revision, its Function app swapped back
    "helm rollback transcoder-blue 0 -n media --wait --timeout 20m --cleanup-on-fail",
    "az functionapp deployment slot swap --resource-group rg-var-resource-prefix-westeurope --name "
    "out-function-app-name --slot staging --target-slot production"]
UNDO = {
    "deploy-staging": staging_undo("var-resource-group", "out-function-app-name"),
    "performance-test": STAGING_UNDO,
    "canary-analysis": STAGING_UNDO,
    "e2e-test": STAGING_UNDO,
    "compliance-validation": STAGING_UNDO,
    "deploy-production": PRODUCTION_UNDO,
    "smoke-test": PRODUCTION_UNDO,
    "monitoring": PRODUCTION_UNDO,
}


def rollback_step(job_id: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """The job's one step that runs when the job failed and calls rollback.sh."""
    found = [(p.values[0], p.values[2]) for p in script_steps() if p.values[1] == job_id
             and "failure()" in str(p.values[2].get("if", ""))
             and "scripts/deploy/rollback.sh" in p.values[2]["run"]]
    assert len(found) == 1, f"{job_id}: {len(found)} rollback steps on failure, expected one"
    return found[0]


def test_every_job_from_staging_on_is_undone() -> None:
    jobs = list(load_yaml(DELIVERY)["jobs"])
    assert list(UNDO) == jobs[jobs.index("deploy-staging"):]


@pytest.mark.parametrize("job_id", list(UNDO))
def test_the_rollback_step_undoes_the_deploy(job_id: str, sandbox: Path, tmp_path: Path) -> None:
    doc, step = rollback_step(job_id)
    result, _, stubs = run_step(doc, job_id, step, sandbox, tmp_path)
    assert result.returncode == 0, f"{result.stdout}\n{result.stderr}"
    assert commands(result.stdout) == UNDO[job_id]
    assert stubs == ""  # printed in dry-run, never run


def traced_scripts(stderr: str) -> list[list[str]]:
    """The deploy scripts a step ran (bash -x), as argv with the arguments expanded."""
    return [shlex.split(line[2:]) for line in stderr.splitlines()
            if re.match(r"\+ (python3? )?scripts/deploy/", line)]


@pytest.mark.parametrize("percent", [20, 50])
def test_the_canary_steps_load_the_bake_then_compare_the_new_slot_with_the_old(percent: int, sandbox: Path,
                                                                               tmp_path: Path) -> None:
    doc, step = named("canary-analysis", f"Canary at {percent}%")
    before = int(time.time())
    result, _, stubs = run_step(doc, "canary-analysis", step, sandbox, tmp_path, xtrace=True)
    assert result.returncode == 0, f"{result.stdout}\n{result.stderr}"
    assert stubs == ""
    lines = commands(result.stdout)
    # first the load: the uploads that give this share its minimum of jobs, through the staging account's ingest
    plan = bake_load.plan(percent, 20)
    argv = shlex.split(lines[0])
    assert argv[1:3] == ["-m", "loadtest"], lines[0]
    assert argv[argv.index("--scenarios") + 1] == "ingest"
    assert argv[argv.index("--account-url") + 1] == "https://out-storage-account.blob.core.windows.net"
    assert argv[argv.index("--users") + 1] == str(plan.uploads)
    assert argv[argv.index("--out") + 1] == f"build/canary/{percent}/load"
    assert argv[argv.index("--max-enqueue-p95-ms") + 1] == "60000"  # a real account's limit, not Azurite's
    assert "--skip-queue-check" in argv
    assert lines[1] == "sleep until 900s after the start"
    # the load test's own parser takes every option the step hands it
    parsed = subprocess.run([sys.executable, *argv[1:], "--dry-run"], cwd=ROOT, capture_output=True, text=True,
                            timeout=60)
    assert parsed.returncode == 0, parsed.stderr
    assert f"--users {plan.uploads} " in parsed.stdout and "IngestUploadUser" in parsed.stdout
    # then the analysis: every signal of the new slot, then of the old, in the staging cluster
    queries = [line for line in lines if line.startswith("GET out-prometheus-query-url/")]
    half = len(canary.SIGNAL_NAMES)
    assert len(queries) == 2 * half
    assert all('service="transcoder-green"' in q and 'cluster="out-aks-cluster"' in q for q in queries[:half])
    assert all('service="transcoder-blue"' in q and 'cluster="out-aks-cluster"' in q for q in queries[half:])
    # judged from the second the bake started, before its load: not over a fixed window
    load, analysis = traced_scripts(result.stderr)
    assert load[1] == "scripts/deploy/bake_load.py" and analysis[1] == "scripts/deploy/canary.py"
    assert load[load.index("--percent") + 1] == str(percent)
    since = int(analysis[analysis.index("--since") + 1])
    assert before <= since <= int(time.time())
    assert "--window" not in analysis
    assert analysis[analysis.index("--min-jobs") + 1] == load[load.index("--min-jobs") + 1] == "20"
    assert analysis[analysis.index("--record-dir") + 1] == f"build/canary/{percent}"


def test_the_staging_slot_step_feeds_the_job_outputs(sandbox: Path, tmp_path: Path) -> None:
    doc, step = named("deploy-staging", "Which slot serves now")
    result, output, _ = run_step(doc, "deploy-staging", step, sandbox, tmp_path)
    assert result.returncode == 0, result.stderr
    assert output == "live=\nidle=blue\n"  # a dry run sees no cluster: the first deploy's answer
    assert "+ kubectl get scaledobjects.keda.sh,scaledjobs.keda.sh -n media" in result.stderr


def test_storage_setup_hands_dev_names_to_deploy_dev(sandbox: Path, tmp_path: Path) -> None:
    """storage-setup's step writes every name it exposes to $GITHUB_OUTPUT (its dry run prints each template output),
    its job outputs are exactly STORAGE_SETUP_OUTPUTS, and deploy-dev's steps read those: its dashboard deploy names
    dev's site, and its second deployment of dev's templates (the event subscription) runs after the code."""
    doc = load_yaml(DELIVERY)
    setup = doc["jobs"]["storage-setup"]
    assert set(setup["outputs"]) == set(STORAGE_SETUP_OUTPUTS)
    (step,) = [s for s in setup["steps"] if s.get("id") == "infra"]
    result, output, stubs = run_step(doc, "storage-setup", step, sandbox, tmp_path)
    assert result.returncode == 0, f"{result.stdout}\n{result.stderr}"
    assert stubs == ""
    written = dict(line.split("=", 1) for line in output.splitlines())
    for key, value in setup["outputs"].items():
        source = re.fullmatch(r"\$\{\{ steps\.infra\.outputs\.(\w+) \}\}", value)
        assert source and source.group(1) in written, (key, value)
    az = [line for line in commands(result.stdout) if line.startswith("az deployment group ")]
    assert [line.split()[3] for line in az] == ["what-if", "create", "show"]
    assert all("--resource-group var-resource-group --name transcoder-dev " in line for line in az)
    assert "enableBlobEvents=false" in az[0] and "enableBlobEvents=false" in az[1]

    _, dashboard = named("deploy-dev", "Dashboard")
    result, _, stubs = run_step(doc, "deploy-dev", dashboard, sandbox, tmp_path)
    assert result.returncode == 0, f"{result.stdout}\n{result.stderr}"
    assert stubs == ""
    printed = commands(result.stdout)
    assert printed[0].startswith("az staticwebapp appsettings set --name dev-dashboard-name "
                                 "--resource-group var-resource-group --setting-names "
                                 "AZURE_CLIENT_ID=dev-dashboard-client-id")
    assert "s/__ENTRA_TENANT_ID__/dev-dashboard-tenant-id/g" in "\n".join(printed)

    _, events = named("deploy-dev", "Upload events")
    result, _, stubs = run_step(doc, "deploy-dev", events, sandbox, tmp_path)
    assert result.returncode == 0, f"{result.stdout}\n{result.stderr}"
    az = [line for line in commands(result.stdout) if line.startswith("az deployment group ")]
    assert [line.split()[3] for line in az] == ["what-if", "create", "show"]
    assert "enableBlobEvents=true" in az[0] and "enableBlobEvents=true" in az[1]
    steps = doc["jobs"]["deploy-dev"]["steps"]
    assert steps.index(events) > max(i for i, s in enumerate(steps) if "slot swap" in s.get("run", ""))
    assert [s for s in steps if "infra_deploy.py" in s.get("run", "")] == [events]


def test_the_production_health_gate_judges_the_region_from_before_the_smoke_test(sandbox: Path,
                                                                                 tmp_path: Path) -> None:
    doc = load_yaml(DELIVERY)
    steps = doc["jobs"]["deploy-production"]["steps"]
    judged = next(s for s in steps if s.get("id") == "judged")
    smoke = next(s for s in steps if "smoke_test.py" in s.get("run", ""))
    assert steps.index(judged) < steps.index(smoke)
    before = int(time.time())
    result, output, _ = run_step(doc, "deploy-production", judged, sandbox, tmp_path)
    assert result.returncode == 0, result.stderr
    assert re.fullmatch(r"since=\d+\n", output) and before <= int(output[6:]) <= int(time.time())

    doc, step = named("deploy-production", "Health gate")
    result, _, _ = run_step(doc, "deploy-production", step, sandbox, tmp_path, xtrace=True)
    assert result.returncode == 0, f"{result.stdout}\n{result.stderr}"
    lines = commands(result.stdout)
    assert lines[:3] == ["sleep 600", "helm status transcoder-blue -n media -o json",
                         "kubectl get pods -n media -l app.kubernetes.io/instance=transcoder-blue -o json"]
    assert all('cluster="out-aks-name"' in line for line in lines if line.startswith("GET "))
    (gate,) = traced_scripts(result.stderr)
    assert gate[gate.index("--since") + 1] == str(RECORDED_SINCE) and "--window" not in gate
