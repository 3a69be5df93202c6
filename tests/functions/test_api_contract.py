"""docs/openapi/dashboard-api.yaml describes the API the code serves: its routes and methods, and the fields of the
objects the dashboard reads (built here by the code itself)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import yaml

from functions_app.api import ENDPOINTS
from functions_app.views import job_summary, poison_entry

SPEC = yaml.safe_load((Path(__file__).resolve().parents[2] / "docs/openapi/dashboard-api.yaml").read_text())
SCHEMAS = SPEC["components"]["schemas"]


def fields(schema: str) -> set[str]:
    return set(SCHEMAS[schema]["properties"])


def test_paths_and_methods_are_the_route_table() -> None:
    described = {path: {m.upper() for m in ops if m != "parameters"} for path, ops in SPEC["paths"].items()}
    served = {f"/api/{e.route}": set(e.methods) for e in ENDPOINTS.values()}
    assert described == served


def test_objects_have_the_described_fields() -> None:
    summary = job_summary({"RowKey": "a" * 32})
    assert set(summary) == fields("JobSummary") == set(SCHEMAS["JobSummary"]["required"])
    assert set(summary["durations"]) == set(SCHEMAS["JobSummary"]["properties"]["durations"]["properties"])
    entry = poison_entry("m1", '{"reason": "x"}', datetime.now(UTC), 1)
    assert set(entry) == fields("PoisonMessage")


def test_fleet_and_links_fields(monkeypatch: Any) -> None:
    from functions_app import fleet
    from functions_app.links import LinkSigner, manifest_links

    monkeypatch.setattr(fleet.Prometheus, "query", lambda self, expr: [({"instance": "i", "service": "s"}, 1.0)])
    summary = fleet.fleet_summary(fleet.Prometheus("http://unused"), 'service="s"')
    assert set(summary) == fields("Fleet")
    assert set(summary["workers"][0]) == fields("Worker")
    from azure.storage.blob import BlobServiceClient

    links = manifest_links(LinkSigner(BlobServiceClient.from_connection_string("UseDevelopmentStorage=true")),
                           "outputs", "j/", None)
    assert set(links) == fields("Links")
