"""The experiment config: round trips, validation messages, overrides, migrations."""

from __future__ import annotations

import dataclasses

import pytest

from workbench.core import config as C
from workbench.core.algorithms import ALGORITHMS, fusion_problem, valid_fusions
from workbench.core.errors import ConfigError
from workbench.core.fusion import FUSIONS


def write(tmp_path, text: str, name: str = "p.toml"):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_default_round_trip(tmp_path):
    cfg = C.ExperimentConfig(description="round trip")
    path = C.save(cfg, tmp_path / "a.toml")
    assert C.load(path) == cfg
    assert path.read_text().startswith("schema_version = 1\n")


@pytest.mark.parametrize("algorithm", list(ALGORITHMS))
def test_every_algorithm_and_valid_fusion_round_trips(tmp_path, algorithm):
    for fusion in valid_fusions(algorithm):
        cfg = C.apply_overrides(C.ExperimentConfig(), [f"algorithm.name={algorithm}",
                                                       f"fusion.name={fusion}"])
        assert C.loads(C.dumps(cfg)) == cfg


def test_non_default_values_round_trip(tmp_path):
    cfg = C.apply_overrides(C.ExperimentConfig(), [
        "algorithm.name=autoencoder", "algorithm.params.corr_loss=soft_cca",
        "algorithm.params.corr_weight=0.25", "fusion.name=coattention",
        "fusion.params.heads=2", "optimizer.lr=3e-4", "training.epochs=7",
        "data.source=some/folder", "data.on_error=skip", "seed=42", "device=cuda:1",
        "description=with \"quotes\" and unicode é ✓"])
    path = C.save(cfg, tmp_path / "b.toml")
    again = C.load(path)
    assert again == cfg
    assert again.algorithm.params.corr_weight == 0.25
    assert again.optimizer.lr == 3e-4


def test_partial_file_takes_defaults(tmp_path):
    cfg = C.load(write(tmp_path, '[training]\nepochs = 3\n'))
    assert cfg.training.epochs == 3
    assert cfg.training.batch_size == C.TrainingConfig().batch_size
    assert cfg.algorithm.name == "contrastive"


@pytest.mark.parametrize("text, key, words", [
    ("[training]\nepochs = -1\n", "training.epochs", "integer from 1"),
    ("[training]\nepochs = 2.5\n", "training.epochs", "integer"),
    ("[training]\nepochs = true\n", "training.epochs", "integer"),
    ("[optimizer]\nlr = \"fast\"\n", "optimizer.lr", "a number"),
    ("[optimizer]\nname = \"rmsprop\"\n", "optimizer.name", "'adam', 'adamw', 'sgd'"),
    ("[data]\non_error = \"ignore\"\n", "data.on_error", "'fail', 'skip'"),
    ("[data]\nval_fraction = 1.5\n", "data.val_fraction", "from 0 to 0.9"),
    ("[model]\ntext_self_attention = 1\n", "model.text_self_attention", "true or false"),
    ("[training]\nepoch = 3\n", "training.epoch", "unknown key"),
    ("colour = \"red\"\n", "colour", "unknown key"),
    ("seed = -3\n", "seed", "0 to 4294967295"),
    ("device = \"tpu\"\n", "device", "auto, cpu, cuda"),
    ("[algorithm]\nname = \"magic\"\n", "algorithm.name", "'autoencoder'"),
    ("[algorithm]\nname = \"graph\"\n[algorithm.params]\nk = 500\n", "algorithm.params.k",
     "from 0 to 50"),
    ("[algorithm]\nname = \"graph\"\n[algorithm.params]\ncorr_loss = \"cosine\"\n",
     "algorithm.params.corr_loss", "unknown key"),
    ("[fusion]\nname = \"late\"\n[fusion.params]\ncombine = \"max\"\n", "fusion.params.combine",
     "'mean', 'learned', 'vote'"),
    ("[fusion]\nname = \"early\"\n", "fusion.name", "contrastive cannot use 'early'"),
    ("[data]\nval_fraction = 0.5\ntest_fraction = 0.5\n", "data.val_fraction", "less than 1"),
    ("[algorithm]\nname = \"classifier\"\n[fusion]\nname = \"coattention\"\n"
     "[fusion.params]\nheads = 3\n", "fusion.params.heads", "does not divide"),
    ("schema_version = 99\n", "schema_version", "newer"),
    ("schema_version = \"1\"\n", "schema_version", "whole number"),
    ("data = 3\n", "data", "expected a table"),
])
def test_validation_names_file_key_value(tmp_path, text, key, words):
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as err:
        C.load(path)
    msg = str(err.value)
    assert str(path) in msg
    assert key in msg
    assert words in msg
    assert err.value.key == key


def test_broken_toml_names_file_and_line(tmp_path):
    path = write(tmp_path, "[training]\nepochs = \n")
    with pytest.raises(ConfigError) as err:
        C.load(path)
    assert str(path) in str(err.value) and "line 2" in str(err.value)


def test_missing_and_non_utf8_files(tmp_path):
    with pytest.raises(ConfigError, match="cannot read"):
        C.load(tmp_path / "nope.toml")
    bad = tmp_path / "latin.toml"
    bad.write_bytes('description = "caf\xe9"\n'.encode("latin-1"))
    with pytest.raises(ConfigError, match="not UTF-8"):
        C.load(bad)


def test_invalid_pair_gives_the_registry_reason():
    reason = fusion_problem("contrastive", "coattention")
    assert reason and "trivial" in reason
    with pytest.raises(ConfigError) as err:
        C.apply_overrides(C.ExperimentConfig(), ["fusion.name=coattention"])
    assert reason in str(err.value)


def test_every_invalid_pair_has_a_reason_and_every_algorithm_a_fusion():
    for algorithm in ALGORITHMS:
        assert valid_fusions(algorithm), algorithm
        for fusion, reason in ALGORITHMS[algorithm].invalid_fusions.items():
            assert fusion in FUSIONS
            assert len(reason) > 20


# ---------------------------------------------------------------- overrides

def test_overrides_are_type_checked():
    cfg = C.apply_overrides(C.ExperimentConfig(), [
        "training.epochs=3", "optimizer.lr=0.01", "model.text_self_attention=false",
        "algorithm.name=graph", "algorithm.params.conv=gat", "algorithm.params.k=3"])
    assert cfg.training.epochs == 3 and cfg.optimizer.lr == 0.01
    assert cfg.model.text_self_attention is False
    assert cfg.algorithm.name == "graph" and cfg.algorithm.params.conv == "gat"
    assert cfg.algorithm.params.k == 3


def test_override_order_applies_names_first():
    cfg = C.apply_overrides(C.ExperimentConfig(),
                            ["algorithm.params.corr_weight=2", "algorithm.name=autoencoder"])
    assert cfg.algorithm.params.corr_weight == 2.0


def test_override_does_not_touch_the_original():
    base = C.ExperimentConfig()
    C.apply_overrides(base, ["training.epochs=3"])
    assert base.training.epochs == C.TrainingConfig().epochs


@pytest.mark.parametrize("item, words", [
    ("training.epochs=three", "expected an integer"),
    ("training.epochs=0", "from 1"),
    ("training.nope=1", "unknown key"),
    ("nope.epochs=1", "unknown key"),
    ("model.text_self_attention=maybe", "true or false"),
    ("algorithm.name=magic", "expected one of"),
    ("algorithm.params.k=3", "unknown key"),
    ("epochs", "expected key=value"),
    ("seed=x", "integer from 0"),
])
def test_bad_overrides(item, words):
    with pytest.raises(ConfigError) as err:
        C.apply_overrides(C.ExperimentConfig(), [item])
    assert words in str(err.value)
    assert item.partition("=")[0] in str(err.value)


# ---------------------------------------------------------------- migrations

def test_migrations_run_in_order(tmp_path, monkeypatch):
    seen = []

    def v1_to_v2(raw):
        seen.append(1)
        training = raw.setdefault("training", {})
        training["epochs"] = training.pop("n_epochs", 20)
        return raw

    def v2_to_v3(raw):
        seen.append(2)
        raw["description"] = raw.get("description", "") + " (migrated)"
        return raw

    monkeypatch.setattr(C, "SCHEMA_VERSION", 3)
    monkeypatch.setattr(C, "MIGRATIONS", {1: v1_to_v2, 2: v2_to_v3})
    path = write(tmp_path, 'schema_version = 1\ndescription = "old"\n[training]\nn_epochs = 4\n')
    cfg = C.load(path)
    assert seen == [1, 2]
    assert cfg.training.epochs == 4
    assert cfg.description == "old (migrated)"
    assert C.dumps(cfg).startswith("schema_version = 3\n")


def test_missing_migration_is_an_error(tmp_path, monkeypatch):
    monkeypatch.setattr(C, "SCHEMA_VERSION", 2)
    monkeypatch.setattr(C, "MIGRATIONS", {})
    with pytest.raises(ConfigError, match="no migration from schema 1"):
        C.load(write(tmp_path, "schema_version = 1\n"))


def test_migration_keeps_the_input_unchanged():
    raw = {"schema_version": 1, "training": {"epochs": 2}}
    C.from_dict(raw)
    assert raw == {"schema_version": 1, "training": {"epochs": 2}}


# ---------------------------------------------------------------- saving

def test_save_is_atomic_when_writing_fails(tmp_path, monkeypatch):
    path = C.save(C.ExperimentConfig(description="first"), tmp_path / "x.toml")
    before = path.read_bytes()

    def broken(cfg):
        raise RuntimeError("disk full")

    monkeypatch.setattr(C, "dumps", broken)
    with pytest.raises(RuntimeError):
        C.save(C.ExperimentConfig(description="second"), path)
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["x.toml"]  # no temp file left behind


def test_save_refuses_an_invalid_config(tmp_path):
    cfg = C.ExperimentConfig()
    cfg.fusion = C.FusionConfig("early")
    with pytest.raises(ConfigError, match="contrastive cannot use 'early'"):
        C.save(cfg, tmp_path / "bad.toml")
    assert not (tmp_path / "bad.toml").exists()


def test_config_sections_are_all_documented():
    from workbench.core.params import describe
    for section in (C.DataConfig, C.PreprocessConfig, C.ModelConfig, C.OptimizerConfig,
                    C.TrainingConfig, *(s.params for s in ALGORITHMS.specs()),
                    *(s.params for s in FUSIONS.specs())):
        for info in describe(section):
            assert info.help, f"{section.__name__}.{info.name} has no help text"
            if info.choices:
                assert info.default in info.choices
            if info.min is not None:
                assert info.default >= info.min
            if info.max is not None:
                assert info.default <= info.max
        assert dataclasses.is_dataclass(section)


def test_a_parameter_used_under_one_choice_says_so():
    from workbench.core.params import describe, param

    @dataclasses.dataclass
    class Modes:
        mode: str = param("a", "Which.", choices=("a", "b", "c"))
        only_b: int = param(1, "B's.", when={"mode": ("b",)})
        b_or_c: int = param(1, "B's and C's.", when={"mode": ("b", "c")})
        always: int = param(1, "Everyone's.")

    infos = {i.name: i for i in describe(Modes)}
    assert [infos[n].applies({"mode": "a"}) for n in ("only_b", "b_or_c", "always")] == \
        [False, False, True]
    assert [infos[n].applies({"mode": "c"}) for n in ("only_b", "b_or_c", "always")] == \
        [False, True, True]
    assert infos["b_or_c"].condition() == "used only when mode is 'b' or 'c'"
    assert infos["always"].condition() == ""

    @dataclasses.dataclass
    class Misspelt:
        mode: str = param("a", "Which.", choices=("a", "b"))
        other: int = param(1, "Other.", when={"mode": ("z",)})

    with pytest.raises(TypeError, match="Misspelt.other"):
        describe(Misspelt)


def test_settings_another_mode_uses_are_named():
    cfg = C.apply_overrides(C.ExperimentConfig(), ["algorithm.name=adversarial",
                                                   "fusion.name=mean"])
    keys = ["algorithm.params.pair_weight", "algorithm.params.noise_dim", "optimizer.lr",
            "seed", "algorithm.name"]
    assert C.unused_settings(cfg, keys) == [
        "algorithm.params.pair_weight is used only when mode is 'align', so this run ignores it"]
    align = C.apply_overrides(cfg, ["algorithm.params.mode=align"])
    assert C.unused_settings(align, keys) == [
        "algorithm.params.noise_dim is used only when mode is 'generate', so this run "
        "ignores it"]
