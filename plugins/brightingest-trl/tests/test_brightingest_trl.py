"""brightingest-trl checked with brightingest's plugin test kit, plus its own cases.

The rows follow the documented shapes of their sources: TRL's dataset formats
(https://huggingface.co/docs/trl/dataset_formats), LLaMA-Factory's data/README.md ("Preference
Dataset" for Alpaca and ShareGPT), HuggingFaceH4/ultrafeedback_binarized, Anthropic/hh-rlhf, and
the DPO rows of OpenAI (https://developers.openai.com/api/docs/guides/direct-preference-optimization)
and Together (https://docs.together.ai/docs/fine-tuning/preference-tuning).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import brightingest_trl
import pytest

from brightingest.errors import MappingError
from brightingest.plugins import get_plugin_manager
from brightingest.testing import builtin_plugin_manager, check_format, write_rows

# TRL, standard form with an explicit prompt.
STANDARD = {"prompt": "The sky is", "chosen": " blue.", "rejected": " green."}
# TRL, conversational form with an explicit prompt.
CONVERSATIONAL = {
    "prompt": [
        {"role": "system", "content": "Be polite."},
        {"role": "user", "content": "Hi"},
    ],
    "chosen": [{"role": "assistant", "content": "Hello! How can I help?"}],
    "rejected": [{"role": "assistant", "content": "What."}],
}
# Shape 1: LLaMA-Factory, Alpaca preference dataset.
ALPACA = {
    "instruction": "Translate to German",
    "input": "good morning",
    "chosen": "Guten Morgen.",
    "rejected": "Gute Nacht.",
    "system": "You are a translator.",
    "history": [["Translate to German: thank you", "Danke."]],
}
# Shape 2: LLaMA-Factory, ShareGPT preference dataset.
SHAREGPT = {
    "conversations": [
        {"from": "human", "value": "Hi"},
        {"from": "gpt", "value": "Hello"},
        {"from": "human", "value": "2+2?"},
    ],
    "chosen": {"from": "gpt", "value": "4"},
    "rejected": {"from": "gpt", "value": "5"},
    "system": "Answer with a number.",
}
# Shape 3: TRL conversational, multi-turn prompt.
MULTI_TURN = {
    "prompt": [
        {"role": "user", "content": "What color is the sky?"},
        {"role": "assistant", "content": "It is blue."},
        {"role": "user", "content": "And at sunset?"},
    ],
    "chosen": [{"role": "assistant", "content": "Orange and red."}],
    "rejected": [{"role": "assistant", "content": "Green."}],
}
# Shape 4: HuggingFaceH4/ultrafeedback_binarized (prefs splits).
ULTRAFEEDBACK = {
    "prompt": "What color is the sky?",
    "prompt_id": "p1",
    "chosen": [
        {"role": "user", "content": "What color is the sky?"},
        {"role": "assistant", "content": "It is blue."},
    ],
    "rejected": [
        {"role": "user", "content": "What color is the sky?"},
        {"role": "assistant", "content": "It is green."},
    ],
    "messages": [
        {"role": "user", "content": "What color is the sky?"},
        {"role": "assistant", "content": "It is blue."},
    ],
    "score_chosen": 8.0,
    "score_rejected": 3.0,
}
# Shape 5: TRL implicit prompt, conversational and standard.
IMPLICIT = {
    "chosen": [
        {"role": "user", "content": "Hi"},
        {"role": "assistant", "content": "Hello"},
    ],
    "rejected": [
        {"role": "user", "content": "Hi"},
        {"role": "assistant", "content": "Go away"},
    ],
}
IMPLICIT_MULTI_TURN = {
    "chosen": [
        {"role": "user", "content": "Hi"},
        {"role": "assistant", "content": "Hello"},
        {"role": "user", "content": "2+2?"},
        {"role": "assistant", "content": "4"},
    ],
    "rejected": [
        {"role": "user", "content": "Hi"},
        {"role": "assistant", "content": "Hello"},
        {"role": "user", "content": "2+2?"},
        {"role": "assistant", "content": "5"},
    ],
}
IMPLICIT_STANDARD = {"chosen": "The sky is blue.", "rejected": "The sky is green."}
# Shape 6: Anthropic/hh-rlhf.
HH = {
    "chosen": "\n\nHuman: What are some cuss words in english?\n\nAssistant: Here’s an incomplete "
    "list.\n\nHuman: What's your favorite one?\n\nAssistant: I haven't even thought about it.",
    "rejected": "\n\nHuman: What are some cuss words in english?\n\nAssistant: Here’s an "
    "incomplete list.\n\nHuman: What's your favorite one?\n\nAssistant: Ass.",
}
# Shape 7: OpenAI / Azure OpenAI / Together / Fireworks DPO (the example of OpenAI's guide).
DPO: dict[str, Any] = {
    "input": {
        "messages": [
            {"role": "system", "content": "You are a helpful assistant."},
            {"role": "user", "content": "Explain gravity."},
        ]
    },
    "preferred_output": [
        {
            "role": "assistant",
            "content": "Gravity is a fundamental force that attracts two bodies with mass "
            "towards each other.",
        }
    ],
    "non_preferred_output": [{"role": "assistant", "content": "Gravity is when stuff falls down."}],
}
WEATHER_TOOL: dict[str, Any] = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Current weather in a city.",
        "parameters": {
            "type": "object",
            "properties": {"city": {"type": "string"}},
            "required": ["city"],
        },
    },
}
# The assistant calls the tool instead of guessing; its arguments as an object, as Hugging Face
# chat templates take them.
DPO_TOOLS: dict[str, Any] = {
    "input": {
        "messages": [{"role": "user", "content": "What's the weather in Paris right now?"}],
        "tools": [WEATHER_TOOL],
        "parallel_tool_calls": False,
    },
    "preferred_output": [
        {
            "role": "assistant",
            "tool_calls": [
                {
                    "id": "call_1",
                    "type": "function",
                    "function": {"name": "get_weather", "arguments": {"city": "Paris"}},
                }
            ],
        }
    ],
    "non_preferred_output": [{"role": "assistant", "content": "It is sunny and 25 degrees."}],
}


SKY = [
    {"role": "user", "content": "The sky is"},
    {"role": "assistant", "content": " blue."},
]
EXPECTED: list[tuple[dict[str, Any], list[dict[str, Any]]]] = [
    (STANDARD, SKY),
    (
        CONVERSATIONAL,
        [
            {"role": "system", "content": "Be polite."},
            {"role": "user", "content": "Hi"},
            {"role": "assistant", "content": "Hello! How can I help?"},
        ],
    ),
    (
        ALPACA,
        [
            {"role": "system", "content": "You are a translator."},
            {"role": "user", "content": "Translate to German: thank you"},
            {"role": "assistant", "content": "Danke.", "weight": 0},
            {"role": "user", "content": "Translate to German\n\ngood morning"},
            {"role": "assistant", "content": "Guten Morgen."},
        ],
    ),
    (
        SHAREGPT,
        [
            {"role": "system", "content": "Answer with a number."},
            {"role": "user", "content": "Hi"},
            {"role": "assistant", "content": "Hello", "weight": 0},
            {"role": "user", "content": "2+2?"},
            {"role": "assistant", "content": "4"},
        ],
    ),
    (
        MULTI_TURN,
        [
            {"role": "user", "content": "What color is the sky?"},
            {"role": "assistant", "content": "It is blue.", "weight": 0},
            {"role": "user", "content": "And at sunset?"},
            {"role": "assistant", "content": "Orange and red."},
        ],
    ),
    (
        ULTRAFEEDBACK,
        [
            {"role": "user", "content": "What color is the sky?"},
            {"role": "assistant", "content": "It is blue."},
        ],
    ),
    (
        IMPLICIT,
        [
            {"role": "user", "content": "Hi"},
            {"role": "assistant", "content": "Hello"},
        ],
    ),
    (
        IMPLICIT_MULTI_TURN,
        [
            {"role": "user", "content": "Hi"},
            {"role": "assistant", "content": "Hello", "weight": 0},
            {"role": "user", "content": "2+2?"},
            {"role": "assistant", "content": "4"},
        ],
    ),
    (IMPLICIT_STANDARD, SKY),
    (
        HH,
        [
            {"role": "user", "content": "What are some cuss words in english?"},
            {"role": "assistant", "content": "Here’s an incomplete list.", "weight": 0},
            {"role": "user", "content": "What's your favorite one?"},
            {"role": "assistant", "content": "I haven't even thought about it."},
        ],
    ),
    (DPO, [*DPO["input"]["messages"], *DPO["preferred_output"]]),
]


def _pm() -> Any:
    pm = builtin_plugin_manager()
    pm.register(brightingest_trl, name="trl_preference")
    return pm


def _skips(path: Path) -> list[tuple[str, int, str | None, str]]:
    """(category, line, field, message) of each skipped line of ``path`` read as trl-preference."""
    import brightingest as bi

    ds = bi.load(path, format="trl-preference", pm=_pm(), progress=False)
    return [(e["category"], e["line"], e.get("field"), e["message"]) for e in ds.report.examples]


def test_entry_point_is_declared() -> None:
    text = (Path(__file__).parents[1] / "pyproject.toml").read_text()
    assert '[project.entry-points."brightingest.formats"]' in text
    assert 'trl_preference = "brightingest_trl"' in text


def test_installed_plugin_is_discovered() -> None:
    from importlib.metadata import PackageNotFoundError, version

    try:
        version("brightingest-trl")
    except PackageNotFoundError:
        pytest.skip("brightingest-trl is not installed (pip install -e plugins/brightingest-trl)")
    from brightingest.plugins import formats

    info = {i.name: i for i in formats(get_plugin_manager())}["trl-preference"]
    assert (info.plugin, info.distribution) == ("brightingest_trl", "brightingest-trl")


def test_detect_scores() -> None:
    spec = brightingest_trl.SPEC
    assert spec.score(STANDARD) == 1.0
    assert spec.score({"chosen": "x"}) == 0.0  # a preference row has both sides
    assert spec.score({"chosen": "x", "rejected": None}) == 0.0
    assert spec.score({"prompt": "p", "completion": "c"}) == 0.0
    assert spec.score({"chosen": 1, "rejected": 2}) == 0.5  # ours, with values to complain about
    for row, _ in EXPECTED:
        assert spec.score(row) == 1.0, row


@pytest.mark.parametrize(
    ("row", "beaten"),
    [
        (ALPACA, "alpaca"),
        (SHAREGPT, "sharegpt"),
        (MULTI_TURN, "prompt-completion"),
        (ULTRAFEEDBACK, "openai"),
        (IMPLICIT, "openai"),
        (HH, "alpaca"),
        (DPO, "alpaca"),
        (DPO_TOOLS, "openai"),
    ],
)
def test_detection_picks_trl_preference_for_every_shape(
    tmp_path: Path, row: dict[str, Any], beaten: str
) -> None:
    import brightingest as bi

    path = write_rows(tmp_path / "prefs.jsonl", [row, row])
    detection = bi.detect(path, pm=_pm())
    scores = dict(detection.scores)
    assert detection.best == "trl-preference"
    assert scores["trl-preference"] - scores[beaten] > 0.05


def test_plugin_contract_with_the_kit(tmp_path: Path) -> None:
    pytest.importorskip("brightingest._core")
    result = check_format(
        brightingest_trl,
        good_rows=[row for row, _ in EXPECTED],
        expected_messages=[messages for _, messages in EXPECTED],
        bad_rows={
            "wrong_type": {"prompt": "p", "chosen": 42, "rejected": "r"},
            "missing_field": {"chosen": "Sure!", "rejected": "Sorry."},
            "no_trainable_assistant": {
                "prompt": "p",
                "chosen": [{"role": "user", "content": "only a question"}],
                "rejected": "r",
            },
            "unknown_role": {
                "prompt": "p",
                "chosen": [{"role": "bot", "content": "x"}],
                "rejected": "r",
            },
            "empty_content": {
                "prompt": "p",
                "chosen": [{"role": "assistant", "content": " "}],
                "rejected": "r",
            },
            "unsupported_format": {
                "instruction": "Translate",
                "prompt": "Translate",
                "chosen": "x",
                "rejected": "y",
            },
            "empty_conversation": {**DPO, "input": {"messages": []}},
            "system_not_first": {
                **DPO,
                "input": {"messages": [*reversed(DPO["input"]["messages"])]},
            },
        },
        tmp_path=tmp_path,
    )
    assert result.rows == len(EXPECTED)


# -- shape 1: LLaMA-Factory Alpaca ----------------------------------------------------------------


def test_alpaca_without_input_system_or_history() -> None:
    row = {"instruction": "Name a prime number.", "input": "", "chosen": "7", "rejected": "8"}
    assert brightingest_trl.map_record(row)["messages"] == [
        {"role": "user", "content": "Name a prime number."},
        {"role": "assistant", "content": "7"},
    ]


def test_alpaca_bad_rows(tmp_path: Path) -> None:
    pytest.importorskip("brightingest._core")
    path = write_rows(
        tmp_path / "alpaca.jsonl",
        [
            ALPACA,
            {**ALPACA, "history": [["only one half"]]},
            {**ALPACA, "instruction": " ", "input": ""},
            {**ALPACA, "input": ["not", "text"]},
            {"input": "good morning", "chosen": "Guten Morgen.", "rejected": "Gute Nacht."},
        ],
    )
    assert _skips(path) == [
        ("wrong_type", 2, "history[0]", "expected a [user, assistant] pair of strings."),
        ("empty_content", 3, "instruction", "the instruction is empty (and so is the input)."),
        ("wrong_type", 4, "input", "expected a string, got a list."),
        (
            "missing_field",
            5,
            "instruction",
            'the row has "input" but no "instruction" (LLaMA-Factory\'s Alpaca preference '
            "shape): cannot tell what the prompt is.",
        ),
    ]


# -- shape 2: LLaMA-Factory ShareGPT --------------------------------------------------------------


def test_sharegpt_chosen_as_role_content_and_tool_turns_linked(tmp_path: Path) -> None:
    pytest.importorskip("brightingest._core")
    import brightingest as bi

    row = {
        "conversations": [
            {"from": "human", "value": "Weather in Paris?"},
            {"from": "function_call", "value": '{"name": "weather", "arguments": {"city": "P"}}'},
            {"from": "observation", "value": '{"temp": 21}'},
        ],
        "chosen": {"role": "assistant", "content": "21 degrees."},
        "rejected": {"role": "assistant", "content": "I don't know."},
    }
    assert brightingest_trl.map_record(row)["messages"] == [
        {"role": "user", "content": "Weather in Paris?"},
        {"role": "assistant", "content": row["conversations"][1]["value"], "weight": 0},
        {"role": "tool", "content": '{"temp": 21}'},
        {"role": "assistant", "content": "21 degrees."},
    ]
    path = write_rows(tmp_path / "tools.jsonl", [row])
    messages = bi.load(path, pm=_pm(), progress=False).messages_as_python(0)
    call = {"name": "weather", "arguments": '{"city": "P"}'}
    assert messages[1:3] == [
        {
            "role": "assistant",
            "tool_calls": [{"id": "call_0", "type": "function", "function": call}],
            "weight": 0,
        },
        {"role": "tool", "content": '{"temp": 21}', "tool_call_id": "call_0"},
    ]


def test_a_system_turn_in_the_prompt_overrides_the_top_level_system() -> None:
    conversations = [{"from": "system", "value": "Be terse."}, *SHAREGPT["conversations"]]
    messages = brightingest_trl.map_record({**SHAREGPT, "conversations": conversations})["messages"]
    assert messages is not None
    assert messages[:2] == [
        {"role": "system", "content": "Be terse."},
        {"role": "user", "content": "Hi"},
    ]


def test_sharegpt_bad_rows(tmp_path: Path) -> None:
    pytest.importorskip("brightingest._core")
    path = write_rows(
        tmp_path / "sharegpt.jsonl",
        [
            SHAREGPT,
            {**SHAREGPT, "chosen": {"from": "human", "value": "4"}},
            {**SHAREGPT, "chosen": {"from": "bot", "value": "4"}},
            {**SHAREGPT, "conversations": []},
        ],
    )
    assert _skips(path) == [
        (
            "no_trainable_assistant",
            2,
            "chosen",
            'the chosen reply is a "user" message, not an assistant\'s.',
        ),
        (
            "unknown_role",
            3,
            "chosen.from",
            'unknown role "bot" (expected system, developer, user, assistant, tool, or a '
            "ShareGPT speaker such as human, gpt, observation, function_call).",
        ),
        ("empty_conversation", 4, "conversations", "the prompt is empty."),
    ]


# -- shapes 3 and 4: explicit prompts, and a chosen that repeats them -----------------------------


def test_prompt_side_assistant_weights_are_forced_to_zero() -> None:
    row = {
        "prompt": [
            {"role": "user", "content": "Hi"},
            {"role": "assistant", "content": "Hello", "weight": 1},
            {"role": "user", "content": "Bye"},
        ],
        "chosen": "Goodbye!",
        "rejected": "No.",
    }
    assert brightingest_trl.map_record(row)["messages"] == [
        {"role": "user", "content": "Hi"},
        {"role": "assistant", "content": "Hello", "weight": 0},
        {"role": "user", "content": "Bye"},
        {"role": "assistant", "content": "Goodbye!"},
    ]


def test_chosen_repeating_only_the_end_of_the_prompt_is_not_duplicated() -> None:
    row = {
        "prompt": [
            {"role": "system", "content": "Be brief."},
            {"role": "user", "content": "What color is the sky?"},
        ],
        "chosen": [
            {"role": "user", "content": "What color is the sky? "},
            {"role": "assistant", "content": "Blue."},
        ],
        "rejected": [{"role": "assistant", "content": "Green."}],
    }
    assert brightingest_trl.map_record(row)["messages"] == [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "What color is the sky?"},
        {"role": "assistant", "content": "Blue."},
    ]


def test_ultrafeedback_reads_as_openai_would_read_its_messages(tmp_path: Path) -> None:
    """The row has ``messages`` too; detection picks trl-preference, and the result is the
    conversation the openai format reads from ``messages`` (the chosen one)."""
    pytest.importorskip("brightingest._core")
    import brightingest as bi

    path = write_rows(tmp_path / "ultrafeedback.jsonl", [ULTRAFEEDBACK])
    ours = bi.load(path, pm=_pm(), progress=False)
    theirs = bi.load(path, format="openai", pm=_pm(), progress=False)
    assert ours.format == "trl-preference"
    assert ours.messages_as_python(0) == theirs.messages_as_python(0)


# -- shape 5: implicit prompts --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("chosen", "rejected", "prompt", "answer"),
    [
        ("The sky is blue.", "The sky is green.", "The sky is", " blue."),
        # Shared up to inside a word ("bl"): the prompt ends at the last whole word.
        ("The sky is blue.", "The sky is black.", "The sky is", " blue."),
        ("The sky is blue", "The sky is", "The sky is", " blue"),
        ("I think yes, because\nit is.", "I think no.", "I think", " yes, because\nit is."),
    ],
)
def test_implicit_standard_prompt_ends_at_a_word_boundary(
    chosen: str, rejected: str, prompt: str, answer: str
) -> None:
    assert brightingest_trl.map_record({"chosen": chosen, "rejected": rejected})["messages"] == [
        {"role": "user", "content": prompt},
        {"role": "assistant", "content": answer},
    ]


def test_implicit_bad_rows(tmp_path: Path) -> None:
    pytest.importorskip("brightingest._core")
    path = write_rows(
        tmp_path / "implicit.jsonl",
        [
            IMPLICIT,
            {"chosen": "Sure!", "rejected": "Sorry."},
            {"chosen": "Yes.", "rejected": "Yes. And more."},
            {"chosen": IMPLICIT["chosen"], "rejected": IMPLICIT["chosen"]},
            {"chosen": IMPLICIT["chosen"], "rejected": "Go away"},
            {"chosen": {"role": "assistant", "content": "4"}, "rejected": {"role": "user"}},
            {"chosen": "x"},
        ],
    )
    assert _skips(path) == [
        (
            "missing_field",
            2,
            "prompt",
            'the row has no "prompt", and "chosen" and "rejected" share no leading words to '
            'take as one (TRL\'s implicit prompt): chosen starts "Sure!", rejected "Sorry.".',
        ),
        (
            "no_trainable_assistant",
            3,
            "chosen",
            '"chosen" adds nothing to the text it shares with "rejected", so it has no answer '
            "of its own to train on.",
        ),
        (
            "no_trainable_assistant",
            4,
            "chosen",
            'no assistant message in chosen after what it shares with "rejected": nothing to '
            "train on.",
        ),
        ("wrong_type", 5, "rejected", 'expected a list of messages like "chosen", got a string.'),
        (
            "missing_field",
            6,
            "prompt",
            '"chosen" is a single message and the row has no prompt (none of instruction, '
            "conversations, prompt).",
        ),
        (
            "missing_field",
            7,
            "rejected",
            'a preference row needs "chosen" and "rejected"; "rejected" is missing.',
        ),
    ]


# -- shape 6: Anthropic HH-RLHF -------------------------------------------------------------------


def test_hh_prompt_with_the_reply_in_chosen() -> None:
    """Processed HH (e.g. Dahoas/full-hh-rlhf): the prompt ends in an empty Assistant turn."""
    row = {
        "prompt": "\n\nHuman: Hi\n\nAssistant: Hello\n\nHuman: 2+2?\n\nAssistant:",
        "response": " 4",
        "chosen": " 4",
        "rejected": " 5",
    }
    assert brightingest_trl.map_record(row)["messages"] == [
        {"role": "user", "content": "Hi"},
        {"role": "assistant", "content": "Hello", "weight": 0},
        {"role": "user", "content": "2+2?"},
        {"role": "assistant", "content": "4"},
    ]


def test_hh_bad_rows(tmp_path: Path) -> None:
    pytest.importorskip("brightingest._core")
    path = write_rows(
        tmp_path / "hh.jsonl",
        [
            HH,
            {"chosen": "\n\nHuman: Hi\n\nAssistant: Hello\n\nHuman: Bye", "rejected": "x"},
            {"chosen": "\n\nHuman: Hi\n\nAssistant:", "rejected": "\n\nHuman: Hi\n\nAssistant: No"},
            {"chosen": "\n\nHuman: Hi\n\nAssistant: Hello", "rejected": ["x"]},
        ],
    )
    assert _skips(path) == [
        (
            "no_trainable_assistant",
            2,
            "chosen",
            'the transcript ends with a "Human:" turn: no final "Assistant:" reply to train on.',
        ),
        ("empty_content", 3, "chosen", 'turn 2 ("Assistant:") of the transcript is empty.'),
        ("wrong_type", 4, "rejected", 'expected a transcript string like "chosen", got a list.'),
    ]


# -- shape 7: OpenAI / Azure OpenAI / Together / Fireworks DPO ------------------------------------


def _cli(*argv: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """``python -m brightingest ...`` as a user runs it: the installed plugin, found by its entry
    point."""
    from importlib.metadata import PackageNotFoundError, version

    pytest.importorskip("brightingest._core")
    try:
        version("brightingest-trl")
    except PackageNotFoundError:
        pytest.skip("brightingest-trl is not installed (pip install -e plugins/brightingest-trl)")
    return subprocess.run(
        [sys.executable, "-m", "brightingest", *argv],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_dpo_realistic_row() -> None:
    assert brightingest_trl.map_record({**DPO, "id": "dpo-1"}) == {
        "messages": [
            {"role": "system", "content": "You are a helpful assistant."},
            {"role": "user", "content": "Explain gravity."},
            {
                "role": "assistant",
                "content": "Gravity is a fundamental force that attracts two bodies with mass "
                "towards each other.",
            },
        ],
        "id": "dpo-1",
        "tools": None,
        "metadata": {"non_preferred_output": DPO["non_preferred_output"]},
    }


def test_dpo_tools_go_to_their_column_and_parallel_tool_calls_to_metadata(tmp_path: Path) -> None:
    pytest.importorskip("brightingest._core")
    import brightingest as bi

    call = {
        "id": "call_1",
        "type": "function",
        "function": {"name": "get_weather", "arguments": '{"city":"Paris"}'},
    }
    mapped = brightingest_trl.map_record(DPO_TOOLS)
    assert mapped is not None
    assert mapped["messages"] == [
        {"role": "user", "content": "What's the weather in Paris right now?"},
        {"role": "assistant", "content": "", "tool_calls": [call]},
    ]
    assert mapped["tools"] == [WEATHER_TOOL]
    assert mapped["metadata"] == {
        "non_preferred_output": DPO_TOOLS["non_preferred_output"],
        "parallel_tool_calls": False,
    }

    ds = bi.load(write_rows(tmp_path / "dpo.jsonl", [DPO_TOOLS]), pm=_pm(), progress=False)
    assert ds.format == "trl-preference"
    assert ds.messages_as_python(0)[1] == {"role": "assistant", "tool_calls": [call]}
    assert json.loads(ds.table.column("tools")[0].as_py()) == [WEATHER_TOOL]
    assert json.loads(ds.table.column("metadata")[0].as_py())["parallel_tool_calls"] is False


def test_dpo_multi_turn_input_with_assistant_and_tool_turns() -> None:
    """The prompt's assistant turns (a reply, a tool call) are context: weight 0, even where the
    row says 1; ``preferred_output`` may hold several assistant messages, all trained."""
    call = {"id": "c1", "type": "function", "function": {"name": "add", "arguments": "[2, 2]"}}
    row = {
        "input": {
            "messages": [
                {"role": "system", "content": "You are a math tutor."},
                {"role": "user", "content": "What is 2+2?"},
                {"role": "assistant", "content": "4.", "weight": 1},
                {"role": "user", "content": "Check it with the calculator."},
                {"role": "assistant", "content": None, "tool_calls": [call]},
                {"role": "tool", "content": "4", "tool_call_id": "c1"},
            ],
            "seed": 7,
        },
        "preferred_output": [
            {"role": "assistant", "content": "The calculator agrees: 4."},
            {"role": "assistant", "content": "Anything else?"},
        ],
        "non_preferred_output": [{"role": "assistant", "content": "5."}],
        "system": "Ignored: the input has its own system message.",
        "split": "train",
    }
    mapped = brightingest_trl.map_record(row)
    assert mapped is not None
    assert mapped["messages"] == [
        {"role": "system", "content": "You are a math tutor."},
        {"role": "user", "content": "What is 2+2?"},
        {"role": "assistant", "content": "4.", "weight": 0},
        {"role": "user", "content": "Check it with the calculator."},
        {"role": "assistant", "content": "", "tool_calls": [call], "weight": 0},
        {"role": "tool", "content": "4", "tool_call_id": "c1"},
        {"role": "assistant", "content": "The calculator agrees: 4."},
        {"role": "assistant", "content": "Anything else?"},
    ]
    assert mapped["metadata"] == {
        "non_preferred_output": row["non_preferred_output"],
        "split": "train",
        "input": {"seed": 7},
    }
    # Without a system message in the input, a top-level system is the system prompt.
    no_system = {**DPO, "input": {"messages": DPO["input"]["messages"][1:]}, "system": "Be brief."}
    assert brightingest_trl.map_record(no_system)["messages"][:2] == [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "Explain gravity."},
    ]


def test_dpo_bad_rows(tmp_path: Path) -> None:
    pytest.importorskip("brightingest._core")
    user, system = DPO["input"]["messages"][1], DPO["input"]["messages"][0]
    good = DPO["preferred_output"]
    path = write_rows(
        tmp_path / "dpo.jsonl",
        [
            DPO,
            {**DPO, "input": {"messages": [system, {"role": "user", "content": "  "}]}},
            {k: v for k, v in DPO.items() if k != "input"},
            {**DPO, "input": {"tools": [WEATHER_TOOL]}},
            {**DPO, "input": {"messages": [user]}, "preferred_output": good[0]},
            {**DPO, "preferred_output": [{"role": "user", "content": "Why?"}]},
            {**DPO, "preferred_output": []},
            {**DPO, "input": {"messages": [user]}, "prompt": "Explain gravity."},
            {"input": DPO["input"], "chosen": good, "rejected": DPO["non_preferred_output"]},
            {k: v for k, v in DPO.items() if k != "non_preferred_output"},
            {**DPO, "input": "Explain gravity."},
            {**DPO, "input": {"messages": [{"role": "user"}]}},
            {**DPO, "input": {**DPO["input"], "parallel_tool_calls": "no"}},
            {**DPO, "input": {"messages": [user, {"role": "tool", "content": "4"}]}},
            {**DPO, "preferred_output": [{"role": "assistant", "tool_calls": {"id": "c"}}]},
            {**DPO, "input": {"messages": [{"role": "human", "content": "Hi"}]}},
        ],
    )
    assert _skips(path) == [
        ("empty_content", 2, "input.messages[1].content", "the message content is empty."),
        (
            "missing_field",
            3,
            "input",
            'the DPO row has no "input" (the prompt: {"messages": [...]}).',
        ),
        ("missing_field", 4, "input.messages", '"input" has no "messages" (the prompt).'),
        (
            "wrong_type",
            5,
            "preferred_output",
            "expected a list of assistant messages, got an object.",
        ),
        (
            "no_trainable_assistant",
            6,
            "preferred_output[0].role",
            'preferred_output[0] is a "user" message: the preferred output holds the assistant\'s '
            "answer only.",
        ),
        (
            "no_trainable_assistant",
            7,
            "preferred_output",
            "the preferred output has no messages: no assistant message to train on.",
        ),
        (
            "unsupported_format",
            8,
            "prompt",
            'the row has the OpenAI DPO fields ("input", "preferred_output", '
            '"non_preferred_output") and "prompt" of another preference shape: cannot tell which '
            "one to read.",
        ),
        (
            "unsupported_format",
            9,
            "chosen",
            'the row has the OpenAI DPO fields ("input", "preferred_output", '
            '"non_preferred_output") and "chosen" of another preference shape: cannot tell which '
            "one to read.",
        ),
        (
            "missing_field",
            10,
            "non_preferred_output",
            'a DPO row needs "preferred_output" and "non_preferred_output"; "non_preferred_output" '
            "is missing.",
        ),
        (
            "wrong_type",
            11,
            "input",
            'expected an object {"messages": [...], "tools"?}, got a string.',
        ),
        (
            "missing_field",
            12,
            "input.messages[0].content",
            "the message has no content (and no tool_calls).",
        ),
        ("wrong_type", 13, "input.parallel_tool_calls", "expected a boolean, got a string."),
        (
            "missing_field",
            14,
            "input.messages[1].tool_call_id",
            "a tool message needs the tool_call_id of the call it answers.",
        ),
        (
            "wrong_type",
            15,
            "preferred_output[0].tool_calls",
            "expected a non-empty list of tool calls, got an object.",
        ),
        (
            "unknown_role",
            16,
            "input.messages[0].role",
            'unknown role "human" (expected system, developer, user, assistant, tool).',
        ),
    ]


def test_dpo_detection(tmp_path: Path) -> None:
    import brightingest as bi

    spec = brightingest_trl.SPEC
    assert spec.score(DPO) == 1.0
    assert spec.score(DPO_TOOLS) == 1.0
    assert spec.score({**DPO, "id": 3, "source": "web"}) == 0.96  # an unknown key lowers it a bit
    assert spec.score({**DPO, "input": "Explain gravity."}) == 0.5  # ours, to refuse with reason
    assert spec.score({"preferred_output": DPO["preferred_output"]}) == 0.0  # both sides needed
    path = write_rows(tmp_path / "dpo.jsonl", [DPO, DPO_TOOLS])
    detection = bi.detect(path, pm=_pm())
    assert detection.best == "trl-preference"
    assert dict(detection.scores)["trl-preference"] >= 0.9
    assert all(score == 0.0 for name, score in detection.scores if name != "trl-preference")


def test_dpo_cli_inspect_and_convert_round_trip(tmp_path: Path) -> None:
    """``inspect`` detects the installed plugin's format; ``convert --to openai`` writes the
    chosen conversation with the tools and ``parallel_tool_calls`` of the row."""
    write_rows(tmp_path / "dpo.jsonl", [DPO, DPO_TOOLS])
    inspected = _cli("inspect", "dpo.jsonl", "--json", cwd=tmp_path)
    assert inspected.returncode == 0, inspected.stderr
    report = json.loads(inspected.stdout)
    assert report["detection"]["best"] == "trl-preference"
    assert report["rows_kept"] == 2

    converted = _cli("convert", "dpo.jsonl", "-o", "out.jsonl", "--to", "openai", cwd=tmp_path)
    assert converted.returncode == 0, converted.stderr
    lines = (tmp_path / "out.jsonl").read_text(encoding="utf-8").splitlines()
    assert lines[0] == (
        '{"messages":[{"role":"system","content":"You are a helpful assistant."},'
        '{"role":"user","content":"Explain gravity."},{"role":"assistant","content":"Gravity is '
        'a fundamental force that attracts two bodies with mass towards each other."}]}'
    )
    call = {
        "id": "call_1",
        "type": "function",
        "function": {"name": "get_weather", "arguments": '{"city":"Paris"}'},
    }
    assert json.loads(lines[1]) == {
        "messages": [
            {"role": "user", "content": "What's the weather in Paris right now?"},
            {"role": "assistant", "tool_calls": [call]},
        ],
        "tools": [WEATHER_TOOL],
        "parallel_tool_calls": False,
    }
    assert len(lines) == 2


def test_a_row_that_is_not_preference_data_is_not_ours() -> None:
    assert brightingest_trl.map_record({"messages": []}) is None
    with pytest.raises(MappingError) as info:
        brightingest_trl.map_record({"chosen": 1, "rejected": "r", "prompt": "p"})
    assert (info.value.code, info.value.field) == ("wrong_type", "chosen")


def test_id_tools_and_other_fields_are_kept(tmp_path: Path) -> None:
    """id and tools fill their columns; rejected, scores and the rest are kept in metadata."""
    pytest.importorskip("brightingest._core")
    import brightingest as bi

    tool = {"type": "function", "function": {"name": "f", "parameters": {}}}
    rows = [
        {**STANDARD, "id": "x1", "score_chosen": 8.0, "tools": [tool]},
        {**STANDARD, "id": 7},
        {**STANDARD, "id": ["x"]},
    ]
    ds = bi.load(write_rows(tmp_path / "prefs.jsonl", rows), pm=_pm(), progress=False)
    assert ds.format == "trl-preference"
    assert ds.table.column("id").to_pylist() == ["x1", "7"]
    metadata = [json.loads(m) for m in ds.table.column("metadata").to_pylist()]
    assert metadata == [
        {"rejected": " green.", "score_chosen": 8.0},
        {"rejected": " green."},
    ]
    assert json.loads(ds.table.column("tools")[0].as_py()) == [tool]
    assert ds.messages_as_python(0) == SKY
    assert ds.report.skipped == {"wrong_type": 1}


def test_cli_convert_writes_each_shape(tmp_path: Path) -> None:
    pytest.importorskip("brightingest._core")
    import brightingest as bi

    path = write_rows(tmp_path / "all.jsonl", [row for row, _ in EXPECTED])
    ds = bi.load(path, pm=_pm(), progress=False)
    out = tmp_path / "out.jsonl"
    ds.write_openai(out)
    lines = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert [line["messages"] for line in lines] == [messages for _, messages in EXPECTED]


def test_multimodal_preference_rows_are_refused() -> None:
    rows = [
        {"instruction": "<image>what?", "chosen": "cat", "rejected": "dog", "images": ["a.png"]},
        {
            "input": {"messages": [{"role": "user", "content": "<video>what?"}]},
            "preferred_output": [{"role": "assistant", "content": "a match"}],
            "non_preferred_output": [{"role": "assistant", "content": "a cat"}],
            "videos": ["a.mp4"],
        },
    ]
    for row in rows:
        with pytest.raises(MappingError) as info:
            brightingest_trl.map_record(row)
        assert info.value.code == "wrong_type"
        assert info.value.field in ("images", "videos")
    empty = {"instruction": "what?", "chosen": "cat", "rejected": "dog", "images": []}
    assert brightingest_trl.map_record(empty) is not None


def test_implicit_rows_without_a_shared_question_ids_and_text_tools() -> None:
    with pytest.raises(MappingError) as info:
        brightingest_trl.map_record(
            {
                "chosen": [{"role": "assistant", "content": "blue"}],
                "rejected": [{"role": "assistant", "content": "green"}],
            }
        )
    assert (info.value.code, info.value.field) == ("missing_field", "prompt")
    with pytest.raises(MappingError, match="expected a string or an integer, got a number 1.5"):
        brightingest_trl.map_record({**STANDARD, "id": 1.5})
    tool = {"type": "function", "function": {"name": "f"}}
    record = brightingest_trl.map_record({**STANDARD, "tools": json.dumps([tool])})
    assert record is not None
    assert record["tools"] == [tool]
