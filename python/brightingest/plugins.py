"""Format plugins: the ``hookimpl`` marker, :class:`FormatSpec`, the plugin manager, the registry.

Plugins are found through one entry-point group, ``brightingest.formats``; the built-in formats
(``brightingest.formats.*``) are listed in that group by brightingest's own ``pyproject.toml``
and load exactly like a third party's. The contract is in :mod:`brightingest.hookspecs`.

Example::

    from brightingest.plugins import get_plugin_manager, registry

    pm = get_plugin_manager()  # every installed plugin, built-ins included
    sorted(registry(pm))  # ['alpaca', 'brightrun-v4', 'openai', 'prompt-completion', ...]

Tests build a manager without entry points and register modules explicitly::

    import brightingest.formats.openai

    pm = get_plugin_manager(autoload=False)
    pm.register(brightingest.formats.openai)
"""

from __future__ import annotations

import importlib.metadata as md
import json
import math
import re
from collections.abc import Callable, Collection, Iterable
from dataclasses import dataclass, field
from functools import lru_cache
from types import ModuleType
from typing import TYPE_CHECKING, Any

import pluggy

from brightingest import hookspecs
from brightingest.errors import PluginError
from brightingest.mapping import Mapping

if TYPE_CHECKING:
    import pyarrow as pa

__all__ = [
    "ENTRY_POINT_GROUP",
    "FormatInfo",
    "FormatSpec",
    "RegisteredFormat",
    "as_plugin",
    "default_plugin_manager",
    "fields_score",
    "formats",
    "get_plugin_manager",
    "hookimpl",
    "registry",
]

#: The entry-point group every format plugin (built-ins included) is listed in.
ENTRY_POINT_GROUP = "brightingest.formats"

#: Marks a plugin's implementation of a hook from :mod:`brightingest.hookspecs`.
hookimpl = pluggy.HookimplMarker(hookspecs.PROJECT)

_NAME_RE = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
_RESERVED_NAMES = frozenset({"auto"})

#: Detection scores below this count as "does not look like this format at all".
MIN_SCORE = 1e-9

Detector = Callable[[Any], float]
Transform = Callable[["pa.RecordBatch"], "pa.RecordBatch"]
MapRecord = Callable[[dict[str, Any]], "list[dict[str, Any]] | dict[str, Any] | None"]


def fields_score(
    required: Iterable[str],
    optional: Iterable[str] = (),
    *,
    items: dict[str, Collection[str | Collection[str]]] | None = None,
) -> Detector:
    """Build a detector scoring a row by its top-level keys.

    A row that is not an object, or lacks a required key (or has it null), scores 0. Otherwise
    the score is ``0.6 + 0.4 * known / total``, where ``known`` counts the row's keys that are
    required or optional: a row with only this format's keys scores 1, one with many foreign
    keys less. With ``items``, a list field whose first item is not an object with all the given
    keys halves the score (``{"messages": ("role",)}`` tells OpenAI rows from look-alikes); a
    tuple among those keys is a choice of spellings, one of which must be there
    (``{"conversations": (("from", "role"), ("value", "content"))}``).

    Args:
        required: Keys every row of the format has.
        optional: Keys rows of the format may have.
        items: For list fields, the keys their items have (a tuple: any one of these).

    Returns:
        A callable ``row -> float`` in ``[0, 1]``.

    Example:
        >>> score = fields_score(required=("prompt", "completion"))
        >>> score({"prompt": "a", "completion": "b"}), score({"prompt": "a"})
        (1.0, 0.0)
    """
    req = tuple(required)
    if not req:
        raise ValueError("fields_score() needs at least one required key")
    known = frozenset(req) | frozenset(optional)
    item_keys = {
        k: tuple((key,) if isinstance(key, str) else tuple(key) for key in v)
        for k, v in (items or {}).items()
    }

    def score(row: Any) -> float:
        if not isinstance(row, dict) or not row:
            return 0.0
        if any(row.get(k) is None for k in req):
            return 0.0
        value = 0.6 + 0.4 * sum(1 for k in row if k in known) / len(row)
        for key, keys in item_keys.items():
            got = row.get(key)
            if got is None:
                continue
            if not isinstance(got, list) or (
                got
                and not (
                    isinstance(got[0], dict)
                    and all(any(k in got[0] for k in choice) for choice in keys)
                )
            ):
                value *= 0.5
        return round(value, 6)

    return score


@dataclass(frozen=True)
class FormatSpec:
    """One chat format, as a plugin declares it.

    Args:
        name: Lowercase with hyphens (``brightrun-v4``); unique across installed plugins.
        version: The version of this format definition (not of the package).
        description: One line for ``brightingest formats``.
        detect: ``row -> score`` in ``[0, 1]``: how much a parsed sample row looks like this
            format, so that detection can rank candidates. Defaults to :func:`fields_score` over
            the mapping's signature (required) and the other fields it reads (optional).
        mapping: The declarative mapping the Rust core executes for every row (the fast path).
        transform: Optional vectorized hook: an Arrow record batch of rows this format mapped
            (:data:`brightingest.schema.CHAT_SCHEMA`) in, a batch with the same rows and schema
            out; runs once per batch, for what a declaration cannot express.
        map_record: The slow path, for a format without ``mapping``: one parsed JSON row in,
            its messages (OpenAI-style dicts: ``role``, ``content``, optional ``weight``,
            ``name``, ``tool_calls``, ``tool_call_id``; any other key, such as
            ``reasoning_content``, is kept in the message's ``extra``) out, or ``None`` if the
            row is not of this format. To fill the ``id``, ``tools`` and ``metadata`` columns
            too, return ``{"messages": [...], "id"?: str | int, "tools"?: [...],
            "metadata"?: {...}}``. Runs Python once per row; raise
            :class:`~brightingest.errors.MappingError` with a report category as ``code`` to
            reject a row with a reason.

    Raises:
        PluginError: The spec breaks the contract (bad name, a mapping that is not a
            :class:`~brightingest.mapping.Mapping`, neither mapping nor map_record, ...).
    """

    name: str
    version: str
    description: str = ""
    detect: Detector | None = None
    mapping: Mapping | None = None
    transform: Transform | None = None
    map_record: MapRecord | None = None
    _score: Detector = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        problem = self._problem()
        if problem:
            raise PluginError(
                f"format spec {self.name!r} breaks the plugin contract: {problem}.",
                code="plugin_contract",
                hint="see brightingest.hookspecs for the contract and a worked example.",
            )
        if self.detect is not None:
            detector: Detector = self.detect
        else:
            assert self.mapping is not None  # checked by _problem()
            sig = self.mapping.signature
            detector = fields_score(
                required=sig, optional=[k for k in self.mapping.reads() if k not in sig]
            )
        object.__setattr__(self, "_score", detector)

    def _problem(self) -> str | None:
        if not isinstance(self.name, str) or not _NAME_RE.match(self.name):
            return "name must be lowercase letters and digits joined by hyphens, e.g. 'my-format'"
        if self.name in _RESERVED_NAMES:
            return f"the name {self.name!r} is reserved"
        if not isinstance(self.version, str) or not self.version.strip():
            return "version must be a non-empty string"
        if not isinstance(self.description, str):
            return "description must be a string"
        if self.mapping is not None:
            if not isinstance(self.mapping, Mapping):
                return (
                    "mapping must be a brightingest.mapping.Mapping, "
                    f"not {type(self.mapping).__name__}"
                )
            if not self.mapping.signature:
                return "mapping.signature must name at least one field"
            if not self.mapping.parts:
                return "mapping.parts must declare at least one message source"
        elif self.map_record is None:
            return "give a mapping (executed natively) or a map_record function (the slow path)"
        for attr in ("detect", "transform", "map_record"):
            value = getattr(self, attr)
            if value is not None and not callable(value):
                return f"{attr} must be callable, not {type(value).__name__}"
        if self.detect is None and self.mapping is None:
            return "a format with no mapping needs a detect function"
        return None

    def score(self, row: Any) -> float:
        """How much ``row`` looks like this format, clamped to ``[0, 1]``.

        Raises:
            PluginError: The detect function raised or returned something other than a number.
        """
        try:
            value = self._score(row)
        except Exception as exc:
            raise PluginError(
                f"format {self.name!r}: detect() raised {type(exc).__name__}: {exc}",
                code="plugin_contract",
                hint="detect() must return a score for any JSON value, 0.0 for rows it rejects.",
            ) from exc
        if isinstance(value, bool) or not isinstance(value, (int, float)) or math.isnan(value):
            raise PluginError(
                f"format {self.name!r}: detect() returned {value!r}, not a number in [0, 1].",
                code="plugin_contract",
            )
        return min(1.0, max(0.0, float(value)))

    @property
    def signature(self) -> frozenset[str]:
        """The top-level keys every row of this format has (empty without a mapping)."""
        return frozenset(self.mapping.signature) if self.mapping is not None else frozenset()

    def is_more_specific_than(self, other: FormatSpec) -> bool:
        """True when this format's signature is a strict superset of ``other``'s."""
        return bool(other.signature) and self.signature > other.signature


@dataclass(frozen=True)
class FormatInfo:
    """What :func:`formats` lists about an installed format.

    Attributes:
        name: The format name (``format=`` value).
        version: The format definition's version.
        description: One line.
        plugin: The plugin that registered it: its module (``brightingest.formats.openai``),
            or its registered name for a plugin object.
        distribution: The installed package providing it, if known.
        distribution_version: That package's version, if known.
    """

    name: str
    version: str
    description: str
    plugin: str
    distribution: str | None
    distribution_version: str | None


@dataclass(frozen=True)
class RegisteredFormat:
    """A :class:`FormatSpec` with where it came from."""

    spec: FormatSpec
    plugin: str
    distribution: str | None
    distribution_version: str | None
    module: str | None = None

    @property
    def origin(self) -> str:
        """``plugin "x" (dist 1.0)`` for messages."""
        if self.distribution:
            ver = f" {self.distribution_version}" if self.distribution_version else ""
            return f'plugin "{self.plugin}" ({self.distribution}{ver})'
        return f'plugin "{self.plugin}"'

    def info(self) -> FormatInfo:
        """This format as a :class:`FormatInfo`."""
        return FormatInfo(
            name=self.spec.name,
            version=self.spec.version,
            description=self.spec.description,
            plugin=self.module or self.plugin,
            distribution=self.distribution,
            distribution_version=self.distribution_version,
        )


class BrightPluginManager(pluggy.PluginManager):
    """A pluggy manager that remembers which distribution each plugin came from."""

    def __init__(self) -> None:
        super().__init__(hookspecs.PROJECT)
        self.add_hookspecs(hookspecs)
        #: plugin name -> (distribution name, version), for entry-point plugins.
        self.distributions: dict[str, tuple[str | None, str | None]] = {}


def _dist_of_entry_point(ep: md.EntryPoint) -> tuple[str | None, str | None]:
    dist = getattr(ep, "dist", None)
    if dist is None:
        return None, None
    try:
        return dist.metadata["Name"], dist.version
    except Exception:  # broken metadata must not hide the real error; report what we know
        return None, None


@lru_cache(maxsize=1)
def _packages_distributions() -> dict[str, list[str]]:
    try:
        return dict(md.packages_distributions())
    except Exception:  # unreadable site-packages metadata: distributions are then unknown
        return {}


def _dist_of_object(obj: object) -> tuple[str | None, str | None]:
    module = obj.__name__ if isinstance(obj, ModuleType) else type(obj).__module__
    top = (module or "").split(".")[0]
    for name in _packages_distributions().get(top, []):
        try:
            return name, md.version(name)
        except md.PackageNotFoundError:
            continue
    return None, None


def _describe(name: str, dist: tuple[str | None, str | None]) -> str:
    dname, dver = dist
    if dname:
        return f'plugin "{name}" ({dname}{" " + dver if dver else ""})'
    return f'plugin "{name}"'


def _brightingest_installed() -> bool:
    try:
        md.distribution("brightingest")
    except md.PackageNotFoundError:
        return False
    return True


def get_plugin_manager(*, autoload: bool = True) -> BrightPluginManager:
    """Build a plugin manager with the brightingest hookspecs.

    With ``autoload``, every entry point in the ``brightingest.formats`` group is imported and
    registered under its entry-point name (the built-ins are in that group too). When
    brightingest runs from a source tree that was never installed (no distribution metadata,
    hence no entry points), the built-in modules are registered directly instead, so that a
    bare checkout still knows its own formats.

    Args:
        autoload: Load the entry-point group. Tests pass ``False`` and register plugins with
            ``pm.register(module)``.

    Returns:
        The plugin manager.

    Raises:
        PluginError: A plugin failed to import, has an invalid hook implementation, or its
            entry-point name clashes with another's; the message names the entry point and
            its distribution.
    """
    pm = BrightPluginManager()
    if not autoload:
        return pm
    for ep in md.entry_points(group=ENTRY_POINT_GROUP):
        if pm.is_blocked(ep.name):
            continue
        dist = _dist_of_entry_point(ep)
        where = _describe(ep.name, dist)
        if pm.has_plugin(ep.name):
            other = _describe(ep.name, pm.distributions.get(ep.name, (None, None)))
            raise PluginError(
                f"two format plugins use the entry-point name {ep.name!r}: {other} and {where}.",
                plugin=ep.name,
                distribution=dist[0],
                hint="uninstall one of the two distributions.",
            )
        try:
            plugin = ep.load()
        except Exception as exc:
            raise PluginError(
                f"{where} failed to import ({ep.value}): {type(exc).__name__}: {exc}",
                plugin=ep.name,
                distribution=dist[0],
                hint=f"fix or uninstall {dist[0] or 'the package that provides it'}; "
                "brightingest loads every installed format plugin.",
            ) from exc
        pm.distributions[ep.name] = dist
        _register(pm, plugin, ep.name, where, dist[0])
    if not _brightingest_installed():
        from brightingest.formats import BUILTIN_PLUGINS, builtin_modules

        for name, module in zip(BUILTIN_PLUGINS, builtin_modules(), strict=True):
            if not pm.has_plugin(name):
                _register(pm, module, name, _describe(name, (None, None)), None)
    try:
        pm.check_pending()
    except pluggy.PluginValidationError as exc:
        name = pm.get_name(exc.plugin) or "?"
        dist = pm.distributions.get(name, (None, None))
        raise PluginError(
            f"{_describe(name, dist)} implements a hook brightingest does not define: {exc}",
            plugin=name,
            distribution=dist[0],
            hint="format plugins implement brightingest_register_formats (brightingest.hookspecs).",
        ) from exc
    return pm


def _register(
    pm: pluggy.PluginManager, plugin: object, name: str, where: str, dist: str | None
) -> None:
    try:
        pm.register(plugin, name=name)
    except pluggy.PluginValidationError as exc:
        raise PluginError(
            f"{where} has an invalid hook implementation: {exc}",
            plugin=name,
            distribution=dist,
            hint="see brightingest.hookspecs for the hook signature.",
        ) from exc
    except ValueError as exc:
        raise PluginError(
            f"{where} could not be registered: {exc}", plugin=name, distribution=dist
        ) from exc


@lru_cache(maxsize=1)
def default_plugin_manager() -> BrightPluginManager:
    """The process-wide plugin manager with every installed plugin (built once, then reused).

    Raises:
        PluginError: As :func:`get_plugin_manager`.
    """
    return get_plugin_manager()


def _plugin_dist(
    pm: pluggy.PluginManager, name: str, plugin: object
) -> tuple[str | None, str | None]:
    known = getattr(pm, "distributions", {})
    if name in known:
        return tuple(known[name])
    return _dist_of_object(plugin)


def _mapping_problem(spec: FormatSpec) -> str | None:
    """What the core finds wrong with ``spec``'s mapping (``None``: nothing, or no mapping, or
    no core to ask)."""
    if spec.mapping is None:
        return None
    try:
        from brightingest._core import check_formats
    except ImportError:
        return None
    try:
        check_formats(json.dumps([spec.mapping.to_dict(spec.name)]))
    except ValueError as exc:
        return str(exc).removeprefix(f"format {spec.name}: ")
    return None


def registry(pm: pluggy.PluginManager | None = None) -> dict[str, RegisteredFormat]:
    """Call every plugin's ``brightingest_register_formats`` and collect the formats.

    Args:
        pm: The plugin manager (default: :func:`default_plugin_manager`).

    Returns:
        Format name -> :class:`RegisteredFormat`, in registration order.

    Raises:
        PluginError: A plugin's hook raised, registered something that is not a valid
            :class:`FormatSpec`, or registered a name another plugin also registered (the
            message names both distributions).
    """
    pm = pm if pm is not None else default_plugin_manager()
    found: dict[str, RegisteredFormat] = {}
    # get_hookimpls() is in registration order (pluggy *calls* them last-registered first).
    for impl in pm.hook.brightingest_register_formats.get_hookimpls():
        name = impl.plugin_name
        dist = _plugin_dist(pm, name, impl.plugin)
        where = _describe(name, dist)

        module = impl.plugin.__name__ if isinstance(impl.plugin, ModuleType) else None

        def register(
            spec: FormatSpec, *, _name: str = name, _dist: Any = dist, _module: Any = module
        ) -> None:
            if not isinstance(spec, FormatSpec):
                raise PluginError(
                    f"registered a {type(spec).__name__}, not a brightingest.plugins.FormatSpec.",
                    code="plugin_contract",
                )
            problem = _mapping_problem(spec)
            if problem is not None:
                raise PluginError(
                    f'format "{spec.name}" has a mapping the reader cannot run: {problem}.',
                    code="plugin_contract",
                    hint="fix the format's Mapping (roles, weights, fields), then check it "
                    "with brightingest.testing.check_format.",
                )
            entry = RegisteredFormat(spec, _name, _dist[0], _dist[1], _module)
            if spec.name in found:
                first = found[spec.name]
                raise PluginError(
                    f'format "{spec.name}" is registered twice: by {first.origin} '
                    f"and by {entry.origin}.",
                    code="duplicate_format",
                    plugin=_name,
                    distribution=_dist[0],
                    hint="uninstall one of the two distributions, or rename one format.",
                )
            found[spec.name] = entry

        kwargs = {arg: register for arg in impl.argnames}
        try:
            impl.function(**kwargs)
        except PluginError as exc:
            if exc.code == "duplicate_format":
                raise
            raise PluginError(
                f"{where}: {exc.message}",
                code=exc.code,
                plugin=name,
                distribution=dist[0],
                hint=exc.hint,
            ) from exc
        except Exception as exc:
            raise PluginError(
                f"{where} failed in brightingest_register_formats: {type(exc).__name__}: {exc}",
                plugin=name,
                distribution=dist[0],
                hint=f"fix or uninstall {dist[0] or 'the plugin'}.",
            ) from exc
    return found


def formats(pm: pluggy.PluginManager | None = None) -> list[FormatInfo]:
    """List the installed format plugins.

    Args:
        pm: The plugin manager (default: every installed plugin).

    Returns:
        One :class:`FormatInfo` per format, sorted by name.

    Raises:
        PluginError: A plugin is broken (see :func:`registry`).
    """
    return sorted((r.info() for r in registry(pm).values()), key=lambda i: i.name)


class _SpecPlugin:
    """A plugin object registering fixed specs (see :func:`as_plugin`)."""

    def __init__(self, specs: tuple[FormatSpec, ...]) -> None:
        self.specs = specs

    @hookimpl
    def brightingest_register_formats(self, register: Callable[[FormatSpec], None]) -> None:
        for spec in self.specs:
            register(spec)


def as_plugin(*specs: FormatSpec) -> object:
    """Wrap format specs in a plugin object, for ``pm.register(as_plugin(spec), name=...)``.

    Example:
        >>> from brightingest.mapping import Message
        >>> spec = FormatSpec(
        ...     "qa", "1",
        ...     mapping=Mapping(("q", "a"), (Message("user", "q"), Message("assistant", "a"))),
        ... )
        >>> pm = get_plugin_manager(autoload=False)
        >>> pm.register(as_plugin(spec), name="qa")
        'qa'
        >>> list(registry(pm))
        ['qa']
    """
    return _SpecPlugin(specs)
