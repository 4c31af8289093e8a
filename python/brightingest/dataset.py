"""ChatDataset: a normalized chat table with its ingest report.

Example:
    >>> import brightingest as bi
    >>> ds = bi.load("examples/brightrun_v4_sample.jsonl")  # doctest: +SKIP
    >>> len(ds), ds.format  # doctest: +SKIP
    (18, 'brightrun-v4')
    >>> ds.write_openai("out/sample.openai.jsonl")  # doctest: +SKIP
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

from brightingest.report import IngestReport
from brightingest.writers import openai_message, write_arrow, write_openai, write_parquet

if TYPE_CHECKING:
    import pyarrow as pa

__all__ = ["ChatDataset"]


class ChatDataset:
    """Rows in the normalized chat schema (:data:`brightingest.schema.CHAT_SCHEMA`) plus the
    report of how they were read.

    Args:
        table: The rows.
        report: The ingest report.
        format: The detected or forced format (the one most rows were mapped by).
    """

    def __init__(self, table: pa.Table, report: IngestReport, format: str | None) -> None:
        self.table = table
        self.report = report
        self.format = format

    def __len__(self) -> int:
        return int(self.table.num_rows)

    def __repr__(self) -> str:
        return f"ChatDataset({len(self)} rows, format={self.format!r})"

    def messages_as_python(self, i: int) -> list[dict[str, Any]]:
        """Row ``i``'s messages as OpenAI-style dicts (null fields left out).

        Args:
            i: Row index (negative counts from the end).

        Returns:
            The messages.

        Raises:
            IndexError: ``i`` is out of range.
        """
        n = len(self)
        if not -n <= i < n:
            raise IndexError(f"row {i} out of range for a dataset of {n} rows")
        raw = self.table.column("messages")[i % n].as_py()
        return [openai_message(m) for m in raw]

    def to_hf(self) -> Any:
        """The rows as a Hugging Face ``datasets.Dataset`` (needs the ``datasets`` package)."""
        import datasets

        return datasets.Dataset(self.table)

    def to_polars(self) -> Any:
        """The rows as a ``polars.DataFrame`` (needs the ``polars`` package)."""
        import polars

        return polars.from_arrow(self.table)

    def write_openai(self, path: str | os.PathLike[str]) -> int:
        """Write OpenAI chat fine-tuning JSONL atomically (see :func:`.writers.write_openai`)."""
        return write_openai(self.table, path)

    def write_parquet(self, path: str | os.PathLike[str]) -> int:
        """Write Parquet atomically (see :func:`~brightingest.writers.write_parquet`)."""
        return write_parquet(self.table, path)

    def write_arrow(self, path: str | os.PathLike[str]) -> int:
        """Write an Arrow IPC file atomically (see :func:`~brightingest.writers.write_arrow`)."""
        return write_arrow(self.table, path)
