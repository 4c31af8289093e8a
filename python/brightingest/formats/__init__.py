"""The built-in formats: openai, brightrun-v4, sharegpt, alpaca, prompt-completion, gemini,
dolly, openorca, question-answer.

Each module is a plugin written exactly as a third party would write one (a
``brightingest_register_formats`` hook implementation), and brightingest's ``pyproject.toml``
lists them in the ``brightingest.formats`` entry-point group. Importing this package is cheap:
the modules are imported on demand by :func:`builtin_modules`.

``brightingest.formats`` is both this package and the API function listing installed formats
(``brightingest.formats()``): Python binds a subpackage to its parent's attribute when it is
imported, so the package itself is made callable and delegates to
:func:`brightingest.api.formats`.
"""

from __future__ import annotations

import importlib
import sys
from types import ModuleType
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from brightingest.plugins import FormatInfo

__all__ = ["BUILTIN_PLUGINS", "builtin_modules"]

#: Entry-point name -> module, as in ``[project.entry-points."brightingest.formats"]``.
BUILTIN_PLUGINS: dict[str, str] = {
    "openai": "brightingest.formats.openai",
    "brightrun_v4": "brightingest.formats.brightrun_v4",
    "sharegpt": "brightingest.formats.sharegpt",
    "alpaca": "brightingest.formats.alpaca",
    "prompt_completion": "brightingest.formats.prompt_completion",
    "gemini": "brightingest.formats.gemini",
    "dolly": "brightingest.formats.dolly",
    "openorca": "brightingest.formats.openorca",
    "question_answer": "brightingest.formats.question_answer",
}


def builtin_modules() -> list[ModuleType]:
    """Import and return the built-in plugin modules, in :data:`BUILTIN_PLUGINS` order.

    Example:
        >>> from brightingest.plugins import get_plugin_manager
        >>> pm = get_plugin_manager(autoload=False)
        >>> for name, module in zip(BUILTIN_PLUGINS, builtin_modules()):
        ...     _ = pm.register(module, name=name)
    """
    return [importlib.import_module(module) for module in BUILTIN_PLUGINS.values()]


class _CallableFormatsPackage(ModuleType):
    """This package, callable as :func:`brightingest.api.formats`."""

    def __call__(self, pm: Any = None) -> list[FormatInfo]:
        from brightingest.api import formats

        return formats(pm)


sys.modules[__name__].__class__ = _CallableFormatsPackage
