"""Fixtures shared by the engine tests: the generated shapes folder and its tiny dataset, built
once per module that asks for them."""

from __future__ import annotations

import pytest

from fixtures import make_image_folder, tiny_config
from workbench.core.data import load_dataset


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    return make_image_folder(tmp_path_factory.mktemp("shapes"))


@pytest.fixture(scope="module")
def dataset(folder):
    return load_dataset(tiny_config(folder))
