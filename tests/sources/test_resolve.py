"""resolve(): directories, globs, missing paths, standard input, URLs."""

from __future__ import annotations

import gzip
import io
import os
import sys
import threading
from pathlib import Path

import pytest

from brightingest.errors import SourceError
from brightingest.sources import resolve
from tests._support.http import LoopbackServer
from tests.sources.conftest import DATA, SECRET


@pytest.fixture
def tree(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """data/{b.jsonl, a.jsonl.gz, c.ndjson.zst, d.json, .hidden.jsonl, notes.txt, sub/e.jsonl}."""
    data = tmp_path / "data"
    (data / "sub").mkdir(parents=True)
    for name in ("b.jsonl", "c.ndjson.zst", "d.json", ".hidden.jsonl", "notes.txt", "sub/e.jsonl"):
        (data / name).write_bytes(b'{"x": 1}\n')
    (data / "a.jsonl.gz").write_bytes(gzip.compress(b'{"x": 1}\n'))
    monkeypatch.chdir(tmp_path)
    return data


def test_directory_lists_data_files_sorted(tree: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level("INFO", logger="brightingest")
    with resolve("data") as src:
        expected = [
            str(Path("data") / n) for n in ("a.jsonl.gz", "b.jsonl", "c.ndjson.zst", "d.json")
        ]
        assert src.paths == expected
        assert src.names == expected
        assert src.fetched == []
    # One level deep, and said so: sub/e.jsonl is not read.
    assert "Not reading the subdirectories of data (data files in sub)" in caplog.text


def test_quarantine_files_are_left_out_of_directories_and_globs(tree: Path) -> None:
    (tree / "b.jsonl.quarantine.jsonl").write_bytes(b'{"file": "b.jsonl", "line": 3}\n')
    with resolve("data") as src:
        assert str(Path("data") / "b.jsonl.quarantine.jsonl") not in src.paths
    with resolve("data/*.jsonl") as src:
        assert src.paths == [str(Path("data") / "b.jsonl")]
    with resolve("data/b.jsonl.quarantine.jsonl") as src:  # named on its own: read
        assert src.paths == ["data/b.jsonl.quarantine.jsonl"]


def test_directory_without_data_files(tree: Path) -> None:
    (tree / "empty").mkdir()
    (tree / "txt").mkdir()
    (tree / "txt" / "readme.md").write_text("hi")
    with pytest.raises(SourceError) as info:
        resolve("data/empty")
    assert info.value.code == "source_not_found"
    assert str(info.value) == (
        "data/empty: the directory has no data files (*.jsonl, *.ndjson, *.json, optionally "
        ".gz/.zst) (it is empty).\nHint: point at the files themselves, or use a glob pattern."
    )
    with pytest.raises(SourceError, match=r"\(it holds 1 other entries, e.g. 'readme.md'\)"):
        resolve("data/txt")


def test_glob_patterns(tree: Path) -> None:
    with resolve("data/*.jsonl") as src:
        assert src.paths == ["data/b.jsonl"]
    with resolve("data/**/*.jsonl") as src:
        assert src.paths == ["data/b.jsonl", "data/sub/e.jsonl"]
    with resolve("data/[ab].*") as src:
        assert src.paths == ["data/a.jsonl.gz", "data/b.jsonl"]


def test_glob_matching_nothing(tree: Path) -> None:
    with pytest.raises(
        SourceError, match=r"^data/\*\.parquet: the pattern matches no files\.\nHint: "
    ) as info:
        resolve(["data/b.jsonl", "data/*.parquet"])
    assert info.value.code == "source_not_found"


def test_missing_path(tree: Path) -> None:
    with pytest.raises(SourceError) as info:
        resolve([Path("data/b.jsonl"), "data/nope.jsonl"])
    err = info.value
    assert (err.code, err.path) == ("source_not_found", "data/nope.jsonl")
    assert str(err) == (
        "data/nope.jsonl: does not exist.\n"
        "Hint: check the path (relative paths are relative to the current directory)."
    )


def test_no_sources(tree: Path) -> None:
    with pytest.raises(SourceError, match="no sources given") as info:
        resolve([])
    assert info.value.code == "source_not_found"


def test_order_kept_and_duplicates_removed(tree: Path) -> None:
    with resolve(
        ["data/d.json", "data", "./data/b.jsonl", tree / "d.json", "data/sub/e.jsonl"]
    ) as src:
        assert src.paths == [
            "data/d.json",
            "data/a.jsonl.gz",
            "data/b.jsonl",
            "data/c.ndjson.zst",
            "data/sub/e.jsonl",
        ]


def test_stdin_binary_is_spooled_and_removed(tree: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    compressed = gzip.compress(DATA)
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(compressed)))
    with resolve(["-", "data/b.jsonl", "-"]) as src:
        assert src.names == ["<stdin>", "data/b.jsonl"]
        spooled = Path(src.paths[0])
        assert spooled.read_bytes() == compressed
    assert not spooled.exists()
    assert not spooled.parent.exists()


def test_stdin_without_buffer_attribute(tree: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "stdin", io.BytesIO(DATA))
    with resolve("-", workdir=tree / "work") as src:
        assert Path(src.paths[0]).read_bytes() == DATA
        assert Path(src.paths[0]).is_relative_to(tree / "work")
    assert list((tree / "work").iterdir()) == []


def test_empty_stdin(tree: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "stdin", io.BytesIO(b""))
    with pytest.raises(
        SourceError, match=r"^<stdin>: standard input is empty \(0 bytes\)\."
    ) as info:
        resolve("-", workdir=tree / "work")
    assert info.value.code == "source_empty"
    assert list((tree / "work").iterdir()) == []


class _Terminal(io.BytesIO):
    def isatty(self) -> bool:
        return True


def test_stdin_terminal_is_refused_rather_than_waited_on(
    tree: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sys, "stdin", _Terminal(DATA))
    with pytest.raises(SourceError, match="standard input is a terminal") as info:
        resolve("-")
    assert info.value.code == "source_not_found"


def test_url_is_fetched_to_a_temporary_directory(tree: Path, http_server: LoopbackServer) -> None:
    http_server.add("/exports/train.jsonl", body=DATA)
    url = http_server.url("/exports/train.jsonl", token=SECRET)
    with resolve(["data/b.jsonl", url, url], workdir=tree / "work", progress=False) as src:
        assert src.names == ["data/b.jsonl", f"{http_server.base}/exports/train.jsonl?<redacted>"]
        fetched = Path(src.paths[1])
        assert fetched.read_bytes() == DATA
        assert fetched.name.endswith("train.jsonl")
        assert [f.bytes for f in src.fetched] == [len(DATA)]
        assert http_server.hits() == 1
    assert not fetched.exists()
    assert list((tree / "work").iterdir()) == []


def test_failing_url_cleans_up_earlier_downloads(tree: Path, http_server: LoopbackServer) -> None:
    http_server.add("/good.jsonl", body=DATA)
    http_server.add("/empty.jsonl", body=b"")
    with pytest.raises(SourceError) as info:
        resolve(
            [http_server.url("/good.jsonl"), http_server.url("/empty.jsonl")], workdir=tree / "work"
        )
    assert info.value.code == "source_empty"
    assert list((tree / "work").iterdir()) == []


def test_fetch_kwargs_are_passed_on(
    tree: Path, http_server: LoopbackServer, sleeps: list[float]
) -> None:
    http_server.add("/flaky", status=500)
    with pytest.raises(SourceError):
        resolve(http_server.url("/flaky"), retries=1, backoff=0.1)
    assert http_server.hits() == 2
    assert sleeps == [0.1]


def test_file_url(tree: Path) -> None:
    with resolve((tree / "b.jsonl").as_uri()) as src:
        assert src.paths == [str(tree / "b.jsonl")]


def test_fsspec_glob_and_directory(tree: Path) -> None:
    fsspec = pytest.importorskip("fsspec")
    fs = fsspec.filesystem("memory")
    fs.pipe("/bi-resolve/b.jsonl", DATA)
    fs.pipe("/bi-resolve/a.jsonl", DATA[:100])
    fs.pipe("/bi-resolve/readme.md", b"x")
    try:
        with resolve("memory://bi-resolve/*.jsonl", workdir=tree / "work") as src:
            assert src.names == ["memory:///bi-resolve/a.jsonl", "memory:///bi-resolve/b.jsonl"]
            assert [Path(p).read_bytes() for p in src.paths] == [DATA[:100], DATA]
        with resolve("memory://bi-resolve", workdir=tree / "work") as src:
            assert len(src) == 2
        with pytest.raises(SourceError, match="the pattern matches no files") as info:
            resolve("memory://bi-resolve/*.parquet")
        assert info.value.code == "source_not_found"
    finally:
        fs.rm("/bi-resolve", recursive=True)


def test_file_url_is_percent_decoded_once(tmp_path: Path) -> None:
    # "a%20b.jsonl" is the file's real name: file:///.../a%2520b.jsonl names it, not "a b.jsonl".
    literal = tmp_path / "a%20b.jsonl"
    literal.write_bytes(b'{"x": 1}\n')
    (tmp_path / "a b.jsonl").write_bytes(b'{"x": 2}\n')
    with resolve(f"file://{tmp_path}/a%2520b.jsonl") as src:
        assert [Path(p) for p in src.paths] == [literal]
    with resolve(f"file://{tmp_path}/a%20b.jsonl") as src:
        assert [Path(p) for p in src.paths] == [tmp_path / "a b.jsonl"]


@pytest.mark.parametrize("item", ["", "  "])
def test_an_empty_source_is_refused_not_the_current_directory(tree: Path, item: str) -> None:
    with pytest.raises(SourceError, match="an empty source name"):
        resolve(item)


def test_backend_errors_become_source_errors(tree: Path) -> None:
    pytest.importorskip("fsspec")
    # zip:// without a zip file: fsspec's own error, in brightingest's words.
    with pytest.raises(SourceError) as info:
        resolve("zip://x.jsonl")
    assert info.value.code in ("source_error", "source_not_found")
    assert "zip://x.jsonl" in str(info.value)


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="named pipes")
def test_a_named_pipe_is_read_once_into_a_spool(tmp_path: Path) -> None:
    # `brightingest inspect <(zcat a.jsonl.gz)` passes /dev/fd/63: a pipe, readable once.
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    data = b'{"x": 1}\n' * 1000
    writer = threading.Thread(target=fifo.write_bytes, args=(data,))
    writer.start()
    with resolve(str(fifo)) as src:
        assert src.names == [str(fifo)]
        assert Path(src.paths[0]).read_bytes() == data  # a regular file, whole
        spool = Path(src.paths[0])
    writer.join(timeout=10)
    assert not spool.exists()  # removed with the other temporary copies


@pytest.mark.parametrize("bad", [b"data.jsonl", 5, {"a.jsonl": 1}, ["a.jsonl", 3]])
def test_sources_of_the_wrong_type_are_type_errors(bad: object) -> None:
    with pytest.raises(TypeError, match="must be"):
        resolve(bad)  # type: ignore[arg-type]
