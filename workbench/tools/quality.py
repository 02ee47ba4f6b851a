"""Quality side by side with scikit-learn on the built-in emoji data (label = group).

Trains the workbench's classifier presets (one per fusion) and its contrastive preset, then
runs scikit-learn on exactly the same train / validation / test split:

- LogisticRegression on TF-IDF of the captions, on the pixels, and on both concatenated
  (C chosen on the validation split, as the workbench's presets were);
- CCA between PCA-reduced TF-IDF and pixels for text -> image retrieval.

Every number is on the test split, which neither side saw while training or choosing
settings, with chance beside it; retrieval counts ties as random tie-breaking would. With
187 test pairs one seed's split moves a score by several points, so each comparison is
repeated on the splits of several seeds (default 0, 1, 2: the split, the weights and the
shuffling all change) and the table gives the mean and each seed's value. A side "beats"
the other only when its mean leads by more than twice the standard error of the difference
over the seeds (``evaluation.compare``'s rule); otherwise the verdict says "within noise".
Needs scikit-learn (``pip install -e ".[quality]"``).

    python -m workbench.tools.quality [--seeds 0,1,2] [--epochs-scale 1.0] [--json] [--markdown FILE]
"""

from __future__ import annotations

import argparse
import json
import sys
import time

import numpy as np
import torch

from workbench.core.data import load_dataset
from workbench.core.evaluation import metrics as M
from workbench.core.evaluation.chance import split_chance
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


def sklearn_baselines(seed_preset: str, seed: int | None = None) -> dict:
    from sklearn.cross_decomposition import CCA
    from sklearn.decomposition import PCA
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import accuracy_score, f1_score
    from sklearn.preprocessing import StandardScaler
    from scipy.sparse import csr_matrix, hstack

    from workbench.core.data.text import tokenize

    cfg = load_preset(seed_preset)
    if seed is not None:
        cfg.seed = seed
    ds = load_dataset(cfg)  # the same split as the workbench runs (same seed, same data)
    table = ds.table
    tr, va, te = (ds.split.train, ds.split.val, ds.split.test)
    captions = np.array(table.captions, dtype=object)
    y = table.labels
    tfidf = TfidfVectorizer(tokenizer=tokenize, lowercase=False, token_pattern=None)
    t_tr = tfidf.fit_transform(captions[tr])
    t_va, t_te = tfidf.transform(captions[va]), tfidf.transform(captions[te])
    pixels = table.images[table.image_index].reshape(len(table), -1).astype(np.float32) / 255
    scaler = StandardScaler().fit(pixels[tr])
    p_tr, p_va, p_te = (scaler.transform(pixels[s]) for s in (tr, va, te))
    # Put the two blocks on a comparable scale: TF-IDF rows have unit norm, pixel rows ~ sqrt(D).
    w = 1.0 / np.sqrt(pixels.shape[1])
    both = [hstack([t, csr_matrix(p * w)]).tocsr() for t, p in ((t_tr, p_tr), (t_va, p_va),
                                                               (t_te, p_te))]
    out = {}
    for name, (a, b, c) in {"LogisticRegression, TF-IDF text": (t_tr, t_va, t_te),
                            "LogisticRegression, pixels": (p_tr, p_va, p_te),
                            "LogisticRegression, text + pixels": tuple(both)}.items():
        best = None
        for C_ in (0.1, 1.0, 10.0, 100.0):
            model = LogisticRegression(C=C_, max_iter=3000).fit(a, y[tr])
            score = accuracy_score(y[va], model.predict(b))
            if best is None or score > best[0]:
                best = (score, model, C_)
        pred = best[1].predict(c)
        out[name] = {"accuracy": accuracy_score(y[te], pred),
                     "macro_f1": f1_score(y[te], pred, average="macro"), "C": best[2]}
    # CCA after PCA for text -> image retrieval
    best = None
    for dims in (16, 32, 64):
        pt = PCA(n_components=min(128, t_tr.shape[1] - 1), random_state=0).fit(t_tr.toarray())
        pp = PCA(n_components=128, random_state=0).fit(p_tr)
        cca = CCA(n_components=dims, max_iter=2000).fit(pt.transform(t_tr.toarray()),
                                                         pp.transform(p_tr))

        def r10(t, p, ids):
            a, b = cca.transform(pt.transform(t.toarray()), pp.transform(p))
            return M.retrieval_metrics(torch.from_numpy(a).float(), torch.from_numpy(b).float(),
                                       torch.from_numpy(ids))

        ids = table.image_index
        val = r10(t_va, p_va, ids[va])
        if best is None or val["mean_recall"] > best[0]:
            best = (val["mean_recall"], r10(t_te, p_te, ids[te]), dims)
    out["CCA (PCA 128 -> CCA), text -> image"] = {**best[1], "components": best[2]}
    out["chance"] = split_chance(labels=torch.from_numpy(y[te]), num_classes=len(
        table.label_names), image_ids=torch.from_numpy(table.image_index[te]))
    return out


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
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--markdown", metavar="FILE", help="also write the table here")
    args = parser.parse_args()
    seeds = [int(s) for s in args.seeds.split(",")]
    classifiers = [p.name for p in list_presets()
                   if p.builtin and p.name.startswith("classifier-")]
    ours: dict[str, list[dict]] = {}
    for name in classifiers + ["contrastive-emoji"]:
        for seed in seeds:
            print(f"training {name}, seed {seed} ...", file=sys.stderr)
            test, seconds = train_and_test(name, args.epochs_scale, seed)
            ours.setdefault(name, []).append({**test, "seconds": seconds})
    theirs: dict[str, list[dict]] = {}
    for seed in seeds:
        print(f"running scikit-learn, seed {seed} ...", file=sys.stderr)
        for k, v in sklearn_baselines("contrastive-emoji", seed).items():
            theirs.setdefault(k, []).append(v)
    chance = theirs.pop("chance")

    def of(rows, key):
        return [r[key] for r in rows]

    # The classifier's primary metric is macro-F1, the contrastive model's mean recall.
    best = max(classifiers, key=lambda n: mean(of(ours[n], "macro_f1")))
    logistic = {k: v for k, v in theirs.items() if k.startswith("Logistic")}
    cca_key = next(k for k in theirs if k.startswith("CCA"))
    verdict = {
        "seeds": seeds, "best_classifier": best,
        "best_classifier_vs_logistic": {
            k: versus(of(ours[best], "macro_f1"), of(v, "macro_f1")) for k, v in logistic.items()},
        "contrastive_vs_cca": {
            key: versus(of(ours["contrastive-emoji"], key), of(theirs[cca_key], key))
            for key in ("mean_recall", "t2i_r10")},
    }
    lines = [f"Test split, mean over seeds {', '.join(map(str, seeds))} (each seed's value in "
             "brackets).", "",
             "| method | macro-F1 | accuracy | mean recall | text -> image R@10 |",
             "| --- | --- | --- | --- | --- |"]
    for name in classifiers:
        rows = ours[name]
        lines.append(f"| workbench `{name}` | {cell(of(rows, 'macro_f1'))} | "
                     f"{cell(of(rows, 'accuracy'))} | | |")
    rows = ours["contrastive-emoji"]
    lines.append(f"| workbench `contrastive-emoji` | | | {cell(of(rows, 'mean_recall'))} | "
                 f"{cell(of(rows, 't2i_r10'))} |")
    for name, rows in logistic.items():
        lines.append(f"| scikit-learn {name} | {cell(of(rows, 'macro_f1'))} | "
                     f"{cell(of(rows, 'accuracy'))} | | |")
    rows = theirs[cca_key]
    lines.append(f"| scikit-learn {cca_key} | | | {cell(of(rows, 'mean_recall'))} | "
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
