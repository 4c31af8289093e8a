"""The ingest report: every line read is either a kept row or skipped under a category.

Invariant: ``rows_kept + sum(skipped.values()) == lines_read``, always.

Categories are public contract. The reader's: ``blank_line``, ``invalid_json``,
``invalid_utf8``, ``too_deep``, ``line_too_long``, ``truncated_line``, ``duplicate_key``. The
format layer's: ``metadata_line``, ``not_an_object``, ``unsupported_format``, ``missing_field``,
``wrong_type``, ``unknown_role``, ``empty_content``, ``empty_conversation``,
``no_trainable_assistant``, ``system_not_first``, ``invalid_weight``. ``blank_line`` and
``metadata_line`` are benign: skipped, but not bad.

Example:
    >>> r = IngestReport(
    ...     lines_read=20, rows_kept=18, skipped={"metadata_line": 1, "invalid_json": 1},
    ...     examples=[{"file": "a.jsonl", "line": 7, "category": "invalid_json", "message": "x"}],
    ... )
    >>> r.summary_line()
    'Loaded 18 conversations (2 lines skipped: 1 metadata, 1 invalid JSON at line 7)'
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from brightingest.detect import Detection

__all__ = [
    "BENIGN_CATEGORIES",
    "CATEGORIES",
    "FORMAT_CATEGORIES",
    "READER_CATEGORIES",
    "IngestReport",
]

#: Categories the reader produces.
READER_CATEGORIES: tuple[str, ...] = (
    "blank_line",
    "invalid_json",
    "invalid_utf8",
    "too_deep",
    "line_too_long",
    "truncated_line",
    "duplicate_key",
)
#: Categories the format layer produces.
FORMAT_CATEGORIES: tuple[str, ...] = (
    "metadata_line",
    "not_an_object",
    "unsupported_format",
    "missing_field",
    "wrong_type",
    "unknown_role",
    "empty_content",
    "empty_conversation",
    "no_trainable_assistant",
    "system_not_first",
    "invalid_weight",
)
#: Every public category.
CATEGORIES: tuple[str, ...] = READER_CATEGORIES + FORMAT_CATEGORIES
#: Skipped but not bad.
BENIGN_CATEGORIES: frozenset[str] = frozenset({"blank_line", "metadata_line"})

_LABELS = {
    "blank_line": "blank",
    "metadata_line": "metadata",
    "invalid_json": "invalid JSON",
    "invalid_utf8": "invalid UTF-8",
    "too_deep": "too deeply nested",
    "line_too_long": "too long",
    "truncated_line": "truncated",
}


def _label(category: str) -> str:
    return _LABELS.get(category, category.replace("_", " "))


def _plural(n: int, word: str) -> str:
    return f"{n:,} {word}" if n == 1 else f"{n:,} {word}s"


@dataclass
class IngestReport:
    """What happened to every line of an ingest.

    Attributes:
        lines_read: Lines read (blank and metadata lines included).
        rows_kept: Rows in the table.
        skipped: Lines skipped, by category.
        examples: The first few skipped lines of each category:
            ``{"file", "line", "category", "message"}``.
        formats: Rows kept, by the format that mapped them.
        bytes_read: Bytes read from the sources (decompressed).
        files: The files read (display names; URLs redacted).
        file_metadata: Metadata lines: ``{"file", "line", "value"}``.
        detection: How the format was chosen (``None`` if there was nothing to detect from).
        policy: The bad-row policy (``skip``, ``strict`` or ``quarantine``).
        quarantine: The quarantine file, under ``policy="quarantine"``.
    """

    lines_read: int = 0
    rows_kept: int = 0
    skipped: dict[str, int] = field(default_factory=dict)
    examples: list[dict[str, Any]] = field(default_factory=list)
    formats: dict[str, int] = field(default_factory=dict)
    bytes_read: int = 0
    files: list[str] = field(default_factory=list)
    file_metadata: list[dict[str, Any]] = field(default_factory=list)
    detection: Detection | None = None
    policy: str = "skip"
    quarantine: str | None = None

    @classmethod
    def from_core(
        cls,
        data: Mapping[str, Any],
        *,
        detection: Detection | None = None,
        policy: str = "skip",
        quarantine: str | None = None,
    ) -> IngestReport:
        """Build from the core reader's ``report()`` dict."""
        return cls(
            lines_read=int(data.get("lines_read", 0)),
            rows_kept=int(data.get("rows_kept", 0)),
            skipped={str(k): int(v) for k, v in dict(data.get("skipped", {})).items() if v},
            examples=[dict(e) for e in data.get("examples", [])],
            formats={str(k): int(v) for k, v in dict(data.get("formats", {})).items() if v},
            bytes_read=int(data.get("bytes_read", 0)),
            files=[str(f) for f in data.get("files", [])],
            file_metadata=[dict(m) for m in data.get("file_metadata", [])],
            detection=detection,
            policy=policy,
            quarantine=quarantine,
        )

    @property
    def lines_skipped(self) -> int:
        """Lines skipped, all categories."""
        return sum(self.skipped.values())

    @property
    def bad_lines(self) -> int:
        """Lines skipped for a reason other than being blank or a metadata line."""
        return sum(n for c, n in self.skipped.items() if c not in BENIGN_CATEGORIES)

    @property
    def bad_ratio(self) -> float:
        """``bad_lines / lines_read`` (0 when nothing was read)."""
        return self.bad_lines / self.lines_read if self.lines_read else 0.0

    def example(self, category: str) -> dict[str, Any] | None:
        """The first example of ``category``, if one was kept."""
        return next((e for e in self.examples if e.get("category") == category), None)

    def most_common_reason(self) -> tuple[str, dict[str, Any] | None] | None:
        """The most common bad category (benign ones only if nothing is bad) and an example.

        Returns:
            ``(category, example)`` (the example may be ``None`` if none was kept), or ``None``
            when nothing was skipped.
        """
        if not self.skipped:
            return None
        order = self.categories_in_order()
        bad = [c for c in order if c not in BENIGN_CATEGORIES]
        pool = bad or order
        category = max(pool, key=lambda c: (self.skipped[c], -order.index(c)))
        return category, self.example(category)

    def categories_in_order(self) -> list[str]:
        """Skipped categories in the order their first example appears in the input (those
        without an example last)."""
        files = {name: i for i, name in enumerate(self.files)}
        first: dict[str, tuple[int, int]] = {}
        for example in self.examples:
            category = str(example.get("category"))
            where = (files.get(str(example.get("file")), len(files)), int(example.get("line", 0)))
            if category in self.skipped:
                first[category] = min(first.get(category, where), where)
        last = (len(files) + 1, 0)
        return sorted(self.skipped, key=lambda c: first.get(c, last))

    def add_skip(
        self,
        category: str,
        *,
        file: str,
        line: int,
        message: str,
        max_examples: int = 5,
        field: str | None = None,
    ) -> None:
        """Move one kept row to ``skipped[category]`` (for rows rejected after the core)."""
        self.rows_kept -= 1
        self.skipped[category] = self.skipped.get(category, 0) + 1
        if sum(1 for e in self.examples if e.get("category") == category) < max_examples:
            example: dict[str, Any] = {
                "file": file,
                "line": line,
                "category": category,
                "message": message,
            }
            if field is not None:
                example["field"] = field
            self.examples.append(example)

    def _where(self, example: Mapping[str, Any]) -> str:
        if len(self.files) > 1:
            return f"{example.get('file')}:{example.get('line')}"
        return f"line {example.get('line')}"

    def summary_line(self) -> str:
        """One line for humans.

        Example: ``Loaded 18 conversations (2 lines skipped: 1 metadata, 1 invalid JSON at line
        7)``.
        """
        text = f"Loaded {_plural(self.rows_kept, 'conversation')}"
        if not self.lines_skipped:
            return text
        parts = []
        for category in self.categories_in_order():
            n = self.skipped[category]
            part = f"{n} {_label(category)}"
            example = self.example(category)
            if category not in BENIGN_CATEGORIES and example is not None:
                where = self._where(example)
                part += f" at {where}" if n == 1 else f" (first at {where})"
            parts.append(part)
        return f"{text} ({_plural(self.lines_skipped, 'line')} skipped: {', '.join(parts)})"

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form: ``lines_read``, ``rows_kept``, ``skipped``, ``examples``,
        ``formats``, plus ``bytes_read``, ``files``, ``file_metadata``, ``detection``,
        ``policy`` (and ``quarantine`` when set)."""
        data: dict[str, Any] = {
            "lines_read": self.lines_read,
            "rows_kept": self.rows_kept,
            "skipped": dict(self.skipped),
            "examples": [dict(e) for e in self.examples],
            "formats": dict(self.formats),
            "bytes_read": self.bytes_read,
            "files": list(self.files),
            "file_metadata": [dict(m) for m in self.file_metadata],
            "detection": self.detection.to_dict() if self.detection is not None else None,
            "policy": self.policy,
        }
        if self.quarantine is not None:
            data["quarantine"] = self.quarantine
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> IngestReport:
        """Inverse of :meth:`to_dict`."""
        detection = data.get("detection")
        return cls.from_core(
            data,
            detection=Detection.from_dict(detection) if detection else None,
            policy=str(data.get("policy", "skip")),
            quarantine=data.get("quarantine"),
        )
