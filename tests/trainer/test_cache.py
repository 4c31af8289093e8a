"""Tokenized-data cache: hit on unchanged input, miss on any change, streams too."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pyarrow as pa

from brightingest.train.cache import cache_key, content_hash
from brightingest.train.dataset import prepare
from brightingest.train.tokenize import ChatTokenizer
from tests.trainer.support import chat_table, msg, synthetic_chats


def run(tokenizer: Any, data: Any, cache: Path, **kw: Any) -> Any:
    ct = ChatTokenizer(tokenizer, max_length=kw.get("max_length", 256), truncation="truncate")
    return prepare(
        data, ct, max_length=kw.get("max_length", 256), truncation="truncate", cache_dir=str(cache)
    )


def test_second_run_hits_and_changed_input_misses(tmp_path: Path, tokenizer: Any) -> None:
    table = chat_table(synthetic_chats(20))
    first = run(tokenizer, table, tmp_path)
    assert not first.cache_hit
    assert len(list(tmp_path.glob("*.arrow"))) == 1
    second = run(tokenizer, table, tmp_path)
    assert second.cache_hit
    assert second.table.equals(first.table)
    assert second.report.to_dict() == first.report.to_dict()
    # one changed character in one message: a different hash, a miss, different tokens
    convs = synthetic_chats(20)
    convs[7][-1]["content"] += "!"
    changed = run(tokenizer, chat_table(convs), tmp_path)
    assert not changed.cache_hit
    assert changed.input_hash != first.input_hash
    assert not changed.table.equals(first.table)
    # a different length policy is a different key as well
    shorter = run(tokenizer, table, tmp_path, max_length=64)
    assert not shorter.cache_hit
    assert len(list(tmp_path.glob("*.arrow"))) == 3


def test_changed_template_misses(tmp_path: Path, tokenizer: Any) -> None:
    import copy

    table = chat_table([[msg("user", "hi"), msg("assistant", "one two")]])
    run(tokenizer, table, tmp_path)
    tok = copy.deepcopy(tokenizer)
    tok.chat_template = tok.chat_template.replace("You are Qwen", "You are Bright")
    assert not run(tok, table, tmp_path).cache_hit


def test_hash_ignores_chunking_but_not_content(tokenizer: Any) -> None:
    table = chat_table(synthetic_chats(10))
    assert content_hash(table) == content_hash(pa.Table.from_batches(table.to_batches()))
    sliced = table.slice(1)
    assert content_hash(sliced) != content_hash(table)
    assert content_hash(sliced) == content_hash(
        pa.Table.from_pylist(sliced.to_pylist(), table.schema)
    )
    assert cache_key("a", "t", max_length=1, truncation="drop") != cache_key(
        "a", "t", max_length=1, truncation="truncate"
    )


def test_stream_input_is_hashed_like_a_table(tmp_path: Path, tokenizer: Any) -> None:
    table = chat_table(synthetic_chats(12))
    from_table = run(tokenizer, table, tmp_path)
    from_stream = run(tokenizer, iter(table.to_batches()), tmp_path)
    assert from_stream.input_hash == from_table.input_hash
    assert from_stream.cache_hit
