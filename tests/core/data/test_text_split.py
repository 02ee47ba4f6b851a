"""Tokenizer, vocabulary, splits and batches."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from workbench.core.config import PreprocessConfig
from workbench.core.data.dataset import Batch, PairedDataset, bag_of_words, build_dataset
from workbench.core.data.loader import PairTable
from workbench.core.data.split import split_counts, split_indices
from workbench.core.data.text import OOV, OOV_TOKEN, PAD, PAD_TOKEN, Vocabulary, tokenize

# ---------------------------------------------------------------- tokenizer


@pytest.mark.parametrize("text, words", [
    ("Grinning face: face, grin", ["grinning", "face", "face", "grin"]),
    ("Don't PANIC", ["don't", "panic"]),
    ("don\u2019t stop", ["don't", "stop"]),  # curly apostrophe as typed by a phone
    ("it\u2018s o'clock", ["it's", "o'clock"]),
    ("'quoted' words'", ["quoted", "words"]),  # quotes around words are not apostrophes
    ("rock 'n' roll", ["rock", "n", "roll"]),
    ("3 cats, 42 dogs and 7up", ["3", "cats", "42", "dogs", "and", "7up"]),
    ("1.5 kg / 20%", ["1", "5", "kg", "20"]),
    ("Привет, мир!", ["привет", "мир"]),
    ("Ελληνικά ΓΡΑΜΜΑΤΑ", ["ελληνικά", "γραμματα"]),
    ("日本語 テキスト", ["日本語", "テキスト"]),
    ("नमस्ते दुनिया", ["नमस्ते", "दुनिया"]),  # vowel signs and virama stay in the word
    ("مَرْحَبًا بالعالم", ["مَرْحَبًا", "بالعالم"]),  # Arabic with harakat
    ("Café CAFE\u0301", ["café", "café"]),  # composed and decomposed accents: one word
    ("hello, world... (again)!?", ["hello", "world", "again"]),
    ("snake_case & kebab-case #tag @user", ["snake", "case", "kebab", "case", "tag", "user"]),
    ("emoji \U0001F600 here \u2764\ufe0f", ["emoji", "here"]),
    ("!!!", []),
    ("", []),
    ("   \t\n", []),
])
def test_tokenize(text, words):
    assert tokenize(text) == words


def test_tokenize_is_stable_for_the_same_word():
    assert len({tokenize(s)[0] for s in ("Cafe\u0301", "CAF\u00c9", "café")}) == 1


# ---------------------------------------------------------------- vocabulary

TOKENS = [["b", "a", "c", "a"], ["c", "a", "d"], ["e"]]


def test_vocabulary_order_pad_and_oov():
    vocab = Vocabulary.build(TOKENS, max_size=100)
    assert PAD == 0 and OOV == 1
    assert vocab.words[PAD] == PAD_TOKEN and vocab.words[OOV] == OOV_TOKEN
    # by falling frequency (a 3, c 2), ties alphabetical (b, d, e once each)
    assert vocab.words == [PAD_TOKEN, OOV_TOKEN, "a", "c", "b", "d", "e"]
    assert vocab.counts == [0, 0, 3, 2, 1, 1, 1]
    assert len(vocab) == 7
    assert vocab.id("a") == 2 and vocab.id("never") == OOV
    assert vocab.encode(["a", "zzz", "e"]) == [2, OOV, 6]
    assert vocab.decode([2, 3, 0, 0]) == ["a", "c"]


def test_vocabulary_size_and_min_count():
    assert Vocabulary.build(TOKENS, max_size=4).words == [PAD_TOKEN, OOV_TOKEN, "a", "c"]
    assert Vocabulary.build(TOKENS, max_size=2).words == [PAD_TOKEN, OOV_TOKEN]
    assert Vocabulary.build(TOKENS, max_size=100, min_count=2).words == \
        [PAD_TOKEN, OOV_TOKEN, "a", "c"]
    assert Vocabulary.build(TOKENS, max_size=100, min_count=4).words == [PAD_TOKEN, OOV_TOKEN]
    assert Vocabulary.build([], max_size=10).words == [PAD_TOKEN, OOV_TOKEN]


def test_vocabulary_same_input_same_ids():
    shuffled = [TOKENS[2], TOKENS[0], TOKENS[1]]
    assert Vocabulary.build(TOKENS, max_size=50).words == \
        Vocabulary.build(shuffled, max_size=50).words


def test_vocabulary_round_trip():
    vocab = Vocabulary.build(TOKENS, max_size=100)
    again = Vocabulary.from_dict(vocab.to_dict())
    assert again.words == vocab.words and again.counts == vocab.counts
    assert again.id("d") == vocab.id("d")


def test_encode_batch_pads_and_truncates():
    vocab = Vocabulary.build(TOKENS, max_size=100)
    ids, lengths = vocab.encode_batch([["a", "c"], [], ["a"] * 10, ["x", "b", "e", "d"]], 4)
    assert ids.dtype == np.int64 and ids.shape == (4, 4)
    assert ids.tolist() == [[2, 3, PAD, PAD], [PAD] * 4, [2, 2, 2, 2], [OOV, 4, 6, 5]]
    assert lengths.tolist() == [2, 0, 4, 4]


def test_bag_of_words():
    tokens = torch.tensor([[2, 3, 2, PAD], [PAD, PAD, PAD, PAD], [4, OOV, PAD, PAD]])
    bow = bag_of_words(tokens, 5)
    assert bow.dtype == torch.float32 and bow.shape == (3, 5)
    assert bow.tolist() == [[0, 0, 1, 1, 0], [0, 0, 0, 0, 0], [0, 1, 0, 0, 1]]
    assert (bow[:, PAD] == 0).all()


# ---------------------------------------------------------------- tables made by hand

def make_table(captions, labels=None, image_index=None, size=8) -> PairTable:
    n = len(captions)
    image_index = np.arange(n) if image_index is None else np.asarray(image_index)
    m = int(image_index.max()) + 1 if n else 0
    images = np.random.default_rng(0).integers(0, 256, (m, 3, size, size), dtype=np.uint8)
    names = sorted(set(labels)) if labels is not None else []
    return PairTable(
        source="hand-made", kind="csv", file="hand-made.csv", rows=list(range(2, n + 2)),
        captions=list(captions), tokens=[tokenize(c) for c in captions], images=images,
        image_index=image_index.astype(np.int64), image_paths=[f"{i}.png" for i in range(m)],
        original_sizes=np.full((m, 2), size, dtype=np.int64), text_features=None,
        image_features=None,
        labels=None if labels is None else np.array([names.index(x) for x in labels]),
        label_names=names, label_column=None if labels is None else "label")


PRE = PreprocessConfig(image_size=8, max_tokens=6, vocab_size=5000, min_count=1)


def test_vocabulary_built_on_the_training_split_only():
    captions = [f"common word unique{i}" for i in range(40)]
    ds = build_dataset(make_table(captions), PRE, val_fraction=0.2, test_fraction=0.2, seed=0)
    train = set(ds.indices("train").tolist())
    held_out = ds.indices("val").tolist() + ds.indices("test").tolist()
    assert len(train) == 24 and len(held_out) == 16
    for i in train:
        assert ds.vocab.id(f"unique{i}") != OOV
        assert int(ds.tokens[i, 2]) == ds.vocab.id(f"unique{i}")
    for i in held_out:
        assert f"unique{i}" not in ds.vocab.words
        assert ds.tokens[i, :3].tolist() == [ds.vocab.id("common"), ds.vocab.id("word"), OOV]
    assert ds.vocab.counts[ds.vocab.id("common")] == 24  # counted in training only
    assert ds.vocab_size == 2 + 2 + 24


def test_build_dataset_respects_vocab_size_and_min_count():
    captions = [f"shared w{i} w{i % 3}" for i in range(30)]
    small = build_dataset(make_table(captions), PreprocessConfig(vocab_size=10),
                          val_fraction=0.0, test_fraction=0.0, seed=0)
    assert small.vocab_size == 10 and small.vocab.words[2] == "shared"
    frequent = build_dataset(make_table(captions), PreprocessConfig(min_count=5),
                             val_fraction=0.0, test_fraction=0.0, seed=0)
    assert frequent.vocab.words == [PAD_TOKEN, OOV_TOKEN, "shared", "w0", "w1", "w2"]


# ---------------------------------------------------------------- splits

def check_partition(split, n):
    parts = [split.train, split.val, split.test]
    for p in parts:
        assert p.dtype == np.int64
    everything = np.concatenate(parts)
    assert len(everything) == n and sorted(everything.tolist()) == list(range(n))


def test_split_reproducible_and_seed_dependent():
    a = split_indices(100, 0.1, 0.2, seed=3)
    b = split_indices(100, 0.1, 0.2, seed=3)
    c = split_indices(100, 0.1, 0.2, seed=4)
    for x, y in zip((a.train, a.val, a.test), (b.train, b.val, b.test)):
        np.testing.assert_array_equal(x, y)
    assert not np.array_equal(a.test, c.test)
    check_partition(a, 100)
    check_partition(c, 100)


@pytest.mark.parametrize("n, val, test, sizes", [
    (100, 0.1, 0.2, (70, 10, 20)),
    (37, 0.15, 0.15, (25, 6, 6)),
    (10, 0.0, 0.3, (7, 0, 3)),
    (10, 0.0, 0.0, (10, 0, 0)),
    (1000, 0.05, 0.05, (900, 50, 50)),
])
def test_split_sizes_follow_fractions(n, val, test, sizes):
    split = split_indices(n, val, test, seed=0)
    assert split.sizes() == dict(zip(("train", "val", "test"), sizes))
    check_partition(split, n)


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_split_stratified(seed):
    rng = np.random.default_rng(seed + 100)
    labels = rng.permutation(np.repeat([0, 1, 2], [150, 100, 51]))
    n = len(labels)
    split = split_indices(n, 0.15, 0.15, seed, labels=labels)
    check_partition(split, n)
    share = np.bincount(labels) / n
    for part in (split.val, split.test, split.train):
        counts = np.bincount(labels[part], minlength=3)
        assert np.all(np.abs(counts - share * len(part)) <= 1), (counts, share * len(part))


@pytest.mark.parametrize("seed", range(50))
def test_every_class_keeps_a_training_example(seed):
    # classes of 1, 2, 3 and 5 examples beside two big ones: held-out fractions of 40%
    labels = np.array([0] * 60 + [1] * 30 + [2] + [3] * 2 + [4] * 3 + [5] * 5)
    rng = np.random.default_rng(seed)
    labels = rng.permutation(labels)
    split = split_indices(len(labels), 0.2, 0.2, seed, labels=labels)
    check_partition(split, len(labels))
    assert set(labels[split.train].tolist()) == set(labels.tolist())
    assert split.single == (2,)
    # the rest is still held out in proportion
    assert len(split.test) == round(0.2 * len(labels))


@pytest.mark.parametrize("seed", range(50))
def test_every_class_keeps_a_training_image_when_captions_are_grouped(seed):
    groups = np.repeat(np.arange(40), 2)  # two captions per image
    image_labels = np.array([0] * 30 + [1] * 8 + [2] + [3])
    labels = image_labels[groups]
    split = split_indices(len(groups), 0.25, 0.25, seed, labels=labels, groups=groups)
    check_partition(split, len(groups))
    assert set(labels[split.train].tolist()) == {0, 1, 2, 3}
    assert split.single == (2, 3)


def test_a_class_with_one_example_is_noted():
    captions = [f"caption {i}" for i in range(21)]
    labels = ["common"] * 20 + ["rare"]
    ds = build_dataset(make_table(captions, labels=labels), PRE, val_fraction=0.2,
                       test_fraction=0.2, seed=0)
    assert ds.split.single == (ds.label_names.index("rare"),)
    assert 20 in ds.split.train.tolist()
    assert ds.split_notes and "'rare'" in ds.split_notes[0]


@pytest.mark.parametrize("n", [0, 1, 2, 3])
@pytest.mark.parametrize("val, test", [(0.1, 0.1), (0.5, 0.4), (0.45, 0.45), (0.0, 0.0),
                                       (0.9, 0.0), (0.0, 0.9)])
@pytest.mark.parametrize("with_labels", [False, True])
def test_split_tiny(n, val, test, with_labels):
    labels = np.arange(n) % 2 if with_labels else None
    split = split_indices(n, val, test, seed=0, labels=labels)
    check_partition(split, n)
    if n:
        assert len(split.train) >= 1
    # groups too: every pair its own image
    grouped = split_indices(n, val, test, seed=0, labels=labels, groups=np.arange(n))
    check_partition(grouped, n)
    if n:
        assert len(grouped.train) >= 1


def test_split_counts_small_n():
    assert split_counts(0, 0.1, 0.1) == (0, 0)
    assert split_counts(1, 0.45, 0.45) == (0, 0)
    assert split_counts(3, 0.1, 0.1) == (1, 1)  # one each once every split can have one
    assert split_counts(2, 0.45, 0.45) == (1, 0)
    assert split_counts(3, 0.0, 0.1) == (0, 1)


def test_grouped_split_keeps_groups_together():
    rng = np.random.default_rng(0)
    groups = rng.permutation(np.repeat(np.arange(20) * 7 + 3, rng.integers(1, 5, 20)))
    n = len(groups)
    for seed in range(5):
        split = split_indices(n, 0.2, 0.2, seed, groups=groups)
        check_partition(split, n)
        owner = {}
        for name, part in (("train", split.train), ("val", split.val), ("test", split.test)):
            for g in groups[part]:
                assert owner.setdefault(int(g), name) == name
        # 20 groups: 4 in validation, 4 in test, 12 in training
        assert len(set(groups[split.val].tolist())) == 4
        assert len(set(groups[split.test].tolist())) == 4
        assert len(set(groups[split.train].tolist())) == 12


def test_grouped_and_stratified_split():
    groups = np.repeat(np.arange(30), 3)
    labels = (groups % 3 == 0).astype(int)  # a third of the images are class 1
    split = split_indices(len(groups), 0.2, 0.2, 0, labels=labels, groups=groups)
    check_partition(split, len(groups))
    for part in (split.val, split.test):
        assert len(part) == 18  # 6 images of 3 captions
        assert labels[part].sum() == 6  # 2 of the 6 images are class 1


def test_build_dataset_groups_captions_of_one_image():
    image_index = np.repeat(np.arange(15), 2)
    captions = [f"image {i // 2} caption {i % 2}" for i in range(30)]
    ds = build_dataset(make_table(captions, image_index=image_index), PRE, val_fraction=0.2,
                       test_fraction=0.2, seed=1)
    seen = {}
    for name in ("train", "val", "test"):
        for i in ds.indices(name).tolist():
            assert seen.setdefault(int(image_index[i]), name) == name


# ---------------------------------------------------------------- batches

@pytest.fixture
def dataset() -> PairedDataset:
    captions = [" ".join(["word"] * (1 + i % 9)) + f" number{i}" for i in range(47)]
    labels = [["cat", "dog", "emu"][i % 3] for i in range(47)]
    return build_dataset(make_table(captions, labels=labels), PRE, val_fraction=0.2,
                         test_fraction=0.1, seed=0)


@pytest.mark.parametrize("split", ["train", "val", "test"])
@pytest.mark.parametrize("shuffle", [False, True])
def test_batches_cover_the_split_once(dataset, split, shuffle):
    gen = torch.Generator().manual_seed(0)
    batches = list(dataset.batches(split, 8, shuffle=shuffle, generator=gen))
    seen = torch.cat([b.index for b in batches])
    assert sorted(seen.tolist()) == sorted(dataset.indices(split).tolist())
    assert len(seen) == len(set(seen.tolist()))
    assert all(len(b) == 8 for b in batches[:-1]) and 1 <= len(batches[-1]) <= 8
    dropped = list(dataset.batches(split, 8, drop_last=True))
    n = len(dataset.indices(split))
    if n >= 8:
        assert all(len(b) == 8 for b in dropped)
        assert len(dropped) == n // 8
    else:  # a split smaller than one batch is still one batch
        assert [len(b) for b in dropped] == [n]


def test_batches_unshuffled_keep_order(dataset):
    seen = torch.cat([b.index for b in dataset.batches("train", 5)])
    assert seen.tolist() == dataset.indices("train").tolist()


def test_batches_shuffle_reproducibly(dataset):
    def order(seed):
        gen = torch.Generator().manual_seed(seed)
        return torch.cat([b.index for b in dataset.batches("train", 8, shuffle=True,
                                                            generator=gen)]).tolist()
    assert order(7) == order(7)
    assert order(7) != order(8)
    assert order(7) != dataset.indices("train").tolist()
    # Epochs drawn from one generator differ from each other but repeat as a sequence.
    gen = torch.Generator().manual_seed(7)
    epochs = [[b.index.tolist() for b in dataset.batches("train", 8, shuffle=True,
                                                         generator=gen)] for _ in range(2)]
    assert epochs[0] != epochs[1]


def test_batch_contents(dataset):
    table = dataset.table
    for b in dataset.batches("train", 6):
        assert isinstance(b, Batch)
        lengths = dataset.lengths[b.index]
        # Padding columns that no pair in the batch uses are trimmed.
        assert b.tokens.shape == (len(b), int(lengths.max()))
        assert b.tokens.shape[1] <= dataset.max_tokens
        assert (b.mask == (b.tokens != PAD)).all()
        assert b.mask.sum(dim=1).tolist() == lengths.tolist()
        assert b.bow.shape == (len(b), dataset.vocab_size) and (b.bow[:, PAD] == 0).all()
        assert b.images.dtype == torch.float32
        assert b.images.shape == (len(b), 3, 8, 8)
        assert float(b.images.min()) >= 0.0 and float(b.images.max()) <= 1.0
        expected = torch.from_numpy(table.images[table.image_index[b.index.numpy()]])
        assert torch.allclose(b.images * 255, expected.float(), atol=1e-3)
        assert b.image_ids.tolist() == table.image_index[b.index.numpy()].tolist()
        assert b.labels.tolist() == table.labels[b.index.numpy()].tolist()
        assert b.text_features is None and b.image_features is None
    short = dataset.batch(torch.tensor([0, 9, 18]))  # captions of two words: "word numberK"
    assert short.tokens.shape == (3, 2)
    long = dataset.batch(torch.tensor([0, 8]))  # 9 words + 1, cut at max_tokens = 6
    assert long.tokens.shape == (2, 6)
    moved = short.to("cpu")
    assert torch.equal(moved.tokens, short.tokens) and moved.bow is not None


def test_dataset_metadata(dataset):
    assert len(dataset) == 47 and dataset.num_classes == 3
    assert dataset.label_names == ["cat", "dog", "emu"]
    assert dataset.image_size == 8 and dataset.text_dim is None and dataset.image_dim is None
    assert dataset.split.sizes() == {"train": 33, "val": 9, "test": 5}


@pytest.mark.parametrize("text", ["A small RED circle", "don't stop", "o'clock, 5 o'clock!",
                                  "tab\tand\nnewline", "snake_case words", "", "   ",
                                  "It\u2019s caf\u00e9", "cafe\u0301 au lait"])
def test_tokenize_ascii_shortcut_matches_the_general_path(text):
    """ASCII captions skip NFC and the apostrophe mapping; both would leave them unchanged."""
    import unicodedata

    from workbench.core.data import text as text_module
    general = text_module.word_pattern().findall(
        unicodedata.normalize("NFC", text).translate(text_module._APOSTROPHES).lower())
    assert tokenize(text) == general
