"""Every experiment file composes with the real config tree and resolves completely."""

from __future__ import annotations

from pathlib import Path

import pytest
from omegaconf import OmegaConf

from physml.config import validate
from physml.errors import ConfigError
from tests.conftest import CONF_DIR, compose_config

EXPERIMENTS = sorted(p.stem for p in (Path(CONF_DIR) / "experiment").glob("*.yaml"))
SYSTEMS = sorted(p.stem for p in (Path(CONF_DIR) / "system").glob("*.yaml"))
MODELS = sorted(p.stem for p in (Path(CONF_DIR) / "model").glob("*.yaml"))


def test_there_is_an_experiment_per_paper_result() -> None:
    expected = {
        "quickstart",
        "percolation_p_classification",
        "percolation_p_regression",
        "percolation_spanning",
        "j1j2_vae_low_j2",
        "j1j2_vae_high_j2",
        "j1j2_vae_sizes",
        "anderson_w_classification",
        "anderson_phase",
        "anderson_volume_3d",
        "anderson_sizes",
        "lacbed_pix2pix",
        "lacbed_heldout_sg",
    }
    assert expected <= set(EXPERIMENTS)


@pytest.mark.parametrize("name", EXPERIMENTS)
def test_experiment_composes_and_validates(tmp_path: Path, name: str) -> None:
    cfg = compose_config([f"experiment={name}"], tmp_path)
    validate(cfg)
    resolved = OmegaConf.to_container(cfg, resolve=True)
    assert resolved["system"]["name"] in SYSTEMS
    assert resolved["model"]["name"] in MODELS


@pytest.mark.parametrize("hardware", ["cpu", "gpu", "ddp", "local_parallel", "slurm"])
def test_every_hardware_composes_with_every_system(tmp_path: Path, hardware: str) -> None:
    for system in SYSTEMS:
        cfg = compose_config([f"system={system}", f"hardware={hardware}"], tmp_path)
        assert cfg.trainer.accelerator in {"cpu", "gpu", "auto"}


def test_list_parameters_reach_simulators_as_plain_data(tmp_path: Path) -> None:
    """Hydra ListConfigs must not leak into params dataclasses (fingerprints hash them as JSON)."""
    from hydra.utils import instantiate

    from physml.store import DatasetSpec

    weights = "[" + ",".join("10" if sg in (221, 225, 227, 229) else "1" for sg in range(195, 231)) + "]"
    cfg = compose_config(
        ["system=lacbed", "model=pix2pix", "system.sampling=weighted", f"system.sg_weights={weights}"], tmp_path
    )
    simulator = instantiate(cfg.system.simulator)
    assert len(DatasetSpec(simulator, 1).fingerprint) == 16


@pytest.mark.parametrize("system", SYSTEMS)
def test_every_model_either_fits_a_system_or_is_refused_naming_both(tmp_path: Path, system: str) -> None:
    """The declared contracts decide, at start-up: no pairing may fail later in training."""
    fits = []
    for model in MODELS:
        cfg = compose_config([f"system={system}", f"model={model}"], tmp_path)
        try:
            validate(cfg)
            fits.append(model)
        except ConfigError as exc:
            assert f"model={model}" in str(exc) and f"system={system}" in str(exc), str(exc)
    assert fits, f"no model accepts system={system}"


LAPTOP = sorted(p.stem for p in (Path(CONF_DIR) / "scale_size" / "laptop").glob("*.yaml"))


@pytest.mark.parametrize("name", LAPTOP)
def test_every_laptop_size_belongs_to_an_experiment_and_validates(tmp_path: Path, name: str) -> None:
    assert name in EXPERIMENTS
    paper = compose_config([f"experiment={name}"], tmp_path)
    laptop = compose_config([f"experiment={name}", "scale=laptop"], tmp_path)
    validate(laptop)
    assert OmegaConf.to_container(laptop.system, resolve=True) != OmegaConf.to_container(paper.system, resolve=True)


def test_a_model_with_fixed_outputs_is_refused_for_other_targets(tmp_path: Path) -> None:
    """model=floodfill declares outputs: 2 (spanning or not): p_class (31 outputs) is refused
    at start-up, naming the target it can learn; spanning validates."""
    validate(compose_config(["system=percolation", "system.target=spanning", "model=floodfill"], tmp_path))
    cfg = compose_config(["system=percolation", "system.target=p_class", "model=floodfill"], tmp_path)
    with pytest.raises(ConfigError, match=r"built for 2 outputs.*has 31.*\['spanning'\]"):
        validate(cfg)
