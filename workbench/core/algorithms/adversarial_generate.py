"""Adversarial generation of text/image pairs [document 3.2, 4.2] with a matching-aware
discriminator (GAN-CLS, Reed et al., 2016, "Generative Adversarial Text to Image Synthesis").

G maps noise z (``params.noise_dim``) through one shared trunk to a pair: text as bag-of-words
probabilities (or a feature vector for ``.npz`` data), image as pixels in [0, 1] (or a feature
vector). D encodes each side (an MLP over the bag of words, a DCGAN-style convolutional
encoder over pixels, an MLP over feature vectors), fuses them with the chosen fusion and
scores the pair, plus a caption-times-image term (``projection``; Miyato & Koyama, 2018,
"cGANs with Projection Discriminator"):

    D(x_t, x_i) = head(F(e_t(x_t), e_i(x_i))) + <M e_t(x_t), e_i(x_i)> / sqrt(hidden_dim)

The fused score alone barely learns the pairing: on the built-in emoji, D's outputs on true and
on wrong captions stayed equal to four decimals for 20 epochs; the inner product judges the
pairing directly, as the contrastive model's similarity does.

D's loss averages its terms so that, at the equilibrium D = 1/2, every term and the total are
ln 2 (the GUI draws that line); as in GAN-CLS, real pairs and all fakes weigh the same:

    L_D = 1/2 [ BCE(D(x_t, x_i), 1 - smoothing)
                + (BCE(D(G(z)), 0) + w BCE(D(x_t', x_i), 0)) / (1 + w) ]

with x_t' a wrong real caption for the real image x_i and w = ``mismatch_weight``. G's loss is
the non-saturating -log D(G(z)). Feature vectors are compared standardised (training-split
statistics), so G learns the standardised vectors.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.nn.utils import parametrize

from ..data.dataset import Batch
from ..data.text import PAD
from ..fusion.base import FusionOutput, build_fusion
from ..models.blocks import mlp
from ..models.decoders import image_decoder, text_decoder
from ..models.features import ModalityDims, ModalityFeatures
from .adversarial import bce, frozen, mismatch_index
from .base import Algorithm, pair_outputs


class VectorEncoder(nn.Module):
    """An MLP over a whole-sample vector, the one form a generated caption has (a bag of
    words, a standardised feature vector). Its first layer is also the single "token".

    A bag of words is read as a bag of embeddings: the words' embeddings averaged with the
    (possibly generated, soft) word weights, like the token encoder's masked mean. A plain
    Linear layer over a vocabulary of thousands with a few words present would give captions
    vectors so small that D would judge the image alone.
    """

    def __init__(self, name: str, in_dim: int, embed_dim: int, hidden_dim: int, *,
                 bag: bool = False, dropout: float = 0.0):
        super().__init__()
        self.name = name
        self.bag = bag
        self.embed = nn.Linear(in_dim, embed_dim, bias=not bag)
        if bag:
            nn.init.normal_(self.embed.weight)  # as nn.Embedding
        self.net = mlp([embed_dim, hidden_dim, hidden_dim], dropout=dropout)
        self.dims = ModalityDims(name, hidden_dim, embed_dim, in_dim)

    def forward(self, x: Tensor) -> ModalityFeatures:
        # An (almost) empty bag stays (almost) zero rather than being blown up to one word.
        weights = x / x.sum(1, keepdim=True).clamp(min=1.0) if self.bag else x
        token = self.embed(weights)
        mask = torch.ones(x.shape[0], 1, dtype=torch.bool, device=x.device)
        return ModalityFeatures(self.name, self.net(token), token.unsqueeze(1), mask, x)


class Standardiser(nn.Module):
    """(x - mean) / std with training-split statistics (saved with the model)."""

    def __init__(self, dim: int):
        super().__init__()
        self.register_buffer("mean", torch.zeros(dim))
        self.register_buffer("std", torch.ones(dim))

    def set_stats(self, x: Tensor) -> None:
        self.mean.copy_(x.mean(0))
        self.std.copy_(x.std(0, unbiased=False).clamp(min=1e-6))

    def forward(self, x: Tensor) -> Tensor:
        return (x - self.mean) / self.std

    def inverse(self, x: Tensor) -> Tensor:
        return x * self.std + self.mean


def _doublings(size: int) -> int:
    """How many times a 4x4 (or larger) grid doubles up to ``size`` (at most 4)."""
    ups = 0
    while size % 2 ** (ups + 1) == 0 and size // 2 ** (ups + 1) >= 4 and ups < 4:
        ups += 1
    return ups


class PixelGenerator(nn.Module):
    """A code -> a 4x4 grid -> (nearest 2x upsampling, 3x3 convolution, batch norm, ReLU) up
    to ``image_size`` -> pixels in [0, 1]. DCGAN's generator (Radford et al., 2016) with
    resize-convolutions (Odena et al., 2016): transposed convolutions left checkerboards in
    the samples, and without batch normalisation (as in the autoencoder's decoder) G
    collapsed to one flat picture."""

    def __init__(self, code_dim: int, image_size: int, *, channels: int = 128):
        super().__init__()
        self.size = image_size
        ups = _doublings(image_size)
        self.grid = image_size // 2 ** ups
        self.channels = channels
        self.fc = nn.Sequential(nn.Linear(code_dim, channels * self.grid ** 2),
                                nn.BatchNorm1d(channels * self.grid ** 2), nn.ReLU())
        layers: list[nn.Module] = []
        c = channels
        for _ in range(ups):
            layers += [nn.Upsample(scale_factor=2, mode="nearest"),
                       nn.Conv2d(c, c // 2, 3, padding=1), nn.BatchNorm2d(c // 2), nn.ReLU()]
            c //= 2
        layers.append(nn.Conv2d(c, 3, 3, padding=1))
        self.net = nn.Sequential(*layers)

    def forward(self, code: Tensor) -> Tensor:
        x = self.net(self.fc(code).view(-1, self.channels, self.grid, self.grid))
        if x.shape[-1] != self.size:  # sizes that do not halve down to a small grid
            x = F.interpolate(x, size=(self.size, self.size), mode="bilinear",
                              align_corners=False)
        return torch.sigmoid(x)


class PixelEncoder(nn.Module):
    """DCGAN's discriminator body: strided 4x4 convolutions with leaky ReLUs down to a small
    grid, flattened (so where things are counts) into the image vector; the grid cells are the
    image's "tokens". The workbench image encoder, which averages its patches, left D blind to
    layout, and G answered with tiled textures."""

    def __init__(self, image_size: int, hidden_dim: int, *, channels: int = 64):
        super().__init__()
        layers: list[nn.Module] = []
        c_in, c = 3, channels
        for _ in range(max(_doublings(image_size), 1)):
            layers += [nn.Conv2d(c_in, c, 4, stride=2, padding=1), nn.LeakyReLU(0.2)]
            c_in, c = c, min(c * 2, 256)
        self.features = nn.Sequential(*layers)
        with torch.no_grad():
            _, c, g, _ = self.features(torch.zeros(1, 3, image_size, image_size)).shape
        self.pool = nn.Linear(c * g * g, hidden_dim)
        self.dims = ModalityDims("image", hidden_dim, c, 3 * image_size * image_size)

    def forward(self, images: Tensor) -> ModalityFeatures:
        grid = self.features(images * 2.0 - 1.0)  # (B, C, g, g)
        tokens = grid.flatten(2).transpose(1, 2)
        mask = torch.ones(tokens.shape[:2], dtype=torch.bool, device=images.device)
        return ModalityFeatures("image", self.pool(grid.flatten(1)), tokens, mask,
                                images.flatten(1))


class Generator(nn.Module):
    """Noise -> one shared code -> a text and an image (so the two can agree)."""

    def __init__(self, cfg, info, noise_dim: int):
        super().__init__()
        h = cfg.model.hidden_dim
        self.bow = info.text_is_tokens
        self.trunk = nn.Sequential(nn.Linear(noise_dim, h), nn.BatchNorm1d(h), nn.ReLU(),
                                   nn.Linear(h, h), nn.BatchNorm1d(h), nn.ReLU())
        self.text = text_decoder(h, info, h)
        self.image = (PixelGenerator(h, info.image_size) if info.image_is_pixels
                      else image_decoder(h, info, h))

    def forward(self, z: Tensor) -> tuple[Tensor, Tensor]:
        code = self.trunk(z)
        text = self.text(code)
        if self.bow:  # word probabilities; padding is never a word, as in real bags
            text = torch.sigmoid(text).index_fill(1, torch.tensor([PAD], device=z.device), 0.0)
        return text, self.image(code)


class PairDiscriminator(nn.Module):
    """Encodes a caption (bag of words / vector) and an image, fuses them, gives one logit."""

    def __init__(self, cfg, info, *, projection: bool = True):
        super().__init__()
        h, e, p = cfg.model.hidden_dim, cfg.model.embed_dim, cfg.model.dropout
        text_dim = info.vocab_size if info.text_is_tokens else info.text_dim
        self.text_encoder = VectorEncoder("text", text_dim, e, h, bag=info.text_is_tokens,
                                          dropout=p)
        self.image_encoder = (PixelEncoder(info.image_size, h) if info.image_is_pixels
                              else VectorEncoder("image", info.image_dim, e, h, dropout=p))
        self.fusion = build_fusion(cfg.fusion.name, cfg.fusion.params,
                                   [self.text_encoder.dims, self.image_encoder.dims], h)
        # Mean and attention fusion give a (weighted) sum of the two vectors: a linear score
        # of it would add a text score to an image score and could never judge the pairing,
        # so a hidden layer comes before the logit.
        self.head = mlp([h, h, 1])
        # The pairing term: both encoders end in hidden_dim vectors.
        self.match = nn.Linear(h, h, bias=False) if projection else None

    def unnormalised(self) -> list[nn.Module]:
        """Layers spectral normalisation must leave alone: a bag-of-words embedding. Its
        input is a bag's word weights (summing to at most 1), so a caption's vector is
        already bounded by its largest word vector; dividing by the whole vocabulary
        matrix's largest singular value (about sqrt(vocabulary size)) shrank every caption
        25 times more than the images (measured), and D judged the image alone."""
        return [self.text_encoder.embed] if self.text_encoder.bag else []

    def encode(self, text: Tensor, image: Tensor) -> tuple[ModalityFeatures, ModalityFeatures]:
        return self.text_encoder(text), self.image_encoder(image)

    def judge(self, text: ModalityFeatures, image: ModalityFeatures
              ) -> tuple[Tensor, FusionOutput]:
        fused = self.fusion([text, image])
        logit = self.head(fused.z).squeeze(-1)
        if self.match is not None:
            # / sqrt(h): a sum of h products grows like sqrt(h); unscaled, the term dwarfed
            # the fused score and D rejected generated pairs outright (measured on the emoji
            # preset after 20 epochs: D(fake) 0.06 against 0.10, and G's samples mostly one
            # yellow shape).
            pairing = (self.match(text.vector) * image.vector).sum(-1)
            logit = logit + pairing / text.vector.shape[-1] ** 0.5
        return logit, fused

    def forward(self, text: Tensor, image: Tensor) -> Tensor:
        return self.judge(*self.encode(text, image))[0]


def _spectral_norm(module: nn.Module, exempt: list[nn.Module]) -> None:
    """Spectral normalisation on every linear and convolution layer of ``module`` but the
    ``exempt`` ones: each layer's largest singular value is kept at 1, so D's judgement
    changes smoothly with its input and its gradients stay useful to G instead of saturating
    (D(fake) -> 0)."""
    from torch.nn.utils.parametrizations import spectral_norm
    skip = {id(m) for m in exempt}
    for sub in list(module.modules()):
        if isinstance(sub, (nn.Linear, nn.Conv2d)) and id(sub) not in skip:
            spectral_norm(sub)


class AdversarialGenerate(Algorithm):
    """G(noise) -> (caption, image) against a matching-aware pair discriminator."""

    joint_space = False  # D's text and image vectors are fusion inputs, not one space
    averaged_outputs = ("d_real", "d_fake")

    def __init__(self, cfg, info):
        super().__init__(cfg, info)
        self.generator = Generator(cfg, info, self.params.noise_dim)
        self.discriminator = PairDiscriminator(cfg, info, projection=self.params.projection)
        if self.params.spectral_norm:
            _spectral_norm(self.discriminator, self.discriminator.unnormalised())
        # Feature vectors are judged (and generated) standardised.
        self.text_scale = None if info.text_is_tokens else Standardiser(info.text_dim)
        self.image_scale = None if info.image_is_pixels else Standardiser(info.image_dim)

    def prepare(self, dataset):
        train = dataset.indices("train")
        for scale, feats in ((self.text_scale, dataset.text_features),
                             (self.image_scale, dataset.image_features)):
            if scale is not None and feats is not None and len(train):
                scale.set_stats(feats[train])

    def optimizer_groups(self):
        return {"d": list(self.discriminator.parameters()),
                "g": list(self.generator.parameters())}

    def modality_parameters(self):
        d = self.discriminator
        out = {"text": list(d.text_encoder.parameters()),
               "image": list(d.image_encoder.parameters())}
        for name, params in d.fusion.modality_parameters().items():
            out[name] = out[name] + params
        return out

    # ------------------------------------------------------------------ the game
    def real(self, batch: Batch) -> tuple[Tensor, Tensor]:
        """The batch as D sees it: bag of words (or standardised text features), pixels (or
        standardised image features)."""
        text = batch.bow if self.text_scale is None else self.text_scale(batch.text_features)
        image = batch.images if self.image_scale is None else \
            self.image_scale(batch.image_features)
        return text, image

    def noise(self, n: int, generator: torch.Generator | None = None) -> Tensor:
        device = next(self.generator.parameters()).device
        return torch.randn(n, self.params.noise_dim, generator=generator).to(device)

    def discriminator_terms(self, batch: Batch, fake: tuple[Tensor, Tensor]
                            ) -> tuple[dict[str, Tensor], tuple]:
        """D's loss and mean outputs on real, generated and mismatched pairs; also D's view of
        the real pairs (for the outputs). The three kinds are judged apart, so no fusion or
        head ever mixes real and generated samples in one batch."""
        p = self.params
        real_text, real_image = self.real(batch)
        n = len(real_text)
        d = self.discriminator
        text, image = d.encode(real_text, real_image)
        real_logits, fused = d.judge(text, image)
        fake_logits = d(*fake)
        wrong, valid = mismatch_index(batch.image_ids, n)
        rows = torch.arange(n, device=wrong.device)[valid]
        wrong_logits, _ = d.judge(text.select(wrong[valid]), image.select(rows))
        w = p.mismatch_weight if len(rows) else 0.0
        negatives = (bce(fake_logits, 0.0) + w * bce(wrong_logits, 0.0)) / (1.0 + w)
        terms = {"d_loss": (bce(real_logits, 1.0 - p.label_smoothing) + negatives) / 2,
                 "d_real": torch.sigmoid(real_logits).mean().detach(),
                 "d_fake": torch.sigmoid(fake_logits).mean().detach(),
                 "d_wrong": torch.sigmoid(wrong_logits).mean().detach() if len(rows)
                 else torch.zeros((), device=real_logits.device)}
        return terms, (text, image, fused, real_logits, fake_logits)

    def generator_loss(self, fake: tuple[Tensor, Tensor]) -> Tensor:
        """Non-saturating: -log D(G(z)) (G wants its pairs judged real)."""
        return bce(self.discriminator(*fake), 1.0)

    def training_step(self, batch, optim):
        """3.2.2: ``d_steps`` D steps with G fixed, then one G step with D fixed."""
        n = max(len(batch), 2)  # G's batch normalisation needs two samples
        d_terms: dict[str, Tensor] = {}
        for _ in range(self.params.d_steps):
            with torch.no_grad():  # G fixed: its samples are constants to D
                fake = self.generator(self.noise(n))
            # D is called three times (real, fake, wrong pairs): its spectrally normalised
            # weights are computed once per step, not once per call.
            with parametrize.cached():
                terms, _ = self.discriminator_terms(batch, fake)
                optim.step("d", terms["d_loss"])
            for k, v in terms.items():  # averaged over the D steps
                d_terms[k] = d_terms.get(k, 0.0) + v.detach() / self.params.d_steps
        with frozen(self.discriminator), parametrize.cached():  # D fixed: no gradient to it
            g_loss = self.generator_loss(self.generator(self.noise(n)))
            optim.step("g", g_loss)
        g_loss = g_loss.detach()
        return {"loss": d_terms["d_loss"] + g_loss, "g_loss": g_loss, **d_terms}

    def forward_step(self, batch):
        """The losses without stepping (evaluation), and D's view of the real pairs."""
        fake = self.generator(self.noise(len(batch)))
        with parametrize.cached():
            terms, (text, image, fused, real_logits, fake_logits) = \
                self.discriminator_terms(batch, fake)
        g_loss = self.generator_loss(fake)
        losses = {"loss": terms["d_loss"] + g_loss, "g_loss": g_loss, **terms}
        out = pair_outputs(batch, text.vector, image.vector, fused)
        out["d_real"] = torch.sigmoid(real_logits).detach()
        out["d_fake"] = torch.sigmoid(fake_logits).detach()
        return losses, out


    @torch.no_grad()
    def attention(self, batch):
        """D's fusion weights on the real probe pairs (which modality it looks at)."""
        text, image = self.discriminator.encode(*self.real(batch))
        return dict(self.discriminator.fusion([text, image]).attention)

    @torch.no_grad()
    def generate(self, n, generator=None):
        """``n`` generated pairs: ``images`` (n, 3, S, S) in [0, 1] and ``bow`` (n, V) word
        probabilities; for feature data, ``text_features`` / ``image_features`` in the data's
        units instead."""
        was_training = self.generator.training
        self.generator.eval()  # batch norm's running statistics: no side effect, any n
        try:
            text, image = self.generator(self.noise(n, generator))
        finally:
            self.generator.train(was_training)
        out = {"images": image if self.image_scale is None else None,
               "bow": text if self.text_scale is None else None}
        if self.text_scale is not None:
            out["text_features"] = self.text_scale.inverse(text)
        if self.image_scale is not None:
            out["image_features"] = self.image_scale.inverse(image)
        return out
