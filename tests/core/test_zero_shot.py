"""Zero-shot CLIP, scored with no training: the two towers read from one folder, every number
equal to a hand computation with the same model on a tiny data set (several captions per
image included), the split a run of the config makes, the Compare row on the trained rows'
metric with their names, ``workbench compare --zero-shot``, and the refusals (an image model
with no text tower, a prompt without {label})."""

from __future__ import annotations

import contextlib
import csv
import io
import json

import numpy as np
import pytest
import torch
from PIL import Image

from fixtures import tiny_config
from two_tower import MAX_TEXT, tiny_siglip
from workbench.cli import main
from workbench.core import config as C
from workbench.core.data import dataset_for, load_pairs
from workbench.core.errors import ConfigError
from workbench.core.evaluation import compare, zero_shot
from workbench.core.evaluation.names import RECALL_KEYS
from workbench.core.pretrained.clip import TwoTowerModel, is_two_tower, two_tower_problem
from workbench.core.pretrained.locate import PretrainedError


def _config(pairs, clip, *overrides):
    return tiny_config(pairs, f"model.image_model={clip}", "data.val_fraction=0.25",
                       "data.test_fraction=0.25", *overrides)


@pytest.fixture(scope="module")
def encoded(pairs, clip):
    return zero_shot.encode(_config(pairs, clip, "algorithm.name=classifier"))


# ------------------------------------------------------------------ the hand computation
def _by_hand(clip, pairs_csv, table, prompts):
    """The model's unit vectors of every pair's caption and image and of the prompts,
    computed with transformers directly from the image files."""
    from transformers import AutoTokenizer, CLIPModel
    from transformers.models.clip.image_processing_pil_clip import CLIPImageProcessorPil
    model = CLIPModel.from_pretrained(clip).eval()
    tokenizer = AutoTokenizer.from_pretrained(clip)
    processor = CLIPImageProcessorPil.from_pretrained(clip)
    with open(pairs_csv, newline="", encoding="utf-8") as fh:
        rows = list(csv.reader(fh))[1:]
    assert [r[1] for r in rows] == table.captions
    files = [pairs_csv.parent / r[0] for r in rows]
    with torch.no_grad():
        pixels = processor(images=[Image.open(f).convert("RGB") for f in files],
                           return_tensors="pt")["pixel_values"]
        image = model.get_image_features(pixel_values=pixels).pooler_output

        def text(lines):
            tokens = tokenizer(lines, padding=True, truncation=True, max_length=MAX_TEXT,
                               return_tensors="pt")
            return model.get_text_features(**tokens).pooler_output

        caption, prompt = text(table.captions), text(prompts)
    unit = [torch.nn.functional.normalize(v, dim=-1).numpy() for v in (caption, image, prompt)]
    return (*unit, [r[0] for r in rows])


def _expected(caption, image, prompt, files, rows, labels, num_classes):
    """R@K, median ranks, mean recall, accuracy and macro-F1 of the pairs ``rows``, by
    counting: a caption's rank is 1 + the distinct images (files) of the split scoring
    above its own; an image's, 1 + the split's captions scoring above its best own one."""
    keys = sorted({files[r] for r in rows})
    column = {k: i for i, k in enumerate(keys)}
    # float64, every score from one product: a true image's score is its own, exactly
    scores = caption[rows].astype(np.float64) @ np.stack(
        [image[files.index(k)] for k in keys]).astype(np.float64).T  # (captions, images)
    t2i = [1 + int((s > s[column[files[r]]]).sum()) for s, r in zip(scores, rows)]
    i2t = []
    for k in keys:
        own = [i for i, r in enumerate(rows) if files[r] == k]
        best = scores[own, column[k]].max()
        i2t.append(1 + int((scores[:, column[k]] > best).sum()))
    out = {}
    for name, ranks in (("t2i", np.array(t2i)), ("i2t", np.array(i2t))):
        for k in (1, 5, 10):
            out[f"{name}_r{k}"] = float((ranks <= k).mean())
        out[f"{name}_median_rank"] = float(np.median(ranks))
    out["mean_recall"] = float(np.mean([out[k] for k in RECALL_KEYS]))
    pred = (image[rows] @ prompt.T).argmax(1)
    true = labels[rows]
    out["accuracy"] = float((pred == true).mean())
    f1 = []
    for c in range(num_classes):
        tp = int(((pred == c) & (true == c)).sum())
        support, predicted = int((true == c).sum()), int((pred == c).sum())
        if support + predicted:
            f1.append(2 * tp / (support + predicted))
    out["macro_f1"] = float(np.mean(f1))
    return out, len(keys)


def test_scores_equal_a_hand_computation_with_the_same_model(encoded, clip, pairs):
    ds = encoded.dataset
    assert encoded.prompts == [f"a photo of {name}." for name in ds.label_names]
    caption, image, prompt, files = _by_hand(clip, pairs, ds.table, encoded.prompts)
    image_of_pair = ds.image_index.numpy()
    np.testing.assert_allclose(encoded.text.numpy(), caption, atol=1e-5)
    np.testing.assert_allclose(encoded.image.numpy()[image_of_pair], image, atol=1e-5)
    np.testing.assert_allclose(encoded.prompt_vectors.numpy(), prompt, atol=1e-5)
    shared = 0
    for split in ("train", "val", "test"):
        rows = ds.indices(split).numpy()
        assert len(rows), split
        want, n_images = _expected(caption, image, prompt, files, rows, ds.labels.numpy(),
                                   ds.num_classes)
        shared += len(rows) - n_images
        got = zero_shot.score_split(encoded, split, "macro_f1")
        assert got["size"] == len(rows) and got["primary"] == "macro_f1"
        assert got["metrics"] == pytest.approx(want, abs=1e-6), split
        # chance beside it, from the split alone: one true image among the distinct ones
        assert got["chance"]["t2i_r1"] == pytest.approx(1 / n_images)
        assert got["spread"] > 0 and isinstance(got["at_chance"], bool)
    assert shared >= 2  # several captions of one image were counted once


@pytest.mark.parametrize("encoder", ["cnn", "pretrained"])
def test_the_split_is_the_one_a_run_of_the_config_makes(encoded, pairs, clip, encoder):
    cfg = _config(pairs, clip, "algorithm.name=classifier", "data.split_seed=5",
                  f"model.image_encoder={encoder}")  # pretrained: CLIP's frozen image tower
    run = dataset_for(cfg, load_pairs(cfg.data, cfg.preprocess.image_size))
    mine = zero_shot.encode(cfg).dataset
    for split in ("train", "val", "test"):
        assert mine.indices(split).tolist() == run.indices(split).tolist()
    assert mine.table.images.shape[-1] == 32  # read at the model's input size
    assert [mine.indices(s).tolist() for s in ("val", "test")] != \
        [encoded.dataset.indices(s).tolist() for s in ("val", "test")]  # the seed counts


def test_the_two_towers_load_from_one_folder(clip, tiny_vit):
    model = TwoTowerModel(str(clip))
    assert model.input_size == 32 and model.max_length == MAX_TEXT and model.kind == "clip"
    long = "a caption far longer than the text tower's positions " * 4  # cut, end kept
    vectors = model.encode_texts(["red", long, "blue"], batch_size=2)
    assert vectors.shape == (3, 24)
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, rtol=1e-5)
    # batched and sorted by length, yet each row is its own caption's
    np.testing.assert_allclose(vectors[2], model.encode_texts(["blue"])[0], atol=1e-5)
    images = np.random.default_rng(0).integers(0, 256, (3, 3, 32, 32), dtype=np.uint8)
    np.testing.assert_allclose(np.linalg.norm(model.encode_images(images), axis=1), 1.0,
                               rtol=1e-5)
    assert is_two_tower(str(clip)) and not is_two_tower(str(tiny_vit))


def test_siglip_reads_its_texts_padded_to_its_length_without_a_mask(tmp_path, pairs):
    folder = tiny_siglip(tmp_path / "siglip")
    model = TwoTowerModel(str(folder))
    assert model.kind == "siglip" and is_two_tower(str(folder))
    texts = ["a warm picture", "cool"]
    tokens = model.tokenizer(texts, padding="max_length", max_length=MAX_TEXT,
                             truncation=True, return_tensors="pt")
    with torch.no_grad():  # as SigLIP's own processor feeds it: input ids only
        expected = model.model.get_text_features(input_ids=tokens["input_ids"]).pooler_output
    np.testing.assert_allclose(model.encode_texts(texts),
                               torch.nn.functional.normalize(expected, dim=-1).numpy(),
                               atol=1e-5)
    result = zero_shot.score(_config(pairs, folder, "algorithm.name=contrastive"))
    assert result["primary"] == "mean_recall"
    assert set(RECALL_KEYS) <= set(result["scores"]["val"]["metrics"])


def test_an_image_model_without_a_text_tower_is_a_clear_note(tiny_vit, pairs):
    why = two_tower_problem(str(tiny_vit))
    assert "vit model, not a two-tower" in why and "model.image_model" in why
    cfg = _config(pairs, tiny_vit)
    assert zero_shot.unavailable_reason(cfg).startswith("zero-shot CLIP is unavailable: ")
    with pytest.raises(zero_shot.ZeroShotError, match="not a two-tower"):
        zero_shot.encode(cfg)
    with pytest.raises(PretrainedError, match="not a two-tower"):
        TwoTowerModel(str(tiny_vit))
    # the default CLIP, not on this machine: how to get it
    missing = zero_shot.unavailable_reason(C.ExperimentConfig())
    assert "openai/clip-vit-base-patch32" in missing and "huggingface-cli download" in missing


def test_a_prompt_without_label_is_refused(pairs, clip):
    with pytest.raises(ConfigError, match=r"no \{label\}"):
        zero_shot.encode(_config(pairs, clip), prompt="a photo")
    assert zero_shot.prompts_for("an icon of {label}, {label}", ["cat"]) == \
        ["an icon of cat, cat"]


def test_a_user_prompt_is_used(encoded, pairs, clip):
    cfg = _config(pairs, clip, "algorithm.name=classifier")
    result = zero_shot.score(cfg, prompt="{label} colours", splits=("val",))
    assert result["prompt"] == "{label} colours"
    assert result["prompts"] == [f"{n} colours" for n in encoded.dataset.label_names]
    same = zero_shot.result_of(encoded, cfg, splits=("val",))["scores"]["val"]["metrics"]
    got = result["scores"]["val"]["metrics"]
    assert {k: got[k] for k in RECALL_KEYS} == {k: same[k] for k in RECALL_KEYS}


# ------------------------------------------------------------------ Compare
def test_the_compare_row_has_the_trained_rows_metric_and_names(encoded, pairs, clip):
    from workbench.core.training import Trainer
    cfg = _config(pairs, clip, "algorithm.name=contrastive")
    end = Trainer(cfg, dataset_for(cfg, load_pairs(cfg.data, 16))).fit()
    rows = compare.summarize([end], [cfg], [[]])
    fusions = compare.aggregate(rows)
    metric = rows[0]["metric"]
    assert metric == "mean_recall"
    result = zero_shot.result_of(encoded, cfg)
    assert result["primary"] == metric
    row = compare.zero_shot_row(result, metric)
    assert set(fusions[0]) <= set(row)  # an aggregate row, and more
    val = result["scores"]["val"]["metrics"]
    assert row["mean"] == val[metric] and row["std"] == 0.0 and row["runs"] == 1
    assert row["test_mean"] == result["scores"]["test"]["metrics"][metric]
    assert row["secondary"] == "t2i_r10" and row["secondary_mean"] == val["t2i_r10"]
    assert row["chance"] == result["scores"]["val"]["chance"][metric]
    assert row["status"] == "no training" and row["zero_shot"]
    trained = {k for k in end.metrics if k in val}
    assert trained == {k for k in val if k not in ("accuracy", "macro_f1")}  # same names
    # the fusions' verdict is theirs alone; the baseline has its own sentence
    assert compare.verdict(fusions).ranked == (cfg.fusion.name,)
    sentence = compare.baseline_verdict(fusions, row)
    assert "zero-shot CLIP" in sentence and cfg.fusion.name in sentence
    table = compare.format_table(fusions, baseline=row)
    assert "zero-shot CLIP" in table.splitlines()[2] and "± 0.000" in table
    assert f"{clip}, from a folder, no training" in table and "baseline: " in table


def test_baseline_verdict_reads_the_seeds_noise():
    def fusion(mean, std, n=3):
        return {"fusion": "late", "mean": mean, "std": std, "finished": n}
    base = compare.zero_shot_row(None, "macro_f1")
    base.update(mean=0.5, reason="")
    assert "beats zero-shot CLIP (no training, 0.500) by 0.300" in \
        compare.baseline_verdict([fusion(0.8, 0.01)], base)
    assert "within the noise of its 3 seeds" in \
        compare.baseline_verdict([fusion(0.52, 0.05)], base)
    assert "on one seed" in compare.baseline_verdict([fusion(0.6, None, 1)], base)
    assert compare.baseline_verdict([fusion(0.4, 0.01)], base).startswith(
        "no fusion beats zero-shot CLIP")
    missing = compare.zero_shot_row(None, "macro_f1", reason="zero-shot CLIP is unavailable")
    assert compare.baseline_verdict([fusion(0.8, 0.01)], missing) == missing["reason"]
    assert missing["mean"] is None and missing["status"] == "unavailable"


# ------------------------------------------------------------------ workbench compare
def _compare(*args):
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(["compare", *map(str, args)])
    return code, out.getvalue(), err.getvalue()


def test_cli_zero_shot_row(pairs, clip, tmp_path):
    preset = C.save(_config(pairs, clip, "algorithm.name=classifier"), tmp_path / "p.toml")
    code, out, err = _compare(preset, "--epochs", "1", "--fusions", "late", "--zero-shot",
                              "--prompt", "a {label} image", "--out", tmp_path / "runs",
                              "--json")
    assert code == 0, err
    result = json.loads(out)
    row = result["zero_shot"]
    assert result["metric"] == row["metric"] == "macro_f1"
    assert row["status"] == "no training" and row["std"] == 0.0
    assert row["prompt"] == "a {label} image" and row["model"] == str(clip)
    assert set(result["fusions"][0]) <= set(row)
    assert {"accuracy", "macro_f1", *RECALL_KEYS} <= set(row["metrics"])
    assert result["rows"][0]["metric"] == row["metric"]
    assert result["baseline"].startswith("late beats zero-shot CLIP (no training, ") or \
        result["baseline"].startswith("no fusion beats zero-shot CLIP")
    assert "[zero-shot]" in err
    code, out, err = _compare(preset, "--epochs", "1", "--fusions", "late", "--zero-shot",
                              "--out", tmp_path / "table")
    assert code == 0, err
    line = next(x for x in out.splitlines() if x.strip().startswith("zero-shot CLIP"))
    assert "no training" in line and "± 0.000" in line
    assert 'label prompts "a photo of {label}."' in out and "baseline: " in out


def test_cli_zero_shot_without_a_clip_model_says_why(pairs, tiny_vit, tmp_path):
    preset = C.save(_config(pairs, tiny_vit, "algorithm.name=classifier"), tmp_path / "p.toml")
    code, out, err = _compare(preset, "--epochs", "1", "--fusions", "late", "--zero-shot",
                              "--out", tmp_path / "runs", "--json")
    assert code == 0, err
    assert err.startswith("note: zero-shot CLIP is unavailable: ") and "vit model" in err
    row = json.loads(out)["zero_shot"]
    assert row["status"] == "unavailable" and row["mean"] is None
    assert "not a two-tower" in row["reason"]
    assert "not a two-tower" in json.loads(out)["baseline"]


def test_cli_refuses_a_bad_prompt_before_training(pairs, clip, tmp_path):
    preset = C.save(_config(pairs, clip), tmp_path / "p.toml")
    code, _, err = _compare(preset, "--zero-shot", "--prompt", "a photo")
    assert code == 1 and "has no {label}" in err
    code, _, err = _compare(preset, "--prompt", "a photo of {label}")
    assert code == 1 and "add --zero-shot" in err
    assert not (tmp_path / "runs").exists()
