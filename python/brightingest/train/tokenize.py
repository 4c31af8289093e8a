"""Chat-template tokenization with assistant-only label masks, batch by batch on Arrow.

Stock chat templates (Qwen2.5, Llama 3, Mistral ...) have no ``{% generation %}`` markers, so
the trained spans are found by rendering prefixes of each conversation:

* ``P = render(messages[:i], add_generation_prompt=True)`` ends with the assistant header;
* ``Q = render(messages[:i + 1])`` adds message ``i`` with its end-of-turn marker;
* when ``Q`` starts with ``P`` and the full rendering starts with ``Q`` (the template is
  *prefix-stable* for this conversation), ``Q[len(P):]`` with trailing whitespace removed is the
  message's trained text: its content (or tool calls) and its end-of-turn token.

A template that is not prefix-stable for a conversation (e.g. one that rewrites earlier turns)
falls back to finding the message content in the full rendering after the previous span and
extending it by the end-of-turn text probed from the template once. A row where neither works is
dropped as ``template_mismatch``. Tokens are then marked by their character offsets: a token is
trained when it starts inside a trained span. Assistant messages with ``weight == 0`` are left
out, as are all other roles.

Rendering is per conversation (Jinja is Python); tokenization is one batched call of the fast
tokenizer per Arrow batch, and the results go straight into Arrow arrays through numpy.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pyarrow as pa

from brightingest.errors import TrainerError

__all__ = ["TOKENIZED_SCHEMA", "ChatTokenizer", "TokenizeReport", "group_hash"]

#: The columns of a tokenized table (one row per kept conversation).
TOKENIZED_SCHEMA = pa.schema(
    [
        pa.field("input_ids", pa.list_(pa.int32()), nullable=False),
        pa.field("label_mask", pa.list_(pa.int8()), nullable=False),
        pa.field("length", pa.int32(), nullable=False),
        pa.field("trainable", pa.int32(), nullable=False),
        pa.field("group", pa.uint64(), nullable=False),
        pa.field("row", pa.int64(), nullable=False),
    ]
)

_EXAMPLES_PER_CATEGORY = 5
_PROBE = "\u2063brightingest-probe\u2063"


@dataclass
class TokenizeReport:
    """What tokenization kept, dropped and cut, with the first examples of each category.

    Attributes:
        rows_in: Rows read from the chat table.
        rows_kept: Rows that became training examples.
        dropped: Rows dropped by category (``no_trainable_assistant``, ``too_long``,
            ``template_mismatch``).
        truncated: Rows cut to ``max_length`` (``truncation="truncate"``).
        tokens: Tokens in the kept rows.
        trainable_tokens: Of those, the tokens trained on.
        examples: Up to five ``source_file:line: message`` texts per category.
    """

    rows_in: int = 0
    rows_kept: int = 0
    dropped: dict[str, int] = field(default_factory=dict)
    truncated: int = 0
    tokens: int = 0
    trainable_tokens: int = 0
    examples: dict[str, list[str]] = field(default_factory=dict)

    @property
    def trainable_share(self) -> float:
        """Trained tokens over all tokens of the kept rows (0 when there are none)."""
        return self.trainable_tokens / self.tokens if self.tokens else 0.0

    def count(self, category: str, where: str, message: str, *, dropped: bool = True) -> None:
        """Count one row under ``category``; keep the first few examples."""
        if dropped:
            self.dropped[category] = self.dropped.get(category, 0) + 1
        shown = self.examples.setdefault(category, [])
        if len(shown) < _EXAMPLES_PER_CATEGORY:
            shown.append(f"{where}: {message}")

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (``trainable_share`` included)."""
        return {
            "rows_in": self.rows_in,
            "rows_kept": self.rows_kept,
            "dropped": dict(self.dropped),
            "truncated": self.truncated,
            "tokens": self.tokens,
            "trainable_tokens": self.trainable_tokens,
            "trainable_share": round(self.trainable_share, 6),
            "examples": {k: list(v) for k, v in self.examples.items()},
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TokenizeReport:
        """Rebuild a report written by :meth:`to_dict` (e.g. from the cache)."""
        return cls(
            rows_in=int(data["rows_in"]),
            rows_kept=int(data["rows_kept"]),
            dropped={str(k): int(v) for k, v in data["dropped"].items()},
            truncated=int(data["truncated"]),
            tokens=int(data["tokens"]),
            trainable_tokens=int(data["trainable_tokens"]),
            examples={str(k): list(v) for k, v in data["examples"].items()},
        )


def group_hash(key: str) -> int:
    """A stable 64-bit hash of a conversation group key (the eval split is drawn on these)."""
    return int.from_bytes(hashlib.blake2b(key.encode("utf-8"), digest_size=8).digest(), "little")


class ChatTokenizer:
    """Tokenizes normalized chat batches with a fast tokenizer and its chat template.

    Args:
        tokenizer: A ``transformers`` fast tokenizer with a ``chat_template``.
        max_length: Longest sequence kept.
        truncation: ``"truncate"`` cuts longer rows, ``"drop"`` drops them.

    Raises:
        TrainerError: ``bad_tokenizer`` when the tokenizer is not a fast one (offsets are needed)
            or has no chat template.
    """

    def __init__(self, tokenizer: Any, *, max_length: int, truncation: str) -> None:
        if not getattr(tokenizer, "is_fast", False):
            raise TrainerError(
                f"the tokenizer {type(tokenizer).__name__} is not a fast tokenizer, and assistant "
                "masks need its character offsets.",
                code="bad_tokenizer",
                hint="use a model that ships tokenizer.json (a Rust `tokenizers` tokenizer).",
            )
        if not getattr(tokenizer, "chat_template", None):
            raise TrainerError(
                "the tokenizer has no chat template.",
                code="bad_tokenizer",
                hint="use an instruct/chat model, or set tokenizer.chat_template before training.",
            )
        self.tokenizer = tokenizer
        self.max_length = int(max_length)
        self.truncation = truncation
        self._eot = self._probe_end_of_turn()

    # ------------------------------------------------------------------ identity

    @property
    def chat_template(self) -> str:
        """The chat template text used for rendering."""
        tpl = self.tokenizer.chat_template
        return tpl if isinstance(tpl, str) else json.dumps(tpl, sort_keys=True)

    def fingerprint(self) -> str:
        """A hash of everything that decides the token ids: vocabulary, merges, normalizer,
        special tokens and the chat template."""
        h = hashlib.blake2b(digest_size=16)
        h.update(self.tokenizer.backend_tokenizer.to_str().encode("utf-8"))
        h.update(json.dumps(self.tokenizer.special_tokens_map, sort_keys=True).encode("utf-8"))
        h.update(self.chat_template.encode("utf-8"))
        return h.hexdigest()

    # ------------------------------------------------------------------ rendering

    def _render(
        self, messages: list[dict[str, Any]], tools: list[Any] | None, generation: bool
    ) -> str:
        out = self.tokenizer.apply_chat_template(
            messages, tools=tools, tokenize=False, add_generation_prompt=generation
        )
        if not isinstance(out, str):
            raise TypeError(f"chat template rendered {type(out).__name__}, expected str")
        return out

    def _probe_end_of_turn(self) -> str:
        """The text a template puts after an assistant message (e.g. ``<|im_end|>``)."""
        msgs = [{"role": "user", "content": "hi"}, {"role": "assistant", "content": _PROBE}]
        try:
            text = self._render(msgs, None, False)
        except Exception:  # noqa: BLE001 - the probe only improves the fallback path
            return ""
        at = text.rfind(_PROBE)
        return text[at + len(_PROBE) :].strip() if at >= 0 else ""

    def spans(
        self, messages: list[dict[str, Any]], trained: list[bool], tools: list[Any] | None
    ) -> tuple[str, list[tuple[int, int]]]:
        """Render one conversation and find the character spans trained on.

        Args:
            messages: Template-ready message dicts.
            trained: Per message, whether it is a trained assistant message.
            tools: Tool definitions for the template, if any.

        Returns:
            The full rendering and the ``[start, end)`` spans of trained text in it.

        Raises:
            ValueError: The template is not prefix-stable and the content cannot be located.
        """
        full = self._render(messages, tools, False)
        spans: list[tuple[int, int]] = []
        cursor = 0
        for i, is_trained in enumerate(trained):
            if not is_trained:
                continue
            span: tuple[int, int] | None = None
            prefix: str | None
            upto: str | None
            try:
                prefix = self._render(messages[:i], tools, True) if i else ""
                upto = self._render(messages[: i + 1], tools, False)
            except Exception:  # noqa: BLE001 - a template may refuse prefixes; use the fallback
                prefix = upto = None
            if (
                prefix is not None
                and upto is not None
                and upto.startswith(prefix)
                and full.startswith(upto)
                and len(prefix) >= cursor
            ):
                end = len(prefix) + len(upto[len(prefix) :].rstrip())
                if end > len(prefix):
                    span = (len(prefix), end)
            if span is None:
                span = self._search(full, messages[i], cursor)
            spans.append(span)
            cursor = span[1]
        return full, spans

    def _search(self, full: str, message: dict[str, Any], cursor: int) -> tuple[int, int]:
        content = str(message.get("content") or "").strip()
        if not content:
            raise ValueError("the assistant message has no text to locate in the rendering")
        at = full.find(content, cursor)
        if at < 0:
            raise ValueError("the assistant message does not appear verbatim in the rendering")
        end = at + len(content)
        rest = full[end:]
        stripped = rest.lstrip(" \t")
        if self._eot and stripped.startswith(self._eot):
            end += len(rest) - len(stripped) + len(self._eot)
        return at, end

    # ------------------------------------------------------------------ batches

    def tokenize_batch(
        self, batch: pa.RecordBatch, row_offset: int, report: TokenizeReport
    ) -> pa.RecordBatch:
        """Tokenize one chat batch into a :data:`TOKENIZED_SCHEMA` batch.

        Args:
            batch: Rows with the normalized chat schema.
            row_offset: Index of the batch's first row in the whole input.
            report: Updated with what was kept, dropped and truncated.

        Returns:
            The kept rows, tokenized.
        """
        n = batch.num_rows
        report.rows_in += n
        names = batch.schema.names
        messages_col = batch.column(names.index("messages")).to_pylist()
        tools_col = _optional_column(batch, "tools", n)
        id_col = _optional_column(batch, "id", n)
        meta_col = _optional_column(batch, "metadata", n)
        file_col = _optional_column(batch, "source_file", n)
        line_col = _optional_column(batch, "source_line", n)

        texts: list[str] = []
        kept: list[tuple[int, list[tuple[int, int]], int, str]] = []
        for r in range(n):
            row = row_offset + r
            where = _where(file_col[r], line_col[r], row)
            msgs, trained = _template_messages(messages_col[r])
            if not any(trained):
                report.count(
                    "no_trainable_assistant",
                    where,
                    "no assistant message is trained on (all have weight 0, or none exists).",
                )
                continue
            try:
                tools = json.loads(tools_col[r]) if tools_col[r] else None
                text, spans = self.spans(msgs, trained, tools)
            except Exception as exc:  # noqa: BLE001 - any template failure drops the row
                report.count(
                    "template_mismatch",
                    where,
                    f"the chat template cannot place the assistant turns ({_short(exc)}).",
                )
                continue
            key = _group_key(meta_col[r], id_col[r], row)
            texts.append(text)
            kept.append((row, spans, group_hash(key), where))

        if not texts:
            return _empty_batch()
        enc = self.tokenizer(
            texts,
            add_special_tokens=False,
            return_offsets_mapping=True,
            return_attention_mask=False,
            return_token_type_ids=False,
        )
        ids_out: list[np.ndarray] = []
        mask_out: list[np.ndarray] = []
        rows: list[int] = []
        groups: list[int] = []
        for (row, spans, ghash, where), ids, offsets in zip(
            kept, enc["input_ids"], enc["offset_mapping"], strict=True
        ):
            ids_arr = np.asarray(ids, dtype=np.int32)
            starts = np.asarray(offsets, dtype=np.int64).reshape(-1, 2)[:, 0]
            mask = np.zeros(len(ids_arr), dtype=np.int8)
            for a, b in spans:
                mask[(starts >= a) & (starts < b)] = 1
            if len(mask):
                mask[0] = 0  # the first token has no predecessor to be predicted from
            if not mask.any():
                report.count(
                    "no_trainable_assistant",
                    where,
                    "the assistant turns produced no tokens to train on.",
                )
                continue
            if len(ids_arr) > self.max_length:
                if self.truncation == "drop":
                    report.count(
                        "too_long",
                        where,
                        f"{len(ids_arr)} tokens, longer than max_length {self.max_length}.",
                    )
                    continue
                ids_arr = ids_arr[: self.max_length]
                mask = mask[: self.max_length]
                report.truncated += 1
                report.count(
                    "truncated",
                    where,
                    f"cut from {len(ids)} to max_length {self.max_length} tokens.",
                    dropped=False,
                )
                if not mask.any():
                    report.count(
                        "no_trainable_assistant",
                        where,
                        f"no trained token is left after truncation to {self.max_length} tokens.",
                    )
                    continue
            ids_out.append(ids_arr)
            mask_out.append(mask)
            rows.append(row)
            groups.append(ghash)
        if not ids_out:
            return _empty_batch()
        lengths = np.fromiter((len(a) for a in ids_out), dtype=np.int32, count=len(ids_out))
        trainable = np.fromiter(
            (int(m.sum()) for m in mask_out), dtype=np.int32, count=len(mask_out)
        )
        offsets_arr = np.zeros(len(ids_out) + 1, dtype=np.int32)
        np.cumsum(lengths, out=offsets_arr[1:])
        report.rows_kept += len(ids_out)
        report.tokens += int(lengths.sum())
        report.trainable_tokens += int(trainable.sum())
        return pa.RecordBatch.from_arrays(
            [
                pa.ListArray.from_arrays(pa.array(offsets_arr), pa.array(np.concatenate(ids_out))),
                pa.ListArray.from_arrays(pa.array(offsets_arr), pa.array(np.concatenate(mask_out))),
                pa.array(lengths),
                pa.array(trainable),
                pa.array(np.asarray(groups, dtype=np.uint64)),
                pa.array(np.asarray(rows, dtype=np.int64)),
            ],
            schema=TOKENIZED_SCHEMA,
        )

    def tokenize(
        self, batches: Iterator[pa.RecordBatch], report: TokenizeReport
    ) -> Iterator[pa.RecordBatch]:
        """Tokenize a stream of chat batches lazily, one output batch per input batch."""
        offset = 0
        for batch in batches:
            out = self.tokenize_batch(batch, offset, report)
            offset += batch.num_rows
            if out.num_rows:
                yield out


def _empty_batch() -> pa.RecordBatch:
    return pa.RecordBatch.from_pylist([], schema=TOKENIZED_SCHEMA)


def _optional_column(batch: pa.RecordBatch, name: str, n: int) -> list[Any]:
    names = batch.schema.names
    if name not in names:
        return [None] * n
    col = batch.column(names.index(name))
    if pa.types.is_dictionary(col.type):
        col = col.cast(col.type.value_type)
    values: list[Any] = col.to_pylist()
    return values


def _where(source_file: Any, source_line: Any, row: int) -> str:
    if source_file is not None and source_line is not None:
        return f"{source_file}:{source_line}"
    return f"row {row}"


def _short(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return text if len(text) <= 120 else text[:117] + "..."


def _group_key(metadata: Any, row_id: Any, row: int) -> str:
    """``metadata.conversation_id``, else the row's ``id``, else its index."""
    if metadata and "conversation_id" in metadata:
        try:
            meta = json.loads(metadata)
        except ValueError:
            meta = None
        if isinstance(meta, dict) and meta.get("conversation_id") not in (None, ""):
            return "conversation:" + str(meta["conversation_id"])
    if row_id not in (None, ""):
        return "id:" + str(row_id)
    return f"row:{row}"


#: The fields of a normalized message (``brightingest.schema.MESSAGE_TYPE``).
_MESSAGE_FIELDS = frozenset(
    ("role", "content", "weight", "name", "tool_calls", "tool_call_id", "extra")
)


def _template_messages(raw: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], list[bool]]:
    """Turn normalized messages into template dicts and say which are trained on."""
    msgs: list[dict[str, Any]] = []
    trained: list[bool] = []
    for m in raw:
        msg: dict[str, Any] = {"role": m["role"], "content": m["content"]}
        if m.get("name"):
            msg["name"] = m["name"]
        if m.get("tool_call_id"):
            msg["tool_call_id"] = m["tool_call_id"]
        if m.get("tool_calls"):
            msg["tool_calls"] = _tool_calls(m["tool_calls"])
        if m.get("extra"):
            # Keys the format did not map (reasoning_content ...): the template decides what
            # it renders of them, as with message dicts given to apply_chat_template. Never one
            # named like a field of the normalized message: those are checked where they are
            # mapped, and one kept aside unchecked must not pass for it.
            extra = json.loads(m["extra"])
            if isinstance(extra, dict):
                msg.update((k, v) for k, v in extra.items() if k not in _MESSAGE_FIELDS)
        msgs.append(msg)
        trained.append(m["role"] == "assistant" and m.get("weight") != 0)
    return msgs, trained


def _tool_calls(text: str) -> list[Any]:
    """Parse OpenAI ``tool_calls`` JSON; JSON-string arguments become objects, which is what
    chat templates (``arguments | tojson``) expect."""
    calls: Any = json.loads(text)
    if not isinstance(calls, list):
        raise ValueError("tool_calls is not a JSON array")
    for call in calls:
        fn = call.get("function") if isinstance(call, dict) else None
        if isinstance(fn, dict) and isinstance(fn.get("arguments"), str):
            try:
                args = json.loads(fn["arguments"])
            except ValueError:
                continue
            if isinstance(args, dict):
                fn["arguments"] = args
    out: list[Any] = list(calls)
    return out
