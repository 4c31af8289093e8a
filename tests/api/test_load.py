"""load() and stream() through the real core: detection, mixed formats, policies, errors."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pytest

import brightingest as bi
from brightingest.errors import (
    FormatDetectionError,
    JsonlDecodeError,
    MappingError,
    NoRowsError,
    PluginError,
)
from brightingest.mapping import Mapping, Message
from brightingest.plugins import FormatSpec, as_plugin, get_plugin_manager
from brightingest.report import IngestReport
from brightingest.writers import openai_problems
from tests._support.data import BRIGHTRUN_META, SAMPLE_ROWS

pytestmark = pytest.mark.usefixtures("core")

USER_BOT = {"messages": [{"role": "user", "content": "q"}, {"role": "bot", "content": "a"}]}


def accounted(report: IngestReport) -> None:
    assert report.rows_kept + report.lines_skipped == report.lines_read


def records(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


# -- the incident: BrightRun v4 in, OpenAI out ------------------------------------------------


def test_brightrun_sample_loads_with_every_line_accounted_for(brightrun_sample, pm) -> None:
    ds = bi.load(brightrun_sample, pm=pm)
    assert ds.format == "brightrun-v4"
    assert len(ds) == 17
    report = ds.report
    accounted(report)
    assert report.lines_read == 19
    assert report.skipped == {"metadata_line": 1, "invalid_json": 1}
    assert report.formats == {"brightrun-v4": 17}
    assert report.summary_line() == (
        "Loaded 17 conversations (2 lines skipped: 1 metadata, 1 invalid JSON at line 7)"
    )
    meta = report.file_metadata
    assert [(m["line"], json.loads(m["value"])["app_version"]) for m in meta] == [(1, "4.2.1")]
    assert report.detection is not None
    assert report.detection.best == "brightrun-v4"


def test_brightrun_rows_map_to_system_history_user_assistant(brightrun_sample, pm) -> None:
    ds = bi.load(brightrun_sample, pm=pm)
    second = ds.messages_as_python(1)
    source = json.loads(brightrun_sample.read_text(encoding="utf-8").splitlines()[2])
    history = source["conversation_history"]
    assert second == [
        {"role": "system", "content": source["system_prompt"]},
        {"role": "user", "content": history[0]["content"]},
        {"role": "assistant", "content": history[1]["content"], "weight": 0},
        {"role": "user", "content": source["current_user_input"]},
        {"role": "assistant", "content": source["target_response"]},
    ]
    assert ds.table.column("id")[1].as_py() == source["id"]
    assert ds.table.column("source_line")[1].as_py() == 3
    metadata = json.loads(ds.table.column("metadata")[1].as_py())
    assert metadata == {
        k: source[k]
        for k in ("conversation_id", "turn_number", "emotional_context", "training_metadata")
    }


def test_brightrun_to_openai_is_valid_and_reads_back_the_same(
    brightrun_sample, pm, tmp_path
) -> None:
    ds = bi.load(brightrun_sample, pm=pm)
    out = tmp_path / "train.openai.jsonl"
    assert ds.write_openai(out) == 17
    written = records(out)
    assert [openai_problems(r) for r in written] == [[]] * 17
    # only the target response is trained: history replies carry weight 0
    trained = [
        [m["content"] for m in r["messages"] if m["role"] == "assistant" and m.get("weight") != 0]
        for r in written
    ]
    assert all(len(t) == 1 for t in trained)
    back = bi.load(out, pm=pm)
    assert back.format == "openai"
    assert [back.messages_as_python(i) for i in range(len(back))] == [
        ds.messages_as_python(i) for i in range(len(ds))
    ]


def test_openai_in_openai_out_gives_the_same_conversations(write_jsonl, pm, tmp_path) -> None:
    rows = [r for r in SAMPLE_ROWS["openai"] if r is not SAMPLE_ROWS["openai"][1]]
    tool_row = {
        "messages": [
            {"role": "user", "content": "Weather?"},
            {
                "role": "assistant",
                "tool_calls": SAMPLE_ROWS["openai"][1]["messages"][2]["tool_calls"],
            },
            {"role": "tool", "tool_call_id": "call_1", "content": "-3 C"},
            {"role": "assistant", "content": "Cold.", "weight": 1},
        ],
        "tools": SAMPLE_ROWS["openai"][1]["tools"],
    }
    path = write_jsonl([*rows, tool_row])
    out = tmp_path / "out.jsonl"
    bi.load(path, pm=pm).write_openai(out)
    assert records(out) == [*rows, tool_row]


def test_content_parts_become_text(write_jsonl, pm) -> None:
    ds = bi.load(write_jsonl(SAMPLE_ROWS["openai"]), pm=pm)
    assert ds.messages_as_python(1)[1] == {"role": "user", "content": "Weather in Oslo?"}
    assert json.loads(ds.table.column("tools")[1].as_py()) == SAMPLE_ROWS["openai"][1]["tools"]


# -- detection through load -------------------------------------------------------------------


def test_forced_format_that_matches_no_row_fails_at_once(brightrun_sample, pm, tmp_path) -> None:
    path = tmp_path / "export.jsonl"
    shutil.copy(brightrun_sample, path)
    with pytest.raises(FormatDetectionError) as info:
        bi.stream(path, format="openai", pm=pm)
    assert str(info.value) == (
        f'{path}:1: looks like brightrun-v4 (a _meta first line), but format="openai" was '
        "forced.\n"
        'Hint: drop format= to auto-detect, or pass format="brightrun-v4".'
    )


def test_format_names_accept_underscores_and_unknown_names_list_the_installed(
    brightrun_sample, pm
) -> None:
    assert bi.load(brightrun_sample, format="brightrun_v4", pm=pm).format == "brightrun-v4"
    with pytest.raises(FormatDetectionError) as info:
        bi.load(brightrun_sample, format="nope", pm=pm)
    assert str(info.value) == (
        'unknown format "nope"; installed formats: alpaca, brightrun-v4, dolly, gemini, openai, '
        "openorca, prompt-completion, question-answer, sharegpt.\n"
        'Hint: use one of those, format="auto" to detect it, or install the plugin that '
        "provides it."
    )
    assert info.value.code == "unknown_format"


def test_tie_stops_and_lists_candidates(write_jsonl, pm) -> None:
    row = {
        "messages": [{"role": "user", "content": "a"}],
        "conversations": [{"from": "human", "value": "a"}],
    }
    path = write_jsonl([row, row])
    with pytest.raises(FormatDetectionError) as info:
        bi.load(path, pm=pm)
    assert info.value.candidates == ["openai", "sharegpt"]
    assert str(info.value).endswith('Hint: choose one with format="openai" or format="sharegpt".')


def test_choosing_a_tied_format_reads_the_file(write_jsonl, pm) -> None:
    row = {
        "messages": [{"role": "user", "content": "a"}, {"role": "assistant", "content": "b"}],
        "conversations": [{"from": "human", "value": "c"}, {"from": "gpt", "value": "d"}],
    }
    ds = bi.load(write_jsonl([row]), format="sharegpt", pm=pm)
    assert ds.messages_as_python(0) == [
        {"role": "user", "content": "c"},
        {"role": "assistant", "content": "d"},
    ]
    assert json.loads(ds.table.column("metadata")[0].as_py()) == {"messages": row["messages"]}


def test_detect_api(brightrun_sample, pm) -> None:
    detection = bi.detect(brightrun_sample, pm=pm)
    assert detection.best == "brightrun-v4"
    assert detection.sample_size == 17  # the _meta line and the broken line are not rows
    assert detection.scores[0] == ("brightrun-v4", 1.0)


# -- mixed formats ----------------------------------------------------------------------------


def test_mixed_formats_are_mapped_per_row_and_counted(write_jsonl, pm) -> None:
    lines: list[Any] = [
        SAMPLE_ROWS["openai"][0],
        SAMPLE_ROWS["sharegpt"][0],
        SAMPLE_ROWS["alpaca"][0],
        {"text": "not chat"},
        SAMPLE_ROWS["openai"][2],
    ]
    path = write_jsonl(lines)
    ds = bi.load(path, pm=pm)
    accounted(ds.report)
    assert ds.format == "openai"
    assert ds.report.formats == {"openai": 2, "sharegpt": 1, "alpaca": 1}
    assert ds.table.column("format").to_pylist() == ["openai", "sharegpt", "alpaca", "openai"]
    assert ds.report.skipped == {"unsupported_format": 1}
    example = ds.report.example("unsupported_format")
    assert example is not None
    assert (example["file"], example["line"]) == (str(path), 4)


def test_forced_format_skips_rows_of_other_formats_per_row(write_jsonl, pm) -> None:
    path = write_jsonl([SAMPLE_ROWS["openai"][0], SAMPLE_ROWS["alpaca"][0]])
    ds = bi.load(path, format="openai", pm=pm)
    assert len(ds) == 1
    assert ds.report.skipped == {"unsupported_format": 1}
    assert ds.report.examples[0]["line"] == 2


# -- policies ---------------------------------------------------------------------------------


BAD_FILE: list[Any] = [
    SAMPLE_ROWS["openai"][0],
    '{"messages": [',
    USER_BOT,
    "",
    "[1, 2]",
    SAMPLE_ROWS["openai"][2],
]


def test_skip_reports_each_bad_line_with_category_and_line(write_jsonl, pm) -> None:
    ds = bi.load(write_jsonl(BAD_FILE), pm=pm)
    accounted(ds.report)
    assert len(ds) == 2
    assert ds.report.skipped == {
        "invalid_json": 1,
        "unknown_role": 1,
        "blank_line": 1,
        "not_an_object": 1,
    }
    assert [
        (e["category"], e["line"]) for e in ds.report.examples if e["category"] != "blank_line"
    ] == [
        ("invalid_json", 2),
        ("unknown_role", 3),
        ("not_an_object", 5),
    ]
    assert ds.report.policy == "skip"


def test_strict_fails_on_the_first_bad_line(write_jsonl, pm) -> None:
    path = write_jsonl(BAD_FILE)
    with pytest.raises(JsonlDecodeError) as info:
        bi.load(path, policy="strict", pm=pm)
    assert (info.value.path, info.value.line, info.value.code) == (str(path), 2, "invalid_json")
    assert str(info.value).startswith(f"{path}:2: invalid JSON")


def test_strict_mapping_error_names_the_field(write_jsonl, pm) -> None:
    path = write_jsonl([SAMPLE_ROWS["openai"][0], USER_BOT])
    with pytest.raises(MappingError) as info:
        bi.load(path, policy="strict", pm=pm)
    assert (info.value.line, info.value.code, info.value.field) == (
        2,
        "unknown_role",
        "messages[1].role",
    )
    assert str(info.value).startswith(
        f'{path}:2: messages[1].role: unknown role "bot" (expected chatbot, model, system, '
        "developer, user, assistant, tool)"
    )


def test_quarantine_keeps_bad_lines_verbatim_with_line_numbers(write_jsonl, pm, tmp_path) -> None:
    path = write_jsonl(BAD_FILE)
    side = tmp_path / "bad.jsonl"
    ds = bi.load(path, policy="quarantine", quarantine=side, pm=pm)
    assert len(ds) == 2
    assert ds.report.quarantine == str(side)
    kept = records(side)
    assert [(r["line"], r["category"], r["text"]) for r in kept] == [
        (2, "invalid_json", '{"messages": ['),
        (3, "unknown_role", json.dumps(USER_BOT)),
        (5, "not_an_object", "[1, 2]"),
    ]
    assert {r["file"] for r in kept} == {str(path)}


def test_quarantine_defaults_next_to_the_source(write_jsonl, pm) -> None:
    path = write_jsonl(BAD_FILE, "in.jsonl")
    ds = bi.load(path, policy="quarantine", pm=pm)
    assert ds.report.quarantine == f"{path}.quarantine.jsonl"
    assert len(records(Path(f"{path}.quarantine.jsonl"))) == 3


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"policy": "lenient"}, ValueError, "policy must be one of skip, strict, quarantine"),
        (
            {"quarantine": "q.jsonl"},
            ValueError,
            'quarantine= is the side file of policy="quarantine"',
        ),
        ({"sample_rows": 0}, ValueError, "sample_rows must be at least 1, got 0"),
        ({"threads": "4"}, TypeError, "threads must be an int, not str"),
        ({"format": None}, TypeError, "format must be a str, not NoneType"),
    ],
)
def test_argument_errors(
    write_jsonl, pm, kwargs: dict[str, Any], error: type[Exception], message: str
) -> None:
    with pytest.raises(error, match=message):
        bi.load(write_jsonl(BAD_FILE), pm=pm, **kwargs)


# -- 0 rows kept ------------------------------------------------------------------------------


def test_no_rows_names_the_most_common_reason(write_jsonl, pm) -> None:
    path = write_jsonl([USER_BOT, USER_BOT, USER_BOT, {"x": 1}])
    with pytest.raises(NoRowsError) as info:
        bi.load(path, pm=pm)
    assert str(info.value) == (
        f"{path}: 0 rows kept of 4 lines read (3 unknown_role, 1 unsupported_format). "
        f'Most common reason: unknown_role, e.g. {path}:1: messages[1].role: unknown role "bot" '
        "(expected chatbot, model, system, developer, user, assistant, tool)\n"
        'Hint: map it in the format\'s roles, e.g. roles={"bot": "assistant"}, or use '
        'policy="quarantine" to set such rows aside'
    )
    report = info.value.report
    assert isinstance(report, IngestReport)
    assert report.rows_kept == 0
    assert report.skipped == {"unknown_role": 3, "unsupported_format": 1}


def test_no_rows_when_rows_look_like_another_format_than_forced(write_jsonl, pm) -> None:
    bad_openai = {"messages": [{"role": "user", "content": "q"}]}  # no assistant
    path = write_jsonl([bad_openai, *SAMPLE_ROWS["sharegpt"] * 2])
    with pytest.raises(NoRowsError) as info:
        bi.load(path, format="openai", pm=pm)
    message = str(info.value)
    assert message.startswith(
        f"{path}: 0 rows kept of 5 lines read (4 unsupported_format, 1 no_trainable_assistant). "
        f"Most common reason: unsupported_format, e.g. {path}:2: row is not openai"
    )
    assert message.endswith(
        'Hint: the rows look like "sharegpt", not "openai": pass format="sharegpt", '
        "or drop format= to auto-detect."
    )


def test_empty_input_is_no_rows(write_jsonl, pm) -> None:
    path = write_jsonl([])
    with pytest.raises(NoRowsError) as info:
        bi.load(path, pm=pm)
    assert str(info.value) == (
        f"{path}: 0 rows kept: the input is empty.\n"
        "Hint: check that the source is the file you meant."
    )


def test_only_metadata_is_no_rows(write_jsonl, pm) -> None:
    path = write_jsonl([BRIGHTRUN_META, ""])
    with pytest.raises(NoRowsError) as info:
        bi.load(path, pm=pm)
    assert "Most common reason: metadata_line" in str(info.value)
    assert str(info.value).endswith("Hint: the input has metadata lines but no data rows.")


def test_not_jsonl_at_all_is_no_rows_about_json(write_jsonl, pm) -> None:
    path = write_jsonl(["a,b,c", "1,2,3"])
    with pytest.raises(NoRowsError) as info:
        bi.load(path, pm=pm)
    assert str(info.value).endswith(
        "Hint: check that the input is JSON Lines (one JSON object per line), not a JSON "
        "array, CSV or an HTML error page."
    )


# -- stream -----------------------------------------------------------------------------------


def test_stream_yields_batches_and_completes_the_report(write_jsonl, pm) -> None:
    path = write_jsonl(SAMPLE_ROWS["alpaca"] * 50)
    stream = bi.stream(path, pm=pm)
    assert stream.format == "alpaca"
    batches = list(stream)
    assert all(isinstance(b, pa.RecordBatch) for b in batches)
    assert sum(b.num_rows for b in batches) == 150
    assert stream.report.rows_kept == 150
    assert stream.schema.names == bi.load(path, pm=pm).table.schema.names


def test_stream_is_an_arrow_stream(write_jsonl, pm) -> None:
    path = write_jsonl(SAMPLE_ROWS["prompt-completion"])
    table = pa.table(bi.stream(path, pm=pm))
    assert table.num_rows == len(SAMPLE_ROWS["prompt-completion"])
    polars = pytest.importorskip("polars")
    frame = polars.DataFrame(bi.stream(path, pm=pm))
    assert frame.height == len(SAMPLE_ROWS["prompt-completion"])


def test_stream_raises_no_rows_at_the_end(write_jsonl, pm) -> None:
    stream = bi.stream(write_jsonl([USER_BOT]), pm=pm)
    with pytest.raises(NoRowsError):
        list(stream)


# -- sources and output identity --------------------------------------------------------------


def test_compressed_files_and_directories(write_jsonl, pm, tmp_path) -> None:
    write_jsonl(SAMPLE_ROWS["sharegpt"], "dir/a.jsonl.gz", compress="gzip")
    write_jsonl(SAMPLE_ROWS["sharegpt"], "dir/b.jsonl.zst", compress="zstd")
    ds = bi.load(tmp_path / "dir", pm=pm)
    assert len(ds) == 4
    assert ds.format == "sharegpt"
    assert [Path(f).name for f in ds.report.files] == ["a.jsonl.gz", "b.jsonl.zst"]


def test_threads_do_not_change_the_result(write_jsonl, pm) -> None:
    path = write_jsonl([*SAMPLE_ROWS["openai"], *BAD_FILE] * 30)
    one = bi.load(path, threads=1, pm=pm)
    two = bi.load(path, threads=2, pm=pm)
    assert one.table.equals(two.table)
    assert one.report.to_dict() == two.report.to_dict()


def test_whole_table_work_units_are_larger_but_the_result_is_the_same(write_jsonl, pm) -> None:
    from brightingest.api import _STREAM_CHUNK, _TABLE_CHUNK, _chunk_bytes

    assert _chunk_bytes(None, 2, whole_table=True) == _STREAM_CHUNK  # compressed: size unknown
    assert _chunk_bytes(1 << 30, 2, whole_table=False) == _STREAM_CHUNK
    assert _chunk_bytes(1 << 30, 2, whole_table=True) == _TABLE_CHUNK
    assert _chunk_bytes(40 << 20, 2, whole_table=True) == (40 << 20) // 16  # 8 units a thread
    assert _chunk_bytes(1000, 2, whole_table=True) == _STREAM_CHUNK

    # ~24 MiB: whole-table units of 1.5 MiB with 2 threads, so unit boundaries differ from a
    # stream's and fall mid-file; the table must not depend on them.
    rows = [*SAMPLE_ROWS["openai"], *BAD_FILE]
    user = {"role": "user", "content": "x" * 5000}
    big = {"messages": [user, {"role": "assistant", "content": "y"}]}
    path = write_jsonl((rows + [big] * 40) * 120)
    ds = bi.load(path, threads=2, pm=pm)
    with bi.stream(path, threads=2, pm=pm) as stream:
        streamed = pa.Table.from_batches(list(stream))
        report = stream.report
    assert ds.table.num_rows > 0
    assert ds.table.equals(streamed)
    assert ds.report.to_dict() == report.to_dict()
    assert len(ds.table.to_batches()) < len(streamed.to_batches())


def test_default_plugin_manager_finds_the_builtins(brightrun_sample) -> None:
    assert {"openai", "brightrun-v4"} <= {i.name for i in bi.formats()}
    assert bi.load(brightrun_sample).format == "brightrun-v4"


# -- plugin hooks: transform and the slow path ------------------------------------------------


def _shout(batch: pa.RecordBatch) -> pa.RecordBatch:
    column = batch.column("messages")
    flat = pc.list_flatten(column)
    upper = pc.utf8_upper(flat.field("content"))
    fields = [flat.field(i) if i != 1 else upper for i in range(flat.type.num_fields)]
    struct = pa.StructArray.from_arrays(fields, fields=list(flat.type))
    offsets = pc.subtract(column.offsets, column.offsets[0])  # the batch may be a slice
    messages = pa.ListArray.from_arrays(offsets, struct, type=column.type)
    arrays = list(batch.columns)
    arrays[0] = messages
    return pa.RecordBatch.from_arrays(arrays, schema=batch.schema)


def _qa(transform: Callable[[pa.RecordBatch], Any] | None = None) -> FormatSpec:
    return FormatSpec(
        "qa",
        "1",
        mapping=Mapping(
            ("ask", "reply"),
            (Message("user", "ask"), Message("assistant", "reply")),
        ),
        transform=transform,
    )


def test_transform_runs_on_the_rows_its_format_mapped(write_jsonl, pm) -> None:
    pm.register(as_plugin(_qa(_shout)), name="qa")
    qa = {"ask": "why?", "reply": "because"}
    path = write_jsonl([qa, SAMPLE_ROWS["prompt-completion"][0], qa, qa])
    ds = bi.load(path, pm=pm)
    assert ds.report.formats == {"qa": 3, "prompt-completion": 1}
    contents = [[m["content"] for m in ds.messages_as_python(i)] for i in range(len(ds))]
    assert contents == [["WHY?", "BECAUSE"], ["The sky is", " blue."], ["WHY?", "BECAUSE"]] + [
        ["WHY?", "BECAUSE"]
    ]


def test_transform_runs_only_on_batches_holding_its_rows(write_jsonl, pm) -> None:
    # Several batches (the file spans chunks); only the one holding the "qa" row is transformed.
    pm.register(as_plugin(_qa(_shout)), name="qa")
    pc_row = {"prompt": "The sky is", "completion": " blue."}
    rows: list[dict[str, Any]] = [pc_row] * 20_000 + [{"ask": "why?", "reply": "because"}]
    rows += [pc_row] * 20_000
    path = write_jsonl(rows)
    batches = list(bi.stream(path, pm=pm))
    assert len(batches) > 2
    table = pa.Table.from_batches(batches)
    assert table.num_rows == 40_001
    contents = table.column("messages").combine_chunks().flatten().field("content").to_pylist()
    counts = {text: contents.count(text) for text in ("WHY?", "BECAUSE", "The sky is", " blue.")}
    assert counts == {"WHY?": 1, "BECAUSE": 1, "The sky is": 40_000, " blue.": 40_000}


def test_transform_breaking_the_contract_is_a_plugin_error(write_jsonl, pm) -> None:
    pm.register(as_plugin(_qa(lambda batch: batch.slice(1))), name="qa-plugin")
    path = write_jsonl([{"ask": "a", "reply": "b"}] * 2)
    with pytest.raises(PluginError) as info:
        bi.load(path, pm=pm)
    assert str(info.value) == (
        'format "qa" (plugin "qa-plugin"): transform returned 1 rows for 2.\n'
        "Hint: a transform returns the same rows in the normalized chat schema "
        "(brightingest.schema.CHAT_SCHEMA)."
    )
    assert info.value.plugin == "qa-plugin"


def _map_lines(row: dict[str, Any]) -> list[dict[str, Any]] | None:
    if "dialog" not in row:
        return None
    if not isinstance(row["dialog"], str):
        raise MappingError("dialog must be text", code="wrong_type", field="dialog")
    roles = {"Q": "user", "A": "assistant", "S": "system", "X": "narrator"}
    out = []
    for line in row["dialog"].split("\n"):
        tag, _, text = line.partition(": ")
        out.append({"role": roles.get(tag, tag), "content": text})
    return out


SLOW = FormatSpec(
    "dialog-lines",
    "1",
    description="Q:/A: lines in one text field (slow path)",
    detect=lambda row: 1.0 if isinstance(row, dict) and "dialog" in row else 0.0,
    map_record=_map_lines,
)


def test_slow_path_maps_rows_in_python_and_accounts_for_them(write_jsonl, pm, tmp_path) -> None:
    pm.register(as_plugin(SLOW), name="dialog")
    lines: list[Any] = [
        {"dialog": "Q: hi\nA: hello"},
        {"dialog": 3},
        {"dialog": "X: once upon\nA: a time"},
        {"dialog": "Q: only a question"},
        {"dialog": "Q: hi\nS: late system\nA: ok"},
        {"text": "other"},
        "[1]",
        "{bad",
        {"dialog": "S: sys\nQ: q\nA: a"},
    ]
    side = tmp_path / "q.jsonl"
    ds = bi.load(write_jsonl(lines), pm=pm, policy="quarantine", quarantine=side)
    accounted(ds.report)
    assert ds.format == "dialog-lines"
    assert len(ds) == 2
    assert ds.report.formats == {"dialog-lines": 2}
    assert ds.messages_as_python(1) == [
        {"role": "system", "content": "sys"},
        {"role": "user", "content": "q"},
        {"role": "assistant", "content": "a"},
    ]
    assert {e["category"]: e["line"] for e in ds.report.examples} == {
        "wrong_type": 2,
        "unknown_role": 3,
        "no_trainable_assistant": 4,
        "system_not_first": 5,
        "unsupported_format": 6,
        "not_an_object": 7,
        "invalid_json": 8,
    }
    assert sorted(r["line"] for r in records(side)) == [2, 3, 4, 5, 6, 7, 8]


def test_slow_path_strict_raises_the_rows_own_error(write_jsonl, pm) -> None:
    pm.register(as_plugin(SLOW), name="dialog")
    path = write_jsonl([{"dialog": "Q: a\nA: b"}, {"dialog": "Q: only"}])
    with pytest.raises(MappingError) as info:
        bi.load(path, pm=pm, policy="strict")
    assert str(info.value) == (
        f"{path}:2: messages: no assistant message to train on (none, or all with weight 0).\n"
        'Hint: use policy="skip" to skip such rows, or policy="quarantine" to set them aside.'
    )


def test_slow_path_function_raising_is_a_plugin_error(write_jsonl, pm) -> None:
    def broken(row: dict[str, Any]) -> list[dict[str, Any]] | None:
        raise KeyError("turns")

    spec = FormatSpec(
        "broken", "1", detect=lambda r: 1.0 if isinstance(r, dict) else 0.0, map_record=broken
    )
    pm.register(as_plugin(spec), name="broken-plugin")
    path = write_jsonl([{"a": 1}])
    with pytest.raises(PluginError) as info:
        bi.load(path, pm=pm, format="broken")
    assert str(info.value).startswith(
        'format "broken" (plugin "broken-plugin"): map_record raised KeyError: '
        f"'turns' (at {path}:1)"
    )


def test_slow_path_record_may_fill_id_tools_and_metadata(write_jsonl, pm) -> None:
    def mapped(row: dict[str, Any]) -> dict[str, Any]:
        rest = {k: v for k, v in row.items() if k not in ("dialog", "key", "tools")}
        return {
            "messages": _map_lines(row),
            "id": row["key"],
            "tools": row["tools"],
            "metadata": rest,
        }

    spec = FormatSpec("rec", "1", detect=lambda r: 1.0 if "dialog" in r else 0.0, map_record=mapped)
    pm.register(as_plugin(spec), name="rec")
    tool = {"type": "function", "function": {"name": "f", "parameters": {}}}
    path = write_jsonl(
        [
            {"dialog": "Q: a\nA: b", "key": 7, "tools": [tool], "score": 0.5, "note": "é"},
            {"dialog": "Q: c\nA: d", "key": "k2", "tools": []},
        ]
    )
    table = bi.load(path, pm=pm).table
    assert table.column("id").to_pylist() == ["7", "k2"]
    assert [json.loads(t) if t else t for t in table.column("tools").to_pylist()] == [[tool], None]
    assert table.column("metadata").to_pylist() == ['{"score":0.5,"note":"é"}', None]

    for bad, problem in (
        ({"messages": [], "label": 1}, "a record with unknown keys label"),
        ({"id": "x"}, "a record with no messages"),
        ({"messages": [], "id": ["x"]}, "an id of type list"),
        ({"messages": [], "tools": {"a": 1}}, "tools that are not a list of objects"),
        ({"messages": [], "metadata": "x"}, "metadata of type str, not an object"),
    ):
        spec = FormatSpec("rec-bad", "1", detect=lambda r: 1.0, map_record=lambda r, b=bad: b)
        bad_pm = get_plugin_manager(autoload=False)
        bad_pm.register(as_plugin(spec), name="rec-bad")
        with pytest.raises(PluginError, match=problem) as info:
            bi.load(path, pm=bad_pm, format="rec-bad")
        assert info.value.code == "plugin_contract"


def test_import_is_cheap_and_formats_is_callable_after_submodule_imports() -> None:
    import subprocess
    import sys

    code = (
        "import sys, brightingest as bi\n"
        "heavy = [m for m in ('pyarrow', 'torch', 'brightingest._core') if m in sys.modules]\n"
        "import brightingest.formats.openai\n"
        "print(heavy, bi.formats.openai.SPEC.name, 'openai' in [f.name for f in bi.formats()])\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert out.strip() == "[] openai True"


def test_slow_path_format_may_also_transform(write_jsonl, pm) -> None:
    spec = FormatSpec(
        "dialog-shout",
        "1",
        detect=SLOW.detect,
        map_record=_map_lines,
        transform=_shout,
    )
    pm.register(as_plugin(spec), name="dialog-shout")
    ds = bi.load(write_jsonl([{"dialog": "Q: hi\nA: hello"}]), format="dialog-shout", pm=pm)
    assert [m["content"] for m in ds.messages_as_python(0)] == ["HI", "HELLO"]


def test_format_code_search_respects_slices() -> None:
    from brightingest.api import _has_any_code

    codes = pa.array([0, 1, 2, 2, 1, 0, 5], pa.int32())
    assert _has_any_code(codes, [5])
    assert not _has_any_code(codes, [3])
    assert not _has_any_code(codes.slice(0, 6), [5])
    assert not _has_any_code(codes.slice(2, 3), [0])
    assert _has_any_code(codes.slice(5), [0, 7])


def test_a_second_pass_reads_the_same_rows_and_counts_them_again(write_jsonl, pm, tmp_path) -> None:
    from brightingest.api import _stream_twice

    pm.register(as_plugin(SLOW), name="dialog")  # the slow path: rows mapped in Python
    path = write_jsonl([{"dialog": "Q: hi\nA: hello"}, {"dialog": 3}, {"dialog": "Q: a\nA: b"}])
    side = tmp_path / "bad.jsonl"
    first = _stream_twice(path, pm=pm, policy="quarantine", quarantine=side)
    with first:
        rows = [b for b in first]
        quarantined = side.read_text()
        second = first._replay()
        again = [b for b in second]
    assert [b.to_pydict() for b in again] == [b.to_pydict() for b in rows]
    assert second.report.to_dict()["skipped"] == first.report.to_dict()["skipped"]
    assert second.report.lines_read == first.report.lines_read == 3
    assert side.read_text() == quarantined  # bad lines are not written to the side file twice
    assert quarantined.count("\n") == 1


def test_slow_path_applies_the_cores_rules_on_weights_and_tool_calls(write_jsonl, pm) -> None:
    def mapped(row: dict[str, Any]) -> list[dict[str, Any]] | None:
        user: dict[str, Any] = {"role": "user", "content": "u"}
        if row["case"] == "zero":
            user["weight"] = 0
        elif row["case"] == "one":
            user["weight"] = 1
        elif row["case"] == "calls":
            user["tool_calls"] = [{"id": "c", "type": "function"}]
        return [user, {"role": "assistant", "content": "a"}]

    spec = FormatSpec(
        "cases", "1", detect=lambda r: 1.0 if isinstance(r, dict) else 0.0, map_record=mapped
    )
    pm.register(as_plugin(spec), name="cases-plugin")
    path = write_jsonl([{"case": c} for c in ("plain", "zero", "one", "calls")])
    ds = bi.load(path, pm=pm, format="cases")
    accounted(ds.report)
    assert len(ds) == 2
    plain, zero = ds.table.column("messages").to_pylist()
    assert plain == zero  # a weight of 0 off an assistant message says nothing: dropped
    assert {e["line"]: e["category"] for e in ds.report.examples} == {
        3: "invalid_weight",
        4: "wrong_type",
    }


def test_closing_a_stream_writes_out_its_quarantine_file(write_jsonl, tmp_path) -> None:
    good = {
        "messages": [{"role": "user", "content": "q" * 300}, {"role": "assistant", "content": "a"}]
    }
    rows: list[Any] = [good if i % 1000 else "{bad" for i in range(12_000)]
    side = tmp_path / "q.jsonl"
    s = bi.stream(write_jsonl(rows), policy="quarantine", quarantine=side, threads=2)
    next(s)
    s.close()  # stopped early: every bad line counted so far is in the file, now
    counted = s.report.skipped.get("invalid_json", 0)
    assert counted > 0
    assert len(records(side)) == counted


def test_a_spent_stream_refuses_a_second_loop(write_jsonl) -> None:
    path = write_jsonl(
        [{"messages": [{"role": "user", "content": "q"}, {"role": "assistant", "content": "a"}]}]
    )
    s = bi.stream(path)
    assert sum(b.num_rows for b in s) == 1
    with pytest.raises(bi.BrightIngestError) as info:
        list(s)  # would otherwise be a quiet empty list
    assert info.value.code == "stream_consumed"
    with bi.stream(path) as closed:
        pass
    with pytest.raises(bi.BrightIngestError, match="closed already"):
        pa.table(closed)
    partly = bi.stream(path)
    for _ in partly:
        break
    assert list(partly) == []  # a loop left early goes on where it stopped


def test_slow_path_checks_tool_calls_as_the_core_does(write_jsonl, pm) -> None:
    def mapped(row: dict[str, Any]) -> list[dict[str, Any]]:
        calling = {"role": "assistant", "content": None, "tool_calls": row["calls"]}
        return [{"role": "user", "content": "q"}, calling]

    spec = FormatSpec(
        "calls", "1", detect=lambda r: 1.0 if "calls" in r else 0.0, map_record=mapped
    )
    pm.register(as_plugin(spec), name="calls")
    fn = {"name": "f", "arguments": {"x": 1}}
    rows = [
        {"calls": [{"id": "c1", "function": fn}]},
        {"calls": [{"function": fn}]},
        {"calls": [{"id": "c1", "type": "retrieval", "function": fn}]},
        {"calls": [{"id": "c1", "function": {"arguments": "{}"}}]},
        {"calls": [{"id": "c1", "function": {"name": "f", "arguments": 5}}]},
        {"calls": "f()"},
    ]
    ds = bi.load(write_jsonl(rows), pm=pm)
    assert ds.report.rows_kept == 1
    call = ds.messages_as_python(0)[1]["tool_calls"][0]
    assert call == {
        "id": "c1",
        "function": {"name": "f", "arguments": '{"x":1}'},
        "type": "function",
    }
    assert {e["line"]: (e["category"], e["field"]) for e in ds.report.examples} == {
        2: ("missing_field", "messages[1].tool_calls[0].id"),
        3: ("wrong_type", "messages[1].tool_calls[0].type"),
        4: ("missing_field", "messages[1].tool_calls[0].function.name"),
        5: ("wrong_type", "messages[1].tool_calls[0].function.arguments"),
        6: ("wrong_type", "messages[1].tool_calls"),
    }


def test_slow_path_keeps_message_keys_it_does_not_know_in_extra(write_jsonl, pm) -> None:
    def mapped(row: dict[str, Any]) -> list[dict[str, Any]]:
        return [
            {"role": "user", "content": "q", "lang": "de", "none": None},
            {"role": "assistant", "content": "a", "thinking": "t", "extra": {"score": 1}},
            {"role": "assistant", "content": "b", "extra": '{"k": [1]}'},
        ]

    spec = FormatSpec("xtra", "1", detect=lambda r: 1.0 if "x" in r else 0.0, map_record=mapped)
    pm.register(as_plugin(spec), name="xtra")
    table = bi.load(write_jsonl([{"x": 1}]), pm=pm).table
    assert [m["extra"] for m in table.column("messages")[0].as_py()] == [
        '{"lang":"de"}',
        '{"score":1,"thinking":"t"}',
        '{"k":[1]}',
    ]

    def refusal(messages: list[dict[str, Any]]) -> dict[str, Any]:
        """The first skipped-line example of a file of one row that ``messages`` maps."""
        spec = FormatSpec("xtra-bad", "1", detect=lambda r: 1.0, map_record=lambda r: messages)
        bad_pm = get_plugin_manager(autoload=False)
        bad_pm.register(as_plugin(spec), name="xtra-bad")
        with pytest.raises(NoRowsError) as info:
            bi.load(write_jsonl([{"x": 1}]), pm=bad_pm, format="xtra-bad")
        example: dict[str, Any] = info.value.report.to_dict()["examples"][0]
        return example

    user = {"role": "user", "content": "q"}
    twice = refusal([user, {"role": "assistant", "content": "a", "t": 1, "extra": {"t": 2}}])
    assert twice["field"] == "messages[1].t"
    example = refusal([user, {"role": "assistant", "content": "a", "score": float("nan")}])
    assert (example["category"], example["field"]) == ("wrong_type", "messages[1].score")
    assert "a value that is not JSON" in example["message"]
    example = refusal([{**user, "extra": "[1]"}])
    assert (example["category"], example["field"]) == ("wrong_type", "messages[0].extra")
    assert "extra must be a JSON object" in example["message"]
