"""load() and stream(): resolve sources, pick the format, run the Rust core, account for every line.

Example:
    >>> import brightingest as bi
    >>> ds = bi.load("examples/brightrun_v4_sample.jsonl")  # doctest: +SKIP
    >>> ds.report.summary_line()  # doctest: +SKIP
    'Loaded 18 conversations (1 line skipped: 1 metadata)'
    >>> for batch in bi.stream("big.jsonl.zst"):  # doctest: +SKIP
    ...     ...

How a read goes:

1. ``brightingest.sources.resolve`` turns paths, globs, directories, ``-`` and URLs into local
   files (downloads are checked and removed afterwards).
2. The format: with ``format="auto"`` every installed format is scored on a sample of the
   first ``sample_rows`` lines of each file (:mod:`brightingest.detect`); a tie stops here with
   the candidates. Every format with a mapping is then handed to the core, best first, so that a
   file mixing formats has each row mapped by its own format. A forced format is checked against
   the sample first: if no sampled row has its fields, the read fails at once, naming the format
   the file looks like.
3. The core reads, parses and maps in parallel and counts every line under a category; under
   ``policy="strict"`` it raises on the first bad line, under ``"quarantine"`` it also writes bad
   lines to a side file.
4. Python applies the formats' optional vectorized ``transform`` hooks to the batches they
   mapped, or, for a format with no mapping (the slow path), maps each row with its
   ``map_record`` function.
5. 0 rows kept is always a :class:`~brightingest.errors.NoRowsError`, naming the most common
   reason with an example line.
"""

from __future__ import annotations

import copy
import json
import os
from collections.abc import Generator, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from brightingest.dataset import ChatDataset
from brightingest.detect import Detection, check_forced, core_order, detect_sample, read_sample
from brightingest.errors import (
    BrightIngestError,
    FormatDetectionError,
    MappingError,
    NoRowsError,
    PluginError,
    json_kind,
)
from brightingest.plugins import FormatInfo, FormatSpec, RegisteredFormat, registry
from brightingest.plugins import formats as _formats
from brightingest.report import IngestReport

if TYPE_CHECKING:
    import pluggy
    import pyarrow as pa

    from brightingest.sources import Resolved

__all__ = ["ChatStream", "detect", "formats", "load", "stream"]

Sources = str | os.PathLike[str] | Sequence[str | os.PathLike[str]]
Policy = Literal["skip", "strict", "quarantine"]

_POLICIES = ("skip", "strict", "quarantine")
_MAX_EXAMPLES = 5
_ROLES = ("system", "developer", "user", "assistant", "tool")


def formats(pm: pluggy.PluginManager | None = None) -> list[FormatInfo]:
    """List the installed format plugins.

    Args:
        pm: The plugin manager (default: every installed plugin, built-ins included).

    Returns:
        One :class:`~brightingest.plugins.FormatInfo` (name, version, description, plugin,
        distribution, distribution_version) per format, sorted by name.

    Raises:
        PluginError: A plugin fails to import or breaks the contract (named, with its package).
    """
    return _formats(pm)


def _specs(pm: pluggy.PluginManager | None) -> dict[str, RegisteredFormat]:
    found = registry(pm)
    if not found:
        raise FormatDetectionError(
            "no format plugins are installed.",
            code="no_formats",
            hint="reinstall brightingest (its built-in formats load through the "
            '"brightingest.formats" entry-point group).',
        )
    return found


def _meta_keys(specs: dict[str, FormatSpec]) -> list[str]:
    keys = (s.mapping.meta_key for s in specs.values() if s.mapping is not None)
    return sorted({k for k in keys if k})


def _canonical_name(name: str, specs: dict[str, FormatSpec]) -> str:
    if name in specs:
        return name
    alt = name.strip().lower().replace("_", "-")
    if alt in specs:
        return alt
    raise FormatDetectionError(
        f'unknown format "{name}"; installed formats: {", ".join(sorted(specs))}.',
        code="unknown_format",
        candidates=sorted(specs),
        hint='use one of those, format="auto" to detect it, or install the plugin '
        "that provides it.",
    )


def detect(
    sources: Sources, *, sample_rows: int = 200, pm: pluggy.PluginManager | None = None
) -> Detection:
    """Detect the format of ``sources`` from a sample, without reading them whole.

    Args:
        sources: Paths, globs, directories, ``-``, URLs (see ``brightingest.sources.resolve``).
        sample_rows: Non-blank lines sampled from the start of each file.
        pm: The plugin manager (default: every installed plugin).

    Returns:
        The :class:`~brightingest.detect.Detection`: best, runner-up, scores, sample size.

    Raises:
        FormatDetectionError: No object rows in the sample, no format matches, or two formats
            tie (the error's ``candidates`` lists them).
        SourceError: A source cannot be read.
        PluginError: A plugin is broken.
    """
    _check_positive("sample_rows", sample_rows)
    specs = {n: r.spec for n, r in _specs(pm).items()}
    from brightingest.sources import resolve

    with resolve(sources) as resolved:
        sample = read_sample(
            resolved.paths, resolved.names, sample_rows=sample_rows, meta_keys=_meta_keys(specs)
        )
    return detect_sample(sample, specs)


#: Upper bounds of the numeric options: far above any real use, low enough that the core's
#: integers hold them and that a typo cannot start a million threads.
_MAXIMUM = {"threads": 1024, "max_line_bytes": 1 << 48, "sample_rows": 1 << 32}


def _check_positive(name: str, value: Any) -> None:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{name} must be an int, not {type(value).__name__}")
    if value < 1:
        raise ValueError(f"{name} must be at least 1, got {value}")
    top = _MAXIMUM.get(name)
    if top is not None and value > top:
        raise ValueError(f"{name} must be at most {top:,}, got {value:,}")


def _default_quarantine(resolved: Resolved) -> str:
    from brightingest.sources import QUARANTINE_SUFFIX

    first = resolved.names[0] if resolved.names else "input"
    local = resolved.paths[0] if resolved.paths else None
    if local is not None and first == local:
        return f"{local}{QUARANTINE_SUFFIX}"
    base = Path(first.split("?")[0].rstrip("/")).name or "input"
    base = base.strip("<>") or "input"
    return str(Path.cwd() / f"{base}{QUARANTINE_SUFFIX}")


def _check_quarantine(path: str, resolved: Resolved) -> None:
    """The side file must not be one of the files read: writing it would change the input."""
    target = os.path.realpath(path)
    for source, name in zip(resolved.paths, resolved.names, strict=True):
        if os.path.realpath(source) == target:
            raise ValueError(
                f"the quarantine file {path} is also a source ({name}): bad lines would be "
                "written into the data being read; pass another path for the quarantine file"
            )
    Path(target).parent.mkdir(parents=True, exist_ok=True)


#: Work unit of the core reader for a stream: small, so that a stream's memory stays small.
_STREAM_CHUNK = 1 << 20
#: Largest work unit for a whole table read from plain files.
_TABLE_CHUNK = 8 << 20


def _chunk_bytes(total_bytes: int | None, threads: int | None, whole_table: bool) -> int:
    """Bytes per parallel work unit (and per record batch) of the core reader.

    A stream keeps a few work units per thread in memory, so they stay at 1 MiB. A whole table
    keeps everything anyway, and larger units cost less per byte: fewer batches, fewer and
    larger buffers. Measured (2026-11-25, 1 GB BrightRun v4, plain, 2 threads, best of 4):
    0.78 s with 1 MiB units, 0.67 s with 4 or 8 MiB, 0.69 s with 16 MiB; peak RSS 1,078 MB
    against 1,039 MB. Compressed inputs gained nothing (decompression sets the pace), so they
    keep 1 MiB. Units are capped so that every thread still gets about eight of them.
    """
    if not whole_table or total_bytes is None:
        return _STREAM_CHUNK
    if threads is not None:
        workers = threads
    elif hasattr(os, "sched_getaffinity"):  # the cores this process may use (Linux)
        workers = len(os.sched_getaffinity(0))
    else:
        workers = os.cpu_count() or 1
    return max(_STREAM_CHUNK, min(_TABLE_CHUNK, total_bytes // (8 * workers)))


class _Ingest:
    """One read: the resolved sources, the format plan, the core reader, the report."""

    def __init__(
        self,
        sources: Sources,
        *,
        format: str = "auto",
        policy: Policy = "skip",
        quarantine: str | os.PathLike[str] | None = None,
        threads: int | None = None,
        max_line_bytes: int = 1 << 30,
        progress: bool | None = None,
        pm: pluggy.PluginManager | None = None,
        sample_rows: int = 200,
        whole_table: bool = False,
        keep_sources: bool = False,
        chunk_bytes: int | None = None,
    ) -> None:
        if policy not in _POLICIES:
            raise ValueError(f"policy must be one of {', '.join(_POLICIES)}, got {policy!r}")
        if quarantine is not None and policy != "quarantine":
            raise ValueError('quarantine= is the side file of policy="quarantine"; pass both')
        if not isinstance(format, str):
            raise TypeError(f"format must be a str, not {type(format).__name__}")
        _check_positive("sample_rows", sample_rows)
        _check_positive("max_line_bytes", max_line_bytes)
        if threads is not None:
            _check_positive("threads", threads)
        self.policy: Policy = policy
        self.progress = progress
        self.keep_sources = keep_sources
        self.chunk_bytes = chunk_bytes
        self.threads, self.max_line_bytes = threads, max_line_bytes
        self.registered = _specs(pm)
        self.specs = {n: r.spec for n, r in self.registered.items()}
        from brightingest.sources import resolve

        self.resolved = resolve(sources, progress=progress)
        try:
            self._plan(format, sample_rows, max_line_bytes)
            self.quarantine: str | None = None
            if policy == "quarantine":
                self.quarantine = (
                    os.fspath(quarantine)
                    if quarantine is not None
                    else _default_quarantine(self.resolved)
                )
                _check_quarantine(self.quarantine, self.resolved)
            self._open(threads, max_line_bytes, whole_table)
        except BaseException:
            self.resolved.close()
            raise
        self._py_skips: list[dict[str, Any]] = []
        self._py_kept = 0
        self._py_quarantine: list[str] = []
        self._report: IngestReport | None = None

    def _plan(self, format: str, sample_rows: int, max_line_bytes: int) -> None:
        specs = self.specs
        forced = format != "auto"
        name = _canonical_name(format, specs) if forced else None
        sample = read_sample(
            self.resolved.paths,
            self.resolved.names,
            sample_rows=sample_rows,
            meta_keys=_meta_keys(specs),
            max_line_bytes=max_line_bytes,
        )
        self.detection: Detection | None
        if name is not None:
            self.detection = check_forced(sample, name, specs)
        elif sample.rows:
            self.detection = detect_sample(sample, specs)
        else:  # nothing to detect from (empty, all invalid...): the core accounts for each line
            self.detection = None
        self.best = self.detection.best if self.detection is not None else None
        slow = specs[self.best] if self.best is not None else None
        self.slow: RegisteredFormat | None = None
        if slow is not None and slow.mapping is None:
            assert self.best is not None
            self.slow = self.registered[self.best]
            self.order: tuple[str, ...] = ()
        elif self.detection is not None:
            self.order = self.detection.order
        else:
            self.order = core_order([(n, 0.0) for n in specs], specs)
        if self.slow is None and not self.order:
            raise FormatDetectionError(
                "none of the installed formats has a mapping to read with.",
                code="no_formats",
                candidates=sorted(specs),
                hint="pass format= naming a format with map_record, or install a format plugin.",
            )
        self.transforms = {
            n: self.registered[n] for n in self.order if self.specs[n].transform is not None
        }

    def _open(self, threads: int | None, max_line_bytes: int, whole_table: bool) -> None:
        from brightingest import _core

        formats_json = None
        if self.slow is None:
            formats_json = json.dumps(
                [self.specs[n].mapping.to_dict(n) for n in self.order]  # type: ignore[union-attr]  # order holds mapping formats only
            )
        self.reader = _core.read_jsonl(
            list(self.resolved.paths),
            names=list(self.resolved.names),
            formats=formats_json,
            threads=threads,
            chunk_bytes=self.chunk_bytes or _chunk_bytes(self._total_bytes(), threads, whole_table),
            max_line_bytes=max_line_bytes,
            policy=self.policy,
            quarantine_path=self.quarantine,
            max_examples=_MAX_EXAMPLES,
        )

    # -- the report ---------------------------------------------------------------------------

    def report(self) -> IngestReport:
        if self._report is not None:
            return self._report
        report = IngestReport.from_core(
            self.reader.report(),
            detection=self.detection,
            policy=self.policy,
            quarantine=self.quarantine,
        )
        if not report.files:
            report.files = list(self.resolved.names)
        for skip in self._py_skips:
            report.add_skip(max_examples=_MAX_EXAMPLES, **skip)
        if self.slow is not None:
            report.formats = {self.slow.spec.name: self._py_kept} if self._py_kept else {}
        return report

    # -- batches ------------------------------------------------------------------------------

    def schema(self) -> pa.Schema:
        from brightingest.schema import CHAT_SCHEMA

        return CHAT_SCHEMA

    def batches(self) -> Generator[pa.RecordBatch, None, None]:
        import pyarrow as pa

        from brightingest._progress import ingest_progress, progress_enabled

        names = self.resolved.names
        label = names[0] if len(names) == 1 else f"{len(names)} files"
        show = progress_enabled(self.progress)
        try:
            with ingest_progress(show, label, total_bytes=self._total_bytes()) as update:
                while True:
                    obj = self.reader.next_batch()
                    if obj is None:
                        break
                    batch = pa.record_batch(obj)
                    if self.slow is not None:
                        pieces = [self._slow_batch(batch)]
                        if self.slow.spec.transform is not None and pieces[0].num_rows:
                            pieces = [_run_transform(self.slow, pieces[0])]
                    else:
                        pieces = self._transform(batch)
                    if show:
                        done = self.reader.report()
                        update(bytes_done=done.get("bytes_read"), rows=done.get("rows_kept"))
                    for piece in pieces:
                        if piece.num_rows:
                            yield piece
            self._finish_quarantine()
            self._report = self.report()
            if self._report.rows_kept == 0:
                raise _no_rows_error(self._report, self.specs)
        finally:
            self._finish_quarantine(force=True)
            if not self.keep_sources:
                self.resolved.close()

    def replay(self) -> _Ingest:
        """The same read again, over the same local files (downloads and the standard-input
        spool included) with the same format plan, for work that needs a second pass.

        Bad lines are counted again, but not written to the quarantine file again. Only for a
        read made with ``keep_sources=True``, whose caller closes the sources when done.
        """
        assert self.keep_sources, "replay() needs keep_sources=True"
        again = copy.copy(self)
        again.policy = "skip" if self.policy == "quarantine" else self.policy
        again.quarantine = None
        again._py_skips, again._py_kept, again._py_quarantine = [], 0, []
        again._report = None
        again._open(self.threads, self.max_line_bytes, whole_table=False)
        return again

    def _total_bytes(self) -> int | None:
        total = 0
        for path in self.resolved.paths:
            if path.endswith((".gz", ".zst", ".zstd")):
                return None  # the core counts decompressed bytes
            try:
                total += Path(path).stat().st_size
            except OSError:
                return None
        return total

    def _transform(self, batch: pa.RecordBatch) -> list[pa.RecordBatch]:
        if not self.transforms or batch.num_rows == 0:
            return [batch]
        import pyarrow as pa

        column = batch.column("format")
        if pa.types.is_dictionary(column.type):
            values = column.dictionary.to_pylist()
            codes = [i for i, name in enumerate(values) if name in self.transforms]
            if not codes or not _has_any_code(column.indices, codes):
                return [batch]  # no row of a format with a transform: nothing to run
        import pyarrow.compute as pc  # ~50 ms to import: only once a batch needs a transform

        if not pa.types.is_dictionary(column.type):
            column = column.dictionary_encode()
        indices = column.indices
        values = column.dictionary.to_pylist()
        n = batch.num_rows
        changes = pc.indices_nonzero(pc.not_equal(indices.slice(1), indices.slice(0, n - 1)))
        starts = [0] + [int(i) + 1 for i in changes.to_pylist()]
        ends = starts[1:] + [n]
        pieces = []
        for start, end in zip(starts, ends, strict=True):
            piece = batch.slice(start, end - start)
            name = values[indices[start].as_py()]
            entry = self.transforms.get(name)
            pieces.append(piece if entry is None else _run_transform(entry, piece))
        return pieces

    # -- the slow path ------------------------------------------------------------------------

    def _slow_batch(self, raw: pa.RecordBatch) -> pa.RecordBatch:
        import pyarrow as pa

        from brightingest.schema import CHAT_SCHEMA

        assert self.slow is not None
        spec = self.slow.spec
        map_record = spec.map_record
        assert map_record is not None
        out: list[dict[str, Any]] = []
        values = raw.column("value").to_pylist()
        files = raw.column("source_file").to_pylist()
        lines = raw.column("source_line").to_pylist()
        for text, file, line in zip(values, files, lines, strict=True):
            row = json.loads(text)
            problem: tuple[str, str, str | None] | None
            messages: list[dict[str, Any]] = []
            extras: dict[str, str | None] = {}
            if not isinstance(row, dict):
                problem = (
                    "not_an_object",
                    f"the line is {json_kind(row)}, not an object.",
                    None,
                )
            else:
                try:
                    mapped = map_record(row)
                except MappingError as exc:
                    problem = (exc.code, exc.message, exc.field)
                except BrightIngestError:
                    raise
                except Exception as exc:
                    raise PluginError(
                        f'format "{spec.name}" ({self.slow.origin}): map_record raised '
                        f"{type(exc).__name__}: {exc} (at {file}:{line})",
                        code="plugin_contract",
                        plugin=self.slow.plugin,
                        distribution=self.slow.distribution,
                        hint="map_record should return None for rows not in its format, or raise "
                        "MappingError with a report category as code.",
                    ) from exc
                else:
                    if mapped is None:
                        keys = ", ".join(list(row)[:8]) or "none"
                        problem = (
                            "unsupported_format",
                            f'the row is not in format "{spec.name}" (keys: {keys}).',
                            None,
                        )
                    else:
                        mapped, extras = _record_extras(mapped, self.slow)
                        messages, problem = _normalize_messages(mapped, self.slow)
            if problem is not None:
                self._reject(problem, file=file, line=line, text=text)
                continue
            self._py_kept += 1
            out.append(
                {
                    "messages": messages,
                    **extras,
                    "source_file": file,
                    "source_line": line,
                    "format": spec.name,
                }
            )
        return pa.RecordBatch.from_pylist(out, schema=CHAT_SCHEMA)

    def _reject(
        self, problem: tuple[str, str, str | None], *, file: str, line: int, text: str
    ) -> None:
        category, message, field = problem
        if self.policy == "strict":
            error_type = FormatDetectionError if category == "unsupported_format" else MappingError
            raise error_type(
                message,
                code=category,
                path=file,
                line=line,
                field=field,
                hint='use policy="skip" to skip such rows, '
                'or policy="quarantine" to set them aside.',
            )
        self._py_skips.append(
            {"category": category, "file": file, "line": line, "message": message, "field": field}
        )
        if self.quarantine is not None:
            self._py_quarantine.append(
                json.dumps(
                    {
                        "file": file,
                        "line": line,
                        "category": category,
                        "message": message,
                        "text": text,
                    },
                    ensure_ascii=False,
                )
            )

    def _finish_quarantine(self, *, force: bool = False) -> None:
        """Append the slow path's bad rows to the quarantine file once the core is done with it
        (``force``: also when the stream was closed early, so that nothing is lost)."""
        if self.quarantine is None or not self._py_quarantine:
            return
        if not force and not self.reader.finished:
            return
        with Path(self.quarantine).open("a", encoding="utf-8") as handle:
            handle.write("\n".join(self._py_quarantine) + "\n")
        self._py_quarantine = []


def _record_extras(mapped: Any, entry: RegisteredFormat) -> tuple[Any, dict[str, str | None]]:
    """Split a ``map_record`` result given as ``{"messages", "id"?, "tools"?, "metadata"?}``
    into its messages and the ``id``, ``tools`` and ``metadata`` columns (JSON text), as the
    core fills them for a declarative mapping; a plain list of messages fills none."""
    extras: dict[str, str | None] = {"tools": None, "id": None, "metadata": None}
    if not isinstance(mapped, dict):
        return mapped, extras

    def broken(what: str) -> PluginError:
        return PluginError(
            f'format "{entry.spec.name}" ({entry.origin}): map_record returned {what}.',
            code="plugin_contract",
            plugin=entry.plugin,
            distribution=entry.distribution,
            hint='return a list of messages, or {"messages": [...], "id"?: str or int, '
            '"tools"?: [tool objects], "metadata"?: {...}}, or None',
        )

    unknown = sorted(set(mapped) - {"messages", "id", "tools", "metadata"})
    if unknown or "messages" not in mapped:
        what = f"unknown keys {', '.join(unknown)}" if unknown else "no messages"
        raise broken(f"a record with {what}")
    record_id = mapped.get("id")
    if record_id is not None:
        if isinstance(record_id, bool) or not isinstance(record_id, str | int | float):
            raise broken(f"an id of type {type(record_id).__name__}")
        extras["id"] = str(record_id)
    tools = mapped.get("tools")
    if tools is not None:
        if not isinstance(tools, list) or not all(isinstance(t, dict) for t in tools):
            raise broken("tools that are not a list of objects")
        # bare function definitions ({name, parameters}) take OpenAI's wrapper, as in the core
        tools = [
            t if "type" in t or "name" not in t else {"type": "function", "function": t}
            for t in tools
        ]
        if tools:
            extras["tools"] = json.dumps(tools, ensure_ascii=False, separators=(",", ":"))
    metadata = mapped.get("metadata")
    if metadata is not None:
        if not isinstance(metadata, dict):
            raise broken(f"metadata of type {type(metadata).__name__}, not an object")
        if metadata:
            extras["metadata"] = json.dumps(metadata, ensure_ascii=False, separators=(",", ":"))
    return mapped["messages"], extras


def _normalize_messages(
    mapped: Any, entry: RegisteredFormat
) -> tuple[list[dict[str, Any]], tuple[str, str, str | None] | None]:
    """Check a ``map_record`` result the way the core checks a mapping's output."""
    if not isinstance(mapped, list):
        raise PluginError(
            f'format "{entry.spec.name}" ({entry.origin}): map_record returned '
            f"{type(mapped).__name__}, not a list of messages or None.",
            code="plugin_contract",
            plugin=entry.plugin,
            distribution=entry.distribution,
        )
    if not mapped:
        return [], ("empty_conversation", "the conversation has no messages.", "messages")
    out: list[dict[str, Any]] = []
    seen_other = False
    trainable = False
    for i, message in enumerate(mapped):
        where = f"messages[{i}]"
        if not isinstance(message, dict):
            return [], ("wrong_type", f"expected an object, got {json_kind(message)}.", where)
        role = message.get("role")
        if role not in _ROLES:
            return [], (
                "unknown_role",
                f'unknown role "{role}" (expected {", ".join(_ROLES)}).',
                f"{where}.role",
            )
        content = message.get("content")
        if isinstance(content, list):
            texts = [p.get("text") if isinstance(p, dict) else p for p in content]
            if not all(isinstance(t, str) for t in texts):
                return [], ("wrong_type", "content parts must be text.", f"{where}.content")
            content = "".join(texts)  # type: ignore[arg-type]  # all str, checked above
        tool_calls = message.get("tool_calls")
        if content is None and tool_calls is not None:
            content = ""
        if not isinstance(content, str):
            return [], (
                "wrong_type",
                f"content must be a string, got {json_kind(content)}.",
                f"{where}.content",
            )
        if not content.strip() and not tool_calls:
            return [], ("empty_content", "the message content is empty.", f"{where}.content")
        if role in ("system", "developer"):
            if seen_other:
                return [], (
                    "system_not_first",
                    f"a {role} message after the conversation started.",
                    f"{where}.role",
                )
        else:
            seen_other = True
        weight = message.get("weight")
        if weight is not None and (isinstance(weight, bool) or weight not in (0, 1)):
            return [], (
                "invalid_weight",
                f"weight must be 0 or 1, got {weight!r}.",
                f"{where}.weight",
            )
        if role != "assistant" and weight is not None:
            if weight == 1:  # as the core: only assistant messages are trained
                return [], (
                    "invalid_weight",
                    f"weight 1 on a {role} message: only assistant messages are trained.",
                    f"{where}.weight",
                )
            weight = None  # a 0 there says what holds anyway
        if role != "assistant" and tool_calls:
            return [], (
                "wrong_type",
                f"tool_calls on a {role} message: only assistant messages call tools.",
                f"{where}.tool_calls",
            )
        if tool_calls is not None:
            tool_calls, problem = _check_calls(tool_calls, f"{where}.tool_calls")
            if problem is not None:
                return [], problem
        if role == "assistant" and weight != 0:
            trainable = True
        extra, problem = _message_extra(message, where)
        if problem is not None:
            return [], problem
        out.append(
            {
                "role": role,
                "content": content,
                "weight": weight,
                "name": message.get("name"),
                "tool_calls": json.dumps(tool_calls) if tool_calls is not None else None,
                "tool_call_id": message.get("tool_call_id"),
                "extra": extra,
            }
        )
    if not trainable:
        return [], (
            "no_trainable_assistant",
            "no assistant message to train on (none, or all with weight 0).",
            "messages",
        )
    return out, None


_MESSAGE_KEYS = frozenset(("role", "content", "weight", "name", "tool_calls", "tool_call_id"))


def _message_extra(
    message: dict[str, Any], where: str
) -> tuple[str | None, tuple[str, str, str] | None]:
    """The ``extra`` of a message a plugin mapped in Python: its keys that are not fields of the
    normalized message (``reasoning_content`` ...), and those of its own ``extra`` (an object,
    or its JSON text), as a JSON object text; null values are left out, as in the core."""
    kept: dict[str, Any] = {}
    given = message.get("extra")
    if isinstance(given, str):
        try:
            given = json.loads(given)
        except ValueError:
            given = None
        if not isinstance(given, dict):
            return None, ("wrong_type", "extra must be a JSON object.", f"{where}.extra")
    if isinstance(given, dict):
        kept.update((k, v) for k, v in given.items() if v is not None)
    elif given is not None:
        return None, (
            "wrong_type",
            f"extra must be an object, got {json_kind(given)}.",
            f"{where}.extra",
        )
    for key, value in message.items():
        if key not in _MESSAGE_KEYS and key != "extra" and value is not None:
            if key in kept and kept[key] != value:
                return None, (
                    "wrong_type",
                    f"{json.dumps(key)} is given twice, in the message and in its extra, "
                    "with different values.",
                    f"{where}.{key}",
                )
            kept[key] = value
    if not kept:
        return None, None
    try:
        return json.dumps(kept, ensure_ascii=False, separators=(",", ":"), allow_nan=False), None
    except (TypeError, ValueError):
        pass
    for key, value in kept.items():  # name the value that is not JSON (NaN, a set ...)
        try:
            json.dumps(value, allow_nan=False)
        except (TypeError, ValueError) as exc:
            return None, ("wrong_type", f"a value that is not JSON ({exc}).", f"{where}.{key}")
    return None, ("wrong_type", "a key that is not JSON text.", f"{where}.extra")


def _check_calls(
    calls: Any, where: str
) -> tuple[list[dict[str, Any]] | None, tuple[str, str, str | None] | None]:
    """The core's tool-call rules (``check_calls`` in ``rust_core/src/mapping.rs``) for the slow
    path: a list of ``{"id", "type": "function", "function": {"name", "arguments"}}``; a
    missing ``type`` is written, ``arguments`` given as an object become JSON text and missing
    ones ``"{}"``; an empty list is no calls."""
    if not isinstance(calls, list):
        return None, ("wrong_type", f"expected a list, got {json_kind(calls)}.", where)
    out: list[dict[str, Any]] = []
    for i, call in enumerate(calls):
        at = f"{where}[{i}]"
        if not isinstance(call, dict):
            return None, ("wrong_type", f"expected a tool call object, got {json_kind(call)}.", at)
        call_id = call.get("id")
        if not isinstance(call_id, str) or not call_id.strip():
            return None, ("missing_field", 'a tool call without an "id".', f"{at}.id")
        kind = call.get("type")
        if kind is not None and kind != "function":
            return None, (
                "wrong_type",
                f"a tool call of type {json.dumps(kind)} "
                "(OpenAI's format has function calls only).",
                f"{at}.type",
            )
        function = call.get("function")
        if not isinstance(function, dict):
            problem = "missing_field" if function is None else "wrong_type"
            return None, (problem, "a tool call needs a function object.", f"{at}.function")
        name = function.get("name")
        if not isinstance(name, str) or not name.strip():
            return None, ("missing_field", 'missing field "name"', f"{at}.function.name")
        arguments = function.get("arguments")
        if isinstance(arguments, dict | list):
            arguments = json.dumps(arguments, ensure_ascii=False, separators=(",", ":"))
        elif arguments is None:
            arguments = "{}"
        elif not isinstance(arguments, str):
            return None, (
                "wrong_type",
                f"expected JSON text or an object, got {json_kind(arguments)}.",
                f"{at}.function.arguments",
            )
        out.append({**call, "type": "function", "function": {**function, "arguments": arguments}})
    return out or None, None


def _has_any_code(indices: pa.Array, codes: list[int]) -> bool:
    """Whether int32 ``indices`` (never null) hold any of ``codes``: a byte search of the buffer,
    without numpy (not a dependency) or pyarrow.compute (50 ms to import). A code's bytes found
    across two values only means a needless transform pass, never a missed one."""
    import sys

    start = 4 * indices.offset
    raw = indices.buffers()[1].to_pybytes()[start : start + 4 * len(indices)]
    order: Literal["little", "big"] = "little" if sys.byteorder == "little" else "big"
    return any(code.to_bytes(4, order, signed=True) in raw for code in codes)


def _run_transform(entry: RegisteredFormat, batch: pa.RecordBatch) -> pa.RecordBatch:
    import pyarrow as pa

    transform = entry.spec.transform
    assert transform is not None
    try:
        result = transform(batch)
    except BrightIngestError:
        raise
    except Exception as exc:
        raise PluginError(
            f'format "{entry.spec.name}" ({entry.origin}): transform raised '
            f"{type(exc).__name__}: {exc}",
            code="plugin_contract",
            plugin=entry.plugin,
            distribution=entry.distribution,
        ) from exc
    problem = None
    if not isinstance(result, pa.RecordBatch):
        problem = f"returned {type(result).__name__}, not a pyarrow.RecordBatch"
    elif result.num_rows != batch.num_rows:
        problem = f"returned {result.num_rows} rows for {batch.num_rows}"
    elif [(f.name, f.type) for f in result.schema] != [(f.name, f.type) for f in batch.schema]:
        problem = f"changed the schema to {result.schema}"
    if problem is not None:
        raise PluginError(
            f'format "{entry.spec.name}" ({entry.origin}): transform {problem}.',
            code="plugin_contract",
            plugin=entry.plugin,
            distribution=entry.distribution,
            hint="a transform returns the same rows in the normalized chat schema "
            "(brightingest.schema.CHAT_SCHEMA).",
        )
    return result


_HINTS = {
    "invalid_json": "check that the input is JSON Lines (one JSON object per line), not a JSON "
    "array, CSV or an HTML error page.",
    "invalid_utf8": "re-export the file as UTF-8.",
    "line_too_long": "raise max_line_bytes if such long lines are real data.",
    "not_an_object": "each line must be a JSON object, one row per line.",
    "no_trainable_assistant": "each row needs an assistant message to train on "
    "(weight 1, or no weight).",
    "metadata_line": "the input has metadata lines but no data rows.",
    "blank_line": "the input has only blank lines.",
}


def _example_text(example: dict[str, Any]) -> str:
    file, line, message = example.get("file"), example.get("line"), str(example.get("message", ""))
    prefix = f"{file}:{line}"
    return message if message.startswith(prefix) else f"{prefix}: {message}"


def _no_rows_error(report: IngestReport, specs: dict[str, FormatSpec]) -> NoRowsError:
    path = report.files[0] if len(report.files) == 1 else None
    if report.lines_read == 0:
        return NoRowsError(
            "0 rows kept: the input is empty.",
            report=report,
            path=path,
            hint="check that the source is the file you meant.",
        )
    reason = report.most_common_reason()
    assert reason is not None  # lines were read and none kept, so some were skipped
    category, example = reason
    counts = sorted(report.skipped.items(), key=lambda kv: -kv[1])
    breakdown = ", ".join(f"{n} {c}" for c, n in counts)
    lines = f"{report.lines_read:,} {'line' if report.lines_read == 1 else 'lines'}"
    message = f"0 rows kept of {lines} read ({breakdown}). Most common reason: {category}"
    message += f", e.g. {_example_text(example)}" if example is not None else "."
    hint = _HINTS.get(category)
    detection = report.detection
    if category == "unsupported_format":
        other = None
        if detection is not None and detection.forced:
            other = next((n for n, s in detection.scores if n != detection.best and s > 0), None)
        if other is not None:
            assert detection is not None
            hint = (
                f'the rows look like "{other}", not "{detection.best}": pass format="{other}", '
                "or drop format= to auto-detect."
            )
        else:
            hint = (
                f"installed formats: {', '.join(sorted(specs))}. Install a plugin for this "
                "format (see brightingest.hookspecs), or pass format= to choose one."
            )
    elif hint is None and example is not None and example.get("hint"):
        hint = str(example["hint"])
    elif hint is None:
        fmt = detection.best if detection is not None else "the detected format"
        hint = (
            f'every row was rejected while mapping it as "{fmt}"; see .report.examples, check '
            'format=, or use policy="quarantine" to set the bad lines aside to inspect.'
        )
    return NoRowsError(message, report=report, path=path, hint=hint)


class ChatStream:
    """Batches of a read, as they are produced (bounded memory).

    Iterate for ``pyarrow.RecordBatch`` objects in the normalized chat schema; hand it to
    anything that takes an Arrow stream (``pyarrow.table(s)``, ``polars.DataFrame(s)``) through
    ``__arrow_c_stream__``. ``report`` covers the lines read so far and is complete once the
    stream is exhausted. A stream is read once.

    Raises (while iterating):
        NoRowsError: At the end, when no row was kept.
        BrightIngestError: Code ``stream_consumed``: iterating again a stream read to its end
            or closed (it would otherwise quietly give no rows).
        JsonlDecodeError, MappingError, FormatDetectionError: Under ``policy="strict"``, for
            the first bad line.
        SourceError: A file cannot be read.
        BrightIngestError: Code ``forked_reader``: the stream was started (a batch was taken)
            in another process, and this is a ``fork()`` of it, without its worker threads.
            Start streams in the process that reads them (in a PyTorch DataLoader: in the
            dataset's ``__iter__``). A stream created but not started may be read in a child.
    """

    def __init__(self, ingest: _Ingest) -> None:
        self._ingest = ingest
        self._batches = ingest.batches()
        self._spent: str | None = None  # "read to its end" or "closed"

    @property
    def schema(self) -> pa.Schema:
        """The Arrow schema of the batches (:data:`brightingest.schema.CHAT_SCHEMA`)."""
        return self._ingest.schema()

    @property
    def report(self) -> IngestReport:
        """The ingest report so far (complete after exhaustion)."""
        return self._ingest.report()

    @property
    def format(self) -> str | None:
        """The detected or forced format."""
        return _main_format(self._ingest)

    @property
    def detection(self) -> Detection | None:
        """How the format was chosen."""
        return self._ingest.detection

    def __iter__(self) -> Iterator[pa.RecordBatch]:
        if self._spent is not None:
            # A second loop over a spent stream would quietly see no rows at all.
            raise BrightIngestError(
                f"this stream was {self._spent} already: it has no batches left.",
                code="stream_consumed",
                hint="open a new one with brightingest.stream(...), or use brightingest.load() "
                "to keep the whole table.",
            )
        return self

    def __next__(self) -> pa.RecordBatch:
        try:
            return next(self._batches)
        except StopIteration:
            self._spent = self._spent or "read to its end"
            raise

    def __arrow_c_stream__(self, requested_schema: object | None = None) -> object:
        """The remaining batches as an ``arrow_array_stream`` PyCapsule (consumes the stream)."""
        import pyarrow as pa

        reader = pa.RecordBatchReader.from_batches(self.schema, self)
        return reader.__arrow_c_stream__(requested_schema)

    def close(self) -> None:
        """Stop reading, write out the quarantine file, and remove temporary downloads."""
        self._ingest.reader.close()  # its buffered quarantine lines first, then the slow path's
        self._batches.close()
        self._ingest.resolved.close()
        self._spent = self._spent or "closed"

    def _replay(self) -> ChatStream:
        """A second stream of the same data (see :meth:`_Ingest.replay`); only for streams
        opened by :func:`_stream_twice`. Closing either one removes the temporary files."""
        return ChatStream(self._ingest.replay())

    def __enter__(self) -> ChatStream:
        return self

    def __del__(self) -> None:
        try:
            self._ingest.resolved.close()
        except Exception:  # interpreter shutdown: nothing sensible left to do
            pass

    def __exit__(self, *exc: object) -> None:
        self.close()


def _main_format(ingest: _Ingest) -> str | None:
    if ingest.best is not None:
        return ingest.best
    kept = ingest.report().formats
    return max(kept, key=lambda n: kept[n]) if kept else None


def stream(
    sources: Sources,
    *,
    format: str = "auto",
    policy: Policy = "skip",
    quarantine: str | os.PathLike[str] | None = None,
    threads: int | None = None,
    max_line_bytes: int = 1 << 30,
    progress: bool | None = None,
    pm: pluggy.PluginManager | None = None,
    sample_rows: int = 200,
) -> ChatStream:
    """Read chat data as a stream of Arrow record batches, in bounded memory.

    Sources are resolved and the format is chosen (and checked) right away; the data is read as
    the batches are consumed. Arguments as :func:`load`.

    Returns:
        A :class:`ChatStream`.

    Raises:
        FormatDetectionError: At once: unknown format name, a detection tie, no format matches,
            or a forced format matching no sampled row.
        SourceError: A source cannot be found or downloaded.
        PluginError: A plugin is broken.
    """
    ingest = _Ingest(
        sources,
        format=format,
        policy=policy,
        quarantine=quarantine,
        threads=threads,
        max_line_bytes=max_line_bytes,
        progress=progress,
        pm=pm,
        sample_rows=sample_rows,
    )
    return ChatStream(ingest)


def _stream_twice(sources: Sources, *, chunk_bytes: int | None = None, **kwargs: Any) -> ChatStream:
    """:func:`stream`, keeping downloads and the standard-input spool until the stream is
    closed, so that :meth:`ChatStream._replay` can read the same data a second time (the CLI's
    exact duplicate detection does, in bounded memory)."""
    ingest = _Ingest(sources, **kwargs, keep_sources=True, chunk_bytes=chunk_bytes)
    return ChatStream(ingest)


def load(
    sources: Sources,
    *,
    format: str = "auto",
    policy: Policy = "skip",
    quarantine: str | os.PathLike[str] | None = None,
    threads: int | None = None,
    max_line_bytes: int = 1 << 30,
    progress: bool | None = None,
    pm: pluggy.PluginManager | None = None,
    sample_rows: int = 200,
) -> ChatDataset:
    """Read chat data into a normalized table.

    Args:
        sources: A path, glob, directory, ``-`` (standard input), http(s) or fsspec URL, or a
            sequence of them; plain, gzip or zstd JSONL.
        format: ``"auto"`` (detect from a sample) or a format name (``brightingest.formats()``).
        policy: ``"skip"`` bad lines and report them; ``"strict"``: the first bad line fails the
            read with file:line; ``"quarantine"``: skip, and also write each bad line verbatim to
            a side file with its file and line number.
        quarantine: The side file for ``policy="quarantine"`` (default: next to the first
            source, ``<name>.quarantine.jsonl``).
        threads: Worker threads (default: all cores); the result is the same for any value.
        max_line_bytes: Longer lines are skipped as ``line_too_long``.
        progress: Draw a progress bar (``None``: only on a terminal).
        pm: The plugin manager (default: every installed plugin).
        sample_rows: Lines sampled from the start of each file for detection.

    Returns:
        A :class:`~brightingest.dataset.ChatDataset` with ``.table`` and ``.report``.

    Raises:
        NoRowsError: No row was kept (``.report`` has the full report).
        FormatDetectionError: Unknown format name, a tie, no format matches, or a forced format
            matches no sampled row; under ``policy="strict"``, a row in no format.
        JsonlDecodeError, MappingError: Under ``policy="strict"``, the first bad line.
        SourceError: A source cannot be read or downloaded.
        PluginError: A plugin is broken.
        ValueError, TypeError: Invalid arguments.
    """
    import pyarrow as pa

    chat_stream = ChatStream(
        _Ingest(
            sources,
            format=format,
            policy=policy,
            quarantine=quarantine,
            threads=threads,
            max_line_bytes=max_line_bytes,
            progress=progress,
            pm=pm,
            sample_rows=sample_rows,
            whole_table=True,
        )
    )
    with chat_stream:
        batches = list(chat_stream)
    schema = batches[0].schema if batches else chat_stream.schema
    table = pa.Table.from_batches(batches, schema=schema)
    return ChatDataset(table, chat_stream.report, chat_stream.format)
