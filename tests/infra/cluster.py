"""The GPU pool of infra/modules/aks.bicep against what the chart schedules the worker with (helm/transcoder
values.yaml gpu.tolerations and gpu.nodeSelector)."""

from __future__ import annotations

from typing import Any

from tests.infra.bicep import Template

CLUSTER = "Microsoft.ContainerService/managedClusters"
# labels AKS itself puts on GPU nodes (kubernetes.azure.com/* is reserved: a pool cannot set them)
AKS_GPU_LABELS = {"kubernetes.azure.com/accelerator": "nvidia"}


def gpu_pool(aks: Template) -> dict[str, Any]:
    cluster = [r for r in aks.resources if r.type == CLUSTER and not r.existing]
    assert len(cluster) == 1, [r.symbol for r in cluster]
    pools = [p for p in cluster[0].body["properties"]["agentPoolProfiles"] if p.get("vmSize") == "gpuVmSize"]
    assert len(pools) == 1, "expected one pool sized by the gpuVmSize parameter"
    return pools[0]  # type: ignore[no-any-return]


def gpu_pool_problems(aks: Template, gpu_values: dict[str, Any]) -> list[str]:
    """Every taint of the pool is tolerated, every Equal toleration has its taint (so only the worker lands
    there), and every node selector label is on the nodes: set by the pool, or by AKS on GPU nodes."""
    pool = gpu_pool(aks)
    taints = set(aks.resolve(pool.get("nodeTaints", [])) or [])
    # pycep keeps the quotes of a quoted key ('kubernetes.azure.com/accelerator')
    labels = {key.strip("'"): value for key, value in (aks.resolve(pool.get("nodeLabels", {})) or {}).items()}
    problems = []
    tolerated = {f"{t['key']}={t.get('value', '')}:{t['effect']}" for t in gpu_values["tolerations"]
                 if t.get("operator", "Equal") == "Equal"}
    exists = {(t["key"], t["effect"]) for t in gpu_values["tolerations"] if t.get("operator") == "Exists"}
    for taint in sorted(taints):
        key, effect = taint.split("=")[0], taint.split(":")[-1]
        if taint not in tolerated and (key, effect) not in exists:
            problems.append(f"the GPU pool's taint {taint} is not tolerated by the chart")
    for toleration in sorted(tolerated - taints):
        problems.append(f"the chart tolerates {toleration}, which the GPU pool does not carry")
    for key, value in gpu_values["nodeSelector"].items():
        if AKS_GPU_LABELS.get(key) == value:
            if key in labels:
                problems.append(f"the GPU pool sets {key}, a label reserved to AKS")
        elif labels.get(key) != value:
            problems.append(f"the chart selects {key}={value}, which the GPU pool's nodes lack")
    if pool.get("minCount") != 0 or pool.get("enableAutoScaling") is not True or pool.get("mode") != "User":
        problems.append("the GPU pool is not an autoscaled User pool that scales to zero")
    return problems
