"""The line of figures under the Attention tab's co-attention heatmap: how far the chosen
probe's words -> patches map is from uniform, the null key's share, the patches -> words
entropy, and over all probes word specificity and foreground gain; on a composite probe, the
pointing game instead. Plain text from snapshots, so it is tested without drawing."""

from __future__ import annotations

from ...core.evaluation.attention_stats import (describe_entropy, normalised_entropy,
                                                snapshot_stats, token_mask)
from ...core.evaluation.pointing import SIDES, snapshot_pointing
from ...core.training.events import AttentionSnapshot


#: The figures over all probes, in order, each where the snapshot has it: (its key in
#: ``snapshot_stats``, how the line says it).
OVER_PROBES = (
    ("t2i_specificity", "word specificity {:.4f} nats (0 = every word looks at the same "
                        "patches)"),
    ("t2i_foreground_gain", "foreground gain {:+.2f} (1 = all on the drawing, 0 = as on the "
                            "background, below 0 = prefers it)"),
    ("t2i_null_share", "{:.0%} of the words' attention went to the null key, not to the "
                       "image (the figures are of the rest)"))


def figures_text(shown: AttentionSnapshot, probes: AttentionSnapshot, j: int, token: int, *,
                 composite: bool = False, head: tuple[int, int] | None = None) -> str:
    """The figures of probe ``j`` of ``shown`` (the real probes' snapshot or the
    composites'), word ``token`` chosen (-1: none), ``probes`` the real probes' snapshot
    (the figures over the probes are theirs). Both as the drawn head sees them; ``head`` =
    (its number from 0, how many) when one head is drawn instead of their mean."""
    maps = shown.maps
    t2i = maps["text_to_image"]
    lengths = [len(p.tokens) if p.tokens else t2i.shape[1] for p in shown.probes]
    words = token_mask(lengths, t2i.shape[1])
    this = normalised_entropy(t2i[j], row_mask=words[j])
    text = (f"Words → patches, {describe_entropy(this)} (1 = uniform over the "
            f"{t2i.shape[2]} patches, 0 = one patch)")
    if head is not None:
        text = f"Head {head[0] + 1} of {head[1]}: " + text
    if composite:
        return text + ". " + pointing_text(shown, j)
    n = len(shown.probes)
    if n > 1:
        text += f"; {normalised_entropy(t2i, row_mask=words):.3f} over {n} probes"
    null = maps.get("text_to_null")
    if null is not None:
        share = null[j][words[j]]
        if 0 <= token < len(share):
            who, value = f"'{shown.probes[j].tokens[token]}'", share[token]
        else:
            who, value = "this caption's words", share.mean()
        text += f". Null key: {who} put {value:.0%} of the attention there, not on the image"
    i2t = maps.get("image_to_text")
    if i2t is not None:
        back = normalised_entropy(i2t[j], key_mask=words[j])
        text += f". Patches → words: {back:.3f}"
    # over every probe: do the words look at different patches, and at the drawing?
    stats = snapshot_stats(probes)
    extra = [text.format(stats[key]) for key, text in OVER_PROBES if key in stats]
    if extra:
        text += ". Over the probes: " + "; ".join(extra)
    return text + "."


def pointing_text(composites: AttentionSnapshot, j: int) -> str:
    """The pointing game on composite ``j`` and on all of them."""
    game = snapshot_pointing(composites)
    if game is None:
        return ""
    side = composites.probes[j].captioned
    i = SIDES.index(side)
    mine, other = game["masses"][j, i], game["masses"][j, 1 - i]
    verdict = "a hit" if mine > other else "a miss"
    text = (f"Composite: the caption describes the {side} emoji (outlined); its words put "
            f"{mine:.1%} of their attention on that half and {other:.1%} on the other: "
            f"{verdict}")
    if game["n"] > 1:
        text += (f". Pointing game over the {game['n']} composites: {game['hits']} "
                 f"hit{'s' if game['hits'] != 1 else ''} (chance half)")
    return text + "."
