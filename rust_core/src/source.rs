//! Open plain, gzip and zstd files, recognized by their magic bytes (never by their names);
//! plain files are memory-mapped, compressed ones are decompressed as a stream.

use std::fs::File;
use std::io::{self, Read};
use std::sync::Arc;

use memmap2::Mmap;

use crate::error::IngestError;

/// How a file's bytes are compressed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Compression {
    None,
    Gzip,
    Zstd,
}

impl Compression {
    /// Recognize gzip (`1f 8b`) and zstd (`28 b5 2f fd`) frames by their magic bytes.
    pub fn sniff(head: &[u8]) -> Compression {
        if head.starts_with(&[0x1f, 0x8b]) {
            Compression::Gzip
        } else if head.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]) {
            Compression::Zstd
        } else {
            Compression::None
        }
    }
}

/// An opened input: the whole file mapped, or a decompressing reader.
pub enum Input {
    Mapped(Arc<Mmap>),
    /// An empty plain file (cannot be mapped on every platform).
    Empty,
    /// Bytes already in memory (tests, fuzzing).
    Memory(std::sync::Arc<dyn AsRef<[u8]> + Send + Sync>),
    Stream(Box<dyn Read + Send>),
}

/// Open `path`; `name` is what errors call it.
pub fn open(path: &str, name: &str) -> Result<(Input, Compression, u64), IngestError> {
    let file = File::open(path).map_err(|e| open_error(name, &e))?;
    let meta = file.metadata().map_err(|e| open_error(name, &e))?;
    if meta.is_dir() {
        return Err(IngestError::Source {
            code: "source_unreadable",
            path: name.to_string(),
            line: None,
            message: "is a directory, not a file".into(),
            hint: Some("pass the directory to brightingest's Python API, which expands it".into()),
        });
    }
    let size = meta.len();
    let mut head = [0u8; 4];
    let n = read_head(&file, meta.is_file(), &mut head).map_err(|e| open_error(name, &e))?;
    let compression = Compression::sniff(&head[..n]);
    let regular = meta.is_file();
    if regular && compression == Compression::None {
        if let Some(kind) = columnar_kind(&file, size, &head[..n]) {
            return Err(IngestError::Source {
                code: "source_unreadable",
                path: name.to_string(),
                line: None,
                message: format!("is {kind} file, not JSONL"),
                hint: Some(
                    "brightingest reads JSONL (plain, gzip or zstd); read this one with pyarrow \
                     (pyarrow.parquet.read_table / pyarrow.ipc.open_file), or pass the JSONL \
                     export it was made from"
                        .into(),
                ),
            });
        }
    }
    if compression == Compression::None && regular {
        if size == 0 {
            return Ok((Input::Empty, compression, size));
        }
        // SAFETY: the map is read-only; a file truncated by another process while we read it
        // is the one hazard of mmap, accepted by every mmap-based reader (ripgrep, polars).
        let mmap = unsafe { Mmap::map(&file) }.map_err(|e| open_error(name, &e))?;
        #[cfg(unix)]
        {
            let _ = mmap.advise(memmap2::Advice::Sequential);
        }
        return Ok((Input::Mapped(Arc::new(mmap)), compression, size));
    }
    // Streams: a regular file was rewound after sniffing; a pipe gets its head bytes back.
    let base: Box<dyn Read + Send> = if regular {
        Box::new(file)
    } else {
        Box::new(io::Cursor::new(head[..n].to_vec()).chain(file))
    };
    let base = io::BufReader::with_capacity(1 << 20, base);
    let input = match compression {
        Compression::None => Input::Stream(Box::new(base)),
        Compression::Gzip => Input::Stream(Box::new(flate2::read::MultiGzDecoder::new(base))),
        Compression::Zstd => Input::Stream(Box::new(
            zstd::stream::read::Decoder::with_buffer(base).map_err(|e| open_error(name, &e))?,
        )),
    };
    Ok((input, compression, size))
}

/// "a Parquet" or "an Arrow IPC" when the file has that format's magic bytes at both ends (a
/// JSONL file never does: the start alone could be a bad first line).
fn columnar_kind(file: &File, size: u64, head: &[u8]) -> Option<&'static str> {
    use std::io::{Seek, SeekFrom};
    let (kind, tail): (&str, &[u8]) = if head.starts_with(b"PAR1") {
        ("a Parquet", b"PAR1")
    } else if head.starts_with(b"ARRO") {
        ("an Arrow IPC", b"ARROW1")
    } else {
        return None;
    };
    if size < 12 {
        return None;
    }
    let mut f = file;
    let mut end = [0u8; 6];
    let end = &mut end[..tail.len()];
    let found = f
        .seek(SeekFrom::End(-(tail.len() as i64)))
        .and_then(|_| f.read_exact(end))
        .map(|_| &*end == tail);
    let _ = f.seek(SeekFrom::Start(0));
    matches!(found, Ok(true)).then_some(kind)
}

fn read_head(file: &File, seekable: bool, buf: &mut [u8]) -> io::Result<usize> {
    use std::io::{Seek, SeekFrom};
    let mut f = file;
    let mut filled = 0;
    while filled < buf.len() {
        match f.read(&mut buf[filled..]) {
            Ok(0) => break,
            Ok(k) => filled += k,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    if seekable {
        f.seek(SeekFrom::Start(0))?;
    }
    Ok(filled)
}

#[cold]
fn open_error(name: &str, e: &io::Error) -> IngestError {
    let (message, hint) = match e.kind() {
        io::ErrorKind::NotFound => (
            "no such file".to_string(),
            Some(
                "check the path; globs and directories are expanded by the Python API".to_string(),
            ),
        ),
        io::ErrorKind::PermissionDenied => (
            "permission denied".to_string(),
            Some("check the file's permissions".to_string()),
        ),
        _ => (format!("cannot read the file ({e})"), None),
    };
    let code = if e.kind() == io::ErrorKind::NotFound {
        "source_not_found"
    } else {
        "source_unreadable"
    };
    IngestError::Source {
        code,
        path: name.to_string(),
        line: None,
        message,
        hint,
    }
}
