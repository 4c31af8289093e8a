"""HTTP transfers with checks (private; ``sources.fetch`` and ``sources.upload`` are the API).

Standard library only (``urllib.request`` / ``http.client``) plus ``rich`` for progress bars.
What this module guarantees for a download:

- non-2xx statuses raise, quoting the server's JSON/XML error message;
- transient failures (connection reset or refused, timeouts, 5xx, 429, a body cut short of its
  Content-Length) are retried with exponential backoff; ``Retry-After`` is honoured up to
  :data:`RETRY_AFTER_CAP` seconds; a partial body is resumed with ``Range: bytes=N-`` when the
  server supports ranges, otherwise the download restarts;
- the number of bytes received equals Content-Length (or Content-Range's total);
- a body that is an HTML/XML page or a JSON error object is never treated as data (see
  :func:`sniff_error_body`), whatever the status code said.

Every URL that reaches a message or log line goes through ``redact_url`` first.
"""

from __future__ import annotations

import base64
import html
import http.client
import json
import logging
import re
import socket
import ssl
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from email.message import Message
from email.utils import parsedate_to_datetime
from typing import IO, Any

from brightingest._signed import check_signed_url, redact_text, redact_url
from brightingest.errors import SourceError

logger = logging.getLogger("brightingest.sources")

#: Bytes read per ``read()`` call while streaming a body.
CHUNK_SIZE = 256 * 1024
#: How much of a body is inspected for error pages; a JSON error object must fit in it.
SNIFF_SIZE = 64 * 1024
#: The longest wait honoured from a ``Retry-After`` header, in seconds.
RETRY_AFTER_CAP = 60.0
#: The longest exponential-backoff wait, in seconds.
MAX_BACKOFF = 30.0
#: Statuses worth retrying: request timeout, rate limiting and server-side failures.
TRANSIENT_STATUSES = frozenset({408, 425, 429, 500, 502, 503, 504})

USER_AGENT = "brightingest (python urllib)"

# Indirection so that tests can observe backoff waits without sleeping.
_sleep: Callable[[float], None] = time.sleep

ProgressFn = Callable[[int, "int | None"], None]


# ---------------------------------------------------------------------------------------------
# Human units


def human_bytes(n: int) -> str:
    """``n`` bytes in decimal units: ``"512 bytes"``, ``"1.2 kB"``, ``"12.4 MB"``, ``"3.1 GB"``."""
    if n < 1000:
        return "1 byte" if n == 1 else f"{n} bytes"
    value = float(n)
    for unit in ("kB", "MB", "GB", "TB"):
        value /= 1000.0
        if value < 999.95 or unit == "TB":
            return f"{value:.1f} {unit}"
    raise AssertionError("unreachable")  # pragma: no cover


def human_seconds(seconds: float) -> str:
    """A duration as ``"45 ms"``, ``"1.3 s"`` or ``"2 min 5 s"``."""
    if seconds < 0.1:
        return f"{seconds * 1000:.0f} ms"
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, rest = divmod(int(round(seconds)), 60)
    return f"{minutes} min {rest} s"


# ---------------------------------------------------------------------------------------------
# Error bodies

_ERROR_MARKER_KEYS = frozenset(
    {"error", "errors", "statuscode", "status_code", "error_code", "errorcode", "error_description"}
)
_ERROR_OBJECT_KEYS = _ERROR_MARKER_KEYS | {
    "message",
    "msg",
    "code",
    "status",
    "detail",
    "details",
    "hint",
    "requestid",
    "request_id",
    "traceid",
    "trace_id",
    "resource",
    "timestamp",
    "path",
    "title",
    "type",
    "key",
    "bucketname",
    "hostid",
}


def _clip(text: str, limit: int = 200) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _decode(body: bytes) -> str:
    return body.decode("utf-8", errors="replace").lstrip("\ufeff")


def _single_json_object(body: bytes) -> dict[str, Any] | None:
    """The body as one JSON object, or ``None`` if it is anything else (e.g. two JSONL rows)."""
    try:
        value = json.loads(_decode(body))
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


def is_error_object(obj: dict[str, Any]) -> bool:
    """Whether a JSON object looks like a storage/API error rather than a training row.

    It must use only error-ish keys (``error``, ``statusCode``, ``message``, ``code``, ...) and
    include a marker: ``error``/``errors``/``statusCode``/``error_description``, or ``code`` or
    ``status`` together with ``message``, or be just ``{"message": ...}`` / ``{"detail": ...}``.
    """
    keys = {str(k).lower() for k in obj}
    if not keys or not keys <= _ERROR_OBJECT_KEYS:
        return False
    if keys & _ERROR_MARKER_KEYS:
        return True
    if keys & {"code", "status"} and keys & {"message", "msg"}:
        return True
    return keys in ({"message"}, {"detail"}, {"msg"})


def _text_of(value: Any) -> str | None:
    if value is None or isinstance(value, (dict, list)):
        return None
    return str(value)


def describe_json_error(obj: dict[str, Any]) -> str:
    """``InvalidJWT: "exp" claim timestamp check failed`` from a JSON error object."""
    lowered = {str(k).lower(): v for k, v in obj.items()}
    nested = lowered.get("error")
    if isinstance(nested, dict):  # GCS/Google style {"error": {"code": 403, "message": ...}}
        inner = {str(k).lower(): v for k, v in nested.items()}
        lowered = {**lowered, **inner, "error": inner.get("status")}
    name = next(
        (
            t
            for k in ("error", "error_code", "errorcode", "code", "title")
            if (t := _text_of(lowered.get(k)))
        ),
        None,
    )
    message = next(
        (
            t
            for k in ("message", "error_description", "msg", "detail")
            if (t := _text_of(lowered.get(k)))
        ),
        None,
    )
    if name and message and name != message:
        text = f"{name}: {message}"
    else:
        text = name or message or json.dumps(obj, ensure_ascii=False)
    return _clip(redact_text(text))


_XML_FIELD = re.compile(r"<(Code|Message)>(.*?)</\1>", re.DOTALL | re.IGNORECASE)
_HTML_TITLE = re.compile(r"<(title|h1)[^>]*>(.*?)</\1\s*>", re.DOTALL | re.IGNORECASE)
_TAG = re.compile(r"<[^>]+>")


def describe_markup(text: str) -> tuple[str, str | None]:
    """(``"an HTML page"`` or ``"an XML document"``, the error it names or ``None``)."""
    lowered = text[:2048].lower()
    if "<html" in lowered or "<!doctype html" in lowered:
        match = _HTML_TITLE.search(text)
        detail = html.unescape(_TAG.sub("", match.group(2))) if match else None
        return "an HTML page", _clip(redact_text(detail)) if detail and detail.strip() else None
    fields = {m.group(1).lower(): html.unescape(m.group(2)) for m in _XML_FIELD.finditer(text)}
    parts = [fields[k].strip() for k in ("code", "message") if fields.get(k, "").strip()]
    return "an XML document", _clip(redact_text(": ".join(parts))) if parts else None


def sniff_error_body(head: bytes, *, total: int, content_type: str | None = None) -> str | None:
    """Describe a response body that is an error page or error object; ``None`` if it may be data.

    Training data (JSONL, plain or compressed) never starts with ``<``, so a body that does is
    an HTML page or an XML error document. A JSON error object is a body that is one single JSON
    object (nothing else) with error-ish keys only: ``{"statusCode": "400", "error": ...,
    "message": ...}``. A JSONL file whose only line is a training row is therefore data.

    Args:
        head: The first bytes of the body (up to :data:`SNIFF_SIZE`).
        total: The body's full size in bytes.
        content_type: The response's Content-Type header, if any (used in the description).

    Returns:
        e.g. ``'a JSON error object (InvalidJWT: "exp" claim timestamp check failed)'``.
    """
    start = head.lstrip(b"\xef\xbb\xbf").lstrip()
    if start.startswith(b"<"):
        kind, detail = describe_markup(_decode(head))
        if content_type and "html" in content_type.lower():
            kind = "an HTML page"
        return f"{kind} ({detail})" if detail else kind
    if start.startswith(b"{") and total <= len(head):
        obj = _single_json_object(head)
        if obj is not None and is_error_object(obj):
            return f"a JSON error object ({describe_json_error(obj)})"
    return None


def server_message(body: bytes) -> str | None:
    """The error message a server put in an error response body, if one can be found."""
    start = body.lstrip(b"\xef\xbb\xbf").lstrip()
    if not start:
        return None
    if start.startswith(b"<"):
        return describe_markup(_decode(body))[1]
    if start.startswith(b"{"):
        obj = _single_json_object(body)
        if obj is not None:
            return describe_json_error(obj)
    text = _decode(start)[:1000]
    readable = all(c.isprintable() or c.isspace() for c in text)
    return _clip(redact_text(text)) if readable else None


def _status_text(status: int) -> str:
    try:
        return f"HTTP {status} {http.HTTPStatus(status).phrase}"
    except ValueError:
        return f"HTTP {status}"


_SIGNATURE_WORDS = re.compile(
    r"(?i)jwt|expired|signature|token|\bexp\b|request has expired|accessdenied|credential"
)


def http_hint(status: int, message: str | None, *, upload: bool = False) -> str:
    """What to do about an HTTP error status."""
    if status in (400, 401, 403) and message and _SIGNATURE_WORDS.search(message):
        return (
            "the signed link was rejected (expired or invalid signature); ask the app for a "
            "fresh export link or re-sign the URL, then run again."
        )
    if status in (401, 403):
        return "the URL lacks valid credentials; check that it is the full signed link."
    if status == 404:
        what = "upload target" if upload else "object"
        return f"check the URL; the {what} may have been deleted or moved."
    if status == 429:
        return "the server is rate limiting; wait a while, or pass a larger retries=/backoff=."
    if status >= 500:
        return "the server kept failing; try again later, or pass a larger retries=."
    return "check the URL."


# ---------------------------------------------------------------------------------------------
# Progress


@contextmanager
def progress_bar(enabled: bool, description: str, total: int | None) -> Iterator[ProgressFn]:
    """A rich progress bar on stderr (bytes, rate, time left), or a no-op when disabled.

    Yields:
        ``update(completed, total)``.
    """
    if not enabled:
        yield lambda completed, total: None
        return
    from rich.console import Console
    from rich.markup import escape
    from rich.progress import (
        BarColumn,
        DownloadColumn,
        Progress,
        TextColumn,
        TimeRemainingColumn,
        TransferSpeedColumn,
    )

    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        DownloadColumn(),
        TransferSpeedColumn(),
        TimeRemainingColumn(),
        console=Console(stderr=True),
    ) as bar:
        task = bar.add_task(escape(description), total=total)

        def update(completed: int, new_total: int | None) -> None:
            bar.update(task, completed=completed, total=new_total)

        yield update


# ---------------------------------------------------------------------------------------------
# Requests


class _CheckedRedirects(urllib.request.HTTPRedirectHandler):
    """Follows redirects like the default handler, checking each target's signature first."""

    def __init__(self, now: datetime | None) -> None:
        self._now = now

    def redirect_request(
        self,
        req: urllib.request.Request,
        fp: IO[bytes],
        code: int,
        msg: str,
        headers: http.client.HTTPMessage,
        newurl: str,
    ) -> urllib.request.Request | None:
        logger.debug("HTTP %d redirect to %s", code, redact_url(newurl))
        try:
            check_signed_url(newurl, now=self._now)
        except SourceError:
            fp.close()  # urllib closes it only after a successful redirect_request
            raise
        return super().redirect_request(req, fp, code, msg, headers, newurl)


def _opener(now: datetime | None) -> urllib.request.OpenerDirector:
    return urllib.request.build_opener(_CheckedRedirects(now))


def _split_userinfo(url: str) -> tuple[str, dict[str, str]]:
    """``http://user:pw@host/p`` -> (``http://host/p``, Basic Authorization header).

    urllib would take ``user:pw@host`` for the host name, so credentials move to a header.
    """
    parts = urllib.parse.urlsplit(url)
    if parts.username is None and parts.password is None:
        return url, {}
    netloc = parts.netloc.rsplit("@", 1)[1]
    user = urllib.parse.unquote(parts.username or "")
    password = urllib.parse.unquote(parts.password or "")
    token = base64.b64encode(f"{user}:{password}".encode()).decode("ascii")
    return urllib.parse.urlunsplit(parts._replace(netloc=netloc)), {
        "Authorization": f"Basic {token}"
    }


@dataclass
class _Failure:
    """Why an attempt failed; the last one becomes the error once retries are spent."""

    code: str
    what: str
    status: int | None = None
    transient: bool = True
    retry_after: float | None = None
    hint: str | None = None


def _retry_after(headers: Message | None) -> float | None:
    value = headers.get("Retry-After") if headers is not None else None
    if not value:
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        seconds = when.timestamp() - time.time()
    return max(0.0, min(seconds, RETRY_AFTER_CAP))


def _read_capped(fp: IO[bytes] | None, limit: int = SNIFF_SIZE) -> bytes:
    if fp is None:
        return b""
    try:
        return fp.read(limit)
    except (OSError, http.client.HTTPException):
        return b""


def _status_failure(status: int, headers: Message | None, body: bytes, upload: bool) -> _Failure:
    message = server_message(body)
    what = _status_text(status)
    if message:
        what = f'{what}; the server said "{message}"'
    return _Failure(
        code="upload_failed" if upload else "source_http_error",
        what=what,
        status=status,
        transient=status in TRANSIENT_STATUSES,
        retry_after=_retry_after(headers) if status in (429, 503) else None,
        hint=http_hint(status, message, upload=upload),
    )


def _network_failure(exc: BaseException, upload: bool, timeout: float) -> _Failure:
    reason: object = exc
    if isinstance(exc, urllib.error.URLError) and isinstance(exc.reason, BaseException):
        reason = exc.reason
    if isinstance(reason, TimeoutError):
        return _Failure(
            code="upload_failed" if upload else "source_timeout",
            what=f"timed out (no data for {timeout:g} s)",
            hint="the server is slow or unreachable; pass a larger timeout= or retries=.",
        )
    if isinstance(reason, socket.gaierror):
        return _Failure(
            code="upload_failed" if upload else "source_connection_failed",
            what=f"cannot resolve the host name ({reason.strerror or reason})",
            transient=False,
            hint="check the URL's host name and your network connection.",
        )
    if isinstance(reason, ssl.SSLError):
        return _Failure(
            code="upload_failed" if upload else "source_connection_failed",
            what=f"TLS failed ({redact_text(str(reason))})",
            transient=False,
            hint="check the system's CA certificates (e.g. install ca-certificates / certifi).",
        )
    detail = reason.strerror if isinstance(reason, OSError) and reason.strerror else None
    name = type(reason).__name__
    text = detail or redact_text(str(reason)) or name
    return _Failure(
        code="upload_failed" if upload else "source_connection_failed",
        what=f"connection failed ({_clip(text, 120)})",
        hint="check your network connection; the server may be down.",
    )


def _wait(failure: _Failure, attempt: int, attempts: int, backoff: float, where: str) -> None:
    delay = min(backoff * (2 ** (attempt - 1)), MAX_BACKOFF)
    if failure.retry_after is not None:
        delay = failure.retry_after
    logger.warning(
        "Attempt %d/%d for %s failed: %s; retrying in %s",
        attempt,
        attempts,
        where,
        failure.what,
        human_seconds(delay),
    )
    if delay > 0:
        _sleep(delay)


def _give_up(failure: _Failure, attempt: int, verb: str, where: str) -> SourceError:
    after = f" after {attempt} attempts" if attempt > 1 else ""
    return SourceError(
        f"{verb} failed{after}: {failure.what}.",
        code=failure.code,
        status=failure.status,
        path=where,
        hint=failure.hint,
    )


def _parse_content_range(value: str | None) -> tuple[int | None, int | None]:
    """``bytes 100-199/1000`` -> (100, 1000); unknown parts are ``None``."""
    match = re.fullmatch(r"\s*bytes\s+(\d+)-\d+/(\d+|\*)\s*", value or "")
    if not match:
        return None, None
    total = None if match.group(2) == "*" else int(match.group(2))
    return int(match.group(1)), total


def _int_header(headers: Message, name: str) -> int | None:
    value = headers.get(name)
    try:
        return int(value) if value is not None else None
    except ValueError:
        return None


@dataclass(frozen=True)
class Transfer:
    """What :func:`download` or :func:`put` achieved."""

    size: int
    attempts: int
    content_type: str | None
    final_url: str
    response: bytes = b""


@dataclass
class _Resume:
    """Download state carried from one attempt to the next."""

    received: int = 0
    total: int | None = None
    ranges: bool = False
    etag: str | None = None


def _receive(
    response: http.client.HTTPResponse,
    out: IO[bytes],
    state: _Resume,
    progress: ProgressFn,
    timeout: float,
) -> _Failure | None:
    """Write one response's body into ``out`` at the right offset; say why it fell short."""
    headers = response.headers
    length = _int_header(headers, "Content-Length")
    if response.status == 206:
        start, range_total = _parse_content_range(headers.get("Content-Range"))
        if start is None or start > state.received:
            state.ranges = False
            return _Failure(
                "source_size_mismatch", "the server sent a range that was not asked for"
            )
        state.received = start
        state.total = range_total
        if state.total is None and length is not None:
            state.total = start + length
        state.ranges = True
    else:
        state.received = 0
        state.total = length
        state.ranges = headers.get("Accept-Ranges", "").strip().lower() == "bytes"
        tag = headers.get("ETag")
        state.etag = tag if tag and not tag.startswith("W/") else None
    out.seek(state.received)
    out.truncate()
    progress(state.received, state.total)
    try:
        # read1: return what has arrived, so that a stall keeps the bytes received before it.
        while chunk := response.read1(CHUNK_SIZE):
            out.write(chunk)
            state.received += len(chunk)
            progress(state.received, state.total)
    except (OSError, http.client.HTTPException) as exc:
        failure = _network_failure(exc, upload=False, timeout=timeout)
        failure.what += f" after {human_bytes(state.received)}"
        if state.total is not None:
            failure.what += f" of {human_bytes(state.total)}"
        return failure
    if state.total is not None and state.received != state.total:
        return _Failure(
            "source_size_mismatch",
            f"received {state.received} bytes but Content-Length said {state.total}",
            hint="the connection was cut before the end; try again, or pass a larger retries=.",
        )
    return None


def download(
    url: str,
    out: IO[bytes],
    *,
    retries: int,
    timeout: float,
    backoff: float,
    progress: ProgressFn,
    now: datetime | None = None,
) -> Transfer:
    """Stream ``url`` into ``out`` (a seekable binary file), retrying and resuming.

    Checks the status and the size; the caller sniffs the body for error pages.

    Raises:
        SourceError: codes ``source_http_error``, ``source_timeout``,
            ``source_connection_failed``, ``source_size_mismatch`` or ``source_expired`` (a
            redirect to an expired signed URL).
    """
    where = redact_url(url)
    opener = _opener(now)
    url, auth = _split_userinfo(url)
    attempts = retries + 1
    state = _Resume()
    attempt = 0
    while True:
        attempt += 1
        headers = {"User-Agent": USER_AGENT, "Accept-Encoding": "identity", **auth}
        resuming = state.ranges and state.received > 0
        if resuming:
            headers["Range"] = f"bytes={state.received}-"
            if state.etag:
                headers["If-Range"] = state.etag
            logger.info("Resuming %s at byte %d", where, state.received)
        failure: _Failure | None
        try:
            response = opener.open(urllib.request.Request(url, headers=headers), timeout=timeout)
        except SourceError:  # a redirect to an expired signed URL
            raise
        except urllib.error.HTTPError as exc:
            with exc:
                body = _read_capped(exc.fp)
            if exc.code == 416 and resuming:
                state.ranges = False
                failure = _Failure(
                    "source_size_mismatch", "the server refused to resume (HTTP 416)"
                )
            else:
                failure = _status_failure(exc.code, exc.headers, body, upload=False)
        except (OSError, http.client.HTTPException) as exc:  # URLError is an OSError
            failure = _network_failure(exc, upload=False, timeout=timeout)
        else:
            with response:
                failure = _receive(response, out, state, progress, timeout)
                if failure is None:
                    content_type = response.headers.get("Content-Type")
                    return Transfer(state.received, attempt, content_type, response.url)
        if not failure.transient or attempt >= attempts:
            raise _give_up(failure, attempt, "download", where)
        _wait(failure, attempt, attempts, backoff, where)


class _ProgressReader:
    """A file wrapper that reports how much of it http.client has read (for upload bars)."""

    def __init__(self, raw: IO[bytes], progress: ProgressFn, total: int) -> None:
        self._raw = raw
        self._progress = progress
        self._total = total
        self._done = 0

    def read(self, size: int = -1) -> bytes:
        data = self._raw.read(size)
        self._done += len(data)
        self._progress(self._done, self._total)
        return data


def put(
    url: str,
    open_body: Callable[[], IO[bytes]],
    size: int,
    *,
    retries: int,
    timeout: float,
    backoff: float,
    content_type: str,
    progress: ProgressFn,
) -> Transfer:
    """PUT ``size`` bytes from ``open_body()`` (re-opened per attempt) to ``url``.

    Returns:
        The transfer, with ``response`` holding (up to :data:`SNIFF_SIZE` of) the 2xx body.

    Raises:
        SourceError: ``code="upload_failed"``, quoting the server's error message.
    """
    where = redact_url(url)
    opener = _opener(None)
    url, auth = _split_userinfo(url)
    attempts = retries + 1
    attempt = 0
    while True:
        attempt += 1
        failure: _Failure | None = None
        with open_body() as raw:
            request = urllib.request.Request(
                url,
                data=_ProgressReader(raw, progress, size),
                method="PUT",
                headers={
                    "User-Agent": USER_AGENT,
                    "Content-Type": content_type,
                    "Content-Length": str(size),
                    **auth,
                },
            )
            try:
                response = opener.open(request, timeout=timeout)
            except SourceError:  # a redirect to an expired signed URL
                raise
            except urllib.error.HTTPError as exc:
                with exc:
                    failure = _status_failure(exc.code, exc.headers, _read_capped(exc.fp), True)
            except (OSError, http.client.HTTPException) as exc:
                failure = _network_failure(exc, upload=True, timeout=timeout)
            else:
                with response:
                    body = _read_capped(response)
                    content = response.headers.get("Content-Type")
                    return Transfer(size, attempt, content, response.url, body)
        if not failure.transient or attempt >= attempts:
            raise _give_up(failure, attempt, "upload", where)
        _wait(failure, attempt, attempts, backoff, where)
