"""Downloads through the command line, against a real HTTP server on loopback.

The original incident: a signed URL expired, the "download" was an error body (or 0 bytes), and
the run went on to find 0 conversations. Here every such source stops the command with exit 3
and a message that says what happened, and no output ever shows the URL's query string.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests._support.http import LoopbackServer, Reply
from tests.cli.conftest import SAMPLE, Result, Runner, needs_core

SECRET = "s3cr3t-SIGNATURE-value"
DATA = b"".join(
    json.dumps(
        {
            "messages": [
                {"role": "user", "content": f"q{i}"},
                {"role": "assistant", "content": f"a{i}"},
            ]
        }
    ).encode()
    + b"\n"
    for i in range(200)
)


def assert_no_secret(result: Result, *tokens: str) -> None:
    for token in (SECRET, *tokens):
        assert token not in result.out
        assert token not in result.err


def fetch(cli: Runner, url: str, dest: Path, *extra: str) -> Result:
    return cli("fetch", url, "-o", dest, "--backoff", "0", "--json", *extra)


def test_good_file(cli: Runner, http_server: LoopbackServer, tmp_path: Path) -> None:
    http_server.add("/data.jsonl", body=DATA)
    dest = tmp_path / "data.jsonl"
    result = fetch(cli, http_server.url("/data.jsonl", sig=SECRET), dest)
    assert result.rc == 0, result.err
    assert dest.read_bytes() == DATA
    doc = result.json
    assert doc["ok"] is True
    assert doc["bytes"] == len(DATA)
    assert doc["attempts"] == 1
    assert doc["url"] == http_server.url("/data.jsonl") + "?<redacted>"
    assert result.err.startswith(f"Downloaded {len(DATA) / 1000:.1f} kB in ")
    assert result.err.count("Downloaded") == 1  # one line for one download
    assert f"Saved as {dest}" in result.err
    assert_no_secret(result)


def test_expired_supabase_token_exit_3_before_any_request(
    cli: Runner, http_server: LoopbackServer, tmp_path: Path
) -> None:
    http_server.add("/storage/v1/object/sign/exports/data.jsonl", body=DATA)
    url = http_server.signed_url("/storage/v1/object/sign/exports/data.jsonl", expires_in=-7200)
    token = url.split("token=")[1]
    dest = tmp_path / "data.jsonl"
    result = fetch(cli, url, dest)
    assert result.rc == 3
    doc = result.json
    assert doc["error"]["code"] == "source_expired"
    assert "expired" in result.err
    assert result.err.startswith("error: http://127.0.0.1:")
    assert "?<redacted>: " in result.err
    assert_no_secret(result, token, token[:20])
    assert http_server.hits() == 0
    assert list(tmp_path.iterdir()) == []

    # The incident's path: reading the data straight from the expired link.
    inspect = cli("inspect", url)
    assert inspect.rc == 3
    assert "expired" in inspect.err
    assert "Traceback" not in inspect.err
    assert_no_secret(inspect, token, token[:20])


@pytest.mark.parametrize(
    ("status", "body", "quoted"),
    [
        (403, {"error": "AccessDenied", "message": "Request has expired"}, "Request has expired"),
        (
            400,
            {"statusCode": "400", "error": "InvalidJWT", "message": "invalid signature"},
            "invalid signature",
        ),
    ],
)
def test_http_errors_with_json_bodies(
    cli: Runner,
    http_server: LoopbackServer,
    tmp_path: Path,
    status: int,
    body: dict[str, str],
    quoted: str,
) -> None:
    http_server.add("/data.jsonl", status=status, json=body)
    dest = tmp_path / "data.jsonl"
    result = fetch(cli, http_server.url("/data.jsonl", token=SECRET), dest)
    assert result.rc == 3
    assert str(status) in result.err
    assert quoted in result.err
    assert result.json["error"]["type"] == "SourceError"
    assert http_server.hits("/data.jsonl") == 1  # a 4xx is not retried
    assert_no_secret(result)
    assert not dest.exists()


def test_html_error_page_with_status_200(
    cli: Runner, http_server: LoopbackServer, tmp_path: Path
) -> None:
    page = "<!DOCTYPE html><html><head><title>Link expired</title></head><body>Sorry</body></html>"
    http_server.add("/data.jsonl", body=page, content_type="text/html")
    result = fetch(cli, http_server.url("/data.jsonl", token=SECRET), tmp_path / "d.jsonl")
    assert result.rc == 3
    assert result.json["error"]["code"] == "source_error_body"
    assert "HTML" in result.err
    assert_no_secret(result)
    assert list(tmp_path.iterdir()) == []


def test_zero_byte_download(cli: Runner, http_server: LoopbackServer, tmp_path: Path) -> None:
    http_server.add("/data.jsonl", body=b"")
    result = fetch(cli, http_server.url("/data.jsonl", token=SECRET), tmp_path / "d.jsonl")
    assert result.rc == 3
    assert result.json["error"]["code"] == "source_empty"
    assert "0 bytes" in result.err
    assert list(tmp_path.iterdir()) == []
    # And as a data source: exit 3, never "0 conversations".
    inspect = cli("inspect", http_server.url("/data.jsonl", token=SECRET), "--json")
    assert inspect.rc == 3
    assert inspect.json["error"]["code"] == "source_empty"
    assert_no_secret(inspect)


def test_body_cut_short_of_content_length(
    cli: Runner, http_server: LoopbackServer, tmp_path: Path
) -> None:
    http_server.add("/data.jsonl", body=DATA, cut_after=1000)
    result = fetch(
        cli, http_server.url("/data.jsonl", token=SECRET), tmp_path / "d.jsonl", "--retries", "1"
    )
    assert result.rc == 3
    assert result.json["error"]["code"] == "source_size_mismatch"
    assert str(len(DATA)) in result.err
    assert http_server.hits("/data.jsonl") == 2
    assert list(tmp_path.iterdir()) == []
    assert_no_secret(result)


def test_server_fails_twice_then_succeeds(
    cli: Runner, http_server: LoopbackServer, tmp_path: Path
) -> None:
    http_server.add("/data.jsonl", Reply(status=500), Reply(status=503), Reply(body=DATA))
    dest = tmp_path / "d.jsonl"
    result = fetch(cli, http_server.url("/data.jsonl", token=SECRET), dest)
    assert result.rc == 0, result.err
    assert result.json["attempts"] == 3
    assert "(3 attempts)" in result.err
    assert dest.read_bytes() == DATA
    assert_no_secret(result)


def test_redirect(cli: Runner, http_server: LoopbackServer, tmp_path: Path) -> None:
    http_server.add("/old.jsonl", redirect="/new.jsonl?X-Signature=" + SECRET)
    http_server.add("/new.jsonl", body=DATA)
    dest = tmp_path / "d.jsonl"
    result = fetch(cli, http_server.url("/old.jsonl"), dest)
    assert result.rc == 0, result.err
    assert result.json["final_url"] == http_server.url("/new.jsonl") + "?<redacted>"
    assert dest.read_bytes() == DATA
    assert_no_secret(result)


def test_slow_server_times_out(cli: Runner, http_server: LoopbackServer, tmp_path: Path) -> None:
    http_server.add("/data.jsonl", body=DATA, delay=10)
    result = fetch(
        cli,
        http_server.url("/data.jsonl", token=SECRET),
        tmp_path / "d.jsonl",
        "--timeout",
        "0.5",
        "--retries",
        "0",
    )
    assert result.rc == 3
    assert result.json["error"]["code"] == "source_timeout"
    assert_no_secret(result)
    assert list(tmp_path.iterdir()) == []


@needs_core
def test_inspect_and_convert_a_url(
    cli: Runner, http_server: LoopbackServer, tmp_path: Path
) -> None:
    http_server.add("/exports/sample.jsonl", body=SAMPLE.read_bytes())
    url = http_server.signed_url("/exports/sample.jsonl", expires_in=3600)
    token = url.split("token=")[1]
    out = tmp_path / "train.jsonl"
    result = cli(
        "convert", url, "-o", out, "--where", "training_metadata.quality_score == 5", "--json"
    )
    assert result.rc == 0, result.err
    doc = result.json
    shown = http_server.url("/exports/sample.jsonl") + "?<redacted>"
    assert doc["report"]["files"] == [shown]
    assert doc["report"]["rows_kept"] == 17
    assert any(e["file"] == shown and e["line"] == 7 for e in doc["report"]["examples"])
    assert "Downloaded 14.0 kB in " in result.err
    assert "Loaded 17 conversations" in result.err
    assert_no_secret(result, token)
    written = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert len(written) == doc["rows_written"] > 0


@needs_core
def test_duplicate_detection_reads_the_download_twice_but_downloads_once(
    cli: Runner, http_server: LoopbackServer, tmp_path: Path
) -> None:
    body = DATA + DATA[: DATA.index(b"\n") + 1]  # the first conversation again, at line 201
    http_server.add("/dup.jsonl", body=body)
    url = http_server.url("/dup.jsonl", sig=SECRET)
    result = cli("inspect", url, "--json")
    assert result.rc == 0, result.err
    dup = result.json["statistics"]["duplicates"]
    assert dup["duplicate_rows"] == 1
    assert [r["line"] for r in dup["examples"][0]["rows"]] == [1, 201]
    out = tmp_path / "out.jsonl"
    converted = cli("convert", url, "-o", out, "--dedup", "--json")
    assert converted.rc == 0, converted.err
    assert converted.json["rows_written"] == 200
    assert http_server.hits("/dup.jsonl") == 2  # one download per command, not per pass
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.jsonl"]  # no download left
    assert_no_secret(result)


def test_fetch_of_something_that_is_not_a_url_is_a_usage_error(cli: Runner, tmp_path: Path) -> None:
    result = cli("fetch", "not-a-url", "-o", tmp_path / "x", "--json")
    assert result.rc == 2
    assert result.json["error"]["code"] == "usage_error"
    assert "is not a URL" in result.json["error"]["message"]
