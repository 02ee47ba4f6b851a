"""The grounding objectives (image-text matching with hard negatives, masked-word prediction):
their pieces on hand-made inputs, and that each learns what it is for on planted data."""

from __future__ import annotations

import json
import math
from collections import Counter

import pytest
import torch

from fixtures import make_image_folder, tiny_config
from workbench.core.algorithms.grounding import (content_ids, equal_rows, first_match,
                                                 hard_negatives)
from workbench.core.data import load_dataset
from workbench.core.data.text import PAD
from workbench.core.errors import ConfigError, WorkbenchError
from workbench.core.training import Trainer, build_algorithm


def test_hard_negatives_never_draw_a_match_and_prefer_similar_columns():
    torch.manual_seed(0)
    match = torch.eye(4, dtype=torch.bool)
    match[0, 1] = match[1, 0] = True  # rows 0 and 1 fit each other (identical pixels)
    match[3] = True  # row 3 fits everything: it has no negative
    similarity = torch.tensor([[0.0, 9.0, 5.0, 0.0],
                               [9.0, 0.0, 0.0, 0.0],
                               [0.0, 0.0, 0.0, 0.0],
                               [0.0, 0.0, 0.0, 0.0]])
    draws = Counter()
    for _ in range(300):
        cols, rows = hard_negatives(similarity, match)
        assert rows.tolist() == [0, 1, 2]
        assert not match[rows, cols].any()
        draws[int(cols[0])] += 1
    # Row 0: column 2 (similarity 5) against column 3 (0): e^5 : 1, so almost always 2.
    assert draws[2] > 280 and draws[1] == 0


def test_content_ids_group_pixel_identical_images():
    a = torch.zeros(3, 2, 2, dtype=torch.uint8)
    b = a.clone()
    b[0, 0, 0] = 1
    ids = content_ids(torch.stack([a, b, a.clone(), b.clone(), a + 7]))
    assert ids.tolist() == [0, 1, 0, 1, 4]


def test_equal_rows_in_chunks_equals_the_direct_comparison():
    x = torch.tensor([[1, 2], [3, 4], [1, 2], [0, 0], [3, 4]])
    direct = (x[:, None] == x[None]).all(-1)
    assert torch.equal(equal_rows(x, chunk_bytes=1), direct)
    assert torch.equal(equal_rows(x), direct)
    assert first_match(direct).tolist() == [0, 1, 0, 3, 1]


@pytest.fixture(scope="module")
def shapes(tmp_path_factory):
    """Coloured squares and circles captioned "a COLOUR SHAPE", labelled by colour: whether
    a caption fits an image depends on both words, so only a model that looks at the image
    can tell, and a hidden colour or shape can only be read from the image."""
    root = make_image_folder(tmp_path_factory.mktemp("shapes"), n_per_class=24)
    meta = root / "metadata.jsonl"
    records = [json.loads(line) for line in meta.read_text().splitlines()]
    for record in records:  # without make_image_folder's "number i", which no image shows
        record["text"] = record["text"].split(" number")[0]
    meta.write_text("".join(json.dumps(r) + "\n" for r in records))
    return root


def _trained(folder, *overrides, epochs=100):
    cfg = tiny_config(folder, "algorithm.name=classifier", "fusion.name=coattention",
                      "training.batch_size=16", f"training.epochs={epochs}",
                      "model.embed_dim=32", "model.hidden_dim=32", "optimizer.lr=0.003",
                      "seed=0", *overrides)
    ds = load_dataset(cfg)
    trainer = Trainer(cfg, ds)
    end = trainer.fit()
    assert end.status == "finished", end.reason
    return trainer.model.eval(), ds, end


def test_matching_tells_matched_from_shuffled_pairs(shapes):
    model, ds, end = _trained(shapes, "algorithm.params.itm_weight=1")
    assert {"itm", "itc", "classification", "itm_accuracy"} <= end.metrics.keys()
    # Each validation caption with its own image and with an image of another colour.
    index = ds.indices("val")
    batch = ds.batch(index)
    with torch.no_grad():
        text, image = model.encode(batch)
        g = torch.Generator().manual_seed(1)
        colour = ds.labels[index]
        other = torch.empty_like(index)
        for k in range(len(index)):  # a random position in the batch of another colour
            choices = (colour != colour[k]).nonzero().flatten()
            other[k] = choices[torch.randint(len(choices), (1,), generator=g)]
        matched = model.grounding.match_scores(model.fusion, text, image).exp()
        shuffled = model.grounding.match_scores(model.fusion, text, image.select(other)).exp()
    accuracy = float(torch.cat([matched > 0.5, shuffled <= 0.5]).float().mean())
    assert accuracy > 0.9, accuracy  # chance: 0.5


def test_masked_words_beat_the_unigram_baseline(shapes):
    model, ds, end = _trained(shapes, "algorithm.params.mlm_weight=1", epochs=40)
    # What the best guess without the image or the other words scores at a uniformly
    # hidden word: the commonest training word, wherever it occurs.
    train = ds.indices("train")
    counts = Counter(int(t) for t in ds.tokens[train].flatten() if int(t) != PAD)
    commonest = counts.most_common(1)[0][0]
    val = ds.tokens[ds.indices("val")]
    real = val != PAD
    baseline = float(((val == commonest) & real).sum(1).div(real.sum(1)).mean())
    torch.manual_seed(0)
    scores = [model.evaluate(ds, "val", 64)["mlm_accuracy"] for _ in range(5)]
    # From the other words alone "a" is certain, "square" or "circle" a coin toss and the
    # colour one in four: about 0.58. Above that, the image told the hidden word.
    assert baseline < 0.4
    assert sum(scores) / len(scores) > 0.8, (scores, baseline)


def test_the_objectives_train_with_no_measurement_mask(shapes, monkeypatch):
    """The foreground mask measures attention; nothing that trains may read it."""
    from workbench.core.evaluation import attention_stats

    def forbidden(*args, **kwargs):
        raise AssertionError("the model read the measurement mask")

    monkeypatch.setattr(attention_stats, "foreground_patches", forbidden)
    monkeypatch.setattr(attention_stats, "foreground_gain", forbidden)
    _, _, end = _trained(shapes, "algorithm.params.itm_weight=1",
                         "algorithm.params.mlm_weight=1", "algorithm.params.align_weight=1",
                         "training.probe_samples=4", epochs=2)
    assert all(end.metrics[f"{name}_accuracy"] >= 0.0 for name in ("itm", "mlm", "align"))


def _one_step(folder, *weights):
    """A fresh co-attention classifier with ``weights`` set, after one training-mode
    forward step over 8 pairs, gradients zeroed: (model, losses, per-pair outputs)."""
    cfg = tiny_config(folder, "algorithm.name=classifier", "fusion.name=coattention",
                      *(f"algorithm.params.{w}=1" for w in weights))
    ds = load_dataset(cfg)
    torch.manual_seed(0)
    model = build_algorithm(cfg, ds.info())
    model.prepare(ds)
    model.train()
    losses, outs = model.forward_step(ds.batch(ds.indices("train")[:8]))
    model.zero_grad()
    return model, losses, outs


def test_gradients_of_matching_reach_the_cross_attention_and_both_encoders(shapes):
    model, losses, _ = _one_step(shapes, "itm_weight", "mlm_weight")
    (losses["itm"] + losses["mlm"]).backward()
    for name, module in (("cross-attention", model.fusion.blocks),
                         ("text encoder", model.text_encoder),
                         ("image encoder", model.image_encoder)):
        grads = [p.grad for p in module.parameters() if p.grad is not None]
        assert grads and any(g.abs().sum() > 0 for g in grads), name
    assert model.grounding.mask_vector.grad.abs().sum() > 0


def test_pixel_identical_images_are_never_hard_negatives(shapes):
    cfg = tiny_config(shapes, "algorithm.name=classifier", "fusion.name=coattention",
                      "algorithm.params.itm_weight=1")
    ds = load_dataset(cfg)
    model = build_algorithm(cfg, ds.info())
    model.prepare(ds)
    # Three captions of different colours; the first two images made pixel-identical.
    rows = torch.tensor([int((ds.labels == c).nonzero()[0]) for c in range(3)])
    batch = ds.batch(rows)
    assert not model.grounding.matches(batch, *model.encode(batch))[0, 1]
    ids = batch.image_ids
    model.grounding.content_ids = torch.arange(int(ds.image_index.max()) + 1)
    model.grounding.content_ids[ids[1]] = ids[0]
    text, image = model.encode(batch)
    match = model.grounding.matches(batch, text, image)
    assert match[0, 1] and match[1, 0] and not match[0, 2]


def test_grounding_weights_need_co_attention_and_word_tokens(shapes, tmp_path):
    with pytest.raises(ConfigError, match="coattention"):
        tiny_config(shapes, "algorithm.name=classifier", "fusion.name=attention",
                    "algorithm.params.itm_weight=1")
    from fixtures import make_npz
    npz = tiny_config(make_npz(tmp_path / "f.npz"), "algorithm.name=classifier",
                      "fusion.name=coattention", "algorithm.params.mlm_weight=1")
    with pytest.raises(WorkbenchError):
        build_algorithm(npz, load_dataset(npz).info())



def test_on_planted_colours_a_trained_co_attention_points_at_the_named_shape(shapes, tmp_path):
    """The pointing game measures grounding: where a caption's colour word can only be
    checked by looking at the shape of that colour, the words' attention lands on it."""
    from workbench.core.evaluation.grounding import pointing_game
    meta = shapes / "metadata.jsonl"
    records = [json.loads(line) for line in meta.read_text().splitlines()]
    bare = tmp_path / "bare"  # "red square": no word shared by every caption
    bare.mkdir()
    for record in records:
        record["text"] = record["text"].removeprefix("a ")
        (bare / record["file_name"]).write_bytes((shapes / record["file_name"]).read_bytes())
    (bare / "metadata.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))
    model, ds, _ = _trained(bare, epochs=60)
    game = pointing_game(model, ds, "val", n=200)
    assert game["rate"] > 0.75, game  # chance: 0.5


def test_a_grounded_classifier_embeds_without_drawing(shapes):
    cfg = tiny_config(shapes, "algorithm.name=classifier", "fusion.name=coattention",
                      "algorithm.params.itm_weight=1", "algorithm.params.mlm_weight=1")
    ds = load_dataset(cfg)
    model = build_algorithm(cfg, ds.info())
    model.prepare(ds)
    model.eval()
    state = torch.get_rng_state()
    vectors = model.embed(ds.batch(torch.arange(6)))
    assert torch.equal(torch.get_rng_state(), state)
    assert {"text", "image", "fused"} <= vectors.keys()
    _, outs = model.forward_step(ds.batch(torch.arange(6)))
    assert "itm_accuracy" in outs  # evaluation still scores the objectives


@pytest.mark.parametrize("null_key", [False, True])
def test_pair_logits_are_the_drawn_attention_of_each_pair(shapes, null_key):
    """The alignment scores every caption against every image with the co-attention's own
    logits: for caption k and image k their softmax, averaged over heads, is the heatmap the
    fusion draws (one block), and caption k against image j that of the pair (k, j). With a
    null key its logit is the last key's, and its softmax share the drawn null share."""
    cfg = tiny_config(shapes, "algorithm.name=classifier", "fusion.name=coattention",
                      "fusion.params.heads=2", f"fusion.params.null_key={str(null_key).lower()}")
    ds = load_dataset(cfg)
    torch.manual_seed(0)
    model = build_algorithm(cfg, ds.info()).eval()
    with torch.no_grad():
        text, image = model.encode(ds.batch(torch.arange(5)))
        logits = model.fusion.pair_logits(text, image)  # (5, 5, H, L, P [+ 1])
        patches = image.tokens.shape[1]
        assert logits.shape[:3] == (5, 5, 2)
        assert logits.shape[-1] == patches + null_key
        maps = model.fusion([text, image]).attention
        own = torch.stack([logits[k, k] for k in range(5)]).softmax(-1).mean(1)
        torch.testing.assert_close(own[..., :patches], maps["text_to_image"],
                                   atol=1e-5, rtol=1e-4)
        if null_key:
            torch.testing.assert_close(own[..., -1], maps["text_to_null"],
                                       atol=1e-5, rtol=1e-4)
        swapped = image.select(torch.tensor([3, 0, 1, 2, 4]))
        drawn = model.fusion([text, swapped]).attention["text_to_image"]
        torch.testing.assert_close(logits[1, 0].softmax(-1).mean(0)[..., :patches], drawn[1],
                                   atol=1e-5, rtol=1e-4)


def test_alignment_scores_by_hand():
    from workbench.core.algorithms.grounding import alignment_scores
    # One caption of two words (the second padding) against two images of two patches, one
    # head: the score is the real word's log-sum-exp over the patches.
    logits = torch.tensor([[[[[0.0, 0.0], [5.0, -5.0]]], [[[2.0, 0.0], [9.0, 9.0]]]]])
    words = torch.tensor([[True, False]])
    score = alignment_scores(logits, words)
    expected = torch.tensor([[math.log(2.0), math.log(math.exp(2.0) + 1.0)]])
    torch.testing.assert_close(score, expected)
    # Two heads average; an image with a masked patch ignores it.
    two = torch.cat([logits, logits + 1.0], dim=2)
    torch.testing.assert_close(alignment_scores(two, words), expected + 0.5)
    masked = logits.clone()
    masked[0, 1, 0, 0, 1] = float("-inf")
    torch.testing.assert_close(alignment_scores(masked, words)[0, 1], torch.tensor(2.0))


def test_alignment_learns_which_image_a_caption_names(shapes):
    """Word-patch alignment alone (no matching head) ranks each validation caption's own
    image first among images of every other colour, through the attention logits."""
    model, ds, end = _trained(shapes, "algorithm.params.align_weight=1", epochs=40)
    assert {"align", "classification", "align_accuracy"} <= end.metrics.keys()
    from workbench.core.algorithms.grounding import alignment_scores
    index = ds.indices("val")
    with torch.no_grad():
        text, image = model.encode(ds.batch(index))
        score = alignment_scores(model.fusion.pair_logits(text, image), text.mask.bool())
    colour = ds.labels[index]
    other = colour[:, None] != colour[None, :]
    # Each caption's own image against every image of another colour.
    wins = (score.diagonal()[:, None] > score).masked_select(other).float().mean()
    assert float(wins) > 0.9, float(wins)  # chance: 0.5


def test_gradients_of_alignment_reach_the_queries_keys_and_encoders(shapes):
    model, losses, outs = _one_step(shapes, "align_weight")
    assert outs["align_accuracy"].shape == (8,)
    losses["align"].backward()
    attn = model.fusion.blocks[0].text_from_image.attn
    q, k, v = attn.in_proj_weight.grad.chunk(3)
    # The logits read queries and keys, never the values: what a word takes from a patch.
    assert q.abs().sum() > 0 and k.abs().sum() > 0 and v.abs().sum() == 0
    for name, module in (("text encoder", model.text_encoder),
                         ("image encoder", model.image_encoder)):
        assert any(p.grad is not None and p.grad.abs().sum() > 0
                   for p in module.parameters()), name
