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
from collections.abc import Callable
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
    assert spec.score({"prompt": "p", "completion": "c"}) == 0.0
    # null sides, as a merged export writes them for its SFT rows: not preference data
    assert spec.score({"messages": [], "chosen": None, "rejected": None}) == 0.0
    # Ours but broken (one side, values of the wrong kind): a little less, not 0, so that one
    # such row does not hand a small file to another format (map_record refuses it by name).
    assert spec.score({"chosen": "x"}) == 0.9
    assert spec.score({"chosen": "x", "rejected": None}) == 0.9
    assert spec.score({"chosen": 1, "rejected": 2}) == 0.9
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


def test_prompt_side_assistant_turns_get_weight_0_and_a_weight_1_there_is_refused() -> None:
    """The prompt is context: its assistant turns get weight 0. A row that marks one as trained
    is refused by name, neither trained against the preference nor silently untrained."""
    prompt = [
        {"role": "user", "content": "Hi"},
        {"role": "assistant", "content": "Hello"},
        {"role": "user", "content": "Bye"},
    ]
    row = {"prompt": prompt, "chosen": "Goodbye!", "rejected": "No."}
    expected = [
        {"role": "user", "content": "Hi"},
        {"role": "assistant", "content": "Hello", "weight": 0},
        {"role": "user", "content": "Bye"},
        {"role": "assistant", "content": "Goodbye!"},
    ]
    assert brightingest_trl.map_record(row)["messages"] == expected
    said_0 = [prompt[0], {**prompt[1], "training": False}, {**prompt[2], "weight": 0}]
    assert brightingest_trl.map_record({**row, "prompt": said_0})["messages"] == expected
    with pytest.raises(MappingError) as info:
        brightingest_trl.map_record({**row, "prompt": [prompt[0], {**prompt[1], "weight": 1}]})
    assert (info.value.code, info.value.field) == ("invalid_weight", "prompt[1].weight")


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
    """The prompt's assistant turns (a reply, a tool call) are context: weight 0 (a 0 or false
    the row gives there is accepted); ``preferred_output`` may hold several assistant messages,
    all trained."""
    call = {"id": "c1", "type": "function", "function": {"name": "add", "arguments": "[2, 2]"}}
    row = {
        "input": {
            "messages": [
                {"role": "system", "content": "You are a math tutor."},
                {"role": "user", "content": "What is 2+2?"},
                {"role": "assistant", "content": "4.", "training": False},
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
    # ours but broken, to refuse with the reason: a little less, not 0
    assert spec.score({**DPO, "input": "Explain gravity."}) == 0.9
    assert spec.score({"preferred_output": DPO["preferred_output"]}) == 0.9
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


# -- a chosen conversation that repeats the prompt, or shares history with rejected -------------


def _user(text: str) -> dict[str, Any]:
    return {"role": "user", "content": text}


def _assistant(text: str, **keys: Any) -> dict[str, Any]:
    return {"role": "assistant", "content": text, **keys}


def _refusal(row: dict[str, Any]) -> tuple[str, str | None, str]:
    with pytest.raises(MappingError) as info:
        brightingest_trl.map_record(row)
    return info.value.code, info.value.field, info.value.message


def test_a_near_miss_repeat_of_the_prompt_is_refused_not_added_twice(tmp_path: Path) -> None:
    """``chosen`` starts with a user turn that is the prompt re-worded ("colour"): read as a
    repeat or as a second question, something wrong would be trained; refused by name."""
    pytest.importorskip("brightingest._core")
    row = {
        "prompt": "What color is the sky?",
        "chosen": [_user("What colour is the sky?"), _assistant("Blue.")],
        "rejected": [_user("What colour is the sky?"), _assistant("Green.")],
    }
    exact = {
        **row,
        "chosen": [_user(" What color is the sky?\n"), _assistant("Blue.")],
        "rejected": [_user("What color is the sky?"), _assistant("Green.")],
    }
    with_system = {
        **row,
        "prompt": [{"role": "system", "content": "Be brief."}, _user(row["prompt"])],
    }
    path = write_rows(tmp_path / "near.jsonl", [exact, row, with_system])
    assert _skips(path) == [
        (
            "unsupported_format",
            2,
            "chosen[0]",
            '"chosen" starts with the user message "What colour is the sky?" right after the '
            'prompt\'s user message "What color is the sky?", and does not repeat the prompt word '
            "for word: cannot tell whether it is the prompt again (re-worded) or a conversation "
            'that goes on from it. Make "chosen" repeat the prompt exactly, or hold only what '
            "follows it.",
        ),
        ("unsupported_format", 3, "chosen[0]", _refusal(with_system)[2]),
    ]
    assert brightingest_trl.map_record(exact)["messages"] == [
        _user("What color is the sky?"),
        _assistant("Blue."),
    ]


CAPYBARA_CHOSEN = [
    {"role": "system", "content": "You are a tutor."},
    _user("Hi"),
    _assistant("Hello! What shall we study?"),
    _user("What is 2+2?"),
    _assistant("4."),
]
CAPYBARA_REJECTED = [*CAPYBARA_CHOSEN[:-1], _assistant("5.")]


@pytest.mark.parametrize(
    "row",
    [
        # argilla/distilabel-capybara-dpo-7k-binarized: prompt is the first user message, chosen
        # and rejected the whole conversation (a system message first)
        {"prompt": "Hi", "chosen": CAPYBARA_CHOSEN, "rejected": CAPYBARA_REJECTED},
        {"prompt": "Hi", "chosen": CAPYBARA_CHOSEN[1:], "rejected": CAPYBARA_REJECTED[1:]},
        # the prompt as the last user message, and rejected only the last answer
        {"prompt": "What is 2+2?", "chosen": CAPYBARA_CHOSEN, "rejected": "5."},
        # chosen and rejected hold what follows the prompt, history included
        {
            "prompt": CAPYBARA_CHOSEN[:2],
            "chosen": CAPYBARA_CHOSEN[2:],
            "rejected": CAPYBARA_REJECTED[2:],
        },
        # implicit prompt (no prompt field): what both share
        {"chosen": CAPYBARA_CHOSEN, "rejected": CAPYBARA_REJECTED},
    ],
)
def test_capybara_shared_history_is_context_and_only_the_last_answer_is_trained(
    tmp_path: Path, row: dict[str, Any]
) -> None:
    pytest.importorskip("brightingest._core")
    import brightingest as bi

    expected = [
        *CAPYBARA_CHOSEN[:2],
        _assistant("Hello! What shall we study?", weight=0),
        *CAPYBARA_CHOSEN[3:],
    ]
    if len(row["chosen"]) == 4 and row.get("prompt") == "Hi":
        expected = expected[1:]
    assert brightingest_trl.map_record(row)["messages"] == expected
    ds = bi.load(write_rows(tmp_path / "capybara.jsonl", [row]), pm=_pm(), progress=False)
    assert ds.format == "trl-preference"
    assert ds.messages_as_python(0) == expected


def test_capybara_as_hh_transcripts_trains_only_the_last_answer() -> None:
    chosen = "\n\nHuman: Hi\n\nAssistant: Hello\n\nHuman: 2+2?\n\nAssistant: 4"
    row = {"prompt": "\n\nHuman: Hi", "chosen": chosen, "rejected": chosen[:-1] + "5"}
    assert brightingest_trl.map_record(row)["messages"] == [
        _user("Hi"),
        _assistant("Hello", weight=0),
        _user("2+2?"),
        _assistant("4"),
    ]


def test_chosen_and_rejected_alike_state_no_preference() -> None:
    code, field, _ = _refusal({"prompt": "2+2?", "chosen": "4", "rejected": " 4 "})
    assert (code, field) == ("no_trainable_assistant", "chosen")
    code, field, _ = _refusal(
        {"prompt": "Hi", "chosen": CAPYBARA_CHOSEN, "rejected": [*CAPYBARA_CHOSEN, _user("?")]}
    )
    assert (code, field) == ("no_trainable_assistant", "chosen")


# -- a string chosen that repeats the prompt text -------------------------------------------------


@pytest.mark.parametrize(
    ("prompt", "chosen", "rejected"),
    [
        ("The sky is", "The sky is blue.", "The sky is green."),
        ("What color is the sky? ", "What color is the sky?\nBlue.", "What color is the sky? Red."),
        ("What color is the sky?", "What color is the sky?", "No."),
    ],
)
def test_a_string_chosen_that_holds_the_whole_prompt_is_refused(
    prompt: str, chosen: str, rejected: str
) -> None:
    """The prompt and its answer in one text (both sides start with the prompt, or chosen is
    only the prompt): read as a reply it would train the prompt."""
    row = {"prompt": prompt, "chosen": chosen, "rejected": rejected}
    code, field, message = _refusal(row)
    assert (code, field) == ("unsupported_format", "chosen")
    assert message.startswith(f'"chosen" starts with the whole prompt ("{prompt.strip()}")')
    assert 'leave "prompt" out' in message
    code, field, _ = _refusal({"instruction": prompt, "chosen": chosen, "rejected": rejected})
    assert (code, field) == ("unsupported_format", "chosen")


def test_a_chosen_alone_echoing_the_prompt_is_a_reply() -> None:
    """Only chosen starts with the prompt: an answer that echoes the question, trained as is."""
    for prompt, chosen in (("Hi", "Hi there! How can I help?"), ("The sky is", "The sky is blue.")):
        row = {"prompt": prompt, "chosen": chosen, "rejected": "No."}
        assert brightingest_trl.map_record(row)["messages"] == [_user(prompt), _assistant(chosen)]


def test_whole_texts_read_with_the_implicit_prompt_and_a_reply_that_only_echoes_is_kept() -> None:
    # the way out the refusal names: without "prompt", the shared words are the prompt
    whole = {"chosen": "The sky is blue.", "rejected": "The sky is green."}
    assert brightingest_trl.map_record(whole)["messages"] == SKY
    # not the whole prompt and then a space: a reply, kept as it is
    for chosen in ("Hi! How can I help?", "The sky isn't blue."):
        prompt = chosen.split("!")[0] if "!" in chosen else "The sky is"
        row = {"prompt": prompt, "chosen": chosen, "rejected": "No."}
        assert brightingest_trl.map_record(row)["messages"] == [
            _user(prompt),
            _assistant(chosen),
        ]
    # after an HH prompt's empty "Assistant:" the reply's place is certain: an echo is a reply
    hh = {"prompt": "\n\nHuman: Hi\n\nAssistant:", "chosen": " Hi there!", "rejected": " Go."}
    assert brightingest_trl.map_record(hh)["messages"] == [_user("Hi"), _assistant("Hi there!")]


# -- HH-RLHF transcripts: CRLF, case, preambles ---------------------------------------------------


HH_TURNS = [_user("Hi"), _assistant("Hello", weight=0), _user("2+2?"), _assistant("4")]


@pytest.mark.parametrize(
    "chosen",
    [
        "\r\n\r\nHuman: Hi\r\n\r\nAssistant: Hello\r\n\r\nHuman: 2+2?\r\n\r\nAssistant: 4",
        "Human: Hi\r\n\r\nAssistant: Hello\n\nHuman: 2+2?\r\n\r\nAssistant: 4",
        "\n\nhuman: Hi\n\nassistant: Hello\n\nhuman: 2+2?\n\nassistant: 4",
        "  HUMAN: Hi\n\nASSISTANT: Hello\n\nHUMAN: 2+2?\n\nASSISTANT: 4",
    ],
)
def test_hh_transcripts_with_crlf_or_other_case_are_split(chosen: str) -> None:
    row = {"chosen": chosen, "rejected": chosen[:-1] + "5"}
    assert brightingest_trl.map_record(row)["messages"] == HH_TURNS


def test_hh_crlf_inside_a_turn_is_kept_and_prompts_are_split_alike() -> None:
    row = {"chosen": "\r\n\r\nHuman: a\r\nb\r\n\r\nAssistant: c", "rejected": "\r\n\r\nHuman: a"}
    assert brightingest_trl.map_record(row)["messages"] == [_user("a\r\nb"), _assistant("c")]
    slot = {"prompt": "\r\n\r\nhuman: Hi\r\n\r\nassistant:", "chosen": " Hello", "rejected": " No"}
    assert brightingest_trl.map_record(slot)["messages"] == [_user("Hi"), _assistant("Hello")]
    # a prompt transcript with no "Assistant:" slot, and chosen going on from it
    going_on = {"prompt": "\n\nHuman: Hi", "chosen": "\n\nAssistant: Hello", "rejected": "x"}
    assert brightingest_trl.map_record(going_on)["messages"] == [_user("Hi"), _assistant("Hello")]


def test_hh_transcripts_with_a_preamble_or_markers_written_unlike_are_refused(
    tmp_path: Path,
) -> None:
    pytest.importorskip("brightingest._core")
    path = write_rows(
        tmp_path / "hh.jsonl",
        [
            HH,
            {
                "chosen": "A chat with an AI.\n\nHuman: Hi\n\nAssistant: Hello",
                "rejected": "A chat with an AI.\n\nHuman: Hi\n\nAssistant: No",
            },
            {"chosen": "\n\nHuman: Hi\n\nassistant: Hello", "rejected": "\n\nHuman: Hi"},
            {"prompt": "Be kind.\n\nHuman: Hi\n\nAssistant:", "chosen": " Hello", "rejected": "No"},
            {"prompt": "\n\nHuman: Hi\n\nAssistant:", "chosen": "\n\nhuman: Hi", "rejected": "No"},
        ],
    )
    assert _skips(path) == [
        (
            "unsupported_format",
            2,
            "chosen",
            '"chosen" looks like an Anthropic HH-RLHF transcript, but has text before its first '
            '"Human:" turn ("A chat with an AI."): cannot tell whether it is a system prompt or '
            'part of the first turn. Move it to "system", or remove it.',
        ),
        (
            "unsupported_format",
            3,
            "chosen",
            '"chosen" looks like an Anthropic HH-RLHF transcript, but has turn markers not '
            "written alike (Human:, assistant:): cannot tell where its turns start. Write them "
            "alike (Human:/Assistant:).",
        ),
        (
            "unsupported_format",
            4,
            "prompt",
            '"prompt" looks like an Anthropic HH-RLHF transcript, but has text before its first '
            '"Human:" turn ("Be kind."): cannot tell whether it is a system prompt or part of '
            'the first turn. Move it to "system", or remove it.',
        ),
        (
            "unsupported_format",
            5,
            "chosen",
            '"chosen" writes its turn markers unlike the prompt (human: and Human:): cannot tell '
            "where its turns start. Write them alike.",
        ),
    ]
    # the way out named: the preamble as "system"
    moved = {
        "chosen": "\n\nHuman: Hi\n\nAssistant: Hello",
        "rejected": "\n\nHuman: Hi\n\nAssistant: No",
        "system": "A chat with an AI.",
    }
    assert brightingest_trl.map_record(moved)["messages"] == [
        {"role": "system", "content": "A chat with an AI."},
        _user("Hi"),
        _assistant("Hello"),
    ]


# -- a conversation ends with the answer trained --------------------------------------------------


CALL = {"id": "c1", "type": "function", "function": {"name": "add", "arguments": "[2, 2]"}}


def test_chosen_must_end_with_its_answer(tmp_path: Path) -> None:
    pytest.importorskip("brightingest._core")
    tool = {"role": "tool", "content": "4", "tool_call_id": "c1"}
    path = write_rows(
        tmp_path / "ends.jsonl",
        [
            STANDARD,
            {"prompt": "Hi", "chosen": [_assistant("Hello"), _user("Thanks!")], "rejected": "Go"},
            {
                "prompt": "2+2?",
                "chosen": [_assistant("", tool_calls=[CALL]), tool],
                "rejected": "5",
            },
            {
                "prompt": "Hi",
                "chosen": [_assistant("Hello"), _user("2+2?"), _assistant("4")],
                "rejected": [_assistant("Go away")],
            },
            {
                "chosen": [_user("Hi"), _assistant("Hello"), _user("Bye")],
                "rejected": [_user("Hi"), _assistant("No")],
            },
        ],
    )
    assert _skips(path) == [
        (
            "no_trainable_assistant",
            2,
            "chosen[1]",
            "chosen ends with a user message after its answer: a conversation must end with the "
            "answer trained. Drop the messages after the answer.",
        ),
        (
            "no_trainable_assistant",
            3,
            "chosen[1]",
            "chosen ends with a tool message after its answer: a conversation must end with the "
            "answer trained. Drop the messages after the answer.",
        ),
        (
            "unsupported_format",
            4,
            "chosen[1]",
            'chosen goes on after its answer with a user message ("2+2?") that rejected does not '
            "share: cannot tell which answer the preference is about. Put the conversation "
            'before the last answer in the prompt, or in both "chosen" and "rejected".',
        ),
        (
            "no_trainable_assistant",
            5,
            "chosen[2]",
            "chosen ends with a user message after its answer: a conversation must end with the "
            "answer trained. Drop the messages after the answer.",
        ),
    ]


def test_an_answer_that_calls_a_tool_and_then_replies_is_trained_whole() -> None:
    tool = {"role": "tool", "content": "4", "tool_call_id": "c1"}
    row = {
        "prompt": "2+2?",
        "chosen": [_assistant("", tool_calls=[CALL]), tool, _assistant("4.")],
        "rejected": [_assistant("5.")],
    }
    assert brightingest_trl.map_record(row)["messages"] == [
        _user("2+2?"),
        _assistant("", tool_calls=[CALL]),
        tool,
        _assistant("4."),
    ]


# -- training flags on messages (OpenAI's weight, axolotl's training/train) ----------------------


def test_dpo_training_flags_in_the_prompt_are_refused_when_they_ask_for_training(
    tmp_path: Path,
) -> None:
    pytest.importorskip("brightingest._core")
    user = _user("What is 2+2?")
    reply = _assistant("4.")
    follow = _user("Sure?")

    def dpo(messages: list[dict[str, Any]], **changes: Any) -> dict[str, Any]:
        return {**DPO, "input": {"messages": messages}, **changes}

    path = write_rows(
        tmp_path / "flags.jsonl",
        [
            dpo([user, {**reply, "training": False}, {**follow, "weight": 0}]),
            dpo([user, {**reply, "weight": 1}, follow]),
            dpo([user, {**reply, "training": True}, follow]),
            dpo([{**user, "train": True}]),
            dpo([user, {**reply, "weight": 1, "training": False}, follow]),
            dpo([user, {**reply, "training": "yes"}, follow]),
            dpo([user], preferred_output=[_assistant("4.", training_detail=[])]),
        ],
    )
    assert _skips(path) == [
        (
            "invalid_weight",
            2,
            "input.messages[1].weight",
            '"weight": 1 marks an assistant message of the prompt as trained, but the prompt is '
            "context here: only the chosen answer is trained. Set it to 0 (false) or leave it out.",
        ),
        (
            "invalid_weight",
            3,
            "input.messages[1].training",
            '"training": true marks an assistant message of the prompt as trained, but the prompt '
            "is context here: only the chosen answer is trained. Set it to 0 (false) or leave it "
            "out.",
        ),
        (
            "invalid_weight",
            4,
            "input.messages[0].train",
            '"train": true marks a user message of the prompt as trained, but the prompt is '
            "context here: only the chosen answer is trained. Set it to 0 (false) or leave it out.",
        ),
        (
            "invalid_weight",
            5,
            "input.messages[1].training",
            '"weight" and "training" disagree on whether this message is trained.',
        ),
        (
            "invalid_weight",
            6,
            "input.messages[1].training",
            'training "yes" (expected true or false).',
        ),
        (
            "wrong_type",
            7,
            "preferred_output[0].training_detail",
            'token-level "training_detail" cannot be honoured: a message is trained whole or not '
            'at all (give it "training": true or false for the whole of it).',
        ),
    ]
    assert brightingest_trl.map_record(dpo([user, {**reply, "training": False}, follow]))[
        "messages"
    ] == [user, _assistant("4.", weight=0), follow, *DPO["preferred_output"]]


def test_dpo_training_flags_in_the_preferred_output_are_honoured_and_other_keys_kept(
    tmp_path: Path,
) -> None:
    pytest.importorskip("brightingest._core")
    import brightingest as bi

    row = {
        **DPO,
        "preferred_output": [
            _assistant("Let me think.", training=False),
            _assistant("Gravity pulls masses together.", reasoning_content="physics"),
        ],
    }
    mapped = brightingest_trl.map_record(row)
    assert mapped is not None
    assert mapped["messages"][2:] == [
        _assistant("Let me think.", weight=0),
        _assistant("Gravity pulls masses together.", extra={"reasoning_content": "physics"}),
    ]
    ds = bi.load(write_rows(tmp_path / "dpo.jsonl", [row]), pm=_pm(), progress=False)
    assert ds.messages_as_python(0)[2]["weight"] == 0
    extra = ds.table.column("messages")[0].as_py()[3]["extra"]
    assert json.loads(extra) == {"reasoning_content": "physics"}
    every_false = {**DPO, "preferred_output": [_assistant("x", train=False)]}
    assert _refusal(every_false)[:2] == ("no_trainable_assistant", "preferred_output")


# -- detection: one bad row does not decide ------------------------------------------------------


@pytest.mark.parametrize("good", [SHAREGPT, ULTRAFEEDBACK, ALPACA, STANDARD, HH, DPO])
@pytest.mark.parametrize(
    "spoil",
    [
        lambda row: {k: v for k, v in row.items() if k not in ("rejected", "non_preferred_output")},
        lambda row: {k: v for k, v in row.items() if k not in ("chosen", "preferred_output")},
        lambda row: {**row, ("preferred_output" if "preferred_output" in row else "chosen"): 42},
        lambda row: {
            **row,
            ("non_preferred_output" if "preferred_output" in row else "rejected"): None,
        },
    ],
    ids=["no-rejected", "no-chosen", "chosen-a-number", "rejected-null"],
)
@pytest.mark.parametrize("rows", [2, 3, 5])
def test_one_bad_row_first_does_not_decide_detection(
    tmp_path: Path, good: dict[str, Any], spoil: Callable[[dict[str, Any]], Any], rows: int
) -> None:
    """Detection takes the mean score over the first rows; a broken preference row first (one
    side missing, a value of the wrong kind) used to score 0 and hand a small file to sharegpt or
    openai (which would train the prompt and drop the answer), or make a tie with them. It is
    ours: detected, and refused by name when read, the good rows kept."""
    pytest.importorskip("brightingest._core")
    import brightingest as bi

    path = write_rows(tmp_path / "prefs.jsonl", [spoil(good)] + [good] * (rows - 1))
    assert bi.detect(path, pm=_pm()).best == "trl-preference"
    ds = bi.load(path, pm=_pm(), progress=False)
    assert ds.format == "trl-preference"
    assert len(ds) == rows - 1
    assert [e["line"] for e in ds.report.examples] == [1]
