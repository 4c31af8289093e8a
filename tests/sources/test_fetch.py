"""fetch() against a real loopback HTTP server (tests/_support/http.py)."""

from __future__ import annotations

import base64
import gzip
import json
import logging
import os
import socket
import sys
import traceback
from datetime import datetime, timezone
from pathlib import Path

import pytest

from brightingest import _http
from brightingest.errors import SourceError
from brightingest.sources import FetchResult, fetch
from tests._support.http import LoopbackServer, Reply, make_jwt
from tests.sources.conftest import DATA, SECRET

INVALID_JWT = {
    "statusCode": "400",
    "error": "InvalidJWT",
    "message": '"exp" claim timestamp check failed',
}
S3_EXPIRED_XML = (
    '<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>AccessDenied</Code>'
    "<Message>Request has expired</Message><X-Amz-Expires>3600</X-Amz-Expires>"
    "<RequestId>4442587FB7D0A2F9</RequestId></Error>"
)
HTML_PAGE = (
    "<!DOCTYPE html>\n<html><head><title>Access denied | example.com</title></head>"
    "<body><h1>Sorry, you have been blocked</h1></body></html>"
)


def current_umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def leftovers(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir() if p.name.endswith(".part"))


# --- success --------------------------------------------------------------------------------


def test_good_file(
    http_server: LoopbackServer, tmp_path: Path, source_logs: pytest.LogCaptureFixture
) -> None:
    http_server.add("/train.jsonl", body=DATA, content_type="application/x-ndjson")
    dest = tmp_path / "out" / "train.jsonl"
    result = fetch(http_server.url("/train.jsonl", token=SECRET), dest, progress=False)

    assert dest.read_bytes() == DATA
    assert result.path == dest
    assert result.bytes == len(DATA) == 27_980
    assert result.attempts == 1
    assert result.content_type == "application/x-ndjson"
    assert result.url == f"{http_server.base}/train.jsonl?<redacted>"
    assert result.final_url == result.url
    assert result.summary().startswith("Downloaded 28.0 kB in ")
    assert leftovers(dest.parent) == []
    logged = [r.getMessage() for r in source_logs.records if r.levelno == logging.INFO]
    assert logged == [f"{result.summary()} from {result.url}"]


def test_summary_units() -> None:
    result = FetchResult(Path("x"), 12_400_000, 1.3, "u", None, 1)
    assert result.summary() == "Downloaded 12.4 MB in 1.3 s"
    assert FetchResult(Path("x"), 512, 0.012, "u", None, 3).summary() == (
        "Downloaded 512 bytes in 12 ms (3 attempts)"
    )
    assert _http.human_bytes(3_100_000_000) == "3.1 GB"
    assert _http.human_bytes(999_960) == "1.0 MB"


def test_existing_dest_replaced_only_by_a_complete_download(
    http_server: LoopbackServer, tmp_path: Path, sleeps: list[float]
) -> None:
    dest = tmp_path / "train.jsonl"
    dest.write_bytes(b"old\n")
    http_server.add("/bad", status=500)
    with pytest.raises(SourceError):
        fetch(http_server.url("/bad"), dest, retries=1, progress=False)
    assert dest.read_bytes() == b"old\n"
    http_server.add("/cut", body=DATA, cut_after=100)
    with pytest.raises(SourceError):
        fetch(http_server.url("/cut"), dest, retries=0, progress=False)
    assert dest.read_bytes() == b"old\n"
    assert leftovers(tmp_path) == []

    http_server.add("/good", body=DATA)
    fetch(http_server.url("/good"), dest, progress=False)
    assert dest.read_bytes() == DATA
    assert leftovers(tmp_path) == []


def test_dest_directory_takes_the_url_file_name(
    http_server: LoopbackServer, tmp_path: Path
) -> None:
    http_server.add("/exports/my%20data.jsonl.gz", body=gzip.compress(DATA))
    result = fetch(http_server.url("/exports/my%20data.jsonl.gz", token=SECRET), tmp_path)
    assert result.path == tmp_path / "my_data.jsonl.gz"
    assert gzip.decompress(result.path.read_bytes()) == DATA


def test_userinfo_becomes_basic_auth(http_server: LoopbackServer, tmp_path: Path) -> None:
    http_server.add("/private.jsonl", body=DATA)
    url = f"http://me:{SECRET}@127.0.0.1:{http_server.port}/private.jsonl"
    result = fetch(url, tmp_path / "p.jsonl")
    assert result.url == f"{http_server.base}/private.jsonl"
    expected = "Basic " + base64.b64encode(f"me:{SECRET}".encode()).decode()
    assert http_server.requests[0].header("Authorization") == expected


def test_plain_text_error_body_is_quoted(http_server: LoopbackServer, tmp_path: Path) -> None:
    http_server.add(
        "/gone", status=410, body="This export was deleted.\n", content_type="text/plain"
    )
    with pytest.raises(
        SourceError, match=r'HTTP 410 Gone; the server said "This export was deleted\."'
    ):
        fetch(http_server.url("/gone"), tmp_path / "g")


def test_progress_bar_path_runs(http_server: LoopbackServer, tmp_path: Path) -> None:
    http_server.add("/p.jsonl", body=DATA, chunk_size=4096)
    result = fetch(http_server.url("/p.jsonl"), tmp_path / "p.jsonl", progress=True)
    assert result.bytes == len(DATA)


def test_missing_content_length_still_checked_for_emptiness(
    http_server: LoopbackServer, tmp_path: Path
) -> None:
    http_server.add("/nolen", body=DATA, content_length=None)
    assert fetch(http_server.url("/nolen"), tmp_path / "a").bytes == len(DATA)
    http_server.add("/nolen-empty", body=b"", content_length=None)
    with pytest.raises(SourceError, match="empty") as info:
        fetch(http_server.url("/nolen-empty"), tmp_path / "b")
    assert info.value.code == "source_empty"


# --- signed URLs ----------------------------------------------------------------------------


def test_expired_supabase_token_fails_before_any_request(
    http_server: LoopbackServer, tmp_path: Path
) -> None:
    http_server.add("/storage/v1/object/sign/exports/train.jsonl", body=DATA)
    url = http_server.signed_url("/storage/v1/object/sign/exports/train.jsonl", expires_in=-7200)
    with pytest.raises(
        SourceError, match=r"expired at \d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ \(2 hours ago\)"
    ) as info:
        fetch(url, tmp_path / "train.jsonl")
    assert info.value.code == "source_expired"
    assert "fresh export link" in str(info.value)
    assert http_server.hits() == 0
    assert list(tmp_path.iterdir()) == []


def test_valid_supabase_token_passes(http_server: LoopbackServer, tmp_path: Path) -> None:
    http_server.add("/signed.jsonl", body=DATA)
    url = http_server.signed_url("/signed.jsonl", expires_in=600)
    assert fetch(url, tmp_path / "a.jsonl").bytes == len(DATA)
    assert http_server.requests[0].query["token"] == url.split("token=")[1]


@pytest.mark.parametrize(
    ("query", "kind"),
    [
        (
            {"X-Amz-Date": "20240501T100000Z", "X-Amz-Expires": "3600", "X-Amz-Signature": SECRET},
            "S3",
        ),
        (
            {"X-Goog-Date": "20240501T100000Z", "X-Goog-Expires": "60", "X-Goog-Signature": SECRET},
            "GCS",
        ),
    ],
)
def test_s3_and_gcs_expiry_before_any_request(
    http_server: LoopbackServer, tmp_path: Path, query: dict[str, str], kind: str
) -> None:
    http_server.add("/k.jsonl", body=DATA)
    now = datetime(2024, 5, 1, 13, 0, tzinfo=timezone.utc)
    with pytest.raises(SourceError, match=f"signed {kind} URL expired at 2024-05-01T1") as info:
        fetch(http_server.url("/k.jsonl", **query), tmp_path / "k.jsonl", now=now)
    assert info.value.code == "source_expired"
    assert http_server.hits() == 0


def test_redirect_to_an_expired_signed_url_is_caught(
    http_server: LoopbackServer, tmp_path: Path
) -> None:
    expired = http_server.signed_url("/target.jsonl", expires_in=-60)
    http_server.add("/start", redirect=expired)
    http_server.add("/target.jsonl", body=DATA)
    with pytest.raises(SourceError, match="expired") as info:
        fetch(http_server.url("/start"), tmp_path / "t.jsonl")
    assert info.value.code == "source_expired"
    assert http_server.hits("/target.jsonl") == 0


# --- error statuses and error bodies --------------------------------------------------------


def test_403_with_json_error_body(
    http_server: LoopbackServer, tmp_path: Path, sleeps: list[float]
) -> None:
    http_server.add(
        "/f.jsonl",
        status=403,
        json={
            "statusCode": "403",
            "error": "Unauthorized",
            "message": "new row violates row-level security policy",
        },
    )
    url = http_server.url("/f.jsonl", token=SECRET)
    with pytest.raises(SourceError) as info:
        fetch(url, tmp_path / "f.jsonl")
    err = info.value
    assert (err.code, err.status) == ("source_http_error", 403)
    assert str(err) == (
        f"{http_server.base}/f.jsonl?<redacted>: download failed: HTTP 403 Forbidden; the server "
        'said "Unauthorized: new row violates row-level security policy".\n'
        "Hint: the URL lacks valid credentials; check that it is the full signed link."
    )
    assert http_server.hits() == 1  # a 4xx is not retried
    assert sleeps == []


def test_400_supabase_invalid_jwt(http_server: LoopbackServer, tmp_path: Path) -> None:
    http_server.add("/f.jsonl", status=400, json=INVALID_JWT)
    with pytest.raises(
        SourceError,
        match=r'HTTP 400 Bad Request; the server said "InvalidJWT: "exp" claim timestamp check',
    ) as info:
        fetch(http_server.url("/f.jsonl", token="not-a-jwt"), tmp_path / "f.jsonl")
    assert info.value.code == "source_http_error"
    assert info.value.status == 400
    assert "fresh export link" in (info.value.hint or "")
    assert not (tmp_path / "f.jsonl").exists()


def test_json_error_object_with_status_200_is_not_data(
    http_server: LoopbackServer, tmp_path: Path
) -> None:
    http_server.add("/f.jsonl", json=INVALID_JWT)
    with pytest.raises(SourceError) as info:
        fetch(http_server.url("/f.jsonl"), tmp_path / "f.jsonl")
    assert info.value.code == "source_error_body"
    assert str(info.value).startswith(
        f'{http_server.base}/f.jsonl: the server sent a JSON error object (InvalidJWT: "exp" claim '
        "timestamp check failed) instead of data.\nHint: the signed link was rejected"
    )
    assert not (tmp_path / "f.jsonl").exists()
    assert leftovers(tmp_path) == []


def test_html_page_with_status_200(http_server: LoopbackServer, tmp_path: Path) -> None:
    http_server.add("/f.jsonl", body=HTML_PAGE, content_type="text/html; charset=utf-8")
    with pytest.raises(
        SourceError,
        match=r"the server sent an HTML page \(Access denied \| example.com\) instead of data",
    ) as info:
        fetch(http_server.url("/f.jsonl"), tmp_path / "f.jsonl")
    assert info.value.code == "source_error_body"


def test_xml_s3_error_with_status_200_and_403(http_server: LoopbackServer, tmp_path: Path) -> None:
    http_server.add("/ok-status", body=S3_EXPIRED_XML, content_type="application/xml")
    with pytest.raises(
        SourceError, match=r"an XML document \(AccessDenied: Request has expired\)"
    ) as info:
        fetch(http_server.url("/ok-status"), tmp_path / "a")
    assert info.value.code == "source_error_body"

    http_server.add("/denied", status=403, body=S3_EXPIRED_XML, content_type="application/xml")
    with pytest.raises(
        SourceError,
        match=r'HTTP 403 Forbidden; the server said "AccessDenied: Request has expired"',
    ) as info:
        fetch(http_server.url("/denied"), tmp_path / "b")
    assert info.value.code == "source_http_error"
    assert "signed link was rejected" in (info.value.hint or "")


@pytest.mark.parametrize(
    "body",
    [
        # A one-row JSONL file served as JSON: a training row, not an error object.
        json.dumps({"messages": [{"role": "user", "content": "hi"}]}) + "\n",
        # Error-ish keys next to data keys: still data.
        json.dumps({"message": "hello", "response": "hi there"}) + "\n",
        # Two lines, the first of which looks like an error object: JSONL, not an error body.
        json.dumps({"error": "x", "message": "y"})
        + "\n"
        + json.dumps({"error": "z", "message": "w"})
        + "\n",
    ],
)
def test_jsonl_that_merely_looks_like_json_is_data(
    http_server: LoopbackServer, tmp_path: Path, body: str
) -> None:
    http_server.add("/f.jsonl", body=body, content_type="application/json")
    assert fetch(http_server.url("/f.jsonl"), tmp_path / "f.jsonl").bytes == len(body)


@pytest.mark.parametrize(
    ("obj", "expected"),
    [
        ({"error": "not_found", "message": "Object not found"}, True),
        ({"statusCode": "404", "error": "not_found", "message": "Object not found"}, True),
        ({"error": {"code": 403, "message": "Forbidden", "errors": []}}, True),
        ({"code": "PGRST116", "message": "no rows", "details": None, "hint": None}, True),
        ({"message": "Forbidden"}, True),
        ({"detail": "Not Found"}, True),
        ({"messages": []}, False),
        ({"instruction": "x", "output": "y"}, False),
        ({"code": "print(1)"}, False),
        ({}, False),
    ],
)
def test_error_object_shapes(obj: dict[str, object], expected: bool) -> None:
    assert _http.is_error_object(obj) is expected


def test_empty_200(http_server: LoopbackServer, tmp_path: Path) -> None:
    http_server.add("/f.jsonl", body=b"")
    with pytest.raises(SourceError) as info:
        fetch(http_server.url("/f.jsonl", token=SECRET), tmp_path / "f.jsonl")
    assert info.value.code == "source_empty"
    assert str(info.value).startswith(
        f"{http_server.base}/f.jsonl?<redacted>: the download is empty (0 bytes).\nHint: "
    )
    assert list(tmp_path.iterdir()) == []


def test_min_bytes(http_server: LoopbackServer, tmp_path: Path) -> None:
    http_server.add("/small", body=b'{"a": 1}\n')
    with pytest.raises(SourceError, match=r"only 9 bytes \(expected at least 1.0 kB\)") as info:
        fetch(http_server.url("/small"), tmp_path / "s", min_bytes=1000)
    assert info.value.code == "source_too_small"


def test_404_is_not_retried(
    http_server: LoopbackServer, tmp_path: Path, sleeps: list[float]
) -> None:
    with pytest.raises(
        SourceError, match=r'HTTP 404 Not Found; the server said "not_found: no route for /nope"'
    ) as info:
        fetch(http_server.url("/nope"), tmp_path / "n")
    assert info.value.status == 404
    assert http_server.hits() == 1


# --- retries, resume, timeouts --------------------------------------------------------------


def test_cut_short_resumes_with_range(
    http_server: LoopbackServer, tmp_path: Path, sleeps: list[float]
) -> None:
    http_server.add(
        "/f.jsonl",
        Reply(body=DATA, ranges=True, cut_after=10_000),
        Reply(body=DATA, ranges=True),
    )
    result = fetch(http_server.url("/f.jsonl"), tmp_path / "f.jsonl", backoff=0.25)
    assert (tmp_path / "f.jsonl").read_bytes() == DATA
    assert result.attempts == 2
    first, second = http_server.requests
    assert first.header("Range") is None
    assert second.header("Range") == "bytes=10000-"
    assert sleeps == [0.25]


def test_cut_short_without_range_support_restarts(
    http_server: LoopbackServer, tmp_path: Path, sleeps: list[float]
) -> None:
    http_server.add("/f.jsonl", Reply(body=DATA, cut_after=5_000), Reply(body=DATA))
    result = fetch(http_server.url("/f.jsonl"), tmp_path / "f.jsonl")
    assert (tmp_path / "f.jsonl").read_bytes() == DATA
    assert result.attempts == 2
    assert [r.header("Range") for r in http_server.requests] == [None, None]


def test_always_cut_short_is_a_size_mismatch(
    http_server: LoopbackServer, tmp_path: Path, sleeps: list[float]
) -> None:
    http_server.add("/f.jsonl", body=DATA, cut_after=1_000)
    with pytest.raises(SourceError) as info:
        fetch(
            http_server.url("/f.jsonl", token=SECRET), tmp_path / "f.jsonl", retries=2, backoff=0.1
        )
    assert info.value.code == "source_size_mismatch"
    assert str(info.value).startswith(
        f"{http_server.base}/f.jsonl?<redacted>: download failed after 3 attempts: received 1000 "
        f"bytes but Content-Length said {len(DATA)}.\nHint: "
    )
    assert http_server.hits() == 3
    assert sleeps == [0.1, 0.2]
    assert list(tmp_path.iterdir()) == []


def test_reset_mid_body_resumes(
    http_server: LoopbackServer, tmp_path: Path, sleeps: list[float]
) -> None:
    http_server.add(
        "/f.jsonl",
        Reply(body=DATA, ranges=True, cut_after=3_000, reset=True, chunk_size=1_000),
        Reply(body=DATA, ranges=True),
    )
    result = fetch(http_server.url("/f.jsonl"), tmp_path / "f.jsonl")
    assert (tmp_path / "f.jsonl").read_bytes() == DATA
    # Whether the bytes before the reset arrive (Range resume) or are dropped by the kernel
    # with the RST (restart) is up to the TCP stack; either way the file must be complete.
    assert result.attempts == 2


def test_fails_twice_then_succeeds(
    http_server: LoopbackServer, tmp_path: Path, sleeps: list[float]
) -> None:
    http_server.add(
        "/f.jsonl",
        Reply(status=500, json={"error": "internal", "message": "db down"}),
        Reply(reset=True),
        Reply(body=DATA),
    )
    result = fetch(http_server.url("/f.jsonl"), tmp_path / "f.jsonl", backoff=0.5)
    assert result.attempts == 3
    assert result.summary().endswith("(3 attempts)")
    assert sleeps == [0.5, 1.0]
    assert (tmp_path / "f.jsonl").read_bytes() == DATA


def test_500_every_time_gives_up_with_the_status(
    http_server: LoopbackServer, tmp_path: Path, sleeps: list[float]
) -> None:
    http_server.add("/f", status=503, json={"error": "unavailable", "message": "try later"})
    with pytest.raises(
        SourceError,
        match=r'3 attempts: HTTP 503 Service Unavailable; the server said "unavailable: try later"',
    ) as info:
        fetch(http_server.url("/f"), tmp_path / "f", retries=2)
    assert (info.value.code, info.value.status) == ("source_http_error", 503)
    assert http_server.hits() == 3


def test_429_honours_retry_after_up_to_a_cap(
    http_server: LoopbackServer, tmp_path: Path, sleeps: list[float]
) -> None:
    http_server.add(
        "/f.jsonl",
        Reply(status=429, headers={"Retry-After": "7"}),
        Reply(status=429, headers={"Retry-After": "86400"}),
        Reply(status=429),
        Reply(body=DATA),
    )
    result = fetch(http_server.url("/f.jsonl"), tmp_path / "f.jsonl", backoff=0.5)
    assert result.attempts == 4
    assert sleeps == [7.0, _http.RETRY_AFTER_CAP, 2.0]


def test_redirect_is_followed_and_redacted(
    http_server: LoopbackServer, tmp_path: Path, source_logs: pytest.LogCaptureFixture
) -> None:
    http_server.add("/old.jsonl", redirect=http_server.url("/new.jsonl", token=SECRET))
    http_server.add("/new.jsonl", body=DATA)
    result = fetch(http_server.url("/old.jsonl", sig=SECRET), tmp_path / "f.jsonl")
    assert (tmp_path / "f.jsonl").read_bytes() == DATA
    assert result.url == f"{http_server.base}/old.jsonl?<redacted>"
    assert result.final_url == f"{http_server.base}/new.jsonl?<redacted>"
    assert [r.path for r in http_server.requests] == ["/old.jsonl", "/new.jsonl"]
    assert http_server.requests[1].query == {"token": SECRET}
    assert any("redirected to" in r.getMessage() for r in source_logs.records)


def test_relative_redirect(http_server: LoopbackServer, tmp_path: Path) -> None:
    http_server.add("/a", status=307, redirect="/b")
    http_server.add("/b", body=DATA)
    assert fetch(http_server.url("/a"), tmp_path / "f").bytes == len(DATA)


def test_slow_server_times_out(
    http_server: LoopbackServer, tmp_path: Path, sleeps: list[float]
) -> None:
    http_server.add("/slow", body=DATA, delay=2.0)
    with pytest.raises(
        SourceError, match=r"after 2 attempts: timed out \(no data for 0.2 s\)"
    ) as info:
        fetch(
            http_server.url("/slow", token=SECRET),
            tmp_path / "f",
            timeout=0.2,
            retries=1,
            backoff=0,
        )
    assert info.value.code == "source_timeout"
    assert http_server.hits() == 2


def test_server_stalling_mid_body_times_out(
    http_server: LoopbackServer, tmp_path: Path, sleeps: list[float]
) -> None:
    http_server.add("/stall", body=DATA, chunk_size=1_000, chunk_delay=2.0)
    with pytest.raises(
        SourceError, match=r"timed out \(no data for 0.2 s\) after 1.0 kB of 28.0 kB"
    ) as info:
        fetch(http_server.url("/stall"), tmp_path / "f", timeout=0.2, retries=0)
    assert info.value.code == "source_timeout"


def test_connection_refused_is_retried_then_reported(tmp_path: Path, sleeps: list[float]) -> None:
    with socket.socket() as sock:  # find a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with pytest.raises(
        SourceError, match=r"after 3 attempts: connection failed \(Connection refused\)"
    ) as info:
        fetch(f"http://127.0.0.1:{port}/f.jsonl?token={SECRET}", tmp_path / "f", retries=2)
    assert info.value.code == "source_connection_failed"
    assert len(sleeps) == 2


# --- secrets never leak -----------------------------------------------------------------------


def _all_text(exc: BaseException) -> str:
    parts = [str(exc), repr(exc), json.dumps(getattr(exc, "to_dict", dict)(), default=str)]
    parts += traceback.format_exception(exc)
    return "\n".join(parts)


def test_query_string_never_appears_in_errors_or_logs(
    http_server: LoopbackServer,
    tmp_path: Path,
    source_logs: pytest.LogCaptureFixture,
    sleeps: list[float],
) -> None:
    http_server.add("/expired", body=DATA)
    http_server.add(
        "/json403", status=403, json={"error": "denied", "message": f"bad token={SECRET}"}
    )
    http_server.add(
        "/html", body=f"<html><title>see https://x.example/?sig={SECRET}</title></html>"
    )
    http_server.add("/empty", body=b"")
    http_server.add("/cut", body=DATA, cut_after=10)
    http_server.add("/slow", body=DATA, delay=1.0)
    http_server.add("/redirect", redirect=http_server.url("/reset", token=SECRET))
    http_server.add("/reset", reset=True)
    jwt = make_jwt(exp=1, secret=SECRET)
    cases = [
        http_server.url("/expired", token=jwt),
        http_server.url("/json403", token=SECRET),
        http_server.url("/html", token=SECRET),
        http_server.url("/empty", token=SECRET),
        http_server.url("/cut", token=SECRET),
        http_server.url("/slow", token=SECRET),
        http_server.url("/redirect", token=SECRET),
        http_server.url("/missing", token=SECRET),
        f"http://user:{SECRET}@127.0.0.1:{http_server.port}/missing",
        f"http://user:{SECRET}@127.0.0.1:{http_server.port}/json403",
    ]
    for url in cases:
        with pytest.raises(SourceError) as info:
            fetch(url, tmp_path / "f", retries=1, timeout=0.2, progress=False)
        text = _all_text(info.value)
        assert SECRET not in text, text
        assert jwt not in text, text
    logged = "\n".join(
        logging.Formatter("%(message)s %(exc_info)s").format(r) for r in source_logs.records
    )
    assert "<redacted>" in logged
    assert SECRET not in logged
    assert jwt not in logged


# --- other schemes ------------------------------------------------------------------------------


def test_local_path_and_file_url_are_copied(tmp_path: Path) -> None:
    source = tmp_path / "src.jsonl"
    source.write_bytes(DATA)
    assert fetch(str(source), tmp_path / "a").bytes == len(DATA)
    assert fetch(source.as_uri(), tmp_path / "b").bytes == len(DATA)
    assert (tmp_path / "b").read_bytes() == DATA
    with pytest.raises(SourceError, match="does not exist") as info:
        fetch(str(tmp_path / "missing.jsonl"), tmp_path / "c")
    assert info.value.code == "source_not_found"
    # Local files are never "error pages", whatever they start with.
    (tmp_path / "page.html").write_text(HTML_PAGE)
    assert fetch(str(tmp_path / "page.html"), tmp_path / "e").bytes == len(HTML_PAGE)
    assert (tmp_path / "e").stat().st_mode & 0o777 == 0o666 & ~current_umask()
    (tmp_path / "empty.jsonl").write_bytes(b"")
    with pytest.raises(SourceError, match="empty") as info:
        fetch(str(tmp_path / "empty.jsonl"), tmp_path / "d")
    assert info.value.code == "source_empty"


def test_fsspec_memory_filesystem(tmp_path: Path) -> None:
    fsspec = pytest.importorskip("fsspec")
    fs = fsspec.filesystem("memory")
    fs.pipe("/bi-test/train.jsonl", DATA)
    fs.pipe("/bi-test/empty.jsonl", b"")
    try:
        result = fetch("memory://bi-test/train.jsonl", tmp_path / "t.jsonl")
        assert (result.bytes, result.url) == (len(DATA), "memory://bi-test/train.jsonl")
        with pytest.raises(SourceError) as info:
            fetch("memory://bi-test/empty.jsonl", tmp_path / "e.jsonl")
        assert info.value.code == "source_empty"
        with pytest.raises(SourceError) as info:
            fetch("memory://bi-test/missing.jsonl", tmp_path / "m.jsonl")
        assert info.value.code == "source_not_found"
    finally:
        fs.rm("/bi-test", recursive=True)
    assert leftovers(tmp_path) == []


def test_without_fsspec_remote_schemes_say_what_to_install(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "fsspec", None)  # makes `import fsspec` fail
    with pytest.raises(SourceError, match=r'pip install "brightingest\[remote\]"') as info:
        fetch("s3://bucket/train.jsonl", tmp_path / "t.jsonl")
    assert info.value.code == "source_unsupported"


def test_unknown_fsspec_protocol(tmp_path: Path) -> None:
    pytest.importorskip("fsspec")
    with pytest.raises(SourceError, match="fsspec does not know this URL scheme") as info:
        fetch("nosuchproto://bucket/train.jsonl", tmp_path / "t.jsonl")
    assert info.value.code == "source_unsupported"


def test_bad_arguments_are_value_errors(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="timeout"):
        fetch("http://127.0.0.1:1/x", tmp_path / "x", timeout=0)


def test_a_backend_failing_while_copying_is_a_source_error(tmp_path: Path) -> None:
    pytest.importorskip("fsspec")
    with socket.socket() as probe:  # a loopback port that nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with pytest.raises(SourceError) as info:
        fetch(f"ftp://127.0.0.1:{port}/x.jsonl", tmp_path / "x.jsonl", retries=0)
    assert info.value.code == "source_error"
    assert f"ftp://127.0.0.1:{port}/x.jsonl: cannot read it" in str(info.value)
    assert list(tmp_path.iterdir()) == []
