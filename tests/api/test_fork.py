"""Reads and fork(): a child never hangs on its parent's read, nor deletes its parent's files.

A PyTorch DataLoader with the default start method on Linux forks its workers from the process
that built the dataset, so this is how users meet it.
"""

from __future__ import annotations

import json
import os
import time
import warnings
from collections.abc import Callable
from pathlib import Path

import pytest

import brightingest as bi
from brightingest.errors import BrightIngestError
from brightingest.sources import Resolved
from tests._support.data import SAMPLE_ROWS

pytestmark = [
    pytest.mark.usefixtures("core"),
    pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork()"),
]

ROWS = [*SAMPLE_ROWS["openai"]] * 3000


def in_child(body: Callable[[], object], timeout: float = 60.0) -> object:
    """Run ``body`` in a forked child; return what it returned (JSON) or raise if it hung."""
    read, write = os.pipe()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # 3.12: fork with threads running
        pid = os.fork()
    if pid == 0:  # pragma: no cover - the child
        os.close(read)
        try:
            result: object = {"ok": body()}
        except BaseException as e:
            result = {"error": type(e).__name__, "code": getattr(e, "code", None), "text": str(e)}
        os.write(write, json.dumps(result).encode())
        os._exit(0)
    os.close(write)
    deadline = time.monotonic() + timeout
    while True:
        done, _ = os.waitpid(pid, os.WNOHANG)
        if done:
            break
        if time.monotonic() > deadline:
            os.kill(pid, 9)
            os.waitpid(pid, 0)
            os.close(read)
            pytest.fail(f"the forked child did not finish in {timeout:.0f} s")
        time.sleep(0.02)
    with os.fdopen(read, "rb") as f:
        return json.loads(f.read())


def test_a_started_read_fails_clearly_in_a_child_and_goes_on_in_the_parent(write_jsonl, pm) -> None:
    path = write_jsonl(ROWS)
    expected = bi.load(path, pm=pm).table.num_rows
    stream = bi.stream(path, threads=2, pm=pm)
    batches = iter(stream)
    first = next(batches)

    got = in_child(lambda: sum(b.num_rows for b in batches))

    assert isinstance(got, dict)
    assert got.get("error") == "BrightIngestError", got
    assert got["code"] == "forked_reader"
    assert "fork()" in got["text"]
    assert "DataLoader" in got["text"]
    assert first.num_rows + sum(b.num_rows for b in batches) == expected
    assert stream.report.rows_kept == expected


def test_a_read_not_yet_started_can_be_read_in_a_child(write_jsonl, pm) -> None:
    path = write_jsonl(ROWS)
    expected = bi.load(path, pm=pm).table.num_rows
    stream = bi.stream(path, threads=2, pm=pm)  # detection ran here; no worker threads yet

    got = in_child(lambda: sum(b.num_rows for b in stream))

    assert got == {"ok": expected}
    assert sum(b.num_rows for b in stream) == expected  # and in the parent too


def test_the_error_class_is_part_of_the_hierarchy(write_jsonl, pm) -> None:
    stream = bi.stream(write_jsonl(ROWS), pm=pm)
    batches = iter(stream)
    next(batches)

    def child() -> str:
        try:
            next(batches)
        except BrightIngestError as e:
            return e.to_dict()["code"]
        return "no error"

    assert in_child(child) == {"ok": "forked_reader"}
    stream.close()


def test_a_child_closing_sources_leaves_the_parents_temporary_files(tmp_path: Path) -> None:
    spool = tmp_path / "download.jsonl"
    spool.write_text("{}\n")
    resolved = Resolved()
    resolved._add(str(spool), "https://example.invalid/data.jsonl")
    resolved._cleanup.append(spool)

    assert in_child(lambda: (resolved.close(), spool.exists())[1]) == {"ok": True}
    assert spool.exists()
    resolved.close()
    assert not spool.exists()
