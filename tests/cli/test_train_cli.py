"""``workbench train``: JSON output, run folder, errors."""

from __future__ import annotations

import json

import pytest

from fixtures import make_image_folder, tiny_config
from workbench.cli import main
from workbench.core import config as C


def test_train_json_and_run_folder(tmp_path, capsys):
    folder = make_image_folder(tmp_path / "shapes")
    preset = C.save(tiny_config(folder, "algorithm.name=classifier", "fusion.name=late"),
                    tmp_path / "tiny.toml")
    out = tmp_path / "run"
    code = main(["train", str(preset), "--epochs", "2", "--out", str(out), "--json",
                 "--set", "optimizer.lr=0.003"])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    result = json.loads(captured.out)
    assert result["algorithm"] == "classifier" and result["fusion"] == "late"
    assert result["epochs"] == 2 and result["run_dir"] == str(out)
    assert {"accuracy", "macro_f1", "loss"} <= result["metrics"].keys()
    cm = result["confusion_matrix"]
    assert cm["labels"] == ["blue", "green", "red", "yellow"]
    assert sum(map(sum, cm["matrix"])) == 6  # the validation pairs
    correct = sum(cm["matrix"][i][i] for i in range(4))
    assert correct / 6 == pytest.approx(result["metrics"]["accuracy"])
    assert "epoch 1/2" in captured.err and "epoch 2/2" in captured.err
    saved = C.load(out / "config.toml")
    assert saved.optimizer.lr == 0.003 and saved.training.epochs == 2
    lines = (out / "metrics.jsonl").read_text().splitlines()
    assert [json.loads(x)["epoch"] for x in lines] == [1, 2]
    summary = json.loads((out / "run.json").read_text())
    assert summary["status"] == "finished" and summary["metrics"] == result["metrics"]
    assert (out / "checkpoints" / "last.pt").is_file()


def test_retrieval_keys_in_json(tmp_path, capsys):
    folder = make_image_folder(tmp_path / "shapes")
    preset = C.save(tiny_config(folder), tmp_path / "c.toml")
    assert main(["train", str(preset), "--out", str(tmp_path / "r"), "--json"]) == 0
    metrics = json.loads(capsys.readouterr().out)["metrics"]
    for key in ("t2i_r1", "t2i_r5", "t2i_r10", "i2t_r1", "i2t_r5", "i2t_r10", "t2i_median_rank",
                "i2t_median_rank", "mean_recall"):
        assert key in metrics


def test_bad_inputs_exit_nonzero(tmp_path, capsys):
    assert main(["train", "no-such-preset"]) == 1
    assert "no preset named 'no-such-preset'" in capsys.readouterr().err
    assert main(["train", "contrastive-emoji", "--set", "fusion.name=early"]) == 1
    assert "contrastive cannot use 'early'" in capsys.readouterr().err
    assert main(["train", "contrastive-emoji", "--data", str(tmp_path / "none.csv")]) == 1
    assert "no such file or folder" in capsys.readouterr().err
    assert main(["train", "contrastive-emoji", "--set", "training.epochs=0"]) == 1
    assert "training.epochs" in capsys.readouterr().err


def test_an_override_the_run_does_not_use_is_noted(tmp_path, capsys):
    folder = make_image_folder(tmp_path / "shapes")
    preset = C.save(tiny_config(folder, "algorithm.name=autoencoder", "fusion.name=mean"),
                    tmp_path / "ae.toml")
    code = main(["train", str(preset), "--epochs", "1", "--out", str(tmp_path / "r"),
                 "--set", "algorithm.params.temperature=0.5",
                 "--set", "algorithm.params.corr_weight=0.2"])
    err = capsys.readouterr().err
    assert code == 0, err
    assert "note: algorithm.params.temperature is used only when corr_loss is 'infonce', so " \
           "this run ignores it" in err
    assert "corr_weight" not in err
    code = main(["train", str(preset), "--epochs", "1", "--out", str(tmp_path / "r2"),
                 "--set", "algorithm.params.temperature=0.5",
                 "--set", "algorithm.params.corr_loss=infonce"])
    assert code == 0 and "note:" not in capsys.readouterr().err


def test_a_run_is_named_after_the_preset_only_while_unchanged(tmp_path, capsys):
    from workbench.core.runs.store import list_runs
    folder = make_image_folder(tmp_path / "shapes")
    preset = C.save(tiny_config(folder, "algorithm.name=classifier", "fusion.name=late"),
                    tmp_path / "tiny.toml")
    assert main(["train", str(preset)]) == 0
    assert main(["train", str(preset), "--set", "algorithm.name=autoencoder",
                 "--set", "fusion.name=mean"]) == 0
    capsys.readouterr()
    runs = list_runs()
    [unchanged] = [r for r in runs if r.algorithm == "classifier"]
    [changed] = [r for r in runs if r.algorithm == "autoencoder"]
    assert unchanged.id.endswith("-tiny") and unchanged.preset == "tiny"
    assert changed.id.endswith("-autoencoder-mean-shapes")
    assert changed.preset == "tiny (changed)" and changed.algorithm == "autoencoder"


def test_train_on_error_skip_trains_without_the_bad_rows_and_says_which(tmp_path, capsys):
    """The README documents ``--on-error skip``; train refused it as a usage error."""
    from PIL import Image
    (tmp_path / "img").mkdir()
    rows = ["image,text,label"]
    for i in range(24):
        Image.new("RGB", (8, 8), (40 * (i % 4), 90, 200)).save(tmp_path / "img" / f"{i}.png")
        rows.append(f"img/{i}.png,colour number {i % 4},c{i % 4}")
    rows += ["img/missing.png,a lost image,c0", "img/3.png,,c3"]
    (tmp_path / "pairs.csv").write_text("\n".join(rows) + "\n")
    preset = C.save(tiny_config(tmp_path / "pairs.csv", "algorithm.name=classifier",
                                "fusion.name=late"), tmp_path / "p.toml")
    assert main(["train", str(preset), "--out", str(tmp_path / "fail")]) == 1
    assert "missing.png" in capsys.readouterr().err
    assert main(["train", str(preset), "--on-error", "skip", "--out", str(tmp_path / "run"),
                 "--json"]) == 0
    captured = capsys.readouterr()
    assert json.loads(captured.out)["status"] == "finished"
    assert "skipped 2 rows of" in captured.err
    assert "pairs.csv, row 26:" in captured.err and "pairs.csv, row 27:" in captured.err
    assert C.load(tmp_path / "run" / "config.toml").data.on_error == "skip"


def test_a_checkpoint_that_cannot_be_written_is_one_clear_line(tmp_path):
    """A full disk (here: the file-size limit, so the write fails as it would with ENOSPC)
    printed a Python traceback as the run's reason."""
    import resource
    import subprocess
    import sys

    from fixtures import make_npz
    data = make_npz(tmp_path / "feats.npz")
    preset = C.save(tiny_config(data, "algorithm.name=classifier", "fusion.name=late"),
                    tmp_path / "p.toml")
    out = tmp_path / "run"

    def small_files():  # in the child: any file write past 24 KB fails (EFBIG)
        resource.setrlimit(resource.RLIMIT_FSIZE, (24_000, 24_000))

    done = subprocess.run([sys.executable, "-m", "workbench", "train", str(preset), "--out",
                           str(out), "--epochs", "2"], capture_output=True, text=True,
                          timeout=300, preexec_fn=small_files)
    assert done.returncode == 1, done.stderr
    assert f"could not write the checkpoint {out / 'checkpoints' / 'last.pt'}" in done.stderr
    assert "no checkpoint had been written yet" in done.stderr
    assert "Traceback" not in done.stderr
    assert json.loads((out / "run.json").read_text())["status"] == "failed"
    assert not list(out.rglob("*.tmp"))  # the half-written temporary is gone


def test_resume_messages_say_what_differs_and_when_nothing_is_left(tmp_path, capsys):
    folder = make_image_folder(tmp_path / "shapes")
    preset = C.save(tiny_config(folder, "algorithm.name=classifier", "fusion.name=late"),
                    tmp_path / "c.toml")
    assert main(["train", str(preset), "--epochs", "2", "--out", str(tmp_path / "run")]) == 0
    ckpt = str(tmp_path / "run" / "checkpoints" / "last.pt")
    capsys.readouterr()
    # Another preset's model: named, not "a version of the workbench whose model differed".
    other = C.save(tiny_config(folder, "algorithm.name=contrastive", "fusion.name=mean"),
                   tmp_path / "other.toml")
    assert main(["train", str(other), "--resume", ckpt, "--epochs", "4"]) == 1
    err = capsys.readouterr().err
    assert "algorithm 'classifier' then, 'contrastive' now" in err
    assert "fusion 'late' then, 'mean' now" in err and "version of the workbench" not in err
    # Already past the epochs asked for: it said "finished: trained 1 epochs".
    assert main(["train", str(preset), "--resume", ckpt, "--epochs", "1"]) == 1
    err = capsys.readouterr().err
    assert "nothing left to train: the checkpoint has trained 2 epochs and training.epochs " \
           "= 1; give more epochs (--epochs 3 or more)" in err


def test_deeply_nested_files_and_damaged_checkpoints_are_messages(tmp_path, capsys):
    """A COCO JSON nested 100,000 deep and a TOML nested 5,000 deep gave a RecursionError;
    checkpoints with a key missing, a string epoch or a bad RNG state, tracebacks."""
    import torch
    deep = tmp_path / "deep.json"
    deep.write_text('{"images": [], "annotations": ' + "[" * 100_000 + "]" * 100_000 + "}")
    assert main(["data", "inspect", str(deep), "--set", "data.format=coco"]) == 1
    assert "nested too deeply" in capsys.readouterr().err
    toml = tmp_path / "deep.toml"
    toml.write_text("x = " + "[" * 5_000 + "]" * 5_000 + "\n")
    assert main(["train", str(toml)]) == 1
    err = capsys.readouterr().err
    assert "nested too deeply" in err and "Traceback" not in err

    folder = make_image_folder(tmp_path / "shapes")
    preset = C.save(tiny_config(folder, "algorithm.name=classifier", "fusion.name=late"),
                    tmp_path / "c.toml")
    assert main(["train", str(preset), "--out", str(tmp_path / "run")]) == 0
    good = torch.load(tmp_path / "run" / "checkpoints" / "last.pt", weights_only=True)
    cases = {"no-optim": ({k: v for k, v in good.items() if k != "optim"},
                          "'optim' should be the optimiser's state, found missing"),
             "string-epoch": ({**good, "epoch": "two"},
                              "'epoch' should be a whole number of epochs, found str 'two'"),
             "bad-rng": ({**good, "rng": {**good["rng"], "torch": torch.zeros(3,
                                                                              dtype=torch.uint8)}},
                         "its random-number state ('rng') cannot be restored")}
    capsys.readouterr()
    for name, (payload, expected) in cases.items():
        path = tmp_path / f"{name}.pt"
        torch.save(payload, path)
        assert main(["train", str(preset), "--resume", str(path), "--epochs", "3"]) == 1, name
        err = capsys.readouterr().err
        assert f"{path}: damaged checkpoint" in err and expected in err, err
        assert "Traceback" not in err


def test_degenerate_data_is_refused_or_warned_about_with_the_figures(tmp_path, capsys):
    """Issue 17, item 16: a split that cannot be validated stops before training (exit 1, no
    run folder); a trainable but weak one trains and says why its numbers are weak."""
    import numpy as np
    rng = np.random.default_rng(0)
    unique = tmp_path / "unique.npz"
    np.savez(unique, text=rng.normal(size=(50, 4)), image=rng.normal(size=(50, 3)),
             label=np.arange(50))
    out = tmp_path / "refused"
    code = main(["train", "classifier-late-emoji", "--data", str(unique), "--out", str(out),
                 "--set", "fusion.name=late"])
    err = capsys.readouterr().err
    assert code == 1 and not out.exists()
    assert "nothing to validate on: 50 pairs loaded: 50 for training, 0 for validation" in err
    assert "each of the 50 labels has one example" in err
    shapes = make_image_folder(tmp_path / "shapes")
    preset = C.save(tiny_config(shapes, "algorithm.name=classifier", "fusion.name=late"),
                    tmp_path / "tiny.toml")
    assert main(["train", str(preset), "--out", str(tmp_path / "run")]) == 0
    err = capsys.readouterr().err
    start = err.index("training classifier")
    assert err.index("warning: small held-out split (validation 6 pairs)") > start
    assert err.index("warning: small held-out split") < err.index("epoch 1/1")


def test_a_damaged_checkpoint_is_refused_before_the_data_loads(tmp_path, capsys):
    """Resuming from a damaged checkpoint says so first, not after minutes of decoding (here
    the data would fail too: the checkpoint's message comes first)."""
    bad = tmp_path / "last.pt"
    bad.write_bytes(b"not a checkpoint")
    code = main(["train", "contrastive-emoji", "--resume", str(bad), "--data",
                 str(tmp_path / "missing.csv"), "--out", str(tmp_path / "run")])
    err = capsys.readouterr().err
    assert code == 1 and f"{bad}: not a readable checkpoint" in err and "missing.csv" not in err


def test_a_coattention_run_records_its_attention_figures(tmp_path, capsys):
    folder = make_image_folder(tmp_path / "shapes")
    preset = C.save(tiny_config(folder, "algorithm.name=classifier",
                                "fusion.name=coattention", "model.image_encoder=patch",
                                "model.patch_size=4"), tmp_path / "co.toml")
    out = tmp_path / "run"
    code = main(["train", str(preset), "--epochs", "2", "--out", str(out), "--json"])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    stats = json.loads(captured.out)["attention_stats"]
    assert stats["epoch"] == 2 and 0 < stats["t2i_entropy"] <= 1
    assert stats["t2i_specificity"] >= 0 and "t2i_foreground_gain" in stats
    lines = [json.loads(x) for x in (out / "attention_stats.jsonl").read_text().splitlines()]
    assert lines[-1] == stats and [x["epoch"] for x in lines] == sorted(x["epoch"]
                                                                     for x in lines)
    assert json.loads((out / "run.json").read_text())["attention_stats"] == stats
    assert main(["runs", "show", str(out)]) == 0
    shown = capsys.readouterr().out
    assert f"word specificity {stats['t2i_specificity']:.4f} nats" in shown
    # continued from its epoch-1 checkpoint: the figures logged after it are cut back
    from workbench.core.runs.ownership import cut_back
    cut_back(out, 1, lines[0]["step"])
    kept = (out / "attention_stats.jsonl").read_text().splitlines()
    assert [json.loads(x)["step"] for x in kept] == [lines[0]["step"]]
