//! Arrow builders for the normalized chat schema (and the raw `value` schema); batch assembly.
//! Must agree with `python/brightingest/schema.py` (checked by tests/core/test_schema.py).

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};

use arrow_array::builder::{ArrayBuilder, Int8Builder, StringBuilder};
use arrow_array::types::Int32Type;
use arrow_array::{
    ArrayRef, DictionaryArray, Int32Array, ListArray, RecordBatch, StringArray, StructArray,
    UInt64Array,
};
use arrow_buffer::{Buffer, OffsetBuffer};
use arrow_schema::{DataType, Field, Fields, Schema, SchemaRef};

use crate::mapping::ROLES;

/// The struct fields of one message.
pub fn message_fields() -> Fields {
    Fields::from(vec![
        Field::new("role", DataType::Utf8, false),
        Field::new("content", DataType::Utf8, false),
        Field::new("weight", DataType::Int8, true),
        Field::new("name", DataType::Utf8, true),
        Field::new("tool_calls", DataType::Utf8, true),
        Field::new("tool_call_id", DataType::Utf8, true),
        Field::new("extra", DataType::Utf8, true),
    ])
}

fn dict_utf8() -> DataType {
    DataType::Dictionary(Box::new(DataType::Int32), Box::new(DataType::Utf8))
}

fn item_field() -> Arc<Field> {
    Arc::new(Field::new(
        "item",
        DataType::Struct(message_fields()),
        false,
    ))
}

/// The normalized chat schema (see `schema.py`).
pub fn chat_schema() -> SchemaRef {
    static S: OnceLock<SchemaRef> = OnceLock::new();
    S.get_or_init(|| {
        Arc::new(Schema::new(vec![
            Field::new("messages", DataType::List(item_field()), false),
            Field::new("tools", DataType::Utf8, true),
            Field::new("id", DataType::Utf8, true),
            Field::new("metadata", DataType::Utf8, true),
            Field::new("source_file", dict_utf8(), false),
            Field::new("source_line", DataType::UInt64, false),
            Field::new("format", dict_utf8(), false),
        ]))
    })
    .clone()
}

/// The schema of a format-less read: each valid line as its own JSON text, whitespace between
/// tokens removed (strings, escapes and numbers as written).
pub fn raw_schema() -> SchemaRef {
    static S: OnceLock<SchemaRef> = OnceLock::new();
    S.get_or_init(|| {
        Arc::new(Schema::new(vec![
            Field::new("value", DataType::Utf8, false),
            Field::new("source_file", dict_utf8(), false),
            Field::new("source_line", DataType::UInt64, false),
        ]))
    })
    .clone()
}

/// One message, borrowed from the line where possible.
#[derive(Debug, Clone, PartialEq)]
pub struct Msg<'a> {
    pub role: &'static str,
    pub content: std::borrow::Cow<'a, str>,
    pub weight: Option<i8>,
    pub name: Option<std::borrow::Cow<'a, str>>,
    pub tool_calls: Option<String>,
    pub tool_call_id: Option<std::borrow::Cow<'a, str>>,
    /// The message's keys that the format does not map, as a JSON object text.
    pub extra: Option<String>,
}

/// Accumulates the rows of one chunk; `finish` turns them into a batch once the chunk's first
/// line number is known.
pub struct ChatBuilder {
    offsets: Vec<i32>,
    /// Each message's role, as its index in [`crate::mapping::ROLES`].
    role: Vec<u8>,
    content: Utf8Vec,
    weight: Int8Builder,
    name: SparseStr,
    tool_calls: SparseStr,
    tool_call_id: SparseStr,
    extra: SparseStr,
    tools: SparseStr,
    id: StringBuilder,
    metadata: StringBuilder,
    format: Vec<i32>,
    /// Line of each row, relative to the chunk's first line (0-based).
    pub rel_lines: Vec<u64>,
    /// Input bytes the builder was sized for.
    input: usize,
}

/// Content and metadata bytes per KiB of input in the chunks finished last (any reader): the next
/// builders are sized from them, with a margin, instead of for the whole input. A buffer sized
/// for the whole input leaves an unused tail in every chunk, which a whole-table read would keep
/// (see [`release_tail`]) and a streamed read would fault in again on reuse.
static CONTENT_PER_KIB: AtomicUsize = AtomicUsize::new(1024);
static METADATA_PER_KIB: AtomicUsize = AtomicUsize::new(128);

/// `bytes` scaled by a per-KiB ratio, plus a 1/8 margin and a page.
fn estimate(bytes: usize, per_kib: &AtomicUsize) -> usize {
    let per_kib = per_kib.load(Ordering::Relaxed).min(1024);
    (bytes / 1024 * per_kib * 9 / 8).min(bytes) + 4096
}

/// Record what a finished chunk used, per KiB of its input.
fn observe(used: usize, input: usize, per_kib: &AtomicUsize) {
    if input >= 64 << 10 {
        per_kib.store(used * 1024 / input, Ordering::Relaxed);
    }
}

impl ChatBuilder {
    /// A builder sized for about `bytes` of input.
    pub fn with_capacity(bytes: usize) -> Self {
        let rows = bytes / 1024 + 16;
        let msgs = rows * 6;
        ChatBuilder {
            offsets: {
                let mut v = Vec::with_capacity(rows + 1);
                v.push(0);
                v
            },
            role: Vec::with_capacity(msgs),
            content: Utf8Vec::with_capacity(msgs, estimate(bytes, &CONTENT_PER_KIB)),
            weight: Int8Builder::with_capacity(msgs),
            name: SparseStr::default(),
            tool_calls: SparseStr::default(),
            tool_call_id: SparseStr::default(),
            extra: SparseStr::default(),
            tools: SparseStr::default(),
            id: StringBuilder::with_capacity(rows, rows * 16),
            metadata: StringBuilder::with_capacity(rows, estimate(bytes, &METADATA_PER_KIB)),
            format: Vec::with_capacity(rows),
            rel_lines: Vec::with_capacity(rows),
            input: bytes,
        }
    }

    /// Rows appended so far.
    pub fn len(&self) -> usize {
        self.rel_lines.len()
    }

    /// No rows yet.
    pub fn is_empty(&self) -> bool {
        self.rel_lines.is_empty()
    }

    /// Append one validated row.
    pub fn push(
        &mut self,
        rel_line: u64,
        format: i32,
        messages: &[Msg<'_>],
        id: Option<&str>,
        tools: Option<&str>,
        metadata: Option<&str>,
    ) {
        for m in messages {
            let at = self.role.len();
            self.role.push(role_index(m.role));
            self.content.push(&m.content);
            self.weight.append_option(m.weight);
            // Most messages have none of these: only a value touches its column.
            if let Some(v) = m.name.as_deref() {
                self.name.set(at, v);
            }
            if let Some(v) = m.tool_calls.as_deref() {
                self.tool_calls.set(at, v);
            }
            if let Some(v) = m.tool_call_id.as_deref() {
                self.tool_call_id.set(at, v);
            }
            if let Some(v) = m.extra.as_deref() {
                self.extra.set(at, v);
            }
        }
        let last = *self.offsets.last().unwrap_or(&0);
        self.offsets.push(last + messages.len() as i32);
        self.id.append_option(id);
        if let Some(v) = tools {
            self.tools.set(self.rel_lines.len(), v);
        }
        self.metadata.append_option(metadata);
        self.format.push(format);
        self.rel_lines.push(rel_line);
    }

    /// Build the batch; `first_line` is the chunk's 1-based first line number.
    pub fn finish(mut self, file: &str, first_line: u64, format_names: &[String]) -> RecordBatch {
        let n_msgs = self.role.len();
        let role = roles_array(&self.role);
        let content = self.content.finish();
        observe(content.values().len(), self.input, &CONTENT_PER_KIB);
        release_tail(content.values());
        let metadata = self.metadata.finish();
        observe(metadata.values().len(), self.input, &METADATA_PER_KIB);
        release_tail(metadata.values());
        let structs = StructArray::new(
            message_fields(),
            vec![
                Arc::new(role) as ArrayRef,
                Arc::new(content),
                Arc::new(self.weight.finish()),
                self.name.finish(n_msgs),
                self.tool_calls.finish(n_msgs),
                self.tool_call_id.finish(n_msgs),
                self.extra.finish(n_msgs),
            ],
            None,
        );
        let list = ListArray::new(
            item_field(),
            OffsetBuffer::new(self.offsets.into()),
            Arc::new(structs),
            None,
        );
        let n = self.rel_lines.len();
        let lines: UInt64Array = self.rel_lines.iter().map(|r| r + first_line).collect();
        let source_file = constant_dict(file, n);
        let format = DictionaryArray::<Int32Type>::new(
            Int32Array::from(self.format),
            Arc::new(StringArray::from_iter_values(format_names.iter())),
        );
        RecordBatch::try_new(
            chat_schema(),
            vec![
                Arc::new(list),
                self.tools.finish(n),
                Arc::new(self.id.finish()),
                Arc::new(metadata),
                Arc::new(source_file),
                Arc::new(lines),
                Arc::new(format),
            ],
        )
        .expect("chat batch matches its schema")
    }
}

/// Give the pages of a finished buffer's large unused capacity back to the system. A reused block
/// (see `alloc.rs`) has every page resident, so a whole table would otherwise keep the unused
/// tail of every chunk's buffers: measured on a 1 GB gzip file read whole with buffers sized for
/// the whole input, peak RSS 1.40x the input kept, 1.13x released. Arrow buffers are immutable
/// once finished, so nothing reads or writes past their length again.
fn release_tail(b: &arrow_buffer::Buffer) {
    #[cfg(unix)]
    {
        const PAGE: usize = 4096;
        let base = b.data_ptr().as_ptr() as usize;
        let start = (base + b.ptr_offset() + b.len()).next_multiple_of(PAGE);
        let end = (base + b.capacity()) / PAGE * PAGE;
        // Only a tail beyond the sizing margin (a chunk unlike the ones before it): releasing
        // the margin too would make a reused block fault it in again.
        if end >= start + 4 * PAGE && end - start > b.capacity() / 6 {
            // SAFETY: [start, end) lies inside this buffer's allocation, past the bytes it holds,
            // and is never accessed again; DONTNEED on private anonymous memory only drops the
            // pages (a later touch would see zeros).
            unsafe {
                libc::madvise(start as *mut libc::c_void, end - start, libc::MADV_DONTNEED);
            }
        }
    }
}

/// A non-null UTF-8 column as two plain vectors: appending is a copy and a push, with none of a
/// general builder's per-value bookkeeping (measured: 0.2 s per GB of BrightRun input went to
/// building messages with `StringBuilder`s for role and content).
struct Utf8Vec {
    offsets: Vec<i32>,
    values: Vec<u8>,
}

impl Utf8Vec {
    fn with_capacity(items: usize, bytes: usize) -> Self {
        let mut offsets = Vec::with_capacity(items + 1);
        offsets.push(0);
        Utf8Vec {
            offsets,
            values: Vec::with_capacity(bytes),
        }
    }

    #[inline]
    fn push(&mut self, v: &str) {
        self.values.extend_from_slice(v.as_bytes());
        let end = i32::try_from(self.values.len()).expect("byte array offset overflow");
        self.offsets.push(end);
    }

    fn finish(self) -> StringArray {
        // SAFETY: the offsets start at 0, never decrease and end at `values.len()`, and every
        // value was a whole `&str`, so each slice is valid UTF-8.
        unsafe {
            StringArray::new_unchecked(
                OffsetBuffer::new_unchecked(self.offsets.into()),
                Buffer::from_vec(self.values),
                None,
            )
        }
    }
}

/// The index of a canonical role in [`ROLES`].
#[inline]
fn role_index(role: &str) -> u8 {
    let i = ROLES.iter().position(|r| *r == role);
    debug_assert!(i.is_some(), "not a canonical role: {role}");
    i.unwrap_or(0) as u8
}

/// The role column from role indices.
fn roles_array(roles: &[u8]) -> StringArray {
    let mut col = Utf8Vec::with_capacity(roles.len(), roles.len() * 9);
    for &r in roles {
        col.push(ROLES[usize::from(r)]);
    }
    col.finish()
}

/// A nullable string column that stays all-null, with no buffers, until its first value: most
/// messages of most formats have no `name`, `tool_calls` or `tool_call_id`, and most rows no
/// `tools`, so the common case appends nothing per row.
#[derive(Default)]
struct SparseStr {
    values: Option<StringBuilder>,
}

impl SparseStr {
    /// Set item `at` (after every item set before it); the items in between are null.
    fn set(&mut self, at: usize, value: &str) {
        let b = self
            .values
            .get_or_insert_with(|| StringBuilder::with_capacity(at + 64, 1024));
        b.append_nulls(at - b.len());
        b.append_value(value);
    }

    /// The column, padded with nulls to `len` items.
    fn finish(&mut self, len: usize) -> ArrayRef {
        match self.values.take() {
            Some(mut b) => {
                b.append_nulls(len - b.len());
                Arc::new(b.finish())
            }
            None => Arc::new(StringArray::new_null(len)),
        }
    }
}

fn constant_dict(value: &str, n: usize) -> DictionaryArray<Int32Type> {
    DictionaryArray::<Int32Type>::new(
        Int32Array::from(vec![0; n]),
        Arc::new(StringArray::from(vec![value])),
    )
}

/// Accumulates raw rows (compact JSON text per line).
pub struct RawBuilder {
    value: StringBuilder,
    pub rel_lines: Vec<u64>,
}

impl RawBuilder {
    pub fn with_capacity(bytes: usize) -> Self {
        RawBuilder {
            value: StringBuilder::with_capacity(bytes / 256 + 16, bytes),
            rel_lines: Vec::new(),
        }
    }

    pub fn push(&mut self, rel_line: u64, json: &str) {
        self.value.append_value(json);
        self.rel_lines.push(rel_line);
    }

    pub fn finish(mut self, file: &str, first_line: u64) -> RecordBatch {
        let n = self.rel_lines.len();
        let lines: UInt64Array = self.rel_lines.iter().map(|r| r + first_line).collect();
        RecordBatch::try_new(
            raw_schema(),
            vec![
                Arc::new(self.value.finish()),
                Arc::new(constant_dict(file, n)),
                Arc::new(lines),
            ],
        )
        .expect("raw batch matches its schema")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow_array::Array;
    use std::borrow::Cow;

    #[test]
    fn finished_buffers_keep_their_values_after_the_tail_is_released() {
        // Sized for 4 MiB of input, filled with a few KiB: the unused capacity is released.
        let mut b = ChatBuilder::with_capacity(4 << 20);
        let long = "x".repeat(5000);
        for i in 0..3 {
            let content = format!("{long}{i}");
            let msgs = [Msg {
                role: "assistant",
                content: Cow::Owned(content),
                weight: None,
                name: None,
                tool_calls: None,
                tool_call_id: None,
                extra: None,
            }];
            b.push(i, 0, &msgs, None, None, Some("{\"k\":1}"));
        }
        let batch = b.finish("f.jsonl", 1, &["openai".to_string()]);
        let list = batch
            .column(0)
            .as_any()
            .downcast_ref::<ListArray>()
            .unwrap();
        let structs = list
            .values()
            .as_any()
            .downcast_ref::<StructArray>()
            .unwrap();
        let content = structs
            .column(1)
            .as_any()
            .downcast_ref::<StringArray>()
            .unwrap();
        assert!(content.values().capacity() >= 4 << 20);
        for i in 0..3 {
            assert_eq!(content.value(i), format!("{long}{i}"));
        }
        let meta = batch
            .column(3)
            .as_any()
            .downcast_ref::<StringArray>()
            .unwrap();
        assert_eq!(meta.value(2), "{\"k\":1}");
        assert_eq!(meta.len(), 3);
    }
}
