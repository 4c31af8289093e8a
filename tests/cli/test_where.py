"""The --where language: parsing, error messages, and vectorized == reference semantics."""

from __future__ import annotations

import itertools
import json
from typing import Any

import pyarrow as pa
import pytest

from brightingest.where import (
    And,
    Comparison,
    Not,
    Or,
    compare,
    evaluate,
    extract_fields,
    filter_mask,
    metadata_table,
    parse_where,
)
from tests.cli.conftest import chat_table, conv


def test_parse_precedence_and_literals() -> None:
    expr = parse_where(
        "a.b >= 4 or not c == 'x' and d in [1, 2.5, \"y\", true, null] and e contains -3e2"
    )
    assert expr == Or(
        Comparison(("a", "b"), ">=", 4),
        And(
            And(
                Not(Comparison(("c",), "==", "x")),
                Comparison(("d",), "in", [1, 2.5, "y", True, None]),
            ),
            Comparison(("e",), "contains", -300.0),
        ),
    )


def test_parse_parentheses_not_in_and_quoted_names() -> None:
    expr = parse_where("(x == 1 or y == 2) and `odd key`.z not in ['a']")
    assert expr == And(
        Or(Comparison(("x",), "==", 1), Comparison(("y",), "==", 2)),
        Not(Comparison(("odd key", "z"), "in", ["a"])),
    )


def test_parse_keywords_after_a_dot_are_names_and_escapes() -> None:
    expr = parse_where(r'meta.in == "a\"b\u00e9"')
    assert expr == Comparison(("meta", "in"), "==", 'a"bé')


@pytest.mark.parametrize(
    ("text", "message", "column"),
    [
        (
            "training_metadata.quality_score >> 4",
            'expected a value (a number, a quoted string, true, false, null or a list), found ">"',
            33,
        ),
        ("quality = 4", 'found "=" (use "==" to compare)', 8),
        ("quality >= four", 'quote text values, found "four"', 11),
        ("quality in 4", 'expected a list after "in", e.g. [1, 2], found "4"', 11),
        ("quality >= null", '">=" cannot compare with null (use == null or != null)', 8),
        ("(a == 1", 'expected ")", found the end of the expression', 7),
        ("a == 1 and", "expected a field name (e.g. training_metadata.quality_score)", 10),
        ("a == 'x", "unterminated string", 5),
        ("a == 1 b == 2", 'expected "and", "or" or the end of the expression, found "b"', 7),
        ("", "the expression is empty", 0),
        ("a ! b", 'found "!" (use "!=", or "not" to negate)', 2),
        ("a.b 4", 'expected an operator (==, !=, >=, <=, >, <, in, contains) after "a.b"', 4),
    ],
)
def test_parse_errors_point_at_the_offending_token(text: str, message: str, column: int) -> None:
    with pytest.raises(ValueError, match="invalid filter expression") as info:
        parse_where(text)
    first, quoted, pointer = str(info.value).split("\n")
    assert message in first
    assert quoted == f"  {text}"
    assert pointer.index("^") == column + 2


def test_expression_error_message_in_full() -> None:
    with pytest.raises(ValueError, match="expected a value") as info:
        parse_where("score >= 4 and tags contains")
    assert str(info.value) == (
        "invalid filter expression: expected a value (a number, a quoted string, true, false,"
        " null or a list), found the end of the expression\n"
        "  score >= 4 and tags contains\n"
        "                              ^"
    )


@pytest.mark.parametrize(
    ("value", "op", "literal", "expected"),
    [
        (4, ">=", 4, True),
        (4.0, "==", 4, True),
        (True, "==", 1, False),
        (1, "==", True, False),
        ("b", ">", "a", True),
        ("b", ">", 1, False),
        (None, "==", None, True),
        (None, "!=", None, False),
        (0, "!=", None, True),
        (None, "!=", 3, False),
        ("x", "!=", 3, True),
        (None, "in", [1, None], True),
        (2, "in", [1, 2.0], True),
        (["a", "b"], "contains", "b", True),
        ("wellbeing", "contains", "being", True),
        (["a"], "==", ["a"], True),
        ({"a": 1}, "==", 1, False),
        ({"a": 1}, "!=", 1, True),
        (None, "<", 3, False),
    ],
)
def test_reference_semantics(value: Any, op: str, literal: Any, expected: bool) -> None:
    assert compare(value, op, literal) is expected


ROWS = [
    conv(
        "hi", "hello", id="r1", metadata={"tm": {"q": 5, "tags": ["a", "b"], "ok": True}, "s": "x"}
    ),
    conv("hi", "hello", id="r2", metadata={"tm": {"q": 3, "tags": ["b"], "ok": False}, "s": "y"}),
    conv("q", "a", id=None, metadata=None),
    conv("q", "a", id="r4", metadata={"tm": {"q": 4.5}, "s": "xyz", "n": None}),
    conv("q", "a", id="r5", metadata={"tm": {}, "s": "", "format": "meta-format"}),
]
MIXED = [*ROWS, conv("q", "a", id="r6", metadata={"tm": {"q": "high", "tags": "b"}, "s": 7})]

EXPRESSIONS = [
    "tm.q >= 4",
    "tm.q < 4.5",
    "tm.q == 5",
    "tm.q != 5",
    "tm.q == null",
    "tm.q != null",
    "not tm.q >= 4",
    "tm.q in [3, 5, 'high']",
    "tm.q not in [3]",
    "tm.tags contains 'b'",
    "tm.tags == ['b']",
    "tm.ok == true",
    "tm.ok != true",
    "tm.ok > false",
    "s contains 'x'",
    "s >= 'xa'",
    "s == 7",
    "tm == 1",
    "tm != 1",
    "n == null",
    "id == null",
    "id in ['r1', 'r5']",
    "source_line > 2 and format == 'openai'",
    "metadata.format == 'meta-format'",
    "format == 'meta-format'",
    "missing.path != 1 or (tm.q > 3 and not s == 'x')",
]


def _reference(table: pa.Table, text: str) -> list[bool]:
    expr = parse_where(text)
    out = []
    for row in table.to_pylist():
        meta = json.loads(row["metadata"]) if row["metadata"] else {}
        out.append(evaluate(expr, meta, row))
    return out


@pytest.mark.parametrize("rows", [ROWS, MIXED], ids=["typed", "mixed"])
@pytest.mark.parametrize("text", EXPRESSIONS)
def test_vectorized_matches_reference(rows: list[dict[str, Any]], text: str) -> None:
    table = chat_table(rows)
    assert filter_mask(table, text).to_pylist() == _reference(table, text)


def test_some_expected_masks() -> None:
    table = chat_table(ROWS)
    assert filter_mask(table, "tm.q >= 4").to_pylist() == [True, False, False, True, False]
    assert filter_mask(table, "not tm.q >= 4").to_pylist() == [False, True, True, False, True]
    assert filter_mask(table, "tm.tags contains 'b'").to_pylist() == [
        True,
        True,
        False,
        False,
        False,
    ]
    assert filter_mask(table, "id == null").to_pylist() == [False, False, True, False, False]


def test_metadata_is_parsed_vectorized_when_types_agree_else_falls_back() -> None:
    typed = metadata_table(chat_table(ROWS))
    assert typed is not None
    assert typed.num_rows == len(ROWS)
    assert metadata_table(chat_table(MIXED)) is None  # q is a number and a string
    fields = extract_fields(chat_table(MIXED), [("tm", "q")])
    assert fields[("tm", "q")] == [5, 3, None, 4.5, None, "high"]


def test_empty_table_and_chunked_columns() -> None:
    empty = chat_table([])
    assert filter_mask(empty, "tm.q > 1").to_pylist() == []
    table = pa.concat_tables([chat_table(ROWS[:2]), chat_table(ROWS[2:])])
    assert table.column("metadata").num_chunks == 2
    assert filter_mask(table, "tm.q >= 4").to_pylist() == [True, False, False, True, False]


def test_all_pairs_of_operators_and_literal_kinds_agree() -> None:
    table = chat_table(MIXED)
    literals = ["4", "4.5", "'x'", "true", "null", "[1, 'b']"]
    ops = ["==", "!=", ">", "<=", "contains"]
    for path, op, lit in itertools.product(["tm.q", "tm.tags", "s", "tm.ok", "tm"], ops, literals):
        if lit == "null" and op not in ("==", "!="):
            continue
        text = f"{path} {op} {lit}"
        assert filter_mask(table, text).to_pylist() == _reference(table, text), text


def test_date_like_strings_stay_strings() -> None:
    # Arrow's JSON reader infers timestamps from them; JSON has strings, compared as strings.
    rows = [
        conv("a", "b", metadata={"d": "2024-01-02", "e": {"t": "2024-03-01T10:00:00"}}),
        conv("a", "b", metadata={"d": "2024-02-01", "e": {"t": "2023-12-31T23:59:59"}}),
    ]
    table = chat_table(rows)
    for text in ('d == "2024-01-02"', 'd >= "2024-02"', 'e.t < "2024"', 'd != "x"'):
        assert filter_mask(table, text).to_pylist() == _reference(table, text), text
    assert filter_mask(table, 'd == "2024-01-02"').to_pylist() == [True, False]
