"""Statistics on chat tables: conversations, metadata fields, duplicates, tokens."""

from __future__ import annotations

from typing import Any

import pyarrow as pa
import pytest

from brightingest.stats import (
    conversation_stats,
    dedup_mask,
    duplicate_groups,
    metadata_summary,
    token_stats,
)
from tests.cli.conftest import chat_table, conv

SYSTEM = {"role": "system", "content": "Be kind."}


def _rows() -> list[dict[str, Any]]:
    return [
        {
            "messages": [
                SYSTEM,
                {"role": "user", "content": "héllo"},
                {"role": "assistant", "content": "hi!"},
            ],
            "line": 2,
        },
        conv("a", "bb", line=3),
        conv("a", "bb", line=4),  # duplicate of line 3
        {
            "messages": [
                {"role": "user", "content": "a"},
                {"role": "assistant", "content": "bb", "weight": 0},
            ],
            "line": 5,
        },
        conv("a", "bb", line=6),  # duplicate of line 3 again
        conv("x" * 40, "y" * 10, "z", "w", line=7, id="long"),
    ]


def test_conversation_stats_counts_roles_characters_and_longest() -> None:
    stats = conversation_stats(chat_table(_rows()), longest=2)
    assert stats["rows"] == 6
    assert stats["messages"] == 3 + 2 * 4 + 4
    assert stats["turns"] == {"min": 2, "median": 2, "mean": 2.5, "max": 4}
    assert stats["roles"]["system"] == {
        "messages": 1,
        "characters": 8,
        "mean_characters": 8,
        "max_characters": 8,
    }
    assert stats["roles"]["user"]["characters"] == 5 + 1 * 4 + 40 + 1  # code points, not bytes
    assert stats["roles"]["assistant"]["messages"] == 7
    assert list(stats["roles"]) == ["assistant", "user", "system"]  # most first, then by name
    assert stats["trained_assistant_messages"] == 6  # the weight 0 one is not trained
    assert stats["characters"]["total"] == 16 + 3 * 4 + 52
    assert stats["longest"] == [
        {"file": "data.jsonl", "line": 7, "id": "long", "messages": 4, "characters": 52},
        {"file": "data.jsonl", "line": 2, "id": None, "messages": 3, "characters": 16},
    ]


def test_conversation_stats_count_unmapped_message_keys() -> None:
    think = '{"reasoning_content":"r","ts":1}'
    rows = [
        {
            "messages": [
                {"role": "user", "content": "q", "extra": '{"ts":2}'},
                {"role": "assistant", "content": "a", "extra": think},
            ]
        },
        {
            "messages": [
                {"role": "user", "content": "q"},
                {"role": "assistant", "content": "a", "extra": '{"reasoning_content":"s"}'},
            ]
        },
        conv("q", "a"),
    ]
    stats = conversation_stats(chat_table(rows))
    assert stats["extra_keys"] == {"reasoning_content": 2, "ts": 2}
    assert conversation_stats(chat_table([conv("q", "a")]))["extra_keys"] == {}


def test_conversation_stats_on_an_empty_table() -> None:
    stats = conversation_stats(chat_table([]))
    assert stats["rows"] == 0
    assert stats["roles"] == {}
    assert stats["longest"] == []
    assert stats["turns"]["max"] is None


def test_duplicates_are_identical_message_lists() -> None:
    table = chat_table(_rows())
    dup = duplicate_groups(table)
    assert dup["groups"] == 1
    assert dup["duplicate_rows"] == 2
    assert dup["rows_after_dedup"] == 4
    (group,) = dup["examples"]
    assert group["count"] == 3
    assert [(r["file"], r["line"]) for r in group["rows"]] == [
        ("data.jsonl", 3),
        ("data.jsonl", 4),
        ("data.jsonl", 6),
    ]
    # Line 5 differs only by weight: not a duplicate.
    assert dedup_mask(table).to_pylist() == [True, True, False, True, False, True]


def test_duplicate_keys_do_not_collide_on_separators() -> None:
    # Same concatenated text, different split between fields/messages: not duplicates.
    rows: list[dict[str, Any]] = [
        {"messages": [{"role": "user", "content": "a:b"}, {"role": "assistant", "content": "c"}]},
        {"messages": [{"role": "user", "content": "a"}, {"role": "assistant", "content": "b:c"}]},
        {
            "messages": [
                {"role": "user", "content": "a", "name": None},
                {"role": "assistant", "content": "c"},
            ]
        },
        {
            "messages": [
                {"role": "user", "content": "a", "name": ""},
                {"role": "assistant", "content": "c"},
            ]
        },
        {**conv("a", "c"), "tools": '[{"type": "function"}]'},
    ]
    assert duplicate_groups(chat_table(rows))["groups"] == 0


def test_dedup_on_sliced_and_chunked_tables() -> None:
    table = pa.concat_tables([chat_table(_rows()[:3]), chat_table(_rows()[3:])])
    assert dedup_mask(table).to_pylist() == [True, True, False, True, False, True]
    sliced = chat_table(_rows()).slice(2)
    assert dedup_mask(sliced).to_pylist() == [True, True, False, True]


def test_metadata_summary_numbers_strings_bools_lists() -> None:
    rows = [
        conv("a", "b", metadata={"tm": {"q": 5, "tags": ["x", "y"], "ok": True}, "src": "app"}),
        conv("a", "b", metadata={"tm": {"q": 4, "tags": ["x"], "ok": False}, "src": "app"}),
        conv("a", "b", metadata={"tm": {"q": 5}, "src": "web"}),
        conv("a", "b", metadata=None),
    ]
    summary = metadata_summary(chat_table(rows))
    assert summary["rows_with_metadata"] == 3
    fields = {f["path"]: f for f in summary["fields"]}
    assert list(fields) == ["tm.q", "tm.tags", "tm.ok", "src"]
    q = fields["tm.q"]
    assert (q["type"], q["present"], q["missing"]) == ("number", 3, 1)
    assert q["values"] == [{"value": 4, "count": 1}, {"value": 5, "count": 2}]
    assert (q["min"], q["max"], q["mean"]) == (4, 5, 4.667)
    assert fields["tm.tags"]["values"] == [{"value": "x", "count": 2}, {"value": "y", "count": 1}]
    assert fields["tm.tags"]["length"]["max"] == 2
    assert fields["tm.ok"]["values"] == [{"value": False, "count": 1}, {"value": True, "count": 1}]
    assert fields["src"]["values"] == [{"value": "app", "count": 2}, {"value": "web", "count": 1}]


def test_metadata_summary_with_mixed_types_falls_back() -> None:
    rows = [
        conv("a", "b", metadata={"q": 5, "other": {"x": 1}}),
        conv("a", "b", metadata={"q": "high", "other": {}}),
        conv("a", "b", metadata={"q": 5}),
    ]
    fields = {f["path"]: f for f in metadata_summary(chat_table(rows))["fields"]}
    assert fields["q"]["type"] == "mixed"
    assert fields["q"]["types"] == {"number": 2, "string": 1}
    assert fields["q"]["values"] == [{"value": 5, "count": 2}, {"value": "high", "count": 1}]
    assert fields["other.x"]["present"] == 1


class WordTokenizer:
    """A whitespace tokenizer with the call signature of a transformers tokenizer."""

    chat_template: str | None = None

    def __call__(self, texts: list[str], add_special_tokens: bool = True) -> dict[str, Any]:
        extra = 1 if add_special_tokens else 0  # a BOS token
        return {"input_ids": [[0] * (len(t.split()) + extra) for t in texts]}


class TemplateTokenizer(WordTokenizer):
    """Applies a chat template that wraps each message in two marker tokens."""

    chat_template = "{{ messages }}"

    def apply_chat_template(self, messages: list[dict[str, str]], tokenize: bool) -> str:
        assert tokenize is False
        return " ".join(f"<s> {m['content']} </s>" for m in messages)


def test_token_stats_plain_text_and_max_length() -> None:
    rows = [conv("one two", "three", line=2), conv("a b c d e f", "g h", line=9)]
    stats = token_stats(chat_table(rows), WordTokenizer(), max_length=8, batch_size=1)
    # "user: one two\nassistant: three\n" -> 5 words + BOS
    assert stats["per_row"] == {"min": 6, "median": 8.5, "mean": 8.5, "max": 11}
    assert stats["total"] == 17
    assert stats["chat_template"] is False
    assert stats["over_max_length"] == 1
    assert stats["over_examples"] == [{"file": "data.jsonl", "line": 9, "id": None, "tokens": 11}]


def test_token_stats_with_a_chat_template_adds_no_special_tokens_twice() -> None:
    stats = token_stats(chat_table([conv("one two", "three")]), TemplateTokenizer())
    assert stats["total"] == 2 + 2 + 1 + 2  # markers around each message, no BOS
    assert stats["chat_template"] is True
    assert "over_max_length" not in stats


def _chunked_with_duplicates() -> pa.Table:
    rows = _rows()
    return pa.concat_tables(
        [chat_table(rows[:2]), chat_table(rows), chat_table(rows[3:]).slice(1), chat_table(rows)]
    )


def test_core_hashes_find_what_the_python_digests_find(monkeypatch: Any) -> None:
    core = pytest.importorskip("brightingest._core")
    table = _chunked_with_duplicates()
    calls = []
    real = core.row_hashes

    def counted(batch: Any) -> bytes:
        calls.append(batch.num_rows)
        return real(batch)

    monkeypatch.setattr(core, "row_hashes", counted)
    with_core = (duplicate_groups(table), dedup_mask(table).to_pylist())
    assert sum(calls) >= 2 * table.num_rows  # the core's path was taken, in both passes

    def unsupported(batch: Any) -> bytes:
        raise TypeError("another layout")

    monkeypatch.setattr(core, "row_hashes", unsupported)
    assert (duplicate_groups(table), dedup_mask(table).to_pylist()) == with_core
    assert with_core[0]["groups"] == 4  # the system row, "a"/"bb", the weight-0 row, "long"


def test_equal_hashes_are_confirmed_by_comparing_rows(monkeypatch: Any) -> None:
    core = pytest.importorskip("brightingest._core")
    table = _chunked_with_duplicates()
    expected = (duplicate_groups(table), dedup_mask(table).to_pylist())
    # Every row hashing alike (the worst collision) must not merge different conversations.
    monkeypatch.setattr(core, "row_hashes", lambda batch: b"\x00" * 16 * batch.num_rows)
    assert (duplicate_groups(table), dedup_mask(table).to_pylist()) == expected


def test_duplicate_finder_over_batches_matches_the_whole_table() -> None:
    from brightingest.stats import DuplicateFinder

    table = _chunked_with_duplicates()
    finder = DuplicateFinder()
    for batch in table.to_batches():
        finder.add(batch)
    assert finder.needs_second_pass
    masks = [finder.confirm(batch) for batch in table.to_batches()]
    assert finder.result(examples=2) == duplicate_groups(table, examples=2)
    assert pa.concat_arrays(masks).to_pylist() == dedup_mask(table).to_pylist()
    first = finder.result(examples=1)["examples"][0]
    target = chat_table([conv("a", "bb")]).column("messages")[0].as_py()
    lines = [
        line
        for line, messages in zip(
            table.column("source_line").to_pylist(),
            table.column("messages").to_pylist(),
            strict=True,
        )
        if messages == target
    ]
    assert first["count"] == len(lines) > 2  # the largest group, its rows in input order
    assert [r["line"] for r in first["rows"]] == lines[:10]


def test_duplicate_finder_refuses_an_incomplete_second_pass() -> None:
    from brightingest.stats import DuplicateFinder

    table = _chunked_with_duplicates()
    finder = DuplicateFinder()
    for batch in table.to_batches():
        finder.add(batch)
    finder.confirm(table.to_batches()[0])
    with pytest.raises(RuntimeError, match="second pass saw"):
        finder.result()


def test_duplicate_finder_without_duplicates_needs_one_pass() -> None:
    from brightingest.stats import DuplicateFinder

    table = chat_table(_rows()[:2] + _rows()[3:4])
    finder = DuplicateFinder()
    for batch in table.to_batches():
        finder.add(batch)
    assert not finder.needs_second_pass
    assert finder.result() == {
        "groups": 0,
        "duplicate_rows": 0,
        "rows_after_dedup": 3,
        "examples": [],
    }


@pytest.mark.parametrize(
    "case",
    ["mixed across batches", "ints then floats", "object absent from a batch", "late field"],
)
def test_metadata_summary_does_not_depend_on_batches(case: str) -> None:
    from brightingest.stats import MetadataSummary

    def meta(i: int) -> dict[str, Any]:
        m: dict[str, Any] = {"score": i % 3, "tag": "t" + str(i % 2), "info": {"k": i}}
        if case == "mixed across batches" and i == 4:
            m["score"] = "high"
        if case == "ints then floats" and i >= 5:
            m["score"] = i / 2
        if case == "object absent from a batch" and i >= 3:
            m["info"] = None
        if case == "late field" and i >= 8:
            m["late"] = [i, i + 1]
        return m

    rows = [{**conv("a", "b", line=i), "metadata": meta(i)} for i in range(10)]
    table = pa.concat_tables([chat_table(rows[:3]), chat_table(rows[3:6]), chat_table(rows[6:])])
    assert table.column("metadata").num_chunks == 3
    whole = metadata_summary(table.combine_chunks(), top=3)  # one batch: one parse
    acc = MetadataSummary(top=3)
    for batch in table.to_batches():
        acc.add(batch)
    assert acc.result() == whole == metadata_summary(table, top=3)
    fields = {f["path"]: f for f in whole["fields"]}
    expected_type = {
        "mixed across batches": "mixed",
        "ints then floats": "number",
        "object absent from a batch": "number",
        "late field": "number",
    }[case]
    assert fields["score"]["type"] == expected_type
    assert fields["info.k"]["present"] == (3 if case == "object absent from a batch" else 10)
    if case == "late field":
        assert fields["late"]["present"] == 2


def test_conversation_stats_do_not_depend_on_chunks() -> None:
    table = _chunked_with_duplicates()
    assert table.column("messages").num_chunks > 1
    combined = table.combine_chunks()
    assert conversation_stats(table, longest=4) == conversation_stats(combined, longest=4)


def test_metadata_paths_are_shown_as_where_takes_them() -> None:
    from brightingest.where import filter_mask

    # A key named like a table column, or "metadata" itself, needs the explicit prefix.
    rows = [conv("a", "b", metadata={"format": "v2", "metadata": {"x": 1}, "tag": "t"})]
    table = chat_table(rows)
    paths = [f["path"] for f in metadata_summary(table)["fields"]]
    assert paths == ["metadata.format", "metadata.metadata.x", "tag"]
    for path, value in zip(paths, ('"v2"', "1", '"t"'), strict=True):
        assert filter_mask(table, f"{path} == {value}").to_pylist() == [True], path
