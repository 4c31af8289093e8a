"""The plugin test kit: check a format plugin against the contract, from its own tests.

:func:`check_format` runs, for one format:

1. the contract: the plugin registers a valid :class:`~brightingest.plugins.FormatSpec`, whose
   ``detect`` returns 0 for values that are not objects;
2. detection: every good row scores above 0, and auto-detection picks this format over the
   built-ins on a sample of the good rows;
3. mapping, through the real Rust core: every good row is kept under this format (forced and
   auto-detected), with the expected messages when given;
4. bad rows: each is skipped under its expected report category, at its line;
5. round trip: the table written as OpenAI JSONL is valid under OpenAI's rules and reads back
   as the same conversations.

A failed check raises :class:`~brightingest.errors.PluginError` naming the format and what
differs (pytest shows it as the test's failure).

Example (``tests/test_my_format.py`` of a third-party plugin)::

    import my_qa_format
    from brightingest.testing import check_format


    def test_contract(tmp_path):
        check_format(
            my_qa_format,
            good_rows=[{"question": "2+2?", "answer": "4"}],
            expected_messages=[
                [{"role": "user", "content": "2+2?"}, {"role": "assistant", "content": "4"}]
            ],
            bad_rows={"wrong_type": {"question": ["not", "text"], "answer": "4"}},
            tmp_path=tmp_path,
        )
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from brightingest.detect import Sample, detect_sample
from brightingest.errors import BrightIngestError, PluginError
from brightingest.plugins import (
    BrightPluginManager,
    FormatSpec,
    as_plugin,
    get_plugin_manager,
    registry,
)
from brightingest.writers import openai_problems

__all__ = ["FormatCheck", "builtin_plugin_manager", "check_format", "write_rows"]

_NOT_OBJECTS: tuple[Any, ...] = (None, 0, 1.5, True, "text", [], [{"role": "user"}])


@dataclass
class FormatCheck:
    """What :func:`check_format` verified.

    Attributes:
        name: The format checked.
        rows: Good rows mapped.
        messages: The mapped messages of each good row (OpenAI-style dicts).
        bad_categories: The categories the bad rows were skipped under.
        round_trip_path: The OpenAI JSONL file written and read back.
    """

    name: str
    rows: int = 0
    messages: list[list[dict[str, Any]]] = field(default_factory=list)
    bad_categories: dict[str, int] = field(default_factory=dict)
    round_trip_path: str | None = None


def builtin_plugin_manager(*, exclude: Sequence[str] = ()) -> BrightPluginManager:
    """A plugin manager with the built-in formats registered explicitly (no entry points).

    Args:
        exclude: Entry-point names of built-ins to leave out.
    """
    from brightingest.formats import BUILTIN_PLUGINS, builtin_modules

    pm = get_plugin_manager(autoload=False)
    for name, module in zip(BUILTIN_PLUGINS, builtin_modules(), strict=True):
        if name not in exclude:
            pm.register(module, name=name)
    return pm


def write_rows(path: str | os.PathLike[str], rows: Sequence[Any]) -> Path:
    """Write rows as JSONL: dicts and lists as JSON, ``str`` lines verbatim, ``bytes`` raw."""
    out = Path(path)
    with out.open("wb") as handle:
        for row in rows:
            if isinstance(row, bytes):
                handle.write(row.rstrip(b"\n") + b"\n")
            elif isinstance(row, str):
                handle.write(row.rstrip("\n").encode("utf-8") + b"\n")
            else:
                handle.write(json.dumps(row, ensure_ascii=False).encode("utf-8") + b"\n")
    return out


def _fail(name: str, what: str) -> PluginError:
    return PluginError(
        f'format "{name}" fails the plugin test kit: {what}',
        code="plugin_contract",
        plugin=name,
        hint="see brightingest.hookspecs for the contract.",
    )


def _specs_of(plugin: Any) -> tuple[dict[str, FormatSpec], object]:
    if isinstance(plugin, FormatSpec):
        return {plugin.name: plugin}, as_plugin(plugin)
    pm = get_plugin_manager(autoload=False)
    pm.register(plugin, name="plugin-under-test")
    pm.check_pending()
    return {n: r.spec for n, r in registry(pm).items()}, plugin


def _pick(specs: Mapping[str, FormatSpec], name: str | None) -> FormatSpec:
    if name is not None:
        if name not in specs:
            raise _fail(name, f"the plugin registers {sorted(specs)}, not {name!r}")
        return specs[name]
    if len(specs) != 1:
        raise PluginError(
            f"the plugin registers {len(specs)} formats ({', '.join(sorted(specs))}); "
            "pass name= to choose the one to check.",
            code="plugin_contract",
        )
    return next(iter(specs.values()))


def _plugin_manager(spec: FormatSpec, plugin: object) -> BrightPluginManager:
    from brightingest.formats import BUILTIN_PLUGINS, builtin_modules

    pm = get_plugin_manager(autoload=False)
    for entry, module in zip(BUILTIN_PLUGINS, builtin_modules(), strict=True):
        if any(s.name == spec.name for s in _module_specs(module)):
            continue  # checking a built-in: register it once, as the plugin under test
        pm.register(module, name=entry)
    pm.register(plugin, name="plugin-under-test")
    registry(pm)  # a clash with a built-in name fails here, naming both
    return pm


def _module_specs(module: object) -> list[FormatSpec]:
    found: list[FormatSpec] = []
    hook = getattr(module, "brightingest_register_formats", None)
    if callable(hook):
        hook(found.append)
    return found


def check_format(
    plugin: Any,
    *,
    good_rows: Sequence[Mapping[str, Any]],
    expected_messages: Sequence[Sequence[Mapping[str, Any]]] | None = None,
    bad_rows: Mapping[str, Any] | None = None,
    name: str | None = None,
    tmp_path: str | os.PathLike[str] | None = None,
) -> FormatCheck:
    """Check a format plugin against the brightingest plugin contract.

    Args:
        plugin: The plugin module (or object) with a ``brightingest_register_formats`` hook
            implementation, or a :class:`~brightingest.plugins.FormatSpec`.
        good_rows: Rows of the format, each of which must map.
        expected_messages: For each good row, its messages in OpenAI form (``role``,
            ``content`` and only the non-null optional keys), compared exactly.
        bad_rows: ``{category: row}``: a row (a dict, or a ``str`` line written verbatim) that
            must be skipped under that report category.
        name: The format to check, when the plugin registers several.
        tmp_path: Where to write the test files (default: a temporary directory).

    Returns:
        A :class:`FormatCheck` with what was verified.

    Raises:
        PluginError: A check failed; the message says which and how.
    """
    if not good_rows:
        raise ValueError("check_format needs at least one good row")
    if expected_messages is not None and len(expected_messages) != len(good_rows):
        raise ValueError("expected_messages needs one list of messages per good row")
    specs, plugin_obj = _specs_of(plugin)
    spec = _pick(specs, name)
    pm = _plugin_manager(spec, plugin_obj)
    everything = {n: r.spec for n, r in registry(pm).items()}
    result = FormatCheck(name=spec.name)

    _check_detection(spec, everything, good_rows)
    if tmp_path is None:
        with tempfile.TemporaryDirectory(prefix="brightingest-kit-") as tmp:
            _check_reading(spec, pm, good_rows, expected_messages, bad_rows, Path(tmp), result)
            result.round_trip_path = None  # removed with the temporary directory
    else:
        _check_reading(spec, pm, good_rows, expected_messages, bad_rows, Path(tmp_path), result)
    return result


def _check_detection(
    spec: FormatSpec, everything: Mapping[str, FormatSpec], good_rows: Sequence[Any]
) -> None:
    for value in _NOT_OBJECTS:
        if spec.score(value) != 0.0:
            raise _fail(spec.name, f"detect({value!r}) scores {spec.score(value)}, not 0")
    for i, row in enumerate(good_rows, start=1):
        if spec.score(row) <= 0.0:
            raise _fail(spec.name, f"detect() scores good row {i} as 0: {_short(row)}")
    try:
        detection = detect_sample(Sample.from_values(list(good_rows)), everything)
    except BrightIngestError as exc:
        raise _fail(spec.name, f"auto-detection on the good rows failed: {exc}") from exc
    if detection.best != spec.name:
        raise _fail(
            spec.name,
            f"auto-detection on the good rows picks {detection.best!r} "
            f"(scores: {detection.scores})",
        )


def _short(value: Any) -> str:
    text = json.dumps(value, ensure_ascii=False)
    return text if len(text) <= 200 else text[:197] + "..."


def _check_reading(
    spec: FormatSpec,
    pm: BrightPluginManager,
    good_rows: Sequence[Any],
    expected: Sequence[Sequence[Mapping[str, Any]]] | None,
    bad_rows: Mapping[str, Any] | None,
    tmp: Path,
    result: FormatCheck,
) -> None:
    from brightingest.api import load

    name = spec.name
    good = write_rows(tmp / f"{name}.good.jsonl", good_rows)
    try:
        ds = load(good, format=name, pm=pm, policy="strict", progress=False)
        auto = load(good, pm=pm, progress=False)
    except BrightIngestError as exc:
        raise _fail(name, f"reading the good rows failed: {exc}") from exc
    if len(ds) != len(good_rows) or ds.report.formats != {name: len(good_rows)}:
        raise _fail(name, f"kept {len(ds)} of {len(good_rows)} good rows: {ds.report.to_dict()}")
    if auto.format != name or auto.report.formats != {name: len(good_rows)}:
        raise _fail(name, f"auto-detected reading mapped {auto.report.formats}")
    result.rows = len(ds)
    result.messages = [ds.messages_as_python(i) for i in range(len(ds))]
    if expected is not None:
        for i, (got, want) in enumerate(zip(result.messages, expected, strict=True), start=1):
            if got != [dict(m) for m in want]:
                raise _fail(name, f"good row {i} maps to {got}, expected {list(want)}")

    for category, row in (bad_rows or {}).items():
        path = write_rows(tmp / f"{name}.bad.{category}.jsonl", [good_rows[0], row])
        try:
            bad = load(path, format=name, pm=pm, progress=False)
        except BrightIngestError as exc:
            raise _fail(name, f"reading the {category} bad row failed: {exc}") from exc
        skipped = dict(bad.report.skipped)
        example = bad.report.example(category)
        if skipped != {category: 1} or example is None or example.get("line") != 2:
            raise _fail(
                name,
                f"the {category} bad row was not skipped as {category} at line 2: "
                f"skipped {skipped}, examples {bad.report.examples}",
            )
        result.bad_categories[category] = 1

    out = tmp / f"{name}.openai.jsonl"
    ds.write_openai(out)
    for line_no, line in enumerate(out.read_text(encoding="utf-8").splitlines(), start=1):
        problems = openai_problems(json.loads(line))
        if problems:
            raise _fail(name, f"OpenAI output line {line_no} is invalid: {'; '.join(problems)}")
    try:
        back = load(out, format="openai", pm=pm, policy="strict", progress=False)
    except BrightIngestError as exc:
        raise _fail(name, f"reading the OpenAI output back failed: {exc}") from exc
    again = [back.messages_as_python(i) for i in range(len(back))]
    if again != result.messages:
        raise _fail(name, f"round trip through OpenAI JSONL changed the messages: {again}")
    result.round_trip_path = str(out)
