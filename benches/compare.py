"""Run brightingest and its peers side by side on the same files; write RESULTS.md and a chart.

Every measurement runs in a fresh ``python`` subprocess, so that its peak RSS is its own
(``ru_maxrss`` of the child, interpreter and imported libraries included) and no contender
inherits another's warm allocator or caches. Imports, and one read of a small file of the same
format and compression (what a library imports or sets up lazily on its first call), happen
before the clock starts. Before each
run the input file is read once, so that every contender starts from the page cache (nothing is
dropped: dropping caches needs root and measures the disk, not the reader). Each contender runs
``--reps`` times (default 3); the report shows the median time and the median peak RSS.

Examples::

    python -m benches.compare                       # 100MB, both formats, plain/gzip/zstd
    python -m benches.compare --sizes 100MB,1GB     # add 1 GB
    python -m benches.compare --scaling             # + brightingest streamed at 100MB/1GB/4GB
    python -m benches.compare --only duckdb,polars --formats openai --reps 1

Reported per contender: MB/s (MB = 10**6 bytes of uncompressed JSONL, whatever the input's
compression), rows/s, peak RSS as a multiple of the uncompressed input size, the median time,
and the speed ratio against the fastest peer (a peer is anything that is not brightingest) on
the same file. The ceiling row reads the same bytes from the page cache into a bytearray.
"""

from __future__ import annotations

import argparse
import datetime as dt
import importlib
import json
import os
import platform
import resource
import shlex
import statistics
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

from benches.generate import format_size, generate, info, parse_size

__all__ = [
    "Measurement",
    "Run",
    "load_results",
    "public_command",
    "machine",
    "main",
    "plan",
    "render_chart",
    "render_markdown",
]

BENCH_DIR = Path(__file__).resolve().parent
CEILING = "ceiling"
_CHILD_TIMEOUT_S = 3600


@dataclass(frozen=True)
class Run:
    """One contender on one file.

    Attributes:
        contender: A name from ``benches.peers.ALL``, or ``"ceiling"``.
        fmt: Format name.
        size: Target size in bytes (the file's key).
        compression: ``None``, ``"gzip"`` or ``"zstd"``.
        threads: Threads given to the contender.
        table: Which report table it belongs to: ``main`` or ``scaling``.
    """

    contender: str
    fmt: str
    size: int
    compression: str | None
    threads: int
    table: str = "main"


@dataclass(frozen=True)
class Measurement:
    """The median of the repetitions of a :class:`Run`.

    Attributes:
        run: What was run.
        mb: Uncompressed input size in MB.
        rows: Rows the contender returned.
        seconds: Median wall time of the operation (imports excluded).
        peak_rss_mb: Median peak RSS of the child process, in MB.
        baseline_rss_mb: RSS of the child after its imports, before the operation.
        times: Every repetition's time.
        error: Why it failed, if it did (then the numbers are 0).
        file_mb: Size on disk in MB (the compressed size for gzip/zstd; 0 if unknown).
    """

    run: Run
    mb: float
    rows: int
    seconds: float
    peak_rss_mb: float
    baseline_rss_mb: float
    times: tuple[float, ...]
    error: str | None = None
    file_mb: float = 0.0

    @property
    def mb_s(self) -> float:
        """Throughput in MB/s of uncompressed input."""
        return self.mb / self.seconds if self.seconds else 0.0

    @property
    def rows_s(self) -> float:
        """Rows per second."""
        return self.rows / self.seconds if self.seconds else 0.0

    @property
    def rss_ratio(self) -> float:
        """Peak RSS as a multiple of the uncompressed input size."""
        return self.peak_rss_mb / self.mb if self.mb else 0.0


# --------------------------------------------------------------------------------------------
# The child: one measurement, printed as one JSON line
# --------------------------------------------------------------------------------------------


def _maxrss_mb() -> float:
    # Linux reports ru_maxrss in KiB.
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 / 1e6


#: Size of the sample each contender reads once before the clock starts (see :func:`_child`).
WARMUP_BYTES = 64_000


def _child(
    contender: str, fmt: str, path: Path, threads: int, warmup: Path | None = None
) -> dict[str, Any]:
    """Measure one run of ``contender`` on ``path`` in this (fresh) process.

    Before the clock starts: the contender's imports, its ``warm`` hook, and one read of
    ``warmup`` (a small file of the same format and compression), which pays what a process
    pays once before its first read: modules imported lazily on the first call (pyarrow imports
    pandas the first time ``pa.table`` meets an object that is not a dict or a list, about
    0.2-0.3 s here), plugin discovery, a library's one-time setup.
    """
    if contender == CEILING:
        size = path.stat().st_size
        buf = bytearray(size)
        view = memoryview(buf)
        baseline = _maxrss_mb()
        start = time.perf_counter()
        with path.open("rb", buffering=0) as f:
            done = 0
            while done < size:
                n = f.readinto(view[done:])
                if not n:
                    break
                done += n
        seconds = time.perf_counter() - start
        return {"seconds": seconds, "rows": 0, "peak_rss_mb": _maxrss_mb(), "baseline": baseline}

    from benches.peers import ALL, row_count

    spec = ALL[contender]
    for module in spec.imports:
        importlib.import_module(module)
    if spec.warm is not None:
        spec.warm()
    if warmup is not None:
        row_count(spec.run(warmup, fmt, threads))
    baseline = _maxrss_mb()
    modules = set(sys.modules)
    start = time.perf_counter()
    result = spec.run(path, fmt, threads)
    rows = row_count(result)
    seconds = time.perf_counter() - start
    return {
        "seconds": seconds,
        "rows": rows,
        "peak_rss_mb": _maxrss_mb(),
        "baseline": baseline,
        # Modules imported inside the timed window (should be none): a check on the warm-up.
        "late_imports": sorted(set(sys.modules) - modules),
    }


# --------------------------------------------------------------------------------------------
# The parent
# --------------------------------------------------------------------------------------------


def _warm(path: Path) -> None:
    """Read the file once so that the run starts from the page cache."""
    with path.open("rb", buffering=0) as f:
        while f.read(16 << 20):
            pass


def _child_env(threads: int) -> dict[str, str]:
    env = dict(os.environ)
    env["POLARS_MAX_THREADS"] = str(threads)  # read once, when polars is imported
    env["RAYON_NUM_THREADS"] = str(threads)
    env["HF_DATASETS_OFFLINE"] = "1"
    env["HF_HUB_OFFLINE"] = "1"
    env["TOKENIZERS_PARALLELISM"] = "false"
    # pyarrow imports numpy, whose OpenBLAS starts a thread per core that busy-waits for about
    # 0.1 s after the import, inside the timed window, on every contender; no contender uses BLAS.
    env["OPENBLAS_NUM_THREADS"] = "1"
    root = str(BENCH_DIR.parent)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (root, env.get("PYTHONPATH")) if p)
    return env


def _measure_once(run: Run, path: Path, warmup: Path | None = None) -> dict[str, Any]:
    _warm(path)
    cmd = [
        sys.executable,
        "-m",
        "benches.compare",
        "--child",
        run.contender,
        run.fmt,
        str(path),
        str(run.threads),
        *([str(warmup)] if warmup is not None else []),
    ]
    proc = subprocess.run(
        cmd,
        capture_output=True,
        text=True,
        env=_child_env(run.threads),
        timeout=_CHILD_TIMEOUT_S,
        check=False,
    )
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("{")]
    if proc.returncode != 0 or not lines:
        tail = (proc.stderr.strip().splitlines() or ["(no output)"])[-1]
        return {"error": f"exit {proc.returncode}: {tail[:300]}"}
    result: dict[str, Any] = json.loads(lines[-1])
    return result


def measure(run: Run, reps: int) -> Measurement:
    """Run ``run`` ``reps`` times, each in a fresh process, and keep the medians."""
    path = generate(run.fmt, run.size, compression=run.compression)  # type: ignore[arg-type]
    data = info(path)
    warmup = generate(run.fmt, WARMUP_BYTES, compression=run.compression)  # type: ignore[arg-type]
    samples = []
    for _ in range(reps):
        sample = _measure_once(run, path, warmup)
        if "error" in sample:
            error = sample["error"]
            return Measurement(run, data.mb, 0, 0.0, 0.0, 0.0, (), error, data.file_bytes / 1e6)
        samples.append(sample)
    rows = samples[0]["rows"] if run.contender != CEILING else data.rows
    return Measurement(
        run=run,
        mb=data.mb,
        rows=rows,
        seconds=statistics.median(s["seconds"] for s in samples),
        peak_rss_mb=statistics.median(s["peak_rss_mb"] for s in samples),
        baseline_rss_mb=statistics.median(s["baseline"] for s in samples),
        times=tuple(s["seconds"] for s in samples),
        file_mb=data.file_bytes / 1e6,
    )


def plan(
    sizes: Sequence[int],
    formats: Sequence[str],
    compressions: Sequence[str | None],
    threads: Sequence[int],
    only: Sequence[str] | None = None,
    scaling: Sequence[int] = (),
) -> list[Run]:
    """The runs, in order.

    Plain files: every brightingest operation and every multithreaded peer at each thread
    count, single-threaded peers once, and the ceiling. Compressed files: brightingest ingest
    and stream-ingest at each thread count and the peers that read that compression, at the
    highest thread count.
    Scaling: brightingest stream-ingest of BrightRun v4 at each of ``scaling`` sizes.
    """
    from benches.peers import ALL

    top = max(threads)
    runs: list[Run] = []
    for size in sizes:
        for fmt in formats:
            for comp in compressions:
                if comp is None and (only is None or CEILING in only):
                    runs.append(Run(CEILING, fmt, size, None, 1))
                for spec in ALL.values():
                    if only is not None and spec.name not in only:
                        continue
                    if fmt not in spec.formats or comp not in spec.compressions:
                        continue
                    if comp is not None and spec.operation not in ("ingest", "stream-ingest"):
                        continue
                    if not spec.multithreaded:
                        counts: Sequence[int] = (1,)
                    elif comp is not None and not spec.is_brightingest:
                        counts = (top,)
                    else:
                        counts = threads
                    runs.extend(Run(spec.name, fmt, size, comp, n) for n in counts)
    runs.extend(
        Run("brightingest stream-ingest", "brightrun-v4", size, None, top, table="scaling")
        for size in scaling
    )
    return runs


# --------------------------------------------------------------------------------------------
# The machine
# --------------------------------------------------------------------------------------------


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _ram_gb() -> float:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return int(line.split()[1]) * 1024 / 1e9
    except OSError:
        pass
    return 0.0


def _version(dist: str) -> str:
    if dist == "python":
        return platform.python_version()
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        pass
    try:  # importable from a source tree (PYTHONPATH) without being installed
        return str(getattr(importlib.import_module(dist), "__version__", "unknown"))
    except ImportError:
        return "not installed"


def machine() -> dict[str, Any]:
    """A description of this machine and the library versions, for the report."""
    cores = os.cpu_count() or 0
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else cores
    libs = ("brightingest", "pyarrow", "polars", "duckdb", "orjson", "datasets", "numpy")
    return {
        "cpu": _cpu_model(),
        "cores": cores,
        "usable_cores": usable,
        "ram_gb": round(_ram_gb(), 1),
        "os": f"{platform.system()} {platform.release()}",
        "python": platform.python_version(),
        "load_avg": os.getloadavg() if hasattr(os, "getloadavg") else None,
        "versions": {lib: _version(lib) for lib in libs},
        "date": dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
    }


# --------------------------------------------------------------------------------------------
# The report
# --------------------------------------------------------------------------------------------


def _label(m: Measurement) -> str:
    name = m.run.contender
    from benches.peers import ALL

    spec = ALL.get(name)
    if spec is not None and spec.multithreaded:
        return f"{name} ({m.run.threads}T)"
    return name


def _is_peer(m: Measurement) -> bool:
    from benches.peers import ALL

    spec = ALL.get(m.run.contender)
    return spec is not None and not spec.is_brightingest


def _fastest_peer(group: list[Measurement]) -> Measurement | None:
    peers = [m for m in group if _is_peer(m) and not m.error]
    return max(peers, key=lambda m: m.mb_s) if peers else None


def _fmt_num(x: float) -> str:
    if x >= 100:
        return f"{x:,.0f}"
    if x >= 10:
        return f"{x:.1f}"
    return f"{x:.2f}"


def _table(group: list[Measurement]) -> list[str]:
    best = _fastest_peer(group)
    lines = [
        "| contender | MB/s | rows/s | peak RSS / input | time (s) [min–max] | vs fastest peer |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    ordered = sorted(group, key=lambda m: (m.error is not None, -m.mb_s))
    for m in ordered:
        label = _label(m)
        if m.error:
            lines.append(f"| {label} | failed: {m.error} | | | | |")
            continue
        is_bi = m.run.contender.startswith("brightingest")
        if is_bi:
            label = f"**{label}**"
        rows = "–" if m.run.contender == CEILING else f"{m.rows_s:,.0f}"
        ratio = f"{m.mb_s / best.mb_s:.2f}×" if best else "–"
        if best is m:
            ratio = "1.00× (fastest peer)"
        rss = "–" if m.run.contender == CEILING else f"{m.rss_ratio:.2f}× ({m.peak_rss_mb:,.0f} MB)"
        spread = f" [{min(m.times):.2f}–{max(m.times):.2f}]" if len(m.times) > 1 else ""
        lines.append(
            f"| {label} | {_fmt_num(m.mb_s)} | {rows} | {rss} | {m.seconds:.2f}{spread} | {ratio} |"
        )
    return lines


def _groups(results: list[Measurement]) -> dict[tuple[int, str, str | None], list[Measurement]]:
    groups: dict[tuple[int, str, str | None], list[Measurement]] = {}
    for m in results:
        if m.run.table == "main":
            groups.setdefault((m.run.size, m.run.fmt, m.run.compression), []).append(m)
    return groups


def _summary(results: list[Measurement]) -> list[str]:
    """One line per file: brightingest's whole-table ingest (`load`) and its streamed ingest
    (`stream`), each at its best thread count, against the fastest peer (which builds a whole
    table)."""
    lines = [
        "## Summary: to normalized messages",
        "",
        "brightingest's whole-table ingest (`load`, which builds what every peer builds: one "
        "table) and its streamed ingest (`stream`, batches in bounded memory), each at its best "
        "thread count, against the fastest peer on the same file.",
        "",
        "| input | load MB/s | peak RSS / input | stream MB/s | peak RSS / input | "
        "fastest peer | MB/s | peak RSS / input | load ratio | stream ratio |",
        "|---|---:|---:|---:|---:|---|---:|---:|---:|---:|",
    ]
    rows = 0
    for (size, fmt, comp), group in sorted(
        _groups(results).items(), key=lambda kv: (kv[0][0], kv[0][1], kv[0][2] or "")
    ):
        best = _fastest_peer(group)
        tops: list[Measurement | None] = []
        for name in ("brightingest ingest", "brightingest stream-ingest"):
            ours = [m for m in group if not m.error and m.run.contender == name]
            tops.append(max(ours, key=lambda m: m.mb_s) if ours else None)
        if best is None or not any(tops):
            continue
        cells = []
        for top in tops:
            cells.append(
                f"{_fmt_num(top.mb_s)} ({top.run.threads}T) | {top.rss_ratio:.2f}×"
                if top
                else "– | –"
            )
        ratios = [f"**{top.mb_s / best.mb_s:.2f}×**" if top else "–" for top in tops]
        lines.append(
            f"| {fmt} {format_size(size)} {comp or 'plain'} | {cells[0]} | {cells[1]} | "
            f"{_label(best)} | {_fmt_num(best.mb_s)} | {best.rss_ratio:.2f}× | "
            f"{ratios[0]} | {ratios[1]} |"
        )
        rows += 1
    return [*lines, ""] if rows else []


def render_markdown(
    results: list[Measurement], mach: dict[str, Any], commands: Sequence[str]
) -> str:
    """RESULTS.md: the machine, the method, one table per file, and the scaling table."""
    from benches.peers import ALL

    v = mach["versions"]
    load, load_end = mach.get("load_avg"), mach.get("load_avg_end")
    load_text = f"; 1-minute load average {load[0]:.1f} at start" if load else ""
    if load and load_end:
        load_text += f", {load_end[0]:.1f} at end (other work on the machine adds noise)"
    out = [
        "# brightingest benchmark results",
        "",
        f"Measured {mach['date']} on **{mach['cpu']}**, {mach['usable_cores']} usable cores "
        f"of {mach['cores']}, {mach['ram_gb']} GB RAM, {mach['os']}{load_text}.",
        f"Python {mach['python']}; brightingest {v['brightingest']}, pyarrow {v['pyarrow']}, "
        f"polars {v['polars']}, duckdb {v['duckdb']}, orjson {v['orjson']}, "
        f"datasets {v['datasets']}, numpy {v['numpy']}.",
        "",
        "Reproduce: "
        + ", then ".join(f"`{c}`" for c in commands)
        + " (writes this file and `benches/results.png`).",
        "",
        "How: every run is a fresh Python process (imports done before the clock starts, "
        "pyarrow included for every contender that returns Arrow, brightingest's format "
        "plugins loaded, and one read of a 64 KB file of the same format and compression, which "
        "pays what is imported lazily on a first call, such as the pandas that pyarrow imports "
        "the first time `pa.table` is given a stream: one-time costs of a process, not of a "
        "read); the "
        "input file is read once before each run, so every contender starts from the page cache "
        "(no cache is dropped); the median of the repetitions is shown. MB = 10^6 bytes of "
        "uncompressed JSONL, also for gzip/zstd inputs. Peak RSS is the child's `ru_maxrss`, "
        "interpreter and libraries included, divided by the uncompressed input size. "
        "Children run with `OPENBLAS_NUM_THREADS=1`: pyarrow imports numpy, whose OpenBLAS "
        "threads otherwise busy-wait for about 0.1 s inside the timed window of every "
        "contender. *vs fastest peer* is the speed ratio against the fastest non-brightingest "
        "contender on the same file (above 1 is faster). `(NT)` is the thread count given. Time "
        "is the median with the fastest and slowest repetition in brackets. Every contender "
        "builds the same `messages` (checked by `tests/benches/test_peers.py`); brightingest's "
        "ingest also builds `id`, `metadata`, `tools`, source columns and the line report. "
        "The `brightingest read` and `stream-read` rows produce raw rows (each line as compact "
        "JSON text), not messages: their ratio compares different work.",
        "",
    ]
    out += _summary(results)
    for (size, fmt, comp), group in sorted(
        _groups(results).items(), key=lambda kv: (kv[0][0], kv[0][1], kv[0][2] or "")
    ):
        mb = group[0].mb
        rows = next((m.rows for m in group if m.rows and not m.error), 0)
        kind = "plain" if comp is None else f"{comp} ({group[0].file_mb:,.1f} MB on disk)"
        out.append(f"## {fmt}, {format_size(size)} ({mb:,.0f} MB, {rows:,} rows), {kind}")
        out.append("")
        out.extend(_table(group))
        out.append("")
    scaling = [m for m in results if m.run.table == "scaling"]
    if scaling:
        out += [
            "## Scaling: brightingest streamed ingest (brightrun-v4, plain)",
            "",
            f"Threads: {max(m.run.threads for m in scaling)}. Growth is against the smallest "
            "input: time should grow with the input, peak RSS should not.",
            "",
            "| input | time (s) | MB/s | peak RSS | peak RSS / input | time growth | RSS growth |",
            "|---|---:|---:|---:|---:|---:|---:|",
        ]
        ok = sorted((m for m in scaling if not m.error), key=lambda m: m.run.size)
        first = ok[0] if ok else None
        for m in sorted(scaling, key=lambda m: m.run.size):
            if m.error or first is None:
                out.append(f"| {format_size(m.run.size)} | failed: {m.error} | | | | | |")
                continue
            out.append(
                f"| {format_size(m.run.size)} ({m.mb:,.0f} MB) | {m.seconds:.2f} | "
                f"{_fmt_num(m.mb_s)} | {m.peak_rss_mb:,.0f} MB | {m.rss_ratio:.3f}× | "
                f"{m.seconds / first.seconds:.1f}× | {m.peak_rss_mb / first.peak_rss_mb:.2f}× |"
            )
        out.append("")
    out += ["## Contenders", ""]
    names = sorted({m.run.contender for m in results})
    for name in names:
        if name == CEILING:
            out.append(
                "- **ceiling**: read the file from the page cache into a `bytearray` "
                "(plain files only)."
            )
        elif name in ALL:
            out.append(f"- **{name}**: {ALL[name].note}.")
    out.append("")
    return "\n".join(out)


def render_chart(results: list[Measurement], path: Path) -> None:
    """A horizontal bar chart of MB/s per contender, one panel per plain file."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    groups = [
        (key, group)
        for key, group in sorted(_groups(results).items(), key=lambda kv: (kv[0][0], kv[0][1]))
        if key[2] is None
    ]
    if not groups:
        return
    height = max(len(g) for _, g in groups) * 0.32 + 1.2
    fig, axes = plt.subplots(len(groups), 1, figsize=(9, height * len(groups)), squeeze=False)
    for ax, ((size, fmt, _), group) in zip(axes[:, 0], groups, strict=True):
        ok = sorted((m for m in group if not m.error), key=lambda m: m.mb_s)
        colors = [
            "#d1495b"
            if m.run.contender.startswith("brightingest")
            else ("#8d99ae" if m.run.contender == CEILING else "#30638e")
            for m in ok
        ]
        ax.barh([_label(m) for m in ok], [m.mb_s for m in ok], color=colors)
        for i, m in enumerate(ok):
            ax.text(m.mb_s, i, f" {m.mb_s:,.0f}", va="center", fontsize=8)
        ax.set_xscale("log")
        ax.set_xlabel("MB/s (uncompressed input, log scale)")
        ax.set_title(f"{fmt}, {format_size(size)}, plain JSONL (peers: to normalized messages)")
        ax.tick_params(axis="y", labelsize=8)
    from matplotlib.patches import Patch

    legend = [
        Patch(color="#d1495b", label="brightingest"),
        Patch(color="#30638e", label="peers"),
        Patch(color="#8d99ae", label="page-cache read (ceiling)"),
    ]
    axes[0, 0].legend(handles=legend, loc="lower right", fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


# --------------------------------------------------------------------------------------------
# CLI
# --------------------------------------------------------------------------------------------


_PLUMBING = ("--out", "--chart", "--json", "--merge")


def public_command(argv: Sequence[str]) -> str:
    """The command line that reproduces a run, without where its outputs went."""
    kept: list[str] = []
    skip = False
    for arg in argv:
        if skip:
            skip = False
        elif arg in _PLUMBING:
            skip = True
        elif not arg.startswith(tuple(f"{p}=" for p in _PLUMBING)):
            kept.append(arg)
    return shlex.join(["python", "-m", "benches.compare", *kept])


def load_results(path: Path) -> tuple[list[Measurement], list[str], dict[str, Any]]:
    """The measurements, commands and machine of a ``--json`` file, for ``--merge``."""
    raw = json.loads(path.read_text(encoding="utf-8"))
    results = []
    for item in raw["results"]:
        fields = {k: v for k, v in item.items() if k not in ("mb_s", "rows_s")}
        fields["run"] = Run(**fields["run"])
        fields["times"] = tuple(fields["times"])
        results.append(Measurement(**fields))
    commands = [public_command(shlex.split(c)[3:]) for c in raw.get("commands", [])]
    return results, commands, dict(raw.get("machine", {}))


def _compressions(text: str) -> list[str | None]:
    out: list[str | None] = []
    for item in text.split(","):
        item = item.strip().lower()
        if item in ("none", "plain", ""):
            out.append(None)
        elif item in ("gzip", "zstd"):
            out.append(item)
        else:
            raise argparse.ArgumentTypeError(f'unknown compression "{item}" (plain, gzip, zstd)')
    return out


def main(argv: list[str] | None = None) -> int:
    """``python -m benches.compare``: see the module docstring."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["--child"]:
        contender, fmt, path, count = argv[1:5]
        warmup = Path(argv[5]) if len(argv) > 5 else None
        print(json.dumps(_child(contender, fmt, Path(path), int(count), warmup)))
        return 0
    parser = argparse.ArgumentParser(prog="python -m benches.compare")
    parser.add_argument("--sizes", default="100MB", help="comma-separated, e.g. 100MB,1GB")
    parser.add_argument("--formats", default="brightrun-v4,openai")
    parser.add_argument("--compressions", type=_compressions, default=[None, "gzip", "zstd"])
    parser.add_argument("--threads", default="1,2", help="thread counts, e.g. 1,2")
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--only", default=None, help="comma-separated contender names")
    parser.add_argument(
        "--scaling",
        action="store_true",
        help="add brightingest streamed ingest at 100MB, 1GB and 4GB (needs ~5 GB of disk)",
    )
    parser.add_argument("--scaling-sizes", default="100MB,1GB,4GB")
    parser.add_argument("--out", type=Path, default=BENCH_DIR / "RESULTS.md")
    parser.add_argument("--chart", type=Path, default=BENCH_DIR / "results.png")
    parser.add_argument("--json", type=Path, default=None, help="also write raw results here")
    parser.add_argument(
        "--merge",
        type=Path,
        default=None,
        help="a --json file of an earlier run (same machine) whose results join this report",
    )
    parser.add_argument(
        "--report-only",
        action="store_true",
        help="measure nothing: rewrite the report and chart from --merge",
    )
    args = parser.parse_args(argv)
    if args.report_only and not args.merge:
        parser.error("--report-only needs --merge FILE")
    earlier, earlier_commands, earlier_machine = (
        load_results(args.merge) if args.merge else ([], [], {})
    )

    from benches.peers import core_unavailable_reason

    sizes = [parse_size(s) for s in args.sizes.split(",")]
    formats = [f.strip() for f in args.formats.split(",")]
    threads = [int(t) for t in args.threads.split(",")]
    only = [o.strip() for o in args.only.split(",")] if args.only else None
    scaling = [parse_size(s) for s in args.scaling_sizes.split(",")] if args.scaling else []
    runs = (
        [] if args.report_only else plan(sizes, formats, args.compressions, threads, only, scaling)
    )
    reason = core_unavailable_reason()
    if reason:
        print(f"note: {reason}; brightingest runs will be skipped", file=sys.stderr)
        runs = [r for r in runs if not r.contender.startswith("brightingest")]

    mach = earlier_machine if args.report_only and earlier_machine else machine()
    if earlier_machine and not args.report_only:
        # One report over several runs: it starts where the first one started.
        mach["load_avg"] = earlier_machine.get("load_avg")
        mach["date"] = str(earlier_machine.get("date", mach["date"])).split(" to ")[0]
    results: list[Measurement] = []
    for i, run in enumerate(runs, 1):
        label = (
            f"[{i}/{len(runs)}] {run.contender} {run.fmt} {format_size(run.size)} "
            f"{run.compression or 'plain'} {run.threads}T"
        )
        print(label, end=" ... ", file=sys.stderr, flush=True)
        m = measure(run, args.reps)
        results.append(m)
        outcome = m.error or f"{m.seconds:.2f}s {m.mb_s:,.1f} MB/s {m.peak_rss_mb:,.0f} MB RSS"
        print(outcome, file=sys.stderr, flush=True)

    if not args.report_only:
        if hasattr(os, "getloadavg"):
            mach["load_avg_end"] = os.getloadavg()
        mach["date"] = f"{mach['date']} to {machine()['date']}"
    commands = list(earlier_commands)
    if runs:
        commands.append(public_command(argv))
    # A run measured again (same contender, file and threads) replaces the earlier one.
    remeasured = {m.run for m in results}
    results = [m for m in earlier if m.run not in remeasured] + results
    args.out.write_text(render_markdown(results, mach, commands), encoding="utf-8")
    render_chart(results, args.chart)
    if args.json:
        raw = [{**asdict(m), "mb_s": m.mb_s, "rows_s": m.rows_s} for m in results]
        dump = {"machine": mach, "commands": commands, "results": raw}
        args.json.write_text(json.dumps(dump, indent=1))
    print(f"wrote {args.out} and {args.chart}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
