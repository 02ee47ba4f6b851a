"""Fine-tuning pretrained models (model.pretrained_mode = finetune): only the last
model.finetune_layers layers (and what follows the layer stack) train, at
optimizer.pretrained_lr_scale; before training the live model gives exactly the cached frozen
features; word dropout and image augmentation apply on the fly; checkpoints and typed queries
read the trained model."""

from __future__ import annotations

import numpy as np
import pytest
import torch

pytest.importorskip("transformers")

from fixtures import make_image_folder, tiny_config  # noqa: E402
from pretrained_models import SIZE, tiny_clip, tiny_resnet, tiny_vit  # noqa: E402
from workbench.core.data import load_dataset  # noqa: E402
from workbench.core.pretrained.backbones import (TextBackbone, VisionBackbone,  # noqa: E402
                                                  layer_stack, train_last_layers)
from workbench.core.pretrained.locate import PretrainedError  # noqa: E402
from workbench.core.training import Trainer  # noqa: E402


@pytest.fixture(scope="module")
def shapes(tmp_path_factory):
    return make_image_folder(tmp_path_factory.mktemp("shapes"), n_per_class=3)


@pytest.fixture(scope="module")
def vit(tmp_path_factory):
    return tiny_vit(tmp_path_factory.mktemp("vit"))


def _cfg(shapes, *overrides):
    # One epoch, tuned from the first step (the default holds them for two epochs first).
    return tiny_config(shapes, "model.pretrained_mode=finetune", "model.finetune_layers=1",
                       "optimizer.pretrained_frozen_epochs=0", *overrides)


def test_only_the_last_layers_and_what_follows_them_train():
    backbone = TextBackbone("all-MiniLM-L6-v2")
    prefix, stack = layer_stack(backbone)
    assert prefix == "model.encoder.layer" and len(stack) == 6
    trained = train_last_layers(backbone, 2)
    open_ = {n for n, p in backbone.named_parameters() if p.requires_grad}
    assert trained == sum(p.numel() for p in backbone.parameters() if p.requires_grad)
    assert all(n.startswith(("model.encoder.layer.4.", "model.encoder.layer.5.",
                             "model.pooler.")) for n in open_)
    assert any(n.startswith("model.encoder.layer.4.") for n in open_)
    assert not any("embeddings" in n for n in open_)
    with pytest.raises(PretrainedError, match="has 6 layers"):
        train_last_layers(backbone, 7)


def test_the_stack_is_the_outermost_one(tmp_path):
    resnet = VisionBackbone(str(tiny_resnet(tmp_path / "resnet")), grid=8)
    assert layer_stack(resnet)[0] == "model.encoder.stages"
    clip = VisionBackbone(str(tiny_clip(tmp_path / "clip")), grid=8)
    assert layer_stack(clip)[0] == "vision_model.encoder.layers"
    assert not hasattr(clip, "model")  # CLIP's text tower is not kept


def test_before_training_the_live_models_give_the_cached_features(shapes, vit):
    cfg = _cfg(shapes, "model.text_encoder=pretrained", "model.image_encoder=pretrained",
               f"model.image_model={vit}", "algorithm.name=classifier",
               "fusion.name=coattention")
    ds = load_dataset(cfg)
    assert ds.images.shape[-1] == SIZE  # read at the ViT's own side, for the model
    trainer = Trainer(cfg, ds)
    trainer.fit()  # builds the model; compare a fresh one with the cached features
    from workbench.core.training.model_setup import build_algorithm
    model = build_algorithm(cfg, ds.info())
    model.eval()
    batch = ds.batch(torch.arange(len(ds)))
    assert batch.piece_ids is not None and batch.images.shape[-1] == SIZE
    with torch.no_grad():
        text, _ = model.text_encoder.backbone(batch.piece_ids, batch.mask)
        image, _ = model.image_encoder.backbone(batch.images)
    np.testing.assert_allclose(text.numpy(), ds.text_features.numpy(), atol=1e-5)
    # the cached image vectors came through the processor from the source file at 32 px;
    # the live model reads the same pixels, normalised by hand
    np.testing.assert_allclose(image.numpy(), ds.image_features.numpy(), atol=1e-4)


def test_a_step_moves_the_last_layer_at_the_scaled_rate_and_not_the_first(shapes):
    cfg = _cfg(shapes, "model.text_encoder=pretrained", "optimizer.pretrained_lr_scale=0.5",
               "training.drop_words=0.3")
    ds = load_dataset(cfg)
    trainer = Trainer(cfg, ds)
    trainer.fit()
    tuned = trainer.model.text_encoder.backbone.model
    fresh = TextBackbone("all-MiniLM-L6-v2").model
    assert torch.equal(tuned.encoder.layer[0].attention.self.query.weight,
                       fresh.encoder.layer[0].attention.self.query.weight)
    assert not torch.equal(tuned.encoder.layer[5].attention.self.query.weight,
                           fresh.encoder.layer[5].attention.self.query.weight)
    groups = [g for o in trainer.optim.optimizers.values() for g in o.param_groups]
    last = tuned.encoder.layer[5].attention.self.query.weight
    [group] = [g for g in groups if any(p is last for p in g["params"])]
    assert group["lr"] == pytest.approx(cfg.optimizer.lr * 0.5)


def test_augmented_images_train_a_fine_tuned_vit_and_the_checkpoint_reopens(shapes, vit,
                                                                             tmp_path):
    from workbench.core.evaluation.retrieval import RetrievalIndex
    cfg = _cfg(shapes, "model.image_encoder=pretrained", f"model.image_model={vit}",
               "training.augment_images=true", "model.text_encoder=pretrained")
    ds = load_dataset(cfg)
    trainer = Trainer(cfg, ds, run_dir=tmp_path / "run")
    end = trainer.fit()
    assert end.status == "finished", end.reason
    live = RetrievalIndex(trainer.model, ds)
    loaded = RetrievalIndex.from_checkpoint(tmp_path / "run" / "checkpoints" / "last.pt")
    assert torch.allclose(loaded.image_vectors, live.image_vectors, atol=1e-5)
    assert torch.allclose(loaded.text_vectors, live.text_vectors, atol=1e-5)
    # a typed caption through the fine-tuned text model is its own caption's vector
    row = 2
    result = live.search_text(ds.table.captions[row], k=2)
    assert result.hits and not result.unknown
    assert float(live._queries[(ds.table.captions[row],)] @ live.text_vectors[row]) > 1 - 1e-4


def test_the_pretrained_layers_wait_while_the_layers_above_them_learn_first(shapes, vit):
    """Linear probing, then fine-tuning: for optimizer.pretrained_frozen_epochs epochs the
    tuned layers keep their pretrained weights while the trained layers above them move;
    then the tuned layers train too."""
    from workbench.core.training.callbacks import Callback

    class Weights(Callback):
        def __init__(self):
            self.seen = []

        def on_epoch_end(self, trainer, event):
            enc = trainer.model.image_encoder
            last = layer_stack(enc.backbone.model)[1][-1]
            self.seen.append((next(last.parameters()).detach().clone(),
                              enc.net[0].weight.detach().clone()))

    cfg = tiny_config(shapes, "model.pretrained_mode=finetune", "model.finetune_layers=1",
                      "model.image_encoder=pretrained", f"model.image_model={vit}",
                      "training.epochs=3", "optimizer.pretrained_frozen_epochs=2")
    ds = load_dataset(cfg)
    weights = Weights()
    trainer = Trainer(cfg, ds, callbacks=[weights])
    start = VisionBackbone(str(vit), grid=2).model
    start_last = next(layer_stack(start)[1][-1].parameters())
    assert trainer.fit().status == "finished"
    (tuned1, head1), (tuned2, head2), (tuned3, _) = weights.seen
    assert torch.equal(tuned1, start_last) and torch.equal(tuned2, start_last)
    assert not torch.equal(head1, head2)  # the layers above learned meanwhile
    assert not torch.equal(tuned3, start_last)  # and in epoch 3 the pretrained layer too


def test_fine_tuning_that_would_never_tune_is_refused(shapes):
    from workbench.core import config as C
    from workbench.core.errors import ConfigError
    with pytest.raises(ConfigError) as err:
        C.check(tiny_config(shapes, "model.pretrained_mode=finetune",
                            "model.text_encoder=pretrained", "training.epochs=2"))
    message = str(err.value)
    assert "optimizer.pretrained_frozen_epochs" in message and "never train" in message
    # frozen features have no pretrained layers to hold back
    C.check(tiny_config(shapes, "model.text_encoder=pretrained", "training.epochs=1"))


def test_the_pretrained_learning_rate_factor():
    from workbench.core.config import OptimizerConfig
    from workbench.core.training.optim import lr_factor, pretrained_lr_factor
    cfg = OptimizerConfig(schedule="cosine", pretrained_frozen_epochs=2)
    assert [pretrained_lr_factor(cfg, 6, e) for e in range(2)] == [0.0, 0.0]
    assert [pretrained_lr_factor(cfg, 6, e) for e in range(2, 6)] == \
        [lr_factor(cfg, 6, e) for e in range(2, 6)]
