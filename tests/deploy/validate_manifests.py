"""Validate rendered manifests offline; run with the deploy tools' Python (it imports kubernetes-validate).

    python validate_manifests.py KUBE_VERSION FILE...

Core kinds are validated strictly (unknown fields refused) against the Kubernetes schemas that kubernetes-validate
ships. The custom resources that those schemas lack (KEDA's ScaledObject, ScaledJob and TriggerAuthentication, the
ServiceMonitor of the Prometheus Operator and of Azure Monitor managed Prometheus, the PrometheusRule) are validated
against the schemas in ``schemas/``, written from the CRDs' fields, which reuse the Kubernetes definitions for the
parts that are Kubernetes types (a ScaledJob's Job spec, object metadata). A kind that has neither is an error.
Prints one JSON object per document, one per line.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import jsonschema
import kubernetes_validate
import yaml
from referencing import Registry, Resource

SCHEMAS = Path(__file__).parent / "schemas"
CUSTOM = {
    ("keda.sh/v1alpha1", "ScaledObject"): "keda.json#/$defs/ScaledObject",
    ("keda.sh/v1alpha1", "ScaledJob"): "keda.json#/$defs/ScaledJob",
    ("keda.sh/v1alpha1", "TriggerAuthentication"): "keda.json#/$defs/TriggerAuthentication",
    ("monitoring.coreos.com/v1", "ServiceMonitor"): "servicemonitor.json#/$defs/ServiceMonitor",
    # managed Prometheus's copy of the Operator's CRD, in a group of its own
    ("azmonitoring.coreos.com/v1", "ServiceMonitor"): "servicemonitor.json#/$defs/ServiceMonitor",
    ("monitoring.coreos.com/v1", "PrometheusRule"): "prometheusrule.json#/$defs/PrometheusRule",
}


def _registry(kube_version: str) -> Registry:
    """Our schemas, and the strict Kubernetes definitions they refer to (by their $id, .../api/_definitions.json)."""
    version = kubernetes_validate.utils.latest_version()
    for candidate in kubernetes_validate.utils.all_versions():
        if kubernetes_validate.utils.major_minor(candidate) == kube_version:
            version = candidate
    definitions = kubernetes_validate.utils.schema_contents(
        f"kubernetes-json-schema/v{version}-local-strict/_definitions.json", kube_version)
    resources = [(definitions["$id"], Resource.from_contents(definitions))]
    for path in SCHEMAS.glob("*.json"):
        contents = json.loads(path.read_text())
        resources.append((contents["$id"], Resource.from_contents(contents)))
    return Registry().with_resources(resources)


def validate(doc: dict[str, Any], kube_version: str, registry: Registry) -> dict[str, Any]:
    kind, api = doc.get("kind"), doc.get("apiVersion")
    name = (doc.get("metadata") or {}).get("name")
    result: dict[str, Any] = {"kind": kind, "apiVersion": api, "name": name}
    custom = CUSTOM.get((api, kind))
    try:
        if custom:
            validator = jsonschema.Draft202012Validator({"$ref": f"https://transcoder.local/schemas/{custom}"},
                                                        registry=registry)
            errors = sorted(validator.iter_errors(doc), key=lambda e: list(e.absolute_path))
            if errors:
                raise jsonschema.ValidationError(errors[0].message, path=errors[0].absolute_path)
            result["schema"] = f"schemas/{custom.split('#')[0]}"
        else:
            result["schema"] = "kubernetes " + kubernetes_validate.validate(doc, kube_version, strict=True)
        result["ok"] = True
    except kubernetes_validate.utils.SchemaNotFoundError as exc:
        result.update(ok=False, error=f"no schema: {exc.message}")
    except jsonschema.ValidationError as exc:
        where = ".".join(str(p) for p in exc.absolute_path)
        result.update(ok=False, error=f"{where}: {exc.message}")
    return result


def main(argv: list[str]) -> int:
    kube_version, files = argv[0], argv[1:]
    registry = _registry(kube_version)
    failed = False
    for file in files:
        for doc in yaml.safe_load_all(Path(file).read_text()):
            if not doc:
                continue
            result = validate(doc, kube_version, registry)
            result["file"] = file
            failed |= not result["ok"]
            print(json.dumps(result))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
