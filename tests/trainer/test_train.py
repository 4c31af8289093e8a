"""End to end on the tiny model: the loss falls, outputs load back, bad data is refused."""

from __future__ import annotations

import argparse
import json
import os
import stat
import sys
from pathlib import Path
from typing import Any

import pytest
import torch

from brightingest.errors import TrainerError
from brightingest.train import TrainConfig, TrainResult, train
from brightingest.train import cli as train_cli
from tests.trainer.support import chat_table, msg, synthetic_chats

MAX_STEPS = 30


class _Dataset:
    """What brightingest.load() returns: .table and .report."""

    def __init__(self, table: Any) -> None:
        self.table = table
        self.report = self

    def to_dict(self) -> dict[str, Any]:
        return {"lines_read": self.table.num_rows, "rows_kept": self.table.num_rows}


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory, model_dir: Path) -> tuple[TrainResult, list]:
    out = tmp_path_factory.mktemp("run")
    seen: list[dict[str, Any]] = []
    cfg = TrainConfig(
        model=str(model_dir),
        max_steps=MAX_STEPS,
        max_length=256,
        token_budget=384,
        lr=1e-2,
        lora_r=8,
        lora_dropout=0.0,
        train_embeddings=True,
        eval_ratio=0.1,
        eval_every=15,
        save_every=15,
        cache_dir=str(out / "cache"),
    )
    data = _Dataset(
        chat_table(synthetic_chats(48), metadata=[{"conversation_id": i // 2} for i in range(48)])
    )
    old = os.umask(0o022)  # the outputs' modes are checked against it
    try:
        result = train(data, cfg, out / "adapter", progress=seen.append)
    finally:
        os.umask(old)
    return result, seen


@pytest.mark.slow
def test_loss_falls(trained: tuple[TrainResult, list]) -> None:
    result, seen = trained
    losses = [p["loss"] for p in result.summary["loss_curve"]]
    assert len(losses) == MAX_STEPS
    first, last = sum(losses[:5]) / 5, sum(losses[-5:]) / 5
    assert last < first * 0.8, (first, last)
    assert [p["step"] for p in seen] == list(range(1, MAX_STEPS + 1))
    assert {"step", "max_steps", "loss", "tokens_per_s", "lr"} <= set(seen[0])
    assert [p["step"] for p in seen if "eval_loss" in p] == [15, 30]


@pytest.mark.slow
def test_summary_and_outputs(trained: tuple[TrainResult, list]) -> None:
    result, _ = trained
    out = result.output_dir
    # Readable by the services that load them, as a plain open() under umask 022 would make
    # them (safetensors and mkstemp write 0o600).
    for name in ("adapter_model.safetensors", "training_summary.json", "adapter_config.json"):
        assert stat.S_IMODE((out / name).stat().st_mode) == 0o644, name
    for name in (
        "adapter_config.json",
        "adapter_model.safetensors",
        "tokenizer.json",
        "training_summary.json",
        "loss_curve.png",
    ):
        assert (out / name).is_file(), name
    assert (out / "loss_curve.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    summary = json.loads((out / "training_summary.json").read_text())
    assert summary == json.loads(json.dumps(result.summary, default=str))
    assert summary["steps"] == MAX_STEPS
    assert summary["status"] == "completed"
    assert summary["ingest_report"] == {"lines_read": 48, "rows_kept": 48}
    assert summary["tokenization"]["rows_kept"] == 48
    assert summary["tokens_trained"] == sum(1 for _ in range(0)) or summary["tokens_trained"] > 0
    assert len(summary["input_content_hash"]) == 40
    assert summary["formats"] == ["openai"]
    assert summary["device"] == "cpu"
    assert summary["dtype"] == "float32"
    assert summary["attention_backend"] == "sdpa"
    assert 0 <= summary["data_wait_share"] < 1
    assert summary["tokens_per_s"] > 0
    assert summary["peak_memory_bytes"] > 0
    assert summary["lora_target_modules"] == [
        "q_proj",
        "k_proj",
        "v_proj",
        "o_proj",
        "gate_proj",
        "up_proj",
        "down_proj",
    ]
    # 24 conversation groups of 2 rows: eval takes whole groups only
    assert summary["eval_rows"] == 2 * summary["eval_groups"] > 0
    assert len(summary["eval_curve"]) == 2


@pytest.mark.slow
@pytest.mark.filterwarnings("ignore:.*is_gradient_checkpointing:FutureWarning")
def test_adapter_loads_back_with_same_logits(
    trained: tuple[TrainResult, list], model_dir: Path
) -> None:
    from peft import PeftModel
    from safetensors.torch import load_file
    from transformers import AutoModelForCausalLM

    result, _ = trained
    base = AutoModelForCausalLM.from_pretrained(model_dir)
    ids = torch.tensor([[1, 5, 9, 30, 2, 7]])
    with torch.no_grad():
        plain = base(input_ids=ids).logits
    loaded = PeftModel.from_pretrained(base, result.adapter_dir).eval()
    with torch.no_grad():
        adapted = loaded(input_ids=ids).logits
    assert not torch.allclose(plain, adapted)  # the adapter changes the model
    # same logits as merging the saved LoRA weights by hand: W + B @ A * alpha / r
    weights = load_file(str(result.adapter_dir / "adapter_model.safetensors"))
    cfg = json.loads((result.adapter_dir / "adapter_config.json").read_text())
    merged = AutoModelForCausalLM.from_pretrained(model_dir)
    scale = cfg["lora_alpha"] / cfg["r"]
    params = dict(merged.named_parameters())
    full = [k for k in weights if "lora_" not in k]
    assert sorted(full) == [  # train_embeddings: saved in full
        "base_model.model.lm_head.weight",
        "base_model.model.model.embed_tokens.weight",
    ]
    for key in full:
        params[key.removeprefix("base_model.model.")].data.copy_(weights[key])
    for name, module in merged.named_modules():
        key = f"base_model.model.{name}.lora_A.weight"
        if key in weights:
            b = weights[key.replace("lora_A", "lora_B")]
            module.weight.data += (b @ weights[key]) * scale
    with torch.no_grad():
        by_hand = merged(input_ids=ids).logits
    torch.testing.assert_close(adapted, by_hand, rtol=1e-4, atol=1e-4)


@pytest.mark.slow
def test_cache_hit_on_second_run(tmp_path: Path, model_dir: Path) -> None:
    cfg = TrainConfig(
        model=str(model_dir),
        max_steps=1,
        max_length=128,
        token_budget=256,
        eval_ratio=0.0,
        cache_dir=str(tmp_path / "cache"),
    )
    table = chat_table(synthetic_chats(6))
    assert not train(table, cfg, tmp_path / "a").summary["cache_hit"]
    assert train(table, cfg, tmp_path / "b").summary["cache_hit"]


def test_low_trainable_share_is_refused_before_training(tmp_path: Path, model_dir: Path) -> None:
    long_prompt = " ".join(["the cat sat on a mat"] * 40)
    table = chat_table([[msg("user", long_prompt), msg("assistant", "ok")]] * 4)
    cfg = TrainConfig(
        model=str(model_dir), max_steps=5, max_length=1024, token_budget=1024, cache_dir=""
    )
    with pytest.raises(TrainerError) as info:
        train(table, cfg, tmp_path / "out")
    assert info.value.code == "low_trainable_share"
    assert str(info.value) == (
        "min_trainable_share: only 0.9% of the 1300 tokens are trained on (assistant turns), "
        "below min_trainable_share 5.0%.\nHint: check that assistant turns are not all weight 0 "
        "and the prompts are not huge; lower min_trainable_share if this is intended."
    )
    assert not (tmp_path / "out" / "adapter_model.safetensors").exists()
    assert not (tmp_path / "out" / "checkpoints").exists()


def test_no_trainable_rows_is_refused(tmp_path: Path, model_dir: Path) -> None:
    table = chat_table([[msg("user", "hi"), msg("assistant", "one", weight=0)]] * 3)
    cfg = TrainConfig(
        model=str(model_dir), max_steps=5, max_length=128, token_budget=128, cache_dir=""
    )
    with pytest.raises(TrainerError) as info:
        train(table, cfg, tmp_path / "out")
    assert info.value.code == "no_trainable_assistant"
    assert str(info.value) == (
        "no conversation is left to train on: 3 of 3 rows dropped as no_trainable_assistant "
        "(first: data/train.jsonl:1: no assistant message is trained on (all have weight 0, or "
        "none exists).).\nHint: check the assistant turns and their weights; brightingest "
        "inspect shows the data."
    )
    assert not (tmp_path / "out").exists()  # refused before anything was written


def _cli_args(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    train_cli.add_arguments(parser)
    return parser.parse_args(list(argv))


def test_cli_refused_data_exits_1(tmp_path: Path, model_dir: Path, capsys: Any) -> None:
    table = chat_table([[msg("user", "hi"), msg("assistant", "one", weight=0)]] * 2)
    args = _cli_args("--model", str(model_dir), "-o", str(tmp_path / "o"), "--max-steps", "2")
    assert train_cli.run(args, _Dataset(table)) == 1
    assert "no conversation is left to train on" in capsys.readouterr().err


@pytest.mark.slow
def test_cli_trains(tmp_path: Path, model_dir: Path, capsys: Any) -> None:
    conf = tmp_path / "train.toml"
    conf.write_text(
        "max_steps = 50\nmax_length = 128\ntoken_budget = 256\neval_ratio = 0.0\n"
        f'cache_dir = "{tmp_path / "c"}"\n'
    )
    args = _cli_args(
        "--model",
        str(model_dir),
        "-o",
        str(tmp_path / "o"),
        "--config",
        str(conf),
        "--max-steps",
        "2",
        "--no-packing",
    )
    # What `brightingest train --dedup` hands over: the summary must say fewer rows were used.
    args.selection = {"duplicates_dropped": 3, "rows_trained_on": 4}
    assert train_cli.run(args, _Dataset(chat_table(synthetic_chats(4)))) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed["steps"] == 2  # the flag beat the file
    summary = json.loads((tmp_path / "o" / "training_summary.json").read_text())
    assert summary["ingest_report"]["selection"] == args.selection
    assert summary["packing"] is False
    assert summary["attention_backend"] == "sdpa-padded"


def test_import_without_torch_raises_trainer_error() -> None:
    import subprocess

    code = (
        "import sys; sys.modules['torch'] = None\n"
        "from brightingest.errors import TrainerError\n"
        "try:\n    import brightingest.train\nexcept TrainerError as e:\n    print(e)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == (
        'the trainer needs torch, which is not installed.\nHint: pip install "brightingest[train]"'
    )
