"""Turn a composed config into the objects of a run, with errors that name the user's fields.

``train.py``, ``physml simulate`` and ``physml report`` build what they need here, so
each object is made one way: the datamodule from ``system.datamodule``, the model from
``model`` (without its name and contract), the callbacks from ``callbacks`` and
``system.callbacks`` (then the PredictionWriter, last), the loggers from ``logger``, the
analysis from the class the system spec names and the parameters in ``system.analysis``.
"""

from __future__ import annotations

import copy
import math
from typing import Any

import pytorch_lightning as pl
import torch
from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf

from physml.callbacks import PredictionWriter
from physml.config import model_node, section
from physml.errors import ConfigError
from physml.runstore import RunStore
from physml.spec import SystemSpec, import_object, spec_of


def system_spec(cfg: DictConfig) -> SystemSpec:
    return spec_of(cfg.system.datamodule._target_)


def _private(cfg: DictConfig) -> DictConfig:
    """A copy to instantiate from: instantiation resolves referenced nodes in place, and the
    caller's config must stay as composed (it is compared on resume and logged)."""
    return copy.deepcopy(cfg)


def build_datamodule(cfg: DictConfig) -> Any:
    with section(cfg, "system.datamodule"):
        return instantiate(_private(cfg).system.datamodule)


def build_model(cfg: DictConfig) -> pl.LightningModule:
    with section(cfg, "model"):
        return instantiate(model_node(_private(cfg)))


def build_callbacks(cfg: DictConfig, store: RunStore) -> list[pl.Callback]:
    """Configured callbacks, the system's own, and the PredictionWriter (last: it stores what the others add)."""
    callbacks: list[pl.Callback] = []
    cfg = _private(cfg)
    for where in ("callbacks", "system.callbacks"):
        node = OmegaConf.select(cfg, where)
        for key in node or {}:
            with section(cfg, f"{where}.{key}"):
                callbacks.append(instantiate(node[key]))
    callbacks.append(PredictionWriter(store.predictions_path))
    return callbacks


def build_loggers(cfg: DictConfig) -> list[Any]:
    cfg = _private(cfg)
    loggers = []
    for key, conf in (cfg.get("logger") or {}).items():
        if conf is not None:
            with section(cfg, f"logger.{key}"):
                loggers.append(instantiate(conf))
    return loggers


def build_trainer(cfg: DictConfig, callbacks: list[pl.Callback], loggers: list[Any]) -> pl.Trainer:
    with section(cfg, "trainer"):
        return instantiate(_private(cfg).trainer, callbacks=callbacks, logger=loggers or False)


def build_analysis(cfg: DictConfig) -> Any:
    """The system's per-run analysis: the spec's class with ``system.analysis`` as parameters."""
    node = cfg.system.get("analysis")
    params = OmegaConf.to_container(node, resolve=True) if node is not None else {}
    with section(cfg, "system.analysis"):
        return import_object(system_spec(cfg).analysis)(**params)


#: the largest zero batch (elements) the start-up probe runs the model on
PROBE_MAX_ELEMENTS = 8_000_000


def check_model_io(cfg: DictConfig, model: pl.LightningModule) -> None:
    """Run the model once on a zero batch shaped like the system's input; its output must fit the target.

    The declared contracts (rank, task kind) catch most mismatches by name; this catches
    the rest (channels, sizes, output counts) before any data exist.
    """
    spec, system = system_spec(cfg), cfg.system
    target = spec.target(system.target)
    size = spec.size(system)
    shape = (2, spec.channels(system), *([size] * spec.feed(system).rank))
    if math.prod(shape) > PROBE_MAX_ELEMENTS:  # too big to run at start-up; the declared contract still applies
        return
    outputs = spec.outputs(system)
    expected = {
        "class": (2, outputs),
        "regression": (2,),
        "image": (2, outputs, size, size),
        "generative": shape,
    }[target.kind]
    name = f"model={cfg.model.get('name', '?')}"
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            out = model(torch.zeros(shape))
    except Exception as exc:  # noqa: BLE001 - any failure here is a mismatch of model and system
        raise ConfigError(
            f"{name} cannot run on the input of system={spec.name} (a batch of shape {shape}): {exc}"
        ) from None
    finally:
        model.train(was_training)
    out = out[0] if isinstance(out, tuple | list) else out
    if tuple(out.shape) != expected:
        raise ConfigError(
            f"{name} gives outputs of shape {tuple(out.shape)} for system={spec.name} target={system.target!r}, "
            f"which needs {expected} for a batch of 2: check the model's output settings"
        )
