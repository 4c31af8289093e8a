"""The LoRA training loop: model setup, steps, evaluation, checkpoints and resume.

One call, :func:`train`, goes from a chat table to an adapter directory:

1. tokenize (or fetch from the cache) with the model's chat template, assistant-only labels;
2. refuse data that would train on nothing or almost nothing, before any model is loaded;
3. split off an eval set by conversation group;
4. load the model with the packed attention, inject LoRA (peft), compile layers on CUDA;
5. train: token-budget micro-batches prepared by a background thread, the loss on labelled
   positions only, gradient accumulation normalised by the step's target tokens, AdamW with
   warmup + cosine, clipping;
6. checkpoint atomically every ``save_every`` steps and on SIGTERM; resume continues from the
   last checkpoint at the same data position;
7. write the adapter (peft format), the tokenizer, ``training_summary.json``, ``loss_curve.png``.
"""

from __future__ import annotations

import contextlib
import math
import os
import random
import resource
import shutil
import signal
import stat
import threading
import time
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from brightingest.errors import TrainerError
from brightingest.train import attention
from brightingest.train.config import TrainConfig
from brightingest.train.dataset import Prefetcher, TokenizedData, prepare, split_by_group
from brightingest.train.loss import labelled_loss_sum, supports_fused_head
from brightingest.train.packing import MicroBatch, PackedRows, plan_epoch
from brightingest.train.summary import plot_loss, write_json_atomic, write_summary
from brightingest.train.tokenize import ChatTokenizer

__all__ = ["TrainResult", "default_target_modules", "train"]

#: Module names adapted by default, per architecture family.
_PROJ = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]
_FAMILIES = ("llama", "qwen2", "qwen3", "mistral", "mixtral", "gemma", "gemma2", "phi3", "olmo")

#: Settings that must match between a checkpoint and the run resuming it.
_RESUME_KEYS = (
    "model",
    "max_length",
    "truncation",
    "lora_r",
    "lora_alpha",
    "target_modules",
    "train_embeddings",
    "packing",
    "token_budget",
    "grad_accum",
    "eval_ratio",
    "seed",
)


@dataclass
class TrainResult:
    """What :func:`train` produced.

    Attributes:
        output_dir: The run's output directory.
        adapter_dir: The directory ``PeftModel.from_pretrained`` loads (same as ``output_dir``).
        summary: The content of ``training_summary.json``.
    """

    output_dir: Path
    adapter_dir: Path
    summary: dict[str, Any]


# ---------------------------------------------------------------------- setup helpers


def _device() -> torch.device:
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def _dtype(bf16: Any, device: torch.device) -> torch.dtype:
    if bf16 == "auto":
        ok = device.type == "cuda" and torch.cuda.is_bf16_supported()
        return torch.bfloat16 if ok else torch.float32
    return torch.bfloat16 if bf16 else torch.float32


def _load_tokenizer(model: str) -> Any:
    from transformers import AutoTokenizer

    try:
        return AutoTokenizer.from_pretrained(model)
    except Exception as exc:
        raise TrainerError(
            f"cannot load the tokenizer of {model!r}: {_first_line(exc)}",
            code="bad_model",
            field="model",
            hint="pass a local directory written by save_pretrained, or a hub id (needs network).",
        ) from exc


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0][:200] if text else type(exc).__name__


def default_target_modules(model: torch.nn.Module) -> list[str] | str:
    """LoRA targets: the attention and MLP projections for llama/qwen/mistral-like models,
    else every linear layer except the output head (peft's ``"all-linear"``)."""
    model_type = str(getattr(getattr(model, "config", None), "model_type", ""))
    names = {name.rsplit(".", 1)[-1] for name, _ in model.named_modules()}
    if model_type in _FAMILIES or model_type.startswith(("llama", "qwen", "mistral")):
        found = [p for p in _PROJ if p in names]
        if found:
            return found
    return "all-linear"


def _embedding_modules(model: Any) -> list[str]:
    out: list[str] = []
    emb_in, emb_out = model.get_input_embeddings(), model.get_output_embeddings()
    for name, module in model.named_modules():
        if module is emb_in or (emb_out is not None and module is emb_out):
            out.append(name.rsplit(".", 1)[-1])
    return out


def _schedule(step: int, total: int, warmup: int) -> float:
    if warmup and step < warmup:
        return (step + 1) / warmup
    progress = (step - warmup) / max(1, total - warmup)
    return 0.5 * (1.0 + math.cos(math.pi * min(1.0, progress)))


def _peak_memory(device: torch.device) -> int:
    if device.type == "cuda":
        return int(torch.cuda.max_memory_allocated(device))
    return int(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss) * 1024


def _ingest_report(data: Any, report: dict[str, Any] | None) -> dict[str, Any] | None:
    if report is not None:
        return dict(report)
    rep = getattr(data, "report", None)
    if rep is not None and callable(getattr(rep, "to_dict", None)):
        return dict(rep.to_dict())
    return None


def _check_data(tok: TokenizedData, config: TrainConfig) -> None:
    rep = tok.report
    if rep.rows_kept == 0:
        reason, count = max(rep.dropped.items(), key=lambda kv: kv[1], default=("empty", 0))
        example = (rep.examples.get(reason) or [""])[0]
        raise TrainerError(
            f"no conversation is left to train on: {count} of {rep.rows_in} rows dropped as "
            f"{reason}" + (f" (first: {example})" if example else "") + ".",
            code=reason if reason != "empty" else "no_rows",
            hint="check the assistant turns and their weights; brightingest inspect shows "
            "the data.",
        )
    if rep.trainable_share < config.min_trainable_share:
        raise TrainerError(
            f"only {rep.trainable_share:.1%} of the {rep.tokens} tokens are trained on "
            f"(assistant turns), below min_trainable_share {config.min_trainable_share:.1%}.",
            code="low_trainable_share",
            field="min_trainable_share",
            hint="check that assistant turns are not all weight 0 and the prompts are not huge; "
            "lower min_trainable_share if this is intended.",
        )


# ---------------------------------------------------------------------- checkpoints


def _checkpoint_dirs(root: Path) -> list[Path]:
    if not root.is_dir():
        return []
    found = [
        p for p in root.iterdir() if p.name.startswith("step-") and (p / "state.json").is_file()
    ]
    return sorted(found, key=lambda p: int(p.name.split("-", 1)[1]))


def _save_checkpoint(
    root: Path,
    step: int,
    peft_model: Any,
    optimizer: torch.optim.Optimizer,
    scheduler: Any,
    state: dict[str, Any],
    keep: int,
) -> Path:
    import json

    root.mkdir(parents=True, exist_ok=True)
    final = root / f"step-{step:08d}"
    if (final / "state.json").is_file():
        return final
    tmp = root / f".step-{step:08d}.tmp-{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir()
    peft_model.save_pretrained(str(tmp / "adapter"))
    torch.save(optimizer.state_dict(), tmp / "optimizer.pt")
    torch.save(scheduler.state_dict(), tmp / "scheduler.pt")
    rng: dict[str, Any] = {"torch": torch.get_rng_state()}
    if torch.cuda.is_available():
        rng["cuda"] = torch.cuda.get_rng_state_all()
    torch.save(rng, tmp / "rng.pt")
    (tmp / "state.json").write_text(json.dumps(state, default=str), encoding="utf-8")
    shutil.rmtree(final, ignore_errors=True)
    tmp.replace(final)
    write_json_atomic(root / "latest.json", {"step": step, "dir": final.name})
    for old in _checkpoint_dirs(root)[:-keep]:
        shutil.rmtree(old, ignore_errors=True)
    return final


def _load_checkpoint(
    root: Path,
    peft_model: Any,
    optimizer: torch.optim.Optimizer,
    scheduler: Any,
    expected: dict[str, Any],
) -> dict[str, Any] | None:
    import json

    from peft import set_peft_model_state_dict
    from safetensors.torch import load_file

    dirs = _checkpoint_dirs(root)
    if not dirs:
        return None
    ckpt = dirs[-1]
    state: dict[str, Any] = json.loads((ckpt / "state.json").read_text(encoding="utf-8"))
    saved = state.get("settings", {})
    for key, value in expected.items():
        if saved.get(key) != value:
            raise TrainerError(
                f"the checkpoint {ckpt.name} was made with {key}={saved.get(key)!r}, "
                f"this run has {key}={value!r}.",
                code="resume_mismatch",
                path=str(ckpt),
                field=key,
                hint="resume with the same data and settings, or write to a new output directory.",
            )
    weights = load_file(str(ckpt / "adapter" / "adapter_model.safetensors"))
    set_peft_model_state_dict(peft_model, weights)
    optimizer.load_state_dict(torch.load(ckpt / "optimizer.pt", weights_only=True))
    scheduler.load_state_dict(torch.load(ckpt / "scheduler.pt", weights_only=True))
    rng = torch.load(ckpt / "rng.pt", weights_only=True)
    torch.set_rng_state(rng["torch"])
    if "cuda" in rng and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(rng["cuda"])
    return state


# ---------------------------------------------------------------------- the run


class _Stream:
    """The endless sequence of training micro-batches across epochs, from a saved position."""

    def __init__(
        self, lengths: np.ndarray, rows: np.ndarray, config: TrainConfig, epoch: int, index: int
    ) -> None:
        self.lengths, self.rows, self.config = lengths, rows, config
        self.epoch, self.index = epoch, index

    def plan(self, epoch: int) -> list[np.ndarray]:
        c = self.config
        return plan_epoch(
            self.lengths, self.rows, c.token_budget, packing=c.packing, seed=c.seed, epoch=epoch
        )

    def __iter__(self) -> Iterator[tuple[int, int, np.ndarray]]:
        epoch, index = self.epoch, self.index
        while True:
            plan = self.plan(epoch)
            while index < len(plan):
                yield epoch, index, plan[index]
                index += 1
            epoch, index = epoch + 1, 0


def train(
    data: Any,
    config: TrainConfig,
    output_dir: str | Path,
    *,
    report: dict[str, Any] | None = None,
    progress: Callable[[dict[str, Any]], None] | None = None,
) -> TrainResult:
    """Fine-tune a LoRA adapter on a normalized chat table.

    Args:
        data: A ``pyarrow.Table`` with the normalized chat schema, a ``ChatDataset`` (anything
            with ``.table`` and optionally ``.report``), or an iterable of record batches.
        config: The run's settings.
        output_dir: Where the adapter, tokenizer, summary, plot and checkpoints go.
        report: The ingest report as a dict (default: ``data.report.to_dict()`` if present).
        progress: Called after every optimizer step with ``{"step", "max_steps", "loss",
            "tokens_per_s", "lr"}`` (plus ``"eval_loss"`` on evaluation steps).

    Returns:
        The output locations and the summary.

    Raises:
        TrainerError: Bad data (no trainable rows, too few trained tokens), a model that cannot
            be loaded, a checkpoint that does not match, or SIGTERM (after checkpointing).

    Example:
        >>> cfg = TrainConfig(model="Qwen/Qwen2.5-0.5B-Instruct", max_steps=200)
        >>> result = train(brightingest.load("chats.jsonl"), cfg, "out/")  # doctest: +SKIP
    """
    started = time.perf_counter()
    out = Path(output_dir)  # made once the data and the model are known good: a run refused
    ckpt_root = out / "checkpoints"  # before that leaves no empty directory behind
    ingest = _ingest_report(data, report)
    device = _device()
    dtype = _dtype(config.bf16, device)
    random.seed(config.seed)
    torch.manual_seed(config.seed)

    # 1-2. tokenize, refuse bad data before loading a model
    tokenizer = _load_tokenizer(config.model)
    chat_tok = ChatTokenizer(tokenizer, max_length=config.max_length, truncation=config.truncation)
    tok = prepare(
        data,
        chat_tok,
        max_length=config.max_length,
        truncation=config.truncation,
        cache_dir=config.cache_dir,
    )
    _check_data(tok, config)

    # 3. split by conversation, plan
    groups = tok.table.column("group").to_numpy()
    train_rows, eval_rows = split_by_group(groups, config.eval_ratio, config.seed)
    pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
    rows = PackedRows(tok.table, pad_id=pad_id)
    micro_per_epoch = len(
        plan_epoch(
            rows.lengths,
            train_rows,
            config.token_budget,
            packing=config.packing,
            seed=config.seed,
            epoch=0,
        )
    )
    steps_per_epoch = max(1, math.ceil(micro_per_epoch / config.grad_accum))
    max_steps = config.max_steps or config.epochs * steps_per_epoch

    # 4. model
    model, peft_model, backend, targets = _build_model(config, device, dtype)
    out.mkdir(parents=True, exist_ok=True)
    causal = peft_model.base_model.model
    fused = supports_fused_head(causal)
    compiled = _maybe_compile(causal, config, device)
    checkpointing = config.gradient_checkpointing is True
    if checkpointing:
        _enable_checkpointing(causal)
    params = [p for p in peft_model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(
        params,
        lr=config.lr,
        weight_decay=config.weight_decay,
        fused=device.type == "cuda",
    )
    warmup = int(config.warmup_ratio * max_steps)
    scheduler = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda s: _schedule(s, max_steps, warmup)
    )

    settings = {k: config.to_dict()[k] for k in _RESUME_KEYS}
    settings["target_modules"] = targets
    settings["input_hash"] = tok.input_hash
    settings["cache_key"] = tok.cache_key
    state: dict[str, Any] = {
        "step": 0,
        "epoch": 0,
        "index": 0,
        "tokens": 0,
        "targets": 0,
        "losses": [],
        "evals": [],
        "settings": settings,
    }
    resumed_from: int | None = None
    if config.resume:
        loaded = _load_checkpoint(ckpt_root, peft_model, optimizer, scheduler, settings)
        if loaded is not None:
            state.update({k: loaded[k] for k in state if k in loaded and k != "settings"})
            resumed_from = int(loaded["step"])
    else:
        shutil.rmtree(ckpt_root, ignore_errors=True)

    # 5. train
    eval_plan = plan_epoch(
        rows.lengths,
        eval_rows,
        config.token_budget,
        packing=config.packing,
        seed=config.seed,
        epoch=0,
        shuffle=False,
    )
    pin = device.type == "cuda"

    def make(item: tuple[int, int, np.ndarray]) -> tuple[int, int, dict[str, Any], MicroBatch]:
        epoch, index, batch_rows = item
        micro = rows.collate(batch_rows, packing=config.packing)
        return epoch, index, _to_tensors(micro, pin), micro

    autocast: Any = (
        torch.autocast(device.type, dtype=torch.bfloat16)
        if dtype == torch.bfloat16
        else contextlib.nullcontext()
    )
    no_cast = _no_input_cast(peft_model) if dtype == torch.bfloat16 else contextlib.nullcontext()

    def loss_of(batch: dict[str, Any]) -> torch.Tensor:
        kwargs: dict[str, Any] = {}
        if batch["cu_seqlens"] is not None:
            kwargs = attention.packed_kwargs(batch["cu_seqlens"], batch["max_seqlen"])
        with autocast:
            return labelled_loss_sum(
                causal,
                batch["input_ids"],
                batch["position_ids"],
                batch["label_mask"],
                attention_mask=batch["attention_mask"],
                fused=fused,
                **kwargs,
            )

    def evaluate() -> float | None:
        if not eval_plan:
            return None
        peft_model.eval()
        total, count = 0.0, 0
        with torch.no_grad():
            for batch_rows in eval_plan:
                micro = rows.collate(batch_rows, packing=config.packing)
                total += float(loss_of(_on_device(_to_tensors(micro, False), device)))
                count += micro.targets
        peft_model.train()
        return total / max(1, count)

    stop = threading.Event()
    previous_handler: Any = None
    in_main = threading.current_thread() is threading.main_thread()
    if in_main:
        previous_handler = signal.signal(signal.SIGTERM, lambda signum, frame: stop.set())

    stream = _Stream(rows.lengths, train_rows, config, int(state["epoch"]), int(state["index"]))
    prefetch = Prefetcher(make, iter(stream), depth=4, threaded=config.num_workers > 0)
    train_time = 0.0
    run_tokens = 0
    interrupted = False
    last_eval: float | None = None
    peft_model.train()
    try:
        with no_cast:
            while state["step"] < max_steps:
                t0 = time.perf_counter()
                got = [next(prefetch) for _ in range(config.grad_accum)]
                step_targets = sum(m.targets for _, _, _, m in got)
                batches = [_on_device(b, device) for _, _, b, _ in got]
                try:
                    step_loss = _step(loss_of, batches, step_targets)
                except torch.cuda.OutOfMemoryError:
                    # "auto": checkpoint activations only when a full micro-batch does not fit.
                    if config.gradient_checkpointing != "auto" or checkpointing:
                        raise
                    optimizer.zero_grad(set_to_none=True)
                    torch.cuda.empty_cache()
                    _enable_checkpointing(causal)
                    checkpointing = True
                    step_loss = _step(loss_of, batches, step_targets)
                if config.max_grad_norm > 0:
                    torch.nn.utils.clip_grad_norm_(params, config.max_grad_norm)
                optimizer.step()
                scheduler.step()
                optimizer.zero_grad(set_to_none=True)
                dt = time.perf_counter() - t0
                train_time += dt
                step_tokens = sum(m.tokens for _, _, _, m in got)
                run_tokens += step_tokens
                state["step"] += 1
                state["tokens"] += step_tokens
                state["targets"] += step_targets
                last_epoch, last_index = got[-1][0], got[-1][1]
                state["epoch"], state["index"] = last_epoch, last_index + 1
                loss_value = step_loss / max(1, step_targets)
                lr = float(scheduler.get_last_lr()[0])
                state["losses"].append(
                    {"step": state["step"], "loss": round(loss_value, 6), "lr": lr}
                )
                info: dict[str, Any] = {
                    "step": state["step"],
                    "max_steps": max_steps,
                    "loss": loss_value,
                    "tokens_per_s": run_tokens / train_time if train_time else 0.0,
                    "lr": lr,
                    "epoch": last_epoch,
                }
                if config.eval_every and state["step"] % config.eval_every == 0:
                    last_eval = evaluate()
                    if last_eval is not None:
                        state["evals"].append({"step": state["step"], "loss": last_eval})
                        info["eval_loss"] = last_eval
                if progress is not None:
                    progress(info)
                interrupted = stop.is_set()
                if interrupted or (config.save_every and state["step"] % config.save_every == 0):
                    _save_checkpoint(
                        ckpt_root,
                        state["step"],
                        peft_model,
                        optimizer,
                        scheduler,
                        state,
                        config.keep_checkpoints,
                    )
                if interrupted:
                    break
            if not interrupted:
                if not state["evals"] or state["evals"][-1]["step"] != state["step"]:
                    last_eval = evaluate()
                    if last_eval is not None:
                        state["evals"].append({"step": state["step"], "loss": last_eval})
                _save_checkpoint(
                    ckpt_root,
                    state["step"],
                    peft_model,
                    optimizer,
                    scheduler,
                    state,
                    config.keep_checkpoints,
                )
    finally:
        prefetch.close()
        if in_main:
            signal.signal(signal.SIGTERM, previous_handler)

    # 7. outputs
    summary = {
        "status": "interrupted" if interrupted else "completed",
        "model": config.model,
        "config": config.to_dict(),
        "steps": state["step"],
        "max_steps": max_steps,
        "resumed_from_step": resumed_from,
        "epochs_seen": state["epoch"] + (1 if state["index"] else 0),
        "steps_per_epoch": steps_per_epoch,
        "tokens_processed": state["tokens"],
        "tokens_trained": state["targets"],
        "tokens_per_s": run_tokens / train_time if train_time else 0.0,
        "data_wait_share": prefetch.wait_s / train_time if train_time else 0.0,
        "train_time_s": train_time,
        "wall_time_s": time.perf_counter() - started,
        "final_loss": state["losses"][-1]["loss"] if state["losses"] else None,
        "eval_loss": state["evals"][-1]["loss"] if state["evals"] else None,
        "loss_curve": state["losses"],
        "eval_curve": state["evals"],
        "train_rows": int(len(train_rows)),
        "eval_rows": int(len(eval_rows)),
        "eval_groups": int(len(np.unique(groups[eval_rows]))) if len(eval_rows) else 0,
        "ingest_report": ingest,
        "tokenization": tok.report.to_dict(),
        "input_content_hash": tok.input_hash,
        "cache_key": tok.cache_key,
        "cache_hit": tok.cache_hit,
        "formats": _formats(ingest, tok.formats),
        "device": str(device) if device.type != "cuda" else torch.cuda.get_device_name(device),
        "dtype": str(dtype).replace("torch.", ""),
        "attention_backend": backend,
        "packing": config.packing,
        "compiled": compiled,
        "gradient_checkpointing": checkpointing,
        "fused_loss": fused,
        "lora_target_modules": targets,
        "peak_memory_bytes": _peak_memory(device),
        "versions": _versions(),
    }
    if interrupted:
        write_summary(out, summary)
        raise TrainerError(
            f"stopped by SIGTERM at step {state['step']} of {max_steps}; a checkpoint was saved.",
            code="interrupted",
            path=str(out),
            hint="run again with resume (--resume) to continue from the checkpoint.",
        )
    peft_model.save_pretrained(str(out))
    tokenizer.save_pretrained(str(out))
    _plain_modes(out)
    plot_loss(out, state["losses"], state["evals"])
    write_summary(out, summary)
    return TrainResult(output_dir=out, adapter_dir=out, summary=summary)


def _step(
    loss_of: Callable[[dict[str, Any]], torch.Tensor],
    batches: list[dict[str, Any]],
    step_targets: int,
) -> float:
    total = torch.zeros((), dtype=torch.float32)
    scale = 1.0 / max(1, step_targets)
    for batch in batches:
        loss_sum = loss_of(batch)
        (loss_sum * scale).backward()  # type: ignore[no-untyped-call]  # torch stub
        total = total + loss_sum.detach().float().cpu()
    return float(total)


def _formats(ingest: dict[str, Any] | None, names: list[str]) -> Any:
    if ingest and ingest.get("formats"):
        return ingest["formats"]
    return names


def _versions() -> dict[str, str]:
    import importlib.metadata as md

    out: dict[str, str] = {}
    for dist in ("brightingest", "torch", "transformers", "peft", "tokenizers"):
        try:
            out[dist] = md.version(dist)
        except md.PackageNotFoundError:
            continue
    return out


def _to_tensors(micro: MicroBatch, pin: bool) -> dict[str, Any]:
    def t(a: np.ndarray | None) -> torch.Tensor | None:
        if a is None:
            return None
        x = torch.from_numpy(np.ascontiguousarray(a))
        return x.pin_memory() if pin else x

    return {
        "input_ids": t(micro.input_ids),
        "position_ids": t(micro.position_ids),
        "label_mask": t(micro.label_mask),
        "attention_mask": t(micro.attention_mask),
        "cu_seqlens": t(micro.cu_seqlens),
        "max_seqlen": micro.max_seqlen,
    }


def _on_device(batch: dict[str, Any], device: torch.device) -> dict[str, Any]:
    return {
        k: v.to(device, non_blocking=True) if isinstance(v, torch.Tensor) else v
        for k, v in batch.items()
    }


def _no_input_cast(peft_model: Any) -> Any:
    try:
        from peft.helpers import disable_input_dtype_casting
    except ImportError:  # older peft: inputs are cast, which is slower but correct
        return contextlib.nullcontext()
    return disable_input_dtype_casting(peft_model)


def _enable_checkpointing(causal: Any) -> None:
    causal.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
    causal.config.use_cache = False


def _maybe_compile(causal: Any, config: TrainConfig, device: torch.device) -> bool:
    wanted = config.compile is True or (config.compile == "auto" and device.type == "cuda")
    if not wanted:
        return False
    layers = getattr(causal.get_decoder(), "layers", None)
    if layers is None:
        return False
    for layer in layers:
        layer.compile(dynamic=True)
    return True


def _build_model(
    config: TrainConfig, device: torch.device, dtype: torch.dtype
) -> tuple[Any, Any, str, Any]:
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    if config.packing:
        backend = attention.select_backend(config.attention, device)
        impl = attention.register(backend)
    else:
        backend, impl = "sdpa-padded", "sdpa"
    try:
        model = AutoModelForCausalLM.from_pretrained(
            config.model, dtype=dtype, attn_implementation=impl
        )
    except Exception as exc:
        raise TrainerError(
            f"cannot load the model {config.model!r}: {_first_line(exc)}",
            code="bad_model",
            field="model",
            hint="pass a local directory written by save_pretrained, or a hub id (needs network).",
        ) from exc
    model.to(device)  # type: ignore[arg-type]  # transformers types .to() narrowly
    model.config.use_cache = False
    targets: Any = config.target_modules or default_target_modules(model)
    lora = LoraConfig(
        r=config.lora_r,
        lora_alpha=config.lora_alpha,  # type: ignore[arg-type]  # floats work; peft says int
        lora_dropout=config.lora_dropout,
        target_modules=targets,
        modules_to_save=_embedding_modules(model) if config.train_embeddings else None,
        bias="none",
        task_type="CAUSAL_LM",
    )
    try:
        with warnings.catch_warnings():
            # peft reads transformers' deprecated `is_gradient_checkpointing` (FutureWarning).
            warnings.filterwarnings("ignore", ".*is_gradient_checkpointing", FutureWarning)
            peft_model = get_peft_model(model, lora)
    except ValueError as exc:
        raise TrainerError(
            f"cannot apply LoRA: {_first_line(exc)}",
            code="bad_config",
            field="target_modules",
            hint="list module names that exist in the model, or leave target_modules out.",
        ) from exc
    return model, peft_model, backend, targets


def _plain_modes(out: Path) -> None:
    """Give the files libraries wrote ``0o600`` (safetensors does) the mode a plain ``open()``
    would: the adapter is for the services that load it, not for this user alone."""
    from brightingest.writers import output_mode

    plain = output_mode(out / ".none")  # 0o666 less the umask
    for path in out.iterdir():
        if path.is_file() and stat.S_IMODE(path.stat().st_mode) == 0o600 and plain != 0o600:
            path.chmod(plain)
