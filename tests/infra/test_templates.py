"""The templates as a whole: they parse, main wires its modules as a compiler would, every parameter is
documented, every resource is tagged with the four tags, placed in the location parameter, named from parameters,
and logs to the workspace where it has logs. Each rule is also shown to fail on a sample that breaks it."""

from __future__ import annotations

import re

import pytest

from tests.infra import checks
from tests.infra.bicep import Template
from tests.infra.conftest import INFRA


def test_main_calls_every_module_and_nothing_else(main: Template, templates: dict[str, Template]) -> None:
    called = {m.path for m in main.modules}
    assert called == {name for name in templates if name.startswith("modules/")}
    assert main.scope == "resourceGroup"
    assert templates["modules/cost-anomaly.bicep"].scope == "subscription"


def test_main_wires_its_modules(main: Template, templates: dict[str, Template]) -> None:
    assert checks.wiring_problems(main, templates) == []


@pytest.mark.parametrize(("name", "expected"), [
    ("main-typo", ["does not pass alertEmail", "passes alertMail"]),
    ("main-output-typo", ["registry.outputs.loginserver is not an output"]),
])
def test_wiring_check_catches_typos(sample: dict[str, Template], templates: dict[str, Template], name: str,
                                    expected: list[str]) -> None:
    problems = checks.wiring_problems(sample[name], templates)
    for text in expected:
        assert any(text in p for p in problems), problems


def test_every_parameter_is_documented(templates: dict[str, Template]) -> None:
    assert [p for t in templates.values() for p in checks.description_problems(t)] == []


def test_every_resource_is_tagged(templates: dict[str, Template]) -> None:
    assert [p for t in templates.values() for p in checks.tag_problems(t)] == []
    tagged = [r for t in templates.values() for r in t.resources if r.body.get("tags") == "tags"]
    assert len(tagged) >= 24


def test_main_builds_the_four_tags_once_and_passes_them_to_every_module(main: Template,
                                                                        templates: dict[str, Template]) -> None:
    assert checks.main_tag_problems(main, templates) == []
    assert main.variables["tags"] == {"environment": "environmentName", "service": "serviceName", "owner": "owner",
                                      "costCenter": "costCenter"}


def test_every_resource_is_in_the_location_parameter(templates: dict[str, Template]) -> None:
    assert [p for t in templates.values() for p in checks.location_problems(t)] == []
    default = templates["main.bicep"].params["location"]["default"]["function"]
    assert (default["type"], default["property_name"]) == ("resource_group", "location")  # resourceGroup().location


def test_no_template_names_a_region(templates: dict[str, Template]) -> None:
    assert [p for name, t in templates.items() for p in checks.region_literal_problems(name, t.text)] == []


def test_no_resource_has_a_literal_name(templates: dict[str, Template]) -> None:
    assert [p for t in templates.values() for p in checks.literal_name_problems(t)] == []


def test_every_resource_with_logs_sends_them_to_the_workspace(templates: dict[str, Template]) -> None:
    assert [p for t in templates.values() for p in checks.diagnostics_problems(t)] == []
    diagnosed = {r.type for t in templates.values() for r in t.resources
                 if checks.DIAGNOSTICS.get(r.type) is True and not r.existing}
    assert diagnosed == {t for t, need in checks.DIAGNOSTICS.items() if need is True}


@pytest.mark.parametrize(("name", "rule", "expected"), [
    ("untagged", "tags", "is not tagged with `tags`"),
    ("literal-region", "location", "has location 'westeurope'"),
    ("literal-region", "region", "names the region 'westeurope'"),
    ("literal-name", "names", "has the literal name 'stmedia0001'"),
    ("no-diagnostics", "diagnostics", "has no diagnostic setting"),
    ("undocumented-param", "descriptions", "param location has no @description"),
])
def test_each_rule_fails_on_a_sample_that_breaks_it(sample: dict[str, Template], name: str, rule: str,
                                                    expected: str) -> None:
    t = sample[name]
    run = {"tags": checks.tag_problems, "location": checks.location_problems,
           "region": lambda t: checks.region_literal_problems(t.name, t.text),
           "names": checks.literal_name_problems, "diagnostics": checks.diagnostics_problems,
           "descriptions": checks.description_problems}[rule]
    problems = run(t)
    assert any(expected in p for p in problems), problems


def test_the_region_check_reads_comments_too() -> None:
    assert checks.region_literal_problems("x", "// deployed to eastus\nparam a string\n") == \
        ["x:1: names the region 'eastus'"]
    assert checks.region_literal_problems("x", "param eastusish string\n") == []


def test_main_outputs_what_the_pipeline_needs(main: Template) -> None:
    assert {"mediaStorageAccountName", "hostStorageAccountName", "jobsQueueName", "recordsTableEndpoint",
            "workloadClientId", "kedaClientId", "aksName", "acrLoginServer", "functionAppName",
            "frontDoorHostName", "prometheusQueryEndpoint"} <= set(main.outputs)
    assert main.outputs["prometheusQueryEndpoint"]["value"]["operator"]["operands"]["operand_1"] == "monitoring"
    modules = (INFRA / "modules" / "monitoring.bicep").read_text()
    assert re.search(r"output prometheusQueryEndpoint string = "
                     r"monitorWorkspace\.properties\.metrics\.prometheusQueryEndpoint", modules)
