"""Built-in format ``sharegpt``: ``{"conversations": [{"from", "value"}], "system"?: ...}``.

A system turn in ``conversations`` overrides a top-level ``system`` (as in LLaMA-Factory). A
row of LLaMA-Factory's KTO data with ``"kto_tag": false`` is skipped as
``no_trainable_assistant`` (its answer is an example of what not to say), never trained on.

Items may also use ``role``/``content`` keys (Unsloth's ``standardize_sharegpt`` output and
LLaMA-Factory's ``tags`` option write them); each item uses whichever of ``from``/``role`` and
``value``/``content`` it has.

Speaker names go through :data:`~brightingest.formats._common.SHAREGPT_ROLES`
(``human``/``user``, ``gpt``/``assistant``/``chatgpt``/``bing``, ``observation``/``tool``,
``function_call``...). A top-level ``system`` becomes the first message, ``id`` the ``id`` column;
other fields are kept in ``metadata``.

ShareGPT's tool calling (LLaMA-Factory style: a ``function_call`` turn whose value is
``{"name": ..., "arguments": ...}``, then an ``observation`` turn with the result) has no call
ids, which OpenAI's format requires. A declaration cannot invent them, so this format also has a
``transform`` (the vectorized hook): it finds, with Arrow compute over the whole batch, the rows
having a tool message without ``tool_call_id``, and only in those rows turns the preceding
assistant call into ``tool_calls`` with ids ``call_0``, ``call_1``... and links the tool
messages to them. Parallel calls answered by one observation whose value is a JSON list of one
result per call become one tool message per call. Batches without such rows pass through
untouched.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from brightingest.formats._common import LLAMA_FACTORY_MEDIA, SHAREGPT_ROLES
from brightingest.mapping import ListOfTurns, Mapping, Message
from brightingest.plugins import FormatSpec, fields_score, hookimpl

if TYPE_CHECKING:
    import pyarrow as pa

__all__ = ["SPEC", "brightingest_register_formats", "link_tool_calls"]


def _as_calls(content: str, first: int) -> list[dict[str, Any]] | None:
    """A ``function_call`` turn's calls in OpenAI's form, with ids ``call_<first>`` on: one
    ``{"name", "arguments"}`` object, or a list of them (LLaMA-Factory's parallel calls)."""
    try:
        value = json.loads(content)
    except ValueError:
        return None
    items = value if isinstance(value, list) else [value]
    calls: list[dict[str, Any]] = []
    for item in items:
        # A call is a name and its arguments, nothing else: other JSON (an answer that happens
        # to have a "name") is not turned into a call, and no key is dropped on the way.
        if not isinstance(item, dict) or not isinstance(item.get("name"), str):
            return None
        if not set(item) <= {"name", "arguments"}:
            return None
        arguments = item.get("arguments", {})
        if not isinstance(arguments, str):
            arguments = json.dumps(arguments, ensure_ascii=False)
        function = {"name": item["name"], "arguments": arguments}
        calls.append({"id": f"call_{first + len(calls)}", "type": "function", "function": function})
    return calls or None


def _split_results(message: dict[str, Any], count: int) -> list[dict[str, Any]] | None:
    """One observation holding the results of ``count`` parallel calls as a JSON list (the only
    way LLaMA-Factory's strictly alternating turns can hold them) as one tool message each."""
    try:
        value = json.loads(message["content"])
    except ValueError:
        return None
    if count < 2 or not isinstance(value, list) or len(value) != count:
        return None
    parts = [v if isinstance(v, str) else json.dumps(v, ensure_ascii=False) for v in value]
    return [{**message, "content": part} for part in parts]


def _link_row(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    calls = 0
    pending: list[str] = []
    out: list[dict[str, Any]] = []
    for i, message in enumerate(messages):
        role = message["role"]
        following_tool = i + 1 < len(messages) and messages[i + 1]["role"] == "tool"
        if role == "assistant" and following_tool and message["tool_calls"] is None:
            made = _as_calls(message["content"], calls)
            if made is not None:
                calls += len(made)
                message["tool_calls"] = json.dumps(made, ensure_ascii=False)
                message["content"] = ""
                pending.extend(call["id"] for call in made)
        elif role == "tool" and message["tool_call_id"] is None and pending:
            last_result = not following_tool
            split = _split_results(message, len(pending)) if last_result else None
            for result in split or [message]:
                result["tool_call_id"] = pending.pop(0)
                out.append(result)
            continue
        elif role != "tool":
            pending.clear()
        out.append(message)
    return out


def link_tool_calls(batch: pa.RecordBatch) -> pa.RecordBatch:
    """Give ShareGPT tool calls OpenAI-style ids (the format's vectorized ``transform``).

    Args:
        batch: Rows this format mapped, in the normalized chat schema.

    Returns:
        The same rows; in rows with a tool message lacking ``tool_call_id``, an assistant
        message right before it whose content is a ``{"name", "arguments"}`` JSON object (or a
        list of them: parallel calls) becomes tool calls, and the tool messages that follow
        answer them in order. A tool message with no call to answer stays unlinked: the OpenAI
        writer leaves such rows out, and says so.
    """
    import pyarrow as pa
    import pyarrow.compute as pc

    column = batch.column("messages")
    flat = pc.list_flatten(column)
    unlinked = pc.and_(pc.equal(flat.field("role"), "tool"), pc.is_null(flat.field("tool_call_id")))
    if not pc.any(unlinked).as_py():
        return batch
    parents = pc.filter(pc.list_parent_indices(column), unlinked)
    rows = set(parents.to_pylist())
    values = column.to_pylist()
    for row in rows:
        values[row] = _link_row(values[row])
    arrays = list(batch.columns)
    arrays[batch.schema.get_field_index("messages")] = pa.array(values, type=column.type)
    return pa.RecordBatch.from_arrays(arrays, schema=batch.schema)


SPEC = FormatSpec(
    name="sharegpt",
    version="2",
    description="ShareGPT: {conversations: [{from, value} or {role, content}], system?}",
    detect=fields_score(
        required=("conversations",),
        optional=("system", "tools", "id"),
        items={"conversations": (("from", "role"), ("value", "content"))},
    ),
    mapping=Mapping(
        signature=("conversations",),
        parts=(
            Message("system", "system", optional=True, overridable=True),
            ListOfTurns(
                "conversations",
                role=("from", "role"),
                content=("value", "content"),
                roles=SHAREGPT_ROLES,
                name=None,
                tool_calls=None,
                tool_call_id=None,
                weight=("weight", "training", "train"),
            ),
        ),
        tools="tools",
        id="id",
        metadata="rest",
        media=LLAMA_FACTORY_MEDIA,
        desirable="kto_tag",
        desirable_if_boolean=("label",),
    ),
    transform=link_tool_calls,
)


@hookimpl
def brightingest_register_formats(register: Callable[[FormatSpec], None]) -> None:
    """Register the ``sharegpt`` format."""
    register(SPEC)
