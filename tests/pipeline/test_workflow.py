"""The delivery workflow as data: the job chain, identity, image, gates, staging traffic, the load of the
performance test and of each canary step, rollback after every failed job from staging on, production rollout,
timeouts, concurrency, notifications and retention."""

from __future__ import annotations

import re
import shlex
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.pipeline.conftest import DELIVERY, ROOT, SCRIPTS, all_workflows, load_yaml, steps_of

CHAIN = ["validation", "build", "test", "security", "storage-setup", "deploy-dev", "integration-test-dev",
         "deploy-staging", "performance-test", "canary-analysis", "e2e-test", "compliance-validation",
         "deploy-production", "smoke-test", "monitoring"]
REGIONS = ["eastus", "westeurope", "southeastasia"]
DEPLOY_JOBS = ["deploy-dev", "deploy-staging", "deploy-production"]
STAGING_JOBS = ["deploy-staging", "performance-test", "canary-analysis", "e2e-test", "compliance-validation"]
PRODUCTION_JOBS = ["deploy-production", "smoke-test", "monitoring"]
SHA = "${{ github.sha }}"


def needs(job: dict[str, Any]) -> list[str]:
    value = job.get("needs", [])
    return [value] if isinstance(value, str) else list(value)


def run_text(job: dict[str, Any]) -> str:
    return "\n".join(step.get("run", "") for step in job.get("steps", []))


def uses(step: dict[str, Any]) -> str:
    return str(step.get("uses", ""))


def step_named(job: dict[str, Any], fragment: str) -> dict[str, Any]:
    found = [s for s in job["steps"] if fragment in s.get("name", "")]
    assert len(found) == 1, f"expected one step named like {fragment!r}, found {[s.get('name') for s in found]}"
    return found[0]


def ancestors(jobs: dict[str, Any], name: str) -> set[str]:
    seen: set[str] = set()
    todo = needs(jobs[name])
    while todo:
        parent = todo.pop()
        if parent not in seen:
            seen.add(parent)
            todo += needs(jobs[parent])
    return seen


def test_the_jobs_form_the_chain_in_order(delivery: dict[str, Any]) -> None:
    jobs = delivery["jobs"]
    assert list(jobs) == CHAIN
    # storage-setup deploys dev's templates only: it reads no digest, and needs security alone
    digest_readers = {"deploy-dev", "deploy-staging", "compliance-validation", "deploy-production"}
    # the staging jobs after the canary read the slots for their rollback from deploy-staging itself
    slot_readers = {"e2e-test", "compliance-validation"}
    for before, job in zip(CHAIN, CHAIN[1:], strict=False):
        # the jobs that deploy or render the image also read the build's digest, which needs build directly
        expected = [before] + ["build"] * (job in digest_readers) + ["deploy-staging"] * (job in slot_readers)
        assert needs(jobs[job]) == expected, f"{job} needs {needs(jobs[job])}, expected {expected}"
    assert needs(jobs["validation"]) == []


@pytest.mark.parametrize("deploy", ["storage-setup", *DEPLOY_JOBS])
def test_nothing_is_deployed_before_its_guards_passed(delivery: dict[str, Any], deploy: str) -> None:
    guards = set(CHAIN[: CHAIN.index(deploy)])
    assert ancestors(delivery["jobs"], deploy) == guards
    assert {"validation", "build", "test", "security"} <= guards


def test_deploys_run_only_for_main(delivery: dict[str, Any]) -> None:
    for name in ("storage-setup", "deploy-dev"):
        condition = delivery["jobs"][name]["if"]
        assert "github.ref == 'refs/heads/main'" in condition and "github.event_name != 'pull_request'" in condition
    # everything after storage-setup depends on it, so a skipped storage-setup skips them all
    assert all("storage-setup" in ancestors(delivery["jobs"], j) for j in CHAIN[CHAIN.index("storage-setup") + 1:])


def test_storage_setup_deploys_dev_before_deploy_dev_which_reads_its_outputs(delivery: dict[str, Any]) -> None:
    """dev's infrastructure is a job of its own: storage-setup signs in as dev, deploys the compiled templates (the
    what-if, then the first phase, without the event subscription) and hands the names on as job outputs;
    deploy-dev reads them from there and deploys only the second phase (--blob-events) after the Function code.
    (test_infra_deploy runs the step offline: what-if, then create, then the outputs.)"""
    jobs = delivery["jobs"]
    setup, dev = jobs["storage-setup"], jobs["deploy-dev"]
    assert setup["environment"] == dev["environment"] == {"name": "dev"}
    assert setup["if"] == dev["if"]
    assert "storage-setup" in needs(dev) and needs(setup) == ["security"]
    steps = setup["steps"]
    login = next(i for i, s in enumerate(steps) if uses(s).startswith("azure/login@"))
    templates = next(i for i, s in enumerate(steps) if uses(s).startswith("actions/download-artifact@")
                     and s["with"] == {"name": "infra-templates", "path": "build/infra"})
    (infra,) = [i for i, s in enumerate(steps) if "infra_deploy.py" in s.get("run", "")]
    assert login < templates < infra and steps[infra]["id"] == "infra"
    argv = command_line(steps[infra]["run"], "python3 scripts/deploy/infra_deploy.py")
    argv, piped = argv[:argv.index("|")], argv[argv.index("|"):]
    assert piped == ["|", "tee", "build/infra/outputs.txt"]
    assert argv[argv.index("--env") + 1] == "dev" and argv[argv.index("--resource-group") + 1] == "$RESOURCE_GROUP"
    assert not {"--blob-events", "--what-if-only", "--outputs-only"} & set(argv)
    assert "grep -E '^[a-z_]+=' build/infra/outputs.txt >> \"$GITHUB_OUTPUT\"" in steps[infra]["run"]
    # the same arguments as deploy-dev's second phase, less --blob-events
    (events,) = [s for s in dev["steps"] if "infra_deploy.py" in s.get("run", "")]
    second = command_line(events["run"], "python3 scripts/deploy/infra_deploy.py")
    assert [a for a in second if a != "--blob-events"] == argv and "--blob-events" in second
    for name in ("RESOURCE_GROUP", "ALERT_EMAIL", "DASHBOARD_CLIENT_ID", "PIPELINE_PRINCIPAL_ID"):
        assert setup["env"][name] == dev["env"][name], name
    # the what-if is kept, also when the deployment failed
    (record,) = [s for s in steps[infra:] if uses(s).startswith("actions/upload-artifact@")]
    assert record["if"] == "always()"
    assert record["with"]["name"] == "infra-what-if-dev" and record["with"]["path"] == "build/infra/what-if-*.txt"
    # deploy-dev deploys no first phase and reads no step output of its own for the names: storage-setup's outputs
    assert not any(s.get("id") == "infra" for s in dev["steps"])
    assert "steps.infra." not in yaml.safe_dump(dev)
    read = set(re.findall(r"needs\.storage-setup\.outputs\.(\w+)", yaml.safe_dump(dev, width=1000)))
    assert read == set(setup["outputs"]), "storage-setup exposes exactly what deploy-dev reads"
    assert setup["outputs"] == {key: f"${{{{ steps.infra.outputs.{key} }}}}" for key in setup["outputs"]}
    assert dev["outputs"] == {"storage_account": "${{ needs.storage-setup.outputs.media_storage_account_name }}"}
    uploaded = [s["with"]["name"] for j in jobs.values() for s in j["steps"]
                if uses(s).startswith("actions/upload-artifact@")]
    assert {"infra-what-if-dev", "infra-what-if-dev-events"} <= set(uploaded)
    assert len(uploaded) == len(set(uploaded)), "an artifact name is uploaded once per run"


def test_the_build_publishes_the_pushed_digest(delivery: dict[str, Any]) -> None:
    build = delivery["jobs"]["build"]
    assert build["outputs"]["digest"] == "${{ steps.push.outputs.digest }}"
    push = next(step for step in build["steps"] if step.get("id") == "push")["run"]
    assert "RepoDigests" in push and 'echo "digest=${reference#*@}" >> "$GITHUB_OUTPUT"' in push


def test_the_identity_is_oidc_with_read_only_contents_and_tokens_per_job(delivery: dict[str, Any]) -> None:
    """An OIDC token is granted to the jobs that sign in to Azure, not to the whole workflow."""
    assert delivery["permissions"] == {"contents": "read"}
    for name, job in delivery["jobs"].items():
        signs_in = any(uses(step).startswith("azure/login@") for step in job["steps"])
        if signs_in:
            assert job["permissions"] == {"id-token": "write", "contents": "read"}, name
        else:
            assert "permissions" not in job, f"{name} needs no token and widens nothing"
    assert {n for n, j in delivery["jobs"].items() if "permissions" not in j} == {"validation", "test"}


def test_every_azure_sign_in_is_federated(delivery: dict[str, Any]) -> None:
    logins = 0
    for path in all_workflows():
        for job_id, _, step in steps_of(load_yaml(path)):
            if uses(step).lower().startswith("azure/login@"):
                logins += 1
                assert step["with"] == {"client-id": "${{ vars.AZURE_CLIENT_ID }}",
                                        "tenant-id": "${{ vars.AZURE_TENANT_ID }}",
                                        "subscription-id": "${{ vars.AZURE_SUBSCRIPTION_ID }}"}, (path.name, job_id)
    assert logins >= 12, logins
    # every job that talks to Azure signs in first
    for name, job in delivery["jobs"].items():
        text = run_text(job) + "".join(uses(s) for s in job["steps"])
        touches_azure = re.search(r"\baz (?!bicep )|helm upgrade|aks-context|smoke_test\.py|infra_deploy\.py", text)
        if touches_azure:
            first = next(i for i, s in enumerate(job["steps"]) if uses(s).startswith("azure/login@"))
            azure = (r"\baz (?!bicep )|helm |kubectl |smoke_test|health_gate|canary\.py|traffic\.py|infra_deploy\.py"
                     r"|compliance\.py")
            azure_steps = [i for i, s in enumerate(job["steps"])
                           if re.search(azure, s.get("run", "")) or "aks-context" in uses(s)]
            assert azure_steps and first < min(azure_steps), name


def test_the_registry_is_reached_through_the_azure_identity(delivery: dict[str, Any]) -> None:
    build = run_text(delivery["jobs"]["build"])
    assert 'az acr login --name "$ACR_NAME"' in build
    for path in all_workflows():
        assert "docker login" not in path.read_text() and "docker/login-action" not in path.read_text()


def test_the_image_is_built_for_the_gpu_and_tagged_with_the_commit(delivery: dict[str, Any]) -> None:
    build = delivery["jobs"]["build"]
    argv = command_line(step_named(build, "Build the worker image")["run"], "docker build")
    assert argv[argv.index("--file") + 1] == "Dockerfile.gpu"
    assert argv[argv.index("--build-arg") + 1] == "ENABLE_GPU=true"
    assert argv[argv.index("--tag") + 1] == f"$IMAGE_REPOSITORY:{SHA}"
    push = step_named(build, "Push")["run"]
    assert f'docker push "$IMAGE_REPOSITORY:{SHA}"' in push
    for path in all_workflows():
        assert ":latest" not in re.sub(r"azurite:latest", "", path.read_text()), f"{path.name} uses a latest tag"
    registry = "${{ github.base_ref && vars.PR_ACR_NAME || vars.ACR_NAME }}"
    assert delivery["env"]["REGISTRY"] == registry
    assert delivery["env"]["IMAGE_REPOSITORY"] == f"{registry}.azurecr.io/transcoder-worker"


def test_pull_requests_never_push_to_the_production_registry(delivery: dict[str, Any]) -> None:
    """A pull request's build goes to PR_ACR_NAME, and fails rather than fall back to ACR_NAME when that is unset
    (the ``&& ||`` expression would fall through on an empty variable)."""
    build = delivery["jobs"]["build"]
    signin = step_named(build, "Registry sign-in")
    assert signin["env"]["ACR_NAME"] == "${{ env.REGISTRY }}"
    assert signin["env"]["PR_ACR_NAME"] == "${{ vars.PR_ACR_NAME }}"
    guard = signin["run"]
    assert '[ "$EVENT" = pull_request ] && [ -z "$PR_ACR_NAME" ]' in guard and "exit 1" in guard
    assert guard.index("exit 1") < guard.index("az acr login")
    security = delivery["jobs"]["security"]
    assert "vars.PR_ACR_NAME" in security["env"]["IMAGE"]
    # every job after security runs on main only, and reads the production registry
    for name in CHAIN[CHAIN.index("storage-setup"):]:
        assert "PR_ACR_NAME" not in yaml.safe_dump(delivery["jobs"][name]), name


def test_the_function_app_the_chart_and_the_dashboard_are_packaged_as_artifacts(delivery: dict[str, Any]) -> None:
    build = delivery["jobs"]["build"]
    assert "python -m functions_app.bundle build/functionapp --zip build/functionapp.zip" in run_text(build)
    assert 'helm package helm/transcoder --app-version "${{ github.sha }}" --destination build/chart' in run_text(build)
    uploaded = {s["with"]["name"]: s["with"]["path"] for s in build["steps"]
                if uses(s).startswith("actions/upload-artifact@")}
    assert uploaded == {"functionapp": "build/functionapp.zip", "chart": "build/chart/", "dashboard": "dashboard/dist/"}


def command_line(run: str, prefix: str) -> list[str]:
    """The argv of the one shell line of ``run`` that starts with ``prefix`` (continuations joined; ``${{ }}``
    expressions kept whole)."""
    exprs: list[str] = []

    def keep(match: re.Match[str]) -> str:
        exprs.append(match.group(0))
        return f"@EXPR{len(exprs) - 1}@"

    lines = [line.strip() for line in re.sub(r"\$\{\{.*?\}\}", keep, run).replace("\\\n", " ").splitlines()]
    found = [line for line in lines if line.startswith(prefix)]
    assert len(found) == 1, (prefix, lines)
    return [re.sub(r"@EXPR(\d+)@", lambda m: exprs[int(m.group(1))], arg) for arg in shlex.split(found[0])]


@pytest.mark.parametrize("deploy", DEPLOY_JOBS)
def test_helm_deploys_the_commit_and_waits_atomically(delivery: dict[str, Any], deploy: str) -> None:
    argv = command_line(run_text(delivery["jobs"][deploy]), "helm upgrade --install")
    sets = [argv[i + 1] for i, a in enumerate(argv) if a == "--set"]
    assert f"image.tag={SHA}" in sets
    assert "image.digest=${{ needs.build.outputs.digest }}" in sets  # what runs is what was scanned and approved
    assert "build" in delivery["jobs"][deploy]["needs"]
    assert "gpu.enabled=true" in sets and "image.repository=$DEPLOY_REPOSITORY" in sets
    assert any(s.startswith("slot=") for s in sets) and any(s.startswith("workloadIdentity.clientId=") for s in sets)
    assert argv[4].startswith("build/chart/transcoder-") and argv[4].endswith(".tgz")
    assert "--wait" in argv and "--atomic" in argv and "--timeout" in argv


@pytest.mark.parametrize("deploy", ["deploy-staging", "deploy-production"])
def test_the_gated_deploys_switch_managed_prometheus_on(delivery: dict[str, Any], deploy: str) -> None:
    """The canary and the health gates read what Azure Monitor managed Prometheus scraped through the chart's
    ServiceMonitor (azmonitoring.coreos.com): the deploys ask for it, so a cluster without it fails the install
    instead of leaving the gates without data."""
    argv = command_line(run_text(delivery["jobs"][deploy]), "helm upgrade --install")
    sets = [argv[i + 1] for i, a in enumerate(argv) if a == "--set"]
    assert [s for s in sets if s.startswith("metrics.")] == ["metrics.collection=azure-managed"]
    values = yaml.safe_load((ROOT / "helm" / "transcoder" / "values.yaml").read_text())
    assert "collection" in values["metrics"]
    helpers = (ROOT / "helm" / "transcoder" / "templates" / "_helpers.tpl").read_text()
    assert 'eq $collection "azure-managed"' in helpers and "azmonitoring.coreos.com/v1" in helpers


def test_validation_runs_every_checker(delivery: dict[str, Any]) -> None:
    text = run_text(delivery["jobs"]["validation"])
    for needle in [".venv/bin/ruff check .", ".venv/bin/mypy", "mypy --strict scripts/deploy",
                   "hadolint Dockerfile.gpu", "xargs -0 shellcheck", "actionlint",
                   "yamllint --strict -c .github/yamllint.yml .github",
                   "helm lint --strict helm/transcoder", "pytest tests/deploy tests/pipeline tests/infra",
                   "checkov --skip-download --compact --framework helm -d helm/transcoder",
                   "checkov --skip-download --compact --framework dockerfile -f Dockerfile.gpu"]:
        assert needle in text, needle


def test_the_test_job_runs_the_suite_the_vmaf_gates_and_a_reduced_load_test(delivery: dict[str, Any]) -> None:
    text = run_text(delivery["jobs"]["test"])
    assert "./dev.sh test" in text
    assert ".venv/bin/python -m pytest tests/integration -m ffmpeg" in text
    assert re.search(r"vmaf-measure \"\$dist\" \"\$ref\" --min-vmaf 90\b", text)
    assert "./dev.sh loadtest --users 100 --spawn-rate 50 --run-time 30s" in text


def test_the_security_gates(delivery: dict[str, Any]) -> None:
    security = delivery["jobs"]["security"]
    by_action = {uses(s).split("@")[0]: s for s in security["steps"] if uses(s)}
    trivy = by_action["aquasecurity/trivy-action"]["with"]
    assert trivy["severity"] == "CRITICAL" and trivy["exit-code"] == "1"
    assert trivy["image-ref"] == "${{ env.IMAGE }}"
    grype = by_action["anchore/scan-action"]["with"]
    assert grype["fail-build"] is True and grype["severity-cutoff"] == "critical"
    zap = by_action["zaproxy/action-api-scan"]["with"]
    assert zap["fail_action"] is True and zap["allow_issue_writing"] is False and zap["format"] == "openapi"
    assert (ROOT / zap["rules_file_name"]).is_file()
    spec = yaml.safe_load((ROOT / zap["target"]).read_text())
    assert set(spec["paths"]) == {"/healthz", "/readyz", "/metrics"}
    assert spec["servers"] == [{"url": "http://localhost:8080"}]
    assert security["services"]["azurite"]["image"].startswith("mcr.microsoft.com/azure-storage/azurite")
    start = step_named(security, "Start the worker container")["run"]
    assert "WORKER_STORAGE_CONNECTION_STRING=UseDevelopmentStorage=true" in start and '"$IMAGE" run' in start
    assert "--framework secrets github_actions" in run_text(security)
    registry = "${{ github.base_ref && vars.PR_ACR_NAME || vars.ACR_NAME }}"
    assert security["env"]["IMAGE"] == f"{registry}.azurecr.io/transcoder-worker:{SHA}"


def env_default(job: dict[str, Any], name: str, variable: str) -> str:
    """The default of a job's ``${{ vars.X || 'default' }}`` setting, checked to be read from that variable."""
    match = re.fullmatch(r"\$\{\{ vars\.(\w+) \|\| '([^']+)' \}\}", job["env"][name])
    assert match and match.group(1) == variable, job["env"][name]
    return match.group(2)


def test_the_performance_test_is_a_load_test_of_the_staging_account(delivery: dict[str, Any]) -> None:
    perf = delivery["jobs"]["performance-test"]
    assert perf["environment"] == {"name": "staging"}
    assert perf["env"]["STORAGE_ACCOUNT"] == "${{ needs.deploy-staging.outputs.storage_account }}"
    names = [s.get("name", "") for s in perf["steps"]]
    install = step_named(perf, "The project with its load test")
    assert install["run"] == "python -m pip install -q -e '.[loadtest]'"
    load = step_named(perf, "Load test of the staging account")
    assert "smoke_test.py" not in run_text(perf)
    assert names.index(install["name"]) < names.index(load["name"])
    argv = command_line(load["run"], "python -m loadtest")
    option = {a: argv[i + 1] for i, a in enumerate(argv[:-1]) if a.startswith("--")}
    assert option["--scenarios"] == "raw,ingest"
    assert option["--account-url"] == "https://$STORAGE_ACCOUNT.blob.core.windows.net"
    assert option["--out"] == "build/loadtest"
    assert "--skip-queue-check" in argv  # the staging workers consume the queue while it runs
    assert option["--max-lost"] == "0" and option["--max-duplicates"] == "0"
    # the load and the limits come from variables, with defaults for a real account (not Azurite's 10 s)
    settings = {"--users": "PERF_USERS", "--spawn-rate": "PERF_SPAWN_RATE", "--run-time": "PERF_RUN_TIME",
                "--max-fail-ratio": "PERF_MAX_FAIL_RATIO", "--max-upload-p95-ms": "PERF_MAX_UPLOAD_P95_MS",
                "--max-enqueue-p95-ms": "PERF_MAX_ENQUEUE_P95_MS", "--max-drain-s": "PERF_MAX_DRAIN_S"}
    defaults = {}
    for flag, variable in settings.items():
        assert option[flag] == f"${variable}", flag
        defaults[flag] = env_default(perf, variable, variable)
    assert float(defaults["--max-enqueue-p95-ms"]) >= 30_000 and float(defaults["--max-drain-s"]) >= 60
    assert float(option["--drain-timeout"]) > float(defaults["--max-drain-s"])  # a slow drain is measured, then judged
    # the step as the runner would run it parses with the load test's own options (its dry run prints locust's)
    filled = [re.sub(r"\$(\w+)", lambda m: {"STORAGE_ACCOUNT": "acct", **{v: defaults[f] for f, v in settings.items()}}
                     [m.group(1)], a) for a in argv]
    parsed = subprocess.run([sys.executable, *filled[1:], "--dry-run"], cwd=ROOT, capture_output=True, text=True,
                            timeout=60)
    assert parsed.returncode == 0, parsed.stderr
    assert parsed.stdout.count(f"--users {defaults['--users']} --spawn-rate {defaults['--spawn-rate']} "
                               f"--run-time {defaults['--run-time']} ") == 2
    # its exit code is the job's: nothing swallows it
    assert "||" not in load["run"] and "continue-on-error" not in load
    report = next(s for s in perf["steps"] if uses(s).startswith("actions/upload-artifact@"))
    assert report["if"] == "always()"
    assert report["with"]["name"] == "performance-staging" and report["with"]["path"] == "build/loadtest/"
    assert names.index(load["name"]) < perf["steps"].index(report)


def test_the_function_app_goes_through_its_staging_slot(delivery: dict[str, Any]) -> None:
    deployed = 0
    for name, job in delivery["jobs"].items():
        steps = job["steps"]
        for i, step in enumerate(steps):
            if "az functionapp deployment source config-zip" in step.get("run", ""):
                deployed += 1
                args = shlex.split(step["run"].replace("\\\n", " "))
                assert args[args.index("--slot") + 1] == "staging", name
                assert args[args.index("--src") + 1] == "build/functionapp.zip", name
                assert args[args.index("--build-remote") + 1] == "true", name
                assert args[args.index("--name") + 1] == "$FUNCTIONAPP_NAME", name
                env = {**job["env"], **step.get("env", {})}
                assert "FUNCTIONAPP_NAME" in env and "RESOURCE_GROUP" in env, name
                later = "\n".join(s.get("run", "") for s in steps[i + 1:])
                assert "az functionapp deployment slot swap" in later and "--slot staging --target-slot production" \
                    in later, name
    assert deployed == 3


def shifts(job: dict[str, Any]) -> list[int]:
    return [int(m) for m in re.findall(r"traffic\.py shift .*?--percent (\d+)", run_text(job), flags=re.S)]


def test_staging_is_blue_green_with_progressive_traffic(delivery: dict[str, Any]) -> None:
    jobs = delivery["jobs"]
    staging = jobs["deploy-staging"]
    install = step_named(staging, "Worker to the idle slot")["run"]
    assert "--set paused=true" in install and '"transcoder-$NEW_SLOT"' in install
    assert '--set slot="$NEW_SLOT"' in install
    assert "traffic.py slots" in step_named(staging, "Which slot serves now")["run"]
    assert shifts(staging) + shifts(jobs["canary-analysis"]) == [20, 50, 100]
    assert {k: v for k, v in staging["outputs"].items() if k.endswith("_slot")} == {
        "new_slot": "${{ steps.slots.outputs.idle }}", "old_slot": "${{ steps.slots.outputs.live }}"}
    # performance-test hands deploy-staging's outputs on to canary-analysis, which needs it alone
    assert jobs["performance-test"]["outputs"] == {
        key: f"${{{{ needs.deploy-staging.outputs.{key} }}}}" for key in staging["outputs"]}


def test_a_failed_canary_calls_the_rollback_script(delivery: dict[str, Any]) -> None:
    canary = delivery["jobs"]["canary-analysis"]
    names = [s.get("name", "") for s in canary["steps"]]
    analyses = [i for i, s in enumerate(canary["steps"]) if "scripts/deploy/canary.py" in s.get("run", "")]
    assert len(analyses) == 2
    for i in analyses:
        run = canary["steps"][i]["run"]
        assert '--new-slot "$NEW_SLOT" --old-slot "$OLD_SLOT"' in run and "--prometheus-url" in run
        assert "--window" not in run
    shift_50 = names.index("50% of the queue to the new slot")
    shift_100 = names.index("100% of the queue to the new slot")
    assert analyses[0] < shift_50 < analyses[1] < shift_100, "each step up is taken only after an analysis passed"
    rollback = step_named(canary, "Roll back")
    assert rollback["if"] == "failure()"
    assert "scripts/deploy/rollback.sh" in rollback["run"] and '--failed-slot "$NEW_SLOT"' in rollback["run"]
    assert names.index(rollback["name"]) > shift_100


def test_every_canary_step_bakes_under_load_sized_for_its_share(delivery: dict[str, Any]) -> None:
    """Each analysis judges a bake that had load by construction: bake_load.py at the share the traffic shift before
    it gave the new slot, then canary.py from the second the bake started."""
    jobs = delivery["jobs"]
    canary = jobs["canary-analysis"]
    assert canary["env"]["STORAGE_ACCOUNT"] == "${{ needs.performance-test.outputs.storage_account }}"
    assert env_default(canary, "CANARY_MIN_JOBS", "CANARY_MIN_JOBS") == "20"
    assert env_default(canary, "BAKE_SECONDS", "CANARY_BAKE_SECONDS") == "900"
    perf = jobs["performance-test"]
    for limit in ("PERF_MAX_FAIL_RATIO", "PERF_MAX_UPLOAD_P95_MS", "PERF_MAX_ENQUEUE_P95_MS"):
        assert canary["env"][limit] == perf["env"][limit], limit  # the ingest path's limits are the same
    assert not re.search(r"^\s*sleep\b", run_text(canary), flags=re.M), "the bake is the load's, not a bare sleep"
    steps = [*jobs["deploy-staging"]["steps"], *canary["steps"]]
    install = next(i for i, s in enumerate(steps) if "pip install -q -e '.[loadtest]'" in s.get("run", ""))
    assert any(uses(s).startswith("actions/setup-python@") for s in steps[:install])
    share = None
    analysed = []
    for i, step in enumerate(steps):
        run = step.get("run", "")
        shifted = re.search(r"traffic\.py shift .*?--percent (\d+)", run, flags=re.S)
        if shifted:
            share = shifted.group(1)
        if "scripts/deploy/canary.py" not in run:
            continue
        assert i > install
        load = command_line(run, "python3 scripts/deploy/bake_load.py run")
        analysis = command_line(run, "python3 scripts/deploy/canary.py")
        assert load[load.index("--percent") + 1] == share, (step["name"], share)
        assert load[load.index("--min-jobs") + 1] == analysis[analysis.index("--min-jobs") + 1] == "$CANARY_MIN_JOBS"
        assert load[load.index("--bake-seconds") + 1] == "$BAKE_SECONDS"
        assert load[load.index("--account-url") + 1] == "https://$STORAGE_ACCOUNT.blob.core.windows.net"
        assert load[load.index("--out") + 1] == f"build/canary/{share}/load"
        assert analysis[analysis.index("--since") + 1] == "$start"
        assert analysis[analysis.index("--record-dir") + 1] == f"build/canary/{share}"
        lines = [line.strip() for line in run.splitlines()]
        start = lines.index("start=$(date +%s)")
        assert start < next(n for n, line in enumerate(lines) if "bake_load.py" in line) < next(
            n for n, line in enumerate(lines) if "canary.py" in line)
        analysed.append(share)
    assert analysed == ["20", "50"]


def rollback_steps(job: dict[str, Any]) -> list[dict[str, Any]]:
    return [s for s in job["steps"]
            if "failure()" in str(s.get("if", "")) and "scripts/deploy/rollback.sh" in s.get("run", "")]


@pytest.mark.parametrize("name", STAGING_JOBS + PRODUCTION_JOBS)
def test_every_job_from_staging_on_rolls_back_when_it_fails(delivery: dict[str, Any], name: str) -> None:
    """What a failed job leaves deployed is undone in that job: staging's traffic and Function app, or the
    production region's release and Function app (test_steps_offline runs each step and reads the commands)."""
    jobs = delivery["jobs"]
    assert CHAIN[CHAIN.index("deploy-staging"):] == STAGING_JOBS + PRODUCTION_JOBS
    job = jobs[name]
    (rollback,) = rollback_steps(job)
    steps = job["steps"]
    at = steps.index(rollback)
    assert steps[-1]["run"].startswith("scripts/deploy/notify.sh failure") and at < len(steps) - 1
    context = [s for s in steps[:at] if uses(s) == "./.github/actions/aks-context"]
    assert len(context) == 1 and context[0].get("if", "failure()") == "failure()", name
    login = next(i for i, s in enumerate(steps) if uses(s).startswith("azure/login@"))
    assert login < steps.index(context[0])
    run = rollback["run"]
    env = {**job.get("env", {}), **rollback.get("env", {})}
    if name in STAGING_JOBS:
        assert '--failed-slot "$NEW_SLOT"' in run and '--restore-slot "$OLD_SLOT"' in run
        assert '--max-replicas "$MAX_REPLICAS"' in run
        assert '--functionapp "$FUNCTIONAPP_NAME" --resource-group "$RESOURCE_GROUP"' in run
        slots = {env.get("NEW_SLOT"), env.get("OLD_SLOT")} - {None}
        if name != "deploy-staging":
            source = re.fullmatch(r"\$\{\{ needs\.([\w-]+)\.outputs\.new_slot \}\}", env["NEW_SLOT"])
            assert source and source.group(1) in needs(job), (name, env["NEW_SLOT"])  # only direct needs are read
            assert env["OLD_SLOT"] == env["NEW_SLOT"].replace("new_slot", "old_slot")
            assert "deploy-staging" in ancestors(jobs, name)
        else:
            assert slots == {"${{ steps.slots.outputs.idle }}", "${{ steps.slots.outputs.live }}"}
    else:
        assert '--helm-release "transcoder-$SLOT"' in run
        assert '--functionapp "$FUNCTIONAPP_NAME" --resource-group "$RESOURCE_GROUP"' in run
        # the region's names are its deployment's outputs, read in this job before anything it rolls back
        assert env["FUNCTIONAPP_NAME"] == "${{ steps.infra.outputs.function_app_name }}"
        assert env["RESOURCE_GROUP"] == "rg-${{ vars.RESOURCE_PREFIX }}-${{ matrix.region }}"
        assert env["SLOT"] == "${{ vars.PRODUCTION_SLOT || 'blue' }}"
        assert context[0]["with"] == {"resource-group": env["RESOURCE_GROUP"],
                                      "cluster-name": "${{ steps.infra.outputs.aks_name }}"}
        infra = next(i for i, s in enumerate(steps) if s.get("id") == "infra")
        assert infra < at and "scripts/deploy/infra_deploy.py" in steps[infra]["run"]


def test_the_rollbacks_after_a_deploy_job_are_the_same_order(delivery: dict[str, Any]) -> None:
    """The jobs after a deploy repeat one rollback, word for word: the canary's for staging, one for production."""
    jobs = delivery["jobs"]
    (canary,) = rollback_steps(jobs["canary-analysis"])
    for name in ["performance-test", "e2e-test", "compliance-validation"]:
        (step,) = rollback_steps(jobs[name])
        assert step["run"] == canary["run"], name
    (smoke,) = rollback_steps(jobs["smoke-test"])
    (monitoring,) = rollback_steps(jobs["monitoring"])
    assert smoke["run"] == monitoring["run"] and smoke["if"] == monitoring["if"] == "failure()"
    # compliance-validation signs in as production-checks: it names staging through deploy-staging's outputs
    compliance = jobs["compliance-validation"]
    (step,) = rollback_steps(compliance)
    assert step["env"] == {"RESOURCE_GROUP": "${{ needs.deploy-staging.outputs.resource_group }}",
                           "FUNCTIONAPP_NAME": "${{ needs.deploy-staging.outputs.functionapp_name }}"}
    context = next(s for s in compliance["steps"] if uses(s) == "./.github/actions/aks-context")
    assert context["with"] == {"resource-group": "${{ needs.deploy-staging.outputs.resource_group }}",
                               "cluster-name": "${{ needs.deploy-staging.outputs.aks_cluster }}"}


def test_production_is_approved_and_rolled_region_by_region(delivery: dict[str, Any]) -> None:
    prod = delivery["jobs"]["deploy-production"]
    assert prod["environment"] == {"name": "production"}
    strategy = prod["strategy"]
    assert strategy["max-parallel"] == 1 and strategy["fail-fast"] is True
    assert [entry["region"] for entry in strategy["matrix"]["include"]] == REGIONS
    names = [s.get("name", "") for s in prod["steps"]]
    gate = names.index("Health gate before the next region")
    smoke = names.index("Smoke test in the region (and play each package through Front Door)")
    assert names.index("Worker on the GPU pool (Helm)") < smoke < gate
    assert "scripts/deploy/health_gate.py" in prod["steps"][gate]["run"]
    # the gate judges from before the smoke test (whose jobs it needs), not over a window that may miss them
    judged = next(i for i, s in enumerate(prod["steps"]) if s.get("id") == "judged")
    assert judged < smoke
    assert prod["steps"][judged]["run"] == 'echo "since=$(date +%s)" >> "$GITHUB_OUTPUT"'
    argv = command_line(prod["steps"][gate]["run"], "python scripts/deploy/health_gate.py")
    assert argv[argv.index("--since") + 1] == "$SINCE" and "--window" not in argv
    assert prod["steps"][gate]["env"]["SINCE"] == "${{ steps.judged.outputs.since }}"
    for step in [prod["steps"][gate], step_named(delivery["jobs"]["monitoring"], "Half an hour")]:
        assert "health_gate.py" in step["run"]
        assert step["env"]["HEALTH_GATE_WAIVERS"] == "${{ vars.HEALTH_GATE_WAIVERS || '{}' }}"
    rollback = step_named(prod, "Roll the region back")
    assert rollback["if"].startswith("failure()") and "scripts/deploy/rollback.sh" in rollback["run"]
    assert prod["concurrency"] == {"group": "deploy-production-${{ matrix.region }}", "cancel-in-progress": False}
    smoke = delivery["jobs"]["smoke-test"]
    assert [entry["region"] for entry in smoke["strategy"]["matrix"]["include"]] == REGIONS
    assert "scripts/deploy/smoke_test.py" in run_text(smoke)
    assert delivery["jobs"]["monitoring"]["strategy"]["matrix"]["region"] == REGIONS
    # the jobs before production may not use its environment: only deploy-production waits for the approval
    assert [n for n, j in delivery["jobs"].items() if j.get("environment", {}).get("name") == "production"] == [
        "deploy-production"]


def test_every_job_has_a_timeout() -> None:
    for path in all_workflows():
        for name, job in load_yaml(path)["jobs"].items():
            minutes = job.get("timeout-minutes")
            assert isinstance(minutes, int) and 5 <= minutes <= 180, (path.name, name, minutes)


def test_every_job_notifies_on_failure() -> None:
    for path in all_workflows():
        for name, job in load_yaml(path)["jobs"].items():
            last = job["steps"][-1]
            assert last["if"] == "failure()", (path.name, name)
            assert last["run"].startswith("scripts/deploy/notify.sh failure"), (path.name, name)
            assert last["env"] == {"NOTIFY_WEBHOOK_URL": "${{ secrets.NOTIFY_WEBHOOK_URL || vars.NOTIFY_WEBHOOK_URL }}"}


def test_concurrency_groups_stop_deploys_racing(delivery: dict[str, Any], dr: dict[str, Any]) -> None:
    assert delivery["concurrency"] == {"group": "delivery-${{ github.ref }}", "cancel-in-progress": False}
    groups = {name: job["concurrency"] for name, job in delivery["jobs"].items() if "concurrency" in job}
    assert groups == {
        "storage-setup": {"group": "deploy-dev", "cancel-in-progress": False},
        "deploy-dev": {"group": "deploy-dev", "cancel-in-progress": False},
        "deploy-staging": {"group": "deploy-staging", "cancel-in-progress": False},
        "canary-analysis": {"group": "deploy-staging", "cancel-in-progress": False},
        "deploy-production": {"group": "deploy-production-${{ matrix.region }}", "cancel-in-progress": False},
    }
    assert dr["concurrency"] == {"group": "disaster-recovery", "cancel-in-progress": False}


def test_uploads_have_retention() -> None:
    uploads = 0
    for path in all_workflows():
        for job_id, _, step in steps_of(load_yaml(path)):
            if uses(step).startswith("actions/upload-artifact@"):
                uploads += 1
                days = step["with"].get("retention-days")
                assert isinstance(days, int) and 1 <= days <= 90, (path.name, job_id, days)
    assert uploads >= 12, uploads


def test_the_drill_is_weekly_and_cleans_up(dr: dict[str, Any]) -> None:
    assert list(dr["jobs"]) == ["disaster-recovery"]
    (schedule,) = dr["on"]["schedule"]
    minute, hour, day, month, weekday = schedule["cron"].split()
    assert (day, month) == ("*", "*") and weekday.isdigit(), schedule
    assert dr["permissions"] == {"id-token": "write", "contents": "read", "actions": "read"}
    job = dr["jobs"]["disaster-recovery"]
    teardown = step_named(job, "Delete the drill region")
    assert teardown["if"] == "always()" and "dr-drill.sh teardown" in teardown["run"]
    text = run_text(job)
    for needle in ["dr-drill.sh rpo", "dr-drill.sh storage-failover", "infra_deploy.py", "dr-drill.sh cosmos-restore",
                   "smoke_test.py", "dr-drill.sh rto", "dr-drill.sh frontdoor-failover"]:
        assert needle in text, needle


def test_the_scripts_the_workflows_call_exist_and_are_executable() -> None:
    """Every script a workflow names exists; those it runs by their path (not through python) are executable."""
    called: set[str] = set()
    by_path: set[str] = set()
    for path in all_workflows():
        text = path.read_text()
        called |= set(re.findall(r"scripts/deploy/([\w.-]+)", text))
        by_path |= set(re.findall(r"(?<![\w.-])(?<!python )(?<!python3 )scripts/deploy/([\w.-]+)", text))
    assert called >= {"notify.sh", "infra_deploy.py", "compliance.py", "traffic.py", "canary.py", "rollback.sh",
                      "smoke_test.py", "health_gate.py", "dr-drill.sh", "bake_load.py", "dashboard_deploy.sh"}
    assert by_path >= {"notify.sh", "rollback.sh", "dr-drill.sh", "dashboard_deploy.sh"}
    for name in called:
        script = SCRIPTS / name
        assert script.is_file(), name
        if name in by_path:
            assert Path(script).stat().st_mode & 0o111, f"{name} is not executable"


def test_the_delivery_file_is_the_one_tested() -> None:
    assert DELIVERY in all_workflows() and len(all_workflows()) == 2


PINNED = re.compile(r"^[\w.-]+/[\w.-]+(/[\w./-]+)?@[0-9a-f]{40}$")
VERSION_COMMENT = re.compile(r"#\s*v?\d+(\.\d+)+\s*$")


def workflow_and_action_files() -> list[Path]:
    return [*all_workflows(), *sorted((ROOT / ".github" / "actions").glob("*/action.yml"))]


def test_every_action_is_pinned_by_full_commit_sha_with_its_version() -> None:
    """A tag can be moved to other code (trivy-action's were, in 2026); a commit cannot. Local actions excepted."""
    seen = 0
    for path in workflow_and_action_files():
        for line in path.read_text().splitlines():
            match = re.match(r"^\s*(?:-\s*)?uses:\s*(\S+)(.*)$", line)
            if not match or match.group(1).startswith("./"):
                continue
            seen += 1
            assert PINNED.match(match.group(1)), f"{path.name}: {line.strip()} is not pinned by a full commit SHA"
            assert VERSION_COMMENT.search(match.group(2)), f"{path.name}: {line.strip()} has no version comment"
    assert seen >= 60, seen


def test_the_pin_check_rejects_tags_and_short_shas() -> None:
    for bad in ("actions/checkout@v5", "actions/checkout@08c6903", "azure/login@main"):
        assert not PINNED.match(bad)
    assert PINNED.match("actions/checkout@08c6903cd8c0fde910a37f88322edcfb5dd907a8")


def test_one_action_one_commit() -> None:
    """Every use of an action names the same commit and version: no drift between jobs."""
    pins: dict[str, set[str]] = {}
    for path in workflow_and_action_files():
        for match in re.finditer(r"uses:\s*([^./\s][^@\s]*)@(\S+)\s*#\s*(\S+)", path.read_text()):
            pins.setdefault(match.group(1).lower(), set()).add(f"{match.group(2)} {match.group(3)}")
    drift = {action: sorted(values) for action, values in pins.items() if len(values) > 1}
    assert not drift, drift
    assert "azure/functions-action" not in pins  # deployed with az CLI: one third-party action fewer
