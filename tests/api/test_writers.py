"""Writers on hand-built tables in the normalized chat schema: OpenAI JSONL, Parquet, Arrow."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import brightingest as bi
from brightingest import writers
from brightingest.schema import CHAT_SCHEMA
from brightingest.writers import (
    openai_message,
    openai_problems,
    write,
    write_arrow,
    write_openai,
    write_parquet,
)


def msg(role: str, content: str, **extra: Any) -> dict[str, Any]:
    base = {"role": role, "content": content, "weight": None, "name": None}
    base.update({"tool_calls": None, "tool_call_id": None, "extra": None})
    base.update(extra)
    return base


CALLS = [{"id": "c1", "type": "function", "function": {"name": "f", "arguments": "{}"}}]
TOOLS = [{"type": "function", "function": {"name": "f", "parameters": {"type": "object"}}}]

ROWS: list[dict[str, Any]] = [
    {
        "messages": [msg("system", "Be kind."), msg("user", "Hi"), msg("assistant", "Hello")],
        "tools": None,
        "id": "r1",
        "metadata": '{"quality": 5}',
        "source_file": "a.jsonl",
        "source_line": 2,
        "format": "brightrun-v4",
    },
    {
        "messages": [
            msg("user", "Call f", name="ana"),
            msg("assistant", "", tool_calls=json.dumps(CALLS), weight=0),
            msg("tool", "42", tool_call_id="c1"),
            msg("assistant", "It is 42.", weight=1),
        ],
        "tools": json.dumps(TOOLS),
        "id": None,
        "metadata": None,
        "source_file": "b.jsonl",
        "source_line": 1,
        "format": "openai",
    },
]


def chat_table(rows: list[dict[str, Any]] = ROWS) -> pa.Table:
    return pa.Table.from_pylist(rows, schema=CHAT_SCHEMA)


def test_openai_jsonl_is_valid_and_exact(tmp_path: Path) -> None:
    out = tmp_path / "out.jsonl"
    assert write_openai(chat_table(), out) == 2
    records = [json.loads(line) for line in out.read_text().splitlines()]
    assert records == [
        {
            "messages": [
                {"role": "system", "content": "Be kind."},
                {"role": "user", "content": "Hi"},
                {"role": "assistant", "content": "Hello"},
            ]
        },
        {
            "messages": [
                {"role": "user", "content": "Call f", "name": "ana"},
                {"role": "assistant", "tool_calls": CALLS, "weight": 0},
                {"role": "tool", "content": "42", "tool_call_id": "c1"},
                {"role": "assistant", "content": "It is 42.", "weight": 1},
            ],
            "tools": TOOLS,
        },
    ]
    assert [openai_problems(r) for r in records] == [[], []]


def test_weight_is_only_written_on_assistant_messages() -> None:
    assert openai_message(msg("user", "x", weight=1)) == {"role": "user", "content": "x"}
    assert openai_message(msg("assistant", "x", weight=0)) == {
        "role": "assistant",
        "content": "x",
        "weight": 0,
    }


def test_openai_problems_spots_each_rule() -> None:
    assert openai_problems([]) == ["the record is not a JSON object"]
    assert openai_problems({"messages": []}) == ["messages must be a non-empty list"]
    record = {
        "messages": [
            {"role": "bot", "content": "x", "extra": 1},
            {"role": "user", "content": 3, "weight": 1},
            {"role": "tool", "content": "r"},
            {"role": "assistant", "content": "a", "weight": 2},
            {"role": "user"},
        ],
        "id": 1,
        "tools": {"a": 1},
    }
    assert openai_problems(record) == [
        "unexpected top-level key 'id'",
        "messages[0]: unexpected key 'extra'",
        "messages[0]: unknown role 'bot'",
        "messages[1]: content must be a string or a list of parts",
        "messages[1]: weight is only allowed on assistant messages",
        "messages[2]: a tool message needs a tool_call_id",
        "messages[3]: weight must be 0 or 1, got 2",
        "messages[4]: missing content",
        "tools must be a list of objects",
    ]
    untrained = {
        "messages": [
            {"role": "user", "content": "q"},
            {"role": "assistant", "content": "a", "weight": 0},
        ]
    }
    assert openai_problems(untrained) == ["no assistant message to train on"]


def test_parquet_round_trip(tmp_path: Path) -> None:
    out = tmp_path / "sub" / "out.parquet"
    assert write_parquet(chat_table(), out) == 2
    back = pq.read_table(out)
    assert back.column("messages").to_pylist() == [r["messages"] for r in ROWS]
    assert back.column("source_file").to_pylist() == ["a.jsonl", "b.jsonl"]


def test_arrow_ipc_unifies_per_batch_dictionaries(tmp_path: Path) -> None:
    batches = [chat_table(ROWS[:1]).to_batches()[0], chat_table(ROWS[1:]).to_batches()[0]]
    assert batches[0].column("format").dictionary != batches[1].column("format").dictionary
    out = tmp_path / "out.arrow"
    assert write_arrow(iter(batches), out) == 2
    back = pa.ipc.open_file(out).read_all()
    assert back.schema.equals(CHAT_SCHEMA)
    assert back.column("format").to_pylist() == ["brightrun-v4", "openai"]
    assert back.to_pylist() == chat_table().to_pylist()


def test_writers_take_streams_and_record_batch_readers(tmp_path: Path) -> None:
    reader = pa.RecordBatchReader.from_batches(CHAT_SCHEMA, chat_table().to_batches())
    assert write(reader, tmp_path / "a.jsonl", to="openai") == 2
    assert write(chat_table().to_batches()[0], tmp_path / "b.parquet", to="parquet") == 2
    assert write([], tmp_path / "c.arrow", to="arrow") == 0
    assert pa.ipc.open_file(tmp_path / "c.arrow").read_all().num_rows == 0
    with pytest.raises(ValueError, match="unknown output format 'csv'"):
        write(chat_table(), tmp_path / "d.csv", to="csv")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="expected a pyarrow Table"):
        write_openai(42, tmp_path / "e.jsonl")
    with pytest.raises(ValueError, match="needs a table with a 'messages' column"):
        write_openai(pa.table({"x": [1]}), tmp_path / "f.jsonl")


def test_write_is_atomic_on_failure(tmp_path: Path) -> None:
    out = tmp_path / "out.jsonl"
    out.write_text("old\n")

    def batches() -> Any:
        yield chat_table().to_batches()[0]
        raise RuntimeError("source died")

    with pytest.raises(RuntimeError, match="source died"):
        write_openai(batches(), out)
    assert out.read_text() == "old\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.jsonl"]


def test_atomic_output_renames_only_when_complete(tmp_path: Path) -> None:
    out = tmp_path / "x.bin"
    with writers.atomic_output(out) as handle:
        handle.write(b"data")
        assert not out.exists()
    assert out.read_bytes() == b"data"


def test_openai_to_stdout(capsys: pytest.CaptureFixture[str]) -> None:
    assert write_openai(chat_table(ROWS[:1]), "-") == 1
    assert json.loads(capsys.readouterr().out)["messages"][1] == {"role": "user", "content": "Hi"}


# -- the core's OpenAI writer and the general path ---------------------------------------------


def _python_path(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(writers, "_native_writer", lambda: None)


def _tricky_rows() -> list[dict[str, Any]]:
    spaced = (
        '[ {"id": "c 1", "type": "function",\n "function": {"name": "f", "arguments": "{ }"}} ]'
    )
    return [
        *ROWS,
        {
            **ROWS[1],
            "messages": [
                msg("user", 'é "quoted" \\ back\nslash\t\x01\x1f 😀 \u2028'),
                msg("assistant", "", tool_calls=spaced, weight=1),
                msg("tool", "", tool_call_id="c 1"),
                msg("assistant", "done", tool_calls="[]", weight=None),
                msg("developer", "", name=""),
            ],
            "tools": ' [ {"type" : "function"} ] ',
        },
    ]


@pytest.mark.usefixtures("core")
def test_core_writer_writes_the_bytes_the_python_path_writes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    table = chat_table(_tricky_rows() * 50)
    table = pa.concat_tables([table.slice(3, 100), table.slice(0, 3)])  # sliced batches
    native, general = tmp_path / "native.jsonl", tmp_path / "general.jsonl"
    assert write_openai(table, native) == table.num_rows
    _python_path(monkeypatch)
    assert write_openai(table, general) == table.num_rows
    assert native.read_bytes() == general.read_bytes()
    lines = native.read_bytes().decode("utf-8").split("\n")  # not splitlines(): U+2028 inside
    assert lines.pop() == ""
    assert len(lines) == table.num_rows
    assert json.loads(lines[2])["messages"][1] == {
        "role": "assistant",
        "tool_calls": json.loads(_tricky_rows()[2]["messages"][1]["tool_calls"]),
        "weight": 1,
    }


@pytest.mark.usefixtures("core")
def test_parallel_tool_calls_kept_in_metadata_is_written_back(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, write_jsonl: Any
) -> None:
    call = {"id": "c1", "type": "function", "function": {"name": "f", "arguments": "{}"}}
    tool = {"type": "function", "function": {"name": "f", "parameters": {}}}
    conversation = [
        {"role": "user", "content": "u"},
        {"role": "assistant", "tool_calls": [call]},
        {"role": "tool", "tool_call_id": "c1", "content": "r"},
        {"role": "assistant", "content": "a"},
    ]
    rows = [
        {"messages": conversation, "tools": [tool], "parallel_tool_calls": False},
        {"messages": conversation, "tools": [tool], "parallel_tool_calls": True, "source": "x"},
        {"messages": conversation, "parallel_tool_calls": "no"},  # not a boolean: not written
        {"messages": conversation, "note": 'has "parallel_tool_calls" in a value'},
    ]
    table = bi.load(write_jsonl(rows), format="openai").table
    native, general = tmp_path / "native.jsonl", tmp_path / "general.jsonl"
    write_openai(table, native)
    _python_path(monkeypatch)
    write_openai(table, general)
    assert native.read_bytes() == general.read_bytes()
    written = [json.loads(line) for line in native.read_text(encoding="utf-8").splitlines()]
    assert [w.get("parallel_tool_calls") for w in written] == [False, True, None, None]
    assert written[0] == {"messages": conversation, "tools": [tool], "parallel_tool_calls": False}
    assert all(openai_problems(w) == [] for w in written)


@pytest.mark.usefixtures("core")
def test_other_layouts_take_the_general_path(tmp_path: Path) -> None:
    table = chat_table()
    large = pa.schema(
        [
            f.with_type(pa.large_string()) if f.name in ("tools", "id", "metadata") else f
            for f in CHAT_SCHEMA
        ]
    )
    native, general = tmp_path / "native.jsonl", tmp_path / "general.jsonl"
    write_openai(table, native)
    assert write_openai(table.cast(large), general) == 2
    assert native.read_bytes() == general.read_bytes()


@pytest.mark.usefixtures("core")
def test_json_text_that_is_not_json_fails_naming_the_row(tmp_path: Path) -> None:
    rows = [ROWS[0], {**ROWS[1], "tools": "[{"}]
    out = tmp_path / "out.jsonl"
    with pytest.raises(ValueError, match="row 1: tools is not valid JSON"):
        write_openai(chat_table(rows), out)
    assert not out.exists()


@pytest.mark.skipif(not hasattr(os, "fchmod"), reason="POSIX permissions")
@pytest.mark.parametrize("writer", [write_openai, write_parquet, write_arrow])
def test_outputs_get_the_permissions_of_a_plain_open(tmp_path: Path, writer: Any) -> None:
    table = chat_table()
    old = os.umask(0o027)
    try:
        fresh = tmp_path / "fresh"
        writer(table, fresh)
        assert stat.S_IMODE(fresh.stat().st_mode) == 0o640  # 0o666 less the umask
        kept = tmp_path / "kept"
        kept.write_text("old")
        kept.chmod(0o604)
        writer(table, kept)
        assert stat.S_IMODE(kept.stat().st_mode) == 0o604  # a replaced file keeps its mode
    finally:
        os.umask(old)


def test_rows_openai_cannot_hold_are_left_out_and_counted(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    rows = [
        [msg("user", "q"), msg("assistant", "a")],
        [msg("user", "q"), msg("assistant", "let me see"), msg("tool", "r"), msg("assistant", "a")],
        [msg("user", "q"), msg("assistant", "b")],
    ]
    table = pa.table(
        {
            "messages": rows,
            "tools": [None] * 3,
            "id": ["a", "b", "c"],
            "metadata": [None] * 3,
            "source_file": ["f.jsonl"] * 3,
            "source_line": [1, 2, 3],
            "format": ["sharegpt"] * 3,
        },
        schema=CHAT_SCHEMA,
    )
    out = tmp_path / "out.jsonl"
    left_out = writers.LeftOut()
    assert write_openai(table, out, left_out=left_out) == 2
    records = [json.loads(line) for line in out.read_text().splitlines()]
    assert [openai_problems(r) for r in records] == [[], []]
    assert left_out.rows == 1
    assert left_out.examples[0]["line"] == 2
    assert left_out.summary().startswith("1 row left out: a tool message answers no call")
    with caplog.at_level("WARNING", logger="brightingest"):
        assert write_openai(table, out) == 2  # no collector: a warning says it
    assert "1 row left out" in caplog.text


@pytest.mark.usefixtures("core")
def test_a_tool_message_must_answer_a_call_made_before_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def calls(*ids: str) -> str:
        return json.dumps(
            [
                {"id": i, "type": "function", "function": {"name": "f", "arguments": "{}"}}
                for i in ids
            ]
        )

    ok = [
        msg("user", "q"),
        msg("assistant", "", tool_calls=calls("c1", "c2")),
        msg("tool", "r1", tool_call_id="c1"),
        msg("tool", "r2", tool_call_id="c2"),
        msg("assistant", "a"),
    ]
    rows = [
        ok,
        [
            msg("user", "q"),
            msg("assistant", "", tool_calls=calls("c1")),
            msg("tool", "r", tool_call_id="WRONG"),
            msg("assistant", "a"),
        ],
        [
            msg("user", "q"),
            msg("tool", "r", tool_call_id="c1"),
            msg("assistant", "", tool_calls=calls("c1")),
            msg("assistant", "a"),
        ],
        [msg("user", "q"), msg("assistant", "b")],
        [msg("user", "q"), msg("tool", "r"), msg("assistant", "a")],
        # the last message may call a tool whose result the data does not have
        [msg("user", "q"), msg("assistant", "", tool_calls=calls("c9"))],
        # ... but a call the conversation goes on without answering is refused by OpenAI
        [
            msg("user", "q"),
            msg("assistant", "", tool_calls=calls("c1", "c2")),
            msg("tool", "r1", tool_call_id="c1"),
            msg("assistant", "a"),
        ],
        [msg("user", "q"), msg("assistant", "", tool_calls=calls("c1")), msg("user", "and?")],
        [
            msg("user", "q"),
            msg("assistant", "", tool_calls=calls("c1", "c2")),
            msg("tool", "r1", tool_call_id="c1"),
        ],
        # a tool message answers the call right before its run, not any earlier one, and once
        [
            msg("user", "q"),
            msg("assistant", "", tool_calls=calls("c1")),
            msg("tool", "r1", tool_call_id="c1"),
            msg("user", "again?"),
            msg("tool", "r1", tool_call_id="c1"),
            msg("assistant", "a"),
        ],
        [
            msg("user", "q"),
            msg("assistant", "", tool_calls=calls("c1")),
            msg("tool", "r1", tool_call_id="c1"),
            msg("tool", "r1", tool_call_id="c1"),
            msg("assistant", "a"),
        ],
        # answers in another order than the calls are fine
        [
            msg("user", "q"),
            msg("assistant", "", tool_calls=calls("c1", "c2")),
            msg("tool", "r2", tool_call_id="c2"),
            msg("tool", "r1", tool_call_id="c1"),
            msg("assistant", "a"),
        ],
    ]
    n = len(rows)
    table = pa.table(
        {
            "messages": rows,
            "tools": [None] * n,
            "id": [str(i) for i in range(n)],
            "metadata": [None] * n,
            "source_file": ["f.jsonl"] * n,
            "source_line": list(range(1, n + 1)),
            "format": ["openai"] * n,
        },
        schema=CHAT_SCHEMA,
    )
    batch = table.to_batches()[0]
    native = writers._unanswered_tools(batch)
    assert native == writers._unanswered_tools_py(batch)
    unknown, no_id = writers.LeftOut.REASON_UNKNOWN_ID, writers.LeftOut.REASON
    unanswered = writers.LeftOut.REASON_UNANSWERED_CALL
    assert native == [
        (1, unknown),
        (2, unknown),
        (4, no_id),
        (6, unanswered),
        (7, unanswered),
        (8, unanswered),
        (9, unknown),
        (10, unknown),
    ]
    left_out = writers.LeftOut()
    out = tmp_path / "out.jsonl"
    assert write_openai(table, out, left_out=left_out) == 4
    assert [e["line"] for e in left_out.examples] == [2, 3, 5, 7, 8]
    assert left_out.rows == 8
    assert left_out.summary() == (
        f"8 rows left out: {unknown}; {no_id}; {unanswered}, e.g. f.jsonl:2, f.jsonl:3, f.jsonl:5"
    )
    # What the writer leaves out, the validator refuses, for the same reason.
    for i, reason in native:
        problems = openai_problems({"messages": [writers.openai_message(m) for m in rows[i]]})
        assert reason in problems or (
            reason == no_id and any("tool_call_id" in p for p in problems)
        )
    records = [json.loads(line) for line in out.read_text().splitlines()]
    assert all(openai_problems(r) == [] for r in records)


def test_openai_problems_checks_each_tool_call() -> None:
    def record(call: Any) -> dict[str, Any]:
        calling = {"role": "assistant", "tool_calls": [call]}
        return {"messages": [{"role": "user", "content": "q"}, calling]}

    good = {"id": "c1", "type": "function", "function": {"name": "f", "arguments": "{}"}}
    assert openai_problems(record(good)) == []
    assert openai_problems(record({**good, "id": ""})) == [
        "messages[1].tool_calls[0]: a tool call needs an id"
    ]
    assert openai_problems(record({**good, "function": {"name": "f", "arguments": {}}})) == [
        "messages[1].tool_calls[0]: function.arguments must be JSON text (a string)"
    ]
    assert openai_problems(record("f()")) == [
        "messages[1].tool_calls[0]: a tool call must be an object"
    ]
