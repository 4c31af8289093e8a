"""brightingest-trl checked with brightingest's plugin test kit, plus its own cases."""

from __future__ import annotations

import json
from pathlib import Path

import brightingest_trl
import pytest

from brightingest.plugins import get_plugin_manager
from brightingest.testing import builtin_plugin_manager, check_format, write_rows

STANDARD = {"prompt": "The sky is", "chosen": " blue.", "rejected": " green."}
CONVERSATIONAL = {
    "prompt": [
        {"role": "system", "content": "Be polite."},
        {"role": "user", "content": "Hi"},
    ],
    "chosen": [{"role": "assistant", "content": "Hello! How can I help?"}],
    "rejected": [{"role": "assistant", "content": "What."}],
}
IMPLICIT = {
    "chosen": [
        {"role": "user", "content": "2+2?"},
        {"role": "assistant", "content": "4"},
    ],
    "rejected": [
        {"role": "user", "content": "2+2?"},
        {"role": "assistant", "content": "5"},
    ],
}


def test_entry_point_is_declared() -> None:
    text = (Path(__file__).parents[1] / "pyproject.toml").read_text()
    assert '[project.entry-points."brightingest.formats"]' in text
    assert 'trl_preference = "brightingest_trl"' in text


def test_installed_plugin_is_discovered() -> None:
    from importlib.metadata import PackageNotFoundError, version

    try:
        version("brightingest-trl")
    except PackageNotFoundError:
        pytest.skip("brightingest-trl is not installed (pip install -e plugins/brightingest-trl)")
    from brightingest.plugins import formats

    info = {i.name: i for i in formats(get_plugin_manager())}["trl-preference"]
    assert (info.plugin, info.distribution) == ("brightingest_trl", "brightingest-trl")


def test_detect_scores() -> None:
    spec = brightingest_trl.SPEC
    assert spec.score(STANDARD) == 1.0
    assert spec.score({"chosen": "x"}) == 0.0  # a preference row has both sides
    assert spec.score({"prompt": "p", "completion": "c"}) == 0.0


def test_plugin_contract_with_the_kit(tmp_path: Path) -> None:
    pytest.importorskip("brightingest._core")
    result = check_format(
        brightingest_trl,
        good_rows=[STANDARD, CONVERSATIONAL, IMPLICIT],
        expected_messages=[
            [
                {"role": "user", "content": "The sky is"},
                {"role": "assistant", "content": " blue."},
            ],
            [
                {"role": "system", "content": "Be polite."},
                {"role": "user", "content": "Hi"},
                {"role": "assistant", "content": "Hello! How can I help?"},
            ],
            [
                {"role": "user", "content": "2+2?"},
                {"role": "assistant", "content": "4"},
            ],
        ],
        bad_rows={
            "wrong_type": {"prompt": "p", "chosen": 42, "rejected": "r"},
            "no_trainable_assistant": {
                "chosen": [{"role": "user", "content": "only a question"}],
                "rejected": "r",
            },
            "unknown_role": {
                "chosen": [{"role": "bot", "content": "x"}],
                "rejected": "r",
            },
            "empty_content": {
                "prompt": "p",
                "chosen": [{"role": "assistant", "content": " "}],
                "rejected": "r",
            },
        },
        tmp_path=tmp_path,
    )
    assert result.rows == 3


def test_rejected_is_kept_in_metadata(tmp_path: Path) -> None:
    pytest.importorskip("brightingest._core")
    import brightingest as bi

    pm = builtin_plugin_manager()
    pm.register(brightingest_trl, name="trl_preference")
    path = write_rows(tmp_path / "prefs.jsonl", [STANDARD, {**IMPLICIT, "id": "x1"}])
    ds = bi.load(path, pm=pm)
    assert ds.format == "trl-preference"
    metadata = [json.loads(m) for m in ds.table.column("metadata").to_pylist()]
    assert metadata == [{"rejected": " green."}, {"rejected": IMPLICIT["rejected"], "id": "x1"}]
