"""Optuna searches whose study lives in shared storage, checked before the first trial runs.

:class:`OptunaSearch` is hydra-optuna-sweeper's ``OptunaSweeper`` (``conf/hydra/sweeper/
optuna_study.yaml``) with what a long search on a shared cluster needs:

- **start-up checks**: every search dimension (``hydra.sweeper.params`` and ``key=sweep(...)``
  on the command line) parses into an Optuna distribution and names a key the config has;
  ``optimized_metric`` is set and, where the model declares the metric's direction
  (``metric_directions``), ``hydra.sweeper.direction`` agrees with it. A bad search stops with
  one ``physml: configuration error: ...`` line and exit code 2 before any job exists;
- **shared storage**: the sweep directory is made before the study is opened, so the default
  ``sqlite:///<sweep dir>/optuna.db`` works; any Optuna storage URL may replace it;
- **resumable**: a study that already has trials continues; its new jobs are numbered after
  them (job ``n`` = trial ``n``), so resuming in the same sweep directory overwrites nothing,
  and its sampler is reseeded (a seeded sampler would otherwise ask its first points again).

The sweeper process asks Optuna for ``n_jobs`` trials at a time, runs them through the
launcher (``local_parallel``: joblib on this machine; ``slurm``: one SLURM job each) and tells
Optuna their results; the jobs themselves never touch the storage.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from hydra.types import HydraContext, TaskFunction
from hydra_plugins.hydra_optuna_sweeper.optuna_sweeper import OptunaSweeper
from omegaconf import DictConfig, OmegaConf

from physml.errors import ConfigError, require
from physml.runstore import RunStore

log = logging.getLogger("physml")

SWEEP_SYNTAX = ("a Hydra sweep Optuna can sample: choice(a,b,...), range(start,stop[,step]), "
                "interval(low,high) with low < high, tag(log,interval(low,high)) with 0 < low < high")
DIRECTIONS = {"min": "minimize", "max": "maximize"}


def parse_dimension(key: str, value: str) -> Any:
    """The Optuna distribution (or fixed value) of one search dimension; ConfigError naming the key."""
    from hydra_plugins.hydra_optuna_sweeper._impl import create_params_from_overrides

    field = f"hydra.sweeper.params.{key}"
    try:
        dists, fixed = create_params_from_overrides([f"{key}={value}"])
    except Exception as exc:  # noqa: BLE001 - parser, Optuna and assertion errors alike mean "does not parse"
        detail = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ConfigError(field=field, value=value, allowed=f"{SWEEP_SYNTAX} ({detail})") from None
    return dists.get(key, fixed.get(key))


def _has_key(config: DictConfig, key: str) -> bool:
    missing = object()
    return OmegaConf.select(config, key, default=missing, throw_on_resolution_failure=False) is not missing


def check_search(config: DictConfig, params: dict[str, Any] | None, arguments: list[str],
                 direction: Any) -> None:
    """Every check of a search before its first trial (see the module doc); raises ConfigError."""
    dimensions = {str(k): str(v) for k, v in (params or {}).items()}
    for argument in arguments:
        key, sep, value = argument.partition("=")
        if sep:
            dimensions[key] = value
    for key, value in dimensions.items():
        parse_dimension(key, value)
        bare = key.lstrip("+~")
        if not key.startswith("+") and "/" not in bare:
            require(_has_key(config, bare) or OmegaConf.select(config, f"hydra.runtime.choices.{bare}") is not None,
                    f"hydra.sweeper.params.{key}", "a key of the composed config (prefix + to add a new one)", value)
    metric = config.get("optimized_metric")
    require(bool(metric), "optimized_metric",
            "the name of a metric train.py returns, e.g. val/loss (the experiment must name it)", metric)
    declared = _declared_direction(config, str(metric))
    wanted = [d.name if hasattr(d, "name") else str(d) for d in (direction if isinstance(direction, list | tuple)
                                                              or OmegaConf.is_list(direction) else [direction])]
    if declared is not None and len(wanted) == 1:
        require(wanted[0] == DIRECTIONS[declared], "hydra.sweeper.direction",
                f"{DIRECTIONS[declared]} ({metric} improves towards {declared}, the model's metric_directions)",
                wanted[0])


def objective_value(name: str, metrics: Mapping[str, float], store: RunStore) -> float | None:
    """The value a sweeper optimises: a metric the run returned (test, analysis), else the best
    epoch's validation value (``val/loss_min``), else the last epoch's (``val/loss``).

    ``trainer.test`` replaces Lightning's validation metrics, so validation values are read back
    from the run's CSV history. None (the trial fails, and says why) when the run has no such metric.
    """
    if name in metrics:
        return float(metrics[name])
    best = store.best_metrics()
    if name in best:
        return float(best[name])
    history = store.history()
    for epoch in sorted(history, reverse=True):
        if name in history[epoch]:
            return float(history[epoch][name])
    known = sorted({*metrics, *best, *(k for values in history.values() for k in values)})
    log.error("optimized_metric=%r is not a metric of this run; it has %s", name, known)
    return None


def _declared_direction(config: DictConfig, metric: str) -> str | None:
    """The model's declared direction of ``metric`` ("min"/"max"), or None where it declares none.

    ``val/loss_min`` (the best epoch's value) improves the way its suffix says.
    """
    base, _, suffix = metric.rpartition("_")
    if suffix in DIRECTIONS and base:
        return suffix
    from physml.spec import import_object

    target = OmegaConf.select(config, "model._target_", default=None)
    if not target:
        return None
    try:
        directions = getattr(import_object(str(target)), "metric_directions", {}) or {}
    except Exception:  # noqa: BLE001 - an unimportable model is reported by train.py's own checks
        return None
    value = directions.get(metric)
    return value if value in DIRECTIONS else None


def existing_trials(storage: Any, study_name: str | None) -> int:
    """How many trials the study already has in ``storage`` (0 for a new study or no storage)."""
    if storage is None or study_name is None:
        return 0
    import optuna

    try:
        return len(optuna.load_study(study_name=study_name, storage=storage).trials)
    except KeyError:  # no such study yet
        return 0


class OptunaSearch(OptunaSweeper):
    """hydra-optuna-sweeper with start-up checks, a sweep directory made first, resumable numbering."""

    def setup(self, *, hydra_context: HydraContext, task_function: TaskFunction, config: DictConfig) -> None:
        super().setup(hydra_context=hydra_context, task_function=task_function, config=config)
        self._config = config

    def sweep(self, arguments: list[str]) -> None:
        impl = self.sweeper
        try:
            check_search(self._config, OmegaConf.to_container(impl.params) if impl.params else None,
                         list(arguments), impl.direction)
        except ConfigError as exc:
            print(f"physml: configuration error: {exc}", file=sys.stderr)
            raise SystemExit(2) from None
        Path(str(self._config.hydra.sweep.dir)).mkdir(parents=True, exist_ok=True)
        impl.job_idx = existing_trials(impl.storage, impl.study_name)
        if impl.job_idx and hasattr(impl.sampler, "reseed_rng"):
            impl.sampler.reseed_rng()  # a seeded sampler would ask a resumed study its first points again
        return impl.sweep(arguments)
