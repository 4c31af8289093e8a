"""ChatDataset on a hand-built table."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from brightingest.dataset import ChatDataset
from brightingest.report import IngestReport
from tests.api.test_writers import CALLS, ROWS, chat_table


@pytest.fixture
def ds() -> ChatDataset:
    return ChatDataset(chat_table(), IngestReport(lines_read=2, rows_kept=2), "openai")


def test_len_repr_and_messages(ds: ChatDataset) -> None:
    assert len(ds) == 2
    assert repr(ds) == "ChatDataset(2 rows, format='openai')"
    assert ds.messages_as_python(-1)[1] == {"role": "assistant", "tool_calls": CALLS, "weight": 0}
    assert ds.messages_as_python(0) == [
        {"role": "system", "content": "Be kind."},
        {"role": "user", "content": "Hi"},
        {"role": "assistant", "content": "Hello"},
    ]
    with pytest.raises(IndexError, match="row 2 out of range for a dataset of 2 rows"):
        ds.messages_as_python(2)


def test_to_polars(ds: ChatDataset) -> None:
    pytest.importorskip("polars")
    frame = ds.to_polars()
    assert frame.shape == (2, 7)
    assert frame["id"].to_list() == ["r1", None]


def test_to_hf(ds: ChatDataset) -> None:
    pytest.importorskip("datasets")
    hf = ds.to_hf()
    assert hf.num_rows == 2
    assert hf[0]["messages"][2]["content"] == "Hello"


def test_write_methods(ds: ChatDataset, tmp_path: Path) -> None:
    assert ds.write_openai(tmp_path / "a.jsonl") == 2
    assert ds.write_parquet(tmp_path / "a.parquet") == 2
    assert ds.write_arrow(tmp_path / "a.arrow") == 2
    first = json.loads((tmp_path / "a.jsonl").read_text().splitlines()[0])
    assert first["messages"][2]["content"] == ROWS[0]["messages"][2]["content"]
