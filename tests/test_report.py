"""`physml report`: figures recomputed from predictions, seed aggregation, one offline HTML page."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
import yaml
from omegaconf import OmegaConf

from physml.report import build_report, group_runs, group_statistics, main
from physml.runstore import RunRecord, RunStore
from tests.conftest import TINY, compose_config
from train import train


@pytest.fixture(scope="module")
def trained_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One real tiny run, laid out as Hydra leaves it (config and overrides in .hydra/)."""
    tmp = tmp_path_factory.mktemp("report")
    overrides = [*TINY, "system.target=spanning"]
    cfg = compose_config(overrides, tmp)
    train(cfg)
    run = Path(cfg.paths.output_dir)
    (run / ".hydra").mkdir(exist_ok=True)
    OmegaConf.save(cfg, run / ".hydra" / "config.yaml")
    (run / ".hydra" / "overrides.yaml").write_text(yaml.safe_dump(overrides))
    return run


def fake_multirun(run: Path, root: Path, losses: list[float]) -> Path:
    """Copies of one run as the jobs of a seed × lr sweep, each with its own test/loss."""
    for job, (lr, seed) in enumerate([(lr, seed) for lr in ("0.1", "0.01") for seed in (0, 1)][: len(losses)]):
        dest = root / str(job)
        shutil.copytree(run, dest)
        overrides = ["system.L=16", f"model.optimizer.lr={lr}", f"seed={seed}"]
        (dest / ".hydra" / "overrides.yaml").write_text(yaml.safe_dump(overrides))
        summary = json.loads((dest / "summary.json").read_text())
        summary["metrics"]["test/loss"] = losses[job]
        (dest / "summary.json").write_text(json.dumps(summary))
    return root


def test_single_run_report_recomputes_figures_and_reads_curves(trained_run: Path) -> None:
    out = build_report(trained_run)
    html = out.read_text()
    assert html.startswith("<!DOCTYPE html>") and html.rstrip().endswith("</html>")
    for name in ("confusion_spanning", "spanning_probability", "p_proxy"):
        assert f'alt="{name}"' in html
        assert (trained_run / "report_files" / "run" / f"{name}.png").stat().st_size > 1000
    assert "val/loss_min" in html and "val/acc_max" in html and "spanning_vs_p" in html
    assert "http://" not in html and "https://" not in html  # self-contained: nothing to fetch
    best = RunStore(trained_run).best_metrics()
    import csv

    rows = list(csv.DictReader(next(trained_run.glob("csv/version_*/metrics.csv")).open()))
    assert best["val/loss_min"] == min(float(r["val/loss"]) for r in rows if r["val/loss"])


def test_multirun_report_aggregates_over_seeds_by_non_seed_overrides(trained_run: Path, tmp_path: Path) -> None:
    root = fake_multirun(trained_run, tmp_path / "multirun", [1.0, 3.0, 5.0, 5.0])
    assert main([str(root)]) == 0
    html = (root / "report.html").read_text()
    assert "4 run(s)" in html
    assert "overrides shared by all runs: <code>system.L=16</code>" in html
    assert "model.optimizer.lr=0.1" in html and "model.optimizer.lr=0.01" in html
    assert "2 ± 1.414" in html  # lr=0.1: test/loss 1 and 3
    assert "5 ± 0</td>" in html  # lr=0.01: 5 and 5 (a real spread of zero, not a single run)
    assert 'alt="seed_aggregate"' in html


def test_grouping_and_statistics() -> None:
    runs = [RunRecord(Path(f"/r/{i}"), None, [f"a={a}", f"seed={s}", "x=1"], metrics={"m": float(v)})
            for i, (a, s, v) in enumerate([(1, 0, 1), (1, 1, 2), (2, 0, 10), (2, 1, 20)])]
    fixed, groups = group_runs(runs)
    assert fixed == ["x=1"]
    assert list(groups) == ["a=1", "a=2"]
    mean, std, n = group_statistics(groups["a=2"])["m"]
    assert (mean, n) == (15.0, 2) and np.isclose(std, np.std([10, 20], ddof=1))


def test_report_errors_are_clear(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main([str(tmp_path)]) == 2
    assert "holds no run" in capsys.readouterr().err


@pytest.mark.slow
def test_report_renders_in_headless_chromium(trained_run: Path, tmp_path: Path) -> None:
    browser = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")
    if browser is None:
        pytest.skip("Chromium is not installed (apt-get install -y chromium)")
    root = fake_multirun(trained_run, tmp_path / "multirun", [1.0, 3.0])
    out = build_report(root)
    shot = tmp_path / "report.png"
    done = subprocess.run(
        [browser, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run", f"--user-data-dir={tmp_path / 'chrome'}",
         "--enable-logging=stderr", "--v=0", f"--screenshot={shot}", "--window-size=1200,2000", out.as_uri()],
        capture_output=True, text=True, timeout=120,
    )
    assert shot.exists() and shot.stat().st_size > 20_000, done.stderr[-2000:]
    assert "Uncaught" not in done.stderr and "ERR_FILE_NOT_FOUND" not in done.stderr
    from PIL import Image

    pixels = np.asarray(Image.open(shot).convert("RGB"), dtype=np.int16)
    colourful = np.abs(pixels - pixels.mean(axis=2, keepdims=True)).max(axis=2) > 40
    assert colourful.mean() > 0.002, "no coloured plot pixels: the embedded figures did not render"
