"""`physml reproduce`: run the review's results as studies and write a scorecard with verdicts.

    physml reproduce [--study NAME ...] [--scale laptop|paper] [--out DIR] [--docs DIR]
    physml reproduce --cost [--scale paper] [--tflops 25]   (what a scale costs; runs nothing)

Each study's runs go to ``<out>/<study>/<job>`` (one ``train.py`` process each, sharing
``<out>/data``); finished runs are skipped and interrupted ones resumed, so the command
can be rerun after a restart. Then every claim gets physml's value (mean ± std over
seeds), its criterion and a verdict, written to ``<out>/scorecard.md``,
``scorecard.json`` and the top of ``<out>/report.html``; ``--docs`` also copies the
scorecard and its figures there (what the README shows).
"""

from __future__ import annotations

import argparse
import shutil
import sys
import time
from pathlib import Path

from tqdm.auto import tqdm

#: figures each study contributes to the committed scorecard (job or study output / figure)
FIGURES = {
    "percolation_p_classification": ["seed0/confusion_p"],
    "percolation_p_regression": ["seed0/regression_p"],
    "percolation_spanning": ["seed0/p_proxy", "seed0/spanning_probability"],
    "anderson": ["accuracy_vs_M/accuracy_vs_M", "w_M16_seed0/confusion_w"],
    "j1j2": ["phase_map/phase_map", "eps_crossing/eps_crossing", "L30_low_J2_seed0/boundary"],
    "lacbed": ["seed0/r_by_space_group", "seed0/examples_mean_median"],
    "potts": ["tc_vs_size/tc_vs_size", "L32_seed0/transition"],
}


def main(argv: list[str] | None = None) -> int:
    from physml.reproduce import scorecard
    from physml.reproduce.catalogue import STUDIES
    from physml.reproduce.runner import run_study

    parser = argparse.ArgumentParser(prog="physml reproduce", description=__doc__.split("\n")[0])
    parser.add_argument("--study", nargs="+", default=None, help=f"studies to run (default all): {', '.join(STUDIES)}")
    parser.add_argument("--scale", choices=("laptop", "paper"), default="laptop")
    parser.add_argument("--out", type=Path, default=None, help="default runs/reproduce_<scale>")
    parser.add_argument("--docs", type=Path, default=None, help="copy scorecard.md/.json and its figures here")
    parser.add_argument("--override", nargs="*", default=[], help="extra Hydra overrides for every run (e.g. debug=tiny)")
    parser.add_argument("--list", action="store_true", help="list the studies and their runs, run nothing")
    parser.add_argument(
        "--cost", action="store_true", help="print states, data size, training FLOPs and GPU-hours; run nothing"
    )
    parser.add_argument("--tflops", type=float, default=None, help="--cost: assumed sustained TFLOP/s (default 25)")
    args = parser.parse_args(argv)
    names = args.study or list(STUDIES)
    unknown = [n for n in names if n not in STUDIES]
    if unknown:
        print(f"physml reproduce: unknown study {unknown}: allowed {list(STUDIES)}", file=sys.stderr)
        return 2
    if args.tflops is not None and not args.tflops > 0:
        print(f"physml reproduce: --tflops {args.tflops}: allowed numbers > 0", file=sys.stderr)
        return 2
    if args.cost:
        from physml.reproduce.cost import DEFAULT_TFLOPS, cost_table

        print(cost_table([STUDIES[n] for n in names], args.scale, args.tflops or DEFAULT_TFLOPS))
        return 0
    if args.list:
        for name in names:
            study = STUDIES[name]
            print(f"{name}: {study.title}")
            for job in study.jobs(args.scale):
                print(f"    {job.name}: {' '.join(job.overrides)}")
        return 0
    out = (args.out or Path("runs") / f"reproduce_{args.scale}").resolve()
    out.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    results = []
    for name in tqdm(names, desc="studies", unit="study"):
        results.append(run_study(STUDIES[name], args.scale, out, extra=args.override))
    record = scorecard.write(results, out, args.scale, time.perf_counter() - start)
    from physml.report import build_report

    build_report(out, preamble=scorecard.html_section(record))
    if args.docs is not None:
        args.docs.mkdir(parents=True, exist_ok=True)
        for name in ("scorecard.md", "scorecard.json"):
            shutil.copyfile(out / name, args.docs / name)
        scorecard.copy_figures(results, args.docs / "figures", FIGURES)
    print((out / "scorecard.md").read_text())
    print(f"scorecard: {out / 'scorecard.md'}; report: {out / 'report.html'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
