"""The contenders: brightingest and what users would pick instead, building the same messages.

Every peer turns a BrightRun v4 or OpenAI JSONL file into the normalized ``messages`` column,
a list of ``{role, content, weight}`` per row, exactly as brightingest's built-in mappings do:

- BrightRun v4: skip the ``{"_meta": ...}`` line; ``system_prompt`` (when present and not empty)
  + ``conversation_history`` (assistant turns weight 0, others null) + ``current_user_input``
  (user) + ``target_response`` (assistant, weight :data:`TARGET_WEIGHT`).
- OpenAI: ``messages`` as they are, with ``content`` null (an assistant tool call) as ``""`` and
  ``weight`` as given (null when absent).

Each peer is what a competent user would write with that library, with its best options
(explicit schemas that read only the needed fields, vectorized list assembly, batched ``map``):

========== ===============================================================================
json-loop  ``json.loads`` per line, skip ``_meta``, build the message dicts in Python
orjson     the same with ``orjson.loads``
pyarrow    ``pyarrow.json.read_json`` (explicit schema) + vectorized list assembly
polars     ``polars.read_ndjson`` (explicit schema) + list/struct expressions
duckdb     ``read_ndjson`` (explicit columns) + SQL ``list_concat`` / ``list_transform``, to Arrow
datasets   Hugging Face ``load_dataset("json")`` into a fresh cache dir + batched ``map``
========== ===============================================================================

Peers build only ``role``/``content``/``weight``; brightingest's ingest also builds ``name``,
``tool_calls``, ``tool_call_id``, ``id``, ``metadata`` (every other field, as JSON text) and
the line accounting, so the comparison favours the peers.

The brightingest side (:data:`BRIGHTINGEST`): the raw read (``_core.read_jsonl``, every line as
compact JSON text) whole and streamed, and the full ingest (``brightingest.load``) whole and
streamed (``brightingest.stream``).
"""

from __future__ import annotations

import gzip
import io
import json
import shutil
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, TypeAlias, cast

import pyarrow as pa

__all__ = [
    "ALL",
    "BRIGHTINGEST",
    "PEERS",
    "TARGET_WEIGHT",
    "Contender",
    "Message",
    "Result",
    "core_available",
    "core_unavailable_reason",
    "messages_of",
    "row_count",
]

#: The weight brightingest gives ``target_response`` (``formats/brightrun_v4.py`` leaves it
#: unset: null, which means "trained" for an assistant message).
TARGET_WEIGHT: int | None = None

#: Formats every peer implements.
PEER_FORMATS = ("brightrun-v4", "openai")

Message: TypeAlias = dict[str, Any]
#: What a contender returns: an Arrow table with a ``messages`` column, a list of message lists
#: (the plain loops), or a row count (streamed contenders, which keep nothing).
Result: TypeAlias = pa.Table | list[list[Message]] | int


@dataclass(frozen=True)
class Contender:
    """One way to read a file.

    Attributes:
        name: Short name, e.g. ``polars``.
        library: The distribution whose version is reported, e.g. ``polars``.
        operation: ``ingest`` (to normalized messages), ``read`` or ``stream-read`` (raw rows),
            ``stream-ingest`` (normalized batches, nothing kept).
        run: ``run(path, fmt, threads)`` -> :data:`Result`.
        multithreaded: Whether ``threads`` changes anything.
        compressions: Inputs it reads: ``None`` (plain), ``"gzip"``, ``"zstd"``.
        formats: Formats it implements.
        note: How it does it, for the report.
        imports: Modules to import before the clock starts (import time is not measured).
        warm: Called before the clock starts, for one-time work every process repeats before
            its first read (brightingest: discovering and importing the format plugins).
    """

    name: str
    library: str
    operation: str
    run: Callable[[Path, str, int], Result]
    multithreaded: bool
    compressions: tuple[str | None, ...] = (None, "gzip", "zstd")
    formats: tuple[str, ...] = PEER_FORMATS
    note: str = ""
    imports: tuple[str, ...] = ()
    warm: Callable[[], object] | None = None

    @property
    def is_brightingest(self) -> bool:
        """True for brightingest's own operations (not a peer)."""
        return self.library == "brightingest"


def row_count(result: Result) -> int:
    """Rows in a contender's result."""
    if isinstance(result, int):
        return result
    if isinstance(result, pa.Table):
        return int(result.num_rows)
    return len(result)


def messages_of(result: Result) -> list[list[Message]]:
    """The messages of a result as Python lists of ``{role, content, weight}`` (for tests)."""
    if isinstance(result, int):
        raise TypeError("a streamed result keeps no rows")
    rows = result.column("messages").to_pylist() if isinstance(result, pa.Table) else result
    return [
        [{"role": m["role"], "content": m["content"], "weight": m["weight"]} for m in row]
        for row in rows
    ]


# --------------------------------------------------------------------------------------------
# The plain loops
# --------------------------------------------------------------------------------------------


def _open_text(path: Path) -> IO[bytes]:
    if path.suffix == ".gz":
        return cast(IO[bytes], gzip.open(path, "rb"))
    if path.suffix == ".zst":
        import zstandard

        return io.BufferedReader(zstandard.ZstdDecompressor().stream_reader(path.open("rb")))
    return path.open("rb")


def _brightrun_messages(row: dict[str, Any]) -> list[Message]:
    messages: list[Message] = []
    system = row.get("system_prompt")
    if system:
        messages.append({"role": "system", "content": system, "weight": None})
    for turn in row.get("conversation_history") or ():
        role = turn["role"]
        weight = 0 if role == "assistant" else None
        messages.append({"role": role, "content": turn["content"], "weight": weight})
    messages.append({"role": "user", "content": row["current_user_input"], "weight": None})
    messages.append(
        {"role": "assistant", "content": row["target_response"], "weight": TARGET_WEIGHT}
    )
    return messages


def _openai_messages(row: dict[str, Any]) -> list[Message]:
    return [
        {"role": m["role"], "content": m.get("content") or "", "weight": m.get("weight")}
        for m in row["messages"]
    ]


def _loop(loads: Callable[[bytes], Any]) -> Callable[[Path, str, int], Result]:
    def run(path: Path, fmt: str, threads: int) -> Result:
        build = _brightrun_messages if fmt == "brightrun-v4" else _openai_messages
        out: list[list[Message]] = []
        with _open_text(path) as f:
            for line in f:
                try:
                    row = loads(line)
                except ValueError:  # invalid JSON or UTF-8: skipped, as brightingest does
                    continue
                if "_meta" in row and len(row) == 1:
                    continue
                out.append(build(row))
        return out

    return run


def _orjson_loads(line: bytes) -> Any:
    import orjson

    return orjson.loads(line)


# --------------------------------------------------------------------------------------------
# pyarrow: read_json with an explicit schema, then vectorized list assembly
# --------------------------------------------------------------------------------------------


def _pa_message_type() -> pa.DataType:
    return pa.struct([("role", pa.string()), ("content", pa.string()), ("weight", pa.int8())])


def _pyarrow(path: Path, fmt: str, threads: int) -> Result:
    import pyarrow.json as pj

    pa.set_cpu_count(max(1, threads))
    pa.set_io_thread_count(max(1, threads))
    turn = pa.struct([("role", pa.string()), ("content", pa.string())])
    if fmt == "brightrun-v4":
        schema = pa.schema(
            [
                ("system_prompt", pa.string()),
                ("conversation_history", pa.list_(turn)),
                ("current_user_input", pa.string()),
                ("target_response", pa.string()),
            ]
        )
    else:
        schema = pa.schema([("messages", pa.list_(_pa_message_type()))])
    source = pa.input_stream(str(path), compression="detect")
    table = pj.read_json(
        source,
        read_options=pj.ReadOptions(use_threads=threads > 1, block_size=8 << 20),
        parse_options=pj.ParseOptions(explicit_schema=schema, unexpected_field_behavior="ignore"),
    )
    build = _pa_brightrun if fmt == "brightrun-v4" else _pa_openai
    if fmt == "brightrun-v4":  # the _meta line reads as a row of nulls
        table = table.filter(table["current_user_input"].is_valid())
    chunks = [build(batch) for batch in table.to_batches()]
    column = pa.chunked_array(chunks, type=pa.list_(_pa_message_type()))
    return pa.table({"messages": column})


def _pa_openai(batch: pa.RecordBatch) -> pa.Array:
    import numpy as np
    import pyarrow.compute as pc

    messages = batch.column("messages")
    lengths = pc.fill_null(pc.list_value_length(messages), 0).to_numpy()
    values = pc.list_flatten(messages)
    offsets = np.zeros(len(lengths) + 1, dtype=np.int32)
    np.cumsum(lengths, out=offsets[1:])
    items = pa.StructArray.from_arrays(
        [values.field("role"), pc.fill_null(values.field("content"), ""), values.field("weight")],
        names=["role", "content", "weight"],
    )
    return pa.ListArray.from_arrays(pa.array(offsets), items)


def _pa_brightrun(batch: pa.RecordBatch) -> pa.Array:
    import numpy as np
    import pyarrow.compute as pc

    n = batch.num_rows
    system = batch.column("system_prompt")
    has_system = pc.fill_null(pc.not_equal(system, ""), False)
    has_sys = has_system.to_numpy(zero_copy_only=False).astype(np.int64)
    history = batch.column("conversation_history")
    hist_len = pc.fill_null(pc.list_value_length(history), 0).to_numpy().astype(np.int64)
    turns = pc.list_flatten(history)
    n_sys, n_hist = int(has_sys.sum()), len(turns)

    counts = has_sys + hist_len + 2
    offsets = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(counts, out=offsets[1:])
    first = offsets[:-1] + has_sys  # position of each row's first history turn

    # Source order: system messages, history turns, user messages, target messages.
    dest = np.empty(n_sys + n_hist + 2 * n, dtype=np.int64)
    dest[:n_sys] = offsets[:-1][has_sys == 1]
    hist_row = np.repeat(np.arange(n), hist_len)
    hist_start = np.repeat(np.cumsum(hist_len) - hist_len, hist_len)
    dest[n_sys : n_sys + n_hist] = first[hist_row] + (np.arange(n_hist) - hist_start)
    dest[n_sys + n_hist : n_sys + n_hist + n] = first + hist_len
    dest[n_sys + n_hist + n :] = first + hist_len + 1
    order = np.empty_like(dest)
    order[dest] = np.arange(len(dest))
    take = pa.array(order)

    hist_role = turns.field("role")
    int8 = pa.int8()
    roles = pa.concat_arrays(
        [
            pa.repeat(pa.scalar("system"), n_sys),
            hist_role.cast(pa.string()),
            pa.repeat(pa.scalar("user"), n),
            pa.repeat(pa.scalar("assistant"), n),
        ]
    )
    contents = pa.concat_arrays(
        [
            system.filter(has_system),
            turns.field("content"),
            batch.column("current_user_input"),
            batch.column("target_response"),
        ]
    )
    weights = pa.concat_arrays(
        [
            pa.nulls(n_sys, int8),
            pc.if_else(pc.equal(hist_role, "assistant"), pa.scalar(0, int8), pa.scalar(None, int8)),
            pa.nulls(n, int8),
            pa.repeat(pa.scalar(TARGET_WEIGHT, int8), n),
        ]
    )
    items = pa.StructArray.from_arrays(
        [roles.take(take), contents.take(take), weights.take(take)],
        names=["role", "content", "weight"],
    )
    return pa.ListArray.from_arrays(pa.array(offsets.astype(np.int32)), items)


# --------------------------------------------------------------------------------------------
# polars: read_ndjson with an explicit schema, then expressions
# --------------------------------------------------------------------------------------------


def _polars(path: Path, fmt: str, threads: int) -> Result:
    # Polars sizes its thread pool at import; compare.py sets POLARS_MAX_THREADS in the child.
    import polars as pl

    w = pl.Int8
    turn = pl.Struct({"role": pl.String, "content": pl.String})
    message = pl.Struct({"role": pl.String, "content": pl.String, "weight": w})

    def msg(role: Any, content: Any, weight: Any) -> Any:
        return pl.struct(role=role, content=content, weight=weight)

    if fmt == "brightrun-v4":
        schema: dict[str, Any] = {
            "system_prompt": pl.String,
            "conversation_history": pl.List(turn),
            "current_user_input": pl.String,
            "target_response": pl.String,
        }
        df = pl.read_ndjson(path, schema=schema)
        system = pl.col("system_prompt")
        el = pl.element().struct
        messages = pl.concat_list(
            pl.when(system.is_not_null() & (system != ""))
            .then(pl.concat_list(msg(pl.lit("system"), system, pl.lit(None, dtype=w))))
            .otherwise(pl.lit([], dtype=pl.List(message))),
            pl.col("conversation_history")
            .fill_null(pl.lit([], dtype=pl.List(turn)))
            .list.eval(
                msg(
                    el.field("role"),
                    el.field("content"),
                    pl.when(el.field("role") == "assistant")
                    .then(pl.lit(0, dtype=w))
                    .otherwise(pl.lit(None, dtype=w)),
                )
            ),
            msg(pl.lit("user"), pl.col("current_user_input"), pl.lit(None, dtype=w)),
            msg(pl.lit("assistant"), pl.col("target_response"), pl.lit(TARGET_WEIGHT, dtype=w)),
        )
        out = df.filter(pl.col("current_user_input").is_not_null()).select(messages=messages)
    else:
        df = pl.read_ndjson(path, schema={"messages": pl.List(message)})
        el = pl.element().struct
        out = df.select(
            messages=pl.col("messages").list.eval(
                msg(el.field("role"), el.field("content").fill_null(""), el.field("weight"))
            )
        )
    return out.to_arrow()


# --------------------------------------------------------------------------------------------
# DuckDB: read_ndjson with explicit columns, SQL list functions, to Arrow
# --------------------------------------------------------------------------------------------

_DUCK_BRIGHTRUN = """
SELECT list_concat(
    CASE WHEN system_prompt IS NULL OR system_prompt = '' THEN []
         ELSE [{'role': 'system', 'content': system_prompt, 'weight': NULL::TINYINT}] END,
    list_transform(coalesce(conversation_history, []), lambda t: {
        'role': t.role, 'content': t.content,
        'weight': CASE WHEN t.role = 'assistant' THEN 0::TINYINT ELSE NULL::TINYINT END}),
    [{'role': 'user', 'content': current_user_input, 'weight': NULL::TINYINT},
     {'role': 'assistant', 'content': target_response, 'weight': $target::TINYINT}]
) AS messages
FROM read_ndjson($path, columns = {
    'system_prompt': 'VARCHAR',
    'conversation_history': 'STRUCT(role VARCHAR, content VARCHAR)[]',
    'current_user_input': 'VARCHAR',
    'target_response': 'VARCHAR'})
WHERE current_user_input IS NOT NULL
"""

_DUCK_OPENAI = """
SELECT list_transform(messages, lambda m: {
    'role': m.role, 'content': coalesce(m.content, ''), 'weight': m.weight}) AS messages
FROM read_ndjson($path, columns = {
    'messages': 'STRUCT(role VARCHAR, content VARCHAR, weight TINYINT)[]'})
"""


def _duckdb(path: Path, fmt: str, threads: int) -> Result:
    import duckdb

    with duckdb.connect(config={"threads": max(1, threads)}) as con:
        if fmt == "brightrun-v4":
            params: dict[str, Any] = {"path": str(path), "target": TARGET_WEIGHT}
            rel = con.sql(_DUCK_BRIGHTRUN, params=params)
        else:
            rel = con.sql(_DUCK_OPENAI, params={"path": str(path)})
        table = rel.to_arrow_table()
    assert isinstance(table, pa.Table)
    return table


# --------------------------------------------------------------------------------------------
# Hugging Face datasets: load_dataset("json") into a fresh (cold) cache, then a batched map
# --------------------------------------------------------------------------------------------


@contextmanager
def _cold_cache() -> Iterator[str]:
    directory = tempfile.mkdtemp(prefix="brightingest-bench-hf-")
    try:
        yield directory
    finally:
        shutil.rmtree(directory, ignore_errors=True)


def _datasets(path: Path, fmt: str, threads: int) -> Result:
    import datasets

    datasets.disable_progress_bars()
    datasets.logging.set_verbosity_error()

    def build_brightrun(batch: dict[str, list[Any]]) -> dict[str, list[Any]]:
        out: list[list[Message]] = []
        for i, user in enumerate(batch["current_user_input"]):
            if user is None:  # the _meta line
                continue
            row = {
                "system_prompt": batch["system_prompt"][i],
                "conversation_history": batch["conversation_history"][i],
                "current_user_input": user,
                "target_response": batch["target_response"][i],
            }
            out.append(_brightrun_messages(row))
        return {"messages": out}

    def build_openai(batch: dict[str, list[Any]]) -> dict[str, list[Any]]:
        # Messages with and without tool calls differ in shape: datasets types them as Json
        # and hands them to map() as JSON text.
        return {
            "messages": [
                _openai_messages(
                    {"messages": [json.loads(m) if isinstance(m, str) else m for m in row]}
                )
                for row in batch["messages"]
            ]
        }

    with _cold_cache() as cache:
        ds = datasets.load_dataset("json", data_files=str(path), cache_dir=cache, split="train")
        build = build_brightrun if fmt == "brightrun-v4" else build_openai
        message = {"role": datasets.Value("string"), "content": datasets.Value("string")}
        message["weight"] = datasets.Value("int8")
        features = datasets.Features({"messages": datasets.List(message)})
        mapped = ds.map(
            build,
            batched=True,
            batch_size=1000,
            remove_columns=ds.column_names,
            features=features,
        )
        # Memory-mapped from the cache file: still readable after the directory is removed.
        table = mapped.data.table
    assert isinstance(table, pa.Table)
    return table


# --------------------------------------------------------------------------------------------
# brightingest
# --------------------------------------------------------------------------------------------


def core_unavailable_reason() -> str | None:
    """Why ``brightingest._core`` cannot be imported, or ``None`` if it can."""
    try:
        import brightingest._core  # noqa: F401
    except ImportError as exc:
        return f"brightingest._core is not built/installed ({exc}); run `make build-prod`"
    return None


def core_available() -> bool:
    """Whether the compiled core can be imported."""
    return core_unavailable_reason() is None


def _bi_read(path: Path, fmt: str, threads: int) -> Result:
    from brightingest import _core
    from brightingest.api import _chunk_bytes

    # Work units sized as load() sizes them for a whole table (8 MiB on large plain files).
    chunk = _chunk_bytes(path.stat().st_size, threads, whole_table=True)
    return pa.table(_core.read_jsonl([str(path)], formats=None, threads=threads, chunk_bytes=chunk))


def _bi_stream_read(path: Path, fmt: str, threads: int) -> Result:
    from brightingest import _core

    reader = pa.RecordBatchReader.from_stream(
        _core.read_jsonl([str(path)], formats=None, threads=threads)
    )
    return sum(batch.num_rows for batch in reader)


def _bi_ingest(path: Path, fmt: str, threads: int) -> Result:
    import brightingest

    table = brightingest.load(str(path), format=fmt, threads=threads, progress=False).table
    assert isinstance(table, pa.Table)
    return table


def _bi_stream_ingest(path: Path, fmt: str, threads: int) -> Result:
    import brightingest

    stream = brightingest.stream(str(path), format=fmt, threads=threads, progress=False)
    return sum(batch.num_rows for batch in stream)


ALL_FORMATS = ("brightrun-v4", "openai", "sharegpt", "alpaca", "prompt-completion")

#: pyarrow too: brightingest's tables are pyarrow's, as duckdb's and polars' results are.
_BI_IMPORTS = ("pyarrow", "brightingest", "brightingest._core", "brightingest.api")


def _bi_warm() -> object:
    import brightingest

    return brightingest.formats()


#: brightingest's operations, by name.
BRIGHTINGEST: dict[str, Contender] = {
    c.name: c
    for c in (
        Contender(
            "brightingest ingest",
            "brightingest",
            "ingest",
            _bi_ingest,
            True,
            formats=ALL_FORMATS,
            imports=_BI_IMPORTS,
            warm=_bi_warm,
            note="brightingest.load(path, format=...).table: the full normalized chat table",
        ),
        Contender(
            "brightingest stream-ingest",
            "brightingest",
            "stream-ingest",
            _bi_stream_ingest,
            True,
            formats=ALL_FORMATS,
            imports=_BI_IMPORTS,
            warm=_bi_warm,
            note="brightingest.stream(...): normalized batches, counted and dropped",
        ),
        Contender(
            "brightingest read",
            "brightingest",
            "read",
            _bi_read,
            True,
            formats=ALL_FORMATS,
            imports=_BI_IMPORTS,
            warm=_bi_warm,
            note=(
                "_core.read_jsonl(formats=None) -> pa.table: each line as compact JSON text "
                "(work units sized as load() sizes them)"
            ),
        ),
        Contender(
            "brightingest stream-read",
            "brightingest",
            "stream-read",
            _bi_stream_read,
            True,
            formats=ALL_FORMATS,
            imports=_BI_IMPORTS,
            warm=_bi_warm,
            note="the same, streamed through RecordBatchReader and dropped",
        ),
    )
}

#: The peers, by name (all build the normalized messages: operation ``ingest``).
PEERS: dict[str, Contender] = {
    c.name: c
    for c in (
        Contender(
            "json-loop",
            "python",
            "ingest",
            _loop(json.loads),
            False,
            note="json.loads per line, skip _meta, build message dicts",
            imports=("json",),
        ),
        Contender(
            "orjson-loop",
            "orjson",
            "ingest",
            _loop(_orjson_loads),
            False,
            note="orjson.loads per line, same loop",
            imports=("orjson",),
        ),
        Contender(
            "pyarrow",
            "pyarrow",
            "ingest",
            _pyarrow,
            True,
            note="pyarrow.json.read_json (explicit schema) + vectorized list assembly",
            imports=("pyarrow.json", "pyarrow.compute", "numpy"),
        ),
        Contender(
            "polars",
            "polars",
            "ingest",
            _polars,
            True,
            note="polars.read_ndjson (explicit schema) + list/struct expressions",
            imports=("polars", "pyarrow"),
        ),
        Contender(
            "duckdb",
            "duckdb",
            "ingest",
            _duckdb,
            True,
            note="read_ndjson (explicit columns) + SQL list_concat, fetched as Arrow",
            imports=("duckdb", "pyarrow"),
        ),
        Contender(
            "hf-datasets",
            "datasets",
            "ingest",
            _datasets,
            False,
            compressions=(None,),
            note='load_dataset("json", cold cache dir) + batched map',
            imports=("datasets",),
        ),
    )
}

#: Every contender, by name.
ALL: dict[str, Contender] = {**BRIGHTINGEST, **PEERS}
