//! The reader: files -> chunks cut at line boundaries (and decompressed) on one thread ->
//! parsed and mapped in parallel on a rayon pool, with a bounded number of chunks in flight so
//! memory stays bounded -> Arrow batches in input order, with every line accounted for in the
//! report.
//!
//! The three stages overlap: while the pool parses, the cutting thread cuts (or inflates) the
//! next chunks and the caller's thread assembles and hands out finished batches, so no core
//! waits at a window boundary. Measured against the earlier window-at-a-time loop (2026-11-25,
//! 2 threads, 1 GB BrightRun v4, fresh processes alternating old and new, medians of 4-5):
//! streamed plain 0.74 -> 0.66 s, zstd 1.04 -> 0.82 s, whole table 1.01 -> 0.94 s; gzip
//! unchanged (1.30 s: inflate plus parse already fill both cores).

use std::collections::{BTreeMap, VecDeque};
use std::fs::File;
use std::io::{BufWriter, Read, Write};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};

use arrow_array::RecordBatch;
use arrow_schema::SchemaRef;
use memchr::{memchr, memrchr};

use crate::error::{human_bytes, Category, IngestError, LineIssue};
use crate::framing::{chunk_end, is_blank, Lines, BOM};
use crate::mapping::{FormatSet, Mapped};
use crate::parse::{compact_value, parse_row, Row};
use crate::report::{MetaLine, Report, MAX_META_LINES};
use crate::source::{open, Input};
use crate::table::{chat_schema, raw_schema, ChatBuilder, RawBuilder};
use bumpalo::Bump;

/// What to do with bad lines.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Policy {
    /// Skip and report them.
    Skip,
    /// Fail the read at the first one.
    Strict,
    /// Skip, report, and write each one verbatim to a side file.
    Quarantine,
}

impl Policy {
    pub fn parse(s: &str) -> Result<Policy, IngestError> {
        match s {
            "skip" => Ok(Policy::Skip),
            "strict" => Ok(Policy::Strict),
            "quarantine" => Ok(Policy::Quarantine),
            other => Err(IngestError::Config(format!(
                "policy must be \"skip\", \"strict\" or \"quarantine\", not {other:?}"
            ))),
        }
    }
}

/// Options of one read.
#[derive(Clone, Debug)]
pub struct ReadOptions {
    pub threads: usize,
    pub chunk_bytes: usize,
    pub max_line_bytes: usize,
    pub policy: Policy,
    pub quarantine_path: Option<PathBuf>,
    pub max_examples: usize,
    /// Chunks in flight, cut but not yet handed out as batches (0: sixteen per thread). Bounds
    /// memory: their input and output are all that is held beyond the batches not yet consumed.
    pub window_chunks: usize,
}

impl Default for ReadOptions {
    fn default() -> Self {
        ReadOptions {
            threads: std::thread::available_parallelism().map_or(1, |n| n.get()),
            // 1 MiB: measured fastest for streams on BrightRun-like data, and a stream holds a
            // few chunks per thread. (8 MiB chunks were 1.6x slower per core when output was
            // built in arrow builders; since the plain-vector builders, a whole table read from
            // a plain file is faster with 4-8 MiB chunks, which Python's `load()` passes: see
            // `_chunk_bytes` in api.py.)
            chunk_bytes: 1 << 20,
            max_line_bytes: 1 << 30,
            policy: Policy::Skip,
            quarantine_path: None,
            max_examples: 5,
            window_chunks: 0,
        }
    }
}

/// Bytes shared by the chunks of one file: a memory map, or an in-memory buffer.
type Shared = Arc<dyn AsRef<[u8]> + Send + Sync>;

enum ChunkData {
    Mapped(Shared, usize, usize),
    Owned(Vec<u8>),
    /// A line longer than the limit, already discarded from a stream: its length.
    TooLong(u64),
}

struct Chunk {
    file: usize,
    data: ChunkData,
    /// The memory map the chunk's bytes live in, if any: its pages are released once the
    /// chunk is parsed, so that RSS stays bounded however large the file.
    map: Option<Arc<memmap2::Mmap>>,
    file_start: bool,
    file_end: bool,
}

impl Chunk {
    fn bytes(&self) -> &[u8] {
        match &self.data {
            ChunkData::Mapped(m, a, b) => &(**m).as_ref()[*a..*b],
            ChunkData::Owned(v) => v,
            ChunkData::TooLong(_) => &[],
        }
    }
}

enum Built {
    Chat(Box<ChatBuilder>),
    Raw(RawBuilder),
}

struct ChunkOut {
    file: usize,
    lines: u64,
    bytes: u64,
    built: Built,
    counts: [u64; Category::COUNT],
    per_format: Vec<u64>,
    examples: Vec<(u64, LineIssue)>,
    metas: Vec<(u64, String, String)>,
    quarantine: Vec<(u64, LineIssue, Vec<u8>)>,
    fatal: Option<(u64, LineIssue)>,
}

enum Open {
    Mapped {
        mmap: Shared,
        pos: usize,
        /// The memory map itself, when the bytes are a mapped file.
        map: Option<Arc<memmap2::Mmap>>,
    },
    Stream {
        reader: Box<dyn Read + Send>,
        carry: Vec<u8>,
        started: bool,
        eof: bool,
    },
    Done,
}

struct FileEntry {
    path: String,
    name: String,
    /// In-memory contents (tests, fuzzing), read instead of `path`.
    memory: Option<Arc<Vec<u8>>>,
}

/// Where chunks come from: the files, the one being cut, and the options that shape chunks.
/// It moves to the cutting thread when the read starts.
struct Source {
    files: Vec<FileEntry>,
    next_file: usize,
    current: Option<(usize, Open)>,
    opts: ReadOptions,
    report: Arc<Mutex<Report>>,
    /// The first line number of each file's next unassembled chunk (kept by the caller's
    /// thread; read here only to say "near line N" in errors).
    next_line: Arc<Vec<AtomicU64>>,
}

/// A message from the cutting thread or a worker, tagged with the chunk's sequence number.
enum Msg {
    Out(Box<ChunkOut>),
    Err(IngestError),
    End,
}

/// The running stages of a read: the cutting thread, and the channel the pool's results
/// come back on, put back in input order here.
struct Pipeline {
    results: mpsc::Receiver<(u64, Msg)>,
    /// One token per chunk allowed in flight; the caller's thread returns one per chunk
    /// assembled.
    tokens: Option<mpsc::SyncSender<()>>,
    stop: Arc<AtomicBool>,
    cutter: Option<std::thread::JoinHandle<()>>,
    early: BTreeMap<u64, Msg>,
    next_seq: u64,
    /// The worker threads, started with the read (never before: see `Reader::next_batch`).
    _pool: Arc<rayon::ThreadPool>,
    /// The process that started the read; its threads exist in no other (see `fork()`).
    pid: u32,
}

impl Pipeline {
    /// The next message in input order.
    fn next(&mut self) -> Msg {
        loop {
            if let Some(m) = self.early.remove(&self.next_seq) {
                self.next_seq += 1;
                return m;
            }
            match self.results.recv() {
                Ok((seq, m)) => {
                    self.early.insert(seq, m);
                }
                Err(_) => {
                    return Msg::Err(IngestError::Config(
                        "the reading thread stopped unexpectedly".into(),
                    ))
                }
            }
        }
    }
}

impl Drop for Pipeline {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        self.tokens = None;
        if let Some(h) = self.cutter.take() {
            let _ = h.join();
        }
    }
}

impl Drop for Reader {
    fn drop(&mut self) {
        if let Some(p) = self.pipeline.take() {
            if p.pid != std::process::id() {
                // A forked child: joining the cutting thread would wait forever, and the pool's
                // and channels' locks may have been held by threads that are not here. Leak
                // them; the memory is the parent's copy and goes with the child.
                std::mem::forget(p);
            }
        }
    }
}

/// A streaming read over files, in input order.
pub struct Reader {
    /// Until the read starts; then it belongs to the cutting thread.
    source: Option<Source>,
    pipeline: Option<Pipeline>,
    names: Vec<String>,
    next_line: Arc<Vec<AtomicU64>>,
    formats: Option<Arc<FormatSet>>,
    format_names: Vec<String>,
    opts: Arc<ReadOptions>,
    report: Arc<Mutex<Report>>,
    pending: VecDeque<RecordBatch>,
    quarantine: Option<BufWriter<File>>,
    finished: bool,
}

impl Reader {
    /// Start a read of `paths` (shown as `names` in reports), mapping rows with `formats`
    /// (`None`: each valid line as its own JSON text, whitespace between tokens removed).
    pub fn new(
        paths: Vec<String>,
        names: Option<Vec<String>>,
        formats: Option<FormatSet>,
        opts: ReadOptions,
    ) -> Result<Reader, IngestError> {
        let names = names.unwrap_or_else(|| paths.clone());
        if names.len() != paths.len() {
            return Err(IngestError::Config(format!(
                "names has {} entries for {} paths",
                names.len(),
                paths.len()
            )));
        }
        if opts.chunk_bytes == 0 || opts.max_line_bytes == 0 {
            return Err(IngestError::Config(
                "chunk_bytes and max_line_bytes must be positive".into(),
            ));
        }
        let threads = opts.threads.max(1);
        let quarantine = match (opts.policy, &opts.quarantine_path) {
            (Policy::Quarantine, Some(p)) => {
                Some(BufWriter::new(File::create(p).map_err(|e| {
                    IngestError::source(
                        &p.display().to_string(),
                        format!("cannot create the quarantine file ({e})"),
                    )
                })?))
            }
            (Policy::Quarantine, None) => {
                return Err(IngestError::Config(
                    "policy=\"quarantine\" needs a quarantine path".into(),
                ))
            }
            _ => None,
        };
        let format_names: Vec<String> = formats
            .as_ref()
            .map(|f| f.names().to_vec())
            .unwrap_or_default();
        let report = Report::new(&format_names, opts.max_examples);
        let next_line: Arc<Vec<AtomicU64>> = Arc::new(names.iter().map(|_| 1.into()).collect());
        let files = paths
            .into_iter()
            .zip(names.iter().cloned())
            .map(|(path, name)| FileEntry {
                path,
                name,
                memory: None,
            })
            .collect();
        let opts = ReadOptions { threads, ..opts };
        let report = Arc::new(Mutex::new(report));
        Ok(Reader {
            source: Some(Source {
                files,
                next_file: 0,
                current: None,
                opts: opts.clone(),
                report: report.clone(),
                next_line: next_line.clone(),
            }),
            pipeline: None,
            names,
            next_line,
            formats: formats.map(Arc::new),
            format_names,
            opts: Arc::new(opts),
            report,
            pending: VecDeque::new(),
            quarantine,
            finished: false,
        })
    }

    /// A read of in-memory files `(name, bytes)` (plain JSONL), with the same chunking,
    /// parsing and accounting as files on disk. For tests and fuzzing.
    pub fn from_memory(
        files: Vec<(String, Vec<u8>)>,
        formats: Option<FormatSet>,
        opts: ReadOptions,
    ) -> Result<Reader, IngestError> {
        let names: Vec<String> = files.iter().map(|(n, _)| n.clone()).collect();
        let mut r = Reader::new(names.clone(), Some(names), formats, opts)?;
        let source = r.source.as_mut().expect("a new reader has not started");
        for (entry, (_, bytes)) in source.files.iter_mut().zip(files) {
            entry.memory = Some(Arc::new(bytes));
        }
        Ok(r)
    }

    /// Read everything: all batches and the final report.
    pub fn read_all(mut self) -> Result<(Vec<RecordBatch>, Report), IngestError> {
        let mut batches = Vec::new();
        while let Some(b) = self.next_batch()? {
            batches.push(b);
        }
        Ok((batches, self.report()))
    }

    /// The schema of every batch.
    pub fn schema(&self) -> SchemaRef {
        if self.formats.is_some() {
            chat_schema()
        } else {
            raw_schema()
        }
    }

    /// A shared handle on the report (it stays readable after the reader is consumed).
    pub fn report_handle(&self) -> Arc<Mutex<Report>> {
        self.report.clone()
    }

    /// A snapshot of the report so far.
    pub fn report(&self) -> Report {
        self.report.lock().map(|r| r.clone()).unwrap_or_default()
    }

    /// Whether every line has been read.
    pub fn is_finished(&self) -> bool {
        self.finished && self.pending.is_empty()
    }

    /// The next batch, or `None` when every line has been read.
    ///
    /// A read started in one process cannot go on in a child `fork()`ed from it: the child has
    /// none of its threads (a PyTorch DataLoader worker is such a child). There every call fails
    /// with [`IngestError::Forked`] instead of waiting forever. A reader created but not yet
    /// read from is fine in a child: the threads start with the first batch.
    pub fn next_batch(&mut self) -> Result<Option<RecordBatch>, IngestError> {
        if let Some(p) = &self.pipeline {
            if p.pid != std::process::id() {
                return Err(IngestError::Forked {
                    started_in: p.pid,
                    used_in: std::process::id(),
                });
            }
        }
        loop {
            if let Some(b) = self.pending.pop_front() {
                return Ok(Some(b));
            }
            if self.finished {
                return Ok(None);
            }
            if self.pipeline.is_none() {
                self.pipeline = Some(self.start()?);
            }
            let pipe = self.pipeline.as_mut().expect("started above");
            match pipe.next() {
                Msg::Out(out) => {
                    if let Some(t) = &pipe.tokens {
                        let _ = t.try_send(());
                    }
                    if let Err(e) = self.assemble(*out) {
                        return Err(self.fail(e));
                    }
                }
                Msg::End => {
                    self.finished = true;
                    self.pipeline = None;
                    if let Some(q) = self.quarantine.as_mut() {
                        q.flush()
                            .map_err(|e| IngestError::source("quarantine file", e.to_string()))?;
                    }
                }
                Msg::Err(e) => {
                    let e = self.relocate(e);
                    return Err(self.fail(e));
                }
            }
        }
    }

    /// Start the cutting thread; it spawns one pool task per chunk, at most `in_flight` ahead.
    fn start(&mut self) -> Result<Pipeline, IngestError> {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(self.opts.threads)
            .thread_name(|i| format!("brightingest-{i}"))
            .build()
            .map_err(|e| IngestError::Config(format!("cannot start worker threads: {e}")))?;
        let pool = Arc::new(pool);
        let mut source = self
            .source
            .take()
            .ok_or_else(|| IngestError::Config("this read has already started".into()))?;
        let in_flight = if self.opts.window_chunks > 0 {
            self.opts.window_chunks
        } else {
            self.opts.threads * 16
        };
        let (tok_tx, tok_rx) = mpsc::sync_channel::<()>(in_flight);
        for _ in 0..in_flight {
            let _ = tok_tx.try_send(());
        }
        let (res_tx, res_rx) = mpsc::channel::<(u64, Msg)>();
        let stop = Arc::new(AtomicBool::new(false));
        let (formats, opts) = (self.formats.clone(), self.opts.clone());
        let workers = pool.clone();
        let nformats = self.format_names.len();
        let halt = stop.clone();
        let cutter = std::thread::Builder::new()
            .name("brightingest-cut".into())
            .spawn(move || {
                let mut seq = 0u64;
                loop {
                    if tok_rx.recv().is_err() || halt.load(Ordering::Relaxed) {
                        return;
                    }
                    let chunk = match source.next_chunk() {
                        Ok(Some(c)) => c,
                        Ok(None) => {
                            let _ = res_tx.send((seq, Msg::End));
                            return;
                        }
                        Err(e) => {
                            let _ = res_tx.send((seq, Msg::Err(e)));
                            return;
                        }
                    };
                    let (tx, formats, opts) = (res_tx.clone(), formats.clone(), opts.clone());
                    workers.spawn(move || {
                        let run = std::panic::AssertUnwindSafe(|| {
                            process_chunk(&chunk, formats.as_deref(), &opts, nformats)
                        });
                        let msg = match std::panic::catch_unwind(run) {
                            Ok(out) => Msg::Out(Box::new(out)),
                            Err(_) => Msg::Err(IngestError::Config(
                                "a worker thread panicked; please report this as a bug".into(),
                            )),
                        };
                        release_pages(&chunk);
                        drop(chunk);
                        let _ = tx.send((seq, msg));
                    });
                    seq += 1;
                }
            })
            .map_err(|e| IngestError::Config(format!("cannot start the reading thread: {e}")))?;
        Ok(Pipeline {
            results: res_rx,
            tokens: Some(tok_tx),
            stop,
            cutter: Some(cutter),
            early: BTreeMap::new(),
            next_seq: 0,
            _pool: pool,
            pid: std::process::id(),
        })
    }

    /// A corrupt compressed stream is found by the cutting thread, which runs ahead of the
    /// chunks assembled so far; its error arrives here in input order, after every chunk before
    /// it, so the line it stopped at is known only now: the first line not yet accounted for.
    fn relocate(&self, e: IngestError) -> IngestError {
        match e {
            IngestError::Source {
                code: "source_corrupt",
                path,
                line: Some(_),
                message,
                hint,
            } => {
                let Some(file) = self.names.iter().position(|n| *n == path) else {
                    return IngestError::Source {
                        code: "source_corrupt",
                        path,
                        line: None,
                        message,
                        hint,
                    };
                };
                let line = self.next_line[file].load(Ordering::Relaxed);
                let detail = message.split_once(" (").map(|(_, d)| d).unwrap_or(")");
                IngestError::Source {
                    code: "source_corrupt",
                    message: format!(
                        "the compressed stream is corrupt or cut short near line {line} ({detail}"
                    ),
                    path,
                    line: Some(line),
                    hint,
                }
            }
            e => e,
        }
    }

    /// A fatal error ends the read: later calls return `None`.
    #[cold]
    fn fail(&mut self, e: IngestError) -> IngestError {
        self.finished = true;
        self.pipeline = None;
        self.pending.clear();
        e
    }

    fn assemble(&mut self, out: ChunkOut) -> Result<(), IngestError> {
        let mut report = self
            .report
            .lock()
            .map_err(|_| IngestError::Config("report lock poisoned".into()))?;
        let first = self.next_line[out.file].fetch_add(out.lines, Ordering::Relaxed);
        let name = self.names[out.file].clone();
        if let Some((rel, issue)) = out.fatal {
            // Strict: account for the lines before the bad one, then stop.
            report.lines_read += rel;
            return Err(IngestError::Line {
                path: name,
                line: first + rel,
                issue,
            });
        }
        report.lines_read += out.lines;
        report.bytes_read += out.bytes;
        for (i, n) in out.counts.iter().enumerate() {
            report.skipped[i] += n;
        }
        for (i, n) in out.per_format.iter().enumerate() {
            report.formats[i].1 += n;
        }
        for (rel, issue) in &out.examples {
            report.add_example(&name, first + rel, issue);
        }
        for (rel, key, value) in out.metas {
            if report.file_metadata.len() < MAX_META_LINES {
                report.file_metadata.push(MetaLine {
                    file: name.clone(),
                    line: first + rel,
                    key,
                    value,
                });
            }
        }
        if let Some(q) = self.quarantine.as_mut() {
            for (rel, issue, raw) in &out.quarantine {
                write_quarantine(q, &name, first + rel, issue, raw)
                    .map_err(|e| IngestError::source("quarantine file", e.to_string()))?;
            }
        }
        let batch = match out.built {
            Built::Chat(b) if !b.is_empty() => Some(b.finish(&name, first, &self.format_names)),
            Built::Raw(b) if !b.rel_lines.is_empty() => Some(b.finish(&name, first)),
            _ => None,
        };
        if let Some(b) = batch {
            report.rows_kept += b.num_rows() as u64;
            self.pending.push_back(b);
        }
        debug_assert!(report.balanced());
        Ok(())
    }
}

impl Source {
    /// Cut the next chunk, opening files as needed; `None` when every file is read.
    fn next_chunk(&mut self) -> Result<Option<Chunk>, IngestError> {
        loop {
            if self.current.is_none() {
                if self.next_file >= self.files.len() {
                    return Ok(None);
                }
                let idx = self.next_file;
                self.next_file += 1;
                let (path, name) = (self.files[idx].path.clone(), self.files[idx].name.clone());
                let (input, size) = match &self.files[idx].memory {
                    Some(m) if m.is_empty() => (Input::Empty, 0),
                    Some(m) => (Input::Memory(m.clone() as Shared), m.len() as u64),
                    None => {
                        let (input, _compression, size) = open(&path, &name)?;
                        (input, size)
                    }
                };
                {
                    let mut r = self
                        .report
                        .lock()
                        .map_err(|_| IngestError::Config("report lock poisoned".into()))?;
                    r.files.push(name);
                    r.file_bytes += size;
                }
                let state = match input {
                    Input::Mapped(map) => Open::Mapped {
                        mmap: map.clone() as Shared,
                        pos: 0,
                        map: Some(map),
                    },
                    Input::Memory(mmap) => Open::Mapped {
                        mmap,
                        pos: 0,
                        map: None,
                    },
                    Input::Empty => Open::Done,
                    Input::Stream(reader) => Open::Stream {
                        reader,
                        carry: Vec::new(),
                        started: false,
                        eof: false,
                    },
                };
                self.current = Some((idx, state));
            }
            let Some((idx, mut state)) = self.current.take() else {
                continue;
            };
            let cut = self.cut(idx, &mut state);
            self.current = Some((idx, state));
            match cut? {
                Some(chunk) => {
                    if chunk.file_end {
                        self.current = None;
                    }
                    return Ok(Some(chunk));
                }
                None => self.current = None,
            }
        }
    }

    fn cut(&self, file: usize, state: &mut Open) -> Result<Option<Chunk>, IngestError> {
        let target = self.opts.chunk_bytes;
        match state {
            Open::Done => Ok(None),
            Open::Mapped { mmap, pos, map } => {
                let bytes = (**mmap).as_ref();
                if *pos >= bytes.len() {
                    return Ok(None);
                }
                let start = *pos;
                let end = chunk_end(bytes, start, target);
                *pos = end;
                Ok(Some(Chunk {
                    file,
                    map: map.clone(),
                    data: ChunkData::Mapped(mmap.clone(), start, end),
                    file_start: start == 0,
                    file_end: end == bytes.len(),
                }))
            }
            Open::Stream {
                reader,
                carry,
                started,
                eof,
            } => {
                let name = &self.files[file].name;
                let file_start = !*started;
                *started = true;
                let mut buf = std::mem::take(carry);
                let max_line = self.opts.max_line_bytes;
                // Fill to the target, then cut after the last newline.
                loop {
                    if !*eof && buf.len() < target {
                        fill(
                            reader.as_mut(),
                            &mut buf,
                            target,
                            name,
                            self.next_line[file].load(Ordering::Relaxed),
                        )?;
                        if buf.len() < target {
                            *eof = true;
                        }
                        continue;
                    }
                    if *eof {
                        if buf.is_empty() {
                            return Ok(None);
                        }
                        return Ok(Some(Chunk {
                            file,
                            map: None,
                            data: ChunkData::Owned(buf),
                            file_start,
                            file_end: true,
                        }));
                    }
                    if let Some(i) = memrchr(b'\n', &buf) {
                        *carry = buf.split_off(i + 1);
                        return Ok(Some(Chunk {
                            file,
                            map: None,
                            data: ChunkData::Owned(buf),
                            file_start,
                            file_end: false,
                        }));
                    }
                    // No newline yet: one long line. Keep reading up to the limit, then discard
                    // the rest of it without buffering.
                    if buf.len() > max_line {
                        let mut len = buf.len() as u64;
                        buf.clear();
                        let mut scratch = vec![0u8; 1 << 20];
                        loop {
                            let n = read_some(reader.as_mut(), &mut scratch, name)?;
                            if n == 0 {
                                *eof = true;
                                break;
                            }
                            if let Some(i) = memchr(b'\n', &scratch[..n]) {
                                len += i as u64;
                                carry.extend_from_slice(&scratch[i + 1..n]);
                                break;
                            }
                            len += n as u64;
                        }
                        return Ok(Some(Chunk {
                            file,
                            map: None,
                            data: ChunkData::TooLong(len),
                            file_start,
                            file_end: *eof && carry.is_empty(),
                        }));
                    }
                    let more = buf.len().max(target);
                    let before = buf.len();
                    fill(
                        reader.as_mut(),
                        &mut buf,
                        before + more,
                        name,
                        self.next_line[file].load(Ordering::Relaxed),
                    )?;
                    if buf.len() == before {
                        *eof = true;
                    }
                }
            }
        }
    }
}

/// Release the pages of parsed chunks from this process's memory map (they stay in the page
/// cache). Each chunk releases from the page holding its first byte to the page holding its
/// last; the page it shares with the next chunk goes when that chunk is released. Releasing a
/// page that a later chunk still needs is safe: it is read back from the page cache.
fn release_pages(c: &Chunk) {
    const PAGE: usize = 4096;
    {
        if let (Some(map), ChunkData::Mapped(_, start, end)) = (&c.map, &c.data) {
            let from = start / PAGE * PAGE;
            let to = if *end == map.len() {
                *end
            } else {
                end / PAGE * PAGE
            };
            if to > from {
                // SAFETY: [from, to) lies inside the map; batches own copies of their strings,
                // so nothing reads these pages through a reference after this call, and for a
                // read-only file mapping DONTNEED only drops our view of them.
                #[cfg(unix)]
                unsafe {
                    let _ = map.unchecked_advise_range(
                        memmap2::UncheckedAdvice::DontNeed,
                        from,
                        to - from,
                    );
                }
            }
        }
    }
}

fn read_some(r: &mut dyn Read, buf: &mut [u8], name: &str) -> Result<usize, IngestError> {
    loop {
        match r.read(buf) {
            Ok(n) => return Ok(n),
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(stream_error(name, None, &e)),
        }
    }
}

/// Read until `buf` holds `upto` bytes or the stream ends.
fn fill(
    r: &mut dyn Read,
    buf: &mut Vec<u8>,
    upto: usize,
    name: &str,
    line: u64,
) -> Result<(), IngestError> {
    let start = buf.len();
    if upto <= start {
        return Ok(());
    }
    buf.resize(upto, 0);
    let mut filled = start;
    while filled < upto {
        match r.read(&mut buf[filled..]) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => {
                buf.truncate(filled);
                return Err(stream_error(name, Some(line), &e));
            }
        }
    }
    buf.truncate(filled);
    Ok(())
}

#[cold]
fn stream_error(name: &str, line: Option<u64>, e: &std::io::Error) -> IngestError {
    let at = line.map(|l| format!(" near line {l}")).unwrap_or_default();
    IngestError::Source {
        code: "source_corrupt",
        path: name.to_string(),
        line,
        message: format!("the compressed stream is corrupt or cut short{at} ({e})"),
        hint: Some("the file was probably truncated in transfer; fetch or export it again".into()),
    }
}

fn write_quarantine(
    w: &mut BufWriter<File>,
    file: &str,
    line: u64,
    issue: &LineIssue,
    raw: &[u8],
) -> std::io::Result<()> {
    let mut rec = serde_json::Map::new();
    rec.insert("file".into(), file.into());
    rec.insert("line".into(), line.into());
    rec.insert("category".into(), issue.category.as_str().into());
    rec.insert("message".into(), issue.located_message().into());
    match std::str::from_utf8(raw) {
        Ok(s) => rec.insert("text".into(), s.into()),
        Err(_) => rec.insert("base64".into(), base64(raw).into()),
    };
    serde_json::to_writer(&mut *w, &rec)?;
    w.write_all(b"\n")
}

fn base64(data: &[u8]) -> String {
    const T: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(data.len().div_ceil(3) * 4);
    for c in data.chunks(3) {
        let b = [c[0], *c.get(1).unwrap_or(&0), *c.get(2).unwrap_or(&0)];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= c.len() {
                out.push(T[((n >> (18 - 6 * i)) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// Outcome of one line.
enum LineOutcome {
    Kept,
    Skipped(LineIssue),
}

fn process_chunk(
    chunk: &Chunk,
    formats: Option<&FormatSet>,
    opts: &ReadOptions,
    nformats: usize,
) -> ChunkOut {
    let mut data = chunk.bytes();
    if chunk.file_start && data.starts_with(BOM) {
        data = &data[BOM.len()..];
    }
    let mut out = ChunkOut {
        file: chunk.file,
        lines: 0,
        bytes: chunk.bytes().len() as u64,
        built: match formats {
            Some(_) => Built::Chat(Box::new(ChatBuilder::with_capacity(data.len()))),
            None => Built::Raw(RawBuilder::with_capacity(data.len())),
        },
        counts: [0; Category::COUNT],
        per_format: vec![0; nformats],
        examples: Vec::new(),
        metas: Vec::new(),
        quarantine: Vec::new(),
        fatal: None,
    };
    if let ChunkData::TooLong(len) = chunk.data {
        out.lines = 1;
        out.bytes = len;
        let issue = too_long(len, opts.max_line_bytes);
        record_skip(&mut out, 0, issue, b"", opts);
        return out;
    }
    if data.is_empty() && !chunk.bytes().is_empty() {
        // A file holding only a BOM is one empty line.
        out.lines = 1;
        record_skip(
            &mut out,
            0,
            LineIssue::new(Category::BlankLine, "blank line"),
            b"",
            opts,
        );
        return out;
    }
    let want = |k: &str| formats.map_or(crate::parse::Want::Parse, |f| f.want(k));
    // One arena for every line of the chunk, reset after each: rows allocate nothing globally.
    let mut bump = Bump::with_capacity(64 << 10);
    for line in Lines::new(data) {
        out.lines += 1;
        bump.reset();
        let outcome = process_line(
            line.bytes, line.index, formats, &want, opts, &bump, &mut out,
        );
        if let LineOutcome::Skipped(mut issue) = outcome {
            if issue.category == Category::InvalidJson {
                issue = explain_invalid(issue, line.bytes);
            }
            if !line.terminated
                && chunk.file_end
                && !has_bare_cr(line.bytes)
                && matches!(
                    issue.category,
                    Category::InvalidJson | Category::InvalidUtf8
                )
            {
                issue = LineIssue::new(
                    Category::TruncatedLine,
                    format!(
                        "the last line has no newline and does not parse ({}): the file looks cut short",
                        issue.message
                    ),
                )
                .with_hint("the export or download was probably interrupted; fetch or export the file again");
            }
            record_skip(&mut out, line.index, issue, line.bytes, opts);
            if out.fatal.is_some() {
                break;
            }
        }
    }
    out
}

/// Whether `line` holds a carriage return not followed by a line feed.
fn has_bare_cr(line: &[u8]) -> bool {
    memchr::memchr_iter(b'\r', line).any(|i| line.get(i + 1) != Some(&b'\n'))
}

/// Two shapes of invalid JSON that have a known cause, said instead of the parser's words: a
/// byte order mark inside the file (files concatenated, each with its BOM) and classic Mac line
/// endings (CR only: the whole file is one line).
#[cold]
fn explain_invalid(issue: LineIssue, line: &[u8]) -> LineIssue {
    if line.starts_with(b"\xEF\xBB\xBF") {
        return LineIssue::new(
            Category::InvalidJson,
            "invalid JSON: the line starts with a UTF-8 byte order mark (BOM), which only the \
             first line of a file may have",
        )
        .with_hint(
            "the file looks like several exports concatenated: strip the BOMs (e.g. \
             sed -i 's/^\\xEF\\xBB\\xBF//' FILE) or read the exports as separate files",
        );
    }
    if has_bare_cr(line) {
        return LineIssue::new(
            Category::InvalidJson,
            format!(
                "{} (the line holds a bare carriage return: CR line endings?)",
                issue.message
            ),
        )
        .with_hint("convert CR line endings to LF (e.g. tr '\\r' '\\n' < FILE > FIXED)");
    }
    issue
}

fn record_skip(out: &mut ChunkOut, rel: u64, issue: LineIssue, raw: &[u8], opts: &ReadOptions) {
    let c = issue.category;
    if opts.policy == Policy::Strict && !c.is_benign() {
        out.fatal = Some((rel, issue));
        return;
    }
    out.counts[c.index()] += 1;
    if opts.policy == Policy::Quarantine && !c.is_benign() {
        out.quarantine.push((rel, issue.clone(), raw.to_vec()));
    }
    if out.examples.iter().filter(|(_, e)| e.category == c).count() < opts.max_examples {
        out.examples.push((rel, issue));
    }
}

#[cold]
fn too_long(len: u64, max: usize) -> LineIssue {
    LineIssue::new(
        Category::LineTooLong,
        format!(
            "line of {} exceeds max_line_bytes ({})",
            human_bytes(len),
            human_bytes(max as u64)
        ),
    )
    .with_hint("raise max_line_bytes if this is real data")
}

#[inline]
fn process_line(
    bytes: &[u8],
    rel: u64,
    formats: Option<&FormatSet>,
    want: &dyn Fn(&str) -> crate::parse::Want,
    opts: &ReadOptions,
    bump: &Bump,
    out: &mut ChunkOut,
) -> LineOutcome {
    if bytes.len() > opts.max_line_bytes {
        return LineOutcome::Skipped(too_long(bytes.len() as u64, opts.max_line_bytes));
    }
    if is_blank(bytes) {
        return LineOutcome::Skipped(LineIssue::new(Category::BlankLine, "blank line"));
    }
    let text = match simdutf8::basic::from_utf8(bytes) {
        Ok(t) => t,
        Err(_) => {
            let at = simdutf8::compat::from_utf8(bytes)
                .err()
                .map_or(0, |e| e.valid_up_to());
            return LineOutcome::Skipped(
                LineIssue::new(
                    Category::InvalidUtf8,
                    format!("invalid UTF-8 at byte {} of the line", at + 1),
                )
                .with_hint("re-export the file as UTF-8"),
            );
        }
    };
    let Some(fs) = formats else {
        return match compact_value(text, bump) {
            Ok(v) => {
                if let Built::Raw(b) = &mut out.built {
                    b.push(rel, v);
                }
                LineOutcome::Kept
            }
            Err(issue) => LineOutcome::Skipped(issue),
        };
    };
    let row = match parse_row(text, want, bump) {
        Ok(r) => r,
        Err(issue) => return LineOutcome::Skipped(issue),
    };
    let mut fields = match row {
        Row::Object(f) => f,
        Row::Other(kind) => {
            return LineOutcome::Skipped(
                LineIssue::new(
                    Category::NotAnObject,
                    format!("expected a JSON object per line, found {kind}"),
                )
                .with_hint("each line of a chat JSONL file must be one JSON object"),
            )
        }
    };
    match fs.map_row(&mut fields, bump) {
        Mapped::Row {
            format,
            messages,
            id,
            tools,
            metadata,
        } => {
            if let Built::Chat(b) = &mut out.built {
                b.push(
                    rel,
                    format as i32,
                    &messages,
                    id.as_deref(),
                    tools.as_deref(),
                    metadata,
                );
            }
            out.per_format[format] += 1;
            LineOutcome::Kept
        }
        Mapped::Meta(key, value) => {
            if out.metas.len() < MAX_META_LINES {
                out.metas.push((rel, key.clone(), value));
            }
            LineOutcome::Skipped(LineIssue::new(
                Category::MetadataLine,
                format!("file metadata line ({key})"),
            ))
        }
        Mapped::Skip(issue) => LineOutcome::Skipped(issue),
    }
}

#[cfg(test)]
mod tests {
    use super::base64;

    #[test]
    fn base64_matches_rfc4648() {
        assert_eq!(base64(b""), "");
        assert_eq!(base64(b"f"), "Zg==");
        assert_eq!(base64(b"fo"), "Zm8=");
        assert_eq!(base64(b"foo"), "Zm9v");
        assert_eq!(base64(b"\xff\xfe\xfd\xfc"), "//79/A==");
    }
}
