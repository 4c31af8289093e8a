"""brightingest: JSONL training data to Arrow chat tables, fast, with every line accounted for."""

from __future__ import annotations

from brightingest.errors import (
    BrightIngestError,
    FormatDetectionError,
    InputError,
    JsonlDecodeError,
    MappingError,
    NoRowsError,
    PluginError,
    SourceError,
    TrainerError,
)

__version__ = "0.1.0"

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
    "__version__",
]
