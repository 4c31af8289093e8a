"""pytest-benchmark: JSONL to normalized chat messages, brightingest and its peers.

Groups read ``ingest <format> <size> [compression]``, so each group puts brightingest next to
the peers on the same file. Every benchmark checks its row count against the generator's record
of the file. Run with ``pytest benches/ --benchmark-only``.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest
from pytest_benchmark.fixture import BenchmarkFixture

from benches.conftest import ROUNDS, Dataset, group, skip_without_core
from benches.generate import FORMATS
from benches.peers import BRIGHTINGEST, PEERS, Contender, row_count

CORES = os.cpu_count() or 1
COMPRESSIONS = [None, "gzip", "zstd"]
#: The library each peer needs (the benchmark is skipped when it is missing).
_NEEDS = {
    "orjson-loop": "orjson",
    "polars": "polars",
    "duckdb": "duckdb",
    "hf-datasets": "datasets",
}


def run_benchmark(
    benchmark: BenchmarkFixture,
    contender: Contender,
    path: Path,
    fmt: str,
    threads: int,
    mb: float,
    rounds: int = ROUNDS,
) -> int:
    """Run ``contender`` on ``path`` for ``rounds`` rounds; record extra_info; return its rows."""
    result = benchmark.pedantic(  # type: ignore[no-untyped-call]  # pytest-benchmark is untyped
        contender.run, args=(path, fmt, threads), rounds=rounds, iterations=1, warmup_rounds=0
    )
    rows = row_count(result)
    benchmark.extra_info.update(
        library=contender.library,
        contender=contender.name,
        MB=round(mb, 2),
        rows=rows,
        threads=threads,
    )
    return rows


@pytest.mark.parametrize("compression", COMPRESSIONS)
@pytest.mark.parametrize("fmt", ["brightrun-v4", "openai"])
@pytest.mark.parametrize("name", list(PEERS))
def test_peer_ingest(
    benchmark: BenchmarkFixture,
    dataset: Dataset,
    warm: Callable[[Path], None],
    name: str,
    fmt: str,
    compression: str | None,
) -> None:
    contender = PEERS[name]
    if compression not in contender.compressions:
        pytest.skip(f"{name} is benchmarked on plain files only")
    if name in _NEEDS:
        pytest.importorskip(_NEEDS[name])
    data = dataset(fmt, compression)
    warm(data.path)
    benchmark.group = group("ingest", fmt, compression)
    # Polars sizes its pool at import: in-process, every peer gets all cores.
    threads = CORES if contender.multithreaded else 1
    # A cold datasets load is slow, and per-row Python dominates it: one round is enough.
    rounds = 1 if name == "hf-datasets" else ROUNDS
    rows = run_benchmark(benchmark, contender, data.path, fmt, threads, data.mb, rounds)
    assert rows == data.rows


@pytest.mark.parametrize("compression", COMPRESSIONS)
@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize("fmt", FORMATS)
def test_brightingest_ingest(
    benchmark: BenchmarkFixture,
    dataset: Dataset,
    warm: Callable[[Path], None],
    fmt: str,
    threads: int,
    compression: str | None,
) -> None:
    skip_without_core()
    if compression and fmt not in ("brightrun-v4", "openai"):
        pytest.skip("compressed inputs are benchmarked on brightrun-v4 and openai")
    data = dataset(fmt, compression)
    warm(data.path)
    benchmark.group = group("ingest", fmt, compression)
    contender = BRIGHTINGEST["brightingest ingest"]
    rows = run_benchmark(benchmark, contender, data.path, fmt, threads, data.mb)
    assert rows == data.rows


@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize("fmt", ["brightrun-v4", "openai"])
def test_brightingest_stream_ingest(
    benchmark: BenchmarkFixture,
    dataset: Dataset,
    warm: Callable[[Path], None],
    fmt: str,
    threads: int,
) -> None:
    skip_without_core()
    data = dataset(fmt)
    warm(data.path)
    benchmark.group = group("stream-ingest", fmt)
    contender = BRIGHTINGEST["brightingest stream-ingest"]
    rows = run_benchmark(benchmark, contender, data.path, fmt, threads, data.mb)
    assert rows == data.rows
