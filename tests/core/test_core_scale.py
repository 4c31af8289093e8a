"""Scale: a 100 MB single line, and streams whose peak memory does not grow with the file."""

from __future__ import annotations

import gzip
import json
import subprocess
import sys
from pathlib import Path

import pytest

_core = pytest.importorskip("brightingest._core")


def test_a_100_mb_single_line(tmp_path: Path) -> None:
    big = "é" * (50 << 20)  # 100 MB of UTF-8
    p = tmp_path / "big.jsonl"
    with p.open("w", encoding="utf-8") as f:
        f.write('{"a": 1}\n')
        f.write(json.dumps({"text": big}, ensure_ascii=False))
        f.write("\n")
    reader = _core.read_jsonl([str(p)])
    batches = list(reader)
    values = [v for b in batches for v in b.column("value").to_pylist()]
    assert len(values) == 2
    assert json.loads(values[1])["text"] == big
    assert reader.report()["lines_read"] == 2


_STREAM = """
import resource, sys
import brightingest._core as c
rows = 0
for b in c.read_jsonl([sys.argv[1]], chunk_bytes=1 << 20, threads=2):
    rows += b.num_rows
print(rows, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
"""


def _peak_kib(path: Path) -> tuple[int, int]:
    out = subprocess.run(
        [sys.executable, "-c", _STREAM, str(path)], check=True, capture_output=True, text=True
    ).stdout.split()
    return int(out[0]), int(out[1])


def _write(path: Path, mb: int, compress: bool) -> int:
    line = (
        json.dumps(
            {
                "messages": [
                    {"role": "user", "content": "Tell me about Kyōto 🌸 " * 20},
                    {"role": "assistant", "content": "It was the capital.\n" * 30},
                ]
            },
            ensure_ascii=False,
        )
        + "\n"
    ).encode()
    block = line * max(1, (1 << 20) // len(line))
    opener = gzip.open(path, "wb", compresslevel=1) if compress else path.open("wb")
    with opener as f:
        for _ in range(mb):
            f.write(block)
    return mb * (len(block) // len(line))


@pytest.mark.slow
@pytest.mark.parametrize("compress", [False, True], ids=["plain-mmap", "gzip"])
def test_stream_memory_does_not_grow_with_the_file(tmp_path: Path, compress: bool) -> None:
    small, large = tmp_path / "small.jsonl", tmp_path / "large.jsonl"
    n_small = _write(small, 64, compress)
    n_large = _write(large, 512 if not compress else 256, compress)
    rows_s, peak_s = _peak_kib(small)
    rows_l, peak_l = _peak_kib(large)
    assert (rows_s, rows_l) == (n_small, n_large)
    # 4-8x the data, same memory: allow 32 MiB of noise, nothing proportional to the file.
    assert peak_l < peak_s + 32 * 1024, (peak_s, peak_l)
