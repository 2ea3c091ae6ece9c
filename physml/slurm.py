"""Checks of a SLURM launch that must pass before anything is submitted.

A ``-m hardware=slurm`` sweep is submitted by hydra-submitit-launcher from the login node;
a bad SLURM option otherwise surfaces as a submitit traceback around ``sbatch: error: invalid
partition specified`` after the sweep directory was made, or worse, as jobs that pend forever.
:class:`SlurmPreflight` is a Hydra callback (wired in ``conf/hardware/slurm.yaml``) that runs
in the submitting process before the launcher, asks the cluster itself (``sinfo``) what
exists (partitions; GPUs, CPUs and memory of their nodes), and stops with one ``physml: configuration error: ...`` line and exit code 2, like
every other start-up error of physml.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from typing import Any

from hydra.experimental.callback import Callback
from omegaconf import DictConfig, OmegaConf

from physml.errors import ConfigError, require

NO_SLURM = "a machine with the SLURM commands (sinfo, sbatch) on PATH, e.g. a cluster login node"


def _sinfo(*args: str, timeout: float = 30) -> str:
    if shutil.which("sinfo") is None:
        raise ConfigError(field="hardware", value="slurm", allowed=NO_SLURM)
    try:
        done = subprocess.run(["sinfo", "-h", *args], capture_output=True, text=True, timeout=timeout,
                              check=False)
    except subprocess.TimeoutExpired:
        raise ConfigError(f"hardware=slurm: sinfo did not answer within {timeout:.0f} s "
                          "(is slurmctld reachable from here?)") from None
    if done.returncode != 0:
        raise ConfigError(f"hardware=slurm: sinfo exited {done.returncode}: {done.stderr.strip()} "
                          "(is slurmctld reachable from here?)")
    return done.stdout


def cluster_partitions(timeout: float = 30) -> list[str]:
    """The partitions the cluster has (``sinfo -h -o %R``), in sinfo's order, without duplicates."""
    lines = _sinfo("-o", "%R", timeout=timeout).splitlines()
    return list(dict.fromkeys(line.strip() for line in lines if line.strip()))


@dataclass(frozen=True)
class Node:
    """What one node offers in one partition (``sinfo -N``): GPUs from its GRES, CPUs, memory in MB."""

    partition: str
    default: bool
    gpus: int
    cpus: int
    memory_mb: int


def gres_gpus(gres: str) -> int:
    """GPUs in a GRES string: ``gpu:4``, ``gpu:a100:4(S:0-1)``, ``gpu:a100:2,gpu:v100:2`` (4); ``(null)`` 0."""
    return sum(int(m.group(1)) for m in re.finditer(r"(?:^|,)gpu(?::[^:,(]+)?:(\d+)", gres.strip()))


def cluster_nodes(timeout: float = 30) -> list[Node]:
    """Every node of every partition, from ``sinfo -h -N -o %P|%G|%c|%m``; lines it cannot read are left out."""
    nodes = []
    for line in _sinfo("-N", "-o", "%P|%G|%c|%m", timeout=timeout).splitlines():
        parts = line.strip().split("|")
        if len(parts) != 4:
            continue
        partition, gres, cpus, memory = parts
        try:
            nodes.append(Node(partition=partition.rstrip("*"), default=partition.endswith("*"), gpus=gres_gpus(gres),
                              cpus=int(cpus.rstrip("+")), memory_mb=int(memory.rstrip("+"))))
        except ValueError:
            continue
    return nodes


def _int(value: Any, default: int = 0) -> int:
    try:
        return int(value) if value not in (None, "") else default
    except (TypeError, ValueError):
        return default


def check_resources(launcher: DictConfig | dict[str, Any], nodes: list[Node]) -> None:
    """GPUs, CPUs and memory per node must fit on some node of the partition asked for.

    Asked: ``gpus_per_node``; ``tasks_per_node`` x ``cpus_per_task`` CPUs; ``mem_gb``. What the
    nodes have comes from sinfo; nothing is checked where sinfo tells nothing (no node listed).
    """
    partition = launcher.get("partition")
    names = [p.strip() for p in str(partition).split(",")] if partition not in (None, "") else None
    pool = [n for n in nodes if n.partition in names] if names else ([n for n in nodes if n.default] or nodes)
    if not pool:
        return
    where = f"partition {partition!r}" if names else "the cluster's default partition"
    gpus = _int(launcher.get("gpus_per_node"))
    most = max(n.gpus for n in pool)
    require(gpus <= most, "hydra.launcher.gpus_per_node",
            f"at most {most}: the most GPUs a node of {where} has (sinfo GRES); set hardware.gpus_per_node, "
            "or hardware.accelerator=cpu hardware.gpus_per_node=0 for CPU-only nodes", gpus)
    cpus = _int(launcher.get("tasks_per_node"), 1) * _int(launcher.get("cpus_per_task"), 1)
    most = max(n.cpus for n in pool)
    require(cpus <= most, "hydra.launcher.cpus_per_task",
            f"tasks_per_node x cpus_per_task <= {most}, the most CPUs a node of {where} has "
            f"(asked {launcher.get('tasks_per_node')} x {launcher.get('cpus_per_task')}; set hardware.cpus_per_task)",
            launcher.get("cpus_per_task"))
    mem_gb = launcher.get("mem_gb")
    most = max(n.memory_mb for n in pool)
    if mem_gb is not None and most > 1:  # RealMemory=1 is SLURM's "not configured"
        require(float(mem_gb) * 1024 <= most, "hydra.launcher.mem_gb",
                f"at most {most / 1024:.1f} (GB), the most memory a node of {where} has", mem_gb)


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
    check_resources(launcher, cluster_nodes())


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
