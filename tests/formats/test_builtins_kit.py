"""Every built-in format passes the plugin test kit, like a third-party plugin must."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

import brightingest.formats.alpaca
import brightingest.formats.brightrun_v4
import brightingest.formats.dolly
import brightingest.formats.gemini
import brightingest.formats.openai
import brightingest.formats.openorca
import brightingest.formats.prompt_completion
import brightingest.formats.question_answer
import brightingest.formats.sharegpt
from brightingest.errors import PluginError
from brightingest.formats import BUILTIN_PLUGINS, builtin_modules
from brightingest.mapping import Mapping, Message
from brightingest.plugins import FormatSpec, fields_score
from brightingest.testing import check_format
from tests._support.data import SAMPLE_ROWS

pytestmark = pytest.mark.usefixtures("core")

CALLS = [
    {
        "id": "call_1",
        "type": "function",
        "function": {"name": "weather", "arguments": '{"city": "Oslo"}'},
    }
]

CASES: dict[str, dict[str, Any]] = {
    "openai": {
        "module": brightingest.formats.openai,
        "expected": [
            [
                {"role": "system", "content": "You are terse."},
                {"role": "user", "content": "Capital of France?"},
                {"role": "assistant", "content": "Paris."},
            ],
            [
                {"role": "developer", "content": "Use tools when useful."},
                {"role": "user", "content": "Weather in Oslo?"},
                {"role": "assistant", "tool_calls": CALLS},
                {"role": "tool", "content": "-3 C, snow", "tool_call_id": "call_1"},
                {"role": "assistant", "content": "Cold: -3 C with snow.", "weight": 1},
            ],
            [
                {"role": "user", "content": "Say hi", "name": "ana"},
                {"role": "assistant", "content": "Hello.", "weight": 0},
                {"role": "user", "content": "Again"},
                {"role": "assistant", "content": "Hi!", "weight": 1},
            ],
        ],
        "bad": {
            "missing_field": {"messages": [{"role": "user"}]},
            "wrong_type": {"messages": "hello"},
            "unknown_role": {"messages": [{"role": "bot", "content": "x"}]},
            "empty_content": {
                "messages": [{"role": "user", "content": ""}, {"role": "assistant", "content": "a"}]
            },
            "empty_conversation": {"messages": []},
            "no_trainable_assistant": {
                "messages": [
                    {"role": "user", "content": "q"},
                    {"role": "assistant", "content": "a", "weight": 0},
                ]
            },
            "system_not_first": {
                "messages": [
                    {"role": "user", "content": "q"},
                    {"role": "system", "content": "s"},
                    {"role": "assistant", "content": "a"},
                ]
            },
            "invalid_weight": {
                "messages": [
                    {"role": "user", "content": "q"},
                    {"role": "assistant", "content": "a", "weight": 2},
                ]
            },
            "unsupported_format": {"prompt": "p", "completion": "c"},
            "not_an_object": "[1, 2]",
            "invalid_json": '{"messages": [',
        },
    },
    "brightrun-v4": {
        "module": brightingest.formats.brightrun_v4,
        "expected": [
            [
                {"role": "system", "content": "You are Bright."},
                {"role": "user", "content": "I feel stuck."},
                {"role": "assistant", "content": "What feels most stuck?"},
            ],
            [
                {"role": "system", "content": "You are Bright."},
                {"role": "user", "content": "I feel stuck."},
                {"role": "assistant", "content": "What feels most stuck?", "weight": 0},
                {"role": "user", "content": "Work."},
                {"role": "assistant", "content": "Let's list what's due."},
            ],
        ],
        "bad": {
            "missing_field": {
                "conversation_history": [{"content": "no role"}],
                "current_user_input": "q",
                "target_response": "a",
            },
            "wrong_type": {"current_user_input": "q", "target_response": 3},
            "unknown_role": {
                "conversation_history": [{"role": "coach", "content": "x"}],
                "current_user_input": "q",
                "target_response": "a",
            },
            "empty_content": {"current_user_input": "  ", "target_response": "a"},
            "metadata_line": {"_meta": {"format": "brightrun-lora-v4"}},
        },
    },
    "sharegpt": {
        "module": brightingest.formats.sharegpt,
        "expected": [
            [{"role": "user", "content": "2+2?"}, {"role": "assistant", "content": "4"}],
            [
                {"role": "system", "content": "Be brief."},
                {"role": "user", "content": "Hi"},
                {"role": "assistant", "content": "Hello"},
                {"role": "user", "content": "Weather?"},
                {
                    "role": "assistant",
                    "tool_calls": [
                        {
                            "id": "call_0",
                            "type": "function",
                            "function": {"name": "weather", "arguments": '{"city": "Oslo"}'},
                        }
                    ],
                },
                {"role": "tool", "content": "sunny", "tool_call_id": "call_0"},
                {"role": "assistant", "content": "Sunny."},
            ],
        ],
        "bad": {
            "unknown_role": {"conversations": [{"from": "narrator", "value": "x"}]},
            "no_trainable_assistant": {"conversations": [{"from": "human", "value": "x"}]},
            "empty_conversation": {"conversations": []},
        },
    },
    "alpaca": {
        "module": brightingest.formats.alpaca,
        "expected": [
            [
                {"role": "user", "content": "Translate to French\n\ncat"},
                {"role": "assistant", "content": "chat"},
            ],
            [{"role": "user", "content": "Name a color"}, {"role": "assistant", "content": "Blue"}],
            [
                {"role": "system", "content": "You are a poet."},
                {"role": "user", "content": "Hi"},
                {"role": "assistant", "content": "Hello"},
                {"role": "user", "content": "A haiku"},
                {"role": "assistant", "content": "Old pond..."},
            ],
        ],
        "bad": {
            "wrong_type": {"instruction": "i", "output": "o", "history": [["only one"]]},
            "empty_content": {"instruction": "i", "output": ""},
        },
    },
    "prompt-completion": {
        "module": brightingest.formats.prompt_completion,
        "expected": [
            [{"role": "user", "content": "The sky is"}, {"role": "assistant", "content": " blue."}],
            [{"role": "user", "content": "2+2="}, {"role": "assistant", "content": "4"}],
            [
                {"role": "system", "content": "Be brief."},
                {"role": "user", "content": "Hi"},
                {"role": "assistant", "content": "Hello.", "weight": 0},
                {"role": "user", "content": "Capital of France?"},
                {"role": "assistant", "content": "Paris."},
            ],
            [{"role": "user", "content": "Say yes"}, {"role": "assistant", "content": "Yes."}],
        ],
        "bad": {
            "wrong_type": {"prompt": ["a"], "completion": "c"},
            "no_trainable_assistant": {"prompt": "Say no", "completion": "Yes.", "label": False},
            "empty_content": {"prompt": "p", "completion": ""},
        },
    },
    "dolly": {
        "module": brightingest.formats.dolly,
        "expected": [
            [
                {
                    "role": "user",
                    "content": "When did Virgin Australia start operating?\n\n"
                    "Virgin Australia commenced services on 31 August 2000.",
                },
                {"role": "assistant", "content": "On 31 August 2000."},
            ],
            [{"role": "user", "content": "Name a fish"}, {"role": "assistant", "content": "Tope"}],
        ],
        "bad": {
            "wrong_type": {"instruction": "i", "response": ["r"]},
            "empty_content": {"instruction": "i", "response": " "},
        },
    },
    "openorca": {
        "module": brightingest.formats.openorca,
        "expected": [
            [
                {"role": "system", "content": "You are an AI assistant."},
                {"role": "user", "content": "Translate to German: cat"},
                {"role": "assistant", "content": "Katze"},
            ],
            [{"role": "user", "content": "2+2?"}, {"role": "assistant", "content": "4"}],
        ],
        "bad": {
            "wrong_type": {"question": "q", "response": 4},
            "empty_content": {"question": "", "response": "r"},
        },
    },
    "question-answer": {
        "module": brightingest.formats.question_answer,
        "expected": [
            [
                {"role": "user", "content": "Natalia sold 48 clips. How many?"},
                {"role": "assistant", "content": "48\n#### 48"},
            ],
            [
                {"role": "user", "content": "Who?\n\nAnn wrote it."},
                {"role": "assistant", "content": "Ann"},
            ],
        ],
        "bad": {
            "wrong_type": {"question": "1+1?", "answer": 2},
            "empty_content": {"question": "q", "answer": ""},
        },
    },
    "gemini": {
        "module": brightingest.formats.gemini,
        "expected": [
            [
                {"role": "system", "content": "You are a pirate."},
                {"role": "user", "content": "Hi"},
                {"role": "assistant", "content": "Arr, ahoy!"},
            ],
            [{"role": "user", "content": "2+2?"}, {"role": "assistant", "content": "4"}],
        ],
        "bad": {
            "wrong_type": {
                "contents": [
                    {"role": "user", "parts": [{"inlineData": {"mimeType": "image/png"}}]},
                    {"role": "model", "parts": [{"text": "a cat"}]},
                ]
            },
            "unknown_role": {"contents": [{"role": "bot", "parts": [{"text": "x"}]}]},
            "missing_field": {"contents": [{"role": "user"}]},
        },
    },
}


def test_every_builtin_has_a_case() -> None:
    names = []
    for module in builtin_modules():
        module.brightingest_register_formats(lambda spec: names.append(spec.name))
    assert sorted(names) == sorted(CASES)
    assert len(BUILTIN_PLUGINS) == len(CASES)


@pytest.mark.parametrize("name", list(CASES))
def test_builtin_passes_the_kit(name: str, tmp_path: Path) -> None:
    case = CASES[name]
    result = check_format(
        case["module"],
        good_rows=SAMPLE_ROWS[name],
        expected_messages=case["expected"],
        bad_rows=case["bad"],
        tmp_path=tmp_path,
    )
    assert result.name == name
    assert result.rows == len(SAMPLE_ROWS[name])
    assert set(result.bad_categories) == set(case["bad"])


def test_kit_takes_a_bare_spec(tmp_path: Path) -> None:
    spec = FormatSpec(
        "qa",
        "1",
        mapping=Mapping(("ask", "reply"), (Message("user", "ask"), Message("assistant", "reply"))),
    )
    result = check_format(
        spec,
        good_rows=[{"ask": "2+2?", "reply": "4", "topic": "math"}],
        expected_messages=[
            [{"role": "user", "content": "2+2?"}, {"role": "assistant", "content": "4"}]
        ],
        tmp_path=tmp_path,
    )
    assert result.round_trip_path is not None


def test_kit_catches_a_detector_that_loses_to_a_builtin(tmp_path: Path) -> None:
    spec = FormatSpec(
        "weak-chat",
        "1",
        detect=lambda row: 0.1 if isinstance(row, dict) and "messages" in row else 0.0,
        mapping=Mapping(("messages", "source"), (Message("user", "source"),)),
    )
    with pytest.raises(PluginError, match="auto-detection on the good rows picks 'openai'"):
        check_format(spec, good_rows=[{"messages": [], "source": "x"}], tmp_path=tmp_path)


def test_kit_catches_a_detector_scoring_non_objects(tmp_path: Path) -> None:
    spec = FormatSpec(
        "greedy",
        "1",
        detect=lambda row: 1.0,
        mapping=Mapping(("q",), (Message("user", "q"),)),
    )
    with pytest.raises(PluginError, match=r"detect\(None\) scores 1.0, not 0"):
        check_format(spec, good_rows=[{"q": "x"}], tmp_path=tmp_path)


def test_kit_catches_wrong_expected_messages(tmp_path: Path) -> None:
    with pytest.raises(PluginError, match="good row 1 maps to"):
        check_format(
            brightingest.formats.prompt_completion,
            good_rows=[{"prompt": "a", "completion": "b"}],
            expected_messages=[[{"role": "user", "content": "a"}]],
            tmp_path=tmp_path,
        )


def test_kit_catches_a_bad_row_in_the_wrong_category(tmp_path: Path) -> None:
    with pytest.raises(
        PluginError, match="the unknown_role bad row was not skipped as unknown_role"
    ):
        check_format(
            brightingest.formats.prompt_completion,
            good_rows=[{"prompt": "a", "completion": "b"}],
            bad_rows={"unknown_role": {"prompt": 1, "completion": "b"}},
            tmp_path=tmp_path,
        )


def test_kit_catches_a_clash_with_a_builtin_name(tmp_path: Path) -> None:
    spec = FormatSpec(
        "alpaca", "2", detect=fields_score(("q",)), mapping=Mapping(("q",), (Message("user", "q"),))
    )
    module_like = type("Plugin", (), {})()
    from brightingest.plugins import as_plugin

    with pytest.raises(PluginError, match='format "alpaca" is registered twice'):
        check_format(
            as_plugin(spec, brightingest.formats.alpaca.SPEC),
            good_rows=[{"q": "x"}],
            name="alpaca",
            tmp_path=tmp_path,
        )
    del module_like
