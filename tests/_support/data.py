"""Data fixtures: ``write_jsonl``, sample rows of every built-in format, the ``pm`` fixture.

Loaded for every test by the root ``conftest.py`` (``pytest_plugins``).

- ``write_jsonl(rows_or_lines, name="data.jsonl", *, compress=None) -> Path``: writes into the
  test's ``tmp_path``; dicts/lists become JSON lines, ``str`` items are written verbatim (one
  line each), ``bytes`` raw; ``compress`` is ``"gzip"`` or ``"zstd"``.
- ``SAMPLE_ROWS`` / the ``sample_rows`` fixture: good rows per built-in format name.
- ``pm``: ``get_plugin_manager(autoload=False)`` with the built-ins registered explicitly.
- ``core``: the compiled module, or the test is skipped while it is not built.
"""

from __future__ import annotations

import copy
import gzip
import json
from collections.abc import Callable, Sequence
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from brightingest.plugins import BrightPluginManager
from brightingest.testing import builtin_plugin_manager

__all__ = [
    "BRIGHTRUN_META",
    "REPO_ROOT",
    "SAMPLE_ROWS",
    "WriteJsonl",
    "builtin_pm",
    "encode_lines",
]

REPO_ROOT = Path(__file__).resolve().parents[2]
BRIGHTRUN_SAMPLE = REPO_ROOT / "examples" / "brightrun_v4_sample.jsonl"

WriteJsonl = Callable[..., Path]

BRIGHTRUN_META: dict[str, Any] = {
    "_meta": {"format": "brightrun-lora-v4", "app": "BrightRun", "conversation_count": 2}
}

SAMPLE_ROWS: dict[str, list[dict[str, Any]]] = {
    "openai": [
        {
            "messages": [
                {"role": "system", "content": "You are terse."},
                {"role": "user", "content": "Capital of France?"},
                {"role": "assistant", "content": "Paris."},
            ]
        },
        {
            "messages": [
                {"role": "developer", "content": "Use tools when useful."},
                {"role": "user", "content": [{"type": "text", "text": "Weather in Oslo?"}]},
                {
                    "role": "assistant",
                    "content": "",
                    "tool_calls": [
                        {
                            "id": "call_1",
                            "type": "function",
                            "function": {"name": "weather", "arguments": '{"city": "Oslo"}'},
                        }
                    ],
                },
                {"role": "tool", "tool_call_id": "call_1", "content": "-3 C, snow"},
                {"role": "assistant", "content": "Cold: -3 C with snow.", "weight": 1},
            ],
            "tools": [
                {
                    "type": "function",
                    "function": {
                        "name": "weather",
                        "parameters": {
                            "type": "object",
                            "properties": {"city": {"type": "string"}},
                        },
                    },
                }
            ],
        },
        {
            "messages": [
                {"role": "user", "content": "Say hi", "name": "ana"},
                {"role": "assistant", "content": "Hello.", "weight": 0},
                {"role": "user", "content": "Again"},
                {"role": "assistant", "content": "Hi!", "weight": 1},
            ]
        },
    ],
    "brightrun-v4": [
        {
            "id": "c-1-t1",
            "conversation_id": "c-1",
            "turn_number": 1,
            "system_prompt": "You are Bright.",
            "conversation_history": [],
            "current_user_input": "I feel stuck.",
            "target_response": "What feels most stuck?",
            "emotional_context": {"primary_emotion": "anxious"},
            "training_metadata": {"quality_score": 5},
        },
        {
            "id": "c-1-t2",
            "conversation_id": "c-1",
            "turn_number": 2,
            "system_prompt": "You are Bright.",
            "conversation_history": [
                {"role": "user", "content": "I feel stuck."},
                {"role": "assistant", "content": "What feels most stuck?"},
            ],
            "current_user_input": "Work.",
            "target_response": "Let's list what's due.",
            "emotional_context": {"primary_emotion": "tired"},
            "training_metadata": {"quality_score": 4},
        },
    ],
    "sharegpt": [
        {
            "conversations": [
                {"from": "human", "value": "2+2?"},
                {"from": "gpt", "value": "4"},
            ]
        },
        {
            "system": "Be brief.",
            "conversations": [
                {"from": "user", "value": "Hi"},
                {"from": "chatgpt", "value": "Hello"},
                {"from": "human", "value": "Weather?"},
                {
                    "from": "function_call",
                    "value": '{"name": "weather", "arguments": {"city": "Oslo"}}',
                },
                {"from": "observation", "value": "sunny"},
                {"from": "bing", "value": "Sunny."},
            ],
        },
    ],
    "alpaca": [
        {"instruction": "Translate to French", "input": "cat", "output": "chat"},
        {"instruction": "Name a color", "input": "", "output": "Blue"},
        {
            "system": "You are a poet.",
            "history": [["Hi", "Hello"]],
            "instruction": "A haiku",
            "output": "Old pond...",
        },
    ],
    "prompt-completion": [
        {"prompt": "The sky is", "completion": " blue."},
        {"prompt": "2+2=", "completion": "4", "source": "math"},
        # TRL's conversational prompt-completion; KTO's label (true: trained)
        {
            "prompt": [
                {"role": "system", "content": "Be brief."},
                {"role": "user", "content": "Hi"},
                {"role": "assistant", "content": "Hello."},
                {"role": "user", "content": "Capital of France?"},
            ],
            "completion": [{"role": "assistant", "content": "Paris."}],
        },
        {"prompt": "Say yes", "completion": "Yes.", "label": True},
    ],
    "dolly": [
        {
            "instruction": "When did Virgin Australia start operating?",
            "context": "Virgin Australia commenced services on 31 August 2000.",
            "response": "On 31 August 2000.",
            "category": "closed_qa",
        },
        {"instruction": "Name a fish", "context": "", "response": "Tope", "category": "open_qa"},
    ],
    "openorca": [
        {
            "id": "niv.242684",
            "system_prompt": "You are an AI assistant.",
            "question": "Translate to German: cat",
            "response": "Katze",
        },
        {"id": "t0.1", "system_prompt": "", "question": "2+2?", "response": "4"},
    ],
    "question-answer": [
        {"question": "Natalia sold 48 clips. How many?", "answer": "48\n#### 48"},
        {"question": "Who?", "answer": "Ann", "context": "Ann wrote it."},
    ],
    "gemini": [
        {
            "systemInstruction": {"role": "system", "parts": [{"text": "You are a pirate."}]},
            "contents": [
                {"role": "user", "parts": [{"text": "Hi"}]},
                {"role": "model", "parts": [{"text": "Arr, "}, {"text": "ahoy!"}]},
            ],
        },
        {
            "contents": [
                {"role": "user", "parts": [{"text": "2+2?"}]},
                {"role": "model", "parts": [{"text": "4"}]},
            ]
        },
    ],
}


def builtin_pm() -> BrightPluginManager:
    """``get_plugin_manager(autoload=False)`` with the built-in formats registered."""
    return builtin_plugin_manager()


def encode_lines(rows: Sequence[Any]) -> bytes:
    """JSONL bytes: dicts/lists as JSON, ``str`` verbatim, ``bytes`` raw; one per line."""
    out = bytearray()
    for row in rows:
        if isinstance(row, bytes):
            out += row + b"\n"
        elif isinstance(row, str):
            out += row.encode("utf-8") + b"\n"
        else:
            out += json.dumps(row, ensure_ascii=False).encode("utf-8") + b"\n"
    return bytes(out)


@pytest.fixture
def write_jsonl(tmp_path: Path) -> WriteJsonl:
    """Write rows or lines to ``tmp_path / name`` (optionally gzip/zstd) and return the path."""

    def write(
        rows: Sequence[Any], name: str = "data.jsonl", *, compress: str | None = None
    ) -> Path:
        data = encode_lines(rows)
        if compress == "gzip":
            data = gzip.compress(data)
        elif compress == "zstd":
            import zstandard

            data = zstandard.ZstdCompressor().compress(data)
        elif compress is not None:
            raise ValueError(f"unknown compression {compress!r}")
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        return path

    return write


@pytest.fixture
def sample_rows() -> dict[str, list[dict[str, Any]]]:
    """A fresh deep copy of :data:`SAMPLE_ROWS`."""
    return copy.deepcopy(SAMPLE_ROWS)


@pytest.fixture
def pm() -> BrightPluginManager:
    """A plugin manager without entry points, built-in formats registered explicitly."""
    return builtin_pm()


@pytest.fixture
def brightrun_sample() -> Path:
    """The BrightRun v4 sample that ships in ``examples/``."""
    return BRIGHTRUN_SAMPLE


@pytest.fixture
def core() -> ModuleType:
    """``brightingest._core``; skips the test while the extension is not built."""
    return pytest.importorskip("brightingest._core")
