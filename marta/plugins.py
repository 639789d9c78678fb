"""Plugins: your own modules that register environments, learners, mixers or fault policies.

marta finds every environment, learner, mixer and fault policy by name in a registry
(`marta.envs.register`, `marta.learners.register`, `marta.learners.register_mixer`,
`marta.faults.register`). A plugin is a Python module that calls those functions when it is
imported; once it is loaded, its names work everywhere a built-in name does: configs, presets,
``marta train``, ``marta eval``, ``marta envs`` (docs/extending.md walks through one).

The command line loads plugins named by ``--plugin MODULE`` (before or after the command;
repeatable) and by the
environment variable ``MARTA_PLUGINS`` (comma-separated). A plugin is a module name
(``mypackage.faults``, importable from ``sys.path``) or the path of a ``.py`` file. Loading is
idempotent: a plugin already loaded in this process is not imported again, so its
``register`` calls run once.
"""

from __future__ import annotations

import importlib
import importlib.util
import os
import sys
import zlib
from collections.abc import Sequence
from pathlib import Path

#: environment variable with comma-separated plugins to load (module names or .py paths)
ENV_VAR = "MARTA_PLUGINS"

#: how an unknown-name error tells the user about plugins
HINT = f"names a plugin registers need `marta --plugin MODULE` or ${ENV_VAR}"

#: plugins loaded in this process, in load order (module names and resolved file paths)
_LOADED: list[str] = []


def plugins_from_env() -> list[str]:
    """The plugins named by ``$MARTA_PLUGINS`` (comma-separated, blanks ignored)."""
    return [name.strip() for name in os.environ.get(ENV_VAR, "").split(",") if name.strip()]


def loaded_plugins() -> list[str]:
    """The plugins loaded in this process so far (module names and absolute .py paths)."""
    return list(_LOADED)


def load_plugins(plugins: Sequence[str]) -> list[str]:
    """Imports each plugin once (a module name, or the path of a ``.py`` file).

    Args:
        plugins: module names (``mypackage.envs``) or file paths (``my_env.py``).

    Returns:
        The plugins as recorded (file paths made absolute), in the order given.

    Raises:
        ValueError: a plugin cannot be found or fails while importing (the message names it
            and gives the cause).
    """
    loaded = []
    for plugin in plugins:
        key = _key(plugin)
        if key not in _LOADED:
            try:
                _import(key)
            except Exception as err:  # any failure of the user's module, reported by name
                raise ValueError(
                    f"plugin {plugin!r} could not be loaded: {type(err).__name__}: {err}"
                ) from err
            _LOADED.append(key)
        loaded.append(key)
    return loaded


def _is_path(plugin: str) -> bool:
    return plugin.endswith(".py") or os.sep in plugin


def _key(plugin: str) -> str:
    return str(Path(plugin).expanduser().resolve()) if _is_path(plugin) else plugin


def _import(key: str) -> None:
    if not _is_path(key):
        importlib.import_module(key)
        return
    path = Path(key)
    if not path.is_file():
        raise FileNotFoundError(f"no file {key}")
    name = f"marta_plugin_{path.stem}_{zlib.crc32(key.encode()):08x}"
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None  # a .py file always has a loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses and pickling look a module up by name
    try:
        spec.loader.exec_module(module)
    except BaseException:
        del sys.modules[name]
        raise
