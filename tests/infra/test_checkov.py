"""checkov's Bicep framework over infra/: no failed check, and only the skips listed here, each with its reason
in the template (`// checkov:skip=ID:reason`; Bicep has no `#` comments)."""

from __future__ import annotations

from typing import Any

from tests.infra.conftest import BAD_FILE

# (check id, template, resource symbol) -> what the reason beside it in the template says
_STICKY = "slot-sticky settings only"
_AUTH = "the authentication settings only"
ALLOWED_SKIPS = {
    ("CKV_AZURE_8", "aks", "cluster"): "dashboard add-on no longer exists",
    ("CKV_AZURE_172", "aks", "cluster"): "no Key Vault secrets",
    ("CKV_AZURE_227", "aks", "cluster"): "encryptionAtHost parameter",
    ("CKV_AZURE_139", "acr", "registry"): "public endpoint",
    ("CKV_AZURE_163", "acr", "registry"): "scanned in the pipeline",
    ("CKV_AZURE_166", "acr", "registry"): "quarantine",
    ("CKV_AZURE_101", "cosmos", "account"): "public endpoint",
    ("CKV_AZURE_99", "cosmos", "account"): "disableLocalAuth",
    ("CKV_AZURE_35", "storage-media", "account"): "enablePrivateEndpoints",
    ("CKV_AZURE_206", "storage-media", "account"): "Standard_GRS in the production files",
    ("CKV_AZURE_35", "storage-host", "account"): "no VNet integration",
    ("CKV_AZURE_206", "storage-host", "account"): "rebuilt by the host",
    ("CKV_AZURE_225", "function", "plan"): "three instances",
    **{(check, "function", symbol): reason for symbol in ("site", "slot") for check, reason in (
        ("CKV_AZURE_212", "Event Grid retries"), ("CKV_AZURE_213", "no anonymous health route"),
        ("CKV_AZURE_222", "public endpoint"))},
    ("CKV_AZURE_17", "function", "site"): "without a client certificate",
    **{(check, "function", "stickySettings"): _STICKY for check in (
        "CKV_AZURE_13", "CKV_AZURE_63", "CKV_AZURE_65", "CKV_AZURE_66", "CKV_AZURE_80", "CKV_AZURE_88",
        "CKV_AZURE_222")},
    **{(check, "function", "siteAuth"): _AUTH for check in (
        "CKV_AZURE_13", "CKV_AZURE_63", "CKV_AZURE_65", "CKV_AZURE_66", "CKV_AZURE_80", "CKV_AZURE_88",
        "CKV_AZURE_222")},
}


def _key(check: dict[str, Any]) -> tuple[str, str, str]:
    template = check["file_path"].removeprefix("/modules/").removesuffix(".bicep")
    return check["check_id"], template, check["resource"].rsplit(".", 1)[-1]


def infra(results: dict[str, Any], kind: str) -> list[dict[str, Any]]:
    return [c for c in results.get(kind, []) if c["file_path"] != BAD_FILE]


def test_checkov_finds_no_failed_check(checkov_results: dict[str, Any]) -> None:
    failed = [(c["check_id"], c["check_name"], c["resource"], c["file_path"])
              for c in infra(checkov_results, "failed_checks")]
    assert failed == []
    assert len(infra(checkov_results, "passed_checks")) >= 40


def test_checkov_read_every_template(checkov_results: dict[str, Any]) -> None:
    files = {c["file_path"] for kind in ("passed_checks", "skipped_checks") for c in infra(checkov_results, kind)}
    assert {"/modules/storage-media.bicep", "/modules/storage-host.bicep", "/modules/aks.bicep",
            "/modules/acr.bicep", "/modules/cosmos.bicep", "/modules/function.bicep"} <= files
    # checkov has no check of a static web app or its link: what tests/infra/test_dashboard.py checks is all


def test_checkov_skips_only_the_listed_checks_with_their_reasons(checkov_results: dict[str, Any]) -> None:
    skipped = infra(checkov_results, "skipped_checks")
    assert {_key(c) for c in skipped} == set(ALLOWED_SKIPS)
    for check in skipped:
        reason = check["check_result"].get("suppress_comment", "")
        assert ALLOWED_SKIPS[_key(check)] in reason, (_key(check), reason)


def test_checkov_fails_an_account_that_accepts_tls_1_0(checkov_results: dict[str, Any]) -> None:
    failed = {c["check_id"] for c in checkov_results["failed_checks"] if c["file_path"] == BAD_FILE}
    assert "CKV_AZURE_44" in failed
