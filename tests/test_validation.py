"""Every mismatch fails at start-up: field types and ranges, names as typed, and a config fuzzer.

The fuzzer sets random values of wrong types and ranges on every user field of every
system, its models, ``data`` and ``trainer``, then starts a dry run (validate and build
everything, generate and train nothing). Every outcome must be a valid start or a
ConfigError; anything else (a TypeError from a comparison, a KeyError deep down) fails.
"""

from __future__ import annotations

import copy
import re
import subprocess
import sys
from functools import cache
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from omegaconf import DictConfig, OmegaConf

from physml.config import check_data_dir, validate
from physml.errors import ConfigError
from tests.conftest import CONF_DIR, TINY, compose_config
from train import train

ROOT = Path(__file__).resolve().parents[1]
SYSTEMS = sorted(p.stem for p in (Path(CONF_DIR) / "system").glob("*.yaml"))
MODELS = sorted(p.stem for p in (Path(CONF_DIR) / "model").glob("*.yaml"))
#: config subtrees that are plumbing (built from the user's fields), not fields a user sets
PLUMBING = ("system.simulator", "system.datamodule", "system.callbacks", "model.accepts", "model.name")


@cache
def _base(system: str) -> DictConfig:
    """A dry-run config of ``system`` with its first compatible model (composed once)."""
    tmp = Path(f"/tmp/physml-fuzz/{system}")
    for model in MODELS:
        cfg = compose_config([f"system={system}", f"model={model}", *TINY, "dry_run=true"], tmp)
        try:
            validate(cfg)
            return cfg
        except ConfigError:
            continue
    raise AssertionError(f"no model fits system={system}")


def _user_fields(cfg: DictConfig) -> list[str]:
    """Leaves of system, model, data and trainer that hold a value the user sets (not an interpolation)."""
    raw = OmegaConf.to_container(cfg, resolve=False)
    fields = []

    def walk(node: object, path: str) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                if not str(key).startswith("_"):
                    walk(value, f"{path}.{key}")
        elif not (isinstance(node, str) and "${" in node) and not path.startswith(PLUMBING):
            fields.append(path)

    for section in ("system", "model", "data", "trainer"):
        walk(raw[section], section)
    return fields


WRONG = st.one_of(
    st.text(max_size=6),
    st.integers(min_value=-(10**7), max_value=10**7),
    st.floats(allow_nan=True, allow_infinity=True),
    st.none(),
    st.booleans(),
    st.lists(st.integers(min_value=-3, max_value=300), max_size=3),
    st.lists(st.text(max_size=3), min_size=1, max_size=2),
)


@settings(max_examples=150, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck))
@given(data=st.data())
def test_config_fuzzer_gives_a_valid_start_or_a_configuration_error(data: st.DataObject) -> None:
    system = data.draw(st.sampled_from(SYSTEMS), label="system")
    cfg = copy.deepcopy(_base(system))
    field = data.draw(st.sampled_from(_user_fields(cfg)), label="field")
    value = data.draw(WRONG, label="value")
    OmegaConf.update(cfg, field, value, force_add=True)
    try:
        train(cfg)
    except ConfigError as exc:
        assert str(exc), "an error must say what is wrong"


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (["system.train_per_p=0"], r"system\.train_per_p=0 is invalid"),
        (["system.p_c_L=1.5"], r"system\.p_c_L=1\.5 is invalid"),
        (["data.shard_units=0"], r"data\.shard_units=0 is invalid"),
        (["data.batch_size=big"], r"data\.batch_size='big' is invalid: allowed integers >= 1"),
        (["trainer.max_epochs=-1"], r"trainer\.max_epochs=-1 is invalid: allowed integers >= 1"),
        (["trainer.max_epochs=abc"], r"trainer\.max_epochs='abc' is invalid"),
        (["model.optimizer.lr=-0.1"], r"model\.optimizer\.lr=-0\.1 is invalid: allowed finite numbers > 0"),
        (["stage=tets"], r"stage='tets' is invalid: allowed one of \['fit', 'test'\]"),
        (["hardware.num_workers=-2"], r"hardware\.num_workers=-2 is invalid"),
        (["system=j1j2", "model=vae", "system.region=mid"], r"system\.region='mid' is invalid: allowed one of \['high_J2', 'low_J2'\]"),
        (["model=vae"], r"model=vae cannot learn system=percolation"),
        (["system.target=p", "data.stratify_batches=true"], r"data\.stratify_batches=True is invalid: allowed true only for class targets"),
        (["system.target=p_class", "data.stratify_batches=true"], r"data\.batch_size=16 is invalid: allowed multiples of the 5 classes"),
        (["data.stratify_batches=maybe"], r"data\.stratify_batches='maybe' is invalid"),
        (["model=resnet3d18"], r"model=resnet3d18 takes volumes"),
        (["system=anderson", "system.input=volume"], r"model=resnet18 takes images"),
        (["system=lacbed", "model=pix2pix", "model.generator.out_channels=2"], r"model=pix2pix gives outputs of shape"),
        (["system=anderson", "model=resnet18", "model.net.in_channels=3"], r"model=resnet18 cannot run on the input"),
    ],
)
def test_mismatches_fail_at_start_up_naming_the_field(tmp_path: Path, overrides: list[str], message: str) -> None:
    cfg = compose_config([*TINY, *overrides], tmp_path)
    with pytest.raises(ConfigError, match=message):
        train(cfg)
    assert not (tmp_path / "data").exists(), "nothing may be generated before the config is checked"


def test_data_dir_that_is_a_file_or_read_only_is_a_configuration_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(ConfigError, match=r"paths\.data_dir=.*a file"):
        check_data_dir(str(blocker))
    with pytest.raises(ConfigError, match=r"paths\.data_dir=.*is a file"):
        check_data_dir(str(blocker / "below"))
    with pytest.raises(ConfigError, match=r"paths\.data_dir=.*read-only"):
        check_data_dir("/proc/physml-data")  # a read-only file system, even for root
    check_data_dir(str(tmp_path / "new" / "data"))  # creatable: fine, and not created by the check
    assert not (tmp_path / "new").exists()


def test_command_line_exit_code_and_message(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, str(ROOT / "train.py"), f"paths.root_dir={tmp_path}", *TINY, "trainer.max_epochs=abc"],
        capture_output=True, text=True, cwd=tmp_path,
    )
    assert done.returncode == 2
    assert re.search(r"^physml: configuration error: trainer\.max_epochs='abc' is invalid", done.stderr, re.M)
    assert "Traceback" not in done.stderr
