"""The Function app, its events and Front Door: the app settings the template gives both slots are the ones
functions_app/settings.py reads (fed to it here), the event subscription reaches the blob trigger the code
declares, and Front Door serves the outputs container."""

from __future__ import annotations

import re
from typing import Any

import pytest

from functions_app.settings import IngestSettings
from tests.infra.bicep import Template
from tests.infra.conftest import ROOT
from tests.infra.evaluate import evaluate

ENDPOINTS = {"mediaBlobEndpoint": "https://stmedia.blob.core.windows.net/",
             "mediaQueueEndpoint": "https://stmedia.queue.core.windows.net/",
             "identityClientId": "11111111-2222-3333-4444-555555555555", "hostStorageName": "fnmedia",
             "appInsightsConnectionString": "InstrumentationKey=00000000-0000-0000-0000-000000000000",
             "uploadsContainer": "uploads", "outputsContainer": "outputs", "jobsQueue": "transcode-jobs",
             "jobsTable": "jobs", "productionHostId": "hostprod", "slotHostId": "hostprod-staging",
             "dashboardOrigin": "https://gentle-sea-0a1b2c3d4.5.azurestaticapps.net",
             "playbackBaseUrl": "https://fde-transcoder-dev-eus-abcdefgh.z01.azurefd.net",
             "prometheusQueryEndpoint": "https://amw-transcoder-dev-eus-abcd.eastus.prometheus.monitor.azure.com",
             "entraClientId": "99999999-8888-7777-6666-555555555555",
             "entraTenantId": "00000000-1111-2222-3333-444444444444"}
RECORDS = {"table": "https://stmedia.table.core.windows.net/", "cosmos": "https://acct.table.cosmos.azure.com:443/"}


def app_settings(function: Template, symbol: str, records: str) -> dict[str, str]:
    env = {**ENDPOINTS, "recordsTableEndpoint": records}
    settings = evaluate(function.resource(symbol).body["properties"]["siteConfig"]["appSettings"], env, function)
    names = [s["name"] for s in settings]
    assert len(names) == len(set(names)), names
    return {s["name"]: s["value"] for s in settings}


@pytest.mark.parametrize("store", sorted(RECORDS))
@pytest.mark.parametrize("symbol", ["site", "slot"])
def test_the_functions_settings_accept_what_the_template_sets(templates: dict[str, Template], symbol: str,
                                                              store: str) -> None:
    env = app_settings(templates["modules/function.bicep"], symbol, RECORDS[store])
    settings = IngestSettings.from_env(env)
    assert settings.table_service_uri == RECORDS[store]
    assert settings.queue_service_uri == ENDPOINTS["mediaQueueEndpoint"]
    assert settings.client_id == ENDPOINTS["identityClientId"] and settings.connection_string is None
    assert (settings.uploads_container, settings.outputs_container, settings.jobs_queue, settings.jobs_table) == \
        ("uploads", "outputs", "transcode-jobs", "jobs")
    assert settings.blob_trigger_source == "EventGrid"
    assert env["TranscodeStorage__blobServiceUri"] == ENDPOINTS["mediaBlobEndpoint"]
    assert env["AzureWebJobsStorage__accountName"] == "fnmedia" and env["FUNCTIONS_WORKER_RUNTIME"] == "python"
    assert env["AzureFunctionsWebHost__hostid"] == ENDPOINTS[f"{'production' if symbol == 'site' else 'slot'}HostId"]


def test_slots_differ_only_in_their_host_id_which_stays_with_the_slot(templates: dict[str, Template]) -> None:
    function = templates["modules/function.bicep"]
    site, slot = (app_settings(function, s, RECORDS["table"]) for s in ("site", "slot"))
    assert {k for k in site if site[k] != slot.get(k)} == {"AzureFunctionsWebHost__hostid"}
    sticky = function.resource("stickySettings").body
    assert sticky["name"] == "slotConfigNames"
    assert sticky["properties"]["appSettingNames"] == ["AzureFunctionsWebHost__hostid"]
    for symbol in ("site", "slot"):
        config = function.resource(symbol).body["properties"]["siteConfig"]
        assert (config["linuxFxVersion"], config["alwaysOn"], config["minTlsVersion"]) == ("Python|3.11", True, "1.2")


def test_the_plan_supports_slots_without_a_content_share(templates: dict[str, Template], main: Template) -> None:
    function = templates["modules/function.bicep"]
    assert function.decorators("planSku")["allowed"] == ["P0v3", "P1v3", "P2v3", "P3v3"]
    assert main.params["functionSlotName"]["default"] == "staging"
    settings = app_settings(function, "site", RECORDS["table"])
    assert not any(name.startswith("WEBSITE_CONTENT") for name in settings)


def test_the_event_subscription_reaches_the_blob_trigger_the_code_declares(main: Template,
                                                                            templates: dict[str, Template]) -> None:
    code = (ROOT / "functions_app" / "function_app.py").read_text()
    declared = re.search(r"@app\.blob_trigger\((?P<args>[^)]*\)*)\)\s*def (?P<name>\w+)\(", code, re.S)
    assert declared and "source=func.BlobSource(" in declared["args"], "the Function is no longer a blob trigger"
    assert main.params["triggerFunctionName"]["default"] == declared["name"]
    events = templates["modules/eventgrid.bicep"]
    subscription = events.resource("uploadsToFunction")
    assert subscription.condition == "enableSubscription"
    props: dict[str, Any] = subscription.body["properties"]
    assert props["destination"]["endpointType"] == "WebHook"
    url = props["destination"]["properties"]["endpointUrl"]
    assert url.startswith("https://${site.properties.defaultHostName}/runtime/webhooks/blobs?functionName=")
    assert "Host.Functions.${triggerFunctionName}&code=${functionHost.listKeys().systemKeys.blobs_extension}" in url
    assert props["filter"]["subjectBeginsWith"] == "/blobServices/default/containers/${uploadsContainer}/"
    assert props["filter"]["includedEventTypes"] == ["Microsoft.Storage.BlobCreated"]
    assert props["retryPolicy"] == {"maxDeliveryAttempts": "maxDeliveryAttempts",
                                    "eventTimeToLiveInMinutes": "eventTimeToLiveMinutes"}
    dead_letter = props["deadLetterWithResourceIdentity"]["deadLetterDestination"]["properties"]
    assert dead_letter["blobContainerName"] == "deadLetterContainer"
    assert events.resource("topic").body["properties"]["topicType"] == "Microsoft.Storage.StorageAccounts"


def test_front_door_serves_the_outputs_container(templates: dict[str, Template]) -> None:
    door = templates["modules/frontdoor.bicep"]
    route = door.resource("route").body["properties"]
    assert route["originPath"] == "/${outputsContainer}" and route["patternsToMatch"] == ["/*"]
    assert route["forwardingProtocol"] == "HttpsOnly" and route["httpsRedirect"] == "Enabled"
    assert door.resource("origin").body["properties"]["hostName"] == "originHostName"
    probe = door.resource("originGroup").body["properties"]["healthProbeSettings"]
    assert probe["probeProtocol"] == "Https" and probe["probeRequestType"] == "HEAD"
    assert door.outputs["hostName"]["value"]["operator"]["operands"]["operand_1"] == "endpoint"
