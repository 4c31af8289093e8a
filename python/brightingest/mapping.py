"""Declarative format mappings: what a format plugin declares and the Rust core executes.

A mapping says which fields of a row make which messages, how roles are named, which list
fields expand into several messages, which parts are optional, and what is kept as metadata.
The Rust core (``rust_core/src/mapping.rs``) runs it for every row, in parallel, without calling
Python; the mapping crosses the boundary once, as JSON (:meth:`Mapping.to_json`).

Example (the BrightRun v4 built-in)::

    Mapping(
        signature=("current_user_input", "target_response"),
        parts=(
            Message("system", "system_prompt", optional=True),
            ListOfTurns("conversation_history", assistant_weight=0, optional=True),
            Message("user", "current_user_input"),
            Message("assistant", "target_response"),
        ),
        id="id",
        meta_key="_meta",
    )

Semantics, row by row:

* A row that is a JSON object with exactly one key, equal to ``meta_key``, is a *metadata line*
  (counted as ``metadata_line``, its value kept in the report), never a row.
* A row is *of this format* when every key of ``signature`` is present. With several candidate
  formats (auto-detection), each row takes the first candidate whose signature it has; a row
  that has none is skipped as ``unsupported_format``.
* ``parts`` run in order and their messages are concatenated.
* Every top-level key that no part, ``id`` or ``tools`` reads is kept in ``metadata`` (a JSON
  object text, values verbatim) when ``metadata == "rest"``; a tuple keeps only those keys;
  ``None`` keeps nothing.
* Role names go through ``roles`` (alias -> canonical) first, then must be one of
  ``system, developer, user, assistant, tool``.
* A row whose ``desirable`` field is false is skipped as ``no_trainable_assistant``; one where
  it is neither true nor false, as ``wrong_type``.
* Validation after mapping, each a report category: ``empty_conversation``, ``unknown_role``,
  ``empty_content`` (empty or whitespace content without tool calls), ``system_not_first``,
  ``invalid_weight`` (not 0 or 1), ``no_trainable_assistant`` (no assistant message with
  weight other than 0); reading: ``missing_field``, ``wrong_type``.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping as _MappingABC
from dataclasses import dataclass
from typing import Any, Literal

__all__ = ["ListOfTurns", "Mapping", "Message", "Pairs", "Part"]


def _roles(roles: _MappingABC[str, str] | None) -> dict[str, str]:
    return {str(k): str(v) for k, v in (roles or {}).items()}


def _keys(keys: str | tuple[str, ...]) -> str | list[str]:
    if isinstance(keys, str):
        return keys
    listed = [str(k) for k in keys]
    if not listed:
        raise ValueError("an item key needs at least one name")
    return listed


@dataclass(frozen=True)
class Message:
    """One message with a fixed role, from one or more string fields of the row.

    Args:
        role: The role of the message (canonical name or an alias in the mapping's ``roles``).
        fields: A field name, or several whose non-empty values are joined with ``separator``
            (Alpaca's ``instruction`` + ``input``). The first field is the required one.
        optional: A missing, null or empty first field yields no message instead of an error.
        weight: The message's ``weight`` (0 or 1); ``None`` leaves it null (trained if assistant).
        separator: Joins the values of several fields.
        overridable: The message is dropped when another part gives one of the same role (a
            top-level ``system`` beside a system turn in the conversation: the turn wins, as in
            LLaMA-Factory).
    """

    role: str
    fields: str | tuple[str, ...]
    optional: bool = False
    weight: int | None = None
    separator: str = "\n\n"
    overridable: bool = False

    def to_dict(self) -> dict[str, Any]:
        fields = (self.fields,) if isinstance(self.fields, str) else tuple(self.fields)
        return {
            "kind": "message",
            "role": self.role,
            "fields": list(fields),
            "optional": self.optional,
            "weight": self.weight,
            "separator": self.separator,
            "overridable": self.overridable,
        }

    def reads(self) -> tuple[str, ...]:
        return (self.fields,) if isinstance(self.fields, str) else tuple(self.fields)


@dataclass(frozen=True)
class ListOfTurns:
    """A list field whose items are message objects (``{"role": ..., "content": ...}``).

    ``content`` may be a string or a list of text parts (``[{"type": "text", "text": ...}]``).
    An item's keys that none of the arguments below name (``reasoning_content``, ``thinking``,
    a timestamp ...) are kept in the message's ``extra`` as a JSON object text, never dropped.

    Args:
        field: The row's list field.
        role: Key of the role in each item, or several alternative keys, the first present
            being used (ShareGPT: ``("from", "role")``, since exports have both spellings).
        content: Key of the content in each item, or alternatives (ShareGPT:
            ``("value", "content")``).
        roles: Role aliases for this list (alias -> canonical), on top of the mapping's.
        name: Key of the optional author name, or ``None``.
        tool_calls: Key of the optional tool calls (kept as JSON text), or ``None``.
        tool_call_id: Key of the optional tool call id, or ``None``.
        weight: Key of the optional per-message weight (0 or 1; a boolean counts as 1 or 0),
            alternative keys, or ``None`` (OpenAI: ``("weight", "training")``, axolotl's flag).
        assistant_weight: Weight given to assistant turns that carry no weight of their own
            (BrightRun history: 0, so that only the target response is trained).
        optional: A missing or null field yields no messages instead of ``missing_field``.
        string_role: If set, a plain string in ``field`` is one message with this role
            (TRL preference data: ``"chosen": "text"`` or ``"chosen": [{...}]``).
    """

    field: str
    role: str | tuple[str, ...] = "role"
    content: str | tuple[str, ...] = "content"
    roles: _MappingABC[str, str] = dataclasses.field(default_factory=dict)
    name: str | None = "name"
    tool_calls: str | None = "tool_calls"
    tool_call_id: str | None = "tool_call_id"
    weight: str | tuple[str, ...] | None = "weight"
    assistant_weight: int | None = None
    optional: bool = False
    string_role: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": "list",
            "field": self.field,
            "role_key": _keys(self.role),
            "content_key": _keys(self.content),
            "roles": _roles(self.roles),
            "name_key": self.name,
            "tool_calls_key": self.tool_calls,
            "tool_call_id_key": self.tool_call_id,
            "weight_key": None if self.weight is None else _keys(self.weight),
            "assistant_weight": self.assistant_weight,
            "optional": self.optional,
            "string_role": self.string_role,
        }

    def reads(self) -> tuple[str, ...]:
        return (self.field,)


@dataclass(frozen=True)
class Pairs:
    """A list of ``[user, assistant]`` string pairs (Alpaca's ``history``) -> two messages each.

    Args:
        field: The row's list field.
        optional: A missing or null field yields no messages.
        assistant_weight: Weight of the assistant half of each pair (``None``: trained).
    """

    field: str
    optional: bool = True
    assistant_weight: int | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": "pairs",
            "field": self.field,
            "optional": self.optional,
            "assistant_weight": self.assistant_weight,
        }

    def reads(self) -> tuple[str, ...]:
        return (self.field,)


Part = Message | ListOfTurns | Pairs


@dataclass(frozen=True)
class Mapping:
    """A format's declarative mapping into the normalized chat table.

    Args:
        signature: Top-level keys that every row of this format has (and that identify it).
        parts: Message sources, in conversation order.
        id: Field that becomes the ``id`` column (string or number), or ``None``.
        tools: Field that becomes the ``tools`` column (kept as JSON text), or ``None``.
        metadata: ``"rest"`` (every unread key), a tuple of keys, or ``None``.
        meta_key: Key of a file-metadata line (``{"_meta": {...}}``), or ``None``.
        roles: Role aliases (alias -> canonical) for every part.
        desirable: A top-level field that marks a row's completion as a good or a bad example
            (unpaired preference data: TRL/KTO's ``label``). A row where it is false has
            nothing to train on: it is skipped as ``no_trainable_assistant``, naming the field.
            ``true``/``false``, their strings in any case and ``1``/``0`` count (what a CSV
            round trip makes of a boolean); any other value, null included, is ``wrong_type``
            (guessing would train on answers labelled bad). A row without the field is read as
            usual; the field stays in ``metadata``.
        desirable_if_boolean: More such fields, read only when they hold a boolean (or
            ``"true"``/``"false"`` in any case); any other value, numbers included, is left
            alone, for formats whose rows may use the name for something else (``label`` as a
            class in chat rows).
        media: Top-level fields holding the row's media files (LLaMA-Factory's ``images``,
            ``videos``, ``audios``). A row where one is not empty is refused as ``wrong_type``:
            only text is trained, and its text alone (``<image>`` placeholders included) would
            be. An empty one stays in ``metadata``.
    """

    signature: tuple[str, ...]
    parts: tuple[Part, ...]
    id: str | None = None
    tools: str | None = None
    metadata: Literal["rest"] | tuple[str, ...] | None = "rest"
    meta_key: str | None = None
    roles: _MappingABC[str, str] = dataclasses.field(default_factory=dict)
    desirable: str | None = None
    desirable_if_boolean: tuple[str, ...] = ()
    media: tuple[str, ...] = ()

    def reads(self) -> tuple[str, ...]:
        """Top-level keys this mapping reads (signature, parts, id, tools)."""
        keys: list[str] = list(self.signature)
        for part in self.parts:
            keys.extend(part.reads())
        keys.extend(k for k in (self.id, self.tools) if k)
        return tuple(dict.fromkeys(keys))

    def to_dict(self, name: str) -> dict[str, Any]:
        """The JSON-ready form the Rust core deserializes (``rust_core/src/mapping.rs``)."""
        metadata: Any = self.metadata
        if isinstance(metadata, tuple):
            metadata = {"keys": list(metadata)}
        return {
            "name": name,
            "signature": list(self.signature),
            "parts": [p.to_dict() for p in self.parts],
            "id_field": self.id,
            "tools_field": self.tools,
            "metadata": metadata if metadata is not None else "none",
            "meta_key": self.meta_key,
            "roles": _roles(self.roles),
            "desirable": self.desirable,
            "desirable_if_boolean": list(self.desirable_if_boolean),
            "media": list(self.media),
        }

    def to_json(self, name: str) -> str:
        return json.dumps(self.to_dict(name))
