"""Built-in format ``gemini``: Google's Gemini / Vertex AI supervised tuning rows.

``{"systemInstruction"?: {"role"?, "parts": [{"text"}]}, "contents": [{"role": "user" | "model",
"parts": [{"text": ...}]}]}``: ``model`` is the assistant; the parts of a turn are joined. The
system instruction (also spelled ``system_instruction``, as the google-genai SDK writes it)
becomes the first message; ``id`` is the ``id`` column; other fields are kept in ``metadata``.
A part that is not text (``inlineData``, ``fileData``, ``functionCall``...) is refused as
``wrong_type``, naming it: only text is trained here.
"""

from __future__ import annotations

from collections.abc import Callable

from brightingest.mapping import ListOfTurns, Mapping, Message
from brightingest.plugins import FormatSpec, fields_score, hookimpl

__all__ = ["SPEC", "brightingest_register_formats"]

SPEC = FormatSpec(
    name="gemini",
    version="1",
    description="Gemini / Vertex AI tuning: {contents: [{role: user|model, parts: [{text}]}], "
    "systemInstruction?}",
    detect=fields_score(
        required=("contents",),
        optional=("systemInstruction", "system_instruction", "id"),
        items={"contents": ("role", "parts")},
    ),
    mapping=Mapping(
        signature=("contents",),
        parts=(
            Message("system", "systemInstruction", optional=True),
            Message("system", "system_instruction", optional=True),
            ListOfTurns(
                "contents",
                role="role",
                content="parts",
                roles={"model": "assistant"},
                name=None,
                tool_calls=None,
                tool_call_id=None,
                weight=None,
            ),
        ),
        id="id",
        metadata="rest",
    ),
)


@hookimpl
def brightingest_register_formats(register: Callable[[FormatSpec], None]) -> None:
    """Register the ``gemini`` format."""
    register(SPEC)
