"""The body of the blob-triggered function, with everything it touches passed in.

One upload gives exactly one outcome, logged as one line with its job id:

* ``enqueued``: a new job record, and ``message`` was sent to the queue;
* ``resent``: the record existed but no send of its message was ever confirmed (an earlier invocation failed after
  writing it): ``message`` was sent now;
* ``duplicate``: the same blob (name and ETag) was seen before and its message was sent; nothing is sent;
* ``requeued``: the message was sent, but the record has been ``queued`` longer than ``REQUEUE_AFTER_S`` with no
  worker claiming it; ``message`` was sent again and the worker deduplicates;
* ``rejected``: the upload breaks a rule; a row in the ``rejected`` partition and an ERROR log line say why.

The order is record, send, mark sent (``records.mark_enqueued``). Storage errors at any step propagate: the
invocation fails, the Functions host retries it (``maxDequeueCount``), and the retry sends whatever was not marked
sent; after the last retry the event goes to the ``webjobs-blobtrigger-poison`` queue.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from .jobs import UploadRejected, build_job, encode_job, job_id_for, validate_upload
from .records import JobTable, create_queued, mark_enqueued, record_rejected
from .settings import IngestSettings

__all__ = ["IngestResult", "Outcome", "handle_upload"]

logger = logging.getLogger(__name__)

Outcome = Literal["enqueued", "resent", "duplicate", "rejected", "requeued"]
"""What became of one blob event; see the module docstring."""


@dataclass(frozen=True)
class IngestResult:
    outcome: Outcome
    job_id: str
    message: str | None = None
    """The JSON job text that was sent: set for ``enqueued``, ``resent`` and ``requeued`` only."""
    reason: str | None = None
    """A sentence for ``rejected`` (the rule broken), ``duplicate`` and ``requeued``."""
    code: str | None = None
    """The rejection code (``bad-extension``, ``too-large``...) for ``rejected``."""


def handle_upload(*, container: str, name: str, url: str, etag: str, size: int, content_type: str | None,
                  settings: IngestSettings, table: JobTable, send: Callable[[str], object],
                  now: datetime) -> IngestResult:
    """Turn one blob event into at most one job message, sent with ``send`` (the queue client's
    ``send_message``); see the module docstring for the outcomes."""
    job_id = job_id_for(container, name, etag)
    try:
        validate_upload(name, size, content_type, settings.rules)
        job = build_job(container=container, name=name, url=url, etag=etag, size=size, content_type=content_type,
                        submitted_at=now, output_container=settings.outputs_container)
        message = encode_job(job)
    except UploadRejected as exc:
        record_rejected(table, job_id=job_id, container=container, name=name, etag=etag, size=size,
                        content_type=content_type, reason_code=exc.code, error=exc.message, submitted_at=now,
                        now=now)
        logger.error("rejected upload %s/%r job=%s code=%s: %s", container, name, job_id, exc.code, exc.message)
        return IngestResult("rejected", job_id, None, exc.message, exc.code)

    created = create_queued(table, job, now=now, requeue_after_s=settings.requeue_after_s)
    if created == "duplicate":
        reason = "this blob (same name and ETag) already has a job whose message was sent; nothing sent"
        logger.info("duplicate event job=%s for %s/%r: %s", job_id, container, name, reason)
        return IngestResult("duplicate", job_id, None, reason)
    send(message)  # raises on failure: the host retries, and the retry finds the record unsent
    mark_enqueued(table, job_id, now=now)
    if created == "created":
        logger.info("enqueued job=%s for %s/%r (%d bytes)", job_id, container, name, size)
        return IngestResult("enqueued", job_id, message)
    if created == "unsent":
        reason = "the job record existed without a confirmed send (an earlier invocation failed); sent now"
        logger.warning("resent job=%s for %s/%r: %s", job_id, container, name, reason)
        return IngestResult("resent", job_id, message, reason)
    reason = (f"the job record has been queued for more than {settings.requeue_after_s:g} s without a worker "
              "claiming it; sent its message again")
    logger.warning("requeued job=%s for %s/%r: %s", job_id, container, name, reason)
    return IngestResult("requeued", job_id, message, reason)
