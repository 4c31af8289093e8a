"""Built-in format ``prompt-completion``: ``{"prompt": ..., "completion": ...}``.

The prompt becomes a user message and the completion the (trained) assistant message; ``id``
is the ``id`` column; other fields are kept in ``metadata``.

TRL's conversational form, where ``prompt`` and ``completion`` are lists of messages
(``[{"role": "user", "content": ...}]``), is read too: the prompt's messages come first and only
the completion is trained (assistant turns inside the prompt get ``weight: 0``, as TRL's
``completion_only_loss`` does). TRL's unpaired preference data (KTO) adds a boolean ``label``:
a row labelled false is an example of what not to answer, so it is skipped as
``no_trainable_assistant``, never trained on; a label that is neither true nor false (``"maybe"``,
null) is refused as ``wrong_type`` rather than guessed.
"""

from __future__ import annotations

from collections.abc import Callable

from brightingest.mapping import ListOfTurns, Mapping
from brightingest.plugins import FormatSpec, fields_score, hookimpl

__all__ = ["SPEC", "brightingest_register_formats"]

SPEC = FormatSpec(
    name="prompt-completion",
    version="2",
    description="prompt/completion pairs: {prompt, completion}, as strings or message lists",
    detect=fields_score(required=("prompt", "completion"), optional=("id", "label")),
    mapping=Mapping(
        signature=("prompt", "completion"),
        parts=(
            ListOfTurns("prompt", string_role="user", assistant_weight=0),
            ListOfTurns("completion", string_role="assistant"),
        ),
        id="id",
        metadata="rest",
        desirable="label",
        desirable_if_boolean=("kto_tag",),
    ),
)


@hookimpl
def brightingest_register_formats(register: Callable[[FormatSpec], None]) -> None:
    """Register the ``prompt-completion`` format."""
    register(SPEC)
