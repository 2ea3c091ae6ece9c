"""The scorecard: every claim's review value, physml's value, the criterion and the verdict.

Written as ``scorecard.json`` (everything, machine-readable), ``scorecard.md`` (the table
the README shows) and an HTML section that ``physml report`` puts at the top of the
study folder's ``report.html``.
"""

from __future__ import annotations

import datetime as dt
import html
import json
import os
import platform
import shutil
import subprocess
from pathlib import Path
from typing import Any

from physml.analysis.studies import aggregate
from physml.reproduce.runner import StudyResults
from physml.reproduce.verdicts import Verdict

ICON = {"pass": "✅ pass", "fail": "❌ fail", "unreliable": "⚠️ unreliable"}


def machine() -> str:
    """A one-line description of this machine."""
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    memory = ""
    try:
        kib = int(next(li for li in Path("/proc/meminfo").read_text().splitlines() if li.startswith("MemTotal")).split()[1])
        memory = f", {kib / 2**20:.0f} GiB"
    except (OSError, StopIteration, ValueError):
        pass
    return f"{os.cpu_count()} × {cpu}{memory}, {platform.system()} {platform.release()}"


def commit() -> str:
    try:
        return subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=False,
                               cwd=Path(__file__).resolve().parents[2]).stdout.strip()
    except OSError:
        return ""


def speed(results: StudyResults) -> dict[str, float]:
    """Mean training samples/s and data-wait share over the study's runs."""
    out = {}
    for key in ("speed/train_samples_per_s", "speed/train_data_wait_fraction"):
        mean, _, n = aggregate(results.metric(key))
        if n:
            out[key] = mean
    return out


def evaluate(results: StudyResults) -> list[tuple[Any, Verdict]]:
    rows = []
    for claim in results.study.claims:
        try:
            verdict = claim.evaluate(results)
        except Exception as exc:  # noqa: BLE001 - a claim that cannot be computed is a failure, with the reason
            verdict = Verdict("—", "fail", f"could not be computed: {type(exc).__name__}: {exc}")
        rows.append((claim, verdict))
    return rows


def write(all_results: list[StudyResults], out: Path, scale: str, wall_seconds: float) -> dict[str, Any]:
    """Write scorecard.json and scorecard.md under ``out``; return the JSON record."""
    record: dict[str, Any] = {
        "date": dt.datetime.now().isoformat(timespec="seconds"),
        "machine": machine(),
        "commit": commit(),
        "scale": scale,
        "wall_seconds_this_invocation": wall_seconds,
        "studies": [],
    }
    for results in all_results:
        rows = evaluate(results)
        record["studies"].append(
            {
                "study": results.study.name,
                "title": results.study.title,
                "budget": results.study.budget,
                "seconds": results.seconds,
                "runs_finished": len(results.records),
                "runs_failed": results.failed,
                "speed": speed(results),
                "claims": [claim.row(verdict) for claim, verdict in rows],
            }
        )
    (out / "scorecard.json").write_text(json.dumps(record, indent=2, default=str))
    (out / "scorecard.md").write_text(markdown(record))
    return record


def markdown(record: dict[str, Any]) -> str:
    total = sum(s["seconds"] for s in record["studies"])
    counts = {v: sum(c["verdict"] == v for s in record["studies"] for c in s["claims"]) for v in ICON}
    lines = [
        f"# physml scorecard ({record['scale']} scale)",
        "",
        f"Run on {record['date']} (commit {record['commit']}) on {record['machine']}; "
        f"compute time of all runs {total / 60:.0f} min. "
        f"{counts['pass']} pass, {counts['fail']} fail, {counts['unreliable']} unreliable.",
        "",
        "| study | claim | review | physml | criterion | verdict | reason |",
        "|---|---|---|---|---|---|---|",
    ]
    def cell(text: object) -> str:
        return str(text).replace("|", "\\|")

    for s in record["studies"]:
        for c in s["claims"]:
            cells = [s["study"], c["text"], c["review"], c["value"], c["criterion"], ICON.get(c["verdict"], c["verdict"]), c["reason"]]
            lines.append("| " + " | ".join(cell(x) for x in cells) + " |")
    lines += ["", "| study | runs | time (min) | training samples/s | waiting for data |", "|---|---|---|---|---|"]
    for s in record["studies"]:
        sp = s["speed"]
        rate = f"{sp['speed/train_samples_per_s']:.0f}" if "speed/train_samples_per_s" in sp else "—"
        wait = f"{100 * sp['speed/train_data_wait_fraction']:.1f} %" if "speed/train_data_wait_fraction" in sp else "—"
        failed = f", {len(s['runs_failed'])} failed" if s["runs_failed"] else ""
        lines.append(f"| {s['study']} | {s['runs_finished']}{failed} | {s['seconds'] / 60:.1f} | {rate} | {wait} |")
    return "\n".join(lines) + "\n"


def html_section(record: dict[str, Any]) -> str:
    """The scorecard as an HTML table for the top of report.html."""
    rows = []
    for s in record["studies"]:
        for c in s["claims"]:
            cells = [s["study"], c["text"], c["review"], c["value"], c["criterion"], ICON.get(c["verdict"], c["verdict"]), c["reason"]]
            rows.append("<tr>" + "".join(f'<td class="l">{html.escape(str(x))}</td>' for x in cells) + "</tr>")
    head = "".join(f"<th>{h}</th>" for h in ("study", "claim", "review", "physml", "criterion", "verdict", "reason"))
    return (
        f"<h2>Scorecard ({html.escape(record['scale'])} scale)</h2><p>{html.escape(record['date'])}, "
        f"{html.escape(record['machine'])}</p><table><tr>{head}</tr>{''.join(rows)}</table>"
    )


def copy_figures(all_results: list[StudyResults], docs: Path, wanted: dict[str, list[str]]) -> list[Path]:
    """Copy the named figures (study -> [job/figure or study-output/figure]) into ``docs``."""
    docs.mkdir(parents=True, exist_ok=True)
    copied = []
    for results in all_results:
        for item in wanted.get(results.study.name, []):
            where, figure = item.split("/", 1)
            source = None
            if where in results.records:
                source = results.records[where].figures.get(figure)
            else:
                output = results.output(where)
                source = output.figures.get(figure) if output is not None else None
            if source is not None and Path(source).exists():
                target = docs / f"{results.study.name}__{where}__{figure}.png"
                shutil.copyfile(source, target)
                copied.append(target)
    return copied
