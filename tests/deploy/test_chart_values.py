"""Values the chart refuses (templates/validation.yaml, values.schema.json) and the values documentation."""

from __future__ import annotations

import pytest
import yaml

from tests.deploy import values_doc
from tests.deploy.conftest import CHART, REQUIRED, helm_template, render, render_error


@pytest.mark.parametrize(("args", "expected"), [
    (["--set", "terminationGracePeriodSeconds=600"],
     ["terminationGracePeriodSeconds (600) must be at least worker.drainSeconds (900) + 90", "at least 990"]),
    (["--set", "worker.drainSeconds=960"],  # exactly drain + the 60 s stop: no margin (the old default's gap)
     ["terminationGracePeriodSeconds (1000) must be at least worker.drainSeconds (960) + 90", "at least 1050"]),
    (["--set", "gpu.count=0"],
     ["gpu.count is 0 while gpu.enabled is true", "set gpu.count to 1 or more, or gpu.enabled=false"]),
    (["--set", "queue.name="],
     ["queue.name is empty", "--set queue.name=transcode-jobs"]),
    (["--set", "queue.name=jobs--a"], ['queue.name "jobs--a" is not a valid queue name', "single hyphens"]),
    (["--set", "storage.accountName="], ["storage.accountName is empty", "--set storage.accountName="]),
    (["--set", "workloadIdentity.clientId="], ["workloadIdentity.clientId is empty", "client ID of the managed"]),
    (["--set", "slot=purple"], ['slot is "purple"', "set slot=blue or slot=green"]),
    (["--set", "gpu.enabled=false", "--set", "worker.encoder=gpu"],
     ["worker.encoder is gpu while gpu.enabled is false"]),
    (["--set", "scaling.minReplicas=5", "--set", "scaling.maxReplicas=2"],
     ["scaling.maxReplicas (2) is below scaling.minReplicas (5)"]),
    (["--set", "scaling.kind=ScaledJob", "--set", "worker.concurrency=2"], ["a Job takes one message"]),
    (["--set", "serviceAccount.create=false"], ["serviceAccount.name is empty while serviceAccount.create is false"]),
    (["--set", "storage.endpointSuffix=example.org"], ['storage.endpointSuffix "example.org" is not a known']),
    (["--set", "worker.extraEnv[0].name=WORKER_STORAGE_CONNECTION_STRING", "--set", "worker.extraEnv[0].value=x"],
     ["worker.extraEnv WORKER_STORAGE_CONNECTION_STRING looks like a credential"]),
    (["--set", "metrics.collection=annotations", "--set", "metrics.scrapeAnnotations=false"],
     ["metrics.collection is annotations while metrics.scrapeAnnotations is false", "metrics.collection=none"]),
])
def test_inconsistent_values_are_refused_with_what_to_fix(args: list[str], expected: list[str]) -> None:
    error = render_error(*args)
    assert "INVALID VALUES:" in error
    for fragment in expected:
        assert fragment in error, error


def test_all_problems_are_reported_at_once() -> None:
    error = render_error("--set", "terminationGracePeriodSeconds=100", "--set", "gpu.count=0", "--set", "queue.name=")
    assert error.count("\n- ") == 3, error


def test_defaults_alone_ask_for_the_two_required_values() -> None:
    result = helm_template("transcoder", [])
    assert result.returncode != 0
    assert "storage.accountName is empty" in result.stderr
    assert "workloadIdentity.clientId is empty" in result.stderr
    assert "queue.name" not in result.stderr and "terminationGracePeriodSeconds" not in result.stderr


@pytest.mark.parametrize(("args", "expected"), [
    (["--set", "scaling.kind=Deployment"], "scaling.kind"),
    (["--set", "replicas=3"], "Additional property replicas is not allowed"),
    (["--set", "gpu.count=-1"], "gpu.count"),
    (["--set", "storage.accountName=Not_An_Account"], "storage.accountName"),
    (["--set", "image.digest=latest"], "image.digest"),
    (["--set", "profile.codec=mpeg2"], "profile.codec"),
    (["--set", "metrics.collection=prometheus"], "metrics.collection"),
    (["--set", "metrics.interval=30"], "metrics.interval"),
    (["--set", "serviceMonitor.enabled=true"], "Additional property serviceMonitor is not allowed"),
    (["--set-json", "worker.extraEnv=[{\"name\":\"A\",\"valueFrom\":{\"secretKeyRef\":{\"name\":\"s\"}}}]"],
     "worker.extraEnv"),
])
def test_schema_refuses_unknown_keys_and_wrong_types(args: list[str], expected: str) -> None:
    error = render_error(*args)
    assert "values don't meet the specifications of the schema" in error
    assert expected in error, error


def test_cpu_pool_needs_no_gpu_count() -> None:
    rendered = render("cpu0", "transcoder", [*REQUIRED, "--set", "gpu.enabled=false", "--set", "gpu.count=0"])
    assert "nvidia.com/gpu" not in rendered.container()["resources"]["limits"]


def test_every_value_is_documented_and_in_the_readme_table() -> None:
    text = (CHART / "values.yaml").read_text()
    values = yaml.safe_load(text)
    docs = values_doc.documented_keys(text)
    assert values_doc.undocumented(values, docs) == []
    readme = (CHART / "README.md").read_text()
    table = values_doc.readme_table(readme)
    for key in docs:
        assert f"| `{key}` |" in table, f"{key} is missing from the README's values table"
    assert table == values_doc.table(), "stale table: run python -m tests.deploy.values_doc --write"
    # the values the delivery pipeline sets by name
    pipeline = ["image.repository", "image.tag", "image.pullPolicy", "slot", "storage.accountName",
                "storage.accountUrl", "queue.name", "table.name", "outputs.container", "workloadIdentity.clientId",
                "serviceAccount.create", "serviceAccount.name", "scaling.kind", "scaling.minReplicas",
                "scaling.maxReplicas", "scaling.queueLength", "scaling.activationQueueLength",
                "scaling.queueLengthStrategy", "scaling.cooldownPeriod", "gpu.enabled", "gpu.count", "gpu.tolerations",
                "gpu.nodeSelector", "gpu.runtimeClassName", "worker.drainSeconds", "worker.encoder",
                "terminationGracePeriodSeconds", "scratch.sizeLimit", "profile", "metrics.collection",
                "networkPolicy.enabled", "podDisruptionBudget.enabled", "resources"]
    assert [key for key in pipeline if key not in docs] == []


def test_the_docs_parser_finds_undocumented_values() -> None:
    text = "# -- documented\na: 1\nb:\n  # -- inner\n  c: 2\n  d: 3\n# -- a list\ne:\n  - f: 1\n    g: 2\n"
    docs = values_doc.documented_keys(text)
    assert docs == {"a": "documented", "b.c": "inner", "e": "a list"}
    assert values_doc.undocumented(yaml.safe_load(text), docs) == ["b.d"]


def test_tldr_has_at_most_three_commands() -> None:
    readme = (CHART / "README.md").read_text()
    block = readme.split("## TL;DR", 1)[1].split("```sh", 1)[1].split("```", 1)[0]
    commands = [line for line in block.strip().splitlines() if not line.startswith(" ")]
    assert 1 <= len(commands) <= 3, commands
    assert any(line.startswith("helm install") for line in commands)
