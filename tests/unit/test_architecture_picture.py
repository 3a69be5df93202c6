"""docs/img/architecture.svg against infra/: every box stands for resource types the Bicep templates create, every
architectural resource type they create has a box, and the committed SVG is what docs/architecture_diagram.py
draws now (regenerate with ``python docs/architecture_diagram.py --png``)."""

from __future__ import annotations

import importlib.util
import re
import struct
import sys
import xml.etree.ElementTree as ET
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parents[2]
INFRA = ROOT / "infra"
SCRIPT = ROOT / "docs" / "architecture_diagram.py"
SVG_NS = "{http://www.w3.org/2000/svg}"

# `resource <symbol> '<type>@<api version>' [existing] =`, at any indentation
RESOURCE = re.compile(r"^\s*resource\s+\w+\s+'(?P<type>[^'@]+)@[^']+'\s+(?P<existing>existing\s+)?=", re.MULTILINE)

# The top-level types the picture must show: everything infra/ creates except the PLUMBING below.
ARCHITECTURAL_TYPES = frozenset({
    "Microsoft.Storage/storageAccounts",
    "Microsoft.EventGrid/systemTopics",
    "Microsoft.Web/sites",
    "Microsoft.Web/serverfarms",
    "Microsoft.Web/staticSites",
    "Microsoft.ContainerService/managedClusters",
    "Microsoft.ContainerRegistry/registries",
    "Microsoft.DocumentDB/databaseAccounts",
    "Microsoft.Cdn/profiles",
    "Microsoft.ManagedIdentity/userAssignedIdentities",
    "Microsoft.OperationalInsights/workspaces",
    "Microsoft.Insights/components",
    "Microsoft.Monitor/accounts",
    "Microsoft.Insights/dataCollectionEndpoints",
    "Microsoft.Insights/dataCollectionRules",
    "Microsoft.AlertsManagement/prometheusRuleGroups",
    "Microsoft.Insights/actionGroups",
    "Microsoft.Consumption/budgets",
    "Microsoft.CostManagement/scheduledActions",
    "Microsoft.Network/privateEndpoints",
})
# Top-level types that only attach to other resources (diagnostics, role assignments, rule associations): the
# picture may fold them into the boxes of what they serve, and need not draw them.
PLUMBING_TYPES = frozenset({
    "Microsoft.Insights/diagnosticSettings",
    "Microsoft.Authorization/roleAssignments",
    "Microsoft.Insights/dataCollectionRuleAssociations",
})


@pytest.fixture(scope="module")
def diagram() -> ModuleType:
    spec = importlib.util.spec_from_file_location("architecture_diagram", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while the file runs
    try:
        spec.loader.exec_module(module)
    finally:
        sys.modules.pop(spec.name, None)
    return module


def created_types() -> set[str]:
    """Every resource type a template under infra/ creates (declarations marked `existing` only refer)."""
    found = set()
    for path in sorted(INFRA.rglob("*.bicep")):
        for m in RESOURCE.finditer(path.read_text(encoding="utf-8")):
            if not m["existing"]:
                found.add(m["type"])
    return found


def top_level(types: set[str]) -> set[str]:
    return {t for t in types if t.count("/") == 1}


def drawn_types(diagram: ModuleType) -> set[str]:
    return {t for box in diagram.BOXES for t in box.types}


def test_the_templates_are_read() -> None:
    created = created_types()
    assert "Microsoft.ContainerService/managedClusters" in created
    assert all(t.startswith("Microsoft.") and "/" in t for t in created), sorted(created)


def test_every_box_stands_for_types_the_templates_create(diagram: ModuleType) -> None:
    created = created_types()
    for box in diagram.BOXES:
        if box.external:
            assert not box.types, f"{box.id} is drawn as outside Azure but names resource types"
            continue
        assert box.types, f"{box.id} names no resource type"
        missing = sorted(set(box.types) - created)
        assert not missing, f"box {box.id!r} stands for types no template under infra/ creates: {missing}"


def test_every_architectural_type_has_a_box(diagram: ModuleType) -> None:
    created = top_level(created_types())
    stale = sorted(ARCHITECTURAL_TYPES - created)
    assert not stale, f"no longer created under infra/ (take them off the list and the picture): {stale}"
    undrawn = sorted(ARCHITECTURAL_TYPES - drawn_types(diagram))
    assert not undrawn, f"created under infra/ but in no box of docs/architecture_diagram.py: {undrawn}"


def test_every_top_level_type_is_classified() -> None:
    unknown = sorted(top_level(created_types()) - ARCHITECTURAL_TYPES - PLUMBING_TYPES)
    assert not unknown, (f"new resource types under infra/: draw them (docs/architecture_diagram.py) and add them "
                         f"to ARCHITECTURAL_TYPES, or to PLUMBING_TYPES if they only attach to others: {unknown}")


def test_box_ids_are_unique(diagram: ModuleType) -> None:
    ids = [box.id for box in diagram.BOXES]
    assert len(ids) == len(set(ids))


def test_layout_holds(diagram: ModuleType) -> None:
    assert diagram.layout_problems() == []
    for box in diagram.BOXES:
        assert 0 <= box.x and box.right <= diagram.WIDTH and 0 <= box.y and box.bottom <= diagram.HEIGHT, box.id


def test_committed_svg_is_current(diagram: ModuleType) -> None:
    committed = diagram.SVG_PATH.read_text(encoding="utf-8")
    assert committed == diagram.render(), "docs/img/architecture.svg is stale: run python docs/architecture_diagram.py"


def test_svg_is_well_formed_and_shows_every_box(diagram: ModuleType) -> None:
    root = ET.parse(diagram.SVG_PATH).getroot()
    assert root.tag == f"{SVG_NS}svg"
    assert root.get("viewBox") == f"0 0 {diagram.WIDTH} {diagram.HEIGHT}"
    groups = {g.get("id"): g for g in root.iter(f"{SVG_NS}g")}
    for box in diagram.BOXES:
        g = groups.get(f"box-{box.id}")
        assert g is not None, f"box {box.id} is not in the SVG"
        texts = ["".join(t.itertext()) for t in g.iter(f"{SVG_NS}text")]
        assert box.title in texts, f"box {box.id} lacks its title"


def test_png_has_the_svg_shape(diagram: ModuleType) -> None:
    png = diagram.PNG_PATH
    if not png.exists():
        pytest.skip("no docs/img/architecture.png")
    head = png.read_bytes()[:24]
    assert head[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", head[16:24])
    assert width * diagram.HEIGHT == height * diagram.WIDTH, "the PNG is not a rendering of the current SVG's size"
