"""Runs the Function app's blob handler the way the Functions host would, for Azurite (which has no Event Grid).

The host's job for ``enqueue_transcode``: resolve the app settings and hand the function an SDK ``BlobClient`` for
the new blob; the function sends the job message itself. ``deliver`` reports what it sent (read from the queue
client the function uses, wrapped here), so callers can follow it.
"""

from __future__ import annotations

import functools
import logging
import os
import threading
from collections.abc import Callable
from typing import Any

import requests
from azure.core.pipeline.transport import RequestsTransport
from azure.storage.blob import BlobServiceClient
from azure.storage.queue import QueueClient, TextBase64EncodePolicy

__all__ = ["FunctionHost"]

FUNCTION_NAME = "enqueue_transcode"


def pooled_transport(connections: int) -> RequestsTransport:
    """A transport whose connection pool holds ``connections`` (requests keeps 10 and drops the rest)."""
    session = requests.Session()
    adapter = requests.adapters.HTTPAdapter(pool_connections=4, pool_maxsize=connections)
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    return RequestsTransport(session=session, session_owner=False)


@functools.cache
def indexed_functions() -> dict[str, Callable[..., Any]]:
    """Index the app once, as the host does at start-up (the library refuses to index an app twice)."""
    from functions_app.function_app import app

    root = logging.getLogger()
    level = root.level
    root.setLevel(logging.ERROR)  # the library warns at root level that auth levels apply to HTTP functions only
    try:
        functions = {str(fn.get_function_name()): fn.get_user_function() for fn in app.get_functions()}
    finally:
        root.setLevel(level)
    if FUNCTION_NAME not in functions:
        raise LookupError(f"the Function app has no function {FUNCTION_NAME!r}")
    return functions


class _RecordingQueue:
    """The function's queue client, remembering what each thread sent last (invocations run concurrently)."""

    def __init__(self, inner: QueueClient) -> None:
        self._inner = inner
        self._sent = threading.local()

    def send_message(self, content: str, **kwargs: Any) -> Any:
        result = self._inner.send_message(content, **kwargs)
        self._sent.value = content
        return result

    def take(self) -> str | None:
        value: str | None = getattr(self._sent, "value", None)
        self._sent.value = None
        return value


class FunctionHost:
    """Safe to call from many threads at once, as the host runs invocations concurrently. The blob clients it hands
    out and the function's queue client share one connection pool each (``connections`` wide), as the host's do."""

    def __init__(self, connection_string: str, app_settings: dict[str, str], *, connections: int = 32) -> None:
        self.connection_string = connection_string
        self.settings = {"TranscodeStorage": connection_string, **app_settings}
        os.environ.update(self.settings)  # what the host does with app settings, before the app is imported
        self.queue_name = self.settings.get("JOBS_QUEUE", "transcode-jobs")
        self._function = self._load()
        self._blobs = BlobServiceClient.from_connection_string(connection_string,
                                                              transport=pooled_transport(connections))
        self._queue = self._wire(connections)

    @staticmethod
    def _load() -> Callable[..., Any]:
        from functions_app import function_app

        getattr(function_app._context, "cache_clear", lambda: None)()  # a new host reads the settings afresh
        return indexed_functions()[FUNCTION_NAME]

    def _wire(self, connections: int) -> _RecordingQueue:
        """The function's own (settings, table, queue), with the queue on a pooled transport and recording."""
        from functions_app import function_app
        from functions_app.settings import IngestSettings, table_client

        settings = IngestSettings.from_env(os.environ)
        queue = _RecordingQueue(QueueClient.from_connection_string(
            self.connection_string, self.queue_name, message_encode_policy=TextBase64EncodePolicy(),
            transport=pooled_transport(connections)))
        context = (settings, table_client(settings), queue)
        function_app._context = lambda: context  # type: ignore[assignment]
        return queue

    def deliver(self, container: str, name: str) -> str | None:
        """One BlobCreated event: run the function. Returns the message it sent, if any."""
        client = self._blobs.get_blob_client(container, name)
        self._queue.take()
        self._function(client=client)
        return self._queue.take()
