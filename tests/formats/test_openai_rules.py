"""OpenAI's own rules, enforced when rows are mapped (by the core), so that what `convert`
writes is valid OpenAI fine-tuning JSONL: tool definitions, tool results, tool calls, weights."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

import brightingest as bi
from brightingest.writers import openai_problems

pytestmark = pytest.mark.usefixtures("core")

USER = {"role": "user", "content": "u"}
ASSISTANT = {"role": "assistant", "content": "a"}
TOOL = {"type": "function", "function": {"name": "f", "parameters": {"type": "object"}}}
CALL = {"id": "c1", "type": "function", "function": {"name": "f", "arguments": "{}"}}


def _read(write_jsonl: Any, rows: list[Any], fmt: str = "openai") -> bi.ChatDataset:
    path: Path = write_jsonl(rows)
    return bi.load(path, format=fmt)


def _skips(ds: bi.ChatDataset) -> dict[int, tuple[str, str]]:
    return {e["line"]: (e["category"], e["message"]) for e in ds.report.to_dict()["examples"]}


def test_tools_must_be_a_list_of_objects(write_jsonl: Any, tmp_path: Path) -> None:
    rows = [
        {"messages": [USER, ASSISTANT], "tools": [TOOL]},
        {"messages": [USER, ASSISTANT], "tools": "not json"},
        {"messages": [USER, ASSISTANT], "tools": {"a": 1}},
        {"messages": [USER, ASSISTANT], "tools": 5},
        {"messages": [USER, ASSISTANT], "tools": [TOOL, "f"]},
        {"messages": [USER, ASSISTANT], "tools": []},
        {"messages": [USER, ASSISTANT], "tools": json.dumps([TOOL], indent=2)},
    ]
    ds = _read(write_jsonl, rows)
    assert ds.report.rows_kept == 3
    assert ds.report.skipped == {"wrong_type": 4}
    skips = _skips(ds)
    assert skips[2][0] == "wrong_type"
    assert "found a string that is not JSON" in skips[2][1]
    assert "found an object" in skips[3][1] or "found object" in skips[3][1]
    assert sorted(skips) == [2, 3, 4, 5]
    tools = ds.table.column("tools").to_pylist()
    # An empty list is no tools; JSON text of a list is parsed (and written compactly).
    assert tools == [json.dumps([TOOL], separators=(",", ":")), None] + [
        json.dumps([TOOL], separators=(",", ":"))
    ]
    out = tmp_path / "out.jsonl"
    ds.write_openai(out)
    records = [json.loads(line) for line in out.read_text().splitlines()]
    assert [openai_problems(r) for r in records] == [[], [], []]
    assert records[2]["tools"] == [TOOL]


def test_sharegpt_tools_as_json_text_become_a_list(write_jsonl: Any) -> None:
    row = {
        "conversations": [{"from": "human", "value": "q"}, {"from": "gpt", "value": "a"}],
        "tools": json.dumps([{"name": "f", "description": "d"}]),
    }
    ds = _read(write_jsonl, [row], "sharegpt")
    # Parsed, and the bare definition wrapped in OpenAI's shape.
    assert json.loads(ds.table.column("tools")[0].as_py()) == [
        {"type": "function", "function": {"name": "f", "description": "d"}}
    ]


def test_tool_results_need_the_id_of_their_call(write_jsonl: Any) -> None:
    calls = {"role": "assistant", "tool_calls": [CALL]}
    rows = [
        {
            "messages": [
                USER,
                calls,
                {"role": "tool", "content": "r", "tool_call_id": "c1"},
                ASSISTANT,
            ]
        },
        {"messages": [USER, calls, {"role": "tool", "content": "r"}, ASSISTANT]},
    ]
    ds = _read(write_jsonl, rows)
    assert ds.report.rows_kept == 1
    category, message = _skips(ds)[2]
    assert category == "missing_field"
    assert message == 'messages[2].tool_call_id: a tool message without "tool_call_id"'


def test_only_assistant_messages_call_tools(write_jsonl: Any) -> None:
    rows = [{"messages": [{"role": "user", "content": "u", "tool_calls": [CALL]}, ASSISTANT]}]
    with pytest.raises(bi.NoRowsError) as info:
        _read(write_jsonl, rows)
    category, message = _skips_of(info.value)[1]
    assert category == "wrong_type"
    assert message.startswith("messages[0].tool_calls: tool_calls on a user message")


def _skips_of(err: bi.NoRowsError) -> dict[int, tuple[str, str]]:
    return {e["line"]: (e["category"], e["message"]) for e in err.report.to_dict()["examples"]}


def test_weights_off_assistant_messages(write_jsonl: Any) -> None:
    plain = {"messages": [USER, ASSISTANT]}
    zero = {"messages": [{**USER, "weight": 0}, ASSISTANT]}  # says what holds anyway: dropped
    one = {"messages": [{**USER, "weight": 1}, ASSISTANT]}  # asks for what is never done
    ds = _read(write_jsonl, [plain, zero, one])
    assert ds.report.rows_kept == 2
    category, message = _skips(ds)[3]
    assert category == "invalid_weight"
    assert message == (
        "messages[0].weight: weight 1 on a user message: only assistant messages are trained"
    )
    first, second = ds.table.column("messages").to_pylist()
    assert first == second  # equal rows stay equal: --dedup sees them as duplicates
    assert len(ds.dedup()) == 1


def test_messages_say_an_assistant(write_jsonl: Any) -> None:
    rows = [{"messages": [USER, {"role": "assistant", "content": " "}]}]
    with pytest.raises(bi.NoRowsError) as info:
        _read(write_jsonl, rows)
    assert _skips_of(info.value)[1][1] == ("messages[1]: empty content in an assistant message")


def test_bare_function_definitions_are_wrapped_in_openais_shape(
    write_jsonl: Any, tmp_path: Path
) -> None:
    bare = {"name": "g", "parameters": {"type": "object"}}
    ds = _read(write_jsonl, [{"messages": [USER, ASSISTANT], "tools": [TOOL, bare]}])
    assert json.loads(ds.table.column("tools")[0].as_py()) == [
        TOOL,
        {"type": "function", "function": bare},
    ]
    out = tmp_path / "out.jsonl"
    ds.write_openai(out)
    assert openai_problems(json.loads(out.read_text())) == []
    assert openai_problems({"messages": [USER, ASSISTANT], "tools": [bare]}) == [
        'tools[0] must be {"type": "function", "function": {"name", ...}}'
    ]
