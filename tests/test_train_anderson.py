"""End to end on tiny Anderson data: image route (w_class, phase, w), the 3D volume route on
the same stored states, the analysis' metrics on hand-made inputs, and config errors."""

from __future__ import annotations

import json
import math
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pytest
import torch
from omegaconf import OmegaConf

from datamodules.anderson import AndersonDataModule, phase_of, w_standardisation
from lightning_modules.components.resnet3d import resnet3d18
from physml.analysis.anderson import (
    AccuracyVsSize,
    adjacent_misclassification_fraction,
    ipr_baseline_accuracy,
    within_k_accuracy,
)
from physml.build import build_datamodule
from physml.errors import ConfigError
from physml.predictions import load_predictions
from physml.runstore import RunRecord, RunStore
from tests.conftest import TINY, compose_config
from train import train

W_VALUES = [15.0, 16.5, 18.0]  # conf/debug_size/tiny/anderson.yaml
TINY_ANDERSON = ["system=anderson", *TINY]
N_TEST = len(W_VALUES) * 4


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One data directory for the module: every route must reuse the same stored states."""
    return tmp_path_factory.mktemp("anderson_data")


def _config(overrides: list[str], tmp_path: Path, data_dir: Path):  # noqa: ANN202
    cfg = compose_config([*TINY_ANDERSON, *overrides], tmp_path)
    cfg.paths.data_dir = str(data_dir)
    return cfg


@pytest.mark.parametrize(
    ("overrides", "figures"),
    [
        (["system.target=w_class"], ["confusion_w.png", "accuracy_per_w.png", "ipr_vs_w.png"]),
        (["system.target=phase"], ["confusion_phase.png", "phase_vs_w.png"]),
        (["system.target=w"], ["regression_w.png"]),
    ],
    ids=["w_class", "phase", "w"],
)
def test_image_route_trains_tests_and_writes_figures(
    tmp_path: Path, data_dir: Path, overrides: list[str], figures: list[str]
) -> None:
    cfg = _config(overrides, tmp_path, data_dir)
    metrics = train(cfg)
    run = Path(cfg.paths.output_dir)
    for name in [*figures, "training_curves.png"]:
        assert (run / "figures" / name).stat().st_size > 1000, name
    test = load_predictions(run / "predictions.zarr")["test"]
    assert len(test["pred"]) == N_TEST
    # the derived phase label travels with every sample, whatever the target
    np.testing.assert_array_equal(test["phase"], phase_of(test["w"], 16.54))
    assert metrics["curves/epochs"] == 1
    target = cfg.system.target
    if target == "w_class":
        assert metrics["test/acc"] <= metrics["test/acc_within_one_class"]
        assert test["probs"].shape == (N_TEST, 3)
        np.testing.assert_allclose(metrics["test/acc"], np.mean(test["pred"] == test["w_index"]))
    elif target == "phase":
        np.testing.assert_allclose(metrics["test/acc"], np.mean(test["pred"] == test["phase"]))
        assert set(np.unique(test["target"])) == {0, 1}
    else:
        centre, scale = w_standardisation(W_VALUES)
        np.testing.assert_allclose(test["target"], (test["w"] - centre) / scale, rtol=1e-6)
        w_pred = centre + scale * test["pred"]
        np.testing.assert_allclose(metrics["test/mae"], np.mean(np.abs(w_pred - test["w"])), rtol=1e-5)
    summary = json.loads((run / "summary.json").read_text())
    assert set(summary["datasets"]) == {"train", "test"}


def test_volume_route_reads_the_same_dataset(tmp_path: Path, data_dir: Path) -> None:
    image_cfg = _config([], tmp_path / "image", data_dir)
    volume_cfg = _config(["system.input=volume", "model=resnet3d18"], tmp_path / "volume", data_dir)
    image_dm = build_datamodule(image_cfg)
    volume_dm = build_datamodule(volume_cfg)
    assert image_dm.fingerprints() == volume_dm.fingerprints()
    metrics = train(volume_cfg)
    run = Path(volume_cfg.paths.output_dir)
    assert (run / "figures" / "confusion_w.png").stat().st_size > 1000
    test = load_predictions(run / "predictions.zarr")["test"]
    assert len(test["pred"]) == N_TEST
    assert metrics["test/acc"] == pytest.approx(float(np.mean(test["pred"] == test["w_index"])))
    # one train and one test store, shared by both routes (and by the image tests above)
    assert len(list((data_dir / "anderson").glob("*.zarr"))) == 2


def test_volume_input_scaling(tmp_path: Path, data_dir: Path) -> None:
    cfg = _config(["system.input=volume", "model=resnet3d18"], tmp_path, data_dir)
    dm: AndersonDataModule = build_datamodule(cfg)
    M = 6
    uniform = np.full((M, M, M), 1.0 / M**3, dtype=np.float32)
    x = dm.make_input(uniform)
    assert x.shape == (1, M, M, M)
    torch.testing.assert_close(x, torch.zeros_like(x), atol=1e-6, rtol=0)  # log10(N/N) = 0
    peaked = np.zeros((M, M, M), dtype=np.float32)
    peaked[1, 2, 3] = 1.0
    y = dm.make_input(peaked)
    assert y[0, 1, 2, 3] == pytest.approx(np.log10(M**3), rel=1e-6)
    assert y.min() == pytest.approx(-10.0)  # the log floor


def test_periodic_3d_net_is_translation_invariant() -> None:
    """Circular padding: a shift by the net's total stride (16) leaves the output unchanged."""
    torch.manual_seed(0)
    net = resnet3d18(1, 3, stem="cubic", periodic=True).eval()
    x = torch.randn(1, 1, 32, 32, 32)
    with torch.no_grad():
        torch.testing.assert_close(net(x), net(torch.roll(x, (16, -16, 16), (2, 3, 4))), atol=1e-5, rtol=1e-5)


# ---- analysis pieces on hand-made inputs ------------------------------------------------
def test_adjacent_misclassification_fraction_on_a_hand_made_matrix() -> None:
    counts = np.array(
        [
            [5, 2, 1, 0],  # 2 adjacent, 1 two away
            [1, 6, 0, 0],  # 1 adjacent
            [0, 3, 4, 0],  # 3 adjacent
            [2, 0, 0, 7],  # 2 three away
        ]
    )
    # errors: 2 + 1 + 1 + 3 + 2 = 9; adjacent: 2 + 1 + 3 = 6
    assert adjacent_misclassification_fraction(counts) == pytest.approx(6 / 9)
    assert within_k_accuracy(counts, 1) == pytest.approx((22 + 6) / 31)
    assert math.isnan(adjacent_misclassification_fraction(np.diag([3, 4, 5])))


def test_training_history_merges_resumed_versions(tmp_path: Path) -> None:
    header = "epoch,step,train/loss,train/acc,val/loss,val/acc,test/acc\n"
    v0 = tmp_path / "csv" / "version_0"
    v1 = tmp_path / "csv" / "version_1"
    v0.mkdir(parents=True)
    v1.mkdir(parents=True)
    (v0 / "metrics.csv").write_text(header + "0,9,,,2.0,0.2,\n0,9,2.5,0.1,,,\n1,19,,,1.8,0.3,\n")
    # resumed after epoch 0's end: redoes epoch 1, adds epoch 2 and a test row without epoch
    (v1 / "metrics.csv").write_text(header + "1,19,,,1.5,0.4,\n1,19,2.0,0.3,,,\n2,29,,,1.6,0.35,\n,,,,,,0.4\n")
    store = RunStore(tmp_path)
    curves = store.history()
    assert list(curves) == [0, 1, 2]
    assert curves[0] == {"val/loss": 2.0, "val/acc": 0.2, "train/loss": 2.5, "train/acc": 0.1}
    assert curves[1]["val/loss"] == 1.5 and curves[1]["train/acc"] == 0.3
    assert curves[2] == {"val/loss": 1.6, "val/acc": 0.35}
    # best epochs follow the declared directions; an undeclared metric is not ranked
    assert store.best_metrics({"val/loss": "min", "val/acc": "max"}) == {"val/loss_min": 1.5, "val/acc_max": 0.4}
    assert store.best_metrics({"val/loss": "min"}) == {"val/loss_min": 1.5}


def _record(M: int, acc: float, seed: int) -> RunRecord:
    config = OmegaConf.create({"system": {"name": "anderson", "M": M, "target": "w_class", "w_values": W_VALUES}})
    return RunRecord(Path(f"run_{M}_{seed}"), config, [f"system.M={M}", f"seed={seed}"], metrics={"test/acc": acc})


def test_accuracy_vs_size_study_aggregates_runs_per_size() -> None:
    runs = [_record(20, 0.15, 0), _record(20, 0.17, 1), _record(40, 0.25, 0), _record(30, 0.2, 0)]
    study = AccuracyVsSize()
    groups = study.groups(runs)
    assert len(groups) == 1 and len(groups[0]) == 4
    assert study.groups(runs[:2]) == []  # one size: nothing to study
    result = study(groups[0])
    rows = result.tables["accuracy_vs_M_table"]
    assert [r["size"] for r in rows] == [20, 30, 40]
    assert rows[0]["mean"] == pytest.approx(0.16)
    assert rows[0]["std"] == pytest.approx(np.std([0.15, 0.17], ddof=1))
    assert rows[1]["n"] == 1 and math.isnan(rows[1]["std"])
    line = result.figures["accuracy_vs_M"].axes[0].lines[0]
    np.testing.assert_allclose(np.asarray(line.get_xdata(), dtype=float), [20, 30, 40])
    plt.close("all")


def test_ipr_baseline_separates_separable_classes() -> None:
    rng = np.random.default_rng(0)
    labels = np.repeat([0, 1, 2], 50)
    ipr = np.exp(rng.normal(loc=labels * 5.0, scale=0.1))
    assert ipr_baseline_accuracy(ipr, labels, np.arange(150)) == 1.0
    noise = np.exp(rng.normal(size=150))
    assert ipr_baseline_accuracy(noise, labels, np.arange(150)) < 0.6


# ---- configuration errors ----------------------------------------------------------------
@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (["system.target=colour"], r"system\.target='colour'.*phase.*w_class"),
        (["system.input=pixels"], r"system\.input='pixels'.*image.*volume"),
        (["system.volume_scale=cube"], r"system\.volume_scale='cube'"),
        (["system.target=phase", "system.w_c=20"], r"system\.w_c=20.*\[15, 18\]"),
        (["system.M=2"], r"system\.M=2 is invalid"),
        (["system.renderer=ink"], r"system\.renderer='ink'.*boxes"),
        (["model=resnet3d18"], r"model=resnet3d18 takes volumes.*system\.input one of \['volume'\]"),
        (["system.input=volume"], r"model=resnet18 takes images.*'volume' input"),
        (["system.input=volume", "model=resnet3d18", "model.net.stem=round"], r"model\.net\.stem='round'"),
    ],
)
def test_bad_config_fails_at_start_up_naming_the_field(tmp_path: Path, overrides: list[str], message: str) -> None:
    cfg = compose_config([*TINY_ANDERSON, *overrides], tmp_path)
    with pytest.raises(ConfigError, match=message):
        train(cfg)
    assert not (tmp_path / "data").exists(), "nothing may be generated before the config is checked"
