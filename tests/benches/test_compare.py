"""benches.compare: the run plan, the child measurement, and the report it writes."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from benches import compare
from benches.compare import CEILING, Measurement, Run, plan, render_markdown

MB = 10**6


def test_plan_covers_threads_compressions_and_scaling() -> None:
    runs = plan([100 * MB], ["brightrun-v4"], [None, "gzip"], [1, 2], scaling=[MB, 4 * MB])
    plain = {(r.contender, r.threads) for r in runs if r.compression is None and r.table == "main"}
    assert (CEILING, 1) in plain
    for name in ("brightingest ingest", "brightingest read", "polars", "duckdb", "pyarrow"):
        assert {(name, 1), (name, 2)} <= plain
    assert ("json-loop", 1) in plain
    assert ("json-loop", 2) not in plain  # single-threaded: run once
    gz = {(r.contender, r.threads) for r in runs if r.compression == "gzip"}
    assert {("brightingest ingest", 1), ("brightingest ingest", 2), ("duckdb", 2)} <= gz
    assert {("brightingest stream-ingest", 1), ("brightingest stream-ingest", 2)} <= gz
    raw = ("brightingest read", "brightingest stream-read")
    assert not any(name in ("hf-datasets", CEILING, *raw) for name, _ in gz)
    scaling = [r for r in runs if r.table == "scaling"]
    assert [(r.contender, r.size, r.threads) for r in scaling] == [
        ("brightingest stream-ingest", MB, 2),
        ("brightingest stream-ingest", 4 * MB, 2),
    ]


def test_plan_only() -> None:
    runs = plan([MB], ["openai"], [None], [1, 2], only=["orjson-loop"])
    assert runs == [Run("orjson-loop", "openai", MB, None, 1)]


def _m(name: str, seconds: float, threads: int = 1, error: str | None = None) -> Measurement:
    run = Run(name, "openai", 100 * MB, None, threads)
    return Measurement(run, 100.0, 50_000, seconds, 400.0, 60.0, (seconds,), error)


def test_report_ratios_are_against_the_fastest_peer() -> None:
    results = [
        _m("json-loop", 4.0),
        _m("polars", 1.0, threads=2),
        _m("brightingest ingest", 0.25, threads=2),
        _m("brightingest stream-ingest", 0.2, threads=1),
        _m("brightingest stream-ingest", 0.3, threads=2),
        _m(CEILING, 0.01),
        _m("duckdb", 0.0, threads=2, error="exit 1: boom"),
        Measurement(
            Run("brightingest stream-ingest", "brightrun-v4", 4000 * MB, None, 2, "scaling"),
            4000.0,
            1,
            10.0,
            300.0,
            60.0,
            (10.0,),
        ),
    ]
    mach = compare.machine()
    text = render_markdown(results, mach, ["python -m benches.compare --sizes 100MB"])
    assert f"on **{mach['cpu']}**" in text
    assert "## openai, 100MB (100 MB, 50,000 rows), plain" in text
    assert "| polars (2T) | 100 | 50,000 | 4.00× (400 MB) | 1.00 | 1.00× (fastest peer) |" in text
    assert (
        "| **brightingest ingest (2T)** | 400 | 200,000 | 4.00× (400 MB) | 0.25 | 4.00× |" in text
    )
    assert "| json-loop | 25.0 | 12,500 | 4.00× (400 MB) | 4.00 | 0.25× |" in text
    assert "| duckdb (2T) | failed: exit 1: boom | | | | |" in text
    assert (
        "| openai 100MB plain | 400 (2T) | 4.00× | 500 (1T) | 4.00× | polars (2T) | 100 | "
        "4.00× | **4.00×** | **5.00×** |"
    ) in text
    assert "| 4GB (4,000 MB) | 10.00 | 400 | 300 MB | 0.075× | 1.0× | 1.00× |" in text
    # Sorted fastest first; the ceiling row has no rows/s or RSS.
    table = text.split("| contender |", 1)[1].split("\n\n", 1)[0].splitlines()[2:]
    assert [ln.split(" | ")[0] for ln in table] == [
        "| ceiling",
        "| **brightingest stream-ingest (1T)**",
        "| **brightingest ingest (2T)**",
        "| **brightingest stream-ingest (2T)**",
        "| polars (2T)",
        "| json-loop",
        "| duckdb (2T)",
    ]
    assert table[0].startswith("| ceiling | 10,000 | – | – |")


def test_child_ceiling_measures_a_file(tmp_path: Path) -> None:
    path = tmp_path / "f.jsonl"
    path.write_bytes(b'{"a": 1}\n' * 1000)
    got = compare._child(CEILING, "openai", path, 1)
    assert got["seconds"] > 0
    assert got["peak_rss_mb"] >= got["baseline"] > 0


def test_end_to_end_small(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("orjson")
    pytest.importorskip("matplotlib")
    monkeypatch.setenv("BRIGHTINGEST_BENCH_DATA", str(tmp_path / "data"))
    out, chart, raw = tmp_path / "R.md", tmp_path / "r.png", tmp_path / "r.json"
    argv = ["--sizes", "120KB", "--formats", "openai", "--compressions", "plain", "--reps", "1"]
    argv += ["--only", "orjson-loop,ceiling", "--out", str(out), "--chart", str(chart)]
    assert compare.main([*argv, "--json", str(raw)]) == 0
    text = out.read_text()
    assert "## openai, 120KB" in text
    assert "| orjson-loop |" in text
    assert "1.00× (fastest peer)" in text
    assert chart.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert '"contender": "orjson-loop"' in raw.read_text()
    # A second run merges the first one's results into its report.
    argv2 = ["--sizes", "130KB", "--formats", "openai", "--compressions", "plain", "--reps", "1"]
    argv2 += ["--only", "json-loop", "--out", str(out), "--chart", str(chart)]
    assert compare.main([*argv2, "--merge", str(raw)]) == 0
    text = out.read_text()
    assert "## openai, 120KB" in text
    assert "## openai, 130KB" in text
    first = "`python -m benches.compare --sizes 120KB --formats openai --compressions plain"
    assert f"Reproduce: {first} --reps 1 --only orjson-loop,ceiling`, then `" in text
    assert "--only json-loop` (writes" in text
    assert str(tmp_path) not in text  # where the outputs went is not part of the recipe
    # --report-only rewrites the report from the merged results without measuring.
    (tmp_path / "R.md").unlink()
    argv3 = ["--report-only", "--merge", str(raw), "--out", str(out), "--chart", str(chart)]
    assert compare.main(argv3) == 0
    assert "## openai, 120KB" in out.read_text()


def test_public_command_drops_output_paths() -> None:
    argv = ["--sizes", "1GB", "--out", "/tmp/x.md", "--json=/tmp/x.json", "--scaling"]
    assert compare.public_command(argv) == "python -m benches.compare --sizes 1GB --scaling"


def _late_imports(contender: str, path: Path, warmup: Path | None) -> list[str]:
    """Modules ``contender`` imports inside its timed window, in a fresh child process."""
    argv = [sys.executable, "-m", "benches.compare", "--child", contender, "openai", str(path), "1"]
    proc = subprocess.run(
        [*argv, *([str(warmup)] if warmup else [])],
        capture_output=True,
        text=True,
        check=True,
        env=compare._child_env(1),
    )
    late: list[str] = json.loads(proc.stdout.splitlines()[-1])["late_imports"]
    return late


def test_child_warmup_pays_lazy_imports_before_the_clock(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """pyarrow imports pandas the first time ``pa.table`` is given a stream (0.2-0.3 s here):
    without the warm-up read, that import lands inside the timed window."""
    pytest.importorskip("pandas")
    from benches.generate import generate

    monkeypatch.setenv("BRIGHTINGEST_BENCH_DATA", str(tmp_path))
    path = generate("openai", "40KB")
    warmup = generate("openai", compare.WARMUP_BYTES)
    assert "pandas" in _late_imports("brightingest read", path, None)
    assert _late_imports("brightingest read", path, warmup) == []
    assert _late_imports("pyarrow", path, warmup) == []


def test_a_run_measured_again_replaces_the_earlier_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytest.importorskip("matplotlib")
    monkeypatch.setenv("BRIGHTINGEST_BENCH_DATA", str(tmp_path / "data"))
    out, chart = tmp_path / "R.md", tmp_path / "r.png"
    first, second = tmp_path / "1.json", tmp_path / "2.json"
    argv = ["--sizes", "120KB", "--formats", "openai", "--compressions", "plain", "--reps", "1"]
    argv += ["--out", str(out), "--chart", str(chart)]
    assert compare.main([*argv, "--only", "json-loop,ceiling", "--json", str(first)]) == 0
    again = [*argv, "--only", "json-loop", "--merge", str(first), "--json", str(second)]
    assert compare.main(again) == 0
    runs = [(r["run"]["contender"], r["times"]) for r in json.loads(second.read_text())["results"]]
    assert [name for name, _ in runs] == ["ceiling", "json-loop"]
    kept = json.loads(first.read_text())["results"]
    assert runs[0][1] == next(r["times"] for r in kept if r["run"]["contender"] == "ceiling")
    assert out.read_text().count("| json-loop |") == 1
