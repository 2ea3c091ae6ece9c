"""What a scale of the scorecard costs before it runs: states, bytes on disk, training FLOPs.

Why: the paper scale cannot be run on a laptop, and a physicist needs to know what to ask a
cluster for. Everything here is computed from the composed configs of the study's jobs, so
it follows every change of an experiment file:

- data: each dataset the job's datamodule declares (train pool, test streams), samples x
  the bytes of the simulator's schema, uncompressed (Zarr's compression only shrinks it);
  datasets shared by several jobs (same fingerprint) are counted once;
- training: FLOPs of one forward pass of the model on one sample (``torch``'s
  ``FlopCounterMode``), x 3 for forward + backward, x training samples x epochs. A cGAN
  step also runs its discriminator three times (real and fake for D's update, fake for G's),
  each with a backward pass: 3 G + 9 D per sample.
  The training pool counts in full (its validation part costs only a forward pass, so this
  slightly overestimates). Simulation time is not a FLOP count: see the README benchmarks.

GPU-hours = training FLOPs / an assumed sustained rate (``--tflops``, default 25 TFLOP/s,
about 40 % of an H100's fp32 peak without tensor cores); the FLOPs are exact, the rate is
the assumption to replace with a measured one.
"""

from __future__ import annotations

import math
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from hydra import compose, initialize_config_dir
from hydra.core.global_hydra import GlobalHydra
from omegaconf import DictConfig, open_dict
from torch.utils.flop_counter import FlopCounterMode

from physml.build import build_datamodule, build_model, system_spec
from physml.config import register_resolvers
from physml.reproduce.runner import Study

CONF_DIR = str(Path(__file__).resolve().parents[2] / "conf")
DEFAULT_TFLOPS = 25.0


@dataclass
class JobCost:
    """One job: its datasets (fingerprint -> bytes, samples) and its training FLOPs."""

    name: str
    datasets: dict[str, tuple[int, int]]
    train_samples: int
    epochs: int
    forward_flops: int
    train_flops_per_sample: int

    @property
    def train_flops(self) -> float:
        return float(self.train_flops_per_sample) * self.train_samples * self.epochs


def compose_job(overrides: tuple[str, ...], scale: str) -> DictConfig:
    """The job's config exactly as ``physml reproduce`` would run it (data under a temp dir)."""
    register_resolvers()
    GlobalHydra.instance().clear()
    with initialize_config_dir(config_dir=CONF_DIR, version_base="1.3"):
        cfg = compose(config_name="train", overrides=[*overrides, f"scale={scale}"])
    with open_dict(cfg):
        cfg.paths.data_dir = tempfile.gettempdir()
    return cfg


def _flops(fn: Any, *args: torch.Tensor) -> tuple[int, Any]:
    counter = FlopCounterMode(display=False)
    with torch.no_grad(), counter:
        out = fn(*args)
    return int(counter.get_total_flops()), out


def model_flops(cfg: DictConfig) -> tuple[int, int]:
    """(forward, training) FLOPs per sample of the job's model on an input shaped like the system's."""
    spec, system = system_spec(cfg), cfg.system
    shape = (1, spec.channels(system), *([spec.size(system)] * spec.feed(system).rank))
    model = build_model(cfg).eval()
    x = torch.zeros(shape)
    forward, out = _flops(model, x)
    discriminator = getattr(model, "discriminator", None)
    if discriminator is None:
        return forward, 3 * forward
    d_forward, _ = _flops(discriminator, x, out)
    return forward, 3 * forward + 9 * d_forward


def bytes_per_sample(datamodule: Any) -> int:
    """Uncompressed bytes of one sample: every array of the simulator's schema."""
    schema = datamodule.specs["train"].simulator.schema()
    return sum(math.prod(a.shape) * np.dtype(a.dtype).itemsize for a in schema.values())


def job_cost(name: str, overrides: tuple[str, ...], scale: str) -> JobCost:
    cfg = compose_job(overrides, scale)
    dm = build_datamodule(cfg)
    per_sample = bytes_per_sample(dm)
    datasets = {spec.fingerprint: (spec.num_samples * per_sample, spec.num_samples) for spec in dm.specs.values()}
    train = dm.specs["train"].num_samples
    return JobCost(name, datasets, train, int(cfg.trainer.max_epochs), *model_flops(cfg))


def study_cost(study: Study, scale: str) -> list[JobCost]:
    return [job_cost(job.name, job.overrides, scale) for job in study.jobs(scale)]


def _human_bytes(n: float) -> str:
    for unit in ("B", "kB", "MB", "GB", "TB"):
        if n < 1000 or unit == "TB":
            return f"{n:.3g} {unit}"
        n /= 1000
    return f"{n:.3g} TB"


def cost_table(studies: list[Study], scale: str, tflops: float = DEFAULT_TFLOPS) -> str:
    """Markdown: per study the jobs, distinct datasets, states, bytes, training PFLOPs, GPU-hours."""
    rows = [
        f"Cost of `physml reproduce --scale {scale}` from the composed configs (physml/reproduce/cost.py): "
        f"data uncompressed, each distinct dataset once; training = 3 x forward FLOPs (cGAN: 3 G + 9 D) x "
        f"training samples x epochs; GPU-hours at an assumed {tflops:g} TFLOP/s sustained. Simulation time not included "
        "(README, Benchmarks).",
        "",
        "| study | jobs | datasets | states | data | forward GFLOP/sample | training PFLOP | GPU-hours |",
        "|---|---|---|---|---|---|---|---|",
    ]
    total_bytes, total_flops = 0.0, 0.0
    for study in studies:
        jobs = study_cost(study, scale)
        datasets: dict[str, tuple[int, int]] = {}
        for job in jobs:
            datasets.update(job.datasets)
        size = sum(b for b, _ in datasets.values())
        states = sum(n for _, n in datasets.values())
        flops = sum(job.train_flops for job in jobs)
        fwd = sorted({job.forward_flops / 1e9 for job in jobs})
        fwd_text = f"{fwd[0]:.3g}" if len(fwd) == 1 else f"{fwd[0]:.3g}–{fwd[-1]:.3g}"
        rows.append(
            f"| {study.name} | {len(jobs)} | {len(datasets)} | {states:,} | {_human_bytes(size)} | {fwd_text} | "
            f"{flops / 1e15:.3g} | {flops / (tflops * 1e12) / 3600:.3g} |"
        )
        total_bytes += size
        total_flops += flops
    rows.append(
        f"| **all** | | | | **{_human_bytes(total_bytes)}** | | **{total_flops / 1e15:.3g}** | "
        f"**{total_flops / (tflops * 1e12) / 3600:.3g}** |"
    )
    return "\n".join(rows)
