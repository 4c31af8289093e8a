//! Fuzz the line reader: arbitrary bytes, arbitrary chunking and thread counts, raw and mapped.
//! Properties: no panic; kept + skipped == read; the number of physical lines is right; and the
//! output is identical to a single-threaded, single-chunk read of the same bytes; and in a raw
//! read each kept value is its line's own JSON with only whitespace between tokens removed
//! (serde_json reads the same value from both).
#![no_main]

use _core::{FormatSet, ReadOptions, Reader};
use arrow_array::RecordBatch;
use libfuzzer_sys::fuzz_target;

const FORMATS: &str = r#"[
 {"name": "openai", "signature": ["messages"], "parts": [
   {"kind": "message", "role": "system", "fields": ["system"], "optional": true, "overridable": true},
   {"kind": "list", "field": "messages", "name_key": "name", "tool_calls_key": "tool_calls",
    "tool_call_id_key": "tool_call_id", "weight_key": ["weight", "training", "train"]}],
  "tools_field": "tools", "roles": {"model": "assistant"}, "media": ["images", "videos"],
  "desirable": "kto_tag", "desirable_if_boolean": ["label"]},
 {"name": "sharegpt", "signature": ["conversations"], "desirable": "kto_tag",
  "parts": [{"kind": "list", "field": "conversations", "role_key": ["from", "role"],
   "content_key": ["value", "content"], "roles": {"human": "user", "gpt": "assistant", "user": "assistant"}}]},
 {"name": "prompt-completion", "signature": ["prompt", "completion"], "desirable": "label",
  "parts": [{"kind": "list", "field": "prompt", "string_role": "user", "assistant_weight": 0},
   {"kind": "list", "field": "completion", "string_role": "assistant"}]},
 {"name": "brightrun-v4", "signature": ["current_user_input", "target_response"], "meta_key": "_meta",
  "parts": [{"kind": "message", "role": "system", "fields": ["system_prompt"], "optional": true},
   {"kind": "list", "field": "conversation_history", "assistant_weight": 0, "optional": true},
   {"kind": "message", "role": "user", "fields": ["current_user_input"]},
   {"kind": "message", "role": "assistant", "fields": ["target_response"]}], "id_field": "id"},
 {"name": "alpaca", "signature": ["instruction", "output"], "metadata": "none",
  "parts": [{"kind": "pairs", "field": "history"},
   {"kind": "message", "role": "user", "fields": ["instruction", "input"]},
   {"kind": "message", "role": "assistant", "fields": ["output"]}]}
]"#;

fn run(data: &[u8], mapped: bool, threads: usize, chunk: usize, max_line: usize) -> (Vec<RecordBatch>, _core::Report) {
    let formats = mapped.then(|| FormatSet::from_json(FORMATS).expect("valid formats"));
    let opts = ReadOptions {
        threads,
        chunk_bytes: chunk,
        max_line_bytes: max_line,
        window_chunks: 2,
        ..ReadOptions::default()
    };
    Reader::from_memory(vec![("fuzz.jsonl".into(), data.to_vec())], formats, opts)
        .expect("reader")
        .read_all()
        .expect("a plain in-memory read never fails fatally under the skip policy")
}

fuzz_target!(|input: &[u8]| {
    if input.len() < 2 {
        return;
    }
    let (ctl, data) = input.split_at(2);
    let mapped = ctl[0] & 1 == 1;
    let threads = 1 + (ctl[0] as usize >> 1) % 3;
    let chunk = 1 + ctl[1] as usize % 64;
    let max_line = if ctl[0] & 0x80 != 0 { 32 } else { 1 << 20 };
    let (batches, report) = run(data, mapped, threads, chunk, max_line);
    assert!(report.balanced(), "kept + skipped != read");
    let rows: usize = batches.iter().map(|b| b.num_rows()).sum();
    assert_eq!(rows as u64, report.rows_kept);
    let body = data.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(data);
    let expected_lines = if body.is_empty() {
        u64::from(!data.is_empty())
    } else {
        (body.iter().filter(|&&b| b == b'\n').count() + usize::from(body.last() != Some(&b'\n'))) as u64
    };
    assert_eq!(report.lines_read, expected_lines);
    if !mapped {
        check_raw_values(body, &batches);
    }
    let (reference, ref_report) = run(data, mapped, 1, 1 << 30, max_line);
    assert_eq!(ref_report.skipped, report.skipped);
    assert_eq!(
        arrow_concat(&batches),
        arrow_concat(&reference),
        "output depends on chunking or threads"
    );
});

/// Rows as debug text, batch boundaries erased.
fn arrow_concat(batches: &[RecordBatch]) -> Vec<String> {
    let mut out = Vec::new();
    for b in batches {
        for i in 0..b.num_rows() {
            let cols: Vec<String> = b
                .columns()
                .iter()
                .map(|c| format!("{:?}", c.slice(i, 1)))
                .collect();
            out.push(cols.join("|"));
        }
    }
    out
}

/// Each raw value parses to the same JSON as its source line and has no whitespace between
/// tokens (every space, tab or line break left is inside a string).
fn check_raw_values(body: &[u8], batches: &[RecordBatch]) {
    use arrow_array::{Array, StringArray, UInt64Array};
    let lines: Vec<&[u8]> = body.split(|&b| b == b'\n').collect();
    for b in batches {
        let values = b.column(0).as_any().downcast_ref::<StringArray>().expect("value column");
        let nums = b.column(2).as_any().downcast_ref::<UInt64Array>().expect("source_line");
        for i in 0..b.num_rows() {
            let value = values.value(i);
            let line = lines[nums.value(i) as usize - 1];
            let line = line.strip_suffix(b"\r").unwrap_or(line);
            let want: serde_json::Value = serde_json::from_slice(line).expect("a kept line parses");
            let got: serde_json::Value = serde_json::from_str(value).expect("a kept value parses");
            assert_eq!(got, want, "compacting changed the value");
            assert!(value.len() <= line.len());
            let mut in_str = false;
            let mut esc = false;
            for &c in value.as_bytes() {
                if in_str {
                    if esc {
                        esc = false;
                    } else if c == b'\\' {
                        esc = true;
                    } else if c == b'"' {
                        in_str = false;
                    }
                } else if c == b'"' {
                    in_str = true;
                } else {
                    assert!(!matches!(c, b' ' | b'\t' | b'\r' | b'\n'), "whitespace left: {value}");
                }
            }
        }
    }
}
