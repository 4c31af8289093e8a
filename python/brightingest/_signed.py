"""Signed URLs: redaction and expiry checks (private; the public names live in ``sources``).

A signed URL carries its credential in the query string, so the query string is a secret: it is
replaced by ``?<redacted>`` in every message, log line, report and exception. Expiry is read from
the URL itself, before any request, so that an expired link fails at once with the time it
expired instead of producing a 400 error body that is later "parsed" as data.

Recognized signatures:

- Supabase Storage: a JWT in the ``token`` query parameter; its ``exp`` (and ``iat``) claims.
- S3 (SigV4): ``X-Amz-Date`` (``YYYYMMDDTHHMMSSZ``) plus ``X-Amz-Expires`` (seconds);
  S3 SigV2: ``Expires`` (Unix time) with ``AWSAccessKeyId``.
- GCS (V4): ``X-Goog-Date`` plus ``X-Goog-Expires``; GCS V2: ``Expires`` with ``GoogleAccessId``.
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
import re
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Literal
from urllib.parse import parse_qsl, urlsplit

from brightingest.errors import SourceError

__all__ = ["SignedUrlInfo", "check_signed_url", "redact_text", "redact_url"]

logger = logging.getLogger("brightingest.sources")

REDACTED = "<redacted>"

# scheme://[userinfo@]host... up to whitespace or a quote; used to scrub URLs out of free text
# (messages of third-party exceptions, error bodies) before it is shown anywhere.
_URL_IN_TEXT = re.compile(r"""\b[a-zA-Z][a-zA-Z0-9+.\-]*://[^\s"'<>`]+""")
# Credentials that can appear outside a URL, e.g. ``token=eyJ...`` quoted back by a server.
_SECRET_PARAM = re.compile(
    r"(?i)\b(token|signature|x-amz-signature|x-amz-credential|x-amz-security-token|"
    r"x-goog-signature|x-goog-credential|sig|apikey|api_key|access_token)=([^&\s\"'<>]+)"
)


def redact_url(url: str) -> str:
    """Return ``url`` with its query string replaced by ``?<redacted>`` and userinfo removed.

    Text that is not a ``scheme://`` URL (a local path) is returned unchanged. The fragment is
    dropped as well, since it can carry tokens too.

    Args:
        url: Any URL or path.

    Returns:
        ``scheme://host[:port]/path`` plus ``?<redacted>`` when the URL had a query string.

    Example:
        >>> redact_url("https://user:pw@x.supabase.co/storage/v1/object/sign/b/f.jsonl?token=abc")
        'https://x.supabase.co/storage/v1/object/sign/b/f.jsonl?<redacted>'
    """
    if "://" not in url:
        return url
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
        port = parts.port
    except ValueError:
        # Unparseable (e.g. a bad port): keep only what precedes any query or userinfo.
        head = re.split(r"[?#]", url, maxsplit=1)[0]
        scheme, _, rest = head.partition("://")
        rest = rest.rsplit("@", 1)[-1]
        suffix = f"?{REDACTED}" if ("?" in url or "#" in url) else ""
        return f"{scheme}://{rest}{suffix}"
    if ":" in host:  # IPv6 literal
        host = f"[{host}]"
    netloc = f"{host}:{port}" if port is not None else host
    query = REDACTED if (parts.query or parts.fragment) else ""
    # Built by hand: urlunsplit would turn ``memory:///x`` into ``memory:/x``.
    out = f"{parts.scheme}://{netloc}{parts.path}"
    return f"{out}?{query}" if query else out


def redact_text(text: str) -> str:
    """Redact every URL (and any ``token=...``-like credential) found inside free text."""
    text = _URL_IN_TEXT.sub(lambda m: redact_url(m.group(0)), text)
    return _SECRET_PARAM.sub(lambda m: f"{m.group(1)}={REDACTED}", text)


@dataclass(frozen=True)
class SignedUrlInfo:
    """What a signed URL says about its own validity.

    Attributes:
        kind: Which signing scheme was recognized.
        expires_at: When the signature stops being accepted (UTC).
        issued_at: When it was signed (UTC), where the URL says so.
    """

    kind: Literal["supabase", "s3", "gcs"]
    expires_at: datetime
    issued_at: datetime | None = None


def check_signed_url(url: str, *, now: datetime | None = None) -> SignedUrlInfo | None:
    """Read a signed URL's expiry from the URL itself and fail if it has passed.

    Args:
        url: The URL (any scheme; only the query string is inspected).
        now: The current time (UTC if naive); defaults to the system clock.

    Returns:
        The signature's validity, or ``None`` when the URL carries no recognizable signature (or
        one that cannot be decoded; a debug line says so).

    Raises:
        SourceError: ``code="source_expired"`` when the signature has expired; the message says
            when (ISO time and how long ago) and the hint how to get a fresh link.

    Example:
        >>> check_signed_url("https://example.com/data.jsonl") is None
        True
    """
    info = _parse_signed(url)
    if info is None:
        return None
    current = _utc(now) if now is not None else datetime.now(timezone.utc)
    if info.expires_at <= current:
        ago = _describe_ago(current - info.expires_at)
        issued = ""
        if info.issued_at is not None:
            issued = f"; it was valid for {_describe_span(info.expires_at - info.issued_at)}"
        raise SourceError(
            f"signed {_KIND_NAMES[info.kind]} URL expired at {_iso(info.expires_at)} "
            f"({ago}){issued}.",
            code="source_expired",
            path=redact_url(url),
            hint=_EXPIRED_HINTS[info.kind],
        )
    logger.debug(
        "Signed %s URL %s is valid until %s (%s left)",
        _KIND_NAMES[info.kind],
        redact_url(url),
        _iso(info.expires_at),
        _describe_span(info.expires_at - current),
    )
    return info


_KIND_NAMES = {"supabase": "Supabase Storage", "s3": "S3", "gcs": "GCS"}
_EXPIRED_HINTS = {
    "supabase": (
        "ask the app for a fresh export link (Supabase createSignedUrl), or sign it with a "
        "longer expiresIn, then run again."
    ),
    "s3": (
        "re-sign the URL (e.g. boto3 generate_presigned_url with a longer ExpiresIn) or ask the "
        "app for a fresh export link, then run again."
    ),
    "gcs": (
        "re-sign the URL (e.g. blob.generate_signed_url with a longer expiration) or ask the "
        "app for a fresh export link, then run again."
    ),
}


def _parse_signed(url: str) -> SignedUrlInfo | None:
    try:
        query = urlsplit(url).query
    except ValueError:
        return None
    if not query:
        return None
    # Parameter names are matched case-insensitively; the first occurrence wins.
    params: dict[str, str] = {}
    for key, value in parse_qsl(query, keep_blank_values=True):
        params.setdefault(key.lower(), value)
    where = redact_url(url)
    if "token" in params:
        info = _parse_jwt(params["token"], where)
        if info is not None:
            return info
    if "x-amz-date" in params or "x-amz-expires" in params:
        return _parse_v4("s3", params.get("x-amz-date"), params.get("x-amz-expires"), where)
    if "x-goog-date" in params or "x-goog-expires" in params:
        return _parse_v4("gcs", params.get("x-goog-date"), params.get("x-goog-expires"), where)
    if "expires" in params and ("awsaccesskeyid" in params or "googleaccessid" in params):
        kind: Literal["s3", "gcs"] = "s3" if "awsaccesskeyid" in params else "gcs"
        try:
            expires = datetime.fromtimestamp(int(params["expires"]), timezone.utc)
        except (ValueError, OverflowError, OSError):
            logger.debug("Cannot read the Expires parameter of signed URL %s", where)
            return None
        return SignedUrlInfo(kind=kind, expires_at=expires)
    return None


def _parse_jwt(token: str, where: str) -> SignedUrlInfo | None:
    parts = token.split(".")
    if len(parts) != 3:
        logger.debug("The token parameter of %s is not a JWT; expiry not checked", where)
        return None
    try:
        payload = parts[1]
        raw = base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))
        claims = json.loads(raw)
    except (binascii.Error, ValueError) as exc:
        logger.debug("Cannot decode the JWT payload of %s (%s); expiry not checked", where, exc)
        return None
    exp = claims.get("exp") if isinstance(claims, dict) else None
    if isinstance(exp, bool) or not isinstance(exp, (int, float)):
        logger.debug("The JWT of %s has no numeric exp claim; expiry not checked", where)
        return None
    try:
        expires = datetime.fromtimestamp(exp, timezone.utc)
        iat = claims.get("iat")
        issued = (
            datetime.fromtimestamp(iat, timezone.utc)
            if isinstance(iat, (int, float)) and not isinstance(iat, bool)
            else None
        )
    except (ValueError, OverflowError, OSError):
        logger.debug("The JWT of %s has an out-of-range exp/iat claim; not checked", where)
        return None
    return SignedUrlInfo(kind="supabase", expires_at=expires, issued_at=issued)


def _parse_v4(
    kind: Literal["s3", "gcs"], date: str | None, expires: str | None, where: str
) -> SignedUrlInfo | None:
    if date is None or expires is None:
        logger.debug("Signed %s URL %s lacks its date or expiry parameter", kind, where)
        return None
    try:
        issued = datetime.strptime(date, "%Y%m%dT%H%M%SZ").replace(tzinfo=timezone.utc)
        seconds = int(expires)
        expires_at = issued + timedelta(seconds=seconds)
    except (ValueError, OverflowError) as exc:
        logger.debug("Cannot read the expiry of signed %s URL %s (%s)", kind, where, exc)
        return None
    return SignedUrlInfo(kind=kind, expires_at=expires_at, issued_at=issued)


def _utc(moment: datetime) -> datetime:
    if moment.tzinfo is None:
        return moment.replace(tzinfo=timezone.utc)
    return moment.astimezone(timezone.utc)


def _iso(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _describe_span(span: timedelta) -> str:
    seconds = max(0, int(span.total_seconds()))
    if seconds < 120:
        return _plural(seconds, "second")
    if seconds < 3600:
        return _plural(seconds // 60, "minute")
    if seconds < 48 * 3600:
        hours, minutes = divmod(seconds // 60, 60)
        text = _plural(hours, "hour")
        return f"{text} {_plural(minutes, 'minute')}" if minutes else text
    return _plural(seconds // 86400, "day")


def _describe_ago(span: timedelta) -> str:
    return f"{_describe_span(span)} ago"


def _plural(n: int, unit: str) -> str:
    return f"{n} {unit}" if n == 1 else f"{n} {unit}s"
