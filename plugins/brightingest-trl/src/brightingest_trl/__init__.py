"""brightingest format plugin ``trl-preference``: preference rows as their chosen conversation.

A preference row pairs a prompt with a ``chosen`` and a ``rejected`` answer. For supervised
fine-tuning the row becomes one conversation: the prompt and any history ``chosen`` shares with
``rejected`` (nothing there trained: its assistant turns get ``weight: 0``), then the chosen
answer, the only part trained, which ends the conversation. The shapes read:

1. LLaMA-Factory Alpaca preference: ``{"instruction", "input"?, "chosen", "rejected",
   "system"?, "history"?}``: system, then ``history`` (``[[user, assistant], ...]``, assistant
   halves ``weight: 0``), then ``instruction`` and ``input`` joined by a blank line (an empty
   ``input`` left out) as the user message, then ``chosen``.
2. LLaMA-Factory ShareGPT preference: ``{"conversations": [{"from", "value"}, ...], "chosen":
   {"from": "gpt", "value"}, "rejected": {...}, "system"?}``: system, the conversation (speaker
   names as the built-in ``sharegpt`` format reads them; its assistant turns ``weight: 0``),
   then ``chosen``, a ``{from, value}`` or ``{role, content}`` message whose role must be an
   assistant's.
3. TRL explicit prompt, standard (strings: the prompt becomes a user message, ``chosen`` an
   assistant message) or conversational (lists of ``{role, content}`` messages): the prompt's
   assistant turns get ``weight: 0``; ``chosen`` is trained.
4. A full ``chosen`` conversation that repeats the prompt (HuggingFaceH4/ultrafeedback_binarized:
   ``"prompt": "What color is the sky?"``, ``"chosen": [user, assistant]``): where ``chosen``
   begins with the prompt's messages (or the prompt's last messages), or holds them further in
   (distilabel's Capybara rows: ``prompt`` the first user message, ``chosen`` the whole
   conversation, a system message first), they are not repeated. Word for word (up to
   surrounding whitespace) only: a ``chosen`` that starts with a user message right after the
   prompt's user message without repeating it is refused (``unsupported_format``): re-worded
   prompt or second question, either guess would train something wrong. What ``chosen`` shares
   with ``rejected`` beyond the prompt (Capybara: all but the last answer) is context too.
5. TRL implicit prompt (no prompt field): the messages ``chosen`` and ``rejected`` share from the
   start are the prompt (assistant turns there ``weight: 0``), the rest of ``chosen`` is
   trained. For strings, the prompt is the text both share up to the last word boundary (the
   whitespace there goes to the answer, as TRL does: ``"The sky is"`` + ``" blue."``); a row
   sharing no whole word is refused (``missing_field``), since a prompt cut inside a word would
   train the model on word fragments.
6. Anthropic HH-RLHF transcripts (``"\\n\\nHuman: ...\\n\\nAssistant: ..."`` strings, also as a
   ``prompt`` ending in ``"\\n\\nAssistant:"`` with the reply in ``chosen``): split into user and
   assistant turns (the one space after the colon dropped; lines may end in ``\\r\\n``; markers
   in any one case, ``Human:``, ``human:`` or ``HUMAN:``); the last assistant turn is trained,
   earlier ones get ``weight: 0``. A transcript with text before its first ``Human:`` (a
   preamble: a system prompt, or part of the turn?) or with markers written unlike is refused
   (``unsupported_format``).
7. OpenAI / Azure OpenAI / Together / Fireworks DPO: ``{"input": {"messages": [...], "tools"?,
   "parallel_tool_calls"?}, "preferred_output": [assistant, ...], "non_preferred_output": [...]}``:
   ``input.messages`` is the prompt (its assistant turns ``weight: 0``; a system message there is
   the system prompt), then ``preferred_output``, a list of assistant messages (text or
   ``tool_calls``), all trained. ``non_preferred_output`` is kept in ``metadata`` (as
   ``rejected`` is), ``input.tools`` fills the ``tools`` column and a boolean
   ``input.parallel_tool_calls`` goes to ``metadata["parallel_tool_calls"]``, which
   brightingest's OpenAI writer writes back. Messages are OpenAI's ``{role, content, name?,
   tool_calls?, tool_call_id?}`` and are checked here, so that a refusal names the row's own
   field (``input.messages[1].content``): a missing or blank content (``missing_field``,
   ``empty_content``), a ``tool`` message without ``tool_call_id``, a system message after the
   conversation started (``system_not_first``), a ``preferred_output`` that is not a list
   (``wrong_type``) or holds a message other than an assistant's (``no_trainable_assistant``).
   A row with these fields and also ``chosen``, ``prompt`` or another shape's prompt field is
   refused (``unsupported_format``).

A top-level ``system`` string becomes the first message in every shape, unless the prompt
itself starts with a system message, which then overrides it (as LLaMA-Factory reads ShareGPT
rows). Rows that cannot be read this way are refused with a reason, never guessed at: a row
with two prompt fields or two shapes (``unsupported_format``), a value of the wrong kind
(``wrong_type``), no prompt to find (``missing_field``), empty text (``empty_content``), or
nothing of ``chosen`` (``preferred_output``) left to train on (``no_trainable_assistant``).
Also refused: a ``chosen`` text starting with the whole prompt text (prompt and answer in one
text, or an answer quoting the question?) and a ``chosen`` that goes on after its answer with a
user message ``rejected`` does not share (``unsupported_format``); a ``chosen`` that ends with a
user or tool message after its answer (``no_trainable_assistant``: a conversation ends with the
answer trained), or that is the same as ``rejected`` after the prompt (no preference). Messages'
training flags are read as the built-in formats read them (``weight`` 0/1, axolotl's
``training``/``train`` booleans): honoured on the answer, and on the prompt side accepted when
they say "not trained" and refused (``invalid_weight``) when they say "trained", since the
prompt is never trained here. Other message keys are kept in the message's ``extra``.

Why Python per row (``FormatSpec.map_record``, brightingest's slow path) and not a declarative
``Mapping``: telling these shapes apart needs the values (HH transcripts and TRL strings have
the same keys), two of them compare ``chosen`` with the prompt or with ``rejected``, and such
rows must be refused with a reason; a declaration cannot do that, and a ``transform`` runs after
the rows were kept. Preference datasets are small enough for it. ``id`` and ``tools`` fill their
columns and every other field (``rejected`` and ``non_preferred_output`` among them) is kept in
``metadata``. ShareGPT tool turns (``function_call`` then ``observation``) are linked by the
built-in ``sharegpt`` format's ``transform``, reused here.

It is registered through the ``brightingest.formats`` entry-point group of this distribution's
``pyproject.toml``, exactly as brightingest's built-in formats are.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable
from typing import Any

from brightingest.errors import MappingError

# Speaker names as the built-in sharegpt format reads them (human/gpt/observation/...).
from brightingest.formats._common import SHAREGPT_ROLES
from brightingest.formats.sharegpt import link_tool_calls
from brightingest.plugins import FormatSpec, hookimpl

__all__ = ["SPEC", "brightingest_register_formats", "detect", "map_record"]

__version__ = "0.3.0"

Message = dict[str, Any]

_CANONICAL = ("system", "developer", "user", "assistant", "tool")
_ROLES: dict[str, str] = {**{r: r for r in _CANONICAL}, **SHAREGPT_ROLES}

#: Top-level keys of the shapes above; any other key lowers the detection score a little.
_KNOWN = frozenset(
    {
        "chosen",
        "rejected",
        "prompt",
        "prompt_id",
        "id",
        "system",
        "instruction",
        "input",
        "history",
        "conversations",
        "tools",
        "messages",
        "score_chosen",
        "score_rejected",
    }
)

#: Fields the mapping reads; the others are kept in ``metadata`` (``rejected`` among them).
_READ = frozenset(
    {"chosen", "prompt", "system", "instruction", "input", "history", "conversations", "id"}
    | {"tools"}
)

#: Fields that hold the prompt, one per shape; a row has at most one.
_PROMPT_FIELDS = ("instruction", "conversations", "prompt")

#: The two sides of a preference, in the TRL shapes and in the OpenAI DPO shape (shape 7).
_SIDES = ("chosen", "rejected", "preferred_output", "non_preferred_output")

#: Top-level keys of the OpenAI DPO shape (shape 7); any other key lowers its score a little.
_DPO_KNOWN = frozenset(
    {"input", "preferred_output", "non_preferred_output", "id", "system", "tools"}
)

#: Fields of the other shapes that a DPO row must not have: they would be a second prompt or a
#: second answer.
_DPO_CONFLICTS = (
    "prompt",
    "chosen",
    "rejected",
    "instruction",
    "conversations",
    "history",
    "messages",
)

#: What shape 7 reads from its ``input`` object; other keys there are kept in ``metadata``.
_DPO_INPUT_READ = frozenset({"messages", "tools", "parallel_tool_calls"})

#: A message's training flags, as the built-in ``openai`` and ``sharegpt`` formats read them:
#: OpenAI's ``weight`` (0 or 1) and axolotl's ``training``/``train`` (booleans).
_FLAGS = ("weight", "training", "train")

#: Private keys of a parsed message: the row's field it came from, and its training flag as
#: written (``"training": true``), so that a refusal names them. Dropped before returning.
_AT, _FLAG = "_at", "_flag"

#: How HH-RLHF transcripts write their turn markers: (human, assistant), one case per transcript.
_HH_STYLES = (("Human", "Assistant"), ("human", "assistant"), ("HUMAN", "ASSISTANT"))
_HH_START = re.compile(r"\s*(human|assistant):", re.IGNORECASE)
#: A turn marker in any case, at the start or after a blank line: tells a malformed transcript
#: (a preamble, markers written unlike) from plain text.
_HH_ANY = re.compile(r"(?:\A\s*|(?:\r?\n){2})(human|assistant):", re.IGNORECASE)


def detect(row: Any) -> float:
    """How much ``row`` looks like preference data: 0 without any of ``chosen``, ``rejected``,
    ``preferred_output`` and ``non_preferred_output`` (OpenAI's DPO shape).

    A row with them scores at least 0.8 (1.0 with both sides and only known keys), so that it
    wins over the built-in formats whose fields it also has (``sharegpt``'s ``conversations``,
    ``openai``'s ``messages``, ``alpaca``'s ``input``): those would train the prompt and drop the
    chosen answer. A row that is meant as preference data but is broken (one side missing or
    null, values of the wrong kind: ``chosen: 42``, an ``input`` that is not an object) scores
    only a little less (x 0.9), not 0: detection takes the mean score over the sampled rows, and
    one bad row among a few must not hand the file to ``sharegpt`` or ``openai``, or make a tie
    with them. The row is ours, and ``map_record`` refuses it with the reason.

    Args:
        row: A parsed JSON value.

    Returns:
        A score in ``[0, 1]``.
    """
    if not isinstance(row, dict) or not row:
        return 0.0
    if all(row.get(k) is None for k in _SIDES):
        return 0.0
    preferred, non_preferred = row.get("preferred_output"), row.get("non_preferred_output")
    if preferred is not None or non_preferred is not None:  # OpenAI DPO (shape 7)
        score = 0.8 + 0.2 * sum(1 for k in row if k in _DPO_KNOWN) / len(row)
        whole = (
            isinstance(row.get("input"), dict)
            and isinstance(preferred, list)
            and isinstance(non_preferred, list)
        )
    else:
        score = 0.8 + 0.2 * sum(1 for k in row if k in _KNOWN) / len(row)
        whole = all(isinstance(row.get(k), (str, list, dict)) for k in ("chosen", "rejected"))
    if not whole:
        score *= 0.9
    return round(score, 6)


def _kind(value: Any) -> str:
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "an object"
    if value is None:
        return "null"
    return "a number"


def _quote(text: str, limit: int = 60) -> str:
    shown = text if len(text) <= limit else text[: limit - 3] + "..."
    return '"' + shown.replace("\r", "\\r").replace("\n", "\\n") + '"'


def _text(value: Any, field: str) -> str:
    """A content value as text: a string, or a list of text parts joined."""
    if isinstance(value, str):
        return value
    if isinstance(value, list):
        texts = [p.get("text") if isinstance(p, dict) else p for p in value]
        if all(isinstance(t, str) for t in texts):
            return "".join(str(t) for t in texts)
        raise MappingError("content parts must be text.", code="wrong_type", field=field)
    raise MappingError(
        f"content must be a string, got {_kind(value)}.", code="wrong_type", field=field
    )


def _flag(item: dict[str, Any], message: Message, field: str) -> None:
    """Read a message's training flag into ``message["weight"]``: ``weight`` (0 or 1) or
    axolotl's ``training``/``train`` (``true``/``false``), as the built-in formats read them.
    Two that disagree, or a value that is neither, are ``invalid_weight``; token-level
    ``training_detail`` is refused (a message is trained whole or not at all)."""
    if item.get("training_detail") is not None:
        raise MappingError(
            'token-level "training_detail" cannot be honoured: a message is trained whole or not '
            'at all (give it "training": true or false for the whole of it).',
            code="wrong_type",
            field=f"{field}.training_detail",
        )
    seen: tuple[str, int] | None = None
    for key in _FLAGS:
        value = item.get(key)
        if value is None:
            continue
        if isinstance(value, bool) or (isinstance(value, int | float) and value in (0, 1)):
            weight = int(value)
        else:
            expected = "0 or 1" if key == "weight" else "true or false"
            raise MappingError(
                f"{key} {json.dumps(value)} (expected {expected}).",
                code="invalid_weight",
                field=f"{field}.{key}",
            )
        if seen is None:
            seen = (key, weight)
            message["weight"] = weight
            message[_FLAG] = (key, f'"{key}": {json.dumps(value)}')
        elif seen[1] != weight:
            raise MappingError(
                f'"{seen[0]}" and "{key}" disagree on whether this message is trained.',
                code="invalid_weight",
                field=f"{field}.{key}",
            )


def _extra(item: dict[str, Any], read: set[str], message: Message) -> None:
    """Keep the keys of ``item`` not read (``reasoning_content`` ...) in ``message["extra"]``,
    which brightingest stores in the message's ``extra``, rather than drop them."""
    extra: dict[str, Any] = {}
    own = item.get("extra")
    if isinstance(own, dict):
        extra.update((k, v) for k, v in own.items() if v is not None)
    elif own is not None:
        extra["extra"] = own
    extra.update(
        (k, v) for k, v in item.items() if k not in read and k != "extra" and v is not None
    )
    if extra:
        message["extra"] = extra


def _message(item: Any, field: str) -> Message:
    """One ``{role, content}`` or ``{from, value}`` message."""
    if not isinstance(item, dict):
        raise MappingError(
            f"expected a message ({{role, content}} or {{from, value}}), got {_kind(item)}.",
            code="wrong_type",
            field=field,
        )
    role_key = "role" if "role" in item else "from"
    raw = item.get(role_key)
    if raw is None:
        raise MappingError(
            "the message has no role (role or from).", code="missing_field", field=f"{field}.role"
        )
    role = _ROLES.get(raw) if isinstance(raw, str) else None
    if role is None:
        raise MappingError(
            f"unknown role {_quote(str(raw))} (expected {', '.join(_CANONICAL)}, "
            "or a ShareGPT speaker such as human, gpt, observation, function_call).",
            code="unknown_role",
            field=f"{field}.{role_key}",
        )
    content_key = "content" if "content" in item else "value"
    content = item.get(content_key)
    if content is None and item.get("tool_calls"):
        content = ""
    message: Message = {"role": role, "content": _text(content, f"{field}.{content_key}")}
    for key in ("name", "tool_calls", "tool_call_id"):
        if item.get(key) is not None:
            message[key] = item[key]
    _flag(item, message, field)
    read = {role_key, content_key, "name", "tool_calls", "tool_call_id", "training_detail"}
    _extra(item, read | set(_FLAGS), message)
    message[_AT] = field
    return message


def _messages(value: Any, field: str, string_role: str | None) -> list[Message]:
    """A string (one message with ``string_role``), one message object, or a list of them."""
    if isinstance(value, str) and string_role is not None:
        return [{"role": string_role, "content": value}]
    if isinstance(value, dict):
        return [_message(value, field)]
    if isinstance(value, list):
        return [_message(item, f"{field}[{i}]") for i, item in enumerate(value)]
    wanted = "a string, a message or a list of messages" if string_role else "a list of messages"
    raise MappingError(f"expected {wanted}, got {_kind(value)}.", code="wrong_type", field=field)


def _a(role: str) -> str:
    """``"an assistant"``, ``"a user"``."""
    return f"{'an' if role[:1] in 'aeio' else 'a'} {role}"


def _public(message: Message) -> Message:
    return {k: v for k, v in message.items() if k not in (_AT, _FLAG)}


def _context(messages: list[Message]) -> list[Message]:
    """The prompt side: nothing there is trained, so assistant turns get weight 0. A message
    there that the row marks as trained (``"weight": 1``, ``"training": true``) is refused,
    neither trained against the preference nor silently untrained."""
    out = []
    for message in messages:
        if message.get("weight") == 1:
            key, flag = message.get(_FLAG, ("weight", '"weight": 1'))
            raise MappingError(
                f"{flag} marks {_a(message['role'])} message of the prompt as trained, but the "
                "prompt is context here: only the chosen answer is trained. Set it to 0 (false) "
                "or leave it out.",
                code="invalid_weight",
                field=f"{message[_AT]}.{key}" if _AT in message else None,
            )
        message = {k: v for k, v in _public(message).items() if k != "weight"}
        if message["role"] == "assistant":
            message["weight"] = 0
        out.append(message)
    return out


def _answer(messages: list[Message]) -> list[Message]:
    """The chosen side: assistant messages keep their weight (0 is honoured); a weight 1 on any
    other message is refused (only assistant messages are trained), a 0 there dropped."""
    out = []
    for message in messages:
        if message["role"] != "assistant":
            if message.get("weight") == 1:
                key, flag = message.get(_FLAG, ("weight", '"weight": 1'))
                raise MappingError(
                    f"{flag} on a {message['role']} message: only assistant messages are trained.",
                    code="invalid_weight",
                    field=f"{message[_AT]}.{key}" if _AT in message else None,
                )
            message = {k: v for k, v in message.items() if k != "weight"}
        out.append(_public(message))
    return out


def _same(a: Message, b: Message) -> bool:
    return (
        a["role"] == b["role"]
        and a["content"].strip() == b["content"].strip()
        and a.get("tool_calls") == b.get("tool_calls")
    )


def _overlap(prompt: list[Message], chosen: list[Message]) -> int:
    """How many leading messages of ``chosen`` repeat the end of ``prompt`` (ultrafeedback's
    ``chosen`` is the whole conversation, prompt included)."""
    for k in range(min(len(prompt), len(chosen)), 0, -1):
        if all(_same(p, c) for p, c in zip(prompt[-k:], chosen[:k], strict=True)):
            return k
    return 0


def _find(prompt: list[Message], conversation: list[Message]) -> int | None:
    """Where the whole ``prompt`` first appears in ``conversation``, if it does."""
    n = len(prompt)
    for i in range(len(conversation) - n + 1):
        if all(_same(p, c) for p, c in zip(prompt, conversation[i : i + n], strict=True)):
            return i
    return None


def _shared(a: list[Message], b: list[Message]) -> int:
    """How many messages ``a`` and ``b`` share from the start."""
    n = 0
    while n < min(len(a), len(b)) and _same(a[n], b[n]):
        n += 1
    return n


def _join(prompt: list[Message], side: list[Message], field: str) -> tuple[list[Message], int]:
    """The conversation a row's prompt and its ``chosen`` (or ``rejected``) make, and how many
    of its messages are the prompt's.

    ``side`` is either what follows the prompt (a reply), or a whole conversation that holds
    the prompt word for word (up to surrounding whitespace): at its start (ultrafeedback, where
    the prompt's leading messages, a system one, may be left out), or further in (distilabel's
    Capybara rows: ``prompt`` is the first user message, ``chosen`` the whole conversation after
    a system message). A ``side`` starting with a user message right after the prompt's user
    message that it does not repeat word for word is refused: it may be the prompt, re-worded,
    or a second question, and either guess would train something wrong.
    """
    k = _overlap(prompt, side)
    if k:
        return prompt + side[k:], len(prompt)
    if side and side[0]["role"] != "assistant":
        at = _find(prompt, side)
        if at is not None:
            return side, at + len(prompt)
        first = side[0]
        if prompt[-1]["role"] == "user" and first["role"] in ("user", "system", "developer"):
            what = (
                f"the user message {_quote(first['content'], 40)}"
                if first["role"] == "user"
                else f"a {first['role']} message"
            )
            raise MappingError(
                f'"{field}" starts with {what} right after the prompt\'s user message '
                f"{_quote(prompt[-1]['content'], 40)}, and does not repeat the prompt word for "
                "word: cannot tell whether it is the prompt again (re-worded) or a conversation "
                f'that goes on from it. Make "{field}" repeat the prompt exactly, or hold only '
                "what follows it.",
                code="unsupported_format",
                field=first.get(_AT, field),
            )
    return prompt + side, len(prompt)


def _check_answer(answer: list[Message], after: str) -> None:
    """What ``chosen`` adds to the prompt (and to what it shares with ``rejected``) is the answer
    trained: it must hold a trained assistant message, end with one (a conversation ends with
    the answer trained), and hold no user message after its first reply (then which reply the
    preference is about cannot be told)."""
    for message in answer:
        if message["role"] in ("system", "developer"):
            raise MappingError(
                f"a {message['role']} message in the chosen answer, after the conversation "
                "started.",
                code="system_not_first",
                field=f"{message[_AT]}.role" if _AT in message else "chosen",
            )
    if not any(m["role"] == "assistant" and m.get("weight") != 0 for m in answer):
        raise MappingError(
            f"no assistant message in chosen after {after}: nothing to train on.",
            code="no_trainable_assistant",
            field="chosen",
        )
    last = answer[-1]
    if last["role"] != "assistant":
        raise MappingError(
            f"chosen ends with a {last['role']} message after its answer: a conversation must "
            "end with the answer trained. Drop the messages after the answer.",
            code="no_trainable_assistant",
            field=last.get(_AT, "chosen"),
        )
    replied = False
    for message in answer:
        if message["role"] == "assistant":
            replied = True
        elif message["role"] == "user" and replied:
            raise MappingError(
                f"chosen goes on after its answer with a user message "
                f"({_quote(message['content'], 40)}) that rejected does not share: cannot tell "
                "which answer the preference is about. Put the conversation before the last "
                'answer in the prompt, or in both "chosen" and "rejected".',
                code="unsupported_format",
                field=message.get(_AT, "chosen"),
            )


# -- Anthropic HH-RLHF transcripts --------------------------------------------------------------


def _hh_start(text: str) -> tuple[tuple[str, str], str] | None:
    """(the transcript's marker words, the role of its first turn) for a text that starts (after
    blank space) with a turn marker: ``Human:``, ``human:``, ``HUMAN:`` or their assistant's."""
    match = _HH_START.match(text)
    if match is None:
        return None
    word = match.group(1)
    for style in _HH_STYLES:
        if word in style:
            return style, "user" if word == style[0] else "assistant"
    return None


def _is_hh(text: Any) -> tuple[str, str] | None:
    """The marker words of a whole transcript: a text starting with a ``Human:`` turn and holding
    a ``\\n\\nAssistant:`` one, both written alike (lines may end in ``\\r\\n``)."""
    if not isinstance(text, str):
        return None
    start = _hh_start(text)
    if start is None or start[1] != "user":
        return None
    style = start[0]
    return style if re.search(rf"(?:\r?\n){{2}}{style[1]}:", text) else None


def _hh_malformed(text: Any) -> str | None:
    """Why ``text``, which has a ``Human:`` turn and then an ``Assistant:`` one (in any case), is
    not a transcript that can be split: text before its first ``Human:``, or markers written
    unlike. ``None`` for a well-formed transcript, or a text without both markers."""
    if not isinstance(text, str) or _is_hh(text):
        return None
    marks = list(_HH_ANY.finditer(text))
    human = next((m for m in marks if m.group(1).lower() == "human"), None)
    if human is None or not any(
        m.group(1).lower() == "assistant" and m.start() > human.start() for m in marks
    ):
        return None
    preamble = text[: human.start()].strip()
    if preamble:
        return (
            f'text before its first "Human:" turn ({_quote(preamble, 40)}): cannot tell whether '
            'it is a system prompt or part of the first turn. Move it to "system", or remove it.'
        )
    words = sorted({m.group(1) for m in marks})
    return (
        f"turn markers not written alike ({', '.join(w + ':' for w in words)}): cannot tell "
        "where its turns start. Write them alike (Human:/Assistant:)."
    )


def _hh_turns(text: str, style: tuple[str, str]) -> list[Message]:
    """``"\\n\\nHuman: a\\n\\nAssistant: b"`` -> user ``a``, assistant ``b`` (one space after the
    colon dropped; ``\\r\\n`` line ends inside a turn kept)."""
    pattern = re.compile(rf"(?:\r?\n){{2}}({style[0]}|{style[1]}): ?")
    pieces = pattern.split("\n\n" + text.lstrip())
    turns = []
    for n, (word, content) in enumerate(zip(pieces[1::2], pieces[2::2], strict=True), 1):
        role = "user" if word == style[0] else "assistant"
        turns.append({"role": role, "content": content, "turn": (n, word)})
    return turns


def _check_hh(turns: list[Message], field: str, *, last_may_be_empty: bool = False) -> None:
    for i, turn in enumerate(turns):
        n, speaker = turn.pop("turn")
        if turn["content"].strip():
            continue
        if last_may_be_empty and i == len(turns) - 1 and turn["role"] == "assistant":
            continue
        raise MappingError(
            f'turn {n} ("{speaker}:") of the transcript is empty.',
            code="empty_content",
            field=field,
        )


def _hh_prompt(text: str, style: tuple[str, str]) -> tuple[list[Message], bool]:
    """A ``prompt`` transcript, and whether it ended in an empty ``Assistant:`` turn (the slot
    the chosen reply fills)."""
    turns = _hh_turns(text, style)
    _check_hh(turns, "prompt", last_may_be_empty=True)
    slot = bool(turns) and turns[-1]["role"] == "assistant" and not turns[-1]["content"].strip()
    return (turns[:-1] if slot else turns), slot


def _hh_chosen(text: str, style: tuple[str, str]) -> tuple[list[Message], list[Message]]:
    """A whole ``chosen`` transcript: (prompt turns, the final assistant turn)."""
    turns = _hh_turns(text, style)
    _check_hh(turns, "chosen")
    if turns[-1]["role"] != "assistant":
        raise MappingError(
            'the transcript ends with a "Human:" turn: no final "Assistant:" reply to train on.',
            code="no_trainable_assistant",
            field="chosen",
        )
    return turns[:-1], turns[-1:]


def _refuse_malformed_hh(value: Any, field: str) -> None:
    reason = _hh_malformed(value)
    if reason is not None:
        raise MappingError(
            f'"{field}" looks like an Anthropic HH-RLHF transcript, but has {reason}',
            code="unsupported_format",
            field=field,
        )


# -- the shapes -----------------------------------------------------------------------------------


def _system(row: dict[str, Any]) -> list[Message]:
    system = row.get("system")
    if system is None:
        return []
    if not isinstance(system, str):
        raise MappingError(
            f"expected a string, got {_kind(system)}.", code="wrong_type", field="system"
        )
    return [{"role": "system", "content": system}] if system.strip() else []


def _alpaca_prompt(row: dict[str, Any]) -> list[Message]:
    """LLaMA-Factory Alpaca: ``history`` pairs, then ``instruction`` + ``input``."""
    messages: list[Message] = []
    history = row.get("history")
    if history is not None:
        if not isinstance(history, list):
            raise MappingError(
                f"expected a list of [user, assistant] pairs, got {_kind(history)}.",
                code="wrong_type",
                field="history",
            )
        for i, pair in enumerate(history):
            if not (
                isinstance(pair, list) and len(pair) == 2 and all(isinstance(t, str) for t in pair)
            ):
                raise MappingError(
                    "expected a [user, assistant] pair of strings.",
                    code="wrong_type",
                    field=f"history[{i}]",
                )
            if not (pair[0].strip() and pair[1].strip()):
                raise MappingError(
                    "a turn of the pair is empty.", code="empty_content", field=f"history[{i}]"
                )
            messages.append({"role": "user", "content": pair[0]})
            messages.append({"role": "assistant", "content": pair[1], "weight": 0})
    parts = []
    for key in ("instruction", "input"):
        value = row.get(key)
        if value is None:
            continue
        if not isinstance(value, str):
            raise MappingError(
                f"expected a string, got {_kind(value)}.", code="wrong_type", field=key
            )
        if value.strip():
            parts.append(value)
    if not parts:
        raise MappingError(
            "the instruction is empty (and so is the input).",
            code="empty_content",
            field="instruction",
        )
    messages.append({"role": "user", "content": "\n\n".join(parts)})
    return messages


def _implicit_text(chosen: str, rejected: Any) -> tuple[list[Message], list[Message]]:
    """TRL's implicit prompt for strings: the words ``chosen`` and ``rejected`` share."""
    if not isinstance(rejected, str):
        raise MappingError(
            f'expected a string like "chosen", got {_kind(rejected)}.',
            code="wrong_type",
            field="rejected",
        )
    shared = len(os.path.commonprefix([chosen, rejected]))
    if shared == len(chosen):
        raise MappingError(
            '"chosen" adds nothing to the text it shares with "rejected", so it has no answer '
            "of its own to train on.",
            code="no_trainable_assistant",
            field="chosen",
        )
    # Back off to a word boundary: whitespace right before the cut, or at it in both texts.
    cut = shared
    while cut > 0 and not (
        chosen[cut - 1].isspace()
        or (chosen[cut].isspace() and (cut == len(rejected) or rejected[cut].isspace()))
    ):
        cut -= 1
    prompt = chosen[:cut].rstrip()
    if not prompt.strip():
        raise MappingError(
            'the row has no "prompt", and "chosen" and "rejected" share no leading words to '
            f"take as one (TRL's implicit prompt): chosen starts {_quote(chosen, 30)}, "
            f"rejected {_quote(rejected, 30)}.",
            code="missing_field",
            field="prompt",
        )
    answer = chosen[len(prompt) :]  # keeps the whitespace at the cut, as TRL does
    if not answer.strip():
        raise MappingError(
            "the answer after the shared prompt is empty.", code="empty_content", field="chosen"
        )
    return [{"role": "user", "content": prompt}], [{"role": "assistant", "content": answer}]


def _implicit_messages(
    chosen: list[Message], rejected_value: Any
) -> tuple[list[Message], list[Message]]:
    """TRL's implicit prompt for conversations: the messages both sides share from the start."""
    if not isinstance(rejected_value, list):
        raise MappingError(
            f'expected a list of messages like "chosen", got {_kind(rejected_value)}.',
            code="wrong_type",
            field="rejected",
        )
    rejected = _messages(rejected_value, "rejected", None)
    shared = _shared(chosen, rejected)
    if not any(m["role"] == "user" for m in chosen[:shared]):
        # as for strings: an answer to no question would be trained
        raise MappingError(
            'the row has no "prompt", and "chosen" and "rejected" share no user message to take '
            "as one (TRL's implicit prompt).",
            code="missing_field",
            field="prompt",
        )
    return chosen[:shared], chosen[shared:]


def _side(
    value: Any,
    field: str,
    prompt: list[Message],
    *,
    slot: bool,
    style: tuple[str, str] | None,
) -> tuple[list[Message], bool]:
    """``chosen`` (or ``rejected``) of a row with a prompt field, as messages; and whether it was
    a text read as one assistant reply.

    A transcript string is split into its turns where it goes on from an HH ``prompt`` (a
    whole transcript from ``Human:``, or from ``Assistant:``), or where its first turns repeat
    the prompt; any other string is the reply, text as it is (one space after an HH prompt's
    ``Assistant:`` dropped).
    """
    if not isinstance(value, str):
        return _messages(value, field, "assistant"), False
    if style is not None:  # the prompt is an HH transcript
        start = _hh_start(value)
        if start is not None and start[0] != style:
            raise MappingError(
                f'"{field}" writes its turn markers unlike the prompt ({start[0][0]}: and '
                f"{style[0]}:): cannot tell where its turns start. Write them alike.",
                code="unsupported_format",
                field=field,
            )
        if start is not None:
            turns = _hh_turns(value, style)
            _check_hh(turns, field)
            return turns, False
        _refuse_malformed_hh(value, field)
        return [{"role": "assistant", "content": value.removeprefix(" ") if slot else value}], True
    style = _is_hh(value)
    if style is not None:
        turns = _hh_turns(value, style)
        if _overlap(prompt, turns) or _find(prompt, turns) is not None:
            _check_hh(turns, field)
            return turns, False
    return [{"role": "assistant", "content": value}], True


def _starts_with_whole(text: str, prompt: str) -> bool:
    """``text`` starts with the whole ``prompt`` text, then a space or nothing."""
    shown, text = prompt.strip(), text.lstrip()
    return (
        bool(shown)
        and text.startswith(shown)
        and (len(text) == len(shown) or text[len(shown)].isspace())
    )


def _refuse_repeated_prompt(prompt: str, chosen: str, rejected: Any) -> None:
    """A ``chosen`` text that is the prompt text, or that starts with it (then a space) as a
    ``rejected`` text does too, holds the prompt and its answer in one text: read as a reply it
    would train the prompt. A ``chosen`` alone starting with it is an answer that echoes the
    question (``"Hi"``: ``"Hi there!"``), and is kept."""
    shown = prompt.strip()
    if not _starts_with_whole(chosen, prompt):
        return
    both = isinstance(rejected, str) and _starts_with_whole(rejected, prompt)
    if chosen.strip() == shown or both:
        raise MappingError(
            f'"chosen" starts with the whole prompt ({_quote(shown, 40)}): cannot tell whether it '
            "is the prompt and its answer in one text, or an answer that repeats the question. "
            'If "chosen" and "rejected" are whole texts, prompt included, leave "prompt" out: '
            "the words they share are then the prompt (TRL's implicit prompt).",
            code="unsupported_format",
            field="chosen",
        )


def _split(row: dict[str, Any]) -> tuple[list[Message], list[Message], str]:
    """(the prompt side, the chosen answer after it, where the prompt came from)."""
    sources = [k for k in _PROMPT_FIELDS if row.get(k) is not None]
    if len(sources) > 1:
        named = " and ".join(f'"{k}"' for k in sources)
        raise MappingError(
            f"the row has both {named}: cannot tell which one is the prompt.",
            code="unsupported_format",
            field=sources[1],
        )
    chosen_value, rejected_value = row["chosen"], row["rejected"]
    source = sources[0] if sources else None
    if source != "instruction":  # Alpaca's other fields, without the one they belong to
        stray = [k for k in ("input", "history") if row.get(k) not in (None, "", [])]
        if stray:
            raise MappingError(
                f'the row has "{stray[0]}" but no "instruction" (LLaMA-Factory\'s Alpaca '
                "preference shape): cannot tell what the prompt is.",
                code="missing_field",
                field="instruction",
            )

    if source is None:  # the prompt is implicit: in chosen, shared with rejected
        transcript = _is_hh(chosen_value)
        if transcript is not None:
            if not isinstance(rejected_value, str):
                raise MappingError(
                    f'expected a transcript string like "chosen", got {_kind(rejected_value)}.',
                    code="wrong_type",
                    field="rejected",
                )
            return (*_hh_chosen(chosen_value, transcript), "chosen")
        if isinstance(chosen_value, str):
            _refuse_malformed_hh(chosen_value, "chosen")
            return (*_implicit_text(chosen_value, rejected_value), "chosen")
        if isinstance(chosen_value, dict):
            raise MappingError(
                '"chosen" is a single message and the row has no prompt (none of '
                f"{', '.join(_PROMPT_FIELDS)}).",
                code="missing_field",
                field="prompt",
            )
        chosen = _messages(chosen_value, "chosen", None)
        return (*_implicit_messages(chosen, rejected_value), "chosen")

    if not isinstance(rejected_value, (str, list, dict)):
        raise MappingError(
            f"expected a string, a message or a list of messages, got {_kind(rejected_value)}.",
            code="wrong_type",
            field="rejected",
        )
    value = row[source]
    slot = False
    style: tuple[str, str] | None = None
    if source == "instruction":
        prompt = _alpaca_prompt(row)
    elif source == "conversations":
        if not isinstance(value, list):
            raise MappingError(
                f"expected a list of messages, got {_kind(value)}.",
                code="wrong_type",
                field="conversations",
            )
        prompt = _messages(value, "conversations", None)
    else:
        start = _hh_start(value) if isinstance(value, str) else None
        if start is not None and start[1] == "user":
            style = start[0]
            prompt, slot = _hh_prompt(value, style)
        else:
            _refuse_malformed_hh(value, "prompt")
            prompt = _messages(value, "prompt", "user")
    if not prompt or not any(m["content"].strip() or m.get("tool_calls") for m in prompt):
        code = "empty_content" if isinstance(value, str) else "empty_conversation"
        raise MappingError("the prompt is empty.", code=code, field=source)

    chosen, text = _side(chosen_value, "chosen", prompt, slot=slot, style=style)
    if isinstance(chosen_value, dict) and chosen[0]["role"] != "assistant":
        raise MappingError(
            f'the chosen reply is a "{chosen[0]["role"]}" message, not an assistant\'s.',
            code="no_trainable_assistant",
            field="chosen",
        )
    if not any(m["role"] == "assistant" and m.get("weight") != 0 for m in chosen):
        raise MappingError(
            "no assistant message in chosen after the prompt: nothing to train on.",
            code="no_trainable_assistant",
            field="chosen",
        )
    if text and not slot and source in ("prompt", "instruction") and prompt[-1]["role"] == "user":
        _refuse_repeated_prompt(prompt[-1]["content"], chosen[0]["content"], rejected_value)
    conversation, end = _join(prompt, chosen, "chosen")
    rejected, _ = _side(rejected_value, "rejected", prompt, slot=slot, style=style)
    shared = _shared(conversation, _join(prompt, rejected, "rejected")[0])
    if shared >= len(conversation):
        raise MappingError(
            '"chosen" adds nothing to what it shares with "rejected": the row states no '
            "preference, and has no answer of its own to train on.",
            code="no_trainable_assistant",
            field="chosen",
        )
    # What chosen shares with rejected is context too (Capybara: the whole conversation but
    # its last answer): the preference says nothing about it.
    end = max(end, shared)
    return conversation[:end], conversation[end:], source


# -- OpenAI / Together / Fireworks DPO ----------------------------------------------------------


def _is_dpo(row: dict[str, Any]) -> bool:
    """Whether ``row`` is in the OpenAI DPO shape (or meant to be: one of its output fields, or an
    ``input`` object holding ``messages``; LLaMA-Factory's ``input`` is a string)."""
    prompt = row.get("input")
    return (
        row.get("preferred_output") is not None
        or row.get("non_preferred_output") is not None
        or (isinstance(prompt, dict) and "messages" in prompt)
    )


def _tool_calls(value: Any, field: str) -> list[dict[str, Any]]:
    """An assistant message's ``tool_calls``: a list of ``{"function": {"name", ...}}`` objects;
    ``arguments`` given as an object becomes its compact JSON text, as OpenAI requires (and as
    the built-in ``openai`` format writes it)."""
    if not isinstance(value, list) or not value:
        raise MappingError(
            f"expected a non-empty list of tool calls, got {_kind(value)}.",
            code="wrong_type",
            field=field,
        )
    calls = []
    for i, call in enumerate(value):
        function = call.get("function") if isinstance(call, dict) else None
        if not (isinstance(function, dict) and isinstance(function.get("name"), str)):
            raise MappingError(
                'expected a tool call {"id", "type": "function", "function": {"name", '
                '"arguments"}}.',
                code="wrong_type",
                field=f"{field}[{i}]",
            )
        arguments = function.get("arguments")
        if isinstance(arguments, dict):
            text = json.dumps(arguments, ensure_ascii=False, separators=(",", ":"))
            call = {**call, "function": {**function, "arguments": text}}
        calls.append(call)
    return calls


def _openai_message(item: Any, field: str) -> Message:
    """One OpenAI ``{role, content, name?, tool_calls?, tool_call_id?, weight?}`` message, checked
    so that a refusal names the row's field (``input.messages[1].content``), not the index of
    the message in the mapped conversation. Its training flag (``weight``, or axolotl's
    ``training``/``train``) is read; any other key is kept in the message's ``extra``."""
    if not isinstance(item, dict):
        raise MappingError(
            f"expected a message {{role, content}}, got {_kind(item)}.",
            code="wrong_type",
            field=field,
        )
    role = item.get("role")
    if role is None:
        raise MappingError("the message has no role.", code="missing_field", field=f"{field}.role")
    if role not in _CANONICAL:
        raise MappingError(
            f"unknown role {_quote(str(role))} (expected {', '.join(_CANONICAL)}).",
            code="unknown_role",
            field=f"{field}.role",
        )
    message: Message = {"role": role}
    calls = item.get("tool_calls")
    if calls is not None:
        if role != "assistant":
            raise MappingError(
                f"tool_calls on a {role} message: only assistant messages call tools.",
                code="wrong_type",
                field=f"{field}.tool_calls",
            )
        message["tool_calls"] = _tool_calls(calls, f"{field}.tool_calls")
    content = item.get("content")
    if content is None and calls is None:
        raise MappingError(
            "the message has no content (and no tool_calls).",
            code="missing_field",
            field=f"{field}.content",
        )
    text = "" if content is None else _text(content, f"{field}.content")
    if not text.strip() and calls is None:
        raise MappingError(
            "the message content is empty.", code="empty_content", field=f"{field}.content"
        )
    message["content"] = text
    if role == "tool":
        call_id = item.get("tool_call_id")
        if not (isinstance(call_id, str) and call_id):
            raise MappingError(
                "a tool message needs the tool_call_id of the call it answers.",
                code="missing_field" if call_id is None else "wrong_type",
                field=f"{field}.tool_call_id",
            )
        message["tool_call_id"] = call_id
    name = item.get("name")
    if name is not None:
        if not isinstance(name, str):
            raise MappingError(
                f"expected a string, got {_kind(name)}.", code="wrong_type", field=f"{field}.name"
            )
        message["name"] = name
    _flag(item, message, field)
    read = {"role", "content", "tool_calls", "name", "training_detail", *_FLAGS}
    if role == "tool":
        read.add("tool_call_id")
    _extra(item, read, message)
    message[_AT] = field
    return message


def _dpo_prompt(value: Any) -> list[Message]:
    """``input.messages``: the prompt, a non-empty list of messages, system ones first."""
    if value is None:
        raise MappingError(
            'the DPO row has no "input" (the prompt: {"messages": [...]}).',
            code="missing_field",
            field="input",
        )
    if not isinstance(value, dict):
        raise MappingError(
            f'expected an object {{"messages": [...], "tools"?}}, got {_kind(value)}.',
            code="wrong_type",
            field="input",
        )
    items = value.get("messages")
    if items is None:
        raise MappingError(
            '"input" has no "messages" (the prompt).', code="missing_field", field="input.messages"
        )
    if not isinstance(items, list):
        raise MappingError(
            f"expected a list of messages, got {_kind(items)}.",
            code="wrong_type",
            field="input.messages",
        )
    if not items:
        raise MappingError(
            "the prompt has no messages.", code="empty_conversation", field="input.messages"
        )
    prompt = [_openai_message(m, f"input.messages[{i}]") for i, m in enumerate(items)]
    started = False
    for i, message in enumerate(prompt):
        if message["role"] not in ("system", "developer"):
            started = True
        elif started:
            raise MappingError(
                f"a {message['role']} message after the conversation started.",
                code="system_not_first",
                field=f"input.messages[{i}].role",
            )
    return prompt


def _dpo_answer(value: Any) -> list[Message]:
    """``preferred_output``: the trained answer, a non-empty list of assistant messages."""
    if not isinstance(value, list):
        raise MappingError(
            f"expected a list of assistant messages, got {_kind(value)}.",
            code="wrong_type",
            field="preferred_output",
        )
    if not value:
        raise MappingError(
            "the preferred output has no messages: no assistant message to train on.",
            code="no_trainable_assistant",
            field="preferred_output",
        )
    answer = [_openai_message(m, f"preferred_output[{i}]") for i, m in enumerate(value)]
    for i, message in enumerate(answer):
        if message["role"] != "assistant":
            raise MappingError(
                f'preferred_output[{i}] is a "{message["role"]}" message: the preferred output '
                "holds the assistant's answer only.",
                code="no_trainable_assistant",
                field=f"preferred_output[{i}].role",
            )
    if all(m.get("weight") == 0 for m in answer):
        raise MappingError(
            "every message of the preferred output has weight 0: nothing to train on.",
            code="no_trainable_assistant",
            field="preferred_output",
        )
    return answer


def _map_dpo(row: dict[str, Any]) -> dict[str, Any]:
    """Shape 7: ``input.messages`` (untrained), then ``preferred_output`` (trained)."""
    for key in _DPO_CONFLICTS:
        if row.get(key) is not None:
            raise MappingError(
                f'the row has the OpenAI DPO fields ("input", "preferred_output", '
                f'"non_preferred_output") and "{key}" of another preference shape: cannot tell '
                "which one to read.",
                code="unsupported_format",
                field=key,
            )
    for key in ("preferred_output", "non_preferred_output"):
        if row.get(key) is None:
            raise MappingError(
                'a DPO row needs "preferred_output" and "non_preferred_output"; '
                f'"{key}" is missing.',
                code="missing_field",
                field=key,
            )
    prompt = _dpo_prompt(row.get("input"))
    answer = _dpo_answer(row["preferred_output"])
    rejected = row["non_preferred_output"]
    if not isinstance(rejected, list):
        raise MappingError(
            f"expected a list of assistant messages, got {_kind(rejected)}.",
            code="wrong_type",
            field="non_preferred_output",
        )
    for i, item in enumerate(rejected):
        if not isinstance(item, dict):
            raise MappingError(
                f"expected a message {{role, content}}, got {_kind(item)}.",
                code="wrong_type",
                field=f"non_preferred_output[{i}]",
            )
    system = [] if prompt[0]["role"] == "system" else _system(row)
    extras = {k: v for k, v in row["input"].items() if k not in _DPO_INPUT_READ}
    tools = row["input"].get("tools")
    if tools is not None and row.get("tools") is not None:
        raise MappingError(
            'the row has both "input.tools" and "tools": cannot tell which ones are offered.',
            code="unsupported_format",
            field="tools",
        )
    where = "input.tools" if tools is not None else "tools"
    if tools is None:
        tools = _json_text_list(row.get("tools"))
    if tools is not None and not (
        isinstance(tools, list) and all(isinstance(t, dict) for t in tools)
    ):
        raise MappingError("expected a list of tool objects.", code="wrong_type", field=where)
    metadata = {
        k: v for k, v in row.items() if k not in ("input", "preferred_output", "id", "tools")
    }
    metadata.pop("system", None)
    if extras:
        metadata["input"] = extras
    parallel = row["input"].get("parallel_tool_calls")
    if parallel is not None:
        if not isinstance(parallel, bool):
            raise MappingError(
                f"expected a boolean, got {_kind(parallel)}.",
                code="wrong_type",
                field="input.parallel_tool_calls",
            )
        if metadata.get("parallel_tool_calls", parallel) != parallel:
            raise MappingError(
                'the row has "input.parallel_tool_calls" and a different "parallel_tool_calls".',
                code="unsupported_format",
                field="parallel_tool_calls",
            )
        metadata["parallel_tool_calls"] = parallel
    return {
        "messages": system + _context(prompt) + _answer(answer),
        "id": _record_id(row),
        "tools": tools,
        "metadata": metadata,
    }


def _json_text_list(value: Any) -> Any:
    """LLaMA-Factory stores ``tools`` as JSON text: a string holding a list is that list."""
    if isinstance(value, str):
        try:
            parsed = json.loads(value)
        except ValueError:
            return value
        return parsed if isinstance(parsed, list) else value
    return value


def _record_id(row: dict[str, Any]) -> str | int | None:
    record_id = row.get("id")
    if record_id is not None and (
        isinstance(record_id, bool) or not isinstance(record_id, str | int)
    ):
        raise MappingError(
            f"expected a string or an integer, got {_kind(record_id)} {json.dumps(record_id)}.",
            code="wrong_type",
            field="id",
        )
    return record_id


def _refuse_media(row: dict[str, Any]) -> None:
    """LLaMA-Factory's multimodal rows (``images``, ``videos``, ``audios``): only text is trained
    here, and the text alone (``<image>`` placeholders included) would be, so they are refused,
    as brightingest's built-in formats refuse them."""
    for key in ("images", "videos", "audios"):
        if row.get(key) not in (None, [], {}, ""):
            raise MappingError(
                "a multimodal row: only text is trained here, and without its media the text "
                "(with placeholders such as <image>) would be trained alone.",
                code="wrong_type",
                field=key,
            )


def map_record(row: dict[str, Any]) -> dict[str, Any] | None:
    """Map one preference row to its chosen conversation (the format's ``map_record``).

    Args:
        row: A parsed JSON object.

    Returns:
        ``{"messages", "id", "tools", "metadata"}``: the messages (prompt side untrained,
        chosen trained); ``id`` and ``tools`` from the row's fields of those names (for the
        OpenAI DPO shape, ``tools`` from ``input.tools``); every field not read (``rejected``,
        ``non_preferred_output``, scores ...) as metadata, with a DPO row's
        ``input.parallel_tool_calls`` as ``parallel_tool_calls``. ``None`` for a row with
        neither ``chosen`` nor ``rejected`` nor the DPO fields (not preference data:
        ``unsupported_format``).

    Raises:
        MappingError: The row cannot become a conversation; ``code`` is the report category.
    """
    if not _is_dpo(row) and row.get("chosen") is None and row.get("rejected") is None:
        return None
    _refuse_media(row)
    if _is_dpo(row):
        return _map_dpo(row)
    for key in ("chosen", "rejected"):
        if row.get(key) is None:
            raise MappingError(
                f'a preference row needs "chosen" and "rejected"; "{key}" is missing.',
                code="missing_field",
                field=key,
            )
    system = _system(row)
    context, answer, source = _split(row)
    if context and context[0]["role"] == "system":  # as in LLaMA-Factory and the sharegpt format
        system = []
    _check_answer(answer, "the prompt" if source != "chosen" else 'what it shares with "rejected"')
    record_id = _record_id(row)
    tools = _json_text_list(row.get("tools"))
    if tools is not None and not (
        isinstance(tools, list) and all(isinstance(t, dict) for t in tools)
    ):
        raise MappingError("expected a list of tool objects.", code="wrong_type", field="tools")
    metadata = {k: v for k, v in row.items() if k not in _READ}
    return {
        "messages": system + _context(context) + _answer(answer),
        "id": record_id,
        "tools": tools,
        "metadata": metadata,
    }


SPEC = FormatSpec(
    name="trl-preference",
    version="4",
    description="preference data (TRL, LLaMA-Factory, UltraFeedback, HH-RLHF, OpenAI DPO) as the "
    "chosen conversation",
    detect=detect,
    map_record=map_record,
    transform=link_tool_calls,
)


@hookimpl
def brightingest_register_formats(register: Callable[[FormatSpec], None]) -> None:
    """Register the ``trl-preference`` format."""
    register(SPEC)
