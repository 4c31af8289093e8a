//! brightingest-core: JSONL (plain, gzip, zstd) to Apache Arrow, in parallel, with every line
//! accounted for. Module list and re-exports only; see each module's `//!` line.

pub mod alloc;
pub mod error;
pub mod framing;
pub mod mapping;
pub mod openai;
pub mod parse;
pub mod reader;
pub mod report;
pub mod rowhash;
pub mod source;
pub mod table;

#[cfg(feature = "python")]
mod python;

pub use error::{Category, IngestError, LineIssue};
pub use mapping::{FormatSet, FormatSpec};
pub use reader::{Policy, ReadOptions, Reader};
pub use report::Report;
