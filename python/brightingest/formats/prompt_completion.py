"""Built-in format ``prompt-completion``: ``{"prompt": ..., "completion": ...}``.

The prompt becomes a user message and the completion the (trained) assistant message; ``id``
is the ``id`` column; other fields are kept in ``metadata``.
"""

from __future__ import annotations

from collections.abc import Callable

from brightingest.mapping import Mapping, Message
from brightingest.plugins import FormatSpec, fields_score, hookimpl

__all__ = ["SPEC", "brightingest_register_formats"]

SPEC = FormatSpec(
    name="prompt-completion",
    version="1",
    description="prompt/completion pairs: {prompt, completion}",
    detect=fields_score(required=("prompt", "completion"), optional=("id",)),
    mapping=Mapping(
        signature=("prompt", "completion"),
        parts=(Message("user", "prompt"), Message("assistant", "completion")),
        id="id",
        metadata="rest",
    ),
)


@hookimpl
def brightingest_register_formats(register: Callable[[FormatSpec], None]) -> None:
    """Register the ``prompt-completion`` format."""
    register(SPEC)
