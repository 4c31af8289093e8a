"""The plugin contract: the hook specifications a brightingest format plugin implements.

A format plugin is any importable module (or object) with functions marked by
:data:`brightingest.plugins.hookimpl`. It is found through one entry-point group,
``brightingest.formats``, the same group the built-in formats load through. There is one hook:
:func:`brightingest_register_formats`, called with a ``register`` callback; the plugin calls it
once for each :class:`~brightingest.plugins.FormatSpec` it provides.

Worked example: a plugin for rows like ``{"question": ..., "answer": ..., "topic": ...}``,
packaged as its own distribution.

``my_qa_format/__init__.py``::

    from collections.abc import Callable

    from brightingest.mapping import Mapping, Message
    from brightingest.plugins import FormatSpec, fields_score, hookimpl


    @hookimpl
    def brightingest_register_formats(register: Callable[[FormatSpec], None]) -> None:
        register(
            FormatSpec(
                name="qa",
                version="1.0",
                description="question/answer pairs",
                # How much a sample row looks like this format (0..1); ranks candidates.
                detect=fields_score(required=("question", "answer"), optional=("topic",)),
                # What the Rust core executes for every row: no Python per row.
                mapping=Mapping(
                    signature=("question", "answer"),
                    parts=(Message("user", "question"), Message("assistant", "answer")),
                    metadata="rest",  # "topic" and any other field land in `metadata`
                ),
            )
        )

``pyproject.toml`` of that distribution::

    [project.entry-points."brightingest.formats"]
    qa = "my_qa_format"

After ``pip install``, ``brightingest.formats()`` lists ``qa`` and ``brightingest.load(path)``
detects it. Check the plugin against the contract in its own tests with
:func:`brightingest.testing.check_format`.

What a declaration cannot express goes in ``FormatSpec.transform`` (an Arrow record batch of
rows the mapping produced in, a batch of the same rows out: vectorized, once per batch). A format
with no mapping at all may give ``FormatSpec.map_record`` (one JSON row in, its messages out, or
``{"messages", "id", "tools", "metadata"}`` to fill those columns too): that is the slow path, a
Python call per row.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import pluggy

if TYPE_CHECKING:
    from brightingest.plugins import FormatSpec

__all__ = ["PROJECT", "brightingest_register_formats", "hookspec"]

#: The pluggy project name shared by the hookspec and hookimpl markers.
PROJECT = "brightingest"

#: Marks the hook specifications below.
hookspec = pluggy.HookspecMarker(PROJECT)


@hookspec
def brightingest_register_formats(register: Callable[[FormatSpec], None]) -> None:
    """Declare the formats this plugin provides.

    When it runs: each time the format registry is built from a plugin manager (every
    :func:`brightingest.load`, :func:`brightingest.stream`, :func:`brightingest.detect` and
    :func:`brightingest.formats` call), once per registered plugin, in registration order.

    What it returns: nothing; call ``register(spec)`` once per format instead. ``register``
    checks the spec against the contract (name, version, a ``Mapping`` or a ``map_record``
    function, callables where callables are expected) and raises
    :class:`~brightingest.errors.PluginError` naming this plugin and its distribution if it breaks
    it.

    Who wins: nobody. Format names are unique across all installed plugins; the same name
    registered by two plugins is a :class:`~brightingest.errors.PluginError` naming both
    distributions. Which format reads a given file is decided by detection (the ``detect``
    scores on a sample) or by the caller's ``format=``.

    Args:
        register: Call with each :class:`~brightingest.plugins.FormatSpec` to provide.
    """
