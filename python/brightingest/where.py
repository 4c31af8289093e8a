"""The ``--where`` filter: a small expression language over a row's metadata and columns.

Grammar::

    expr       := or_expr
    or_expr    := and_expr ("or" and_expr)*
    and_expr   := not_expr ("and" not_expr)*
    not_expr   := "not" not_expr | "(" expr ")" | comparison
    comparison := path OP literal | path "not" "in" list
    OP         := "==" | "!=" | ">=" | "<=" | ">" | "<" | "in" | "contains"
    path       := name ("." name)*          name: letters, digits, "_" and "-", or `back quoted`
    literal    := number | "string" | 'string' | true | false | null | "[" literal, ... "]"

A path resolves into the row's ``metadata`` JSON object (``training_metadata.quality_score``),
except the bare names ``id``, ``format``, ``source_file`` and ``source_line``, which are the
table's own columns; ``metadata.<key>`` always means the metadata field, whatever its name.

Semantics, chosen to be predictable on messy data:

* A missing field and a JSON ``null`` are the same thing: ``x == null`` is true for both, and
  ``x != null`` is true when ``x`` has a value. Every other comparison with a missing value is
  false (so ``not (x >= 4)`` keeps the rows that lack ``x``).
* ``==``/``!=`` compare numbers numerically (``4 == 4.0``), strings exactly, booleans only with
  booleans, lists element by element. ``!=`` is true for any present value that is not equal.
* ``>``, ``>=``, ``<``, ``<=`` compare numbers with numbers and strings with strings (code point
  order); any other pairing is false, never an error.
* ``x in [a, b]`` is true when ``x`` equals an item (``null`` in the list matches a missing
  ``x``); ``x contains v`` is true when the list ``x`` has an item equal to ``v``, or the string
  ``x`` contains the string ``v``.

Evaluation is vectorized: the referenced metadata fields are parsed in one pass by Arrow's JSON
reader and compared with :mod:`pyarrow.compute`; a column whose values mix types (or a
comparison Arrow cannot express) falls back to the reference Python semantics above, row by row.

Example:
    >>> expr = parse_where("training_metadata.quality_score >= 4 and not id in ['c-1', 'c-2']")
    >>> mask = filter_mask(table, expr)      # doctest: +SKIP
    >>> table.filter(mask)                   # doctest: +SKIP
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, TypeAlias

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.json as pa_json

__all__ = [
    "COLUMN_NAMES",
    "OPERATORS",
    "And",
    "Comparison",
    "Expr",
    "Not",
    "Or",
    "compare",
    "evaluate",
    "extract_fields",
    "filter_mask",
    "metadata_table",
    "parse_where",
]

#: Bare names that refer to the table's own columns rather than to metadata fields.
COLUMN_NAMES: tuple[str, ...] = ("id", "format", "source_file", "source_line")
#: Comparison operators, in the order error messages list them.
OPERATORS: tuple[str, ...] = ("==", "!=", ">=", "<=", ">", "<", "in", "contains")

_ORDERING = {">": pc.greater, ">=": pc.greater_equal, "<": pc.less, "<=": pc.less_equal}


@dataclass(frozen=True)
class Comparison:
    """``path OP literal``.

    Attributes:
        path: The dotted path, split into names; a leading ``metadata`` is kept only when the
            user wrote it (``("metadata", "format")``).
        op: One of :data:`OPERATORS`.
        value: The literal as a Python value (``None``, bool, int, float, str or list).
    """

    path: tuple[str, ...]
    op: str
    value: Any

    @property
    def dotted(self) -> str:
        """The path as the user would write it."""
        return ".".join(self.path)


@dataclass(frozen=True)
class Not:
    """``not expr``."""

    operand: Expr


@dataclass(frozen=True)
class And:
    """``left and right``."""

    left: Expr
    right: Expr


@dataclass(frozen=True)
class Or:
    """``left or right``."""

    left: Expr
    right: Expr


Expr: TypeAlias = Comparison | Not | And | Or


# --------------------------------------------------------------------------------------------
# Parsing


@dataclass(frozen=True)
class _Token:
    kind: str  # name, number, string, op, punct, keyword, end
    text: str
    pos: int
    value: Any = None


_KEYWORDS = {"and", "or", "not", "in", "contains", "true", "false", "null"}
_ALIASES = {
    "True": "true",
    "False": "false",
    "None": "null",
    "AND": "and",
    "OR": "or",
    "NOT": "not",
}
_NAME_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_\-]*")
_NUMBER_RE = re.compile(r"-?(?:\d+\.\d*|\.\d+|\d+)(?:[eE][+-]?\d+)?")
_OPS = ("==", "!=", ">=", "<=", ">", "<")


def _fail(text: str, pos: int, length: int, message: str) -> ValueError:
    pointer = " " * pos + "^" * max(1, length)
    return ValueError(f"invalid filter expression: {message}\n  {text}\n  {pointer}")


def _tokenize(text: str) -> list[_Token]:
    tokens: list[_Token] = []
    i = 0
    n = len(text)
    while i < n:
        ch = text[i]
        if ch.isspace():
            i += 1
            continue
        if ch in "()[],.":
            tokens.append(_Token("punct", ch, i))
            i += 1
            continue
        two = text[i : i + 2]
        if two in _OPS:
            tokens.append(_Token("op", two, i))
            i += 2
            continue
        if ch in "<>":
            tokens.append(_Token("op", ch, i))
            i += 1
            continue
        if ch == "=":
            raise _fail(text, i, 1, 'found "=" (use "==" to compare)')
        if ch == "!":
            raise _fail(text, i, 1, 'found "!" (use "!=", or "not" to negate)')
        if ch in "\"'":
            end, value = _scan_string(text, i)
            tokens.append(_Token("string", text[i:end], i, value))
            i = end
            continue
        if ch == "`":
            end = text.find("`", i + 1)
            if end < 0:
                raise _fail(text, i, n - i, "unterminated `quoted name`")
            tokens.append(_Token("name", text[i : end + 1], i, text[i + 1 : end]))
            i = end + 1
            continue
        m = _NUMBER_RE.match(text, i)
        if m and (ch.isdigit() or ch in "-."):
            raw = m.group(0)
            number: int | float = float(raw) if any(c in raw for c in ".eE") else int(raw)
            tokens.append(_Token("number", raw, i, number))
            i = m.end()
            continue
        m = _NAME_RE.match(text, i)
        if m:
            word = m.group(0)
            canonical = _ALIASES.get(word, word)
            kind = "keyword" if canonical in _KEYWORDS else "name"
            tokens.append(_Token(kind, word, i, canonical if kind == "keyword" else word))
            i = m.end()
            continue
        raise _fail(text, i, 1, f"unexpected character {ch!r}")
    tokens.append(_Token("end", "", n))
    return tokens


def _scan_string(text: str, start: int) -> tuple[int, str]:
    quote = text[start]
    i = start + 1
    out: list[str] = []
    escapes = {"n": "\n", "t": "\t", "r": "\r", "\\": "\\", '"': '"', "'": "'", "/": "/"}
    while i < len(text):
        ch = text[i]
        if ch == quote:
            return i + 1, "".join(out)
        if ch == "\\" and i + 1 < len(text):
            nxt = text[i + 1]
            if nxt == "u" and re.fullmatch(r"[0-9a-fA-F]{4}", text[i + 2 : i + 6]):
                out.append(chr(int(text[i + 2 : i + 6], 16)))
                i += 6
                continue
            out.append(escapes.get(nxt, "\\" + nxt))
            i += 2
            continue
        out.append(ch)
        i += 1
    raise _fail(text, start, len(text) - start, "unterminated string")


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.tokens = _tokenize(text)
        self.i = 0

    @property
    def tok(self) -> _Token:
        return self.tokens[self.i]

    def advance(self) -> _Token:
        tok = self.tokens[self.i]
        self.i += 1
        return tok

    def error(self, message: str, tok: _Token | None = None) -> ValueError:
        tok = tok or self.tok
        shown = f'"{tok.text}"' if tok.kind != "end" else "the end of the expression"
        return _fail(self.text, tok.pos, len(tok.text), f"{message}, found {shown}")

    def is_kw(self, word: str) -> bool:
        return self.tok.kind == "keyword" and self.tok.value == word

    def parse(self) -> Expr:
        if self.tok.kind == "end":
            raise _fail(self.text, 0, 1, "the expression is empty")
        expr = self.parse_or()
        if self.tok.kind != "end":
            raise self.error('expected "and", "or" or the end of the expression')
        return expr

    def parse_or(self) -> Expr:
        left = self.parse_and()
        while self.is_kw("or"):
            self.advance()
            left = Or(left, self.parse_and())
        return left

    def parse_and(self) -> Expr:
        left = self.parse_not()
        while self.is_kw("and"):
            self.advance()
            left = And(left, self.parse_not())
        return left

    def parse_not(self) -> Expr:
        if self.is_kw("not"):
            self.advance()
            return Not(self.parse_not())
        if self.tok.kind == "punct" and self.tok.text == "(":
            self.advance()
            inner = self.parse_or()
            if not (self.tok.kind == "punct" and self.tok.text == ")"):
                raise self.error('expected ")"')
            self.advance()
            return inner
        return self.parse_comparison()

    def parse_path(self) -> tuple[str, ...]:
        if self.tok.kind != "name":
            raise self.error("expected a field name (e.g. training_metadata.quality_score)")
        names = [str(self.advance().value)]
        while self.tok.kind == "punct" and self.tok.text == ".":
            self.advance()
            tok = self.tok
            if tok.kind == "name":
                names.append(str(tok.value))
            elif tok.kind == "keyword":  # after a dot, a keyword is just a name (a.in)
                names.append(tok.text)
            else:
                raise self.error('expected a field name after "."')
            self.advance()
        return tuple(names)

    def parse_comparison(self) -> Expr:
        path = self.parse_path()
        tok = self.tok
        negate = False
        if self.is_kw("not"):
            self.advance()
            if not self.is_kw("in"):
                raise self.error('expected "in" after "not"')
            negate = True
            tok = self.tok
        if tok.kind == "op":
            op = tok.text
        elif tok.kind == "keyword" and tok.value in ("in", "contains"):
            op = str(tok.value)
        else:
            ops = ", ".join(OPERATORS)
            raise self.error(f'expected an operator ({ops}) after "{".".join(path)}"')
        self.advance()
        value_tok = self.tok
        value = self.parse_literal()
        if op == "in" and not isinstance(value, list):
            raise self.error('expected a list after "in", e.g. [1, 2]', value_tok)
        if value is None and op not in ("==", "!="):
            raise self.error(f'"{op}" cannot compare with null (use == null or != null)', tok)
        result: Expr = Comparison(path, op, value)
        return Not(result) if negate else result

    def parse_literal(self) -> Any:
        tok = self.tok
        if tok.kind in ("number", "string"):
            self.advance()
            return tok.value
        if tok.kind == "keyword" and tok.value in ("true", "false", "null"):
            self.advance()
            return {"true": True, "false": False, "null": None}[str(tok.value)]
        if tok.kind == "punct" and tok.text == "[":
            self.advance()
            items: list[Any] = []
            if self.tok.kind == "punct" and self.tok.text == "]":
                self.advance()
                return items
            while True:
                items.append(self.parse_literal())
                if self.tok.kind == "punct" and self.tok.text == ",":
                    self.advance()
                    continue
                if self.tok.kind == "punct" and self.tok.text == "]":
                    self.advance()
                    return items
                raise self.error('expected "," or "]" in the list')
        if tok.kind == "name":
            raise self.error(
                "expected a value (a number, a quoted string, true, false, null or a list);"
                " quote text values"
            )
        raise self.error(
            "expected a value (a number, a quoted string, true, false, null or a list)"
        )


def parse_where(text: str) -> Expr:
    """Parse a filter expression.

    Args:
        text: The expression, e.g. ``training_metadata.quality_score >= 4 and format == "x"``.

    Returns:
        The expression tree.

    Raises:
        ValueError: The expression is malformed; the message quotes it and points at the
            offending token with ``^``.
    """
    return _Parser(text).parse()


def paths_of(expr: Expr) -> list[tuple[str, ...]]:
    """The distinct paths an expression reads, in order of appearance."""
    out: list[tuple[str, ...]] = []

    def walk(e: Expr) -> None:
        if isinstance(e, Comparison):
            if e.path not in out:
                out.append(e.path)
        elif isinstance(e, Not):
            walk(e.operand)
        else:
            walk(e.left)
            walk(e.right)

    walk(expr)
    return out


# --------------------------------------------------------------------------------------------
# Reference semantics (one value)


def _is_number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _eq(a: Any, b: Any) -> bool:
    if a is None or b is None:
        return a is None and b is None
    if isinstance(a, bool) or isinstance(b, bool):
        return isinstance(a, bool) and isinstance(b, bool) and a == b
    if _is_number(a) and _is_number(b):
        return bool(a == b)
    if isinstance(a, str) and isinstance(b, str):
        return a == b
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_eq(x, y) for x, y in zip(a, b, strict=True))
    return False


def compare(value: Any, op: str, literal: Any) -> bool:
    """The reference semantics of one comparison (see the module docs).

    Args:
        value: The field's value (``None`` when missing or null).
        op: One of :data:`OPERATORS`.
        literal: The literal from the expression.

    Returns:
        Whether the comparison holds.
    """
    if op == "==":
        return _eq(value, literal)
    if op == "!=":
        return value is not None and not _eq(value, literal)
    if op == "in":
        return any(_eq(value, item) for item in literal)
    if value is None:
        return False
    if op == "contains":
        if isinstance(value, list):
            return any(_eq(item, literal) for item in value)
        return isinstance(value, str) and isinstance(literal, str) and literal in value
    if (_is_number(value) and _is_number(literal)) or (
        isinstance(value, str) and isinstance(literal, str)
    ):
        if op == ">":
            return bool(value > literal)
        if op == ">=":
            return bool(value >= literal)
        if op == "<":
            return bool(value < literal)
        if op == "<=":
            return bool(value <= literal)
    return False


def _lookup(row: dict[str, Any], path: Sequence[str]) -> Any:
    cur: Any = row
    for name in path:
        if not isinstance(cur, dict) or name not in cur:
            return None
        cur = cur[name]
    return cur


def _resolve(path: tuple[str, ...], metadata: dict[str, Any], columns: dict[str, Any]) -> Any:
    if len(path) == 1 and path[0] in COLUMN_NAMES:
        return columns.get(path[0])
    if len(path) > 1 and path[0] == "metadata":
        path = path[1:]
    return _lookup(metadata, path)


def evaluate(expr: Expr, metadata: dict[str, Any], columns: dict[str, Any] | None = None) -> bool:
    """Evaluate an expression on one row (the reference semantics).

    Args:
        expr: A parsed expression.
        metadata: The row's metadata object.
        columns: The row's own columns by name (``id``, ``format``, ...).

    Returns:
        Whether the row matches.
    """
    cols = columns or {}
    if isinstance(expr, Comparison):
        return compare(_resolve(expr.path, metadata, cols), expr.op, expr.value)
    if isinstance(expr, Not):
        return not evaluate(expr.operand, metadata, cols)
    if isinstance(expr, And):
        return evaluate(expr.left, metadata, cols) and evaluate(expr.right, metadata, cols)
    return evaluate(expr.left, metadata, cols) or evaluate(expr.right, metadata, cols)


# --------------------------------------------------------------------------------------------
# Field extraction


def _as_array(column: pa.ChunkedArray | pa.Array) -> pa.Array:
    arr = column.combine_chunks() if isinstance(column, pa.ChunkedArray) else column
    if pa.types.is_dictionary(arr.type):
        arr = arr.dictionary_decode()
    return arr


def metadata_table(table: pa.Table) -> pa.Table | None:
    """Parse the ``metadata`` column (JSON object text per row) into an Arrow table, vectorized.

    Nested objects become struct columns. Returns ``None`` when Arrow cannot infer one type per
    field (e.g. a field that is a number in one row and a string in another), when a row is not
    a JSON object, or when the table has no ``metadata`` column; callers then fall back to
    :func:`metadata_rows`.

    Args:
        table: A table in the normalized chat schema.

    Returns:
        One row per input row (a null or missing metadata is an empty object), or ``None``.
    """
    if "metadata" not in table.column_names:
        return None
    if table.num_rows == 0:
        return pa.table({})
    meta = _as_array(table.column("metadata"))
    filled = pc.fill_null(meta, "{}").cast(pa.large_string())
    one_list = pa.LargeListArray.from_arrays(pa.array([0, len(filled)], pa.int64()), filled)
    data = pc.binary_join(one_list, pa.scalar("\n", pa.large_string()))[0].as_buffer()
    read_options = pa_json.ReadOptions(block_size=max(1 << 20, min(data.size + 1, 1 << 30)))
    try:
        parsed = pa_json.read_json(pa.BufferReader(data), read_options=read_options)
        if _has_temporal(parsed.schema):
            # Arrow infers timestamps from date-like strings; JSON has strings, and --where
            # compares them as strings: read those fields again, as strings.
            parsed = pa_json.read_json(
                pa.BufferReader(data),
                read_options=read_options,
                parse_options=pa_json.ParseOptions(explicit_schema=_as_strings(parsed.schema)),
            )
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return None
    if parsed.num_rows != table.num_rows:
        return None
    return parsed


def _temporal(t: pa.DataType) -> bool:
    return bool(pa.types.is_timestamp(t) or pa.types.is_date(t) or pa.types.is_time(t))


def _has_temporal(schema: pa.Schema) -> bool:
    def walk(t: pa.DataType) -> bool:
        if _temporal(t):
            return True
        if pa.types.is_struct(t):
            return any(walk(t.field(i).type) for i in range(t.num_fields))
        if pa.types.is_list(t) or pa.types.is_large_list(t):
            return walk(t.value_type)
        return False

    return any(walk(f.type) for f in schema)


def _as_strings(schema: pa.Schema) -> pa.Schema:
    """``schema`` with every timestamp, date or time type (nested ones too) made a string."""

    def fix(t: pa.DataType) -> pa.DataType:
        if _temporal(t):
            return pa.string()
        if pa.types.is_struct(t):
            return pa.struct(
                [t.field(i).with_type(fix(t.field(i).type)) for i in range(t.num_fields)]
            )
        if pa.types.is_list(t):
            return pa.list_(t.value_field.with_type(fix(t.value_type)))
        if pa.types.is_large_list(t):
            return pa.large_list(t.value_field.with_type(fix(t.value_type)))
        return t

    return pa.schema([f.with_type(fix(f.type)) for f in schema])


def metadata_rows(table: pa.Table) -> list[dict[str, Any]]:
    """The metadata of each row as a Python dict (the slow, always-correct path)."""
    if "metadata" not in table.column_names:
        return [{} for _ in range(table.num_rows)]
    out: list[dict[str, Any]] = []
    for text in table.column("metadata").to_pylist():
        try:
            value = json.loads(text) if text else {}
        except ValueError:
            value = {}
        out.append(value if isinstance(value, dict) else {})
    return out


def _struct_path(parsed: pa.Table, path: Sequence[str]) -> pa.Array | None:
    if not path or path[0] not in parsed.column_names:
        return None
    arr = _as_array(parsed.column(path[0]))
    for name in path[1:]:
        if not pa.types.is_struct(arr.type) or arr.type.get_field_index(name) < 0:
            return None
        # Combine the struct's own validity with the child's: a null parent hides the child.
        arr = pc.struct_field(arr, name)
    return arr


def extract_fields(
    table: pa.Table, paths: Iterable[tuple[str, ...]]
) -> dict[tuple[str, ...], pa.Array | list[Any]]:
    """The values of each path for every row: an Arrow array, or a Python list when the values
    mix types Arrow cannot hold in one column. Missing fields are null/``None``.

    Args:
        table: A table in the normalized chat schema.
        paths: Paths as in :class:`Comparison` (bare column names or metadata paths).

    Returns:
        ``{path: values}``, each of length ``table.num_rows``.
    """
    paths = list(paths)
    out: dict[tuple[str, ...], pa.Array | list[Any]] = {}
    meta_paths: list[tuple[tuple[str, ...], tuple[str, ...]]] = []
    for path in paths:
        if len(path) == 1 and path[0] in COLUMN_NAMES:
            if path[0] in table.column_names:
                out[path] = _as_array(table.column(path[0]))
            else:
                out[path] = pa.nulls(table.num_rows)
        else:
            inner = path[1:] if len(path) > 1 and path[0] == "metadata" else path
            meta_paths.append((path, inner))
    if not meta_paths:
        return out
    parsed = metadata_table(table)
    if parsed is not None:
        for path, inner in meta_paths:
            arr = _struct_path(parsed, inner)
            out[path] = arr if arr is not None else pa.nulls(table.num_rows)
        return out
    rows = metadata_rows(table)
    for path, inner in meta_paths:
        values = [_lookup(r, inner) for r in rows]
        try:
            out[path] = pa.array(values)
        except (pa.ArrowInvalid, pa.ArrowTypeError, OverflowError):
            out[path] = values
    return out


# --------------------------------------------------------------------------------------------
# Vectorized evaluation


def _scalar_kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "bool"
    if _is_number(value):
        return "number"
    if isinstance(value, str):
        return "string"
    return "list"


def _array_kind(t: pa.DataType) -> str:
    if pa.types.is_null(t):
        return "null"
    if pa.types.is_boolean(t):
        return "bool"
    if pa.types.is_integer(t) or pa.types.is_floating(t):
        return "number"
    if pa.types.is_string(t) or pa.types.is_large_string(t):
        return "string"
    if pa.types.is_list(t) or pa.types.is_large_list(t):
        return "list"
    return "other"


def _false(n: int) -> pa.BooleanArray:
    return pc.fill_null(pa.nulls(n, pa.bool_()), False)


def _compare_array(arr: pa.Array, op: str, literal: Any) -> pa.BooleanArray | None:
    """Vectorized :func:`compare`; ``None`` when it must fall back to Python."""
    n = len(arr)
    akind = _array_kind(arr.type)
    lkind = _scalar_kind(literal)
    valid = pc.is_valid(arr)
    if op == "in":
        result = _false(n)
        for item in literal:
            part = _compare_array(arr, "==", item)
            if part is None:
                return None
            result = pc.or_(result, part)
        return result
    if lkind == "null":  # only == and != reach here
        return pc.is_null(arr) if op == "==" else valid
    if akind == "null":
        return _false(n)
    if akind in ("other",) or (akind == "list" and op != "contains"):
        if lkind != "list" and op in ("==", "!=") and akind == "other":
            # A struct never equals a scalar: == is false, != is true where present.
            return _false(n) if op == "==" else valid
        return None
    if op == "contains":
        if akind == "string":
            if lkind != "string":
                return _false(n)
            return pc.fill_null(pc.match_substring(arr, str(literal)), False)
        if akind == "list":
            flat = pc.list_flatten(arr)
            child = _compare_array(flat, "==", literal)
            if child is None:
                return None
            parents = pc.list_parent_indices(arr)
            hit_rows = pc.unique(pc.filter(parents, child))
            return pc.is_in(pa.array(range(n), pa.int64()), value_set=hit_rows.cast(pa.int64()))
        return _false(n)
    same = akind == lkind and lkind in ("number", "string", "bool")
    if op in ("==", "!="):
        if not same:
            return _false(n) if op == "==" else valid
        try:
            eq = pc.equal(arr, pa.scalar(literal))
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError, OverflowError):
            return None
        eq = pc.fill_null(eq, False)
        return eq if op == "==" else pc.and_(valid, pc.invert(eq))
    # Ordering: numbers with numbers, strings with strings; anything else is false.
    if not same or lkind == "bool":
        return _false(n)
    try:
        return pc.fill_null(_ORDERING[op](arr, pa.scalar(literal)), False)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError, OverflowError):
        return None


def _eval(
    expr: Expr, fields: dict[tuple[str, ...], pa.Array | list[Any]], n: int
) -> pa.BooleanArray:
    if isinstance(expr, Comparison):
        values = fields[expr.path]
        if isinstance(values, pa.Array):
            vec = _compare_array(values, expr.op, expr.value)
            if vec is not None:
                return vec
            values = values.to_pylist()
        return pa.array([compare(v, expr.op, expr.value) for v in values], pa.bool_())
    if isinstance(expr, Not):
        return pc.invert(_eval(expr.operand, fields, n))
    left = _eval(expr.left, fields, n)
    right = _eval(expr.right, fields, n)
    return pc.and_(left, right) if isinstance(expr, And) else pc.or_(left, right)


def filter_mask(table: pa.Table, expr: Expr | str) -> pa.BooleanArray:
    """A boolean mask (no nulls) of the rows that match ``expr``.

    Args:
        table: A table in the normalized chat schema.
        expr: A parsed expression, or its text.

    Returns:
        One boolean per row; use ``table.filter(mask)``.

    Raises:
        ValueError: ``expr`` is text that does not parse.
    """
    if isinstance(expr, str):
        expr = parse_where(expr)
    fields = extract_fields(table, paths_of(expr))
    return _eval(expr, fields, table.num_rows)
