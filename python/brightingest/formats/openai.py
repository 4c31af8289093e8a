"""Built-in format ``openai``: OpenAI chat fine-tuning rows, ``{"messages": [...], "tools"?}``.

Messages have ``system``/``developer``/``user``/``assistant``/``tool`` roles, ``content`` as a
string or a list of text parts, and optional ``name``, ``tool_calls``, ``tool_call_id`` and
``weight`` (0 or 1, assistant messages only). Top-level ``tools`` becomes the ``tools`` column
and ``id`` the ``id`` column; any other top-level field is kept in ``metadata``.

OpenAI's rules are checked as rows are mapped (by the core), so that what is written back is
valid: ``tools`` must be a list of objects (``wrong_type``; JSON text of one is parsed, an empty
list is no tools); a ``tool`` message needs its ``tool_call_id`` (``missing_field``); only
assistant messages carry ``tool_calls`` (``wrong_type``); a ``weight`` of 1 off an assistant
message is ``invalid_weight``, a 0 there is accepted and dropped (it says what holds anyway).
A call's ``function.arguments`` given as an object (as Hugging Face chat templates take it) is
written as its JSON text, as OpenAI requires. A legacy ``function_call`` message or ``function``
role is refused, saying how to convert it.

Two shapes that axolotl and LLaMA-Factory read from ``messages`` rows are read too: a top-level
``system`` becomes the first message unless ``messages`` has a system message of its own (which
wins), and a message's boolean ``training`` or ``train`` flag (axolotl's
``message_field_training``) is its weight: ``false`` on an assistant message is weight 0. A
message with token-level ``training_detail`` is refused (it is trained whole or not at all).
The system prompt may also be a list of text blocks (Bedrock's ``[{"text": ...}]``), and the
assistant may be named ``chatbot`` (Cohere) or ``model`` (Gemini).
"""

from __future__ import annotations

from collections.abc import Callable

from brightingest.formats._common import LLAMA_FACTORY_MEDIA
from brightingest.mapping import ListOfTurns, Mapping, Message
from brightingest.plugins import FormatSpec, fields_score, hookimpl

__all__ = ["SPEC", "brightingest_register_formats"]

SPEC = FormatSpec(
    name="openai",
    version="2",
    description="OpenAI chat fine-tuning JSONL: {messages: [{role, content, ...}], tools?}",
    detect=fields_score(
        required=("messages",),
        optional=("tools", "parallel_tool_calls", "functions", "system"),
        items={"messages": ("role",)},
    ),
    mapping=Mapping(
        signature=("messages",),
        parts=(
            Message("system", "system", optional=True, overridable=True),
            ListOfTurns("messages", weight=("weight", "training", "train")),
        ),
        tools="tools",
        id="id",
        metadata="rest",
        media=LLAMA_FACTORY_MEDIA,
        desirable="kto_tag",
        desirable_if_boolean=("label",),
        # Cohere's chat fine-tuning data names the assistant Chatbot; Gemini's, model.
        roles={"chatbot": "assistant", "model": "assistant"},
    ),
)


@hookimpl
def brightingest_register_formats(register: Callable[[FormatSpec], None]) -> None:
    """Register the ``openai`` format."""
    register(SPEC)
