"""The LoRA trainer, behind the ``[train]`` extra (torch, transformers, peft).

``import brightingest.train`` checks that the extra is installed (without importing torch, so the
CLI stays quick) and raises :class:`~brightingest.errors.TrainerError` with the install hint when
it is not. The heavy modules load on first use of :func:`train` / :class:`TrainResult`.

Example:
    >>> from brightingest.train import TrainConfig, train
    >>> cfg = TrainConfig(model="Qwen/Qwen2.5-0.5B-Instruct", max_steps=200)
    >>> result = train(brightingest.load("chats.jsonl"), cfg, "out/")  # doctest: +SKIP
"""

from __future__ import annotations

import importlib.util
from typing import TYPE_CHECKING, Any

from brightingest.errors import TrainerError

_REQUIRED = ("torch", "transformers", "peft", "tokenizers", "safetensors")
_missing = [name for name in _REQUIRED if importlib.util.find_spec(name) is None]
if _missing:
    raise TrainerError(
        "the trainer needs "
        + ", ".join(_missing)
        + ", which "
        + ("is" if len(_missing) == 1 else "are")
        + " not installed.",
        code="missing_dependency",
        hint='pip install "brightingest[train]"',
    )

from brightingest.train.config import TrainConfig  # noqa: E402 - after the dependency check

if TYPE_CHECKING:
    from brightingest.train.loop import TrainResult, train

__all__ = ["TrainConfig", "TrainResult", "train"]


def __getattr__(name: str) -> Any:
    if name in ("train", "TrainResult"):
        from brightingest.train import loop

        return getattr(loop, name)
    raise AttributeError(f"module 'brightingest.train' has no attribute {name!r}")
