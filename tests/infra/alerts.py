"""The alert rules as Azure receives them: evaluate.py runs prometheus-alerts.bicep's loops and expressions over
the file its loadYamlContent() names (read from that path, relative to the template, as the Bicep CLI reads it at
build time), so the tests compare what the template makes of the chart's rules with the rules themselves."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from tests.infra.bicep import Template
from tests.infra.evaluate import Unsupported, evaluate

RULE_GROUPS = "Microsoft.AlertsManagement/prometheusRuleGroups"
# Azure alert severities by the Prometheus severity label
SEVERITIES = {"critical": 0, "error": 1, "warning": 2, "info": 3}


def rule_groups(t: Template) -> list[dict[str, Any]]:
    """Each prometheusRuleGroups resource as deployed: [{name, properties: {rules: [...]}}]."""
    found = []
    for res in t.data.get("resources", {}).values():
        if res["type"] == RULE_GROUPS:
            value = evaluate(res["config"], {}, t)
            found.extend(value if isinstance(value, list) else [value])
    return found


def expected_rules(rule_file: Path) -> list[tuple[str, str, str | None, int]]:
    groups = yaml.safe_load(rule_file.read_text())["groups"]
    return [(r["alert"], r["expr"], f"PT{r['for'].upper()}" if "for" in r else None,
             SEVERITIES[r["labels"]["severity"]]) for g in groups for r in g["rules"]]


def mapping_problems(t: Template, rule_file: Path) -> list[str]:
    """Every rule of the file arrives with its name, expression, duration and severity, and nothing else does."""
    try:
        made = rule_groups(t)
        got = [(r.get("alert"), r.get("expression"), r.get("for"), r.get("severity"))
               for g in made for r in g["properties"]["rules"]]
    except (Unsupported, KeyError, FileNotFoundError, TypeError, AttributeError) as exc:
        return [f"{t.name}: cannot evaluate the rule groups: {type(exc).__name__}: {exc}"]
    want = expected_rules(rule_file)
    if got == want:
        return []
    return [f"{t.name}: rule {w[0]} arrives as {g}" for w, g in zip(want, got, strict=False) if w != g] or \
        [f"{t.name}: {len(got)} rules made from the {len(want)} of {rule_file.name}"]
