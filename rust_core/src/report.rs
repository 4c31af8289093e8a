//! Per-line accounting: lines read, rows kept, skipped lines by category with the first
//! examples of each, rows per format, file-metadata lines. `kept + skipped == read`, always.

use crate::error::{Category, LineIssue};

/// One example of a skipped line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Example {
    pub file: String,
    pub line: u64,
    pub category: Category,
    pub field: Option<String>,
    pub message: String,
    pub hint: Option<String>,
}

/// A file-metadata line (`{"_meta": {...}}`), its value kept as JSON text.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MetaLine {
    pub file: String,
    pub line: u64,
    pub key: String,
    pub value: String,
}

/// The ingest report of one read.
#[derive(Clone, Debug, Default)]
pub struct Report {
    pub lines_read: u64,
    pub rows_kept: u64,
    pub skipped: [u64; Category::COUNT],
    pub examples: Vec<Example>,
    pub formats: Vec<(String, u64)>,
    pub file_metadata: Vec<MetaLine>,
    /// Bytes of JSONL read (decompressed).
    pub bytes_read: u64,
    /// Bytes of the files on disk (compressed size for gzip/zstd).
    pub file_bytes: u64,
    pub files: Vec<String>,
    pub max_examples: usize,
}

/// Metadata lines kept per read (their values can be large).
pub const MAX_META_LINES: usize = 16;

impl Report {
    pub fn new(format_names: &[String], max_examples: usize) -> Self {
        Report {
            formats: format_names.iter().map(|n| (n.clone(), 0)).collect(),
            max_examples,
            ..Default::default()
        }
    }

    /// Lines skipped, all categories.
    pub fn lines_skipped(&self) -> u64 {
        self.skipped.iter().sum()
    }

    /// Count of one category.
    pub fn count(&self, c: Category) -> u64 {
        self.skipped[c.index()]
    }

    /// Whether another example of `c` should be kept.
    pub fn wants_example(&self, c: Category) -> bool {
        self.examples.iter().filter(|e| e.category == c).count() < self.max_examples
    }

    /// Record a skipped line's example (the count is added separately).
    pub fn add_example(&mut self, file: &str, line: u64, issue: &LineIssue) {
        if self.wants_example(issue.category) {
            self.examples.push(Example {
                file: file.to_string(),
                line,
                category: issue.category,
                field: issue.field.clone(),
                message: issue.message.clone(),
                hint: issue.hint.clone(),
            });
        }
    }

    /// The invariant every read keeps.
    pub fn balanced(&self) -> bool {
        self.rows_kept + self.lines_skipped() == self.lines_read
    }
}
