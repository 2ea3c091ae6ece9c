"""The session-scoped ``slurm_cluster`` fixture: one private cluster for all ``slurm`` tests.

Import it into a test module (``from tests.slurm.fixtures import slurm_cluster``). While the
session runs, ``SLURM_CONF`` and ``PATH`` (with the ``sacct`` stand-in) point every SLURM client
this process starts, submitit included, at the private cluster; both are restored afterwards.
Set ``PHYSML_SLURM_KEEP=1`` to keep the cluster directory (config, daemon logs) for debugging.
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.slurm.cluster import SlurmCluster, ensure_installed


@pytest.fixture(scope="session")
def slurm_cluster() -> Iterator[SlurmCluster]:
    if os.geteuid() != 0:
        pytest.skip("the private SLURM test cluster needs root (slurmd starts jobs as their user)")
    start = time.perf_counter()
    ensure_installed()
    installed = time.perf_counter()
    root = Path(tempfile.mkdtemp(prefix="physml-slurm-"))  # not in pytest's 0700 dirs: munge must reach it
    cluster = SlurmCluster(root)
    cluster.start()
    print(f"\n[slurm] cluster up in {time.perf_counter() - start:.1f} s (install check/apt-get "
          f"{installed - start:.1f} s): {cluster.conf}", file=sys.stderr, flush=True)
    saved = {key: os.environ.get(key) for key in ("SLURM_CONF", "PATH")}
    os.environ.update({key: cluster.env()[key] for key in saved})
    try:
        yield cluster
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        cluster.stop()
        if not os.environ.get("PHYSML_SLURM_KEEP"):
            shutil.rmtree(root, ignore_errors=True)
