"""Fixtures for the pytest-benchmark suite: cached datasets at a small size.

``BRIGHTINGEST_BENCH_SIZE`` (default ``20MB``) sets the size; files come from
:func:`benches.generate.generate`, so the first run writes them and later runs reuse them.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest

from benches.generate import DatasetInfo, format_size, generate, info, parse_size
from benches.peers import core_unavailable_reason

#: The size the benchmarks run at.
SIZE = parse_size(os.environ.get("BRIGHTINGEST_BENCH_SIZE", "20MB"))
SIZE_LABEL = format_size(SIZE)
#: Rounds per benchmark: few, because every round reads the whole file.
ROUNDS = int(os.environ.get("BRIGHTINGEST_BENCH_ROUNDS", "3"))

Dataset = Callable[..., DatasetInfo]


def group(operation: str, fmt: str, compression: str | None = None) -> str:
    """The benchmark group, ``<operation> <dataset>``: ``ingest brightrun-v4 20MB gzip``."""
    name = f"{operation} {fmt} {SIZE_LABEL}"
    return f"{name} {compression}" if compression else name


def skip_without_core() -> None:
    """Skip the calling test, with the reason, when ``brightingest._core`` is not built."""
    reason = core_unavailable_reason()
    if reason:
        pytest.skip(reason)


@pytest.fixture(scope="session")
def dataset() -> Dataset:
    """``dataset(fmt, compression=None)`` -> the :class:`DatasetInfo` of a cached file."""

    def get(fmt: str, compression: str | None = None) -> DatasetInfo:
        return info(generate(fmt, SIZE, compression=compression))  # type: ignore[arg-type]

    return get


@pytest.fixture
def warm() -> Callable[[Path], None]:
    """``warm(path)``: read a file once, so the benchmark starts from the page cache."""

    def read(path: Path) -> None:
        with path.open("rb", buffering=0) as f:
            while f.read(16 << 20):
                pass

    return read
