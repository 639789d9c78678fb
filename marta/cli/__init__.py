"""`marta` command line. Each command lives in its own module under `marta/cli/` and
exposes `add_parser(subparsers)`; the list below is the only place commands are named."""

from __future__ import annotations

import argparse
import importlib
import os
import sys
import warnings
from collections.abc import Callable
from typing import TextIO

from marta.plugins import ENV_VAR, load_plugins, plugins_from_env

#: command modules, in the order `marta --help` lists them
COMMANDS = [
    "envs",
    "demo",
    "bench",
    "solve",
    "train",
    "report",
    "gain",
    "eval",
    "presets",
    "reproduce",
]


class CliError(Exception):
    """A user error: printed as one line (no traceback), exit status 2."""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="marta",
        description="Fault-tolerant multi-agent reinforcement learning (MARTA) in pure JAX.",
    )
    parser.add_argument(
        "--plugin",
        action="append",
        default=[],
        metavar="MODULE",
        help="import a module (or a .py file) that registers environments, learners, mixers "
        f"or fault policies before the command runs; repeatable; also ${ENV_VAR} "
        "(comma-separated); see docs/extending.md",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name in COMMANDS:
        importlib.import_module(f"marta.cli.{name}").add_parser(sub)
    for command in sub.choices.values():  # also after the command: marta train --plugin X
        command.add_argument(
            "--plugin",
            action="append",
            default=[],
            dest="command_plugin",
            metavar="MODULE",
            help="load a plugin first (as marta --plugin MODULE); repeatable",
        )
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        with warnings.catch_warnings():
            warnings.showwarning = _one_line_warnings(args.command, warnings.showwarning)
            load_plugins([*plugins_from_env(), *args.plugin, *args.command_plugin])
            return int(args.func(args) or 0)
    except (CliError, ValueError) as err:
        print(f"marta {args.command}: error: {err}", file=sys.stderr)
        return 2
    except BrokenPipeError:
        # the reader of stdout went away (`marta presets | head -3`): stop quietly, as Unix
        # tools do; stdout goes to /dev/null so that the flush at exit does not fail again
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 128 + 13  # killed by SIGPIPE, as the shell reports it


def _one_line_warnings(command: str, show: Callable[..., None]) -> Callable[..., None]:
    """A `warnings.showwarning` that prints marta's own warnings (`ResumeWarning`,
    `PoolingWarning`, ...) as one line, ``marta COMMAND: warning: ...``, like its errors;
    other libraries' warnings keep Python's format (`show`)."""

    def showwarning(
        message: Warning | str,
        category: type[Warning],
        filename: str,
        lineno: int,
        file: TextIO | None = None,
        line: str | None = None,
    ) -> None:
        if category.__module__.startswith("marta."):
            print(f"marta {command}: warning: {message}", file=sys.stderr)
        else:
            show(message, category, filename, lineno, file, line)

    return showwarning


if __name__ == "__main__":
    sys.exit(main())
