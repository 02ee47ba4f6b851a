"""The ``workbench`` command. Each sub-command is a module with ``add_parser`` and ``run``;
``COMMANDS`` lists them, so a new command is one module plus one line here."""

from __future__ import annotations

import argparse
import importlib
import sys

from .. import __version__

# name -> module; imported when the parser is built (the modules import nothing heavy at the
# top level, so ``workbench --help`` stays fast).
COMMANDS = {
    "gui": "workbench.cli.gui",
    "train": "workbench.cli.train",
    "data": "workbench.cli.data",
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
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "run", None):
        # Plain ``workbench`` (or only global options): open the application.
        from .gui import run_gui
        args = parser.parse_args(["gui", *(argv if argv is not None else sys.argv[1:])])
        return int(run_gui(args) or 0)
    return int(args.run(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
