"""Nothing recorded is overwritten: attempts keep their configs, resumes refuse changed experiments,
and a sweep with one bad point runs the others and names the failure."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import yaml

from tests.conftest import TINY

ROOT = Path(__file__).resolve().parents[1]


def _train(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, str(ROOT / "train.py"), *TINY, *args], capture_output=True, text=True, cwd=cwd)


def test_attempts_are_kept_and_the_runs_config_is_never_overwritten(tmp_path: Path) -> None:
    run = tmp_path / "run"
    common = (f"paths.root_dir={tmp_path}", f"hydra.run.dir={run}")
    first = _train(*common, cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    recorded = (run / ".hydra" / "config.yaml").read_text()
    assert yaml.safe_load(recorded)["system"]["L"] == 16

    rejected = _train(*common, "system.L=-5", cwd=tmp_path)  # a bad config in the same run dir
    assert rejected.returncode == 2 and "system.L=-5 is invalid" in rejected.stderr
    again = _train(*common, cwd=tmp_path)  # a second fresh fit would overwrite the results
    assert again.returncode == 2 and "already holds a run's results" in again.stderr
    changed = _train(*common, "ckpt_path=last", "system.L=20", cwd=tmp_path)
    assert changed.returncode == 2 and "system.L: 16 -> 20" in changed.stderr
    resumed = _train(*common, "ckpt_path=last", "trainer.max_epochs=2", cwd=tmp_path)
    assert resumed.returncode == 0, resumed.stderr

    assert (run / ".hydra" / "config.yaml").read_text() == recorded
    attempts = sorted((run / ".hydra" / "attempts").iterdir())
    assert len(attempts) == 5
    status = ["accepted" if (a / "accepted.txt").exists() else (a / "rejected.txt").read_text() for a in attempts]
    assert status[0] == status[-1] == "accepted"
    assert "system.L=-5 is invalid" in status[1] and "already holds" in status[2] and "16 -> 20" in status[3]
    assert "system.L=-5 is invalid" in (run / "train.log").read_text()


def test_one_bad_sweep_point_fails_alone(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, str(ROOT / "train.py"), "-m", *TINY, f"paths.root_dir={tmp_path}", "system.L=-5,16"],
        capture_output=True, text=True, cwd=tmp_path,
    )
    assert done.returncode == 2
    assert "1 of 2 sweep jobs failed" in done.stderr and "system.L=-5 is invalid" in done.stderr
    sweep = next((tmp_path / "runs" / "train").glob("multirun_*"))
    summary = json.loads((sweep / "sweep_summary.json").read_text())
    assert summary["failed"] == ["0"] and [j["status"] for j in summary["jobs"]] == ["failed", "done"]
    assert json.loads((sweep / "0" / "failed.json").read_text())["error"] == "configuration error"
    assert "system.L=-5 is invalid" in (sweep / "0" / "train.log").read_text()
    assert (sweep / "1" / "summary.json").exists()
