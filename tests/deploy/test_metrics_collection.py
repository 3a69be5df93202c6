"""How /metrics gets collected (metrics.*): which ServiceMonitor the chart renders for which cluster, the pod scrape
annotations, and the PrometheusRule built from files/prometheus-rules.yaml."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.deploy.conftest import CHART, REQUIRED, Rendered, render, validate_files

AZURE = "azmonitoring.coreos.com/v1"
OPERATOR = "monitoring.coreos.com/v1"
SCRAPE = {"prometheus.io/scrape": "true", "prometheus.io/port": "8080", "prometheus.io/path": "/metrics"}


def cluster_with(*groups: str) -> list[str]:
    """helm arguments for a cluster that serves the ServiceMonitor kind of ``groups``."""
    return [arg for group in groups for arg in ("--api-versions", f"{group}/ServiceMonitor")]


def monitor_api(rendered: Rendered) -> str | None:
    monitors = [d for d in rendered.docs if d["kind"] == "ServiceMonitor"]
    assert len(monitors) <= 1, rendered.kinds()
    return monitors[0]["apiVersion"] if monitors else None


def scrape_annotations(rendered: Rendered) -> dict[str, str]:
    annotations: dict[str, str] = rendered.pod_metadata()["annotations"]
    return {k: v for k, v in annotations.items() if k.startswith("prometheus.io/")}


@pytest.mark.parametrize("name", ["default", "scaledjob", "blue", "green-paused-job"])
def test_by_default_pods_carry_scrape_annotations_and_there_is_no_monitor(variants: dict[str, Rendered],
                                                                         name: str) -> None:
    rendered = variants[name]
    assert not rendered.has("ServiceMonitor") and not rendered.has("PrometheusRule")
    assert scrape_annotations(rendered) == SCRAPE
    assert rendered.pod_metadata()["annotations"]["cluster-autoscaler.kubernetes.io/safe-to-evict"] == "false"


@pytest.mark.parametrize(("release", "slot"), [("transcoder-blue", "blue"), ("transcoder-green", "green")])
def test_auto_on_aks_with_managed_prometheus_selects_the_slot_service(release: str, slot: str) -> None:
    rendered = render(f"aks-{slot}", release, [*REQUIRED, "--set", f"slot={slot}", *cluster_with(AZURE)])
    monitor = rendered.one("ServiceMonitor")
    assert monitor["apiVersion"] == AZURE
    service = rendered.one("Service")
    # the gates query service="transcoder-<slot>": the label a ServiceMonitor target gets from the Service's name
    assert service["metadata"]["name"] == monitor["metadata"]["name"] == release
    selector = {"app.kubernetes.io/name": "transcoder", "app.kubernetes.io/instance": release, "slot": slot}
    assert monitor["spec"]["selector"] == {"matchLabels": selector}
    assert service["spec"]["selector"] == selector and selector.items() <= service["metadata"]["labels"].items()
    assert [p["name"] for p in service["spec"]["ports"]] == ["http"]
    assert monitor["spec"]["endpoints"] == [{"port": "http", "path": "/metrics", "interval": "30s",
                                             "scrapeTimeout": "10s"}]
    assert (monitor["spec"]["labelLimit"], monitor["spec"]["labelNameLengthLimit"],
            monitor["spec"]["labelValueLengthLimit"]) == (63, 511, 1023)
    assert "namespaceSelector" not in monitor["spec"] and monitor["metadata"]["namespace"] == "media"
    assert scrape_annotations(rendered) == SCRAPE
    # a draining (not ready, terminating) worker stays a target, so its last series are collected
    assert service["spec"]["publishNotReadyAddresses"] is True


@pytest.mark.parametrize(("collection", "groups", "expected"), [
    ("auto", [], None),
    ("auto", [AZURE], AZURE),
    ("auto", [OPERATOR], OPERATOR),
    ("auto", [OPERATOR, AZURE], AZURE),  # managed Prometheus does not read the Operator's group
    ("azure-managed", [], AZURE),  # the install fails where the CRD is missing, as wanted
    ("azure-managed", [OPERATOR], AZURE),
    ("prometheus-operator", [AZURE], OPERATOR),
    ("annotations", [OPERATOR, AZURE], None),
    ("none", [OPERATOR, AZURE], None),
])
def test_collection_picks_the_service_monitor(collection: str, groups: list[str], expected: str | None) -> None:
    rendered = render(collection, "transcoder", [*REQUIRED, "--set", f"metrics.collection={collection}",
                                                 *cluster_with(*groups)])
    assert monitor_api(rendered) == expected
    assert scrape_annotations(rendered) == ({} if collection == "none" else SCRAPE)
    assert not rendered.has("PrometheusRule")


def test_scrape_values_reach_the_monitor_and_the_annotations() -> None:
    rendered = render("scrape", "transcoder", [
        *REQUIRED, "--set", "metrics.collection=azure-managed", "--set", "metrics.interval=1m",
        "--set", "metrics.scrapeTimeout=20s", "--set", "metrics.labels.team=media", "--set", "worker.httpPort=9090",
        "--set", "scaling.kind=ScaledJob"])
    monitor = rendered.one("ServiceMonitor")
    assert monitor["spec"]["endpoints"][0] == {"port": "http", "path": "/metrics", "interval": "1m",
                                              "scrapeTimeout": "20s"}
    assert monitor["metadata"]["labels"]["team"] == "media"
    assert scrape_annotations(rendered) == SCRAPE | {"prometheus.io/port": "9090"}
    off = render("no-annotations", "transcoder", [*REQUIRED, "--set", "metrics.scrapeAnnotations=false"])
    assert scrape_annotations(off) == {}
    assert off.pod_metadata()["annotations"]["cluster-autoscaler.kubernetes.io/safe-to-evict"] == "false"
    # podAnnotations win over the chart's, without a duplicate key
    mine = render("mine", "transcoder", [*REQUIRED, "--set-string", "podAnnotations.prometheus\\.io/scrape=false"])
    assert scrape_annotations(mine) == SCRAPE | {"prometheus.io/scrape": "false"}
    assert mine.text.count("prometheus.io/scrape") == 1


def test_alerts_render_the_rules_file_as_a_prometheus_rule() -> None:
    rendered = render("alerts", "transcoder-green", [*REQUIRED, "--set", "slot=green",
                                                      "--set", "metrics.alerts.enabled=true",
                                                      "--set", "metrics.alerts.labels.release=prometheus"])
    rule = rendered.one("PrometheusRule")
    assert rule["apiVersion"] == OPERATOR
    assert rule["metadata"]["name"] == "transcoder-green"
    assert rule["metadata"]["labels"]["release"] == "prometheus"
    assert rule["metadata"]["labels"]["slot"] == "green"
    rules_file: dict[str, Any] = yaml.safe_load((CHART / "files" / "prometheus-rules.yaml").read_text())
    assert rule["spec"] == {"groups": rules_file["groups"]}
    assert len(rule["spec"]["groups"][0]["rules"]) == 7
    assert not rendered.has("ServiceMonitor"), "alerts do not imply a ServiceMonitor"


def test_the_new_kinds_validate_against_their_crd_schemas(tmp_path: Path) -> None:
    rendered = render("azure-alerts", "transcoder-blue", [*REQUIRED, "--set", "metrics.collection=azure-managed",
                                                          "--set", "metrics.alerts.enabled=true"])
    path = tmp_path / "azure.yaml"
    path.write_text(rendered.text)
    code, results = validate_files([path])
    assert code == 0, [r for r in results if not r["ok"]]
    schemas = {(r["apiVersion"], r["kind"]): r["schema"] for r in results}
    assert schemas[(AZURE, "ServiceMonitor")] == "schemas/servicemonitor.json"
    assert schemas[(OPERATOR, "PrometheusRule")] == "schemas/prometheusrule.json"
    # and the schemas refuse what the CRDs refuse
    docs = [d for d in yaml.safe_load_all(rendered.text) if d]
    for doc in docs:
        if doc["kind"] == "ServiceMonitor":
            doc["spec"]["endpoints"][0]["scrapeInterval"] = "30s"
        if doc["kind"] == "PrometheusRule":
            doc["spec"]["groups"][0]["rules"][0]["for"] = "15 minutes"
    broken = tmp_path / "broken.yaml"
    broken.write_text(yaml.safe_dump_all(docs))
    code, results = validate_files([broken])
    assert code == 1
    assert sorted(r["kind"] for r in results if not r["ok"]) == ["PrometheusRule", "ServiceMonitor"]
