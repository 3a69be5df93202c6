"""The ARM parameter files of infra/params: one for dev, one for staging, one per production region."""

from __future__ import annotations

from typing import Any

from tests.infra.bicep import Template

PRODUCTION_REGIONS = {"eastus": "eus", "westeurope": "weu", "southeastasia": "sea"}
FILES = ["dev", "staging", *(f"production-{region}" for region in PRODUCTION_REGIONS)]
# parameters without a default that are given at deploy time, never in a file
DEPLOY_TIME = {"alertEmail", "dashboardClientId"}
# the regions a Static Web Apps resource (Standard) can be created in (dashboardLocation)
STATIC_WEB_APP_REGIONS = {"westus2", "centralus", "eastus2", "westeurope", "eastasia"}
GEO_REDUNDANT = {"Standard_GRS", "Standard_RAGRS", "Standard_GZRS", "Standard_RAGZRS"}


def values(doc: dict[str, Any]) -> dict[str, Any]:
    return {name: p["value"] for name, p in doc.get("parameters", {}).items()}


def file_problems(name: str, doc: dict[str, Any], main: Template) -> list[str]:
    """A file sets only main's parameters, each allowed value, everything main has no default for, and an
    environment and location that match its name."""
    problems = []
    if not str(doc.get("$schema", "")).endswith("deploymentParameters.json#"):
        problems.append(f"{name}: not an ARM deployment parameters file")
    given = values(doc)
    for param in sorted(set(given) - set(main.params)):
        problems.append(f"{name}: sets {param}, which main.bicep does not declare")
    for param in sorted(set(main.params) - set(given) - DEPLOY_TIME):
        if main.params[param].get("default") is None:
            problems.append(f"{name}: does not set {param} (main.bicep has no default)")
    for param, value in given.items():
        allowed = main.decorators(param).get("allowed") if param in main.params else None
        if allowed is not None and value not in allowed:
            problems.append(f"{name}: {param}={value!r} is not one of {allowed}")
    location = given.get("location")
    if location not in PRODUCTION_REGIONS or given.get("regionShort") != PRODUCTION_REGIONS[location]:
        problems.append(f"{name}: location {location!r} with regionShort {given.get('regionShort')!r} is not one of "
                        f"{PRODUCTION_REGIONS}")
    if given.get("dashboardLocation") not in STATIC_WEB_APP_REGIONS:
        problems.append(f"{name}: dashboardLocation {given.get('dashboardLocation')!r} is not a Static Web Apps "
                        f"region ({sorted(STATIC_WEB_APP_REGIONS)})")
    environment, _, region = name.partition("-")
    if given.get("environmentName") != environment:
        problems.append(f"{name}: environmentName is {given.get('environmentName')!r}, not {environment!r}")
    if region and (given.get("location") != region or given.get("regionShort") != PRODUCTION_REGIONS.get(region)):
        problems.append(f"{name}: location {given.get('location')!r} / regionShort {given.get('regionShort')!r} "
                        f"is not {region} / {PRODUCTION_REGIONS.get(region)}")
    if environment == "production":
        if given.get("mediaStorageSku") != "Standard_GRS":
            problems.append(f"{name}: the media account is {given.get('mediaStorageSku')!r}, not Standard_GRS")
        if given.get("recordsStore") != "cosmos":
            problems.append(f"{name}: job records in {given.get('recordsStore')!r}, not Cosmos DB")
        failover = given.get("cosmosFailoverLocations") or []
        if not failover or given.get("location") in failover:
            problems.append(f"{name}: Cosmos DB has no failover region apart from {given.get('location')!r}")
    return problems
