"""``workbench`` with no command (or only gui options) opens the application."""

from __future__ import annotations

import pytest

from workbench import cli
from workbench.cli import gui


@pytest.fixture
def captured(monkeypatch):
    seen = []
    # The parser is built per call, so the sub-command picks up the replacement.
    monkeypatch.setattr(gui, "run_gui", lambda args: seen.append(args) or 0)
    return seen


@pytest.mark.parametrize("argv, preset, train, tab", [
    ([], None, False, None),
    (["--preset", "graph-gat-emoji", "--train"], "graph-gat-emoji", True, None),
    (["gui", "--tab", "Attention", "--screenshot", "x.png", "--after", "3"], None, False,
     "attention"),
])
def test_default_command_is_gui(captured, argv, preset, train, tab):
    assert cli.main(argv) == 0
    args = captured[-1]
    assert (args.preset, args.train, args.tab) == (preset, train, tab)


def test_other_commands_are_not_rewritten(captured, capsys):
    with pytest.raises(SystemExit):
        cli.main(["data", "--help"])
    assert "inspect" in capsys.readouterr().out
    assert captured == []
