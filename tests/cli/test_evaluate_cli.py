"""``workbench evaluate``: a run's model on its own splits and on other data (transfer)."""

from __future__ import annotations

import json

import pytest

from fixtures import make_image_folder, make_npz, tiny_config
from workbench.cli import main
from workbench.core import config as C


def _train(tmp_path, capsys, source, *overrides) -> tuple[str, dict]:
    preset = C.save(tiny_config(source, "data.test_fraction=0.25", "optimizer.lr=0.01",
                                *overrides), tmp_path / "tiny.toml")
    out = tmp_path / "run"
    assert main(["train", str(preset), "--epochs", "3", "--out", str(out), "--json"]) == 0
    return str(out), json.loads(capsys.readouterr().out)


@pytest.fixture
def classifier(tmp_path, capsys):
    return _train(tmp_path, capsys, make_image_folder(tmp_path / "shapes", n_per_class=8),
                  "algorithm.name=classifier")


def test_the_test_split_again_gives_the_runs_own_test_metrics(classifier, capsys):
    run, trained = classifier
    assert main(["evaluate", run, "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["split"] == "test" and result["size"] == trained["test_size"]
    assert result["metrics"] == pytest.approx(trained["test_metrics"])
    assert result["chance"] == pytest.approx(trained["chance"]["test"])
    assert result["primary"] == "macro_f1"
    assert main(["evaluate", run, "--split", "val", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["metrics"] == pytest.approx(trained["metrics"])
    assert main(["evaluate", run]) == 0
    text = capsys.readouterr().out
    assert "macro_f1 *" in text and "CHANCE" in text


def test_other_data_is_scored_with_the_runs_vocabulary_and_labels(classifier, tmp_path,
                                                                  capsys):
    run, _ = classifier
    other = make_image_folder(tmp_path / "other", n_per_class=3, size=24)  # other size too
    assert main(["evaluate", run, "--data", str(other), "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["size"] == 12 and result["data"] == str(other)
    assert result["transfer"]["unknown_labels"] == 0
    # colours and shapes are known words; a few "number i" digits were only in the run's
    # held-out captions, so its vocabulary (built on training captions) lacks them
    assert 0.0 < result["transfer"]["oov_share"] < 0.2
    assert {"accuracy", "macro_f1"} <= result["metrics"].keys()


def test_labels_the_run_never_saw_are_left_out_and_counted(classifier, tmp_path, capsys):
    run, _ = classifier
    other = make_image_folder(tmp_path / "other", n_per_class=2)
    meta = other / "metadata.jsonl"
    lines = [json.loads(x) for x in meta.read_text().splitlines()]
    lines[0]["label"] = "purple"  # a colour the run never saw
    lines[1]["text"] = "a mauve blob"  # words it never saw
    meta.write_text("\n".join(json.dumps(x) for x in lines) + "\n")
    assert main(["evaluate", run, "--data", str(other), "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["transfer"]["unknown_labels"] == 1 and result["size"] == 7
    assert result["transfer"]["oov_share"] > 0


def test_inputs_of_another_kind_are_refused(classifier, tmp_path, capsys):
    run, _ = classifier
    assert main(["evaluate", run, "--data", str(make_npz(tmp_path / "f.npz"))]) == 1
    err = capsys.readouterr().err
    assert "not the kind this model reads" in err and "captions" in err


def test_the_graph_is_refused_on_other_data_with_the_reason(tmp_path, capsys):
    folder = make_image_folder(tmp_path / "shapes", n_per_class=4)
    run, _ = _train(tmp_path, capsys, folder, "algorithm.name=graph")
    assert main(["evaluate", run, "--data", str(folder)]) == 1
    assert "transductive" in capsys.readouterr().err
    assert main(["evaluate", run, "--split", "val"]) == 0  # its own data: fine


def test_no_test_split_says_so(tmp_path, capsys):
    folder = make_image_folder(tmp_path / "shapes", n_per_class=4)
    run, _ = _train(tmp_path, capsys, folder, "data.test_fraction=0.0")
    assert main(["evaluate", run, "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["size"] == 0 and result["metrics"] == {}
    assert any("no test split" in w for w in result["warnings"])


def test_a_missing_run_is_an_error(capsys, tmp_path):
    assert main(["evaluate", str(tmp_path / "nope")]) == 1
    assert "no such run folder" in capsys.readouterr().err
