"""Runs the Function app's blob handler the way the Functions host would, for Azurite (which has no Event Grid).

The host's job for ``enqueue_transcode``: resolve the app settings, hand the function an SDK ``BlobClient`` for the
new blob, and send what it set on its queue output, base64-encoded (the binding's encoding), to the jobs queue.
"""

from __future__ import annotations

import functools
import logging
import os
import threading
from collections.abc import Callable
from typing import Any

from azure.storage.blob import BlobClient
from azure.storage.queue import QueueClient, TextBase64EncodePolicy

__all__ = ["FunctionHost", "OutValue"]

FUNCTION_NAME = "enqueue_transcode"


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


class OutValue:
    """The ``func.Out[str]`` the host passes: the function sets a value, the host sends it after the call."""

    def __init__(self) -> None:
        self._value: str | None = None

    def set(self, value: str) -> None:
        self._value = value

    def get(self) -> str | None:
        return self._value


class FunctionHost:
    def __init__(self, connection_string: str, app_settings: dict[str, str]) -> None:
        self.connection_string = connection_string
        self.settings = {"TranscodeStorage": connection_string, **app_settings}
        os.environ.update(self.settings)  # what the host does with app settings, before the app is imported
        self.queue_name = self.settings.get("JOBS_QUEUE", "transcode-jobs")
        self._function = self._load()
        self._local = threading.local()

    @staticmethod
    def _load() -> Callable[..., Any]:
        from functions_app import function_app

        function_app._context.cache_clear()  # a new host reads the app settings afresh, as a new process would
        return indexed_functions()[FUNCTION_NAME]

    def _queue(self) -> QueueClient:
        queue: QueueClient | None = getattr(self._local, "queue", None)
        if queue is None:
            queue = QueueClient.from_connection_string(self.connection_string, self.queue_name,
                                                       message_encode_policy=TextBase64EncodePolicy())
            self._local.queue = queue
        return queue

    def deliver(self, container: str, name: str) -> str | None:
        """One BlobCreated event: run the function; send its queue output. Returns the message sent, if any."""
        client = BlobClient.from_connection_string(self.connection_string, container, name)
        out = OutValue()
        self._function(client=client, msg=out)
        message = out.get()
        if message is not None:
            self._queue().send_message(message)
        return message
