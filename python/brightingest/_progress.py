"""Progress bars for long work (ingest, writing): bytes, rows and rate, on a terminal only.

A bar is drawn with rich on standard error, and only when that is a terminal (or when asked
for explicitly); otherwise every call here is a no-op, so CI logs and pipes stay clean.

Example:
    >>> with ingest_progress(None, "Reading", total_bytes=1_000_000) as update:
    ...     update(bytes_done=500_000, rows=1200)
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import IO, Any

__all__ = ["ProgressUpdate", "ingest_progress", "progress_enabled"]

#: ``update(bytes_done=..., rows=...)``: absolute values so far (either may be omitted).
ProgressUpdate = Callable[..., None]


def progress_enabled(
    flag: bool | None, *, quiet: bool = False, stream: IO[str] | None = None
) -> bool:
    """Whether to draw a progress bar.

    Args:
        flag: ``--progress`` (True) / ``--no-progress`` (False) / not given (None: automatic).
        quiet: ``-q``: never draw one, unless ``--progress`` asked for it.
        stream: The stream it would be drawn on (default: standard error).

    Returns:
        ``flag`` when given; otherwise true only on a terminal that is not ``TERM=dumb``.
    """
    if flag is not None:
        return flag
    if quiet or os.environ.get("TERM") == "dumb":
        return False
    target = stream if stream is not None else sys.stderr
    try:
        return bool(target.isatty())
    except (AttributeError, ValueError):
        return False


def _noop(**_: Any) -> None:
    return None


@contextmanager
def ingest_progress(
    enabled: bool | None, description: str, *, total_bytes: int | None = None
) -> Iterator[ProgressUpdate]:
    """A progress bar of bytes read (with the total when known), rows kept and the rate.

    Args:
        enabled: Draw it (see :func:`progress_enabled`; ``None`` = only on a terminal).
        description: The label at the left, e.g. the file name.
        total_bytes: The total, for a percentage and time left; ``None`` when unknown.

    Yields:
        ``update(bytes_done=None, rows=None)``, taking absolute values so far.
    """
    if not progress_enabled(enabled):
        yield _noop
        return
    from rich.console import Console
    from rich.markup import escape
    from rich.progress import (
        BarColumn,
        DownloadColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
        TransferSpeedColumn,
    )

    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        DownloadColumn(),
        TextColumn("{task.fields[rows]:>10,} rows"),
        TransferSpeedColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=Console(stderr=True),
        transient=True,
    ) as bar:
        task = bar.add_task(escape(description), total=total_bytes, rows=0)

        def update(bytes_done: int | None = None, rows: int | None = None) -> None:
            fields: dict[str, Any] = {}
            if rows is not None:
                fields["rows"] = rows
            bar.update(task, completed=bytes_done, **fields)

        yield update
