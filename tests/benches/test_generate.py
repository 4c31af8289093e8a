"""The benchmark data generator: seeded, sized, realistic, cached, with bad lines on request."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest

from benches import generate as gen
from benches.generate import FORMATS, format_size, generate, info, parse_size

SIZE = 150_000


@pytest.fixture(autouse=True)
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Every test gets its own cache directory."""
    directory = tmp_path / "cache"
    monkeypatch.setenv("BRIGHTINGEST_BENCH_DATA", str(directory))
    return directory


def rows(path: Path) -> list[dict[str, object]]:
    return [json.loads(line) for line in path.read_bytes().splitlines()]


def test_size_parsing_and_spelling() -> None:
    assert parse_size("100MB") == 100_000_000
    assert parse_size("1GB") == 10**9
    assert parse_size("2.5gb") == 2_500_000_000
    assert parse_size("512KB") == 512_000
    assert parse_size("1234") == 1234
    assert [format_size(n) for n in (100_000_000, 10**9, 4 * 10**9, 1234)] == [
        "100MB",
        "1GB",
        "4GB",
        "1234B",
    ]
    with pytest.raises(ValueError, match='not a size: "lots"'):
        parse_size("lots")


@pytest.mark.parametrize("fmt", FORMATS)
def test_every_format_is_valid_jsonl_of_about_the_target_size(cache: Path, fmt: str) -> None:
    path = generate(fmt, SIZE)
    data = info(path)
    raw = path.read_bytes()
    assert path.parent == cache
    assert data.bytes == len(raw) == data.file_bytes
    assert SIZE <= data.bytes < SIZE * 1.1
    parsed = rows(path)
    assert len(parsed) == data.lines == data.rows + data.meta_lines
    assert all(isinstance(r, dict) for r in parsed)
    body = parsed[data.meta_lines :]
    required = {
        "brightrun-v4": {"id", "current_user_input", "target_response", "conversation_history"},
        "openai": {"messages"},
        "sharegpt": {"conversations"},
        "alpaca": {"instruction", "input", "output"},
        "prompt-completion": {"prompt", "completion"},
    }[fmt]
    assert all(required <= r.keys() for r in body)


def test_same_seed_same_bytes_other_seed_other_bytes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = generate("openai", SIZE, seed=3).read_bytes()
    monkeypatch.setenv("BRIGHTINGEST_BENCH_DATA", str(tmp_path / "other"))
    assert generate("openai", SIZE, seed=3).read_bytes() == first
    assert generate("openai", SIZE, seed=4).read_bytes() != first


def test_files_are_cached_by_their_parameters() -> None:
    path = generate("alpaca", SIZE)
    stamp = path.stat().st_mtime_ns
    assert generate("alpaca", SIZE) == path
    assert path.stat().st_mtime_ns == stamp
    assert generate("alpaca", SIZE, seed=1) != path
    assert generate("alpaca", SIZE, bad_lines=1) != path
    assert path.name == f"alpaca-150KB-seed0-bad0-v{gen.GENERATOR_VERSION}.jsonl"


def test_brightrun_has_meta_line_and_growing_histories() -> None:
    path = generate("brightrun-v4", 400_000)
    data = info(path)
    lines = rows(path)
    meta = lines[0]
    assert list(meta) == ["_meta"]
    body = lines[1:]
    assert meta["_meta"]["turn_count"] == len(body) == data.rows  # type: ignore[index]
    firsts = [r for r in body if r["turn_number"] == 1]
    assert meta["_meta"]["conversation_count"] == len(firsts)  # type: ignore[index]
    by_conv: dict[str, list[dict[str, object]]] = {}
    for r in body:
        by_conv.setdefault(str(r["conversation_id"]), []).append(r)
    assert max(len(turns) for turns in by_conv.values()) >= 4  # multi-turn, long tail
    for turns in by_conv.values():
        for k, (row, nxt) in enumerate(zip(turns, turns[1:], strict=False)):
            assert row["turn_number"] == k + 1
            assert row["id"] == f"{row['conversation_id']}-t{k + 1}"
            history = row["conversation_history"]
            assert isinstance(history, list)
            assert len(history) == 2 * k
            # The next turn repeats this history, then this turn's user input and target.
            assert nxt["conversation_history"] == [
                *history,
                {"role": "user", "content": row["current_user_input"]},
                {"role": "assistant", "content": row["target_response"]},
            ]
    scores = {r["training_metadata"]["quality_score"] for r in body}  # type: ignore[index]
    assert scores == {1, 2, 3, 4, 5}
    assert all(isinstance(r["emotional_context"], dict) for r in body)
    systems = [r.get("system_prompt", "<missing>") for r in body]
    assert "<missing>" in systems
    assert None in systems


def test_text_is_realistic_unicode_escapes_and_long_tailed() -> None:
    path = generate("openai", 600_000)
    raw = path.read_text(encoding="utf-8")
    for needle in ("é", "ü", "ñ", "仕事", "你好", "👍🏽", "\\n", '\\"', "\\\\", "\\ud83"):
        assert needle in raw, needle
    contents = [
        m["content"]
        for r in rows(path)
        for m in r["messages"]  # type: ignore[attr-defined]
        if isinstance(m["content"], str)
    ]
    lengths = sorted(len(c) for c in contents)
    median = lengths[len(lengths) // 2]
    assert lengths[-1] > 20 * median  # a long tail
    assert any(m.get("tool_calls") for r in rows(path) for m in r["messages"])  # type: ignore[attr-defined]


def test_bad_lines_are_where_and_what_the_info_says() -> None:
    path = generate("openai", 300_000, bad_lines=6)
    data = info(path)
    lines = path.read_bytes().splitlines()
    assert len(lines) == data.lines == data.rows + 6
    kinds = [b.kind for b in data.bad_lines]
    assert kinds == list(gen._BAD_KINDS)
    numbers = [b.line for b in data.bad_lines]
    assert numbers == sorted(numbers)
    assert numbers[0] > 1
    assert numbers[-1] < len(lines)
    bad = {b.line: b.kind for b in data.bad_lines}
    for number, line in enumerate(lines, 1):
        kind = bad.get(number)
        if kind is None:
            assert isinstance(json.loads(line), dict)
        elif kind == "truncated":
            with pytest.raises(json.JSONDecodeError):
                json.loads(line)
        elif kind == "invalid_utf8":
            with pytest.raises(UnicodeDecodeError):
                line.decode("utf-8")
        elif kind == "not_an_object":
            assert json.loads(line) == [1, 2, 3]
        elif kind == "missing_field":
            assert "messages" not in json.loads(line)
        elif kind == "unknown_role":
            assert json.loads(line)["messages"][-1]["role"] == "bot"
        else:
            assert json.loads(line)["messages"] == 42


def test_single_turn_formats_get_wrong_type_instead_of_unknown_role() -> None:
    data = info(generate("alpaca", SIZE, bad_lines=6))
    assert [b.kind for b in data.bad_lines].count("wrong_type") == 2


def test_compressed_files_hold_the_plain_bytes() -> None:
    zstandard = pytest.importorskip("zstandard")

    plain = generate("sharegpt", SIZE)
    gz = generate("sharegpt", SIZE, compression="gzip")
    zst = generate("sharegpt", SIZE, compression="zstd")
    assert gz.name.endswith(".jsonl.gz")
    assert zst.name.endswith(".jsonl.zst")
    assert gzip.decompress(gz.read_bytes()) == plain.read_bytes()
    assert zstandard.ZstdDecompressor().decompress(zst.read_bytes()) == plain.read_bytes()
    assert info(gz).compression == "gzip"
    assert info(gz).bytes == info(plain).bytes > info(gz).file_bytes == gz.stat().st_size
    assert info(zst).rows == info(plain).rows


def test_wrong_arguments() -> None:
    with pytest.raises(ValueError, match='unknown format "csv"'):
        generate("csv", SIZE)
    with pytest.raises(ValueError, match='unknown compression "brotli"'):
        generate("openai", SIZE, compression="brotli")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="must be positive"):
        generate("openai", 0)


def test_cli_prints_the_path(capsys: pytest.CaptureFixture[str]) -> None:
    assert gen.main(["prompt-completion", "--size", "120KB", "--compression", "gzip"]) == 0
    out, err = capsys.readouterr()
    path = Path(out.strip())
    assert path.name == f"prompt-completion-120KB-seed0-bad0-v{gen.GENERATOR_VERSION}.jsonl.gz"
    assert path.exists()
    assert "prompt-completion: 0.1 MB uncompressed" in err
