"""brightingest format plugin ``trl-preference``: TRL preference rows as their chosen conversation.

Rows are ``{"prompt"?, "chosen", "rejected"}``, each either a string (TRL's "standard" form) or a
list of ``{role, content}`` messages (the "conversational" form). The row maps to the prompt
(a string becomes a user message) followed by ``chosen`` (a string becomes an assistant
message). ``rejected`` and any other field are kept in ``metadata``.

It is registered through the ``brightingest.formats`` entry-point group of this distribution's
``pyproject.toml``, exactly as brightingest's built-in formats are.
"""

from __future__ import annotations

from collections.abc import Callable

from brightingest.mapping import ListOfTurns, Mapping
from brightingest.plugins import FormatSpec, fields_score, hookimpl

__all__ = ["SPEC", "brightingest_register_formats"]

__version__ = "0.1.0"

SPEC = FormatSpec(
    name="trl-preference",
    version="1",
    description="TRL preference data {prompt?, chosen, rejected}, as the chosen conversation",
    detect=fields_score(
        required=("chosen", "rejected"), optional=("prompt", "id", "score_chosen", "score_rejected")
    ),
    mapping=Mapping(
        # Only "chosen" in the signature: a signature key is read, and so is never kept in
        # metadata; "rejected" should be kept there. detect() still requires both.
        signature=("chosen",),
        parts=(
            ListOfTurns("prompt", string_role="user", optional=True),
            ListOfTurns("chosen", string_role="assistant"),
        ),
        metadata="rest",
    ),
)


@hookimpl
def brightingest_register_formats(register: Callable[[FormatSpec], None]) -> None:
    """Register the ``trl-preference`` format."""
    register(SPEC)
