"""Security (issue 7, item 3): files from elsewhere are data, never code, and a dataset cannot
reach images outside its own folder unless the user says so.

- checkpoints are read with ``torch.load(weights_only=True)``: one holding a pickled object
  (here one whose unpickling would run a shell command) is refused with a clear message, and
  the command does not run;
- presets are TOML data: a Python expression is a TOML error or stays a literal string;
- no module of the workbench calls eval/exec/pickle loads, and every ``torch.load`` /
  ``np.load`` is the safe kind (checked on the source, so a new call cannot slip in);
- image paths with ``../..`` or absolute paths are refused by every source that names image
  files (CSV, image folder with metadata.jsonl or metadata.csv, COCO), and allowed by
  ``data.allow_outside_paths``, the CLI's ``--allow-outside-paths`` and (tested in
  tests/ui/test_data_panel.py) the Data panel's check box.
"""

from __future__ import annotations

import ast
import json
import os
from pathlib import Path

import pytest
import torch

import workbench
from data_helpers import COLORS, SIZE, save_image, write_csv, write_jsonl
from workbench.cli import main as cli_main
from workbench.core import config as C
from workbench.core.config import DataConfig
from workbench.core.data import DataError, load_pairs
from workbench.core.errors import ConfigError
from workbench.core.training.checkpoint import FORMAT, CheckpointError, load_checkpoint

PACKAGE = Path(workbench.__file__).parent


class _RunsCommand:
    """Unpickling this calls os.system: what a malicious checkpoint would carry."""

    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


class _PlainObject:
    pass


# ---------------------------------------------------------------- checkpoints

@pytest.mark.parametrize("payload, named", [
    ("command", "posix.system"),  # os.system as pickled on POSIX
    ("object", "_PlainObject"),
])
def test_checkpoint_with_a_pickled_object_is_refused(tmp_path, payload, named):
    marker = tmp_path / "ran"
    obj = _RunsCommand(marker) if payload == "command" else _PlainObject()
    path = tmp_path / "last.pt"
    torch.save({"format": FORMAT, "model": {"w": torch.zeros(2)}, "extra": obj}, path)
    with pytest.raises(CheckpointError) as info:
        load_checkpoint(path)
    msg = str(info.value)
    assert msg.startswith(f"{path}: refused") and named in msg, msg
    assert "could run code" in msg
    # torch's own text advises weights_only=False: exactly what must not be done here.
    assert "weights_only" not in msg and "\x1b[" not in msg
    assert not marker.exists()


def test_resuming_from_a_malicious_checkpoint_fails_the_run_cleanly(tmp_path, folder, dataset):
    from fixtures import tiny_config
    from workbench.core.training import Trainer
    marker = tmp_path / "ran"
    path = tmp_path / "evil.pt"
    torch.save({"format": FORMAT, "model": _RunsCommand(marker)}, path)
    end = Trainer(tiny_config(folder), dataset, resume_from=path).fit()
    assert end.status == "failed" and f"{path}: refused" in end.reason
    assert not marker.exists()


# ---------------------------------------------------------------- presets are data

def test_a_python_expression_in_a_preset_is_not_run(tmp_path):
    marker = tmp_path / "ran"
    code = f"__import__('os').system('touch {marker}')"
    bare = tmp_path / "bare.toml"
    bare.write_text(f"description = {code}\n")
    with pytest.raises(ConfigError, match=r"bare\.toml: not valid TOML"):
        C.load(bare)
    quoted = tmp_path / "quoted.toml"
    quoted.write_text(f"description = {json.dumps(code)}\n")
    cfg = C.load(quoted)
    assert cfg.description == code  # a string, kept verbatim
    saved = tmp_path / "saved.toml"
    C.save(cfg, saved)
    assert C.load(saved).description == code
    # Where a number is expected, an expression is a wrong type, not something to compute.
    for text, key in ((f"seed = {json.dumps('1 + 1')}\n", "seed"),
                      (f"[optimizer]\nlr = {json.dumps('1e-3 * 2')}\n", "optimizer.lr"),
                      (f"[training]\nepochs = {json.dumps(code)}\n", "training.epochs")):
        quoted.write_text(text)
        with pytest.raises(ConfigError) as info:
            C.load(quoted)
        assert info.value.key == key
    assert not marker.exists()


def test_an_expression_in_an_override_is_literal_or_refused(tmp_path):
    marker = tmp_path / "ran"
    code = f"__import__('os').system('touch {marker}')"
    cfg = C.apply_overrides(C.ExperimentConfig(), [f"description={code}",
                                                   f"data.source={code}"])
    assert cfg.description == code and cfg.data.source == code
    for key in ("seed", "training.epochs", "optimizer.lr", "model.text_self_attention"):
        with pytest.raises(ConfigError) as info:
            C.apply_overrides(C.ExperimentConfig(), [f"{key}={code}"])
        assert info.value.key == key
    assert not marker.exists()


def _calls(tree: ast.AST):
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            f = node.func
            name = f.id if isinstance(f, ast.Name) else \
                f"{getattr(f.value, 'id', '?')}.{f.attr}" if isinstance(f, ast.Attribute) else ""
            yield name, node


def test_no_code_loading_anywhere_in_the_package():
    """eval/exec, pickle/marshal/shelve/yaml loading and unsafe torch.load / np.load are
    absent from every module (the GUI included: it opens presets and runs too)."""
    offences = []
    files = sorted(PACKAGE.rglob("*.py"))
    assert len(files) > 50
    for file in files:
        tree = ast.parse(file.read_text(encoding="utf-8"), str(file))
        rel = file.relative_to(PACKAGE)
        for node in ast.walk(tree):
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                names = [a.name for a in node.names] + [getattr(node, "module", None) or ""]
                bad = [n for n in names if n.split(".")[0] in ("marshal", "shelve", "dill",
                                                               "cloudpickle", "yaml")]
                if bad:
                    offences.append(f"{rel}:{node.lineno}: imports {bad[0]}")
        for name, call in _calls(tree):
            kw = {k.arg: k.value for k in call.keywords}
            if name in ("eval", "exec", "compile", "__import__"):
                offences.append(f"{rel}:{call.lineno}: {name}()")
            elif name in ("pickle.load", "pickle.loads", "pickle.Unpickler"):
                offences.append(f"{rel}:{call.lineno}: {name}()")
            elif name == "torch.load" and not (
                    isinstance(kw.get("weights_only"), ast.Constant)
                    and kw["weights_only"].value is True):
                offences.append(f"{rel}:{call.lineno}: torch.load without weights_only=True")
            elif name == "np.load" and not (
                    isinstance(kw.get("allow_pickle"), ast.Constant)
                    and kw["allow_pickle"].value is False):
                offences.append(f"{rel}:{call.lineno}: np.load without allow_pickle=False")
    assert offences == []


def test_the_source_check_would_notice_an_unsafe_load(tmp_path):
    # The check above is only worth something if it can fail.
    tree = ast.parse("import torch, numpy as np\ntorch.load(p)\nnp.load(p)\neval(s)\n")
    assert [n for n, _ in _calls(tree)] == ["torch.load", "np.load", "eval"]


# ---------------------------------------------------------------- paths leaving the folder

def _images(root: Path) -> None:
    for i in range(2):
        save_image(root / f"{i}.png", COLORS[i])


def _outside(tmp_path: Path) -> Path:
    return save_image(tmp_path / "private" / "secret.png", (1, 2, 3))


def _csv(data: Path, bad: str) -> tuple[Path, Path]:
    _images(data)
    path = write_csv(data / "pairs.csv", ["image", "caption"],
                     [["0.png", "a red square"], [bad, "a secret"], ["1.png", "a green one"]])
    return path, path


def _jsonl(data: Path, bad: str) -> tuple[Path, Path]:
    _images(data)
    meta = write_jsonl(data / "metadata.jsonl", [
        {"file_name": "0.png", "text": "a red square"}, {"file_name": bad, "text": "a secret"},
        {"file_name": "1.png", "text": "a green one"}])
    return data, meta


def _metadata_csv(data: Path, bad: str) -> tuple[Path, Path]:
    _images(data)
    meta = write_csv(data / "metadata.csv", ["file_name", "text"],
                     [["0.png", "a red square"], [bad, "a secret"], ["1.png", "a green one"]])
    return data, meta


def _coco(data: Path, bad: str) -> tuple[Path, Path]:
    _images(data)
    doc = {"images": [{"id": 0, "file_name": "0.png"}, {"id": 1, "file_name": bad},
                      {"id": 2, "file_name": "1.png"}],
           "annotations": [{"image_id": i, "caption": c} for i, c in
                           enumerate(["a red square", "a secret", "a green one"])]}
    path = data / "captions.json"
    path.write_text(json.dumps(doc))
    return path, path


# source -> (builder, the row of the bad path: a CSV's line 3 under its header, a JSON-lines
# file's line 2, COCO's images entry 2)
SOURCES = {"csv": (_csv, 3), "imagefolder-jsonl": (_jsonl, 2),
           "imagefolder-csv": (_metadata_csv, 3), "coco": (_coco, 2)}


def _bad_values(tmp_path: Path) -> dict[str, str]:
    secret = _outside(tmp_path)
    return {"dotdot": "../private/secret.png", "deep dotdot": "sub/../../private/secret.png",
            "absolute": str(secret), "backslashes": "..\\private\\secret.png"}


@pytest.mark.parametrize("kind", ["dotdot", "deep dotdot", "absolute", "backslashes"])
@pytest.mark.parametrize("source", list(SOURCES))
def test_every_source_refuses_paths_outside_its_folder(tmp_path, source, kind):
    value = _bad_values(tmp_path)[kind]
    build, row = SOURCES[source]
    path, named = build(tmp_path / "data", value)
    with pytest.raises(DataError) as info:
        load_pairs(DataConfig(source=str(path)), SIZE)
    # (COCO also reports the annotation of the refused image, after it.)
    problem = info.value.problems[0]
    assert problem.file == str(named) and problem.row == row
    assert ("leaves the dataset folder" in problem.reason
            or "absolute image path" in problem.reason), problem.reason
    assert "data.allow_outside_paths" in problem.reason  # and how to allow it
    # Skipping the row loads the rest, and the secret image is in none of the pairs.
    table = load_pairs(DataConfig(source=str(path), on_error="skip"), SIZE)
    assert table.captions == ["a red square", "a green one"]
    # Allowed by the user, the same file loads the image from outside.
    table = load_pairs(DataConfig(source=str(path), allow_outside_paths=True), SIZE)
    assert "a secret" in table.captions
    secret = table.images[table.image_index[table.captions.index("a secret")]]
    assert tuple(secret[:, SIZE // 2, SIZE // 2]) == (1, 2, 3)


def test_the_images_setting_is_the_folder_paths_must_stay_in(tmp_path):
    # With data.images the paths are relative to that folder, and must stay inside it.
    images = tmp_path / "pictures"
    _images(images)
    save_image(tmp_path / "elsewhere.png", (1, 2, 3))
    path = write_csv(tmp_path / "lists" / "pairs.csv", ["image", "caption"],
                     [["0.png", "red"], ["../elsewhere.png", "outside"], ["1.png", "green"]])
    with pytest.raises(DataError, match="leaves the dataset folder"):
        load_pairs(DataConfig(source=str(path), images=str(images)), SIZE)
    table = load_pairs(DataConfig(source=str(path), images=str(images), on_error="skip"), SIZE)
    assert table.captions == ["red", "green"]


def test_cli_refuses_outside_paths_unless_allowed(tmp_path, capsys):
    path, _ = _csv(tmp_path / "data", _bad_values(tmp_path)["dotdot"])
    assert cli_main(["data", "inspect", str(path), "--json"]) == 1
    err = capsys.readouterr().err
    assert f"{path}, row 3" in err and "leaves the dataset folder" in err
    assert cli_main(["data", "inspect", str(path), "--json", "--allow-outside-paths"]) == 0
    assert json.loads(capsys.readouterr().out.strip().splitlines()[-1])["pairs"] == 3


def test_train_and_compare_take_the_allow_flag():
    from workbench.cli import build_parser
    from workbench.cli.common import config_from_arguments
    for command in ("train", "compare"):
        args = build_parser().parse_args([command, "contrastive-emoji"])
        assert config_from_arguments(args).data.allow_outside_paths is False
        args = build_parser().parse_args([command, "contrastive-emoji",
                                          "--allow-outside-paths"])
        assert config_from_arguments(args).data.allow_outside_paths is True
