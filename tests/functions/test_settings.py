"""IngestSettings.from_env: defaults, parsing, and errors that name the variable."""

from __future__ import annotations

import pytest
from azure.data.tables import TableClient

from functions_app.jobs import DEFAULT_EXTENSIONS
from functions_app.settings import IngestSettings, SettingsError, blob_trigger_source, queue_client, table_client

CONN = {"TranscodeStorage": "UseDevelopmentStorage=true"}


def test_defaults() -> None:
    s = IngestSettings.from_env(CONN)
    assert (s.uploads_container, s.outputs_container, s.jobs_queue, s.jobs_table) == (
        "uploads", "outputs", "transcode-jobs", "jobs")
    assert s.max_upload_bytes == 50 * 1024**3 and s.allowed_extensions == DEFAULT_EXTENSIONS
    assert s.requeue_after_s == 900 and s.blob_trigger_source == "EventGrid"
    assert s.connection_string == "UseDevelopmentStorage=true" and s.table_service_uri is None
    assert "UseDevelopmentStorage" not in repr(s)  # a connection string may hold a key
    assert s.rules.max_bytes == 50 * 1024**3


def test_every_variable_is_read() -> None:
    s = IngestSettings.from_env({
        "UPLOADS_CONTAINER": "incoming", "OUTPUTS_CONTAINER": "renditions", "JOBS_QUEUE": "jobs-q",
        "JOBS_TABLE": "TranscodeJobs", "MAX_UPLOAD_BYTES": "1_000_000", "ALLOWED_EXTENSIONS": "MP4, .mov,,",
        "REQUEUE_AFTER_S": "60.5", "BLOB_TRIGGER_SOURCE": "logsandcontainerscan",
        "TranscodeStorage__tableServiceUri": "https://acct.table.core.windows.net",
        "TranscodeStorage__queueServiceUri": "https://acct.queue.core.windows.net",
        "TranscodeStorage__blobServiceUri": "https://acct.blob.core.windows.net",
        "TranscodeStorage__clientId": "00000000-0000-0000-0000-000000000001",
    })
    assert (s.uploads_container, s.outputs_container, s.jobs_queue, s.jobs_table) == (
        "incoming", "renditions", "jobs-q", "TranscodeJobs")
    assert s.max_upload_bytes == 1_000_000 and s.allowed_extensions == {".mp4", ".mov"}
    assert s.requeue_after_s == 60.5 and s.blob_trigger_source == "LogsAndContainerScan"
    assert s.connection_string is None and s.table_service_uri == "https://acct.table.core.windows.net"
    assert s.queue_service_uri == "https://acct.queue.core.windows.net"
    assert s.client_id == "00000000-0000-0000-0000-000000000001"
    assert s.rules.allowed_extensions == {".mp4", ".mov"} and s.rules.max_bytes == 1_000_000


@pytest.mark.parametrize(("env", "variable"), [
    ({"UPLOADS_CONTAINER": "Uploads"}, "UPLOADS_CONTAINER"),
    ({"OUTPUTS_CONTAINER": "a--b"}, "OUTPUTS_CONTAINER"),
    ({"JOBS_QUEUE": "q"}, "JOBS_QUEUE"),
    ({"JOBS_TABLE": "1jobs"}, "JOBS_TABLE"),
    ({"MAX_UPLOAD_BYTES": "50GB"}, "MAX_UPLOAD_BYTES"),
    ({"MAX_UPLOAD_BYTES": "0"}, "MAX_UPLOAD_BYTES"),
    ({"ALLOWED_EXTENSIONS": "mp4, ."}, "ALLOWED_EXTENSIONS"),
    ({"REQUEUE_AFTER_S": "soon"}, "REQUEUE_AFTER_S"),
    ({"REQUEUE_AFTER_S": "-1"}, "REQUEUE_AFTER_S"),
    ({"REQUEUE_AFTER_S": "nan"}, "REQUEUE_AFTER_S"),
    ({"BLOB_TRIGGER_SOURCE": "Polling"}, "BLOB_TRIGGER_SOURCE"),
    ({"UPLOADS_CONTAINER": "media", "OUTPUTS_CONTAINER": "media"}, "OUTPUTS_CONTAINER"),
])
def test_bad_values_name_the_variable(env: dict[str, str], variable: str) -> None:
    with pytest.raises(SettingsError, match=variable):
        IngestSettings.from_env({**CONN, **env})


def test_missing_connection_names_both_forms_and_derives_the_table_uri() -> None:
    with pytest.raises(SettingsError, match="TranscodeStorage__tableServiceUri") as info:
        IngestSettings.from_env({"TranscodeStorage__blobServiceUri": "https://acct.blob.core.windows.net"})
    assert "set TranscodeStorage to a storage connection string" in str(info.value)
    assert "https://acct.table.core.windows.net" in str(info.value)
    with pytest.raises(SettingsError, match="not an http"):
        IngestSettings.from_env({"TranscodeStorage__tableServiceUri": "acct.table.core.windows.net"})


def test_blob_trigger_source() -> None:
    assert blob_trigger_source({}) == "EventGrid"
    assert blob_trigger_source({"BLOB_TRIGGER_SOURCE": " eventgrid "}) == "EventGrid"
    assert blob_trigger_source({"BLOB_TRIGGER_SOURCE": "LogsAndContainerScan"}) == "LogsAndContainerScan"


def test_table_client_from_connection_string_and_identity() -> None:
    by_key = table_client(IngestSettings.from_env({**CONN, "JOBS_TABLE": "TranscodeJobs"}))
    assert isinstance(by_key, TableClient) and by_key.table_name == "TranscodeJobs"
    assert by_key.url.startswith("http://127.0.0.1:10002/devstoreaccount1")
    identity_env = {"TranscodeStorage__tableServiceUri": "https://acct.table.core.windows.net",
                    "TranscodeStorage__queueServiceUri": "https://acct.queue.core.windows.net"}
    by_identity = table_client(IngestSettings.from_env(identity_env))
    assert by_identity.url.startswith("https://acct.table.core.windows.net") and by_identity.table_name == "jobs"


def test_queue_client_sends_base64_by_key_and_by_identity() -> None:
    from azure.storage.queue import TextBase64EncodePolicy

    by_key = queue_client(IngestSettings.from_env({**CONN, "JOBS_QUEUE": "jobs-q"}))
    assert by_key.queue_name == "jobs-q" and isinstance(by_key._message_encode_policy, TextBase64EncodePolicy)
    by_identity = queue_client(IngestSettings.from_env({
        "TranscodeStorage__tableServiceUri": "https://acct.table.core.windows.net",
        "TranscodeStorage__queueServiceUri": "https://acct.queue.core.windows.net"}))
    assert by_identity.url.startswith("https://acct.queue.core.windows.net/transcode-jobs")
    with pytest.raises(SettingsError, match="TranscodeStorage__queueServiceUri"):
        IngestSettings.from_env({"TranscodeStorage__tableServiceUri": "https://acct.table.core.windows.net"})
