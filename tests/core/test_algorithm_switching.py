"""Each algorithm's recommended settings (the registry) and switching a config to another
algorithm (``core.algorithms.switching``): no Qt."""

from __future__ import annotations

import pytest

from workbench.core import config as C
from workbench.core import presets as P
from workbench.core.algorithms import ALGORITHMS, RECIPE_KEYS, valid_fusions
from workbench.core.algorithms.switching import switch_algorithm, value
from workbench.core.errors import ConfigError
from workbench.core.runs.naming import data_name, preset_label, run_name


@pytest.mark.parametrize("name", ALGORITHMS.names())
def test_recommended_settings_are_valid_config_keys_and_values(name):
    recommended = ALGORITHMS[name].recommended
    # the same optimiser and training keys for every algorithm, so no switch keeps half of
    # the previous algorithm's recipe; the rest are this algorithm's own parameters
    assert [k for k in recommended if not k.startswith("algorithm.")] == list(RECIPE_KEYS)
    assert all(k.startswith("algorithm.params.") for k in recommended
               if k.startswith("algorithm."))
    cfg = C.apply_overrides(C.ExperimentConfig(), [f"algorithm.name={name}",
                                                   f"fusion.name={valid_fusions(name)[0]}"])
    cfg = C.apply_overrides(cfg, [f"{k}={v if not isinstance(v, bool) else str(v).lower()}"
                                  for k, v in recommended.items()])  # checked as --set is
    for key, v in recommended.items():
        assert value(cfg, key) == v and type(value(cfg, key)) is type(v), key


@pytest.mark.parametrize("name", ALGORITHMS.names())
def test_recommended_settings_are_those_of_a_builtin_preset(name):
    """The recommendations come from the built-in presets: at least one preset of the
    algorithm uses every recommended value (so the two cannot drift apart unnoticed)."""
    recommended = ALGORITHMS[name].recommended
    presets = [P.load_preset(i.path) for i in P.list_presets() if i.builtin]
    mine = [cfg for cfg in presets if cfg.algorithm.name == name]
    assert mine
    assert any(all(value(cfg, k) == v for k, v in recommended.items()) for cfg in mine), \
        {k: [value(cfg, k) for cfg in mine] for k in recommended}


def test_switching_applies_the_recommended_settings_and_says_what_changed():
    before = P.load_preset("contrastive-emoji")
    switch = switch_algorithm(before, "graph")
    cfg = switch.config
    assert cfg.algorithm.name == "graph" and cfg.fusion.name == "mean"
    assert (cfg.optimizer.lr, cfg.training.epochs, cfg.optimizer.name) == (0.005, 100, "adam")
    assert (cfg.optimizer.weight_decay, cfg.optimizer.schedule) == (0.0, "none")
    changed = {c.key: (c.old, c.new) for c in switch.changes}
    assert changed["optimizer.lr"] == (0.001, 0.005)
    assert changed["training.epochs"] == (60, 100)
    assert "optimizer.beta1" not in changed  # already 0.9: only real changes are listed
    assert switch.params_from == "recommended" and switch.fusion is None
    assert cfg.model == before.model and cfg.data == before.data  # the rest is untouched
    # undo: the previous values, except one the user has edited since
    cfg.training.epochs = 7
    undo = switch.undo_values(cfg)
    assert undo["optimizer.lr"] == 0.001 and "training.epochs" not in undo
    restored = C.apply_overrides(cfg, [f"{k}={v}" for k, v in undo.items()])
    assert restored.optimizer == before.optimizer


def test_switching_moves_a_fusion_that_does_not_fit_and_uses_remembered_parameters():
    before = P.load_preset("classifier-coattention-emoji")
    params = ALGORITHMS["contrastive"].params(init_temperature=0.2, learn_temperature=True)
    switch = switch_algorithm(before, "contrastive", params=params)
    assert (switch.fusion.old, switch.fusion.new) == ("coattention", "mean")
    assert switch.config.algorithm.params == params and switch.params_from == "remembered"
    assert switch.config.optimizer.lr == 0.001 and switch.config.training.epochs == 60


def test_switching_to_the_same_algorithm_changes_nothing_and_a_bad_name_is_refused():
    cfg = P.load_preset("graph-gat-emoji")
    assert switch_algorithm(cfg, "graph").config == cfg
    assert switch_algorithm(cfg, "graph").changes == ()
    with pytest.raises(ConfigError, match="unknown algorithm"):
        switch_algorithm(cfg, "nope")


def test_run_names_follow_what_trained():
    cfg = P.load_preset("contrastive-emoji")
    assert run_name(cfg, "contrastive-emoji", unchanged=True) == "contrastive-emoji"
    assert run_name(cfg, "contrastive-emoji", unchanged=False) == "contrastive-mean-emoji"
    assert run_name(cfg) == "contrastive-mean-emoji"
    assert preset_label("contrastive-emoji", unchanged=False) == "contrastive-emoji (changed)"
    assert preset_label("contrastive-emoji", unchanged=True) == "contrastive-emoji"
    assert preset_label("", unchanged=False) == ""
    assert [data_name(s) for s in ("builtin:emoji", "/data/pets/", "d/captions.json",
                                   "C:\\x\\feats.npz", "pairs.csv")] == \
        ["emoji", "pets", "captions", "feats", "pairs"]
