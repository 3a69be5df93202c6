"""The Prometheus rule groups carry the chart's alert rules (helm/transcoder/files/prometheus-rules.yaml): the
same seven alerts with the same expressions, by construction (loadYamlContent) and checked by evaluating the
template's mapping over the file."""

from __future__ import annotations

import yaml

from tests.infra.alerts import SEVERITIES, expected_rules, mapping_problems, rule_groups
from tests.infra.bicep import Template
from tests.infra.conftest import RULE_FILE


def test_rule_groups_load_the_charts_rule_file(templates: dict[str, Template]) -> None:
    alerts = templates["modules/prometheus-alerts.bicep"]
    loaded = alerts.data["variables"]["ruleFile"]["value"]["function"]
    assert loaded["type"] == "load_yaml_content"
    assert (alerts.path.parent / loaded["parameters"]["file_path"]).resolve() == RULE_FILE


def test_every_alert_arrives_with_its_expression_duration_and_severity(templates: dict[str, Template]) -> None:
    alerts = templates["modules/prometheus-alerts.bicep"]
    assert mapping_problems(alerts, RULE_FILE) == []
    made = [r for g in rule_groups(alerts) for r in g["properties"]["rules"]]
    assert [r["alert"] for r in made] == [
        "TranscoderJobFailureRateHigh", "TranscoderMessagesPoisoned", "TranscoderEncoderFallback",
        "TranscoderQueueBacklog", "TranscoderWorkerStuckDraining", "TranscoderTargetDown", "TranscoderMetricsAbsent"]
    assert [(r["alert"], r["expression"]) for r in made] == [(a, e) for a, e, _, _ in expected_rules(RULE_FILE)]
    assert made[0]["for"] == "PT15M" and made[0]["severity"] == SEVERITIES["critical"]
    assert all(r["actions"] == [{"actionGroupId": "actionGroupId"}] and r["enabled"] is True for r in made)


def test_rule_groups_query_the_workspace_for_the_cluster(templates: dict[str, Template]) -> None:
    group = rule_groups(templates["modules/prometheus-alerts.bicep"])[0]
    assert group["name"] == "${ruleGroupPrefix}-transcoder"
    assert group["properties"]["scopes"] == ["monitorWorkspaceId", "clusterId"]
    assert group["properties"]["clusterName"] == "clusterName"


def test_no_rule_text_would_be_read_as_an_arm_expression() -> None:
    """ARM evaluates a string that starts with '[' as a template expression."""
    def strings(node: object) -> list[str]:
        if isinstance(node, dict):
            return [s for v in node.values() for s in strings(v)]
        if isinstance(node, list):
            return [s for v in node for s in strings(v)]
        return [node] if isinstance(node, str) else []
    assert [s for s in strings(yaml.safe_load(RULE_FILE.read_text())) if s.lstrip().startswith("[")] == []


def test_the_mapping_check_fails_when_the_template_drifts(sample: dict[str, Template]) -> None:
    problems = mapping_problems(sample["alerts-drift"], RULE_FILE)
    assert len(problems) == 7 and problems[0].startswith("sample:alerts-drift: rule TranscoderJobFailureRateHigh")
    other = mapping_problems(sample["alerts-other-file"], RULE_FILE)
    assert len(other) == 1 and "cannot evaluate the rule groups" in other[0]
