"""Built-in format ``alpaca``: ``instruction``, ``input``?, ``output``, ``system``?, ``history``?.

``input`` is joined to ``instruction`` (blank line between) as the user message; ``history``
(``[[user, assistant], ...]`` earlier turns) comes before it; ``system`` first; ``id`` is the
``id`` column. Other fields are kept in ``metadata``. A row of LLaMA-Factory's KTO data with
``"kto_tag": false`` is skipped as ``no_trainable_assistant`` (its output is an example of what
not to say), never trained on.
"""

from __future__ import annotations

from collections.abc import Callable

from brightingest.formats._common import LLAMA_FACTORY_MEDIA
from brightingest.mapping import Mapping, Message, Pairs
from brightingest.plugins import FormatSpec, fields_score, hookimpl

__all__ = ["SPEC", "brightingest_register_formats"]

SPEC = FormatSpec(
    name="alpaca",
    version="2",
    description="Alpaca: {instruction, input?, output, system?, history?}",
    detect=fields_score(
        required=("instruction", "output"), optional=("input", "system", "history", "id")
    ),
    mapping=Mapping(
        signature=("instruction", "output"),
        parts=(
            Message("system", "system", optional=True),
            Pairs("history", optional=True),
            Message("user", ("instruction", "input")),
            Message("assistant", "output"),
        ),
        id="id",
        metadata="rest",
        media=LLAMA_FACTORY_MEDIA,
        desirable="kto_tag",
        desirable_if_boolean=("label",),
    ),
)


@hookimpl
def brightingest_register_formats(register: Callable[[FormatSpec], None]) -> None:
    """Register the ``alpaca`` format."""
    register(SPEC)
