"""``workbench features extract``: the .npz written is the features format the workbench
trains on, from bag-of-words and pixels or from pretrained models."""

from __future__ import annotations

import json

import numpy as np
import pytest

from fixtures import make_image_folder, make_npz, tiny_config
from workbench.cli import main
from workbench.core import config as C


@pytest.fixture(scope="module")
def shapes(tmp_path_factory):
    return make_image_folder(tmp_path_factory.mktemp("shapes"), n_per_class=4)


def test_bag_of_words_and_pixels_then_training_on_them(shapes, tmp_path, capsys):
    out = tmp_path / "f.npz"
    assert main(["features", "extract", str(shapes), "--out", str(out), "--set",
                 "preprocess.image_size=8", "--json"]) == 0
    about = json.loads(capsys.readouterr().out)
    assert about["text"]["model"] == "bow" and about["image"]["model"] == "pixels"
    with np.load(out) as z:
        assert set(z.files) == {"text", "image", "caption", "label"}
        text, image, captions = z["text"], z["image"], z["caption"]
        assert image.shape == (16, 3 * 8 * 8) and 0 <= image.min() and image.max() <= 1
        assert set(z["label"]) == {"red", "green", "blue", "yellow"}
    # every caption's words are counted (unknown words in the out-of-vocabulary column)
    assert text.sum(1).tolist() == [len(c.split()) for c in captions]
    preset = C.save(tiny_config(out, "algorithm.name=classifier"), tmp_path / "p.toml")
    assert main(["train", str(preset), "--out", str(tmp_path / "run"), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["status"] == "finished"


def test_pretrained_text_and_image_models(shapes, tmp_path, capsys):
    pytest.importorskip("transformers")
    from transformers import ViTConfig, ViTModel
    from transformers.models.vit.image_processing_pil_vit import ViTImageProcessorPil
    vit = tmp_path / "vit"
    ViTModel(ViTConfig(hidden_size=32, num_hidden_layers=1, num_attention_heads=2,
                       intermediate_size=37, image_size=32, patch_size=8)).save_pretrained(vit)
    ViTImageProcessorPil(size={"height": 32, "width": 32}).save_pretrained(vit)
    out = tmp_path / "f.npz"
    assert main(["features", "extract", str(shapes), "--out", str(out), "--text-model",
                 "all-MiniLM-L6-v2", "--image-model", str(vit), "--json"]) == 0
    about = json.loads(capsys.readouterr().out)
    assert about["text"]["from"] == "package" and about["text"]["dim"] == 384
    assert about["image"]["size"] == 32 and about["image"]["dim"] == 32
    with np.load(out) as z:
        assert z["text"].shape == (16, 384) and z["image"].shape == (16, 32)
        np.testing.assert_allclose(np.linalg.norm(z["text"], axis=1), 1.0, atol=1e-5)


def test_refusals_say_what_is_wrong(shapes, tmp_path, capsys):
    assert main(["features", "extract", str(shapes), "--out", str(tmp_path / "x.npz"),
                 "--text-model", "someone/no-such-model"]) == 1
    assert "no such model on this machine" in capsys.readouterr().err
    npz = make_npz(tmp_path / "already.npz")
    assert main(["features", "extract", str(npz), "--out", str(tmp_path / "y.npz")]) == 1
    assert "already feature vectors" in capsys.readouterr().err
    assert not (tmp_path / "x.npz").exists() and not (tmp_path / "y.npz").exists()
