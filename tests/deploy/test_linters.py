"""The real linters on the chart, the image and the shell scripts: helm lint, checkov, hadolint, shellcheck.

Checks may be skipped only in the files themselves, with a reason; these tests list the skips that are allowed.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.deploy.conftest import CHART, ROOT, run, tool

# check id -> where it is skipped; each skip carries its reason in that file
ALLOWED_SKIPS = {
    "CKV_K8S_43": "templates/_helpers.tpl (transcoder.workloadAnnotations): only while the image is pulled by tag",
    "CKV_DOCKER_7": "Dockerfile.gpu: FROM base-${ENABLE_GPU} names one of two stages, each pinned by tag",
    "CKV_K8S_8": "templates/tests/selftest-pod.yaml: the helm test pod runs once and exits; nothing to probe",
    "CKV_K8S_9": "templates/tests/selftest-pod.yaml: the helm test pod receives no traffic",
}


@pytest.mark.parametrize("values", ["", "gpu", "cpu", "scaledjob", "green"])
def test_helm_lint_strict_passes(values: str) -> None:
    args = ["-f", str(CHART / "ci" / f"{values}-values.yaml")] if values else []
    result = run([tool("helm"), "lint", "--strict", str(CHART), *args])
    assert result.returncode == 0, result.stdout + result.stderr
    assert "1 chart(s) linted, 0 chart(s) failed" in result.stdout


def test_helm_lint_fails_on_a_bad_value() -> None:
    result = run([tool("helm"), "lint", "--strict", str(CHART), "--set", "scaling.kind=Deployment"])
    assert result.returncode == 1 and "1 chart(s) failed" in result.stderr
    assert "[ERROR] values.yaml" in result.stdout and "scaling.kind" in result.stdout


def test_helm_is_the_pinned_release() -> None:
    result = run([tool("helm"), "version", "--short"])
    assert result.stdout.startswith("v3.17."), result.stdout


def _skipped(report: dict[str, Any]) -> list[dict[str, Any]]:
    return report["results"].get("skipped_checks", [])  # type: ignore[no-any-return]


def test_checkov_finds_no_failed_check(checkov_report: dict[str, dict[str, Any]]) -> None:
    assert set(checkov_report) == {"helm", "kubernetes", "dockerfile"}, list(checkov_report)
    for framework, report in checkov_report.items():
        failed = [(c["check_id"], c["check_name"], c["resource"], c["file_path"])
                  for c in report["results"]["failed_checks"]]
        assert failed == [], f"{framework}: {failed}"
        assert report["summary"]["passed"] > 50, (framework, report["summary"])
        assert report["summary"]["parsing_errors"] == 0
    resources = {c["resource"] for c in checkov_report["kubernetes"]["results"].get("passed_checks", [])}
    assert {"Deployment.media.transcoder-blue", "Deployment.media.transcoder-green"} <= resources


def test_checkov_skips_only_the_listed_checks_with_their_reasons(checkov_report: dict[str, dict[str, Any]]) -> None:
    skipped = [c for report in checkov_report.values() for c in _skipped(report)]
    assert {c["check_id"] for c in skipped} == set(ALLOWED_SKIPS)
    for check in skipped:
        assert len(check["check_result"].get("suppress_comment", "").strip()) > 20, check
    # the digest skip applies to tag-pulled images only: the chart scanned with a digest has none
    assert {c["check_id"] for c in _skipped(checkov_report["helm"])} == {"CKV_K8S_8", "CKV_K8S_9"}
    assert all(c["resource"].endswith("-selftest") for c in _skipped(checkov_report["helm"]))


def test_hadolint_passes_on_the_dockerfile() -> None:
    result = run([tool("hadolint"), str(ROOT / "Dockerfile.gpu")])
    assert result.returncode == 0, result.stdout + result.stderr


def test_hadolint_would_catch_a_careless_dockerfile(tmp_path: Path) -> None:
    bad = tmp_path / "Dockerfile"
    bad.write_text("FROM ubuntu:latest\nRUN apt-get update && apt-get install curl\nCMD python -m worker run\n")
    result = run([tool("hadolint"), str(bad)])
    assert result.returncode == 1
    assert {"DL3007", "DL3015", "DL3025"} <= set(re.findall(r"DL\d{4}", result.stdout)), result.stdout


def shell_scripts() -> list[Path]:
    """Tracked files that are shell scripts: *.sh, or a shell on the shebang line."""
    listed = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True).stdout
    scripts = []
    for name in filter(None, listed.decode().split("\0")):
        path = ROOT / name
        if not path.is_file():
            continue
        if name.endswith((".sh", ".bash")):
            scripts.append(path)
            continue
        with path.open("rb") as f:
            first = f.readline(200)
        if re.match(rb"#!\s*(/usr)?/bin/(env\s+)?(ba|da|k)?sh\b", first):
            scripts.append(path)
    return sorted(scripts)


def test_shellcheck_passes_on_every_shell_script() -> None:
    scripts = shell_scripts()
    assert {ROOT / "dev.sh", ROOT / ".ci" / "run"} <= set(scripts), scripts
    result = run([tool("shellcheck"), "--external-sources", *map(str, scripts)], cwd=ROOT)
    assert result.returncode == 0, result.stdout + result.stderr


def test_shellcheck_would_catch_an_unquoted_variable(tmp_path: Path) -> None:
    bad = tmp_path / "bad.sh"
    bad.write_text("#!/bin/sh\nrm -rf $1/tmp\n")
    result = run([tool("shellcheck"), str(bad)])
    assert result.returncode == 1 and "SC2086" in result.stdout
