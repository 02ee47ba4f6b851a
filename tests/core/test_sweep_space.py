"""A sweep's search space from the config's parameter metadata: default ranges, typed
ranges and lists, and every malformed or out-of-bounds range refused naming the key."""

from __future__ import annotations

import dataclasses

import optuna
import pytest

from workbench.core import config as C
from workbench.core.algorithms import ALGORITHMS
from workbench.core.errors import ConfigError
from workbench.core.fusion import FUSIONS
from workbench.core.params import describe
from workbench.core.presets import load_preset
from workbench.core.sweep import space as S


@pytest.fixture
def cfg():
    return load_preset("contrastive-emoji")


def test_default_ranges_come_from_the_metadata_not_the_validity_bounds(cfg):
    space = S.build_space(["optimizer.lr", "model.hidden_dim", "training.drop_words",
                           "algorithm.params.init_temperature"], cfg)
    lr, hidden, words, temp = space.dimensions
    assert (lr.kind, lr.low, lr.high, lr.log) == ("float", 1e-5, 1e-1, True)
    assert (hidden.kind, hidden.low, hidden.high, hidden.log) == ("int", 32, 512, True)
    assert (words.kind, words.low, words.high, words.log) == ("float", 0.0, 0.7, False)
    assert temp.kind == "float" and temp.log and temp.low > 0
    info = C.param_infos(cfg)
    assert (info["optimizer.lr"].min, info["optimizer.lr"].max) == (1e-6, 10.0)  # validity


def test_flags_and_choices_are_searched_over_all_their_values(cfg):
    flag, choice = S.build_space(["training.augment_images", "optimizer.name"],
                                 cfg).dimensions
    assert flag.choices == (False, True) and choice.choices == ("adam", "adamw", "sgd")


def test_ranges_and_lists_are_typed_as_the_parameter(cfg):
    hidden = S.parse_dimension("model.hidden_dim=64..256", cfg)
    assert (hidden.kind, hidden.low, hidden.high, hidden.log) == ("int", 64, 256, True)
    assert not S.parse_dimension("model.hidden_dim=64..256:linear", cfg).log
    assert S.parse_dimension("training.drop_words=0.1..0.5:log", cfg).log
    listed = S.parse_dimension("model.hidden_dim=64,128,256,128", cfg)
    assert listed.kind == "categorical" and listed.choices == (64, 128, 256)
    assert all(type(v) is int for v in listed.choices)
    assert S.parse_dimension("optimizer.lr=0.001,0.01", cfg).choices == (0.001, 0.01)
    assert S.parse_dimension("training.augment_images=false,true", cfg).choices == \
        (False, True)


@pytest.mark.parametrize("item, words", [
    ("optimizer.lrr", ["optimizer.lrr", "did you mean optimizer.lr"]),
    ("nothing.here=1..2", ["nothing.here", "not a setting a sweep can search"]),
    ("seed=0..5", ["seed", "--seeds"]),
    ("optimizer.lr=", ["optimizer.lr", "empty range"]),
    ("optimizer.lr=1e-3..", ["optimizer.lr", "both ends"]),
    ("optimizer.lr=1e-2..1e-3", ["optimizer.lr", "empty range", "LOW is above HIGH"]),
    ("optimizer.lr=1e-3..1e-3", ["optimizer.lr", "single value", "--set"]),
    ("optimizer.lr=1e-8..1e-2", ["optimizer.lr", "1e-06 to 10"]),
    ("model.hidden_dim=16..4096", ["model.hidden_dim", "8 to 2048"]),
    ("model.hidden_dim=64,abc", ["model.hidden_dim", "'abc'", "an integer"]),
    ("model.hidden_dim=64,,128", ["model.hidden_dim", "empty item"]),
    ("model.hidden_dim=64.5..128", ["model.hidden_dim", "an integer"]),
    ("optimizer.lr=1e-3..1e-2:cubic", ["optimizer.lr", ":log or :linear"]),
    ("optimizer.name=1..2", ["optimizer.name", "a list"]),
    ("optimizer.name=adam,rmsprop", ["optimizer.name", "'rmsprop'", "one of"]),
    ("optimizer.weight_decay=0..0.1", ["optimizer.weight_decay", "log", ":linear"]),
    ("model.patch_size", ["model.patch_size", "no default search range",
                          "model.patch_size=LOW..HIGH"]),
    ("model.text_model", ["model.text_model", "no default search range", "A,B,C"]),
])
def test_malformed_ranges_are_refused_naming_the_key(cfg, item, words):
    with pytest.raises(ConfigError) as err:
        S.build_space([item], cfg)
    message = str(err.value)
    for word in words:
        assert word in message, message


def test_a_key_given_twice_and_no_key_at_all_are_refused(cfg):
    with pytest.raises(ConfigError, match="given twice"):
        S.build_space(["optimizer.lr", "optimizer.lr=1e-4..1e-2"], cfg)
    with pytest.raises(ConfigError, match="no setting to search"):
        S.build_space([], cfg)


def test_a_parameter_its_mode_does_not_use_is_refused_unless_the_mode_is_searched(cfg):
    with pytest.raises(ConfigError, match="pretrained_mode") as err:
        S.build_space(["model.finetune_layers"], cfg)
    assert "model.finetune_layers" in str(err.value)
    space = S.build_space(["model.finetune_layers", "model.pretrained_mode"], cfg)
    assert space.keys == ["model.finetune_layers", "model.pretrained_mode"]


def _param_classes():
    classes = [C.DataConfig, C.PreprocessConfig, C.ModelConfig, C.OptimizerConfig,
               C.TrainingConfig]
    classes += [spec.params for spec in ALGORITHMS.specs()]
    classes += [spec.params for spec in FUSIONS.specs()]
    return [c for c in classes if dataclasses.is_dataclass(c)]


def test_every_default_range_lies_inside_the_validity_bounds():
    checked = 0
    for cls in _param_classes():
        for info in describe(cls):
            dim = S.default_dimension(info.name, info)
            if dim is None or dim.kind == "categorical":
                continue
            assert info.check(dim.low, key=info.name) == dim.low
            assert info.check(dim.high, key=info.name) == dim.high
            assert dim.low < dim.high and (not dim.log or dim.low > 0), info.name
            checked += 1
    assert checked >= 30


def test_a_trial_gets_values_inside_the_space_of_the_right_type(cfg):
    space = S.build_space(["optimizer.lr", "model.hidden_dim", "optimizer.name",
                           "training.augment_images"], cfg)
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    for _ in range(20):
        values = space.suggest(study.ask())
        assert 1e-5 <= values["optimizer.lr"] <= 1e-1
        assert type(values["model.hidden_dim"]) is int
        assert 32 <= values["model.hidden_dim"] <= 512
        assert values["optimizer.name"] in ("adam", "adamw", "sgd")
        applied = S.apply(cfg, values)
        assert applied.optimizer.lr == values["optimizer.lr"]
        assert applied.model.hidden_dim == values["model.hidden_dim"]
        assert applied.training.augment_images is values["training.augment_images"]


def test_two_spaces_name_their_differences(cfg):
    a = S.build_space(["optimizer.lr", "model.hidden_dim=64,128"], cfg)
    b = S.build_space(["optimizer.lr=1e-4..1e-2", "training.drop_words"], cfg)
    diff = a.differences(b)
    assert "optimizer.lr: 1e-05..0.1:log in the study, 0.0001..0.01:log now" in diff
    assert any(d.startswith("model.hidden_dim is searched (64,128)") for d in diff)
    assert any(d.startswith("training.drop_words (0..0.7)") for d in diff)
    assert a.differences(S.SearchSpace.from_json(a.to_json())) == []
