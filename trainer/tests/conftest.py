"""Worker test fixtures: the tiny offline model of tests/trainer/support.py, saved to a dir."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny randomly initialised Qwen2 model and its tokenizer, ``save_pretrained`` layout."""
    pytest.importorskip("torch")
    pytest.importorskip("transformers")
    pytest.importorskip("peft")
    from tests.trainer.support import make_model, make_tokenizer

    path = tmp_path_factory.mktemp("tiny-qwen2")
    tokenizer = make_tokenizer()
    make_model(tokenizer).save_pretrained(path)
    tokenizer.save_pretrained(path)
    return path
