"""Every workflow step that calls a deploy script, run as the runner would (bash -eo pipefail) with DRY_RUN=1,
its `${{ }}` expressions filled in, and az, helm, kubectl, docker, gh, sleep and pip replaced by stubs that only
log: the steps' own arguments reach the scripts and parse, and the decisive steps print the commands they must."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from tests.pipeline.conftest import ROOT, all_workflows, commands, load_yaml, tool_dirs

SHA = "0123456789abcdef0123456789abcdef01234567"
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
    "steps.infra.outputs.workload_client_id": "11111111-2222-3333-4444-555555555555",
    "steps.release.outputs.sha": SHA,
    "github.token": "",
    "github.event_name": "push",
    # on main the registry expression resolves to the production registry
    "github.base_ref && vars.PR_ACR_NAME || vars.ACR_NAME": "var-acr-name",
    "needs.build.outputs.digest": "sha256:" + "ab" * 32,
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
    """A workspace with the repository's scripts, and a bin folder of stubs."""
    root = tmp_path_factory.mktemp("runner")
    (root / "scripts").symlink_to(ROOT / "scripts")
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
             tmp_path: Path) -> tuple[subprocess.CompletedProcess[str], str, str]:
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
    result = subprocess.run(["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", script], cwd=sandbox,
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
    called = {re.search(r"scripts/deploy/(\S+)", p.values[2]["run"]).group(1)  # type: ignore[union-attr,index]
              for p in script_steps()}
    assert called == {"notify.sh", "infra.sh", "traffic.py", "canary.py", "rollback.sh", "smoke_test.py",
                      "health_gate.py", "dr-drill.sh"}


def named(job_id: str, fragment: str) -> tuple[dict[str, Any], dict[str, Any]]:
    for param in script_steps():
        doc, job, step = param.values
        if job == job_id and fragment in step.get("name", ""):
            return doc, step  # type: ignore[return-value]
    raise AssertionError(f"no step {fragment!r} in {job_id}")


def test_the_canary_rollback_step_restores_the_old_slot(sandbox: Path, tmp_path: Path) -> None:
    doc, step = named("canary-analysis", "Roll back")
    result, _, _ = run_step(doc, "canary-analysis", step, sandbox, tmp_path)
    assert result.returncode == 0, result.stderr
    lines = commands(result.stdout)
    assert lines == [
        "kubectl patch scaledobject transcoder-blue -n media --type merge -p "
        """'{"metadata":{"annotations":{"autoscaling.keda.sh/paused-replicas":null}},"spec":{"maxReplicaCount":10}}'""",
        "kubectl patch scaledobject transcoder-green -n media --type merge -p "
        """'{"metadata":{"annotations":{"autoscaling.keda.sh/paused-replicas":"0"}},"spec":{"maxReplicaCount":10}}'""",
        "az functionapp deployment slot swap --resource-group var-resource-group --name var-functionapp-name "
        "--slot staging --target-slot production",
    ]


def test_the_canary_steps_compare_the_new_slot_with_the_old(sandbox: Path, tmp_path: Path) -> None:
    doc, step = named("canary-analysis", "Canary at 20%")
    result, _, _ = run_step(doc, "canary-analysis", step, sandbox, tmp_path)
    queries = [line for line in commands(result.stdout) if line.startswith("GET var-prometheus-query-url/")]
    assert len(queries) == 10
    assert all('service="transcoder-green"' in q and 'cluster="var-aks-cluster"' in q for q in queries[:5])
    assert all('service="transcoder-blue"' in q for q in queries[5:])
    assert all("[20m]" in q for q in queries)


def test_the_staging_slot_step_feeds_the_job_outputs(sandbox: Path, tmp_path: Path) -> None:
    doc, step = named("deploy-staging", "Which slot serves now")
    result, output, _ = run_step(doc, "deploy-staging", step, sandbox, tmp_path)
    assert result.returncode == 0, result.stderr
    assert output == "live=\nidle=blue\n"  # a dry run sees no cluster: the first deploy's answer
    assert "+ kubectl get scaledobjects.keda.sh,scaledjobs.keda.sh -n media" in result.stderr


def test_the_production_rollback_step_rolls_the_release_and_the_function_back(sandbox: Path, tmp_path: Path) -> None:
    doc, step = named("deploy-production", "Roll the region back")
    result, _, _ = run_step(doc, "deploy-production", step, sandbox, tmp_path)
    assert commands(result.stdout) == [
        "helm rollback transcoder-blue 0 -n media --wait --timeout 20m --cleanup-on-fail",
        "az functionapp deployment slot swap --resource-group rg-var-resource-prefix-westeurope --name "
        "func-var-resource-prefix-westeurope --slot staging --target-slot production"]


def test_the_production_health_gate_reads_the_region(sandbox: Path, tmp_path: Path) -> None:
    doc, step = named("deploy-production", "Health gate")
    result, _, _ = run_step(doc, "deploy-production", step, sandbox, tmp_path)
    lines = commands(result.stdout)
    assert lines[:3] == ["sleep 600", "helm status transcoder-blue -n media -o json",
                         "kubectl get pods -n media -l app.kubernetes.io/instance=transcoder-blue -o json"]
    assert all('cluster="aks-var-resource-prefix-westeurope"' in line for line in lines if line.startswith("GET "))
