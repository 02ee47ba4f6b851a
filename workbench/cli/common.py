"""Helpers shared by the sub-commands: the preset-and-overrides arguments, error reporting and
progress on stderr."""

from __future__ import annotations

import signal
import sys
import time

from ..core.errors import WorkbenchError


def fail(exc: BaseException) -> int:
    """Print a user-facing error and return the exit status for it."""
    print(f"error: {exc}", file=sys.stderr)
    return 1 if isinstance(exc, WorkbenchError) else 2


class StageProgress:
    """A one-line progress display on stderr (only when stderr is a terminal)."""

    def __init__(self, stream=None, *, min_interval: float = 0.1):
        self.stream = stream if stream is not None else sys.stderr
        self.enabled = self.stream.isatty()
        self.min_interval = min_interval
        self._last = 0.0

    def __call__(self, stage: str, done: int, total: int) -> None:
        if not self.enabled:
            return
        now = time.monotonic()
        if done < total and now - self._last < self.min_interval:
            return
        self._last = now
        self.stream.write(f"\r{stage}: {done}/{total}")
        if done >= total:
            self.stream.write("\n")
        self.stream.flush()


def add_config_arguments(p) -> None:
    """PRESET and the options that override its settings (train, compare)."""
    p.add_argument("preset", metavar="PRESET")
    p.add_argument("--data", metavar="SOURCE", help="data source (overrides data.source)")
    p.add_argument("--images", metavar="DIR", help="image folder (overrides data.images)")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="override any setting, e.g. --set optimizer.lr=3e-4 (repeatable)")
    p.add_argument("--epochs", type=int, metavar="N", help="overrides training.epochs")
    p.add_argument("--allow-outside-paths", action="store_true",
                   help="let the dataset name images outside its folder (../.., absolute "
                   "paths); sets data.allow_outside_paths")
    p.add_argument("--device", metavar="DEVICE", help="auto, cpu, cuda, cuda:N or mps")
    p.add_argument("--on-error", choices=("fail", "skip"),
                   help="bad rows: fail (stop and list them, the default) or skip (leave them "
                   "out and list them); sets data.on_error")


def config_from_arguments(args):
    """The preset named by ``args.preset`` with the overriding options applied (raises
    WorkbenchError naming what is wrong)."""
    from ..core import config as C
    from ..core.presets import load_preset
    from ..core.training.distributed import env_rank

    options = {"data.source": args.data, "data.images": args.images,
               "training.epochs": args.epochs, "device": args.device,
               "data.on_error": getattr(args, "on_error", None)}
    if getattr(args, "allow_outside_paths", False):
        options["data.allow_outside_paths"] = "true"
    overrides = [f"{key}={value}" for key, value in options.items() if value is not None]
    cfg = C.apply_overrides(load_preset(args.preset), overrides + args.set)
    if env_rank() == 0:  # under torchrun, one note, not one per process
        for note in C.unused_settings(cfg, [item.partition("=")[0].strip() for item in args.set]):
            print(f"note: {note}", file=sys.stderr)
    return cfg


# Ctrl-C, and what a scheduler, systemd or ``docker stop`` sends (SIGTERM) or a closed
# terminal (SIGHUP): each asks for the same clean stop.
STOP_SIGNALS = tuple(getattr(signal, name) for name in ("SIGINT", "SIGTERM", "SIGHUP")
                     if hasattr(signal, name))


class StopOnInterrupt:
    """The first Ctrl-C (or SIGTERM, SIGHUP) stops ``trainer`` after its current step (a
    checkpoint is written) and sets ``requested``; a second one interrupts at once.
    ``trainer`` may be set later (a sequence of runs sets each run's as it starts).

    With ``escalate=False`` (a process started by torchrun) every further signal only asks
    for the stop again: the terminal's Ctrl-C reaches each process and torchrun then sends
    its own SIGINT on top, so a second signal does not mean the user insists. torchrun ends
    processes that do not stop in time itself."""

    def __init__(self, trainer=None, *, quiet: bool = False, message: str = "stopping after "
                 "this step", escalate: bool = True):
        self.trainer = trainer
        self.quiet = quiet  # torchrun's ranks other than 0 stop without a word
        self.message = message
        self.escalate = escalate
        self.requested = False
        self.previous: dict = {}

    def __enter__(self):
        def handler(signum, frame):
            if not self.quiet and not self.requested:
                name = signal.Signals(signum).name
                hint = ("Ctrl-C again to abort" if signum == signal.SIGINT else
                        f"{name} again to abort") if self.escalate else \
                    "torchrun ends the processes if they do not stop in time"
                why = "" if signum == signal.SIGINT else f"{name} received; "
                print(f"\n{self.message} ({why}{hint})", file=sys.stderr)
            self.requested = True
            if self.trainer is not None:
                self.trainer.stop()
            if self.escalate:  # the next one ends the process as it would have
                signal.signal(signum, signal.default_int_handler if signum == signal.SIGINT
                              else signal.SIG_DFL)

        for signum in STOP_SIGNALS:
            try:
                self.previous[signum] = signal.signal(signum, handler)
            except ValueError:  # not the main thread: leave signals alone
                break
        return self

    def __exit__(self, *exc):
        for signum, previous in self.previous.items():
            signal.signal(signum, previous)
        self.previous = {}
        return False


def skipped_lines(skipped: list[dict], limit: int | None = None) -> list[str]:
    """One line per skipped row ("  FILE, row N: reason"; ``RowProblem.to_dict()``s), the
    first ``limit`` of them."""
    shown = skipped if limit is None else skipped[:limit]
    lines = [f"  {p['file']}" + (f", row {p['row']}" if p["row"] is not None else "") +
             f": {p['reason']}" for p in shown]
    if len(skipped) > len(shown):
        lines.append(f"  ... and {len(skipped) - len(shown)} more (workbench data inspect "
                     "lists every one)")
    return lines
