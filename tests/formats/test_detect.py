"""Detection on samples: scores, ranking, ties, forced formats, sampling files."""

from __future__ import annotations

import gzip
from typing import Any

import pytest

from brightingest.detect import (
    Detection,
    Sample,
    check_forced,
    core_order,
    detect_sample,
    read_sample,
)
from brightingest.errors import FormatDetectionError
from brightingest.mapping import ListOfTurns, Mapping, Message
from brightingest.plugins import FormatSpec, registry
from tests._support.data import BRIGHTRUN_META, SAMPLE_ROWS


@pytest.fixture
def specs(pm) -> dict[str, FormatSpec]:
    return {n: r.spec for n, r in registry(pm).items()}


@pytest.mark.parametrize("name", list(SAMPLE_ROWS))
def test_each_builtin_detects_its_own_rows(name: str, specs) -> None:
    detection = detect_sample(Sample.from_values(SAMPLE_ROWS[name]), specs)
    assert detection.best == name
    assert dict(detection.scores)[name] > 0.9
    assert detection.sample_size == len(SAMPLE_ROWS[name])
    assert not detection.forced


def test_scores_are_ranked_and_runner_up_needs_a_positive_score(specs) -> None:
    detection = detect_sample(Sample.from_values(SAMPLE_ROWS["alpaca"]), specs)
    assert [n for n, _ in detection.scores][0] == "alpaca"
    assert detection.runner_up is None
    assert [s for _, s in detection.scores] == sorted(
        (s for _, s in detection.scores), reverse=True
    )


def test_metadata_lines_are_not_rows(specs) -> None:
    sample = Sample.from_values(
        [BRIGHTRUN_META, *SAMPLE_ROWS["brightrun-v4"]], meta_keys=("_meta",)
    )
    assert [r.line for r in sample.meta] == [1]
    assert [r.line for r in sample.rows] == [2, 3]
    assert detect_sample(sample, specs).best == "brightrun-v4"


def test_mixed_file_is_not_a_tie_and_every_format_goes_to_the_core(specs) -> None:
    rows = SAMPLE_ROWS["openai"][:2] + SAMPLE_ROWS["sharegpt"][:2]
    detection = detect_sample(Sample.from_values(rows), specs)
    assert detection.best == "openai"  # equal share: the more specific, then registration order
    assert detection.runner_up == "sharegpt"
    assert set(detection.order) == set(specs)


def test_majority_format_wins_in_a_mixed_file(specs) -> None:
    rows = SAMPLE_ROWS["openai"][:1] + SAMPLE_ROWS["alpaca"]
    assert detect_sample(Sample.from_values(rows), specs).best == "alpaca"


def test_ambiguous_rows_are_a_tie_listing_candidates(specs) -> None:
    row = {
        "messages": [{"role": "user", "content": "a"}],
        "conversations": [{"from": "human", "value": "a"}],
    }
    with pytest.raises(FormatDetectionError) as info:
        detect_sample(Sample.from_values([row, row], file="mix.jsonl"), specs)
    assert str(info.value) == (
        'mix.jsonl:1: rows match "openai" and "sharegpt" equally well (scores openai 0.80, '
        "sharegpt 0.80 over 2 sampled rows); not guessing.\n"
        'Hint: choose one with format="openai" or format="sharegpt".'
    )
    assert info.value.candidates == ["openai", "sharegpt"]


def test_a_strictly_more_specific_format_wins_a_tie() -> None:
    general = FormatSpec(
        "general",
        "1",
        detect=lambda r: 0.8 if isinstance(r, dict) and "x" in r else 0.0,
        mapping=Mapping(("x",), (Message("user", "x"),)),
    )
    specific = FormatSpec(
        "specific",
        "1",
        detect=lambda r: 0.8 if isinstance(r, dict) and "x" in r else 0.0,
        mapping=Mapping(("x", "y"), (Message("user", "x"),)),
    )
    detection = detect_sample(
        Sample.from_values([{"x": 1, "y": 2}]), {"general": general, "specific": specific}
    )
    assert detection.best == "specific"
    assert detection.order == ("specific", "general")


def test_core_order_puts_supersets_before_subsets() -> None:
    def spec(name: str, *keys: str) -> FormatSpec:
        return FormatSpec(name, "1", mapping=Mapping(keys, (Message("user", keys[0]),)))

    specs = {s.name: s for s in (spec("a", "x"), spec("b", "x", "y"), spec("c", "z"))}
    assert core_order([("a", 0.9), ("c", 0.5), ("b", 0.1)], specs) == ("b", "a", "c")


def test_slow_path_formats_are_not_in_the_core_order(specs) -> None:
    slow = FormatSpec("slow", "1", detect=lambda r: 0.0, map_record=lambda r: None)
    everything = {**specs, "slow": slow}
    detection = detect_sample(Sample.from_values(SAMPLE_ROWS["openai"]), everything)
    assert "slow" not in detection.order


def test_no_match_names_the_row_keys_and_installed_formats(specs) -> None:
    with pytest.raises(FormatDetectionError) as info:
        detect_sample(Sample.from_values([{"text": "hello", "label": 1}], file="t.jsonl"), specs)
    assert str(info.value) == (
        "t.jsonl:1: no installed format matches this row (keys: text, label); it looks like "
        "plain text, as for pretraining or text classification: not a conversation.\n"
        "Hint: installed formats: alpaca, brightrun-v4, dolly, gemini, openai, openorca, "
        "prompt-completion, question-answer, sharegpt. Install a plugin for this format (see "
        "brightingest.hookspecs), or check that the file holds chat data."
    )


def test_no_match_names_only_shapes_it_knows(specs) -> None:
    with pytest.raises(FormatDetectionError) as info:
        detect_sample(Sample.from_values([{"text": "a", "title": "b"}], file="t.jsonl"), specs)
    assert str(info.value).startswith(
        "t.jsonl:1: no installed format matches this row (keys: text, title).\n"
    )


def test_no_object_rows_is_a_detection_error(specs) -> None:
    with pytest.raises(FormatDetectionError, match="no JSON object rows"):
        detect_sample(Sample.from_values([[1, 2], "x"], file="a.jsonl"), specs)


def test_forced_format_matching_no_row_names_the_metadata_line(specs) -> None:
    sample = Sample.from_values(
        [BRIGHTRUN_META, *SAMPLE_ROWS["brightrun-v4"]],
        file="data/export.jsonl",
        meta_keys=("_meta",),
    )
    with pytest.raises(FormatDetectionError) as info:
        check_forced(sample, "openai", specs)
    assert str(info.value) == (
        'data/export.jsonl:1: looks like brightrun-v4 (a _meta first line), but format="openai" '
        "was forced.\n"
        'Hint: drop format= to auto-detect, or pass format="brightrun-v4".'
    )
    assert info.value.candidates == ["brightrun-v4"]


def test_forced_format_names_the_lookalike_by_its_fields(specs) -> None:
    sample = Sample.from_values(SAMPLE_ROWS["sharegpt"], file="s.jsonl")
    with pytest.raises(FormatDetectionError) as info:
        check_forced(sample, "alpaca", specs)
    assert str(info.value) == (
        's.jsonl:1: looks like sharegpt (fields conversations), but format="alpaca" was forced.\n'
        'Hint: drop format= to auto-detect, or pass format="sharegpt".'
    )


def test_forced_format_with_nothing_alike(specs) -> None:
    sample = Sample.from_values([{"text": "x"}], file="t.jsonl")
    with pytest.raises(FormatDetectionError) as info:
        check_forced(sample, "prompt-completion", specs)
    assert str(info.value) == (
        't.jsonl:1: no row among the 1 sampled has the fields format="prompt-completion" needs '
        "(prompt, completion); this row has keys: text.\n"
        "Hint: drop format= to auto-detect, or check that the file is in this format."
    )


def test_forced_format_that_matches_some_rows_passes(specs) -> None:
    rows: list[Any] = [*SAMPLE_ROWS["sharegpt"], *SAMPLE_ROWS["openai"][:1]]
    detection = check_forced(Sample.from_values(rows), "openai", specs)
    assert detection.forced
    assert detection.best == "openai"
    assert detection.order == ("openai",)
    assert detection.runner_up == "sharegpt"


def test_forced_format_on_an_empty_sample_defers_to_the_core(specs) -> None:
    detection = check_forced(Sample.from_values([]), "openai", specs)
    assert detection.sample_size == 0
    assert detection.best == "openai"


def test_detection_round_trips_through_a_dict(specs) -> None:
    detection = detect_sample(Sample.from_values(SAMPLE_ROWS["openai"]), specs)
    assert Detection.from_dict(detection.to_dict()) == detection


def test_read_sample_plain_gzip_zstd_bom_and_bad_lines(write_jsonl, tmp_path) -> None:
    rows = [BRIGHTRUN_META, "", "{not json", [1], *SAMPLE_ROWS["brightrun-v4"]]
    plain = write_jsonl(rows, "a.jsonl")
    gz = write_jsonl(rows, "b.jsonl.gz", compress="gzip")
    zst = write_jsonl(rows, "c.jsonl.zst", compress="zstd")
    bom = tmp_path / "d.jsonl"
    bom.write_bytes(b"\xef\xbb\xbf" + plain.read_bytes().replace(b"\n", b"\r\n"))
    sample = read_sample(
        [str(p) for p in (plain, gz, zst, bom)],
        ["a", "b", "c", "d"],
        meta_keys=("_meta",),
    )
    assert sample.files == ["a", "b", "c", "d"]
    assert [(r.file, r.line) for r in sample.meta] == [("a", 1), ("b", 1), ("c", 1), ("d", 1)]
    assert [(r.file, r.line) for r in sample.rows if r.file == "a"] == [("a", 5), ("a", 6)]
    assert [(r.file, r.line) for r in sample.other] == [("a", 4), ("b", 4), ("c", 4), ("d", 4)]
    assert len(sample.rows) == 8


def test_read_sample_stops_after_sample_rows_non_blank_lines(write_jsonl) -> None:
    path = write_jsonl(["", *SAMPLE_ROWS["alpaca"] * 5])
    sample = read_sample([str(path)], sample_rows=4)
    assert [r.line for r in sample.rows] == [2, 3, 4, 5]


def test_read_sample_skips_oversized_lines(write_jsonl) -> None:
    big = {"instruction": "x" * 5000, "output": "y"}
    path = write_jsonl([big, SAMPLE_ROWS["alpaca"][0]])
    sample = read_sample([str(path)], max_line_bytes=1000)
    assert [r.line for r in sample.rows] == [2]


def test_read_sample_keeps_rows_of_a_truncated_gzip(tmp_path) -> None:
    data = gzip.compress(b"".join(b'{"prompt": "p", "completion": "c"}\n' for _ in range(2000)))
    path = tmp_path / "cut.jsonl.gz"
    path.write_bytes(data[: len(data) // 2])
    sample = read_sample([str(path)], sample_rows=10)
    assert len(sample.rows) == 10


def test_read_sample_passes_over_missing_files(tmp_path) -> None:
    sample = read_sample([str(tmp_path / "nope.jsonl")])
    assert sample.rows == []
    assert sample.files == []


def test_read_sample_without_zstandard_notes_the_file(write_jsonl, monkeypatch) -> None:
    path = write_jsonl(SAMPLE_ROWS["alpaca"], "z.jsonl.zst", compress="zstd")
    monkeypatch.setitem(__import__("sys").modules, "zstandard", None)
    sample = read_sample([str(path)], ["z.jsonl.zst"])
    assert sample.rows == []
    assert sample.notes == [
        "z.jsonl.zst: not sampled for detection (zstd; pip install zstandard to sample it)"
    ]


def test_list_of_turns_spec_detection_uses_items() -> None:
    spec = FormatSpec(
        "turns",
        "1",
        mapping=Mapping(("turns",), (ListOfTurns("turns"),)),
    )
    assert spec.score({"turns": []}) == 1.0
