"""From a chat dataset to tokenized rows, and micro-batches prepared ahead of the compute.

:func:`prepare` accepts a ``pyarrow.Table``, a ``ChatDataset`` (anything with ``.table``), or an
iterable of record batches (spilled to a temporary IPC file while hashed, so memory stays
bounded), and returns the tokenized table from the cache or from a fresh tokenization that is
then cached. :class:`Prefetcher` builds the micro-batches of a plan in a background thread and
measures how long the training loop waits for them.
"""

from __future__ import annotations

import queue
import tempfile
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

from brightingest.errors import TrainerError
from brightingest.train.cache import (
    TokenCache,
    cache_key,
    content_hash,
    default_cache_dir,
    hash_stream,
)
from brightingest.train.tokenize import TOKENIZED_SCHEMA, ChatTokenizer, TokenizeReport

__all__ = ["Prefetcher", "TokenizedData", "prepare", "split_by_group"]

_BATCH_ROWS = 1024


@dataclass
class TokenizedData:
    """The tokenized rows of one input and where they came from.

    Attributes:
        table: :data:`~brightingest.train.tokenize.TOKENIZED_SCHEMA` rows.
        report: What tokenization kept and dropped.
        input_hash: Content hash of the chat table.
        cache_key: The key under which it is (or would be) cached.
        cache_hit: Whether it came from the cache.
        formats: Format names found in the table's ``format`` column.
    """

    table: pa.Table
    report: TokenizeReport
    input_hash: str
    cache_key: str
    cache_hit: bool
    formats: list[str]


def _as_table(data: Any, spill_dir: Path) -> tuple[pa.Table, str]:
    table = getattr(data, "table", data)
    if isinstance(table, pa.RecordBatch):
        table = pa.Table.from_batches([table])
    if isinstance(table, pa.Table):
        return table, content_hash(table)
    if isinstance(table, pa.RecordBatchReader) or isinstance(table, Iterable):
        path = spill_dir / "input.arrow"
        digest, schema = hash_stream(iter(table), path)
        if schema is None:
            raise TrainerError(
                "the input stream holds no rows.",
                code="no_rows",
                hint="check the source files; brightingest inspect shows why rows were skipped.",
            )
        return pa.ipc.open_file(pa.memory_map(str(path), "r")).read_all(), digest
    raise TrainerError(
        f"cannot train on a {type(data).__name__}.",
        code="bad_input",
        hint="pass a pyarrow.Table, a ChatDataset from brightingest.load(), or record batches.",
    )


def _formats(table: pa.Table) -> list[str]:
    if "format" not in table.schema.names:
        return []
    col = table.column("format")
    found: set[str] = set()
    for chunk in col.chunks:
        if pa.types.is_dictionary(chunk.type):
            chunk = chunk.dictionary.take(chunk.indices.unique().drop_null())
        found.update(str(v) for v in chunk.unique().to_pylist() if v is not None)
    return sorted(found)


def prepare(
    data: Any,
    chat_tokenizer: ChatTokenizer,
    *,
    max_length: int,
    truncation: str,
    cache_dir: str | None,
) -> TokenizedData:
    """Tokenize ``data`` (or fetch it from the cache).

    Args:
        data: A ``pyarrow.Table``, an object with ``.table``, or an iterable of record batches,
            with the normalized chat schema.
        chat_tokenizer: The tokenizer wrapper.
        max_length: Longest sequence kept.
        truncation: ``"truncate"`` or ``"drop"``.
        cache_dir: Cache directory; ``None`` for the default, ``""`` for no cache.

    Returns:
        The tokenized data.
    """
    with tempfile.TemporaryDirectory(prefix="brightingest-train-") as spill:
        table, digest = _as_table(data, Path(spill))
        if "messages" not in table.schema.names:
            raise TrainerError(
                "the input has no messages column (it is not a normalized chat table).",
                code="bad_input",
                hint="load the data with brightingest.load() first.",
            )
        key = cache_key(
            digest, chat_tokenizer.fingerprint(), max_length=max_length, truncation=truncation
        )
        formats = _formats(table)
        batches = table.to_batches(max_chunksize=_BATCH_ROWS)
        if cache_dir == "":
            report = TokenizeReport()
            out = list(chat_tokenizer.tokenize(iter(batches), report))
            tokenized = pa.Table.from_batches(out, schema=TOKENIZED_SCHEMA)
            return TokenizedData(tokenized, report, digest, key, False, formats)
        cache = TokenCache(Path(cache_dir) if cache_dir else default_cache_dir())
        hit = cache.get(key)
        if hit is not None:
            return TokenizedData(
                hit[0], TokenizeReport.from_dict(hit[1]), digest, key, True, formats
            )
        report = TokenizeReport()
        tokenized, _ = cache.put(key, chat_tokenizer.tokenize(iter(batches), report), report)
        return TokenizedData(tokenized, report, digest, key, False, formats)


def split_by_group(
    groups: np.ndarray, eval_ratio: float, seed: int
) -> tuple[np.ndarray, np.ndarray]:
    """Split rows into train and eval so that one conversation group never sits on both sides.

    Args:
        groups: Group hash of every row (``metadata.conversation_id``, else ``id``, else row).
        eval_ratio: Share of groups held out.
        seed: Run seed.

    Returns:
        Train row indices and eval row indices (sorted).
    """
    rows = np.arange(len(groups), dtype=np.int64)
    unique = np.unique(groups)
    if eval_ratio <= 0 or len(unique) < 2:
        return rows, rows[:0]
    k = min(len(unique) - 1, max(1, round(eval_ratio * len(unique))))
    rng = np.random.default_rng([seed, 7919])
    held = rng.choice(unique, size=k, replace=False)
    is_eval = np.isin(groups, held)
    return rows[~is_eval], rows[is_eval]


class Prefetcher:
    """Builds micro-batches in a background thread, a few ahead of the training loop.

    Args:
        make: Turns one plan entry into a ready micro-batch (runs in the thread).
        items: The plan entries, in order (an iterator; consumed in the thread).
        depth: How many micro-batches to keep ready.
        threaded: ``False`` builds inline (``num_workers=0``).
    """

    _END = object()

    def __init__(
        self,
        make: Callable[[Any], Any],
        items: Iterator[Any],
        *,
        depth: int = 4,
        threaded: bool = True,
    ) -> None:
        self._make = make
        self._items = items
        self._threaded = threaded
        self.wait_s = 0.0
        self._queue: queue.Queue[Any] = queue.Queue(maxsize=max(1, depth))
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        if threaded:
            self._thread = threading.Thread(
                target=self._run, name="brightingest-prefetch", daemon=True
            )
            self._thread.start()

    def _run(self) -> None:
        try:
            for item in self._items:
                made = self._make(item)
                while not self._stop.is_set():
                    try:
                        self._queue.put(made, timeout=0.1)
                        break
                    except queue.Full:
                        continue
                if self._stop.is_set():
                    return
            self._queue.put(self._END)
        except BaseException as exc:  # noqa: BLE001 - re-raised in the consumer thread
            self._queue.put(exc)

    def __iter__(self) -> Prefetcher:
        return self

    def __next__(self) -> Any:
        start = time.perf_counter()
        if not self._threaded:
            try:
                item = next(self._items)
            except StopIteration:
                raise
            made = self._make(item)
            self.wait_s += time.perf_counter() - start
            return made
        got = self._queue.get()
        self.wait_s += time.perf_counter() - start
        if got is self._END:
            raise StopIteration
        if isinstance(got, BaseException):
            raise got
        return got

    def close(self) -> None:
        """Stop the thread (it exits at its next queue operation)."""
        self._stop.set()
        if self._thread is not None:
            while True:
                try:
                    self._queue.get_nowait()
                except queue.Empty:
                    break
            self._thread.join(timeout=5)
