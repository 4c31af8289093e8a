//! The only pyo3 code: the `_core` module, `read_jsonl`, the `Reader` pyclass (an Arrow
//! PyCapsule stream), and the one map from core errors to brightingest's Python exceptions.

use std::sync::{Arc, Mutex};

use arrow_array::{ArrayRef, RecordBatch, StructArray};
use arrow_schema::{ArrowError, Field, SchemaRef};
use pyo3::exceptions::{PyRuntimeError, PyStopIteration, PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyCapsule, PyDict, PyList, PyTuple};
use pyo3_arrow::ffi::{to_schema_pycapsule, to_stream_pycapsule, ArrayIterator};
use pyo3_arrow::PyRecordBatch;

use crate::error::{Category, IngestError};
use crate::mapping::FormatSet;
use crate::reader::{Policy, ReadOptions, Reader};
use crate::report::Report;

// The allocator is glibc's, behind `Recycler` (see `alloc.rs`), which keeps a bounded set of
// freed large blocks of this extension for reuse, so streamed batches stop faulting in fresh
// pages. Whole allocators were measured before that: mimalloc as the global allocator (7 fresh
// processes each, whole-table ingest of a 100 MB BrightRun file, 2 threads): median 0.170 s vs
// 0.194 s, but peak RSS 290 MB vs 203 MB; the whole-table memory budget (1.3x the input) wins.
// Since then every line's values are built in a bump arena (parse.rs), which took most of the
// small allocations that mimalloc sped up. Transparent huge pages for large blocks (a wrapper
// allocator adding MADV_HUGEPAGE, with 4 MiB chunks) were measured too (2026-11-25, 1 GB
// whole-table, fresh processes): bimodal, 0.85 s or 1.4-1.6 s against a steady 1.07-1.1 s,
// because with THP defrag set to "madvise" a huge-page fault may stall in direct compaction.
// Not kept: a steady time beats a sometimes-faster one. Re-measured with 8 MiB whole-table work
// units and 2 MiB-aligned blocks (2026-11-25, `load()` of 1 GB, 10 alternating fresh runs each):
// THP `madvise` best 0.66 s but median 0.87 s, against `never` best 0.79 s and median 0.83 s;
// a later set ran 0.88-1.33 s with THP, where 1 MiB units without THP ran 0.92-1.20 s and 8 MiB
// units without THP 0.79-0.89 s just after. /proc/vmstat counted no compaction
// stalls in these runs, so the slow faults come from below the guest (this is a VM), which a
// user's machine may share. Still not kept.
#[global_allocator]
static ALLOC: crate::alloc::Recycler = crate::alloc::Recycler::new();

pyo3::import_exception!(brightingest.errors, JsonlDecodeError);
pyo3::import_exception!(brightingest.errors, MappingError);
pyo3::import_exception!(brightingest.errors, FormatDetectionError);
pyo3::import_exception!(brightingest.errors, SourceError);
pyo3::import_exception!(brightingest.errors, BrightIngestError);

/// Raise the brightingest exception class for a core error, with code/path/line/field/hint.
#[cold]
fn to_pyerr(py: Python<'_>, e: IngestError) -> PyErr {
    let build = || -> PyResult<PyErr> {
        let kw = PyDict::new(py);
        let (class, message) = match e {
            IngestError::Config(m) => return Ok(PyValueError::new_err(m)),
            e @ IngestError::Forked { .. } => {
                kw.set_item("code", "forked_reader")?;
                kw.set_item(
                    "hint",
                    "start reading in the process that reads: in a PyTorch DataLoader, call \
                     brightingest.stream() in the dataset's __iter__ (it runs in each worker), \
                     or use the 'spawn' or 'forkserver' start method.",
                )?;
                (py.get_type::<BrightIngestError>(), e.to_string())
            }
            IngestError::Source {
                code,
                path,
                line,
                message,
                hint,
            } => {
                kw.set_item("code", code)?;
                kw.set_item("path", path)?;
                kw.set_item("line", line)?;
                kw.set_item("hint", hint)?;
                (py.get_type::<SourceError>(), message)
            }
            IngestError::Line { path, line, issue } => {
                let class = if issue.category.is_reader() {
                    py.get_type::<JsonlDecodeError>()
                } else if issue.category == Category::UnsupportedFormat {
                    py.get_type::<FormatDetectionError>()
                } else {
                    py.get_type::<MappingError>()
                };
                kw.set_item("code", issue.category.as_str())?;
                kw.set_item("path", path)?;
                kw.set_item("line", line)?;
                kw.set_item("field", issue.field)?;
                kw.set_item("hint", issue.hint)?;
                (class, issue.message)
            }
        };
        let exc = class.call((message,), Some(&kw))?;
        Ok(PyErr::from_value(exc))
    };
    build().unwrap_or_else(|err| err)
}

fn report_to_dict<'py>(py: Python<'py>, r: &Report) -> PyResult<Bound<'py, PyDict>> {
    let d = PyDict::new(py);
    d.set_item("lines_read", r.lines_read)?;
    d.set_item("rows_kept", r.rows_kept)?;
    let skipped = PyDict::new(py);
    for c in Category::ALL {
        let n = r.count(c);
        if n > 0 {
            skipped.set_item(c.as_str(), n)?;
        }
    }
    d.set_item("skipped", skipped)?;
    let examples = PyList::empty(py);
    for e in &r.examples {
        let x = PyDict::new(py);
        x.set_item("file", &e.file)?;
        x.set_item("line", e.line)?;
        x.set_item("category", e.category.as_str())?;
        let message = match &e.field {
            Some(f) => format!("{f}: {}", e.message),
            None => e.message.clone(),
        };
        x.set_item("message", message)?;
        x.set_item("field", &e.field)?;
        x.set_item("hint", &e.hint)?;
        examples.append(x)?;
    }
    d.set_item("examples", examples)?;
    let formats = PyDict::new(py);
    for (name, n) in &r.formats {
        formats.set_item(name, n)?;
    }
    d.set_item("formats", formats)?;
    let metas = PyList::empty(py);
    for m in &r.file_metadata {
        let x = PyDict::new(py);
        x.set_item("file", &m.file)?;
        x.set_item("line", m.line)?;
        x.set_item("key", &m.key)?;
        x.set_item("value", &m.value)?;
        metas.append(x)?;
    }
    d.set_item("file_metadata", metas)?;
    d.set_item("bytes_read", r.bytes_read)?;
    d.set_item("file_bytes", r.file_bytes)?;
    d.set_item("files", PyList::new(py, &r.files)?)?;
    Ok(d)
}

/// A stream of Arrow record batches over JSONL files, in input order (see `_core.pyi`).
#[pyclass(name = "Reader", module = "brightingest._core")]
struct PyReader {
    inner: Mutex<Option<Reader>>,
    report: Arc<Mutex<Report>>,
    schema: SchemaRef,
}

impl PyReader {
    fn next_inner(&self, py: Python<'_>) -> PyResult<Option<RecordBatch>> {
        let mut guard = self
            .inner
            .lock()
            .map_err(|_| PyRuntimeError::new_err("reader lock poisoned"))?;
        let Some(reader) = guard.as_mut() else {
            return Ok(None);
        };
        py.detach(|| reader.next_batch())
            .map_err(|e| to_pyerr(py, e))
    }
}

#[pymethods]
impl PyReader {
    /// The next batch as a `pyarrow.RecordBatch`, or `None` at the end.
    fn next_batch<'py>(&self, py: Python<'py>) -> PyResult<Option<Bound<'py, PyAny>>> {
        match self.next_inner(py)? {
            Some(b) => Ok(Some(PyRecordBatch::new(b).into_pyarrow(py)?)),
            None => Ok(None),
        }
    }

    fn __iter__(slf: PyRef<'_, Self>) -> PyRef<'_, Self> {
        slf
    }

    fn __next__<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        match self.next_batch(py)? {
            Some(b) => Ok(b),
            None => Err(PyStopIteration::new_err(())),
        }
    }

    /// The schema as an `arrow_schema` PyCapsule.
    fn __arrow_c_schema__<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyCapsule>> {
        Ok(to_schema_pycapsule(py, self.schema.as_ref())?)
    }

    /// All remaining batches as an `arrow_array_stream` PyCapsule (consumes the reader).
    #[pyo3(signature = (requested_schema=None))]
    fn __arrow_c_stream__<'py>(
        &self,
        py: Python<'py>,
        requested_schema: Option<Bound<'py, PyCapsule>>,
    ) -> PyResult<Bound<'py, PyCapsule>> {
        let reader = self
            .inner
            .lock()
            .map_err(|_| PyRuntimeError::new_err("reader lock poisoned"))?
            .take()
            .ok_or_else(|| PyValueError::new_err("this reader was already consumed"))?;
        let field = Arc::new(Field::new_struct("", self.schema.fields().clone(), false));
        let iter = BatchIter(reader).map(|b| b.map(|b| Arc::new(StructArray::from(b)) as ArrayRef));
        Ok(to_stream_pycapsule(
            py,
            Box::new(ArrayIterator::new(iter, field)),
            requested_schema,
        )?)
    }

    /// The report so far as a dict (complete once the last batch has been read).
    fn report<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let r = self
            .report
            .lock()
            .map_err(|_| PyRuntimeError::new_err("report lock poisoned"))?
            .clone();
        report_to_dict(py, &r)
    }

    /// Stop reading: the worker threads end and the quarantine file gets every bad line
    /// counted so far (it is written through a buffer). The report stays; later batches are
    /// `None`. Idempotent.
    fn close(&self, py: Python<'_>) -> PyResult<()> {
        let reader = self
            .inner
            .lock()
            .map_err(|_| PyRuntimeError::new_err("reader lock poisoned"))?
            .take();
        py.detach(|| drop(reader));
        Ok(())
    }

    /// Whether every line has been read (or the reader was handed over as a stream).
    #[getter]
    fn finished(&self) -> PyResult<bool> {
        let guard = self
            .inner
            .lock()
            .map_err(|_| PyRuntimeError::new_err("reader lock poisoned"))?;
        Ok(guard.as_ref().is_none_or(|r| r.is_finished()))
    }
}

struct BatchIter(Reader);

impl Iterator for BatchIter {
    type Item = Result<RecordBatch, ArrowError>;
    fn next(&mut self) -> Option<Self::Item> {
        match self.0.next_batch() {
            Ok(Some(b)) => Some(Ok(b)),
            Ok(None) => None,
            Err(e) => Some(Err(ArrowError::ExternalError(Box::new(e)))),
        }
    }
}

/// Open JSONL files for reading into Arrow (see `_core.pyi` for the full contract).
#[pyfunction]
#[pyo3(signature = (
    paths, *, names=None, formats=None, threads=None, chunk_bytes=1 << 20,
    max_line_bytes=1 << 30, policy="skip", quarantine_path=None, max_examples=5,
    window_chunks=None
))]
#[allow(clippy::too_many_arguments)] // keyword-only options mirror the Python signature
fn read_jsonl(
    py: Python<'_>,
    paths: Vec<String>,
    names: Option<Vec<String>>,
    formats: Option<String>,
    threads: Option<usize>,
    chunk_bytes: usize,
    max_line_bytes: usize,
    policy: &str,
    quarantine_path: Option<std::path::PathBuf>,
    max_examples: usize,
    window_chunks: Option<usize>,
) -> PyResult<PyReader> {
    let formats = match formats {
        Some(text) => Some(FormatSet::from_json(&text).map_err(|e| to_pyerr(py, e))?),
        None => None,
    };
    let defaults = ReadOptions::default();
    let opts = ReadOptions {
        threads: threads.unwrap_or(defaults.threads),
        chunk_bytes,
        max_line_bytes,
        policy: Policy::parse(policy).map_err(|e| to_pyerr(py, e))?,
        quarantine_path,
        max_examples,
        window_chunks: window_chunks.unwrap_or(0),
    };
    let reader = Reader::new(paths, names, formats, opts).map_err(|e| to_pyerr(py, e))?;
    Ok(PyReader {
        report: reader.report_handle(),
        schema: reader.schema(),
        inner: Mutex::new(Some(reader)),
    })
}

/// OpenAI chat fine-tuning JSONL (UTF-8 bytes, one line per row) for one batch of the
/// normalized chat table; see `openai.rs`. Raises `TypeError` for a batch of another layout
/// (the Python writer then takes its general path) and `ValueError` for a value it cannot
/// write. The GIL is released while the lines are built.
#[pyfunction]
fn openai_jsonl<'py>(py: Python<'py>, batch: PyRecordBatch) -> PyResult<Bound<'py, PyBytes>> {
    use crate::openai::{write_batch, OpenAiError};
    let batch = batch.into_inner();
    let mut out = Vec::new();
    py.detach(|| write_batch(&batch, &mut out))
        .map_err(|e| match e {
            OpenAiError::Layout(m) => PyTypeError::new_err(m),
            OpenAiError::Value(m) => PyValueError::new_err(m),
        })?;
    Ok(PyBytes::new(py, &out))
}

/// The rows of a normalized batch whose tool messages OpenAI's format cannot hold, as
/// `(row, reason)`: 0, a tool message without `tool_call_id`; 1, one whose id no earlier call
/// made. Raises `TypeError` for a batch of another layout. The GIL is released.
#[pyfunction]
fn unanswered_tools(py: Python<'_>, batch: PyRecordBatch) -> PyResult<Vec<(usize, u8)>> {
    use crate::openai::OpenAiError;
    let batch = batch.into_inner();
    let found = py
        .detach(|| crate::openai::unanswered_tools(&batch))
        .map_err(|e| match e {
            OpenAiError::Layout(m) => PyTypeError::new_err(m),
            OpenAiError::Value(m) => PyValueError::new_err(m),
        })?;
    Ok(found
        .into_iter()
        .map(|(row, why)| (row, why as u8))
        .collect())
}

/// Check format mappings (JSON, as `read_jsonl` takes them) without reading anything: a
/// plugin's mistake (an unknown role, a weight other than 0 or 1 ...) is found when it
/// registers, not in the middle of every read. Raises `ValueError` with the problem.
#[pyfunction]
fn check_formats(formats: &str) -> PyResult<()> {
    FormatSet::from_json(formats)
        .map(|_| ())
        .map_err(|e| PyValueError::new_err(e.to_string()))
}

/// 16 bytes per row: a 128-bit hash of each row's conversation (messages and tools; see
/// `rowhash.rs`), for finding duplicate candidates. Raises `TypeError` for a batch of another
/// layout. The GIL is released while hashing.
#[pyfunction]
fn row_hashes<'py>(py: Python<'py>, batch: PyRecordBatch) -> PyResult<Bound<'py, PyBytes>> {
    let batch = batch.into_inner();
    let out = py
        .detach(|| crate::rowhash::row_hashes(&batch))
        .map_err(|e| match e {
            crate::openai::OpenAiError::Layout(m) => PyTypeError::new_err(m),
            crate::openai::OpenAiError::Value(m) => PyValueError::new_err(m),
        })?;
    Ok(PyBytes::new(py, &out))
}

/// Addresses of every buffer of a record batch as Rust sees it after import through the Arrow
/// C Data Interface (`__arrow_c_array__`). Tests compare them with pyarrow's `Buffer.address`
/// to prove that batches cross the boundary without copies, in both directions.
#[pyfunction]
fn _buffer_addresses(batch: PyRecordBatch) -> Vec<usize> {
    fn walk(d: &arrow_data::ArrayData, out: &mut Vec<usize>) {
        if let Some(n) = d.nulls() {
            out.push(n.buffer().as_ptr() as usize);
        }
        for b in d.buffers() {
            out.push(b.as_ptr() as usize);
        }
        for c in d.child_data() {
            walk(c, out);
        }
    }
    let batch = batch.into_inner();
    let mut out = Vec::new();
    for col in batch.columns() {
        walk(&col.to_data(), &mut out);
    }
    out
}

#[pymodule]
fn _core(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    let reader: Vec<&str> = Category::ALL
        .iter()
        .filter(|c| c.is_reader())
        .map(|c| c.as_str())
        .collect();
    let mapping: Vec<&str> = Category::ALL
        .iter()
        .filter(|c| !c.is_reader())
        .map(|c| c.as_str())
        .collect();
    m.add("READER_CATEGORIES", PyTuple::new(m.py(), reader)?)?;
    m.add("MAPPING_CATEGORIES", PyTuple::new(m.py(), mapping)?)?;
    m.add_class::<PyReader>()?;
    m.add_function(wrap_pyfunction!(read_jsonl, m)?)?;
    m.add_function(wrap_pyfunction!(openai_jsonl, m)?)?;
    m.add_function(wrap_pyfunction!(unanswered_tools, m)?)?;
    m.add_function(wrap_pyfunction!(row_hashes, m)?)?;
    m.add_function(wrap_pyfunction!(check_formats, m)?)?;
    m.add_function(wrap_pyfunction!(_buffer_addresses, m)?)?;
    Ok(())
}
