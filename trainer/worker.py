"""The trainer container's serverless worker: download, check, train, upload, and fail loudly.

A RunPod serverless job arrives with a signed URL of a dataset; :func:`handler` validates the
input, downloads the data with brightingest's checked download, ingests it with the normal
report, refuses to train on data that is empty or too broken, trains a LoRA adapter with
brightingest's trainer, and uploads a ``.tar.gz`` of the adapter directory.

Every failure returns ``{"error": {"code", "message", ...}}`` (RunPod marks the job failed when
the result has a top-level ``error``, and its local test mode exits 1); ``code`` is one of
:data:`ERROR_CODES`. The traceback of an unexpected exception goes to the log, never alone.
Signed URLs are redacted (query string removed) everywhere: logs, progress, results.

Run it::

    python trainer/worker.py                              # on RunPod: the SDK's job loop
    python trainer/worker.py --test_input '{"input": {...}}'   # local test mode (exit 1 on error)

Importing this module does not import ``runpod`` (slow, and not needed by tests); the SDK is
imported in :func:`main` and, for progress updates, only when running on the platform.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import os
import shutil
import tarfile
import tempfile
import time
import traceback
import weakref
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from brightingest._signed import redact_text
from brightingest.errors import (
    BrightIngestError,
    FormatDetectionError,
    NoRowsError,
    SourceError,
    TrainerError,
    json_kind,
)
from brightingest.sources import check_signed_url, fetch, is_url, redact_url, upload

__all__ = [
    "DEFAULT_MAX_BAD_RATIO",
    "ERROR_CODES",
    "INPUT_FIELDS",
    "JobInput",
    "handler",
    "main",
    "run",
    "validate_input",
]

logger = logging.getLogger("brightingest.worker")

#: The stable error codes a failed job returns (``result["error"]["code"]``).
ERROR_CODES = (
    "invalid_input",
    "source_expired",
    "source_empty",
    "source_error_body",
    "source_unavailable",
    "no_valid_rows",
    "too_many_bad_rows",
    "training_failed",
    "upload_failed",
    "internal_error",
)

#: Job input fields: name -> (required, description).
INPUT_FIELDS: dict[str, tuple[bool, str]] = {
    "dataset_url": (True, "a URL (signed http(s), s3://, gs://...) or a list of them"),
    "format": (False, 'a format name (e.g. "brightrun-v4"); default "auto" (detect)'),
    "base_model": (True, "a hub id or a local directory of the base model"),
    "hyperparameters": (False, "trainer settings (max_steps, epochs, lr, lora_r, ...)"),
    "output_url": (True, "a signed upload URL (PUT) or an fsspec URL for the adapter archive"),
    "max_bad_ratio": (False, "the largest share of bad lines accepted, 0..1; default 0.01"),
}

#: Share of bad lines (not blank, not metadata) above which the job refuses to train.
DEFAULT_MAX_BAD_RATIO = 0.01

DOWNLOAD_RETRIES = 4
DOWNLOAD_TIMEOUT_S = 60.0
UPLOAD_RETRIES = 4
UPLOAD_TIMEOUT_S = 120.0
#: At most one training progress update per this many seconds (first and last step always).
PROGRESS_INTERVAL_S = 10.0

# SourceError codes from brightingest.sources -> the worker's stable codes.
_SOURCE_CODES = {
    "source_expired": "source_expired",
    "source_empty": "source_empty",
    "source_too_small": "source_empty",
    "source_error_body": "source_error_body",
    "source_http_error": "source_error_body",
}
# Trainer settings the job may not set: the worker owns where outputs go and resumes nothing.
_RESERVED_HYPERPARAMETERS = {
    "model": "set the base model with base_model, not hyperparameters.model.",
    "resume": "each job starts a fresh run; resume is not available to jobs.",
}


#: The extra keys of the result's error object of each failure made by :func:`_failure`; being
#: in it also marks an exception as already mapped to a job failure.
_JOB_CONTEXT: weakref.WeakKeyDictionary[BaseException, dict[str, Any]] = weakref.WeakKeyDictionary()


def _is_job_failure(exc: BaseException) -> bool:
    """Whether ``exc`` was made by :func:`_failure` (already a job failure)."""
    return exc in _JOB_CONTEXT


def _failure(code: str, message: str, **context: Any) -> BrightIngestError:
    """A failed step, raised as a :class:`~brightingest.errors.BrightIngestError` whose ``code``
    is one of :data:`ERROR_CODES` (the worker defines no exceptions of its own).

    Args:
        code: One of :data:`ERROR_CODES`.
        message: What went wrong, for humans (URLs already redacted), hint included.
        **context: More keys for the result's error object (``field``, ``detail_code``,
            ``report`` ...); ``None`` values are dropped.
    """
    exc = BrightIngestError(message, code=code, field=context.get("field"), located=True)
    # The error object of the job result; read back by _error_object().
    _JOB_CONTEXT[exc] = {k: v for k, v in context.items() if v is not None}
    return exc


def _error_object(exc: BrightIngestError) -> dict[str, Any]:
    """The ``error`` object of a job result for a failure raised by :func:`_failure`."""
    context = _JOB_CONTEXT.get(exc, {})
    return {"code": exc.code, "message": exc.message, **context}


@dataclass(frozen=True)
class JobInput:
    """A validated job input.

    Attributes:
        dataset_urls: The dataset sources, in order.
        format: The format name, or ``"auto"``.
        base_model: Hub id or local directory of the base model.
        hyperparameters: Trainer settings, already checked by ``TrainConfig.from_dict``.
        output_url: Where the adapter archive goes.
        max_bad_ratio: Refuse to train above this share of bad lines.
    """

    dataset_urls: list[str]
    format: str
    base_model: str
    hyperparameters: dict[str, Any] = field(default_factory=dict)
    output_url: str = ""
    max_bad_ratio: float = DEFAULT_MAX_BAD_RATIO


# ---------------------------------------------------------------------------------- input


def _invalid(field_name: str, message: str, hint: str | None = None) -> BrightIngestError:
    text = f"input.{field_name}: {message}"
    if hint:
        text += f"\nHint: {hint}"
    return _failure("invalid_input", text, field=field_name)


def _check_url(field_name: str, value: Any, *, allow_local: bool) -> str:
    if not isinstance(value, str):
        raise _invalid(field_name, f"expected a URL string, got {json_kind(value)}.")
    if not value.strip():
        raise _invalid(field_name, "is empty.")
    if not is_url(value) and not allow_local:
        raise _invalid(
            field_name,
            f"{json.dumps(redact_url(value))} is not a URL.",
            "pass a signed upload URL (https://...) or an fsspec URL (s3://bucket/key.tar.gz).",
        )
    if value.lower().startswith("file://") and not allow_local:
        raise _invalid(field_name, "file:// URLs cannot be uploaded to.", "pass a remote URL.")
    return value


def validate_input(raw: Any) -> JobInput:
    """Check a job's ``input`` before anything is downloaded.

    Args:
        raw: ``job["input"]``.

    Returns:
        The validated :class:`JobInput`.

    Raises:
        BrightIngestError: ``invalid_input`` naming the field (unknown key, wrong type, missing
            field, bad trainer setting), or ``source_expired`` when a signed URL (dataset or output)
            has already expired.
    """
    if not isinstance(raw, Mapping):
        raise _failure(
            "invalid_input",
            f"input: expected an object, got {json_kind(raw)}.\n"
            'Hint: send {"input": {"dataset_url": ..., "base_model": ..., "output_url": ...}}.',
            field="input",
        )
    unknown = sorted(str(k) for k in raw if k not in INPUT_FIELDS)
    if unknown:
        raise _invalid(
            unknown[0],
            "unknown field.",
            "known fields: " + ", ".join(INPUT_FIELDS) + ".",
        )
    for name, (required, description) in INPUT_FIELDS.items():
        if required and raw.get(name) is None:
            raise _invalid(name, "missing.", f"{name} is {description}.")

    sources = raw["dataset_url"]
    if isinstance(sources, str):
        urls = [_check_url("dataset_url", sources, allow_local=True)]
    elif isinstance(sources, list):
        if not sources:
            raise _invalid("dataset_url", "the list is empty.")
        urls = [_check_url(f"dataset_url[{i}]", u, allow_local=True) for i, u in enumerate(sources)]
    else:
        raise _invalid(
            "dataset_url", f"expected a URL or a list of URLs, got {json_kind(sources)}."
        )

    fmt = raw.get("format", "auto")
    fmt = "auto" if fmt is None else fmt
    if not isinstance(fmt, str) or not fmt.strip():
        raise _invalid("format", f"expected a format name, got {json_kind(fmt)}.")
    if fmt != "auto":
        _check_format(fmt)
    base_model = raw["base_model"]
    if not isinstance(base_model, str) or not base_model.strip():
        raise _invalid("base_model", f"expected a hub id or a path, got {json_kind(base_model)}.")
    output_url = _check_url("output_url", raw["output_url"], allow_local=False)

    ratio = raw.get("max_bad_ratio", DEFAULT_MAX_BAD_RATIO)
    ratio = DEFAULT_MAX_BAD_RATIO if ratio is None else ratio
    if isinstance(ratio, bool) or not isinstance(ratio, (int, float)):
        raise _invalid("max_bad_ratio", f"expected a number from 0 to 1, got {json_kind(ratio)}.")
    if not (math.isfinite(ratio) and 0 <= ratio <= 1):
        raise _invalid("max_bad_ratio", f"expected a number from 0 to 1, got {ratio}.")

    hyper = raw.get("hyperparameters") or {}
    if not isinstance(hyper, Mapping):
        raise _invalid("hyperparameters", f"expected an object, got {json_kind(hyper)}.")
    hyper = dict(hyper)
    for key, why in _RESERVED_HYPERPARAMETERS.items():
        if key in hyper:
            raise _invalid(f"hyperparameters.{key}", why)
    _check_train_config(base_model, hyper)

    for name, url in [*(("dataset_url", u) for u in urls), ("output_url", output_url)]:
        try:
            check_signed_url(url)
        except SourceError as exc:
            raise _failure(
                "source_expired",
                f"input.{name}: {exc}",
                field=name,
                detail_code=exc.code,
            ) from exc
    return JobInput(
        dataset_urls=urls,
        format=fmt,
        base_model=base_model,
        hyperparameters=hyper,
        output_url=output_url,
        max_bad_ratio=float(ratio),
    )


def _check_format(name: str) -> None:
    import brightingest

    known = sorted(info.name for info in brightingest.formats())
    if name not in known and name.strip().lower().replace("_", "-") not in known:
        raise _invalid(
            "format",
            f"unknown format {json.dumps(name)}; installed formats: {', '.join(known)}.",
            'use one of those, or "auto" to detect the format.',
        )


def _check_train_config(base_model: str, hyper: dict[str, Any]) -> Any:
    try:
        from brightingest.train import TrainConfig
    except TrainerError as exc:  # the [train] extra is missing: the image is broken
        raise _failure("training_failed", str(exc), detail_code=exc.code) from exc
    try:
        return TrainConfig.from_dict({**hyper, "model": base_model})
    except TrainerError as exc:
        hint: str | None
        if exc.field == "model":  # the job's own field for it
            name, hint = "base_model", "pass a hub id, or a directory present in the image."
        else:
            name = f"hyperparameters.{exc.field}" if exc.field else "hyperparameters"
            hint = exc.hint
        raise _failure(
            "invalid_input",
            f"input.{name}: {exc.message}" + (f"\nHint: {hint}" if hint else ""),
            field=name,
        ) from exc
    except (TypeError, ValueError) as exc:
        raise _invalid("hyperparameters", str(exc)) from exc


# ---------------------------------------------------------------------------------- progress

Progress = Callable[[dict[str, Any]], None]


class _TrainProgress:
    """Forwards the trainer's per-step callback, throttled, as ``phase="train"`` updates."""

    def __init__(self, send: Progress, interval: float) -> None:
        self.send = send
        self.interval = interval
        self.last = -math.inf

    def __call__(self, info: dict[str, Any]) -> None:
        step, total = int(info.get("step", 0)), info.get("max_steps")
        now = time.monotonic()
        if step != 1 and step != total and now - self.last < self.interval:
            return
        self.last = now
        update = {"phase": "train", "step": step, "max_steps": total}
        for key in ("loss", "tokens_per_s", "lr", "eval_loss"):
            if key in info and info[key] is not None:
                update[key] = round(float(info[key]), 6)
        logger.info(
            "step %s/%s loss %.4f, %.0f tokens/s",
            step,
            total,
            update.get("loss", float("nan")),
            update.get("tokens_per_s", 0.0),
        )
        self.send(update)


def _on_platform() -> bool:
    # The SDK's progress_update POSTs to this webhook; outside RunPod there is nowhere to send.
    return bool(os.environ.get("RUNPOD_WEBHOOK_POST_OUTPUT"))


def _sdk_progress(job: Mapping[str, Any]) -> Progress:
    if not _on_platform():
        return lambda update: logger.debug("progress: %s", update)

    import runpod  # the SDK: only on the platform (importing it takes seconds)

    def send(update: dict[str, Any]) -> None:
        try:
            runpod.serverless.progress_update(dict(job), update)
        except Exception:  # a lost progress update must not fail the job
            logger.warning("progress update failed", exc_info=True)

    return send


# ---------------------------------------------------------------------------------- steps


def _source_failure(exc: SourceError, where: str) -> BrightIngestError:
    code = _SOURCE_CODES.get(exc.code, "source_unavailable")
    return _failure(code, str(exc), field=where, detail_code=exc.code, status=exc.status)


def _download(job: JobInput, workdir: Path, progress: Progress) -> tuple[list[str], dict[str, Any]]:
    paths: list[str] = []
    names: dict[str, str] = {}
    total, seconds, files = 0, 0.0, []
    for i, url in enumerate(job.dataset_urls):
        where = "dataset_url" if len(job.dataset_urls) == 1 else f"dataset_url[{i}]"
        progress({"phase": "download", "file": i + 1, "files": len(job.dataset_urls)})
        dest = workdir / "data" / f"{i:04d}"
        dest.mkdir(parents=True, exist_ok=True)
        try:
            got = fetch(
                url, dest, retries=DOWNLOAD_RETRIES, timeout=DOWNLOAD_TIMEOUT_S, progress=False
            )
        except SourceError as exc:
            raise _source_failure(exc, where) from exc
        paths.append(os.fspath(got.path))
        names[os.fspath(got.path)] = got.url
        total += got.bytes
        seconds += got.seconds
        files.append({"url": got.url, "bytes": got.bytes, "seconds": round(got.seconds, 3)})
    return paths, {
        "bytes": total,
        "seconds": round(seconds, 3),
        "files": files,
        "_names": names,
    }


def _rename(value: Any, names: Mapping[str, str]) -> Any:
    """Replace the local download paths by the (redacted) URLs they came from, everywhere."""
    if isinstance(value, str):
        for local, url in names.items():
            value = value.replace(local, url)
        return value
    if isinstance(value, list):
        return [_rename(v, names) for v in value]
    if isinstance(value, dict):
        return {k: _rename(v, names) for k, v in value.items()}
    return value


def _report_context(report: dict[str, Any]) -> dict[str, Any]:
    """The counts and examples an error result quotes from the ingest report."""
    keys = ("lines_read", "rows_kept", "skipped", "examples", "formats", "files")
    return {k: report[k] for k in keys if k in report}


def _ingest(
    job: JobInput, paths: list[str], names: Mapping[str, str], progress: Progress
) -> tuple[Any, dict[str, Any]]:
    import brightingest

    progress({"phase": "ingest"})
    try:
        ds = brightingest.load(paths, format=job.format, progress=False)
    except NoRowsError as exc:
        report = _rename(exc.report.to_dict(), names) if exc.report is not None else None
        raise _failure(
            "no_valid_rows",
            _rename(str(exc), names),
            detail_code=exc.code,
            report=_report_context(report) if report else None,
        ) from exc
    except FormatDetectionError as exc:
        raise _failure(
            "no_valid_rows",
            _rename(str(exc), names),
            field="format" if job.format != "auto" else None,
            detail_code=exc.code,
            candidates=exc.candidates or None,
        ) from exc
    except SourceError as exc:  # a downloaded file that cannot be read (corrupt gzip ...)
        raise _source_failure(exc, "dataset_url") from exc
    return ds, _rename(ds.report.to_dict(), names)


def _check_data(
    job: JobInput, ds: Any, report: dict[str, Any], names: Mapping[str, str], progress: Progress
) -> None:
    """Refuse to train on 0 rows or on more bad lines than ``max_bad_ratio`` allows."""
    summary = _rename(ds.report.summary_line(), names)
    logger.info("%s", summary)
    if ds.report.rows_kept == 0:  # load() raises NoRowsError first; kept as a second guard
        raise _failure(
            "no_valid_rows", "0 rows kept.", report=_report_context(report), detail_code="no_rows"
        )
    ratio = ds.report.bad_ratio
    if ratio > job.max_bad_ratio:
        reason = ds.report.most_common_reason()
        text = (
            f"{ds.report.bad_lines} of {ds.report.lines_read} lines are bad "
            f"({ratio:.2%}), over max_bad_ratio {job.max_bad_ratio:g}; refusing to train."
        )
        if reason is not None:
            category, example = reason
            text += f" Most common reason: {category}"
            if example is not None:
                text += f", e.g. {example.get('file')}:{example.get('line')}: "
                text += str(example.get("message"))
            text += "."
        text += (
            "\nHint: fix the export, or raise max_bad_ratio in the job input if these lines may "
            "be skipped."
        )
        raise _failure(
            "too_many_bad_rows",
            _rename(text, names),
            field="max_bad_ratio",
            bad_ratio=round(ratio, 6),
            max_bad_ratio=job.max_bad_ratio,
            report=_report_context(report),
        )
    progress({"phase": "ingest", "rows_kept": ds.report.rows_kept, "summary": summary})


def _train(
    job: JobInput, ds: Any, report: dict[str, Any], workdir: Path, progress: Progress
) -> Any:
    try:
        from brightingest.train import train

        config = _check_train_config(job.base_model, job.hyperparameters)
        progress({"phase": "train", "step": 0, "max_steps": config.max_steps})
        return train(
            ds,
            config,
            workdir / "adapter",
            report=report,
            progress=_TrainProgress(progress, PROGRESS_INTERVAL_S),
        )
    except Exception as exc:  # any failure of the run is the job's training_failed
        if _is_job_failure(exc):  # already a job failure (from _check_train_config)
            raise
        logger.error("training failed:\n%s", traceback.format_exc())
        raise _failure(
            "training_failed",
            f"training failed ({type(exc).__name__}): {redact_text(str(exc))}",
            detail_code=exc.code if isinstance(exc, BrightIngestError) else None,
            exception=type(exc).__name__,
        ) from exc


def _archive(adapter_dir: Path, dest: Path) -> dict[str, Any]:
    """``dest``: a ``.tar.gz`` whose top folder ``adapter/`` holds the adapter directory
    (checkpoints left out: they are resume state, not the adapter)."""

    def keep(info: tarfile.TarInfo) -> tarfile.TarInfo | None:
        parts = Path(info.name).parts
        return None if len(parts) > 1 and parts[1] == "checkpoints" else info

    with tarfile.open(dest, "w:gz") as tar:
        tar.add(adapter_dir, arcname="adapter", filter=keep)
    digest = hashlib.sha256()
    with dest.open("rb") as f:
        while chunk := f.read(1 << 20):
            digest.update(chunk)
    return {"bytes": dest.stat().st_size, "sha256": digest.hexdigest()}


def _upload(job: JobInput, adapter_dir: Path, workdir: Path, progress: Progress) -> dict[str, Any]:
    progress({"phase": "upload"})
    archive = workdir / "adapter.tar.gz"
    try:
        info = _archive(adapter_dir, archive)
    except OSError as exc:
        raise _failure(
            "upload_failed",
            f"cannot write the adapter archive: {exc.strerror or exc}.",
            detail_code="archive_failed",
        ) from exc
    try:
        sent = upload(
            archive,
            job.output_url,
            retries=UPLOAD_RETRIES,
            timeout=UPLOAD_TIMEOUT_S,
            content_type="application/gzip",
            progress=False,
        )
    except SourceError as exc:
        raise _failure(
            "upload_failed", str(exc), field="output_url", detail_code=exc.code, status=exc.status
        ) from exc
    if sent.bytes != info["bytes"]:
        raise _failure(
            "upload_failed",
            f"{sent.url}: sent {sent.bytes} bytes but the archive has {info['bytes']}.",
            field="output_url",
        )
    return {"url": sent.url, "format": "tar.gz", **info, "seconds": round(sent.seconds, 3)}


# ---------------------------------------------------------------------------------- the job


def run(
    raw_input: Any,
    *,
    progress: Progress | None = None,
    workdir: str | os.PathLike[str] | None = None,
) -> dict[str, Any]:
    """Run one job: validate, download, ingest, train, upload.

    Args:
        raw_input: The job's ``input`` object.
        progress: Receives progress updates (``{"phase": ..., ...}``); default: log only.
        workdir: Scratch directory (a fresh temporary one by default; removed afterwards).

    Returns:
        On success ``{"adapter", "training_summary", "ingest_report", "download"}``; on failure
        ``{"error": {"code", "message", ...}}`` plus the context gathered so far
        (``ingest_report``, ``download``). Never raises for a failed job.
    """
    send: Progress = progress or (lambda update: logger.debug("progress: %s", update))
    secrets = _secrets(raw_input)
    # Last line of defence: no signed URL of the input leaves in a result, whatever quoted it.
    return _rename(_run(raw_input, send, workdir), secrets)  # type: ignore[no-any-return]


def _run(raw_input: Any, send: Progress, workdir: str | os.PathLike[str] | None) -> dict[str, Any]:
    result: dict[str, Any] = {}
    scratch = Path(tempfile.mkdtemp(prefix="brightingest-job-", dir=workdir))
    try:
        job = validate_input(raw_input)
        paths, download = _download(job, scratch, send)
        names = download.pop("_names")
        result["download"] = download
        ds, report = _ingest(job, paths, names, send)
        result["ingest_report"] = report
        _check_data(job, ds, report, names, send)
        trained = _train(job, ds, report, scratch, send)
        summary = _rename(trained.summary, names)
        result["training_summary"] = summary
        result["adapter"] = _upload(job, trained.adapter_dir, scratch, send)
        send({"phase": "done"})
        return {
            "adapter": result["adapter"],
            "training_summary": summary,
            "ingest_report": report,
            "download": download,
        }
    except BrightIngestError as exc:
        if not _is_job_failure(exc):  # a library error no step mapped: still explained
            exc = _failure("internal_error", str(exc), detail_code=exc.code)
        logger.error("job failed [%s]: %s", exc.code, exc.message)
        return {"error": _error_object(exc), **result}
    except Exception as exc:  # a bug: say so in the result, the traceback goes to the log
        logger.error("internal error:\n%s", traceback.format_exc())
        error = _failure(
            "internal_error",
            f"the worker failed unexpectedly ({type(exc).__name__}: {redact_text(str(exc))}); "
            "see the worker log.",
            exception=type(exc).__name__,
        )
        return {"error": _error_object(error), **result}
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def _secrets(raw_input: Any) -> dict[str, str]:
    """Each signed URL of the input (and its query string) -> its redacted form."""
    found: list[str] = []
    if isinstance(raw_input, Mapping):
        for name in ("dataset_url", "output_url"):
            value = raw_input.get(name)
            found += [
                v for v in (value if isinstance(value, list) else [value]) if isinstance(v, str)
            ]
    out: dict[str, str] = {}
    for url in sorted(found, key=len, reverse=True):
        redacted = redact_url(url)
        if redacted != url:
            out[url] = redacted
            query = url.partition("?")[2].partition("#")[0]
            if len(query) >= 8:
                out[query] = "<redacted>"
    return out


def handler(job: dict[str, Any]) -> dict[str, Any]:
    """The RunPod serverless handler: ``job["input"]`` in, the job result out.

    Args:
        job: The RunPod job (``{"id": ..., "input": {...}}``).

    Returns:
        See :func:`run`. A result with a top-level ``error`` marks the job failed.
    """
    return run(job.get("input") if isinstance(job, Mapping) else job, progress=_sdk_progress(job))


def main() -> None:
    """Start the RunPod SDK's worker (its job loop, or ``--test_input`` local test mode).

    The SDK's local test mode exits 1 when the result has an ``error`` and 0 otherwise. The
    SDK's log level defaults to INFO here (``RUNPOD_LOG_LEVEL`` overrides it): at DEBUG the SDK
    prints the raw job input, signed URLs included.
    """
    logging.basicConfig(
        level=os.environ.get("BRIGHTINGEST_LOG_LEVEL", "INFO"),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    # The SDK logs at DEBUG by default, and at DEBUG its local test mode prints the raw job
    # input, signed URLs included: default to INFO unless the operator chose a level.
    if "RUNPOD_LOG_LEVEL" not in os.environ and "RUNPOD_DEBUG_LEVEL" not in os.environ:
        os.environ["RUNPOD_LOG_LEVEL"] = "INFO"
    import runpod  # the SDK reads RUNPOD_LOG_LEVEL when it is first imported

    runpod.serverless.start({"handler": handler})


if __name__ == "__main__":
    main()
