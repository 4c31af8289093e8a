"""pytest-benchmark: BrightRun v4 JSONL to OpenAI chat JSONL, the conversion of the incident.

Group ``convert brightrun-v4 <size>``: brightingest (``stream`` into ``write_openai``, what
``brightingest convert`` runs) next to the script a user writes today: read each line, skip the
``_meta`` line, build ``messages``, dump each record to the output (``json`` and ``orjson``).
Every contender writes to a file on the same disk and the written files must hold the same
records. Run with ``pytest benches/test_convert.py --benchmark-only``.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from pytest_benchmark.fixture import BenchmarkFixture

from benches.conftest import ROUNDS, Dataset, group, skip_without_core
from benches.peers import _brightrun_messages


def _record(row: dict[str, Any]) -> dict[str, Any]:
    """What the user's script writes: OpenAI messages, weight only where set."""
    messages = []
    for m in _brightrun_messages(row):
        out = {"role": m["role"], "content": m["content"]}
        if m["weight"] is not None and m["role"] == "assistant":
            out["weight"] = m["weight"]
        messages.append(out)
    return {"messages": messages}


def _script(loads: Callable[[bytes], Any], dumps: Callable[[Any], bytes]) -> Callable[..., int]:
    def run(src: Path, dest: Path) -> int:
        rows = 0
        with src.open("rb") as f, dest.open("wb") as out:
            for line in f:
                try:
                    row = loads(line)
                except ValueError:
                    continue
                if "_meta" in row and len(row) == 1:
                    continue
                out.write(dumps(_record(row)) + b"\n")
                rows += 1
        return rows

    return run


def _json_dumps(obj: Any) -> bytes:
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def _orjson() -> Callable[..., int]:
    import orjson

    return _script(orjson.loads, orjson.dumps)


def _brightingest(src: Path, dest: Path) -> int:
    import brightingest as bi
    from brightingest.writers import write_openai

    with bi.stream(src, format="brightrun-v4", progress=False) as chat:
        return write_openai(chat, dest)


CONTENDERS: dict[str, Callable[[], Callable[..., int]]] = {
    "brightingest convert": lambda: _brightingest,
    "json-loop script": lambda: _script(json.loads, _json_dumps),
    "orjson-loop script": _orjson,
}


def _records(path: Path) -> list[Any]:
    with path.open("rb") as f:
        return [json.loads(line) for line in f]


@pytest.mark.parametrize("name", list(CONTENDERS))
def test_convert_brightrun_to_openai(
    benchmark: BenchmarkFixture,
    dataset: Dataset,
    warm: Callable[[Path], None],
    tmp_path: Path,
    name: str,
) -> None:
    if name == "brightingest convert":
        skip_without_core()
    if name.startswith("orjson"):
        pytest.importorskip("orjson")
    data = dataset("brightrun-v4")
    warm(data.path)
    run = CONTENDERS[name]()
    dest = tmp_path / "out.jsonl"
    benchmark.group = group("convert", "brightrun-v4")
    rows = benchmark.pedantic(  # type: ignore[no-untyped-call]  # pytest-benchmark is untyped
        run, args=(data.path, dest), rounds=ROUNDS, iterations=1, warmup_rounds=0
    )
    benchmark.extra_info.update(contender=name, MB=round(data.mb, 2), rows=rows)
    assert rows == data.rows
    # Same records as the user's script (brightingest adds nothing, drops nothing).
    reference = tmp_path / "reference.jsonl"
    _script(json.loads, _json_dumps)(data.path, reference)
    assert _records(dest) == _records(reference)
