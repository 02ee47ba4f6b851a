"""Where a sweep lives: an Optuna study in a real database, and what the workbench keeps in it.

By default each study is one SQLite file in the user data folder (``sweeps/NAME.db``); any
SQLAlchemy URL works (``--storage postgresql://...`` for several machines). The study keeps
its :class:`SweepSpec` (the base config, the search space, the metric, the seeds) among its
user attributes, so the study is the whole record: a study opened again with another space or
another base config is refused, naming the difference, rather than mixing trials that are
not comparable. A trial left RUNNING by a process that is gone (kill -9, a power cut) is
marked failed when the study is opened again, so it is never counted and never run twice.
"""

from __future__ import annotations

import os
import re
import socket
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .. import config as C
from ..errors import ConfigError, WorkbenchError
from ..paths import user_data_dir
from .space import SearchSpace

SPEC_ATTR = "workbench_sweep"  # the study's user attribute holding the SweepSpec
# Trials this many epochs into the first seed's run are compared by the median pruner: the
# first epochs of every run look alike (warm-up, the schedule's start), so a trial is not
# judged on them. A fraction of the epochs, at least 2.
PRUNE_WARMUP_FRACTION = 0.1
# Complete trials before any is pruned: the median of fewer says little.
PRUNE_STARTUP_TRIALS = 4
# Seconds SQLite waits for a lock another process holds (several trials write at once).
SQLITE_TIMEOUT_S = 60
# Tries at opening a storage whose tables another process is making at that moment.
SCHEMA_RACE_TRIES = 8

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$")


def optuna_module():
    """Optuna, imported on first use (``workbench --help`` stays fast), its INFO lines
    ("A new study created ...") off: the sweep says what happens in its own words."""
    import optuna
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    return optuna


class SweepError(WorkbenchError):
    """A sweep that cannot start or go on (storage, study, search space)."""


@dataclass
class SweepSpec:
    """What every trial of a study shares."""

    preset: str  # the preset's name, for run labels
    config: dict  # the base config (``config.to_dict``): each trial changes only the space
    space: SearchSpace
    metric: str
    direction: str  # "maximize" or "minimize"
    seeds: int = 1  # each trial's value is the mean over this many model seeds
    pruner: str = "median"  # or "none"
    prune_startup_trials: int = PRUNE_STARTUP_TRIALS
    prune_warmup_epochs: int | None = None  # None: PRUNE_WARMUP_FRACTION of the epochs

    def base_config(self) -> C.ExperimentConfig:
        return C.from_dict(self.config)

    def prune_warmup(self) -> int:
        if self.prune_warmup_epochs is not None:
            return self.prune_warmup_epochs
        epochs = int(self.config.get("training", {}).get("epochs", 20))
        return max(2, round(epochs * PRUNE_WARMUP_FRACTION))

    def to_json(self) -> dict:
        return {"preset": self.preset, "config": self.config, "space": self.space.to_json(),
                "metric": self.metric, "direction": self.direction, "seeds": self.seeds,
                "pruner": self.pruner, "prune_startup_trials": self.prune_startup_trials,
                "prune_warmup_epochs": self.prune_warmup_epochs}

    @classmethod
    def from_json(cls, d: dict) -> "SweepSpec":
        return cls(preset=d["preset"], config=d["config"],
                   space=SearchSpace.from_json(d["space"]), metric=d["metric"],
                   direction=d["direction"], seeds=int(d["seeds"]),
                   pruner=d.get("pruner", "median"),
                   prune_startup_trials=int(d.get("prune_startup_trials",
                                                  PRUNE_STARTUP_TRIALS)),
                   prune_warmup_epochs=d.get("prune_warmup_epochs"))

    def differences(self, other: "SweepSpec") -> list[str]:
        """Why trials of ``other`` would not be comparable with this study's ([]: they
        are). The pruner may differ: it changes which trials finish, not their values."""
        out = self.space.differences(other.space)
        for name in ("metric", "direction", "seeds"):
            mine, theirs = getattr(self, name), getattr(other, name)
            if mine != theirs:
                out.append(f"{name}: {mine} in the study, {theirs} now")
        out += [f"{key}: {a!r} in the study, {b!r} now"
                for key, a, b in config_differences(self.config, other.config)]
        return out


def config_differences(a: dict, b: dict, prefix: str = "") -> list[tuple[str, Any, Any]]:
    """The dotted keys whose values differ between two config documents (description and
    schema version left out)."""
    out = []
    for key in sorted(a.keys() | b.keys()):
        if not prefix and key in ("description", "schema_version"):
            continue
        va, vb = a.get(key), b.get(key)
        dotted = f"{prefix}{key}"
        if isinstance(va, dict) and isinstance(vb, dict):
            out += config_differences(va, vb, dotted + ".")
        elif va != vb:
            out.append((dotted, va, vb))
    return out


def check_study_name(name: str) -> str:
    if not isinstance(name, str) or not _NAME.match(name):
        raise ConfigError(f"got {name!r}, expected a study name of letters, digits, '-', '_' "
                          "and '.' (up to 100, starting with a letter or digit)", key="study")
    return name


def sweeps_dir() -> Path:
    return user_data_dir() / "sweeps"


def default_storage(study: str) -> str:
    """The SQLite URL of ``study``'s own file in the user data folder."""
    return sqlite_url(sweeps_dir() / f"{check_study_name(study)}.db")


def sqlite_url(path: str | Path) -> str:
    return f"sqlite:///{Path(path).absolute()}"


def open_storage(url: str):
    """An Optuna storage for ``url``, or a SweepError saying why it cannot be used."""
    optuna = optuna_module()
    if url.startswith("sqlite:///"):
        path = Path(url[len("sqlite:///"):])
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise SweepError(f"storage {url}: cannot make its folder {path.parent}: "
                             f"{exc.strerror or exc}") from None
        if path.exists() and not os.access(path, os.W_OK):
            raise SweepError(f"storage {url}: the file is read-only; trials could not be "
                             "recorded (copy it somewhere writable, or use another --storage)")
        engine = {"connect_args": {"timeout": SQLITE_TIMEOUT_S}}
    else:
        engine = {}
    for attempt in range(SCHEMA_RACE_TRIES):
        try:
            return optuna.storages.RDBStorage(url, engine_kwargs=engine)
        except Exception as exc:  # noqa: BLE001 - sorted below
            if attempt + 1 < SCHEMA_RACE_TRIES and _schema_race(exc):
                # Optuna makes the tables with check-then-create, which is not atomic: a
                # second process opening the same new database (two sweeps started together,
                # a viewer polling it) finds a table the first made a moment ago. The
                # tables are whole by the next try, and making them is skipped.
                time.sleep(0.05 * (attempt + 1))
                continue
            raise _storage_error(url, exc) from None
    raise AssertionError("unreachable")


def _schema_race(exc: BaseException) -> bool:
    """Whether ``exc`` is another process making the same tables (SQLite: "table X already
    exists" or the schema version row already stamped; PostgreSQL: "relation X already
    exists", a duplicate key)."""
    text = str(exc).lower()
    return any(part in text for part in ("already exists", "unique constraint failed",
                                         "duplicate key"))


def _storage_error(url: str, exc: BaseException) -> SweepError:
    if isinstance(exc, ModuleNotFoundError):  # the URL's database driver (psycopg2, ...)
        return SweepError(f"storage {url}: its database driver is not installed "
                          f"({exc.name}); pip install it")
    # sqlalchemy's errors: a bad URL, no server, no permission
    first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return SweepError(f"storage {url}: cannot open it: {first}")


def open_study(storage, name: str, spec: SweepSpec, *, create: bool = True):
    """The study ``name`` in ``storage``: made with ``spec`` when new; when it exists, its
    spec must match ``spec`` (else a SweepError naming each difference)."""
    optuna = optuna_module()
    check_study_name(name)
    try:
        study = optuna.load_study(study_name=name, storage=storage, sampler=None)
    except KeyError:
        if not create:
            raise SweepError(f"no study {name!r} in {storage_url(storage)}") from None
        try:
            study = optuna.create_study(study_name=name, storage=storage,
                                        direction=spec.direction)
        except optuna.exceptions.DuplicatedStudyError:
            # another machine (or command) made it a moment ago: join it, if it matches
            study = optuna.load_study(study_name=name, storage=storage, sampler=None)
        else:
            study.set_user_attr(SPEC_ATTR, spec.to_json())
            return study
        if stored_spec(study) is None:  # made so recently that its settings are not in yet
            time.sleep(1.0)
    stored = stored_spec(study)
    if stored is None:
        raise SweepError(f"study {name!r} in {storage_url(storage)} was not made by the "
                         "workbench (it holds no sweep settings); choose another --study")
    problems = stored.differences(spec)
    if problems:
        raise SweepError(f"study {name!r} exists with other settings, so its trials would "
                         "not compare with new ones:\n  " + "\n  ".join(problems) +
                         "\nstart a new study (--study NEW_NAME), or repeat the study's own "
                         "settings")
    return study


def load_existing(storage, name: str):
    """``(study, spec)`` of a study the workbench made (a SweepError otherwise)."""
    optuna = optuna_module()
    try:
        study = optuna.load_study(study_name=name, storage=storage)
    except KeyError:
        raise SweepError(f"no study {name!r} in {storage_url(storage)}") from None
    spec = stored_spec(study)
    if spec is None:
        raise SweepError(f"study {name!r} holds no sweep settings (not made by the workbench)")
    return study, spec


def stored_spec(study) -> SweepSpec | None:
    raw = study.user_attrs.get(SPEC_ATTR)
    if not isinstance(raw, dict):
        return None
    try:
        return SweepSpec.from_json(raw)
    except (KeyError, TypeError, ValueError):
        return None


def storage_url(storage) -> str:
    url = getattr(storage, "url", None)
    return str(url) if url else "the storage"


def mark_trial_owner(trial) -> None:
    """Record which process runs ``trial``, so a later start can tell it was lost."""
    trial.set_user_attr("pid", os.getpid())
    trial.set_user_attr("host", socket.gethostname())


def fail_lost_trials(study) -> list[int]:
    """Mark failed every RUNNING trial whose process (on this machine) is gone; their
    numbers. A trial another machine runs is left alone: its process cannot be seen."""
    from optuna.trial import TrialState

    from ..runs.store import process_alive
    lost = []
    storage = study._storage  # noqa: SLF001 (Optuna's own handle; there is no public one)
    for t in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
        if process_alive(t.user_attrs):
            continue
        storage.set_trial_user_attr(t._trial_id, "reason",  # noqa: SLF001
                                    "its process ended while it ran (killed?); not counted")
        storage.set_trial_state_values(t._trial_id, TrialState.FAIL)  # noqa: SLF001
        lost.append(t.number)
    return lost


@dataclass
class StudyInfo:
    """A study found in the sweeps folder (the Sweep tab's list)."""

    name: str
    storage: str
    trials: int
    best: float | None
    metric: str
    preset: str


def list_studies(folder: str | Path | None = None) -> list[StudyInfo]:
    """The workbench's studies in the sweeps folder, newest file first; unreadable files
    are left out (a half-written one, another program's database)."""
    optuna = optuna_module()
    folder = Path(folder) if folder is not None else sweeps_dir()
    out = []
    files = sorted(folder.glob("*.db"), key=lambda p: p.stat().st_mtime, reverse=True) \
        if folder.is_dir() else []
    for path in files:
        try:
            storage = open_storage(sqlite_url(path))
            for summary in optuna.get_all_study_summaries(storage, include_best_trial=True):
                study = optuna.load_study(study_name=summary.study_name, storage=storage)
                spec = stored_spec(study)
                if spec is None:
                    continue
                best = summary.best_trial.value if summary.best_trial is not None else None
                out.append(StudyInfo(summary.study_name, sqlite_url(path), summary.n_trials,
                                     best, spec.metric, spec.preset))
        except Exception:  # noqa: BLE001 - one bad file must not hide the others
            continue
    return out

