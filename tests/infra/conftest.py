"""Fixtures of the infrastructure checks: every template under infra/ and every sample in samples.py, parsed by
pycep-parser in one run of the deploy tools' Python (bicep_json.py), and one checkov run over infra/.

A missing tool fails the test that needs it with the command that installs it: these checks never skip.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.deploy.conftest import tool, tools_bin
from tests.infra.bicep import Template
from tests.infra.samples import samples

ROOT = Path(__file__).resolve().parents[2]
INFRA = ROOT / "infra"
HERE = Path(__file__).resolve().parent
RULE_FILE = ROOT / "helm" / "transcoder" / "files" / "prometheus-rules.yaml"


def bicep_files() -> list[Path]:
    return sorted([INFRA / "main.bicep", *(INFRA / "modules").glob("*.bicep")])


def parse(files: dict[str, tuple[Path, Path]]) -> dict[str, Template]:
    """name -> (file to parse, where it stands); one pycep run for all."""
    result = subprocess.run([tool("python"), str(HERE / "bicep_json.py"), *(str(f) for f, _ in files.values())],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    out = json.loads(result.stdout)
    parsed = {}
    for name, (file, where) in files.items():
        entry = out[str(file)]
        assert "error" not in entry, f"pycep cannot parse {name}: {entry.get('error')}"
        parsed[name] = Template(name, where, entry["template"], file.read_text())
    return parsed


@pytest.fixture(scope="session")
def everything(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Template]:
    files = {str(p.relative_to(INFRA)): (p, p) for p in bicep_files()}
    folder = tmp_path_factory.mktemp("samples")
    for name, sample in samples().items():
        file = folder / f"{name}.bicep"
        file.write_text(sample.text)
        files[f"sample:{name}"] = (file, sample.path)
    return parse(files)


@pytest.fixture(scope="session")
def templates(everything: dict[str, Template]) -> dict[str, Template]:
    """infra/'s templates by path under infra/ (main.bicep, modules/<name>.bicep)."""
    return {name: t for name, t in everything.items() if not name.startswith("sample:")}


@pytest.fixture(scope="session")
def sample(everything: dict[str, Template]) -> dict[str, Template]:
    return {name.removeprefix("sample:"): t for name, t in everything.items() if name.startswith("sample:")}


@pytest.fixture(scope="session")
def main(templates: dict[str, Template]) -> Template:
    return templates["main.bicep"]


BAD_ACCOUNT = """@description('Name.')
param name string

resource account 'Microsoft.Storage/storageAccounts@2023-05-01' = {
  name: name
  location: 'global'
  kind: 'StorageV2'
  sku: {
    name: 'Standard_GRS'
  }
  properties: {
    minimumTlsVersion: 'TLS1_0'
  }
}
"""
BAD_FILE = "/bad-account.bicep"


@pytest.fixture(scope="session")
def checkov_results(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """One checkov run over a copy of infra/ with a template it must fail beside it (BAD_FILE, an account that
    allows TLS 1.0; checkov mixes up the paths of two -d folders): the report's checks by kind, each file path
    relative to infra/."""
    scan = tmp_path_factory.mktemp("checkov-scan") / "infra"
    shutil.copytree(INFRA, scan)
    (scan / BAD_FILE.lstrip("/")).write_text(BAD_ACCOUNT)
    out = tmp_path_factory.mktemp("checkov-infra")
    cmd = [tool("checkov"), "--skip-download", "--framework", "bicep", "-d", str(scan), "-o", "json",
           "--output-file-path", str(out)]
    result = subprocess.run(cmd, capture_output=True, text=True, timeout=300,
                            env={**os.environ, "PATH": f"{tools_bin()}{os.pathsep}{os.environ.get('PATH', '')}"})
    report_file = out / "results_json.json"
    assert report_file.exists(), f"checkov wrote no report (exit {result.returncode}):\n{result.stderr[-3000:]}"
    report = json.loads(report_file.read_text())
    reports = report if isinstance(report, list) else [report]
    assert [r["check_type"] for r in reports] == ["bicep"], [r["check_type"] for r in reports]
    assert reports[0]["summary"]["parsing_errors"] == 0, reports[0]["summary"]
    return reports[0]["results"]  # type: ignore[no-any-return]
