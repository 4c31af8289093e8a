"""Built-in format ``question-answer``: ``{"question", "answer", "context"?, "system"?}``.

Question-answer rows, as GSM8K and many reasoning and QA sets ship them: ``question`` is the
user message (a ``context`` or ``input`` passage, when the row has one, is joined after it,
blank line between, so that an answer drawn from it is never trained without it), ``answer``
the trained assistant message (GSM8K's worked solution and ``#### 72`` final answer included,
as written); ``system`` or ``system_prompt`` (optional) comes first; ``id`` is the ``id``
column; every other field is kept in ``metadata``. An ``answer`` that is not text (SQuAD's
``answers`` spans, a number) is refused as ``wrong_type``, never stringified.
"""

from __future__ import annotations

from collections.abc import Callable

from brightingest.mapping import Mapping, Message
from brightingest.plugins import FormatSpec, fields_score, hookimpl

__all__ = ["SPEC", "brightingest_register_formats"]

SPEC = FormatSpec(
    name="question-answer",
    version="1",
    description="question/answer pairs: {question, answer, context?, system?}",
    detect=fields_score(
        required=("question", "answer"),
        optional=("context", "input", "system", "system_prompt", "id"),
    ),
    mapping=Mapping(
        signature=("question", "answer"),
        parts=(
            Message("system", "system", optional=True),
            Message("system", "system_prompt", optional=True),
            Message("user", ("question", "context", "input")),
            Message("assistant", "answer"),
        ),
        id="id",
        metadata="rest",
    ),
)


@hookimpl
def brightingest_register_formats(register: Callable[[FormatSpec], None]) -> None:
    """Register the ``question-answer`` format."""
    register(SPEC)
