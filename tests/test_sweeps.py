"""Sweeps and hardware: launcher composition, the DDP-in-multirun guard, job pinning,
collision-free run dirs, a real parallel multirun with its report, parallel shard generation."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from hydra import compose, initialize_config_dir
from hydra.core.global_hydra import GlobalHydra

import physml.launch as launch
from physml.config import register_resolvers
from physml.errors import ConfigError
from tests.conftest import CONF_DIR, TINY, compose_config

ROOT = Path(__file__).resolve().parents[1]
HARDWARE_KEYS = {"accelerator", "devices", "num_nodes", "strategy", "precision", "num_workers"}
ENV = {**os.environ, "PYTHONPATH": str(ROOT), "WANDB_MODE": "offline", "WANDB_SILENT": "true"}


def run_cmd(args: list[str], cwd: Path, timeout: int = 400) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, capture_output=True, text=True, cwd=cwd, env=ENV, timeout=timeout)


@pytest.mark.parametrize(
    ("hardware", "launcher"),
    [
        ("cpu", "BasicLauncher"),
        ("gpu", "BasicLauncher"),
        ("ddp", "BasicLauncher"),
        ("local_parallel", "JoblibLauncher"),
        ("slurm", "SlurmLauncher"),
    ],
)
def test_hardware_sets_trainer_keys_and_launcher(hardware: str, launcher: str) -> None:
    register_resolvers()
    GlobalHydra.instance().clear()
    with initialize_config_dir(config_dir=CONF_DIR, version_base="1.3"):
        cfg = compose("train", overrides=[f"hardware={hardware}"], return_hydra_config=True)
    assert HARDWARE_KEYS <= set(cfg.hardware)
    assert cfg.hydra.launcher._target_.endswith(launcher)
    if hardware == "slurm":  # one SLURM task per GPU, which Lightning's SLURMEnvironment maps to ranks
        assert cfg.hydra.launcher.tasks_per_node == cfg.hydra.launcher.gpus_per_node == cfg.hardware.devices
    if hardware == "local_parallel":
        assert cfg.hydra.launcher.n_jobs == cfg.hardware.parallel_jobs


def test_lightning_ddp_inside_multirun_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SLURM_NTASKS", raising=False)
    ddp = compose_config(["hardware=ddp", "hardware.accelerator=cpu", "hardware.devices=2"], tmp_path)
    with pytest.raises(ConfigError, match=r"hardware: strategy='ddp'.*local_parallel.*slurm"):
        launch.check_launch(ddp, multirun=True)
    launch.check_launch(ddp, multirun=False)  # a single DDP run is fine
    launch.check_launch(compose_config(["hardware=local_parallel"], tmp_path), multirun=True)
    monkeypatch.setenv("SLURM_NTASKS", "2")  # SLURM started the ranks: supported
    launch.check_launch(ddp, multirun=True)


def test_ddp_multirun_fails_at_start_up_from_the_command_line(tmp_path: Path) -> None:
    args = [sys.executable, str(ROOT / "train.py"), "-m", "hardware=ddp", "hardware.accelerator=cpu",
            "hardware.devices=2", "seed=0,1", f"paths.root_dir={tmp_path}", *TINY]
    done = run_cmd(args, tmp_path, timeout=120)
    assert done.returncode == 2
    assert "configuration error: hardware: strategy='ddp'" in done.stderr
    assert not (tmp_path / "data").exists()


def test_slots_are_exclusive_and_gpus_are_found_without_cuda(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(launch, "_SLOT", None)
    lock_dir = tmp_path / ".slots"
    assert launch.acquire_slot(lock_dir, 2) == 0
    assert launch.acquire_slot(lock_dir, 2) == 0  # a reused worker keeps its slot (and its GPU)
    code = f"import physml.launch as l; print(l.acquire_slot(__import__('pathlib').Path({str(lock_dir)!r}), 2))"
    other = run_cmd([sys.executable, "-c", code], ROOT, timeout=60)
    assert other.stdout.strip() == "1", other.stderr
    launch._SLOT[2].close()
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "2,3")
    assert launch._gpu_ids(None) == ["2", "3"]
    assert launch._gpu_ids([5]) == ["5"]


def test_run_dirs_never_collide_for_jobs_started_together(tmp_path: Path) -> None:
    # a bad value fails right after Hydra made the run dir: two such runs start in the same second
    args = [sys.executable, str(ROOT / "train.py"), f"paths.root_dir={tmp_path}", "system.L=1"]
    procs = [subprocess.Popen(args, cwd=tmp_path, env=ENV, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
             for _ in range(2)]
    for proc in procs:
        proc.wait(timeout=120)
    dirs = sorted((tmp_path / "runs" / "train").iterdir())
    assert len(dirs) == 2
    for d in dirs:  # each keeps its own rejected attempt; neither became a run
        (attempt,) = (d / ".hydra" / "attempts").iterdir()
        assert (attempt / "config.yaml").exists() and "system.L=1" in (attempt / "rejected.txt").read_text()
        assert not (d / ".hydra" / "config.yaml").exists()


@pytest.mark.slow  # ~60-120 s: three Python processes each import torch/lightning
def test_local_parallel_multirun_gives_separate_complete_runs_and_a_report(tmp_path: Path) -> None:
    args = [sys.executable, str(ROOT / "train.py"), "-m", "hardware=local_parallel", "seed=0,1",
            f"paths.root_dir={tmp_path}", *TINY]
    done = run_cmd(args, tmp_path)
    assert done.returncode == 0, done.stderr[-3000:]
    (sweep,) = (tmp_path / "runs" / "train").glob("multirun_*")
    runs = sorted(p for p in sweep.iterdir() if p.is_dir() and not p.name.startswith("."))
    assert [p.name for p in runs] == ["0", "1"]
    seeds = []
    for run in runs:
        summary = json.loads((run / "summary.json").read_text())
        assert summary["run_dir"] == str(run)
        assert (run / "checkpoints" / "last.ckpt").exists()
        assert (run / "predictions.zarr").exists()
        assert list((run / "csv").glob("version_*/metrics.csv"))
        seeds.append(next(o for o in (run / ".hydra" / "overrides.yaml").read_text().splitlines() if "seed=" in o))
    assert seeds == ["- seed=0", "- seed=1"]
    # both jobs ran at once, in different slots
    assert len(list((sweep / ".slots").glob("slot*.lock"))) == 2

    report = run_cmd([sys.executable, "-m", "physml.cli", "report", str(sweep)], ROOT, timeout=300)
    assert report.returncode == 0, report.stderr[-3000:]
    html = (sweep / "report.html").read_text()
    assert "2 run(s)" in html and "val/loss_min" in html and "±" in html
    assert html.count("data:image/png;base64,") >= 2 * 3 + 1  # 3 figures per run + the seed plot


@pytest.mark.slow  # ~40-80 s
def test_simulate_multirun_fills_disjoint_shards_in_parallel(tmp_path: Path) -> None:
    physml = [sys.executable, "-m", "physml.cli", "simulate"]
    args = ["-m", "hardware=local_parallel", "split=train", "shards=0:5,5:10", f"paths.root_dir={tmp_path}",
            *TINY]
    done = run_cmd([*physml, *args], ROOT)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "shards 0..4 of 10" in done.stdout and "shards 5..9 of 10" in done.stdout
    (path,) = (tmp_path / "data" / "percolation").glob("*.zarr")
    info = run_cmd([sys.executable, "-m", "physml.cli", "inspect", str(path), "--verify", "--json"], ROOT)
    described = json.loads(info.stdout)
    assert described["shards_complete"] == described["num_shards"] == 10
    assert described["corrupt_shards"] in ([], None, {})
    # a re-run finds everything complete and rewrites nothing
    stamps = {p: p.stat().st_mtime_ns for p in path.rglob("*") if p.is_file()}
    again = run_cmd([*physml, "split=train", f"paths.root_dir={tmp_path}", *TINY], ROOT)
    assert again.returncode == 0, again.stderr[-3000:]
    assert {p: p.stat().st_mtime_ns for p in path.rglob("*") if p.is_file()} == stamps
