"""Class-stratified batches (data.stratify_batches): composition, epochs, seeds, errors, wiring."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from datamodules.policies import StratifiedBatchSampler
from physml.build import build_datamodule
from physml.errors import ConfigError
from tests.conftest import TINY, compose_config


def _labels() -> np.ndarray:
    # three classes of unequal size, interleaved as a store would hold them
    return np.array([0] * 10 + [1] * 13 + [2] * 11)[np.random.default_rng(3).permutation(34)]


def test_every_batch_holds_each_class_equally_and_no_index_twice_per_epoch() -> None:
    labels = _labels()
    sampler = StratifiedBatchSampler(labels, batch_size=6, seed=0)
    batches = list(sampler)
    assert len(batches) == len(sampler) == 5  # the smallest class (10) fills 5 batches of 2
    for batch in batches:
        assert Counter(labels[batch].tolist()) == {0: 2, 1: 2, 2: 2}
    drawn = [i for b in batches for i in b]
    assert len(drawn) == len(set(drawn)) == 30
    assert set(np.flatnonzero(labels == 0)) <= set(drawn)  # the smallest class is used whole


def test_order_is_seeded_and_changes_with_the_epoch() -> None:
    labels = _labels()
    a, b = StratifiedBatchSampler(labels, 6, seed=1), StratifiedBatchSampler(labels, 6, seed=1)
    assert list(a) == list(b)
    first = list(a)
    a.set_epoch(1)
    assert list(a) != first
    assert list(StratifiedBatchSampler(labels, 6, seed=2)) != first


@pytest.mark.parametrize(("batch_size", "message"), [(7, "multiples of the 3 classes"), (33, "at most 30")])
def test_impossible_batch_sizes_are_configuration_errors(batch_size: int, message: str) -> None:
    with pytest.raises(ConfigError, match=rf"data\.batch_size={batch_size} is invalid: allowed {message}"):
        StratifiedBatchSampler(_labels(), batch_size, seed=0)


def test_the_datamodule_feeds_stratified_batches_of_the_target(tmp_path: Path) -> None:
    cfg = compose_config([*TINY, "system.target=p_class", "data.stratify_batches=true", "data.batch_size=10",
                          "data.val_fraction=0"], tmp_path)
    dm = build_datamodule(cfg)
    dm.prepare_data()
    dm.setup("fit")
    batches = list(dm.train_dataloader())
    assert len(batches) == 4  # 8 training states per p, 2 per batch
    for batch in batches:
        assert sorted(batch["target"].tolist()) == [0, 0, 1, 1, 2, 2, 3, 3, 4, 4]
