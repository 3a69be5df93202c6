"""The dashboard API's edge: sign-in, roles, CORS, and every kind of bad input answered with a 4xx and a reason."""

from __future__ import annotations

import base64
import json
from dataclasses import replace
from typing import Any

import pytest

from functions_app import function_app
from functions_app.api import ENDPOINTS

from .api_support import ApiEnv, principal_header
from .conftest import ORIGIN

pytestmark = pytest.mark.azurite

UPLOAD = {"filename": "clip.mp4", "content_type": "video/mp4", "size": 1234}
JSON = {"content-type": "application/json"}


def trusting(api: ApiEnv, monkeypatch: pytest.MonkeyPatch) -> ApiEnv:
    """The app as deployed behind App Service Authentication: principal headers trusted."""
    settings = replace(api.settings, trust_easy_auth=True)
    api.settings = settings
    monkeypatch.setattr(function_app, "_api_context", lambda: (settings, api.clients))
    return api


# --- who may call ----------------------------------------------------------------------------------------------

@pytest.mark.parametrize(("endpoint", "method", "route"), [
    ("api_jobs", "GET", {}), ("api_job", "GET", {"id": "a" * 32}), ("api_poison", "GET", {}),
    ("api_fleet", "GET", {}), ("api_uploads", "POST", {}), ("api_job_retry", "POST", {"id": "a" * 32})])
def test_every_route_is_401_without_credentials(api: ApiEnv, endpoint: str, method: str,
                                                route: dict[str, str]) -> None:
    response = api.handle(endpoint, method, route=route)
    assert response.status == 401 and "Bearer" in response.body["error"]
    assert response.headers["WWW-Authenticate"].startswith("Bearer")


def test_token(api: ApiEnv) -> None:
    assert api.http("GET", "/api/jobs", headers=api.auth())[0] == 200
    status, body, _ = api.http("GET", "/api/jobs", headers={"authorization": "Bearer wrong-token-0123456789"})
    assert status == 401 and "not valid" in body["error"]
    assert api.http("GET", "/api/jobs", headers={"authorization": f"Basic {api.token}"})[0] == 401


def test_forged_principal_is_ignored_unless_trusted(api: ApiEnv) -> None:
    admin = {"x-ms-client-principal": principal_header("admin")}
    status, body, _ = api.http("GET", "/api/jobs", headers=admin)
    assert status == 401 and body["error"]
    status, _, _ = api.http("POST", "/api/uploads", headers=admin, json_body=UPLOAD)
    assert status == 401


def test_trusted_principals_read_and_only_admins_write(api: ApiEnv, monkeypatch: pytest.MonkeyPatch) -> None:
    trusting(api, monkeypatch)
    reader = {"x-ms-client-principal": principal_header(name="viewer@example.net")}
    admin = {"x-ms-client-principal": principal_header("reader", "admin")}
    assert api.http("GET", "/api/jobs", headers=reader)[0] == 200
    status, body, _ = api.http("POST", "/api/uploads", headers=reader, json_body=UPLOAD)
    assert status == 403 and "admin" in body["error"] and "viewer@example.net" in body["error"]
    status, body, _ = api.http("POST", f"/api/jobs/{'a' * 32}/retry", headers=reader)
    assert status == 403
    assert api.http("POST", "/api/uploads", headers=admin, json_body=UPLOAD)[0] == 201
    long_role = {"x-ms-client-principal": base64.b64encode(json.dumps({
        "claims": [{"typ": "http://schemas.microsoft.com/ws/2008/06/identity/claims/role", "val": "admin"}]}).encode())
        .decode()}
    assert api.http("POST", "/api/uploads", headers=long_role, json_body=UPLOAD)[0] == 201
    assert api.http("GET", "/api/jobs", headers=api.auth())[0] == 200  # the token still works beside it


@pytest.mark.parametrize("header", ["not base64!!", base64.b64encode(b"[1,2]").decode(),
                                    base64.b64encode(b'{"claims": "x"}').decode(), "e30"])
def test_unreadable_trusted_principal_is_401(api: ApiEnv, monkeypatch: pytest.MonkeyPatch, header: str) -> None:
    trusting(api, monkeypatch)
    status, body, _ = api.http("GET", "/api/jobs", headers={"x-ms-client-principal": header})
    assert status == 401 and "X-MS-CLIENT-PRINCIPAL" in body["error"]


def test_a_write_from_a_foreign_origin_is_refused(api: ApiEnv) -> None:
    status, body, _ = api.http("POST", "/api/uploads", headers={**api.auth(), "origin": "https://evil.example"},
                               json_body=UPLOAD)
    assert status == 403 and "evil.example" in body["error"]
    assert api.http("POST", "/api/uploads", headers={**api.auth(), "origin": ORIGIN}, json_body=UPLOAD)[0] == 201
    own = {**api.auth(), "origin": "https://func.example.net", "host": "func.example.net"}
    assert api.http("POST", "/api/uploads", headers=own, json_body=UPLOAD)[0] == 201


# --- CORS ------------------------------------------------------------------------------------------------------

def test_preflight_for_the_dashboard_origin(api: ApiEnv) -> None:
    headers = {"origin": ORIGIN, "access-control-request-method": "POST",
               "access-control-request-headers": "authorization,content-type"}
    status, body, response = api.http("OPTIONS", "/api/uploads", headers=headers)
    assert status == 204 and body is None
    assert response.headers["Access-Control-Allow-Origin"] == ORIGIN
    assert response.headers["Access-Control-Allow-Methods"] == "POST, OPTIONS"
    assert {"authorization", "content-type"} <= {
        h.strip().lower() for h in response.headers["Access-Control-Allow-Headers"].split(",")}
    status, _, response = api.http("OPTIONS", f"/api/jobs/{'a' * 32}", headers=headers)
    assert status == 204 and response.headers["Access-Control-Allow-Methods"] == "GET, OPTIONS"


def test_preflight_and_responses_for_another_origin_carry_no_allow_origin(api: ApiEnv) -> None:
    status, body, response = api.http("OPTIONS", "/api/jobs", headers={"origin": "https://evil.example"})
    assert status == 403 and "evil.example" in body["error"]
    assert "Access-Control-Allow-Origin" not in response.headers
    status, _, response = api.http("GET", "/api/jobs", headers={**api.auth(), "origin": "https://evil.example"})
    assert status == 200 and "Access-Control-Allow-Origin" not in response.headers
    status, _, response = api.http("GET", "/api/jobs", headers={**api.auth(), "origin": ORIGIN})
    assert response.headers["Access-Control-Allow-Origin"] == ORIGIN and response.headers["Vary"] == "Origin"
    status, _, response = api.http("GET", "/api/jobs", headers={"origin": ORIGIN})
    assert status == 401 and response.headers["Access-Control-Allow-Origin"] == ORIGIN  # the browser sees the 401


# --- bad input -------------------------------------------------------------------------------------------------

A = "a" * 32
BAD: list[tuple[str, str, dict[str, str], Any, int]] = [
    # method, path, params, body (bytes, JSON-able or None), status
    ("GET", "/api/jobs", {"limit": "0"}, None, 400),
    ("GET", "/api/jobs", {"limit": "201"}, None, 400),
    ("GET", "/api/jobs", {"limit": "ten"}, None, 400),
    ("GET", "/api/jobs", {"limit": "-5"}, None, 400),
    ("GET", "/api/jobs", {"limit": "1e2"}, None, 400),
    ("GET", "/api/jobs", {"state": "done"}, None, 400),
    ("GET", "/api/jobs", {"state": "rejected"}, None, 400),
    ("GET", "/api/jobs", {"cursor": "!!!not-base64"}, None, 400),
    ("GET", "/api/jobs", {"cursor": base64.urlsafe_b64encode(b"[1, 2]").decode()}, None, 400),
    ("GET", "/api/jobs", {"cursor": base64.urlsafe_b64encode(b'{"RowKey": 5}').decode()}, None, 400),
    ("GET", "/api/jobs", {"cursor": base64.urlsafe_b64encode(b'{"Other": "x"}').decode()}, None, 400),
    ("GET", "/api/jobs", {"sort": "newest"}, None, 400),
    ("GET", "/api/jobs/not-a-job-id", {}, None, 400),
    ("GET", f"/api/jobs/{A.upper()}", {}, None, 400),
    ("GET", "/api/poison", {"limit": "5"}, None, 400),
    ("GET", "/api/fleet", {"x": "1"}, None, 400),
    ("DELETE", "/api/jobs", {}, None, 405),
    ("PUT", f"/api/jobs/{A}", {}, None, 405),
    ("GET", f"/api/jobs/{A}/retry", {}, None, 405),
    ("GET", "/api/uploads", {}, None, 405),
    ("POST", "/api/uploads", {}, b"{not json", 400),
    ("POST", "/api/uploads", {}, b"\xff\xfe", 400),
    ("POST", "/api/uploads", {}, [UPLOAD], 400),
    ("POST", "/api/uploads", {}, {"content_type": "video/mp4", "size": 5}, 400),
    ("POST", "/api/uploads", {}, {**UPLOAD, "filename": 42}, 400),
    ("POST", "/api/uploads", {}, {**UPLOAD, "filename": ""}, 400),
    ("POST", "/api/uploads", {}, {**UPLOAD, "filename": ".mp4"}, 400),
    ("POST", "/api/uploads", {}, {**UPLOAD, "filename": "setup.exe"}, 400),
    ("POST", "/api/uploads", {}, {**UPLOAD, "filename": "noextension"}, 400),
    ("POST", "/api/uploads", {}, {**UPLOAD, "size": "1234"}, 400),
    ("POST", "/api/uploads", {}, {**UPLOAD, "size": True}, 400),
    ("POST", "/api/uploads", {}, {**UPLOAD, "size": -1}, 400),
    ("POST", "/api/uploads", {}, {**UPLOAD, "size": 1.5}, 400),
    ("POST", "/api/uploads", {}, {**UPLOAD, "size": 0}, 400),
    ("POST", "/api/uploads", {}, {**UPLOAD, "size": 10_000_001}, 400),
    ("POST", "/api/uploads", {}, {**UPLOAD, "content_type": "image/png"}, 400),
    ("POST", "/api/uploads", {}, {**UPLOAD, "content_type": 3}, 400),
    ("POST", "/api/uploads", {}, {**UPLOAD, "owner": "me"}, 400),
    ("POST", "/api/uploads", {}, b'{"a":' * 100_000, 413),
    ("POST", "/api/uploads", {}, b"[" * 60_000 + b"]" * 60_000, 413),
    ("POST", "/api/uploads", {}, b"[" * 30_000 + b"]" * 30_000, 400),
    ("POST", f"/api/jobs/{A}/retry", {}, [1], 400),
    ("POST", f"/api/jobs/{A}/retry", {}, {"force": True}, 400),
    ("POST", "/api/jobs/xyz/retry", {}, None, 400),
]


@pytest.mark.parametrize(("method", "path", "params", "body", "status"), BAD,
                         ids=[f"{m} {p[5:20]} {json.dumps(q)[:30]} {str(b)[:30]}" for m, p, q, b, _ in BAD])
def test_bad_input_is_a_4xx_with_a_reason(api: ApiEnv, method: str, path: str, params: dict[str, str], body: Any,
                                          status: int) -> None:
    raw = body if isinstance(body, bytes) else b"" if body is None else json.dumps(body).encode()
    got, answer, response = api.http(method, path, headers={**api.auth(), **JSON}, params=params, body=raw)
    assert got == status, answer
    assert isinstance(answer["error"], str) and len(answer["error"]) > 10
    assert response.mimetype == "application/json"


def test_a_post_body_must_be_declared_json(api: ApiEnv) -> None:
    status, body, _ = api.http("POST", "/api/uploads", headers={**api.auth(), "content-type": "text/plain"},
                               body=json.dumps(UPLOAD).encode())
    assert status == 415 and "application/json" in body["error"]
    status, body, _ = api.http("POST", "/api/uploads", headers=api.auth(), body=json.dumps(UPLOAD).encode())
    assert status == 415


def test_method_not_allowed_names_the_allowed_ones(api: ApiEnv) -> None:
    status, body, response = api.http("DELETE", f"/api/jobs/{A}", headers=api.auth())
    assert status == 405 and "GET" in body["error"] and response.headers["Allow"] == "GET, OPTIONS"


def test_storage_errors_are_503_with_a_reason(api: ApiEnv, monkeypatch: pytest.MonkeyPatch) -> None:
    from azure.data.tables import TableClient
    from azure.storage.queue import QueueClient

    dead = "DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey=" + api.conn.split(
        "AccountKey=")[1].split(";")[0] + ";TableEndpoint=http://127.0.0.1:9/devstoreaccount1;"
    api.clients = replace(api.clients, table=TableClient.from_connection_string(
        dead, "jobs", connection_timeout=1, retry_total=0))
    for path in ("/api/jobs", f"/api/jobs/{A}"):
        status, body, _ = api.http("GET", path, headers=api.auth())
        assert status == 503 and "storage" in body["error"], body
    missing = replace(api.clients, table=TableClient.from_connection_string(api.conn, "nosuchtable"),
                      poison=QueueClient.from_connection_string(api.conn, "no-such-queue"))
    api.clients = missing
    status, body, _ = api.http("GET", "/api/jobs", headers=api.auth())
    assert status == 503 and body["error"]
    status, body, _ = api.http("GET", f"/api/jobs/{A}", headers=api.auth())
    assert status == 503 and "does not exist" in body["error"]
    assert api.http("GET", "/api/poison", headers=api.auth())[:2] == (200, {"items": []})


def test_a_settings_error_is_503_naming_the_variable(monkeypatch: pytest.MonkeyPatch,
                                                     restore_environ: None) -> None:
    monkeypatch.setenv("TranscodeStorage", "UseDevelopmentStorage=true")
    monkeypatch.setenv("DASHBOARD_TOKEN", "short")
    function_app._api_context.cache_clear()
    import azure.functions as func

    request = func.HttpRequest("GET", "https://f/api/jobs", headers={}, params={}, route_params={}, body=b"")
    response = function_app.api_jobs(request)
    assert response.status_code == 503
    assert "DASHBOARD_TOKEN" in json.loads(response.get_body())["error"]
    assert "short" not in json.loads(response.get_body())["error"]


def test_the_route_table_is_the_apps() -> None:
    from localdev.api_host import http_routes

    routes = {r.name: r for r in http_routes(function_app.app)}
    roles = routes.pop("api_roles")  # Static Web Apps' rolesSource, called server to server with POST only
    assert (roles.template, roles.methods) == ("roles", frozenset({"POST"}))
    assert {name: r.template for name, r in routes.items()} == {e.name: e.route for e in ENDPOINTS.values()}
    assert all(r.methods is None for r in routes.values())  # every method reaches the code: JSON 405s, preflight


# --- Static Web Apps in front ----------------------------------------------------------------------------------

def swa_principal(*roles: str, name: str = "ops@example.net") -> dict[str, str]:
    """The principal Static Web Apps forwards to its linked backend: no claims, the roles it assigned."""
    data = {"identityProvider": "aad", "userId": "0f1e2d", "userDetails": name,
            "userRoles": ["anonymous", "authenticated", *roles]}
    return {"x-ms-client-principal": base64.b64encode(json.dumps(data).encode()).decode()}


def test_static_web_apps_principals_read_and_only_admins_write(api: ApiEnv, monkeypatch: pytest.MonkeyPatch) -> None:
    trusting(api, monkeypatch)
    assert api.http("GET", "/api/jobs", headers=swa_principal())[0] == 200
    status, body, _ = api.http("POST", "/api/uploads", headers=swa_principal(name="viewer@example.net"),
                               json_body=UPLOAD)
    assert status == 403 and "viewer@example.net" in body["error"]
    assert api.http("POST", "/api/uploads", headers=swa_principal("admin"), json_body=UPLOAD)[0] == 201
    anonymous = {"x-ms-client-principal": base64.b64encode(json.dumps(
        {"identityProvider": "", "userRoles": ["anonymous"]}).encode()).decode()}
    status, body, _ = api.http("GET", "/api/jobs", headers=anonymous)
    assert status == 401 and "signed-in" in body["error"]


def test_the_roles_source_gives_the_site_the_entra_app_roles(api: ApiEnv, monkeypatch: pytest.MonkeyPatch) -> None:
    posted = {"identityProvider": "aad", "userId": "0f1e2d", "userDetails": "ops@example.net", "accessToken": "x",
              "claims": [{"typ": "name", "val": "Ops"}, {"typ": "roles", "val": "admin"},
                         {"typ": "http://schemas.microsoft.com/ws/2008/06/identity/claims/role", "val": "reader"}]}
    status, body, _ = api.http("POST", "/api/roles", json_body=posted)
    assert status == 404 and "Static Web Apps" in body["error"]  # not served without the platform in front
    trusting(api, monkeypatch)
    status, body, _ = api.http("POST", "/api/roles", json_body=posted)
    assert (status, body) == (200, {"roles": ["admin", "reader"]})
    status, body, _ = api.http("POST", "/api/roles", json_body={"claims": []})
    assert (status, body) == (200, {"roles": []})
    status, body, _ = api.http("POST", "/api/roles", body=b"{not json")
    assert status == 400 and "not JSON" in body["error"]
    status, body, _ = api.http("POST", "/api/roles", json_body={"userId": "x"})
    assert status == 400 and "no claims list" in body["error"]
