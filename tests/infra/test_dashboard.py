"""The operators' dashboard on Azure: a Standard static web app (dashboard.bicep) whose /api is the Function app
(dashboard-link.bicep), the Function app's settings and App Service Authentication for the dashboard API
(functions_app/api_settings.py reads the settings, fed to it here), and the media account's CORS rule for the
browser's uploads."""

from __future__ import annotations

from typing import Any

import pytest

from functions_app.api_settings import ApiSettings
from tests.infra.bicep import Template
from tests.infra.evaluate import evaluate
from tests.infra.test_function_events import ENDPOINTS, RECORDS, app_settings

SITE = "Microsoft.Web/staticSites"
LINK = "Microsoft.Web/staticSites/linkedBackends"


def module(main: Template, symbol: str) -> dict[str, Any]:
    found = [m for m in main.modules if m.symbol == symbol]
    assert len(found) == 1, symbol
    return found[0].body["params"]  # type: ignore[no-any-return]


def accessor(value: Any) -> tuple[Any, Any]:
    """``a.b`` (or ``a.outputs.b``) as pycep writes it: (a, b) with b possibly nested."""
    operands = value["operator"]["operands"]
    return operands["operand_1"], operands["operand_2"]


def output_of(value: Any) -> tuple[str, str]:
    """``module.outputs.name`` -> (module, name)."""
    symbol, rest = accessor(value)
    outputs, name = accessor(rest)
    assert outputs == "outputs", value
    return symbol, name


def test_the_dashboard_is_a_standard_static_web_app(templates: dict[str, Template]) -> None:
    dashboard = templates["modules/dashboard.bicep"]
    (site,) = [r for r in dashboard.resources if r.type == SITE]
    body = site.body
    assert (body["name"], body["location"], body["tags"]) == ("name", "location", "tags")
    # Standard: the plan that takes a linked backend and a custom identity provider
    assert body["sku"] == {"name": "Standard", "tier": "Standard"}
    assert body["properties"]["provider"] == "SwaCli"  # what the CLI's deployments record
    assert body["properties"]["stagingEnvironmentPolicy"] == "Disabled"
    assert accessor(dashboard.outputs["hostName"]["value"]) == (
        "site", {"operator": {"type": "property_accessor",
                              "operands": {"operand_1": "properties", "operand_2": "defaultHostname"}}})
    diagnostics = dashboard.resource("diagnostics").body
    assert diagnostics["scope"] == "site" and diagnostics["properties"]["logs"] == [
        {"categoryGroup": "allLogs", "enabled": True}]


def test_no_template_holds_the_sign_in_secret_or_the_sites_settings(templates: dict[str, Template]) -> None:
    """The client secret is an app setting of the static web app that the pipeline sets; a template that declared
    the site's app settings would replace them, secret included, at every deployment."""
    for t in templates.values():
        assert not [r for r in t.resources if r.type.startswith(f"{SITE}/config")], t.name
        assert not [name for name in t.params if "secret" in name.lower()], t.name


def test_main_places_the_site_in_a_static_web_apps_region(main: Template) -> None:
    params = module(main, "dashboard")
    assert params["location"] == "dashboardLocation" and params["tags"] == "tags"
    assert main.variables["names"]["dashboard"] == "stapp-${stem}"
    assert output_of(params["logAnalyticsWorkspaceId"]) == ("monitoring", "logAnalyticsId")
    # no default: each parameter file names the region (paramfiles.STATIC_WEB_APP_REGIONS)
    assert main.params["dashboardLocation"].get("default") is None


def test_the_site_links_the_function_app_as_its_backend(main: Template, templates: dict[str, Template]) -> None:
    link = templates["modules/dashboard-link.bicep"]
    (backend,) = [r for r in link.resources if r.type == LINK]
    assert backend.body["parent"] == "staticSite" and backend.body["name"] == "name"
    parent, function = link.resource("staticSite"), link.resource("functionApp")
    assert (parent.type, parent.existing, parent.body["name"]) == (SITE, True, "staticSiteName")
    assert (function.type, function.existing, function.body["name"]) == ("Microsoft.Web/sites", True,
                                                                         "functionAppName")
    assert accessor(backend.body["properties"]["backendResourceId"]) == ("functionApp", "id")
    assert accessor(backend.body["properties"]["region"]) == ("functionApp", "location")
    # main hands it the outputs of both modules: it is deployed after the site and after the Function app (and the
    # Function app's App Service Authentication, which the link adds its provider to)
    params = module(main, "dashboardLink")
    assert output_of(params["staticSiteName"]) == ("dashboard", "name")
    assert output_of(params["functionAppName"]) == ("functionApp", "name")
    assert params["name"] == "names.dashboardLink" or accessor(params["name"]) == ("names", "dashboardLink")


@pytest.mark.parametrize("symbol", ["site", "slot"])
def test_the_function_settings_serve_the_dashboard_api(templates: dict[str, Template], symbol: str) -> None:
    env = app_settings(templates["modules/function.bicep"], symbol, RECORDS["cosmos"])
    settings = ApiSettings.from_env(env)
    assert settings.trust_easy_auth is True and settings.dashboard_token is None
    assert settings.dashboard_origin == ENDPOINTS["dashboardOrigin"]
    assert settings.playback_base_url == ENDPOINTS["playbackBaseUrl"]
    assert settings.prometheus_url == ENDPOINTS["prometheusQueryEndpoint"] and settings.prometheus_auth == "azure"
    assert settings.poison_queue == "transcode-jobs-poison"
    assert settings.blob_service_uri == ENDPOINTS["mediaBlobEndpoint"]  # user-delegation SAS links
    assert env["POISON_QUEUE"] == f"{env['JOBS_QUEUE']}-poison"


def test_without_front_door_playback_the_links_are_sas(templates: dict[str, Template]) -> None:
    function = templates["modules/function.bicep"]
    settings = evaluate(function.resource("site").body["properties"]["siteConfig"]["appSettings"],
                        {**ENDPOINTS, "recordsTableEndpoint": RECORDS["table"], "playbackBaseUrl": ""}, function)
    env = {s["name"]: s["value"] for s in settings}
    assert env["PLAYBACK_BASE_URL"] == "" and ApiSettings.from_env(env).playback_base_url is None


@pytest.mark.parametrize(("via_front_door", "expected"), [(True, "https://${frontDoor.outputs.hostName}"),
                                                          (False, "")])
def test_main_feeds_the_function_the_dashboard_front_door_and_workspace(main: Template, templates: dict[str, Template],
                                                                        via_front_door: bool, expected: str) -> None:
    params = module(main, "functionApp")
    assert params["dashboardOrigin"] == "dashboardOrigin"
    assert main.variables["dashboardOrigin"] == "https://${dashboard.outputs.hostName}"
    assert evaluate(params["playbackBaseUrl"], {"playbackViaFrontDoor": via_front_door}, main) == expected
    assert main.params["playbackViaFrontDoor"]["default"] is True
    assert output_of(params["prometheusQueryEndpoint"]) == ("monitoring", "prometheusQueryEndpoint")
    assert (params["entraClientId"], params["entraTenantId"]) == ("dashboardClientId", "dashboardTenantId")
    # the Front Door endpoint's root is the outputs container, so a blob's path under outputs is its path there
    route = templates["modules/frontdoor.bicep"].resource("route").body["properties"]
    assert route["originPath"] == "/${outputsContainer}" and route["patternsToMatch"] == ["/*"]
    assert route["linkToDefaultDomain"] == "Enabled"


@pytest.mark.parametrize(("symbol", "parent"), [("siteAuth", "site"), ("slotAuth", "slot")])
def test_app_service_authentication_passes_the_principal_and_lets_the_api_answer(templates: dict[str, Template],
                                                                                 symbol: str, parent: str) -> None:
    """Entra ID on both slots, unauthenticated requests allowed through (the API answers 401 itself, and CORS
    preflights carry no credentials): the setting that makes DASHBOARD_TRUST_EASY_AUTH=true safe."""
    function = templates["modules/function.bicep"]
    auth = function.resource(symbol)
    assert auth.type == ("Microsoft.Web/sites/config" if parent == "site" else "Microsoft.Web/sites/slots/config")
    assert (auth.body["parent"], auth.body["name"], auth.body["properties"]) == (parent, "authsettingsV2",
                                                                                 "authSettings")
    settings = function.variables["authSettings"]
    assert settings["platform"] == {"enabled": True}
    assert settings["globalValidation"] == {"requireAuthentication": False,
                                            "unauthenticatedClientAction": "AllowAnonymous"}
    entra = settings["identityProviders"]["azureActiveDirectory"]
    assert entra["enabled"] is True
    assert entra["registration"] == {
        "clientId": "entraClientId",
        "openIdIssuer": "${environment().authentication.loginEndpoint}${entraTenantId}/v2.0"}
    assert entra["validation"]["allowedAudiences"] == ["entraClientId", "api://${entraClientId}"]
    assert "clientSecretSettingName" not in entra["registration"]  # it validates tokens, it signs no one in
    assert settings["httpSettings"] == {"requireHttps": True}
    env = app_settings(function, parent, RECORDS["table"])
    assert env["DASHBOARD_TRUST_EASY_AUTH"] == "true"


@pytest.mark.parametrize("origins", [["https://gentle-sea-0a1b2c3d4.5.azurestaticapps.net"], []])
def test_the_media_account_lets_the_dashboard_put_uploads(templates: dict[str, Template], origins: list[str]) -> None:
    media = templates["modules/storage-media.bicep"]
    blobs = evaluate(media.resource("blobService").body, {"uploadCorsOrigins": origins, "softDeleteDays": 14},
                     media)
    rules = blobs["properties"]["cors"]["corsRules"]
    if not origins:
        assert rules == []
        return
    assert rules == [{"allowedOrigins": origins, "allowedMethods": ["PUT", "OPTIONS"],
                      "allowedHeaders": ["content-type", "x-ms-*"],
                      "exposedHeaders": ["x-ms-request-id", "etag"], "maxAgeInSeconds": 3600}]
    assert "GET" not in rules[0]["allowedMethods"] and "*" not in rules[0]["allowedOrigins"]


def test_main_allows_the_dashboard_origin_only(main: Template) -> None:
    assert module(main, "media")["uploadCorsOrigins"] == ["dashboardOrigin"]


def test_main_outputs_the_dashboard(main: Template) -> None:
    assert output_of(main.outputs["dashboardName"]["value"]) == ("dashboard", "name")
    assert output_of(main.outputs["dashboardHostName"]["value"]) == ("dashboard", "hostName")
    assert main.outputs["dashboardClientId"]["value"] == "dashboardClientId"
    assert main.outputs["dashboardTenantId"]["value"] == "dashboardTenantId"
    tenant = main.params["dashboardTenantId"]["default"]["function"]
    assert (tenant["type"], tenant["property_name"]) == ("subscription", "tenantId")  # subscription().tenantId
    assert main.params["dashboardClientId"].get("default") is None  # given at deploy time
