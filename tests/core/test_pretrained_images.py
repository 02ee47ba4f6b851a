"""Pretrained image models inside training: ViT, DINOv2 (with registers), CLIP's vision tower
and ResNet, each built from a small config and saved with save_pretrained, read by the
application's own path; their vectors and patch grids cached once, every algorithm trained on
them, co-attention between real word pieces and ViT patches, a second load that builds no
model and reads no large image, and every refusal."""

from __future__ import annotations

import numpy as np
import pytest
import torch

pytest.importorskip("transformers")

from fixtures import make_image_folder, make_npz, tiny_config  # noqa: E402
from pretrained_models import FAMILIES, SIZE, tiny_vit  # noqa: E402
from workbench.core.data import load_dataset, loader  # noqa: E402
from workbench.core.errors import ConfigError, DataError  # noqa: E402
from workbench.core.pretrained import cache as CACHE  # noqa: E402
from workbench.core.pretrained import image as IMAGE  # noqa: E402
from workbench.core.pretrained.locate import PretrainedError  # noqa: E402
from workbench.core.training import AttentionSnapshot, EventRecorder, Trainer  # noqa: E402

PAIRS = [("contrastive", "mean", ()), ("classifier", "coattention", ()),
         ("autoencoder", "attention", ()), ("graph", "gated", ()),
         ("adversarial", "mean", ("algorithm.params.mode=align",)),
         ("adversarial", "tensor", ()), ("classifier", "early", ())]


@pytest.fixture(scope="module")
def shapes(tmp_path_factory):
    return make_image_folder(tmp_path_factory.mktemp("shapes"), n_per_class=4)


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    return {name: make(tmp_path_factory.mktemp(name)) for name, make in FAMILIES.items()}


def _cfg(shapes, model, *overrides):
    return tiny_config(shapes, "model.image_encoder=pretrained", f"model.image_model={model}",
                       *overrides)


@pytest.mark.parametrize("family", sorted(FAMILIES))
def test_each_family_gives_a_vector_and_a_square_patch_grid(models, family):
    model = IMAGE.ImageModel(str(models[family]))
    images = np.random.default_rng(0).integers(0, 256, (5, 3, 24, 24), dtype=np.uint8)
    out = model.encode_states(images, grid=8, batch_size=2)
    side = out["grid"]
    assert 1 <= side <= 8 and out["states"].shape[:2] == (5, side * side)
    assert out["states"].dtype == np.float16
    np.testing.assert_allclose(out["pooled"], model.encode(images, batch_size=3), atol=1e-5)


def test_clip_s_vector_is_its_own_image_embedding_and_patches_are_its_tokens(models):
    from PIL import Image
    model = IMAGE.ImageModel(str(models["clip"]))
    images = np.random.default_rng(1).integers(0, 256, (3, 3, SIZE, SIZE), dtype=np.uint8)
    out = model.encode_states(images)
    pixels = model.processor(images=[Image.fromarray(i.transpose(1, 2, 0)) for i in images],
                             return_tensors="pt")["pixel_values"]
    with torch.no_grad():
        expected = model.model.get_image_features(pixel_values=pixels)
        hidden = model.model.vision_model(pixel_values=pixels).last_hidden_state
    expected = getattr(expected, "pooler_output", expected)  # an output object in transformers 5
    np.testing.assert_allclose(out["pooled"], expected.numpy(), atol=1e-5)
    # 32 px in patches of 8: a 4 x 4 grid after the CLS token, kept as it is (under 8 x 8)
    np.testing.assert_allclose(out["states"], hidden[:, 1:].numpy(), atol=2e-3)


def test_a_large_grid_is_pooled_and_leading_tokens_dropped():
    hidden = torch.arange(2 * (3 + 16 * 16) * 2, dtype=torch.float32).reshape(2, 3 + 256, 2)
    grid = IMAGE.patch_grid(hidden, 8)
    patches = hidden[:, 3:].reshape(2, 16, 16, 2)
    expected = patches.reshape(2, 8, 2, 8, 2, 2).mean((2, 4)).reshape(2, 64, 2)
    assert torch.allclose(grid, expected)
    feature_map = torch.randn(2, 5, 3, 3)  # a ResNet's (B, C, h, w): already small
    assert torch.equal(IMAGE.patch_grid(feature_map, 8), feature_map.flatten(2).transpose(1, 2))


@pytest.mark.parametrize("algorithm, fusion, extra", PAIRS,
                         ids=[f"{a}-{f}" for a, f, _ in PAIRS])
def test_every_algorithm_trains_on_pretrained_image_features(shapes, models, algorithm,
                                                             fusion, extra):
    cfg = _cfg(shapes, models["vit"], f"algorithm.name={algorithm}", f"fusion.name={fusion}",
               *extra, "training.epochs=2")
    ds = load_dataset(cfg)
    info = ds.info()
    assert info.image_size == 0 and info.image_dim == 32 and info.image_states == 16
    assert ds.images is not None  # kept for display
    end = Trainer(cfg, ds).fit()
    assert end.status == "finished", end.reason
    assert all(np.isfinite(v) for v in end.metrics.values())


def test_the_image_encoder_learns_above_the_frozen_features(shapes, models):
    cfg = _cfg(shapes, models["vit"], "algorithm.name=classifier", "fusion.name=coattention")
    ds = load_dataset(cfg)
    trainer = Trainer(cfg, ds)
    trainer.fit()
    encoder = trainer.model.image_encoder
    assert type(encoder).__name__ == "PretrainedEncoder" and encoder.reads_states
    batch = ds.batch(torch.tensor([0, 1, 2]))
    assert batch.images is None and batch.image_states.shape == (3, 16, 32)
    loss, _ = trainer.model.forward_step(batch)
    loss["loss"].backward()
    assert encoder.piece.weight.grad is not None and encoder.piece.weight.grad.abs().sum() > 0


def test_co_attention_between_word_pieces_and_vit_patches(shapes, models):
    cfg = tiny_config(shapes, "model.text_encoder=pretrained", "model.image_encoder=pretrained",
                      f"model.image_model={models['vit']}", "algorithm.name=classifier",
                      "fusion.name=coattention")
    rec = EventRecorder()
    Trainer(cfg, load_dataset(cfg), callbacks=[rec]).fit()
    snap = rec.of(AttentionSnapshot)[-1]
    assert snap.grid == (4, 4)  # the ViT's 4 x 4 patches
    probe = snap.probes[0]
    assert probe.tokens[0] == "[CLS]" and probe.image is not None
    maps = snap.maps["text_to_image"]
    assert maps.shape[2] == 16
    np.testing.assert_allclose(maps[0, :len(probe.tokens)].sum(-1), 1.0, atol=1e-5)


def test_images_are_read_at_the_model_s_input_size_and_cached(shapes, models, monkeypatch):
    seen = []
    encode = IMAGE.ImageModel.encode_states

    def recording(self, images, **kwargs):
        seen.append(images.shape)
        return encode(self, images, **kwargs)
    monkeypatch.setattr(IMAGE.ImageModel, "encode_states", recording)
    cfg = _cfg(shapes, models["vit"])  # preprocess.image_size = 16, the ViT reads 32
    first = load_dataset(cfg)
    assert seen and seen[0][-1] == SIZE and first.images.shape[-1] == 16

    def no_model(*args, **kwargs):
        raise AssertionError("the image model was built although its features are cached")
    monkeypatch.setattr(IMAGE.ImageModel, "__init__", no_model)
    sizes = []
    load_pairs = loader.load_pairs

    def recording_load(data, size, **kwargs):
        sizes.append(size)
        return load_pairs(data, size, **kwargs)
    monkeypatch.setattr(loader, "load_pairs", recording_load)
    second = load_dataset(cfg)
    assert sizes == [16]  # nothing read again at the model's size
    assert isinstance(second.image_states, np.memmap)
    assert np.array_equal(np.asarray(second.image_states), np.asarray(first.image_states))
    assert torch.equal(second.image_features, first.image_features)


def test_other_weights_or_a_broken_entry_are_computed_again(shapes, models, tmp_path):
    cfg = _cfg(shapes, models["vit"])
    first = load_dataset(cfg)
    other = tiny_vit(tmp_path / "other-vit")  # the same shapes, other random weights
    again = load_dataset(_cfg(shapes, other))
    assert not np.allclose(again.image_features.numpy(), first.image_features.numpy())
    entries = [p for p in CACHE.cache_dir().iterdir() if not p.name.startswith(".")]
    for entry in entries:
        (entry / "states.npy").write_bytes(b"cut short")
    rebuilt = load_dataset(cfg)
    assert not isinstance(rebuilt.image_states, np.memmap) or rebuilt.image_states.shape == \
        first.image_states.shape
    np.testing.assert_allclose(rebuilt.image_features.numpy(), first.image_features.numpy(),
                               atol=1e-6)


def test_a_checkpoint_reopens_and_scores_other_data(shapes, models, tmp_path):
    from workbench.core.evaluation.retrieval import RetrievalIndex
    from workbench.core.evaluation.saved_model import open_on_other_data
    cfg = _cfg(shapes, models["clip"], "algorithm.name=contrastive")
    ds = load_dataset(cfg)
    trainer = Trainer(cfg, ds, run_dir=tmp_path / "run")
    trainer.fit()
    live = RetrievalIndex(trainer.model, ds)
    checkpoint = tmp_path / "run" / "checkpoints" / "last.pt"
    loaded = RetrievalIndex.from_checkpoint(checkpoint)
    assert torch.allclose(loaded.image_vectors, live.image_vectors, atol=1e-5)
    other = make_image_folder(tmp_path / "other", n_per_class=2, size=20)
    saved, notes = open_on_other_data(checkpoint, cfg.data.__class__(source=str(other)))
    assert saved.dataset.info().image_states == 16 and notes["pairs"] == len(saved.dataset)


def test_refusals(shapes, models, tmp_path):
    with pytest.raises(ConfigError, match="augment_images"):
        _cfg(shapes, models["vit"], "training.augment_images=true")
    with pytest.raises(ConfigError, match="augment_scale"):
        _cfg(shapes, models["vit"], "training.augment_scale=0.5")
    with pytest.raises(ConfigError, match="augment_tint"):
        _cfg(shapes, models["vit"], "training.augment_tint=0.3")
    npz = tiny_config(make_npz(tmp_path / "f.npz"), "model.image_encoder=pretrained",
                      f"model.image_model={models['vit']}", "algorithm.name=classifier")
    with pytest.raises(DataError, match="image feature vectors"):
        load_dataset(npz)
    with pytest.raises(PretrainedError, match="is this a text model"):
        load_dataset(_cfg(shapes, "sentence-transformers/all-MiniLM-L6-v2"))
    with pytest.raises(PretrainedError, match="downloads are off"):
        load_dataset(_cfg(shapes, "someone/no-such-image-model"))


def test_resuming_with_another_image_model_is_refused(shapes, models, tmp_path):
    cfg = _cfg(shapes, models["vit"], "algorithm.name=contrastive")
    Trainer(cfg, load_dataset(cfg), run_dir=tmp_path / "run").fit()
    other = _cfg(shapes, models["resnet"], "algorithm.name=contrastive", "training.epochs=2")
    end = Trainer(other, load_dataset(other), run_dir=tmp_path / "run",
                  resume_from=tmp_path / "run" / "checkpoints" / "last.pt").fit()
    assert end.status == "failed"
    assert f"model.image_model = '{models['vit']}'" in end.reason
    assert "Traceback" not in end.reason


def test_generated_features_are_shown_as_the_nearest_real_caption_and_image(shapes, models):
    from workbench.core.training import GeneratedSamples
    from workbench.core.training.samples import describe
    cfg = tiny_config(shapes, "model.text_encoder=pretrained", "model.image_encoder=pretrained",
                      f"model.image_model={models['vit']}", "algorithm.name=adversarial",
                      "fusion.name=mean")
    ds = load_dataset(cfg)
    rec = EventRecorder()
    Trainer(cfg, ds, callbacks=[rec]).fit()
    [samples] = rec.of(GeneratedSamples)[-1:]
    train_captions = {ds.table.captions[int(r)] for r in ds.indices("train")}
    assert len(samples.captions) == 16 and set(samples.captions) <= train_captions
    assert samples.nearest and samples.images.shape[1:] == (3, 16, 16)
    # a generated vector equal to a training pair's features names that pair
    rows = ds.indices("train")[[2, 0]]
    event = describe({"text_features": ds.text_features[rows] * 3.0,
                      "image_features": ds.image_features[rows]}, ds, 1, 1)
    assert event.captions == [ds.table.captions[int(r)] for r in rows]
    expected = ds.images[ds.image_index[rows]].numpy()
    assert np.array_equal(event.images, expected)
