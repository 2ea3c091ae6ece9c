"""Copy the FSS study of a `physml report`-ed percolation_fss sweep into docs/fss/<name>/.

    PYTHONPATH=. .venv/bin/python docs/fss/collect_learned.py <sweep dir> <name>

Copies ``<sweep>/report_files/studies/fss_0/`` (figures, fss_fits.csv, fss_data.csv,
metrics.csv) and writes ``runs.csv``: per run its L, stage, test accuracy, fixed-p_c
accuracy and majority baseline, the p-proxy counts and the training throughput, read
from each run's summary.json.
"""

from __future__ import annotations

import csv
import json
import shutil
import sys
from pathlib import Path

from omegaconf import OmegaConf

KEYS = (
    "test/acc",
    "test_pc/acc",
    "test_pc/majority_baseline",
    "p_c_L",
    "proxy/proxy_wrong",
    "proxy/net_right_where_proxy_wrong",
    "speed/train_samples_per_s",
)


def main() -> None:
    sweep, name = Path(sys.argv[1]), sys.argv[2]
    out = Path(__file__).resolve().parent / name
    out.mkdir(parents=True, exist_ok=True)
    study = sweep / "report_files" / "studies" / "fss_0"
    for f in sorted(study.iterdir()):
        if f.suffix in (".png", ".csv"):
            shutil.copy2(f, out / f.name)
    rows = []
    for summary in sorted(sweep.glob("*/summary.json"), key=lambda p: int(p.parent.name)):
        cfg = OmegaConf.load(summary.parent / ".hydra" / "config.yaml")
        metrics = json.loads(summary.read_text())["metrics"]
        row = {"L": cfg.system.L, "model": cfg.model.name, "stage": cfg.stage, "ckpt_path": cfg.ckpt_path or ""}
        row.update({k: metrics.get(k, "") for k in KEYS})
        rows.append(row)
    with (out / "runs.csv").open("w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
