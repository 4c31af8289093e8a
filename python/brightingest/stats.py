"""Statistics over a normalized chat table: conversations, metadata fields, duplicates, tokens.

Each statistic is an accumulator fed batch by batch (:class:`ConversationStats`,
:class:`MetadataSummary`, :class:`DuplicateFinder`, :class:`TokenStats`), so that ``inspect``
and ``validate`` compute them over a stream without holding the data: per row they keep a few
numbers, a 128-bit hash and the parsed metadata leaves. The functions of the same names
(:func:`conversation_stats` ...) feed them a whole table's batches. The work is Arrow compute
per batch (the ``messages`` list is flattened once), never a Python loop per row, except for
token counting, which needs the tokenizer.

Every function returns plain JSON-ready dicts (``inspect --json`` prints them as they are).

Example:
    >>> import brightingest as bi
    >>> ds = bi.load("examples/brightrun_v4_sample.jsonl")      # doctest: +SKIP
    >>> conversation_stats(ds.table)["roles"]["assistant"]        # doctest: +SKIP
    {'messages': 34, 'characters': 3120, 'mean_characters': 91.8, 'max_characters': 203}
"""

from __future__ import annotations

import hashlib
import json
import math
from collections import Counter
from collections.abc import Sequence
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from brightingest.where import COLUMN_NAMES, metadata_rows, metadata_table

__all__ = [
    "ConversationStats",
    "DuplicateFinder",
    "MetadataSummary",
    "TokenStats",
    "conversation_stats",
    "dedup_mask",
    "duplicate_groups",
    "load_tokenizer",
    "metadata_summary",
    "row_location",
    "token_stats",
]

_MESSAGE_FIELDS = ("role", "content", "weight", "name", "tool_calls", "tool_call_id", "extra")


def _array(table: pa.Table, name: str) -> pa.Array:
    col = table.column(name)
    arr = col.combine_chunks() if isinstance(col, pa.ChunkedArray) else col
    if pa.types.is_dictionary(arr.type):
        arr = arr.dictionary_decode()
    return arr


def _num(value: Any) -> Any:
    """A JSON-friendly number: integral floats as ints, others rounded to 4 significant places."""
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, float):
        if math.isnan(value) or math.isinf(value):
            return None
        if value.is_integer() and abs(value) < 2**53:
            return int(value)
        return float(f"{value:.4g}") if abs(value) < 1e6 else round(value, 1)
    return value


def _distribution(arr: pa.Array) -> dict[str, Any]:
    """min / median / mean / max of a numeric array (nulls ignored)."""
    if len(arr) == 0 or arr.null_count == len(arr):
        return {"min": None, "median": None, "mean": None, "max": None}
    mm = pc.min_max(arr).as_py()
    median = pc.quantile(arr, q=0.5, interpolation="midpoint")[0].as_py()
    return {
        "min": _num(mm["min"]),
        "median": _num(median),
        "mean": _num(pc.mean(arr).as_py()),
        "max": _num(mm["max"]),
    }


def row_location(table: pa.Table, index: int) -> dict[str, Any]:
    """``{"file", "line", "id"}`` of one row, for examples in reports."""
    out: dict[str, Any] = {}
    for key, col in (("file", "source_file"), ("line", "source_line"), ("id", "id")):
        out[key] = table.column(col)[index].as_py() if col in table.column_names else None
    return out


def _flat_messages(table: pa.Table) -> tuple[pa.Array, pa.StructArray, pa.Array]:
    """(messages list array, flattened message structs, the row index of each message)."""
    messages = _array(table, "messages")
    flat = pc.list_flatten(messages)
    parents = pc.list_parent_indices(messages)
    return messages, flat, parents


def _sum_by_row(values: pa.Array, offsets: pa.Array) -> pa.Array:
    """Per-row sums of per-message ``values`` (int64), rows given by zero-based list
    ``offsets`` (one more than the rows)."""
    totals = pa.concat_arrays(
        [pa.array([0], pa.int64()), pc.cumulative_sum_checked(values).cast(pa.int64())]
    )
    n = len(offsets) - 1
    return pc.subtract(pc.take(totals, offsets.slice(1, n)), pc.take(totals, offsets.slice(0, n)))


class ConversationStats:
    """:func:`conversation_stats` fed batch by batch (a stream, or a table's batches).

    Memory: per row only its message count and characters (12 bytes), per role four numbers,
    and the locations of the ``longest`` rows; never the messages themselves.

    Example:
        >>> acc = ConversationStats(longest=3)                      # doctest: +SKIP
        >>> for batch in bi.stream("big.jsonl"):                    # doctest: +SKIP
        ...     acc.add(batch)
        >>> acc.result()["turns"]                                   # doctest: +SKIP
    """

    def __init__(self, *, longest: int = 5) -> None:
        self.longest = longest
        self.rows = 0
        self.messages = 0
        self.trained = 0
        self.rows_with_tools = 0
        self.extra_keys: dict[str, int] = {}  # unmapped message key -> messages with it
        self._turns: list[pa.Array] = []
        self._chars: list[pa.Array] = []
        self._roles: dict[str, list[int]] = {}  # role -> [messages, characters, max]
        self._top: list[tuple[int, int, dict[str, Any]]] = []  # (-characters, row, location)

    def add(self, batch: pa.RecordBatch) -> None:
        """Count one batch (rows in input order, after the ones added before)."""
        n = batch.num_rows
        if n == 0:
            return
        messages = batch.column("messages")
        flat = pc.list_flatten(messages)
        turns = pc.fill_null(pc.list_value_length(messages), 0)
        role = pc.struct_field(flat, "role")
        if pa.types.is_dictionary(role.type):
            role = role.cast(role.type.value_type)
        chars = pc.utf8_length(pc.fill_null(pc.struct_field(flat, "content"), "")).cast(pa.int64())
        offsets = messages.offsets.cast(pa.int64())
        row_chars = _sum_by_row(chars, pc.subtract(offsets, offsets[0]))

        if len(flat):
            per_role = (
                pa.table({"role": role, "chars": chars})
                .group_by("role", use_threads=False)
                .aggregate([("chars", "count"), ("chars", "sum"), ("chars", "max")])
            )
            for item in per_role.to_pylist():
                acc = self._roles.setdefault(str(item["role"]), [0, 0, 0])
                acc[0] += int(item["chars_count"])
                acc[1] += int(item["chars_sum"])
                acc[2] = max(acc[2], int(item["chars_max"]))
            weight = pc.struct_field(flat, "weight")
            trained = pc.and_(
                pc.equal(role, "assistant"),
                pc.fill_null(pc.not_equal(weight.cast(pa.int64()), 0), True),
            )
            self.trained += int(pc.sum(trained).as_py() or 0)
            if "extra" in [f.name for f in flat.type]:
                self._count_extra(pc.struct_field(flat, "extra"))
        if "tools" in batch.schema.names:
            tools = batch.column("tools")
            present = pc.and_(pc.is_valid(tools), pc.not_equal(pc.fill_null(tools, ""), ""))
            self.rows_with_tools += int(pc.sum(present).as_py() or 0)

        if self.longest > 0:
            k = min(self.longest, n)
            picks = pc.select_k_unstable(
                pa.table({"c": row_chars, "i": pa.array(range(n), pa.int64())}),
                k=k,
                sort_keys=[("c", "descending"), ("i", "ascending")],
            )
            for i in picks.to_pylist():
                loc = row_location(batch, i)
                loc["messages"] = int(turns[i].as_py())
                loc["characters"] = int(row_chars[i].as_py())
                self._top.append((-loc["characters"], self.rows + i, loc))
            self._top.sort(key=lambda t: (t[0], t[1]))
            del self._top[self.longest :]

        self._turns.append(turns.cast(pa.int64()))
        self._chars.append(row_chars)
        self.rows += n
        self.messages += len(flat)

    def _count_extra(self, extra: pa.Array) -> None:
        if extra.null_count == len(extra):
            return
        for text in pc.drop_null(extra).to_pylist():
            try:
                value = json.loads(text)
            except ValueError:
                value = None
            for key in value if isinstance(value, dict) else ["(not an object)"]:
                self.extra_keys[key] = self.extra_keys.get(key, 0) + 1

    def result(self) -> dict[str, Any]:
        """The statistics of every row added (see :func:`conversation_stats`)."""
        turns = pa.concat_arrays(self._turns) if self._turns else pa.array([], pa.int64())
        chars = pa.concat_arrays(self._chars) if self._chars else pa.array([], pa.int64())
        roles = {
            role: {
                "messages": count,
                "characters": total,
                "mean_characters": _num(total / count),
                "max_characters": longest,
            }
            for role, (count, total, longest) in sorted(
                self._roles.items(), key=lambda item: (-item[1][0], item[0])
            )
        }
        return {
            "rows": self.rows,
            "messages": self.messages,
            "turns": _distribution(turns),
            "characters": {"total": int(pc.sum(chars).as_py() or 0), **_distribution(chars)},
            "roles": roles,
            "trained_assistant_messages": self.trained,
            "rows_with_tools": self.rows_with_tools,
            "extra_keys": dict(sorted(self.extra_keys.items(), key=lambda kv: (-kv[1], kv[0]))),
            "longest": [loc for _, _, loc in self._top],
        }


def conversation_stats(table: pa.Table, *, longest: int = 5) -> dict[str, Any]:
    """Turns per row, messages and characters per role, and the longest rows.

    Args:
        table: A table in the normalized chat schema.
        longest: How many of the longest rows (by characters) to list.

    Returns:
        ``{"rows", "messages", "turns": {min, median, mean, max}, "characters": {...},
        "roles": {role: {messages, characters, mean_characters, max_characters}},
        "trained_assistant_messages", "rows_with_tools", "extra_keys": {key: messages}
        (unmapped message keys kept in ``extra``, most common first), "longest": [{file, line,
        id, messages, characters}]}``.
    """
    acc = ConversationStats(longest=longest)
    for batch in table.to_batches():
        acc.add(batch)
    return acc.result()


# --------------------------------------------------------------------------------------------
# Metadata


def _type_name(t: pa.DataType) -> str:
    if pa.types.is_boolean(t):
        return "bool"
    if pa.types.is_integer(t) or pa.types.is_floating(t):
        return "number"
    if pa.types.is_string(t) or pa.types.is_large_string(t):
        return "string"
    if pa.types.is_list(t) or pa.types.is_large_list(t):
        return "list"
    if pa.types.is_null(t):
        return "null"
    if pa.types.is_struct(t):
        return "object"
    return str(t)


def _value_counts(arr: pa.Array, top: int, *, by_value: bool) -> list[dict[str, Any]]:
    """The ``top`` most common values (most frequent first, then by value), or with
    ``by_value`` the first ``top`` values in order. Only the ``top`` rows become Python objects:
    a field of unique ids has as many distinct values as rows."""
    counts = pc.value_counts(arr.drop_null())
    if len(counts) == 0 or top <= 0:
        return []
    pairs = pa.table({"value": counts.field("values"), "count": counts.field("counts")})
    keys = (
        [("value", "ascending")] if by_value else [("count", "descending"), ("value", "ascending")]
    )
    order = pc.select_k_unstable(pairs, k=min(top, len(counts)), sort_keys=keys)
    picked = pairs.take(order)
    return [
        {"value": _num(v), "count": int(c)}
        for v, c in zip(
            picked.column("value").to_pylist(), picked.column("count").to_pylist(), strict=True
        )
    ]


def _summarize_array(path: str, arr: pa.Array, n: int, top: int) -> dict[str, Any]:
    kind = _type_name(arr.type)
    present = len(arr) - arr.null_count
    out: dict[str, Any] = {"path": path, "type": kind, "present": present, "missing": n - present}
    if present == 0:
        return out
    if kind == "number":
        out.update(_distribution(arr))
        distinct = int(pc.count_distinct(arr).as_py())
        out["distinct"] = distinct
        if distinct <= 20:
            out["values"] = _value_counts(arr, top=20, by_value=True)
    elif kind == "bool":
        out["values"] = _value_counts(arr, top=2, by_value=True)
    elif kind == "string":
        out["distinct"] = int(pc.count_distinct(arr).as_py())
        out["values"] = _value_counts(arr, top=top, by_value=False)
    elif kind == "list":
        out["length"] = _distribution(pc.list_value_length(arr))
        child = pc.list_flatten(arr)
        if _type_name(child.type) in ("string", "number", "bool"):
            out["distinct"] = int(pc.count_distinct(child).as_py())
            out["values"] = _value_counts(child, top=top, by_value=False)
    return out


def _summarize_mixed(path: str, values: list[Any], n: int, top: int) -> dict[str, Any]:
    present = [v for v in values if v is not None]
    types = Counter(
        "bool"
        if isinstance(v, bool)
        else "number"
        if isinstance(v, (int, float))
        else "string"
        if isinstance(v, str)
        else "list"
        if isinstance(v, list)
        else "object"
        for v in present
    )
    counts = Counter(json.dumps(v, sort_keys=True, ensure_ascii=False) for v in present)
    return {
        "path": path,
        "type": "mixed",
        "types": dict(types.most_common()),
        "present": len(present),
        "missing": n - len(present),
        "distinct": len(counts),
        "values": [{"value": json.loads(k), "count": c} for k, c in counts.most_common(top)],
    }


def _leaf_columns(parsed: pa.Table) -> list[tuple[str, pa.Array]]:
    out: list[tuple[str, pa.Array]] = []

    def walk(prefix: str, arr: pa.Array) -> None:
        if pa.types.is_struct(arr.type):
            for i in range(arr.type.num_fields):
                name = arr.type.field(i).name
                walk(f"{prefix}.{name}", pc.struct_field(arr, name))
        else:
            out.append((prefix, arr))

    for name in parsed.column_names:
        col = parsed.column(name)
        walk(name, col.combine_chunks() if isinstance(col, pa.ChunkedArray) else col)
    return out


def _flatten_dict(prefix: str, value: Any, out: dict[str, list[Any]], row: int, n: int) -> None:
    if isinstance(value, dict) and (value or not prefix):
        for k, v in value.items():
            _flatten_dict(f"{prefix}.{k}" if prefix else str(k), v, out, row, n)
        return
    out.setdefault(prefix, [None] * n)[row] = value


def _common_type(types: set[pa.DataType]) -> pa.DataType | None:
    """The type that arrays of all ``types`` can be cast to without loss of kind (ints and
    floats to float, narrower to wider), as one JSON read of all the rows would have inferred;
    ``None`` when there is none (a number in some batches, a string in others)."""
    schemas = [pa.schema([pa.field("v", t)]) for t in types]
    try:
        common = pa.unify_schemas(schemas, promote_options="permissive").field("v").type
    except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError):
        return None
    if len({_type_name(t) for t in types}) > 1:  # e.g. a list and a string, which "permissive"
        return None  # would not merge anyway; never one kind summarized as another
    return common


def _shown(path: str) -> str:
    """A metadata path as ``--where`` and ``with_fields`` take it: a key named like a table
    column (``id``, ``format`` ...) or ``metadata`` itself needs the explicit ``metadata.``."""
    first = path.split(".", 1)[0]
    return f"metadata.{path}" if first in COLUMN_NAMES or first == "metadata" else path


class MetadataSummary:
    """:func:`metadata_summary` fed batch by batch (a stream, or a table's batches).

    Each batch's metadata is parsed on its own (vectorized, as :func:`metadata_table` does) and
    only its leaf values are kept, per dotted path: about half the size of the JSON text for
    BrightRun v4, and never the messages. A field whose type differs between batches (a number
    here, a string there) is summarized as ``mixed``, as it would be for the whole table.
    """

    def __init__(self, *, top: int = 5, max_fields: int = 100) -> None:
        self.top, self.max_fields = top, max_fields
        self.rows = 0
        self.rows_with_metadata = 0
        # path -> [(first row, its values: Arrow, or Python for rows Arrow could not type)]
        self._paths: dict[str, list[tuple[int, pa.Array | list[Any]]]] = {}

    def add(self, batch: pa.RecordBatch | pa.Table) -> None:
        """Parse and keep one batch's metadata."""
        n = batch.num_rows
        if n == 0:
            return
        start, self.rows = self.rows, self.rows + n
        if "metadata" not in batch.schema.names:
            return
        table = batch if isinstance(batch, pa.Table) else pa.Table.from_batches([batch])
        meta = _array(table, "metadata")
        nonempty = pc.and_(pc.is_valid(meta), pc.not_equal(pc.fill_null(meta, "{}"), "{}"))
        self.rows_with_metadata += int(pc.sum(nonempty).as_py() or 0)
        parsed = metadata_table(table)
        if parsed is not None:
            for path, arr in _leaf_columns(parsed):
                self._paths.setdefault(path, []).append((start, arr))
            return
        columns: dict[str, list[Any]] = {}
        for i, row in enumerate(metadata_rows(table)):
            _flatten_dict("", row, columns, i, n)
        for path, values in columns.items():
            self._paths.setdefault(path, []).append((start, values))

    def _values(self, pieces: list[tuple[int, pa.Array | list[Any]]]) -> pa.Array | list[Any]:
        """One path's values for every row: one Arrow array when every batch typed it alike,
        else a Python list (rows where it is absent are null)."""
        arrays = [v for _, v in pieces if isinstance(v, pa.Array)]
        if len(arrays) == len(pieces):
            types = {a.type for a in arrays if not pa.types.is_null(a.type)}
            common = _common_type(types) if types else pa.null()
            if common is not None:
                out: list[pa.Array] = []
                at = 0
                for start, arr in pieces:
                    assert isinstance(arr, pa.Array)
                    if start > at:
                        out.append(pa.nulls(start - at, common))
                    out.append(arr.cast(common))
                    at = start + len(arr)
                if self.rows > at:
                    out.append(pa.nulls(self.rows - at, common))
                return pa.concat_arrays(out)
        values: list[Any] = [None] * self.rows
        for start, piece in pieces:
            items = piece.to_pylist() if isinstance(piece, pa.Array) else piece
            values[start : start + len(items)] = items
        return values

    def result(self) -> dict[str, Any]:
        """The summary of every row added (see :func:`metadata_summary`)."""
        n = self.rows
        # A path that is null wherever it was typed, under which other paths exist, only
        # stands for objects absent from a whole batch (no field of its own).
        paths = [
            path
            for path, pieces in self._paths.items()
            if not (
                all(isinstance(v, pa.Array) and pa.types.is_null(v.type) for _, v in pieces)
                and any(other.startswith(path + ".") for other in self._paths)
            )
        ]
        fields: list[dict[str, Any]] = []
        for path in paths[: self.max_fields]:
            values = self._values(self._paths[path])
            if isinstance(values, pa.Array):
                # One array in place of the batches' pieces: one path's copy at a time.
                self._paths[path] = [(0, values)]
                fields.append(_summarize_array(_shown(path), values, n, self.top))
                continue
            try:
                arr = pa.array(values)
            except (pa.ArrowInvalid, pa.ArrowTypeError, OverflowError):
                fields.append(_summarize_mixed(_shown(path), values, n, self.top))
                continue
            if pa.types.is_struct(arr.type):  # e.g. {} in some rows, objects in others
                fields.append(_summarize_mixed(_shown(path), values, n, self.top))
            else:
                fields.append(_summarize_array(_shown(path), arr, n, self.top))
        return {
            "rows_with_metadata": self.rows_with_metadata,
            "fields": fields,
            "truncated": len(paths) > self.max_fields,
        }


def metadata_summary(table: pa.Table, *, top: int = 5, max_fields: int = 100) -> dict[str, Any]:
    """A summary of every metadata field (nested objects as dotted paths).

    Numbers get min/median/mean/max and, with at most 20 distinct values, their distribution
    (e.g. ``training_metadata.quality_score``); strings the most common values; booleans their
    counts; lists their lengths and most common items.

    Args:
        table: A table in the normalized chat schema.
        top: How many most common values to list per string/list field.
        max_fields: At most this many fields are summarized (``truncated`` says if more exist).

    Returns:
        ``{"rows_with_metadata", "fields": [{path, type, present, missing, ...}], "truncated"}``.
    """
    acc = MetadataSummary(top=top, max_fields=max_fields)
    for batch in table.to_batches():
        acc.add(batch)
    return acc.result()


# --------------------------------------------------------------------------------------------
# Duplicates


def _large(text: str) -> pa.Scalar:
    return pa.scalar(text, pa.large_string())


def _encode(arr: pa.Array) -> pa.Array:
    """Each value as ``<byte length>:<value>``, null as ``-``: self-delimiting, so that the
    concatenation of encoded fields identifies the fields exactly (no separator collisions)."""
    text = arr.cast(pa.large_string())
    lengths = pc.binary_length(text).cast(pa.large_string())
    return pc.fill_null(pc.binary_join_element_wise(lengths, text, _large(":")), "-")


def _row_keys(table: pa.Table) -> pa.Array:
    """One key per row that is equal for two rows exactly when their conversations are: the
    same messages (role, content, weight, name, tool calls, tool call id, unmapped keys, in
    order) and the same tool definitions."""
    messages, flat, _ = _flat_messages(table)
    parts = []
    present = {f.name for f in flat.type}
    for name in _MESSAGE_FIELDS:
        if name not in present:  # a table written before the field existed: all null
            parts.append(_encode(pa.nulls(len(flat), pa.large_string())))
            continue
        col = flat.field(name)
        if pa.types.is_dictionary(col.type):
            col = col.dictionary_decode()
        parts.append(_encode(col))
    per_message = pc.binary_join_element_wise(*parts, _large(""))
    offsets = messages.offsets
    offsets = pc.subtract(offsets, offsets[0]).cast(pa.int64())
    rows = pc.binary_join(pa.LargeListArray.from_arrays(offsets, per_message), _large(""))
    count = pc.list_value_length(messages).cast(pa.large_string())
    tools = (
        _encode(_array(table, "tools"))
        if "tools" in table.column_names
        else pa.array(["-"] * table.num_rows, pa.large_string())
    )
    return pc.binary_join_element_wise(count, tools, pc.fill_null(rows, ""), _large("|"))


def _row_digests(batch: pa.RecordBatch) -> bytes:
    """16 bytes per row, equal for equal conversations: the core's 128-bit hash
    (``_core.row_hashes``), or, for a layout the core does not hash (or without the core), a
    BLAKE2b digest of each row's full key (slow, but the same grouping)."""
    try:
        from brightingest._core import row_hashes
    except ImportError:
        pass
    else:
        try:
            return row_hashes(batch)
        except TypeError:
            pass
    keys = _row_keys(batch).to_pylist()
    return b"".join(hashlib.blake2b(k.encode("utf-8"), digest_size=16).digest() for k in keys)


def _digest_array(digests: bytes) -> pa.FixedSizeBinaryArray:
    n = len(digests) // 16
    return pa.FixedSizeBinaryArray.from_buffers(pa.binary(16), n, [None, pa.py_buffer(digests)])


class DuplicateFinder:
    """Exact duplicate conversations, found in two passes over the same batches.

    Pass 1 (:meth:`add`) keeps a 128-bit hash per row (16 bytes). The rows whose hash occurs
    more than once are the candidates; when there are any (:attr:`needs_second_pass`), pass 2
    (:meth:`confirm`) compares the candidates' full conversations and returns, per batch, which
    rows to keep (the first of each group). Grouping is exact whatever the hash does: equal
    hashes only select rows to compare. Memory follows the duplicates, not the data: 16 bytes
    per row, plus the full key of each candidate group's first row.

    Example:
        >>> finder = DuplicateFinder()                                     # doctest: +SKIP
        >>> for batch in table.to_batches():                               # doctest: +SKIP
        ...     finder.add(batch)
        >>> if finder.needs_second_pass:                                   # doctest: +SKIP
        ...     masks = [finder.confirm(b) for b in table.to_batches()]
        >>> finder.result()["duplicate_rows"]                              # doctest: +SKIP
    """

    def __init__(self) -> None:
        self.rows = 0
        self._digests: list[bytes] = []
        self._candidates: pa.Array | None = None
        self._confirmed_rows = 0
        self._first: dict[str, int] = {}  # full key -> group number
        # per group: [rows, first row, full key, locations of its first ten rows]
        self._groups: list[list[Any]] = []

    def add(self, batch: pa.RecordBatch) -> None:
        """Pass 1: hash one batch's rows."""
        if batch.num_rows:
            self._digests.append(_row_digests(batch))
            self.rows += batch.num_rows

    def _candidate_set(self) -> pa.Array:
        if self._candidates is None:
            hashes = _digest_array(b"".join(self._digests))
            self._digests = []
            keyed = pa.table({"h": hashes})
            counts = keyed.group_by("h", use_threads=False).aggregate([("h", "count")])
            repeated = counts.filter(pc.greater(counts.column("h_count"), 1))
            self._candidates = repeated.column("h").combine_chunks()
        return self._candidates

    @property
    def needs_second_pass(self) -> bool:
        """Whether some rows share a hash (and must be compared in a second pass)."""
        return len(self._candidate_set()) > 0

    def confirm(self, batch: pa.RecordBatch) -> pa.BooleanArray:
        """Pass 2, over the same batches in the same order: returns which rows to keep (all but
        the later copies of each exact duplicate) and records the groups."""
        n = batch.num_rows
        candidates = self._candidate_set()
        base = self._confirmed_rows
        self._confirmed_rows += n
        if n == 0 or len(candidates) == 0:
            return pa.array([True] * n, pa.bool_())
        hashes = _digest_array(_row_digests(batch))
        rows = pc.indices_nonzero(pc.is_in(hashes, value_set=candidates)).to_pylist()
        if not rows:
            return pa.array([True] * n, pa.bool_())
        keys = _row_keys(batch.take(pa.array(rows, pa.int64()))).to_pylist()
        keep = [True] * n
        for i, key in zip(rows, keys, strict=True):
            group = self._first.get(key)
            if group is None:
                self._first[key] = len(self._groups)
                self._groups.append([1, base + i, key, [row_location(batch, i)]])
                continue
            entry = self._groups[group]
            entry[0] += 1
            if len(entry[3]) < 10:
                entry[3].append(row_location(batch, i))
            keep[i] = False
        return pa.array(keep, pa.bool_())

    def result(self, *, examples: int = 5) -> dict[str, Any]:
        """``{"groups", "duplicate_rows", "rows_after_dedup", "examples"}`` (see
        :func:`duplicate_groups`)."""
        if self.needs_second_pass and self._confirmed_rows != self.rows:
            raise RuntimeError(
                f"the second pass saw {self._confirmed_rows:,} rows, the first {self.rows:,}"
            )
        groups = [g for g in self._groups if g[0] > 1]
        duplicate_rows = sum(g[0] - 1 for g in groups)
        groups.sort(key=lambda g: (-g[0], g[1]))
        listed = [
            {
                "count": count,
                "key": hashlib.sha256(key.encode("utf-8")).hexdigest()[:12],
                "rows": locations,
            }
            for count, _, key, locations in groups[: max(examples, 0)]
        ]
        return {
            "groups": len(groups),
            "duplicate_rows": duplicate_rows,
            "rows_after_dedup": self.rows - duplicate_rows,
            "examples": listed,
        }


def _find_duplicates(table: pa.Table) -> tuple[DuplicateFinder, list[pa.BooleanArray]]:
    finder = DuplicateFinder()
    batches = table.to_batches()
    for batch in batches:
        finder.add(batch)
    masks = [finder.confirm(b) for b in batches] if finder.needs_second_pass else []
    return finder, masks


def duplicate_groups(table: pa.Table, *, examples: int = 5) -> dict[str, Any]:
    """Exact duplicate conversations: rows whose messages (and tools) are identical.

    Args:
        table: A table in the normalized chat schema.
        examples: How many groups to list (largest first), each with its rows as file:line.

    Returns:
        ``{"groups", "duplicate_rows" (rows that --dedup drops), "rows_after_dedup",
        "examples": [{"count", "key" (short hash), "rows": [{file, line, id}]}]}``.
    """
    finder, _ = _find_duplicates(table)
    return finder.result(examples=examples)


def dedup_mask(table: pa.Table) -> pa.BooleanArray:
    """A mask that keeps the first row of each group of exact duplicates (input order kept).

    Args:
        table: A table in the normalized chat schema.

    Returns:
        One boolean per row; ``table.filter(mask)`` drops the later copies.
    """
    _, masks = _find_duplicates(table)
    if not masks:
        return pa.array([True] * table.num_rows, pa.bool_())
    return pa.concat_arrays(masks)


# --------------------------------------------------------------------------------------------
# Tokens


def load_tokenizer(name_or_path: str) -> Any:
    """Load a tokenizer with ``transformers.AutoTokenizer`` from local files only.

    Args:
        name_or_path: A local tokenizer directory (or a model name already in the local cache).

    Returns:
        The tokenizer.

    Raises:
        ImportError: ``transformers`` is not installed.
        OSError: No such tokenizer in local files (nothing is ever downloaded).
    """
    from transformers import AutoTokenizer  # lazy: heavy, optional (the [train] extra)

    return AutoTokenizer.from_pretrained(name_or_path, local_files_only=True)


def _render(tokenizer: Any, conversation: list[dict[str, Any]]) -> tuple[str, bool]:
    """The text the model sees for one conversation, and whether it has special tokens."""
    if getattr(tokenizer, "chat_template", None):
        simple = [{"role": m["role"], "content": m["content"]} for m in conversation]
        try:
            return str(tokenizer.apply_chat_template(simple, tokenize=False)), True
        except Exception:  # a template may reject a role (e.g. tool): count the plain text
            pass
    return "".join(f"{m['role']}: {m['content']}\n" for m in conversation), False


class TokenStats:
    """:func:`token_stats` fed batch by batch: per row only its token count is kept (8 bytes),
    plus the locations of the ``examples`` longest rows over ``max_length``."""

    def __init__(
        self,
        tokenizer: Any,
        *,
        max_length: int | None = None,
        examples: int = 5,
        batch_size: int = 512,
    ) -> None:
        self.tokenizer = tokenizer
        self.max_length, self.examples, self.batch_size = max_length, examples, batch_size
        self.rows = 0
        self.over = 0
        self.used_template = False
        self._counts: list[pa.Array] = []
        self._over: list[tuple[int, int, dict[str, Any]]] = []  # (-tokens, row, location)

    def _count(self, conversations: list[list[dict[str, Any]]]) -> list[int]:
        texts: list[str] = []
        special: list[bool] = []
        for conv in conversations:
            text, templated = _render(self.tokenizer, conv)
            texts.append(text)
            special.append(templated)
            self.used_template = self.used_template or templated
        # A rendered chat template already holds the special tokens: do not add them twice.
        counts = [0] * len(texts)
        for templated in (True, False):
            idx = [i for i, s in enumerate(special) if s is templated]
            if not idx:
                continue
            enc = self.tokenizer([texts[i] for i in idx], add_special_tokens=not templated)
            ids: Sequence[Sequence[int]] = enc["input_ids"]
            for i, row_ids in zip(idx, ids, strict=True):
                counts[i] = len(row_ids)
        return counts

    def add(self, batch: pa.RecordBatch) -> None:
        """Tokenize one batch's rows."""
        messages = batch.column("messages")
        for start in range(0, batch.num_rows, self.batch_size):
            counts = self._count(messages.slice(start, self.batch_size).to_pylist())
            self._counts.append(pa.array(counts, pa.int64()))
            if self.max_length is not None:
                for i, c in enumerate(counts):
                    if c > self.max_length:
                        self.over += 1
                        if self.examples > 0:
                            loc = row_location(batch, start + i)
                            self._over.append((-c, self.rows + start + i, loc))
                self._over.sort(key=lambda t: (t[0], t[1]))
                del self._over[max(self.examples, 0) :]
        self.rows += batch.num_rows

    def result(self) -> dict[str, Any]:
        """The token counts of every row added (see :func:`token_stats`)."""
        arr = pa.concat_arrays(self._counts) if self._counts else pa.array([], pa.int64())
        out: dict[str, Any] = {
            "total": int(pc.sum(arr).as_py() or 0),
            "per_row": _distribution(arr),
            "chat_template": self.used_template,
            "max_length": self.max_length,
        }
        if self.max_length is not None:
            out["over_max_length"] = self.over
            out["over_examples"] = [{**loc, "tokens": -neg} for neg, _, loc in self._over]
        return out


def token_stats(
    table: pa.Table,
    tokenizer: Any,
    *,
    max_length: int | None = None,
    examples: int = 5,
    batch_size: int = 512,
) -> dict[str, Any]:
    """Token counts per row (with the tokenizer's chat template when it has one) and in total.

    Args:
        table: A table in the normalized chat schema.
        tokenizer: A ``transformers`` tokenizer (anything callable on a list of texts that
            returns ``{"input_ids": [[...], ...]}``).
        max_length: If set, count the rows longer than this many tokens.
        examples: How many rows over ``max_length`` to list (longest first).
        batch_size: Rows tokenized per call.

    Returns:
        ``{"total", "per_row": {min, median, mean, max}, "chat_template", "max_length",
        "over_max_length", "over_examples": [{file, line, id, tokens}]}``.
    """
    acc = TokenStats(tokenizer, max_length=max_length, examples=examples, batch_size=batch_size)
    for batch in table.to_batches():
        acc.add(batch)
    return acc.result()
