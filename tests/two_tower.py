"""A tiny CLIP (and SigLIP) with both towers and its tokenizer, built from small configs and saved with
``save_pretrained`` as a user's folder would be: real loading code for the zero-shot tests,
no download. Its weights are random: the tests compare the workbench's numbers with the same
model's, computed by hand."""

from __future__ import annotations

from pathlib import Path

from pretrained_models import tiny_vit  # noqa: F401  (an image model with no text tower)

SIZE = 32  # the image processor's input side
MAX_TEXT = 48  # word pieces the text tower reads (one per letter: no merges)


def clip_tokenizer():
    """A real CLIP (byte-level BPE) tokenizer over a tiny vocabulary: every byte alone and
    at a word's end, and no merges, so every word is spelled out in single-byte pieces."""
    from transformers import CLIPTokenizer
    from transformers.convert_slow_tokenizer import bytes_to_unicode
    chars = list(bytes_to_unicode().values())
    vocab: dict[str, int] = {}
    for token in ["<|startoftext|>", "<|endoftext|>", *chars, *(c + "</w>" for c in chars)]:
        vocab.setdefault(token, len(vocab))
    return CLIPTokenizer(vocab=vocab, merges=[], model_max_length=MAX_TEXT)


def tiny_clip(folder: Path, seed: int = 0) -> Path:
    """CLIP's text and vision towers (projected to 24 dimensions), its PIL image processor
    at 32 px and its tokenizer, in ``folder``."""
    import torch
    from transformers import CLIPConfig, CLIPModel
    from transformers.models.clip.image_processing_pil_clip import CLIPImageProcessorPil
    tokenizer = clip_tokenizer()
    torch.manual_seed(seed)
    config = CLIPConfig(
        text_config=dict(vocab_size=len(tokenizer), hidden_size=32, intermediate_size=37,
                         num_hidden_layers=1, num_attention_heads=2,
                         max_position_embeddings=MAX_TEXT, bos_token_id=tokenizer.bos_token_id,
                         eos_token_id=tokenizer.eos_token_id,
                         pad_token_id=tokenizer.pad_token_id),
        vision_config=dict(hidden_size=32, intermediate_size=37, num_hidden_layers=1,
                           num_attention_heads=2, image_size=SIZE, patch_size=8),
        projection_dim=24)
    CLIPModel(config).save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    CLIPImageProcessorPil(size={"shortest_edge": SIZE},
                          crop_size={"height": SIZE, "width": SIZE}).save_pretrained(folder)
    return folder


def tiny_siglip(folder: Path, seed: int = 0) -> Path:
    """SigLIP's two towers (no projections: its towers' widths are the shared space), a PIL
    image processor at 32 px and the same tiny tokenizer (AutoTokenizer reads its class from
    the folder)."""
    import torch
    from transformers import SiglipConfig, SiglipModel
    from transformers.models.siglip.image_processing_pil_siglip import SiglipImageProcessorPil
    tokenizer = clip_tokenizer()
    torch.manual_seed(seed)
    SiglipModel(SiglipConfig(
        text_config=dict(vocab_size=len(tokenizer), hidden_size=32, intermediate_size=37,
                         num_hidden_layers=1, num_attention_heads=2,
                         max_position_embeddings=MAX_TEXT, bos_token_id=tokenizer.bos_token_id,
                         eos_token_id=tokenizer.eos_token_id,
                         pad_token_id=tokenizer.pad_token_id),
        vision_config=dict(hidden_size=32, intermediate_size=37, num_hidden_layers=1,
                           num_attention_heads=2, image_size=SIZE, patch_size=8))
                ).save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    SiglipImageProcessorPil(size={"height": SIZE, "width": SIZE}).save_pretrained(folder)
    return folder


def shared_image_csv(root: Path, *, per_label: int = 6) -> Path:
    """A CSV of coloured 32 px images, two labels, where every third image has two captions
    (so retrieval must count each image once): returns the CSV's path."""
    import csv

    import numpy as np
    from PIL import Image
    root.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(3)
    rows = []
    for label, base in (("warm", (200, 60, 30)), ("cool", (30, 90, 200))):
        for i in range(per_label):
            pixels = np.clip(np.array(base) + rng.integers(-60, 60, (SIZE, SIZE, 3)), 0,
                             255).astype(np.uint8)
            name = f"{label}_{i}.png"
            Image.fromarray(pixels).save(root / name)
            rows.append((name, f"a {label} picture number {i}", label))
            if i % 3 == 0:
                rows.append((name, f"{label} tones, image {i}", label))
    path = root / "pairs.csv"
    with open(path, "w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(["image", "caption", "label"])
        writer.writerows(rows)
    return path
