"""The experiment config: everything needed to reproduce a run. A preset is a saved config.

One TOML file holds ``schema_version``, data, preprocessing, model sizes, algorithm and fusion
(each with its own parameter table), optimiser, training and seed. Loading checks every key and
value and names the file, the key, the value and what is allowed; unknown keys are errors.
Files written by older versions are upgraded by the ordered functions in ``MIGRATIONS``.
"""

from __future__ import annotations

import copy
import dataclasses
try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import tomli_w

from .algorithms import ALGORITHMS
from .atomic import atomic_write_bytes
from .config_rules import check
from .errors import ConfigError
from .fusion import FUSIONS
from .params import ParamInfo, build, describe, param, to_table

SCHEMA_VERSION = 1

# MIGRATIONS[v] upgrades a raw TOML dict from schema v to v + 1; they run in order, so a file
# of any old version reaches SCHEMA_VERSION. Add one here whenever the schema changes.
MIGRATIONS: dict[int, Callable[[dict], dict]] = {}


@dataclass
class DataConfig:
    source: str = param("builtin:emoji", "Where the pairs come from: builtin:emoji, an image "
                        "folder, a CSV, a COCO captions JSON, an .npz of features, Parquet "
                        "or Arrow files (Hugging Face) or WebDataset .tar shards.")
    images: str = param("", "Image folder for a COCO captions file (or to resolve a CSV's "
                        "relative paths elsewhere); empty: next to the source.")
    format: str = param("auto", "Source format; auto detects it from the path.",
                        choices=("auto", "builtin", "imagefolder", "csv", "coco", "npz",
                                 "parquet", "webdataset"))
    text_column: str = param("", "Caption column; empty: detect (text, caption, title, ...).")
    image_column: str = param("", "Image path column; empty: detect (image, file_name, "
                              "filepath, ...).")
    label_column: str = param("", "Label column; empty: detect (label, class, category, "
                              "...); 'none': no labels.")
    val_fraction: float = param(0.1, "Fraction of pairs held out for validation.", min=0.0,
                                max=0.9)
    test_fraction: float = param(0.1, "Fraction of pairs held out for the final test.",
                                 min=0.0, max=0.9)
    split_seed: int = param(-1, "Seeds the train / validation / test split alone, so runs "
                            "with different seeds (weights, shuffling) are scored on one "
                            "test set; -1: the run's seed.", min=-1, max=2**32 - 1,
                            label="Split seed")
    on_error: str = param("fail", "fail: stop at bad rows and list them; skip: leave them out "
                          "and report each.", choices=("fail", "skip"))
    allow_outside_paths: bool = param(False, "Allow image paths that leave the dataset's "
                                      "folder (../.., absolute paths).")
    max_caption_lines: int = param(20, "CSV: the most lines one quoted caption may span. "
                                   "A quote left open swallows every line after it into one "
                                   "field; past this many lines the file is refused, naming "
                                   "the line where the quote opened.", min=1, max=100_000)
    max_memory_gb: float = param(0.0, "The most memory (GiB) loaded data may take: decoded "
                                 "images and arrays, estimated before decoding and refused "
                                 "above it; 0: half the memory available.", min=0.0,
                                 max=1_000_000.0, label="Max data memory (GiB)")
    streaming: str = param("auto", "Parquet / WebDataset shards: stream the training split "
                           "from the shards instead of holding it in memory (validation and "
                           "test stay in memory). auto: when decoding every image would "
                           "pass the memory limit.", choices=("auto", "on", "off"))
    shuffle_buffer: int = param(10_000, "Streaming: training samples shuffled together (the "
                                "shards' order is shuffled every epoch too).", min=1,
                                max=10_000_000)
    stream_workers: int = param(-1, "Streaming: processes that decode training images while "
                                "the model trains (0: a thread of the training process "
                                "instead; -1: automatic, from the cores).", min=-1, max=64)


@dataclass
class PreprocessConfig:
    image_size: int = param(32, "Images are resized to this square (pixels).", min=8, max=256)
    max_tokens: int = param(24, "Captions are cut to this many words.", min=1, max=512,
                            search=(8, 64))
    vocab_size: int = param(5000, "Most frequent words kept (built on the training split "
                            "only); the rest become the out-of-vocabulary token.", min=10,
                            max=200_000,
                            search=(500, 20_000), search_log=True)
    min_count: int = param(1, "Words seen fewer times in training become out-of-vocabulary.",
                           min=1, max=1000,
                           search=(1, 5))


@dataclass
class ModelConfig:
    embed_dim: int = param(64, "Size of token and patch features.", min=8, max=1024,
                           search=(16, 256), search_log=True)
    hidden_dim: int = param(128, "Size of each modality's pooled vector and of the fused "
                            "representation.", min=8, max=2048,
                            search=(32, 512), search_log=True)
    text_encoder: str = param("bow", "Caption encoder: word embeddings learned from these "
                              "captions (bow), or a pretrained text model: its sentence "
                              "vector and word-piece states under a trained projection "
                              "(pretrained; see pretrained_mode).",
                              choices=("bow", "pretrained"))
    text_model: str = param("sentence-transformers/all-MiniLM-L6-v2", "The pretrained text "
                            "model: a Hugging Face name or a folder, found on this machine "
                            "(an installed package, a folder, the Hugging Face cache); "
                            "nothing is downloaded unless pretrained.allow_download is on.",
                            when={"text_encoder": ("pretrained",)})
    text_self_attention: bool = param(True, "A self-attention layer over the caption's tokens "
                                      "(document 2.4) before pooling.")
    image_encoder: str = param("cnn", "Image encoder: a small CNN or a patch embedding, "
                               "learned from these images, or a pretrained image model: its "
                               "image vector and patch states (read at the model's own input "
                               "size, not preprocess.image_size) under a trained projection "
                               "(pretrained).", choices=("cnn", "patch", "pretrained"))
    image_model: str = param("openai/clip-vit-base-patch32", "The pretrained image model: a "
                             "Hugging Face name or a folder (CLIP's vision tower, ViT, "
                             "DINOv2, ResNet), found on this machine as the text model is.",
                             when={"image_encoder": ("pretrained",)})
    pretrained_mode: str = param("frozen", "How the pretrained models are used: frozen (their "
                                 "features computed once and cached; only the layers above "
                                 "them train) or finetune (their last finetune_layers layers "
                                 "train too, at optimizer.pretrained_lr_scale; features are "
                                 "computed at every step).", choices=("frozen", "finetune"))
    finetune_layers: int = param(2, "finetune: how many of the pretrained models' last "
                                 "layers train.", min=1, max=48,
                                 when={"pretrained_mode": ("finetune",)},
                                 search=(1, 6))
    patch_size: int = param(8, "Patch size of the patch embedding (pixels).", min=2, max=64)
    patch_layers: int = param(1, "Layers of the patch embedding: 1 projects each patch's "
                              "pixels linearly (as ViT); more add that many - 1 GELU + "
                              "linear layers applied to each patch on its own, so a patch's "
                              "features stay its own pixels' however deep.", min=1, max=4,
                              when={"image_encoder": ("patch",)})
    dropout: float = param(0.1, "Dropout in the encoders and heads.", min=0.0, max=0.9,
                           search=(0.0, 0.5))


@dataclass
class OptimizerConfig:
    name: str = param("adam", "Optimiser.", choices=("adam", "adamw", "sgd"))
    lr: float = param(1e-3, "Learning rate.", min=1e-6, max=10.0, log=True,
                      label="Learning rate",
                      search=(1e-5, 1e-1))
    embedding_lr_scale: float = param(1.0, "Learning-rate multiplier for the word "
                                      "embeddings: each word appears in few captions, so its "
                                      "vector learns slowly at a rate that suits the image "
                                      "encoder.", min=0.1, max=100.0, log=True,
                                      label="Embedding LR scale",
                                      search=(1.0, 30.0))
    weight_decay: float = param(0.0, "Weight decay.", min=0.0, max=1.0,
                                search=(1e-6, 0.1), search_log=True)
    momentum: float = param(0.9, "Momentum (SGD only).", min=0.0, max=0.999,
                            search=(0.5, 0.99))
    beta1: float = param(0.9, "Adam's first-moment decay (adam, adamw); GANs train more "
                         "stably with 0.5.", min=0.0, max=0.999,
                         search=(0.5, 0.95))
    schedule: str = param("none", "Learning-rate schedule over the epochs.",
                          choices=("none", "cosine", "step"))
    step_epochs: int = param(10, "step schedule: epochs between decays.", min=1, max=10_000,
                             search=(2, 30))
    gamma: float = param(0.5, "step schedule: factor applied at each decay.", min=0.01, max=1.0,
                         search=(0.1, 0.9))
    warmup_epochs: int = param(0, "Epochs of linear warm-up before the schedule.", min=0,
                               max=1000,
                               search=(0, 5))
    pretrained_lr_scale: float = param(0.1, "Learning-rate multiplier for a fine-tuned "
                                       "pretrained model's layers (model.pretrained_mode = "
                                       "finetune): they start from good weights, which a full "
                                       "learning rate would undo.", min=1e-4, max=10.0,
                                       log=True, label="Pretrained LR scale",
                                       search=(1e-3, 1.0))
    pretrained_frozen_epochs: int = param(2, "Fine-tuning (model.pretrained_mode = "
                                          "finetune): epochs at the start during which the "
                                          "pretrained layers stay as they are and only the "
                                          "layers above them learn, before they train too "
                                          "(linear probing, then fine-tuning). Tuned from the "
                                          "first step, under layers that start random, they "
                                          "can lose what they knew: contrastive-minilm-emoji "
                                          "fine-tuned that way put every caption and image in "
                                          "one direction (validation at chance).", min=0,
                                          max=1000, label="Pretrained frozen epochs",
                                          search=(0, 5))
    grad_clip: float = param(0.0, "Clip the gradient norm to this (0: off).", min=0.0,
                             max=1000.0,
                             search=(0.5, 10.0), search_log=True)


@dataclass
class TrainingConfig:
    epochs: int = param(20, "Passes over the training split.", min=1, max=100_000,
                        search=(5, 100))
    batch_size: int = param(64, "Pairs per step.", min=1, max=65_536,
                            search=(16, 256), search_log=True)
    drop_last: bool = param(True, "Leave out the last training batch of each epoch when it "
                            "has fewer pairs than the batch size (the order is reshuffled "
                            "every epoch, so a different few are left out each time; a "
                            "training split smaller than one batch still trains). Why: the "
                            "contrastive loss falls with the batch size (about as log B), so "
                            "a smaller last batch drops the loss once an epoch, a sawtooth in "
                            "the curve, and its step is noisier. Dropping was chosen over "
                            "merging it into the previous batch because every step then has "
                            "the same size and memory. The run's start line and summary say "
                            "how many pairs an epoch leaves out.",
                            label="Drop short last batch")
    val_every: int = param(1, "Validate every N epochs.", min=1, max=10_000,
                           label="Validate every (epochs)")
    snapshot_every: int = param(1, "Attention and embedding snapshots every N epochs.", min=1,
                                max=10_000, label="Snapshot every (epochs)")
    checkpoint_every: int = param(5, "Write a checkpoint every N epochs (and at the end).",
                                  min=1, max=10_000, label="Checkpoint every (epochs)")
    keep_best: bool = param(False, "Keep the model of the epoch with the best validation "
                            "value of the algorithm's primary metric (checkpoints/best.pt) "
                            "and hand that one over at the end (test score, Retrieval tab) "
                            "instead of the last epoch's.", label="Keep the best epoch")
    probe_samples: int = param(4, "Validation samples whose attention is shown live.", min=1,
                               max=32)
    composite_probes: int = param(2, "Composite probes shown live beside them: two "
                                  "validation samples of different labels side by side, with "
                                  "one's caption, to see whether its words look at its half "
                                  "(co-attention on labelled images only; 0: none).", min=0,
                                  max=16)
    augment_images: bool = param(False, "Randomly flip training images left-right and shift "
                                 "them by a few pixels (more variety from few images).")
    augment_scale: float = param(1.0, "Shrink each training image to a random size between "
                                 "this fraction of its side and 1, at a random place on "
                                 "white, so small drawings off-centre are known too (1: "
                                 "never).", min=0.25, max=1.0, label="Smallest image scale",
                                 search=(0.5, 1.0))
    augment_tint: float = param(0.0, "Tint each training image: its red, green and blue are "
                                "each multiplied by a random factor between 1 - this and 1, "
                                "so white becomes a random light colour (0: never).",
                                min=0.0, max=0.9, label="Random tint", search=(0.0, 0.5))
    drop_words: float = param(0.0, "Drop each word of a training caption with this "
                              "probability (one is always kept), so short queries such as a "
                              "single word find their images too.", min=0.0, max=0.9,
                              label="Word dropout",
                              search=(0.0, 0.7))
    unknown_words: float = param(0.0, "Read each word of a training caption as the unknown "
                                 "word with this probability. The vocabulary holds only the "
                                 "training captions' words, so without this the model never "
                                 "learns what to make of a word it has not seen, which "
                                 "validation, test and typed captions often hold.", min=0.0,
                                 max=0.9, label="Unknown-word rate", search=(0.0, 0.3))
    dist_timeout: int = param(600, "Multi-process (torchrun) runs: seconds a process waits "
                              "for another at a collective before the run ends naming the "
                              "lost process (rank 0 checkpoints the last completed step). "
                              "Longer than rank 0's validation, snapshots and checkpoint "
                              "writes, which the others wait for.", min=5, max=86_400,
                              label="Process timeout (s)")


@dataclass
class PretrainedConfig:
    allow_download: bool = param(False, "Let a pretrained model missing from this machine be "
                                 "downloaded from the Hugging Face Hub (into its cache). Off: "
                                 "the workbench never touches the network.",
                                 label="Allow downloads")


@dataclass
class AlgorithmConfig:
    name: str = "contrastive"
    params: Any = None

    def __post_init__(self) -> None:
        if self.params is None:
            self.params = ALGORITHMS[self.name].params()


@dataclass
class FusionConfig:
    name: str = "mean"
    params: Any = None

    def __post_init__(self) -> None:
        if self.params is None:
            self.params = FUSIONS[self.name].params()


@dataclass
class ExperimentConfig:
    """One experiment; saved as a preset TOML file."""

    description: str = param("", "What this experiment is for (shown in the preset list).")
    seed: int = param(0, "Seeds the weights, the shuffling and (unless data.split_seed is "
                      "set) the data split: the same seed reproduces a run.", min=0,
                      max=2**32 - 1)
    device: str = param("auto", "Where to train: auto (CUDA, then Apple MPS, then the CPU), "
                        "cpu, cuda, cuda:N or mps.")
    data: DataConfig = field(default_factory=DataConfig)
    preprocess: PreprocessConfig = field(default_factory=PreprocessConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    algorithm: AlgorithmConfig = field(default_factory=AlgorithmConfig)
    fusion: FusionConfig = field(default_factory=FusionConfig)
    optimizer: OptimizerConfig = field(default_factory=OptimizerConfig)
    training: TrainingConfig = field(default_factory=TrainingConfig)
    pretrained: PretrainedConfig = field(default_factory=PretrainedConfig)

    def copy(self) -> "ExperimentConfig":
        return copy.deepcopy(self)


_DEVICES = ("auto", "cpu", "cuda", "mps")
_SECTIONS = {"data": DataConfig, "preprocess": PreprocessConfig, "model": ModelConfig,
             "optimizer": OptimizerConfig, "training": TrainingConfig,
             "pretrained": PretrainedConfig}
_COMPONENTS = {"algorithm": ALGORITHMS, "fusion": FUSIONS}
_ORDER = ("data", "preprocess", "model", "algorithm", "fusion", "optimizer", "training",
          "pretrained")


def split_seed(cfg: ExperimentConfig) -> int:
    """The seed of the run's train / validation / test split (``data.split_seed``, or the
    run's ``seed`` when that is -1)."""
    return cfg.data.split_seed if cfg.data.split_seed >= 0 else cfg.seed


# ---------------------------------------------------------------- dict <-> config

def to_dict(cfg: ExperimentConfig) -> dict:
    """The config as the TOML document it is saved as (``schema_version`` first)."""
    out: dict[str, Any] = {"schema_version": SCHEMA_VERSION, "description": cfg.description,
                           "seed": cfg.seed, "device": cfg.device}
    for name in _ORDER:
        value = getattr(cfg, name)
        out[name] = (to_table(value) if name in _SECTIONS
                     else {"name": value.name, "params": to_table(value.params)})
    return out


def from_dict(raw: dict, *, file: str | Path | None = None) -> ExperimentConfig:
    """Check and build a config from a parsed TOML document (any schema version)."""
    file = str(file) if file is not None else None
    if not isinstance(raw, dict):
        raise ConfigError("expected a TOML table at the top level", file=file)
    raw = migrate(raw, file=file)
    raw = dict(raw)
    raw.pop("schema_version", None)
    kwargs: dict[str, Any] = {}
    for key, value in raw.items():
        if key == "description":
            if not isinstance(value, str):
                raise ConfigError(f"got {value!r}, expected a string", file=file, key=key,
                                  value=value, allowed="a string")
            kwargs[key] = value
        elif key == "seed":
            kwargs[key] = _check_seed(value, file)
        elif key == "device":
            kwargs[key] = _check_device(value, file)
        elif key in _SECTIONS:
            kwargs[key] = build(_SECTIONS[key], value, prefix=key, file=file)
        elif key in _COMPONENTS:
            kwargs[key] = _build_component(key, value, file)
        else:
            known = ", ".join(["schema_version", "description", "seed", "device", *_SECTIONS,
                               *_COMPONENTS])
            raise ConfigError(f"unknown key (known top-level keys: {known})", file=file,
                              key=key, value=value, allowed=known)
    cfg = ExperimentConfig(**kwargs)
    check(cfg, file=file)
    return cfg


def _check_seed(value: Any, file: str | None) -> int:
    allowed = "an integer from 0 to 4294967295"
    if isinstance(value, int) and not isinstance(value, bool) and 0 <= value < 2**32:
        return value
    raise ConfigError(f"got {value!r}, expected {allowed}", file=file, key="seed", value=value,
                      allowed=allowed)


def _check_device(value: Any, file: str | None) -> str:
    allowed = "auto, cpu, cuda, cuda:N or mps"
    if isinstance(value, str):
        base, _, index = value.partition(":")
        if value in _DEVICES or (base == "cuda" and index.isdigit()):
            return value
    raise ConfigError(f"got {value!r}, expected {allowed}", file=file, key="device", value=value,
                      allowed=allowed)


def _build_component(key: str, table: Any, file: str | None):
    registry = _COMPONENTS[key]
    cls = AlgorithmConfig if key == "algorithm" else FusionConfig
    if not isinstance(table, dict):
        raise ConfigError(f"expected a table with 'name' and 'params', got {table!r}",
                          file=file, key=key)
    unknown = set(table) - {"name", "params"}
    if unknown:
        raise ConfigError("unknown key (known keys here: name, params)", file=file,
                          key=f"{key}.{sorted(unknown)[0]}", allowed="name, params")
    name = table.get("name", cls.name)
    if not isinstance(name, str) or name not in registry:  # a list cannot even be looked up
        allowed = ", ".join(repr(n) for n in registry)
        raise ConfigError(f"got {name!r}, expected one of {allowed}", file=file,
                          key=f"{key}.name", value=name, allowed=allowed)
    try:
        params = build(registry[name].params, table.get("params", {}), prefix=f"{key}.params",
                       file=file)
    except ConfigError as exc:
        if "name" in table:
            raise
        # Parameters of another component under a default name: say which name was assumed.
        raise ConfigError(f"{exc.detail} ({key}.name is not set, so the default {name!r} is "
                          "used)", file=file, key=exc.key, value=exc.value,
                          allowed=exc.allowed) from None
    return cls(name=name, params=params)


def migrate(raw: dict, *, file: str | None = None) -> dict:
    """Upgrade a raw document to ``SCHEMA_VERSION`` through the ordered ``MIGRATIONS``.

    A file without ``schema_version`` is taken as current (a hand-written preset); a newer one
    is refused, since silently dropping what a newer version wrote would lose settings.
    """
    version = raw.get("schema_version", SCHEMA_VERSION)
    if isinstance(version, bool) or not isinstance(version, int) or version < 0:
        raise ConfigError(f"got {version!r}, expected a whole number", file=file,
                          key="schema_version", value=version)
    if version > SCHEMA_VERSION:
        raise ConfigError(f"this file was written for schema {version}, newer than this "
                          f"Workbench understands ({SCHEMA_VERSION}); upgrade Workbench to "
                          "open it", file=file, key="schema_version", value=version,
                          allowed=f"<= {SCHEMA_VERSION}")
    raw = copy.deepcopy(raw)
    while version < SCHEMA_VERSION:
        step = MIGRATIONS.get(version)
        if step is None:
            raise ConfigError(f"no migration from schema {version}", file=file,
                              key="schema_version", value=version)
        raw = step(raw)
        version += 1
        raw["schema_version"] = version
    return raw


# ---------------------------------------------------------------- files

def loads(text: str, *, file: str | Path | None = None) -> ExperimentConfig:
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"not valid TOML: {exc}", file=file) from None
    except RecursionError:  # arrays or tables nested thousands deep: no preset is
        raise ConfigError("not a preset: its arrays or tables are nested too deeply to read",
                          file=file) from None
    except ValueError as exc:  # int() refuses over sys.get_int_max_str_digits() digits
        if "digits" not in str(exc):
            raise
        raise ConfigError("not a preset: it holds a number thousands of digits long, which no "
                          "setting takes", file=file) from None
    if not raw:  # an empty (or comments-only) file would train the defaults without a word
        raise ConfigError("the preset holds no settings (an empty file, or comments only); "
                          "expected at least its [algorithm] and [fusion] tables, as a "
                          "preset saved by the workbench has", file=file)
    return from_dict(raw, file=file)


def dumps(cfg: ExperimentConfig) -> str:
    return tomli_w.dumps(to_dict(cfg))


def load(path: str | Path) -> ExperimentConfig:
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ConfigError(f"cannot read: {exc.strerror or exc}", file=path) from None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError(f"not UTF-8 text (byte {exc.start})", file=path) from None
    return loads(text, file=path)


def save(cfg: ExperimentConfig, path: str | Path) -> Path:
    """Write atomically: a crash mid-save leaves the previous file as it was."""
    check(cfg, file=str(path))
    return atomic_write_bytes(path, dumps(cfg).encode("utf-8"))


# ---------------------------------------------------------------- overrides

def apply_overrides(cfg: ExperimentConfig, overrides: list[str]) -> ExperimentConfig:
    """A copy of ``cfg`` with ``dotted.key=value`` strings applied, each type-checked.

    ``algorithm.name`` and ``fusion.name`` are applied before any ``*.params.*`` key, and a
    new name starts from that component's defaults.
    """
    cfg = cfg.copy()
    pairs = []
    for item in overrides:
        key, sep, value = item.partition("=")
        key = key.strip()
        if not sep or not key:
            raise ConfigError(f"expected key=value, got {item!r}", key=item)
        pairs.append((key, value))
    pairs.sort(key=lambda kv: not kv[0].endswith(".name"))  # stable: names first
    for key, value in pairs:
        _apply_one(cfg, key, value)
    check(cfg)
    return cfg


def unused_settings(cfg: ExperimentConfig, keys: list[str]) -> list[str]:
    """For each dotted key of ``keys`` that ``cfg`` sets but does not use (another mode's
    parameter, see ``param(when=)``), a sentence saying so; overrides are told apart this
    way because a silently ignored ``--set`` is a run the user did not ask for."""
    notes = []
    for key in keys:
        section, _, name = key.rpartition(".")
        target: Any = cfg
        for part in section.split(".") if section else []:
            target = getattr(target, part, None)
        if target is None or not dataclasses.is_dataclass(target):
            continue
        info = next((i for i in describe(type(target)) if i.name == name), None)
        if info is not None and not info.applies(to_table(target)):
            notes.append(f"{key} is {info.condition()}, so this run ignores it")
    return notes


def param_infos(cfg: ExperimentConfig) -> dict[str, ParamInfo]:
    """Every scalar setting of ``cfg`` by dotted key (``optimizer.lr``,
    ``algorithm.params.init_temperature``), the top level's seed, description and device
    left out: what a form edits and a sweep may search."""
    out = {}
    for name in _ORDER:
        section = getattr(cfg, name)
        prefix, obj = (name, section) if name in _SECTIONS else (f"{name}.params",
                                                                 section.params)
        for info in describe(type(obj)):
            out[f"{prefix}.{info.name}"] = info
    return out


def _apply_one(cfg: ExperimentConfig, key: str, text: str) -> None:
    parts = key.split(".")
    if parts[0] in _COMPONENTS and parts[1:] == ["name"]:
        registry = _COMPONENTS[parts[0]]
        if text not in registry:
            allowed = ", ".join(repr(n) for n in registry)
            raise ConfigError(f"got {text!r}, expected one of {allowed}", key=key, value=text,
                              allowed=allowed)
        comp = getattr(cfg, parts[0])
        if comp.name != text:
            comp.name, comp.params = text, registry[text].params()
        return
    if key == "seed":
        try:
            value: Any = int(text)
        except ValueError:
            value = text
        cfg.seed = _check_seed(value, None)
        return
    if key in ("description", "device"):
        setattr(cfg, key, text if key == "description" else _check_device(text, None))
        return
    target: Any = cfg
    for part in parts[:-1]:
        if not hasattr(target, part) or not dataclasses.is_dataclass(getattr(target, part)):
            raise ConfigError(f"unknown key {key!r}", key=key)
        target = getattr(target, part)
    infos = {p.name: p for p in describe(type(target))}
    if parts[-1] not in infos:
        raise ConfigError(f"unknown key (known keys here: {', '.join(infos) or 'none'})",
                          key=key, allowed=", ".join(infos))
    setattr(target, parts[-1], infos[parts[-1]].parse(text, key=key))
