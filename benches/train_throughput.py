"""Trainer throughput: brightingest's trainer against the way users write it today, in one run.

Both paths train LoRA (r=16 on attention + MLP projections, bf16) on the same synthetic chats with
long-tailed lengths (200-4000 tokens), on randomly initialised models with the shapes of
Qwen2.5-0.5B and Qwen2.5-1.5B (nothing is downloaded; the tokenizer is a byte-level BPE trained
in memory, and the model keeps Qwen's 151,936-token vocabulary so the head costs what it costs).

* **baseline**: ``json.loads`` per line, ``apply_chat_template`` per conversation, HF ``Trainer``
  with padding to the longest row of each batch, eager PEFT (adapter inputs cast to fp32), SDPA;
* **brightingest**: ``brightingest.train.train`` (Arrow tokenization, packing with varlen
  attention, per-layer ``torch.compile``, labelled-positions-only chunked head + loss).

Reported per path: trained (non-padding) tokens/s, peak GPU memory, MFU (6 x parameters x
tokens/s plus attention FLOPs, over the GPU's dense bf16 peak) and the share of step time spent
waiting for data; then the speed-up. The target on an H100 is >= 8x.

Usage::

    python benches/train_throughput.py                  # CUDA only: both model sizes
    python benches/train_throughput.py --models 0.5b --steps 30
    python benches/train_throughput.py --smoke          # a few steps of a tiny model on CPU
"""

from __future__ import annotations

import argparse
import json
import math
import random
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

SHAPES: dict[str, dict[str, Any]] = {
    "0.5b": {
        "hidden_size": 896,
        "intermediate_size": 4864,
        "num_hidden_layers": 24,
        "num_attention_heads": 14,
        "num_key_value_heads": 2,
        "vocab_size": 151936,
        "tie_word_embeddings": True,
    },
    "1.5b": {
        "hidden_size": 1536,
        "intermediate_size": 8960,
        "num_hidden_layers": 28,
        "num_attention_heads": 12,
        "num_key_value_heads": 2,
        "vocab_size": 151936,
        "tie_word_embeddings": True,
    },
    "smoke": {
        "hidden_size": 64,
        "intermediate_size": 128,
        "num_hidden_layers": 2,
        "num_attention_heads": 4,
        "num_key_value_heads": 2,
        "vocab_size": 512,
        "tie_word_embeddings": False,
    },
}

#: Dense bf16 peak FLOP/s by device name fragment (for MFU).
PEAK_FLOPS = {"H100": 989e12, "H200": 989e12, "A100": 312e12, "L40S": 362e12, "A10": 125e12}

WORDS = (
    "the model reads data fast and trains well while users wait less for results on long "
    "conversations about code math science history cooking travel music sport weather news"
).split()

TEMPLATE = (
    "{%- for m in messages %}{{ '<|im_start|>' + m.role + '\\n' + m.content + '<|im_end|>\\n' }}"
    "{%- endfor %}{%- if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{%- endif %}"
)


def make_tokenizer() -> Any:
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=400,
        special_tokens=["<|endoftext|>", "<|im_start|>", "<|im_end|>"],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator([" ".join(WORDS)] * 50, trainer=trainer)
    fast = PreTrainedTokenizerFast(  # type: ignore[no-untyped-call]
        tokenizer_object=tok, eos_token="<|im_end|>", pad_token="<|endoftext|>"
    )
    fast.chat_template = TEMPLATE
    return fast


def synthetic_rows(n: int, lo: int, hi: int, seed: int) -> list[dict[str, Any]]:
    """OpenAI-style rows whose token lengths follow a clipped log-normal (long tail)."""
    rng = random.Random(seed)
    rows = []
    mu = math.log(lo * 2.5)
    for _ in range(n):
        total = int(min(hi, max(lo, rng.lognormvariate(mu, 0.8))))
        # ~1.6 tokens per word with this tokenizer; a third of the text is the answer
        words = max(8, int(total / 1.6))
        prompt = " ".join(rng.choice(WORDS) for _ in range(words * 2 // 3))
        answer = " ".join(rng.choice(WORDS) for _ in range(words // 3))
        rows.append(
            {
                "messages": [
                    {"role": "user", "content": prompt},
                    {"role": "assistant", "content": answer},
                ]
            }
        )
    return rows


def chat_table(rows: list[dict[str, Any]]) -> Any:
    import pyarrow as pa

    from brightingest.schema import CHAT_SCHEMA

    def m(role: str, content: str) -> dict[str, Any]:
        return {
            "role": role,
            "content": content,
            "weight": None,
            "name": None,
            "tool_calls": None,
            "tool_call_id": None,
        }

    n = len(rows)
    return pa.Table.from_pydict(
        {
            "messages": [[m(x["role"], x["content"]) for x in r["messages"]] for r in rows],
            "tools": [None] * n,
            "id": [str(i) for i in range(n)],
            "metadata": [None] * n,
            "source_file": pa.array(["bench.jsonl"] * n).dictionary_encode(),
            "source_line": pa.array(range(1, n + 1), pa.uint64()),
            "format": pa.array(["openai"] * n).dictionary_encode(),
        },
        schema=CHAT_SCHEMA,
    )


def save_model(shape: str, tokenizer: Any, path: Path) -> int:
    import torch
    from transformers import Qwen2Config, Qwen2ForCausalLM

    torch.manual_seed(0)
    cfg = Qwen2Config(**SHAPES[shape], max_position_embeddings=32768)
    model = Qwen2ForCausalLM(cfg)
    model.save_pretrained(path)
    tokenizer.save_pretrained(path)
    return sum(p.numel() for p in model.parameters())


def flops_per_token(shape: str, seq_len: float) -> float:
    s = SHAPES[shape]
    h, layers, inter, v = (
        s["hidden_size"],
        s["num_hidden_layers"],
        s["intermediate_size"],
        s["vocab_size"],
    )
    kv = h // s["num_attention_heads"] * s["num_key_value_heads"]
    dense = layers * (2 * h * h + 2 * h * kv + 3 * h * inter) + h * v
    attn = layers * 2 * h * seq_len  # QK^T and AV, causal half of 2 x 2
    return float(6 * dense + 3 * 2 * attn)


def run_baseline(
    model_dir: Path, jsonl: Path, steps: int, budget: int, device: str
) -> dict[str, Any]:
    """The script a user writes today."""
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM, AutoTokenizer, Trainer, TrainingArguments

    tok = AutoTokenizer.from_pretrained(model_dir)
    examples = []
    with jsonl.open() as fh:
        for line in fh:
            row = json.loads(line)
            ids = tok.apply_chat_template(row["messages"], tokenize=True, return_dict=False)
            examples.append({"input_ids": list(ids)[: min(4096, budget)]})
    bf16 = device == "cuda"
    base = AutoModelForCausalLM.from_pretrained(
        model_dir, dtype=torch.bfloat16 if bf16 else torch.float32, attn_implementation="sdpa"
    )
    model = get_peft_model(
        base,
        LoraConfig(
            r=16,
            lora_alpha=32,
            lora_dropout=0.05,
            task_type="CAUSAL_LM",
            target_modules=[
                "q_proj",
                "k_proj",
                "v_proj",
                "o_proj",
                "gate_proj",
                "up_proj",
                "down_proj",
            ],
        ),
    )
    real_tokens = [0]

    def collate(batch: list[dict[str, Any]]) -> dict[str, Any]:
        width = max(len(b["input_ids"]) for b in batch)
        ids = torch.full((len(batch), width), tok.pad_token_id)
        attn = torch.zeros((len(batch), width), dtype=torch.long)
        for i, b in enumerate(batch):
            ids[i, : len(b["input_ids"])] = torch.tensor(b["input_ids"])
            attn[i, : len(b["input_ids"])] = 1
        real_tokens[0] += int(attn.sum())
        labels = ids.masked_fill(attn == 0, -100)
        return {"input_ids": ids, "attention_mask": attn, "labels": labels}

    mean_len = sum(len(e["input_ids"]) for e in examples) / len(examples)
    batch_size = max(1, int(budget // (mean_len * 2)))
    with tempfile.TemporaryDirectory() as out:
        args = TrainingArguments(
            output_dir=out,
            per_device_train_batch_size=batch_size,
            max_steps=steps,
            learning_rate=2e-4,
            bf16=bf16,
            logging_steps=10**9,
            save_strategy="no",
            report_to=[],
            remove_unused_columns=False,
            dataloader_num_workers=0,
            use_cpu=device != "cuda",
            disable_tqdm=True,
        )
        trainer = Trainer(model=model, args=args, train_dataset=examples, data_collator=collate)
        if device == "cuda":
            torch.cuda.reset_peak_memory_stats()
        t0 = time.perf_counter()
        trainer.train()
        dt = time.perf_counter() - t0
    peak = torch.cuda.max_memory_allocated() if device == "cuda" else 0
    return {
        "path": "baseline",
        "tokens_per_s": real_tokens[0] / dt,
        "peak_memory_bytes": peak,
        "data_wait_share": None,
        "mean_len": mean_len,
        "steps": steps,
    }


def run_brightingest(
    model_dir: Path, table: Any, steps: int, budget: int, cache: Path
) -> dict[str, Any]:
    from brightingest.train import TrainConfig, train

    cfg = TrainConfig(
        model=str(model_dir),
        max_steps=steps,
        max_length=min(4096, budget),
        token_budget=budget,
        lora_r=16,
        lora_alpha=32,
        eval_ratio=0.0,
        save_every=0,
        cache_dir=str(cache),
        min_trainable_share=0.0,
    )
    with tempfile.TemporaryDirectory() as out:
        s = train(table, cfg, out).summary
    return {
        "path": "brightingest",
        "tokens_per_s": s["tokens_per_s"],
        "peak_memory_bytes": s["peak_memory_bytes"],
        "data_wait_share": s["data_wait_share"],
        "attention_backend": s["attention_backend"],
        "compiled": s["compiled"],
        "steps": s["steps"],
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--smoke", action="store_true", help="tiny model, few steps, CPU is fine")
    ap.add_argument("--models", default="0.5b,1.5b")
    ap.add_argument("--steps", type=int, default=40)
    ap.add_argument("--rows", type=int, default=2000)
    ap.add_argument("--token-budget", type=int, default=16384)
    ap.add_argument("--json", type=Path, help="also write the results here")
    args = ap.parse_args(argv)

    import torch

    device = "cuda" if torch.cuda.is_available() else "cpu"
    if device != "cuda" and not args.smoke:
        print(
            "train_throughput: no CUDA device; this benchmark measures GPUs. "
            "Use --smoke for a functional run on CPU.",
            file=sys.stderr,
        )
        return 2
    shapes = ["smoke"] if args.smoke else [s.strip() for s in args.models.split(",")]
    steps = 3 if args.smoke else args.steps
    rows_n = 24 if args.smoke else args.rows
    lo, hi = (20, 200) if args.smoke else (200, 4000)
    budget = 512 if args.smoke else args.token_budget
    tokenizer = make_tokenizer()
    rows = synthetic_rows(rows_n, lo, hi, seed=0)
    results: list[dict[str, Any]] = []
    gpu = torch.cuda.get_device_name() if device == "cuda" else "cpu"
    peak = next((v for k, v in PEAK_FLOPS.items() if k in gpu), None)
    with tempfile.TemporaryDirectory() as tmp:
        jsonl = Path(tmp) / "bench.jsonl"
        jsonl.write_text("".join(json.dumps(r) + "\n" for r in rows))
        table = chat_table(rows)
        for shape in shapes:
            model_dir = Path(tmp) / shape
            params = save_model(shape, tokenizer, model_dir)
            base = run_baseline(model_dir, jsonl, steps, budget, device)
            ours = run_brightingest(model_dir, table, steps, budget, Path(tmp) / "cache")
            for r in (base, ours):
                r["model"] = shape
                r["params"] = params
                fpt = flops_per_token(shape, base["mean_len"])
                r["mfu"] = (fpt * r["tokens_per_s"] / peak) if peak else None
                results.append(r)
            speedup = ours["tokens_per_s"] / base["tokens_per_s"]
            results.append({"model": shape, "speedup": speedup, "device": gpu})
            print(
                f"{shape}: baseline {base['tokens_per_s']:.0f} tok/s, brightingest "
                f"{ours['tokens_per_s']:.0f} tok/s, speed-up {speedup:.2f}x on {gpu}"
            )
    text = json.dumps(results, indent=2)
    print(text)
    if args.json:
        args.json.write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
