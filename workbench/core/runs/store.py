"""Reading and managing run folders: list, load, read curves, delete, export, continue.

:mod:`.writer` writes a run folder while it trains; this module reads them back
for the Runs tab and ``workbench runs``. Reading never raises for a bad folder: a run.json
that is missing, cut short or not JSON gives a :class:`RunInfo` with status ``incomplete`` or
``damaged`` and the reason, so one broken folder never hides the others.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import socket
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from ..errors import WorkbenchError
from ..evaluation.names import upgrade_metrics
from ..paths import runs_dir

# What a run folder may hold: anything else means it is not (only) a run, so it is not ours
# to delete. Hidden names are temporary files of atomic writes.
RUN_FILES = frozenset({"config.toml", "run.json", "metrics.jsonl", "steps.jsonl"})
RUN_FOLDERS = {"checkpoints": ".pt", "snapshots": ".npz"}
ENDED = ("finished", "stopped", "failed")
# ``running`` with a dead process is ``interrupted``; ``continuing``: prepared, not started.
KNOWN_STATUS = (*ENDED, "running", "continuing")


class RunError(WorkbenchError):
    """A run that cannot be found or acted on; the message says which and why."""


@dataclass
class RunInfo:
    """One run folder as its run.json describes it (see :mod:`.writer`).

    ``status`` is finished, stopped or failed (the run ended), running, interrupted (its
    process ended without a word: a crash or a kill), continuing, damaged (run.json unreadable)
    or incomplete (no run.json); ``reason`` says why.
    """

    path: Path
    id: str
    status: str
    reason: str = ""
    created: datetime | None = None
    preset: str = ""
    algorithm: str = ""
    fusion: str = ""
    data: str = ""
    description: str = ""
    epochs: int | None = None  # planned
    epochs_done: int | None = None
    steps: int | None = None
    seconds: float | None = None
    metrics: dict[str, float] = field(default_factory=dict)  # the last validation values
    #: the handed-over model's test-split metrics ({}: none, see ``scores``)
    test_metrics: dict[str, float] = field(default_factory=dict)
    primary: str | None = None  # the metric that ranks this algorithm's runs
    warnings: list[str] = field(default_factory=list)  # at chance, collapsed, no test split
    checkpoint: Path | None = None
    device: str = ""
    parameters: int | None = None
    continued_from: str = ""
    summary: dict = field(default_factory=dict, repr=False)  # run.json as read

    @property
    def readable(self) -> bool:
        return self.status not in ("damaged", "incomplete")

    @property
    def scores(self) -> dict[str, dict]:
        """Each split's score of the handed-over model (``evaluation.report.score_split``);
        {} for runs written before the workbench scored them."""
        scores = self.summary.get("scores")
        return scores if isinstance(scores, dict) else {}

    @property
    def test_size(self) -> int | None:
        """Pairs in the test split; 0 when it had none, None when unknown (an older run)."""
        size = self.scores.get("test", {}).get("size") if isinstance(
            self.scores.get("test"), dict) else None
        return size if isinstance(size, int) else None

    @property
    def model_checkpoint(self) -> Path | None:
        """The checkpoint of the model the run handed over: the best epoch's with
        ``training.keep_best``, else the last."""
        best = self.summary.get("best_checkpoint")
        if isinstance(best, str) and best:
            path = self.path / "checkpoints" / Path(best).name
            if path.is_file():
                return path
        return self.checkpoint

    def to_dict(self) -> dict:
        """Plain JSON values (``workbench runs list --json``)."""
        return {"id": self.id, "path": str(self.path), "status": self.status,
                "reason": self.reason,
                "created": self.created.isoformat(timespec="seconds") if self.created else None,
                "preset": self.preset, "algorithm": self.algorithm, "fusion": self.fusion,
                "data": self.data, "description": self.description, "epochs": self.epochs,
                "epochs_done": self.epochs_done, "steps": self.steps, "seconds": self.seconds,
                "metrics": self.metrics, "test_metrics": self.test_metrics,
                "primary": self.primary, "warnings": self.warnings,
                "checkpoint": str(self.checkpoint) if self.checkpoint else None,
                "device": self.device, "parameters": self.parameters,
                "continued_from": self.continued_from or None}


# ---------------------------------------------------------------- reading

def list_runs(base: str | Path | None = None) -> list[RunInfo]:
    """Every run folder under ``base`` (the user runs folder by default), newest first."""
    base = Path(base) if base is not None else runs_dir()
    try:
        entries = [e for e in os.scandir(base) if not e.name.startswith(".")
                   and e.is_dir(follow_symlinks=False)]
    except (FileNotFoundError, NotADirectoryError):
        return []
    runs = [read_run(Path(e.path)) for e in entries]
    return sorted(runs, key=_newest_first)


def _newest_first(run: RunInfo):
    return (-(run.created.timestamp() if run.created else 0.0), run.id)


def load_run(path_or_id: str | Path | RunInfo, base: str | Path | None = None) -> RunInfo:
    """A run by its folder (a path) or its id (the folder's name, or the start of it when
    only one run starts so) under ``base``. A bare name that is no id there but is a folder
    here (``train --out run1``) is that folder. Every command that takes a RUN resolves it
    here (``runs``, ``export``, ``evaluate``)."""
    if isinstance(path_or_id, RunInfo):
        return read_run(path_or_id.path)
    text = str(path_or_id)
    path = Path(text).expanduser()
    base = Path(base) if base is not None else runs_dir()
    if isinstance(path_or_id, Path) or os.sep in text or "/" in text or text.startswith("."):
        if path.is_dir():
            return read_run(path)
        raise RunError(f"{path}: no such run folder")
    if text and (base / text).is_dir():
        return read_run(base / text)
    if text and path.is_dir():
        return read_run(path)
    try:
        names = sorted(e.name for e in os.scandir(base)
                       if e.is_dir() and not e.name.startswith(".") and e.name.startswith(text))
    except FileNotFoundError:
        names = []
    if len(names) == 1 and text:
        return read_run(base / names[0])
    if len(names) > 1 and text:
        shown = ", ".join(names[:5]) + (", …" if len(names) > 5 else "")
        raise RunError(f"{text!r} matches {len(names)} runs ({shown}); give more of the id")
    raise RunError(f"no run {text!r} in {base} ('workbench runs list' shows them)")


def read_run(path: str | Path) -> RunInfo:
    """The :class:`RunInfo` of one folder; never raises for bad contents."""
    path = Path(path)
    try:
        return _read(path)
    except OSError as exc:
        return RunInfo(path, path.name, "damaged", f"cannot read: {exc.strerror or exc}",
                       created=_mtime(path))


def _read(path: Path) -> RunInfo:
    summary_file = path / "run.json"
    checkpoint = path / "checkpoints" / "last.pt"
    checkpoint = checkpoint if checkpoint.is_file() else None
    if not summary_file.is_file():
        info = RunInfo(path, path.name, "incomplete", "no run.json: the run never started, "
                       "or the folder was only partly copied", created=_mtime(path),
                       checkpoint=checkpoint)
        _fill_from_config(info)
        return info
    try:
        raw = json.loads(summary_file.read_bytes().decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        where = f" (line {exc.lineno}, column {exc.colno})" if hasattr(exc, "lineno") else ""
        info = RunInfo(path, path.name, "damaged",
                       f"run.json is not readable JSON{where}: {getattr(exc, 'msg', exc)}",
                       created=_mtime(path), checkpoint=checkpoint)
        _fill_from_config(info)
        return info
    if not isinstance(raw, dict):
        return RunInfo(path, path.name, "damaged", "run.json does not hold a JSON object",
                       created=_mtime(path), checkpoint=checkpoint)
    status = raw.get("status")
    info = RunInfo(
        path, path.name, status if status in KNOWN_STATUS else "damaged",
        _text(raw.get("reason")) if status in KNOWN_STATUS else
        f"run.json has no valid status (found {status!r})",
        created=_date(raw.get("created")) or _mtime(path), preset=_text(raw.get("preset")),
        algorithm=_text(raw.get("algorithm")), fusion=_text(raw.get("fusion")),
        data=_text(raw.get("data")), description=_text(raw.get("description")),
        epochs=_int(raw.get("epochs")), epochs_done=_int(raw.get("epochs_done")),
        steps=_int(raw.get("steps")), seconds=_float(raw.get("seconds")),
        metrics=_numbers(raw.get("metrics")), test_metrics=_numbers(raw.get("test_metrics")),
        primary=raw.get("primary") if isinstance(raw.get("primary"), str) else None,
        warnings=[w for w in raw.get("warnings") or [] if isinstance(w, str)]
        if isinstance(raw.get("warnings"), list) else [],
        checkpoint=checkpoint,
        device=_text(raw.get("device")), parameters=_int(raw.get("parameters")),
        continued_from=_text((raw.get("continuation") or {}).get("from")
                             if isinstance(raw.get("continuation"), dict) else ""),
        summary=raw)
    if info.status == "running":
        if not process_alive(raw):
            info.status = "interrupted"
            info.reason = ("its process ended before the run did (a crash, a kill or a power "
                           "cut); the last checkpoint is kept" if checkpoint else
                           "its process ended before the run did, before any checkpoint")
        # run.json has only the start: the epochs so far are in metrics.jsonl
        _fill_from_metrics(info)
    elif info.status == "continuing" and not process_alive(raw):
        info.status = "interrupted"
        info.reason = "prepared to continue training, but the training never started"
    return info


def process_alive(summary: dict) -> bool:
    """Whether the process that wrote a ``running`` run.json still runs (unknown: True)."""
    pid, host = summary.get("pid"), summary.get("host")
    if not isinstance(pid, int) or host != socket.gethostname():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OSError):
        return True
    return True


def _fill_from_metrics(info: RunInfo) -> None:
    lines = read_metrics(info)
    if lines:
        last = lines[-1]
        info.epochs_done = _int(last.get("epoch"))
        info.steps = _int(last.get("step"))
        info.seconds = _float(last.get("seconds"))
        val = next((m["val"] for m in reversed(lines) if isinstance(m.get("val"), dict)
                    and m["val"]), {})
        info.metrics = _numbers(val)


def _fill_from_config(info: RunInfo) -> None:
    """What config.toml says of a run without a usable run.json (best effort)."""
    from ..config import tomllib
    try:
        raw = tomllib.loads((info.path / "config.toml").read_text("utf-8"))
    except (OSError, ValueError):
        return
    def name(key):
        value = raw.get(key)
        return _text(value.get("name")) if isinstance(value, dict) else ""
    data = raw.get("data")
    info.algorithm, info.fusion = name("algorithm"), name("fusion")
    info.data = _text(data.get("source")) if isinstance(data, dict) else ""
    info.description = _text(raw.get("description"))


def read_metrics(run: RunInfo | str | Path) -> list[dict]:
    """metrics.jsonl: one dict per epoch (epoch, step, seconds, lr, train{}, val{}), with
    today's metric names (``evaluation.names.upgrade_metrics``)."""
    lines = read_jsonl(_path_of(run) / "metrics.jsonl")
    for line in lines:
        if isinstance(line.get("val"), dict):
            line["val"] = upgrade_metrics(line["val"])
    return lines


def read_steps(run: RunInfo | str | Path) -> list[dict]:
    """steps.jsonl: one dict per step (step, epoch, losses{}, lr, seconds)."""
    return read_jsonl(_path_of(run) / "steps.jsonl")


def read_jsonl(path: Path) -> list[dict]:
    """The lines that parse: a crash can cut the last one short, which is left out."""
    try:
        text = path.read_text("utf-8", errors="replace")
    except (FileNotFoundError, NotADirectoryError):
        return []
    out = []
    for line in text.splitlines():
        try:
            value = json.loads(line)
        except json.JSONDecodeError:
            continue
        if isinstance(value, dict):
            out.append(value)
    return out


# ---------------------------------------------------------------- managing

def check_run_folder(path: str | Path) -> Path:
    """``path`` if it is a folder holding only what a run writes; RunError otherwise."""
    path = Path(path)
    if path.is_symlink() or not path.is_dir():
        raise RunError(f"{path}: not a run folder (not a folder)")
    names = {p.name for p in path.iterdir() if not p.name.startswith(".")}
    if not names & {"run.json", "config.toml"}:
        raise RunError(f"{path}: does not look like a run folder (no run.json or "
                       "config.toml); nothing was changed")
    foreign = sorted(n for n in names if n not in RUN_FILES and n not in RUN_FOLDERS)
    for folder, suffix in RUN_FOLDERS.items():
        sub = path / folder
        if folder in names:
            if sub.is_symlink() or not sub.is_dir():
                foreign.append(folder)
                continue
            foreign += [f"{folder}/{p.name}" for p in sub.iterdir() if not p.name.startswith(".")
                        and (p.suffix != suffix or not p.is_file() or p.is_symlink())]
    if foreign:
        shown = ", ".join(foreign[:5]) + (", …" if len(foreign) > 5 else "")
        raise RunError(f"{path}: holds files a run does not write ({shown}), so it is left "
                       "alone; delete it by hand if you mean to")
    return path


def delete_run(run: RunInfo | str | Path) -> None:
    """Delete a run folder; anything that does not look like one is refused (RunError)."""
    path = check_run_folder(_path_of(run))
    info = read_run(path)
    if info.status == "running":
        raise RunError(f"{info.id} is still training; stop it before deleting it")
    # Renamed first, so a deletion cut short leaves a hidden folder, not a "damaged" run.
    doomed = path.with_name(f".deleting-{path.name}-{secrets.token_hex(4)}")
    try:
        os.rename(path, doomed)
    except OSError:
        doomed = path
    try:
        shutil.rmtree(doomed)
    except OSError as exc:
        raise RunError(f"{path}: could not delete: {exc.strerror or exc}") from None


def export_run(run: RunInfo | str | Path, dest: str | Path) -> Path:
    """Copy a run folder into the folder ``dest`` as ``dest/<id>``; returns that path.

    The copy goes to a hidden temporary folder beside it and is renamed when complete, so
    ``dest/<id>`` is never a partial run.
    """
    src = _path_of(run)
    if not src.is_dir():
        raise RunError(f"{src}: no such run folder")
    dest = Path(dest).expanduser()
    target = dest / src.name
    if dest.resolve().is_relative_to(src.resolve()):
        raise RunError(f"cannot export {src.name} into itself ({dest})")
    if target.exists():
        raise RunError(f"{target} already exists; pick another folder")
    return copy_atomically(src, target)


def copy_atomically(src: Path, target: Path, edit=None) -> Path:
    """Copy the folder ``src`` to a hidden folder beside ``target``, call ``edit(copy)``
    (when given), then rename it to ``target``."""
    tmp = target.with_name(f".{target.name}.partial-{secrets.token_hex(4)}")
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copytree(src, tmp, ignore=shutil.ignore_patterns(".*"), symlinks=True)
        if edit is not None:
            edit(tmp)
        os.rename(tmp, target)
    except OSError as exc:
        shutil.rmtree(tmp, ignore_errors=True)
        raise RunError(f"cannot copy {src} to {target}: {exc.strerror or exc}") from None
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return target


# ---------------------------------------------------------------- helpers

def format_duration(seconds: float | None) -> str:
    """``8.2 s``, ``37 s``, ``4 min 05 s``, ``2 h 03 min``; ``-`` when unknown."""
    if not isinstance(seconds, (int, float)) or isinstance(seconds, bool):
        return "-"
    s = round(seconds)
    if s < 60:
        return f"{seconds:.1f} s" if seconds < 10 else f"{s} s"
    if s < 3600:
        return f"{s // 60} min {s % 60:02d} s"
    return f"{s // 3600} h {s % 3600 // 60:02d} min"


def _path_of(run: RunInfo | str | Path) -> Path:
    return run.path if isinstance(run, RunInfo) else Path(run)


def _mtime(path: Path) -> datetime | None:
    try:
        return datetime.fromtimestamp(path.stat().st_mtime)
    except OSError:
        return None


def _date(value) -> datetime | None:
    try:
        return datetime.fromisoformat(value) if isinstance(value, str) else None
    except ValueError:
        return None


def _text(value) -> str:
    return value if isinstance(value, str) else ""


def _int(value) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _float(value) -> float | None:
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) \
        else None


def _numbers(value) -> dict[str, float]:
    if not isinstance(value, dict):
        return {}
    return upgrade_metrics({k: float(v) for k, v in value.items() if isinstance(k, str)
                            and isinstance(v, (int, float)) and not isinstance(v, bool)})
