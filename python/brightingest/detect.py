"""Format detection: score every installed format on a sample of rows, rank them, refuse ties.

The sample is the first ``sample_rows`` non-blank lines of each file (gzip and zstd files are
recognized by their magic bytes; zstd needs the optional ``zstandard`` package, without it the
file is left out of the sample with a note). Lines that are not valid JSON are left to the core's
accounting; metadata lines (``{"_meta": {...}}`` for a format whose mapping declares that
``meta_key``) are set aside as evidence, never scored as rows.

Each format's score is the mean of its ``detect`` score over the sampled object rows. The best
wins, unless the runner-up scores alike (within :data:`TIE_EPSILON`) on the same rows and neither
format's signature is a strict superset of the other's: then detection stops and names the
candidates, with ``format=`` to choose. A file that mixes formats row by row is not a tie: every
mapping format is handed to the core, ranked, and each row is mapped by its own format.

Example:
    >>> from brightingest.formats import openai, prompt_completion
    >>> specs = {s.name: s for s in (openai.SPEC, prompt_completion.SPEC)}
    >>> sample = Sample.from_values([{"prompt": "2+2?", "completion": "4"}])
    >>> detect_sample(sample, specs).best
    'prompt-completion'
"""

from __future__ import annotations

import gzip
import io
import json
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from brightingest.errors import FormatDetectionError
from brightingest.plugins import MIN_SCORE, FormatSpec

__all__ = [
    "TIE_EPSILON",
    "Detection",
    "Sample",
    "SampleRow",
    "check_forced",
    "core_order",
    "detect_sample",
    "read_sample",
]

#: Two mean scores closer than this are "alike".
TIE_EPSILON = 0.05
#: Share of sampled rows that both tied formats must accept for a tie to be ambiguous.
AMBIGUOUS_SHARE = 0.5
#: Stop sampling further files once this many rows per ``sample_rows`` were read in total.
_MAX_FILES_FACTOR = 10
_MAX_SAMPLE_LINE = 64 << 20

_GZIP_MAGIC = b"\x1f\x8b"
_ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"


@dataclass(frozen=True)
class SampleRow:
    """One parsed sample line: display file name, 1-based line, parsed JSON value."""

    file: str
    line: int
    value: Any


@dataclass
class Sample:
    """Parsed rows from the start of each file.

    Attributes:
        rows: Parsed JSON values that are objects (metadata lines excluded), in file order.
        other: Parsed values that are not objects (arrays, strings...).
        meta: Metadata lines (objects whose only key is some format's ``meta_key``).
        notes: Why a file was not (fully) sampled.
        files: Display names of the sampled files.
    """

    rows: list[SampleRow] = field(default_factory=list)
    other: list[SampleRow] = field(default_factory=list)
    meta: list[SampleRow] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    files: list[str] = field(default_factory=list)

    @classmethod
    def from_values(
        cls, values: Sequence[Any], *, file: str = "<sample>", meta_keys: Sequence[str] = ()
    ) -> Sample:
        """A sample from parsed values (line numbers 1, 2, ...), e.g. rows of a test."""
        sample = cls(files=[file])
        for i, value in enumerate(values, start=1):
            sample.add(SampleRow(file, i, value), meta_keys)
        return sample

    def add(self, row: SampleRow, meta_keys: Sequence[str]) -> None:
        """File ``row`` under rows, meta or other."""
        value = row.value
        if isinstance(value, dict):
            if len(value) == 1 and next(iter(value)) in meta_keys:
                self.meta.append(row)
            else:
                self.rows.append(row)
        else:
            self.other.append(row)


@dataclass(frozen=True)
class Detection:
    """The outcome of detection.

    Attributes:
        best: The chosen format (forced or best scoring).
        runner_up: The second best scoring format, if any scored above 0.
        scores: ``(name, mean score)`` for every format, best first.
        sample_size: Object rows scored.
        forced: ``best`` was given by the caller (``format=``), not detected.
        order: Mapping formats in the order rows try them (best first; a format whose
            signature is a strict superset of another's goes before it).
        notes: Remarks on the sample (files not sampled and why).
    """

    best: str
    runner_up: str | None
    scores: list[tuple[str, float]]
    sample_size: int
    forced: bool = False
    order: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form, as kept in the report."""
        return {
            "best": self.best,
            "runner_up": self.runner_up,
            "scores": [[n, s] for n, s in self.scores],
            "sample_size": self.sample_size,
            "forced": self.forced,
            "order": list(self.order),
            "notes": list(self.notes),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Detection:
        """Inverse of :meth:`to_dict`."""
        return cls(
            best=str(data["best"]),
            runner_up=data.get("runner_up"),
            scores=[(str(n), float(s)) for n, s in data.get("scores", [])],
            sample_size=int(data.get("sample_size", 0)),
            forced=bool(data.get("forced", False)),
            order=tuple(data.get("order", ())),
            notes=tuple(data.get("notes", ())),
        )


def _open_sample(path: str, notes: list[str], name: str) -> IO[bytes] | None:
    raw = Path(path).open("rb")  # closed by the caller (or below on error)
    try:
        magic = raw.read(4)
        raw.seek(0)
    except OSError:
        raw.close()
        raise
    if magic.startswith(_GZIP_MAGIC):
        raw.close()
        return gzip.open(path, "rb")  # type: ignore[return-value]  # a binary IO
    if magic == _ZSTD_MAGIC:
        try:
            import zstandard
        except ImportError:
            raw.close()
            notes.append(
                f"{name}: not sampled for detection (zstd; pip install zstandard to sample it)"
            )
            return None
        reader = zstandard.ZstdDecompressor().stream_reader(raw, read_across_frames=True)
        return io.BufferedReader(reader)  # type: ignore[arg-type,unused-ignore]  # has readinto
    return raw


def _lines(stream: IO[bytes], limit: int) -> Iterator[tuple[int, bytes | None]]:
    """(1-based line number, bytes) per line; ``None`` for lines longer than ``limit``."""
    number = 0
    while True:
        chunk = stream.readline(limit + 1)
        if not chunk:
            return
        number += 1
        if len(chunk) > limit and not chunk.endswith(b"\n"):
            while chunk and not chunk.endswith(b"\n"):  # skip the rest of an oversized line
                chunk = stream.readline(1 << 20)
            yield number, None
            continue
        yield number, chunk


def read_sample(
    paths: Sequence[str],
    names: Sequence[str] | None = None,
    *,
    sample_rows: int = 200,
    meta_keys: Sequence[str] = (),
    max_line_bytes: int = 1 << 30,
) -> Sample:
    """Parse the first ``sample_rows`` non-blank lines of each file.

    Unreadable files, undecodable lines and invalid JSON are passed over silently: the core
    reports them properly when the file is read.

    Args:
        paths: Local files.
        names: Display names for ``paths`` (default: the paths).
        sample_rows: Non-blank lines per file.
        meta_keys: Keys of metadata lines (``_meta``).
        max_line_bytes: Longer lines are not sampled.

    Returns:
        The sample.
    """
    names = list(names) if names is not None else list(paths)
    sample = Sample()
    limit = max(1, min(max_line_bytes, _MAX_SAMPLE_LINE))
    for index, (path, name) in enumerate(zip(paths, names, strict=False)):
        if len(sample.rows) + len(sample.meta) >= _MAX_FILES_FACTOR * sample_rows:
            sample.notes.append(f"sampled the first {index} of {len(paths)} files")
            break
        try:
            stream = _open_sample(path, sample.notes, name)
        except OSError:
            continue
        if stream is None:
            continue
        sample.files.append(name)
        seen = 0
        try:
            with stream:
                for number, data in _lines(stream, limit):
                    if seen >= sample_rows:
                        break
                    if data is None:
                        seen += 1
                        continue
                    if number == 1 and data.startswith(b"\xef\xbb\xbf"):
                        data = data[3:]
                    if not data.strip():
                        continue
                    seen += 1
                    try:
                        value = json.loads(data)
                    except ValueError:  # invalid JSON or UTF-8: the core accounts for it
                        continue
                    sample.add(SampleRow(name, number, value), meta_keys)
        except (OSError, EOFError) as exc:  # corrupt or truncated: keep what was read
            sample.notes.append(f"{name}: sampling stopped early ({exc})")
    return sample


def _matrix(sample: Sample, specs: Mapping[str, FormatSpec]) -> dict[str, list[float]]:
    return {name: [spec.score(r.value) for r in sample.rows] for name, spec in specs.items()}


def core_order(
    scores: Sequence[tuple[str, float]], specs: Mapping[str, FormatSpec]
) -> tuple[str, ...]:
    """Mapping formats in the order rows try them.

    Best score first; but a format whose signature strictly contains another's goes before it,
    or the more general one would take its rows.

    Args:
        scores: ``(name, score)``, best first.
        specs: The formats.

    Returns:
        Names of the formats with a mapping, ordered.
    """
    order = [n for n, _ in scores if specs[n].mapping is not None]
    changed = True
    while changed:
        changed = False
        for i in range(len(order)):
            for j in range(i + 1, len(order)):
                if specs[order[j]].is_more_specific_than(specs[order[i]]):
                    order.insert(i, order.pop(j))
                    changed = True
                    break
            if changed:
                break
    return tuple(order)


def _ranked(
    matrix: Mapping[str, list[float]], specs: Mapping[str, FormatSpec]
) -> list[tuple[str, float]]:
    position = {name: i for i, name in enumerate(specs)}
    means = {n: (sum(v) / len(v) if v else 0.0) for n, v in matrix.items()}
    return sorted(
        ((n, round(m, 6)) for n, m in means.items()),
        key=lambda item: (-item[1], -len(specs[item[0]].signature), position[item[0]]),
    )


def _keys(value: Any) -> str:
    keys = list(value) if isinstance(value, dict) else []
    shown = ", ".join(keys[:8]) + (", ..." if len(keys) > 8 else "")
    return shown or "none"


#: Shapes of data that is not chat data for supervised fine-tuning, and what they are.
_NOT_CHAT: tuple[tuple[frozenset[str], frozenset[str], str], ...] = (
    # (keys the row must have, keys it may also have, what it is)
    (
        frozenset({"text"}),
        frozenset({"id", "meta", "metadata", "source", "url", "label"}),
        "plain text, as for pretraining or text classification: not a conversation",
    ),
)


def _known_shape(row: Any) -> str:
    """`` (it looks like ...)`` for a row of a known shape that is not chat data, else ``""``."""
    if not isinstance(row, dict):
        return ""
    keys = set(row)
    for required, optional, what in _NOT_CHAT:
        if required <= keys <= required | optional:
            return f"; it looks like {what}"
    return ""


def detect_sample(
    sample: Sample, specs: Mapping[str, FormatSpec], *, notes: Sequence[str] = ()
) -> Detection:
    """Rank ``specs`` on ``sample`` and pick the best.

    Args:
        sample: Parsed rows (see :func:`read_sample`).
        specs: Installed formats, in registration order.
        notes: Extra remarks to keep in the result.

    Returns:
        The detection.

    Raises:
        FormatDetectionError: The sample has no object rows, no format matches any row, or two
            formats score alike on the same rows (the error lists the candidates).
    """
    all_notes = tuple(sample.notes) + tuple(notes)
    if not sample.rows:
        where = sample.files[0] if sample.files else None
        raise FormatDetectionError(
            "no JSON object rows to detect a format from in the sampled lines.",
            path=where,
            hint="check that the file is JSON Lines with one object per line, or pass format=.",
        )
    matrix = _matrix(sample, specs)
    scores = _ranked(matrix, specs)
    if not scores or scores[0][1] < MIN_SCORE:
        first = sample.rows[0]
        raise FormatDetectionError(
            f"no installed format matches this row (keys: {_keys(first.value)})"
            f"{_known_shape(first.value)}.",
            path=first.file,
            line=first.line,
            candidates=list(specs),
            hint=f"installed formats: {', '.join(sorted(specs))}. Install a plugin for this "
            "format (see brightingest.hookspecs), or check that the file holds chat data.",
        )
    best, best_score = scores[0]
    tied = [best]
    for name, score in scores[1:]:
        if best_score - score > TIE_EPSILON or score < MIN_SCORE:
            break
        both = sum(1 for a, b in zip(matrix[best], matrix[name], strict=True) if a > 0 and b > 0)
        if both / len(sample.rows) < AMBIGUOUS_SHARE:
            continue
        if specs[best].is_more_specific_than(specs[name]):
            continue
        if specs[name].is_more_specific_than(specs[best]):
            best, best_score = name, score
            tied = [name]
            continue
        tied.append(name)
    if len(tied) > 1:
        first = next(
            (r for i, r in enumerate(sample.rows) if all(matrix[n][i] > 0 for n in tied)),
            sample.rows[0],
        )
        quoted = " and ".join(f'"{n}"' for n in tied)
        scored = ", ".join(f"{n} {dict(scores)[n]:.2f}" for n in tied)
        choices = " or ".join(f'format="{n}"' for n in tied)
        raise FormatDetectionError(
            f"rows match {quoted} equally well (scores {scored} over "
            f"{len(sample.rows)} sampled rows); not guessing.",
            path=first.file,
            line=first.line,
            candidates=tied,
            hint=f"choose one with {choices}.",
        )
    if best != scores[0][0]:  # a more specific format won the tie: put it first
        scores = [(best, best_score)] + [s for s in scores if s[0] != best]
    runner = next((n for n, s in scores if n != best and s >= MIN_SCORE), None)
    return Detection(
        best=best,
        runner_up=runner,
        scores=scores,
        sample_size=len(sample.rows),
        order=core_order(scores, specs),
        notes=all_notes,
    )


def _looks_like(
    sample: Sample, forced: str, specs: Mapping[str, FormatSpec]
) -> tuple[str, str, SampleRow] | None:
    """The other format the sample looks like: (name, reason, example row)."""
    others = {n: s for n, s in specs.items() if n != forced}
    if not others:
        return None
    for row in sample.meta:  # a metadata line is the strongest evidence
        key = next(iter(row.value))
        for name, spec in others.items():
            if spec.mapping is not None and spec.mapping.meta_key == key:
                where = "first line" if row.line == 1 else "metadata line"
                return name, f"a {key} {where}", row
    if not sample.rows:
        return None
    scores = _ranked(_matrix(sample, others), others)
    name, score = scores[0]
    if score < MIN_SCORE:
        return None
    spec = others[name]
    example = next(r for r in sample.rows if spec.score(r.value) > 0)
    if spec.mapping is not None:
        reason = "fields " + ", ".join(spec.mapping.signature)
    else:
        reason = f"its detect() score {score:.2f}"
    return name, reason, example


def _matches(spec: FormatSpec, value: Any) -> bool:
    if spec.mapping is not None:
        return isinstance(value, dict) and all(k in value for k in spec.mapping.signature)
    return spec.score(value) >= MIN_SCORE


def check_forced(
    sample: Sample, name: str, specs: Mapping[str, FormatSpec], *, notes: Sequence[str] = ()
) -> Detection:
    """Check a forced format against the sample.

    Args:
        sample: Parsed rows.
        name: The forced format (must be in ``specs``).
        specs: Installed formats.
        notes: Extra remarks to keep in the result.

    Returns:
        The detection, ``forced=True``, with every format's score for the record.

    Raises:
        FormatDetectionError: The sample has rows but none of them matches the forced format;
            the message names an example line and the format the file looks like.
    """
    spec = specs[name]
    scores = _ranked(_matrix(sample, specs), specs)
    detection = Detection(
        best=name,
        runner_up=next((n for n, s in scores if n != name and s >= MIN_SCORE), None),
        scores=scores,
        sample_size=len(sample.rows),
        forced=True,
        order=(name,) if spec.mapping is not None else (),
        notes=tuple(sample.notes) + tuple(notes),
    )
    if not sample.rows:  # nothing to judge by: the core will account for every line
        return detection
    if any(_matches(spec, r.value) for r in sample.rows):
        return detection
    looks = _looks_like(sample, name, specs)
    if looks is not None:
        other, reason, row = looks
        raise FormatDetectionError(
            f'looks like {other} ({reason}), but format="{name}" was forced.',
            path=row.file,
            line=row.line,
            candidates=[other],
            hint=f'drop format= to auto-detect, or pass format="{other}".',
        )
    example = sample.rows[0]
    needs = ", ".join(spec.mapping.signature) if spec.mapping is not None else "its detect()"
    raise FormatDetectionError(
        f"no row among the {len(sample.rows)} sampled has the fields "
        f'format="{name}" needs ({needs}); this row has keys: {_keys(example.value)}.',
        path=example.file,
        line=example.line,
        candidates=[],
        hint="drop format= to auto-detect, or check that the file is in this format.",
    )
