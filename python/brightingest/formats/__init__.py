"""The built-in formats: openai, brightrun-v4, sharegpt, alpaca, prompt-completion.

Each module is a plugin written exactly as a third party would write one (a
``brightingest_register_formats`` hook implementation), and brightingest's ``pyproject.toml``
lists them in the ``brightingest.formats`` entry-point group. Importing this package is cheap:
the modules are imported on demand by :func:`builtin_modules`.
"""

from __future__ import annotations

import importlib
from types import ModuleType

__all__ = ["BUILTIN_PLUGINS", "builtin_modules"]

#: Entry-point name -> module, as in ``[project.entry-points."brightingest.formats"]``.
BUILTIN_PLUGINS: dict[str, str] = {
    "openai": "brightingest.formats.openai",
    "brightrun_v4": "brightingest.formats.brightrun_v4",
    "sharegpt": "brightingest.formats.sharegpt",
    "alpaca": "brightingest.formats.alpaca",
    "prompt_completion": "brightingest.formats.prompt_completion",
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
