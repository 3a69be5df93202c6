"""The cluster: the GPU pool matches what the chart schedules the worker with (values.yaml), the add-ons the chart
relies on are on, and the worker's identity trusts exactly the ServiceAccounts the chart renders for each slot."""

from __future__ import annotations

import copy
from typing import Any

import pytest
import yaml

from tests.deploy.conftest import CHART, NAMESPACE, REQUIRED, render
from tests.infra.bicep import Template
from tests.infra.cluster import CLUSTER, gpu_pool, gpu_pool_problems


@pytest.fixture(scope="module")
def gpu_values() -> dict[str, Any]:
    return yaml.safe_load((CHART / "values.yaml").read_text())["gpu"]  # type: ignore[no-any-return]


def test_gpu_pool_matches_the_charts_tolerations_and_node_selector(templates: dict[str, Template],
                                                                   gpu_values: dict[str, Any]) -> None:
    aks = templates["modules/aks.bicep"]
    assert gpu_pool_problems(aks, gpu_values) == []
    assert aks.resolve(gpu_pool(aks)["nodeTaints"]) == ["sku=gpu:NoSchedule"]
    assert {k.strip("'") for k in aks.resolve(gpu_pool(aks)["nodeLabels"])} == {"workload"}


def test_gpu_pool_defaults_to_a_t4_and_scales_from_zero(main: Template, templates: dict[str, Template]) -> None:
    assert main.params["gpuVmSize"]["default"] == "Standard_NC4as_T4_v3"
    pool = gpu_pool(templates["modules/aks.bicep"])
    assert (pool["minCount"], pool["count"], pool["maxCount"], pool["enableAutoScaling"]) == (0, 0, "gpuMaxNodes", True)


@pytest.mark.parametrize(("name", "expected"), [
    ("gpu-taint", "the GPU pool's taint gpu=true:NoSchedule is not tolerated by the chart"),
    ("gpu-reserved-label", "the GPU pool sets kubernetes.azure.com/accelerator, a label reserved to AKS"),
])
def test_gpu_check_fails_on_a_pool_the_chart_does_not_fit(sample: dict[str, Template], gpu_values: dict[str, Any],
                                                          name: str, expected: str) -> None:
    assert expected in gpu_pool_problems(sample[name], gpu_values)


def test_gpu_check_fails_when_the_chart_asks_for_a_label_the_pool_lacks(templates: dict[str, Template],
                                                                        gpu_values: dict[str, Any]) -> None:
    values = copy.deepcopy(gpu_values)
    values["nodeSelector"]["pool"] = "gpu"
    values["tolerations"].append({"key": "dedicated", "operator": "Equal", "value": "video", "effect": "NoSchedule"})
    problems = gpu_pool_problems(templates["modules/aks.bicep"], values)
    assert problems == ["the chart tolerates dedicated=video:NoSchedule, which the GPU pool does not carry",
                        "the chart selects pool=gpu, which the GPU pool's nodes lack"]


def test_cluster_has_what_the_chart_and_the_pipeline_rely_on(templates: dict[str, Template]) -> None:
    cluster = [r for r in templates["modules/aks.bicep"].resources if r.type == CLUSTER][0].body["properties"]
    assert cluster["oidcIssuerProfile"] == {"enabled": True}
    assert cluster["securityProfile"]["workloadIdentity"] == {"enabled": True}
    assert cluster["workloadAutoScalerProfile"]["keda"] == {"enabled": True}
    assert cluster["azureMonitorProfile"]["metrics"]["enabled"] is True
    assert cluster["addonProfiles"]["omsagent"]["enabled"] is True
    assert cluster["aadProfile"] == {"managed": True, "enableAzureRBAC": True} and cluster["disableLocalAccounts"]
    assert cluster["networkProfile"]["networkPolicy"] == "cilium"  # the chart ships a NetworkPolicy
    monitoring = templates["modules/cluster-monitoring.bicep"]
    rules = {r.symbol: r for r in monitoring.resources}
    assert rules["prometheusAssociation"].body["scope"] == "cluster"
    assert rules["endpointAssociation"].body["name"] == "configurationAccessEndpoint"
    assert rules["prometheusRule"].body["properties"]["destinations"]["monitoringAccounts"][0]["accountResourceId"] \
        == {"operator": {"type": "property_accessor", "operands": {"operand_1": "monitorWorkspace",
                                                                   "operand_2": "id"}}}


def test_worker_identity_trusts_the_service_accounts_the_chart_renders(main: Template,
                                                                       templates: dict[str, Template]) -> None:
    rendered = []
    for slot in ("blue", "green"):
        account = render(slot, f"transcoder-{slot}", [*REQUIRED, "--set", f"slot={slot}"]).one("ServiceAccount")
        rendered.append((account["metadata"]["namespace"], account["metadata"]["name"]))
    assert rendered == [(main.params["workerNamespace"]["default"], name)
                        for name in main.params["workerServiceAccounts"]["default"]]
    assert main.params["workerNamespace"]["default"] == NAMESPACE
    credentials = templates["modules/workload-identity.bicep"].resource("workerCredentials")
    assert credentials.body["properties"]["subject"] == "system:serviceaccount:${workerNamespace}:${account}"
    assert credentials.loop is not None and credentials.loop["detail"]["array_name"] == "workerServiceAccounts"
    keda = templates["modules/workload-identity.bicep"].resource("kedaCredential")
    assert keda.body["properties"]["subject"] == "system:serviceaccount:${kedaNamespace}:${kedaServiceAccount}"
    assert main.params["kedaOperator"]["default"] == {"namespace": "kube-system", "serviceAccount": "keda-operator"}
