"""Shared test setup."""

from __future__ import annotations

import os

import pytest

# Qt runs offscreen in tests: no display needed, and nothing pops up on a developer's screen.
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")


@pytest.fixture(autouse=True)
def _workbench_home(tmp_path_factory: pytest.TempPathFactory,
                    monkeypatch: pytest.MonkeyPatch):
    """Every user folder (config, data, the image cache) under a fresh temporary folder, so a
    test never reads or writes the real user's files."""
    home = tmp_path_factory.mktemp("workbench_home")
    monkeypatch.setenv("WORKBENCH_HOME", str(home))
    monkeypatch.delenv("WORKBENCH_NO_CACHE", raising=False)
    return home


@pytest.fixture(autouse=True)
def _one_torch_thread():
    """Test tensors are tiny and pytest-xdist already runs one worker per core: more torch
    threads would only contend with each other."""
    import torch
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    """The generated shapes folder (fixtures.make_image_folder), once per module."""
    from fixtures import make_image_folder
    return make_image_folder(tmp_path_factory.mktemp("shapes"))


@pytest.fixture(scope="module")
def tiny_vit(tmp_path_factory):
    """A ViT built from a small config and saved as a user's folder would be
    (``pretrained_models.tiny_vit``), once per module."""
    pytest.importorskip("transformers")
    from pretrained_models import tiny_vit as make
    return make(tmp_path_factory.mktemp("tiny-vit"))


@pytest.fixture(scope="module")
def clip(tmp_path_factory):
    """A tiny CLIP, both towers and its tokenizer (``two_tower.tiny_clip``), once per
    module."""
    pytest.importorskip("transformers")
    from two_tower import tiny_clip
    return tiny_clip(tmp_path_factory.mktemp("tiny-clip"))


@pytest.fixture(scope="module")
def pairs(tmp_path_factory):
    """A CSV where some images have two captions (``two_tower.shared_image_csv``)."""
    from two_tower import shared_image_csv
    return shared_image_csv(tmp_path_factory.mktemp("pairs"))
