"""pytest-benchmark: raw reads (every line to Arrow, no format), against the page-cache ceiling.

Groups read ``read <format> <size> [compression]``. ``brightingest read`` turns each valid line
into compact JSON text (``_core.read_jsonl(formats=None)``), so its rows are the file's lines
(the BrightRun ``_meta`` line included). The ceiling copies the same bytes from the page cache.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from pytest_benchmark.fixture import BenchmarkFixture

from benches.conftest import ROUNDS, Dataset, group, skip_without_core
from benches.peers import BRIGHTINGEST
from benches.test_ingest import COMPRESSIONS, run_benchmark


def read_into_bytearray(path: Path) -> int:
    """Copy the file into a bytearray of its size; return the bytes read."""
    size = path.stat().st_size
    buf = bytearray(size)
    view = memoryview(buf)
    done = 0
    with path.open("rb", buffering=0) as f:
        while done < size:
            n = f.readinto(view[done:])
            if not n:
                break
            done += n
    return done


@pytest.mark.parametrize("fmt", ["brightrun-v4", "openai"])
def test_ceiling(
    benchmark: BenchmarkFixture, dataset: Dataset, warm: Callable[[Path], None], fmt: str
) -> None:
    data = dataset(fmt)
    warm(data.path)
    benchmark.group = group("read", fmt)
    done = benchmark.pedantic(  # type: ignore[no-untyped-call]  # pytest-benchmark is untyped
        read_into_bytearray, args=(data.path,), rounds=ROUNDS, iterations=1, warmup_rounds=0
    )
    benchmark.extra_info.update(library="python", contender="ceiling", MB=round(data.mb, 2))
    benchmark.extra_info.update(rows=data.lines, threads=1)
    assert done == data.bytes


@pytest.mark.parametrize("compression", COMPRESSIONS)
@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize("operation", ["read", "stream-read"])
@pytest.mark.parametrize("fmt", ["brightrun-v4", "openai"])
def test_brightingest_read(
    benchmark: BenchmarkFixture,
    dataset: Dataset,
    warm: Callable[[Path], None],
    fmt: str,
    operation: str,
    threads: int,
    compression: str | None,
) -> None:
    skip_without_core()
    data = dataset(fmt, compression)
    warm(data.path)
    benchmark.group = group(operation, fmt, compression)
    contender = BRIGHTINGEST[f"brightingest {operation}"]
    rows = run_benchmark(benchmark, contender, data.path, fmt, threads, data.mb)
    # Every line is valid JSON in these files, the _meta line included.
    assert rows == data.lines
