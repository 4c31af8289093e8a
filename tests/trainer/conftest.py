"""Trainer fixtures: the offline tokenizer and a saved tiny model (see support.py)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("torch")
pytest.importorskip("transformers")
pytest.importorskip("peft")

from tests.trainer.support import make_model, make_tokenizer  # noqa: E402 - after the skips


@pytest.fixture(scope="session")
def tokenizer() -> Any:
    """The offline BPE tokenizer with Qwen2.5's chat template."""
    return make_tokenizer()


@pytest.fixture(scope="session")
def model_dir(tmp_path_factory: pytest.TempPathFactory, tokenizer: Any) -> Path:
    """A directory with the tiny model and tokenizer, as ``save_pretrained`` writes them."""
    path = tmp_path_factory.mktemp("tiny-qwen2")
    make_model(tokenizer).save_pretrained(path)
    tokenizer.save_pretrained(path)
    return path
