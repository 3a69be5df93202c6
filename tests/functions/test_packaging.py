"""The deployable app root: staged layout, the host's top-level import, and the config files beside the code."""

from __future__ import annotations

import json
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

import pytest

from functions_app import bundle
from functions_app.api_settings import ApiSettings
from functions_app.settings import IngestSettings

APP = Path(bundle.__file__).parent
ROOT = APP.parent

HOST_IMPORT = """
import importlib, json, sys
sys.path.insert(0, sys.argv[1])
module = importlib.import_module("function_app")  # what the Python worker does with the app root on sys.path
import functions_app
assert functions_app.__file__.startswith(sys.argv[1]), functions_app.__file__
print(json.dumps({fn.get_function_name(): json.loads(fn.get_function_json())["bindings"]
                  for fn in module.app.get_functions()}))
"""


def test_stage_layout_and_zip(tmp_path: Path) -> None:
    root = bundle.stage(tmp_path / "app")
    files = sorted(p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file())
    assert files == sorted([".funcignore", "function_app.py", "host.json", "requirements.txt",
                            *(f"functions_app/{m}" for m in bundle.MODULES)])
    archive = bundle.make_zip(root, tmp_path / "app.zip")
    with zipfile.ZipFile(archive) as z:
        assert sorted(z.namelist()) == files


def test_host_imports_the_staged_root_as_top_level_module(tmp_path: Path) -> None:
    root = bundle.stage(tmp_path / "app")
    done = subprocess.run([sys.executable, "-I", "-c", HOST_IMPORT, str(root)], capture_output=True, text=True,
                          cwd=tmp_path, timeout=120)
    assert done.returncode == 0, done.stderr
    info = json.loads(done.stdout.strip().splitlines()[-1])
    assert {b["type"] for b in info.pop("enqueue_transcode")} == {"blobTrigger"}  # the function sends the message
    assert set(info) == {"api_jobs", "api_job", "api_job_retry", "api_poison", "api_uploads", "api_fleet",
                         "api_roles"}
    assert all({b["type"] for b in bindings} == {"httpTrigger", "http"} for bindings in info.values())


def test_every_module_is_staged() -> None:
    """A module left out of ``MODULES`` would import locally and fail only once deployed."""
    assert set(bundle.MODULES) == {p.name for p in APP.glob("*.py")} - {"bundle.py"}


def test_local_settings_are_copied_only_when_asked(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    fake_app = tmp_path / "src"
    fake_app.mkdir()
    for name in (*bundle.APP_FILES, *bundle.MODULES):
        (fake_app / name).write_text(name)
    monkeypatch.setattr(bundle, "HERE", fake_app)
    with pytest.raises(FileNotFoundError, match="local.settings.json.example"):
        bundle.stage(tmp_path / "out", local_settings=True)
    (fake_app / "local.settings.json").write_text("{}")
    root = bundle.stage(tmp_path / "out", local_settings=True)
    assert (root / "local.settings.json").read_text() == "{}"
    with zipfile.ZipFile(bundle.make_zip(root, tmp_path / "out.zip")) as z:
        assert "local.settings.json" not in z.namelist()


def test_cli_dry_run_writes_nothing(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert bundle.main([str(tmp_path / "app"), "-n"]) == 0
    assert "(entry point) -> " in capsys.readouterr().out
    assert not (tmp_path / "app").exists()
    assert bundle.main([str(tmp_path / "app"), "--zip", str(tmp_path / "app.zip")]) == 0
    assert (tmp_path / "app" / "host.json").is_file() and (tmp_path / "app.zip").is_file()


def test_requirements_match_pyproject() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    declared = [*project["dependencies"], *project["optional-dependencies"]["dev"]]
    pins = {}
    for line in (APP / "requirements.txt").read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            name = line.split(">")[0].split("=")[0].split("<")[0].strip()
            pins[name] = line.strip()
    assert set(pins) == {"azure-functions", "azurefunctions-extensions-bindings-blob", "azure-data-tables",
                         "azure-storage-blob", "azure-storage-queue", "azure-identity"}
    for requirement in pins.values():
        assert requirement in declared, f"{requirement} differs from pyproject.toml"


def test_host_json() -> None:
    host = json.loads((APP / "host.json").read_text())
    assert host["version"] == "2.0"
    assert host["extensionBundle"] == {"id": "Microsoft.Azure.Functions.ExtensionBundle", "version": "[4.*, 5.0.0)"}
    assert host["extensions"]["queues"] == {"messageEncoding": "base64", "maxDequeueCount": 5}


def test_local_settings_example_is_complete_and_valid() -> None:
    values = json.loads((APP / "local.settings.json.example").read_text())["Values"]
    assert values["FUNCTIONS_WORKER_RUNTIME"] == "python"
    assert values["AzureWebJobsStorage"] == values["TranscodeStorage"] == "UseDevelopmentStorage=true"
    for name in ("UPLOADS_CONTAINER", "JOBS_QUEUE"):  # binding expressions: the host needs them set
        assert values[name]
    s = IngestSettings.from_env(values)
    assert s == IngestSettings.from_env({"TranscodeStorage": "UseDevelopmentStorage=true"})  # the defaults
    api = ApiSettings.from_env(values)
    assert api.poison_queue == "transcode-jobs-poison" and api.dashboard_origin == "http://localhost:5173"
    assert api.dashboard_token is None and not api.trust_easy_auth and api.prometheus_url is None
    documented = (APP / "README.md").read_text()
    for name in values:
        if name not in ("FUNCTIONS_WORKER_RUNTIME", "AzureWebJobsStorage"):
            assert f"`{name}`" in documented, f"{name} is not in functions_app/README.md"


def test_sample_event_targets_this_function() -> None:
    text = (APP / "test.http").read_text()
    request = next(line for line in text.splitlines() if line.startswith("POST "))
    assert "/runtime/webhooks/blobs?functionName=Host.Functions.enqueue_transcode" in request
    [event] = json.loads(text[text.index("["):])
    assert event["eventType"] == "Microsoft.Storage.BlobCreated"
    assert event["subject"].startswith("/blobServices/default/containers/uploads/blobs/")
    assert event["data"]["url"].endswith(event["subject"].split("/blobs/", 1)[1])
