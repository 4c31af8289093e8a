"""The real command line in a subprocess: output, --json documents and exit status."""

from __future__ import annotations

import json
import re
import shutil
import sys
import textwrap
from collections import Counter
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest

from tests.cli.conftest import SAMPLE, Result, Runner, needs_core, sample_rows

# A Python prelude that makes some modules unimportable, to run the CLI as if an optional
# extra were not installed (the real packages may well be installed on this machine).
HIDE = textwrap.dedent(
    """
    import importlib.abc, sys
    HIDDEN = {hidden!r}
    class Hide(importlib.abc.MetaPathFinder):
        def find_spec(self, name, path=None, target=None):
            if name.split(".")[0] in HIDDEN:
                raise ModuleNotFoundError(f"No module named {{name!r}}", name=name)
            return None
    sys.meta_path.insert(0, Hide())
    import importlib.util
    _find_spec = importlib.util.find_spec
    def find_spec(name, package=None):
        if name.split(".")[0] in HIDDEN:
            return None
        return _find_spec(name, package)
    importlib.util.find_spec = find_spec
    from brightingest.cli import main
    raise SystemExit(main({argv!r}))
    """
)


def run_hidden(cli: Runner, hidden: list[str], argv: list[str]) -> Result:
    return cli(program=[sys.executable, "-c", HIDE.format(hidden=hidden, argv=argv)])


# ---------------------------------------------------------------------------------------------
# No data needed


def test_help_documents_commands_and_exit_status(cli: Runner) -> None:
    result = cli("--help")
    assert result.rc == 0
    for command in ("inspect", "validate", "convert", "fetch", "formats", "train"):
        assert command in result.out
    assert "exit status:" in result.out
    assert "0  success" in result.out
    assert "2  usage error" in result.out
    assert "3  a source could not be read or downloaded" in result.out
    version = cli("--version")
    assert version.rc == 0
    assert version.out.startswith("brightingest ")


def test_help_never_imports_torch(cli: Runner) -> None:
    code = textwrap.dedent(
        """
        import contextlib, io, sys
        from brightingest.cli import main
        for argv in (["--help"], ["inspect", "--help"], ["train", "--help"]):
            with contextlib.redirect_stdout(io.StringIO()) as out:
                assert main(argv) == 0, argv
            assert "usage: brightingest" in out.getvalue()
        # The trainer's own options join `train` (where the [train] extra is installed).
        assert "--model" in out.getvalue() and "--where" in out.getvalue()
        heavy = sorted(m for m in ("torch", "transformers", "peft") if m in sys.modules)
        print(",".join(heavy) or "none")
        """
    )
    result = cli(program=[sys.executable, "-c", code])
    assert result.rc == 0, result.err
    assert result.out.strip() == "none"


def test_usage_errors_exit_2(cli: Runner) -> None:
    result = cli()
    assert result.rc == 2
    assert "error: the following arguments are required: COMMAND" in result.err
    assert "Hint: run `brightingest --help`" in result.err
    assert result.out == ""

    result = cli("inspect", SAMPLE, "--threads", "0", "--json")
    assert result.rc == 2
    doc = result.json
    assert doc["ok"] is False
    assert doc["exit_code"] == 2
    assert "--threads: expected a number >= 1, got 0" in doc["error"]["message"]


def test_bad_where_points_at_the_token(cli: Runner, tmp_path: Path) -> None:
    out = tmp_path / "out.jsonl"
    result = cli("convert", SAMPLE, "-o", out, "--where", "training_metadata.quality_score => 4")
    assert result.rc == 2
    assert result.err.splitlines()[:3] == [
        'error: --where: invalid filter expression: found "=" (use "==" to compare)',
        "  training_metadata.quality_score => 4",
        "                                  ^",
    ]
    assert "Traceback" not in result.err
    assert not out.exists()


def test_unknown_format_exit_2(cli: Runner) -> None:
    result = cli("inspect", SAMPLE, "--format", "nope", "--json")
    assert result.rc == 2
    doc = result.json
    assert doc["error"]["code"] == "unknown_format"
    assert 'unknown format "nope"' in doc["error"]["message"]
    assert "brightrun-v4" in doc["error"]["message"]
    assert result.err.startswith("error: ")


def test_missing_source_exit_3(cli: Runner) -> None:
    result = cli("inspect", "no/such/file.jsonl")
    assert result.rc == 3
    assert result.err.startswith("error: no/such/file.jsonl: does not exist.")
    assert "Hint: " in result.err
    assert "Traceback" not in result.err
    assert result.out == ""
    doc = cli("validate", "no/such/file.jsonl", "--json").json
    assert doc["ok"] is False
    assert doc["exit_code"] == 3
    assert doc["error"]["type"] == "SourceError"
    assert doc["error"]["code"] == "source_not_found"


def test_formats(cli: Runner) -> None:
    result = cli("formats", "--json")
    assert result.rc == 0
    names = {f["name"]: f for f in result.json["formats"]}
    assert {"openai", "brightrun-v4", "sharegpt", "alpaca", "prompt-completion"} <= set(names)
    assert names["brightrun-v4"]["plugin"]
    assert names["brightrun-v4"]["version"]
    table = cli("formats")
    assert table.rc == 0
    assert table.out.startswith("Format plugins (")
    assert "brightrun-v4" in table.out


def test_train_without_the_extra_exit_2_with_the_hint(cli: Runner, tmp_path: Path) -> None:
    result = run_hidden(cli, ["torch", "peft"], ["train", str(SAMPLE), "--model", "m", "-o", "o"])
    assert result.rc == 2
    assert result.err.splitlines() == [
        "error: the trainer needs torch, peft, which are not installed.",
        'Hint: pip install "brightingest[train]"',
    ]


def test_tokenizer_without_transformers_exit_2(cli: Runner) -> None:
    result = run_hidden(cli, ["transformers"], ["inspect", str(SAMPLE), "--tokenizer", "tok"])
    assert result.rc == 2
    assert "error: --tokenizer needs the transformers package" in result.err
    assert "brightingest[train]" in result.err


def test_installed_console_script(cli: Runner) -> None:
    script = shutil.which("brightingest")
    if script is None:
        pytest.skip("the brightingest console script is not on PATH (package not installed)")
    result = cli("--version", program=[script])
    assert result.rc == 0
    assert result.out.startswith("brightingest ")
    assert cli("formats", "--json", program=[script]).json["ok"] is True


# ---------------------------------------------------------------------------------------------
# Reading data


def _quality_scores() -> Counter[int]:
    return Counter(obj["training_metadata"]["quality_score"] for _, obj in sample_rows())


@needs_core
def test_inspect_sample_json(cli: Runner) -> None:
    result = cli("inspect", SAMPLE, "--json")
    assert result.rc == 0, result.err
    doc = result.json  # exactly one JSON document on stdout
    rows = sample_rows()
    assert doc["ok"] is True
    assert doc["lines_read"] == 19
    assert doc["rows_kept"] == len(rows) == 17
    assert doc["format"] == "brightrun-v4"
    assert doc["skipped"]["metadata_line"] == 1
    (bad,) = [c for c in doc["skipped"] if c != "metadata_line"]
    assert bad in ("invalid_json", "truncated_line")
    assert doc["rows_kept"] + sum(doc["skipped"].values()) == doc["lines_read"]
    assert {(e["category"], e["line"]) for e in doc["examples"]} >= {(bad, 7)}
    assert doc["file_metadata"][0]["line"] == 1

    stats = doc["statistics"]
    conv = stats["conversations"]
    assert conv["rows"] == 17
    expected_turns = [
        (1 if obj.get("system_prompt") else 0) + len(obj["conversation_history"]) + 2
        for _, obj in rows
    ]
    assert conv["messages"] == sum(expected_turns)
    assert conv["turns"]["max"] == max(expected_turns)
    assert conv["roles"]["system"]["messages"] == 17
    assert conv["trained_assistant_messages"] == 17  # history turns carry weight 0
    fields = {f["path"]: f for f in stats["metadata"]["fields"]}
    quality = fields["training_metadata.quality_score"]
    assert quality["values"] == [
        {"value": v, "count": n} for v, n in sorted(_quality_scores().items())
    ]
    assert stats["duplicates"]["groups"] == 0
    assert stats["tokens"] is None
    summary = result.err.strip().splitlines()[-1]
    assert doc["summary"] in summary
    assert re.fullmatch(
        r"Loaded 17 conversations \(2 lines skipped: (1 metadata, 1 invalid JSON at line 7"
        r"|1 invalid JSON at line 7, 1 metadata)\) from 14\.0 kB in \d+\.\d s",
        summary,
    ), summary
    assert "at line 7" in result.err


@needs_core
def test_inspect_sample_human(cli: Runner) -> None:
    result = cli("inspect", SAMPLE)
    assert result.rc == 0, result.err
    out = result.out
    for title in ("Ingest", "Skipped lines", "Conversations", "Roles", "Metadata fields"):
        assert f"\n{title}" in "\n" + out, title
    assert "brightrun-v4" in out
    assert f"{SAMPLE}:7" in out or "brightrun_v4_sample.jsonl:7" in out
    quality = next(line for line in out.splitlines() if "training_metadata.quality_score" in line)
    expected = ", ".join(f"{v}: {n}" for v, n in sorted(_quality_scores().items()))
    assert expected in quality
    assert "Exact duplicate conversations: none" in out
    assert "Loaded 17 conversations" in result.err
    assert "\x1b[" not in out  # not a terminal: plain text


@needs_core
def test_inspect_stdin_and_where(cli: Runner) -> None:
    result = cli(
        "inspect",
        "-",
        "--where",
        "training_metadata.reviewed == false",
        "--json",
        stdin=SAMPLE.read_bytes(),
    )
    assert result.rc == 0, result.err
    doc = result.json
    assert doc["files"] == ["<stdin>"]
    unreviewed = [n for n, obj in sample_rows() if obj["training_metadata"]["reviewed"] is False]
    assert doc["selection"]["rows_matched"] == len(unreviewed)
    assert doc["statistics"]["conversations"]["rows"] == len(unreviewed)


@needs_core
def test_convert_where_and_dedup(cli: Runner, tmp_path: Path) -> None:
    copy = tmp_path / "copy.jsonl"
    copy.write_bytes(SAMPLE.read_bytes())
    out = tmp_path / "out.jsonl"
    result = cli(
        "convert",
        SAMPLE,
        copy,
        "-o",
        out,
        "--dedup",
        "--where",
        "training_metadata.quality_score >= 4",
        "--json",
    )
    assert result.rc == 0, result.err
    high = [n for n, obj in sample_rows() if obj["training_metadata"]["quality_score"] >= 4]
    doc = result.json
    assert doc["selection"]["rows_matched"] == 2 * len(high)
    assert doc["selection"]["duplicates_dropped"] == len(high)
    assert doc["rows_written"] == len(high)
    records = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert len(records) == len(high)
    assert all(r["messages"][-1]["role"] == "assistant" for r in records)
    assert f"Wrote {len(high)} conversations to {out} (openai" in result.err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["copy.jsonl", "out.jsonl"]


@needs_core
def test_convert_to_parquet_keeps_everything(cli: Runner, tmp_path: Path) -> None:
    out = tmp_path / "out.parquet"
    result = cli("convert", SAMPLE, "-o", out, "-q")
    assert result.rc == 0, result.err
    assert result.out == ""
    assert result.err == ""
    table = pq.read_table(out)
    assert table.num_rows == 17
    assert table.column("source_line").to_pylist() == [n for n, _ in sample_rows()]


@needs_core
def test_convert_forced_wrong_format_exit_1_names_the_real_one(cli: Runner, tmp_path: Path) -> None:
    out = tmp_path / "out.jsonl"
    result = cli("convert", SAMPLE, "-o", out, "--format", "openai")
    assert result.rc == 1
    assert result.err.startswith("error: ")
    assert "brightrun-v4" in result.err
    assert "Hint: " in result.err
    assert "Traceback" not in result.err
    assert list(tmp_path.iterdir()) == []  # no output, no temporary file
    # The --json document's error names the flags too, not the library's keyword arguments.
    error = cli("convert", SAMPLE, "-o", out, "--format", "openai", "--json").json["error"]
    assert "--format" in error["hint"]
    assert "format=" not in error["message"] + error["hint"]


@needs_core
def test_convert_nothing_left_after_where_writes_nothing(cli: Runner, tmp_path: Path) -> None:
    out = tmp_path / "out.jsonl"
    result = cli(
        "convert", SAMPLE, "-o", out, "--where", "training_metadata.quality_score > 5", "--json"
    )
    assert result.rc == 1
    assert result.json["error"]["code"] == "no_rows"
    assert "no rows left after --where (0 of 17 match" in result.err
    assert list(tmp_path.iterdir()) == []


@needs_core
def test_convert_quarantine_keeps_bad_lines_verbatim(
    cli: Runner, tmp_path: Path, sample_lines: list[str]
) -> None:
    out, bad = tmp_path / "out.arrow", tmp_path / "bad.jsonl"
    result = cli("convert", SAMPLE, "-o", out, "--quarantine", bad)
    assert result.rc == 0, result.err
    records = [json.loads(line) for line in bad.read_text(encoding="utf-8").splitlines()]
    by_line = {r["line"]: r for r in records}
    assert by_line[7]["text"] == sample_lines[6]
    assert by_line[7]["file"].endswith("brightrun_v4_sample.jsonl")


@needs_core
def test_strict_policy_stops_at_line_7(cli: Runner) -> None:
    result = cli("inspect", SAMPLE, "--policy", "strict", "--json")
    assert result.rc == 1
    err = result.json["error"]
    assert err["line"] == 7
    assert err["path"].endswith("brightrun_v4_sample.jsonl")
    assert "brightrun_v4_sample.jsonl:7: " in result.err


@needs_core
def test_validate_thresholds(cli: Runner) -> None:
    strict = cli("validate", SAMPLE, "--json")
    assert strict.rc == 1
    doc = strict.json
    assert doc["ok"] is False
    checks = {c["name"]: c for c in doc["checks"]}
    assert checks["min_rows"]["passed"] is True
    assert checks["max_bad_ratio"]["passed"] is False
    assert checks["max_bad_ratio"]["value"] == pytest.approx(1 / 19, abs=1e-6)
    assert "validate: FAIL (1 of 2 checks)" in strict.err

    ok = cli("validate", SAMPLE, "--max-bad-ratio", "0.1", "--max-duplicate-ratio", "0")
    assert ok.rc == 0, ok.err
    assert "validate: PASS (3 checks)" in ok.err
    assert "max_bad_ratio" in ok.out
    assert "PASS" in ok.out

    few = cli("validate", SAMPLE, "--max-bad-ratio", "1", "--min-rows", "100", "-q")
    assert few.rc == 1
    assert few.out == ""
    assert "17 rows kept (at least 100 required)" in few.err


@needs_core
def test_zero_rows_exit_1_with_the_report(cli: Runner, tmp_path: Path) -> None:
    data = tmp_path / "export.jsonl"
    data.write_text('{"ask": "a", "reply": "b"}\n{"ask": "c", "reply": "d"}\n')
    result = cli("inspect", data, "--json")
    assert result.rc == 1
    doc = result.json
    assert doc["ok"] is False
    assert doc["error"]["type"] in ("NoRowsError", "FormatDetectionError")
    assert result.err.startswith("error: ")
    validate = cli("validate", data)
    assert validate.rc == 1
    assert "error: " in validate.err


@needs_core
def test_train_refuses_zero_rows(cli: Runner, tmp_path: Path) -> None:
    data = tmp_path / "empty.jsonl"
    data.write_text('{"_meta": {"format": "brightrun-lora-v4"}}\n')
    (tmp_path / "model").mkdir()  # exists (settings are checked first); never loaded
    result = cli("train", data, "--model", tmp_path / "model", "-o", tmp_path / "out", "--json")
    assert result.rc == 1
    assert result.json["ok"] is False
    assert result.json["error"]["code"] == "no_rows"
    assert not (tmp_path / "out").exists()


@pytest.mark.slow  # imports transformers in two subprocesses
@needs_core
def test_inspect_token_counts_with_a_local_tokenizer(cli: Runner, tmp_path: Path) -> None:
    pytest.importorskip("transformers")
    tokenizers = pytest.importorskip("tokenizers")
    # A word-level tokenizer made here: every word or punctuation mark is one token.
    tok = tokenizers.Tokenizer(tokenizers.models.WordLevel({"[UNK]": 0}, unk_token="[UNK]"))
    tok.pre_tokenizer = tokenizers.pre_tokenizers.Whitespace()
    tok_dir = tmp_path / "tok"
    tok_dir.mkdir()
    tok.save(str(tok_dir / "tokenizer.json"))
    (tok_dir / "tokenizer_config.json").write_text(
        json.dumps({"tokenizer_class": "PreTrainedTokenizerFast", "unk_token": "[UNK]"})
    )

    def count(obj: dict[str, object]) -> int:
        history = obj["conversation_history"]
        assert isinstance(history, list)
        turns = [("system", obj["system_prompt"])] + [(m["role"], m["content"]) for m in history]
        turns += [("user", obj["current_user_input"]), ("assistant", obj["target_response"])]
        text = "".join(f"{role}: {content}\n" for role, content in turns)
        return len(tok.encode(text).ids)

    expected = {n: count(obj) for n, obj in sample_rows()}
    limit = sorted(expected.values())[-3]  # two rows are longer than this
    result = cli("inspect", SAMPLE, "--tokenizer", tok_dir, "--max-length", str(limit), "--json")
    assert result.rc == 0, result.err
    tokens = result.json["statistics"]["tokens"]
    assert tokens["total"] == sum(expected.values())
    assert tokens["per_row"]["max"] == max(expected.values())
    assert tokens["chat_template"] is False
    over = sorted((n for n, c in expected.items() if c > limit), key=lambda n: -expected[n])
    assert tokens["over_max_length"] == len(over)
    assert [e["line"] for e in tokens["over_examples"]] == over

    missing = cli("inspect", SAMPLE, "--tokenizer", tmp_path / "nope")
    assert missing.rc == 2
    assert f'error: cannot load tokenizer "{tmp_path / "nope"}" from local files' in missing.err


@needs_core
def test_one_row_is_counted_in_the_singular(cli: Runner, tmp_path: Path) -> None:
    src = tmp_path / "one.jsonl"
    row = {"messages": [{"role": "user", "content": "q"}, {"role": "assistant", "content": "a"}]}
    src.write_text(json.dumps(row) + "\n", encoding="utf-8")
    out = tmp_path / "out.jsonl"
    converted = cli("convert", str(src), "-o", str(out))
    assert converted.rc == 0, converted.err
    assert f"Wrote 1 conversation to {out} (openai" in converted.err
    checked = cli("validate", str(src))
    assert checked.rc == 0, checked.err
    assert "1 row kept (at least 1 required)" in checked.text


@needs_core
def test_convert_to_standard_output(cli: Runner, tmp_path: Path) -> None:
    result = cli("convert", SAMPLE, "-o", "-")
    assert result.rc == 0, result.err
    records = [json.loads(line) for line in result.out.splitlines()]
    assert len(records) == 17
    assert all(r["messages"][-1]["role"] == "assistant" for r in records)
    assert "Wrote 17 conversations to standard output (openai)" in result.err
    filtered = cli("convert", SAMPLE, "-o", "-", "--where", "training_metadata.quality_score >= 0")
    assert filtered.rc == 0, filtered.err
    assert filtered.out == result.out
    assert list(tmp_path.iterdir()) == []


@needs_core
def test_convert_to_standard_output_refuses_what_cannot_go_there(cli: Runner) -> None:
    parquet = cli("convert", SAMPLE, "-o", "-", "--to", "parquet")
    assert parquet.rc == 2
    assert "parquet output needs a file" in parquet.err
    both = cli("convert", SAMPLE, "-o", "-", "--json")
    assert both.rc == 2
    assert both.json["error"]["code"] == "usage_error"
    assert parquet.out == ""


@needs_core
def test_streamed_convert_writes_what_the_whole_table_path_writes(
    cli: Runner, tmp_path: Path
) -> None:
    where = "training_metadata.quality_score >= 4"
    streamed, whole = tmp_path / "streamed.jsonl", tmp_path / "whole.jsonl"
    one = cli("convert", SAMPLE, "-o", streamed, "--where", where, "--json")
    assert one.rc == 0, one.err
    assert "read and written in one pass" in one.err
    # --dedup reads twice (the sample has no duplicates: the output must not change).
    two = cli("convert", SAMPLE, "-o", whole, "--where", where, "--dedup", "--json")
    assert two.rc == 0, two.err
    assert "read and written in two passes" in two.err
    assert streamed.read_bytes() == whole.read_bytes()
    high = [n for n, obj in sample_rows() if obj["training_metadata"]["quality_score"] >= 4]
    doc = one.json
    assert doc["rows_written"] == len(high)
    assert doc["selection"] == {
        "where": where,
        "rows_matched": len(high),
        "rows_filtered_out": 17 - len(high),
    }
    assert {k: v for k, v in two.json["selection"].items() if k != "duplicates_dropped"} == (
        doc["selection"]
    )
    assert f"--where kept {len(high)} of 17 rows" in one.err
    assert doc["format"] == "brightrun-v4"
    assert doc["report"]["rows_kept"] == 17
    assert doc["report"]["lines_read"] == 19


@needs_core
def test_streamed_convert_that_fails_midway_leaves_nothing(cli: Runner, tmp_path: Path) -> None:
    src = tmp_path / "big.jsonl"
    good = json.dumps(
        {
            "messages": [
                {"role": "user", "content": "q" * 500},
                {"role": "assistant", "content": "a"},
            ]
        }
    )
    src.write_text("\n".join([good] * 20_000 + ["{broken"] + [good] * 10) + "\n", encoding="utf-8")
    out = tmp_path / "out.jsonl"
    out.write_text("old\n")
    result = cli("convert", src, "-o", out, "--policy", "strict", "--threads", "2")
    assert result.rc == 1
    assert f"{src.name}:20001" in result.err
    assert out.read_text() == "old\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["big.jsonl", "out.jsonl"]


@needs_core
def test_streamed_where_over_many_batches_matches_the_whole_table(
    cli: Runner, tmp_path: Path
) -> None:
    src = tmp_path / "many.jsonl"
    lines = []
    for i in range(12_000):
        messages = [
            {"role": "user", "content": f"question {i} " + "x" * 300},
            {"role": "assistant", "content": f"answer {i}"},
        ]
        extra = {"n": i} if i % 3 else {"n": str(i)}  # a field whose type varies by row
        lines.append(json.dumps({"messages": messages, **extra}))
    src.write_text("\n".join(lines) + "\n", encoding="utf-8")
    streamed, whole = tmp_path / "streamed.jsonl", tmp_path / "whole.jsonl"
    where = "n >= 6000 and n < 9000"
    one = cli("convert", src, "-o", streamed, "--where", where, "--threads", "2", "--json")
    two = cli("convert", src, "-o", whole, "--where", where, "--dedup", "--json")
    assert one.rc == 0, one.err
    assert two.rc == 0, two.err
    assert streamed.read_bytes() == whole.read_bytes()
    assert one.json["selection"]["rows_matched"] == two.json["selection"]["rows_matched"] > 0


def _many_with_duplicates(path: Path) -> list[int]:
    """A file of several 1 MiB stream batches whose duplicates lie far apart (and cross
    batches); returns, per row, the row it duplicates (itself for a first copy)."""
    lines, first_of = [], []
    for i in range(9_000):
        j = i % 2_500 if i % 7 == 0 else i  # every 7th row repeats an earlier conversation
        messages = [
            {"role": "user", "content": f"question {j} " + "x" * 300},
            {"role": "assistant", "content": f"answer {j}"},
        ]
        lines.append(json.dumps({"messages": messages, "n": i, "kind": ["a", "b", "c"][i % 3]}))
        first_of.append(j if j < i else i)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return first_of


@needs_core
def test_streamed_statistics_match_the_whole_table(cli: Runner, tmp_path: Path) -> None:
    import brightingest as bi
    from brightingest import stats

    src = tmp_path / "many.jsonl"
    _many_with_duplicates(src)
    table = bi.load(src).table
    result = cli("inspect", src, "--threads", "2", "--examples", "3", "--json")
    assert result.rc == 0, result.err
    got = result.json["statistics"]
    assert got["conversations"] == stats.conversation_stats(table, longest=3)
    assert got["metadata"] == stats.metadata_summary(table, top=3)
    assert got["duplicates"] == stats.duplicate_groups(table, examples=3)
    assert got["duplicates"]["duplicate_rows"] > 0
    assert "duplicates compared exactly in a second pass" in result.err
    # The report is the first pass's: the second is not counted again.
    assert result.json["lines_read"] == 9_000
    assert result.json["rows_kept"] == 9_000


@needs_core
def test_validate_duplicate_ratio_from_stdin_reads_the_spool_twice(cli: Runner) -> None:
    # The second pass reads the spooled copy of standard input (it cannot be read again).
    rows = [json.dumps({"messages": _pair(i % 4)}) for i in range(10)]
    data = ("\n".join(rows) + "\n").encode()
    result = cli("validate", "-", "--max-duplicate-ratio", "0.5", "--json", stdin=data)
    assert result.rc == 1, result.err
    check = {c["name"]: c for c in result.json["checks"]}["max_duplicate_ratio"]
    assert check["passed"] is False
    assert check["value"] == 0.6  # 6 of 10 rows are later copies
    dup = result.json["statistics"]["duplicates"]
    assert dup["groups"] == 4
    assert [r["line"] for r in dup["examples"][0]["rows"]] == [1, 5, 9]


def _pair(i: int) -> list[dict[str, str]]:
    return [{"role": "user", "content": f"q{i}"}, {"role": "assistant", "content": f"a{i}"}]


@needs_core
def test_dedup_convert_over_many_batches_keeps_each_first_copy(cli: Runner, tmp_path: Path) -> None:
    src = tmp_path / "many.jsonl"
    first_of = _many_with_duplicates(src)
    out = tmp_path / "out.jsonl"
    result = cli("convert", src, "-o", out, "--dedup", "--where", "kind != 'b'", "--json")
    assert result.rc == 0, result.err
    kept_rows = [i for i in range(9_000) if i % 3 != 1]
    seen: set[int] = set()
    expected = []
    for i in kept_rows:
        if first_of[i] in seen:
            continue
        seen.add(first_of[i])
        expected.append(first_of[i])
    written = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    got = [int(r["messages"][1]["content"].split()[1]) for r in written]
    assert got == expected
    doc = result.json
    assert doc["rows_written"] == len(expected)
    assert doc["selection"]["rows_matched"] == len(kept_rows)
    assert doc["selection"]["duplicates_dropped"] == len(kept_rows) - len(expected)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["many.jsonl", "out.jsonl"]


@needs_core
def test_a_source_that_changes_between_passes_is_refused(tmp_path: Path, monkeypatch: Any) -> None:
    import brightingest.api as api
    from brightingest.cli import main

    src = tmp_path / "data.jsonl"
    rows = [json.dumps({"messages": _pair(i % 3)}) for i in range(9)]
    src.write_text("\n".join(rows) + "\n", encoding="utf-8")
    replay = api._Ingest.replay

    def grown(self: Any) -> Any:  # someone appends to the file between the two passes
        with src.open("a", encoding="utf-8") as handle:
            handle.write(json.dumps({"messages": _pair(0)}) + "\n")
        return replay(self)

    monkeypatch.setattr(api._Ingest, "replay", grown)
    out = tmp_path / "out.jsonl"
    assert main(["convert", str(src), "-o", str(out), "--dedup", "-q"]) == 3
    assert not out.exists()


@needs_core
def test_a_default_quarantine_file_is_never_read_back_as_data(cli: Runner, tmp_path: Path) -> None:
    data = tmp_path / "d"
    data.mkdir()
    (data / "a.jsonl").write_text(
        json.dumps({"messages": _pair(1)}) + "\n{broken\n", encoding="utf-8"
    )
    first = cli("inspect", data, "--policy", "quarantine", "--json")
    assert first.rc == 0, first.err
    assert (data / "a.jsonl.quarantine.jsonl").exists()
    again = cli("inspect", data, "--policy", "quarantine", "--json")
    assert again.rc == 0, again.err
    assert again.json["files"] == [str(data / "a.jsonl")]
    assert again.json["lines_read"] == 2
    assert "Not reading" in again.err
    assert "a quarantine file" in again.err
    glob = cli("validate", str(data / "*.jsonl"), "--max-bad-ratio", "0.5", "--json")
    assert glob.rc == 0, glob.err
    assert glob.json["report"]["files"] == [str(data / "a.jsonl")]
    # Writing the side file over a source is refused before anything is read.
    clash = cli("inspect", data / "a.jsonl", "--quarantine", data / "a.jsonl")
    assert clash.rc == 2
    assert "is also a source" in clash.err
    assert (data / "a.jsonl").read_text(encoding="utf-8").count("\n") == 2


@needs_core
def test_standard_output_carries_only_data_even_on_failure(cli: Runner) -> None:
    failed = cli("convert", SAMPLE, "-o", "-", "--where", 'x == "y"')
    assert failed.rc == 1
    assert failed.out == ""
    assert "Ingest" in failed.err or "no rows left" in failed.err


def test_out_of_range_numbers_are_usage_errors(cli: Runner) -> None:
    for flag, value in (("--threads", "99999999999999999999"), ("--max-line-bytes", "9" * 20)):
        result = cli("inspect", SAMPLE, flag, value, "--json")
        assert result.rc == 2, (flag, result.err)
        assert "must be at most" in result.json["error"]["message"]
        assert "Traceback" not in result.err
    usage = cli("inspect", SAMPLE, "--threads", "0", "--json")
    assert usage.rc == 2
    assert usage.json["error"]["code"] == "usage_error"


@needs_core
def test_an_openai_rows_id_is_the_id_column(cli: Runner, tmp_path: Path) -> None:
    src = tmp_path / "ids.jsonl"
    rows = [{"id": f"x{i}", "messages": _pair(i), "tag": i} for i in range(3)]
    src.write_text("\n".join(json.dumps(r) for r in rows) + "\n", encoding="utf-8")
    out = tmp_path / "x1.jsonl"
    result = cli("convert", src, "-o", out, "--where", 'id == "x1"', "--json")
    assert result.rc == 0, result.err
    assert result.json["rows_written"] == 1
    assert json.loads(out.read_text())["messages"][1]["content"] == "a1"


@needs_core
def test_a_parquet_file_given_as_input_is_named_as_such(cli: Runner, tmp_path: Path) -> None:
    parquet = tmp_path / "train.parquet"
    assert cli("convert", SAMPLE, "-o", parquet, "-q").rc == 0
    result = cli("inspect", parquet)
    assert result.rc == 3
    assert "is a Parquet file, not JSONL" in result.err
    assert "Traceback" not in result.err


def test_train_checks_its_settings_before_reading_any_data(cli: Runner, tmp_path: Path) -> None:
    pytest.importorskip("peft")
    # The source does not exist: a bad setting must be reported first (exit 2, not 3).
    result = cli("train", tmp_path / "missing.jsonl", "--model", "./no-such-model", "-o", tmp_path)
    assert result.rc == 2, result.err
    assert "model: names a directory that does not exist" in result.err
    assert "Loaded" not in result.err


@needs_core
def test_convert_leaves_out_what_openai_cannot_hold_and_says_so(
    cli: Runner, tmp_path: Path
) -> None:
    src = tmp_path / "sg.jsonl"
    turns = [["human", "q"], ["gpt", "let me check"], ["observation", "r"], ["gpt", "a"]]
    rows = [
        {"conversations": [{"from": f, "value": v} for f, v in turns]},
        {"conversations": [{"from": "human", "value": "q"}, {"from": "gpt", "value": "ok"}]},
    ]
    src.write_text("\n".join(json.dumps(r) for r in rows) + "\n", encoding="utf-8")
    out = tmp_path / "out.jsonl"
    result = cli("convert", src, "-o", out, "--json")
    assert result.rc == 0, result.err
    doc = result.json
    assert doc["report"]["rows_kept"] == 2
    assert doc["rows_written"] == 1
    assert doc["left_out"]["rows"] == 1
    assert doc["left_out"]["examples"][0]["line"] == 1
    assert "1 row left out: a tool message answers no call" in result.err
    assert len(out.read_text().splitlines()) == 1
    parquet = cli("convert", src, "-o", tmp_path / "all.parquet", "--json")
    assert parquet.json["rows_written"] == 2  # Parquet keeps every row


@needs_core
def test_convert_says_which_message_keys_openai_jsonl_cannot_hold(
    cli: Runner, tmp_path: Path
) -> None:
    src = tmp_path / "r1.jsonl"
    think = {"role": "assistant", "content": "4", "reasoning_content": "2+2=4"}
    rows = [
        {"messages": [{"role": "user", "content": "2+2?"}, think]},
        {"messages": [{"role": "user", "content": "q"}, {"role": "assistant", "content": "a"}]},
    ]
    src.write_text("\n".join(json.dumps(r) for r in rows) + "\n", encoding="utf-8")
    out = tmp_path / "out.jsonl"
    result = cli("convert", src, "-o", out, "--json")
    assert result.rc == 0, result.err
    doc = result.json
    assert doc["rows_written"] == 2
    assert doc["keys_not_written"]["keys"] == {"reasoning_content": 1}
    assert doc["keys_not_written"]["examples"][0]["line"] == 1
    assert "message keys not written" in result.err
    assert "reasoning_content in 1 message" in result.err
    assert "reasoning_content" not in out.read_text()
    parquet = cli("convert", src, "-o", tmp_path / "all.parquet", "--json")
    assert "keys_not_written" not in parquet.json  # Parquet keeps them


@needs_core
def test_convert_to_openai_says_the_row_fields_it_cannot_write(cli: Runner, tmp_path: Path) -> None:
    """BrightRun v4 to OpenAI (the incident's conversion): ids and metadata have no place in
    OpenAI's format; the conversion says so, with the metadata keys, instead of dropping them
    silently."""
    result = cli("convert", SAMPLE, "-o", tmp_path / "out.jsonl", "--json")
    assert result.rc == 0, result.err
    kept = result.json["report"]["rows_kept"]
    fields = result.json["row_fields_not_written"]
    assert fields["metadata_rows"] == fields["id_rows"] == kept
    assert fields["metadata_keys"][:2] == ["conversation_id", "turn_number"]
    assert "training_metadata" in fields["metadata_keys"]
    assert f"metadata of {kept} rows (conversation_id, turn_number" in result.err
    assert "--to parquet or --to arrow keeps them" in result.err
    parquet = cli("convert", SAMPLE, "-o", tmp_path / "all.parquet", "--json")
    assert "row_fields_not_written" not in parquet.json


@needs_core
def test_a_boolean_parallel_tool_calls_is_written_not_counted_as_lost(
    cli: Runner, tmp_path: Path
) -> None:
    chat = [{"role": "user", "content": "q"}, {"role": "assistant", "content": "a"}]
    rows = [
        {"messages": chat, "parallel_tool_calls": False},  # written back: nothing lost
        {"messages": chat, "parallel_tool_calls": "yes"},  # not a boolean: not written
        {"messages": chat, "src": "x", "parallel_tool_calls": True},
        {"messages": chat},
    ]
    src = tmp_path / "p.jsonl"
    src.write_text("\n".join(json.dumps(r) for r in rows) + "\n", encoding="utf-8")
    result = cli("convert", src, "-o", tmp_path / "out.jsonl", "--json")
    assert result.rc == 0, result.err
    fields = result.json["row_fields_not_written"]
    assert fields["metadata_rows"] == 2
    assert fields["metadata_keys"] == ["parallel_tool_calls", "src"]
    written = [json.loads(line) for line in (tmp_path / "out.jsonl").read_text().splitlines()]
    assert [r.get("parallel_tool_calls") for r in written] == [False, None, True, None]


@needs_core
def test_the_main_job_runs_without_numpy(cli: Runner, tmp_path: Path) -> None:
    """numpy is not a dependency (the README's first command installs none): inspect and
    convert must not need it."""
    script = tmp_path / "no_numpy.py"
    script.write_text(
        "import sys\n"
        "sys.modules['numpy'] = None  # import numpy now fails, as where it is not installed\n"
        "from brightingest.cli import main\n"
        "sys.exit(main())\n"
    )
    out = tmp_path / "out.jsonl"
    for args in (["inspect", SAMPLE], ["convert", SAMPLE, "-o", out, "--to", "openai"]):
        result = cli(*args, program=[sys.executable, str(script)])
        assert result.rc == 0, result.err
    assert len(out.read_text().splitlines()) == 17
