"""Fixtures for the sources tests: recorded (not slept) backoff waits, sample bytes."""

from __future__ import annotations

import json
import logging

import pytest

from brightingest import _http

ROWS = [
    {"messages": [{"role": "user", "content": f"q{i}"}, {"role": "assistant", "content": f"a{i}"}]}
    for i in range(300)
]
#: A JSONL body of a realistic shape (27,980 bytes).
DATA = "".join(json.dumps(row) + "\n" for row in ROWS).encode()
#: A distinctive secret put in query strings; it must never show up anywhere.
SECRET = "s3cr3t-SIGNATURE-value"


@pytest.fixture
def sleeps(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """Backoff waits, recorded instead of slept (keeps retry tests fast and observable)."""
    recorded: list[float] = []
    monkeypatch.setattr(_http, "_sleep", recorded.append)
    return recorded


@pytest.fixture
def source_logs(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    """caplog capturing brightingest.sources at DEBUG."""
    caplog.set_level(logging.DEBUG, logger="brightingest.sources")
    return caplog
