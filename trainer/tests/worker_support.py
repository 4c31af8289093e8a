"""Worker test helpers: a BrightRun v4 export built from the tiny tokenizer's vocabulary."""

from __future__ import annotations

import json
import random
from typing import Any

#: A distinctive query value: it must never show up in a result, a log line or the output.
SECRET = "sEcReT-SIGNATURE-1234"


def brightrun_v4_export(n_conversations: int = 8, *, seed: int = 0) -> bytes:
    """A BrightRun v4 export: a ``_meta`` line, then one line per turn (2 turns each)."""
    from tests.trainer.support import WORDS

    rng = random.Random(seed)
    lines: list[dict[str, Any]] = [
        {
            "_meta": {
                "format": "brightrun-lora-v4",
                "app": "BrightRun",
                "conversation_count": n_conversations,
            }
        }
    ]
    for c in range(n_conversations):
        history: list[dict[str, str]] = []
        for turn in (1, 2):
            words = " ".join(rng.choice(WORDS[:20]) for _ in range(rng.randint(3, 8)))
            answer = words + " thanks"
            lines.append(
                {
                    "id": f"c-{c}-t{turn}",
                    "conversation_id": f"c-{c}",
                    "turn_number": turn,
                    "system_prompt": "please answer kindly",
                    "conversation_history": list(history),
                    "current_user_input": words,
                    "target_response": answer,
                    "emotional_context": {"primary_emotion": "calm"},
                    "training_metadata": {"quality_score": 5},
                }
            )
            history += [
                {"role": "user", "content": words},
                {"role": "assistant", "content": answer},
            ]
    return "".join(json.dumps(line) + "\n" for line in lines).encode()
