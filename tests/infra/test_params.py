"""The parameter files (ARM JSON; .bicepparam would need the Bicep CLI to compile): dev, staging and one per
production region, each consistent with its name and with main.bicep, production geo-redundant and on Cosmos DB."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest

from tests.infra.bicep import Template
from tests.infra.conftest import INFRA
from tests.infra.paramfiles import FILES, PRODUCTION_REGIONS, file_problems, values

PARAMS = INFRA / "params"


def load(name: str) -> dict[str, Any]:
    return json.loads((PARAMS / f"{name}.parameters.json").read_text())  # type: ignore[no-any-return]


def test_there_is_a_file_per_environment_and_production_region() -> None:
    assert sorted(p.name for p in PARAMS.iterdir()) == sorted(f"{name}.parameters.json" for name in FILES)


@pytest.mark.parametrize("name", FILES)
def test_each_file_fits_main_and_its_name(main: Template, name: str) -> None:
    assert file_problems(name, load(name), main) == []


def test_production_regions_differ_and_one_deploys_the_cost_anomaly_alert() -> None:
    production = {region: values(load(f"production-{region}")) for region in PRODUCTION_REGIONS}
    assert sorted(v["regionShort"] for v in production.values()) == sorted(PRODUCTION_REGIONS.values())
    assert [r for r, v in production.items() if v.get("deployCostAnomalyAlert")] == ["eastus"]
    assert all(v["encryptionAtHost"] and v["aksSkuTier"] == "Standard" for v in production.values())
    assert {values(load(n)).get("recordsStore", "table") for n in ("dev", "staging")} == {"table"}


@pytest.mark.parametrize(("name", "change", "expected"), [
    ("production-westeurope", {"location": "northeurope"}, "is not westeurope / weu"),
    ("production-eastus", {"mediaStorageSku": "Standard_LRS"}, "not Standard_GRS"),
    ("production-eastus", {"recordsStore": "table"}, "not Cosmos DB"),
    ("production-southeastasia", {"cosmosFailoverLocations": []}, "Cosmos DB has no failover region"),
    ("staging", {"environmentName": "dev"}, "environmentName is 'dev', not 'staging'"),
    ("dev", {"recordsStore": "mysql"}, "recordsStore='mysql' is not one of"),
    ("dev", {"gpuCount": 2}, "sets gpuCount, which main.bicep does not declare"),
    ("dev", {"owner": None}, "does not set owner"),
    ("staging", {"regionShort": "weu"}, "location 'eastus' with regionShort 'weu' is not one of"),
    ("production-southeastasia", {"dashboardLocation": "southeastasia"}, "is not a Static Web Apps region"),
    ("dev", {"dashboardLocation": None}, "dashboardLocation None is not a Static Web Apps region"),
])
def test_the_file_check_fails_on_inconsistent_files(main: Template, name: str, change: dict[str, Any],
                                                     expected: str) -> None:
    doc = copy.deepcopy(load(name))
    for key, value in change.items():
        if value is None:
            del doc["parameters"][key]
        else:
            doc["parameters"][key] = {"value": value}
    problems = file_problems(name, doc, main)
    assert any(expected in p for p in problems), problems
