"""Checks of a SLURM launch that must pass before anything is submitted.

A ``-m hardware=slurm`` sweep is submitted by hydra-submitit-launcher from the login node;
a bad SLURM option otherwise surfaces as a submitit traceback around ``sbatch: error: invalid
partition specified`` after the sweep directory was made, or worse, as jobs that pend forever.
:class:`SlurmPreflight` is a Hydra callback (wired in ``conf/hardware/slurm.yaml``) that runs
in the submitting process before the launcher, asks the cluster itself (``sinfo``) what
exists, and stops with one ``physml: configuration error: ...`` line and exit code 2, like
every other start-up error of physml.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from typing import Any

from hydra.experimental.callback import Callback
from omegaconf import DictConfig, OmegaConf

from physml.errors import ConfigError, require

NO_SLURM = "a machine with the SLURM commands (sinfo, sbatch) on PATH, e.g. a cluster login node"


def cluster_partitions(timeout: float = 30) -> list[str]:
    """The partitions the cluster has (``sinfo -h -o %R``), in sinfo's order, without duplicates."""
    if shutil.which("sinfo") is None:
        raise ConfigError(field="hardware", value="slurm", allowed=NO_SLURM)
    try:
        done = subprocess.run(["sinfo", "-h", "-o", "%R"], capture_output=True, text=True, timeout=timeout,
                              check=False)
    except subprocess.TimeoutExpired:
        raise ConfigError(f"hardware=slurm: sinfo did not answer within {timeout:.0f} s "
                          "(is slurmctld reachable from here?)") from None
    if done.returncode != 0:
        raise ConfigError(f"hardware=slurm: sinfo exited {done.returncode}: {done.stderr.strip()} "
                          "(is slurmctld reachable from here?)")
    return list(dict.fromkeys(line.strip() for line in done.stdout.splitlines() if line.strip()))


def check_partition(partition: Any, available: list[str]) -> None:
    """``hydra.launcher.partition`` must be null (the cluster's default) or a partition that exists.

    A comma-separated list (sbatch picks whichever starts the job first) is checked name by name.
    """
    if partition in (None, ""):
        return
    names = [p.strip() for p in str(partition).split(",")]
    unknown = [p for p in names if p not in available]
    require(not unknown, "hydra.launcher.partition",
            f"null (the cluster's default) or one of the partitions sinfo lists: {available}", partition)


def check_slurm_launch(launcher: DictConfig | dict[str, Any]) -> None:
    """Every check of a SLURM launcher config against the live cluster; raises ConfigError."""
    check_partition(launcher.get("partition"), cluster_partitions())


class SlurmPreflight(Callback):
    """Hydra callback: check the SLURM launch on the submitting machine before any job exists."""

    def on_multirun_start(self, config: DictConfig, **kwargs: Any) -> None:
        launcher = OmegaConf.select(config, "hydra.launcher")
        if launcher is None or not str(launcher.get("_target_", "")).endswith("SlurmLauncher"):
            return
        try:
            check_slurm_launch(launcher)
        except ConfigError as exc:
            print(f"physml: configuration error: {exc}", file=sys.stderr)
            raise SystemExit(2) from None
