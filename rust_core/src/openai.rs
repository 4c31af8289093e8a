//! OpenAI chat fine-tuning JSONL from batches of the normalized chat table: the hot loop of
//! `brightingest.writers.write_openai`, which defines the format (`openai_message`,
//! `openai_record`) and keeps a Python path for tables of other layouts.
//!
//! Per message, in this key order: `role`; `content` (always, except on a message that calls
//! tools and has empty content; a null content is written as ""); `name`, `tool_calls` (JSON
//! text in the table, written as JSON), `tool_call_id` when not null; `weight` on assistant
//! messages only, when not null. Per row: `{"messages": [...]}`, plus `"tools"` (JSON text in
//! the table) when not null, and `"parallel_tool_calls"` when the row's metadata holds it as a
//! boolean. JSON texts are checked and written without insignificant
//! whitespace; strings are escaped as serde_json does (`"`, `\`, control characters), other
//! characters are written as UTF-8.
//!
//! Why in Rust: the Python writer turned each batch into Python dicts and back into JSON at
//! about 105 MB/s of output, twice the time of the whole read for a BrightRun v4 to OpenAI
//! conversion, the conversion this project exists for.

use arrow_array::{Array, Int8Array, ListArray, RecordBatch, StringArray, StructArray};
use serde_json::value::RawValue;

/// Why a batch could not be written.
#[derive(Debug, PartialEq, Eq)]
pub enum OpenAiError {
    /// The batch's layout is not the normalized chat schema's (column types differ): the caller
    /// should use its general path.
    Layout(String),
    /// A value cannot be written (JSON text that is not JSON, a null row).
    Value(String),
}

/// The columns of a `messages` struct the writer (and `rowhash`) read.
pub(crate) struct Messages<'a> {
    pub list: &'a ListArray,
    pub items: &'a StructArray,
    pub role: &'a StringArray,
    pub content: Option<&'a StringArray>,
    pub weight: Option<&'a Int8Array>,
    pub name: Option<&'a StringArray>,
    pub tool_calls: Option<&'a StringArray>,
    pub tool_call_id: Option<&'a StringArray>,
    /// Keys the format did not map (JSON object text); not part of OpenAI's format, so the
    /// writer leaves them out (the Python side counts them), and the row hash includes them.
    pub extra: Option<&'a StringArray>,
}

fn child<'a, T: 'static>(items: &'a StructArray, name: &str) -> Result<Option<&'a T>, OpenAiError> {
    match items.column_by_name(name) {
        None => Ok(None),
        Some(c) => c.as_any().downcast_ref::<T>().map(Some).ok_or_else(|| {
            OpenAiError::Layout(format!("messages.{name} has type {}", c.data_type()))
        }),
    }
}

impl<'a> Messages<'a> {
    pub(crate) fn of(batch: &'a RecordBatch) -> Result<Self, OpenAiError> {
        let col = batch
            .column_by_name("messages")
            .ok_or_else(|| OpenAiError::Layout("no messages column".into()))?;
        let list = col
            .as_any()
            .downcast_ref::<ListArray>()
            .ok_or_else(|| OpenAiError::Layout(format!("messages has type {}", col.data_type())))?;
        let items = list
            .values()
            .as_any()
            .downcast_ref::<StructArray>()
            .ok_or_else(|| OpenAiError::Layout("messages items are not structs".into()))?;
        Ok(Messages {
            list,
            items,
            role: child::<StringArray>(items, "role")?
                .ok_or_else(|| OpenAiError::Layout("messages items have no role".into()))?,
            content: child(items, "content")?,
            weight: child(items, "weight")?,
            name: child(items, "name")?,
            tool_calls: child(items, "tool_calls")?,
            tool_call_id: child(items, "tool_call_id")?,
            extra: child(items, "extra")?,
        })
    }
}

/// The `tools` column (JSON text), if the batch has one.
pub(crate) fn tools_of(batch: &RecordBatch) -> Result<Option<&StringArray>, OpenAiError> {
    match batch.column_by_name("tools") {
        None => Ok(None),
        Some(c) => Ok(Some(c.as_any().downcast_ref::<StringArray>().ok_or_else(
            || OpenAiError::Layout(format!("tools has type {}", c.data_type())),
        )?)),
    }
}

pub(crate) fn get(col: Option<&StringArray>, i: usize) -> Option<&str> {
    col.and_then(|c| c.is_valid(i).then(|| c.value(i)))
}

fn string(out: &mut Vec<u8>, s: &str) {
    // Writing into a Vec cannot fail.
    let _ = serde_json::to_writer(&mut *out, s);
}

/// Append JSON text `text` (checked) without whitespace between tokens.
fn json_text(out: &mut Vec<u8>, text: &str, what: &str, row: usize) -> Result<(), OpenAiError> {
    if let Err(e) = serde_json::from_str::<&RawValue>(text) {
        return Err(OpenAiError::Value(format!(
            "row {row}: {what} is not valid JSON text ({e})"
        )));
    }
    let bytes = text.as_bytes();
    let (mut in_string, mut escaped) = (false, false);
    for &b in bytes {
        if in_string {
            out.push(b);
            if escaped {
                escaped = false;
            } else if b == b'\\' {
                escaped = true;
            } else if b == b'"' {
                in_string = false;
            }
        } else if !matches!(b, b' ' | b'\t' | b'\n' | b'\r') {
            out.push(b);
            in_string = b == b'"';
        }
    }
    Ok(())
}

/// OpenAI's row-level `parallel_tool_calls` (a boolean), which the openai format keeps in the
/// row's metadata: written back so that a round trip keeps it (OpenAI's default is true).
fn parallel_tool_calls(metadata: Option<&str>, key: &memchr::memmem::Finder<'_>) -> Option<bool> {
    // A SIMD search first: metadata texts are long (BrightRun's are about 1 kB a row).
    let text = metadata.filter(|m| key.find(m.as_bytes()).is_some())?;
    let map: serde_json::Map<String, serde_json::Value> = serde_json::from_str(text).ok()?;
    map.get("parallel_tool_calls")?.as_bool()
}

/// Append one JSONL line per row of `batch` to `out`; returns the rows written. On an error,
/// `out` may hold part of the batch: callers write it only on success.
pub fn write_batch(batch: &RecordBatch, out: &mut Vec<u8>) -> Result<usize, OpenAiError> {
    let m = Messages::of(batch)?;
    let tools = match batch.column_by_name("tools") {
        None => None,
        Some(c) => Some(
            c.as_any()
                .downcast_ref::<StringArray>()
                .ok_or_else(|| OpenAiError::Layout(format!("tools has type {}", c.data_type())))?,
        ),
    };
    let metadata =
        match batch.column_by_name("metadata") {
            None => None,
            Some(c) => Some(c.as_any().downcast_ref::<StringArray>().ok_or_else(|| {
                OpenAiError::Layout(format!("metadata has type {}", c.data_type()))
            })?),
        };
    let parallel_key = memchr::memmem::Finder::new("\"parallel_tool_calls\"");
    let offsets = m.list.value_offsets();
    for row in 0..batch.num_rows() {
        if m.list.is_null(row) {
            return Err(OpenAiError::Value(format!("row {row}: messages is null")));
        }
        out.extend_from_slice(b"{\"messages\":[");
        let (start, end) = (offsets[row] as usize, offsets[row + 1] as usize);
        for i in start..end {
            if m.items.is_null(i) {
                return Err(OpenAiError::Value(format!(
                    "row {row}: messages[{}] is null",
                    i - start
                )));
            }
            if i > start {
                out.push(b',');
            }
            let role = m.role.is_valid(i).then(|| m.role.value(i));
            out.extend_from_slice(b"{\"role\":");
            match role {
                Some(r) => string(out, r),
                None => out.extend_from_slice(b"null"),
            }
            let content = get(m.content, i);
            let calls = get(m.tool_calls, i);
            if content.is_some_and(|c| !c.is_empty()) || calls.is_none_or(str::is_empty) {
                out.extend_from_slice(b",\"content\":");
                string(out, content.unwrap_or(""));
            }
            if let Some(name) = get(m.name, i) {
                out.extend_from_slice(b",\"name\":");
                string(out, name);
            }
            if let Some(calls) = calls {
                out.extend_from_slice(b",\"tool_calls\":");
                json_text(out, calls, "tool_calls", row)?;
            }
            if let Some(id) = get(m.tool_call_id, i) {
                out.extend_from_slice(b",\"tool_call_id\":");
                string(out, id);
            }
            if role == Some("assistant") {
                if let Some(w) = m.weight.filter(|w| w.is_valid(i)) {
                    out.extend_from_slice(b",\"weight\":");
                    out.extend_from_slice(w.value(i).to_string().as_bytes());
                }
            }
            out.push(b'}');
        }
        out.push(b']');
        if let Some(t) = get(tools, row) {
            out.extend_from_slice(b",\"tools\":");
            json_text(out, t, "tools", row)?;
        }
        if let Some(parallel) = parallel_tool_calls(get(metadata, row), &parallel_key) {
            out.extend_from_slice(b",\"parallel_tool_calls\":");
            out.extend_from_slice(if parallel { b"true" } else { b"false" });
        }
        out.extend_from_slice(b"}\n");
    }
    Ok(batch.num_rows())
}

/// Why a row's tool messages cannot be written as OpenAI data: a tool message without a
/// `tool_call_id`, or one whose id no earlier assistant message's call has (OpenAI refuses a tool
/// message that is not "a response to a preceding message with tool_calls").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unanswered {
    /// A tool message without `tool_call_id`.
    NoId = 0,
    /// A tool message that does not answer, by its id, a call of the assistant message right
    /// before its run of tool messages (OpenAI: "messages with role 'tool' must be a response
    /// to a preceding message with 'tool_calls'"), or answers it a second time.
    UnknownId = 1,
    /// An assistant message's call that the tool messages right after it do not answer, while
    /// the conversation goes on (OpenAI: "an assistant message with 'tool_calls' must be
    /// followed by tool messages responding to each 'tool_call_id'"). Calls in the last
    /// message are the trained answer itself and need no result.
    UnansweredCall = 2,
}

/// The ids of a message's calls (JSON text), in order.
fn call_ids(calls: Option<&str>) -> Vec<String> {
    match calls.map(serde_json::from_str::<serde_json::Value>) {
        Some(Ok(serde_json::Value::Array(calls))) => calls
            .iter()
            .filter_map(|c| Some(c.get("id")?.as_str()?.to_owned()))
            .collect(),
        _ => Vec::new(),
    }
}

/// The rows of `batch` whose tool messages and calls OpenAI's format cannot hold, in row order,
/// each with the first reason found. Only rows with a tool message or a call are looked at.
pub fn unanswered_tools(batch: &RecordBatch) -> Result<Vec<(usize, Unanswered)>, OpenAiError> {
    let m = Messages::of(batch)?;
    let offsets = m.list.value_offsets();
    let role = |i: usize| m.role.is_valid(i).then(|| m.role.value(i));
    let mut out = Vec::new();
    let mut pending: Vec<String> = Vec::new();
    for row in 0..batch.num_rows() {
        if m.list.is_null(row) {
            continue;
        }
        let (start, end) = (offsets[row] as usize, offsets[row + 1] as usize);
        let calls = |i: usize| get(m.tool_calls, i);
        if !(start..end).any(|i| role(i) == Some("tool") || calls(i).is_some()) {
            continue;
        }
        pending.clear();
        // The ids of the calls of the assistant message the current run of tool messages
        // follows (none outside such a run): a tool message answers one of those, once.
        let mut reason = None;
        for i in start..end {
            let r = role(i);
            if r != Some("tool") && !pending.is_empty() {
                reason = Some(Unanswered::UnansweredCall);
                break;
            }
            match r {
                Some("assistant") => {
                    let ids = call_ids(calls(i));
                    if i + 1 < end {
                        pending = ids;
                    }
                }
                Some("tool") => match get(m.tool_call_id, i) {
                    None => {
                        reason = Some(Unanswered::NoId);
                        break;
                    }
                    Some(id) => match pending.iter().position(|x| x == id) {
                        Some(at) => {
                            pending.remove(at);
                        }
                        None => {
                            reason = Some(Unanswered::UnknownId);
                            break;
                        }
                    },
                },
                _ => {}
            }
        }
        if reason.is_none() && !pending.is_empty() {
            reason = Some(Unanswered::UnansweredCall); // the row ends on unanswered results
        }
        if let Some(reason) = reason {
            out.push((row, reason));
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow_array::builder::{Int8Builder, ListBuilder, StringBuilder, StructBuilder};
    use arrow_schema::Fields;
    use std::sync::Arc;

    fn fields() -> Fields {
        crate::table::message_fields()
    }

    type Msg<'a> = (
        &'a str,
        &'a str,
        Option<i8>,
        Option<&'a str>,
        Option<&'a str>,
    );

    fn batch(rows: &[(&[Msg], Option<&str>)]) -> RecordBatch {
        let mut list = ListBuilder::new(StructBuilder::from_fields(fields(), 0));
        let mut tools = StringBuilder::new();
        for (msgs, t) in rows {
            let s = list.values();
            for (role, content, weight, name, calls) in msgs.iter() {
                s.field_builder::<StringBuilder>(0)
                    .unwrap()
                    .append_value(role);
                s.field_builder::<StringBuilder>(1)
                    .unwrap()
                    .append_value(content);
                s.field_builder::<Int8Builder>(2)
                    .unwrap()
                    .append_option(*weight);
                s.field_builder::<StringBuilder>(3)
                    .unwrap()
                    .append_option(*name);
                s.field_builder::<StringBuilder>(4)
                    .unwrap()
                    .append_option(*calls);
                s.field_builder::<StringBuilder>(5).unwrap().append_null();
                // Unmapped keys: never written (not part of OpenAI's format).
                s.field_builder::<StringBuilder>(6).unwrap().append_option(
                    (role == &"assistant").then_some("{\"reasoning_content\":\"r\"}"),
                );
                s.append(true);
            }
            list.append(true);
            tools.append_option(*t);
        }
        RecordBatch::try_from_iter(vec![
            ("messages", Arc::new(list.finish()) as _),
            ("tools", Arc::new(tools.finish()) as _),
        ])
        .unwrap()
    }

    fn text(b: &RecordBatch) -> String {
        let mut out = Vec::new();
        write_batch(b, &mut out).unwrap();
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn writes_the_keys_python_writes_in_its_order() {
        let b = batch(&[(
            &[
                ("user", "hé \"q\"\n", Some(1), Some("ann"), None),
                (
                    "assistant",
                    "",
                    Some(0),
                    None,
                    Some("[ {\"id\": \"c 1\"} ]"),
                ),
                ("assistant", "a", Some(1), None, None),
                ("tool", "r", None, None, None),
            ],
            Some("[{\"type\": \"function\"}]"),
        )]);
        assert_eq!(
            text(&b),
            "{\"messages\":[{\"role\":\"user\",\"content\":\"hé \\\"q\\\"\\n\",\"name\":\"ann\"},\
             {\"role\":\"assistant\",\"tool_calls\":[{\"id\":\"c 1\"}],\"weight\":0},\
             {\"role\":\"assistant\",\"content\":\"a\",\"weight\":1},\
             {\"role\":\"tool\",\"content\":\"r\"}],\
             \"tools\":[{\"type\":\"function\"}]}\n"
        );
    }

    #[test]
    fn bad_json_text_names_the_row_and_field() {
        let b = batch(&[
            (&[("assistant", "a", None, None, None)], None),
            (&[("assistant", "a", None, None, Some("[{"))], None),
        ]);
        let err = write_batch(&b, &mut Vec::new()).unwrap_err();
        assert!(matches!(&err, OpenAiError::Value(m) if m.starts_with("row 1: tool_calls")));
    }

    #[test]
    fn other_layouts_are_reported_as_such() {
        let b = RecordBatch::try_from_iter(vec![(
            "messages",
            Arc::new(StringArray::from(vec!["x"])) as _,
        )])
        .unwrap();
        assert!(matches!(
            write_batch(&b, &mut Vec::new()),
            Err(OpenAiError::Layout(_))
        ));
    }
}
