"""`physml report DIR`: one self-contained HTML page for a run or a whole multirun.

For every run directory under DIR the system's analysis is rebuilt from the run's own
config and rerun on its saved predictions, so figures and tables always reflect the
current analysis code. Metrics are aggregated over seeds: runs are grouped by their sweep
overrides minus the seed, and each group gets mean ± std of every metric, including the
best-over-epochs validation numbers (in the direction each model declared). Then the
cross-run studies the systems' specs name (phase maps, size studies, comparisons) run on
the groups of runs they apply to. Figures are embedded as base64 PNG and tables as HTML,
so the page opens offline in any browser. Runs are read through the run store only.
"""

from __future__ import annotations

import argparse
import base64
import datetime as dt
import html
import math
import sys
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from physml.analysis.common import AnalysisInputs, AnalysisResult
from physml.analysis.studies import SEED_KEYS, Study, aggregate
from physml.runstore import RunRecord, RunStore, find_runs, save_result
from physml.tracking import tracker_html


@dataclass
class StudyOutput:
    """One study's result on one group of runs, with its figures on disk."""

    name: str
    runs: list[RunRecord]
    result: AnalysisResult
    figures: dict[str, Path] = field(default_factory=dict)


def record_run(run_dir: Path, out_dir: Path, recompute: bool = True) -> RunRecord:
    """What the report knows about one run: metrics, best epochs, and its analysis (recomputed when possible)."""
    from omegaconf import open_dict

    from physml.build import build_analysis
    from physml.config import register_resolvers

    register_resolvers()
    store = RunStore(run_dir)
    cfg = store.config()
    summary = store.summary()
    record = RunRecord(
        path=run_dir,
        config=cfg,
        overrides=store.overrides(),
        metrics=dict(summary.get("metrics", {})),
        trackers=dict(summary.get("trackers", {})),
        datasets=dict(summary.get("datasets", {})),
    )
    done = False
    if recompute and store.predictions_path.exists():
        try:
            with open_dict(cfg):
                cfg.paths.output_dir = str(run_dir)  # ${hydra:...} does not resolve outside Hydra
            result = build_analysis(cfg)(AnalysisInputs(store.predictions(), store.history()))
            record.figures = save_result(result, out_dir)
            record.metrics.update(result.metrics)
            record.tables = dict(result.tables)
            record.notes.extend(result.notes)
            done = True
        except Exception as exc:  # noqa: BLE001 - one broken run must not sink the report
            record.notes.append(f"analysis could not be recomputed ({type(exc).__name__}: {exc}); saved figures shown")
            traceback.print_exc()
    elif recompute:
        record.notes.append("no predictions: saved figures shown")
    if not done:
        record.figures = {p.stem: p for p in sorted(store.figures_dir.glob("*.png"))}
    record.metrics.update(store.best_metrics())
    record.metrics = {k: float(v) for k, v in record.metrics.items() if isinstance(v, int | float)}
    return record


def run_studies(records: list[RunRecord], out_dir: Path) -> list[StudyOutput]:
    """Every study the runs' system specs name, on every group of runs it applies to."""
    from physml.spec import import_object, spec_of

    outputs = []
    for system in sorted({r.system for r in records}):
        runs = [r for r in records if r.system == system]
        spec = spec_of(str(runs[0].setting("system.datamodule._target_")))
        for path in spec.studies:
            study: Study = import_object(path)()
            for i, group in enumerate(study.groups(runs)):
                try:
                    result = study(group)
                except Exception as exc:  # noqa: BLE001 - a failing study is reported, not fatal
                    traceback.print_exc()
                    result = AnalysisResult(notes=[f"study failed ({type(exc).__name__}: {exc})"])
                where = out_dir / "studies" / f"{study.name}_{i}"
                outputs.append(StudyOutput(study.name, group, result, save_result(result, where)))
    return outputs


def group_runs(runs: list[RunRecord]) -> tuple[list[str], dict[str, list[RunRecord]]]:
    """(overrides shared by all runs, group label -> runs) with seeds pooled in one group."""

    def varying(o: str) -> bool:
        return o.split("=", 1)[0].lstrip("+~") not in SEED_KEYS

    sets = [set(filter(varying, r.overrides)) for r in runs]
    common = set.intersection(*sets) if sets else set()
    groups: dict[str, list[RunRecord]] = {}
    for run, overrides in zip(runs, sets, strict=True):
        label = " ".join(o for o in run.overrides if o in overrides - common) or "all runs"
        groups.setdefault(label, []).append(run)
    fixed = [o for o in (runs[0].overrides if runs else []) if o in common]
    return fixed, groups


def group_statistics(runs: list[RunRecord]) -> dict[str, tuple[float, float, int]]:
    """metric -> (mean, sample std, number of runs that have it)."""
    keys = sorted({k for r in runs for k in r.metrics})
    return {key: aggregate(r.metrics[key] for r in runs if key in r.metrics) for key in keys}


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
        return "–" if math.isnan(value) else str(value)
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


def _aggregate_table(groups: dict[str, list[RunRecord]]) -> str:
    """One row per metric, one column per group of runs (seeds pooled)."""
    stats = {label: group_statistics(runs) for label, runs in groups.items()}
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


def _runs_table(runs: list[RunRecord], root: Path) -> str:
    keys = [k for k in _metric_order({k for r in runs for k in r.metrics}) if k.startswith(("val/", "test/"))]
    head = ('<th class="l">run</th><th class="l">overrides</th><th class="l">trackers</th>'
            + "".join(f"<th>{html.escape(k)}</th>" for k in keys))
    rows = []
    for r in runs:
        rel = html.escape(str(r.path.relative_to(root)) if r.path != root else ".")
        cells = "".join(f"<td>{_fmt(r.metrics[k])}</td>" if k in r.metrics else "<td>–</td>" for k in keys)
        links = tracker_html(r.path, r.trackers, root)  # physml.tracking: wandb / TensorBoard / CSV entry
        rows.append(f'<tr><td class="l">{rel}</td><td class="l">{html.escape(" ".join(r.overrides))}</td>'
                    f'<td class="l">{links}</td>{cells}</tr>')
    return f"<table><tr>{head}</tr>{''.join(rows)}</table>"


def _aggregate_figure(groups: dict[str, list[RunRecord]], out_dir: Path) -> Path | None:
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
        stats = [group_statistics(groups[g]).get(key, (np.nan, np.nan, 0)) for g in labels]
        ax.errorbar(range(len(labels)), [s[0] for s in stats], yerr=[np.nan_to_num(s[1]) for s in stats], fmt="o", capsize=4)
        for i, g in enumerate(labels):
            vals = [r.metrics[key] for r in groups[g] if key in r.metrics]
            ax.plot([i] * len(vals), vals, ".", color="0.6", zorder=0)
        ax.set_xticks(range(len(labels)), [f"g{i}" for i in range(len(labels))])
        ax.set_title(key, fontsize=9)
        ax.set_xlim(-0.5, len(labels) - 0.5)
    fig.suptitle("mean ± std over seeds (grey: single runs; g<i>: groups of the table)", fontsize=9)
    fig.tight_layout()
    return save_figure(fig, out_dir / "seed_aggregate.png")


def render(root: Path, runs: list[RunRecord], studies: list[StudyOutput], out_dir: Path, preamble: str = "") -> str:
    fixed, groups = group_runs(runs)
    parts = [
        "<!DOCTYPE html><html><head><meta charset='utf-8'>",
        f"<title>physml report: {html.escape(root.name)}</title><style>{CSS}</style></head><body>",
        f"<h1>physml report</h1><p><code>{html.escape(str(root))}</code> — {len(runs)} run(s), "
        f"system(s): {html.escape(', '.join(sorted({r.system for r in runs})))}; "
        f"written {dt.datetime.now().isoformat(timespec='seconds')}</p>",
    ]
    parts.append(preamble)
    if fixed:
        parts.append(f"<p>overrides shared by all runs: <code>{html.escape(' '.join(fixed))}</code></p>")
    summary = root / "sweep_summary.json"
    if summary.exists():
        import json

        failed = [j for j in json.loads(summary.read_text()).get("jobs", []) if j.get("status") == "failed"]
        if failed:
            items = "".join(
                f"<li>job {html.escape(j['job'])} <code>{html.escape(' '.join(j.get('overrides', [])))}</code>: "
                f"{html.escape(j.get('error', ''))}: {html.escape(j.get('message', ''))}</li>"
                for j in failed
            )
            parts.append(f'<h2 class="note">Failed sweep jobs ({len(failed)})</h2><ul>{items}</ul>')
    parts.append("<h2>Metrics aggregated over seeds (mean ± std)</h2>")
    parts.append(
        "<p><code>val/*_min</code> / <code>val/*_max</code>: best value over epochs (min loss, max "
        "accuracy) from the CSV training log; other metrics from testing and the analysis.</p>"
    )
    parts.append(_aggregate_table(groups))
    agg_fig = _aggregate_figure(groups, out_dir)
    if agg_fig is not None:
        parts.append(_img(agg_fig, wide=True))
    for output in studies:
        names = ", ".join(html.escape(str(r.path.relative_to(root)) if r.path != root else r.path.name) for r in output.runs)
        parts.append(f"<h2>Study: {html.escape(output.name)}</h2><p>runs: {names}</p>")
        parts.extend(f'<p class="note">{html.escape(n)}</p>' for n in output.result.notes)
        parts.extend(_img(p, wide=True) for p in output.figures.values())
        for name, rows in output.result.tables.items():
            parts.append(f"<h4>{html.escape(name)}</h4>{_table(rows)}")
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


def build_report(root: Path, out: Path | None = None, recompute: bool = True, preamble: str = "") -> Path:
    """Analyse every run under ``root``, run the studies, and write the HTML page (default ``root/report.html``)."""
    root = root.resolve()
    run_dirs = find_runs(root)
    if not run_dirs:
        raise FileNotFoundError(f"{root} holds no run (no .hydra/config.yaml below it)")
    work = root / "report_files"
    records = []
    for run_dir in run_dirs:
        rel = run_dir.relative_to(root) if run_dir != root else Path("run")
        records.append(record_run(run_dir, work / rel, recompute=recompute))
    studies = run_studies(records, work)
    out = out or root / "report.html"
    out.write_text(render(root, records, studies, work, preamble), encoding="utf-8")
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
