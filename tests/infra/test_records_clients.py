"""Job records in Cosmos DB for Table: the worker's and the Function's table clients accept the Cosmos forms the
templates produce, an endpoint (https://<account>.table.cosmos.azure.com:443/) with an Entra ID credential and
a Cosmos connection string, and send their requests there. No network: the transport is replaced and answers
404, and the credential records the scope it is asked for."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest
import requests
from azure.core.credentials import AccessToken
from azure.core.exceptions import ResourceNotFoundError
from azure.core.pipeline.transport import HttpRequest, RequestsTransport
from azure.core.pipeline.transport._requests_basic import RequestsTransportResponse
from pydantic import SecretStr

from functions_app.settings import IngestSettings, table_client
from tests.deploy.conftest import REQUIRED, render
from worker.clients import make_clients
from worker.settings import ServiceSettings

COSMOS_ENDPOINT = "https://acct.table.cosmos.azure.com:443/"
KEY = base64.b64encode(b"k" * 64).decode()
COSMOS_CONNECTION = (f"DefaultEndpointsProtocol=https;AccountName=acct;AccountKey={KEY};"
                     f"TableEndpoint={COSMOS_ENDPOINT};")
COSMOS_SCOPE = "https://cosmos.azure.com/.default"


class Credential:
    """A token credential that hands out a fixed token and records the scopes asked for."""

    def __init__(self, **_: Any) -> None:
        self.scopes: list[str] = []

    def get_token(self, *scopes: str, **_: Any) -> AccessToken:
        self.scopes.extend(scopes)
        return AccessToken("token", 4_102_444_800)


@pytest.fixture
def sent(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, str, str]]:
    """Requests the SDK sends (method, URL, Authorization scheme); each is answered 404."""
    log: list[tuple[str, str, str]] = []

    def send(self: RequestsTransport, request: HttpRequest, **_: Any) -> RequestsTransportResponse:
        log.append((request.method, request.url, request.headers.get("Authorization", "").split(" ")[0]))
        response = requests.Response()
        response.status_code = 404
        response.headers["Content-Type"] = "application/json;odata=minimalmetadata"
        response._content = json.dumps({"odata.error": {"code": "ResourceNotFound",
                                                        "message": {"lang": "en-US", "value": "none"}}}).encode()
        return RequestsTransportResponse(request, response)  # type: ignore[no-untyped-call]

    monkeypatch.setattr(RequestsTransport, "send", send)
    return log


def read_missing(client: Any) -> None:
    with pytest.raises(ResourceNotFoundError):
        client.get_entity("job", "0" * 32)


def test_worker_reads_cosmos_with_its_workload_identity(sent: list[tuple[str, str, str]]) -> None:
    settings = ServiceSettings(storage_account_url="https://stmedia.blob.core.windows.net",
                               table_account_url=COSMOS_ENDPOINT)
    credential = Credential()
    table = make_clients(settings, credential=credential).table
    assert (table.url, table.account_name, table.table_name) == (COSMOS_ENDPOINT.rstrip("/"), "acct", "jobs")
    read_missing(table)
    assert sent == [("GET", f"{COSMOS_ENDPOINT}jobs(PartitionKey='job',RowKey='{'0' * 32}')", "Bearer")]
    assert credential.scopes == [COSMOS_SCOPE]


def test_worker_accepts_a_cosmos_connection_string_for_the_table(sent: list[tuple[str, str, str]]) -> None:
    """Accepted, but the worker builds blob and queue clients from the same string: with a Cosmos string they
    would point at a storage account named like the Cosmos account. Production uses the identity form."""
    clients = make_clients(ServiceSettings(storage_connection_string=SecretStr(COSMOS_CONNECTION)))
    assert clients.table.url == COSMOS_ENDPOINT.rstrip("/") and clients.table.account_name == "acct"
    read_missing(clients.table)
    assert sent[0][1].startswith(COSMOS_ENDPOINT) and sent[0][2].startswith("SharedKey")
    assert clients.blobs.url == "https://acct.blob.core.windows.net/"


def test_function_reads_cosmos_with_its_managed_identity(monkeypatch: pytest.MonkeyPatch,
                                                         sent: list[tuple[str, str, str]]) -> None:
    made: list[Credential] = []

    def credential(**kwargs: Any) -> Credential:
        made.append(Credential())
        assert kwargs == {"managed_identity_client_id": "client-id"}
        return made[-1]

    monkeypatch.setattr("azure.identity.DefaultAzureCredential", credential)
    settings = IngestSettings.from_env({"TranscodeStorage__tableServiceUri": COSMOS_ENDPOINT,
                                        "TranscodeStorage__queueServiceUri": "https://stmedia.queue.core.windows.net",
                                        "TranscodeStorage__clientId": "client-id"})
    table = table_client(settings)
    assert (table.url, table.account_name, table.table_name) == (COSMOS_ENDPOINT.rstrip("/"), "acct", "jobs")
    read_missing(table)
    assert sent[0][1].startswith(COSMOS_ENDPOINT) and sent[0][2] == "Bearer"
    assert made[0].scopes == [COSMOS_SCOPE]


def test_function_accepts_a_cosmos_connection_string_for_the_table(sent: list[tuple[str, str, str]]) -> None:
    """Accepted, but TranscodeStorage is also the blob trigger's and the queue's connection: one string cannot
    name a storage account for those and Cosmos DB for the table."""
    table = table_client(IngestSettings.from_env({"TranscodeStorage": COSMOS_CONNECTION}))
    assert table.url == COSMOS_ENDPOINT.rstrip("/") and table.account_name == "acct"
    read_missing(table)
    assert sent[0][1].startswith(COSMOS_ENDPOINT) and sent[0][2].startswith("SharedKey")


def test_the_chart_can_point_the_worker_at_cosmos(monkeypatch: pytest.MonkeyPatch,
                                                  sent: list[tuple[str, str, str]]) -> None:
    """The chart derives the table endpoint from the blob account; worker.extraEnv carries main.bicep's
    recordsTableEndpoint output as WORKER_TABLE_ACCOUNT_URL, and the worker's settings take it."""
    rendered = render("cosmos", "transcoder-blue", [
        *REQUIRED, "--set", "slot=blue", "--set", "worker.extraEnv[0].name=WORKER_TABLE_ACCOUNT_URL",
        "--set", f"worker.extraEnv[0].value={COSMOS_ENDPOINT}"])
    for name, value in rendered.env().items():
        if name.startswith("WORKER_"):
            monkeypatch.setenv(name, value)
    table = make_clients(ServiceSettings(), credential=Credential()).table
    assert table.url == COSMOS_ENDPOINT.rstrip("/") and table.table_name == "jobs"
