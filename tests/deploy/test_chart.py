"""The chart rendered by the real helm in its variants: what the manifests say, checked value by value."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.deploy.conftest import (
    CHART,
    KUBE_VERSION,
    REQUIRED,
    VARIANTS,
    Rendered,
    render,
    render_error,
    validate_files,
)

GPU_VARIANTS = ["default", "gpu", "scaledjob", "blue", "green", "green-paused-job"]
CORE = {"Pod", "Deployment", "ServiceAccount", "ConfigMap", "Service", "NetworkPolicy", "PodDisruptionBudget"}
SECRET_MARKERS = ["connectionstring", "connection_string", "accountkey", "sharedaccesssignature", "sharedaccesskey",
                  "secretkeyref", "secrettargetref", "connectionfromenv", "sig=", "password", "clientsecret",
                  "client_secret", "kind: secret"]


def chart_values() -> dict[str, Any]:
    return yaml.safe_load((CHART / "values.yaml").read_text())


def app_version() -> str:
    return str(yaml.safe_load((CHART / "Chart.yaml").read_text())["appVersion"])


def test_each_variant_renders_the_objects_of_its_kind(variants: dict[str, Rendered]) -> None:
    deployment_kinds = CORE | {"ScaledObject", "TriggerAuthentication"}
    job_kinds = CORE - {"Deployment", "PodDisruptionBudget"} | {"ScaledJob", "TriggerAuthentication"}
    assert set(variants["default"].kinds()) == deployment_kinds
    assert set(variants["cpu"].kinds()) == deployment_kinds
    assert set(variants["green"].kinds()) == deployment_kinds
    assert set(variants["gpu"].kinds()) == deployment_kinds | {"ServiceMonitor", "PrometheusRule"}
    assert set(variants["scaledjob"].kinds()) == job_kinds
    assert set(variants["green-paused-job"].kinds()) == job_kinds
    for rendered in variants.values():
        assert len(rendered.kinds()) == len(set(rendered.kinds())), f"{rendered.name}: {rendered.kinds()}"
        assert all(d["metadata"]["namespace"] == "media" for d in rendered.docs)


def test_every_manifest_validates_against_its_schema(variants: dict[str, Rendered],
                                                     validation: list[dict[str, Any]]) -> None:
    failures = [r for r in validation if not r["ok"]]
    assert not failures, failures
    assert len(validation) == sum(len(r.docs) for r in variants.values())
    for result in validation:
        if result["kind"] in CORE:
            assert result["schema"] == f"kubernetes {KUBE_VERSION}", result
        elif result["kind"] in {"ScaledObject", "ScaledJob", "TriggerAuthentication"}:
            assert result["schema"] == "schemas/keda.json", result
        else:
            assert (result["kind"], result["schema"]) in {("ServiceMonitor", "schemas/servicemonitor.json"),
                                                          ("PrometheusRule", "schemas/prometheusrule.json")}


def _broken(rendered: Rendered, tmp_path: Path, name: str, change: Any) -> Path:
    docs = yaml.safe_load_all(rendered.text)
    docs = [d for d in docs if d]
    for doc in docs:
        change(doc)
    path = tmp_path / f"{name}.yaml"
    path.write_text(yaml.safe_dump_all(docs))
    return path


def test_the_validator_refuses_what_the_cluster_would_refuse(variants: dict[str, Rendered], tmp_path: Path) -> None:
    def container_typo(doc: dict[str, Any]) -> None:
        if doc["kind"] == "ScaledJob":
            doc["spec"]["jobTargetRef"]["template"]["spec"]["containers"][0]["imagePullpolicy"] = "Always"

    def numeric_queue_length(doc: dict[str, Any]) -> None:
        if doc["kind"] == "ScaledObject":
            doc["spec"]["triggers"][0]["metadata"]["queueLength"] = 5

    def unknown_provider(doc: dict[str, Any]) -> None:
        if doc["kind"] == "TriggerAuthentication":
            doc["spec"]["podIdentity"]["provider"] = "azure"

    def deployment_typo(doc: dict[str, Any]) -> None:
        if doc["kind"] == "Deployment":
            doc["spec"]["template"]["spec"]["terminationGracePeriod"] = 960

    cases = [
        (variants["scaledjob"], container_typo, "ScaledJob", "'imagePullpolicy' was unexpected"),
        (variants["default"], numeric_queue_length, "ScaledObject", "5 is not of type 'string'"),
        (variants["default"], unknown_provider, "TriggerAuthentication", "'azure' is not one of"),
        (variants["default"], deployment_typo, "Deployment", "'terminationGracePeriod' was unexpected"),
    ]
    for i, (rendered, change, kind, message) in enumerate(cases):
        code, results = validate_files([_broken(rendered, tmp_path, f"case{i}", change)])
        bad = [r for r in results if not r["ok"]]
        assert code == 1 and [r["kind"] for r in bad] == [kind], results
        assert message in bad[0]["error"]
    widget = tmp_path / "widget.yaml"
    widget.write_text("apiVersion: example.com/v1\nkind: Widget\nmetadata: {name: w}\n")
    code, results = validate_files([widget])
    assert code == 1 and results[0]["error"].startswith("no schema")


@pytest.mark.parametrize("name", GPU_VARIANTS)
def test_gpu_variants_request_a_gpu_on_the_gpu_pool(variants: dict[str, Rendered], name: str) -> None:
    rendered = variants[name]
    spec, container = rendered.pod_spec(), rendered.container()
    assert container["resources"]["limits"]["nvidia.com/gpu"] == 1
    assert "nvidia.com/gpu" not in container["resources"].get("requests", {})
    assert {"key": "sku", "operator": "Equal", "value": "gpu", "effect": "NoSchedule"} in spec["tolerations"]
    assert {"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"} in spec["tolerations"]
    assert spec["nodeSelector"] == {"kubernetes.azure.com/accelerator": "nvidia"}
    assert rendered.env()["WORKER_ENCODER"] == "auto"
    assert spec.get("runtimeClassName") == ("nvidia" if name == "scaledjob" else None)


def test_gpu_count_runtime_class_and_encoder_follow_the_values() -> None:
    rendered = render("gpu2", "transcoder", [*REQUIRED, "--set", "gpu.count=2", "--set", "gpu.runtimeClassName=nvidia",
                                             "--set", "worker.encoder=gpu", "--set", "tolerations[0].key=team",
                                             "--set", "tolerations[0].operator=Exists"])
    spec = rendered.pod_spec()
    assert rendered.container()["resources"]["limits"]["nvidia.com/gpu"] == 2
    assert spec["runtimeClassName"] == "nvidia"
    assert rendered.env()["WORKER_ENCODER"] == "gpu"
    assert [t["key"] for t in spec["tolerations"]] == ["sku", "nvidia.com/gpu", "team"]


def test_cpu_variant_has_no_gpu_anything(variants: dict[str, Rendered]) -> None:
    rendered = variants["cpu"]
    spec, container = rendered.pod_spec(), rendered.container()
    assert container["resources"] == {"requests": {"cpu": "8", "memory": "8Gi"},
                                      "limits": {"cpu": "16", "memory": "16Gi"}}
    assert "tolerations" not in spec and "runtimeClassName" not in spec
    assert spec["nodeSelector"] == {"kubernetes.azure.com/agentpool": "cpuencode"}
    assert rendered.env()["WORKER_ENCODER"] == "cpu"
    assert "nvidia" not in yaml.safe_dump(rendered.one("Deployment"))


@pytest.mark.parametrize("name", list(VARIANTS))
def test_no_secret_material_anywhere(variants: dict[str, Rendered], name: str) -> None:
    rendered = variants[name]
    assert "Secret" not in rendered.kinds()
    text = rendered.text.lower()
    assert [m for m in SECRET_MARKERS if m in text] == []
    env = rendered.env()
    assert env["WORKER_STORAGE_ACCOUNT_URL"] == "https://transcodesci.blob.core.windows.net"
    assert not [n for n in env if "CONNECTION" in n or "KEY" in n or "SECRET" in n]
    assert all(set(e) == {"name", "value"} for e in rendered.container()["env"]), "env only from plain values"
    assert rendered.one("TriggerAuthentication")["spec"] == {"podIdentity": {"provider": "azure-workload"}}


@pytest.mark.parametrize("name", list(VARIANTS))
def test_pods_and_keda_sign_in_with_workload_identity(variants: dict[str, Rendered], name: str) -> None:
    rendered = variants[name]
    account = rendered.one("ServiceAccount")
    assert account["metadata"]["annotations"]["azure.workload.identity/client-id"] == \
        "11111111-2222-3333-4444-555555555555"
    assert rendered.pod_metadata()["labels"]["azure.workload.identity/use"] == "true"
    spec = rendered.pod_spec()
    assert spec["serviceAccountName"] == account["metadata"]["name"]
    assert spec["automountServiceAccountToken"] is False
    scaler = rendered.one("ScaledJob" if rendered.has("ScaledJob") else "ScaledObject")
    auth = scaler["spec"]["triggers"][0]["authenticationRef"]
    assert auth == {"name": rendered.one("TriggerAuthentication")["metadata"]["name"]}


def test_keda_identity_and_tenant_are_passed_when_given() -> None:
    rendered = render("ids", "transcoder", [*REQUIRED, "--set", "keda.identityId=aaaa-bbbb",
                                            "--set", "workloadIdentity.tenantId=tttt"])
    assert rendered.one("TriggerAuthentication")["spec"]["podIdentity"] == {"provider": "azure-workload",
                                                                            "identityId": "aaaa-bbbb"}
    assert rendered.one("ServiceAccount")["metadata"]["annotations"]["azure.workload.identity/tenant-id"] == "tttt"
    assert rendered.env()["AZURE_TENANT_ID"] == "tttt"


def test_scaled_object_scales_the_deployment_on_the_jobs_queue(variants: dict[str, Rendered]) -> None:
    rendered = variants["default"]
    spec = rendered.one("ScaledObject")["spec"]
    assert spec["scaleTargetRef"] == {"apiVersion": "apps/v1", "kind": "Deployment",
                                      "name": rendered.one("Deployment")["metadata"]["name"]}
    assert (spec["minReplicaCount"], spec["maxReplicaCount"]) == (0, 10)
    assert (spec["cooldownPeriod"], spec["pollingInterval"]) == (300, 15)
    (trigger,) = spec["triggers"]
    assert trigger["type"] == "azure-queue"
    assert trigger["metadata"] == {"accountName": "transcodesci", "queueName": "transcode-jobs", "queueLength": "1",
                                   "activationQueueLength": "0", "queueLengthStrategy": "all",
                                   "cloud": "AzurePublicCloud"}
    assert "replicas" not in rendered.one("Deployment")["spec"], "KEDA owns the replica count"


def test_scaling_values_reach_the_trigger() -> None:
    rendered = render("scaling", "transcoder", [
        *REQUIRED, "--set", "scaling.minReplicas=1", "--set", "scaling.maxReplicas=3",
        "--set", "scaling.queueLength=2", "--set", "scaling.activationQueueLength=4",
        "--set", "scaling.queueLengthStrategy=visibleonly", "--set", "scaling.cooldownPeriod=600",
        "--set", "queue.name=other-jobs", "--set", "storage.endpointSuffix=core.usgovcloudapi.net"])
    spec = rendered.one("ScaledObject")["spec"]
    assert (spec["minReplicaCount"], spec["maxReplicaCount"], spec["cooldownPeriod"]) == (1, 3, 600)
    assert spec["triggers"][0]["metadata"] == {
        "accountName": "transcodesci", "queueName": "other-jobs", "queueLength": "2", "activationQueueLength": "4",
        "queueLengthStrategy": "visibleonly", "cloud": "AzureUSGovernmentCloud"}
    env = rendered.env()
    assert env["WORKER_JOBS_QUEUE"] == "other-jobs"
    assert env["WORKER_STORAGE_ACCOUNT_URL"] == "https://transcodesci.blob.core.usgovcloudapi.net"


def test_scaled_job_runs_one_message_per_job(variants: dict[str, Rendered]) -> None:
    rendered = variants["scaledjob"]
    spec = rendered.one("ScaledJob")["spec"]
    job = spec["jobTargetRef"]
    assert (job["parallelism"], job["completions"], job["backoffLimit"]) == (1, 1, 0)
    assert job["activeDeadlineSeconds"] == 14400
    assert job["template"]["spec"]["restartPolicy"] == "Never"
    assert (spec["minReplicaCount"], spec["maxReplicaCount"]) == (0, 4)
    assert spec["triggers"][0]["type"] == "azure-queue"
    assert spec["triggers"][0]["metadata"]["queueName"] == "transcode-jobs"
    assert spec["rollout"] == {"strategy": "gradual"} and spec["scalingStrategy"] == {"strategy": "default"}
    env = rendered.env()
    assert (env["WORKER_MAX_JOBS"], env["WORKER_IDLE_EXIT_S"]) == ("1", "60")
    deployment_env = render("so", "transcoder", REQUIRED).env()
    assert (deployment_env["WORKER_MAX_JOBS"], deployment_env["WORKER_IDLE_EXIT_S"]) == ("0", "0")


@pytest.mark.parametrize("name", list(VARIANTS))
def test_probes_hit_healthz_and_readyz_on_the_http_port(variants: dict[str, Rendered], name: str) -> None:
    container = variants[name].container()
    assert container["ports"] == [{"name": "http", "containerPort": 8080, "protocol": "TCP"}]
    assert container["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "http"}
    assert container["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "http"}
    assert container["startupProbe"]["httpGet"] == {"path": "/healthz", "port": "http"}
    assert container["startupProbe"]["failureThreshold"] * container["startupProbe"]["periodSeconds"] == 300
    assert variants[name].env()["WORKER_HTTP_PORT"] == "8080"
    assert container["args"] == ["run"] and "command" not in container, "the image's ENTRYPOINT runs the worker"


def test_http_port_moves_container_port_and_env_together() -> None:
    rendered = render("port", "transcoder", [*REQUIRED, "--set", "worker.httpPort=9090"])
    assert rendered.container()["ports"][0]["containerPort"] == 9090
    assert rendered.env()["WORKER_HTTP_PORT"] == "9090"
    assert rendered.one("Service")["spec"]["ports"][0]["targetPort"] == "http"


def test_the_job_records_can_live_in_cosmos_db_for_table(variants: dict[str, Rendered],
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    """The worker reads the table endpoint from WORKER_TABLE_ACCOUNT_URL (infra's recordsTableEndpoint in production);
    left empty, the worker derives it from the storage account, and the variable is not set."""
    cosmos = "https://acct-records.table.cosmos.azure.com:443/"
    rendered = render("cosmos", "transcoder", [*REQUIRED, "--set", f"table.accountUrl={cosmos}"])
    assert rendered.env()["WORKER_TABLE_ACCOUNT_URL"] == cosmos
    assert "WORKER_TABLE_ACCOUNT_URL" not in variants["default"].env()
    from worker.settings import ServiceSettings

    for key in list(os.environ):
        if key.startswith("WORKER_") or key == "FFMPEG_BINARY":
            monkeypatch.delenv(key)
    for key, value in rendered.env().items():
        monkeypatch.setenv(key, value)
    settings = ServiceSettings()
    assert settings.endpoint("table") == cosmos
    assert settings.endpoint("queue") == "https://transcodesci.queue.core.windows.net"


@pytest.mark.parametrize("name", list(VARIANTS))
def test_grace_period_outlasts_the_drain(variants: dict[str, Rendered], name: str) -> None:
    rendered = variants[name]
    grace = rendered.pod_spec()["terminationGracePeriodSeconds"]
    drain = int(rendered.env()["WORKER_DRAIN_SECONDS"])
    assert (grace, drain) == (1000, 900)  # the drain, the 60 s stop after it, and a margin


@pytest.mark.parametrize("name", list(VARIANTS))
def test_pods_are_hardened(variants: dict[str, Rendered], name: str) -> None:
    rendered = variants[name]
    spec, container = rendered.pod_spec(), rendered.container()
    assert spec["securityContext"] == {"runAsNonRoot": True, "runAsUser": 10001, "runAsGroup": 10001,
                                       "fsGroup": 10001, "seccompProfile": {"type": "RuntimeDefault"}}
    assert container["securityContext"] == {
        "runAsNonRoot": True, "runAsUser": 10001, "runAsGroup": 10001, "readOnlyRootFilesystem": True,
        "allowPrivilegeEscalation": False, "privileged": False, "capabilities": {"drop": ["ALL"]},
        "seccompProfile": {"type": "RuntimeDefault"}}
    volumes = {v["name"]: v for v in spec["volumes"]}
    assert volumes["scratch"]["emptyDir"] == {"sizeLimit": "100Gi"}
    assert volumes["tmp"]["emptyDir"] == {"sizeLimit": "1Gi"}
    mounts = {m["mountPath"]: m["name"] for m in container["volumeMounts"]}
    assert mounts == {"/scratch": "scratch", "/tmp": "tmp", "/etc/transcoder": "profile"}
    env = rendered.env()
    assert env["WORKER_SCRATCH_DIR"] == "/scratch"
    assert (env["TMPDIR"], env["HOME"], env["MPLCONFIGDIR"]) == ("/tmp", "/tmp", "/tmp/matplotlib")
    assert "hostPath" not in rendered.text and "hostNetwork" not in rendered.text


def test_scratch_size_and_medium_follow_the_values() -> None:
    rendered = render("scratch", "transcoder", [*REQUIRED, "--set", "scratch.sizeLimit=20Gi",
                                                "--set", "scratch.medium=Memory"])
    volumes = {v["name"]: v for v in rendered.pod_spec()["volumes"]}
    assert volumes["scratch"]["emptyDir"] == {"sizeLimit": "20Gi", "medium": "Memory"}


def test_profile_configmap_is_a_profile_the_worker_loads(variants: dict[str, Rendered], tmp_path: Path) -> None:
    from worker.ladder import DEFAULT_PROFILE, load_profile

    rendered = variants["default"]
    config_map = rendered.one("ConfigMap")
    assert config_map["metadata"]["name"] == "transcoder-blue-profile"
    path = tmp_path / "profile.yaml"
    path.write_text(config_map["data"]["profile.yaml"])
    profile = load_profile(path)
    assert profile == DEFAULT_PROFILE
    assert [r.height for r in profile.rungs] == [1080, 720, 540, 360, 240]
    assert rendered.env()["WORKER_PROFILE"] == "/etc/transcoder/profile.yaml"
    volumes = {v["name"]: v for v in rendered.pod_spec()["volumes"]}
    assert volumes["profile"]["configMap"] == {"name": "transcoder-blue-profile"}


def test_profile_checksum_restarts_pods_when_the_profile_changes(variants: dict[str, Rendered]) -> None:
    before = variants["default"].pod_metadata()["annotations"]["checksum/profile"]
    after = render("hevc", "transcoder", [*REQUIRED, "--set", "profile.codec=hevc"])
    assert after.one("ConfigMap")["data"]["profile.yaml"].startswith("codec: hevc\n")
    changed = after.pod_metadata()["annotations"]["checksum/profile"]
    assert len(before) == len(changed) == 64 and before != changed
    unrelated = render("more", "transcoder", [*REQUIRED, "--set", "scaling.maxReplicas=20"])
    assert unrelated.pod_metadata()["annotations"]["checksum/profile"] == before


@pytest.mark.parametrize("name", ["default", "scaledjob"])
def test_rendered_environment_is_what_the_worker_settings_accept(variants: dict[str, Rendered], name: str,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    """The contract with worker/settings.py: the chart's environment builds the service's settings."""
    from worker.settings import ServiceSettings

    for key in list(os.environ):
        if key.startswith("WORKER_") or key == "FFMPEG_BINARY":
            monkeypatch.delenv(key)
    env = variants[name].env()
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    settings = ServiceSettings()
    assert settings.storage_account_url == "https://transcodesci.blob.core.windows.net"
    assert settings.storage_connection_string is None
    assert (settings.jobs_queue, settings.jobs_table, settings.outputs_container) == ("transcode-jobs", "jobs",
                                                                                        "outputs")
    assert (settings.drain_seconds, settings.max_dequeue, settings.visibility_timeout_s) == (900, 5, 90)
    assert (settings.concurrency, settings.http_port, settings.log_format) == (1, 8080, "json")
    assert settings.encoder == "auto" and settings.min_free_bytes == 1024**3
    assert str(settings.scratch_dir) == "/scratch" and str(settings.profile) == "/etc/transcoder/profile.yaml"
    assert (settings.max_jobs, settings.idle_exit_s) == ((1, 60) if name == "scaledjob" else (0, 0))
    worker_vars = {k for k in env if k.startswith("WORKER_")}
    known = {f"WORKER_{field.upper()}" for field in ServiceSettings.model_fields}
    assert worker_vars <= known, f"variables the worker does not read: {worker_vars - known}"


def test_blue_and_green_run_side_by_side(variants: dict[str, Rendered]) -> None:
    blue, green = variants["blue"], variants["green"]
    names = {r.name: {(d["kind"], d["metadata"]["name"]) for d in r.docs} for r in (blue, green)}
    assert not names["blue"] & names["green"], "no object may be shared by the two slots"
    assert {n for _, n in names["blue"]} == {"transcoder-blue", "transcoder-blue-profile", "transcoder-blue-selftest"}
    assert {n for _, n in names["green"]} == {"transcoder-green", "transcoder-green-profile",
                                              "transcoder-green-selftest"}
    for rendered, slot in ((blue, "blue"), (green, "green")):
        for doc in rendered.docs:
            assert doc["metadata"]["labels"]["slot"] == slot, (slot, doc["kind"])
        selector = {"app.kubernetes.io/name": "transcoder", "app.kubernetes.io/instance": f"transcoder-{slot}",
                    "slot": slot}
        assert rendered.one("Deployment")["spec"]["selector"]["matchLabels"] == selector
        assert rendered.one("Service")["spec"]["selector"] == selector
        assert rendered.one("NetworkPolicy")["spec"]["podSelector"]["matchLabels"] == selector
        assert rendered.one("PodDisruptionBudget")["spec"]["selector"]["matchLabels"] == selector
        assert rendered.pod_metadata()["labels"]["slot"] == slot
    assert blue.env()["WORKER_JOBS_QUEUE"] == "transcode-jobs"
    assert green.env()["WORKER_JOBS_QUEUE"] == "transcode-jobs-green"
    assert green.one("ScaledObject")["spec"]["triggers"][0]["metadata"]["queueName"] == "transcode-jobs-green"
    assert green.container()["image"] == "transcoder-worker:0.2.0"


def test_one_release_name_with_two_slots_still_gives_distinct_names() -> None:
    blue = render("b", "tx", [*REQUIRED, "--set", "slot=blue"])
    green = render("g", "tx", [*REQUIRED, "--set", "slot=green"])
    assert blue.one("Deployment")["metadata"]["name"] == "tx-transcoder-blue"
    assert green.one("Deployment")["metadata"]["name"] == "tx-transcoder-green"
    assert blue.one("ServiceAccount")["metadata"]["name"] != green.one("ServiceAccount")["metadata"]["name"]


def test_paused_slot_is_scaled_to_zero_by_keda(variants: dict[str, Rendered]) -> None:
    job = variants["green-paused-job"].one("ScaledJob")
    assert job["metadata"]["annotations"]["autoscaling.keda.sh/paused"] == "true"
    paused = render("paused", "transcoder", [*REQUIRED, "--set", "paused=true"])
    assert paused.one("ScaledObject")["metadata"]["annotations"] == {"autoscaling.keda.sh/paused-replicas": "0"}
    assert "annotations" not in variants["default"].one("ScaledObject")["metadata"]


def test_image_reference_tag_digest_and_pull_policy(variants: dict[str, Rendered]) -> None:
    default = variants["default"].container()
    assert default["image"] == f"transcoder-worker:{app_version()}"
    assert default["imagePullPolicy"] == "Always", "a tag can move"
    pinned = variants["gpu"].container()
    assert pinned["image"] == ("transcodesci.azurecr.io/transcoder-worker@sha256:"
                               "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef")
    assert pinned["imagePullPolicy"] == "IfNotPresent"
    skip = "checkov.io/skip1"
    assert skip in variants["default"].one("Deployment")["metadata"]["annotations"]
    assert "annotations" not in variants["gpu"].one("Deployment")["metadata"], "with a digest nothing is skipped"
    labels = variants["green"].one("Deployment")["metadata"]["labels"]
    assert labels["app.kubernetes.io/version"] == "0.2.0"


def test_metrics_service_monitor_and_network_policy(variants: dict[str, Rendered]) -> None:
    gpu = variants["gpu"]
    monitor = gpu.one("ServiceMonitor")
    assert monitor["apiVersion"] == "monitoring.coreos.com/v1"  # metrics.collection=prometheus-operator
    assert monitor["spec"]["endpoints"] == [{"port": "http", "path": "/metrics", "interval": "30s",
                                             "scrapeTimeout": "10s"}]
    assert monitor["metadata"]["labels"]["release"] == "prometheus"
    service = gpu.one("Service")
    assert monitor["spec"]["selector"]["matchLabels"].items() <= service["metadata"]["labels"].items()
    assert service["spec"]["ports"] == [{"name": "http", "port": 8080, "targetPort": "http", "protocol": "TCP"}]
    policy = gpu.one("NetworkPolicy")["spec"]
    assert policy["policyTypes"] == ["Ingress", "Egress"]
    # only the managed Prometheus's namespace, not every namespace of the cluster
    assert policy["ingress"] == [{"ports": [{"port": "http", "protocol": "TCP"}], "from": [
        {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "kube-system"}}}]}]
    dns, https = policy["egress"]
    assert {p["port"] for p in dns["ports"]} == {53}
    assert https["ports"] == [{"port": 443, "protocol": "TCP"}]
    assert https["to"] == [{"ipBlock": {"cidr": "0.0.0.0/0", "except": ["169.254.169.254/32"]}}]
    off = render("nonp", "transcoder", [*REQUIRED, "--set", "networkPolicy.enabled=false",
                                        "--set", "podDisruptionBudget.enabled=false"])
    assert not off.has("NetworkPolicy") and not off.has("PodDisruptionBudget") and not off.has("ServiceMonitor")


def test_disruption_budget_covers_the_deployment_pods(variants: dict[str, Rendered]) -> None:
    rendered = variants["default"]
    budget = rendered.one("PodDisruptionBudget")["spec"]
    assert budget["maxUnavailable"] == 1
    assert budget["selector"]["matchLabels"] == rendered.one("Deployment")["spec"]["selector"]["matchLabels"]
    assert rendered.pod_metadata()["annotations"]["cluster-autoscaler.kubernetes.io/safe-to-evict"] == "false"


def test_values_yaml_is_what_the_tests_assume() -> None:
    values = chart_values()
    assert values["terminationGracePeriodSeconds"] > values["worker"]["drainSeconds"]
    assert values["image"]["tag"] == "" and values["storage"]["accountName"] == ""


def selftest_pod(rendered: Rendered) -> dict[str, Any]:
    pods = [d for d in rendered.docs if d["kind"] == "Pod"]
    assert len(pods) == 1, rendered.kinds()
    return pods[0]


def test_helm_test_runs_the_selftest_on_the_gpu_pool(variants: dict[str, Rendered]) -> None:
    pod = selftest_pod(variants["gpu"])
    assert pod["metadata"]["annotations"]["helm.sh/hook"] == "test"
    spec = pod["spec"]
    (container,) = spec["containers"]
    assert container["args"] == ["selftest", "--require-gpu"]
    assert container["resources"]["limits"]["nvidia.com/gpu"] == 1
    assert spec["nodeSelector"] == variants["gpu"].pod_spec()["nodeSelector"]
    assert spec["tolerations"] == variants["gpu"].pod_spec()["tolerations"]
    assert spec["restartPolicy"] == "Never" and spec["activeDeadlineSeconds"] == 300
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    assert container["image"] == variants["gpu"].container()["image"]


def test_helm_test_on_the_cpu_variant_asks_for_no_gpu(variants: dict[str, Rendered]) -> None:
    pod = selftest_pod(variants["cpu"])
    (container,) = pod["spec"]["containers"]
    assert container["args"] == ["selftest"] and "nvidia.com/gpu" not in container["resources"]["limits"]
    assert "tolerations" not in pod["spec"]
    off = render("no-selftest", "transcoder", [*REQUIRED, "--set", "selftest.enabled=false"])
    assert not off.has("Pod")


def test_no_rendered_mapping_repeats_a_key(variants: dict[str, Rendered]) -> None:
    """Kubernetes' strict decoding refuses duplicate fields; PyYAML silently keeps the last one."""

    class Strict(yaml.SafeLoader):
        pass

    def construct(loader: Strict, node: yaml.MappingNode) -> dict[Any, Any]:
        keys = [loader.construct_object(k) for k, _ in node.value]
        assert len(keys) == len(set(keys)), f"duplicate key in {keys}"
        return loader.construct_mapping(node)

    Strict.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, construct)
    for rendered in variants.values():
        assert list(yaml.load_all(rendered.text, Loader=Strict))  # noqa: S506 - a SafeLoader subclass


def test_the_worker_is_told_its_uploads_container_and_refuses_sharing_it() -> None:
    rendered = render("uploads", "transcoder", [*REQUIRED, "--set", "uploads.container=incoming",
                                                "--set", "scratch.sizeLimit=40Gi"])
    assert rendered.env()["WORKER_UPLOADS_CONTAINER"] == "incoming"
    assert rendered.env()["WORKER_SCRATCH_LIMIT"] == "40Gi"  # the worker counts against the volume, not the disk
    assert "uploads.container and outputs.container are both \"outputs\"" in render_error(
        "--set", "uploads.container=outputs")
