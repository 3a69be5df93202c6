"""Uploads released together, all in flight at once, against the local stack: each one becomes exactly one job
record and one queue message (the full run, 1000 at once, is ``python -m loadtest.burst``; docs/service.md)."""

from __future__ import annotations

import pytest

from loadtest.burst import burst

pytestmark = pytest.mark.azurite


def test_two_hundred_uploads_at_once_make_exactly_two_hundred_jobs(stack) -> None:
    stack.start_events(workers=8)
    result = burst(stack, 200, 16 * 1024, timeout=120)
    assert result["failed"] == 0
    assert result["blobs"] == result["records"] == result["messages"] == 200
    assert result["release_to_last_enqueued_s"] is not None
