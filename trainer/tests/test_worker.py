"""The serverless worker, end to end against a loopback HTTP server: download, ingest, train,
upload; every failure path returns its stable error code, and no signed URL leaks."""

from __future__ import annotations

import hashlib
import importlib.util
import io
import json
import logging
import sys
import tarfile
import types
from pathlib import Path
from typing import Any

import pytest
from worker_support import SECRET, brightrun_v4_export

import brightingest
from brightingest import _http
from tests._support.data import SAMPLE_ROWS, encode_lines
from tests._support.http import LoopbackServer, Reply

REPO = Path(__file__).resolve().parents[2]
DATA_PATH = "/storage/v1/object/sign/exports/train.jsonl"
UPLOAD_PATH = "/storage/v1/object/upload/sign/adapters/run-1.tar.gz"
FORMATS = ", ".join(sorted(info.name for info in brightingest.formats()))
TINY = {
    "max_steps": 3,
    "max_length": 128,
    "token_budget": 256,
    "lr": 0.01,
    "lora_r": 4,
    "eval_ratio": 0.0,
    "save_every": 0,
    "cache_dir": "",
    "num_workers": 0,
}


def _load_worker() -> types.ModuleType:
    spec = importlib.util.spec_from_file_location("brightingest_worker", REPO / "trainer/worker.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


worker = _load_worker()


@pytest.fixture(autouse=True)
def _offline(monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")  # never the hub, even by mistake
    monkeypatch.delenv("RUNPOD_WEBHOOK_POST_OUTPUT", raising=False)
    caplog.set_level(logging.DEBUG, logger="brightingest")


def _job(server: LoopbackServer, base_model: str, **overrides: Any) -> dict[str, Any]:
    data = {
        "dataset_url": server.signed_url(DATA_PATH, sig=SECRET),
        "format": "brightrun-v4",
        "base_model": base_model,
        "hyperparameters": dict(TINY),
        "output_url": server.signed_url(UPLOAD_PATH, sig=SECRET),
    }
    data.update(overrides)
    return {"id": "job-1", "input": data}


def _assert_no_secrets(job: dict[str, Any], *texts: str) -> None:
    tokens = [SECRET]
    for name in ("dataset_url", "output_url"):
        value = job["input"].get(name) if isinstance(job["input"], dict) else None
        for url in value if isinstance(value, list) else [value]:
            if isinstance(url, str) and "token=" in url:
                tokens.append(url.split("token=")[1].split("&")[0])
    for text in texts:
        for token in tokens:
            assert token not in text


def _redacted(path: str, server: LoopbackServer) -> str:
    return f"{server.base}{path}?<redacted>"


def _fail(
    server: LoopbackServer, caplog: pytest.LogCaptureFixture, job: dict[str, Any], code: str
) -> dict[str, Any]:
    result = worker.handler(job)
    assert set(result["error"]) >= {"code", "message"}
    assert result["error"]["code"] == code, result["error"]
    assert result["error"]["code"] in worker.ERROR_CODES
    _assert_no_secrets(job, json.dumps(result), caplog.text)
    assert not server.requests_to(UPLOAD_PATH)  # nothing was uploaded
    return result  # type: ignore[no-any-return]


# ------------------------------------------------------------------------ input validation


@pytest.mark.parametrize(
    ("change", "field", "message"),
    [
        (
            {"epochs_total": 2},
            "epochs_total",
            "input.epochs_total: unknown field.\nHint: known fields: dataset_url, format, "
            "base_model, hyperparameters, output_url, max_bad_ratio.",
        ),
        (
            {"dataset_url": None},
            "dataset_url",
            "input.dataset_url: missing.\nHint: dataset_url is a URL (signed http(s), s3://, "
            "gs://...) or a list of them.",
        ),
        (
            {"dataset_url": 3},
            "dataset_url",
            "input.dataset_url: expected a URL or a list of URLs, got a number.",
        ),
        (
            {"dataset_url": ["https://x.test/a.jsonl", 7]},
            "dataset_url[1]",
            "input.dataset_url[1]: expected a URL string, got a number.",
        ),
        (
            {"base_model": ""},
            "base_model",
            "input.base_model: expected a hub id or a path, got a string.",
        ),
        (
            {"format": "brightrun-v5"},
            "format",
            f'input.format: unknown format "brightrun-v5"; installed formats: {FORMATS}.\n'
            'Hint: use one of those, or "auto" to detect the format.',
        ),
        (
            {"output_url": "out/adapter.tar.gz"},
            "output_url",
            'input.output_url: "out/adapter.tar.gz" is not a URL.\nHint: pass a signed upload '
            "URL (https://...) or an fsspec URL (s3://bucket/key.tar.gz).",
        ),
        (
            {"max_bad_ratio": "5%"},
            "max_bad_ratio",
            "input.max_bad_ratio: expected a number from 0 to 1, got a string.",
        ),
        (
            {"max_bad_ratio": 2},
            "max_bad_ratio",
            "input.max_bad_ratio: expected a number from 0 to 1, got 2.",
        ),
        (
            {"hyperparameters": [1]},
            "hyperparameters",
            "input.hyperparameters: expected an object, got an array.",
        ),
        (
            {"hyperparameters": {"model": "x"}},
            "hyperparameters.model",
            "input.hyperparameters.model: set the base model with base_model, not "
            "hyperparameters.model.",
        ),
        (
            {"base_model": "/nonexistent-model"},
            "base_model",
            'input.base_model: names a directory that does not exist, got "/nonexistent-model".'
            "\nHint: pass a hub id, or a directory present in the image.",
        ),
    ],
)
def test_invalid_input_names_the_field(
    http_server: LoopbackServer,
    caplog: pytest.LogCaptureFixture,
    change: dict[str, Any],
    field: str,
    message: str,
) -> None:
    job = _job(http_server, "tiny-model")
    job["input"].update(change)
    result = _fail(http_server, caplog, job, "invalid_input")
    assert result["error"] == {"code": "invalid_input", "message": message, "field": field}
    assert http_server.hits() == 0  # validated before anything is downloaded


def test_invalid_hyperparameter_is_refused_before_download(
    http_server: LoopbackServer, caplog: pytest.LogCaptureFixture
) -> None:
    job = _job(http_server, "tiny-model", hyperparameters={"max_step": 3})
    error = _fail(http_server, caplog, job, "invalid_input")["error"]
    assert error["field"] == "hyperparameters.max_step"
    assert error["message"].startswith(
        'input.hyperparameters.max_step: unknown setting "max_step".\nHint: did you mean '
        '"max_steps"?'
    )
    wrong_type = _job(http_server, "tiny-model", hyperparameters={"lora_r": "big"})
    error = _fail(http_server, caplog, wrong_type, "invalid_input")["error"]
    assert error["field"] == "hyperparameters.lora_r"
    assert http_server.hits() == 0


def test_input_that_is_not_an_object(
    http_server: LoopbackServer, caplog: pytest.LogCaptureFixture
) -> None:
    result = _fail(http_server, caplog, {"id": "j", "input": "train please"}, "invalid_input")
    assert result["error"]["field"] == "input"
    assert result["error"]["message"].startswith("input: expected an object, got a string.")


# ------------------------------------------------------------------------ download failures


def test_expired_token_fails_before_any_request(
    http_server: LoopbackServer, caplog: pytest.LogCaptureFixture
) -> None:
    http_server.add(DATA_PATH, body=encode_lines(SAMPLE_ROWS["brightrun-v4"]))
    job = _job(http_server, "tiny-model")
    job["input"]["dataset_url"] = http_server.signed_url(DATA_PATH, expires_in=-120)
    error = _fail(http_server, caplog, job, "source_expired")["error"]
    assert error["field"] == "dataset_url"
    assert error["detail_code"] == "source_expired"
    assert error["message"].startswith(
        f"input.dataset_url: {_redacted(DATA_PATH, http_server)}: signed Supabase Storage URL "
        "expired at "
    )
    assert "Hint: ask the app for a fresh export link" in error["message"]
    assert http_server.hits() == 0


def test_expired_output_url_fails_before_download(
    http_server: LoopbackServer, caplog: pytest.LogCaptureFixture
) -> None:
    job = _job(http_server, "tiny-model")
    job["input"]["output_url"] = http_server.signed_url(UPLOAD_PATH, expires_in=-5)
    error = _fail(http_server, caplog, job, "source_expired")["error"]
    assert error["field"] == "output_url"
    assert http_server.hits() == 0  # no download, no training: the adapter could not be stored


@pytest.mark.parametrize(
    ("reply", "code", "detail", "quoted"),
    [
        (Reply(body=b""), "source_empty", "source_empty", "the download is empty (0 bytes)."),
        (
            Reply(
                body="<!DOCTYPE html><html><head><title>Error</title></head>"
                "<body>Something went wrong</body></html>",
                content_type="text/html",
            ),
            "source_error_body",
            "source_error_body",
            "instead of data.",
        ),
        (
            Reply(json={"statusCode": "400", "error": "InvalidJWT", "message": "jwt expired"}),
            "source_error_body",
            "source_error_body",
            "instead of data.",
        ),
        (
            Reply(
                status=400,
                json={"statusCode": "400", "error": "InvalidJWT", "message": "jwt expired"},
            ),
            "source_error_body",
            "source_http_error",
            "jwt expired",
        ),
    ],
    ids=["zero-bytes", "html-page", "json-error-200", "json-error-400"],
)
def test_download_failures(
    http_server: LoopbackServer,
    caplog: pytest.LogCaptureFixture,
    reply: Reply,
    code: str,
    detail: str,
    quoted: str,
) -> None:
    http_server.add(DATA_PATH, reply)
    result = _fail(http_server, caplog, _job(http_server, "tiny-model"), code)
    error = result["error"]
    assert error["detail_code"] == detail
    assert error["field"] == "dataset_url"
    assert error["message"].startswith(_redacted(DATA_PATH, http_server) + ": ")
    assert quoted in error["message"]
    assert "ingest_report" not in result  # never parsed as data


def test_truncated_download_keeps_the_source_code(
    http_server: LoopbackServer, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(_http, "_sleep", lambda seconds: None)
    http_server.add(DATA_PATH, body=encode_lines(SAMPLE_ROWS["brightrun-v4"]), cut_after=10)
    error = _fail(http_server, caplog, _job(http_server, "tiny-model"), "source_unavailable")[
        "error"
    ]
    assert error["detail_code"] in ("source_size_mismatch", "source_connection_failed")


# ------------------------------------------------------------------------ data failures


def test_openai_file_forced_as_brightrun_v4(
    http_server: LoopbackServer, caplog: pytest.LogCaptureFixture
) -> None:
    http_server.add(DATA_PATH, body=encode_lines(SAMPLE_ROWS["openai"]))
    result = _fail(http_server, caplog, _job(http_server, "tiny-model"), "no_valid_rows")
    error = result["error"]
    assert error["message"] == (
        f"{_redacted(DATA_PATH, http_server)}:1: looks like openai (fields messages), but "
        'format="brightrun-v4" was forced.\nHint: drop format= to auto-detect, or pass '
        'format="openai".'
    )
    assert error["field"] == "format"
    assert error["detail_code"] == "unsupported_format"
    assert error["candidates"] == ["openai"]
    assert result["download"]["bytes"] == len(encode_lines(SAMPLE_ROWS["openai"]))


def test_all_lines_invalid(http_server: LoopbackServer, caplog: pytest.LogCaptureFixture) -> None:
    http_server.add(DATA_PATH, body=b'{"id": 1, "target_response": \n{not json}\n')
    job = _job(http_server, "tiny-model", format="auto")
    error = _fail(http_server, caplog, job, "no_valid_rows")["error"]
    where = _redacted(DATA_PATH, http_server)
    assert error["message"].startswith(
        f"{where}: 0 rows kept of 2 lines read (2 invalid_json). Most common reason: "
        f"invalid_json, e.g. {where}:1: invalid JSON"
    )
    report = error["report"]
    assert report["lines_read"] == 2
    assert report["rows_kept"] == 0
    assert report["skipped"] == {"invalid_json": 2}
    assert report["files"] == [where]
    assert [(e["file"], e["line"]) for e in report["examples"]] == [(where, 1), (where, 2)]


def test_too_many_bad_rows(http_server: LoopbackServer, caplog: pytest.LogCaptureFixture) -> None:
    # The real sample export: 19 lines, a _meta line and one line of invalid JSON (line 7).
    sample = (REPO / "examples" / "brightrun_v4_sample.jsonl").read_bytes()
    http_server.add(DATA_PATH, body=sample)
    result = _fail(http_server, caplog, _job(http_server, "tiny-model"), "too_many_bad_rows")
    error, where = result["error"], _redacted(DATA_PATH, http_server)
    assert error["message"].startswith(
        "1 of 19 lines are bad (5.26%), over max_bad_ratio 0.01; refusing to train. Most common "
        f"reason: invalid_json, e.g. {where}:7: invalid JSON"
    )
    assert error["bad_ratio"] == round(1 / 19, 6)
    assert error["max_bad_ratio"] == 0.01
    assert error["report"]["skipped"] == {"metadata_line": 1, "invalid_json": 1}
    assert error["report"]["rows_kept"] == 17
    assert result["ingest_report"] == result["ingest_report"] | {"lines_read": 19}
    assert "training_summary" not in result


def test_broken_base_model_is_training_failed(
    http_server: LoopbackServer, caplog: pytest.LogCaptureFixture, tmp_path: Path
) -> None:
    pytest.importorskip("transformers")
    (tmp_path / "config.json").write_text("{ not json")
    http_server.add(DATA_PATH, body=brightrun_v4_export(2))
    result = _fail(http_server, caplog, _job(http_server, str(tmp_path)), "training_failed")
    assert result["error"]["message"].startswith("training failed (")
    assert result["error"]["exception"]
    assert result["ingest_report"]["rows_kept"] == 4
    assert "Traceback (most recent call last)" in caplog.text  # the log has the details


# ------------------------------------------------------------------------ end to end


class _FakeRunpod:
    """Stands in for the SDK module on the platform: records progress updates."""

    def __init__(self) -> None:
        self.updates: list[tuple[str, dict[str, Any]]] = []
        self.serverless = types.SimpleNamespace(progress_update=self._progress)

    def _progress(self, job: dict[str, Any], update: dict[str, Any]) -> None:
        self.updates.append((job["id"], update))


@pytest.mark.slow
@pytest.mark.filterwarnings("ignore:.*is_gradient_checkpointing:FutureWarning")
def test_end_to_end_trains_and_uploads_a_loadable_adapter(
    http_server: LoopbackServer,
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
    model_dir: Path,
    tmp_path: Path,
) -> None:
    import torch
    from peft import PeftModel
    from transformers import AutoModelForCausalLM

    data = brightrun_v4_export(8)
    http_server.add(DATA_PATH, body=data, method="GET")
    http_server.add(UPLOAD_PATH, json={"Key": "adapters/run-1.tar.gz"}, method="PUT")
    fake = _FakeRunpod()
    monkeypatch.setitem(sys.modules, "runpod", fake)
    monkeypatch.setenv("RUNPOD_WEBHOOK_POST_OUTPUT", "https://api.runpod.test/job-done")
    job = _job(http_server, str(model_dir))

    result = worker.handler(job)

    assert "error" not in result, result.get("error")
    _assert_no_secrets(job, json.dumps(result), caplog.text, json.dumps(fake.updates))
    put = http_server.requests_to(UPLOAD_PATH)
    assert len(put) == 1
    assert put[0].method == "PUT"
    assert put[0].header("Content-Type") == "application/gzip"
    archive = put[0].body
    assert result["adapter"] == {
        "url": _redacted(UPLOAD_PATH, http_server),
        "format": "tar.gz",
        "bytes": len(archive),
        "sha256": hashlib.sha256(archive).hexdigest(),
        "seconds": result["adapter"]["seconds"],
    }
    summary = result["training_summary"]
    assert summary["status"] == "completed"
    assert summary["steps"] == 3
    assert summary["formats"] == {"brightrun-v4": 16}
    report = result["ingest_report"]
    assert report["lines_read"] == 17
    assert report["rows_kept"] == 16
    assert report["skipped"] == {"metadata_line": 1}
    assert report["files"] == [_redacted(DATA_PATH, http_server)]
    assert summary["ingest_report"] == report
    assert result["download"]["bytes"] == len(data)
    assert result["download"]["files"][0]["url"] == _redacted(DATA_PATH, http_server)

    # progress went through the SDK: every phase, and training steps with loss and tokens/s
    assert {job_id for job_id, _ in fake.updates} == {"job-1"}
    phases = [u["phase"] for _, u in fake.updates]
    assert phases[0] == "download"
    assert phases[-1] == "done"
    assert {"ingest", "train", "upload"} <= set(phases)
    steps = [u for _, u in fake.updates if u["phase"] == "train" and u["step"] > 0]
    assert [u["step"] for u in steps][0] == 1
    assert steps[-1]["step"] == 3
    assert {"loss", "tokens_per_s", "max_steps"} <= set(steps[-1])

    # the archive is the adapter directory; it loads back with peft
    with tarfile.open(fileobj=io.BytesIO(archive), mode="r:gz") as tar:
        names = tar.getnames()
        tar.extractall(tmp_path, filter="data")
    assert "adapter/adapter_config.json" in names
    assert "adapter/adapter_model.safetensors" in names
    assert "adapter/training_summary.json" in names
    assert not [n for n in names if "checkpoints" in n]
    base = AutoModelForCausalLM.from_pretrained(model_dir)
    ids = torch.tensor([[1, 5, 9, 30, 2, 7]])
    with torch.no_grad():
        plain = base(input_ids=ids).logits
    loaded = PeftModel.from_pretrained(base, tmp_path / "adapter").eval()
    with torch.no_grad():
        adapted = loaded(input_ids=ids).logits
    assert not torch.allclose(plain, adapted)  # trained LoRA weights changed the model


@pytest.mark.slow
def test_upload_endpoint_failing(
    http_server: LoopbackServer,
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
    model_dir: Path,
) -> None:
    sleeps: list[float] = []
    monkeypatch.setattr(_http, "_sleep", sleeps.append)
    http_server.add(DATA_PATH, body=brightrun_v4_export(4), method="GET")
    http_server.add(
        UPLOAD_PATH,
        Reply(status=503, json={"statusCode": "503", "error": "Unavailable"}),
        Reply(
            status=403,
            json={
                "statusCode": "403",
                "error": "Unauthorized",
                "message": "new row violates row-level security policy",
            },
        ),
        method="PUT",
    )
    job = _job(http_server, str(model_dir))
    result = worker.handler(job)
    error = result["error"]
    assert error["code"] == "upload_failed"
    assert error["field"] == "output_url"
    assert error["detail_code"] == "upload_failed"
    assert error["message"].startswith(_redacted(UPLOAD_PATH, http_server) + ": ")
    assert "new row violates row-level security policy" in error["message"]
    assert len(http_server.requests_to(UPLOAD_PATH)) == 2  # the 503 was retried, the 403 not
    assert len(sleeps) == 1
    # the context of what did work is kept
    assert result["training_summary"]["steps"] == 3
    assert result["ingest_report"]["rows_kept"] == 8
    _assert_no_secrets(job, json.dumps(result), caplog.text)
