"""Built-in format ``dolly``: ``{"instruction", "context"?, "response"}``.

The instruction-response shape of Databricks' ``databricks-dolly-15k`` and of the many datasets
built like it (Magpie's ``instruction``/``response`` rows, for one). ``context`` (a reference
passage, empty for most rows) is joined to the instruction (blank line between) as the user
message, so that an answer drawn from the passage is never trained without it (an Alpaca-style
``input`` beside it is joined too, after it); ``response`` is
the trained assistant message; ``system`` (optional) comes first; ``id`` is the ``id`` column;
``category`` and every other field are kept in ``metadata``.
"""

from __future__ import annotations

from collections.abc import Callable

from brightingest.mapping import Mapping, Message
from brightingest.plugins import FormatSpec, fields_score, hookimpl

__all__ = ["SPEC", "brightingest_register_formats"]

SPEC = FormatSpec(
    name="dolly",
    version="1",
    description="Dolly / instruction-response: {instruction, context?, response}",
    detect=fields_score(
        required=("instruction", "response"),
        optional=("context", "input", "category", "system", "id"),
    ),
    mapping=Mapping(
        signature=("instruction", "response"),
        parts=(
            Message("system", "system", optional=True),
            Message("user", ("instruction", "context", "input")),
            Message("assistant", "response"),
        ),
        id="id",
        metadata="rest",
    ),
)


@hookimpl
def brightingest_register_formats(register: Callable[[FormatSpec], None]) -> None:
    """Register the ``dolly`` format."""
    register(SPEC)
