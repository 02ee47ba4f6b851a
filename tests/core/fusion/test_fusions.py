"""Every registered fusion strategy on small synthetic features (CPU, fast)."""

from __future__ import annotations

import dataclasses

import pytest
import torch

from workbench.core.fusion import FUSIONS
from workbench.core.fusion.base import Fusion, build_fusion
from workbench.core.fusion.params import CoAttentionParams, LateParams
from workbench.core.models.features import ModalityDims, ModalityFeatures

B, L, P, H, E, OUT = 4, 5, 4, 16, 8, 6
TEXT = ModalityDims("text", H, E, 30)
IMAGE = ModalityDims("image", H, E, 12)
DIMS = [TEXT, IMAGE]
NAMES = FUSIONS.names()

# What each strategy reads of a modality; the rest must not matter to it.
USES = {"early": "raw", "coattention": "tokens"}

# Parameter variants beyond the defaults, so each is at least run once.
VARIANTS = [(name, FUSIONS[name].params()) for name in NAMES]
VARIANTS += [("late", LateParams(combine=c)) for c in ("mean", "learned", "vote")]
VARIANTS += [("coattention", CoAttentionParams(heads=h, layers=n))
             for h in (1, 2) for n in (1, 2)]
VARIANTS += [("coattention", CoAttentionParams(heads=2, layers=n, null_key=True))
             for n in (1, 2)]



def _ids(variant) -> str:
    name, params = variant
    fields = ",".join(f"{k}={v}" for k, v in dataclasses.asdict(params).items())
    return f"{name}[{fields}]" if fields else name


def make_mods(batch: int = B, *, seed: int = 0, requires_grad: bool = False,
              dims=DIMS) -> list[ModalityFeatures]:
    """Text has padded tokens (sample b keeps L - b % L of them, at least one); image patches
    are all real."""
    g = torch.Generator().manual_seed(seed)
    mods = []
    for d in dims:
        n = L if d.name == "text" else P
        vector = torch.randn(batch, d.vector, generator=g)
        tokens = torch.randn(batch, n, d.token, generator=g)
        raw = torch.rand(batch, d.raw, generator=g)
        mask = torch.ones(batch, n, dtype=torch.bool)
        if d.name == "text":
            for b in range(batch):
                mask[b, max(1, L - b % L):] = False
        for t in (vector, tokens, raw):
            t.requires_grad_(requires_grad)
        mods.append(ModalityFeatures(d.name, vector, tokens, mask, raw))
    return mods


def build(name: str, params=None, dims=DIMS, out_dim: int = OUT) -> Fusion:
    torch.manual_seed(0)
    return build_fusion(name, params if params is not None else FUSIONS[name].params(),
                        dims, out_dim)


def test_every_impl_loads_to_a_fusion_subclass():
    for spec in FUSIONS.specs():
        cls = spec.load()
        assert isinstance(cls, type) and issubclass(cls, Fusion), spec.name


@pytest.mark.parametrize("variant", VARIANTS, ids=_ids)
def test_shape_finite_and_batch_of_one(variant):
    name, params = variant
    fusion = build(name, params)
    out = fusion(make_mods())
    assert out.z.shape == (B, OUT)
    assert torch.isfinite(out.z).all()
    for key, w in out.attention.items():
        assert torch.isfinite(w).all(), key
    one = fusion(make_mods(1))
    assert one.z.shape == (1, OUT) and torch.isfinite(one.z).all()


@pytest.mark.parametrize("variant", VARIANTS, ids=_ids)
def test_gradients_reach_inputs_and_every_parameter(variant):
    name, params = variant
    fusion = build(name, params)
    mods = make_mods(requires_grad=True)
    z = fusion(mods).z
    # A random weighting, so no sum happens to be invariant (e.g. a softmax's total).
    (z * torch.randn(z.shape, generator=torch.Generator().manual_seed(1))).sum().backward()
    used = USES.get(name, "vector")
    for m in mods:
        grad = getattr(m, used).grad
        assert grad is not None and grad.abs().sum() > 0, f"{m.name}.{used}"
    for pname, p in fusion.named_parameters():
        assert p.grad is not None and p.grad.abs().sum() > 0, pname
        assert torch.isfinite(p.grad).all(), pname


@pytest.mark.parametrize("variant", VARIANTS, ids=_ids)
def test_deterministic_in_eval_mode(variant):
    name, params = variant
    fusion = build(name, params).eval()
    mods = make_mods()
    with torch.no_grad():
        a, b = fusion(mods), fusion(mods)
    assert torch.equal(a.z, b.z)
    for key in a.attention:
        assert torch.equal(a.attention[key], b.attention[key]), key


def _with_absent(mods, which: int, absent_sample: int, *, scramble: bool):
    """``mods`` with modality ``which`` absent for one sample; scrambled values if asked."""
    out = []
    for i, m in enumerate(mods):
        present = torch.ones(m.batch_size, dtype=torch.bool)
        if i == which:
            present[absent_sample] = False
        if i == which and scramble:
            def noisy(t):
                t = t.clone()
                t[absent_sample] = torch.randn_like(t[absent_sample]) * 5 + 3
                return t
            m = ModalityFeatures(m.name, noisy(m.vector), noisy(m.tokens), m.mask,
                                 noisy(m.raw))
        out.append(m.with_presence(present))
    return out


@pytest.mark.parametrize("which", [0, 1], ids=["text_absent", "image_absent"])
@pytest.mark.parametrize("variant", VARIANTS, ids=_ids)
def test_absent_modality_is_ignored(variant, which):
    """Finite output, gradients without NaN, and the absent modality's values do not matter
    for that sample (the brief asks it of mean/attention/late/gated; every strategy here
    manages it, so every one is held to it)."""
    name, params = variant
    fusion = build(name, params)
    mods = make_mods(requires_grad=True)
    absent = 2
    base = fusion(_with_absent(mods, which, absent, scramble=False))
    assert torch.isfinite(base.z).all()
    base.z.sum().backward()
    for p in fusion.parameters():
        assert p.grad is None or torch.isfinite(p.grad).all()
    with torch.no_grad():
        other = fusion(_with_absent(mods, which, absent, scramble=True))
    assert torch.allclose(base.z[absent], other.z[absent], atol=1e-6)
    # The other samples saw no change at all.
    keep = [b for b in range(B) if b != absent]
    assert torch.allclose(base.z[keep], other.z[keep], atol=1e-6)


@pytest.mark.parametrize("name", NAMES)
def test_no_modality_present_is_finite(name):
    fusion = build(name)
    mods = [m.with_presence(torch.tensor([True, False, True, True])) for m in make_mods()]
    mods[0] = mods[0].with_presence(torch.tensor([True, False, False, True]))
    z = fusion(mods).z
    assert torch.isfinite(z).all()


@pytest.mark.parametrize("name", ["early", "late", "mean", "attention", "tensor", "gated"])
def test_three_modalities(name):
    dims = DIMS + [ModalityDims("audio", 10, E, 7)]
    fusion = build(name, dims=dims)
    mods = _with_absent(make_mods(dims=dims), 2, 1, scramble=False)
    out = fusion(mods)
    assert out.z.shape == (B, OUT) and torch.isfinite(out.z).all()
    other = fusion(_with_absent(make_mods(dims=dims), 2, 1, scramble=True))
    assert torch.allclose(out.z, other.z, atol=1e-6)
    if "modality_weights" in out.attention:
        w = out.attention["modality_weights"]
        assert w.shape == (B, 3)
        assert torch.allclose(w.sum(1), torch.ones(B), atol=1e-5)
        assert w[1, 2] == 0


def test_coattention_refuses_anything_but_text_then_image():
    params = CoAttentionParams(heads=2)
    with pytest.raises(ValueError, match="text then image"):
        build("coattention", params, dims=[IMAGE, TEXT])
    with pytest.raises(ValueError, match="text then image"):
        build("coattention", params, dims=DIMS + [ModalityDims("audio", H, E, 7)])
    with pytest.raises(ValueError, match="must divide"):
        build("coattention", CoAttentionParams(heads=3))


# --- strategy-specific checks ---------------------------------------------------------------

def test_attention_weights_are_a_distribution_over_modalities():
    mods = make_mods()
    mods[1] = mods[1].with_presence(torch.tensor([True, False, True, True]))
    w = build("attention")(mods).attention["modality_weights"]
    assert w.shape == (B, 2)
    assert torch.allclose(w.sum(1), torch.ones(B), atol=1e-6)
    assert w[1].tolist() == [1.0, 0.0]


def test_attention_temperature_sharpens():
    mods = make_mods()
    spec = FUSIONS["attention"]
    soft = build("attention", spec.params(temperature=10.0))(mods).attention["modality_weights"]
    sharp = build("attention", spec.params(temperature=0.05))(mods).attention["modality_weights"]
    assert (sharp.max(1).values >= soft.max(1).values).all()


def test_coattention_maps():
    fusion = build("coattention", CoAttentionParams(heads=2, layers=2))
    mods = make_mods()
    att = fusion(mods).attention
    t2i, i2t = att["text_to_image"], att["image_to_text"]
    assert t2i.shape == (B, L, P) and i2t.shape == (B, P, L)
    assert torch.allclose(t2i.sum(-1), torch.ones(B, L), atol=1e-5)
    assert torch.allclose(i2t.sum(-1), torch.ones(B, P), atol=1e-5)
    padded = ~mods[0].mask  # (B, L)
    assert padded.any()
    assert i2t.transpose(1, 2)[padded].abs().max() < 1e-6


def test_coattention_null_key_takes_the_rest_of_each_row():
    """With a null key each map row and its null share sum to one; the null key is a learned
    key like any other: a query that matches it better than every token sends it most of
    its weight, and the tokens' share shrinks."""
    torch.manual_seed(0)
    fusion = build("coattention", CoAttentionParams(heads=2, null_key=True))
    mods = make_mods()
    att = fusion(mods).attention
    t2i, t_null = att["text_to_image"], att["text_to_null"]
    assert t2i.shape == (B, L, P) and t_null.shape == (B, L)
    torch.testing.assert_close(t2i.sum(-1) + t_null, torch.ones(B, L))
    i2t, i_null = att["image_to_text"], att["image_to_null"]
    torch.testing.assert_close(i2t.sum(-1) + i_null, torch.ones(B, P))
    assert (t_null > 0).all() and (t_null < 1).all()
    with torch.no_grad():  # make the null key answer every query far better than a patch
        attn = fusion.blocks[0].text_from_image.attn
        attn.in_proj_weight[:E].zero_()  # every word's query is the bias: all ones
        attn.in_proj_bias[:E].fill_(1.0)
        attn.bias_k.fill_(100.0)
    att = fusion(mods).attention
    assert att["text_to_null"].min() > 0.99 and att["text_to_image"].sum(-1).max() < 0.01
    # Without a null key there is no null share to report.
    assert "text_to_null" not in build("coattention")(mods).attention


@pytest.mark.parametrize("null_key", [False, True])
def test_coattention_reports_each_heads_map_whose_mean_is_the_drawn_one(null_key):
    """Several heads: each head's words -> patches map (and null share) is reported beside
    their mean; each is a distribution of its own, and the heads differ. One head: its map
    is the drawn one and nothing else is reported."""
    torch.manual_seed(0)
    fusion = build("coattention", CoAttentionParams(heads=4, null_key=null_key))
    att = fusion(make_mods()).attention
    heads = att["text_to_image_heads"]
    assert heads.shape == (B, 4, L, P)
    torch.testing.assert_close(heads.mean(1), att["text_to_image"])
    rows = heads.sum(-1)
    if null_key:
        torch.testing.assert_close(att["text_to_null_heads"].mean(1), att["text_to_null"])
        rows = rows + att["text_to_null_heads"]
    else:
        assert "text_to_null_heads" not in att
    torch.testing.assert_close(rows, torch.ones(B, 4, L))
    assert (heads[:, 0] - heads[:, 1]).abs().max() > 1e-3
    one = build("coattention", CoAttentionParams(heads=1, null_key=null_key))(make_mods())
    assert not any(k.endswith("_heads") for k in one.attention)


def test_coattention_projects_image_tokens_of_another_size():
    dims = [TEXT, ModalityDims("image", H, 12, 12)]
    fusion = build("coattention", CoAttentionParams(heads=2), dims=dims)
    out = fusion(make_mods(dims=dims))
    assert out.z.shape == (B, OUT)
    assert out.attention["text_to_image"].shape == (B, L, P)


def test_coattention_absent_image_gives_zero_maps_without_nan():
    mods = make_mods()
    mods[1] = mods[1].with_presence(torch.tensor([True, True, False, True]))
    att = build("coattention")(mods).attention
    assert att["text_to_image"][2].abs().sum() == 0
    assert torch.isfinite(att["image_to_text"]).all()


def test_mean_with_equal_dims_is_the_plain_mean():
    fusion = build("mean", out_dim=H)
    assert not list(fusion.parameters())
    text, image = make_mods()
    out = fusion([text, image])
    assert torch.equal(out.z, (text.vector + image.vector) / 2)
    assert out.attention == {}  # fixed weights are not reported
    # With the image absent for a sample, that sample is its text vector alone.
    image = image.with_presence(torch.tensor([True, False, True, True]))
    assert torch.equal(fusion([text, image]).z[1], text.vector[1])


def test_mean_projects_when_sizes_differ():
    assert build("mean", out_dim=OUT)(make_mods()).z.shape == (B, OUT)
    dims = [TEXT, ModalityDims("image", 10, E, 12)]
    assert build("mean", dims=dims)(make_mods(dims=dims)).z.shape == (B, OUT)


def test_tensor_outer_product_size():
    rank = FUSIONS["tensor"].params().rank_dim
    fusion = build("tensor")
    assert fusion.product_dim == (rank + 1) ** 2
    prod = fusion.product(make_mods())
    assert prod.shape == (B, (rank + 1) ** 2)
    # The constant 1s make the last feature 1 * 1, and keep each modality's own terms.
    assert torch.equal(prod[:, -1], torch.ones(B))


def test_late_vote_returns_log_probabilities():
    fusion = build("late", LateParams(combine="vote"))
    mods = make_mods()
    mods[0] = mods[0].with_presence(torch.tensor([True, False, True, False]))
    mods[1] = mods[1].with_presence(torch.tensor([True, True, True, False]))
    z = fusion(mods).z
    assert torch.allclose(torch.logsumexp(z, -1), torch.zeros(B), atol=1e-5)
    # Sample 1 has only the image: the vote is its head's softmax.
    image_head = fusion.heads[1](mods[1].vector[1])
    assert torch.allclose(z[1], image_head.log_softmax(-1), atol=1e-5)


def test_late_mean_is_the_mean_of_the_heads():
    fusion = build("late", LateParams(combine="mean"))
    assert fusion.decision_level
    mods = make_mods()
    heads = [h(m.vector) for h, m in zip(fusion.heads, mods)]
    assert torch.allclose(fusion(mods).z, (heads[0] + heads[1]) / 2, atol=1e-6)


def test_late_learned_weights_renormalise_over_present():
    fusion = build("late", LateParams(combine="learned"))
    with torch.no_grad():
        fusion.modality_scores.copy_(torch.tensor([1.0, 0.0]))
    mods = make_mods()
    mods[1] = mods[1].with_presence(torch.tensor([True, False, True, True]))
    w = fusion(mods).attention["modality_weights"]
    assert w.shape == (B, 2)
    assert torch.allclose(w[0], torch.softmax(torch.tensor([1.0, 0.0]), 0))
    assert w[1].tolist() == [1.0, 0.0]


def test_gated_gate_and_weights():
    fusion = build("gated")
    mods = make_mods()
    mods[0] = mods[0].with_presence(torch.tensor([True, False, True, True]))
    mods[1] = mods[1].with_presence(torch.tensor([True, True, False, True]))
    att = fusion(mods).attention
    g, w = att["gate"], att["modality_weights"]
    assert g.shape == (B, OUT) and w.shape == (B, 2)
    assert ((g >= 0) & (g <= 1)).all()
    assert (g[1] == 0).all() and (g[2] == 1).all()
    assert torch.allclose(w.sum(1), torch.ones(B))
    assert torch.allclose(w[:, 0], g.mean(-1))


def test_early_uses_raw_inputs_only():
    fusion = build("early", FUSIONS["early"].params(layers=3))
    linears = [m for m in fusion.modules() if isinstance(m, torch.nn.Linear)]
    assert len(linears) == 3 and linears[0].in_features == 30 + 12
    mods = make_mods()
    changed = [ModalityFeatures(m.name, m.vector + 1, m.tokens + 1, m.mask, m.raw)
               for m in mods]
    assert torch.equal(fusion(mods).z, fusion(changed).z)
