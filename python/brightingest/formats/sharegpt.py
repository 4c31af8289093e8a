"""Built-in format ``sharegpt``: ``{"conversations": [{"from", "value"}], "system"?: ...}``.

Speaker names go through :data:`~brightingest.formats._common.SHAREGPT_ROLES`
(``human``/``user``, ``gpt``/``assistant``/``chatgpt``/``bing``, ``observation``/``tool``,
``function_call``...). A top-level ``system`` becomes the first message; other fields are kept
in ``metadata``.
"""

from __future__ import annotations

from collections.abc import Callable

from brightingest.formats._common import SHAREGPT_ROLES
from brightingest.mapping import ListOfTurns, Mapping, Message
from brightingest.plugins import FormatSpec, fields_score, hookimpl

__all__ = ["SPEC", "brightingest_register_formats"]

SPEC = FormatSpec(
    name="sharegpt",
    version="1",
    description="ShareGPT: {conversations: [{from, value}], system?}",
    detect=fields_score(
        required=("conversations",),
        optional=("system", "tools", "id"),
        items={"conversations": ("from", "value")},
    ),
    mapping=Mapping(
        signature=("conversations",),
        parts=(
            Message("system", "system", optional=True),
            ListOfTurns(
                "conversations",
                role="from",
                content="value",
                roles=SHAREGPT_ROLES,
                name=None,
                tool_calls=None,
                tool_call_id=None,
                weight="weight",
            ),
        ),
        tools="tools",
        metadata="rest",
    ),
)


@hookimpl
def brightingest_register_formats(register: Callable[[FormatSpec], None]) -> None:
    """Register the ``sharegpt`` format."""
    register(SPEC)
