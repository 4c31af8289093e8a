"""Core errors arrive as brightingest's exception classes with code, path, line, field, hint."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from brightingest.errors import (
    BrightIngestError,
    FormatDetectionError,
    JsonlDecodeError,
    MappingError,
    SourceError,
)

_core = pytest.importorskip("brightingest._core")

BRIGHTRUN = {
    "name": "brightrun-v4",
    "signature": ["current_user_input", "target_response"],
    "meta_key": "_meta",
    "parts": [
        {"kind": "message", "role": "system", "fields": ["system_prompt"], "optional": True},
        {
            "kind": "list",
            "field": "conversation_history",
            "assistant_weight": 0,
            "optional": True,
        },
        {"kind": "message", "role": "user", "fields": ["current_user_input"]},
        {"kind": "message", "role": "assistant", "fields": ["target_response"]},
    ],
    "id_field": "id",
}


def _strict(path: Path) -> None:
    for _ in _core.read_jsonl(
        [str(path)], names=["data/train.jsonl"], formats=json.dumps([BRIGHTRUN]), policy="strict"
    ):
        pass


def test_strict_invalid_json_names_file_line_and_hint(tmp_path: Path) -> None:
    p = tmp_path / "x.jsonl"
    p.write_text('{"_meta": {}}\n{"current_user_input": "q", "target_response": "a"}\n{"a": \n')
    with pytest.raises(JsonlDecodeError) as info:
        _strict(p)
    e = info.value
    assert (e.code, e.path, e.line) == ("invalid_json", "data/train.jsonl", 3)
    assert str(e) == (
        "data/train.jsonl:3: invalid JSON: EOF while parsing a value at column 6\n"
        'Hint: fix or remove the line; use policy="quarantine" to set bad lines aside'
    )


def test_strict_mapping_error_names_the_field(tmp_path: Path) -> None:
    p = tmp_path / "x.jsonl"
    p.write_text(
        '{"current_user_input": "q", "target_response": "a",'
        ' "conversation_history": [{"role": "bot", "content": "x"}]}\n'
    )
    with pytest.raises(MappingError) as info:
        _strict(p)
    e = info.value
    assert (e.code, e.line, e.field) == ("unknown_role", 1, "conversation_history[0].role")
    assert str(e).startswith(
        'data/train.jsonl:1: conversation_history[0].role: unknown role "bot" '
        "(expected system, developer, user, assistant, tool)\nHint: map it"
    )
    assert isinstance(e, ValueError)
    assert isinstance(e, BrightIngestError)


def test_strict_unsupported_format_is_a_detection_error(tmp_path: Path) -> None:
    p = tmp_path / "x.jsonl"
    p.write_text('{"messages": []}\n')
    with pytest.raises(FormatDetectionError) as info:
        _strict(p)
    assert info.value.code == "unsupported_format"
    assert 'row is not brightrun-v4 (it lacks "current_user_input"' in str(info.value)


def test_missing_file_and_bad_options() -> None:
    with pytest.raises(SourceError) as info:
        list(_core.read_jsonl(["/nonexistent/train.jsonl"]))
    assert info.value.code == "source_not_found"
    assert isinstance(info.value, OSError)
    with pytest.raises(ValueError, match="policy must be"):
        _core.read_jsonl(["x"], policy="lenient")
    with pytest.raises(ValueError, match="needs a quarantine path"):
        _core.read_jsonl(["x"], policy="quarantine")
    with pytest.raises(ValueError, match="invalid format specification"):
        _core.read_jsonl(["x"], formats='[{"name": "x"}]')
    spec = dict(BRIGHTRUN, parts=[{"kind": "message", "role": "bot", "fields": ["a"]}])
    with pytest.raises(ValueError, match="unknown role"):
        _core.read_jsonl(["x"], formats=json.dumps([spec]))


def test_python_and_rust_agree_on_the_public_categories() -> None:
    from brightingest.report import CATEGORIES, FORMAT_CATEGORIES, READER_CATEGORIES

    assert tuple(_core.READER_CATEGORIES) == READER_CATEGORIES
    assert tuple(_core.MAPPING_CATEGORIES) == FORMAT_CATEGORIES
    assert len(set(CATEGORIES)) == len(CATEGORIES)
