"""`physml report DIR`: one self-contained HTML page for a run or a whole multirun.

For every run directory under DIR (a directory with ``.hydra/config.yaml``) the system's
analysis is rebuilt from the run's own config and rerun on its saved
``predictions.zarr``, so figures and tables always reflect the current analysis code.
Metrics are then aggregated over seeds: runs are grouped by their sweep overrides minus
``seed``, and each group gets mean ± std of every metric, including the numbers the paper
quotes from training curves (minimum validation loss, maximum validation accuracy over
epochs, read from ``csv/version_*/metrics.csv``). Figures are embedded as base64 PNG and
tables as HTML, so the page opens offline in any browser.
"""

from __future__ import annotations

import argparse
import base64
import csv
import datetime as dt
import html
import json
import math
import sys
import traceback
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

SEED_KEYS = ("seed",)


@dataclass
class Run:
    """What the report knows about one run directory."""

    path: Path
    name: str
    overrides: list[str]
    metrics: dict[str, float] = field(default_factory=dict)
    figures: dict[str, Path] = field(default_factory=dict)
    tables: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    system: str = ""


def find_runs(root: Path) -> list[Path]:
    """Run directories at or below ``root`` (DDP helper dirs such as .pl_hydra_rank_1 skipped)."""
    if (root / ".hydra" / "config.yaml").exists():
        return [root]
    found = [p.parent.parent for p in root.rglob(".hydra/config.yaml")]
    runs = [p for p in found if not any(part.startswith(".") for part in p.relative_to(root).parts)]

    def order(p: Path) -> tuple:
        return tuple(int(s) if s.isdigit() else math.inf for s in p.relative_to(root).parts) + (str(p),)

    return sorted(runs, key=order)


def read_overrides(run: Path) -> list[str]:
    import yaml

    path = run / ".hydra" / "overrides.yaml"
    if not path.exists():
        return []
    return [str(o) for o in (yaml.safe_load(path.read_text()) or [])]


def curve_metrics(run: Path) -> dict[str, float]:
    """Best-over-epochs validation numbers: min of losses/errors, max of accuracies.

    All ``csv/version_*`` files are read, so a resumed run counts its earlier attempts too.
    """
    values: dict[str, list[float]] = defaultdict(list)
    for path in sorted(run.glob("csv/version_*/metrics.csv")):
        with path.open() as fh:
            for row in csv.DictReader(fh):
                for key, text in row.items():
                    if key and key.startswith("val/") and text not in (None, ""):
                        try:
                            values[key].append(float(text))
                        except ValueError:
                            continue
    out: dict[str, float] = {}
    for key, seq in values.items():
        finite = [v for v in seq if math.isfinite(v)]
        if not finite:
            continue
        if any(word in key for word in ("acc", "f1", "auroc", "r2")):
            out[f"{key}_max"] = max(finite)
        else:
            out[f"{key}_min"] = min(finite)
    return out


def analyse_run(run_dir: Path, out_dir: Path, recompute: bool = True) -> Run:
    """Load one run: its metrics, curve extrema, and its figures (recomputed when possible)."""
    from omegaconf import OmegaConf, open_dict

    from physml.config import register_resolvers

    register_resolvers()
    run = Run(path=run_dir, name=str(run_dir.name), overrides=read_overrides(run_dir))
    summary = run_dir / "summary.json"
    if summary.exists():
        run.metrics.update(json.loads(summary.read_text()).get("metrics", {}))
    cfg = OmegaConf.load(run_dir / ".hydra" / "config.yaml")
    run.system = str(OmegaConf.select(cfg, "system.name", default="") or "")
    preds = run_dir / "predictions.zarr"
    analysis_cfg = OmegaConf.select(cfg, "system.analysis")
    done = False
    if recompute and analysis_cfg is not None and preds.exists():
        try:
            from hydra.utils import instantiate

            from physml.predictions import load_predictions

            with open_dict(cfg):
                cfg.paths.output_dir = str(run_dir)  # ${hydra:...} does not resolve outside Hydra
            analysis = instantiate(cfg.system.analysis)
            result = analysis(load_predictions(preds), out_dir)
            run.metrics.update(result.metrics)
            run.figures = dict(result.figures)
            run.tables = dict(result.tables)
            done = True
        except Exception as exc:  # noqa: BLE001 - one broken run must not sink the report
            run.notes.append(f"analysis could not be recomputed ({type(exc).__name__}: {exc}); saved figures shown")
            traceback.print_exc()
    elif recompute:
        run.notes.append("no predictions.zarr or no system.analysis: saved figures shown")
    if not done:
        run.figures = {p.stem: p for p in sorted((run_dir / "figures").glob("*.png"))}
    run.metrics.update(curve_metrics(run_dir))
    run.metrics = {k: float(v) for k, v in run.metrics.items() if isinstance(v, int | float)}
    return run


def group_runs(runs: list[Run]) -> tuple[list[str], dict[str, list[Run]]]:
    """(overrides shared by all runs, group label -> runs) with seeds pooled in one group."""
    def varying(o: str) -> bool:
        return o.split("=", 1)[0].lstrip("+~") not in SEED_KEYS

    sets = [set(filter(varying, r.overrides)) for r in runs]
    common = set.intersection(*sets) if sets else set()
    groups: dict[str, list[Run]] = {}
    for run, overrides in zip(runs, sets, strict=True):
        label = " ".join(o for o in run.overrides if o in overrides - common) or "all runs"
        groups.setdefault(label, []).append(run)
    fixed = [o for o in (runs[0].overrides if runs else []) if o in common]
    return fixed, groups


def aggregate(runs: list[Run]) -> dict[str, tuple[float, float, int]]:
    """metric -> (mean, sample std (0 for one run), number of runs that have it)."""
    keys = sorted({k for r in runs for k in r.metrics})
    out = {}
    for key in keys:
        vals = np.array([r.metrics[key] for r in runs if key in r.metrics], dtype=float)
        std = float(vals.std(ddof=1)) if len(vals) > 1 else 0.0
        out[key] = (float(vals.mean()), std, len(vals))
    return out


# ---- HTML ----------------------------------------------------------------------------
CSS = """
body{font-family:system-ui,sans-serif;margin:2em;max-width:1150px;color:#222}
table{border-collapse:collapse;margin:0.5em 0 1.5em;font-size:0.85em}
th,td{border:1px solid #ccc;padding:3px 7px;text-align:right}
th{background:#f0f0f0} td.l,th.l{text-align:left}
figure{display:inline-block;margin:0.4em;vertical-align:top;text-align:center}
figure img{max-width:520px;border:1px solid #ddd} figure.wide img{max-width:100%} figcaption{font-size:0.8em;color:#555}
code{background:#f4f4f4;padding:1px 4px} .note{color:#a40}
"""


def _fmt(value: float) -> str:
    if not math.isfinite(value):
        return str(value)
    return f"{value:.4g}"


def _img(path: Path, wide: bool = False) -> str:
    data = base64.b64encode(path.read_bytes()).decode()
    name = html.escape(path.stem)
    cls = ' class="wide"' if wide else ""
    return f'<figure{cls}><img alt="{name}" src="data:image/png;base64,{data}"><figcaption>{name}</figcaption></figure>'


def _table(rows: list[dict[str, Any]], max_rows: int = 60) -> str:
    if not rows:
        return ""
    cols = list(rows[0])
    head = "".join(f"<th>{html.escape(str(c))}</th>" for c in cols)
    body = []
    for row in rows[:max_rows]:
        cells = []
        for c in cols:
            v = row.get(c, "")
            cells.append(f"<td>{_fmt(v) if isinstance(v, float) else html.escape(str(v))}</td>")
        body.append("<tr>" + "".join(cells) + "</tr>")
    more = f"<p>… {len(rows) - max_rows} more rows</p>" if len(rows) > max_rows else ""
    return f"<table><tr>{head}</tr>{''.join(body)}</table>{more}"


def _metric_order(keys: set[str]) -> list[str]:
    """Headline numbers first: best-over-epochs validation, then test, then the rest."""
    def rank(k: str) -> tuple[int, str]:
        return (0 if k.startswith("val/") else 1 if k.startswith("test/") else 2, k)

    return sorted(keys, key=rank)


def _aggregate_table(groups: dict[str, list[Run]]) -> str:
    """One row per metric, one column per group of runs (seeds pooled)."""
    stats = {label: aggregate(runs) for label, runs in groups.items()}
    keys = _metric_order({k for s in stats.values() for k in s})
    head = '<th class="l">metric</th>' + "".join(
        f"<th>g{i}: {html.escape(label)}<br><small>{len(groups[label])} run(s)</small></th>"
        for i, label in enumerate(groups)
    )
    rows = []
    for k in keys:
        cells = []
        for label, runs in groups.items():
            if k in stats[label]:
                mean, std, n = stats[label][k]
                extra = f" <small>(n={n})</small>" if n != len(runs) else ""
                cells.append(f"<td>{_fmt(mean)} ± {_fmt(std)}{extra}</td>")
            else:
                cells.append("<td>–</td>")
        rows.append(f'<tr><td class="l">{html.escape(k)}</td>{"".join(cells)}</tr>')
    return f"<table><tr>{head}</tr>{''.join(rows)}</table>"


def _runs_table(runs: list[Run], root: Path) -> str:
    keys = [k for k in _metric_order({k for r in runs for k in r.metrics}) if k.startswith(("val/", "test/"))]
    head = '<th class="l">run</th><th class="l">overrides</th>' + "".join(f"<th>{html.escape(k)}</th>" for k in keys)
    rows = []
    for r in runs:
        rel = html.escape(str(r.path.relative_to(root)) if r.path != root else ".")
        cells = "".join(f"<td>{_fmt(r.metrics[k])}</td>" if k in r.metrics else "<td>–</td>" for k in keys)
        rows.append(f'<tr><td class="l">{rel}</td><td class="l">{html.escape(" ".join(r.overrides))}</td>{cells}</tr>')
    return f"<table><tr>{head}</tr>{''.join(rows)}</table>"


def _aggregate_figure(groups: dict[str, list[Run]], out_dir: Path) -> Path | None:
    """Mean ± std per group of the headline numbers (val extrema and test metrics)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from physml.analysis.common import save_figure

    all_runs = [r for runs in groups.values() for r in runs]
    keys = sorted({k for r in all_runs for k in r.metrics if k.startswith(("val/", "test/")) and "/n_" not in k})[:8]
    if len(all_runs) < 2 or not keys:
        return None
    fig, axes = plt.subplots(1, len(keys), figsize=(2.6 * len(keys), 2.8), squeeze=False)
    labels = list(groups)
    for ax, key in zip(axes[0], keys, strict=True):
        stats = [aggregate(groups[g]).get(key, (np.nan, 0.0, 0)) for g in labels]
        ax.errorbar(range(len(labels)), [s[0] for s in stats], yerr=[s[1] for s in stats], fmt="o", capsize=4)
        for i, g in enumerate(labels):
            vals = [r.metrics[key] for r in groups[g] if key in r.metrics]
            ax.plot([i] * len(vals), vals, ".", color="0.6", zorder=0)
        ax.set_xticks(range(len(labels)), [f"g{i}" for i in range(len(labels))])
        ax.set_title(key, fontsize=9)
        ax.set_xlim(-0.5, len(labels) - 0.5)
    fig.suptitle("mean ± std over seeds (grey: single runs; g<i>: groups of the table)", fontsize=9)
    fig.tight_layout()
    return save_figure(fig, out_dir / "seed_aggregate.png")


def render(root: Path, runs: list[Run], out_dir: Path) -> str:
    fixed, groups = group_runs(runs)
    parts = [
        "<!DOCTYPE html><html><head><meta charset='utf-8'>",
        f"<title>physml report: {html.escape(root.name)}</title><style>{CSS}</style></head><body>",
        f"<h1>physml report</h1><p><code>{html.escape(str(root))}</code> — {len(runs)} run(s), "
        f"system(s): {html.escape(', '.join(sorted({r.system for r in runs})))}; "
        f"written {dt.datetime.now().isoformat(timespec='seconds')}</p>",
    ]
    if fixed:
        parts.append(f"<p>overrides shared by all runs: <code>{html.escape(' '.join(fixed))}</code></p>")
    parts.append("<h2>Metrics aggregated over seeds (mean ± std)</h2>")
    parts.append(
        "<p><code>val/*_min</code> / <code>val/*_max</code>: best value over epochs (min loss, max "
        "accuracy) from the CSV training log; other metrics from testing and the analysis.</p>"
    )
    parts.append(_aggregate_table(groups))
    agg_fig = _aggregate_figure(groups, out_dir)
    if agg_fig is not None:
        parts.append(_img(agg_fig, wide=True))
    parts.append("<h2>Runs</h2><p>validation and test metrics per run; all metrics in each run's tables</p>")
    parts.append(_runs_table(runs, root))
    shown = {id(runs_[0]) for runs_ in groups.values()}
    for r in runs:
        rel = str(r.path.relative_to(root)) if r.path != root else r.path.name
        is_open = " open" if (id(r) in shown or len(runs) <= 4) else ""
        parts.append(f"<details{is_open}><summary><b>{html.escape(rel)}</b> "
                     f"<code>{html.escape(' '.join(r.overrides))}</code></summary>")
        parts.extend(f'<p class="note">{html.escape(n)}</p>' for n in r.notes)
        parts.extend(_img(p) for p in r.figures.values() if Path(p).exists())
        for name, rows in r.tables.items():
            parts.append(f"<h4>{html.escape(name)}</h4>{_table(rows)}")
        parts.append("</details>")
    parts.append("</body></html>")
    return "\n".join(parts)


def build_report(root: Path, out: Path | None = None, recompute: bool = True) -> Path:
    """Analyse every run under ``root`` and write the HTML page (default ``root/report.html``)."""
    root = root.resolve()
    run_dirs = find_runs(root)
    if not run_dirs:
        raise FileNotFoundError(f"{root} holds no run (no .hydra/config.yaml below it)")
    work = root / "report_files"
    runs = []
    for run_dir in run_dirs:
        rel = run_dir.relative_to(root) if run_dir != root else Path("run")
        runs.append(analyse_run(run_dir, work / rel, recompute=recompute))
    out = out or root / "report.html"
    out.write_text(render(root, runs, work), encoding="utf-8")
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="physml report", description=__doc__.split("\n")[0])
    parser.add_argument("dir", type=Path, help="a run directory or a multirun directory")
    parser.add_argument("--out", type=Path, default=None, help="HTML file (default DIR/report.html)")
    parser.add_argument("--no-recompute", action="store_true", help="use the saved figures as they are")
    args = parser.parse_args(argv)
    if not args.dir.is_dir():
        print(f"physml report: {args.dir} is not a directory", file=sys.stderr)
        return 2
    try:
        out = build_report(args.dir, args.out, recompute=not args.no_recompute)
    except FileNotFoundError as exc:
        print(f"physml report: {exc}", file=sys.stderr)
        return 2
    print(f"report: {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
