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
from collections import Counter
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from brightingest.errors import InputError
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

    def where(self, expr: str) -> ChatDataset:
        """The rows that match a filter expression (the grammar of the CLI's ``--where``).

        Example:
            >>> ds.where("training_metadata.quality_score >= 4 and not training_metadata.reviewed")
            ... # doctest: +SKIP

        Args:
            expr: E.g. ``'training_metadata.source == "synthetic"'``; metadata fields by their
                dotted path, the table's columns (``id``, ``format``, ``source_file`` ...) by name.

        Returns:
            A new dataset with the matching rows, in order, and the same report (of the read).

        Raises:
            ValueError: ``expr`` does not parse; the message points at the offending token.
        """
        from brightingest.where import filter_mask

        if not isinstance(expr, str):
            raise TypeError(f"expr must be a str, not {type(expr).__name__}")
        return ChatDataset(
            self.table.filter(filter_mask(self.table, expr)), self.report, self.format
        )

    def dedup(self) -> ChatDataset:
        """The rows without exact duplicate conversations: the first of each group of rows with
        identical messages (and tools) is kept, in order (what ``convert --dedup`` does).

        Returns:
            A new dataset, with the same report (of the read).
        """
        from brightingest.stats import dedup_mask

        return ChatDataset(self.table.filter(dedup_mask(self.table)), self.report, self.format)

    def with_fields(self, *paths: str | Sequence[str]) -> ChatDataset:
        """Metadata fields as typed columns, named by their dotted paths (for filtering,
        grouping, Parquet output): ``ds.with_fields("training_metadata.quality_score")`` adds an
        int64 column ``training_metadata.quality_score``. Rows without the field get null.

        Args:
            paths: Dotted paths into ``metadata`` (a leading ``metadata.`` is optional), or
                sequences of keys for keys that contain dots.

        Returns:
            A new dataset whose table has one more column per path.

        Raises:
            InputError: Code ``missing_field``: no row has the field (a typo?); code
                ``wrong_type``: its values have different types in different rows, with the
                first row that differs.
            ValueError: A path is empty or names a column the table already has.
        """
        from brightingest.where import extract_fields

        if not paths:
            raise ValueError("with_fields() needs at least one field path")
        keys: list[tuple[str, ...]] = []
        names: list[str] = []
        for path in paths:
            key = tuple(path.split(".")) if isinstance(path, str) else tuple(path)
            if not key or not all(key):
                raise ValueError(f"not a field path: {path!r}")
            name = ".".join(key)
            if name in self.table.column_names or name in names:
                raise ValueError(f"the table already has a column {name!r}")
            keys.append(key)
            names.append(name)
        values = extract_fields(self.table, keys)
        table = self.table
        for key, name in zip(keys, names, strict=True):
            column = values[key]
            if isinstance(column, list):
                raise self._mixed(name, column)
            if column.null_count == len(column) and len(column):
                raise InputError(
                    "no row has this field in its metadata.",
                    code="missing_field",
                    field=name,
                    hint="`brightingest inspect` lists the metadata fields and their types.",
                )
            table = table.append_column(name, column)
        return ChatDataset(table, self.report, self.format)

    def _mixed(self, name: str, values: list[Any]) -> InputError:
        def kind(v: Any) -> str:
            return (
                "number"
                if isinstance(v, (int, float)) and not isinstance(v, bool)
                else (type(v).__name__)
            )

        kinds = Counter(kind(v) for v in values if v is not None)
        usual = kinds.most_common(1)[0][0]
        row = next((i for i, v in enumerate(values) if v is not None and kind(v) != usual), None)
        if row is None:  # one kind, but no Arrow type for it: an integer beyond 64 bits
            row = next(
                (i for i, v in enumerate(values) if isinstance(v, int) and abs(v) >= 1 << 63), 0
            )
            message = f"{values[row]!r} does not fit a 64-bit column."
        else:
            others = kinds[usual]
            message = (
                f"a {kind(values[row])} here, but a {usual} in {others:,} other "
                f"{'row' if others == 1 else 'rows'}: one typed column cannot hold both."
            )
        return InputError(
            message,
            code="wrong_type",
            path=str(self.table.column("source_file")[row].as_py()),
            line=int(self.table.column("source_line")[row].as_py()),
            field=name,
            hint="fix that row at the source, or read the field from the `metadata` JSON text.",
        )

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
