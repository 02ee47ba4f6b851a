"""Grounding measures (``evaluation.grounding``): composites of two emoji with one's caption,
the pointing game scored on attention the test controls, and the attention figures over a
whole split."""

from __future__ import annotations

import json
import math
from types import SimpleNamespace

import numpy as np
import pytest
import torch

from fixtures import make_image_folder, tiny_config
from workbench.core.data import load_dataset
from workbench.core.data.text import OOV, PAD
from workbench.core.evaluation import grounding as G
from workbench.core.evaluation import pointing as P
from workbench.core.evaluation.attention_stats import snapshot_stats
from workbench.core.training.events import AttentionSnapshot

S = 16  # image side: composites put each 8 x 8 emoji at rows 4..11


def recaption(folder, caption):
    """``folder``'s metadata with each caption replaced by ``caption(colour, shape, i)``."""
    path = folder / "metadata.jsonl"
    lines = [json.loads(x) for x in path.read_text().splitlines()]
    for line in lines:
        _, colour, shape, _, i = line["text"].split()
        line["text"] = caption(colour, shape, int(i))
    path.write_text("\n".join(json.dumps(x) for x in lines) + "\n")
    return folder


@pytest.fixture(scope="module")
def ds(tmp_path_factory):
    """Shapes captioned "<colour> <shape>", labelled by colour: two of different labels
    share a word when they have the same shape."""
    folder = recaption(make_image_folder(tmp_path_factory.mktemp("shapes")),
                       lambda colour, shape, i: f"{colour} {shape}")
    return load_dataset(tiny_config(folder, "data.val_fraction=0.5"))


@pytest.fixture(scope="module")
def ragged(tmp_path_factory):
    """The same shapes with captions of 2 to 4 words, so batches trim to different lengths."""
    folder = recaption(make_image_folder(tmp_path_factory.mktemp("ragged")),
                       lambda colour, shape, i: f"{colour} {shape}" + " big" * (i % 3))
    return load_dataset(tiny_config(folder, "data.val_fraction=0.5"))


@pytest.fixture(scope="module")
def shapes(tmp_path_factory):
    return recaption(make_image_folder(tmp_path_factory.mktemp("run")),
                     lambda colour, shape, i: f"{colour} {shape}")


def words(ds, row):
    ids = ds.tokens[row, : int(ds.lengths[row])].tolist()
    return {i for i in ids if i not in (PAD, OOV)}


def halve(image):
    """(3, 16, 16) -> (3, 8, 8): the mean of each 2 x 2 block (area scaling by one half)."""
    return np.round(image.astype(np.float64).reshape(3, 8, 2, 8, 2).mean((2, 4)))


# -- composites ---------------------------------------------------------------------------
def test_each_emoji_is_fitted_into_its_half_on_white(ds):
    c = G.make_composites(ds, "val", n=12, seed=0)
    assert c.images.shape == (12, 3, S, S) and c.images.dtype == np.uint8
    for k in range(len(c)):
        left, right = (ds.images[int(ds.image_index[r])].numpy() for r in c.rows[k])
        np.testing.assert_array_equal(c.images[k][:, 4:12, :8], halve(left))
        np.testing.assert_array_equal(c.images[k][:, 4:12, 8:], halve(right))
        white = np.ones((S, S), bool)
        white[4:12] = False
        assert (c.images[k][:, white] == 255).all()


def test_an_odd_side_leaves_the_middle_column_white():
    left = torch.zeros(1, 3, 15, 15, dtype=torch.uint8)
    right = torch.full((1, 3, 15, 15), 100, dtype=torch.uint8)
    out = G.place_side_by_side(left, right)[0].numpy()
    assert (out[:, 4:11, :7] == 0).all() and (out[:, 4:11, 8:] == 100).all()
    assert (out[:, :, 7] == 255).all() and (out[:, :4] == 255).all() and \
        (out[:, 11:] == 255).all()


def test_pairs_have_different_labels_and_no_shared_word(ds):
    labels = ds.labels.numpy()
    val = ds.indices("val").tolist()
    # the data has pairs the rule must turn down: different labels, a shared shape word
    assert any(labels[a] != labels[b] and words(ds, a) & words(ds, b)
               for a in val for b in val)
    c = G.make_composites(ds, "val", n=40, seed=3)
    assert len(c) == 40 and set(c.rows.ravel()) <= set(val)
    for a, b in c.rows:
        assert labels[a] != labels[b] and not words(ds, a) & words(ds, b)
    assert set(c.side.tolist()) == {0, 1}
    np.testing.assert_array_equal(c.captioned, np.where(c.side == 0, c.rows[:, 0],
                                                        c.rows[:, 1]))


def test_composites_are_deterministic_for_a_seed(ds):
    a, b = G.make_composites(ds, n=20, seed=5), G.make_composites(ds, n=20, seed=5)
    np.testing.assert_array_equal(a.rows, b.rows)
    np.testing.assert_array_equal(a.side, b.side)
    np.testing.assert_array_equal(a.images, b.images)
    assert not np.array_equal(G.make_composites(ds, n=20, seed=6).rows, a.rows)


def test_the_composite_batch_is_the_captioned_rows_batch_with_the_composite_image(ds):
    c = G.make_composites(ds, n=6, seed=0)
    b = G.composite_batch(ds, c)
    real = ds.batch(torch.from_numpy(c.captioned))
    for name in ("index", "tokens", "mask", "bow", "labels"):
        assert torch.equal(getattr(b, name), getattr(real, name)), name
    assert torch.allclose(b.images, torch.from_numpy(c.images).float() / 255)
    assert int(b.image_ids.min()) >= len(ds.images) and len(set(b.image_ids.tolist())) == 6


def test_data_without_labels_or_pixels_makes_no_composites(tmp_path):
    from fixtures import make_npz
    features = load_dataset(tiny_config(make_npz(tmp_path / "f.npz")))
    assert G.composite_problem(features) is not None
    with pytest.raises(G.GroundingError, match="no composites"):
        G.make_composites(features)


# -- the pointing game --------------------------------------------------------------------
def test_half_masses_by_hand():
    # grid 2 x 2: patches 0 and 2 are the left column, 1 and 3 the right
    t2i = np.array([[[0.4, 0.1, 0.4, 0.1],   # left 0.8
                     [0.1, 0.2, 0.1, 0.6],   # left 0.2
                     [1.0, 0.0, 0.0, 0.0]]])  # padding: not a word
    np.testing.assert_allclose(P.half_masses(t2i, [2], (2, 2)), [[0.5, 0.5]])
    np.testing.assert_allclose(P.half_masses(t2i, [1], (2, 2)), [[0.8, 0.2]])
    # three columns: the middle one is in neither half; rows are renormalised
    np.testing.assert_allclose(P.half_masses(np.array([[[2.0, 5.0, 3.0]]]), [1], (1, 3)),
                               [[0.2, 0.3]])
    np.testing.assert_array_equal(P.patch_halves((1, 3)), [[1, 0, 0], [0, 0, 1]])
    hits = P.pointing_hits(np.array([[0.6, 0.4], [0.6, 0.4], [0.5, 0.5]]), np.array([0, 1, 0]))
    np.testing.assert_array_equal(hits, [True, False, False])  # a tie is no hit


def test_pointing_score_by_hand():
    s = P.pointing_score(7, 10)
    assert s["hits"] == 7 and s["n"] == 10 and s["chance"] == 0.5
    assert s["rate"] == pytest.approx(0.7) and s["se"] == pytest.approx(math.sqrt(0.021))


class Oracle(torch.nn.Module):
    """A stand-in model whose text -> image attention the test sets: every word looks at
    the half ``looks(k)`` (0 left, 1 right) of the k-th composite it is shown."""

    def __init__(self, looks, grid=4):
        super().__init__()
        self.w = torch.nn.Parameter(torch.zeros(1))
        self.image_encoder = SimpleNamespace(grid=grid)
        self.modality_names = ["text", "image"]
        self.looks, self.seen, self.batches = looks, 0, []
        self.cfg = SimpleNamespace(algorithm=SimpleNamespace(name="oracle"),
                                   fusion=SimpleNamespace(name="coattention"))

    def attention(self, batch):
        self.batches.append(batch)
        n, length = batch.tokens.shape
        t2i = torch.zeros(n, length, 16)
        for k in range(n):
            half = self.looks(self.seen + k)
            t2i[k, :, [c + 4 * r for r in range(4) for c in (2 * half, 2 * half + 1)]] = 1 / 8
        self.seen += n
        return {"text_to_image": t2i}


def test_the_pointing_game_counts_the_captioned_half(ds):
    c = G.make_composites(ds, "val", n=30, seed=2)
    hit = [k % 3 != 0 for k in range(30)]  # looks at the captioned half two times in three
    model = Oracle(lambda k: int(c.side[k]) if hit[k] else 1 - int(c.side[k]))
    game = G.pointing_game(model, ds, "val", n=30, seed=2, batch_size=7)
    assert game["hits"] == 20 and game["n"] == 30 and game["rate"] == pytest.approx(2 / 3)
    assert game["se"] == pytest.approx(math.sqrt(2 / 3 / 3 / 30))
    assert [len(b) for b in model.batches] == [7, 7, 7, 7, 2]
    images = torch.cat([b.images for b in model.batches])
    assert torch.allclose(images, torch.from_numpy(c.images).float() / 255)
    left = G.pointing_game(Oracle(lambda k: 0), ds, "val", n=30, seed=2)
    assert left["hits"] == int((c.side == 0).sum())


def test_a_model_without_text_to_image_attention_is_named(ds):
    model = Oracle(lambda k: 0)
    model.cfg.algorithm.name, model.cfg.fusion.name = "classifier", "gated"
    model.attention = lambda batch: {"modality_weights": torch.ones(len(batch), 2) / 2}
    with pytest.raises(G.GroundingError, match="classifier with gated fusion"):
        G.pointing_game(model, ds, n=4)


# -- the attention figures over a split ---------------------------------------------------
class RowAttention(torch.nn.Module):
    """Attention that depends on the dataset row alone (not on the batch it comes in):
    text -> image (L, 16) and image -> text (16, L) softmaxes of row-seeded noise."""

    def __init__(self, max_tokens):
        super().__init__()
        self.w = torch.nn.Parameter(torch.zeros(1))
        self.image_encoder = SimpleNamespace(grid=4)
        self.modality_names = ["text", "image"]
        self.max_tokens = max_tokens

    def attention(self, batch):
        length = batch.tokens.shape[1]
        t2i, i2t = [], []
        for r in batch.index.tolist():
            g = torch.Generator().manual_seed(r)
            t2i.append((3 * torch.randn(self.max_tokens, 16, generator=g)).softmax(-1))
            i2t.append(torch.randn(16, self.max_tokens, generator=g))
        i2t = torch.stack(i2t)[:, :, :length].masked_fill(~batch.mask[:, None, :], -1e9)
        return {"text_to_image": torch.stack(t2i)[:, :length], "image_to_text": i2t.softmax(-1)}


def test_split_figures_are_the_snapshot_figures_of_every_pair(ragged):
    model = RowAttention(ragged.max_tokens)
    val = ragged.indices("val")
    maps = {k: v.numpy() for k, v in model.attention(ragged.batch(val)).items()}
    snap = AttentionSnapshot(0, 0, [G.probe_of(ragged, r) for r in val.tolist()],
                             ["text", "image"], maps, (4, 4))
    expected = snapshot_stats(snap)
    assert {"t2i_entropy", "t2i_specificity", "t2i_foreground_gain", "i2t_entropy"} <= \
        set(expected)
    assert len({int(n) for n in ragged.lengths[val]}) == 3  # ragged captions
    got = G.split_attention_stats(model, ragged, "val", batch_size=3)
    assert got.pop("pairs") == len(val)
    assert got == pytest.approx(expected)


# -- composite probes in the Trainer's snapshots ------------------------------------------
def snapshots(folder, *overrides):
    from workbench.core.training import Trainer
    from workbench.core.training.callbacks import EventRecorder
    cfg = tiny_config(folder, "algorithm.name=classifier", "data.val_fraction=0.5", *overrides)
    recorder = EventRecorder()
    end = Trainer(cfg, load_dataset(cfg), callbacks=[recorder]).fit()
    assert end.status == "finished", end.reason
    return recorder.of(AttentionSnapshot), cfg


def test_coattention_snapshots_carry_composite_probes_apart(shapes):
    snaps, cfg = snapshots(shapes, "fusion.name=coattention", "training.composite_probes=3")
    ds = load_dataset(cfg)
    expected = G.make_composites(ds, "val", 3, seed=cfg.seed)
    for snap in snaps:
        comp = snap.composites
        assert all(p.captioned is None for p in snap.probes)
        assert [p.captioned for p in comp.probes] == [P.SIDES[s] for s in expected.side]
        assert [p.index for p in comp.probes] == expected.captioned.tolist()
        np.testing.assert_array_equal(np.stack([p.image for p in comp.probes]),
                                      expected.images)
        assert comp.grid == snap.grid and comp.maps["text_to_image"].shape[:1] == (3,)
        assert P.snapshot_pointing(comp)["n"] == 3
        assert P.snapshot_pointing(snap) is None  # real probes are no composites


def test_no_composites_without_co_attention_or_when_turned_off(shapes):
    snaps, _ = snapshots(shapes, "fusion.name=gated")
    assert snaps and all(s.composites is None for s in snaps)
    snaps, _ = snapshots(shapes, "fusion.name=coattention", "training.composite_probes=0")
    assert snaps and all(s.composites is None for s in snaps)


def test_a_run_folder_keeps_its_composite_probes(shapes, tmp_path):
    """Reopened, a run shows the composites it showed live (the Attention tab reads them
    back with ``latest_attention``); the real probes stay as they were."""
    from workbench.core.runs.snapshot_files import latest_attention
    from workbench.core.runs.writer import RunWriter
    from workbench.core.training import Trainer
    from workbench.core.training.callbacks import EventRecorder
    cfg = tiny_config(shapes, "algorithm.name=classifier", "data.val_fraction=0.5",
                      "fusion.name=coattention", "training.composite_probes=3")
    recorder, run_dir = EventRecorder(), tmp_path / "run"
    Trainer(cfg, load_dataset(cfg), callbacks=[recorder, RunWriter(run_dir, cfg)],
            run_dir=run_dir).fit()
    live, read = recorder.of(AttentionSnapshot)[-1], latest_attention(run_dir)
    for mine, theirs in ((read, live), (read.composites, live.composites)):
        assert [(p.index, p.caption, p.tokens, p.label, p.captioned) for p in mine.probes] \
            == [(p.index, p.caption, p.tokens, p.label, p.captioned) for p in theirs.probes]
        np.testing.assert_array_equal(np.stack([p.image for p in mine.probes]),
                                      np.stack([p.image for p in theirs.probes]))
        assert mine.maps.keys() == theirs.maps.keys() and mine.grid == theirs.grid
        for key in mine.maps:
            np.testing.assert_array_equal(mine.maps[key], theirs.maps[key])
    assert read.composites.composites is None
    assert [p.captioned for p in read.composites.probes] != [None] * 3
    assert all(p.captioned is None for p in read.probes)


# -- per label --------------------------------------------------------------------------------
def _image(inked_patches: list[int]) -> np.ndarray:
    """A 4 x 4 white image on a 2 x 2 patch grid with these patches black."""
    img = np.full((3, 4, 4), 255, np.uint8)
    for p in inked_patches:
        r, c = divmod(p, 2)
        img[:, 2 * r:2 * r + 2, 2 * c:2 * c + 2] = 0
    return img


def test_figures_by_label_are_each_labels_own_by_hand():
    from workbench.core.training.events import Probe
    probes = [Probe(0, "a", ["a"], _image([0]), "x"),        # share 0.25
              Probe(1, "b c", ["b", "c"], _image([0, 1]), "y"),  # share 0.5
              Probe(2, "d", ["d"], _image([3]), "x")]         # share 0.25
    t2i = np.zeros((3, 2, 4))
    t2i[0, 0] = [1, 0, 0, 0]                 # all on its ink: gain 1
    t2i[1, 0] = [0.25] * 4                   # as the background: gain 0
    t2i[1, 1] = [0, 0, 0.5, 0.5]             # all off its ink: m 0, gain -1
    t2i[2, 0] = [0.5, 0, 0, 0.5]             # half on its ink: m 0.5, gain 1/3
    snap = AttentionSnapshot(0, 0, probes, ["text", "image"], {"text_to_image": t2i}, (2, 2))
    out = G.stats_by_label(snap)
    assert list(out) == ["x", "y"]
    assert out["x"]["pairs"] == 2 and out["y"]["pairs"] == 1
    assert out["x"]["t2i_foreground_gain"] == pytest.approx((1 + 1 / 3) / 2)
    # a caption's words count alike: m = (0.5 + 0) / 2 = 0.25, s = 0.5 -> -0.5
    assert out["y"]["t2i_foreground_gain"] == pytest.approx(-0.5)
    assert out["x"]["foreground_share"] == pytest.approx(0.25)
    assert out["y"]["foreground_share"] == pytest.approx(0.5)
    for label, idx in (("x", [0, 2]), ("y", [1])):
        alone = AttentionSnapshot(0, 0, [probes[i] for i in idx], ["text", "image"],
                                  {"text_to_image": t2i[idx]}, (2, 2))
        for key, value in snapshot_stats(alone).items():
            assert out[label][key] == pytest.approx(value), (label, key)
