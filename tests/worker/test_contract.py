"""The job message contract between the Function (its own queue client, base64) and the worker.

The two sides share no code: ``tests/data/job_v1.json`` pins the format, the Function's tests check that they
produce it byte for byte, and these check that the worker reads it, through a real queue, with the binding's encoding.
"""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest

from worker.errors import InvalidJob
from worker.job import MAX_JOB_BYTES, parse_job

GOLDEN = Path(__file__).parent.parent / "data" / "job_v1.json"


def test_worker_reads_the_golden_message_as_the_binding_sends_it() -> None:
    text = GOLDEN.read_text(encoding="utf-8")
    job = parse_job(base64.b64encode(text.encode("utf-8")).decode("ascii"))
    data = json.loads(text)
    assert job.job_id == data["job_id"] and job.version == 1
    assert job.source.name == "Vidéos/été 2026/クリップ.mp4" and job.source.size == 3221225472
    assert job.source.etag == data["source"]["etag"] and job.output.prefix == f"{job.job_id}/"
    assert job.submitted_at.isoformat() == "2026-11-21T10:00:00+00:00"


def test_the_plain_text_of_the_message_is_refused_with_the_encoding_named() -> None:
    with pytest.raises(InvalidJob, match="TextBase64EncodePolicy"):
        parse_job(GOLDEN.read_text(encoding="utf-8"))


def test_an_extra_field_is_refused() -> None:
    data = json.loads(GOLDEN.read_text(encoding="utf-8"))
    data["priority"] = 5
    with pytest.raises(InvalidJob, match="priority: Extra inputs are not permitted"):
        parse_job(base64.b64encode(json.dumps(data).encode()).decode())


def test_both_sides_refuse_the_same_message_size() -> None:
    from functions_app.jobs import MAX_MESSAGE_BYTES

    assert MAX_MESSAGE_BYTES == MAX_JOB_BYTES


@pytest.mark.azurite
def test_function_output_through_a_real_queue_reaches_the_worker(stack, sources) -> None:
    from localdev.functions_host import FunctionHost
    from tests.worker.service_helpers import queue, upload

    blob = upload(stack, sources.av, "contract/clip one.mp4")
    host = FunctionHost(stack.connection_string, stack.function_settings())
    sent = host.deliver(stack.names.uploads, blob["name"])
    assert sent is not None
    (raw,) = queue(stack, encode=False).receive_messages(max_messages=1)
    assert raw.content == base64.b64encode(sent.encode("utf-8")).decode("ascii")  # base64 on the wire
    job = parse_job(raw.content)
    assert job.job_id == blob["job_id"] and job.source.name == "contract/clip one.mp4"
    assert job.source.size == blob["size"] and job.output.container == stack.names.outputs
