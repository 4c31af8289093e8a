"""redact_url, is_url and check_signed_url (no network)."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta, timezone

import pytest

from brightingest.errors import SourceError
from brightingest.sources import SignedUrlInfo, check_signed_url, is_url, redact_url
from tests._support.http import make_jwt

NOW = datetime(2024, 5, 1, 12, 0, 0, tzinfo=timezone.utc)
SUPABASE = "https://abc.supabase.co/storage/v1/object/sign/exports/user/train.jsonl"


def ts(moment: datetime) -> int:
    return int(moment.timestamp())


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        (f"{SUPABASE}?token=abc.def.ghi", f"{SUPABASE}?<redacted>"),
        (
            "https://user:pw@host.example:8443/a/b.jsonl?x=1#frag",
            "https://host.example:8443/a/b.jsonl?<redacted>",
        ),
        ("https://host.example/a/b.jsonl", "https://host.example/a/b.jsonl"),
        ("http://127.0.0.1:5000/x?token=1", "http://127.0.0.1:5000/x?<redacted>"),
        ("s3://bucket/key.jsonl?versionId=7", "s3://bucket/key.jsonl?<redacted>"),
        ("data/train.jsonl", "data/train.jsonl"),
        ("http://[::1]:8080/p?q=1", "http://[::1]:8080/p?<redacted>"),
        ("http://host:notaport/p?token=zzz", "http://host:notaport/p?<redacted>"),
    ],
)
def test_redact_url(url: str, expected: str) -> None:
    assert redact_url(url) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("https://x.example/a.jsonl", True),
        ("http://127.0.0.1:1/a", True),
        ("s3://bucket/key", True),
        ("gs://bucket/key", True),
        ("hf://datasets/org/name/train.jsonl", True),
        ("memory://x/y", True),
        ("file:///tmp/a.jsonl", True),
        ("data/a.jsonl", False),
        ("C:\\data\\a.jsonl", False),
        ("-", False),
        ("", False),
    ],
)
def test_is_url(text: str, expected: bool) -> None:
    assert is_url(text) is expected


def test_supabase_token_valid_returns_expiry_and_issue_time() -> None:
    exp, iat = NOW + timedelta(minutes=30), NOW - timedelta(minutes=30)
    url = f"{SUPABASE}?token={make_jwt(exp=ts(exp), iat=ts(iat))}"
    info = check_signed_url(url, now=NOW)
    assert info == SignedUrlInfo(kind="supabase", expires_at=exp, issued_at=iat)


def test_supabase_token_expired_says_when_and_what_to_do() -> None:
    exp = NOW - timedelta(hours=2, minutes=5)
    token = make_jwt(exp=ts(exp), iat=ts(exp - timedelta(hours=1)))
    with pytest.raises(SourceError, match="expired at 2024-05-01T09:55:00Z") as info:
        check_signed_url(f"{SUPABASE}?token={token}", now=NOW)
    err = info.value
    assert err.code == "source_expired"
    assert err.path == f"{SUPABASE}?<redacted>"
    assert str(err) == (
        f"{SUPABASE}?<redacted>: signed Supabase Storage URL expired at 2024-05-01T09:55:00Z "
        "(2 hours 5 minutes ago); it was valid for 1 hour.\n"
        "Hint: ask the app for a fresh export link (Supabase createSignedUrl), or sign it with "
        "a longer expiresIn, then run again."
    )
    assert token not in str(err)


def test_naive_now_is_taken_as_utc() -> None:
    url = f"{SUPABASE}?token={make_jwt(exp=ts(NOW) - 90)}"
    with pytest.raises(SourceError, match=r"\(90 seconds ago\)"):
        check_signed_url(url, now=NOW.replace(tzinfo=None))


def test_s3_presigned_expiry() -> None:
    base = "https://bucket.s3.amazonaws.com/train.jsonl?X-Amz-Algorithm=AWS4-HMAC-SHA256"
    url = f"{base}&X-Amz-Date=20240501T100000Z&X-Amz-Expires=3600&X-Amz-Signature=ff"
    valid = check_signed_url(url, now=datetime(2024, 5, 1, 10, 30, tzinfo=timezone.utc))
    assert valid == SignedUrlInfo(
        kind="s3",
        expires_at=datetime(2024, 5, 1, 11, 0, tzinfo=timezone.utc),
        issued_at=datetime(2024, 5, 1, 10, 0, tzinfo=timezone.utc),
    )
    with pytest.raises(
        SourceError, match=r"S3 URL expired at 2024-05-01T11:00:00Z \(1 hour ago\)"
    ) as info:
        check_signed_url(url, now=NOW)
    assert info.value.code == "source_expired"
    assert "re-sign the URL" in (info.value.hint or "")


def test_gcs_signed_expiry() -> None:
    url = (
        "https://storage.googleapis.com/bucket/train.jsonl?X-Goog-Algorithm=GOOG4-RSA-SHA256"
        "&X-Goog-Date=20240501T114000Z&X-Goog-Expires=600&X-Goog-Signature=abc"
    )
    with pytest.raises(
        SourceError, match=r"GCS URL expired at 2024-05-01T11:50:00Z \(10 minutes ago\)"
    ) as info:
        check_signed_url(url, now=NOW)
    assert info.value.code == "source_expired"
    ok = check_signed_url(url, now=datetime(2024, 5, 1, 11, 45, tzinfo=timezone.utc))
    assert ok is not None
    assert ok.kind == "gcs"


def test_s3_v2_expires_parameter() -> None:
    url = (
        f"https://b.s3.amazonaws.com/k?AWSAccessKeyId=AK&Expires={ts(NOW) - 3 * 86400}&Signature=x"
    )
    with pytest.raises(SourceError, match=r"\(3 days ago\)"):
        check_signed_url(url, now=NOW)


@pytest.mark.parametrize(
    "url",
    [
        "https://example.com/data.jsonl",
        "https://example.com/data.jsonl?download=1",
        "data/train.jsonl",
    ],
)
def test_unsigned_urls_return_none(url: str) -> None:
    assert check_signed_url(url, now=NOW) is None


@pytest.mark.parametrize(
    ("query", "log"),
    [
        ("token=opaque-session-token", "not a JWT"),
        ("token=aaa.!!!notbase64!!!.ccc", "Cannot decode the JWT payload"),
        (f"token={make_jwt(sub='x')}", "no numeric exp claim"),
        ("X-Amz-Date=yesterday&X-Amz-Expires=60", "Cannot read the expiry of signed s3 URL"),
        ("X-Goog-Date=20240501T000000Z", "lacks its date or expiry"),
    ],
)
def test_unparseable_signature_is_not_an_error_but_logged(
    query: str, log: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="brightingest.sources")
    assert check_signed_url(f"https://h.example/f.jsonl?{query}", now=NOW) is None
    messages = [r.getMessage() for r in caplog.records]
    assert any(log in m for m in messages), messages
    assert all("https://h.example/f.jsonl?<redacted>" in m for m in messages)
