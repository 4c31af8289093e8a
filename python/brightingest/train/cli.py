"""The ``train`` subcommand's flags and its run, called by ``brightingest.cli``.

The CLI owner adds the ``SOURCE...`` positional, ingests with the same reader and report as
``inspect``, refuses 0 rows, then calls :func:`run` with the loaded dataset. Flags given on the
command line override the ``--config`` file; flags left out keep the file's (or default) values.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from brightingest.errors import TrainerError
from brightingest.train.config import TrainConfig

__all__ = ["add_arguments", "config_from_args", "run"]

#: argparse dest -> TrainConfig field, for the flags that map one to one.
_FLAGS: dict[str, str] = {
    "model": "model",
    "max_steps": "max_steps",
    "epochs": "epochs",
    "max_length": "max_length",
    "lr": "lr",
    "lora_r": "lora_r",
    "packing": "packing",
    "resume": "resume",
    "token_budget": "token_budget",
    "seed": "seed",
    "eval_ratio": "eval_ratio",
    "save_every": "save_every",
}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the training flags to ``parser`` (an argparse subparser).

    Args:
        parser: The ``train`` subcommand's parser.
    """
    g = parser.add_argument_group("training")
    g.add_argument("--model", required=True, help="base model: local directory or hub id")
    g.add_argument("-o", "--output", required=True, help="output directory for the adapter")
    g.add_argument("--config", metavar="FILE", help="training config (.toml or .yaml)")
    g.add_argument("--max-steps", type=int, default=None, help="optimizer steps")
    g.add_argument("--epochs", type=int, default=None, help="passes over the data")
    g.add_argument("--max-length", type=int, default=None, help="longest sequence in tokens")
    g.add_argument("--lr", type=float, default=None, help="peak learning rate")
    g.add_argument("--lora-r", type=int, default=None, help="LoRA rank")
    g.add_argument(
        "--packing",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="pack conversations without padding (default: on)",
    )
    g.add_argument(
        "--resume",
        action="store_true",
        default=None,
        help="continue from the last checkpoint in the output directory",
    )
    g.add_argument("--token-budget", type=int, default=None, help="tokens per micro-batch")
    g.add_argument("--seed", type=int, default=None, help="random seed")
    g.add_argument("--eval-ratio", type=float, default=None, help="share held out for eval")
    g.add_argument("--save-every", type=int, default=None, help="checkpoint every N steps")


def config_from_args(args: argparse.Namespace) -> TrainConfig:
    """Build the config: the ``--config`` file (if any), then the flags given on top.

    Raises:
        TrainerError: ``bad_config`` naming the offending key.
    """
    overrides = {
        field: getattr(args, dest)
        for dest, field in _FLAGS.items()
        if getattr(args, dest, None) is not None
    }
    path = getattr(args, "config", None)
    if path:
        return TrainConfig.from_file(path, **overrides)
    return TrainConfig.from_dict(overrides)


def _report_dict(dataset: Any) -> dict[str, Any] | None:
    rep = getattr(dataset, "report", None)
    if rep is None:
        return None
    if isinstance(rep, dict):
        return rep
    to_dict = getattr(rep, "to_dict", None)
    return dict(to_dict()) if callable(to_dict) else None


def run(args: argparse.Namespace, dataset: Any) -> int:
    """Train on an already-loaded dataset and print a short result.

    Args:
        args: Parsed arguments (see :func:`add_arguments`).
        dataset: A ``ChatDataset`` (``.table``, ``.report``) or a ``pyarrow.Table``.

    Returns:
        ``0`` when the adapter was written; ``1`` when the data was refused (no trainable
        conversation, too few trained tokens).

    Raises:
        TrainerError: Bad configuration, model loading or checkpoint problems.
    """
    from brightingest.train.loop import train

    config = config_from_args(args)

    def progress(info: dict[str, Any]) -> None:
        line = (
            f"step {info['step']}/{info['max_steps']}  loss {info['loss']:.4f}  "
            f"lr {info['lr']:.2e}  {info['tokens_per_s']:.0f} tok/s"
        )
        if "eval_loss" in info:
            line += f"  eval {info['eval_loss']:.4f}"
        print(line, file=sys.stderr, flush=True)

    try:
        report = _report_dict(dataset)
        selection = getattr(args, "selection", None)
        if report is not None and selection:
            # --where / --dedup: the rows trained on are fewer than the rows read.
            report = {**report, "selection": selection}
        result = train(dataset, config, args.output, report=report, progress=progress)
    except TrainerError as exc:
        if exc.code in _DATA_CODES:
            print(str(exc), file=sys.stderr)
            return 1
        raise
    s = result.summary
    print(
        json.dumps(
            {
                "adapter_dir": str(result.adapter_dir),
                "steps": s["steps"],
                "final_loss": s["final_loss"],
                "eval_loss": s["eval_loss"],
                "tokens_trained": s["tokens_trained"],
                "tokens_per_s": round(float(s["tokens_per_s"]), 1),
            }
        )
    )
    return 0


#: TrainerError codes that mean "the data was refused" (exit code 1).
_DATA_CODES = frozenset(
    {"no_trainable_assistant", "low_trainable_share", "too_long", "template_mismatch", "no_rows"}
)
