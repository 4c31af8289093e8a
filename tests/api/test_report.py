"""IngestReport: counts, summary line, most common reason, dict round trip."""

from __future__ import annotations

from brightingest.detect import Detection
from brightingest.report import BENIGN_CATEGORIES, CATEGORIES, IngestReport


def _report(**kwargs: object) -> IngestReport:
    base: dict[str, object] = {
        "lines_read": 20,
        "rows_kept": 18,
        "skipped": {"metadata_line": 1, "invalid_json": 1},
        "examples": [
            {"file": "a.jsonl", "line": 1, "category": "metadata_line", "message": "metadata"},
            {"file": "a.jsonl", "line": 7, "category": "invalid_json", "message": "bad"},
        ],
        "files": ["a.jsonl"],
    }
    base.update(kwargs)
    return IngestReport(**base)  # type: ignore[arg-type]


def test_summary_line_matches_the_contract_example() -> None:
    assert _report().summary_line() == (
        "Loaded 18 conversations (2 lines skipped: 1 metadata, 1 invalid JSON at line 7)"
    )


def test_summary_line_plurals_first_location_and_files() -> None:
    assert _report(lines_read=1, rows_kept=1, skipped={}).summary_line() == (
        "Loaded 1 conversation"
    )
    report = _report(
        lines_read=5,
        rows_kept=2,
        skipped={"unknown_role": 3},
        examples=[
            {"file": "b.jsonl", "line": 4, "category": "unknown_role", "message": "x"},
            {"file": "b.jsonl", "line": 9, "category": "unknown_role", "message": "x"},
        ],
        files=["a.jsonl", "b.jsonl"],
    )
    assert report.summary_line() == (
        "Loaded 2 conversations (3 lines skipped: 3 unknown role (first at b.jsonl:4))"
    )


def test_counts_and_ratio() -> None:
    report = _report()
    assert report.lines_skipped == 2
    assert report.bad_lines == 1
    assert report.bad_ratio == 1 / 20
    assert IngestReport().bad_ratio == 0.0


def test_most_common_reason_prefers_bad_categories() -> None:
    report = _report(
        lines_read=10,
        rows_kept=0,
        skipped={"metadata_line": 6, "missing_field": 2, "wrong_type": 2},
        examples=[{"file": "a", "line": 3, "category": "wrong_type", "message": "m"}],
    )
    category, example = report.most_common_reason()  # type: ignore[misc]
    assert category == "wrong_type"  # ties: first seen in the input wins
    assert example == report.examples[0]
    report.examples = []
    assert report.most_common_reason() == ("missing_field", None)
    only_benign = _report(rows_kept=0, lines_read=1, skipped={"metadata_line": 1})
    assert only_benign.most_common_reason() == ("metadata_line", only_benign.examples[0])
    assert IngestReport().most_common_reason() is None


def test_add_skip_moves_a_kept_row_and_caps_examples() -> None:
    report = _report()
    for line in range(10):
        report.add_skip("unknown_role", file="a.jsonl", line=line, message="m", max_examples=2)
    assert report.rows_kept == 8
    assert report.skipped["unknown_role"] == 10
    assert report.rows_kept + report.lines_skipped == report.lines_read
    assert len([e for e in report.examples if e["category"] == "unknown_role"]) == 2


def test_to_dict_and_back() -> None:
    detection = Detection("openai", "sharegpt", [("openai", 1.0), ("sharegpt", 0.5)], 3)
    report = _report(
        formats={"openai": 18},
        bytes_read=123,
        file_metadata=[{"file": "a.jsonl", "line": 1, "value": "{}"}],
        detection=detection,
        policy="quarantine",
        quarantine="q.jsonl",
    )
    data = report.to_dict()
    assert set(data) >= {"lines_read", "rows_kept", "skipped", "examples", "formats"}
    assert data["detection"]["best"] == "openai"
    assert data["quarantine"] == "q.jsonl"
    assert IngestReport.from_dict(data) == report


def test_from_core_drops_zero_counts() -> None:
    report = IngestReport.from_core(
        {"lines_read": 3, "rows_kept": 3, "skipped": {"invalid_json": 0}, "formats": {"x": 3}},
        policy="strict",
    )
    assert report.skipped == {}
    assert report.policy == "strict"


def test_category_lists_are_the_public_contract() -> None:
    assert CATEGORIES == (
        "blank_line",
        "invalid_json",
        "invalid_utf8",
        "too_deep",
        "line_too_long",
        "truncated_line",
        "duplicate_key",
        "metadata_line",
        "not_an_object",
        "unsupported_format",
        "missing_field",
        "wrong_type",
        "unknown_role",
        "empty_content",
        "empty_conversation",
        "no_trainable_assistant",
        "system_not_first",
        "invalid_weight",
    )
    assert BENIGN_CATEGORIES == {"blank_line", "metadata_line"}
