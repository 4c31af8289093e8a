"""``TrainConfig``: every knob of a training run, validated, from a dict or a TOML/YAML file.

This module never imports torch, so the CLI can build its parser and check a config file
without the ``[train]`` extra's import cost.
"""

from __future__ import annotations

import dataclasses
import json
import sys
import types
import typing
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, Union

from brightingest.errors import TrainerError

__all__ = ["TrainConfig"]

AutoBool = Union[Literal["auto"], bool]  # noqa: UP007 - a runtime alias on Python 3.10

_ATTENTION = ("auto", "flash_attn", "varlen", "flex", "sdpa")
_TRUNCATION = ("truncate", "drop")


@dataclass
class TrainConfig:
    """The settings of one LoRA fine-tuning run.

    Args:
        model: Local directory (``save_pretrained`` layout) or hub id of the base model.
        max_steps: Optimizer steps to run; ``None`` runs ``epochs`` passes over the data.
        epochs: Passes over the training split when ``max_steps`` is ``None``.
        max_length: Longest tokenized conversation kept (see ``truncation``).
        lr: Peak learning rate (AdamW).
        lora_r: LoRA rank.
        lora_alpha: LoRA alpha (scaling is ``lora_alpha / lora_r``).
        lora_dropout: Dropout on the LoRA input.
        target_modules: Module names to adapt; ``None`` picks per architecture (q/k/v/o and
            gate/up/down projections for llama/qwen/mistral families, else all linear layers
            except ``lm_head``).
        train_embeddings: Also train the input embeddings and ``lm_head`` (saved in full).
        packing: Pack several conversations into one sequence without padding (attention cannot
            cross conversations); ``False`` pads each micro-batch to its longest row.
        token_budget: Tokens per micro-batch (packed length, or rows x longest row when padding).
        grad_accum: Micro-batches per optimizer step.
        warmup_ratio: Share of the steps spent on linear warmup before the cosine decay.
        weight_decay: AdamW weight decay.
        max_grad_norm: Gradient clipping norm (``0`` disables clipping).
        eval_ratio: Share of conversations held out for evaluation (split by conversation).
        eval_every: Evaluate every N steps (``0``: only at the end).
        save_every: Checkpoint every N steps (``0``: only at the end or on SIGTERM).
        keep_checkpoints: How many step checkpoints to keep on disk.
        seed: Seeds the split, the batch order, LoRA init and dropout.
        bf16: ``"auto"`` uses bfloat16 where the device supports it (CPU: float32).
        gradient_checkpointing: ``"auto"`` turns it on only when a full micro-batch does not fit.
        truncation: ``"truncate"`` cuts rows longer than ``max_length``; ``"drop"`` drops them.
        min_trainable_share: Refuse to train when fewer of the tokens than this are trained on.
        resume: Continue from the last checkpoint in the output directory, if there is one.
        cache_dir: Where tokenized data is cached (default ``~/.cache/brightingest/tokenized``
            or ``$BRIGHTINGEST_CACHE``); ``""`` disables the cache.
        compile: ``"auto"`` compiles each decoder layer with ``torch.compile`` on CUDA.
        attention: Attention backend for packed batches: ``"auto"``, ``"flash_attn"``,
            ``"varlen"`` (torch's varlen attention), ``"flex"`` or ``"sdpa"``.
        num_workers: Threads that prepare micro-batches ahead of the compute (``0``: inline).

    Example:
        >>> TrainConfig.from_dict({"model": "Qwen/Qwen2.5-0.5B", "max_steps": 100}).lora_r
        16
    """

    model: str
    max_steps: int | None = None
    epochs: int = 1
    max_length: int = 4096
    lr: float = 2e-4
    lora_r: int = 16
    lora_alpha: float = 32.0
    lora_dropout: float = 0.05
    target_modules: list[str] | None = None
    train_embeddings: bool = False
    packing: bool = True
    token_budget: int = 16384
    grad_accum: int = 1
    warmup_ratio: float = 0.03
    weight_decay: float = 0.0
    max_grad_norm: float = 1.0
    eval_ratio: float = 0.02
    eval_every: int = 0
    save_every: int = 500
    keep_checkpoints: int = 2
    seed: int = 42
    bf16: AutoBool = "auto"
    gradient_checkpointing: AutoBool = "auto"
    truncation: Literal["truncate", "drop"] = "truncate"
    min_trainable_share: float = 0.05
    resume: bool = False
    cache_dir: str | None = None
    compile: AutoBool = "auto"
    attention: Literal["auto", "flash_attn", "varlen", "flex", "sdpa"] = "auto"
    num_workers: int = 1

    def __post_init__(self) -> None:
        self._validate()

    # ------------------------------------------------------------------ construction

    @classmethod
    def from_dict(cls, data: typing.Mapping[str, Any]) -> TrainConfig:
        """Build a config from a mapping, refusing unknown keys and wrong types.

        Args:
            data: Field names to values, e.g. parsed from TOML or YAML.

        Returns:
            The validated config.

        Raises:
            TrainerError: ``bad_config`` naming the offending key.
        """
        if not isinstance(data, typing.Mapping):
            raise TrainerError(
                f"a training config must be a table of settings, got {type(data).__name__}.",
                code="bad_config",
                hint='write it as key = value pairs, e.g. model = "Qwen/Qwen2.5-0.5B".',
            )
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(str(k) for k in data if k not in names)
        if unknown:
            key = unknown[0]
            close = _closest(key, names)
            raise TrainerError(
                f"unknown setting {json.dumps(key)}.",
                code="bad_config",
                field=key,
                hint=(f"did you mean {json.dumps(close)}? " if close else "")
                + "Known settings: "
                + ", ".join(sorted(names))
                + ".",
            )
        if "model" not in data or data["model"] is None:
            raise TrainerError(
                "no base model given.",
                code="bad_config",
                field="model",
                hint="pass --model DIR_OR_HUB_ID, or set model = ... in the config file.",
            )
        hints = typing.get_type_hints(cls)
        for key, value in data.items():
            _check_type(str(key), value, hints[str(key)])
        values = dict(data)
        if isinstance(values.get("target_modules"), str):
            values["target_modules"] = [values["target_modules"]]
        elif values.get("target_modules") is not None:
            values["target_modules"] = list(values["target_modules"])
        for key in ("lr", "lora_alpha", "lora_dropout", "warmup_ratio", "weight_decay"):
            if key in values:
                values[key] = float(values[key])
        for key in ("max_grad_norm", "eval_ratio", "min_trainable_share"):
            if key in values:
                values[key] = float(values[key])
        return cls(**values)

    @classmethod
    def from_file(cls, path: str | Path, **overrides: Any) -> TrainConfig:
        """Read a TOML (``.toml``) or YAML (``.yaml``/``.yml``) config file.

        Settings may sit at the top level or under a ``[train]`` table. ``overrides`` (e.g.
        command-line flags) win over the file; ``None`` values are ignored.

        Args:
            path: The config file.
            **overrides: Settings that replace the file's.

        Returns:
            The validated config.

        Raises:
            TrainerError: ``bad_config`` for an unreadable file, a syntax error, an unknown key
                or a wrong type.
        """
        p = Path(path)
        try:
            text = p.read_text(encoding="utf-8")
        except OSError as exc:
            raise TrainerError(
                f"cannot read the training config: {exc.strerror or exc}.",
                code="bad_config",
                path=str(p),
                hint="check the path given to --config.",
            ) from exc
        suffix = p.suffix.lower()
        data: Any
        if suffix == ".toml":
            data = _parse_toml(text, p)
        elif suffix in (".yaml", ".yml"):
            data = _parse_yaml(text, p)
        else:
            raise TrainerError(
                f"unsupported config file type {json.dumps(suffix or p.name)}.",
                code="bad_config",
                path=str(p),
                hint="use a .toml, .yaml or .yml file.",
            )
        if data is None:
            data = {}
        if not isinstance(data, dict):
            raise TrainerError(
                f"the config must be a table of settings, got {type(data).__name__}.",
                code="bad_config",
                path=str(p),
                hint="write it as key = value pairs.",
            )
        if set(data) == {"train"} and isinstance(data["train"], dict):
            data = data["train"]
        merged = dict(data)
        merged.update({k: v for k, v in overrides.items() if v is not None})
        try:
            return cls.from_dict(merged)
        except TrainerError as exc:
            if exc.path is None:
                exc.path = str(p)
                exc.args = (str(exc),)
            raise

    def to_dict(self) -> dict[str, Any]:
        """All settings as a JSON-ready dict (round-trips through :meth:`from_dict`)."""
        out = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        if out["target_modules"] is not None:
            out["target_modules"] = list(out["target_modules"])
        return out

    # ------------------------------------------------------------------ validation

    def _validate(self) -> None:
        hints = typing.get_type_hints(type(self))
        for f in dataclasses.fields(self):
            _check_type(f.name, getattr(self, f.name), hints[f.name])
        checks: list[tuple[str, bool, str]] = [
            ("model", bool(self.model.strip()), "must not be empty"),
            (
                "model",
                not _looks_like_a_path(self.model) or Path(self.model).expanduser().is_dir(),
                "names a directory that does not exist",
            ),
            ("max_steps", self.max_steps is None or self.max_steps >= 1, "must be at least 1"),
            ("epochs", self.epochs >= 1, "must be at least 1"),
            ("max_length", self.max_length >= 8, "must be at least 8"),
            ("lr", self.lr > 0, "must be positive"),
            ("lora_r", self.lora_r >= 1, "must be at least 1"),
            ("lora_alpha", self.lora_alpha > 0, "must be positive"),
            ("lora_dropout", 0 <= self.lora_dropout < 1, "must be in [0, 1)"),
            ("token_budget", self.token_budget >= 8, "must be at least 8"),
            ("grad_accum", self.grad_accum >= 1, "must be at least 1"),
            ("warmup_ratio", 0 <= self.warmup_ratio < 1, "must be in [0, 1)"),
            ("weight_decay", self.weight_decay >= 0, "must not be negative"),
            ("max_grad_norm", self.max_grad_norm >= 0, "must not be negative"),
            ("eval_ratio", 0 <= self.eval_ratio < 1, "must be in [0, 1)"),
            ("eval_every", self.eval_every >= 0, "must not be negative"),
            ("save_every", self.save_every >= 0, "must not be negative"),
            ("keep_checkpoints", self.keep_checkpoints >= 1, "must be at least 1"),
            ("min_trainable_share", 0 <= self.min_trainable_share <= 1, "must be in [0, 1]"),
            ("truncation", self.truncation in _TRUNCATION, "must be truncate or drop"),
            ("attention", self.attention in _ATTENTION, "must be one of " + ", ".join(_ATTENTION)),
            ("num_workers", self.num_workers >= 0, "must not be negative"),
            (
                "target_modules",
                self.target_modules is None or len(self.target_modules) > 0,
                "must list at least one module name (or be left out)",
            ),
        ]
        for name, ok, what in checks:
            if not ok:
                raise TrainerError(
                    f"{what}, got {json.dumps(getattr(self, name))}.",
                    code="bad_config",
                    field=name,
                    hint=f"fix {name} in the config or on the command line.",
                )
        if self.packing and self.token_budget < self.max_length:
            raise TrainerError(
                f"token_budget ({self.token_budget}) is smaller than max_length "
                f"({self.max_length}), so the longest conversation would not fit a micro-batch.",
                code="bad_config",
                field="token_budget",
                hint=f"raise token_budget to at least {self.max_length}, or lower max_length.",
            )


def _describe(tp: Any) -> str:
    origin = typing.get_origin(tp)
    if origin is Literal:
        return " or ".join(json.dumps(a) for a in typing.get_args(tp))
    if origin in (Union, types.UnionType):
        return " or ".join(_describe(a) for a in typing.get_args(tp))
    if origin is list:
        return "a list of strings"
    if tp is type(None):
        return "null"
    if tp is float:
        return "a number"
    if tp is int:
        return "an integer"
    if tp is bool:
        return "true or false"
    if tp is str:
        return "a string"
    return str(tp)


def _matches(value: Any, tp: Any) -> bool:
    origin = typing.get_origin(tp)
    if origin is Literal:
        return any(value is a if isinstance(a, bool) else value == a for a in typing.get_args(tp))
    if origin in (Union, types.UnionType):
        return any(_matches(value, a) for a in typing.get_args(tp))
    if origin is list:
        return isinstance(value, (list, tuple, str)) and all(isinstance(v, str) for v in value)
    if origin is dict:
        return isinstance(value, dict)
    if tp is type(None):
        return value is None
    if tp is bool:
        return isinstance(value, bool)
    if tp is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if tp is float:
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if tp is str:
        return isinstance(value, str)
    return True


def _check_type(key: str, value: Any, tp: Any) -> None:
    if not _matches(value, tp):
        shown = json.dumps(value, default=str)
        if len(shown) > 60:
            shown = shown[:57] + "..."
        raise TrainerError(
            f"expected {_describe(tp)}, got {shown} ({type(value).__name__}).",
            code="bad_config",
            field=key,
            hint=f"fix {key} in the config or on the command line.",
        )


def _closest(key: str, names: set[str]) -> str | None:
    import difflib

    found = difflib.get_close_matches(key, sorted(names), n=1, cutoff=0.6)
    return found[0] if found else None


def _parse_toml(text: str, path: Path) -> Any:
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover - Python 3.10 only
        try:
            import tomli as tomllib
        except ImportError as exc:
            raise TrainerError(
                "reading TOML on Python 3.10 needs the tomli package.",
                code="bad_config",
                path=str(path),
                hint="pip install tomli, or write the config as YAML.",
            ) from exc
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise TrainerError(
            f"invalid TOML: {exc}.",
            code="bad_config",
            path=str(path),
            hint='fix the syntax; strings need quotes, e.g. model = "org/name".',
        ) from exc


def _parse_yaml(text: str, path: Path) -> Any:
    try:
        import yaml
    except ImportError as exc:
        raise TrainerError(
            "reading YAML needs the pyyaml package.",
            code="bad_config",
            path=str(path),
            hint='pip install "brightingest[train]", or write the config as TOML.',
        ) from exc
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise TrainerError(
            f"invalid YAML: {str(exc).splitlines()[0]}.",
            code="bad_config",
            path=str(path),
            hint="fix the YAML syntax.",
        ) from exc


def _looks_like_a_path(model: str) -> bool:
    """A model named as a path (``./m``, ``../m``, ``/m``, ``~/m``), not a hub id (``org/m``)."""
    return model.startswith(("/", "./", "../", "~", ".\\", "..\\")) or model in (".", "..")
