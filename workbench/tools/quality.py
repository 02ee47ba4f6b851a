"""Quality side by side with scikit-learn on the built-in emoji data (label = group).

Trains the workbench's classifier presets (one per fusion) and its contrastive presets, then
runs scikit-learn on exactly the same train / validation / test split:

- LogisticRegression on TF-IDF of the captions, on the pixels, and on both concatenated
  (C chosen on the validation split, as the workbench's presets were);
- CCA between PCA-reduced TF-IDF and pixels for text -> image retrieval;
- the same logistic regression and CCA with all-MiniLM-L6-v2's sentence vectors in place of
  TF-IDF (``--text-model``; read through the workbench's feature cache): the features the
  ``*-minilm-*`` presets train on, so a pretrained preset is held to a baseline that has
  what it has.

Every number is on the test split, which neither side saw while training or choosing
settings, with chance beside it; retrieval counts ties as random tie-breaking would. With
187 test pairs one seed's split moves a score by several points, so each comparison is
repeated on the splits of several seeds (default 0, 1, 2: the split, the weights and the
shuffling all change) and the table gives the mean and each seed's value. A side "beats"
the other only when its mean leads by more than twice the standard error of the difference
over the seeds (``evaluation.compare``'s rule); otherwise the verdict says "within noise".
Needs scikit-learn (``pip install -e ".[quality]"``) and, for the sentence-vector rows, the
``pretrained`` extra (``--text-model none`` leaves them out).

    python -m workbench.tools.quality [--seeds 0,1,2] [--epochs-scale 1.0] [--presets A,B]
        [--text-model NAME|none] [--json] [--markdown FILE]
"""

from __future__ import annotations

import argparse
import json
import sys
import time

import numpy as np
import torch

from workbench.core.config import ExperimentConfig
from workbench.core.data import load_dataset
from workbench.core.evaluation import metrics as M
from workbench.core.evaluation.chance import split_chance
from workbench.core.pretrained.locate import MINILM
from workbench.core.presets import list_presets, load_preset
from workbench.core.training import Trainer


def train_and_test(name: str, epochs_scale: float, seed: int) -> tuple[dict, float]:
    """The preset trained on ``seed`` (its split too) and its test metrics, as the run
    reports them when it ends."""
    cfg = load_preset(name)
    cfg.seed = seed
    cfg.training.epochs = max(1, round(cfg.training.epochs * epochs_scale))
    ds = load_dataset(cfg)
    t0 = time.perf_counter()
    end = Trainer(cfg, ds).fit()
    if end.status != "finished":
        raise SystemExit(f"{name}: {end.status}: {end.reason}")
    seconds = time.perf_counter() - t0
    return end.test_metrics, seconds


def sklearn_baselines(seed_preset: "str | ExperimentConfig", seed: int | None = None, *,
                      text_model: str | None = MINILM) -> dict:
    """scikit-learn's rows on the split ``seed_preset`` (a preset name or a config) trains on,
    and that split's chance levels and indices (``"chance"``, ``"split"``). With a
    ``text_model``, the same rows again on that pretrained model's sentence vectors in place
    of TF-IDF: the features the pretrained presets train on (None: TF-IDF only)."""
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.preprocessing import StandardScaler
    from scipy.sparse import csr_matrix, hstack

    from workbench.core.data import pretrained_captions
    from workbench.core.data.text import tokenize

    cfg = load_preset(seed_preset) if isinstance(seed_preset, str) else seed_preset.copy()
    if seed is not None:
        cfg.seed = seed
    ds = load_dataset(cfg)  # the same split as the workbench runs (same seed, same data)
    table = ds.table
    tr, va, te = (ds.split.train, ds.split.val, ds.split.test)
    captions = np.array(table.captions, dtype=object)
    y = table.labels
    tfidf = TfidfVectorizer(tokenizer=tokenize, lowercase=False, token_pattern=None)
    t_tr = tfidf.fit_transform(captions[tr])
    text = (t_tr, tfidf.transform(captions[va]), tfidf.transform(captions[te]))
    pixels = table.images[table.image_index].reshape(len(table), -1).astype(np.float32) / 255
    scaler = StandardScaler().fit(pixels[tr])
    pix = tuple(scaler.transform(pixels[s]) for s in (tr, va, te))
    # Put the two blocks on a comparable scale: TF-IDF rows (and the sentence vectors) have
    # unit norm, standardised pixel rows ~ sqrt(D).
    w = 1.0 / np.sqrt(pixels.shape[1])
    both = tuple(hstack([t, csr_matrix(p * w)]).tocsr() for t, p in zip(text, pix))
    out = {"LogisticRegression, TF-IDF text": _logistic(text, y, tr, va, te),
           "LogisticRegression, pixels": _logistic(pix, y, tr, va, te),
           "LogisticRegression, text + pixels": _logistic(both, y, tr, va, te),
           "CCA (PCA 128 -> CCA), text -> image": _cca(text, pix, table.image_index,
                                                        va, te)}
    if text_model:
        # The pretrained presets' own features, from the workbench's cache (the same rows of
        # the same table, so the same split): the sentence vector of each caption.
        mcfg = cfg.copy()
        mcfg.model.text_encoder, mcfg.model.text_model = "pretrained", text_model
        vectors = pretrained_captions(mcfg, table).pooled.astype(np.float32)
        sent = tuple(vectors[s] for s in (tr, va, te))
        name = text_model.rstrip("/").rsplit("/", 1)[-1]
        out[f"LogisticRegression, {name} text"] = _logistic(sent, y, tr, va, te)
        out[f"LogisticRegression, {name} text + pixels"] = _logistic(
            tuple(np.hstack([s, p * w]) for s, p in zip(sent, pix)), y, tr, va, te)
        out[f"CCA (PCA 128 -> CCA), {name} text -> image"] = _cca(
            sent, pix, table.image_index, va, te)
    out["chance"] = split_chance(labels=torch.from_numpy(y[te]), num_classes=len(
        table.label_names), image_ids=torch.from_numpy(table.image_index[te]))
    out["split"] = {"train": tr, "val": va, "test": te}
    return out


def _logistic(blocks, y, tr, va, te) -> dict:
    """Logistic regression on (train, validation, test) feature blocks, C chosen on the
    validation split; its test accuracy and macro-F1."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import accuracy_score, f1_score
    a, b, c = blocks
    best = None
    for C_ in (0.1, 1.0, 10.0, 100.0):
        model = LogisticRegression(C=C_, max_iter=3000).fit(a, y[tr])
        score = accuracy_score(y[va], model.predict(b))
        if best is None or score > best[0]:
            best = (score, model, C_)
    pred = best[1].predict(c)
    return {"accuracy": accuracy_score(y[te], pred),
            "macro_f1": f1_score(y[te], pred, average="macro"), "C": best[2]}


def _cca(text, pix, image_index, va, te) -> dict:
    """CCA after PCA (128 components a side) for text -> image retrieval, the number of
    components chosen on the validation split's mean recall; its test retrieval metrics."""
    from scipy.sparse import issparse
    from sklearn.cross_decomposition import CCA
    from sklearn.decomposition import PCA

    def dense(x):
        return x.toarray() if issparse(x) else x

    t_tr, p_tr = dense(text[0]), pix[0]
    # No more components than the training rows (less one: centred) and features allow.
    pt = PCA(n_components=min(128, t_tr.shape[1] - 1, len(t_tr) - 1), random_state=0).fit(t_tr)
    pp = PCA(n_components=min(128, p_tr.shape[1], len(p_tr) - 1), random_state=0).fit(p_tr)
    best = None
    for dims in (16, 32, 64):
        dims = min(dims, pt.n_components_, pp.n_components_)
        cca = CCA(n_components=dims, max_iter=2000).fit(pt.transform(t_tr), pp.transform(p_tr))

        def scores(block, rows):  # block 1: validation, 2: test
            a, b = cca.transform(pt.transform(dense(text[block])), pp.transform(pix[block]))
            return M.retrieval_metrics(torch.from_numpy(a).float(), torch.from_numpy(b).float(),
                                       torch.from_numpy(image_index[rows]))

        val = scores(1, va)
        if best is None or val["mean_recall"] > best[0]:
            best = (val["mean_recall"], scores(2, te), dims)
    return {**best[1], "components": best[2]}


def mean(values) -> float:
    values = list(values)
    return sum(values) / len(values)


def cell(values: list[float]) -> str:
    return f"**{mean(values):.3f}** ({' / '.join(f'{v:.3f}' for v in values)})"


def versus(ours: list[float], theirs: list[float]) -> str:
    """"beats", "loses" or "within noise": the difference of the means against twice the
    standard error of that difference over the seeds (the Compare tab's rule)."""
    import statistics
    gap = mean(ours) - mean(theirs)
    if len(ours) < 2 or len(theirs) < 2:
        return "beats" if gap > 0 else "loses"  # one seed: noise not measured
    noise = 2 * (statistics.variance(ours) / len(ours)
                 + statistics.variance(theirs) / len(theirs)) ** 0.5
    return "within noise" if abs(gap) <= noise else ("beats" if gap > 0 else "loses")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", default="0,1,2", help="comma-separated seeds (default 0,1,2)")
    parser.add_argument("--epochs-scale", type=float, default=1.0,
                        help="scale every preset's epochs (e.g. 0.2 for a quick look)")
    parser.add_argument("--presets", help="comma-separated classifier and contrastive presets "
                        "to train (default: every built-in one)")
    parser.add_argument("--text-model", default=MINILM,
                        help=f"pretrained text model of the sentence-vector rows (default "
                        f"{MINILM}; none: leave them out)")
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--markdown", metavar="FILE", help="also write the table here")
    args = parser.parse_args()
    seeds = [int(s) for s in args.seeds.split(",")]
    names = (args.presets.split(",") if args.presets else
             [p.name for p in list_presets() if p.builtin
              and p.name.startswith(("classifier-", "contrastive-"))])
    kinds = {name: load_preset(name).algorithm.name for name in names}
    if any(k not in ("classifier", "contrastive") for k in kinds.values()):
        parser.error("--presets: only classifier and contrastive presets are compared here")
    classifiers = [n for n in names if kinds[n] == "classifier"]
    contrastive = [n for n in names if kinds[n] == "contrastive"]
    ours: dict[str, list[dict]] = {}
    for name in names:
        for seed in seeds:
            print(f"training {name}, seed {seed} ...", file=sys.stderr)
            test, seconds = train_and_test(name, args.epochs_scale, seed)
            ours.setdefault(name, []).append({**test, "seconds": seconds})
    theirs: dict[str, list[dict]] = {}
    text_model = None if args.text_model.lower() == "none" else args.text_model
    for seed in seeds:
        print(f"running scikit-learn, seed {seed} ...", file=sys.stderr)
        for k, v in sklearn_baselines("contrastive-emoji", seed, text_model=text_model).items():
            theirs.setdefault(k, []).append(v)
    chance = theirs.pop("chance")
    theirs.pop("split")

    def of(rows, key):
        return [r[key] for r in rows]

    # The classifier's primary metric is macro-F1, the contrastive model's mean recall.
    logistic = {k: v for k, v in theirs.items() if k.startswith("Logistic")}
    cca = {k: v for k, v in theirs.items() if k.startswith("CCA")}
    verdict: dict = {"seeds": seeds}
    if classifiers:
        best = max(classifiers, key=lambda n: mean(of(ours[n], "macro_f1")))
        verdict["best_classifier"] = best
        verdict["best_classifier_vs_logistic"] = {
            k: versus(of(ours[best], "macro_f1"), of(v, "macro_f1")) for k, v in logistic.items()}
    verdict["contrastive_vs_cca"] = {
        name: {k: {key: versus(of(ours[name], key), of(v, key))
                   for key in ("mean_recall", "t2i_r10")} for k, v in cca.items()}
        for name in contrastive}
    lines = [f"Test split, mean over seeds {', '.join(map(str, seeds))} (each seed's value in "
             "brackets).", "",
             "| method | macro-F1 | accuracy | mean recall | text -> image R@10 |",
             "| --- | --- | --- | --- | --- |"]
    for name in classifiers:
        rows = ours[name]
        lines.append(f"| workbench `{name}` | {cell(of(rows, 'macro_f1'))} | "
                     f"{cell(of(rows, 'accuracy'))} | | |")
    for name in contrastive:
        rows = ours[name]
        lines.append(f"| workbench `{name}` | | | {cell(of(rows, 'mean_recall'))} | "
                     f"{cell(of(rows, 't2i_r10'))} |")
    for name, rows in logistic.items():
        lines.append(f"| scikit-learn {name} | {cell(of(rows, 'macro_f1'))} | "
                     f"{cell(of(rows, 'accuracy'))} | | |")
    for name, rows in cca.items():
        lines.append(f"| scikit-learn {name} | | | {cell(of(rows, 'mean_recall'))} | "
                     f"{cell(of(rows, 't2i_r10'))} |")
    lines.append(f"| chance | {cell(of(chance, 'macro_f1'))} | {cell(of(chance, 'accuracy'))}"
                 f" | {cell(of(chance, 'mean_recall'))} | {cell(of(chance, 't2i_r10'))} |")
    table = "\n".join(lines)
    if args.markdown:
        with open(args.markdown, "w", encoding="utf-8") as fh:
            fh.write(table + "\n")
    if args.json:
        print(json.dumps({"workbench": ours, "sklearn": theirs, "chance": chance, **verdict},
                         default=float))
    else:
        print(table)
        print(json.dumps(verdict))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
