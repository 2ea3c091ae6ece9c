"""How a job fits on the hardware: supported launcher × strategy combinations, GPU/core pinning.

Hydra decides *where* a job runs (basic launcher, joblib on one machine, SLURM via
submitit); these helpers make each job behave well once it is running there:

- :func:`check_launch` refuses, at start-up, the one combination that hangs or re-runs the
  sweep: Lightning's own DDP launcher inside a Hydra multirun (an upstream limitation).
- :func:`pin_job` gives each of several concurrent jobs on one machine its own GPU
  (``CUDA_VISIBLE_DEVICES``) or its own share of the cores, using a lock file per slot in
  the sweep directory so no two running jobs ever share one.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

from omegaconf import DictConfig

from physml.errors import ConfigError

SUPPORTED = (
    "supported: a single run with any hardware (cpu, gpu, ddp); a -m sweep with hardware=cpu, "
    "gpu or local_parallel (one device per job), or hardware=slurm (SLURM starts the DDP ranks)"
)

# (sweep dir, slot, open lock file) held by this process; kept for the life of the process
# because a joblib worker that ran one job keeps its CUDA device for the next.
_SLOT: tuple[str, int, IO[str]] | None = None


def _hydra_mode() -> tuple[bool, str | None]:
    """(is this a multirun job, the sweep dir) — (False, None) outside a Hydra app."""
    try:
        from hydra.core.hydra_config import HydraConfig
        from hydra.types import RunMode

        hc = HydraConfig.get()
    except (ImportError, ValueError):
        return False, None
    return hc.mode == RunMode.MULTIRUN, str(hc.sweep.dir) if hc.mode == RunMode.MULTIRUN else None


def _device_count(devices: Any) -> int:
    """Devices a trainer will use; -1 / "auto" counted as 'possibly several'."""
    if isinstance(devices, int):
        return 2 if devices == -1 else devices
    if isinstance(devices, str):
        text = devices.strip()
        if text in ("-1", "auto"):
            return 2
        if "," in text:
            return len([d for d in text.split(",") if d.strip()])
        return int(text) if text.isdigit() else 1
    return len(devices) if devices is not None else 1


def uses_lightning_ddp_launcher(hardware: DictConfig | dict[str, Any]) -> bool:
    """True when Lightning itself would start extra processes (DDP with >1 device, not SLURM)."""
    strategy = str(hardware.get("strategy", "auto"))
    devices = _device_count(hardware.get("devices", 1))
    nodes = int(hardware.get("num_nodes", 1) or 1)
    spawns = strategy.startswith("ddp") or (strategy == "auto" and devices * nodes > 1)
    return spawns and devices * nodes > 1 and "SLURM_NTASKS" not in os.environ


def check_launch(cfg: DictConfig, multirun: bool | None = None) -> None:
    """Fail at start-up, naming ``hardware``, for Lightning DDP inside a Hydra multirun."""
    if multirun is None:
        multirun, _ = _hydra_mode()
    hardware = cfg.get("hardware") or {}
    if multirun and uses_lightning_ddp_launcher(hardware):
        raise ConfigError(
            f"hardware: strategy={hardware.get('strategy')!r} with devices={hardware.get('devices')!r} "
            "inside a -m multirun is invalid (Lightning's DDP launcher would hang or re-run the sweep); "
            + SUPPORTED
        )


def _gpu_ids(configured: Any) -> list[str]:
    """GPU ids to share out, found without initialising CUDA (that would freeze the choice)."""
    if configured is not None:
        return [str(g) for g in (configured if isinstance(configured, list | tuple) else [configured])]
    visible = os.environ.get("CUDA_VISIBLE_DEVICES")
    if visible is not None:
        return [g.strip() for g in visible.split(",") if g.strip() and g.strip() != "-1"]
    if shutil.which("nvidia-smi") is None:
        return []
    try:
        out = subprocess.run(["nvidia-smi", "-L"], capture_output=True, text=True, timeout=20, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return []
    return [str(i) for i, line in enumerate(out.stdout.splitlines()) if line.startswith("GPU ")]


def acquire_slot(lock_dir: Path, slots: int) -> int:
    """The first free slot in ``lock_dir`` (an exclusive flock); the same one for a reused process."""
    global _SLOT
    if _SLOT is not None and _SLOT[0] == str(lock_dir):
        return _SLOT[1]
    lock_dir.mkdir(parents=True, exist_ok=True)
    while True:  # at most `slots` jobs run at once, so a slot frees up; sweep past busy ones
        for slot in range(slots):
            fh = open(lock_dir / f"slot{slot}.lock", "a+")  # noqa: SIM115 - held for the process life
            try:
                fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                fh.close()
                continue
            fh.seek(0)
            fh.truncate()
            fh.write(f"{os.getpid()}\n")
            fh.flush()
            if _SLOT is not None:
                _SLOT[2].close()
            _SLOT = (str(lock_dir), slot, fh)
            return slot
        import time

        time.sleep(0.2)


def pin_job(cfg: DictConfig, sweep_dir: str | None = None) -> dict[str, Any]:
    """Pin this job to its GPU or its share of cores when ``hardware.pin`` is set in a sweep.

    Must run before anything touches CUDA. Returns what was done (also logged by train.py).
    """
    hardware = cfg.get("hardware") or {}
    if not hardware.get("pin", False):
        return {}
    if sweep_dir is None:
        _, sweep_dir = _hydra_mode()
    if sweep_dir is None:  # a single run owns the whole machine
        return {}
    jobs = max(1, int(hardware.get("parallel_jobs", 1)))
    slot = acquire_slot(Path(sweep_dir) / ".slots", jobs)
    done: dict[str, Any] = {"slot": slot}
    gpus = _gpu_ids(hardware.get("gpus"))
    if gpus:
        os.environ["CUDA_VISIBLE_DEVICES"] = gpus[slot % len(gpus)]
        done["gpu"] = gpus[slot % len(gpus)]
    cores = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else list(range(os.cpu_count() or 1))
    share = max(1, len(cores) // jobs)
    mine = cores[(slot * share) % len(cores):][:share] or cores[:share]
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, mine)
    for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        os.environ[var] = str(len(mine))
    import torch

    torch.set_num_threads(len(mine))
    try:
        import numba

        numba.set_num_threads(min(len(mine), numba.config.NUMBA_NUM_THREADS))
    except (ImportError, ValueError):
        pass
    done["cores"] = mine
    return done


@contextlib.contextmanager
def data_lock(data_dir: str | os.PathLike) -> Iterator[None]:
    """Serialise dataset preparation of concurrent jobs on one machine.

    Sweep jobs of one study share their datasets: the first job generates the missing
    shards, the others wait and then find them complete instead of writing the same shards.
    """
    path = Path(data_dir)
    path.mkdir(parents=True, exist_ok=True)
    with open(path / ".prepare.lock", "a+") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def global_rank_from_env() -> int:
    """This process's rank before the process group exists (SLURM, torchrun or Lightning)."""
    for var in ("RANK", "SLURM_PROCID", "LOCAL_RANK"):
        value = os.environ.get(var)
        if value is not None and value.isdigit():
            return int(value)
    return 0
