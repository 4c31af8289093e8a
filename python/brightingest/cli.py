"""The command line: ``python -m brightingest`` and the ``brightingest`` console script.

Commands: ``inspect``, ``validate``, ``convert``, ``fetch``, ``formats`` and ``train``. Each takes
``--json`` (exactly one JSON document on standard output, nothing else there). Log lines
(``Downloaded 12.4 MB in 1.3 s``, ``Loaded 17 conversations (...)``) and errors go to standard
error; results (tables) to standard output, drawn with rich on a terminal and as plain aligned
text otherwise. Progress bars appear only on a terminal.

Exit status (also in ``--help`` and the README):

* 0: success.
* 1: the data failed the checks: 0 rows kept, a format that does not match (``--format``),
  a line that ``--policy strict`` rejects, ``validate`` thresholds, nothing left after
  ``--where``, a failed training run.
* 2: usage error: bad arguments or ``--where`` expression, an unknown format name, a broken
  format plugin (``PluginError``: the installation, not the data, is at fault), a missing
  optional extra (``[train]``, ``transformers`` for ``--tokenizer``), a bad training
  configuration or model path (``TrainerError`` codes ``bad_config``, ``bad_model``, ...).
* 3: a source could not be read or downloaded (``SourceError``: missing file, expired signed
  URL, HTTP error, error page, empty or cut-short download), or the output could not be written.

Errors print ``error: <message>`` and the ``Hint:`` line, never a traceback for a
:class:`~brightingest.errors.BrightIngestError`; every URL in any output is redacted (signed
URLs carry their credential in the query string).
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import importlib.util
import json
import logging
import math
import os
import re
import sys
import time
import traceback
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import IO, Any, NoReturn

from brightingest.errors import (
    BrightIngestError,
    FormatDetectionError,
    InputError,
    NoRowsError,
    PluginError,
    SourceError,
    TrainerError,
)

__all__ = [
    "EXIT_DATA",
    "EXIT_OK",
    "EXIT_SOURCE",
    "EXIT_USAGE",
    "build_parser",
    "exit_code_for",
    "main",
]

EXIT_OK = 0
EXIT_DATA = 1
EXIT_USAGE = 2
EXIT_SOURCE = 3

TRAIN_HINT = 'pip install "brightingest[train]"'
_TRAIN_DEPS = ("torch", "transformers", "peft", "tokenizers", "safetensors")
#: Codes of the errors the CLI raises for usage problems (exit 2).
_USAGE_CODES = frozenset(
    {
        "usage_error",
        "unknown_format",
        "bad_where",
        "missing_extra",
        "bad_tokenizer",
        # TrainerError codes for a bad setup rather than bad data:
        "bad_config",
        "bad_model",
        "missing_dependency",
    }
)

EXIT_STATUS_HELP = """\
exit status:
  0  success
  1  the data failed the checks: 0 rows kept, a format that does not match,
     a line rejected by --policy strict, validate thresholds, nothing left
     after --where, a failed training run
  2  usage error: bad arguments or --where expression, unknown format,
     a broken format plugin, a missing optional extra ([train], transformers),
     a bad training config or model path
  3  a source could not be read or downloaded (missing file, expired signed
     URL, HTTP error, error page, empty or cut-short download), or the output
     could not be written
"""

WHERE_HELP = """\
--where EXPR keeps the rows that match EXPR, e.g.
  training_metadata.quality_score >= 4
  training_metadata.tags contains "wellbeing" and not emotional_context.intensity > 0.8
  format in ["brightrun-v4", "openai"] or id == null
Paths go into the row's metadata (nested with dots); the bare names id, format,
source_file and source_line are the table's columns (id is text: a numeric id 7
is id == "7"; a metadata key named like a column is metadata.format, as
`inspect` shows it). Operators: == != >= <= > <
in, not in, contains; values: numbers, "strings", true, false, null, [lists];
combine with and, or, not and parentheses. A missing field equals null and
fails every other comparison.
"""


# ---------------------------------------------------------------------------------------------
# Redaction and output


def _scrub(text: str) -> str:
    """Remove every URL query string and credential from text that is about to be shown."""
    from brightingest._signed import redact_text

    # Text redacted once already keeps its "?<redacted>" (redact_text alone would read
    # "...jsonl?" as a URL with an empty query and drop the "?").
    marker = "\x00REDACTED\x00"
    return redact_text(text.replace("?<redacted>", marker)).replace(marker, "?<redacted>")


def _json_default(obj: Any) -> Any:
    if hasattr(obj, "to_dict"):
        return obj.to_dict()
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return dataclasses.asdict(obj)
    if isinstance(obj, (Path, os.PathLike)):
        return os.fspath(obj)
    if isinstance(obj, (set, frozenset, tuple)):
        return list(obj)
    if isinstance(obj, float) and (math.isnan(obj) or math.isinf(obj)):
        return None
    return str(obj)


def _human_bytes(n: int | float) -> str:
    value = float(n)
    for unit in ("B", "kB", "MB", "GB", "TB"):
        if abs(value) < 1000 or unit == "TB":
            return f"{int(value)} B" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1000
    return f"{value:.1f} TB"  # pragma: no cover - loop always returns


def _fmt(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, (list, dict)):
        return json.dumps(value, ensure_ascii=False)
    return str(value)


def _clip(text: str, limit: int = 80) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


class Output:
    """Where each kind of output goes: results to stdout, log lines and errors to stderr.

    Args:
        json_mode: ``--json``: stdout gets one JSON document and nothing else.
        quiet: ``-q``: no log lines and no human results; errors still print.
        stdout: Result stream (default ``sys.stdout``).
        stderr: Log/error stream (default ``sys.stderr``).
    """

    def __init__(
        self,
        *,
        json_mode: bool = False,
        quiet: bool = False,
        stdout: IO[str] | None = None,
        stderr: IO[str] | None = None,
    ) -> None:
        self.json_mode = json_mode
        self.quiet = quiet
        self.stdout = stdout if stdout is not None else sys.stdout
        self.stderr = stderr if stderr is not None else sys.stderr
        self._json_written = False
        try:
            self.rich = bool(self.stdout.isatty()) and os.environ.get("TERM") != "dumb"
        except (AttributeError, ValueError):
            self.rich = False

    def info(self, text: str) -> None:
        """A log line on stderr (not with ``-q``)."""
        if not self.quiet:
            print(_scrub(text), file=self.stderr, flush=True)

    def error(self, text: str) -> None:
        """An ``error: ...`` block on stderr (always)."""
        print(f"error: {_scrub(text)}", file=self.stderr, flush=True)

    def line(self, text: str = "") -> None:
        """A human result line on stdout (not with ``--json`` or ``-q``)."""
        if not (self.json_mode or self.quiet):
            print(_scrub(text), file=self.stdout)

    def document(self, doc: Any) -> None:
        """The one JSON document of a ``--json`` run (later calls are ignored)."""
        if not self.json_mode or self._json_written:
            return
        self._json_written = True
        text = json.dumps(doc, ensure_ascii=False, indent=2, default=_json_default, allow_nan=False)
        print(_scrub(text), file=self.stdout, flush=True)

    def table(
        self,
        title: str,
        headers: Sequence[str],
        rows: Sequence[Sequence[Any]],
        *,
        align: str | None = None,
    ) -> None:
        """A table on stdout: rich on a terminal, aligned plain text otherwise.

        Args:
            title: Shown above the table.
            headers: Column names.
            rows: Cells (formatted with :func:`_fmt` unless already strings).
            align: One letter per column, ``l`` or ``r`` (default: numbers right).
        """
        if self.json_mode or self.quiet:
            return
        cells = [[c if isinstance(c, str) else _fmt(c) for c in row] for row in rows]
        if align is None:
            align = "".join(
                "r"
                if rows
                and all(isinstance(r[i], (int, float)) and not isinstance(r[i], bool) for r in rows)
                else "l"
                for i in range(len(headers))
            )
        if self.rich:
            from rich.console import Console
            from rich.table import Table

            table = Table(
                title=title, title_justify="left", title_style="bold", show_header=any(headers)
            )
            for i, h in enumerate(headers):
                table.add_column(h, justify="right" if align[i] == "r" else "left", overflow="fold")
            for row in cells:
                table.add_row(*[_scrub(c) for c in row])
            Console(file=self.stdout).print(table)
            return
        widths = [len(h) for h in headers]
        for row in cells:
            for i, c in enumerate(row):
                widths[i] = max(widths[i], len(c))

        def render(row: Sequence[str]) -> str:
            out = []
            for i, c in enumerate(row):
                last = i == len(row) - 1
                if align[i] == "r":
                    out.append(c.rjust(widths[i]))
                else:
                    out.append(c if last else c.ljust(widths[i]))
            return "  " + "  ".join(out).rstrip()

        lines = [title] + ([render(list(headers))] if any(headers) else [])
        lines += [render(row) for row in cells]
        print(_scrub("\n".join(lines)), file=self.stdout)
        print(file=self.stdout)


class _LogFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        return _scrub(super().format(record))


def _setup_logging(out: Output, verbose: bool) -> logging.Handler:
    handler = logging.StreamHandler(out.stderr)
    handler.setFormatter(_LogFormatter("%(message)s"))
    logger = logging.getLogger("brightingest")
    logger.addHandler(handler)
    level = logging.DEBUG if verbose else logging.WARNING if out.quiet else logging.INFO
    logger.setLevel(level)
    logger.propagate = False
    return handler


# ---------------------------------------------------------------------------------------------
# Errors and exit codes


def exit_code_for(exc: BaseException) -> int:
    """The exit status for an exception (see the module docs).

    Args:
        exc: What was raised.

    Returns:
        3 for :class:`SourceError` and other ``OSError``; 2 for :class:`PluginError`, plain
        ``ValueError`` (wrong arguments) and missing optional modules; 1 for data errors
        (:class:`InputError`, :class:`FormatDetectionError`, :class:`TrainerError`) and anything
        unexpected.
    """
    if isinstance(exc, SourceError) or getattr(exc, "code", None) == "output_error":
        return EXIT_SOURCE
    if isinstance(exc, PluginError) or getattr(exc, "code", None) in _USAGE_CODES:
        return EXIT_USAGE
    if isinstance(exc, (InputError, FormatDetectionError, TrainerError, BrightIngestError)):
        return EXIT_DATA
    if isinstance(exc, ImportError):
        return EXIT_USAGE
    if isinstance(exc, OSError):
        return EXIT_SOURCE
    if isinstance(exc, ValueError):
        return EXIT_USAGE
    return EXIT_DATA


def _error_doc(
    command: str | None, code: int, error: dict[str, Any], **extra: Any
) -> dict[str, Any]:
    doc: dict[str, Any] = {"ok": False, "command": command, "exit_code": code, "error": error}
    doc.update(extra)
    return doc


def _usage_error(
    message: str, hint: str | None = None, *, code: str = "usage_error"
) -> BrightIngestError:
    """A usage error the CLI itself finds (exit 2); ``code`` says which."""
    return BrightIngestError(message, code=code, hint=hint)


def _error_dict(exc: BrightIngestError) -> dict[str, Any]:
    """``exc.to_dict()`` for a ``--json`` document, its message and hint naming the flags."""
    doc = exc.to_dict()
    for key in ("message", "hint"):
        if isinstance(doc.get(key), str):
            doc[key] = _for_the_command_line(doc[key])
    return doc


def _for_the_command_line(text: str) -> str:
    """Library hints name keyword arguments (``format="openai"``); say the flags instead."""
    text = re.sub(r'\bformat="([\w.-]+)"', r"--format \1", text)
    text = re.sub(r"\bdrop format=", "drop --format", text)
    text = re.sub(r"\bformat=(?=[\s,.;)]|$)", "--format", text)
    return re.sub(r'\bpolicy="(\w+)"', r"--policy \1", text)


# ---------------------------------------------------------------------------------------------
# Argument parsing


class _Parser(argparse.ArgumentParser):
    """argparse with our error format: ``error: ...`` + hint, exit 2, URLs redacted, and a JSON
    document on stdout when ``--json`` was asked for."""

    def __init__(self, *args: Any, state: dict[str, Any] | None = None, **kwargs: Any) -> None:
        kwargs.setdefault("formatter_class", argparse.RawDescriptionHelpFormatter)
        super().__init__(*args, **kwargs)
        self._state = state if state is not None else {}

    def error(self, message: str) -> NoReturn:
        self.print_usage(sys.stderr)
        hint = f"run `{self.prog} --help` for the options."
        print(f"error: {_scrub(message)}\nHint: {hint}", file=sys.stderr)
        self._state["usage_error"] = {
            "type": "UsageError",
            "code": "usage_error",
            "message": _scrub(message),
            "path": None,
            "line": None,
            "field": None,
            "hint": hint,
        }
        raise SystemExit(EXIT_USAGE)


def _size(text: str) -> int:
    """``--max-line-bytes``: an integer with an optional K/M/G (binary) suffix."""
    m = re.fullmatch(r"\s*(\d+)\s*([kKmMgG]?)(i?[bB])?\s*", text)
    if not m:
        raise argparse.ArgumentTypeError(f"expected a size like 1048576, 64M or 1G, got {text!r}")
    return int(m.group(1)) << {"": 0, "k": 10, "m": 20, "g": 30}[m.group(2).lower()]


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a number >= 1, got {value}")
    return value


def _non_negative_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected a number >= 0, got {value}")
    return value


def _ratio(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected a ratio between 0 and 1, got {text!r}"
        ) from None
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"expected a ratio between 0 and 1, got {value}")
    return value


def _add_output_flags(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("output")
    g.add_argument("--json", action="store_true", help="print one JSON document on stdout")
    g.add_argument(
        "-q", "--quiet", action="store_true", help="no log lines or tables (errors only)"
    )
    g.add_argument(
        "--progress",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="progress bars on stderr (default: only on a terminal)",
    )
    g.add_argument("-v", "--verbose", action="store_true", help="debug log lines")


def _add_data_flags(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "sources",
        nargs="+",
        metavar="SOURCE",
        help="files, globs, directories, http(s) URLs, or - for standard input",
    )
    g = p.add_argument_group("reading")
    g.add_argument(
        "--format",
        default="auto",
        metavar="F",
        help="input format (default: auto-detect; see `brightingest formats`)",
    )
    g.add_argument(
        "--policy",
        choices=("skip", "strict", "quarantine"),
        default=None,
        help="bad lines: skip and report them (default), stop at the first (strict), or also "
        "keep them in a side file (quarantine; default <first source>.quarantine.jsonl)",
    )
    g.add_argument(
        "--quarantine",
        metavar="FILE",
        default=None,
        help="keep skipped lines verbatim, with file and line, as JSONL "
        "(implies --policy quarantine)",
    )
    g.add_argument(
        "--threads",
        type=_positive_int,
        default=None,
        metavar="N",
        help="reader threads (default: all cores)",
    )
    g.add_argument(
        "--max-line-bytes",
        type=_size,
        default=1 << 30,
        metavar="SIZE",
        help="longer lines are skipped as line_too_long (default: 1G)",
    )


def _add_selection_flags(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("selection")
    g.add_argument(
        "--where", metavar="EXPR", default=None, help="keep rows matching EXPR (see below)"
    )
    g.add_argument(
        "--dedup", action="store_true", help="drop exact duplicate conversations (first kept)"
    )


def _add_tokenizer_flags(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("tokens")
    g.add_argument(
        "--tokenizer",
        metavar="NAME_OR_PATH",
        default=None,
        help="count tokens with this tokenizer (a local directory; needs transformers)",
    )
    g.add_argument(
        "--max-length",
        type=_positive_int,
        default=None,
        metavar="N",
        help="with --tokenizer: count rows longer than N tokens",
    )


def build_parser(
    *, train: Callable[[argparse.ArgumentParser], None] | None = None
) -> argparse.ArgumentParser:
    """The argument parser.

    Args:
        train: Called with the ``train`` subparser to add the trainer's own options
            (``brightingest.train.cli.add_arguments``); left out, ``train`` has only the ingest
            options, so that ``--help`` never imports the trainer.

    Returns:
        The parser; ``args.command`` names the subcommand.
    """
    from brightingest import __version__

    state: dict[str, Any] = {}
    parser = _Parser(
        prog="brightingest",
        description="Read chat fine-tuning data (JSONL, gzip, zstd) into one normalized table, "
        "with every line accounted for; check, convert, fetch and train.",
        epilog=EXIT_STATUS_HELP + "\nexamples:\n"
        "  brightingest inspect examples/brightrun_v4_sample.jsonl\n"
        "  brightingest validate data/*.jsonl --max-bad-ratio 0.01 --min-rows 1000\n"
        "  brightingest convert data.jsonl -o train.jsonl --dedup \\\n"
        "      --where 'training_metadata.quality_score >= 4'\n"
        '  brightingest fetch "$SIGNED_URL" -o data.jsonl\n',
        state=state,
    )
    parser.add_argument("--version", action="version", version=f"brightingest {__version__}")
    sub = parser.add_subparsers(
        dest="command",
        metavar="COMMAND",
    )
    sub.required = True

    p = sub.add_parser(
        "inspect",
        help="what is in the data: format, counts, skipped lines, statistics, duplicates",
        description="Detect the format, read every line and report: lines read, rows kept, "
        "skipped lines by category with file:line examples, conversation statistics, "
        "metadata fields, exact duplicates and (with --tokenizer) token counts.",
        epilog=WHERE_HELP + "\n" + EXIT_STATUS_HELP,
    )
    _add_data_flags(p)
    g = p.add_argument_group("inspect")
    g.add_argument(
        "--where", metavar="EXPR", default=None, help="inspect only the rows matching EXPR"
    )
    g.add_argument(
        "--examples",
        type=_non_negative_int,
        default=5,
        metavar="N",
        help="examples per section (default 5)",
    )
    _add_tokenizer_flags(p)
    _add_output_flags(p)

    p = sub.add_parser(
        "validate",
        help="the same checks for CI: the exit status says pass (0) or fail (1)",
        description="Read the data and check it against thresholds; exit 0 if every check "
        "passes, 1 if one fails.",
        epilog=EXIT_STATUS_HELP,
    )
    _add_data_flags(p)
    g = p.add_argument_group("checks")
    g.add_argument(
        "--max-bad-ratio",
        type=_ratio,
        default=0.0,
        metavar="R",
        help="fail if more than this fraction of lines is bad (blank and metadata lines are "
        "not bad; default 0: any bad line fails)",
    )
    g.add_argument(
        "--min-rows",
        type=_non_negative_int,
        default=1,
        metavar="N",
        help="fail with fewer rows kept (default 1)",
    )
    g.add_argument(
        "--max-duplicate-ratio",
        type=_ratio,
        default=None,
        metavar="R",
        help="fail if more than this fraction of rows are exact duplicates (default: not checked)",
    )
    _add_tokenizer_flags(p)
    g.add_argument(
        "--examples", type=_non_negative_int, default=5, metavar="N", help=argparse.SUPPRESS
    )
    _add_output_flags(p)

    p = sub.add_parser(
        "convert",
        help="write the normalized table as OpenAI JSONL, Parquet or Arrow",
        description="Read, optionally filter and deduplicate, and write the normalized table. "
        "The output appears atomically (complete) or not at all.",
        epilog=WHERE_HELP + "\n" + EXIT_STATUS_HELP,
    )
    _add_data_flags(p)
    p.add_argument("-o", "--output", required=True, metavar="OUT", help="the output file")
    p.add_argument(
        "--to",
        choices=("openai", "parquet", "arrow"),
        default=None,
        help="output format (default: from OUT's suffix: .jsonl openai, .parquet, .arrow/.feather)",
    )
    _add_selection_flags(p)
    _add_output_flags(p)

    p = sub.add_parser(
        "fetch",
        help="download a URL the way the trainer does: checked, retried, atomic",
        description="Download URL to FILE: signed-URL expiry checked first, error pages and "
        "JSON error bodies refused, Content-Length enforced, retried with backoff, written to "
        "a temporary file and renamed only when complete.",
        epilog=EXIT_STATUS_HELP,
    )
    p.add_argument("url", metavar="URL")
    p.add_argument(
        "-o", "--output", required=True, metavar="FILE", help="destination file (or directory)"
    )
    p.add_argument(
        "--timeout",
        type=float,
        default=30.0,
        metavar="S",
        help="seconds without data before retrying (default 30)",
    )
    p.add_argument(
        "--retries",
        type=_non_negative_int,
        default=4,
        metavar="N",
        help="retries after a transient failure (default 4)",
    )
    p.add_argument(
        "--backoff",
        type=float,
        default=0.5,
        metavar="S",
        help="first wait between retries, doubling each time (default 0.5)",
    )
    p.add_argument(
        "--min-bytes",
        type=_non_negative_int,
        default=1,
        metavar="N",
        help="fail below this size (default 1)",
    )
    _add_output_flags(p)

    p = sub.add_parser(
        "formats",
        help="the installed format plugins, their versions and packages",
        description="List the installed format plugins.",
        epilog=EXIT_STATUS_HELP,
    )
    _add_output_flags(p)

    p = sub.add_parser(
        "train",
        help=f"LoRA fine-tune on the data (needs {TRAIN_HINT})",
        description="Read the data like `inspect` (same --format/--policy), refuse to start on "
        "0 rows, then train (the trainer's options follow).",
        epilog=WHERE_HELP + "\n" + EXIT_STATUS_HELP,
        conflict_handler="resolve",
    )
    _add_data_flags(p)
    _add_selection_flags(p)
    _add_output_flags(p)
    if train is not None:
        train(p)
    # The trainer's add_arguments may define these itself; add them only where it did not.
    if "--model" not in p._option_string_actions:
        p.add_argument("--model", required=True, metavar="M", help="base model (a local directory)")
    if not {"-o", "--output"} & set(p._option_string_actions):
        p.add_argument("-o", "--output", required=True, metavar="OUT", help="output directory")
    for subparser in sub.choices.values():
        if isinstance(subparser, _Parser):
            subparser._state = state  # one place for the usage error, whichever parser saw it
    parser.set_defaults(_state=state)
    return parser


# ---------------------------------------------------------------------------------------------
# Shared ingest


def _policy(args: argparse.Namespace) -> tuple[str, str | None]:
    policy = args.policy
    quarantine = args.quarantine
    if quarantine is not None and policy is None:
        policy = "quarantine"
    if policy is None:
        policy = "skip"
    if quarantine is not None and policy != "quarantine":
        raise _usage_error(
            f"--quarantine FILE works with --policy quarantine, not --policy {policy}.",
            "drop --policy, or pass --policy quarantine.",
        )
    return policy, quarantine


def _parse_where(args: argparse.Namespace) -> Any:
    text = getattr(args, "where", None)
    if text is None:
        return None
    from brightingest.where import parse_where

    try:
        return parse_where(text)
    except ValueError as exc:
        raise _usage_error(
            f"--where: {exc}",
            "see `brightingest convert --help` for the grammar.",
            code="bad_where",
        ) from None


def _read_options(args: argparse.Namespace, out: Output) -> dict[str, Any]:
    """The keyword arguments of ``brightingest.load``/``stream`` that the data flags set."""
    from brightingest._progress import progress_enabled

    policy, quarantine = _policy(args)
    return {
        "format": args.format,
        "policy": policy,
        "quarantine": quarantine,
        "threads": args.threads,
        "max_line_bytes": args.max_line_bytes,
        "progress": progress_enabled(args.progress, quiet=out.quiet),
    }


def _ingest(args: argparse.Namespace, out: Output) -> Any:
    """Load the sources as ``brightingest.load`` does; returns the ChatDataset."""
    from brightingest.api import load

    kwargs = _read_options(args, out)
    started = time.monotonic()
    ds = load(args.sources, **kwargs)
    elapsed = time.monotonic() - started
    out.info(_read_summary(ds.report, elapsed))
    return ds


def _read_summary(report: Any, elapsed: float | None = None) -> str:
    """ "Loaded N conversations (...) from 1.0 GB in 2.0 s": the log line after a read."""
    line = str(report.summary_line())
    if report.bytes_read:
        line += f" from {_human_bytes(report.bytes_read)}"
    return line if elapsed is None else f"{line} in {elapsed:.1f} s"


def _filter(ds: Any, args: argparse.Namespace, out: Output) -> tuple[Any, dict[str, Any]]:
    """Apply --where and --dedup; returns the table and what they removed."""
    import pyarrow as pa

    table: pa.Table = ds.table
    info: dict[str, Any] = {}
    expr = _parse_where(args)
    if expr is not None:
        from brightingest.where import filter_mask

        before = table.num_rows
        table = table.filter(filter_mask(table, expr))
        info["where"] = args.where
        info["rows_matched"] = table.num_rows
        info["rows_filtered_out"] = before - table.num_rows
        out.info(f"--where kept {table.num_rows:,} of {before:,} rows")
    if getattr(args, "dedup", False):
        from brightingest.stats import dedup_mask

        before = table.num_rows
        table = table.filter(dedup_mask(table))
        info["duplicates_dropped"] = before - table.num_rows
        out.info(f"--dedup dropped {before - table.num_rows:,} duplicate conversations")
    return table, info


# ---------------------------------------------------------------------------------------------
# Human rendering


def _show_report(out: Output, report: Any, examples: int = 5) -> None:
    det = report.detection
    files = list(report.files)
    shown = ", ".join(files[:3]) + (f" and {len(files) - 3} more" if len(files) > 3 else "")
    rows: list[list[Any]] = [["sources", shown or "-"]]
    if det is not None:
        scores = dict(det.scores)
        best = (
            f"{det.best} (forced)"
            if det.forced
            else f"{det.best} (score {scores.get(det.best, 0):.2f})"
        )
        if det.runner_up:
            best += f"; runner-up {det.runner_up} ({scores.get(det.runner_up, 0):.2f})"
        elif not det.forced:
            best += "; no other format matched"
        rows.append(["format", best])
    if report.formats and (det is None or set(report.formats) != {det.best}):
        rows.append(["rows by format", ", ".join(f"{k}: {v:,}" for k, v in report.formats.items())])
    rows.append(["bytes read", _human_bytes(report.bytes_read)])
    rows.append(["lines read", f"{report.lines_read:,}"])
    rows.append(["rows kept", f"{report.rows_kept:,}"])
    rows.append(
        [
            "lines skipped",
            f"{report.lines_skipped:,} ({report.bad_lines:,} bad, ratio {report.bad_ratio:.4f})",
        ]
    )
    if report.policy != "skip":
        rows.append(
            ["policy", report.policy + (f" -> {report.quarantine}" if report.quarantine else "")]
        )
    out.table("Ingest", ["", ""], rows, align="ll")
    if report.skipped:
        skipped_rows: list[list[Any]] = []
        for category, n in sorted(report.skipped.items(), key=lambda kv: -kv[1]):
            exs = [e for e in report.examples if e.get("category") == category][: max(examples, 1)]
            first = exs[0] if exs else None
            where = f"{first.get('file')}:{first.get('line')}" if first else "-"
            skipped_rows.append(
                [category, n, where, _clip(first.get("message", "")) if first else ""]
            )
            for e in exs[1:examples]:
                skipped_rows.append(
                    ["", "", f"{e.get('file')}:{e.get('line')}", _clip(e.get("message", ""))]
                )
        out.table(
            "Skipped lines", ["category", "lines", "example", "message"], skipped_rows, align="lrll"
        )
    if report.file_metadata:
        meta_rows = [
            [
                f"{m.get('file')}:{m.get('line')}",
                _clip(
                    m.get("value")
                    if isinstance(m.get("value"), str)
                    else json.dumps(m.get("value"), ensure_ascii=False),
                    100,
                ),
            ]
            for m in report.file_metadata[: examples or 1]
        ]
        out.table("File metadata (metadata lines)", ["where", "value"], meta_rows, align="ll")


def _dist_text(d: dict[str, Any]) -> str:
    return " / ".join(f"{k} {_fmt(d.get(k))}" for k in ("min", "median", "mean", "max"))


def _key_text(key: str) -> str:
    """A key as is when it reads as a name, else JSON-quoted (an empty or spaced key shows)."""
    return key if re.fullmatch(r"[\w.-]+", key) else json.dumps(key, ensure_ascii=False)


def _extra_keys_text(keys: dict[str, int]) -> str:
    """``reasoning_content in 3 messages, ts in 1`` (the five most common)."""
    shown = [f"{_key_text(k)} in {n:,}" for k, n in list(keys.items())[:5]]
    shown[0] += " messages" if list(keys.values())[0] != 1 else " message"
    more = f" and {len(keys) - 5} more" if len(keys) > 5 else ""
    return ", ".join(shown) + more


def _show_stats(out: Output, statistics: dict[str, Any]) -> None:
    conv = statistics["conversations"]
    out.table(
        "Conversations",
        ["", ""],
        [
            ["rows", f"{conv['rows']:,}"],
            ["messages", f"{conv['messages']:,}"],
            ["messages per row", _dist_text(conv["turns"])],
            ["characters per row", _dist_text(conv["characters"])],
            ["trained assistant messages", f"{conv['trained_assistant_messages']:,}"],
            ["rows with tools", f"{conv['rows_with_tools']:,}"],
            *(
                [["unmapped message keys (extra)", _extra_keys_text(conv["extra_keys"])]]
                if conv.get("extra_keys")
                else []
            ),
        ],
        align="ll",
    )
    if conv["roles"]:
        out.table(
            "Roles",
            ["role", "messages", "characters", "mean chars", "max chars"],
            [
                [r, v["messages"], v["characters"], v["mean_characters"], v["max_characters"]]
                for r, v in conv["roles"].items()
            ],
            align="lrrrr",
        )
    if conv["longest"]:
        out.table(
            "Longest rows",
            ["where", "id", "messages", "characters"],
            [
                [f"{r['file']}:{r['line']}", r.get("id") or "-", r["messages"], r["characters"]]
                for r in conv["longest"]
            ],
            align="llrr",
        )
    meta = statistics["metadata"]
    if meta["fields"]:
        rows = []
        for f in meta["fields"]:
            rows.append([f["path"], f["type"], f["present"], _field_summary(f)])
        title = f"Metadata fields ({meta['rows_with_metadata']:,} rows with metadata)"
        if meta.get("truncated"):
            title += ", first fields only"
        out.table(title, ["field", "type", "present", "values"], rows, align="llrl")
    dup = statistics["duplicates"]
    if dup["groups"]:
        rows = []
        for g in dup["examples"]:
            locs = ", ".join(f"{r['file']}:{r['line']}" for r in g["rows"][:4])
            if len(g["rows"]) > 4 or g["count"] > len(g["rows"][:4]):
                locs += ", ..."
            rows.append([g["count"], locs])
        groups, extra, left = dup["groups"], dup["duplicate_rows"], dup["rows_after_dedup"]
        out.table(
            f"Exact duplicate conversations: {groups:,} {'group' if groups == 1 else 'groups'}, "
            f"{extra:,} extra {'copy' if extra == 1 else 'copies'} "
            f"(--dedup keeps {left:,} {'row' if left == 1 else 'rows'})",
            ["copies", "rows"],
            rows,
            align="rl",
        )
    else:
        out.line("Exact duplicate conversations: none")
        out.line()
    tokens = statistics.get("tokens")
    if tokens:
        rows2: list[list[Any]] = [
            ["tokenizer", tokens.get("tokenizer", "-")],
            ["chat template", "yes" if tokens["chat_template"] else "no (role: content lines)"],
            ["total tokens", f"{tokens['total']:,}"],
            ["tokens per row", _dist_text(tokens["per_row"])],
        ]
        if tokens.get("max_length") is not None:
            over = ", ".join(
                f"{r['file']}:{r['line']} ({r['tokens']:,})" for r in tokens["over_examples"][:3]
            )
            rows2.append(
                [
                    f"rows over {tokens['max_length']:,}",
                    f"{tokens['over_max_length']:,}" + (f": {over}" if over else ""),
                ]
            )
        out.table("Tokens", ["", ""], rows2, align="ll")


def _field_summary(f: dict[str, Any]) -> str:
    parts: list[str] = []
    if f["type"] == "number":
        if f.get("values") is not None:
            parts.append(", ".join(f"{_fmt(v['value'])}: {v['count']}" for v in f["values"]))
        parts.append(
            f"min {_fmt(f.get('min'))}, mean {_fmt(f.get('mean'))}, max {_fmt(f.get('max'))}"
        )
        return "  ".join(parts) if len(parts) == 1 else f"{parts[0]}  ({parts[1]})"
    if f["type"] == "list" and "length" in f:
        parts.append(f"length {_fmt(f['length'].get('min'))}-{_fmt(f['length'].get('max'))}")
    if f.get("values"):
        shown = ", ".join(f"{_clip(_fmt(v['value']), 24)}: {v['count']}" for v in f["values"][:5])
        if f.get("distinct", 0) > 5:
            shown += f" ({f['distinct']:,} distinct)"
        parts.append(shown)
    if f["type"] == "mixed":
        parts.insert(0, "types " + ", ".join(f"{k}: {v}" for k, v in f.get("types", {}).items()))
    return "; ".join(parts) or "-"


# ---------------------------------------------------------------------------------------------
# Commands


def _load_tokenizer(args: argparse.Namespace) -> Any:
    """The ``--tokenizer``, loaded before any data is read (so a bad path fails at once)."""
    if args.tokenizer is None:
        if args.max_length is not None:
            raise _usage_error(
                "--max-length needs --tokenizer.",
                "pass --tokenizer PATH (a local tokenizer directory).",
            )
        return None
    from brightingest.stats import load_tokenizer

    try:
        return load_tokenizer(args.tokenizer)
    except ImportError:
        raise _usage_error(
            "--tokenizer needs the transformers package, which is not installed.",
            f"{TRAIN_HINT} (or pip install transformers).",
            code="missing_extra",
        ) from None
    except (OSError, ValueError) as exc:
        raise _usage_error(
            f'cannot load tokenizer "{args.tokenizer}" from local files: {_clip(str(exc), 200)}',
            "pass a local directory with tokenizer files (tokenizer.json, tokenizer_config.json); "
            "nothing is downloaded.",
            code="bad_tokenizer",
        ) from None


def _second_pass(
    chat: Any, expr: Any, args: argparse.Namespace, finder: Any
) -> Iterator[tuple[Any, Any]]:
    """Read the data a second time (same local files, same format plan), feeding every row
    that passes --where to ``finder.confirm``; yields each batch with its keep-mask. Refuses
    data that changed between the passes."""
    first = chat.report
    again = chat._replay()
    batches = _Filtered(again, expr, args.where, require_rows=False) if expr is not None else again
    for batch in batches:
        yield batch, finder.confirm(batch)
    second = again.report
    if (second.lines_read, second.rows_kept) != (first.lines_read, first.rows_kept):
        raise SourceError(
            f"the input changed between the two passes of duplicate detection: "
            f"{first.lines_read:,} lines and {first.rows_kept:,} rows read first, "
            f"{second.lines_read:,} and {second.rows_kept:,} the second time.",
            code="source_changed",
            path=first.files[0] if len(first.files) == 1 else None,
            hint="do not write to the files while brightingest reads them; run it again.",
        )


#: Work unit of the reads behind `inspect` and `validate`: the statistics cost a fixed amount of
#: Python per batch, so larger batches than a plain stream's 1 MiB pay. Measured (2026-11-25,
#: 1 GB BrightRun v4, conversation statistics over the stream): 1.63 s with 1 MiB batches at
#: 193 MB peak RSS, 1.18 s with 4 MiB at 312 MB, 1.09 s with 8 MiB at 413 MB.
_STATS_CHUNK = 4 << 20


def _stream_statistics(
    args: argparse.Namespace, out: Output, tokenizer: Any, expr: Any
) -> tuple[Any, str | None, dict[str, Any], dict[str, Any]]:
    """Read the sources as a stream and compute the statistics batch by batch, in memory that
    does not hold the data: per row a few numbers and a 128-bit hash. Exact duplicates need a
    second pass, made only when some rows share a hash (see ``stats.DuplicateFinder``).

    Returns:
        The report, the format, the statistics and (with --where) the selection counts.
    """
    from brightingest import stats
    from brightingest.api import _stream_twice

    n = args.examples
    conversations = stats.ConversationStats(longest=n)
    metadata = stats.MetadataSummary(top=n)
    finder = stats.DuplicateFinder()
    tokens = (
        stats.TokenStats(tokenizer, max_length=args.max_length, examples=n)
        if tokenizer is not None
        else None
    )
    started = time.monotonic()
    chat = _stream_twice(args.sources, chunk_bytes=_STATS_CHUNK, **_read_options(args, out))
    with chat:
        filtered = (
            _Filtered(chat, expr, args.where, require_rows=False) if expr is not None else None
        )
        for batch in filtered if filtered is not None else chat:
            conversations.add(batch)
            metadata.add(batch)
            finder.add(batch)
            if tokens is not None:
                tokens.add(batch)
        report = chat.report
        out.info(_read_summary(report, time.monotonic() - started))
        if finder.needs_second_pass:
            started = time.monotonic()
            for _ in _second_pass(chat, expr, args, finder):
                pass
            out.info(
                f"duplicates compared exactly in a second pass ({time.monotonic() - started:.1f} s)"
            )
        fmt = chat.format
    selection: dict[str, Any] = {}
    if filtered is not None:
        selection = filtered.selection(out)
    token_doc = None
    if tokens is not None:
        token_doc = tokens.result()
        token_doc["tokenizer"] = args.tokenizer
    statistics = {
        "conversations": conversations.result(),
        "metadata": metadata.result(),
        "duplicates": finder.result(examples=n),
        "tokens": token_doc,
    }
    return report, fmt, statistics, selection


def cmd_inspect(args: argparse.Namespace, out: Output) -> int:
    """``inspect``: the report plus statistics."""
    expr = _parse_where(args)
    tokenizer = _load_tokenizer(args)
    report, fmt, statistics, selection = _stream_statistics(args, out, tokenizer, expr)
    doc = {"ok": True, "command": "inspect", **report.to_dict()}
    doc["format"] = fmt
    doc["summary"] = report.summary_line()
    if selection:
        doc["selection"] = selection
    doc["statistics"] = statistics
    out.document(doc)
    _show_report(out, report, args.examples)
    _show_stats(out, statistics)
    return EXIT_OK


def _check(name: str, passed: bool, value: Any, threshold: Any, message: str) -> dict[str, Any]:
    return {
        "name": name,
        "passed": passed,
        "value": value,
        "threshold": threshold,
        "message": message,
    }


def cmd_validate(args: argparse.Namespace, out: Output) -> int:
    """``validate``: checks with thresholds; exit 0 (pass) or 1 (fail)."""
    tokenizer = _load_tokenizer(args)
    statistics: dict[str, Any] | None = None
    error: dict[str, Any] | None = None
    try:
        report, _, statistics, _ = _stream_statistics(args, out, tokenizer, None)
    except NoRowsError as exc:
        if exc.report is None:
            raise
        report = exc.report
        error = _error_dict(exc)
    checks = []
    checks.append(
        _check(
            "min_rows",
            report.rows_kept >= args.min_rows and report.rows_kept > 0,
            report.rows_kept,
            args.min_rows,
            f"{report.rows_kept:,} {'row' if report.rows_kept == 1 else 'rows'} kept"
            f" (at least {max(args.min_rows, 1):,} required)",
        )
    )
    checks.append(
        _check(
            "max_bad_ratio",
            report.bad_ratio <= args.max_bad_ratio,
            round(report.bad_ratio, 6),
            args.max_bad_ratio,
            f"{report.bad_lines:,} bad {'line' if report.bad_lines == 1 else 'lines'} "
            f"of {report.lines_read:,} "
            f"(ratio {report.bad_ratio:.4f}, at most {args.max_bad_ratio:g} allowed)",
        )
    )
    if statistics is not None:
        dup = statistics["duplicates"]
        if args.max_duplicate_ratio is not None:
            ratio = dup["duplicate_rows"] / max(report.rows_kept, 1)
            checks.append(
                _check(
                    "max_duplicate_ratio",
                    ratio <= args.max_duplicate_ratio,
                    round(ratio, 6),
                    args.max_duplicate_ratio,
                    f"{dup['duplicate_rows']:,} duplicate rows of {report.rows_kept:,} "
                    f"(ratio {ratio:.4f}, at most {args.max_duplicate_ratio:g} allowed)",
                )
            )
        tokens = statistics.get("tokens")
        if tokens and tokens.get("max_length") is not None:
            over = tokens["over_max_length"]
            checks.append(
                _check(
                    "max_length",
                    over == 0,
                    over,
                    tokens["max_length"],
                    f"{over:,} rows longer than {tokens['max_length']:,} tokens",
                )
            )
    ok = all(c["passed"] for c in checks)
    failed = [c for c in checks if not c["passed"]]
    doc: dict[str, Any] = {
        "ok": ok,
        "command": "validate",
        "exit_code": EXIT_OK if ok else EXIT_DATA,
        "checks": checks,
        "report": report.to_dict(),
        "summary": report.summary_line(),
    }
    if error is not None:
        doc["error"] = error
    if statistics is not None:
        doc["statistics"] = statistics
    out.document(doc)
    if not out.quiet:
        _show_report(out, report, args.examples)
    out.table(
        "Checks",
        ["check", "result", "detail"],
        [[c["name"], "PASS" if c["passed"] else "FAIL", c["message"]] for c in checks],
        align="lll",
    )
    if ok:
        out.info(f"validate: PASS ({len(checks)} checks)")
        return EXIT_OK
    if error is not None:
        out.error(error["message"])
    reason = "; ".join(c["message"] for c in failed)
    out.error(f"validate: FAIL ({len(failed)} of {len(checks)} checks): {reason}")
    return EXIT_DATA


_SUFFIXES = {
    ".jsonl": "openai",
    ".json": "openai",
    ".ndjson": "openai",
    ".parquet": "parquet",
    ".pq": "parquet",
    ".arrow": "arrow",
    ".feather": "arrow",
    ".ipc": "arrow",
}


def _write_checked(data: Any, dest: Path, to: str, left_out: Any = None) -> int:
    """Write ``data`` with :func:`brightingest.writers.write`; an output failure becomes an
    ``output_error`` (a source failing while a stream is written stays a ``SourceError``)."""
    from brightingest.writers import write

    try:
        return write(data, dest, to=to, left_out=left_out)  # type: ignore[arg-type]  # a choice
    except SourceError:
        raise
    except BrokenPipeError:
        raise  # standard output closed by its reader (`| head`): not a failed write
    except OSError as exc:
        raise BrightIngestError(
            f"cannot write the output ({exc.strerror or exc}); nothing written.",
            code="output_error",
            path=os.fspath(dest),
            hint="check the path, permissions and free space.",
        ) from exc


def _convert_done(
    out: Output, dest: Path, to: str, written: int, report: Any, fmt: str | None, how: str
) -> dict[str, Any]:
    """Print the "Wrote ..." line; the ``--json`` document of a successful convert."""
    size = None if str(dest) == "-" else dest.stat().st_size  # None: standard output
    where = f"standard output ({to})" if size is None else f"{dest} ({to}, {_human_bytes(size)})"
    out.info(f"Wrote {written:,} conversation{'' if written == 1 else 's'} to {where} {how}")
    return {
        "ok": True,
        "command": "convert",
        "output": os.fspath(dest),
        "to": to,
        "rows_written": written,
        "bytes_written": size,
        "format": fmt,
        "summary": report.summary_line(),
        "report": report.to_dict(),
    }


class _Filtered:
    """The batches of a chat stream that match a --where expression (an Arrow-typed iterable
    for the writers), counting what it saw and kept. The expression is row by row (its
    vectorized form is tested against the per-row reference), so filtering batch by batch keeps
    exactly the rows that filtering the whole table keeps."""

    def __init__(self, chat: Any, expr: Any, text: str, *, require_rows: bool = True) -> None:
        self.chat, self.expr, self.text = chat, expr, text
        self.require_rows = require_rows
        self.schema = chat.schema
        self.seen = self.kept = 0

    def __iter__(self) -> Iterator[Any]:
        import pyarrow as pa

        from brightingest.where import filter_mask

        for batch in self.chat:
            mask = filter_mask(pa.Table.from_batches([batch]), self.expr)
            kept = batch.filter(mask)
            self.seen += batch.num_rows
            self.kept += kept.num_rows
            if kept.num_rows:
                yield kept
        if self.kept == 0 and self.require_rows:  # raised inside the write: no output appears
            raise NoRowsError(
                f"no rows left after --where (0 of {self.seen:,} match {self.text!r});"
                " nothing written.",
                report=self.chat.report,
                hint="check the field names with `brightingest inspect` (Metadata fields).",
            )

    def selection(self, out: Output) -> dict[str, Any]:
        """Log what --where kept; the ``selection`` part of the ``--json`` document."""
        out.info(f"--where kept {self.kept:,} of {self.seen:,} rows")
        return {
            "where": self.text,
            "rows_matched": self.kept,
            "rows_filtered_out": self.seen - self.kept,
        }


class _Deduplicated:
    """The second pass of ``convert --dedup``: the batches (after --where) without the later
    copies of each exact duplicate, for the writers."""

    def __init__(self, chat: Any, expr: Any, args: argparse.Namespace, finder: Any) -> None:
        self.chat, self.expr, self.args, self.finder = chat, expr, args, finder
        self.schema = chat.schema
        self.dropped = 0

    def __iter__(self) -> Iterator[Any]:
        for batch, keep in _second_pass(self.chat, self.expr, self.args, self.finder):
            kept = batch.filter(keep)
            self.dropped += batch.num_rows - kept.num_rows
            if kept.num_rows:
                yield kept


def _convert_streamed(args: argparse.Namespace, out: Output, dest: Path, to: str) -> int:
    """``convert``: batches go from the reader (through --where, if given) straight to the
    writer, so memory stays bounded whatever the input size. With --dedup, a first pass hashes
    every row (16 bytes each) and the second writes, comparing the rows that share a hash in
    full. The output appears, atomically, only if the whole read succeeds.
    """
    from brightingest.api import _stream_twice, stream
    from brightingest.stats import DuplicateFinder
    from brightingest.writers import LeftOut

    expr = _parse_where(args)
    dedup = bool(getattr(args, "dedup", False))
    kwargs = _read_options(args, out)
    started = time.monotonic()
    chat = _stream_twice(args.sources, **kwargs) if dedup else stream(args.sources, **kwargs)
    finder = DuplicateFinder()
    deduplicated = None
    with chat:
        filtered = _Filtered(chat, expr, args.where) if expr is not None else None
        source: Any = filtered if filtered is not None else chat
        if dedup:
            for batch in source:  # pass 1: hashes only
                finder.add(batch)
            deduplicated = _Deduplicated(chat, expr, args, finder)
            source = deduplicated
        left_out = LeftOut() if to == "openai" else None
        written = _write_checked(source, dest, to, left_out)
    elapsed = time.monotonic() - started
    report = chat.report
    out.info(_read_summary(report))
    selection: dict[str, Any] = {}
    if filtered is not None:
        selection = filtered.selection(out)
    if deduplicated is not None:
        dropped = deduplicated.dropped
        out.info(
            f"--dedup dropped {dropped:,} duplicate "
            f"{'conversation' if dropped == 1 else 'conversations'}"
        )
        selection["duplicates_dropped"] = dropped
    if left_out is not None and left_out.rows:
        out.info(f"OpenAI JSONL: {left_out.summary()}")
    if left_out is not None and left_out.keys:
        out.info(f"OpenAI JSONL: {left_out.keys_summary()}")
    row_fields = left_out.row_fields_summary() if left_out is not None else None
    if row_fields:
        out.info(f"OpenAI JSONL: {row_fields}")
    passes = "two passes (hashes, then write)" if dedup else "one pass"
    how = f"in {elapsed:.1f} s, read and written in {passes}"
    doc = _convert_done(out, dest, to, written, report, chat.format, how)
    if selection:
        doc["selection"] = selection
    if left_out is not None and left_out.rows:
        doc["left_out"] = {"rows": left_out.rows, "examples": left_out.examples}
    if left_out is not None and left_out.keys:
        doc["keys_not_written"] = {"keys": left_out.keys, "examples": left_out.key_examples}
    if left_out is not None and (left_out.metadata_rows or left_out.id_rows):
        doc["row_fields_not_written"] = {
            "metadata_rows": left_out.metadata_rows,
            "id_rows": left_out.id_rows,
            "metadata_keys": left_out.metadata_keys,
        }
    out.document(doc)
    return EXIT_OK


def cmd_convert(args: argparse.Namespace, out: Output) -> int:
    """``convert``: read, filter, deduplicate, write atomically."""
    dest = Path(args.output)
    to = args.to or ("openai" if args.output == "-" else _SUFFIXES.get(dest.suffix.lower()))
    if args.output == "-" and getattr(args, "json", False):
        raise _usage_error(
            "--json and -o - would both write to standard output.",
            "drop --json, or pass -o FILE.",
        )
    if args.output == "-":
        # Standard output carries the data: reports and tables (of a failure too) go to stderr.
        out.stdout = out.stderr
    if args.output == "-" and to != "openai":
        raise _usage_error(
            f"{to} output needs a file, not standard output.",
            "pass -o FILE, or --to openai for JSONL on standard output.",
        )
    if to is None:
        raise _usage_error(
            f'cannot tell the output format from "{dest.name}".',
            "pass --to openai, --to parquet or --to arrow (or name it .jsonl, .parquet or .arrow).",
        )
    if dest.is_dir():
        raise _usage_error(f"{dest} is a directory.", "pass a file name with -o.")
    if not dest.parent.is_dir():
        raise _usage_error(
            f"the output directory {dest.parent} does not exist.",
            "create it first, or pick another -o path.",
        )
    return _convert_streamed(args, out, dest, to)


def cmd_fetch(args: argparse.Namespace, out: Output) -> int:
    """``fetch``: one checked download."""
    from brightingest._progress import progress_enabled
    from brightingest.sources import fetch, is_url

    if not is_url(args.url):
        raise _usage_error(
            f"{args.url!r} is not a URL.",
            "fetch takes an http(s):// or fsspec URL (s3://, gs:// ...); local files need none.",
        )
    if args.timeout <= 0 or args.backoff < 0:
        raise _usage_error("--timeout must be greater than 0 and --backoff at least 0.")
    result = fetch(
        args.url,
        args.output,
        retries=args.retries,
        timeout=args.timeout,
        progress=progress_enabled(args.progress, quiet=out.quiet),
        min_bytes=args.min_bytes,
        backoff=args.backoff,
    )
    out.info(f"Saved as {result.path}")  # the download itself was logged by fetch()
    out.document(
        {
            "ok": True,
            "command": "fetch",
            "path": os.fspath(result.path),
            "bytes": result.bytes,
            "seconds": round(result.seconds, 3),
            "url": result.url,
            "final_url": result.final_url or result.url,
            "content_type": result.content_type,
            "attempts": result.attempts,
            "summary": result.summary(),
        }
    )
    return EXIT_OK


def cmd_formats(args: argparse.Namespace, out: Output) -> int:
    """``formats``: the installed format plugins."""
    from brightingest.plugins import formats

    infos = formats()
    items = [dataclasses.asdict(i) if dataclasses.is_dataclass(i) else dict(vars(i)) for i in infos]
    out.document({"ok": True, "command": "formats", "formats": items})
    out.table(
        f"Format plugins ({len(items)})",
        ["name", "version", "package", "plugin", "description"],
        [
            [
                i.get("name"),
                str(i.get("version") or "-"),
                f"{i.get('distribution') or '-'} {i.get('distribution_version') or ''}".strip(),
                str(i.get("plugin") or "-"),
                _clip(str(i.get("description") or ""), 60),
            ]
            for i in items
        ],
        align="lllll",
    )
    return EXIT_OK


def _missing_train_deps() -> list[str]:
    missing = []
    for name in _TRAIN_DEPS:
        try:
            if importlib.util.find_spec(name) is None:
                missing.append(name)
        except (ImportError, ValueError):
            missing.append(name)
    return missing


def _train_module() -> Any:
    import importlib

    return importlib.import_module("brightingest.train.cli")


def cmd_train(args: argparse.Namespace, out: Output) -> int:
    """``train``: ingest (refusing 0 rows), then hand over to ``brightingest.train.cli.run``."""
    missing = _missing_train_deps()
    if missing:
        raise _usage_error(
            f"the trainer needs {', '.join(missing)}, which "
            f"{'is' if len(missing) == 1 else 'are'} not installed.",
            TRAIN_HINT,
            code="missing_extra",
        )
    try:
        trainer = _train_module()
    except ImportError as exc:  # (a TrainerError for missing packages maps to exit 2 too)
        raise _usage_error(
            f"the trainer could not be imported ({_clip(str(exc), 160)}).",
            TRAIN_HINT,
            code="missing_extra",
        ) from None
    _parse_where(args)
    check_config = getattr(trainer, "config_from_args", None)
    if callable(check_config):
        check_config(args)  # a bad setting is found before the data is downloaded and read
    ds = _ingest(args, out)
    if len(ds) == 0:
        raise NoRowsError(
            "0 rows kept: refusing to train.",
            report=ds.report,
            hint="run `brightingest inspect` on the data.",
        )
    if getattr(args, "where", None) is not None or getattr(args, "dedup", False):
        from brightingest.dataset import ChatDataset

        table, args.selection = _filter(ds, args, out)
        args.selection["rows_trained_on"] = table.num_rows
        if table.num_rows == 0:
            raise NoRowsError(
                f"no rows left after --where ({args.where!r}): refusing to train.",
                report=ds.report,
                hint="check the field names with `brightingest inspect`.",
            )
        ds = ChatDataset(table, ds.report, ds.format)
    # The trainer prints its own result (one JSON line) on stdout: no second document here.
    try:
        code = trainer.run(args, ds)
    except ModuleNotFoundError as exc:
        if (exc.name or "").split(".")[0] in (
            *_TRAIN_DEPS,
            "accelerate",
            "safetensors",
            "tokenizers",
        ):
            raise _usage_error(
                f"the trainer needs {exc.name}, which is not installed.",
                TRAIN_HINT,
                code="missing_extra",
            ) from None
        raise
    return int(code or 0)


_COMMANDS: dict[str, Callable[[argparse.Namespace, Output], int]] = {
    "inspect": cmd_inspect,
    "validate": cmd_validate,
    "convert": cmd_convert,
    "fetch": cmd_fetch,
    "formats": cmd_formats,
    "train": cmd_train,
}


# ---------------------------------------------------------------------------------------------
# Entry point


def _command_of(argv: Sequence[str]) -> str | None:
    for arg in argv:
        if not arg.startswith("-"):
            return arg
    return None


def _train_adder(argv: Sequence[str]) -> Callable[[argparse.ArgumentParser], None] | None:
    """The trainer's ``add_arguments`` when the command is ``train`` and it imports."""
    if _command_of(argv) != "train":
        return None
    try:
        module = _train_module()
    except (ImportError, BrightIngestError):  # the extra is missing: `train` says so when run
        return None
    adder = getattr(module, "add_arguments", None)
    return adder if callable(adder) else None


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line.

    Args:
        argv: Arguments without the program name (default: ``sys.argv[1:]``).

    Returns:
        The exit status (0 success, 1 data failed the checks, 2 usage error, 3 source unreadable).
    """
    argv = list(sys.argv[1:] if argv is None else argv)
    json_requested = "--json" in argv
    parser = build_parser(train=_train_adder(argv))
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else EXIT_USAGE)
        state = parser.get_default("_state") or {}
        if code == EXIT_USAGE and json_requested and state.get("usage_error"):
            print(
                json.dumps(
                    _error_doc(_command_of(argv), EXIT_USAGE, state["usage_error"]), indent=2
                )
            )
        return code
    out = Output(json_mode=args.json, quiet=args.quiet)
    handler = _setup_logging(out, args.verbose)
    try:
        return _run(args, out)
    finally:
        logging.getLogger("brightingest").removeHandler(handler)


def _run(args: argparse.Namespace, out: Output) -> int:
    command: str = args.command
    try:
        return _COMMANDS[command](args, out)
    except BrightIngestError as exc:
        code = exit_code_for(exc)
        out.error(_for_the_command_line(str(exc)))
        extra: dict[str, Any] = {}
        report = getattr(exc, "report", None)
        if report is not None and hasattr(report, "to_dict"):
            extra["report"] = report.to_dict()
            if not out.quiet and not out.json_mode:
                _show_report(out, report, getattr(args, "examples", 5))
        out.document(_error_doc(command, code, _error_dict(exc), **extra))
        return code
    except KeyboardInterrupt:
        out.error("interrupted.")
        return 130
    except BrokenPipeError:
        # The reader went away (`| head`): stop quietly, as a process killed by SIGPIPE would.
        with contextlib.suppress(OSError):
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141
    except (ImportError, OSError, ValueError) as exc:
        code = exit_code_for(exc)
        if isinstance(exc, ImportError):
            label = "a required module is missing"
        else:
            label = {EXIT_SOURCE: "cannot read or write", EXIT_USAGE: "invalid argument"}.get(
                code, "failed"
            )
        message = f"{label}: {exc}"
        out.error(message)
        out.document(
            _error_doc(
                command,
                code,
                {
                    "type": type(exc).__name__,
                    "code": "error",
                    "message": _scrub(message),
                    "path": None,
                    "line": None,
                    "field": None,
                    "hint": None,
                },
            )
        )
        return code
    except Exception as exc:  # a bug: show a (redacted) traceback, never the raw URL
        text = "".join(traceback.format_exception(exc))
        print(_scrub(text), file=out.stderr)
        out.error(
            f"internal error ({type(exc).__name__}); please report it with the traceback above."
        )
        out.document(
            _error_doc(
                command,
                EXIT_DATA,
                {
                    "type": type(exc).__name__,
                    "code": "internal_error",
                    "message": _scrub(str(exc)),
                    "path": None,
                    "line": None,
                    "field": None,
                    "hint": None,
                },
            )
        )
        return EXIT_DATA
