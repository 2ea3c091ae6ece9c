"""LACBED cGAN end to end: nets, the split protocol, training, figures, resume.

Default tests use ``FakeLACBED``: a cheap stand-in with the real simulator's exact schema
(a Bloch-wave solve costs seconds per crystal even at 32 px). One slow test runs the real
simulator at the smallest useful size.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pytest
import torch
from scipy.ndimage import gaussian_filter

from datamodules.lacbed import LACBEDDataModule
from lightning_modules.components.gan_nets import GlobalGenerator, MultiscaleDiscriminator, UNetGenerator
from physml.analysis.lacbed import SpaceGroupComparison
from physml.errors import ConfigError
from physml.predictions import load_predictions
from physml.runstore import RunRecord
from physml.simulator import ArraySpec, Simulator
from simulators.lacbed.simulator import lacbed_schema
from tests.conftest import TINY, compose_config
from train import train

GROUPS = (195, 216, 225, 227, 229)
GROUP_WEIGHTS = (0.1, 0.15, 0.45, 0.2, 0.1)  # imbalanced, as the ICSD is


@dataclasses.dataclass(frozen=True)
class FakeParams:
    n: int = 32


class FakeLACBED(Simulator):
    """Same arrays as LACBEDSimulator; the "pattern" is a smooth nonlinear map of the potential."""

    name: ClassVar[str] = "lacbed_fake"
    version: ClassVar[str] = "1"

    @classmethod
    def from_config(cls, n: int = 32, **_: Any) -> FakeLACBED:
        return cls(FakeParams(n=n))

    @property
    def num_points(self) -> int:
        return 1

    def schema(self) -> dict[str, ArraySpec]:
        return lacbed_schema(self.params.n, cif_width=64)

    def generate(self, points: np.ndarray, rng: np.random.Generator) -> dict[str, np.ndarray]:
        n, m = self.params.n, len(points)
        yy, xx = np.mgrid[0:n, 0:n] / n
        k = rng.integers(1, 4, size=(m, 2))
        phase = rng.random((m, 2)) * 2 * np.pi
        pot = np.cos(2 * np.pi * k[:, :1, None] * xx + phase[:, :1, None]) * np.cos(
            2 * np.pi * k[:, 1:, None] * yy + phase[:, 1:, None]
        )
        pot = (pot - pot.min(axis=(1, 2), keepdims=True)) / np.ptp(pot, axis=(1, 2), keepdims=True)
        disc = ((xx - 0.5) ** 2 + (yy - 0.5) ** 2) < 0.2
        pattern = disc * gaussian_filter(pot, (0, 1.0, 1.0), mode="wrap") ** 2
        return {
            "potential": pot.astype(np.float32),
            "pattern": pattern.astype(np.float32),
            "space_group": rng.choice(GROUPS, size=m, p=GROUP_WEIGHTS).astype(np.int16),
            "sg_symbol": np.full(m, b"X", dtype="S16"),
            "formula": np.full(m, b"Fk", dtype="S32"),
            "lattice_a": rng.uniform(3, 12, size=m).astype(np.float32),
            "thickness": np.full(m, 1000.0, dtype=np.float32),
            "cif": np.full(m, b"", dtype="S64"),
            "nbeams": np.full(m, 10, dtype=np.int32),
            "beam_r": np.full(m, np.nan, dtype=np.float32),
        }


TINY_LACBED = [
    "system=lacbed",
    "model=pix2pix",
    *TINY,
    "system.simulator._target_=tests.test_pix2pix.FakeLACBED.from_config",
]


def _datamodule(tmp_path: Path, **kwargs: Any) -> LACBEDDataModule:
    args = {
        "simulator": FakeLACBED(FakeParams(n=16)),
        "target": "pattern",
        "data_dir": str(tmp_path),
        "num_crystals": 200,
        "shard_units": 100,
        "batch_size": 50,
        "progress": False,
        **kwargs,
    }
    dm = LACBEDDataModule(**args)
    dm.prepare_data()
    dm.setup("fit")
    dm.setup("test")
    return dm


# ---- networks --------------------------------------------------------------------------
@pytest.mark.parametrize("size", [32, 64])
def test_networks_map_images_to_images_and_patches(size: int) -> None:
    x = torch.randn(2, 1, size, size)
    for gen in (UNetGenerator(image_size=size, ngf=8), GlobalGenerator(image_size=size, ngf=8, n_blocks=2)):
        y = gen(x)
        assert y.shape == x.shape and y.abs().max() <= 1.0  # tanh output
    outs = MultiscaleDiscriminator(image_size=size, ndf=8, num_scales=2, padding=2)(x, x)
    assert len(outs) == 2 and all(o[-1].shape[1] == 1 and o[-1].shape[-1] >= 1 for o in outs)
    assert outs[1][-1].shape[-1] < outs[0][-1].shape[-1]  # the second scale sees half the image


def test_unet_at_128_is_the_pix2pix_unet() -> None:
    gen = UNetGenerator(image_size=128)  # pix2pix "unet_128": 7 levels, 2 dropout blocks
    assert sum(p.numel() for p in gen.parameters()) == pytest.approx(41.8e6, rel=0.01)
    assert sum(isinstance(m, torch.nn.Dropout) for m in gen.modules()) == 2


def test_too_small_image_for_the_discriminator_fails_naming_the_field(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="n_layers=3"):
        MultiscaleDiscriminator(image_size=16, n_layers=3, num_scales=2, padding=1)
    with pytest.raises(ConfigError, match=r"model\.discriminator\.n_layers=3"):
        train(compose_config([*TINY_LACBED, "system.n=16", "model.discriminator.num_scales=2"], tmp_path))
    with pytest.raises(ConfigError, match=r"system\.n=48 is invalid: allowed a power of 2"):
        train(compose_config([*TINY_LACBED, "system.n=48"], tmp_path))
    assert not (tmp_path / "data").exists()


# ---- the paper's split protocol ----------------------------------------------------------
def test_random_split_is_a_fresh_80_20_partition_per_seed(tmp_path: Path) -> None:
    a = _datamodule(tmp_path, split_seed=0)
    parts = a.partition
    assert len(parts["test"]) == 40
    union = np.concatenate([parts["train"], parts["val"], parts["test"]])
    assert sorted(union.tolist()) == list(range(200))  # disjoint and complete
    assert len(parts["val"]) == 16  # 10 % of the remaining 160
    assert a.test_stream_names == ["test"] and "test" not in a.specs  # no separate test store
    assert len(list((tmp_path / "lacbed_fake").glob("*.zarr"))) == 1
    b = _datamodule(tmp_path, split_seed=1)
    assert not np.array_equal(b.partition["test"], parts["test"])
    again = _datamodule(tmp_path, split_seed=0)
    assert np.array_equal(again.partition["test"], parts["test"])
    batch = next(iter(a.test_dataloader()[0]))
    assert batch["input"].shape == (40, 1, 16, 16) and batch["target"].shape == (40, 1, 16, 16)
    assert batch["input"].min() >= -1 and batch["target"].max() <= 1
    assert set(batch) >= {"space_group", "lattice_a", "thickness", "index"} and "pattern" not in batch


def test_heldout_space_groups_are_never_trained_on(tmp_path: Path) -> None:
    dm = _datamodule(tmp_path, split="heldout_space_groups", heldout_space_groups=[216, 229])
    sg = _groups(dm)
    assert set(sg[dm.partition["test"]].tolist()) == {216, 229}
    assert not set(sg[np.concatenate([dm.partition["train"], dm.partition["val"]])].tolist()) & {216, 229}
    with pytest.raises(ConfigError, match="system.heldout_space_groups"):
        _datamodule(tmp_path, split="heldout_space_groups", heldout_space_groups=[230])
    with pytest.raises(ConfigError, match="heldout_space_groups=\\[\\]"):
        LACBEDDataModule(FakeLACBED(FakeParams()), "pattern", str(tmp_path), 10, split="heldout_space_groups")


def _groups(dm: LACBEDDataModule) -> np.ndarray:
    from physml.store import open_dataset

    return open_dataset(dm.specs["train"].path(dm.data_dir))["space_group"][...]


def test_balanced_sampler_draws_space_groups_evenly(tmp_path: Path) -> None:
    dm = _datamodule(tmp_path, balance_space_groups=True, batch_size=512)
    plain = _datamodule(tmp_path, balance_space_groups=False, batch_size=512)
    counts = {}
    for name, module in (("balanced", dm), ("plain", plain)):
        loader = module.train_dataloader()  # epochs advance the sampler's generator
        groups = np.concatenate([b["space_group"].numpy() for _ in range(30) for b in loader])
        counts[name] = np.array([(groups == g).mean() for g in GROUPS])
    np.testing.assert_allclose(counts["balanced"], 0.2, atol=0.03)
    assert counts["plain"].max() > 0.35  # group 225 dominates without balancing


# ---- training, figures, resume -------------------------------------------------------------
def test_gan_trains_tests_and_writes_figures(tmp_path: Path) -> None:
    cfg = compose_config(TINY_LACBED, tmp_path)
    metrics = train(cfg)
    run = Path(cfg.paths.output_dir)
    for name in ("examples_mean_median", "r_by_space_group", "r_vs_lattice", "r_histogram"):
        assert (run / "figures" / f"{name}.png").stat().st_size > 5000
    preds = load_predictions(run / "predictions.zarr")
    assert set(preds) == {"test"}
    test = preds["test"]
    assert test["pred_image"].shape == test["true_image"].shape == (8, 32, 32)
    assert metrics["test/R_mean"] == pytest.approx(float(test["R"].mean()), abs=1e-5)
    for key in (
        "speed/generator_ms_per_pattern_batch1",
        "speed/generator_ms_per_pattern_batch4",
        "speed/simulator_ms_per_pattern",
        "speed/speedup_batch1",
    ):
        assert metrics[key] > 0
    csv = next((run / "csv").glob("version_*/metrics.csv")).read_text()
    assert "val/R_mean" in csv and "val/loss" in csv and "train/loss_d" in csv
    summary = json.loads((run / "summary.json").read_text())
    assert "split_seed=0" in summary["datasets"]["test"]
    assert summary["metric_directions"]["val/R_mean"] == "max"  # reports keep the best, not the worst epoch


def test_space_group_comparison_pools_seeds_per_setting(tmp_path: Path) -> None:
    def record(label: str, seed: int, r: list[float], groups: list[int]) -> RunRecord:
        run = RunRecord(tmp_path / f"{label}{seed}", None, [f"system.balance_space_groups={label}", f"seed={seed}"])
        run.predictions = lambda: {"test": {"R": np.array(r), "space_group": np.array(groups)}}  # type: ignore[method-assign]
        return run

    runs = [
        record("false", 0, [0.9, 0.8], [225, 229]),
        record("false", 1, [0.7], [225]),
        record("true", 0, [0.6, 0.5], [225, 229]),
    ]
    study = SpaceGroupComparison()
    assert study.groups(runs[:2]) == []  # one setting only: nothing to compare
    result = study(study.groups(runs)[0])
    rows = {row["space_group"]: row for row in result.tables["r_by_space_group_compared"]}
    false, true = "system.balance_space_groups=false", "system.balance_space_groups=true"
    assert rows[225][f"R_mean [{false}]"] == pytest.approx(0.8) and rows[225][f"n [{false}]"] == 2
    assert rows[229][f"R_mean [{true}]"] == pytest.approx(0.5)
    assert result.metrics[f"compare/R_mean [{false}]"] == pytest.approx(0.8)


def test_pix2pixhd_variant_trains(tmp_path: Path) -> None:
    overrides = [o for o in TINY_LACBED if not o.startswith("model.")]
    cfg = compose_config(
        [
            *overrides,
            "model=pix2pixhd",
            "model.generator.ngf=8",
            "model.generator.n_blocks=1",
            "model.discriminator.ndf=8",
            "system.time_simulator_units=0",
        ],
        tmp_path,
    )
    metrics = train(cfg)
    assert metrics["speed/generator_ms_per_pattern_batch1"] > 0
    assert "speed/simulator_ms_per_pattern" not in metrics
    csv = next((Path(cfg.paths.output_dir) / "csv").glob("version_*/metrics.csv")).read_text()
    assert "train/loss_fm" in csv


def test_resume_restores_both_networks_and_both_optimizers(tmp_path: Path) -> None:
    overrides = [*TINY_LACBED, "~system.callbacks.speed"]
    train(compose_config(overrides, tmp_path))
    last = tmp_path / "run" / "checkpoints" / "last.ckpt"
    first = torch.load(last, weights_only=False)
    assert first["epoch"] == 0
    assert any(k.startswith("generator.") for k in first["state_dict"])
    assert any(k.startswith("discriminator.") for k in first["state_dict"])
    assert len(first["optimizer_states"]) == 2
    train(compose_config([*overrides, "trainer.max_epochs=2", "ckpt_path=last"], tmp_path))
    second = torch.load(last, weights_only=False)
    assert second["epoch"] == 1
    assert second["global_step"] == 2 * first["global_step"]
    # Adam's step counters continue from the restored state: 2 batches + 2 batches
    for opt in second["optimizer_states"]:
        steps = {float(s["step"]) for s in opt["state"].values()}
        assert steps == {4.0}
    changed = [
        k
        for k, v in second["state_dict"].items()
        if v.is_floating_point() and not torch.equal(v, first["state_dict"][k])
    ]
    assert any(k.startswith("generator.") for k in changed) and any(
        k.startswith("discriminator.") for k in changed
    )


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ("system.split=kfold", r"system\.split='kfold'.*random"),
        ("system.split=heldout_space_groups", r"system\.heldout_space_groups"),
        ("model.pixel_loss=huber", r"model\.pixel_loss='huber'.*mse"),
        ("model.adversarial_loss=wgan", r"model\.adversarial_loss"),
    ],
)
def test_bad_config_fails_at_start_up(tmp_path: Path, override: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        train(compose_config([*TINY_LACBED, override], tmp_path))
    assert not (tmp_path / "data").exists()


@pytest.mark.slow
def test_real_simulator_end_to_end(tmp_path: Path) -> None:
    """The Bloch-wave simulator at 32 px, 10 beams: a couple of minutes on 2 cores."""
    overrides = [o for o in TINY_LACBED if "simulator._target_" not in o and "num_crystals" not in o]
    cfg = compose_config(
        [*overrides, "system.nbeams=10", "system.num_crystals=16", "data.shard_units=8"], tmp_path
    )
    metrics = train(cfg)
    assert metrics["speed/simulator_ms_per_pattern"] > 0
    assert (Path(cfg.paths.output_dir) / "figures" / "examples_mean_median.png").exists()
