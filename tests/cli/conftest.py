"""Fixtures for the CLI tests: run the real command line in a subprocess; build chat tables."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest

from brightingest.schema import CHAT_SCHEMA

ROOT = Path(__file__).resolve().parents[2]
SAMPLE = ROOT / "examples" / "brightrun_v4_sample.jsonl"


def _core_available() -> bool:
    try:
        import brightingest._core  # noqa: F401  # probing whether the extension is built
    except ImportError:
        return False
    return True


#: Tests that read data need the compiled reader (built by `make build-dev`).
needs_core = pytest.mark.skipif(
    not _core_available(), reason="brightingest._core is not built (run `make build-dev`)"
)


@dataclass
class Result:
    """A finished command: exit status, standard output and standard error."""

    rc: int
    out: str
    err: str

    @property
    def json(self) -> Any:
        """Standard output parsed as exactly one JSON document."""
        return json.loads(self.out)

    @property
    def text(self) -> str:
        """Everything the command printed."""
        return self.out + self.err


def cli_env() -> dict[str, str]:
    """The environment for a subprocess: the package importable, no terminal features."""
    env = dict(os.environ)
    python_dir = str(ROOT / "python")
    env["PYTHONPATH"] = python_dir + os.pathsep + env.get("PYTHONPATH", "")
    env["PYTHONIOENCODING"] = "utf-8"
    env.pop("FORCE_COLOR", None)
    env["NO_COLOR"] = "1"
    return env


Runner = Callable[..., Result]


@pytest.fixture
def cli(tmp_path: Path) -> Runner:
    """Run ``python -m brightingest ARGS`` in ``tmp_path`` (or ``cwd``); returns a Result."""

    def run(
        *args: str | os.PathLike[str],
        stdin: bytes | None = None,
        cwd: Path | None = None,
        timeout: float = 60,
        program: Sequence[str] | None = None,
    ) -> Result:
        cmd = [*(program or [sys.executable, "-m", "brightingest"]), *(os.fspath(a) for a in args)]
        proc = subprocess.run(
            cmd,
            input=stdin if stdin is not None else b"",
            capture_output=True,
            cwd=cwd or tmp_path,
            env=cli_env(),
            timeout=timeout,
            check=False,
        )
        return Result(proc.returncode, proc.stdout.decode("utf-8"), proc.stderr.decode("utf-8"))

    return run


@pytest.fixture
def sample_lines() -> list[str]:
    """The lines of the sample BrightRun v4 export that ships in the repo."""
    return SAMPLE.read_text(encoding="utf-8").splitlines()


def sample_rows() -> list[tuple[int, dict[str, Any]]]:
    """``(line number, object)`` for every valid non-metadata line of the sample, parsed here
    with the json module, independently of brightingest."""
    out = []
    for number, line in enumerate(SAMPLE.read_text(encoding="utf-8").splitlines(), 1):
        try:
            obj = json.loads(line)
        except ValueError:
            continue
        if set(obj) != {"_meta"}:
            out.append((number, obj))
    return out


def chat_table(rows: Sequence[dict[str, Any]]) -> pa.Table:
    """A table in CHAT_SCHEMA from short row dicts: ``messages`` (role/content/weight ...),
    optional ``metadata`` (a dict, dumped as JSON text), ``id``, ``tools``, ``file``, ``line``."""
    cols: dict[str, list[Any]] = {name: [] for name in CHAT_SCHEMA.names}
    blank = {"weight": None, "name": None, "tool_calls": None, "tool_call_id": None, "extra": None}
    for i, row in enumerate(rows):
        cols["messages"].append([{**blank, **m} for m in row["messages"]])
        cols["tools"].append(row.get("tools"))
        cols["id"].append(row.get("id"))
        meta = row.get("metadata")
        cols["metadata"].append(meta if isinstance(meta, str) or meta is None else json.dumps(meta))
        cols["source_file"].append(row.get("file", "data.jsonl"))
        cols["source_line"].append(row.get("line", i + 1))
        cols["format"].append(row.get("format", "openai"))
    return pa.table(cols, schema=CHAT_SCHEMA)


def conv(*pairs: str, **extra: Any) -> dict[str, Any]:
    """A row: alternating user/assistant contents, plus extra keys (metadata=..., id=...)."""
    roles = ["user", "assistant"]
    return {
        "messages": [{"role": roles[i % 2], "content": c} for i, c in enumerate(pairs)],
        **extra,
    }
