"""Writers for normalized chat tables: OpenAI chat JSONL, Parquet, Arrow IPC.

Every writer is atomic: it writes a temporary file in the destination's directory and renames it
over the destination only when complete, so a reader never sees half a file and a failed write
leaves the old file as it was. Each accepts a ``pyarrow.Table``, a ``RecordBatch``, an iterable
of batches (e.g. :func:`brightingest.stream`) or any Arrow stream (``__arrow_c_stream__``), so
that a conversion runs in bounded memory.

OpenAI JSONL follows OpenAI's fine-tuning format rules: one ``{"messages": [...]}`` object per
line (plus ``tools`` when the row has them); roles ``system``, ``developer``, ``user``,
``assistant``, ``tool``; ``weight`` only on assistant messages; ``tool_calls`` as a JSON array;
an assistant message that only calls tools has no ``content``. ``id`` and ``metadata`` are not
part of that format and are not written (write Parquet or Arrow to keep them). Rows are written
as mapped, except a conversation OpenAI would refuse (a ``tool`` message that answers no call,
from a source format without call ids), which is left out and counted (:class:`LeftOut`);
:func:`openai_problems` checks a record against the rules.

The OpenAI lines of a batch in the normalized layout are built by the core
(``_core.openai_jsonl``, GIL released); any other layout (``large_string`` columns, say) takes
a Python path that writes the same bytes. Measured (2026-11-25, 1 GB BrightRun v4 read whole,
842 MB of OpenAI JSONL written and fsynced): 0.9-2.8 s against 7.3-7.8 s through Python.

Example:
    >>> import brightingest as bi
    >>> ds = bi.load("examples/brightrun_v4_sample.jsonl")  # doctest: +SKIP
    >>> write_openai(ds.table, "out/train.jsonl")  # doctest: +SKIP
    18
"""

from __future__ import annotations

import json
import logging
import os
import stat
import sys
import tempfile
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    import pyarrow as pa

logger = logging.getLogger(__name__)

__all__ = [
    "LeftOut",
    "OPENAI_ROLES",
    "atomic_output",
    "openai_problems",
    "output_mode",
    "openai_message",
    "openai_record",
    "sequence_problem",
    "write",
    "write_arrow",
    "write_openai",
    "write_parquet",
]

StrPath = str | os.PathLike[str]


@contextmanager
def atomic_output(path: StrPath, mode: Literal["w", "wb"] = "wb") -> Iterator[IO[Any]]:
    """Open a temporary file next to ``path``; rename it to ``path`` if the block succeeds.

    The parent directory is created if needed. On an exception the temporary file is removed
    and ``path`` is left untouched. The file gets the permissions a plain ``open()`` would give
    it (``0o666`` less the umask), or those of the file it replaces: ``mkstemp``'s ``0o600``
    would otherwise hide the output from the other users and services that read it.

    Args:
        path: The destination.
        mode: ``"wb"`` (binary) or ``"w"`` (UTF-8 text, ``\\n`` newlines).

    Yields:
        The open temporary file.
    """
    dest = Path(path)
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=dest.parent, prefix=f".{dest.name}.", suffix=".tmp")
    try:
        if hasattr(os, "fchmod"):
            os.fchmod(fd, output_mode(dest))
        else:  # Windows: only the read-only bit means anything
            Path(tmp).chmod(output_mode(dest))
        if mode == "w":
            # open() on a descriptor: Path has no equivalent.
            handle: IO[Any] = open(fd, "w", encoding="utf-8", newline="\n")  # noqa: PTH123
        else:
            handle = open(fd, "wb")  # noqa: PTH123  # a descriptor, as above
        with handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        Path(tmp).replace(dest)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def output_mode(dest: Path) -> int:
    """The mode an output file should get: the one ``dest`` has if it exists, else ``0o666``
    less the process's umask (what a plain ``open()`` gives; ``mkstemp`` gives ``0o600``)."""
    try:
        return stat.S_IMODE(dest.stat().st_mode)
    except OSError:
        pass
    return 0o666 & ~_umask()


def _umask() -> int:
    # Linux shows it; elsewhere reading it means setting it (briefly, for every thread).
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def _batches(data: Any) -> tuple[pa.Schema, Iterator[pa.RecordBatch]]:
    import pyarrow as pa

    if isinstance(data, pa.Table):
        return data.schema, iter(data.to_batches())
    if isinstance(data, pa.RecordBatch):
        return data.schema, iter([data])
    if isinstance(data, pa.RecordBatchReader):
        return data.schema, iter(data)
    schema = getattr(data, "schema", None)
    if isinstance(schema, pa.Schema) and isinstance(data, Iterable):
        return schema, iter(data)
    if hasattr(data, "__arrow_c_stream__"):
        reader = pa.RecordBatchReader.from_stream(data)
        return reader.schema, iter(reader)
    if isinstance(data, Iterable):
        it = iter(data)
        first = next(it, None)
        if first is None:
            from brightingest.schema import CHAT_SCHEMA

            return CHAT_SCHEMA, iter(())
        if not isinstance(first, pa.RecordBatch):
            raise TypeError(f"expected pyarrow RecordBatches, got {type(first).__name__}")

        def chain() -> Iterator[pa.RecordBatch]:
            yield first
            yield from it

        return first.schema, chain()
    raise TypeError(
        "expected a pyarrow Table, a RecordBatch, an iterable of batches or an Arrow stream, "
        f"got {type(data).__name__}"
    )


def openai_message(message: dict[str, Any]) -> dict[str, Any]:
    """One message of the normalized table (a ``messages`` item as Python) in OpenAI's form.

    ``None`` fields are left out, ``tool_calls`` is parsed back from JSON text, ``weight`` is
    written on assistant messages only, and an assistant message that only calls tools has no
    ``content``.

    Example:
        >>> openai_message({"role": "user", "content": "hi", "weight": None, "name": None,
        ...                 "tool_calls": None, "tool_call_id": None})
        {'role': 'user', 'content': 'hi'}
    """
    role = message["role"]
    out: dict[str, Any] = {"role": role}
    content = message.get("content")
    tool_calls = message.get("tool_calls")
    if content or not tool_calls:
        out["content"] = content if content is not None else ""
    if message.get("name") is not None:
        out["name"] = message["name"]
    if tool_calls is not None:
        out["tool_calls"] = json.loads(tool_calls) if isinstance(tool_calls, str) else tool_calls
    if message.get("tool_call_id") is not None:
        out["tool_call_id"] = message["tool_call_id"]
    if role == "assistant" and message.get("weight") is not None:
        out["weight"] = int(message["weight"])
    return out


#: Roles OpenAI's chat fine-tuning format accepts.
OPENAI_ROLES = ("system", "developer", "user", "assistant", "tool")
_MESSAGE_KEYS = frozenset({"role", "content", "name", "weight", "tool_calls", "tool_call_id"})
_RECORD_KEYS = frozenset({"messages", "tools", "parallel_tool_calls"})


def _call_problems(call: Any) -> list[str]:
    """What makes one tool call invalid: OpenAI's ``{"id", "type": "function", "function":
    {"name", "arguments": <JSON text>}}``."""
    if not isinstance(call, dict):
        return ["a tool call must be an object"]
    problems = []
    if not isinstance(call.get("id"), str) or not call["id"]:
        problems.append("a tool call needs an id")
    if call.get("type") != "function":
        problems.append('a tool call\'s type must be "function"')
    function = call.get("function")
    if not isinstance(function, dict) or not isinstance(function.get("name"), str):
        problems.append("a tool call needs function.name")
    elif not isinstance(function.get("arguments"), str):
        problems.append("function.arguments must be JSON text (a string)")
    return problems


def openai_problems(record: Any) -> list[str]:
    """What makes ``record`` invalid under OpenAI's chat fine-tuning format rules (empty: valid).

    The rules: an object with a non-empty ``messages`` list (and optionally ``tools`` and
    ``parallel_tool_calls``, nothing else); each message an object with a known ``role``, only
    the keys ``role``, ``content``, ``name``, ``weight``, ``tool_calls``, ``tool_call_id``;
    ``content`` a string (or a list of text parts), left out only by an assistant message that
    calls tools; ``weight`` 0 or 1 and on assistant messages only; ``tool_calls`` a list of
    ``{"id", "type": "function", "function": {"name", "arguments": <JSON text>}}``; a tool
    message has a ``tool_call_id`` of a call made before it, and the calls of a message that is
    not the last are answered by the tool messages right after it (:func:`sequence_problem`); at
    least one assistant message with a weight other than 0; ``tools`` a list of
    ``{"type": "function", "function": {"name", ...}}`` objects.

    Example:
        >>> openai_problems({"messages": [{"role": "user", "content": "hi"}]})
        ['no assistant message to train on']
    """
    if not isinstance(record, dict):
        return ["the record is not a JSON object"]
    problems = [f"unexpected top-level key {k!r}" for k in record if k not in _RECORD_KEYS]
    messages = record.get("messages")
    if not isinstance(messages, list) or not messages:
        return [*problems, "messages must be a non-empty list"]
    trainable = False
    for i, message in enumerate(messages):
        where = f"messages[{i}]"
        if not isinstance(message, dict):
            problems.append(f"{where} is not an object")
            continue
        role = message.get("role")
        problems += [f"{where}: unexpected key {k!r}" for k in message if k not in _MESSAGE_KEYS]
        if role not in OPENAI_ROLES:
            problems.append(f"{where}: unknown role {role!r}")
        content = message.get("content")
        calls = message.get("tool_calls")
        if content is None:
            if not (role == "assistant" and calls):
                problems.append(f"{where}: missing content")
        elif not isinstance(content, (str, list)):
            problems.append(f"{where}: content must be a string or a list of parts")
        if calls is not None and (role != "assistant" or not isinstance(calls, list)):
            problems.append(f"{where}: tool_calls must be a list, on an assistant message")
        elif calls is not None:
            problems += [
                f"{where}.tool_calls[{j}]: {p}"
                for j, c in enumerate(calls)
                for p in _call_problems(c)
            ]
        if role == "tool" and not message.get("tool_call_id"):
            problems.append(f"{where}: a tool message needs a tool_call_id")
        if "weight" in message:
            weight = message["weight"]
            if role != "assistant":
                problems.append(f"{where}: weight is only allowed on assistant messages")
            elif isinstance(weight, bool) or weight not in (0, 1):
                problems.append(f"{where}: weight must be 0 or 1, got {weight!r}")
        if role == "assistant" and message.get("weight", 1) != 0:
            trainable = True
    if not trainable:
        problems.append("no assistant message to train on")
    if all(isinstance(m, dict) for m in messages):
        sequence = sequence_problem(messages)
        if sequence not in (None, LeftOut.REASON):  # a missing id is reported per message
            problems.append(sequence)
    tools = record.get("tools")
    if tools is not None and (
        not isinstance(tools, list) or not all(isinstance(t, dict) for t in tools)
    ):
        problems.append("tools must be a list of objects")
    elif tools is not None:
        for i, tool in enumerate(tools):
            function = tool.get("function")
            if tool.get("type") != "function" or not (
                isinstance(function, dict) and isinstance(function.get("name"), str)
            ):
                problems.append(
                    f'tools[{i}] must be {{"type": "function", "function": {{"name", ...}}}}'
                )
    return problems


def openai_record(
    messages: list[dict[str, Any]], tools: str | None = None, metadata: str | None = None
) -> dict[str, Any]:
    """One OpenAI fine-tuning record from a row's ``messages`` (as Python), ``tools`` text and
    ``metadata`` text (whose boolean ``parallel_tool_calls``, kept there by the openai format,
    is written back)."""
    record: dict[str, Any] = {"messages": [openai_message(m) for m in messages]}
    if tools is not None:
        record["tools"] = json.loads(tools)
    if metadata is not None and '"parallel_tool_calls"' in metadata:
        kept = json.loads(metadata)
        parallel = kept.get("parallel_tool_calls") if isinstance(kept, dict) else None
        if isinstance(parallel, bool):
            record["parallel_tool_calls"] = parallel
    return record


def _dumps() -> Any:
    try:
        import orjson
    except ImportError:
        return lambda obj: json.dumps(obj, ensure_ascii=False, separators=(",", ":"))
    return lambda obj: orjson.dumps(obj).decode("utf-8")


def _native_writer() -> Any:
    """The core's batch writer (``_core.openai_jsonl``), or ``None`` without the extension."""
    try:
        from brightingest._core import openai_jsonl
    except ImportError:
        return None
    return openai_jsonl


def _openai_lines(batch: pa.RecordBatch, dumps: Any) -> bytes:
    """The general path: any layout with ``messages`` (and ``tools``), through Python objects."""
    messages = batch.column("messages").to_pylist()
    if "tools" in batch.schema.names:
        tools = batch.column("tools").to_pylist()
    else:
        tools = [None] * len(messages)
    if "metadata" in batch.schema.names:
        metadata = batch.column("metadata").to_pylist()
    else:
        metadata = [None] * len(messages)
    lines = [
        dumps(openai_record(m, t, d)) for m, t, d in zip(messages, tools, metadata, strict=True)
    ]
    return "".join(line + "\n" for line in lines).encode("utf-8")


@dataclass
class LeftOut:
    """Rows :func:`write_openai` left out because OpenAI's format cannot hold them: a ``tool``
    message that answers no call, either without a ``tool_call_id`` (from a source format
    without call ids: a ShareGPT observation with no ``function_call`` before it) or with an id
    that no earlier assistant message's call has; or a call that the conversation goes on
    without answering (see :func:`sequence_problem`). The normalized table keeps them, and
    Parquet/Arrow outputs and the trainer take them as they are.

    Also counts what is left out of rows that are written: message keys the source format did
    not map (the ``extra`` of a message, e.g. ``reasoning_content``), which OpenAI's format has
    no place for (its validator refuses unknown message keys).

    Attributes:
        rows: How many rows were left out.
        examples: The first few, as ``{"file", "line", "id", "reason"}``.
        keys: Per unmapped message key, how many messages had it (not written).
        key_examples: The first few rows with such keys, as ``{"file", "line", "id", "keys"}``.
        id_rows: Written rows with an ``id`` (not written: OpenAI's format has no row id).
        metadata_rows: Written rows with ``metadata`` (the fields their format did not map;
            not written, except a boolean ``parallel_tool_calls``).
        metadata_keys: The metadata keys seen in the first rows of the first batches (up to
            20), for the message.
    """

    rows: int = 0
    examples: list[dict[str, Any]] = field(default_factory=list)
    keys: dict[str, int] = field(default_factory=dict)
    key_examples: list[dict[str, Any]] = field(default_factory=list)
    id_rows: int = 0
    metadata_rows: int = 0
    metadata_keys: list[str] = field(default_factory=list)
    #: Batches counted so far (metadata keys are sampled from the first ones).
    batches: int = 0

    REASON = "a tool message answers no call (OpenAI's format needs its tool_call_id)"
    #: A tool message whose ``tool_call_id`` is not the id of a call of the assistant message
    #: right before its run of tool messages (or answers it twice): OpenAI refuses a tool
    #: message that is not "a response to a preceding message with tool_calls".
    REASON_UNKNOWN_ID = (
        "a tool message does not answer a call of the assistant message right before it"
    )
    #: A call that the tool messages right after it do not answer, while the conversation goes
    #: on: OpenAI refuses "an assistant message with 'tool_calls' [not] followed by tool
    #: messages responding to each 'tool_call_id'". Calls in the last message are the trained
    #: answer itself and need no result.
    REASON_UNANSWERED_CALL = "a tool call is not answered by the tool messages right after it"

    def summary(self) -> str:
        """``"2 rows left out: <reason>, e.g. data.jsonl:7"``."""
        where = ", ".join(f"{e['file']}:{e['line']}" for e in self.examples[:3])
        plural = "row" if self.rows == 1 else "rows"
        reasons = list(dict.fromkeys(e["reason"] for e in self.examples)) or [self.REASON]
        return f"{self.rows:,} {plural} left out: {'; '.join(reasons)}, e.g. {where}"

    def keys_summary(self) -> str:
        """``"message keys not written (OpenAI's format has none): reasoning_content in 3
        messages, e.g. data.jsonl:4; --to parquet keeps them"``."""
        counts = ", ".join(
            f"{k} in {n:,} {'message' if n == 1 else 'messages'}"
            for k, n in sorted(self.keys.items(), key=lambda kv: (-kv[1], kv[0]))[:5]
        )
        if len(self.keys) > 5:
            counts += f" and {len(self.keys) - 5} more"
        where = ", ".join(f"{e['file']}:{e['line']}" for e in self.key_examples[:3])
        return (
            f"message keys not written (OpenAI's format has no place for them): {counts}, "
            f"e.g. {where}; --to parquet or --to arrow keeps them"
        )

    def row_fields_summary(self) -> str | None:
        """``"row fields not written (...): metadata of 17 rows (conversation_id, ...), id of
        17 rows; --to parquet or --to arrow keeps them"``, or ``None`` when there are none."""
        parts = []
        if self.metadata_rows:
            keys = ", ".join(self.metadata_keys[:6]) + (
                " ..." if len(self.metadata_keys) > 6 else ""
            )
            plural = "row" if self.metadata_rows == 1 else "rows"
            parts.append(
                f"metadata of {self.metadata_rows:,} {plural}" + (f" ({keys})" if keys else "")
            )
        if self.id_rows:
            parts.append(f"id of {self.id_rows:,} {'row' if self.id_rows == 1 else 'rows'}")
        if not parts:
            return None
        return (
            "row fields not written (OpenAI's format has no place for them): "
            f"{', '.join(parts)}; --to parquet or --to arrow keeps them"
        )


_REASONS = (LeftOut.REASON, LeftOut.REASON_UNKNOWN_ID, LeftOut.REASON_UNANSWERED_CALL)


#: Metadata texts that hold only a boolean ``parallel_tool_calls`` (written back by the writer).
_ONLY_PARALLEL_FLAG = frozenset(
    json.dumps({"parallel_tool_calls": v}, separators=sep)
    for v in (True, False)
    for sep in ((",", ":"), (", ", ": "))
)
_PARALLEL_FLAG_LENGTHS = frozenset(len(t.encode()) for t in _ONLY_PARALLEL_FLAG)


def _rows_of_length(column: Any, lengths: frozenset[int]) -> list[int]:
    """The rows of a string column whose UTF-8 text has one of ``lengths`` bytes (nulls have
    none). The lengths come from the offsets: no text is read, and a batch whose texts are all
    longer or shorter costs two vectorized calls."""
    import pyarrow.compute as pc

    sizes = pc.binary_length(column)
    span = pc.min_max(sizes).as_py()
    lo, hi = min(lengths), max(lengths)
    if span["min"] is None or span["min"] > hi or span["max"] < lo:
        return []
    near = pc.and_(pc.greater_equal(sizes, lo), pc.less_equal(sizes, hi))
    hits = pc.indices_nonzero(pc.fill_null(near, False)).to_pylist()
    return [i for i in hits if sizes[i].as_py() in lengths]


def _count_unwritten_row_fields(batch: pa.RecordBatch, report: LeftOut) -> None:
    """Count the rows of ``batch`` with an ``id`` or ``metadata``, which the OpenAI writer does
    not write (a boolean ``parallel_tool_calls`` is written: a row whose metadata holds only
    that is not counted); note the first rows' metadata keys."""
    import pyarrow.compute as pc

    names = batch.schema.names
    if "id" in names:
        report.id_rows += batch.num_rows - batch.column("id").null_count
    if "metadata" not in names:
        return
    metadata = batch.column("metadata")
    with_metadata = batch.num_rows - metadata.null_count
    if not with_metadata:
        return
    # Metadata that is only a boolean parallel_tool_calls is all written. Only texts of that
    # length can be it; lengths come from the offsets, so no row's text is read for the rest.
    for i in _rows_of_length(metadata, _PARALLEL_FLAG_LENGTHS):
        if metadata[i].as_py() in _ONLY_PARALLEL_FLAG:
            with_metadata -= 1
    report.metadata_rows += with_metadata
    report.batches += 1
    if len(report.metadata_keys) < 20 and report.batches <= 16:
        # The keys of the first rows of the first batches (a sample: parsing every row's
        # metadata would cost more than writing it).
        for text in pc.drop_null(metadata.slice(0, 64)).to_pylist()[:16]:
            try:
                value = json.loads(text)
            except ValueError:
                continue
            for key in value if isinstance(value, dict) else []:
                written = key == "parallel_tool_calls" and isinstance(value[key], bool)
                if not written and key not in report.metadata_keys:
                    report.metadata_keys.append(key)
            if len(report.metadata_keys) >= 20:
                break


def _count_unwritten_keys(batch: pa.RecordBatch, report: LeftOut) -> None:
    """Count the unmapped message keys (``extra``) of ``batch``, which the OpenAI writer does
    not write."""
    import pyarrow.compute as pc

    messages = batch.column("messages")
    flat = pc.list_flatten(messages)
    if len(flat) == 0 or "extra" not in [f.name for f in flat.type]:
        return
    extra = flat.field("extra")
    if extra.null_count == len(extra):
        return
    keep = pc.is_valid(extra)
    rows = pc.filter(pc.list_parent_indices(messages), keep).to_pylist()
    names = batch.schema.names
    seen_rows: set[int] = set()
    for row, text in zip(rows, pc.filter(extra, keep).to_pylist(), strict=True):
        try:
            value = json.loads(text)
        except ValueError:
            value = {"extra": text}
        keys = list(value) if isinstance(value, dict) else ["extra"]
        for key in keys:
            report.keys[key] = report.keys.get(key, 0) + 1
        if row not in seen_rows and len(report.key_examples) < 5:
            seen_rows.add(row)
            report.key_examples.append(
                {
                    key: batch.column(col)[row].as_py() if col in names else None
                    for key, col in (("file", "source_file"), ("line", "source_line"), ("id", "id"))
                }
                | {"keys": keys}
            )


def _unanswered_tools(batch: pa.RecordBatch) -> list[tuple[int, str]]:
    """The rows whose tool messages OpenAI's format cannot hold, with the reason: a tool message
    without ``tool_call_id``, or one whose id no earlier assistant message's call has. The core
    checks the normalized layout; other layouts take the Python path below."""
    try:
        from brightingest._core import unanswered_tools
    except ImportError:
        pass
    else:
        try:
            return [(row, _REASONS[why]) for row, why in unanswered_tools(batch)]
        except TypeError:  # not the normalized layout
            pass
    return _unanswered_tools_py(batch)


def _unanswered_tools_py(batch: pa.RecordBatch) -> list[tuple[int, str]]:
    import pyarrow as pa
    import pyarrow.compute as pc

    messages = batch.column("messages")
    flat = pc.list_flatten(messages)
    if len(flat) == 0:
        return []
    role = flat.field("role")
    if pa.types.is_dictionary(role.type):
        role = role.cast(role.type.value_type)
    look = pc.equal(role, "tool")
    if "tool_calls" in [f.name for f in flat.type]:
        look = pc.or_(look, pc.is_valid(flat.field("tool_calls")))
    if not pc.any(look).as_py():
        return []
    rows = pc.unique(pc.filter(pc.list_parent_indices(messages), look)).to_pylist()
    found = []
    for row in rows:
        reason = sequence_problem(messages[row].as_py())
        if reason is not None:
            found.append((row, reason))
    return sorted(found)


def _call_ids(calls: Any) -> list[str]:
    if isinstance(calls, str):
        try:
            calls = json.loads(calls)
        except ValueError:
            return []
    if not isinstance(calls, list):
        return []
    return [c["id"] for c in calls if isinstance(c, dict) and isinstance(c.get("id"), str)]


def sequence_problem(messages: list[dict[str, Any]]) -> str | None:
    """Why OpenAI's format cannot hold this sequence of tool calls and results (one of
    :class:`LeftOut`'s reasons), or ``None``: every tool message answers, by ``tool_call_id``
    and once, a call of the assistant message right before its run of tool messages, and every
    call is answered in that run, unless its message is the last one."""
    pending: list[str] = []  # the calls the current run of tool messages may still answer
    for i, message in enumerate(messages):
        role = message.get("role")
        if role != "tool" and pending:
            return LeftOut.REASON_UNANSWERED_CALL
        if role == "assistant":
            ids = _call_ids(message.get("tool_calls"))
            if i + 1 < len(messages):
                pending = ids
        elif role == "tool":
            answered = message.get("tool_call_id")
            if answered is None:
                return LeftOut.REASON
            if answered not in pending:
                return LeftOut.REASON_UNKNOWN_ID
            pending.remove(answered)
    return LeftOut.REASON_UNANSWERED_CALL if pending else None


def _leave_out(batch: pa.RecordBatch, left_out: LeftOut) -> pa.RecordBatch:
    import pyarrow as pa

    bad = _unanswered_tools(batch)
    if not bad:
        return batch
    names = batch.schema.names
    for i, reason in bad:
        left_out.rows += 1
        if len(left_out.examples) < 5:
            left_out.examples.append(
                {
                    key: batch.column(col)[i].as_py() if col in names else None
                    for key, col in (("file", "source_file"), ("line", "source_line"), ("id", "id"))
                }
                | {"reason": reason}
            )
    drop = {i for i, _ in bad}
    return batch.filter(pa.array([i not in drop for i in range(batch.num_rows)]))


def _write_openai_to(handle: IO[bytes], data: Any, left_out: LeftOut | None = None) -> int:
    schema, batches = _batches(data)
    if "messages" not in schema.names:
        raise ValueError("write_openai needs a table with a 'messages' column (CHAT_SCHEMA)")
    native = _native_writer()
    dumps = _dumps()
    rows = 0
    report = left_out if left_out is not None else LeftOut()
    for batch in batches:
        batch = _leave_out(batch, report)
        _count_unwritten_keys(batch, report)
        _count_unwritten_row_fields(batch, report)
        text = None
        if native is not None:
            try:
                text = native(batch)
            except TypeError:  # not the normalized layout (e.g. large_string): general path
                native = None
        if text is None:
            text = _openai_lines(batch, dumps)
        handle.write(text)
        rows += batch.num_rows
    if left_out is None and report.rows:
        logger.warning("write_openai: %s", report.summary())
    if left_out is None and report.keys:
        logger.warning("write_openai: %s", report.keys_summary())
    row_fields = report.row_fields_summary() if left_out is None else None
    if row_fields:
        logger.info("write_openai: %s", row_fields)
    return rows


def write_openai(table: Any, path: StrPath, *, left_out: LeftOut | None = None) -> int:
    """Write OpenAI chat fine-tuning JSONL, atomically.

    Every line is valid under OpenAI's rules: rows the format cannot hold (see :class:`LeftOut`)
    are left out, and unmapped message keys (``extra``) are not written; both are counted in
    ``left_out`` when given, else logged as a warning.

    Args:
        table: Rows in the normalized chat schema (table, batch, batches or Arrow stream).
        path: The destination file, or ``"-"`` for standard output (not atomic).
        left_out: Collects the rows left out.

    Returns:
        Rows written.

    Raises:
        ValueError: ``table`` has no ``messages`` column.
    """
    if str(path) == "-":
        sys.stdout.flush()
        rows = _write_openai_to(sys.stdout.buffer, table, left_out)
        sys.stdout.buffer.flush()
        return rows
    with atomic_output(path, "wb") as handle:
        return _write_openai_to(handle, table, left_out)


def write_parquet(table: Any, path: StrPath, *, compression: str = "zstd") -> int:
    """Write Parquet, atomically.

    Args:
        table: Rows (table, batch, batches or Arrow stream).
        path: The destination file.
        compression: Parquet compression codec.

    Returns:
        Rows written.
    """
    import pyarrow.parquet as pq

    schema, batches = _batches(table)
    rows = 0
    with atomic_output(path, "wb") as handle:
        with pq.ParquetWriter(handle, schema, compression=compression) as writer:
            for batch in batches:
                writer.write_batch(batch)
                rows += batch.num_rows
    return rows


class _DictionaryUnifier:
    """Re-encode dictionary columns against append-only dictionaries.

    The IPC file format allows one dictionary per field plus deltas, never a replacement; the
    core's batches each carry their own small dictionaries (file names, format names).
    """

    def __init__(self, schema: pa.Schema) -> None:
        import pyarrow as pa

        self.columns = [i for i, f in enumerate(schema) if pa.types.is_dictionary(f.type)]
        self.values: dict[int, dict[Any, int]] = {i: {} for i in self.columns}

    def __call__(self, batch: pa.RecordBatch) -> pa.RecordBatch:
        import pyarrow as pa
        import pyarrow.compute as pc

        if not self.columns:
            return batch
        arrays = list(batch.columns)
        for i in self.columns:
            column = arrays[i]
            known = self.values[i]
            dictionary = column.dictionary.to_pylist()
            remap = [known.setdefault(v, len(known)) for v in dictionary]
            index_type = column.type.index_type
            indices = pc.take(pa.array(remap, type=index_type), column.indices)
            arrays[i] = pa.DictionaryArray.from_arrays(
                indices, pa.array(list(known), type=column.type.value_type)
            )
        return pa.RecordBatch.from_arrays(arrays, schema=batch.schema)


def write_arrow(table: Any, path: StrPath) -> int:
    """Write an Arrow IPC file (Feather v2, uncompressed), atomically.

    Args:
        table: Rows (table, batch, batches or Arrow stream).
        path: The destination file.

    Returns:
        Rows written.
    """
    import pyarrow as pa

    schema, batches = _batches(table)
    unify = _DictionaryUnifier(schema)
    options = pa.ipc.IpcWriteOptions(emit_dictionary_deltas=True)
    rows = 0
    with atomic_output(path, "wb") as handle:
        with pa.ipc.new_file(handle, schema, options=options) as writer:
            for batch in batches:
                writer.write_batch(unify(batch))
                rows += batch.num_rows
    return rows


def write(
    table: Any,
    path: StrPath,
    to: Literal["openai", "parquet", "arrow"] = "openai",
    *,
    left_out: LeftOut | None = None,
) -> int:
    """Write ``table`` to ``path`` as ``to``.

    Args:
        table: Rows (table, batch, batches or Arrow stream).
        path: The destination file.
        to: ``"openai"`` (JSONL), ``"parquet"`` or ``"arrow"`` (IPC file).
        left_out: For ``"openai"``: collects the rows OpenAI's format cannot hold.

    Returns:
        Rows written.

    Raises:
        ValueError: Unknown ``to``.
    """
    if to == "openai":
        return write_openai(table, path, left_out=left_out)
    if to == "parquet":
        return write_parquet(table, path)
    if to == "arrow":
        return write_arrow(table, path)
    raise ValueError(f"unknown output format {to!r}: expected 'openai', 'parquet' or 'arrow'")
