"""Content-hash keyed cache of tokenized data, as Arrow IPC files.

The key hashes everything that decides the tokens: the input table's content (each record batch
serialized to IPC, so slicing and chunk boundaries never leak foreign bytes into the hash), the
tokenizer's serialized JSON and special tokens, the chat template, ``max_length``, the truncation
policy and the tokenization code's version. A changed input therefore always misses; an unchanged
one hits and is memory-mapped instead of tokenized again.

Layout: ``<cache_dir>/<key>.arrow`` (the tokenized table) and ``<key>.json`` (its tokenization
report). Both are written to a temporary name and renamed, the JSON last, so a reader never sees
a half-written entry.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import pyarrow as pa

from brightingest.train.tokenize import TOKENIZED_SCHEMA

__all__ = ["CACHE_VERSION", "TokenCache", "cache_key", "content_hash", "default_cache_dir"]

#: Bump when the tokenized layout or the masking rules change, so old entries are not reused.
CACHE_VERSION = "1"


def default_cache_dir() -> Path:
    """``$BRIGHTINGEST_CACHE/tokenized`` or ``~/.cache/brightingest/tokenized``."""
    root = os.environ.get("BRIGHTINGEST_CACHE")
    base = Path(root) if root else Path.home() / ".cache" / "brightingest"
    return base / "tokenized"


class _Hasher:
    def __init__(self) -> None:
        self._h = hashlib.blake2b(digest_size=20)
        self.rows = 0

    def update(self, batch: pa.RecordBatch) -> None:
        self._h.update(batch.schema.serialize().to_pybytes())
        self._h.update(memoryview(batch.serialize()))
        self.rows += batch.num_rows

    def hexdigest(self) -> str:
        self._h.update(str(self.rows).encode())
        return self._h.hexdigest()


def content_hash(table: pa.Table) -> str:
    """A hash of a table's content (schema and values).

    Args:
        table: Any Arrow table.

    Returns:
        40 hex digits.
    """
    h = _Hasher()
    for batch in table.to_batches():
        h.update(batch)
    return h.hexdigest()


def hash_stream(batches: Iterable[pa.RecordBatch], sink_path: Path) -> tuple[str, pa.Schema | None]:
    """Spill a stream of batches to an IPC file while hashing it.

    Args:
        batches: The input stream (consumed once).
        sink_path: Where to write the batches.

    Returns:
        The content hash (as :func:`content_hash` gives for the same batches) and the schema,
        or ``None`` for an empty stream.
    """
    h = _Hasher()
    writer: pa.ipc.RecordBatchFileWriter | None = None
    schema: pa.Schema | None = None
    try:
        for batch in batches:
            if writer is None:
                schema = batch.schema
                writer = pa.ipc.new_file(str(sink_path), schema)
            h.update(batch)
            writer.write_batch(batch)
    finally:
        if writer is not None:
            writer.close()
    return h.hexdigest(), schema


def cache_key(
    input_hash: str, tokenizer_fingerprint: str, *, max_length: int, truncation: str
) -> str:
    """The cache key of one tokenization of one input.

    Args:
        input_hash: :func:`content_hash` of the chat table.
        tokenizer_fingerprint: Hash of the tokenizer and chat template.
        max_length: Longest sequence kept.
        truncation: ``"truncate"`` or ``"drop"``.

    Returns:
        40 hex digits.
    """
    parts = {
        "version": CACHE_VERSION,
        "input": input_hash,
        "tokenizer": tokenizer_fingerprint,
        "max_length": int(max_length),
        "truncation": truncation,
    }
    text = json.dumps(parts, sort_keys=True).encode("utf-8")
    return hashlib.blake2b(text, digest_size=20).hexdigest()


class TokenCache:
    """Tokenized tables on disk, keyed by :func:`cache_key`.

    Args:
        directory: The cache directory (created on first write).
    """

    def __init__(self, directory: str | Path) -> None:
        self.directory = Path(directory)

    def _paths(self, key: str) -> tuple[Path, Path]:
        return self.directory / f"{key}.arrow", self.directory / f"{key}.json"

    def get(self, key: str) -> tuple[pa.Table, dict[str, Any]] | None:
        """The cached table (memory-mapped) and its report, or ``None`` on a miss."""
        data_path, meta_path = self._paths(key)
        if not (data_path.is_file() and meta_path.is_file()):
            return None
        try:
            meta = json.loads(meta_path.read_text(encoding="utf-8"))
            source = pa.memory_map(str(data_path), "r")
            table = pa.ipc.open_file(source).read_all()
        except (OSError, ValueError, pa.ArrowInvalid):
            return None  # a damaged entry is a miss; put() overwrites it
        if table.schema != TOKENIZED_SCHEMA or meta.get("key") != key:
            return None
        return table, dict(meta["report"])

    def put(
        self, key: str, batches: Iterator[pa.RecordBatch], report: Any
    ) -> tuple[pa.Table, dict[str, Any]]:
        """Write tokenized batches under ``key`` atomically, then return them memory-mapped.

        Args:
            key: The entry's key.
            batches: Tokenized batches (:data:`TOKENIZED_SCHEMA`), consumed once.
            report: An object with ``to_dict()``, read after the batches are consumed.

        Returns:
            The cached table and report, as :meth:`get` would return them.
        """
        self.directory.mkdir(parents=True, exist_ok=True)
        data_path, meta_path = self._paths(key)
        fd, tmp = tempfile.mkstemp(prefix=f".{key}.", suffix=".arrow.tmp", dir=self.directory)
        os.close(fd)
        try:
            with pa.OSFile(tmp, "wb") as sink, pa.ipc.new_file(sink, TOKENIZED_SCHEMA) as writer:
                for batch in batches:
                    writer.write_batch(batch)
            Path(tmp).replace(data_path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        meta = {"key": key, "version": CACHE_VERSION, "report": report.to_dict()}
        fd, tmp_meta = tempfile.mkstemp(prefix=f".{key}.", suffix=".json.tmp", dir=self.directory)
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(meta, fh)
        Path(tmp_meta).replace(meta_path)
        got = self.get(key)
        if got is None:  # pragma: no cover - we just wrote it
            raise OSError(f"{data_path}: the cache entry just written cannot be read back")
        return got
