"""The ``workbench`` command. Each sub-command is a module with ``add_parser`` and ``run``;
``COMMANDS`` lists them, so a new command is one module plus one line here."""

from __future__ import annotations

import argparse
import importlib
import os
import sys

from .. import __version__

# name -> module; imported when the parser is built (the modules import nothing heavy at the
# top level, so ``workbench --help`` stays fast).
COMMANDS = {
    "gui": "workbench.cli.gui",
    "train": "workbench.cli.train",
    "data": "workbench.cli.data",
    "compare": "workbench.cli.compare",
    "sweep": "workbench.cli.sweep",
    "evaluate": "workbench.cli.evaluate",
    "features": "workbench.cli.features",
    "export": "workbench.cli.export",
    "runs": "workbench.cli.runs",
    "bench": "workbench.cli.bench",
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="workbench", description="Multimodal Workbench: learn and compare multimodal "
        "(text + image) learning methods.")
    parser.add_argument("--version", action="version", version=f"workbench {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, module in COMMANDS.items():
        importlib.import_module(module).add_parser(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    # Plain ``workbench`` and ``workbench --preset X ...`` open the application: the gui
    # command is the default.
    if not argv or (argv[0] not in COMMANDS and argv[0] not in ("-h", "--help", "--version")):
        argv = ["gui", *argv]
    args = build_parser().parse_args(argv)
    try:
        return int(args.run(args) or 0)
    except BrokenPipeError:
        # The reader went away (`workbench runs show X | head`): end quietly, as a command
        # killed by SIGPIPE does, with no traceback, and without a second error when Python
        # flushes standard output at exit.
        _silence_stdout()
        return 128 + 13  # SIGPIPE's status, as a shell reports it


def _silence_stdout() -> None:
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (AttributeError, ValueError, OSError):  # no file behind stdout (tests, IDEs)
        pass


if __name__ == "__main__":
    sys.exit(main())
