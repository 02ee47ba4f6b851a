"""Built-in and user presets: listing, loading, saving, renaming, deleting, import/export."""

from __future__ import annotations

import pytest

from workbench.core.algorithms import ALGORITHMS
from workbench.core import config as C
from workbench.core import presets as P
from workbench.core.errors import ConfigError


@pytest.fixture(autouse=True)
def home(tmp_path, monkeypatch):
    monkeypatch.setenv("WORKBENCH_HOME", str(tmp_path / "home"))
    return tmp_path / "home"


def test_every_builtin_preset_loads_and_describes_itself():
    builtins = [p for p in P.list_presets() if p.builtin]
    assert builtins
    for info in builtins:
        cfg = P.load_preset(info.name)
        assert cfg.description and not info.description.startswith("(cannot load")
        assert info.path.parent == P.builtin_dir()


def test_save_load_rename_delete(home):
    cfg = C.apply_overrides(C.ExperimentConfig(), ["training.epochs=3"])
    path = P.save_user_preset(cfg, "my run")
    assert path == home / "config" / "presets" / "my run.toml"
    assert P.load_preset("my run") == cfg
    names = [(p.name, p.builtin) for p in P.list_presets()]
    assert ("my run", False) in names
    P.rename_user_preset("my run", "renamed")
    assert P.load_preset("renamed") == cfg
    with pytest.raises(ConfigError, match="no preset named 'my run'"):
        P.find("my run")
    P.delete_user_preset("renamed")
    assert all(p.name != "renamed" for p in P.list_presets())


def test_builtins_are_read_only():
    name = next(p.name for p in P.list_presets() if p.builtin)
    with pytest.raises(ConfigError, match="built-in"):
        P.save_user_preset(C.ExperimentConfig(), name)
    with pytest.raises(ConfigError, match="built-in"):
        P.delete_user_preset(name)


@pytest.mark.parametrize("bad", ["", "../escape", "a/b", ".hidden", "x" * 65, "trailing."])
def test_bad_names_are_refused(bad):
    with pytest.raises(ConfigError, match="preset name"):
        P.save_user_preset(C.ExperimentConfig(), bad)


def test_rename_onto_existing_is_refused():
    P.save_user_preset(C.ExperimentConfig(), "a")
    P.save_user_preset(C.ExperimentConfig(), "b")
    with pytest.raises(ConfigError, match="already exists"):
        P.rename_user_preset("a", "b")


def test_import_checks_before_copying(tmp_path, home):
    bad = tmp_path / "bad.toml"
    bad.write_text("[training]\nepochs = 0\n")
    with pytest.raises(ConfigError, match="training.epochs"):
        P.import_preset(bad)
    assert not (home / "config" / "presets" / "bad.toml").exists()
    good = tmp_path / "shared.toml"
    C.save(C.apply_overrides(C.ExperimentConfig(), ["seed=7"]), good)
    P.import_preset(good)
    assert P.load_preset("shared").seed == 7


def test_export_copies_a_preset(tmp_path):
    name = next(p.name for p in P.list_presets() if p.builtin)
    out = P.export_preset(name, tmp_path)
    assert out == tmp_path / f"{name}.toml"
    assert C.load(out) == P.load_preset(name)


def test_find_by_path_and_unknown_name(tmp_path):
    path = C.save(C.ExperimentConfig(), tmp_path / "x.toml")
    assert P.find(str(path)) == path
    with pytest.raises(ConfigError, match="no preset named 'nope'"):
        P.find("nope")
    with pytest.raises(ConfigError, match="not found"):
        P.find(str(tmp_path / "missing.toml"))


def test_a_broken_user_preset_is_listed_with_its_error(home):
    folder = home / "config" / "presets"
    folder.mkdir(parents=True)
    (folder / "broken.toml").write_text("[training\n")
    info = next(p for p in P.list_presets() if p.name == "broken")
    assert info.description.startswith("(cannot load")


def test_check_presets_judges_a_game_by_its_discriminator_and_the_rest_by_their_loss():
    from workbench.tools.check_presets import LEARNED, _falling
    assert set(LEARNED) <= set(ALGORITHMS.names())
    game = LEARNED["adversarial"]
    assert game([2.2, 2.9], {"d_real": 0.58, "d_fake": 0.09})  # G's loss rose: still learned
    assert not game([2.9, 2.2], {"d_real": 0.45, "d_fake": 0.5})
    assert _falling([2.0, 1.0], {}) and not _falling([1.0, 1.0], {})


def test_a_preset_for_models_not_on_this_machine_says_which_and_how_to_get_them(tmp_path,
                                                                             monkeypatch):
    from workbench.core.pretrained.locate import missing_models
    from workbench.tools.check_presets import check
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "empty-cache"))
    preset = P.load_preset("contrastive-clip-vit-b32")
    assert "huggingface-cli download openai/clip-vit-base-patch32" in preset.description
    missing = missing_models(preset)
    assert list(missing) == ["openai/clip-vit-base-patch32"]  # MiniLM comes in a package
    assert "huggingface-cli download openai/clip-vit-base-patch32" in missing[
        "openai/clip-vit-base-patch32"]
    row = check("contrastive-clip-vit-b32", 1.0, tmp_path)
    assert row["skipped"] and "openai/clip-vit-base-patch32" in row["error"]
    assert missing_models(P.load_preset("contrastive-emoji")) == {}
