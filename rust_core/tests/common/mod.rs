//! Shared helpers for the reader's integration tests.
#![allow(dead_code)] // each test file uses a different subset

use _core::{Category, FormatSet, Policy, ReadOptions, Reader, Report};
use arrow_array::{
    Array, Int8Array, ListArray, RecordBatch, StringArray, StructArray, UInt64Array,
};

pub const BRIGHTRUN: &str = r#"{"name": "brightrun-v4", "signature": ["current_user_input", "target_response"],
 "parts": [
  {"kind": "message", "role": "system", "fields": ["system_prompt"], "optional": true},
  {"kind": "list", "field": "conversation_history", "role_key": "role", "content_key": "content",
   "weight_key": "weight", "assistant_weight": 0, "optional": true},
  {"kind": "message", "role": "user", "fields": ["current_user_input"]},
  {"kind": "message", "role": "assistant", "fields": ["target_response"]}],
 "id_field": "id", "metadata": "rest", "meta_key": "_meta"}"#;

pub const OPENAI: &str = r#"{"name": "openai", "signature": ["messages"],
 "parts": [{"kind": "list", "field": "messages", "role_key": "role", "content_key": "content",
   "name_key": "name", "tool_calls_key": "tool_calls", "tool_call_id_key": "tool_call_id",
   "weight_key": "weight"}],
 "tools_field": "tools", "metadata": "rest"}"#;

pub const SHAREGPT: &str = r#"{"name": "sharegpt", "signature": ["conversations"],
 "parts": [{"kind": "message", "role": "system", "fields": ["system"], "optional": true},
   {"kind": "list", "field": "conversations", "role_key": "from", "content_key": "value",
    "roles": {"human": "user", "gpt": "assistant", "observation": "tool"}}],
 "metadata": "rest"}"#;

/// ShareGPT as the built-in declares it: a top-level `system` that an inline one overrides.
pub const SHAREGPT_OVERRIDE: &str = r#"{"name": "sharegpt", "signature": ["conversations"],
 "parts": [{"kind": "message", "role": "system", "fields": ["system"], "optional": true, "overridable": true},
   {"kind": "list", "field": "conversations", "role_key": "from", "content_key": "value",
    "roles": {"human": "user", "gpt": "assistant", "observation": "tool"}}],
 "metadata": "rest"}"#;

pub fn formats(specs: &[&str]) -> FormatSet {
    FormatSet::from_json(&format!("[{}]", specs.join(","))).expect("valid specs")
}

pub fn opts(threads: usize, chunk_bytes: usize) -> ReadOptions {
    ReadOptions {
        threads,
        chunk_bytes,
        ..ReadOptions::default()
    }
}

pub fn read(data: &[u8], specs: Option<&[&str]>, o: ReadOptions) -> (Vec<RecordBatch>, Report) {
    let r = Reader::from_memory(
        vec![("mem.jsonl".to_string(), data.to_vec())],
        specs.map(formats),
        o,
    )
    .expect("reader");
    let (b, rep) = r.read_all().expect("read");
    assert!(rep.balanced(), "kept + skipped != read: {rep:?}");
    (b, rep)
}

pub fn read_policy(
    data: &[u8],
    specs: &[&str],
    policy: Policy,
) -> Result<(Vec<RecordBatch>, Report), _core::IngestError> {
    let o = ReadOptions {
        policy,
        ..opts(2, 64)
    };
    Reader::from_memory(
        vec![("mem.jsonl".to_string(), data.to_vec())],
        Some(formats(specs)),
        o,
    )?
    .read_all()
}

/// The raw `value` column across batches.
pub fn values(batches: &[RecordBatch]) -> Vec<String> {
    let mut out = vec![];
    for b in batches {
        let col = b
            .column_by_name("value")
            .unwrap()
            .as_any()
            .downcast_ref::<StringArray>()
            .unwrap();
        out.extend(col.iter().map(|v| v.unwrap().to_string()));
    }
    out
}

pub fn lines(batches: &[RecordBatch]) -> Vec<u64> {
    let mut out = vec![];
    for b in batches {
        let col = b
            .column_by_name("source_line")
            .unwrap()
            .as_any()
            .downcast_ref::<UInt64Array>()
            .unwrap();
        out.extend(col.values().iter().copied());
    }
    out
}

/// The messages of each row, as one struct array per row.
fn rows_of_messages(batches: &[RecordBatch]) -> Vec<StructArray> {
    let mut out = vec![];
    for b in batches {
        let list = b
            .column_by_name("messages")
            .unwrap()
            .as_any()
            .downcast_ref::<ListArray>()
            .unwrap();
        for i in 0..list.len() {
            let v = list.value(i);
            out.push(v.as_any().downcast_ref::<StructArray>().unwrap().clone());
        }
    }
    out
}

/// A field of the message struct, as its array type.
fn field<'a, T: 'static>(s: &'a StructArray, name: &str) -> &'a T {
    s.column_by_name(name)
        .unwrap()
        .as_any()
        .downcast_ref::<T>()
        .unwrap()
}

/// (role, content, weight) per message per row.
pub fn messages(batches: &[RecordBatch]) -> Vec<Vec<(String, String, Option<i8>)>> {
    rows_of_messages(batches)
        .iter()
        .map(|s| {
            let role = field::<StringArray>(s, "role");
            let content = field::<StringArray>(s, "content");
            let weight = field::<Int8Array>(s, "weight");
            (0..s.len())
                .map(|j| {
                    let w = weight.is_valid(j).then(|| weight.value(j));
                    (role.value(j).to_string(), content.value(j).to_string(), w)
                })
                .collect()
        })
        .collect()
}

pub fn string_col(batches: &[RecordBatch], name: &str) -> Vec<Option<String>> {
    let mut out = vec![];
    for b in batches {
        let col = b
            .column_by_name(name)
            .unwrap()
            .as_any()
            .downcast_ref::<StringArray>()
            .unwrap();
        out.extend(col.iter().map(|v| v.map(str::to_string)));
    }
    out
}

pub fn count(r: &Report, c: Category) -> u64 {
    r.count(c)
}

/// Per row, the message struct's string field `name` (e.g. `extra`), one entry per message.
pub fn message_field(batches: &[RecordBatch], name: &str) -> Vec<Vec<Option<String>>> {
    rows_of_messages(batches)
        .iter()
        .map(|s| {
            let col = field::<StringArray>(s, name);
            (0..col.len())
                .map(|j| col.is_valid(j).then(|| col.value(j).to_string()))
                .collect()
        })
        .collect()
}
