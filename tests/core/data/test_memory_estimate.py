"""Decoded images are estimated before decoding and refused, with the figures, when they would
take more than data may (issue 17, item 8)."""

from __future__ import annotations

import pytest

from fixtures import make_image_folder, tiny_config
from workbench.core import config as C
from workbench.core.data import load_pairs
from workbench.core.data import images as images_module
from workbench.core.data.memory import (GB, MEMORY_SHARE, DataEstimate, memory_budget,
                                        size_text)
from workbench.core.errors import ConfigError, DataError


def test_the_issues_case_is_the_figure_it_reported():
    # 100,000 images at 256 x 256: the 18.3 GiB the loader used to try to allocate
    estimate = DataEstimate(images=100_000, image_size=256)
    assert estimate.pixel_bytes == 100_000 * 3 * 256 * 256
    assert size_text(estimate.total) == "18.3 GB"


def test_largest_image_size_is_the_largest_side_that_fits():
    budget = memory_budget(1.0)
    assert budget.bytes == GB and "data.max_memory_gb = 1" in budget.origin
    est = DataEstimate(images=10_000, image_size=256, features=10 * 1024 ** 2)
    side = est.largest_image_size(budget)
    assert DataEstimate(10_000, side, est.features).fits(budget)
    assert not DataEstimate(10_000, side + 1, est.features).fits(budget)


def test_without_a_limit_the_budget_is_half_the_memory_available(monkeypatch):
    from workbench.core.data import memory
    monkeypatch.setattr(memory, "available_memory", lambda: 8 * GB)
    budget = memory_budget(0)
    assert budget.bytes == int(MEMORY_SHARE * 8 * GB) and "8.0 GB available" in budget.origin
    monkeypatch.setattr(memory, "available_memory", lambda: None)
    assert memory_budget(0).allows(10 ** 15)  # unknown: nothing refused


def test_images_over_the_limit_are_refused_before_one_is_decoded(tmp_path, monkeypatch):
    folder = make_image_folder(tmp_path / "shapes")  # 24 images
    decoded = []
    real = images_module.decode_into
    monkeypatch.setattr(images_module, "decode_into",
                        lambda *a, **k: decoded.append(1) or real(*a, **k))
    cfg = tiny_config(folder, "preprocess.image_size=64", "data.max_memory_gb=0.0002")
    with pytest.raises(DataError) as err:
        load_pairs(cfg.data, cfg.preprocess.image_size)
    msg = str(err.value)
    assert "holding its 24 images at preprocess.image_size = 64 needs 288.0 KB " \
           "(24 x 3 x 64 x 64 bytes), more than the 209.7 KB data may take " \
           "(data.max_memory_gb = 0.0002)" in msg
    assert "preprocess.image_size = 54 or less would fit" in msg
    assert decoded == []
    # the size it names does fit
    table = load_pairs(cfg.data, 54)
    assert table.images.shape == (24, 3, 54, 54)


def test_the_built_in_pixels_are_checked_before_they_are_resized():
    cfg = C.apply_overrides(C.ExperimentConfig(), [
        "data.source=builtin:emoji", "preprocess.image_size=256", "data.max_memory_gb=0.1"])
    with pytest.raises(DataError) as err:
        load_pairs(cfg.data, cfg.preprocess.image_size)
    assert "holding its 1,870 images at preprocess.image_size = 256 needs 350.6 MB" \
        in str(err.value)
    assert "preprocess.image_size = 138 or less would fit" in str(err.value)


def test_the_limit_is_a_checked_setting():
    with pytest.raises(ConfigError, match="data.max_memory_gb"):
        C.apply_overrides(C.ExperimentConfig(), ["data.max_memory_gb=-1"])
