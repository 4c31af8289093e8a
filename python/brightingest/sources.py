"""Sources: local paths, globs, directories, standard input, URLs; downloads that fail loudly.

A paid GPU job once logged "Dataset downloaded successfully: 0.0MB" because a signed URL had
expired, and then every line "failed to parse". Nothing in this module can end that way:

- A signed URL's expiry is read from the URL (Supabase JWT ``exp``, S3 ``X-Amz-Date`` +
  ``X-Amz-Expires``, GCS ``X-Goog-Date`` + ``X-Goog-Expires``) and an expired one fails before
  any request, saying when it expired (``source_expired``).
- Error statuses raise and quote the server's message (``source_http_error``); a body that is an
  HTML/XML page or a JSON error object is never treated as data, even with status 200
  (``source_error_body``); an empty body is an error (``source_empty``); the bytes received must
  equal Content-Length (``source_size_mismatch``).
- Transient failures are retried with backoff, resuming with ``Range`` where the server allows.
- Downloads go to a temporary file beside the destination and are renamed into place when
  complete and checked, so the destination never exists half-written.
- Query strings (the signature) never appear in messages, logs or exceptions: see
  :func:`redact_url`.

Log lines go to ``logging.getLogger("brightingest.sources")``.
"""

from __future__ import annotations

import glob
import logging
import os
import re
import secrets
import shutil
import sys
import tempfile
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from types import TracebackType
from typing import IO, Any
from urllib.parse import unquote, urlsplit

from brightingest._signed import SignedUrlInfo, check_signed_url, redact_text, redact_url
from brightingest.errors import SourceError

__all__ = [
    "DATA_FILE_PATTERN",
    "FetchResult",
    "Resolved",
    "SignedUrlInfo",
    "UploadResult",
    "check_signed_url",
    "fetch",
    "is_url",
    "redact_url",
    "resolve",
    "upload",
]

logger = logging.getLogger("brightingest.sources")

#: File names a directory source contributes: JSON Lines / JSON, optionally gzip or zstd.
DATA_FILE_PATTERN = re.compile(r"\.(jsonl|ndjson|json)(\.(gz|gzip|zst|zstd))?$", re.IGNORECASE)

_SCHEME = re.compile(r"^([a-zA-Z][a-zA-Z0-9+.\-]+)://")
_GLOB_CHARS = re.compile(r"[*?\[]")
_REMOTE_HINT = 'install fsspec for remote filesystems: pip install "brightingest[remote]"'
_STDIN = "<stdin>"


def is_url(s: str) -> bool:
    """Whether ``s`` is a ``scheme://`` URL (http, https, file, s3, gs, hf, memory, ...).

    Windows drive letters (``C:\\data``) are not URLs: a scheme has at least two characters.

    Example:
        >>> is_url("https://example.com/a.jsonl"), is_url("data/a.jsonl")
        (True, False)
    """
    return isinstance(s, str) and _SCHEME.match(s) is not None


def _scheme(s: str) -> str | None:
    match = _SCHEME.match(s)
    return match.group(1).lower() if match else None


def _file_url_path(url: str) -> str:
    parts = urlsplit(url)
    if parts.netloc not in ("", "localhost"):
        raise SourceError(
            "file:// URLs with a host name are not supported.",
            code="source_unsupported",
            path=redact_url(url),
            hint="use a local path, or file:///absolute/path.",
        )
    from urllib.request import url2pathname  # lazy: urllib.request imports ssl (~6 ms)

    return url2pathname(parts.path)  # it unquotes (once)


def _auto_progress(progress: bool | None) -> bool:
    if progress is not None:
        return progress
    try:
        return sys.stderr.isatty()
    except (AttributeError, ValueError):
        return False


# ---------------------------------------------------------------------------------------------
# fetch


@dataclass(frozen=True)
class FetchResult:
    """A completed, checked download.

    Attributes:
        path: Where the data now is (the destination).
        bytes: Size in bytes (always > 0).
        seconds: Wall time of the whole fetch, retries included.
        url: The source URL, redacted (no query string).
        content_type: The Content-Type header, where there was one.
        attempts: How many requests it took (1 when nothing had to be retried).
        final_url: The redacted URL after redirects (equal to ``url`` without redirects).
    """

    path: Path
    bytes: int
    seconds: float
    url: str
    content_type: str | None
    attempts: int
    final_url: str = ""

    def summary(self) -> str:
        """One honest line, e.g. ``"Downloaded 12.4 MB in 1.3 s"`` (attempts added if > 1)."""
        from brightingest import _http  # lazy: ssl and http.client cost ~25 ms to import

        text = f"Downloaded {_http.human_bytes(self.bytes)} in {_http.human_seconds(self.seconds)}"
        if self.attempts > 1:
            text += f" ({self.attempts} attempts)"
        return text


def _temp_beside(dest: Path) -> tuple[Path, IO[bytes]]:
    """Create a hidden temporary file in ``dest``'s directory (same filesystem, so
    ``os.replace`` is atomic), with the permissions a plain ``open()`` would give."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    while True:
        tmp = dest.with_name(f".{dest.name}.{secrets.token_hex(4)}.part")
        try:
            flags = os.O_CREAT | os.O_EXCL | os.O_RDWR | getattr(os, "O_BINARY", 0)
            fd = os.open(tmp, flags, 0o666)  # the umask applies, as for open()
        except FileExistsError:  # pragma: no cover - 32 random bits collided
            continue
        return tmp, os.fdopen(fd, "w+b")


def _url_basename(url: str) -> str:
    name = unquote(urlsplit(url).path.rstrip("/").rsplit("/", 1)[-1])
    name = re.sub(r"[^\w.\-]+", "_", name).lstrip(".")
    return name or "download"


def _check_body(
    tmp: IO[bytes],
    size: int,
    where: str,
    content_type: str | None,
    min_bytes: int,
    *,
    sniff: bool,
) -> None:
    """Refuse an empty body, an HTTP error page/object (``sniff``), or one under ``min_bytes``."""
    from brightingest import _http  # lazy: ssl and http.client cost ~25 ms to import

    if size == 0:
        raise SourceError(
            "the download is empty (0 bytes).",
            code="source_empty",
            path=where,
            hint=(
                "the link may point at an empty or not yet written export; check it in the app, "
                "or ask for a fresh export link."
            ),
        )
    tmp.seek(0)
    head = tmp.read(_http.SNIFF_SIZE) if sniff else b""
    error = _http.sniff_error_body(head, total=size, content_type=content_type) if sniff else None
    if error is not None:
        raise SourceError(
            f"the server sent {error} instead of data.",
            code="source_error_body",
            path=where,
            hint=_http.http_hint(400, error)
            if "JSON" in error
            else "open the URL in a browser to see the page; the link may be expired or wrong.",
        )
    if size < min_bytes:
        raise SourceError(
            f"the download is only {_http.human_bytes(size)} (expected at least "
            f"{_http.human_bytes(min_bytes)}).",
            code="source_too_small",
            path=where,
            hint="check that the link points at the full export.",
        )


def fetch(
    url: str,
    dest: str | os.PathLike[str],
    *,
    retries: int = 4,
    timeout: float = 30.0,
    backoff: float = 0.5,
    progress: bool | None = None,
    now: datetime | None = None,
    min_bytes: int = 1,
) -> FetchResult:
    """Download ``url`` to ``dest``, checked, retried and atomically renamed into place.

    http(s) URLs are checked for an expired signature before any request, streamed to a
    temporary file beside ``dest``, checked (status, error bodies, emptiness, Content-Length)
    and renamed onto ``dest`` only when all checks pass. Other schemes (``s3://``, ``gs://``,
    ``hf://``, ``memory://`` ...) go through fsspec; ``file://`` URLs and plain paths are copied.

    Args:
        url: The source. If ``dest`` is an existing directory, the file is named after the
            URL's last path segment.
        dest: Where to put the data.
        retries: Extra attempts after a transient failure (so ``retries + 1`` requests at most).
        timeout: Seconds without any data before an attempt times out.
        backoff: First backoff wait in seconds; doubles each retry (``Retry-After`` wins).
        progress: Show a rich progress bar on stderr; ``None`` = only when stderr is a TTY.
        now: The current time for the signature check (tests); defaults to the clock.
        min_bytes: Fewer bytes than this is an error (``source_empty`` for 0 bytes,
            ``source_too_small`` otherwise).

    Returns:
        The :class:`FetchResult` (its ``url`` is redacted).

    Raises:
        SourceError: ``source_expired``, ``source_http_error``, ``source_error_body``,
            ``source_empty``, ``source_too_small``, ``source_size_mismatch``,
            ``source_timeout``, ``source_connection_failed``, ``source_not_found`` or
            ``source_unsupported``; the message names the redacted URL.

    Example:
        >>> result = fetch(signed_url, "data/train.jsonl")  # doctest: +SKIP
        >>> print(result.summary())  # doctest: +SKIP
        Downloaded 12.4 MB in 1.3 s
    """
    from brightingest import _http  # lazy: ssl and http.client cost ~25 ms to import

    if retries < 0 or timeout <= 0 or backoff < 0 or min_bytes < 0:
        raise ValueError("retries, backoff and min_bytes must be >= 0 and timeout > 0")
    url = os.fspath(url)
    dest_path = Path(dest)
    if dest_path.is_dir():
        dest_path = dest_path / _url_basename(url)
    where = redact_url(url)
    scheme = _scheme(url)
    started = time.monotonic()
    if scheme in ("http", "https"):
        check_signed_url(url, now=now)
    show = _auto_progress(progress)
    tmp_path, tmp = _temp_beside(dest_path)
    try:
        with tmp:
            if scheme in ("http", "https"):
                with _http.progress_bar(show, dest_path.name, None) as update:
                    transfer = _http.download(
                        url,
                        tmp,
                        retries=retries,
                        timeout=timeout,
                        backoff=backoff,
                        progress=update,
                        now=now,
                    )
                size, attempts = transfer.size, transfer.attempts
                content_type, final = transfer.content_type, redact_url(transfer.final_url)
            elif scheme is None or scheme == "file":
                local = _file_url_path(url) if scheme == "file" else url
                size = _copy_local(local, tmp)
                attempts, content_type, final = 1, None, where
            else:
                try:
                    size = _copy_fsspec(url, tmp, show, dest_path.name)
                except (SourceError, KeyboardInterrupt):
                    raise
                except Exception as exc:  # backends raise anything (ftp:// refused ...)
                    raise _remote_error(exc, where) from exc
                attempts, content_type, final = 1, None, where
            # Only HTTP servers answer with error pages; local and fsspec files are taken as is.
            sniff = scheme in ("http", "https")
            _check_body(tmp, size, where, content_type, min_bytes, sniff=sniff)
            tmp.flush()
            os.fsync(tmp.fileno())
        tmp_path.replace(dest_path)  # atomic: same directory, same filesystem
    except BaseException:
        tmp_path.unlink(missing_ok=True)
        raise
    result = FetchResult(
        path=dest_path,
        bytes=size,
        seconds=time.monotonic() - started,
        url=where,
        content_type=content_type,
        attempts=attempts,
        final_url=final,
    )
    via = f" (redirected to {final})" if final != where else ""
    logger.info("%s from %s%s", result.summary(), where, via)
    return result


def _copy_local(path: str, out: IO[bytes]) -> int:
    from brightingest import _http  # lazy: ssl and http.client cost ~25 ms to import

    source = Path(path)
    if not source.is_file():
        raise _not_found(path)
    with source.open("rb") as f:
        shutil.copyfileobj(f, out, _http.CHUNK_SIZE)
    return out.tell()


def _not_found(path: str) -> SourceError:
    what = "is a directory, not a file" if Path(path).is_dir() else "does not exist"
    return SourceError(
        f"{what}.",
        code="source_not_found",
        path=path,
        hint="check the path (relative paths are relative to the current directory).",
    )


def _fsspec(where: str) -> Any:
    try:
        import fsspec  # optional extra `remote`: imported only when needed
    except ImportError as exc:
        raise SourceError(
            "remote URLs other than http(s) need fsspec, which is not installed.",
            code="source_unsupported",
            path=where,
            hint=_REMOTE_HINT,
        ) from exc
    return fsspec


def _fs_for(url: str) -> tuple[Any, str]:
    """fsspec's filesystem and path for ``url``, with errors in our words."""
    where = redact_url(url)
    fsspec = _fsspec(where)
    try:
        return fsspec.core.url_to_fs(url)  # type: ignore[no-any-return]
    except ImportError as exc:
        # e.g. "Install s3fs to access S3"
        raise SourceError(
            f"the filesystem for this URL is not installed ({redact_text(str(exc))}).",
            code="source_unsupported",
            path=where,
            hint="install the fsspec backend it names (s3fs, gcsfs, huggingface_hub, ...).",
        ) from None
    except ValueError as exc:
        raise SourceError(
            f"fsspec does not know this URL scheme ({redact_text(str(exc))}).",
            code="source_unsupported",
            path=where,
            hint="use http(s)://, a local path, or a scheme fsspec supports (s3://, gs://, ...).",
        ) from None


def _remote_error(exc: Exception, where: str) -> SourceError:
    from brightingest import _http  # lazy: ssl and http.client cost ~25 ms to import

    if isinstance(exc, FileNotFoundError):
        return SourceError(
            "does not exist on the remote filesystem.",
            code="source_not_found",
            path=where,
            hint="check the bucket and key, and that your credentials can see it.",
        )
    return SourceError(
        f"cannot read it ({type(exc).__name__}: {_http._clip(redact_text(str(exc)))}).",
        code="source_error",
        path=where,
        hint="check the URL and the credentials of the remote filesystem.",
    )


def _copy_fsspec(url: str, out: IO[bytes], show: bool, label: str) -> int:
    from brightingest import _http  # lazy: ssl and http.client cost ~25 ms to import

    where = redact_url(url)
    fs, path = _fs_for(url)
    try:
        info = fs.info(path)
        if info.get("type") == "directory":
            raise IsADirectoryError(path)
        expected = info.get("size")
        expected = int(expected) if isinstance(expected, (int, float, str)) else None
        received = 0
        with _http.progress_bar(show, label, expected) as update, fs.open(path, "rb") as f:
            while chunk := f.read(_http.CHUNK_SIZE):
                out.write(chunk)
                received += len(chunk)
                update(received, expected)
    except SourceError:
        raise
    except Exception as exc:  # backends raise anything (botocore, aiohttp...)
        raise _remote_error(exc, where) from exc
    if expected is not None and received != expected:
        raise SourceError(
            f"received {received} bytes but the remote filesystem said {expected}.",
            code="source_size_mismatch",
            path=where,
            hint="the object may have changed during the copy; try again.",
        )
    return received


# ---------------------------------------------------------------------------------------------
# upload


@dataclass(frozen=True)
class UploadResult:
    """A completed upload.

    Attributes:
        url: The target URL, redacted.
        bytes: Bytes sent.
        seconds: Wall time, retries included.
        attempts: How many requests it took.
    """

    url: str
    bytes: int
    seconds: float
    attempts: int

    def summary(self) -> str:
        """e.g. ``"Uploaded 3.2 MB in 0.8 s"`` (attempts added if > 1)."""
        from brightingest import _http  # lazy: ssl and http.client cost ~25 ms to import

        text = f"Uploaded {_http.human_bytes(self.bytes)} in {_http.human_seconds(self.seconds)}"
        if self.attempts > 1:
            text += f" ({self.attempts} attempts)"
        return text


_SIZE_KEYS = ("size", "Size", "contentLength", "content_length", "ContentLength", "bytes")


def _reported_size(body: bytes) -> int | None:
    from brightingest import _http  # lazy: ssl and http.client cost ~25 ms to import

    obj = _http._single_json_object(body)
    if obj is None:
        return None
    for key in _SIZE_KEYS:
        value = obj.get(key)
        if isinstance(value, bool):
            continue
        if isinstance(value, int):
            return value
        if isinstance(value, str) and value.isdigit():
            return int(value)  # GCS JSON API returns sizes as strings
    return None


def upload(
    path: str | os.PathLike[str],
    url: str,
    *,
    retries: int = 4,
    timeout: float = 60.0,
    content_type: str = "application/octet-stream",
    progress: bool | None = None,
) -> UploadResult:
    """PUT a local file to a signed upload URL (or ``fsspec`` put for other schemes).

    The signature is checked first; the request carries Content-Length; 5xx, 429 and connection
    errors are retried with backoff. If the server's 2xx response states a size (JSON ``size``,
    ``contentLength`` ...), it must equal the file's.

    Args:
        path: The local file.
        url: A signed http(s) upload URL, or an fsspec URL (``s3://bucket/key`` ...).
        retries: Extra attempts after a transient failure.
        timeout: Seconds without progress before an attempt times out.
        content_type: The Content-Type header sent.
        progress: Show a rich progress bar on stderr; ``None`` = only when stderr is a TTY.

    Returns:
        The :class:`UploadResult` (its ``url`` is redacted).

    Raises:
        SourceError: ``upload_failed`` (quoting the server's error message),
            ``source_expired`` or ``source_not_found`` (the local file).
    """
    from brightingest import _http  # lazy: ssl and http.client cost ~25 ms to import

    if retries < 0 or timeout <= 0:
        raise ValueError("retries must be >= 0 and timeout > 0")
    local = Path(path)
    where = redact_url(url)
    if not local.is_file():
        raise _not_found(os.fspath(path))
    size = local.stat().st_size
    if size == 0:
        logger.warning("Uploading an empty file (%s) to %s", local, where)
    scheme = _scheme(url)
    started = time.monotonic()
    show = _auto_progress(progress)
    if scheme in ("http", "https"):
        check_signed_url(url)
        with _http.progress_bar(show, local.name, size) as update:
            transfer = _http.put(
                url,
                lambda: local.open("rb"),
                size,
                retries=retries,
                timeout=timeout,
                backoff=0.5,
                content_type=content_type,
                progress=update,
            )
        attempts = transfer.attempts
        reported = _reported_size(transfer.response)
        if reported is not None and reported != size:
            raise SourceError(
                f"upload failed: sent {size} bytes but the server stored {reported}.",
                code="upload_failed",
                path=where,
                hint="try again; if it persists the server truncates uploads.",
            )
    elif scheme is None or scheme == "file":
        raise SourceError(
            "upload needs an http(s) or fsspec URL, not a local path.",
            code="source_unsupported",
            path=where,
            hint="copy local files with shutil, or pass the signed upload URL.",
        )
    else:
        attempts = 1
        fs, remote = _fs_for(url)
        try:
            fs.put_file(os.fspath(local), remote)
            stored = fs.size(remote)
        except Exception as exc:  # backends raise anything
            error = _remote_error(exc, where)
            raise SourceError(
                f"upload failed: {error.message}", code="upload_failed", path=where, hint=error.hint
            ) from exc
        if stored is not None and int(stored) != size:
            raise SourceError(
                f"upload failed: sent {size} bytes but the remote filesystem has {stored}.",
                code="upload_failed",
                path=where,
                hint="try again.",
            )
    result = UploadResult(
        url=where, bytes=size, seconds=time.monotonic() - started, attempts=attempts
    )
    logger.info("%s to %s", result.summary(), where)
    return result


# ---------------------------------------------------------------------------------------------
# resolve


@dataclass
class Resolved:
    """Local files to read, in input order; a context manager that removes temporary copies.

    Attributes:
        paths: Local files to read, in order.
        names: What to call each one in reports and errors: the path as given, the redacted URL,
            or ``"<stdin>"``.
        fetched: The downloads made to produce some of ``paths``.
    """

    paths: list[str] = field(default_factory=list)
    names: list[str] = field(default_factory=list)
    fetched: list[FetchResult] = field(default_factory=list)
    _cleanup: list[Path] = field(default_factory=list, repr=False)
    _pid: int = field(default_factory=os.getpid, repr=False)

    def __enter__(self) -> Resolved:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def __len__(self) -> int:
        return len(self.paths)

    def close(self) -> None:
        """Remove temporary downloads and the standard-input spool (idempotent).

        Only in the process that made them: a ``fork()``ed child (a DataLoader worker, say)
        closing its copy must not delete files its parent is still reading.
        """
        if os.getpid() != self._pid:
            self._cleanup.clear()
            return
        while self._cleanup:
            target = self._cleanup.pop()
            if target.is_dir():
                shutil.rmtree(target, ignore_errors=True)
            else:
                target.unlink(missing_ok=True)

    def _add(self, path: str, name: str) -> None:
        self.paths.append(path)
        self.names.append(name)


class _Resolver:
    """Builds a :class:`Resolved`, one source item at a time."""

    def __init__(
        self,
        progress: bool | None,
        workdir: str | os.PathLike[str] | None,
        fetch_kwargs: dict[str, Any],
    ) -> None:
        self.out = Resolved()
        self.progress = progress
        self.workdir = Path(workdir) if workdir is not None else None
        self.fetch_kwargs = fetch_kwargs
        self._tmp: Path | None = None
        self._seen: set[str] = set()

    def temp_dir(self) -> Path:
        if self._tmp is None:
            if self.workdir is not None:
                self.workdir.mkdir(parents=True, exist_ok=True)
            self._tmp = Path(tempfile.mkdtemp(prefix="brightingest-", dir=self.workdir))
            self.out._cleanup.append(self._tmp)
        return self._tmp

    def add(self, key: str, path: str, name: str) -> None:
        if key in self._seen:
            logger.info("Reading %s once: it was named more than once", name)
            return
        self._seen.add(key)
        self.out._add(path, name)

    def local_key(self, path: str) -> str:
        return "file:" + os.path.realpath(path)

    def item(self, item: str) -> None:
        if item == "-":
            if "stdin" not in self._seen:
                self._seen.add("stdin")
                self.out._add(self.stdin(), _STDIN)
            return
        scheme = _scheme(item)
        if scheme == "file":
            self.local(_file_url_path(item), display=item)
        elif scheme in ("http", "https"):
            self.download(item)
        elif scheme is not None:
            self.remote(item)
        else:
            self.local(item, display=item)

    def stdin(self) -> str:
        from brightingest import _http  # lazy: ssl and http.client cost ~25 ms to import

        stream = sys.stdin
        if stream is None:
            raise SourceError(
                "standard input is closed.", code="source_not_found", path=_STDIN, hint=None
            )
        isatty = getattr(stream, "isatty", None)
        if callable(isatty) and isatty():
            raise SourceError(
                "standard input is a terminal, not piped data.",
                code="source_not_found",
                path=_STDIN,
                hint="pipe a file in, e.g. `cat data.jsonl | python -m brightingest ... -`.",
            )
        raw: Any = getattr(stream, "buffer", stream)
        target = self.temp_dir() / "stdin"
        size = _spool(raw, target)
        if size == 0:
            raise SourceError(
                "standard input is empty (0 bytes).",
                code="source_empty",
                path=_STDIN,
                hint="pipe a file in, e.g. `cat data.jsonl | python -m brightingest ... -`.",
            )
        logger.debug("Read %s from standard input", _http.human_bytes(size))
        return os.fspath(target)

    def pipe(self, item: str, display: str) -> None:
        """A named pipe or device (``<(zcat a.gz)``, ``/dev/stdin``): read once, into a spool,
        so that the format sample and the read see the same bytes."""
        key = self.local_key(item)
        if key in self._seen:
            return
        target = self.temp_dir() / f"pipe-{len(self.out.paths):04d}"
        try:
            with Path(item).open("rb") as raw:
                size = _spool(raw, target)
        except OSError as exc:
            raise SourceError(
                f"cannot read it ({exc.strerror or exc}).",
                code="source_unreadable",
                path=display,
                hint="check that the pipe or device can be read.",
            ) from exc
        logger.debug("Read %d bytes from %s", size, display)
        self.add(key, os.fspath(target), display)

    def download(self, url: str) -> None:
        key = "url:" + url
        if key in self._seen:
            return
        index = len(self.out.fetched)
        dest = self.temp_dir() / f"{index:04d}-{_url_basename(url)}"
        result = fetch(url, dest, progress=self.progress, **self.fetch_kwargs)
        self.out.fetched.append(result)
        self.add(key, os.fspath(result.path), result.url)

    def remote(self, url: str) -> None:
        where = redact_url(url)
        try:
            fs, path = _fs_for(url)
            if _GLOB_CHARS.search(path):
                matches = sorted(p for p in fs.glob(path) if fs.isfile(p))
                if not matches:
                    raise _nothing_matched(where, "pattern")
                urls = [fs.unstrip_protocol(p) for p in matches]
            elif fs.isdir(path):
                names = [p for p in fs.ls(path, detail=False) if _is_data_file(p)]
                if not names:
                    raise _nothing_matched(where, "directory")
                urls = [fs.unstrip_protocol(p) for p in sorted(names)]
            else:
                urls = [url]
        except SourceError:
            raise
        except Exception as exc:  # backends raise anything
            raise _remote_error(exc, where) from exc
        for one in urls:
            try:
                self.download(one)
            except SourceError:
                raise
            except Exception as exc:  # the backend again, while copying (ftp://, zip://, ...)
                raise _remote_error(exc, redact_url(one)) from exc

    def local(self, item: str, *, display: str) -> None:
        if not item.strip():  # Path("") is the current directory: never read it by accident
            raise SourceError(
                "an empty source name.",
                code="source_not_found",
                path=repr(item),
                hint="pass a file, directory, glob or URL (an unset variable expands to nothing).",
            )
        path = Path(item)
        if path.is_file():
            self.add(self.local_key(item), item, display)
        elif path.is_dir():
            files = sorted(
                (
                    entry
                    for entry in path.iterdir()
                    if entry.is_file() and _is_data_file(entry.name)
                ),
                key=lambda entry: entry.name,
            )
            files = [e for e in files if not _is_side_file(str(e))]
            if not files:
                raise _empty_directory(path, display)
            _note_subdirectories(path)
            for entry in files:
                joined = str(Path(item) / entry.name)
                self.add(self.local_key(joined), joined, joined)
        elif path.exists():  # neither a file nor a directory: a pipe or a device
            self.pipe(item, display)
        elif _GLOB_CHARS.search(item):
            # glob.glob, not Path.glob: the pattern may be absolute and may contain `**`.
            found = glob.glob(item, recursive=True)  # noqa: PTH207
            matches = sorted(m for m in found if Path(m).is_file() and not _is_side_file(m))
            if not matches:
                raise _nothing_matched(display, "pattern")
            for match in matches:
                self.add(self.local_key(match), match, match)
        else:
            raise _not_found(display)


def _note_subdirectories(path: Path) -> None:
    """A directory is read one level deep; say so when data files lie deeper."""
    deeper = sorted(
        sub.name
        for sub in path.iterdir()
        if sub.is_dir()
        and not sub.name.startswith(".")
        and any(e.is_file() and _is_data_file(e.name) for e in sub.iterdir())
    )
    if deeper:
        logger.info(
            "Not reading the subdirectories of %s (data files in %s): pass %s to include them",
            path,
            ", ".join(deeper[:3]) + (", ..." if len(deeper) > 3 else ""),
            path / "**" / "*.jsonl",
        )


def _spool(raw: Any, target: Path) -> int:
    """Copy a binary (or text) stream into ``target``; returns the bytes written."""
    from brightingest import _http  # lazy: ssl and http.client cost ~25 ms to import

    size = 0
    with target.open("wb") as out:
        while chunk := raw.read(_http.CHUNK_SIZE):
            data = chunk.encode("utf-8") if isinstance(chunk, str) else chunk
            out.write(data)
            size += len(data)
    return size


#: The suffix of the side files that ``policy="quarantine"`` writes by default.
QUARANTINE_SUFFIX = ".quarantine.jsonl"


def _is_side_file(path: str) -> bool:
    """A quarantine side file found by a directory or a glob: bad lines of an earlier read, which
    must not come back as data (they are read when named on their own)."""
    if not path.endswith(QUARANTINE_SUFFIX):
        return False
    logger.info("Not reading %s: a quarantine file (name it on its own to read it)", path)
    return True


def _is_data_file(name: str) -> bool:
    base = name.rstrip("/").rsplit("/", 1)[-1]
    return not base.startswith(".") and DATA_FILE_PATTERN.search(base) is not None


def _nothing_matched(display: str, what: str) -> SourceError:
    if what == "pattern":
        message = "the pattern matches no files."
        hint = "check the pattern; use ** for subdirectories (e.g. data/**/*.jsonl)."
    else:
        message = (
            "the directory has no data files (*.jsonl, *.ndjson, *.json, optionally .gz/.zst)."
        )
        hint = "point at the files themselves, or use a glob pattern."
    return SourceError(message, code="source_not_found", path=display, hint=hint)


def _empty_directory(path: Path, display: str) -> SourceError:
    others = sorted(e.name for e in path.iterdir() if not e.name.startswith("."))
    seen = (
        f" (it holds {len(others)} other entries, e.g. {others[0]!r})"
        if others
        else " (it is empty)"
    )
    return SourceError(
        f"the directory has no data files (*.jsonl, *.ndjson, *.json, optionally .gz/.zst){seen}.",
        code="source_not_found",
        path=display,
        hint="point at the files themselves, or use a glob pattern.",
    )


def resolve(
    sources: str | os.PathLike[str] | Sequence[str | os.PathLike[str]],
    *,
    progress: bool | None = None,
    workdir: str | os.PathLike[str] | None = None,
    **fetch_kwargs: Any,
) -> Resolved:
    """Turn paths, globs, directories, ``-`` and URLs into a list of local files to read.

    Each item is, in this order of precedence: ``"-"`` (standard input, spooled in binary to a
    temporary file, so gzip/zstd input works); an http(s) or fsspec URL (fetched to a temporary
    directory with :func:`fetch`; fsspec globs and directories are expanded); a ``file://`` URL
    or a path that exists; a directory (its data files, by name: ``*.jsonl``, ``*.ndjson``,
    ``*.json``, optionally ``.gz``/``.zst``/``.zstd``; hidden files skipped); a glob pattern
    (``*``, ``?``, ``[...]``; ``**`` recurses), sorted. Input order is kept and duplicates are
    dropped. The result is never empty.

    Args:
        sources: One source or a sequence of them.
        progress: Progress bars for downloads; ``None`` = only when stderr is a TTY.
        workdir: Where temporary downloads go (a fresh subdirectory; default: the system's).
        **fetch_kwargs: Passed to :func:`fetch` (``retries``, ``timeout``, ``min_bytes`` ...).

    Returns:
        A :class:`Resolved`; use it as a context manager to remove temporary files.

    Raises:
        SourceError: ``source_not_found`` for a missing path or a glob/directory matching
            nothing, or any :func:`fetch` error.

    Example:
        >>> with resolve(["data/", "extra/*.jsonl.gz"]) as src:  # doctest: +SKIP
        ...     reader = _core.read_jsonl(src.paths, names=src.names)
    """
    items: list[str]
    if isinstance(sources, (str, os.PathLike)):
        items = [os.fspath(sources)]
    elif isinstance(sources, (bytes, Mapping)) or not isinstance(sources, Iterable):
        raise TypeError(
            f"sources must be a path, a URL, '-' or a list of them, not {type(sources).__name__}"
        )
    else:
        items = []
        for one in sources:
            if not isinstance(one, (str, os.PathLike)):
                raise TypeError(f"each source must be a str or a path, not {type(one).__name__}")
            items.append(os.fspath(one))
    if not items:
        raise SourceError(
            "no sources given.", code="source_not_found", hint="pass a path, glob, URL or '-'."
        )
    resolver = _Resolver(progress, workdir, fetch_kwargs)
    try:
        for item in items:
            resolver.item(item)
    except BaseException:
        resolver.out.close()
        raise
    return resolver.out
