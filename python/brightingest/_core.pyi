"""Stub of the compiled module ``brightingest._core`` (built from ``rust_core/`` by maturin).

The core reads JSONL (plain, gzip, zstd; by magic bytes) into Arrow record batches in parallel,
runs declarative format mappings natively, and accounts for every line. Batches cross into
Python through the Arrow PyCapsule interface without copies.
"""

from typing import Any, Literal, final

__all__ = [
    "MAPPING_CATEGORIES",
    "READER_CATEGORIES",
    "Reader",
    "__version__",
    "_buffer_addresses",
    "check_formats",
    "openai_jsonl",
    "read_jsonl",
    "row_hashes",
    "unanswered_tools",
]

__version__: str

#: Report categories the reader itself produces (the format layer adds its own).
READER_CATEGORIES: tuple[str, ...]
#: Report categories the mapping executor produces.
MAPPING_CATEGORIES: tuple[str, ...]

@final
class Reader:
    """A stream of Arrow record batches over one or more JSONL files, in input order.

    Memory stays bounded: a bounded number of chunks is cut, parsed and waiting at any time, and
    batches are produced as they are asked for. ``report()`` covers the lines read so far; after
    the last batch it covers every line.
    """

    def next_batch(self) -> Any | None:
        """The next ``pyarrow.RecordBatch``, or ``None`` at the end.

        Raises:
            JsonlDecodeError, MappingError, FormatDetectionError: under ``policy="strict"``,
                for the first bad line (file:line, field, hint).
            SourceError: a file cannot be opened or its compressed stream is corrupt.
        """

    def __iter__(self) -> Reader: ...
    def __next__(self) -> Any:
        """The next ``pyarrow.RecordBatch``."""
    def __arrow_c_stream__(self, requested_schema: object | None = None) -> object:
        """All remaining batches as an ``arrow_array_stream`` PyCapsule (consumes the reader).

        ``pyarrow.RecordBatchReader.from_stream(reader).read_all()`` reads it into a table.
        ``pyarrow.table(reader)`` does too, but first imports pandas when it is installed (pyarrow
        checks for a DataFrame before the stream protocol): about 200 ms, once per process.
        """

    def __arrow_c_schema__(self) -> object: ...
    def report(self) -> dict[str, Any]:
        """Counts so far: ``lines_read``, ``rows_kept``, ``skipped`` {category: n} (non-zero
        counts, in category order), ``examples`` [{file, line, category, message, field, hint}]
        (the first ``max_examples`` of each category; ``message`` starts with ``field: ``),
        ``formats`` {name: n} (every format passed, zero counts included), ``file_metadata``
        [{file, line, key, value}] (metadata-line values as verbatim JSON text), ``bytes_read``
        (JSONL bytes after decompression), ``file_bytes`` (bytes on disk), ``files``."""

    @property
    def finished(self) -> bool: ...
    def close(self) -> None:
        """Stop reading; the quarantine file gets every bad line counted so far (idempotent)."""

def check_formats(formats: str) -> None:
    """Check format mappings (a JSON list, as ``read_jsonl`` takes them) without reading
    anything; raises ``ValueError`` naming the problem."""

def _buffer_addresses(batch: object) -> list[int]:
    """Addresses of every buffer of a batch (``__arrow_c_array__``) as Rust sees it after import;
    tests compare them with pyarrow's ``Buffer.address`` to prove zero-copy crossing."""

def read_jsonl(
    paths: list[str],
    *,
    names: list[str] | None = None,
    formats: str | None = None,
    threads: int | None = None,
    chunk_bytes: int = 1 << 20,
    max_line_bytes: int = 1 << 30,
    policy: Literal["skip", "strict", "quarantine"] = "skip",
    quarantine_path: str | None = None,
    max_examples: int = 5,
    window_chunks: int | None = None,
) -> Reader:
    """Open files for reading into Arrow.

    Args:
        paths: Files, in order (resolve globs and directories in Python first).
        names: What to call each file in `source_file`, reports and errors (e.g. a redacted URL
            for a download); defaults to `paths`.
        formats: JSON text of a list of mapping dicts (``Mapping.to_dict(name)``), ranked: each
            row takes the first whose signature matches. ``None`` reads each valid line as its
            own JSON text, whitespace between tokens removed, in a ``value`` column
            (``RAW_SCHEMA``).
        threads: Worker threads (default: all cores). Output is identical for any value.
        chunk_bytes: Target bytes per parallel work unit (cut at line boundaries).
        max_line_bytes: Longer lines are skipped as ``line_too_long``.
        policy: ``skip`` reports bad lines; ``strict`` raises on the first; ``quarantine``
            also writes each bad line to ``quarantine_path`` as a JSON record
            ``{"file", "line", "category", "message", "text"}`` (``"base64"`` instead of
            ``"text"`` when the line is not valid UTF-8).
        max_examples: Examples kept per category in the report.
        window_chunks: Chunks in flight: cut, parsing or parsed and not yet handed out (bounds
            memory; default ``16 * threads``).
    """

def openai_jsonl(batch: Any) -> bytes:
    """OpenAI chat fine-tuning JSONL (UTF-8, one line per row) for one batch of the chat table.

    Args:
        batch: A record batch in the normalized chat schema (anything with
            ``__arrow_c_array__``); only ``messages`` and ``tools`` are read.

    Raises:
        TypeError: The batch has another layout (``brightingest.writers`` then takes its
            general path).
        ValueError: A value cannot be written (``tool_calls``/``tools`` text that is not JSON,
            a null row), naming the row.
    """

def row_hashes(batch: Any) -> bytes:
    """A 128-bit hash of each row's conversation (messages and tools), 16 bytes per row.

    Equal conversations hash equal; different ones almost surely differ (callers confirm).

    Raises:
        TypeError: The batch is not in the normalized chat layout.
    """

def unanswered_tools(batch: Any) -> list[tuple[int, int]]:
    """The rows of a normalized batch whose tool messages OpenAI's format cannot hold, as
    ``(row, reason)``: 0, a tool message without ``tool_call_id``; 1, one whose id no earlier
    assistant message's call has. ``TypeError`` for a batch of another layout."""
