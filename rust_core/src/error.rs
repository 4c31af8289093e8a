//! Line categories and the core's error type (no pyo3 here; `python/` maps it to Python classes).

use std::fmt;

/// Why a line did not become a row. The string names are public contract (reports, exceptions,
/// `--json` output); never rename one.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Category {
    BlankLine,
    InvalidJson,
    InvalidUtf8,
    TooDeep,
    LineTooLong,
    TruncatedLine,
    DuplicateKey,
    MetadataLine,
    NotAnObject,
    UnsupportedFormat,
    MissingField,
    WrongType,
    UnknownRole,
    EmptyContent,
    EmptyConversation,
    NoTrainableAssistant,
    SystemNotFirst,
    InvalidWeight,
}

impl Category {
    /// Every category, in report order.
    pub const ALL: [Category; 18] = [
        Category::BlankLine,
        Category::InvalidJson,
        Category::InvalidUtf8,
        Category::TooDeep,
        Category::LineTooLong,
        Category::TruncatedLine,
        Category::DuplicateKey,
        Category::MetadataLine,
        Category::NotAnObject,
        Category::UnsupportedFormat,
        Category::MissingField,
        Category::WrongType,
        Category::UnknownRole,
        Category::EmptyContent,
        Category::EmptyConversation,
        Category::NoTrainableAssistant,
        Category::SystemNotFirst,
        Category::InvalidWeight,
    ];

    /// Number of categories (size of per-category count arrays).
    pub const COUNT: usize = Self::ALL.len();

    /// The public name, e.g. `invalid_json`.
    pub fn as_str(self) -> &'static str {
        match self {
            Category::BlankLine => "blank_line",
            Category::InvalidJson => "invalid_json",
            Category::InvalidUtf8 => "invalid_utf8",
            Category::TooDeep => "too_deep",
            Category::LineTooLong => "line_too_long",
            Category::TruncatedLine => "truncated_line",
            Category::DuplicateKey => "duplicate_key",
            Category::MetadataLine => "metadata_line",
            Category::NotAnObject => "not_an_object",
            Category::UnsupportedFormat => "unsupported_format",
            Category::MissingField => "missing_field",
            Category::WrongType => "wrong_type",
            Category::UnknownRole => "unknown_role",
            Category::EmptyContent => "empty_content",
            Category::EmptyConversation => "empty_conversation",
            Category::NoTrainableAssistant => "no_trainable_assistant",
            Category::SystemNotFirst => "system_not_first",
            Category::InvalidWeight => "invalid_weight",
        }
    }

    /// Index into per-category count arrays.
    pub fn index(self) -> usize {
        self as usize
    }

    /// Blank and metadata lines are expected in real files: they are counted, but they are not
    /// bad rows (a `strict` read does not fail on them, and they do not count toward bad ratios).
    pub fn is_benign(self) -> bool {
        matches!(self, Category::BlankLine | Category::MetadataLine)
    }

    /// Categories produced by the reader itself (framing, UTF-8, JSON syntax).
    pub fn is_reader(self) -> bool {
        matches!(
            self,
            Category::BlankLine
                | Category::InvalidJson
                | Category::InvalidUtf8
                | Category::TooDeep
                | Category::LineTooLong
                | Category::TruncatedLine
                | Category::DuplicateKey
        )
    }
}

impl fmt::Display for Category {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What is wrong with one line, without its location (the reader adds file and line).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LineIssue {
    pub category: Category,
    /// Field path within the row, e.g. `conversation_history[2].role`.
    pub field: Option<String>,
    /// What is wrong, with the offending value quoted (truncated).
    pub message: String,
    /// What to do about it.
    pub hint: Option<String>,
}

impl LineIssue {
    #[cold]
    pub fn new(category: Category, message: impl Into<String>) -> Self {
        LineIssue {
            category,
            field: None,
            message: message.into(),
            hint: None,
        }
    }

    #[cold]
    pub fn with_field(mut self, field: impl Into<String>) -> Self {
        self.field = Some(field.into());
        self
    }

    #[cold]
    pub fn with_hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }

    /// `field: message` as it appears after `file:line: `.
    pub fn located_message(&self) -> String {
        match &self.field {
            Some(f) => format!("{f}: {}", self.message),
            None => self.message.clone(),
        }
    }
}

/// A fatal error: it stops the read.
#[derive(Debug, thiserror::Error)]
pub enum IngestError {
    /// A file cannot be opened, read or decompressed.
    #[error("{path}: {message}")]
    Source {
        /// Stable code: `source_not_found`, `source_unreadable` or `source_corrupt`.
        code: &'static str,
        path: String,
        line: Option<u64>,
        message: String,
        hint: Option<String>,
    },
    /// A bad line under the `strict` policy.
    #[error("{path}:{line}: {}", issue.located_message())]
    Line {
        path: String,
        line: u64,
        issue: LineIssue,
    },
    /// Invalid options or format specification (a usage error, not a data error).
    #[error("{0}")]
    Config(String),
    /// A read started in one process and continued in a `fork()`ed child.
    #[error(
        "this read was started in process {started_in} and is continued in process {used_in}, \
         a fork() of it; its worker threads exist only in process {started_in}"
    )]
    Forked { started_in: u32, used_in: u32 },
}

impl IngestError {
    #[cold]
    pub fn source(path: &str, message: impl Into<String>) -> Self {
        IngestError::Source {
            code: "source_unreadable",
            path: path.to_string(),
            line: None,
            message: message.into(),
            hint: None,
        }
    }
}

/// Quote a value for a message: JSON-escaped and cut to `max` characters.
pub fn quote(s: &str, max: usize) -> String {
    let mut out = String::with_capacity(s.len().min(max) + 8);
    out.push('"');
    for (n, c) in s.chars().enumerate() {
        if n >= max {
            out.push('…');
            break;
        }
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// Bytes in human units (`12.4 MB`).
pub fn human_bytes(n: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KB", "MB", "GB", "TB"];
    let mut v = n as f64;
    let mut u = 0;
    while v >= 1000.0 && u + 1 < UNITS.len() {
        v /= 1000.0;
        u += 1;
    }
    if u == 0 {
        format!("{n} B")
    } else {
        format!("{v:.1} {}", UNITS[u])
    }
}
