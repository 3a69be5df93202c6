"""Load tests with a pass/fail: concurrent uploads to Blob Storage, through the ingest path to job messages.

``python -m loadtest --help``; ``docs/loadtest.md``. The locust users live in ``loadtest/locustfile.py``.
"""
