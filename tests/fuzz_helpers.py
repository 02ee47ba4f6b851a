"""Hypothesis helpers shared by the fuzz tests (tests/core/data/test_fuzz_readers.py and
test_fuzz_shards.py): settings scaled by WORKBENCH_FUZZ_EXAMPLES, and strategies for inputs
that are mostly good, sometimes bad, or damaged."""

from __future__ import annotations

import os
import re
from pathlib import Path

from hypothesis import HealthCheck, event, note, settings
from hypothesis import strategies as st

from workbench.core.errors import WorkbenchError

SCALE = float(os.environ.get("WORKBENCH_FUZZ_EXAMPLES", "1"))


def fuzz(examples: int) -> settings:
    """One fuzz test's settings: ``examples`` times the scale; no deadline (a first decode or
    cache write is slow), no example database (CI keeps no state between runs)."""
    return settings(max_examples=max(1, round(examples * SCALE)), deadline=None,
                    database=None, suppress_health_check=[
                        HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                        HealthCheck.data_too_large, HealthCheck.large_base_example])


def mostly(good: st.SearchStrategy, bad: st.SearchStrategy, times: int = 3) -> st.SearchStrategy:
    """``good`` ``times`` times for each ``bad``: so most examples get past the first check.
    (Not ``one_of(good, good, ..., bad)``: hypothesis merges the repeated branches.)"""
    return st.sampled_from([True] * times + [False]).flatmap(lambda ok: good if ok else bad)


def sometimes(draw, one_in: int) -> bool:
    """True about once in ``one_in`` draws. (Not ``integers(0, n) == 0``: hypothesis favours
    the simplest value, 0, far above 1 in n.)"""
    return draw(st.sampled_from([False] * (one_in - 1) + [True]))


@st.composite
def damaged(draw, data: bytes) -> bytes:
    """``data`` as written (most often), cut short, or with a few bytes changed or added."""
    how = draw(st.sampled_from(["as is"] * 9 + ["truncate", "overwrite", "insert"]))
    if how == "as is" or not data:
        return data
    at = draw(st.integers(0, len(data) - 1))
    if how == "truncate":
        return data[:at]
    junk = draw(st.binary(min_size=1, max_size=4))
    return data[:at] + junk + data[at + (len(junk) if how == "overwrite" else 0):]


def load_or_refuse(load, *names: Path | str):
    """``load()``'s result, or None when it refused with a WorkbenchError naming one of
    ``names`` (the source, or one of its shards). Any other exception fails the test, and
    hypothesis shows the input (the notes)."""
    try:
        result = load()
    except WorkbenchError as exc:
        note(f"refused: {exc}")
        # Grouped by the message's start, numbers and the path left out, for the statistics.
        event("refused: " + re.sub(r"\d+", "N", " ".join(
            str(exc).replace(str(names[0]), "FILE").split()[:4])))
        assert any(Path(n).name in str(exc) for n in names), \
            f"the message names no file: {exc}"
        return None
    event("loaded")
    return result


def cut_or_damaged(draw, data: bytes) -> bytes:
    """``data`` cut short at a random byte (one time in five), else :func:`damaged`."""
    if sometimes(draw, 5):
        return data[: draw(st.integers(0, len(data) - 1))]
    return draw(damaged(data))
