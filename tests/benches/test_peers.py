"""Every benchmark peer builds the same messages as brightingest, from the same file."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

from benches.generate import Compression, generate, info
from benches.peers import BRIGHTINGEST, PEERS, TARGET_WEIGHT, messages_of, row_count

SAMPLE = Path(__file__).resolve().parents[2] / "examples" / "brightrun_v4_sample.jsonl"
SYSTEM = (
    "You are Bright, a warm and practical wellbeing coach. Keep answers short, kind and concrete."
)
#: The library each peer needs.
NEEDS = {
    "orjson-loop": "orjson",
    "pyarrow": "numpy",
    "polars": "polars",
    "duckdb": "duckdb",
    "hf-datasets": "datasets",
}
#: zstd test files need the zstandard package (the benchmark extra has it).
HAVE_ZSTD = importlib.util.find_spec("zstandard") is not None
COMPRESSIONS: list[Compression | None] = [None, "gzip", "zstd"] if HAVE_ZSTD else [None, "gzip"]


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> dict[tuple[str, str | None], Path]:
    """Small generated files (module-wide cache dir), plain and compressed."""
    mp = pytest.MonkeyPatch()
    mp.setenv("BRIGHTINGEST_BENCH_DATA", str(tmp_path_factory.mktemp("bench-data")))
    try:
        return {
            (fmt, comp): generate(fmt, 250_000, compression=comp)
            for fmt in ("brightrun-v4", "openai")
            for comp in COMPRESSIONS
        }
    finally:
        mp.undo()


def reference(path: Path, fmt: str) -> list[list[dict[str, object]]]:
    return messages_of(PEERS["json-loop"].run(path, fmt, 1))


def test_json_loop_on_the_shipped_sample() -> None:
    got = reference(SAMPLE, "brightrun-v4")
    assert len(got) == 17  # 19 lines: line 1 is _meta, line 7 is cut short (invalid JSON)
    assert got[0] == [
        {"role": "system", "content": SYSTEM, "weight": None},
        {
            "role": "user",
            "content": "I've been feeling overwhelmed at work lately.",
            "weight": None,
        },
        {
            "role": "assistant",
            "content": "That sounds exhausting. What part of work feels heaviest right now?",
            "weight": TARGET_WEIGHT,
        },
    ]
    third = got[2]
    assert [(m["role"], m["weight"]) for m in third] == [
        ("system", None),
        ("user", None),
        ("assistant", 0),
        ("user", None),
        ("assistant", 0),
        ("user", None),
        ("assistant", TARGET_WEIGHT),
    ]
    assert third[-2]["content"] == "OK: the report, the client demo, and the budget review."


@pytest.mark.parametrize("compression", COMPRESSIONS)
@pytest.mark.parametrize("fmt", ["brightrun-v4", "openai"])
@pytest.mark.parametrize("name", sorted(PEERS))
def test_peer_builds_the_reference_messages(
    files: dict[tuple[str, str | None], Path], name: str, fmt: str, compression: str | None
) -> None:
    peer = PEERS[name]
    if compression not in peer.compressions:
        pytest.skip(f"{name} is compared on plain files only")
    if name in NEEDS:
        pytest.importorskip(NEEDS[name])
    path = files[(fmt, compression)]
    result = peer.run(path, fmt, 2)
    assert row_count(result) == info(path).rows
    assert messages_of(result) == reference(files[(fmt, None)], fmt)


def test_reference_covers_the_edge_cases(files: dict[tuple[str, str | None], Path]) -> None:
    """The comparison file has what makes a mapping hard (else equality would prove little)."""
    brightrun = reference(files[("brightrun-v4", None)], "brightrun-v4")
    starts = {m[0]["role"] for m in brightrun}
    assert starts == {"system", "user"}  # system prompt present, missing, null or empty
    assert any(len(m) > 9 for m in brightrun)  # long histories
    openai = reference(files[("openai", None)], "openai")
    roles = {m["role"] for row in openai for m in row}
    assert roles == {"system", "user", "assistant", "tool"}
    assert {m["weight"] for row in openai for m in row} == {None, 0, 1}
    assert any(m["content"] == "" for row in openai for m in row)  # a tool call's null content


def test_row_count_and_messages_of_reject_streams() -> None:
    assert row_count(7) == 7
    with pytest.raises(TypeError, match="keeps no rows"):
        messages_of(7)


@pytest.mark.parametrize("fmt", ["brightrun-v4", "openai"])
def test_brightingest_builds_the_same_messages(
    files: dict[tuple[str, str | None], Path], fmt: str
) -> None:
    pytest.importorskip("brightingest._core", reason="brightingest._core is not built")
    path = files[(fmt, None)]
    table = BRIGHTINGEST["brightingest ingest"].run(path, fmt, 2)
    assert messages_of(table) == reference(path, fmt)
    streamed = BRIGHTINGEST["brightingest stream-ingest"].run(path, fmt, 1)
    assert streamed == info(path).rows


@pytest.mark.parametrize("compression", COMPRESSIONS)
def test_brightingest_raw_read_has_every_line(
    files: dict[tuple[str, str | None], Path], compression: str | None
) -> None:
    pytest.importorskip("brightingest._core", reason="brightingest._core is not built")
    import json

    path = files[("brightrun-v4", compression)]
    table = BRIGHTINGEST["brightingest read"].run(path, "brightrun-v4", 2)
    assert row_count(table) == info(path).lines
    values = table.column("value").to_pylist()  # type: ignore[union-attr]
    plain = files[("brightrun-v4", None)].read_bytes().splitlines()
    assert [json.loads(v) for v in values[:50]] == [json.loads(line) for line in plain[:50]]
    assert BRIGHTINGEST["brightingest stream-read"].run(path, "brightrun-v4", 1) == len(plain)
