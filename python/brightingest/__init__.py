"""brightingest: JSONL training data to Arrow chat tables, fast, with every line accounted for.

Example:
    >>> import brightingest as bi
    >>> ds = bi.load("examples/brightrun_v4_sample.jsonl")  # doctest: +SKIP
    >>> ds.report.summary_line()  # doctest: +SKIP
    'Loaded 18 conversations (1 line skipped: 1 metadata)'

Importing this package is cheap: pyarrow, the compiled core and the plugins load on first use.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from brightingest import errors
from brightingest.api import ChatStream, detect, load, stream
from brightingest.dataset import ChatDataset
from brightingest.detect import Detection
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
from brightingest.plugins import FormatInfo, FormatSpec, hookimpl
from brightingest.report import IngestReport

if TYPE_CHECKING:
    from brightingest.api import formats
else:
    # The built-in formats package, callable as brightingest.api.formats(): importing any
    # brightingest.formats.* module rebinds this attribute to the package, so it is the package.
    from brightingest import formats

__version__ = "0.1.0"

__all__ = [
    "BrightIngestError",
    "ChatDataset",
    "ChatStream",
    "Detection",
    "FormatDetectionError",
    "FormatInfo",
    "FormatSpec",
    "IngestReport",
    "InputError",
    "JsonlDecodeError",
    "MappingError",
    "NoRowsError",
    "PluginError",
    "SourceError",
    "TrainerError",
    "__version__",
    "detect",
    "errors",
    "formats",
    "hookimpl",
    "load",
    "stream",
]
