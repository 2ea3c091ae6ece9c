"""J1-J2 VAE: the ε metric, periodic conv stacks, region selection, boundaries, end to end."""

from __future__ import annotations

import csv
import json
import math
from pathlib import Path

import numpy as np
import pytest
import torch
from omegaconf import OmegaConf, open_dict
from torch import nn

from lightning_modules.components.vae_nets import ConvVAE, Encoder, circular_conv, conv_stack
from lightning_modules.vae import kl_divergence, spin_adapted_error
from physml.analysis.j1j2.boundaries import (
    boundary_from_eps,
    boundary_from_susceptibility,
    crossing_temperature,
    peak_temperature,
    susceptibility,
)
from physml.analysis.j1j2.figures import plot_phase_map
from physml.analysis.j1j2.grid import ChainCurves, chain_curves, grid_average
from physml.analysis.j1j2.phase_map import analyse_region, combine_regions, guess_region
from physml.build import build_datamodule
from physml.errors import ConfigError
from physml.predictions import load_predictions
from physml.report import build_report
from tests.conftest import TINY, compose_config
from train import train

TINY_J1J2 = ["system=j1j2", "model=vae", *TINY]
TINY_TEMPS = [0.2, 0.6, 1.0, 1.4, 1.8, 2.2, 2.6, 3.0]


# ---------------------------------------------------------------------------------------
# the spin-adapted error
# ---------------------------------------------------------------------------------------
def _spins(seed: int, n: int = 5, L: int = 8) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.randint(0, 2, (n, 1, L, L), generator=g).float()


def test_eps_identical_constant_inverse_and_worst() -> None:
    x = _spins(0)
    assert torch.allclose(spin_adapted_error(x, x), torch.zeros(5))
    assert torch.allclose(spin_adapted_error(x, torch.full_like(x, 0.5)), torch.full((5,), 0.25))
    assert torch.allclose(spin_adapted_error(x, 1.0 - x), torch.zeros(5))  # global flip is free
    idx = torch.arange(8)
    checker = ((idx[:, None] + idx[None, :]) % 2).float().expand(1, 1, 8, 8)
    assert torch.allclose(
        spin_adapted_error(checker, torch.ones_like(checker)), torch.tensor([0.5])
    )
    # the ferromagnet with a fraction f of flipped spins against the all-up reconstruction
    up = torch.ones(1, 1, 8, 8)
    up[..., :2, :] = 0.0  # f = 1/4
    assert torch.allclose(spin_adapted_error(up, torch.ones_like(up)), torch.tensor([0.25]))


def test_eps_bounded_by_half_and_symmetric_under_flip() -> None:
    x = _spins(1, n=200)
    x_hat = torch.rand(x.shape, generator=torch.Generator().manual_seed(2))
    eps = spin_adapted_error(x, x_hat)
    assert bool((eps >= 0).all()) and bool((eps <= 0.5 + 1e-7).all())
    assert torch.allclose(eps, spin_adapted_error(1.0 - x, x_hat))
    assert torch.allclose(kl_divergence(torch.zeros(3, 2), torch.zeros(3, 2)), torch.zeros(3))


# ---------------------------------------------------------------------------------------
# periodicity of the networks
# ---------------------------------------------------------------------------------------
def _shift(x: torch.Tensor, dy: int, dx: int) -> torch.Tensor:
    return torch.roll(x, shifts=(dy, dx), dims=(-2, -1))


@pytest.mark.parametrize(("dy", "dx"), [(1, 0), (0, 3), (5, 7)])
def test_circular_conv_stack_is_translation_equivariant(dy: int, dx: int) -> None:
    torch.manual_seed(0)
    stack = conv_stack([1, 4, 6], kernel_size=3).double()
    x = torch.randn(2, 1, 12, 12, dtype=torch.float64)
    assert torch.allclose(stack(_shift(x, dy, dx)), _shift(stack(x), dy, dx), atol=1e-12)
    # the same check fails for zero padding: the test sees the boundary
    zero = nn.Conv2d(1, 4, 3, padding=1).double()
    assert not torch.allclose(zero(_shift(x, dy, dx)), _shift(zero(x), dy, dx), atol=1e-6)
    assert circular_conv(1, 1).padding_mode == "circular"


def test_encoder_code_is_translation_invariant_and_decoder_equivariant() -> None:
    torch.manual_seed(0)
    enc = Encoder(image_size=10, latent_dim=3).double().eval()
    x = torch.randn(3, 1, 10, 10, dtype=torch.float64)
    mu, logvar = enc(x)
    mu_s, logvar_s = enc(_shift(x, 3, 8))
    assert torch.allclose(mu, mu_s, atol=1e-10) and torch.allclose(logvar, logvar_s, atol=1e-10)
    vae = ConvVAE(image_size=10, latent_dim=2, upsample=2).double().eval()
    coarse = torch.randn(2, vae.decoder.c0, 5, 5, dtype=torch.float64)
    out = vae.decoder.from_coarse(coarse)
    assert out.shape == (2, 1, 10, 10)
    # a shift of the coarse map by (1, 2) is a lattice shift of (2, 4) of the output
    assert torch.allclose(
        vae.decoder.from_coarse(_shift(coarse, 1, 2)), _shift(out, 2, 4), atol=1e-10
    )
    logits, mu, _ = vae(x)
    assert logits.shape == x.shape and mu.shape == (3, 2)
    with pytest.raises(ConfigError, match="upsample"):
        ConvVAE(image_size=9, upsample=2)


# ---------------------------------------------------------------------------------------
# the datamodule
# ---------------------------------------------------------------------------------------
def test_paper_training_regions_hold_1440_and_1800_configurations(tmp_path: Path) -> None:
    counts = {}
    for region in ("low_J2", "high_J2"):
        cfg = compose_config(["system=j1j2", "model=vae", f"system.region={region}"], tmp_path)
        dm = build_datamodule(cfg)  # builds specs only; nothing is generated
        counts[region] = dm.num_train_region_samples
        assert dm.simulator.samples_per_unit == 157
    assert counts == {"low_J2": 1440, "high_J2": 1800}
    assert not (tmp_path / "data").exists()


def test_region_selection_picks_only_the_ordered_low_t_region(tmp_path: Path) -> None:
    cfg = compose_config([*TINY_J1J2, "system.region=high_J2"], tmp_path)
    dm = build_datamodule(cfg)
    dm.prepare_data()
    dm.setup("fit")
    dm.setup("test")
    seen = []
    for name in ("train", "val"):
        ds = dm.datasets[name]
        for i in range(len(ds)):
            s = ds[i]
            seen.append((float(s["T"]), float(s["J2"])))
            assert s["input"].shape == (1, 8, 8)
            assert set(np.unique(s["input"].numpy())) <= {0.0, 1.0}
    T, J2 = np.array(seen).T
    assert len(seen) == 1 * 2 * 4  # T = 0.2 only, J2 in {0.8, 1.0}, 4 chains
    assert np.all(T <= 0.3 + 1e-6) and np.all((J2 >= 0.8 - 1e-6) & (J2 <= 1.5))
    test = dm.datasets["test"]
    assert len(test) == len(TINY_TEMPS) * 4 * 2  # whole grid, 2 test chains per J2
    assert set(dm.datasets) >= {"train", "val", "test", "test_examples"}


def test_empty_region_is_a_config_error(tmp_path: Path) -> None:
    cfg = compose_config(
        [*TINY_J1J2, "system.regions.low_J2.J2_min=2.0", "system.regions.low_J2.J2_max=3.0"],
        tmp_path,
    )
    with pytest.raises(ConfigError, match=r"system\.regions\.low_J2="):
        build_datamodule(cfg)


# ---------------------------------------------------------------------------------------
# boundary extraction on synthetic data
# ---------------------------------------------------------------------------------------
def _synthetic_eps(
    tc_of_j2: dict[float, float], n_chains: int = 12, seed: int = 0
) -> dict[str, np.ndarray]:
    """ε rising from 0 to 0.5 around T_c (a logistic step) with noise, chains as store units."""
    rng = np.random.default_rng(seed)
    T = np.round(np.arange(0.1, 4.0001, 0.05), 5)
    T_desc = T[::-1]  # units store the hottest temperature first
    cols: dict[str, list[np.ndarray]] = {"T": [], "J2": [], "eps": [], "index": []}
    unit = 0
    for j2, tc in tc_of_j2.items():
        for _ in range(n_chains):
            if math.isnan(tc):
                eps = 0.5 - 0.02 * rng.random(T.size)
            else:
                shift = rng.normal(0, 0.03)
                eps = 0.5 / (1 + np.exp(-(T_desc - tc - shift) / 0.05)) + 0.01 * rng.random(T.size)
            cols["T"].append(T_desc)
            cols["J2"].append(np.full(T.size, j2))
            cols["eps"].append(eps)
            cols["index"].append(unit * T.size + np.arange(T.size))
            unit += 1
    return {k: np.concatenate(v) for k, v in cols.items()}


def test_boundary_extractor_finds_a_known_crossing() -> None:
    truth = {0.0: 2.3, 0.2: 1.7, 0.5: math.nan, 1.0: 2.1}
    d = _synthetic_eps(truth)
    grid = grid_average(d["T"], d["J2"], d["eps"])
    chains = chain_curves(d["index"], d["T"], d["J2"], d["eps"])
    assert chains.values.shape == (4 * 12, grid.T.size) and np.all(np.isfinite(chains.values))
    rows = boundary_from_eps(grid, chains, threshold=0.25)
    for row in rows:
        tc = truth[round(row["J2"], 5)]
        if math.isnan(tc):
            assert math.isnan(row["T_c_eps"])
        else:
            assert abs(row["T_c_eps"] - tc) < 0.03
            assert 0 < row["T_c_eps_err"] < 0.05
            assert row["n_chains_crossing"] == 12
    # exact linear interpolation on a straight ramp
    assert crossing_temperature(
        np.array([1.0, 2.0, 3.0]), np.array([0.0, 0.2, 0.4]), 0.3
    ) == pytest.approx(2.5)
    assert math.isnan(crossing_temperature(np.array([1.0, 2.0]), np.array([0.4, 0.5]), 0.3))


def test_susceptibility_peak_of_a_known_curve() -> None:
    T = np.linspace(0.5, 3.0, 26)
    chi = 1.0 - (T - 1.93) ** 2
    assert peak_temperature(T, chi)[0] == pytest.approx(1.93, abs=1e-9)  # parabola is exact
    # chains: ordered (|m| ~ 1) below 1.5, disordered above -> χ peaks where they disagree
    rng = np.random.default_rng(0)
    tc = rng.normal(1.5, 0.05, size=(40, 1))
    m = np.where(T[None, :] < tc, 0.9, 0.05) + 0.01 * rng.random((40, T.size))
    curves = ChainCurves(np.zeros(40), T, m)
    stripe = ChainCurves(np.zeros(40), T, 0.01 * rng.random((40, T.size)))
    rows, _ = boundary_from_susceptibility(curves, stripe, n_sites=64, n_bootstrap=50)
    assert rows[0]["order_parameter"] == "magnetisation"
    assert abs(rows[0]["T_c_chi"] - 1.5) < 0.1 and rows[0]["T_c_chi_err"] < 0.1


def test_combined_map_from_two_synthetic_runs(tmp_path: Path) -> None:
    low = _synthetic_eps({0.0: 2.3, 0.2: 1.7, 0.8: math.nan, 1.0: math.nan})
    high = _synthetic_eps({0.0: math.nan, 0.2: math.nan, 0.8: 1.6, 1.0: 2.1}, seed=1)
    assert guess_region({"test": low}) == "low_J2" and guess_region({"test": high}) == "high_J2"
    phase_map = combine_regions(
        analyse_region({"test": low}, "low_J2", threshold=0.25), analyse_region({"test": high}, "high_J2", threshold=0.25)
    )
    assert len(plot_phase_map(phase_map).axes) == 1
    fr = phase_map.fractions()
    assert 0.2 < fr["ferromagnet"] < 0.3  # 2 of 4 J2 below ~2/4 of the T range
    assert 0.2 < fr["superantiferromagnet"] < 0.3
    table = {r["J2"]: r for r in phase_map.boundaries()}
    assert abs(table[0.0]["T_c_ferromagnet"] - 2.3) < 0.05 and math.isnan(
        table[0.0]["T_c_superantiferromagnet"]
    )
    assert abs(table[1.0]["T_c_superantiferromagnet"] - 2.1) < 0.05


# ---------------------------------------------------------------------------------------
# end to end
# ---------------------------------------------------------------------------------------
def test_train_both_regions_end_to_end_with_combined_map_in_the_report(tmp_path: Path) -> None:
    runs = tmp_path / "runs"
    cfg = compose_config([*TINY_J1J2, "system.region=low_J2"], tmp_path)
    with open_dict(cfg):
        cfg.paths.output_dir = str(runs / "low")
    metrics = train(cfg)
    run = Path(cfg.paths.output_dir)
    figs = run / "figures"
    for name in ("eps_map", "eps_curves", "boundary", "susceptibility", "latent", "examples"):
        assert (figs / f"{name}.png").stat().st_size > 1000, name
    with (figs / "boundary.csv").open() as fh:
        rows = list(csv.DictReader(fh))
    assert [float(r["J2"]) for r in rows] == [0.0, 0.3, 0.8, 1.0]
    assert {"T_c_eps", "T_c_eps_err", "T_c_chi", "T_c_chi_err", "order_parameter"} <= set(rows[0])
    preds = load_predictions(run / "predictions.zarr")
    assert preds["test"]["mu"].shape == (len(TINY_TEMPS) * 4 * 2, 2)
    assert preds["test_examples"]["recon"].shape == (len(TINY_TEMPS), 8, 8)
    eps = preds["test"]["eps"]
    assert metrics["test/eps_mean"] == pytest.approx(float(eps.mean()), rel=1e-5)

    cfg2 = compose_config([*TINY_J1J2, "system.region=high_J2"], tmp_path)  # the same datasets
    with open_dict(cfg2):
        cfg2.paths.output_dir = str(runs / "high")
    train(cfg2)
    for name, (path, overrides) in {"low": (run, ["system.region=low_J2"]), "high": (Path(cfg2.paths.output_dir), ["system.region=high_J2"])}.items():
        (path / ".hydra").mkdir(exist_ok=True)
        OmegaConf.save(cfg if name == "low" else cfg2, path / ".hydra" / "config.yaml")
        (path / ".hydra" / "overrides.yaml").write_text("\n".join(f"- {o}" for o in overrides) + "\n")
    build_report(runs)
    study = runs / "report_files" / "studies" / "phase_map_0"
    assert (study / "phase_map.png").stat().st_size > 1000
    fractions = json.loads((study / "analysis_metrics.json").read_text())
    assert sum(fractions.values()) == pytest.approx(1.0)


# ---------------------------------------------------------------------------------------
# robustness: symmetry augmentation, frozen chains, warnings
# ---------------------------------------------------------------------------------------
def test_lattice_symmetries_keep_the_energy_and_reach_both_stripe_orientations() -> None:
    from datamodules.j1j2 import LatticeSymmetries
    from simulators.j1j2 import energy_per_site, stripe_order

    rng = np.random.default_rng(0)
    L = 8
    spins = rng.choice([-1, 1], size=(32, L, L)).astype(np.int8)
    spins[:16] = np.where(np.arange(L)[None, None, :] % 2 == 0, 1, -1)  # columnar stripes
    x = torch.from_numpy((spins[:, None].astype(np.float32) + 1) / 2)
    batch = {"input": x, "target": x}
    out = LatticeSymmetries()(dict(batch), torch.Generator().manual_seed(1))
    assert out["target"] is out["input"] and not torch.equal(out["input"], x)
    back = out["input"][:, 0].numpy() * 2 - 1
    np.testing.assert_allclose(energy_per_site(back, 0.7), energy_per_site(spins, 0.7), atol=1e-12)
    np.testing.assert_allclose(stripe_order(back[:16]), 1.0)
    columns = [bool(np.all(s == s[:1])) for s in back[:16]]  # columnar: every row the same
    assert any(columns) and not all(columns)  # both orientations appear


def test_frozen_chains_cannot_put_the_susceptibility_peak_at_the_coldest_temperature() -> None:
    rng = np.random.default_rng(0)
    T = np.linspace(0.5, 3.0, 26)
    good = np.where(T[None, :] < rng.normal(1.5, 0.05, size=(30, 1)), 0.95, 0.05) + 0.01 * rng.random((30, T.size))
    stuck = np.where(T[None, :] < 1.5, rng.choice([0.0, 1.0], size=(10, T.size)), 0.05)  # domains flicker
    m = np.vstack([good, stuck])
    frozen = np.r_[np.zeros(30, bool), np.ones(10, bool)]
    curves = ChainCurves(np.zeros(40), T, m)
    stripe = ChainCurves(np.zeros(40), T, 0.01 * rng.random((40, T.size)))
    naive = peak_temperature(T, susceptibility(m, T, 64))[0]
    assert naive < 1.0  # over all chains and temperatures, the stuck chains' spike wins
    unflagged, _ = boundary_from_susceptibility(curves, stripe, n_sites=64, n_bootstrap=20)
    flagged, _ = boundary_from_susceptibility(curves, stripe, n_sites=64, n_bootstrap=20, frozen=frozen)
    assert abs(unflagged[0]["T_c_chi"] - 1.5) < 0.1  # the search starts above the saturated order
    assert abs(flagged[0]["T_c_chi"] - 1.5) < 0.1 and flagged[0]["frozen_fraction"] == pytest.approx(0.25)


def test_domain_walls_are_detected_from_the_energy() -> None:
    from simulators.j1j2 import energy_per_site, has_domain_walls

    L = 16
    up = np.ones((L, L), dtype=np.int8)
    wall = up.copy()
    wall[: L // 2] = -1  # two straight walls on the torus
    e = energy_per_site(np.stack([up, wall]), 0.2)
    assert list(has_domain_walls(e, np.array([0.2, 0.2]), L)) == [False, True]


def test_a_run_that_cannot_support_a_boundary_says_so() -> None:
    from physml.analysis.j1j2.analysis import boundary_warnings

    flat = _synthetic_eps({0.0: math.nan, 0.2: math.nan})  # ε ≈ 0.5 everywhere: no phase reconstructed
    reg = analyse_region({"test": flat}, "low_J2", {"T_max": 0.3, "J2_min": 0.0, "J2_max": 0.2})
    assert set(boundary_warnings(reg)) >= {"eps_in_high", "no_plateau_contrast"}
    good = _synthetic_eps({0.0: 2.3, 0.2: 1.7})
    reg = analyse_region({"test": good}, "low_J2", {"T_max": 0.3, "J2_min": 0.0, "J2_max": 0.2})
    assert boundary_warnings(reg) == {}


def test_phase_map_pairs_regions_chosen_by_experiment_files() -> None:
    """The scorecard's runs pick the region by experiment file (j1j2_vae_low_j2 / _high_j2), not by
    a system.region override: such a low/high pair on one grid and seed must form one map, and
    runs on different grids or seeds must not (the pairing once required equal overrides, so
    the scorecard reported 'no pair' for 12 finished runs)."""
    from types import SimpleNamespace

    from physml.analysis.j1j2.studies import PhaseMapStudy

    def run(experiment: str, region: str, seed: int, L: int) -> SimpleNamespace:
        settings = {"system.region": region, "seed": seed, "system.L": L, "system.J2_values": [0.0, 1.0],
                    "system.T_max": 4.0, "system.T_min": 0.1, "system.dT": 0.05}
        return SimpleNamespace(system="j1j2", overrides=[f"experiment={experiment}", f"system.L={L}", f"seed={seed}"],
                               setting=lambda key, default=None, s=settings: s.get(key, default))

    runs = [run("j1j2_vae_low_j2", "low_J2", s, L) for s in (0, 1) for L in (16, 30)]
    runs += [run("j1j2_vae_high_j2", "high_J2", s, L) for s in (0, 1) for L in (16, 30)]
    runs.append(run("j1j2_vae_high_j2", "high_J2", 2, 30))  # no low-J2 partner
    groups = PhaseMapStudy().groups(runs)
    assert len(groups) == 4
    for low, high in groups:
        assert (low.setting("system.region"), high.setting("system.region")) == ("low_J2", "high_J2")
        assert low.setting("seed") == high.setting("seed") and low.setting("system.L") == high.setting("system.L")
