"""upload() against a real loopback HTTP server."""

from __future__ import annotations

from pathlib import Path

import pytest

from brightingest.errors import SourceError
from brightingest.sources import upload
from tests._support.http import LoopbackServer, Reply
from tests.sources.conftest import DATA, SECRET


@pytest.fixture
def payload(tmp_path: Path) -> Path:
    path = tmp_path / "adapter.safetensors"
    path.write_bytes(DATA * 3)
    return path


def test_upload_sends_the_exact_bytes(http_server: LoopbackServer, payload: Path) -> None:
    http_server.add("/upload/adapter", method="PUT", json={"Key": "models/adapter", "Id": "1"})
    url = http_server.signed_url("/upload/adapter", expires_in=600)
    result = upload(payload, url, content_type="application/x-safetensors", progress=False)
    (put,) = http_server.requests
    assert put.method == "PUT"
    assert put.body == payload.read_bytes()
    assert put.header("Content-Length") == str(len(DATA) * 3)
    assert put.header("Content-Type") == "application/x-safetensors"
    assert (result.bytes, result.attempts) == (len(DATA) * 3, 1)
    assert result.url == f"{http_server.base}/upload/adapter?<redacted>"
    assert result.summary().startswith("Uploaded 83.9 kB in ")


def test_upload_retries_then_succeeds(
    http_server: LoopbackServer, payload: Path, sleeps: list[float]
) -> None:
    http_server.add(
        "/u", Reply(status=502), Reply(status=429, headers={"Retry-After": "3"}), Reply(status=200)
    )
    result = upload(payload, http_server.url("/u"), progress=True)
    assert result.attempts == 3
    assert sleeps == [0.5, 3.0]
    assert all(r.body == payload.read_bytes() for r in http_server.requests)


def test_upload_failing_with_500_every_time(
    http_server: LoopbackServer, payload: Path, sleeps: list[float]
) -> None:
    http_server.add(
        "/u",
        status=500,
        json={"statusCode": "500", "error": "internal", "message": "storage backend down"},
    )
    with pytest.raises(SourceError) as info:
        upload(payload, http_server.url("/u", token=SECRET), retries=2)
    err = info.value
    assert (err.code, err.status) == ("upload_failed", 500)
    assert str(err) == (
        f"{http_server.base}/u?<redacted>: upload failed after 3 attempts: HTTP 500 Internal "
        'Server Error; the server said "internal: storage backend down".\n'
        "Hint: the server kept failing; try again later, or pass a larger retries=."
    )
    assert http_server.hits() == 3


def test_upload_4xx_is_not_retried_and_quotes_the_server(
    http_server: LoopbackServer, payload: Path, sleeps: list[float]
) -> None:
    http_server.add(
        "/u",
        status=400,
        json={
            "statusCode": "400",
            "error": "InvalidJWT",
            "message": '"exp" claim timestamp check failed',
        },
    )
    with pytest.raises(
        SourceError, match=r'HTTP 400 Bad Request; the server said "InvalidJWT: "exp" claim'
    ) as info:
        upload(payload, http_server.url("/u", token="x"))
    assert info.value.code == "upload_failed"
    assert http_server.hits() == 1


def test_upload_expired_url_sends_nothing(http_server: LoopbackServer, payload: Path) -> None:
    http_server.add("/u", status=200)
    with pytest.raises(SourceError, match="expired at") as info:
        upload(payload, http_server.signed_url("/u", expires_in=-120))
    assert info.value.code == "source_expired"
    assert http_server.hits() == 0


def test_upload_size_reported_by_server_must_match(
    http_server: LoopbackServer, payload: Path
) -> None:
    http_server.add("/u", json={"name": "adapter", "size": "12"})
    with pytest.raises(
        SourceError, match=f"sent {len(DATA) * 3} bytes but the server stored 12"
    ) as info:
        upload(payload, http_server.url("/u"))
    assert info.value.code == "upload_failed"
    http_server.add("/v", json={"name": "adapter", "size": str(len(DATA) * 3)})
    assert upload(payload, http_server.url("/v")).bytes == len(DATA) * 3


def test_upload_missing_local_file(http_server: LoopbackServer, tmp_path: Path) -> None:
    with pytest.raises(SourceError, match="does not exist") as info:
        upload(tmp_path / "nope.bin", http_server.url("/u"))
    assert info.value.code == "source_not_found"
    assert http_server.hits() == 0


def test_upload_through_fsspec(payload: Path) -> None:
    fsspec = pytest.importorskip("fsspec")
    fs = fsspec.filesystem("memory")
    try:
        result = upload(payload, "memory://bi-upload/adapter.bin")
        assert fs.cat("/bi-upload/adapter.bin") == payload.read_bytes()
        assert result.bytes == payload.stat().st_size
    finally:
        if fs.exists("/bi-upload"):
            fs.rm("/bi-upload", recursive=True)
