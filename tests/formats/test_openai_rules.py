"""OpenAI's own rules, enforced when rows are mapped (by the core), so that what `convert`
writes is valid OpenAI fine-tuning JSONL: tool definitions, tool results, tool calls, weights."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

import brightingest as bi
from brightingest.writers import openai_problems, write_openai

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


def test_call_arguments_given_as_objects_are_written_as_json_text(
    write_jsonl: Any, tmp_path: Path
) -> None:
    # Hugging Face chat templates take arguments as an object; OpenAI wants a JSON string.
    call = {
        "id": "c1",
        "type": "function",
        "function": {"name": "f", "arguments": {"city": "Rome"}},
    }
    as_text = {**call, "function": {"name": "f", "arguments": '{"city":"Rome"}'}}
    rows = [
        {
            "messages": [
                USER,
                {"role": "assistant", "content": None, "tool_calls": [call]},
                {"role": "tool", "tool_call_id": "c1", "content": "sunny"},
                ASSISTANT,
            ]
        }
    ]
    ds = _read(write_jsonl, rows)
    out = tmp_path / "out.jsonl"
    write_openai(ds.table, out)
    written = json.loads(out.read_text())["messages"][1]["tool_calls"]
    assert written == [as_text]
    assert openai_problems(json.loads(out.read_text())) == []


def test_legacy_function_calling_is_refused_saying_how_to_convert(write_jsonl: Any) -> None:
    legacy = {"role": "assistant", "function_call": {"name": "f", "arguments": "{}"}}
    rows = [
        {"messages": [USER, legacy]},
        {"messages": [USER, {**legacy, "content": None}]},
        {"messages": [USER, {"role": "function", "name": "f", "content": "x"}, ASSISTANT]},
        {"messages": [USER, ASSISTANT]},
    ]
    ds = _read(write_jsonl, rows)
    skips = _skips(ds)
    assert skips[1] == (
        "wrong_type",
        'messages[1].function_call: a legacy "function_call" message '
        "(deprecated by OpenAI; not read)",
    )
    assert skips[2] == skips[1]
    assert skips[3][0] == "unknown_role"
    examples = {e["line"]: e for e in ds.report.to_dict()["examples"]}
    assert '"tool_calls"' in examples[1]["hint"]
    assert "deprecated function calling" in examples[3]["hint"]


def test_a_top_level_system_is_the_first_message_unless_messages_has_one(
    write_jsonl: Any,
) -> None:
    rows = [
        {"system": "Be a pirate.", "messages": [USER, ASSISTANT]},
        {"system": "Top.", "messages": [{"role": "system", "content": "Inline."}, USER, ASSISTANT]},
        {"system": "", "messages": [USER, ASSISTANT]},
    ]
    ds = _read(write_jsonl, rows)
    assert ds.report.rows_kept == 3
    firsts = [ds.messages_as_python(i)[0] for i in range(3)]
    assert firsts == [
        {"role": "system", "content": "Be a pirate."},
        {"role": "system", "content": "Inline."},
        USER,
    ]
    assert [len(ds.messages_as_python(i)) for i in range(3)] == [3, 3, 2]
    # The overridden top-level system is kept (in metadata), not dropped.
    assert ds.table.column("metadata").to_pylist() == [None, '{"system":"Top."}', None]


def test_axolotl_training_flags_are_weights(write_jsonl: Any) -> None:
    rows = [
        {
            "messages": [
                {"role": "system", "content": "s", "training": False},
                {"role": "user", "content": "u", "training": False},
                {"role": "assistant", "content": "bad greeting", "training": False},
                {"role": "user", "content": "u2"},
                {"role": "assistant", "content": "good", "training": True},
            ]
        },
        {"messages": [USER, {"role": "assistant", "content": "a", "training": False}]},
        {"messages": [{"role": "user", "content": "u", "training": True}, ASSISTANT]},
        # two flags that agree are one; two that disagree are refused, not guessed
        {"messages": [USER, {"role": "assistant", "content": "a", "weight": 1, "training": True}]},
        {"messages": [USER, {"role": "assistant", "content": "a", "weight": 1, "training": False}]},
    ]
    ds = _read(write_jsonl, rows)
    assert [m.get("weight") for m in ds.messages_as_python(0)] == [None, None, 0, None, 1]
    skips = _skips(ds)
    assert skips[2][0] == "no_trainable_assistant"
    assert skips[3] == (
        "invalid_weight",
        "messages[0].training: weight 1 on a user message: only assistant messages are trained",
    )
    assert skips[5] == (
        "invalid_weight",
        'messages[1].training: "weight" and "training" disagree on whether this message is trained',
    )
    assert [m.get("weight") for m in ds.messages_as_python(1)] == [None, 1]


def test_tool_calls_are_checked_and_completed_to_openais_shape(
    write_jsonl: Any, tmp_path: Path
) -> None:
    def row(call: Any) -> dict[str, Any]:
        calling = {"role": "assistant", "content": None, "tool_calls": [call]}
        return {"messages": [USER, calling, {"role": "tool", "tool_call_id": "c1", "content": "r"}]}

    fn = {"name": "f", "arguments": "{}"}
    rows = [
        row({"id": "c1", "function": {"name": "f"}}),  # 1: type and arguments filled in
        row({"id": "c1", "type": "function", "function": {"name": "f", "arguments": None}}),
        row({"type": "function", "function": fn}),  # 3: no id
        row({"id": "c1", "type": "function", "function": {"arguments": "{}"}}),  # 4: no name
        row({"id": "c1", "type": "retrieval", "function": fn}),  # 5
        row("call f"),  # 6
        row({"id": "c1", "type": "function", "function": {"name": "f", "arguments": 42}}),  # 7
        row({"id": "c1", "type": "function", "function": "f"}),  # 8
    ]
    ds = _read(write_jsonl, rows)
    skips = {line: (c, m) for line, (c, m) in _skips(ds).items()}
    assert skips == {
        3: ("missing_field", 'messages[1].tool_calls[0].id: a tool call without an "id"'),
        4: ("missing_field", 'messages[1].tool_calls[0].function.name: missing field "name"'),
        5: (
            "wrong_type",
            'messages[1].tool_calls[0].type: a tool call of type "retrieval" '
            "(OpenAI's format has function calls only)",
        ),
        6: (
            "wrong_type",
            'messages[1].tool_calls[0]: expected a tool call object, found a string "call f"',
        ),
        7: (
            "wrong_type",
            "messages[1].tool_calls[0].function.arguments: expected JSON text or an object, "
            "found a number 42",
        ),
        8: (
            "wrong_type",
            'messages[1].tool_calls[0].function: expected an object, found a string "f"',
        ),
    }
    out = tmp_path / "out.jsonl"
    write_openai(ds.table, out)
    written = [json.loads(line) for line in out.read_text().splitlines()]
    expected = {"id": "c1", "type": "function", "function": {"name": "f", "arguments": "{}"}}
    assert [w["messages"][1]["tool_calls"] for w in written] == [[expected], [expected]]
    assert all(openai_problems(w) == [] for w in written)


def test_keys_that_cannot_be_honoured_are_refused_not_dropped(write_jsonl: Any) -> None:
    call = {"name": "f", "arguments": "{}"}
    rows = [
        # a legacy call next to text: writing the text alone would train announcing a call
        {"messages": [USER, {"role": "assistant", "content": "Looking.", "function_call": call}]},
        {"messages": [USER, {"role": "assistant", "content": "", "function_call": call}]},
        {"messages": [USER, {"role": "assistant", "content": "a", "function_call": None}]},
        {
            "messages": [
                USER,
                {"role": "assistant", "content": "a b", "training_detail": [{"begin_offset": 0}]},
            ]
        },
    ]
    skips = _skips(_read(write_jsonl, rows))
    assert skips[1][0] == skips[2][0] == "wrong_type"
    assert skips[1][1].startswith('messages[1].function_call: a legacy "function_call" message')
    assert 3 not in skips  # a null function_call says nothing
    assert skips[4] == (
        "wrong_type",
        'messages[1].training_detail: token-level "training_detail" cannot be honoured: '
        "a message is trained whole or not at all",
    )


def test_train_flags_text_blocks_and_service_role_names(write_jsonl: Any, tmp_path: Path) -> None:
    rows = [
        # Bedrock Nova: system and content as text blocks
        {
            "schemaVersion": "bedrock-conversation-2024",
            "system": [{"text": "Be friendly."}],
            "messages": [
                {"role": "user", "content": [{"text": "Capital of Mars?"}]},
                {"role": "assistant", "content": [{"text": "None yet."}]},
            ],
        },
        # Cohere's roles; axolotl's `train` flag
        {
            "messages": [
                {"role": "System", "content": "Terse."},
                {"role": "User", "content": "2+2?"},
                {"role": "Chatbot", "content": "5", "train": False},
                {"role": "User", "content": "Again?"},
                {"role": "Chatbot", "content": "4"},
            ]
        },
        {"messages": [USER, {"role": "model", "content": "a"}]},  # Gemini's assistant
        {
            "messages": [
                {"role": "user", "content": [{"text": "look"}, {"image": {"format": "png"}}]},
                ASSISTANT,
            ]
        },
    ]
    ds = _read(write_jsonl, rows)
    assert ds.messages_as_python(0) == [
        {"role": "system", "content": "Be friendly."},
        {"role": "user", "content": "Capital of Mars?"},
        {"role": "assistant", "content": "None yet."},
    ]
    second = ds.messages_as_python(1)
    assert [m["role"] for m in second] == ["system", "user", "assistant", "user", "assistant"]
    assert [m.get("weight") for m in second] == [None, None, 0, None, None]
    assert ds.messages_as_python(2)[1]["role"] == "assistant"
    assert _skips(ds) == {
        4: (
            "wrong_type",
            'messages[0].content[1].image: content part of type "image" '
            "(only text parts can be trained on)",
        )
    }


def test_sharegpt_honours_training_flags(write_jsonl: Any) -> None:
    rows = [
        {
            "conversations": [
                {"from": "human", "value": "a"},
                {"from": "gpt", "value": "bad", "training": False},
                {"from": "human", "value": "c"},
                {"from": "gpt", "value": "good", "train": True},
            ]
        }
    ]
    ds = _read(write_jsonl, rows, "sharegpt")
    assert [m.get("weight") for m in ds.messages_as_python(0)] == [None, 0, None, 1]


def test_a_training_flag_that_is_not_a_boolean_says_so(write_jsonl: Any) -> None:
    rows = [
        {"messages": [USER, {"role": "assistant", "content": "a", "training": "no"}]},
        {"messages": [USER, {"role": "assistant", "content": "a", "weight": 0.5}]},
        {"messages": [USER, ASSISTANT]},
    ]
    ds = _read(write_jsonl, rows)
    examples = {e["line"]: e for e in ds.report.to_dict()["examples"]}
    assert examples[1]["message"] == 'messages[1].training: training "no" (expected true or false)'
    assert "true or false" in examples[1]["hint"]
    assert examples[2]["message"] == "messages[1].weight: weight 0.5 (expected 0 or 1)"


def test_message_keys_no_format_maps_are_kept_in_extra_and_not_written_to_openai(
    write_jsonl: Any, tmp_path: Path
) -> None:
    """Nothing is dropped silently: reasoning traces and other message keys a format does not
    map are kept (``extra``), counted where OpenAI's format has no place for them."""
    thinking = {"role": "assistant", "content": "4", "reasoning_content": "2+2 \u00e9 4", "n": 2.5}
    rows = [
        {"messages": [USER, thinking]},
        {"messages": [USER, {"role": "assistant", "content": "a", "ts": None}]},
    ]
    ds = _read(write_jsonl, rows)
    extra = [[m["extra"] for m in row] for row in ds.table.column("messages").to_pylist()]
    assert extra == [[None, '{"reasoning_content":"2+2 \u00e9 4","n":2.5}'], [None, None]]
    # ShareGPT items too (a second content key is no longer ignored), and Parquet keeps them.
    share = _read(
        write_jsonl,
        [
            {
                "conversations": [
                    {"from": "human", "value": "q", "content": "q2"},
                    {"from": "gpt", "value": "a"},
                ]
            }
        ],
        "sharegpt",
    )
    assert share.table.column("messages")[0][0]["extra"].as_py() == '{"content":"q2"}'
    import pyarrow.parquet as pq

    assert ds.write_parquet(tmp_path / "t.parquet") == 2
    back = pq.read_table(tmp_path / "t.parquet")
    assert back.column("messages").to_pylist() == ds.table.column("messages").to_pylist()

    from brightingest.writers import LeftOut

    left_out = LeftOut()
    out = tmp_path / "o.jsonl"
    assert write_openai(ds.table, out, left_out=left_out) == 2
    written = [json.loads(line) for line in out.read_text().splitlines()]
    assert written[0]["messages"][1] == {"role": "assistant", "content": "4"}
    assert not any(openai_problems(r) for r in written)
    assert left_out.rows == 0
    assert left_out.keys == {"reasoning_content": 1, "n": 1}
    assert left_out.key_examples[0]["line"] == 1
    assert "reasoning_content in 1 message" in left_out.keys_summary()
