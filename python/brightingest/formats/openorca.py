"""Built-in format ``openorca``: ``{"system_prompt"?, "question", "response"}``.

The shape of OpenOrca and of the datasets derived from it (SlimOrca's flat form, Orca-style
GPT-4 distillations): ``system_prompt`` (optional, often empty) is the system message,
``question`` the user message (a ``context`` or ``input`` passage, when the row has one, is
joined after it, blank line between, so that an answer drawn from it is never trained without
it) and ``response`` the trained assistant message; ``id`` is the ``id`` column; every other
field is kept in ``metadata``.
"""

from __future__ import annotations

from collections.abc import Callable

from brightingest.mapping import Mapping, Message
from brightingest.plugins import FormatSpec, fields_score, hookimpl

__all__ = ["SPEC", "brightingest_register_formats"]

SPEC = FormatSpec(
    name="openorca",
    version="1",
    description="OpenOrca: {system_prompt?, question, response}",
    detect=fields_score(
        required=("question", "response"), optional=("system_prompt", "context", "input", "id")
    ),
    mapping=Mapping(
        signature=("question", "response"),
        parts=(
            Message("system", "system_prompt", optional=True),
            Message("user", ("question", "context", "input")),
            Message("assistant", "response"),
        ),
        id="id",
        metadata="rest",
    ),
)


@hookimpl
def brightingest_register_formats(register: Callable[[FormatSpec], None]) -> None:
    """Register the ``openorca`` format."""
    register(SPEC)
