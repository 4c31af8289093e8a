"""The RunPod SDK's local test mode runs the README's example job: ``python trainer/worker.py
--test_input '{...}'`` exits 0 on success and 1 when the result has an ``error``."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from worker_support import SECRET, brightrun_v4_export

from tests._support.http import LoopbackServer

pytest.importorskip("runpod")

REPO = Path(__file__).resolve().parents[2]
EXAMPLE = REPO / "trainer" / "example_job.json"
DATA_PATH = "/storage/v1/object/sign/exports/train.jsonl"
UPLOAD_PATH = "/storage/v1/object/upload/sign/adapters/run-42.tar.gz"


def _example_job() -> dict[str, Any]:
    return json.loads(EXAMPLE.read_text())  # type: ignore[no-any-return]


def test_readme_shows_the_example_job() -> None:
    readme = (REPO / "trainer" / "README.md").read_text()
    blocks = re.findall(r"```json\n(.*?)```", readme, re.DOTALL)
    assert _example_job() in [json.loads(block) for block in blocks]


def _run_local(job: dict[str, Any]) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "BRIGHTINGEST_LOG_LEVEL": "INFO"}
    env.pop("RUNPOD_WEBHOOK_GET_JOB", None)
    env.pop("RUNPOD_WEBHOOK_POST_OUTPUT", None)
    return subprocess.run(
        [sys.executable, "trainer/worker.py", "--test_input", json.dumps(job)],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def _local_job(server: LoopbackServer, model_dir: Path, **urls: str) -> dict[str, Any]:
    """The example job, pointed at the loopback server and the tiny model, a few steps long."""
    job = _example_job()
    job["input"].update(
        dataset_url=urls.get("dataset_url", server.signed_url(DATA_PATH, sig=SECRET)),
        output_url=server.signed_url(UPLOAD_PATH, sig=SECRET),
        base_model=str(model_dir),
    )
    job["input"]["hyperparameters"].update(
        max_steps=3, max_length=128, token_budget=256, lora_r=4, lora_alpha=8, eval_ratio=0.0
    )
    job["input"]["hyperparameters"].update(cache_dir="", save_every=0)
    return job


@pytest.mark.slow
def test_local_test_mode_runs_the_example_job(http_server: LoopbackServer, model_dir: Path) -> None:
    http_server.add(DATA_PATH, body=brightrun_v4_export(4), method="GET")
    http_server.add(UPLOAD_PATH, json={"Key": "adapters/run-42.tar.gz"}, method="PUT")
    job = _local_job(http_server, model_dir)
    done = _run_local(job)
    output = done.stdout + done.stderr
    assert done.returncode == 0, output[-3000:]
    assert "completed successfully" in output
    put = http_server.requests_to(UPLOAD_PATH)
    assert len(put) == 1
    assert put[0].body[:2] == b"\x1f\x8b"  # gzip
    assert SECRET not in output
    assert job["input"]["dataset_url"].split("token=")[1].split("&")[0] not in output


def test_local_test_mode_exits_non_zero_on_error(
    http_server: LoopbackServer, tmp_path: Path
) -> None:
    job = _local_job(
        http_server, tmp_path, dataset_url=http_server.signed_url(DATA_PATH, expires_in=-60)
    )
    done = _run_local(job)
    output = done.stdout + done.stderr
    assert done.returncode == 1, output[-3000:]
    assert "source_expired" in output
    assert "Traceback" not in output  # the error explains itself
    assert http_server.hits() == 0
    assert SECRET not in output
