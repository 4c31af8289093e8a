"""Property tests: arbitrary JSON objects written as JSONL (random line endings, blank lines,
BOM) read back equal to what json.loads gives, as a whole table and as a stream, with 1 and 2
threads and any chunk size."""

from __future__ import annotations

import json
import math
import tempfile
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

_core = pytest.importorskip("brightingest._core")

# JSON values Arrow/serde and Python agree on: finite floats, 64-bit integers, any Unicode
# text except lone surrogates (not valid UTF-8, so not valid in a UTF-8 file either).
text = st.text(st.characters(blacklist_categories=("Cs",)), max_size=20)
scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**63), max_value=2**64 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | text
)
values = st.recursive(
    scalars,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(text, children, max_size=4),
    max_leaves=12,
)
objects = st.dictionaries(text, values, max_size=5)
endings = st.sampled_from(["\n", "\r\n"])


@st.composite
def jsonl_files(draw: st.DrawFn) -> tuple[bytes, list[Any], int]:
    rows = draw(st.lists(objects, max_size=25))
    out = []
    blanks = 0
    if draw(st.booleans()):
        out.append("\ufeff")
    for row in rows:
        while draw(st.integers(0, 5)) == 0:
            out.append(draw(st.sampled_from(["", "  ", "\t"])) + draw(endings))
            blanks += 1
        out.append(json.dumps(row, ensure_ascii=draw(st.booleans())) + draw(endings))
    data = "".join(out)
    if rows and draw(st.booleans()):
        data = data.rstrip("\r\n")  # a last line without a newline
    if data == "\ufeff":
        blanks = 1  # a file holding only a BOM is one empty line
    return data.encode(), rows, blanks


def _same(a: Any, b: Any) -> bool:
    """Equality that treats ints and floats as JSON does (1.0 may come back as 1.0 or 1)."""
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, float) or isinstance(b, float):
        return isinstance(a, int | float) and isinstance(b, int | float) and math.isclose(a, b)
    return type(a) is type(b) and a == b


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    case=jsonl_files(),
    threads=st.sampled_from([1, 2]),
    chunk=st.integers(1, 300),
    streamed=st.booleans(),
)
def test_any_objects_read_back_as_json_loads_gives(
    case: tuple[bytes, list[Any], int], threads: int, chunk: int, streamed: bool
) -> None:
    data, rows, blanks = case
    with tempfile.TemporaryDirectory() as d:
        p = Path(d) / "x.jsonl"
        p.write_bytes(data)
        reader = _core.read_jsonl([str(p)], threads=threads, chunk_bytes=chunk)
        if streamed:
            got = [json.loads(v) for b in reader for v in b.column("value").to_pylist()]
        else:
            got = [json.loads(v) for v in pa.table(reader).column("value").to_pylist()]
        report = reader.report() if streamed else None
    expected = [json.loads(json.dumps(r)) for r in rows]
    assert len(got) == len(expected)
    for g, e in zip(got, expected, strict=True):
        assert _same(g, e), (g, e)
    if report is not None:
        assert report["rows_kept"] == len(rows)
        assert report["skipped"].get("blank_line", 0) == blanks
        assert report["lines_read"] == len(rows) + blanks
