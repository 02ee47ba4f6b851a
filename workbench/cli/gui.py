"""``workbench gui`` (and plain ``workbench``): the desktop application."""

from __future__ import annotations

TABS = ("training", "attention", "embeddings", "retrieval", "compare", "sweep", "runs")


def add_parser(sub) -> None:
    p = sub.add_parser("gui", help="open the desktop application (the default command)",
                       description="Open the Multimodal Workbench window on the built-in "
                       "emoji data (or --data) with a preset chosen, ready to press Train.")
    add_arguments(p)
    p.set_defaults(run=run_gui)


def add_arguments(p) -> None:
    p.add_argument("--data", metavar="SOURCE", help="data source to load (default: the "
                   "preset's, builtin:emoji)")
    p.add_argument("--images", metavar="DIR", help="image folder for COCO captions")
    p.add_argument("--preset", metavar="NAME_OR_TOML", help="preset to start from")
    p.add_argument("--train", action="store_true", help="start training once the data is in")
    p.add_argument("--tab", choices=TABS, type=str.lower, help="centre tab to show")
    p.add_argument("--screenshot", metavar="PNG",
                   help="save a picture of the window after --after seconds, then quit")
    p.add_argument("--after", type=float, default=5.0, metavar="SECONDS",
                   help="seconds before the screenshot (default 5)")


def run_gui(args) -> int:
    from ..ui.app import GuiOptions, run_gui as start
    return start(GuiOptions(data=args.data, images=args.images, preset=args.preset,
                            train=args.train, tab=args.tab, screenshot=args.screenshot,
                            after=args.after))
