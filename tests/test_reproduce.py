"""`physml reproduce`: verdicts follow from the numbers, the scorecard is written, runs resume."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from omegaconf import OmegaConf

from physml.reproduce.catalogue import STUDIES
from physml.reproduce.runner import Job, Study, StudyResults
from physml.reproduce.scorecard import write
from physml.reproduce.verdicts import FAIL, PASS, UNRELIABLE, Claim, threshold
from physml.runstore import RunRecord

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize(
    ("values", "limit", "at_least", "verdict"),
    [
        ([0.96, 0.97, 0.98], 0.95, True, PASS),
        ([0.80, 0.82, 0.81], 0.95, True, FAIL),
        ([0.90, 0.99, 0.96], 0.95, True, UNRELIABLE),  # within one standard deviation of the limit
        ([0.99, 0.99], 0.95, True, UNRELIABLE),  # fewer than three seeds
        ([2e-5, 3e-5, 4e-5], 1e-4, False, PASS),
        ([], 0.5, True, FAIL),
    ],
)
def test_threshold_verdicts(values: list[float], limit: float, at_least: bool, verdict: str) -> None:
    assert threshold(values, limit, at_least=at_least).verdict == verdict


def test_a_warning_makes_a_verdict_unreliable() -> None:
    assert threshold([0.99, 0.99, 0.99], 0.5, flags=["eps_in_high"]).verdict == UNRELIABLE


def test_scorecard_records_every_claim_and_a_claim_that_raises_fails(tmp_path: Path) -> None:
    def runs(values: list[float]) -> dict[str, RunRecord]:
        return {f"seed{i}": RunRecord(Path(f"s{i}"), OmegaConf.create({}), [], metrics={"test/acc": v}) for i, v in enumerate(values)}

    study = Study(
        "toy",
        "a toy study",
        lambda scale: [Job("seed0", ())],
        [
            Claim("acc", "accuracy", "99 %", "≥ 95 %", lambda r: threshold(r.metric("test/acc"), 0.95)),
            Claim("broken", "a claim that raises", "—", "—", lambda r: 1 / 0),
        ],
    )
    results = StudyResults(study, runs([0.97, 0.98, 0.99]), [], {}, seconds=120.0)
    record = write([results], tmp_path, "laptop", 1.0)
    claims = {c["claim"]: c for c in record["studies"][0]["claims"]}
    assert claims["acc"]["verdict"] == PASS and "98" in claims["acc"]["value"]
    assert claims["broken"]["verdict"] == FAIL and "ZeroDivisionError" in claims["broken"]["reason"]
    assert json.loads((tmp_path / "scorecard.json").read_text())["scale"] == "laptop"
    table = (tmp_path / "scorecard.md").read_text()
    assert "| toy | accuracy | 99 % |" in table and "1 pass, 1 fail, 0 unreliable" in table


def test_every_study_lists_its_runs_and_every_run_composes(tmp_path: Path) -> None:
    from physml.config import validate
    from tests.conftest import compose_config

    for name, study in STUDIES.items():
        jobs = study.jobs("laptop")
        assert jobs and len({j.name for j in jobs}) == len(jobs), name
        assert study.claims, name
        validate(compose_config([*jobs[0].overrides, "scale=laptop"], tmp_path))


@pytest.mark.slow
def test_reproduce_end_to_end_resumes_and_writes_the_scorecard(tmp_path: Path) -> None:
    """Three tiny percolation runs (debug=tiny), the scorecard, and a rerun that runs nothing."""
    command = [sys.executable, "-m", "physml.cli", "reproduce", "--study", "percolation_spanning",
               "--override", "debug=tiny", "--out", str(tmp_path / "out"), "--docs", str(tmp_path / "docs")]
    first = subprocess.run(command, capture_output=True, text=True, cwd=ROOT)
    assert first.returncode == 0, first.stderr[-2000:]
    summaries = sorted((tmp_path / "out" / "percolation_spanning").glob("seed*/summary.json"))
    assert len(summaries) == 3
    stamps = [p.stat().st_mtime for p in summaries]
    assert (tmp_path / "docs" / "scorecard.md").exists() and (tmp_path / "out" / "report.html").exists()
    again = subprocess.run(command, capture_output=True, text=True, cwd=ROOT)
    assert again.returncode == 0 and [p.stat().st_mtime for p in summaries] == stamps


def test_cost_counts_resnet18_flops_and_the_configured_states() -> None:
    """Independent values: torchvision publishes 1.814 GMAC for ResNet18 on a 3x224x224 image
    (``ResNet18_Weights.IMAGENET1K_V1.meta['_ops']``). On 1 channel with 2 outputs the first
    convolution costs a third (118.0 -> 39.3 MMAC) and the head 1 instead of 513 kMAC: 1.735 GMAC,
    i.e. 3.47 GFLOP. States: 31 p x (900 train + 100 test) at the laptop scale."""
    from physml.reproduce.cost import job_cost

    cost = job_cost("x", ("experiment=percolation_spanning", "system.L=224", "model.net.stem=imagenet"), "paper")
    assert cost.forward_flops == pytest.approx(2 * (1.814e9 - 118.0e6 + 39.3e6 - 0.51e6), rel=0.01)
    assert cost.train_flops_per_sample == 3 * cost.forward_flops
    laptop = job_cost("x", ("experiment=percolation_p_classification",), "laptop")
    states = sorted(n for _, n in laptop.datasets.values())
    assert states == [31 * 100, 31 * 900] and laptop.train_samples == 31 * 900 and laptop.epochs == 3
    sizes = {b // n for b, n in laptop.datasets.values()}
    assert len(sizes) == 1 and sizes.pop() >= 32 * 32  # at least the uint8 lattice per state


def test_cost_flag_prints_a_table_and_rejects_a_bad_rate(capsys: pytest.CaptureFixture[str]) -> None:
    from physml.reproduce import main

    run = ["--cost", "--study", "percolation_spanning"]
    assert main([*run, "--scale", "laptop"]) == 0
    out = capsys.readouterr().out
    assert "| percolation_spanning | 3 |" in out and "GPU-hours" in out
    assert main([*run, "--tflops", "0"]) == 2
    assert "--tflops 0.0: allowed numbers > 0" in capsys.readouterr().err
