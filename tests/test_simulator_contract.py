"""The Simulator contract, checked for every registered system's simulator.

A system is registered by its ``conf/system/<name>.yaml``; its simulator is built from
that config at the tiny debug size (``debug=tiny``), so a new system is covered here
without editing this file. Physics checks live in each simulator's own test file.
"""

from __future__ import annotations

import pickle
from pathlib import Path

import numba
import numpy as np
import pytest
from hydra.utils import instantiate
from omegaconf import OmegaConf

from physml.errors import ConfigError
from physml.simulator import Simulator
from physml.store import DatasetSpec
from tests.conftest import CONF_DIR, compose_config

SYSTEMS = sorted(p.stem for p in (Path(CONF_DIR) / "system").glob("*.yaml"))


@pytest.fixture(scope="module", params=SYSTEMS)
def simulator(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Simulator:
    cfg = compose_config([f"system={request.param}", "debug=tiny"], tmp_path_factory.mktemp(request.param))
    return instantiate(cfg.system.simulator)


def _points(sim: Simulator) -> np.ndarray:
    """Two units at different grid points where there are several (the order is not sorted)."""
    return np.array([sim.num_points - 1, 0], dtype=np.int64)


def _equal(a: dict[str, np.ndarray], b: dict[str, np.ndarray]) -> bool:
    """Same keys and the same values (NaN equals NaN: a label may be 'not measured')."""
    return set(a) == set(b) and all(np.array_equal(a[k], b[k], equal_nan=a[k].dtype.kind == "f") for k in a)


def test_generate_matches_schema_in_shape_and_dtype(simulator: Simulator) -> None:
    points = _points(simulator)
    data = simulator.generate(points, np.random.default_rng(0))
    schema = simulator.schema()
    assert set(data) == set(schema)
    n = len(points) * simulator.samples_per_unit
    for name, spec in schema.items():
        assert data[name].shape == (n, *spec.shape), name
        assert data[name].dtype == np.dtype(spec.dtype), name


def test_same_generator_state_same_samples_and_new_state_new_samples(simulator: Simulator) -> None:
    points = _points(simulator)
    a = simulator.generate(points, np.random.default_rng(7))
    assert _equal(a, simulator.generate(points, np.random.default_rng(7)))
    assert not _equal(a, simulator.generate(points, np.random.default_rng(8)))


def test_results_do_not_depend_on_the_thread_count(simulator: Simulator) -> None:
    points = _points(simulator)
    a = simulator.generate(points, np.random.default_rng(3))
    threads = numba.get_num_threads()
    try:
        numba.set_num_threads(1)
        b = simulator.generate(points, np.random.default_rng(3))
    finally:
        numba.set_num_threads(threads)
    assert _equal(a, b)


def test_pickled_simulator_generates_the_same_samples(simulator: Simulator) -> None:
    """Generation workers receive the simulator by pickling (spawned processes)."""
    points = _points(simulator)
    copy = pickle.loads(pickle.dumps(simulator))
    assert _equal(simulator.generate(points, np.random.default_rng(5)), copy.generate(points, np.random.default_rng(5)))


def test_config_is_plain_data_and_fingerprints_differ_by_parameters(simulator: Simulator) -> None:
    config = simulator.config()
    assert OmegaConf.create(config) is not None  # plain, serialisable data
    again = type(simulator).from_config(**{k: config[k] for k in config})
    assert again.config() == config
    assert DatasetSpec(again, 2).fingerprint == DatasetSpec(simulator, 2).fingerprint
    assert DatasetSpec(simulator, 2, seed=1).fingerprint != DatasetSpec(simulator, 2).fingerprint


def test_unknown_parameter_is_refused_naming_the_allowed_ones(simulator: Simulator) -> None:
    with pytest.raises(ConfigError, match="allowed keys are") as info:
        type(simulator).from_config(**simulator.config(), no_such_parameter=1)
    assert info.value.field == "no_such_parameter"
