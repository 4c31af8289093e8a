"""Assistant-only label masks from a stock template, drops, truncation, group keys."""

from __future__ import annotations

import itertools
import json
from typing import Any

import pyarrow as pa
import pytest

from brightingest.train.tokenize import ChatTokenizer, TokenizeReport, group_hash
from tests.trainer.support import chat_table, msg


def trained_spans(tokenizer: Any, batch: pa.RecordBatch, row: int) -> list[str]:
    """Decoded runs of consecutive trained tokens of one row."""
    ids = batch.column("input_ids")[row].as_py()
    mask = batch.column("label_mask")[row].as_py()
    out = []
    for trained, run in itertools.groupby(zip(ids, mask, strict=True), key=lambda p: p[1]):
        if trained:
            out.append(tokenizer.decode([i for i, _ in run]))
    return out


def tokenize(tokenizer: Any, table: pa.Table, **kw: Any) -> tuple[pa.RecordBatch, TokenizeReport]:
    ct = ChatTokenizer(tokenizer, max_length=kw.pop("max_length", 512), **kw)
    report = TokenizeReport()
    return ct.tokenize_batch(table.to_batches()[0], 0, report), report


def test_mask_token_by_token_with_weight_zero_history(tokenizer: Any) -> None:
    conv = [
        msg("system", "be kind"),
        msg("user", "hi"),
        msg("assistant", "hello one", weight=0),
        msg("user", "two"),
        msg("assistant", "three four"),
        msg("user", "five"),
        msg("assistant", "six seven", weight=1),
    ]
    batch, report = tokenize(tokenizer, chat_table([conv]), truncation="truncate")
    assert trained_spans(tokenizer, batch, 0) == ["three four<|im_end|>", "six seven<|im_end|>"]
    # every token: the full text decodes back, and the trained ones are exactly those spans
    ids = batch.column("input_ids")[0].as_py()
    mask = batch.column("label_mask")[0].as_py()
    text = tokenizer.decode(ids)
    assert text == (
        "<|im_start|>system\nbe kind<|im_end|>\n<|im_start|>user\nhi<|im_end|>\n"
        "<|im_start|>assistant\nhello one<|im_end|>\n<|im_start|>user\ntwo<|im_end|>\n"
        "<|im_start|>assistant\nthree four<|im_end|>\n<|im_start|>user\nfive<|im_end|>\n"
        "<|im_start|>assistant\nsix seven<|im_end|>\n"
    )
    per_token = [(tokenizer.decode([i]), m) for i, m in zip(ids, mask, strict=True)]
    assert [t for t, m in per_token if m] == [
        tokenizer.decode([i]) for i in tokenizer.encode("three four<|im_end|>six seven<|im_end|>")
    ]
    assert ("\n", 0) in per_token
    assert per_token[-1] == ("\n", 0)  # the separator is not trained
    assert batch.column("length")[0].as_py() == len(ids)
    assert batch.column("trainable")[0].as_py() == sum(mask)
    assert report.rows_kept == 1
    assert report.trainable_tokens == sum(mask)


def test_default_system_prompt_and_tool_calls(tokenizer: Any) -> None:
    calls = [{"id": "c1", "type": "function", "function": {"name": "add", "arguments": '{"a": 1}'}}]
    conv = [
        msg("user", "add one"),
        msg("assistant", "", tool_calls=json.dumps(calls)),
        msg("tool", "2", tool_call_id="c1"),
        msg("assistant", "two"),
    ]
    batch, _ = tokenize(tokenizer, chat_table([conv]), truncation="truncate")
    text = tokenizer.decode(batch.column("input_ids")[0].as_py())
    assert text.startswith("<|im_start|>system\nYou are Qwen, created by Alibaba Cloud.")
    # the generation prompt ends with "\n", so the call starts right after it
    assert trained_spans(tokenizer, batch, 0) == [
        '<tool_call>\n{"name": "add", "arguments": {"a": 1}}\n</tool_call><|im_end|>',
        "two<|im_end|>",
    ]


def test_rows_without_trainable_assistant_are_dropped_and_counted(tokenizer: Any) -> None:
    rows = [
        [msg("user", "hi"), msg("assistant", "hello", weight=0)],
        [msg("user", "hi"), msg("assistant", "one two")],
        [msg("system", "be kind"), msg("user", "hi")],
    ]
    batch, report = tokenize(tokenizer, chat_table(rows), truncation="truncate")
    assert batch.num_rows == 1
    assert batch.column("row").to_pylist() == [1]
    assert report.rows_in == 3
    assert report.rows_kept == 1
    assert report.dropped == {"no_trainable_assistant": 2}
    assert report.examples["no_trainable_assistant"][0] == (
        "data/train.jsonl:1: no assistant message is trained on "
        "(all have weight 0, or none exists)."
    )
    assert report.to_dict()["dropped"] == {"no_trainable_assistant": 2}


def test_truncation_policies_are_counted(tokenizer: Any) -> None:
    long_answer = " ".join(["one two three"] * 30)
    rows = [
        [msg("user", "hi"), msg("assistant", long_answer)],
        [msg("user", "hi"), msg("assistant", "four")],
    ]
    cut, report = tokenize(tokenizer, chat_table(rows), truncation="truncate", max_length=48)
    assert cut.num_rows == 2
    assert report.truncated == 1
    assert cut.column("length").to_pylist()[0] == 48
    assert report.dropped == {}
    assert report.examples["truncated"][0].startswith("data/train.jsonl:1: cut from ")
    dropped, report = tokenize(tokenizer, chat_table(rows), truncation="drop", max_length=48)
    assert dropped.num_rows == 1
    assert report.truncated == 0
    assert report.dropped == {"too_long": 1}
    # a cut that leaves only the prompt is dropped as having nothing to train on
    prompt_heavy = [[msg("user", long_answer), msg("assistant", "four")]]
    none_left, report = tokenize(
        tokenizer, chat_table(prompt_heavy), truncation="truncate", max_length=48
    )
    assert none_left.num_rows == 0
    assert report.dropped == {"no_trainable_assistant": 1}


def test_group_key_prefers_conversation_id_then_id_then_row(tokenizer: Any) -> None:
    rows = [[msg("user", "hi"), msg("assistant", "one")]] * 3
    table = chat_table(rows, ids=["a", "b", None], metadata=[{"conversation_id": 7}, None, None])
    batch, _ = tokenize(tokenizer, table, truncation="truncate")
    assert batch.column("group").to_pylist() == [
        group_hash("conversation:7"),
        group_hash("id:b"),
        group_hash("row:2"),
    ]


def test_prefix_unstable_template_falls_back_to_search(tokenizer: Any) -> None:
    # A template that renders the number of messages first is never prefix-stable.
    import copy

    tok = copy.deepcopy(tokenizer)
    tok.chat_template = (
        "{{ messages|length }}\n{% for m in messages %}<|im_start|>{{ m.role }}\n"
        "{{ m.content }}<|im_end|>\n{% endfor %}"
        "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
    )
    conv = [msg("user", "hi"), msg("assistant", "one two"), msg("user", "x"), msg("assistant", "x")]
    batch, report = tokenize(tok, chat_table([conv]), truncation="truncate")
    assert trained_spans(tok, batch, 0) == ["one two<|im_end|>", "x<|im_end|>"]
    assert report.dropped == {}


def test_unmapped_message_keys_reach_the_template(tokenizer: Any) -> None:
    """A reasoning trace kept in ``extra`` is rendered by a template that knows the key (as
    Qwen3's renders ``reasoning_content``), and trained as part of the answer."""
    import copy

    tok = copy.deepcopy(tokenizer)
    tok.chat_template = (
        "{% for m in messages %}<|im_start|>{{ m.role }}\n"
        "{% if m.reasoning_content %}<think>{{ m.reasoning_content }}</think>{% endif %}"
        "{{ m.content }}<|im_end|>\n{% endfor %}"
        "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
    )
    # Keys named like message fields (kept aside by a format that does not read them) never
    # reach the template as if they were those fields.
    think = json.dumps(
        {"reasoning_content": "two two", "role": "ignored", "tool_calls": [{"id": "x"}]}
    )
    conv = [msg("user", "hi"), msg("assistant", "four", extra=think)]
    batch, report = tokenize(tok, chat_table([conv]), truncation="truncate")
    assert trained_spans(tok, batch, 0) == ["<think>two two</think>four<|im_end|>"]
    from brightingest.train.tokenize import _template_messages

    rendered, _ = _template_messages(conv)
    assert rendered[1] == {"role": "assistant", "content": "four", "reasoning_content": "two two"}
    assert tok.decode(batch.column("input_ids")[0].as_py()).startswith("<|im_start|>user\nhi")
    assert report.dropped == {}


def test_requires_chat_template(tokenizer: Any) -> None:
    import copy

    from brightingest.errors import TrainerError

    tok = copy.deepcopy(tokenizer)
    tok.chat_template = None
    with pytest.raises(TrainerError, match="the tokenizer has no chat template"):
        ChatTokenizer(tok, max_length=64, truncation="truncate")
