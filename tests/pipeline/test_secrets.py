"""No step of any workflow or action holds a credential or signs in with a password; only the notification webhook
is read from `secrets.`, and only into the notify step's environment."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.pipeline.conftest import ROOT, all_workflows, load_yaml

ACTIONS = sorted((ROOT / ".github" / "actions").glob("*/action.y*ml"))
# (why, pattern) over every `run:`, `with:` and `env:` value
FORBIDDEN: list[tuple[str, re.Pattern[str]]] = [
    ("a password", re.compile(r"passw(or)?d", re.I)),
    ("a -p option (docker/az/mysql passwords)", re.compile(r"(^|\s)-p(\s|$)")),
    ("an account key", re.compile(r"AccountKey\s*=", re.I)),
    ("a shared access signature", re.compile(r"SharedAccessSignature|[?&]sig=|\bsv=20\d\d-", re.I)),
    ("a registry login with credentials", re.compile(r"docker\s+login|helm\s+registry\s+login|--username|-u\s+\S+")),
    ("a service principal secret", re.compile(r"client[-_]secret|--secret\b|creds\s*:|AZURE_CREDENTIALS", re.I)),
    ("a bearer token or key value", re.compile(r"(Bearer|Basic)\s+[A-Za-z0-9+/=_-]{8,}|api[-_]?key\s*[:=]", re.I)),
    ("a long base64 string", re.compile(r"[A-Za-z0-9+/]{40,}={0,2}")),
    ("a private key", re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----")),
    ("a connection string with a key", re.compile(r"DefaultEndpointsProtocol=.*Key", re.I)),
]
ALLOWED_SECRETS = {"NOTIFY_WEBHOOK_URL"}


def values(node: Any, where: str) -> Iterator[tuple[str, str]]:
    if isinstance(node, dict):
        for key, value in node.items():
            yield from values(value, f"{where}.{key}")
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield from values(value, f"{where}[{i}]")
    elif node is not None:
        yield where, str(node)


def step_values(doc: dict[str, Any], name: str) -> Iterator[tuple[str, str]]:
    """(location, text) of every run, with and env value of every step, and of job and workflow env."""
    yield from values(doc.get("env", {}), f"{name}:env")
    steps: list[tuple[str, dict[str, Any]]] = []
    for job_id, job in doc.get("jobs", {}).items():
        yield from values(job.get("env", {}), f"{name}:{job_id}.env")
        yield from values(job.get("services", {}), f"{name}:{job_id}.services")
        steps += [(f"{name}:{job_id}[{i}]", s) for i, s in enumerate(job.get("steps", []))]
    steps += [(f"{name}:runs[{i}]", s) for i, s in enumerate(doc.get("runs", {}).get("steps", []))]
    for where, step in steps:
        for key in ("run", "with", "env"):
            if key in step:
                yield from values(step[key], f"{where}.{key}")


def findings(doc: dict[str, Any], name: str) -> list[str]:
    found = []
    for where, text in step_values(doc, name):
        # expressions are references, not values; `mkdir -p` is the one harmless -p; the input's name counts too
        bare = re.sub(r"\$\{\{.*?\}\}", "", text).replace("mkdir -p ", "mkdir ")
        key = where.rsplit(".", 1)[-1]
        for why, pattern in FORBIDDEN:
            if pattern.search(bare) or pattern.search(f"{key}:"):
                found.append(f"{where}: {why}: {text.strip()[:120]!r}")
    return found


def documents() -> list[tuple[str, dict[str, Any]]]:
    return [(p.name, load_yaml(p)) for p in [*all_workflows(), *ACTIONS]]


def test_the_scan_covers_the_workflows_and_the_composite_action() -> None:
    names = [name for name, _ in documents()]
    assert names == ["delivery.yml", "disaster-recovery.yml", "action.yml"]
    runs = sum(1 for name, doc in documents() for where, _ in step_values(doc, name) if where.endswith(".run"))
    assert runs > 70, runs


@pytest.mark.parametrize("name", ["delivery.yml", "disaster-recovery.yml", "action.yml"])
def test_no_step_holds_a_secret_or_a_password_login(name: str) -> None:
    doc = dict(documents())[name]
    assert findings(doc, name) == []


def test_secrets_are_only_the_webhook_and_only_in_notify_steps() -> None:
    for path in all_workflows():
        text = path.read_text()
        used = set(re.findall(r"secrets\.([A-Za-z_][A-Za-z0-9_]*)", text))
        assert used <= ALLOWED_SECRETS, (path.name, used)
        for job_id, job in load_yaml(path)["jobs"].items():
            for step in job["steps"]:
                if "secrets." in str(step):
                    assert step["run"].startswith("scripts/deploy/notify.sh"), (path.name, job_id, step.get("name"))
                    assert set(step["env"]) == {"NOTIFY_WEBHOOK_URL"}
    assert "secrets." not in "".join(p.read_text() for p in ACTIONS)


@pytest.mark.parametrize(("why", "step"), [
    ("a password", {"run": 'az login --service-principal -u app --password "hunter2"'}),
    ("a -p option", {"run": "docker login myacr.azurecr.io -u admin -p s3cret"}),
    ("an account key", {"env": {"CONN": "DefaultEndpointsProtocol=https;AccountName=a;AccountKey=abc=="}}),
    ("a shared access signature", {"with": {"url": "https://a.blob.core.windows.net/c?sv=2022-11-02&sig=abc%3D"}}),
    ("a registry login", {"run": "echo \"$TOKEN\" | docker login ghcr.io --username bot --password-stdin"}),
    ("a service principal secret", {"with": {"creds": "${{ secrets.AZURE_CREDENTIALS }}"}}),
    ("a long base64 string", {"env": {"KEY": "c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0"}}),
    ("a bearer token", {"run": "curl -H 'Authorization: Bearer eyJhbGciOiJIUzI1NiJ9' https://x"}),
])
def test_the_scan_would_catch(why: str, step: dict[str, Any], tmp_path: Path) -> None:
    doc = {"jobs": {"leaky": {"steps": [{"uses": "actions/checkout@v5"}, step]}}}
    assert findings(doc, "leaky.yml"), f"the scan missed {why}"


def test_the_scan_lets_references_through() -> None:
    doc = {"env": {"IMAGE": "${{ vars.ACR_NAME }}.azurecr.io/transcoder-worker:${{ github.sha }}"},
           "jobs": {"ok": {"steps": [
               {"uses": "azure/login@v3", "with": {"client-id": "${{ vars.AZURE_CLIENT_ID }}"}},
               {"run": 'az acr login --name "$ACR_NAME"'},
               {"env": {"NOTIFY_WEBHOOK_URL": "${{ secrets.NOTIFY_WEBHOOK_URL }}"}, "run": "notify.sh failure"}]}}}
    assert findings(doc, "ok.yml") == []
