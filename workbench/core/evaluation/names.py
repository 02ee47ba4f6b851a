"""Names and titles of the metrics (torch-free: the registry, Compare and the GUI read them).

Every metric a run reports is named here once, with the title tables and axes show.
"""

from __future__ import annotations

MACRO_F1 = "macro_f1"
#: the mean of R@1, R@5 and R@10, text -> image and image -> text
MEAN_RECALL = "mean_recall"
RECALL_AT = (1, 5, 10)
DIRECTIONS = ("t2i", "i2t")
RECALL_KEYS = tuple(f"{d}_r{k}" for d in DIRECTIONS for k in RECALL_AT)
MEDIAN_KEYS = tuple(f"{d}_median_rank" for d in DIRECTIONS)
#: run folders written before per-direction medians hold one median over both directions'
#: ranks as ``median_rank``; read back, it is renamed so it is never taken for either one
OLD_MEDIAN = "median_rank"
POOLED_MEDIAN = "pooled_median_rank"
#: prefix of retrieval metrics after a cross-encoder re-ranked the top candidates
RERANKED = "reranked_"

TITLE_OF_MEDIAN = {"t2i_median_rank": "median rank text→image",
                   "i2t_median_rank": "median rank image→text"}
TITLES = {"accuracy": "accuracy", MACRO_F1: "macro-F1",
          MEAN_RECALL: "mean recall (R@1, 5, 10 both ways)",
          "t2i_median_rank": "median rank text→image", "i2t_median_rank": "median rank image→text",
          **{f"{d}_r{k}": f"R@{k} {'text→image' if d == 't2i' else 'image→text'}"
             for d in DIRECTIONS for k in RECALL_AT},
          POOLED_MEDIAN: "median rank, both ways pooled (older run)",
          # The matching algorithm's cross-encoder re-ranks the dual encoder's top k
          **{f"{RERANKED}{d}_r{k}": f"R@{k} {'text→image' if d == 't2i' else 'image→text'}, "
             "re-ranked" for d in DIRECTIONS for k in RECALL_AT},
          f"{RERANKED}{MEAN_RECALL}": "mean recall, re-ranked by the cross-encoder",
          **{f"{RERANKED}{k}": f"{TITLE_OF_MEDIAN[k]}, re-ranked" for k in MEDIAN_KEYS},
          "itm_accuracy": "image-text matching accuracy (chance: the share of negatives)",
          "mlm_accuracy": "masked-word accuracy",
          "align_accuracy": "word-patch alignment: caption's best image in its batch fits",
          "loss": "val loss"}
#: lower is better besides loss terms
LOWER_IS_BETTER = frozenset({*MEDIAN_KEYS, POOLED_MEDIAN,
                             *(f"{RERANKED}{k}" for k in MEDIAN_KEYS)})


# Where a column has little room (the Runs table): the same metric in fewer words.
SHORT_TITLES = {MEAN_RECALL: "mean recall"}


def title(metric: str) -> str:
    return TITLES.get(metric, metric)


def short_title(metric: str) -> str:
    return SHORT_TITLES.get(metric) or title(metric)


def upgrade_metrics(metrics: dict) -> dict:
    """A metrics dict as read from an older run folder, with today's names."""
    if OLD_MEDIAN not in metrics:
        return metrics
    out = dict(metrics)
    out[POOLED_MEDIAN] = out.pop(OLD_MEDIAN)
    return out
