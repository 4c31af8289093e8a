"""Built-in format ``brightrun-v4``: BrightRun LoRA exports, one training turn per row.

The file starts with a metadata line ``{"_meta": {...}}`` (kept in the report's
``file_metadata``, counted as ``metadata_line``, never a row). Each row maps to
``system_prompt`` (optional) + ``conversation_history`` + ``current_user_input`` (user) +
``target_response`` (assistant). Assistant turns from the history get ``weight: 0``, so that only
``target_response`` is trained. ``id`` becomes the ``id`` column; ``conversation_id``,
``turn_number``, ``emotional_context``, ``training_metadata`` and any other field are kept in
``metadata``.

A plugin that wants the history trained too can register
``spec(name="brightrun-v4-all-turns", train_history=True)``.
"""

from __future__ import annotations

from collections.abc import Callable

from brightingest.mapping import ListOfTurns, Mapping, Message
from brightingest.plugins import FormatSpec, fields_score, hookimpl

__all__ = ["SPEC", "brightingest_register_formats", "spec"]


def spec(*, name: str = "brightrun-v4", train_history: bool = False) -> FormatSpec:
    """The BrightRun v4 format spec.

    Args:
        name: The format name to register it under.
        train_history: Leave the history's assistant turns trainable (weight unset) instead of
            weight 0.

    Returns:
        The spec.
    """
    return FormatSpec(
        name=name,
        version="4",
        description="BrightRun v4 export: _meta line; system_prompt, conversation_history, "
        "current_user_input -> target_response",
        detect=fields_score(
            required=("current_user_input", "target_response"),
            optional=(
                "id",
                "system_prompt",
                "conversation_history",
                "conversation_id",
                "turn_number",
                "emotional_context",
                "training_metadata",
            ),
        ),
        mapping=Mapping(
            signature=("current_user_input", "target_response"),
            parts=(
                Message("system", "system_prompt", optional=True),
                ListOfTurns(
                    "conversation_history",
                    assistant_weight=None if train_history else 0,
                    optional=True,
                ),
                Message("user", "current_user_input"),
                Message("assistant", "target_response"),
            ),
            id="id",
            metadata="rest",
            meta_key="_meta",
        ),
    )


SPEC = spec()


@hookimpl
def brightingest_register_formats(register: Callable[[FormatSpec], None]) -> None:
    """Register the ``brightrun-v4`` format."""
    register(SPEC)
