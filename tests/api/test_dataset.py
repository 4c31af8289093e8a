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


def _meta_dataset(metas: list[object]) -> ChatDataset:
    from tests.cli.conftest import chat_table as rows_table
    from tests.cli.conftest import conv

    rows = [{**conv("q", f"a{i}", line=i + 2), "metadata": m} for i, m in enumerate(metas)]
    rows.append({**conv("q", "a0", line=len(metas) + 2), "metadata": None})  # a0 again
    return ChatDataset(rows_table(rows), IngestReport(), "openai")


def test_with_fields_adds_typed_columns_by_dotted_path() -> None:
    ds = _meta_dataset(
        [
            {"training_metadata": {"quality_score": 4, "source": "synthetic"}},
            {"training_metadata": {"quality_score": 2}},
            {"other": True},
        ]
    )
    out = ds.with_fields("training_metadata.quality_score", ["training_metadata", "source"])
    table = out.table
    assert table.column_names[-2:] == [
        "training_metadata.quality_score",
        "training_metadata.source",
    ]
    assert str(table.schema.field("training_metadata.quality_score").type) == "int64"
    assert table.column("training_metadata.quality_score").to_pylist() == [4, 2, None, None]
    assert table.column("training_metadata.source").to_pylist() == ["synthetic", None, None, None]
    assert ds.table.num_columns == 7  # a new dataset; the original is unchanged
    assert out.report is ds.report
    with pytest.raises(ValueError, match="already has a column 'id'"):
        ds.with_fields("id")
    with pytest.raises(ValueError, match="not a field path"):
        ds.with_fields("a..b")


def test_with_fields_refuses_a_typo_and_mixed_types_with_the_row() -> None:
    from brightingest.errors import InputError

    ds = _meta_dataset([{"score": 4}, {"score": 5}, {"score": "high"}])
    with pytest.raises(InputError, match="no row has this field") as missing:
        ds.with_fields("scor")
    assert missing.value.code == "missing_field"
    assert missing.value.field == "scor"
    with pytest.raises(InputError) as mixed:
        ds.with_fields("score")
    err = mixed.value
    assert err.code == "wrong_type"
    assert (err.path, err.line, err.field) == ("data.jsonl", 4, "score")
    assert str(err).startswith("data.jsonl:4: score: a str here, but a number in 2 other rows")


def test_where_and_dedup_return_new_datasets() -> None:
    ds = _meta_dataset([{"score": 4}, {"score": 2}, {"score": 5}])
    high = ds.where("score >= 4")
    assert high.table.column("source_line").to_pylist() == [2, 4]
    assert len(ds.dedup()) == 3  # the last row repeats the first conversation
    assert ds.dedup().table.column("source_line").to_pylist() == [2, 3, 4]
    assert len(ds) == 4
    with pytest.raises(ValueError, match="score >="):
        ds.where("score >=")


def test_with_fields_names_an_integer_beyond_64_bits() -> None:
    from brightingest.errors import InputError

    # "x" mixes types, so the metadata is read row by row (Arrow's JSON reader would have
    # made the big integer a float, silently).
    ds = _meta_dataset([{"n": 1, "x": 1}, {"n": 1180591620717411303425, "x": "one"}])
    with pytest.raises(InputError) as info:
        ds.with_fields("n")
    assert info.value.code == "wrong_type"
    assert info.value.line == 3
    assert "1180591620717411303425 does not fit a 64-bit column" in str(info.value)
    with pytest.raises(TypeError, match="expr must be a str"):
        ds.where(None)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="at least one field"):
        ds.with_fields()
