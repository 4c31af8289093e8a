"""A run killed mid-way resumes from its last checkpoint to the same total step count."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from brightingest.errors import TrainerError
from brightingest.train import TrainConfig, train
from tests.trainer.support import chat_table, synthetic_chats

MAX_STEPS = 12

SCRIPT = """
import sys, time
from brightingest.train import TrainConfig, train
from tests.trainer.support import chat_table, synthetic_chats
cfg = TrainConfig.from_dict(__import__("json").loads(sys.argv[1]))
def slow(info):
    print("step", info["step"], flush=True)
    time.sleep(0.4)
train(chat_table(synthetic_chats(16)), cfg, sys.argv[2], progress=slow)
"""


def _config(model_dir: Path, tmp_path: Path, **kw: object) -> dict[str, object]:
    base: dict[str, object] = {
        "model": str(model_dir),
        "max_steps": MAX_STEPS,
        "max_length": 128,
        "token_budget": 128,
        "save_every": 3,
        "eval_ratio": 0.0,
        "cache_dir": str(tmp_path / "cache"),
    }
    base.update(kw)
    return base


def _start(cfg: dict[str, object], out: Path) -> subprocess.Popen[str]:
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(p for p in sys.path if p))
    return subprocess.Popen(
        [sys.executable, "-c", SCRIPT, json.dumps(cfg), str(out)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )


def _wait_for_step(proc: subprocess.Popen[str], step: int) -> None:
    assert proc.stdout is not None
    deadline = time.monotonic() + 120
    for line in proc.stdout:
        if line.strip() == f"step {step}":
            return
        assert time.monotonic() < deadline
    raise AssertionError(
        f"the run ended before step {step}: {proc.stderr.read() if proc.stderr else ''}"
    )


@pytest.mark.slow
def test_resume_after_sigkill_and_sigterm(tmp_path: Path, model_dir: Path) -> None:
    out = tmp_path / "out"
    # SIGKILL after step 7 was reported: the last checkpoint is step 6
    proc = _start(_config(model_dir, tmp_path), out)
    _wait_for_step(proc, 7)
    proc.kill()
    proc.communicate()  # reap it and close the pipes
    ckpts = sorted(p.name for p in (out / "checkpoints").glob("step-*"))
    assert ckpts == ["step-00000003", "step-00000006"]
    assert not list((out / "checkpoints").glob(".step-*"))  # no half-written checkpoint
    assert not (out / "adapter_model.safetensors").exists()

    # SIGTERM while resumed: a checkpoint at the current step, then a clean refusal
    proc = _start(_config(model_dir, tmp_path, resume=True), out)
    _wait_for_step(proc, 8)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 1
    assert "stopped by SIGTERM at step" in err
    assert "Hint: run again with resume" in err
    stopped = json.loads((out / "training_summary.json").read_text())
    assert stopped["status"] == "interrupted"
    assert stopped["resumed_from_step"] == 6
    term_step = stopped["steps"]
    assert term_step >= 8
    assert (out / "checkpoints" / f"step-{term_step:08d}" / "state.json").is_file()

    # resume in-process to the end
    steps: list[int] = []
    result = train(
        chat_table(synthetic_chats(16)),
        TrainConfig.from_dict(_config(model_dir, tmp_path, resume=True)),
        out,
        progress=lambda info: steps.append(info["step"]),
    )
    assert result.summary["resumed_from_step"] == term_step
    assert steps == list(range(term_step + 1, MAX_STEPS + 1))
    assert result.summary["steps"] == MAX_STEPS
    assert [p["step"] for p in result.summary["loss_curve"]] == list(range(1, MAX_STEPS + 1))
    assert (out / "adapter_model.safetensors").is_file()


def test_resume_with_other_data_is_refused(tmp_path: Path, model_dir: Path) -> None:
    out = tmp_path / "out"
    cfg = _config(model_dir, tmp_path, max_steps=1)
    train(chat_table(synthetic_chats(4)), TrainConfig.from_dict(cfg), out)
    cfg["resume"] = True
    with pytest.raises(TrainerError) as info:
        train(chat_table(synthetic_chats(4, seed=9)), TrainConfig.from_dict(cfg), out)
    assert info.value.code == "resume_mismatch"
    assert info.value.field == "input_hash"
