"""The catalog of pretrained models on this machine: MiniLM from its installed package, a tiny
ViT saved with save_pretrained into a Hugging Face cache laid out as the hub lays it out, and
what is left out (an audio model, a repository without refs/main, datasets)."""

from __future__ import annotations

import json
import shutil

import pytest

pytest.importorskip("transformers")

from workbench.core.pretrained import catalog  # noqa: E402
from workbench.core.pretrained.locate import MINILM, PretrainedError, locate  # noqa: E402

COMMIT = "0123456789abcdef0123456789abcdef01234567"



def cache_repo(hub, name: str, files: dict | None = None, source=None, main=True):
    """``name`` in the hub cache's layout: models--org--name/refs/main -> snapshots/<commit>,
    its files copied from ``source`` or written from ``files`` (name -> JSON or text)."""
    repo = hub / ("models--" + name.replace("/", "--"))
    snapshot = repo / "snapshots" / COMMIT
    if source is not None:
        shutil.copytree(source, snapshot)
    snapshot.mkdir(parents=True, exist_ok=True)
    for file, content in (files or {}).items():
        (snapshot / file).write_text(content if isinstance(content, str)
                                     else json.dumps(content))
    if main:
        (repo / "refs").mkdir()
        (repo / "refs" / "main").write_text(COMMIT)
    return snapshot


@pytest.fixture
def hub(tmp_path, monkeypatch):
    """An empty Hugging Face hub cache, where huggingface_hub (and so locate) looks."""
    import huggingface_hub.constants as constants
    folder = tmp_path / "hub"
    folder.mkdir()
    monkeypatch.setenv("HF_HUB_CACHE", str(folder))
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(folder))
    return folder


def test_minilm_is_listed_from_its_package(hub):
    text = catalog.available("text")
    assert [(f.name, f.source, f.kind) for f in text] == [(MINILM, "package", "text")]
    assert text[0].path == locate(MINILM).path
    assert catalog.available("image") == []


def test_models_in_the_hugging_face_cache_are_listed_by_kind(hub, tiny_vit):
    vit = cache_repo(hub, "someone/tiny-vit", source=tiny_vit)
    bert = cache_repo(hub, "someone/tiny-bert", {"config.json": {"model_type": "bert"},
                                                "vocab.txt": "[PAD]\n[UNK]\nhello\n"})
    cache_repo(hub, "openai/clip-like", {"config.json": {"model_type": "clip"},
                                        "tokenizer.json": "{}"})  # both towers: image
    cache_repo(hub, "someone/speech", {"config.json": {"model_type": "wav2vec2"},
                                      "preprocessor_config.json": {
                                          "feature_extractor_type": "Wav2Vec2FeatureExtractor"}})
    cache_repo(hub, "someone/no-main", {"config.json": {"model_type": "bert"},
                                       "vocab.txt": "a\n"}, main=False)
    (hub / "datasets--someone--captions" / "refs").mkdir(parents=True)

    images = catalog.available("image")
    assert [(f.name, f.source) for f in images] == [("openai/clip-like", "huggingface cache"),
                                                    ("someone/tiny-vit", "huggingface cache")]
    assert images[1].path == vit and images[1].kind == "image"
    text = catalog.available("text")
    assert [f.name for f in text] == [MINILM, "someone/tiny-bert"]  # the package first
    assert text[1].path == bert
    # what is listed is what locate finds under that name
    assert locate("someone/tiny-vit").path == vit


def test_a_name_in_the_package_and_the_cache_is_listed_once_from_the_package(hub):
    cache_repo(hub, MINILM, {"config.json": {"model_type": "bert"}, "vocab.txt": "a\n"})
    assert [(f.name, f.source) for f in catalog.available("text")] == [(MINILM, "package")]


def test_no_cache_folder_lists_only_the_packaged(tmp_path, monkeypatch):
    import huggingface_hub.constants as constants
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path / "never-made"))
    assert [f.name for f in catalog.available("text")] == [MINILM]
    with pytest.raises(ValueError, match="kind"):
        catalog.available("audio")


def test_a_folder_is_checked_for_the_kind_asked(tiny_vit, tmp_path):
    found = catalog.check_folder(tiny_vit, "image")
    assert (found.path, found.source, found.kind) == (tiny_vit.resolve(), "folder", "image")
    assert found.name == str(tiny_vit.resolve())
    with pytest.raises(PretrainedError, match="this is an image model; choose it as the "
                                              "image model"):
        catalog.check_folder(tiny_vit, "text")
    with pytest.raises(PretrainedError, match="no config.json"):
        catalog.check_folder(tmp_path, "image")
    (tmp_path / "config.json").write_text(json.dumps({"model_type": "bert"}))
    with pytest.raises(PretrainedError, match="needs tokenizer files"):
        catalog.check_folder(tmp_path, "text")
    assert catalog.kind_of(tmp_path / "missing") is None
