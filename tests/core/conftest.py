"""Fixtures shared by the engine tests: the tiny dataset of the shapes folder, built once per
module that asks for it."""

from __future__ import annotations

import pytest

from fixtures import tiny_config
from workbench.core.data import load_dataset


@pytest.fixture(scope="module")
def dataset(folder):
    return load_dataset(tiny_config(folder))
