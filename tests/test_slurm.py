"""hardware=slurm on a real single-node SLURM cluster (``make test-slurm``), and its start-up checks.

The ``slurm``-marked tests start a private cluster (tests/slurm/cluster.py: Debian's slurm-wlm
and munge, installed when absent; needs root) and run physml's SLURM path for real:
hydra-submitit-launcher -> sbatch job arrays -> srun -> Lightning's SLURMEnvironment (gloo DDP).
They are excluded from ``make test``. Each prints its wall time and command to stderr (``-s``).
The unmarked tests at the end check the preflight (partitions, GPUs/CPUs/memory per node)
without a cluster.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest
from hydra import compose, initialize_config_dir
from hydra.core.global_hydra import GlobalHydra
from omegaconf import DictConfig, OmegaConf

from physml.config import register_resolvers
from physml.errors import ConfigError
from physml.requeue import events
from physml.slurm import (
    Node,
    SlurmPreflight,
    check_partition,
    check_resources,
    cluster_nodes,
    cluster_partitions,
    gres_gpus,
)
from tests.conftest import CONF_DIR
from tests.slurm.cluster import SlurmCluster
from tests.slurm.fixtures import slurm_cluster  # noqa: F401 - the session fixture

ROOT = Path(__file__).resolve().parents[1]
# debug=tiny: percolation at L = 16, 5 p values, one epoch of 2 batches (conf/debug*). 15 test
# samples (3 per p): DistributedSampler on 2 ranks pads one duplicate that must be dropped.
TINY = ["debug=tiny", "system.test_per_p=3", "system.target=spanning"]
ENDED = ("COMPLETED", "FAILED", "CANCELLED", "TIMEOUT", "NODE_FAIL", "OUT_OF_MEMORY", "PREEMPTED", "BOOT_FAIL")
TRAIN = [sys.executable, str(ROOT / "train.py")]
PHYSML = [sys.executable, "-m", "physml.cli"]


def slurm_cpu(tasks: int = 1, partition: str = "debug") -> list[str]:
    """hardware=slurm for CPU-only jobs that fit the test node (2 CPUs, no GPUs): ``tasks`` ranks each."""
    return ["hardware=slurm", "hardware.accelerator=cpu", "hardware.gpus_per_node=0", f"hardware.tasks_per_node={tasks}",
            "hardware.cpus_per_task=1", "hardware.num_workers=0", "hydra.launcher.mem_gb=1",
            "hydra.launcher.timeout_min=20", f"hydra.launcher.partition={partition}"]


def run_timed(name: str, args: list[str], cwd: Path, timeout: int = 1500) -> subprocess.CompletedProcess[str]:
    """Run a command with the cluster's environment; print its wall time (shown live with ``-s``)."""
    env = {**os.environ, "PYTHONPATH": str(ROOT), "WANDB_MODE": "offline", "WANDB_SILENT": "true",
           "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "NUMBA_NUM_THREADS": "1"}
    start = time.perf_counter()
    done = subprocess.run(args, capture_output=True, text=True, cwd=cwd, env=env, timeout=timeout)
    wall = time.perf_counter() - start
    shown = shlex.join(a.replace(sys.executable, "python").replace(str(ROOT) + "/", "") for a in args)
    print(f"\n[slurm] {name}: wall {wall:.1f} s (exit {done.returncode})\n    {shown}", file=sys.stderr, flush=True)
    return done


def job_logs(sweep: Path, suffix: str) -> dict[str, str]:
    """submitit's per-task logs ``.submitit/<job>/<job>_<task>_log.<suffix>``, by file name."""
    return {p.name: p.read_text(errors="replace") for p in sorted(sweep.glob(f".submitit/*/*_log.{suffix}"))}


def failure(done: subprocess.CompletedProcess[str], sweep: Path | None = None) -> str:
    logs = job_logs(sweep, "err") if sweep is not None and sweep.exists() else {}
    tails = "\n".join(f"--- {name}\n{text[-1500:]}" for name, text in logs.items())
    return f"{done.stderr[-3000:]}\n{tails}"


# ---------------------------------------------------------------- on the real cluster


@pytest.fixture(scope="module")
def cluster_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Data and runs shared by the training tests (the DDP job reuses the sweep's dataset)."""
    return tmp_path_factory.mktemp("slurm_runs")


@pytest.fixture(scope="module")
def sweep(slurm_cluster: SlurmCluster, cluster_root: Path) -> Path:  # noqa: F811
    """A 2-point training multirun through hardware=slurm: 2 array tasks, one per seed."""
    args = [*TRAIN, "-m", *slurm_cpu(), "seed=0,1", f"paths.root_dir={cluster_root}", *TINY]
    done = run_timed("training sweep, 2 SLURM jobs", args, cluster_root)
    dirs = list((cluster_root / "runs" / "train").glob("multirun_*"))
    assert done.returncode == 0, failure(done, dirs[0] if dirs else None)
    (path,) = dirs
    return path


@pytest.mark.slurm
def test_unknown_partition_fails_before_anything_is_submitted(slurm_cluster: SlurmCluster,  # noqa: F811
                                                              tmp_path: Path) -> None:
    args = [*TRAIN, "-m", *slurm_cpu(partition="nope"), "seed=0,1", f"paths.root_dir={tmp_path}",
            *TINY]
    done = run_timed("unknown partition", args, tmp_path, timeout=300)
    assert done.returncode == 2, done.stderr[-3000:]
    assert ("physml: configuration error: hydra.launcher.partition='nope' is invalid: allowed null "
            "(the cluster's default) or one of the partitions sinfo lists: ['debug']") in done.stderr
    assert "Traceback" not in done.stderr
    assert not (tmp_path / "runs").exists()
    assert slurm_cluster.run("squeue", "-h").stdout.strip() == ""


@pytest.mark.slurm
def test_training_sweep_runs_each_point_as_its_own_slurm_job(sweep: Path,
                                                             slurm_cluster: SlurmCluster) -> None:  # noqa: F811
    runs = sorted(p for p in sweep.iterdir() if p.is_dir() and not p.name.startswith("."))
    assert [p.name for p in runs] == ["0", "1"]
    job_ids, seeds = [], []
    for run in runs:
        summary = json.loads((run / "summary.json").read_text())
        assert summary["run_dir"] == str(run)
        assert (run / "checkpoints" / "last.ckpt").exists()
        assert (run / "predictions.zarr").exists()
        assert list((run / "csv").glob("version_*/metrics.csv"))
        job_ids.append(str(OmegaConf.load(run / ".hydra" / "hydra.yaml").hydra.job.id))
        seeds.append(next(o for o in (run / ".hydra" / "overrides.yaml").read_text().splitlines() if "seed=" in o))
    assert seeds == ["- seed=0", "- seed=1"]
    # two tasks of one SLURM job array, each run by the scheduler to completion
    assert all(re.fullmatch(r"\d+_[01]", j) for j in job_ids) and len(set(job_ids)) == 2, job_ids
    for job_id in job_ids:  # submitit returns once the result is written; the job ends just after
        state = slurm_cluster.wait_for_state(job_id, ENDED, timeout=120)
        assert state["JobState"] == "COMPLETED", state
    assert set(job_logs(sweep, "out")) == {f"{j}_0_log.out" for j in job_ids}  # one task each


@pytest.mark.slurm
def test_report_on_the_slurm_sweep(sweep: Path) -> None:
    done = run_timed("physml report on the SLURM sweep", [*PHYSML, "report", str(sweep)], ROOT, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    html = (sweep / "report.html").read_text()
    assert "2 run(s)" in html and "val/loss_min" in html and "±" in html
    assert html.count("data:image/png;base64,") >= 2 * 3 + 1  # 3 figures per run + the seed plot


@pytest.mark.slurm
def test_two_rank_ddp_job_started_by_srun_matches_one_process(sweep: Path, cluster_root: Path) -> None:
    """Job 0 of the sweep tested its best checkpoint in one process; 2 srun tasks test it again."""
    from physml.predictions import load_predictions

    single = sweep / "0"
    ckpt = next((single / "checkpoints").glob("epoch*.ckpt"))
    ddp_sweep = cluster_root / "ddp_sweep"
    args = [*TRAIN, "-m", *slurm_cpu(tasks=2), "stage=test", f"ckpt_path={ckpt}", "seed=0",
            f"paths.root_dir={cluster_root}", f"hydra.sweep.dir={ddp_sweep}", *TINY]
    done = run_timed("2-task DDP job (srun, gloo)", args, cluster_root)
    assert done.returncode == 0, failure(done, ddp_sweep)
    # SLURM started both ranks: one submitit log per task, and rank 1 joined the process group
    errs = job_logs(ddp_sweep, "err")
    assert sorted(re.search(r"_(\d+)_log\.err$", n).group(1) for n in errs) == ["0", "1"], list(errs)
    rank1 = next(text for name, text in errs.items() if name.endswith("_1_log.err"))
    assert "GLOBAL_RANK: 1, MEMBER: 2/2" in rank1, rank1[-2000:]

    ref = load_predictions(single / "predictions.zarr")
    got = load_predictions(ddp_sweep / "0" / "predictions.zarr")
    assert set(got) == set(ref) == {"test", "test_pc"}
    for stream in ref:
        order = np.argsort(ref[stream]["index"])
        assert len(got[stream]["index"]) == len(ref[stream]["index"])  # 15, not 16: padding dropped
        np.testing.assert_array_equal(got[stream]["index"], ref[stream]["index"][order])
        for key in ref[stream]:
            np.testing.assert_allclose(got[stream][key], ref[stream][key][order], rtol=1e-5, atol=1e-6)
    single_metrics = json.loads((single / "summary.json").read_text())["metrics"]
    ddp_metrics = json.loads((ddp_sweep / "0" / "summary.json").read_text())["metrics"]
    for key in ("test_pc/acc", "proxy/net_wrong", "proxy/n_test"):
        assert ddp_metrics[key] == pytest.approx(single_metrics[key], abs=1e-6)


@pytest.mark.slurm
def test_simulate_fans_shard_ranges_out_over_two_slurm_jobs(slurm_cluster: SlurmCluster,  # noqa: F811
                                                           tmp_path: Path) -> None:
    args = [*PHYSML, "simulate", "-m", *slurm_cpu(), "split=train", "shards=0:5,5:10", f"paths.root_dir={tmp_path}",
            "debug=tiny"]
    done = run_timed("physml simulate, 2 SLURM jobs", args, tmp_path)
    sweeps = list((tmp_path / "runs" / "simulate").glob("multirun_*"))
    assert done.returncode == 0, failure(done, sweeps[0] if sweeps else None)
    (sweep_dir,) = sweeps
    outs = job_logs(sweep_dir, "out")
    assert len(outs) == 2, list(outs)  # two jobs, each its own range
    assert sorted(re.search(r"shards \d+\.\.\d+ of 10", t).group(0) for t in outs.values()) == [
        "shards 0..4 of 10", "shards 5..9 of 10"]
    (path,) = (tmp_path / "data" / "percolation").glob("*.zarr")
    info = run_timed("physml inspect --verify", [*PHYSML, "inspect", str(path), "--verify", "--json"], ROOT,
                     timeout=300)
    assert info.returncode == 0, info.stderr[-3000:]
    described = json.loads(info.stdout)
    assert described["shards_complete"] == described["num_shards"] == 10
    assert described["corrupt_shards"] in ([], None, {})


@pytest.mark.slurm
def test_harness_requeue_restarts_a_running_job_in_place(slurm_cluster: SlurmCluster,  # noqa: F811
                                                         tmp_path: Path) -> None:
    """What a preemption test needs: ``scontrol requeue`` a running job; it runs again, same job id."""
    starts = tmp_path / "starts.txt"
    job_id = slurm_cluster.sbatch("-o", "/dev/null", "--wrap",
                                  f"echo ${{SLURM_RESTART_COUNT:-0}} >> {starts}; sleep 300")
    slurm_cluster.wait_for_state(job_id, ["RUNNING"])
    slurm_cluster.wait_until("first start", starts.exists, timeout=30)
    slurm_cluster.requeue(job_id)
    slurm_cluster.wait_until("second start", lambda: len(starts.read_text().split()) == 2, timeout=120)
    assert starts.read_text().split() == ["0", "1"]  # SLURM_RESTART_COUNT is unset on the first start
    assert slurm_cluster.job(job_id)["Restarts"] == "1"
    slurm_cluster.run("scancel", job_id)


@pytest.mark.slurm
def test_more_gpus_than_the_node_has_fails_before_anything_is_submitted(slurm_cluster: SlurmCluster,  # noqa: F811
                                                                       tmp_path: Path) -> None:
    args = [*TRAIN, "-m", *slurm_cpu(), "hardware.accelerator=gpu", "hardware.gpus_per_node=1",
            "hardware.tasks_per_node=1", "seed=0,1", f"paths.root_dir={tmp_path}", *TINY]
    done = run_timed("1 GPU per node on a node without GPUs", args, tmp_path, timeout=300)
    assert done.returncode == 2, done.stderr[-3000:]
    assert ("physml: configuration error: hydra.launcher.gpus_per_node=1 is invalid: allowed at most 0: the most "
            "GPUs a node of partition 'debug' has (sinfo GRES)") in done.stderr
    assert "Traceback" not in done.stderr and not (tmp_path / "runs").exists()
    assert slurm_cluster.run("squeue", "-h").stdout.strip() == ""


def _submitit_job_id(sweep: Path, timeout: float = 120) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = [p.name for p in (sweep / ".submitit").glob("*") if p.is_dir()] if (sweep / ".submitit").exists() else []
        if found:
            return found[0]
        time.sleep(0.5)
    raise AssertionError(f"no submitit job folder under {sweep}")


@pytest.mark.slurm
def test_scontrol_requeue_of_a_running_training_job_continues_the_same_run(slurm_cluster: SlurmCluster,  # noqa: F811
                                                                          cluster_root: Path,
                                                                          tmp_path: Path) -> None:
    """SLURM requeues a job mid-epoch (SIGTERM, then SIGKILL after KillWait = 5 s); it comes back in
    the same run directory and continues from the checkpoint saved at the interruption."""
    sweep, flag = tmp_path / "sweep", tmp_path / "paused"
    args = [*TRAIN, "-m", *slurm_cpu(), "seed=0", "trainer.max_epochs=3", "logger=many",
            f"paths.root_dir={cluster_root}", f"hydra.sweep.dir={sweep}", *TINY,
            "+callbacks.pause._target_=tests.requeue_helpers.PauseForSignal", "+callbacks.pause.global_step=2",
            f"+callbacks.pause.flag={flag}"]
    env = {**os.environ, "PYTHONPATH": str(ROOT), "WANDB_MODE": "offline", "WANDB_SILENT": "true",
           "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "NUMBA_NUM_THREADS": "1"}
    start = time.perf_counter()
    sweeper = subprocess.Popen(args, cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               text=True)
    try:
        job_id = _submitit_job_id(sweep)
        slurm_cluster.wait_until("training paused mid-epoch", flag.exists, timeout=600)
        assert flag.read_text().split() == ["1", "0", "2"]
        slurm_cluster.requeue(job_id)
        _, err = sweeper.communicate(timeout=900)
    finally:
        if sweeper.poll() is None:
            sweeper.kill()
    print(f"\n[slurm] training job requeued mid-epoch by scontrol: wall {time.perf_counter() - start:.1f} s",
          file=sys.stderr, flush=True)
    assert sweeper.returncode == 0, failure(subprocess.CompletedProcess(args, sweeper.returncode, "", err), sweep)
    assert slurm_cluster.job(job_id).get("Restarts") == "1"

    run = sweep / "0"
    assert sorted(p.name for p in sweep.iterdir() if not p.name.startswith(".") and p.is_dir()) == ["0"]
    history = events(run)
    assert [e["event"] for e in history] == ["started", "interrupted", "started"]
    interrupted, resumed = history[1], history[2]
    assert (interrupted["signal"], interrupted["epoch"], interrupted["global_step"]) == ("SIGTERM", 1, 3)
    assert interrupted["checkpoint_saved"] is True and interrupted["slurm_restart_count"] == 0
    assert (resumed["epoch"], resumed["global_step"], resumed["slurm_restart_count"]) == (1, 3, 1)
    assert resumed["ckpt_path"] == str(run / "checkpoints" / "last.ckpt")
    import torch

    state = torch.load(run / "checkpoints" / "last.ckpt", weights_only=False)
    assert (state["epoch"], state["global_step"]) == (2, 6)  # 3 epochs of 2 batches, as uninterrupted
    assert sorted(p.name for p in (run / "csv").iterdir()) == ["version_0", "version_1"]
    assert sorted(p.name for p in (run / "tensorboard").glob("*/version_*")) == ["version_0", "version_1"]
    attempts = sorted(p.name for p in (run / ".hydra" / "attempts").iterdir())
    assert [a.rsplit("_", 1)[1] for a in attempts] == ["restart0", "restart1"]
    wandb_id = (run / "wandb_run_id").read_text().strip()
    offline = sorted(p.name for p in (run / "wandb").glob("offline-run-*"))
    assert len(offline) == 2 and all(name.endswith(f"-{wandb_id}") for name in offline)  # one wandb run
    summary = json.loads((run / "summary.json").read_text())
    assert summary["run_dir"] == str(run) and summary["trackers"]["wandb_id"] == wandb_id


@pytest.mark.slurm
def test_optuna_search_runs_its_trials_as_slurm_jobs_on_one_study(slurm_cluster: SlurmCluster,  # noqa: F811
                                                                 cluster_root: Path, tmp_path: Path) -> None:
    import sqlite3

    sweep = tmp_path / "search"
    args = [*TRAIN, "-m", "experiment=percolation_spanning_search", *slurm_cpu(), "debug=tiny",
            "hydra.sweeper.n_trials=2", "hydra.sweeper.n_jobs=2", f"paths.root_dir={cluster_root}",
            f"hydra.sweep.dir={sweep}"]
    done = run_timed("Optuna search, 2 trials as 2 SLURM jobs", args, tmp_path)
    assert done.returncode == 0, failure(done, sweep)
    with sqlite3.connect(sweep / "optuna.db") as db:
        states = db.execute("SELECT number, state FROM trials ORDER BY number").fetchall()
    assert states == [(0, "COMPLETE"), (1, "COMPLETE")]
    job_ids = {str(OmegaConf.load(sweep / j / ".hydra" / "hydra.yaml").hydra.job.id) for j in ("0", "1")}
    assert len(job_ids) == 2 and all(re.fullmatch(r"\d+_[01]", j) for j in job_ids), job_ids


# ---------------------------------------------------------------- without a cluster


def test_check_partition_names_the_field_the_value_and_what_exists() -> None:
    check_partition(None, ["debug"])  # the cluster's default partition
    check_partition("debug", ["debug", "gpu"])
    check_partition("gpu,debug", ["debug", "gpu"])
    with pytest.raises(ConfigError) as err:
        check_partition("gpu,debgu", ["debug", "gpu"])
    assert err.value.field == "hydra.launcher.partition" and err.value.value == "gpu,debgu"
    assert str(err.value) == ("hydra.launcher.partition='gpu,debgu' is invalid: allowed null (the cluster's "
                              "default) or one of the partitions sinfo lists: ['debug', 'gpu']")


def fake_sinfo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, output: str, code: int = 0) -> None:
    """A ``sinfo`` on PATH that prints ``output`` (the format ``sinfo -h -o %R`` has)."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    script = bin_dir / "sinfo"
    script.write_text(f"#!/bin/sh\nprintf '%s' {shlex.quote(output)}\nexit {code}\n")
    script.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")


def test_cluster_partitions_come_from_sinfo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    fake_sinfo(tmp_path, monkeypatch, "debug\ngpu\ndebug\n")  # one line per node state: dedupe
    assert cluster_partitions() == ["debug", "gpu"]


def test_cluster_partitions_without_slurm_or_with_a_dead_controller(tmp_path: Path,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))  # no sinfo anywhere
    with pytest.raises(ConfigError, match=r"hardware='slurm' is invalid: allowed a machine with the SLURM"):
        cluster_partitions()
    fake_sinfo(tmp_path, monkeypatch, "", code=1)
    with pytest.raises(ConfigError, match=r"sinfo exited 1"):
        cluster_partitions()


def compose_slurm(overrides: list[str]) -> DictConfig:
    register_resolvers()
    GlobalHydra.instance().clear()
    with initialize_config_dir(config_dir=CONF_DIR, version_base="1.3"):
        return compose("train", overrides=["hardware=slurm", *overrides], return_hydra_config=True)


def test_cpu_only_slurm_jobs_get_one_task_per_rank() -> None:
    cfg = compose_slurm(["hardware.accelerator=cpu", "hardware.gpus_per_node=0", "hardware.tasks_per_node=2"])
    assert cfg.hydra.launcher.gpus_per_node == 0
    assert cfg.hydra.launcher.tasks_per_node == cfg.hardware.devices == 2
    gpu = compose_slurm(["hardware.gpus_per_node=4"])  # the GPU default: one task per GPU
    assert gpu.hydra.launcher.tasks_per_node == gpu.hydra.launcher.gpus_per_node == gpu.hardware.devices == 4


def test_preflight_is_wired_into_hardware_slurm_and_exits_2(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                             capsys: pytest.CaptureFixture[str]) -> None:
    fake_sinfo(tmp_path, monkeypatch, "debug\n")
    cfg = compose_slurm(["hydra.launcher.partition=nope"])
    assert cfg.hydra.callbacks.slurm_preflight._target_ == "physml.slurm.SlurmPreflight"
    with pytest.raises(SystemExit) as exit_:
        SlurmPreflight().on_multirun_start(cfg)
    assert exit_.value.code == 2
    assert capsys.readouterr().err.strip() == textwrap.dedent("""\
        physml: configuration error: hydra.launcher.partition='nope' is invalid: allowed null (the cluster's \
default) or one of the partitions sinfo lists: ['debug']""")
    SlurmPreflight().on_multirun_start(compose_slurm(["hydra.launcher.partition=debug"]))  # passes
    SlurmPreflight().on_multirun_start(compose_slurm([]))  # null: the cluster's default


def test_gpus_in_gres_strings() -> None:
    assert gres_gpus("(null)") == 0
    assert gres_gpus("gpu:4") == 4
    assert gres_gpus("gpu:a100:4(S:0-1)") == 4
    assert gres_gpus("gpu:a100:2,gpu:v100:2,mps:200") == 4


def test_resources_per_node_are_checked_against_the_partition_asked_for() -> None:
    nodes = [Node("cpu", True, 0, 64, 256_000), Node("gpu", False, 4, 32, 512_000),
             Node("gpu", False, 8, 32, 512_000)]
    check_resources({"partition": "gpu", "gpus_per_node": 8, "tasks_per_node": 8, "cpus_per_task": 4,
                     "mem_gb": 400}, nodes)
    check_resources({"partition": None, "gpus_per_node": 0, "tasks_per_node": 2, "cpus_per_task": 32,
                     "mem_gb": 32}, nodes)  # the default partition (cpu*)
    with pytest.raises(ConfigError) as err:
        check_resources({"partition": "gpu", "gpus_per_node": 16, "tasks_per_node": 1, "cpus_per_task": 1}, nodes)
    assert str(err.value) == ("hydra.launcher.gpus_per_node=16 is invalid: allowed at most 8: the most GPUs a node "
                              "of partition 'gpu' has (sinfo GRES); set hardware.gpus_per_node, or "
                              "hardware.accelerator=cpu hardware.gpus_per_node=0 for CPU-only nodes")
    with pytest.raises(ConfigError, match=r"gpus_per_node=1 is invalid: allowed at most 0.*default partition"):
        check_resources({"gpus_per_node": 1}, nodes)
    with pytest.raises(ConfigError, match=r"cpus_per_task=8 is invalid: allowed tasks_per_node x cpus_per_task <= 32"):
        check_resources({"partition": "gpu", "gpus_per_node": 4, "tasks_per_node": 8, "cpus_per_task": 8}, nodes)
    with pytest.raises(ConfigError, match=r"mem_gb=600 is invalid: allowed at most 500.0 \(GB\)"):
        check_resources({"partition": "gpu", "gpus_per_node": 1, "mem_gb": 600}, nodes)
    check_resources({"partition": "gpu", "gpus_per_node": 99}, [])  # sinfo told nothing: nothing to check


def test_cluster_nodes_come_from_sinfo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    fake_sinfo(tmp_path, monkeypatch, "debug*|(null)|2|1800\ngpu|gpu:a100:4(S:0-1)|64|512000\nbad line\n")
    assert cluster_nodes() == [Node("debug", True, 0, 2, 1800), Node("gpu", False, 4, 64, 512000)]
