"""Property-based tests (hypothesis) of the config parser and the CSV loader.

The example-based tests pick the inputs someone thought of; these generate the rest: every
parameter of every section with values from its own declared range (so a new parameter is
covered without a new test), arbitrary strings where users type text, arbitrary bytes where a
file may be anything. The properties: valid values round-trip exactly, invalid ones raise a
ConfigError/DataError naming the key or file, and nothing else ever escapes.
"""

from __future__ import annotations

import csv
import io
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from workbench.core import config as C
from workbench.core.algorithms import ALGORITHMS, valid_fusions
from workbench.core.data import DataError, load_pairs
from workbench.core.data.text import tokenize
from workbench.core.errors import ConfigError
from workbench.core.fusion import FUSIONS
from workbench.core.params import ParamInfo, describe

# Enough examples to find edge cases, few enough to keep the file to a few seconds.
FAST = settings(max_examples=60, deadline=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture,
                                       HealthCheck.too_slow])

# Per-parameter tests run once for each of ~80 parameters: fewer examples each.
PER_PARAM = settings(FAST, max_examples=12)

SECTIONS = {"data": C.DataConfig, "preprocess": C.PreprocessConfig, "model": C.ModelConfig,
            "optimizer": C.OptimizerConfig, "training": C.TrainingConfig}
# Keys checked together with another key (C.check): a valid value alone may still be refused
# in combination, and then the message must name one of these.
CROSS_KEYS = {"data.val_fraction", "model.patch_size", "fusion.params.heads", "fusion.name",
              "training.drop_words", "training.augment_images", "training.augment_scale",
              "training.unknown_words", "training.augment_tint",
              "optimizer.pretrained_frozen_epochs", "algorithm.params.itm_weight",
              "algorithm.params.mlm_weight", "algorithm.params.align_weight"}


DEVICES = st.sampled_from(["auto", "cpu", "cuda", "cuda:0", "cuda:12", "mps"])


def values_for(info: ParamInfo, key: str = "") -> st.SearchStrategy:
    """Any value the parameter declares valid."""
    if key == "device":  # free text in the dataclass, checked against a pattern
        return DEVICES
    if info.choices:
        return st.sampled_from(info.choices)
    if info.type is bool:
        return st.booleans()
    if info.type is int:
        return st.integers(int(info.min) if info.min is not None else -2**40,
                           int(info.max) if info.max is not None else 2**40)
    if info.type is float:
        return st.floats(info.min if info.min is not None else -1e12,
                         info.max if info.max is not None else 1e12,
                         allow_nan=False, allow_infinity=False)
    return st.text(max_size=40)


def invalid_for(info: ParamInfo) -> st.SearchStrategy:
    """Text that is not a valid value of the parameter (None when every text is valid)."""
    if info.choices:
        return st.text(max_size=12).filter(lambda s: s not in info.choices)
    if info.type is bool:
        return st.text(max_size=8).filter(
            lambda s: s.strip().lower() not in ("true", "1", "yes", "on", "false", "0", "no",
                                                "off"))
    if info.type in (int, float):
        below = [] if info.min is None else [
            st.just(repr(info.type(info.min) - (1 if info.type is int else abs(info.min) + 1)))]
        above = [] if info.max is None else [
            st.just(repr(info.type(info.max) + (1 if info.type is int else abs(info.max) + 1)))]
        words = st.text(alphabet="abcxyz+-*/() _", min_size=1, max_size=8).filter(
            lambda s: not _is_number(s))
        return st.one_of(words, st.sampled_from(["nan", "inf", "-inf", "1e999"]), *below,
                         *above)
    return None


def _is_number(s: str) -> bool:
    try:
        float(s)
        return True
    except ValueError:
        return False


def as_text(value) -> str:
    """How a user writes ``value`` after ``--set key=``."""
    if isinstance(value, bool):
        return str(value).lower()
    return repr(value) if isinstance(value, float) else str(value)


def all_params() -> list[tuple[str, ParamInfo, list[str]]]:
    """(dotted key, its ParamInfo, overrides that select its component) for every parameter."""
    out = [(f"{s}.{p.name}", p, []) for s, cls in SECTIONS.items() for p in describe(cls)]
    out += [(p.name, p, []) for p in describe(C.ExperimentConfig)]  # seed, device, ...
    for alg in ALGORITHMS:
        fusion = valid_fusions(alg)[0]
        out += [(f"algorithm.params.{p.name}", p, [f"algorithm.name={alg}",
                                                   f"fusion.name={fusion}"])
                for p in describe(ALGORITHMS[alg].params)]
    for fus in FUSIONS:
        alg = next(a for a in ALGORITHMS if fus in valid_fusions(a))
        out += [(f"fusion.params.{p.name}", p, [f"algorithm.name={alg}", f"fusion.name={fus}"])
                for p in describe(FUSIONS[fus].params)]
    return out


PARAMS = all_params()
IDS = [f"{key}@{' '.join(sel) or 'default'}" for key, _, sel in PARAMS]


def get(cfg: C.ExperimentConfig, key: str):
    obj = cfg
    for part in key.split("."):
        obj = getattr(obj, part)
    return obj


# ---------------------------------------------------------------- apply_overrides

@pytest.mark.parametrize("key, info, select", PARAMS, ids=IDS)
@PER_PARAM
@given(data=st.data())
def test_a_valid_override_sets_exactly_that_value(key, info, select, data):
    value = data.draw(values_for(info, key))
    try:
        cfg = C.apply_overrides(C.ExperimentConfig(), [*select, f"{key}={as_text(value)}"])
    except ConfigError as exc:
        assert exc.key in CROSS_KEYS, str(exc)  # only a combination may refuse it
        return
    got = get(cfg, key)
    if info.type is float:
        assert got == float(as_text(value))
    else:
        assert got == value  # text is taken literally, never interpreted
    # ... and the saved preset keeps it exactly.
    assert C.loads(C.dumps(cfg)) == cfg


@pytest.mark.parametrize("key, info, select", [p for p in PARAMS if invalid_for(p[1]) is not None],
                         ids=[i for p, i in zip(PARAMS, IDS) if invalid_for(p[1]) is not None])
@PER_PARAM
@given(data=st.data())
def test_an_invalid_override_names_the_key(key, info, select, data):
    text = data.draw(invalid_for(info))
    with pytest.raises(ConfigError) as err:
        C.apply_overrides(C.ExperimentConfig(), [*select, f"{key}={text}"])
    assert err.value.key == key
    assert str(err.value).startswith(f"{key}: ") and info.allowed() in str(err.value)


@FAST
@given(items=st.lists(st.text(max_size=30), max_size=4))
def test_any_override_text_is_applied_or_refused_as_a_config_error(items):
    base = C.ExperimentConfig()
    try:
        cfg = C.apply_overrides(base, items)
    except ConfigError:
        return
    # Accepted: it still validates and saves (no half-applied state in an invalid config).
    C.check(cfg)
    assert C.loads(C.dumps(cfg)) == cfg
    assert base == C.ExperimentConfig()  # the original is never touched


# ---------------------------------------------------------------- load / save

@st.composite
def configs(draw) -> C.ExperimentConfig:
    """A random valid config: any algorithm with a fusion it accepts, every value in range."""
    alg = draw(st.sampled_from(list(ALGORITHMS)))
    fusion = draw(st.sampled_from(valid_fusions(alg)))
    overrides = [f"algorithm.name={alg}", f"fusion.name={fusion}"]
    for key, info, select in PARAMS:
        # Sections and top-level keys always; a component's parameters when it is the one
        # chosen (PARAMS lists them with the overrides that choose it).
        owner = key.split(".")[0]
        if (owner == "algorithm" and select[0] != f"algorithm.name={alg}") or \
                (owner == "fusion" and select[1] != f"fusion.name={fusion}"):
            continue
        if draw(st.booleans()):  # about half the keys differ from their default
            overrides.append(f"{key}={as_text(draw(values_for(info, key)))}")
    try:
        return C.apply_overrides(C.ExperimentConfig(), overrides)
    except ConfigError as exc:
        assert exc.key in CROSS_KEYS, str(exc)
        assume(False)


@FAST
@given(cfg=configs())
def test_save_then_load_gives_the_same_config(cfg, tmp_path):
    path = tmp_path / "preset.toml"
    C.save(cfg, path)
    assert C.load(path) == cfg
    assert C.dumps(C.load(path)) == C.dumps(cfg)  # and the file is stable


@FAST
@given(text=st.text(max_size=200))
def test_any_text_loads_or_is_a_config_error(text):
    try:
        cfg = C.loads(text, file="any.toml")
    except ConfigError as exc:
        assert str(exc).startswith("any.toml: ")
        return
    C.check(cfg)


toml_scalars = st.one_of(st.integers(-2**63, 2**63 - 1), st.floats(allow_nan=True),
                         st.booleans(), st.text(max_size=10))
toml_docs = st.recursive(
    st.dictionaries(st.text(min_size=1, max_size=10), toml_scalars, max_size=4),
    lambda inner: st.dictionaries(
        st.sampled_from(["data", "model", "training", "optimizer", "preprocess", "algorithm",
                         "fusion", "params", "name", "seed", "device", "schema_version",
                         "epochs", "lr", "heads"]),
        st.one_of(inner, toml_scalars), max_size=5),
    max_leaves=12)


@FAST
@given(doc=toml_docs)
def test_any_toml_document_is_checked_or_refused(doc):
    # Documents shaped like presets (known section names, arbitrary contents): the checks,
    # not a TypeError deep inside, decide.
    try:
        cfg = C.from_dict(doc, file="doc.toml")
    except ConfigError as exc:
        assert exc.file == "doc.toml"
        return
    assert C.loads(C.dumps(cfg)) == cfg


# ---------------------------------------------------------------- the CSV loader

@pytest.fixture(scope="module")
def images(tmp_path_factory) -> Path:
    from data_helpers import COLORS, save_image
    root = tmp_path_factory.mktemp("csvprop")
    for i in range(3):
        save_image(root / f"{i}.png", COLORS[i])
    return root


captions = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"),
                   max_size=30)
csv_rows = st.lists(st.tuples(st.integers(0, 2), captions), min_size=1, max_size=8)


@FAST
@given(rows=csv_rows, delimiter=st.sampled_from([",", ";", "\t", "|"]),
       bom=st.booleans(), quoting=st.sampled_from([csv.QUOTE_MINIMAL, csv.QUOTE_ALL]))
def test_csv_rows_come_back_as_written_or_reported(images, rows, delimiter, bom, quoting):
    buf = io.StringIO(newline="")
    writer = csv.writer(buf, delimiter=delimiter, quoting=quoting)
    writer.writerow(["image", "caption"])
    starts = []  # the line each record starts on, as an editor counts lines
    for img, caption in rows:
        starts.append(len(io.StringIO(buf.getvalue(), newline="").readlines()) + 1)
        writer.writerow([f"{img}.png", caption])
    with tempfile.NamedTemporaryFile("wb", suffix=".csv", dir=images, delete=False) as fh:
        fh.write((("\ufeff" if bom else "") + buf.getvalue()).encode("utf-8"))
    path = Path(fh.name)
    try:
        try:
            table = load_pairs(C.DataConfig(source=str(path), on_error="skip"), 8)
        except DataError as exc:
            # Only when nothing usable is left, and then every row is listed with its reason.
            assert "no usable pairs" in str(exc)
            assert sorted(p.row for p in exc.problems) == starts
            return
    finally:
        path.unlink()
    expected, seen = [], set()
    for start, (img, caption) in zip(starts, rows):
        if tokenize(caption) and (img, caption) not in seen:
            expected.append((start, caption))
        seen.add((img, caption))
    assert list(zip(table.rows, table.captions)) == expected
    # Nothing lost: every row is either a pair or reported, on its own line.
    assert sorted(table.rows + [p.row for p in table.skipped]) == starts
    assert all(p.file == str(path) and p.reason for p in table.skipped)


@FAST
@given(data=st.binary(max_size=300))
def test_any_bytes_as_a_csv_load_or_fail_with_a_data_error(images, data):
    with tempfile.NamedTemporaryFile("wb", suffix=".csv", dir=images, delete=False) as fh:
        fh.write(data)
    path = Path(fh.name)
    try:
        load_pairs(C.DataConfig(source=str(path), on_error="skip"), 8)
    except DataError as exc:
        assert str(exc).startswith(str(path)), str(exc)
    finally:
        path.unlink()
