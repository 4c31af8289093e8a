"""The compiled core's Arrow boundary: schemas agree with schema.py, batches cross without copies,
and both the PyCapsule stream and the batch iterator work with pyarrow."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa
import pytest

from brightingest.schema import CHAT_SCHEMA, RAW_SCHEMA

_core = pytest.importorskip("brightingest._core")

OPENAI = {
    "name": "openai",
    "signature": ["messages"],
    "parts": [
        {
            "kind": "list",
            "field": "messages",
            "name_key": "name",
            "tool_calls_key": "tool_calls",
            "tool_call_id_key": "tool_call_id",
            "weight_key": "weight",
        }
    ],
    "tools_field": "tools",
}


def _rows(n: int) -> str:
    return "".join(
        json.dumps(
            {
                "messages": [
                    {"role": "user", "content": f"q{i} café"},
                    {"role": "assistant", "content": f"a{i} 🎉", "weight": 1},
                ],
                "extra": {"i": i},
            }
        )
        + "\n"
        for i in range(n)
    )


def test_schemas_match_the_python_declaration(tmp_path: Path) -> None:
    p = tmp_path / "a.jsonl"
    p.write_text(_rows(3))
    chat = pa.table(_core.read_jsonl([str(p)], formats=json.dumps([OPENAI])))
    assert chat.schema.equals(CHAT_SCHEMA), chat.schema
    raw = pa.table(_core.read_jsonl([str(p)]))
    assert raw.schema.equals(RAW_SCHEMA), raw.schema
    assert pa.schema(_core.read_jsonl([str(p)])).equals(RAW_SCHEMA)


def test_batches_cross_without_copies_both_ways(tmp_path: Path) -> None:
    p = tmp_path / "a.jsonl"
    p.write_text(_rows(50))
    reader = _core.read_jsonl([str(p)], formats=json.dumps([OPENAI]))
    batch = reader.next_batch()
    assert isinstance(batch, pa.RecordBatch)
    py_addresses = {
        buf.address
        for col in batch.columns
        for buf in col.buffers()
        if buf is not None and buf.size > 0  # empty buffers have no identity to compare
    }
    rust_addresses = set(_core._buffer_addresses(batch))
    assert py_addresses, "no buffers?"
    # Every buffer pyarrow sees is one Rust built: nothing was copied on the way out, nor on
    # the way back in (the batch re-enters Rust through __arrow_c_array__).
    assert py_addresses <= rust_addresses


def test_stream_capsule_and_iterator_agree(tmp_path: Path) -> None:
    p = tmp_path / "a.jsonl"
    p.write_text(_rows(2000))
    spec = json.dumps([OPENAI])
    via_stream = pa.RecordBatchReader.from_stream(
        _core.read_jsonl([str(p)], formats=spec, chunk_bytes=4096)
    ).read_all()
    reader = _core.read_jsonl([str(p)], formats=spec, chunk_bytes=4096)
    batches = list(reader)
    assert len(batches) > 1
    assert pa.Table.from_batches(batches).equals(via_stream)
    assert reader.finished
    report = reader.report()
    assert report["rows_kept"] == report["lines_read"] == 2000
    # The same reader cannot be consumed twice.
    once = _core.read_jsonl([str(p)])
    pa.table(once)
    with pytest.raises(ValueError, match="already consumed"):
        pa.table(once)
