"""Hydra takes sweeper classes only from the ``hydra_plugins`` namespace, by the module they are defined in.

The search itself lives in :mod:`physml.search`; ``conf/hydra/sweeper/optuna_study.yaml`` targets
this subclass of it.
"""

from physml import search


class OptunaSearch(search.OptunaSearch):
    """:class:`physml.search.OptunaSearch`, defined here so that Hydra registers it."""


__all__ = ["OptunaSearch"]
