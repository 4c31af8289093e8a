"""Built-in format details: the ShareGPT tool-call transform, BrightRun variants, the documented
plugin example."""

from __future__ import annotations

import importlib
import json
import sys
import textwrap
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest

import brightingest as bi
from brightingest import hookspecs
from brightingest.formats import brightrun_v4
from brightingest.formats.sharegpt import link_tool_calls
from brightingest.plugins import as_plugin
from brightingest.schema import CHAT_SCHEMA
from brightingest.testing import check_format


def msg(role: str, content: str, **extra: Any) -> dict[str, Any]:
    out = {"role": role, "content": content, "weight": None, "name": None}
    out.update({"tool_calls": None, "tool_call_id": None, "extra": None})
    out.update(extra)
    return out


def batch(conversations: list[list[dict[str, Any]]]) -> pa.RecordBatch:
    rows = [
        {
            "messages": c,
            "tools": None,
            "id": None,
            "metadata": None,
            "source_file": "f",
            "source_line": i + 1,
            "format": "sharegpt",
        }
        for i, c in enumerate(conversations)
    ]
    return pa.RecordBatch.from_pylist(rows, schema=CHAT_SCHEMA)


def test_link_tool_calls_passes_batches_without_tool_turns_through() -> None:
    plain = batch([[msg("user", "q"), msg("assistant", "a")]])
    assert link_tool_calls(plain) is plain


def test_link_tool_calls_links_calls_and_observations_only_where_needed() -> None:
    call = '{"name": "f", "arguments": {"x": 1}}'
    linked_already = [
        msg("user", "q"),
        msg("assistant", "", tool_calls='[{"id": "k"}]'),
        msg("tool", "r", tool_call_id="k"),
        msg("assistant", "done"),
    ]
    rows = [
        [msg("user", "q"), msg("assistant", "a")],
        [
            msg("user", "q"),
            msg("assistant", call),
            msg("tool", "r1"),
            msg("assistant", '{"name": "g"}'),
            msg("tool", "r2"),
            msg("assistant", "done"),
        ],
        [msg("user", "q"), msg("assistant", "not json"), msg("tool", "r"), msg("assistant", "x")],
        linked_already,
    ]
    out = link_tool_calls(batch(rows))
    assert out.schema.equals(CHAT_SCHEMA)
    got = out.column("messages").to_pylist()
    assert got[0] == rows[0]
    assert got[2] == rows[2]  # nothing to link to: kept as is
    assert got[3] == linked_already
    second = got[1]
    assert json.loads(second[1]["tool_calls"]) == [
        {"id": "call_0", "type": "function", "function": {"name": "f", "arguments": '{"x": 1}'}}
    ]
    assert second[1]["content"] == ""
    assert second[2]["tool_call_id"] == "call_0"
    assert json.loads(second[3]["tool_calls"])[0]["function"] == {"name": "g", "arguments": "{}"}
    assert second[4]["tool_call_id"] == "call_1"
    assert second[5] == msg("assistant", "done")


def test_link_tool_calls_links_parallel_calls_in_order() -> None:
    # LLaMA-Factory's parallel calls: one function_call turn holding a list of calls.
    calls = '[{"name": "a", "arguments": {}}, {"name": "b", "arguments": "{}"}]'
    row = [
        msg("user", "q"),
        msg("assistant", calls),
        msg("tool", "ra"),
        msg("tool", "rb"),
        msg("tool", "extra"),  # answers no call: stays unlinked (the OpenAI writer leaves it out)
        msg("assistant", "done"),
    ]
    got = link_tool_calls(batch([row])).column("messages").to_pylist()[0]
    made = json.loads(got[1]["tool_calls"])
    assert [c["id"] for c in made] == ["call_0", "call_1"]
    assert [c["function"]["name"] for c in made] == ["a", "b"]
    assert [m["tool_call_id"] for m in got[2:5]] == ["call_0", "call_1", None]


def test_brightrun_variant_trains_the_history(write_jsonl, pm) -> None:
    spec = brightrun_v4.spec(name="brightrun-v4-all-turns", train_history=True)
    pm.register(as_plugin(spec), name="all-turns")
    row = {
        "conversation_history": [
            {"role": "user", "content": "a"},
            {"role": "assistant", "content": "b"},
        ],
        "current_user_input": "c",
        "target_response": "d",
    }
    ds = bi.load(write_jsonl([row]), format="brightrun-v4-all-turns", pm=pm)
    assert [m.get("weight") for m in ds.messages_as_python(0)] == [None, None, None, None]
    path = write_jsonl([row], "b.jsonl")
    with pytest.raises(bi.FormatDetectionError) as info:  # two formats claim the same rows
        bi.load(path, pm=pm)
    assert info.value.candidates == ["brightrun-v4", "brightrun-v4-all-turns"]
    default = bi.load(path, format="brightrun-v4", pm=pm)
    assert [m.get("weight") for m in default.messages_as_python(0)] == [None, 0, None, None]


def _doc_block(title: str) -> str:
    doc = hookspecs.__doc__ or ""
    start = doc.index(title)
    body = doc[start:].split("::\n\n", 1)[1]
    lines = []
    for line in body.splitlines():
        if line and not line.startswith("    "):
            break
        lines.append(line)
    return textwrap.dedent("\n".join(lines))


def test_the_documented_plugin_example_passes_the_kit(tmp_path: Path, monkeypatch) -> None:
    pytest.importorskip("brightingest._core")
    package = tmp_path / "my_qa_format"
    package.mkdir()
    (package / "__init__.py").write_text(_doc_block("``my_qa_format/__init__.py``"))
    assert 'qa = "my_qa_format"' in _doc_block("``pyproject.toml`` of that distribution")
    monkeypatch.syspath_prepend(str(tmp_path))
    module = importlib.import_module("my_qa_format")
    try:
        check_format(
            module,
            good_rows=[{"question": "2+2?", "answer": "4", "topic": "math"}],
            expected_messages=[
                [{"role": "user", "content": "2+2?"}, {"role": "assistant", "content": "4"}]
            ],
            bad_rows={"wrong_type": {"question": ["x"], "answer": "4"}},
            tmp_path=tmp_path,
        )
    finally:
        sys.modules.pop("my_qa_format", None)


def test_sharegpt_items_with_role_and_content_keys_are_read_and_detected(write_jsonl) -> None:
    # Unsloth's standardize_sharegpt and LLaMA-Factory's `tags` write role/content items.
    rows = [
        {
            "conversations": [
                {"role": "system", "content": "Be brief."},
                {"role": "user", "content": "hi"},
                {"role": "assistant", "content": "yo"},
            ]
        },
        {"conversations": [{"from": "human", "value": "a"}, {"from": "gpt", "value": "b"}]},
        # one item of each spelling in a row; a null key gives way to its alternative
        {"conversations": [{"from": "human", "value": "c"}, {"role": "gpt", "content": "d"}]},
        {
            "conversations": [
                {"from": None, "role": "user", "value": "e"},
                {"from": "gpt", "value": "f"},
            ]
        },
    ]
    ds = bi.load(write_jsonl(rows))
    assert ds.format == "sharegpt"
    assert ds.report.rows_kept == 4
    got = [[(m["role"], m["content"]) for m in ds.messages_as_python(i)] for i in range(4)]
    assert got == [
        [("system", "Be brief."), ("user", "hi"), ("assistant", "yo")],
        [("user", "a"), ("assistant", "b")],
        [("user", "c"), ("assistant", "d")],
        [("user", "e"), ("assistant", "f")],
    ]


def test_sharegpt_item_missing_both_spellings_names_both(write_jsonl) -> None:
    path = write_jsonl(
        [
            {"conversations": [{"from": "human", "value": "a"}, {"from": "gpt", "value": "b"}]},
            {"conversations": [{"content": "a"}, {"from": "gpt", "value": "b"}]},
            {"conversations": [{"role": "user", "content": "a"}, {"role": "assistant"}]},
        ]
    )
    ds = bi.load(path, format="sharegpt")
    report = ds.report
    assert report.rows_kept == 1
    assert report.skipped == {"missing_field": 2}
    fields = [(e["line"], e["field"], e["message"]) for e in report.examples]
    assert fields == [
        (2, "conversations[0].from", 'conversations[0].from: missing field "from" (or "role")'),
        (
            3,
            "conversations[1].value",
            'conversations[1].value: missing field "value" (or "content")',
        ),
    ]


def test_prompt_completion_reads_trl_conversational_rows_and_skips_kto_false_labels(
    write_jsonl,
) -> None:
    rows = [
        {"prompt": [{"role": "user", "content": "a"}], "completion": "b"},
        {"prompt": "c", "completion": [{"role": "assistant", "content": "d"}], "label": True},
        {"prompt": "e", "completion": "f", "label": False},
        {
            "prompt": [{"role": "user", "content": "i"}],
            "completion": [{"role": "user", "content": "j"}],
        },
        # what a CSV round trip makes of KTO's booleans
        {"prompt": "k", "completion": "l", "label": "False"},
        {"prompt": "m", "completion": "n", "label": 1},
        # neither true nor false: refused, not guessed (a bad answer would be trained)
        {"prompt": "g", "completion": "h", "label": "positive"},
        {"prompt": "o", "completion": "p", "label": None},
    ]
    ds = bi.load(write_jsonl(rows))
    assert ds.format == "prompt-completion"
    report = ds.report
    assert (report.lines_read, report.rows_kept) == (8, 3)
    assert report.skipped == {"no_trainable_assistant": 3, "wrong_type": 2}
    by_line = {e["line"]: e for e in report.examples}
    assert (by_line[3]["field"], by_line[5]["field"]) == ("label", "label")
    assert "labelled false" in by_line[3]["message"]
    assert "KTO" in by_line[3]["message"]
    assert by_line[4]["category"] == "no_trainable_assistant"  # the completion is a user turn
    assert by_line[7]["message"] == (
        'label: expected true or false (whether this answer is a good one), found "positive"'
    )
    assert by_line[8]["category"] == "wrong_type"
    assert [m["content"] for m in ds.messages_as_python(1)] == ["c", "d"]
    assert ds.table.column("metadata").to_pylist() == [None, '{"label":true}', '{"label":1}']


def test_llamafactory_kto_tag_false_rows_are_never_trained(write_jsonl) -> None:
    alpaca = [
        {"instruction": "Capital of France?", "input": "", "output": "Paris.", "kto_tag": True},
        {"instruction": "Capital of France?", "input": "", "output": "Berlin.", "kto_tag": False},
    ]
    sharegpt = [
        {"conversations": [{"from": "human", "value": "Hi"}, {"from": "gpt", "value": "Hello"}]},
        {
            "conversations": [
                {"from": "human", "value": "Hi"},
                {"from": "gpt", "value": "Go away"},
            ],
            "kto_tag": False,
        },
    ]
    for fmt, rows in (("alpaca", alpaca), ("sharegpt", sharegpt)):
        ds = bi.load(write_jsonl(rows, f"{fmt}.jsonl"))
        assert ds.format == fmt
        assert ds.report.rows_kept == 1
        assert ds.report.skipped == {"no_trainable_assistant": 1}
        (example,) = ds.report.examples
        assert (example["line"], example["field"]) == (2, "kto_tag")


def test_sharegpt_system_turn_overrides_the_system_field(write_jsonl) -> None:
    rows = [
        {
            "system": "Top-level.",
            "conversations": [
                {"from": "system", "value": "Inline."},
                {"from": "human", "value": "a"},
                {"from": "gpt", "value": "b"},
            ],
        },
        {
            "system": "Top-level.",
            "conversations": [{"from": "human", "value": "a"}, {"from": "gpt", "value": "b"}],
        },
    ]
    ds = bi.load(write_jsonl(rows))
    assert [m["content"] for m in ds.messages_as_python(0)] == ["Inline.", "a", "b"]
    assert [m["content"] for m in ds.messages_as_python(1)] == ["Top-level.", "a", "b"]


def test_link_tool_calls_splits_one_observation_holding_each_parallel_result() -> None:
    # LLaMA-Factory's turns alternate strictly: parallel results come in one observation turn.
    paris, rome = '{"name": "w", "arguments": {"city": "Paris"}}', '{"name": "w", "arguments": {}}'
    calls = f"[{paris}, {rome}]"
    row = [
        msg("user", "q"),
        msg("assistant", calls),
        msg("tool", '[{"temp": 18}, "25 C"]'),
        msg("assistant", "18 and 25"),
    ]
    got = link_tool_calls(batch([row])).column("messages").to_pylist()[0]
    assert [m["role"] for m in got] == ["user", "assistant", "tool", "tool", "assistant"]
    assert [(m["tool_call_id"], m["content"]) for m in got[2:4]] == [
        ("call_0", '{"temp": 18}'),
        ("call_1", "25 C"),
    ]
    # a result list of another length, or plain text, answers the first call only
    for content in ('[{"temp": 18}]', "18 and 25"):
        row[2] = msg("tool", content)
        got = link_tool_calls(batch([row])).column("messages").to_pylist()[0]
        assert [m["tool_call_id"] for m in got[2:3]] == ["call_0"]
        assert len(got) == 4


def test_llamafactory_multimodal_rows_are_refused_not_trained_as_text(write_jsonl) -> None:
    chat = [{"role": "user", "content": "<image>Who?"}, {"role": "assistant", "content": "Kane."}]
    turns = [{"from": "human", "value": "<video>What?"}, {"from": "gpt", "value": "A match."}]
    cases = {
        "openai": [{"messages": chat, "images": ["1.jpg"]}, {"messages": chat, "images": []}],
        "sharegpt": [{"conversations": turns, "videos": ["1.mp4"]}, {"conversations": turns}],
        "alpaca": [
            {"instruction": "<audio>Say?", "output": "Hi.", "audios": ["1.wav"]},
            {"instruction": "Say?", "output": "Hi.", "audios": None},
        ],
    }
    for fmt, rows in cases.items():
        ds = bi.load(write_jsonl(rows, f"{fmt}.jsonl"), format=fmt)
        assert ds.report.rows_kept == 1
        (example,) = ds.report.examples
        assert example["line"] == 1
        assert example["category"] == "wrong_type"
        assert example["field"] in ("images", "videos", "audios")
        assert "multimodal" in example["message"]


def test_kto_labels_on_chat_rows_are_read_when_they_are_booleans(write_jsonl) -> None:
    # LLaMA-Factory's KTO data: messages (or conversations) with a boolean label or kto_tag
    chat = [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "an answer"}]
    rows = [
        {"messages": chat, "label": False},
        {"messages": chat, "label": "False"},
        {"messages": chat, "kto_tag": False},
        {"messages": chat, "label": True},
        {"messages": chat, "label": 0},  # a number may be a class here: read as usual
        {"messages": chat, "label": "toxic"},
        {"messages": chat},
    ]
    ds = bi.load(write_jsonl(rows), format="openai")
    assert ds.report.rows_kept == 4
    assert {e["line"]: e["field"] for e in ds.report.examples} == {
        1: "label",
        2: "label",
        3: "kto_tag",
    }
    turns = [{"from": "human", "value": "hi"}, {"from": "gpt", "value": "bad"}]
    ds = bi.load(
        write_jsonl([{"conversations": turns, "label": False}, {"conversations": turns}], "s.jsonl")
    )
    assert ds.report.rows_kept == 1


def test_sharegpt_only_turns_a_name_and_arguments_into_a_call() -> None:
    def linked(value: str, result: str) -> list[dict[str, Any]]:
        row = [
            msg("user", "q"),
            msg("assistant", value),
            msg("tool", result),
            msg("assistant", "ok"),
        ]
        return link_tool_calls(batch([row])).column("messages").to_pylist()[0]

    got = linked('{"name": "w", "arguments": {"city": "Paris"}}', '[{"title": "x"}]')
    assert json.loads(got[1]["tool_calls"])[0]["function"]["arguments"] == '{"city": "Paris"}'
    assert got[2]["content"] == '[{"title": "x"}]'  # one call: its result is left as it is
    for value in ('{"name": "w", "parameters": {"city": "Paris"}}', '{"name": "Bob", "age": 3}'):
        got = linked(value, "sunny")
        assert got[1]["tool_calls"] is None
        assert got[1]["content"] == value  # not a call: nothing dropped
        assert got[2]["tool_call_id"] is None  # unlinked: the OpenAI writer leaves the row out


def test_gemini_thought_parts_are_refused(write_jsonl) -> None:
    thinking = {"role": "model", "parts": [{"text": "reasoning", "thought": True}, {"text": "4"}]}
    rows = [{"contents": [{"role": "user", "parts": [{"text": "2+2?"}]}, thinking]}]
    with pytest.raises(bi.NoRowsError) as info:
        bi.load(write_jsonl(rows))
    (example,) = info.value.report.examples
    assert example["field"] == "contents[1].parts[0].thought"
    assert example["category"] == "wrong_type"


@pytest.mark.parametrize(
    ("row", "fmt", "user", "system"),
    [
        ({"question": "q", "response": "r", "context": "P"}, "openorca", "q\n\nP", None),
        ({"instruction": "i", "response": "r", "input": "I"}, "dolly", "i\n\nI", None),
        ({"question": "q", "answer": "a", "input": "I"}, "question-answer", "q\n\nI", None),
        ({"question": "q", "answer": "a", "system_prompt": "S"}, "question-answer", "q", "S"),
    ],
)
def test_passages_and_system_prompts_beside_a_question_are_not_left_in_metadata(
    write_jsonl, row: dict[str, Any], fmt: str, user: str, system: str | None
) -> None:
    """An answer drawn from a passage is never trained without it."""
    ds = bi.load(write_jsonl([row]))
    assert ds.format == fmt
    messages = ds.table.column("messages")[0].as_py()
    assert [m["content"] for m in messages if m["role"] == "user"] == [user]
    assert [m["content"] for m in messages if m["role"] == "system"] == ([system] if system else [])
    assert ds.table.column("metadata")[0].as_py() is None
