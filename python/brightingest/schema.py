"""The normalized chat schema: one table layout for every input format.

- ``messages``: list<struct<role, content, weight, name, tool_calls, tool_call_id, extra>>;
  the conversation. ``weight`` (0/1, nullable) says whether an assistant turn is trained on.
  ``extra`` (nullable) holds the message's keys that its format does not map (for example
  ``reasoning_content`` or ``thinking``), as a JSON object text, so that none is lost;
  chat templates see them as keys of the message.
- ``tools``: string, nullable; tool definitions, as JSON text.
- ``id``: string, nullable; the row's own id where the format has one.
- ``metadata``: string, nullable; unmapped fields as a JSON object text.
- ``source_file``: dictionary<int32, string>; the file the row came from.
- ``source_line``: uint64; 1-based line in that file.
- ``format``: dictionary<int32, string>; the format plugin that mapped the row.

``tool_calls`` is kept as JSON text (the OpenAI ``tool_calls`` array verbatim), so the schema never
drifts with the shape of tool arguments. The Rust core builds exactly this schema
(``rust_core/src/table.rs``); ``tests/core/test_schema.py`` checks that the two agree.
"""

from __future__ import annotations

import pyarrow as pa

__all__ = ["CHAT_SCHEMA", "MESSAGE_TYPE", "RAW_SCHEMA", "ROLES"]

#: Canonical roles after mapping. ``developer`` is OpenAI's newer name for ``system``.
ROLES: tuple[str, ...] = ("system", "developer", "user", "assistant", "tool")

MESSAGE_TYPE = pa.struct(
    [
        pa.field("role", pa.string(), nullable=False),
        pa.field("content", pa.string(), nullable=False),
        pa.field("weight", pa.int8()),
        pa.field("name", pa.string()),
        pa.field("tool_calls", pa.string()),
        pa.field("tool_call_id", pa.string()),
        pa.field("extra", pa.string()),
    ]
)

CHAT_SCHEMA = pa.schema(
    [
        pa.field(
            "messages",
            pa.list_(pa.field("item", MESSAGE_TYPE, nullable=False)),
            nullable=False,
        ),
        pa.field("tools", pa.string()),
        pa.field("id", pa.string()),
        pa.field("metadata", pa.string()),
        pa.field("source_file", pa.dictionary(pa.int32(), pa.string()), nullable=False),
        pa.field("source_line", pa.uint64(), nullable=False),
        pa.field("format", pa.dictionary(pa.int32(), pa.string()), nullable=False),
    ]
)

#: The schema of a format-less read: each valid JSON line as its own text with the whitespace
#: between tokens removed (strings, escapes and numbers kept as written, never re-encoded).
RAW_SCHEMA = pa.schema(
    [
        pa.field("value", pa.string(), nullable=False),
        pa.field("source_file", pa.dictionary(pa.int32(), pa.string()), nullable=False),
        pa.field("source_line", pa.uint64(), nullable=False),
    ]
)
