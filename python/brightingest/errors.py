"""The brightingest exception hierarchy: the only place exceptions are defined.

Every error carries a stable ``code`` (which is also the report category, e.g.
``invalid_json`` or ``source_expired``), and where known the ``path``, the 1-based
``line`` in that file, the ``field`` and a ``hint`` saying what to do. ``str(exc)``
reads ``location: what is wrong`` followed by ``Hint: ...`` on its own line.

Catch :class:`BrightIngestError` to catch everything brightingest raises::

    BrightIngestError(Exception)
    ├── InputError(BrightIngestError, ValueError)   bad data in a user file
    │   ├── JsonlDecodeError                        invalid JSON / UTF-8, too long, too deep
    │   ├── MappingError                            a row cannot become chat messages
    │   └── NoRowsError                             0 rows kept; names the most common reason
    ├── FormatDetectionError(BrightIngestError, LookupError)   no match, a tie, a forced miss
    ├── PluginError(BrightIngestError)              a broken plugin, named with its package
    ├── SourceError(BrightIngestError, OSError)     expired signed URL, error page, size
    └── TrainerError(BrightIngestError)             bad config, empty label mask, resume
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "BrightIngestError",
    "FormatDetectionError",
    "InputError",
    "JsonlDecodeError",
    "MappingError",
    "NoRowsError",
    "PluginError",
    "SourceError",
    "TrainerError",
    "json_kind",
]


def json_kind(value: Any) -> str:
    """What kind of JSON value ``value`` (as :func:`json.loads` gives it) is, worded as the core
    words it in messages: ``"null"``, ``"a boolean"``, ``"a number"``, ``"a string"``,
    ``"an array"``, ``"an object"``. For error messages of plugins too::

        raise MappingError(f"expected a string, got {json_kind(value)}.", code="wrong_type")

    Example:
        >>> json_kind([1]), json_kind({}), json_kind(True), json_kind(None)
        ('an array', 'an object', 'a boolean', 'null')
    """
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, (list, tuple)):
        return "an array"
    if isinstance(value, dict):
        return "an object"
    return f"a {type(value).__name__} (not a JSON value)"


class BrightIngestError(Exception):
    """Base class of every error brightingest raises.

    Args:
        message: What is wrong, without the location prefix (it is added from ``path``/``line``
            unless ``located`` is true because the message already starts with it).
        code: Stable machine-readable code; for data errors, the report category.
        path: The file (or redacted URL) the error is about.
        line: 1-based line number in ``path``.
        field: The field path within the row, e.g. ``messages[2].role``.
        hint: What the user can do about it.
        located: ``message`` already starts with ``path:line:``.
    """

    default_code = "error"

    def __init__(
        self,
        message: str,
        *,
        code: str | None = None,
        path: str | None = None,
        line: int | None = None,
        field: str | None = None,
        hint: str | None = None,
        located: bool = False,
    ) -> None:
        self.message = message
        self.code = code or self.default_code
        self.path = path
        self.line = line
        self.field = field
        self.hint = hint
        self._located = located
        super().__init__(self._render())

    @property
    def location(self) -> str:
        """``path:line`` (or just ``path``), as it prefixes the message; empty if unknown."""
        if self.path is None:
            return ""
        return f"{self.path}:{self.line}" if self.line is not None else self.path

    def _render(self) -> str:
        text = self.message
        if not self._located:
            prefix = self.location
            if self.field and not text.startswith(f"{self.field}:"):
                text = f"{self.field}: {text}"
            if prefix:
                text = f"{prefix}: {text}"
        if self.hint:
            text = f"{text}\nHint: {self.hint}"
        return text

    def __str__(self) -> str:
        return self._render()

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready description: ``code``, ``message`` (full text), ``path``, ``line``, ..."""
        return {
            "type": type(self).__name__,
            "code": self.code,
            "message": str(self),
            "path": self.path,
            "line": self.line,
            "field": self.field,
            "hint": self.hint,
        }


class InputError(BrightIngestError, ValueError):
    """Bad data in a user file."""

    default_code = "input_error"


class JsonlDecodeError(InputError):
    """A line is not valid JSON / UTF-8, is too long, too deep, or has a duplicate key."""

    default_code = "invalid_json"


class MappingError(InputError):
    """A row is valid JSON but cannot become chat messages (missing field, unknown role...)."""

    default_code = "missing_field"


class NoRowsError(InputError):
    """No row was kept. ``.report`` holds the full ingest report; the message names the most
    common reason with an example line."""

    default_code = "no_rows"

    def __init__(self, message: str, *, report: Any = None, **kwargs: Any) -> None:
        self.report = report
        super().__init__(message, **kwargs)


class FormatDetectionError(BrightIngestError, LookupError):
    """No format matches, two formats match equally well, or a forced format matches no row."""

    default_code = "unsupported_format"

    def __init__(self, message: str, *, candidates: list[str] | None = None, **kwargs: Any):
        self.candidates = list(candidates or [])
        super().__init__(message, **kwargs)


class PluginError(BrightIngestError):
    """A plugin failed to import or broke the plugin contract; names the plugin and its package."""

    default_code = "plugin_error"

    def __init__(
        self,
        message: str,
        *,
        plugin: str | None = None,
        distribution: str | None = None,
        **kwargs: Any,
    ) -> None:
        self.plugin = plugin
        self.distribution = distribution
        super().__init__(message, **kwargs)


class SourceError(BrightIngestError, OSError):
    """A source could not be read or downloaded: expired signed URL, error body, size mismatch,
    missing file, corrupt compressed stream. URLs in the message are redacted."""

    default_code = "source_error"

    def __init__(self, message: str, *, status: int | None = None, **kwargs: Any) -> None:
        self.status = status
        super().__init__(message, **kwargs)


class TrainerError(BrightIngestError):
    """The trainer refused or failed: bad config, empty label mask, resume mismatch."""

    default_code = "training_failed"
