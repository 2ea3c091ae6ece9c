"""The `physml` command: simulate (Hydra app), inspect a dataset, report on runs."""

from __future__ import annotations

import argparse
import json
import sys

USAGE = """usage: physml <command> [args]

commands:
  simulate [hydra overrides]   generate a dataset or a range of its shards (conf/simulate.yaml)
  inspect PATH [--verify]      schema, parameters, completeness and label counts of a dataset
  report DIR                   recompute figures/tables of a run or multirun dir, write report.html
"""


def _inspect(argv: list[str]) -> int:
    from pathlib import Path

    from physml.store import describe

    parser = argparse.ArgumentParser(prog="physml inspect")
    parser.add_argument("path", type=Path)
    parser.add_argument("--verify", action="store_true", help="re-check every complete shard's checksum")
    parser.add_argument("--json", action="store_true", help="print machine-readable JSON")
    args = parser.parse_args(argv)
    if not (args.path / "zarr.json").exists():
        print(f"physml inspect: {args.path} is not a physml dataset (no zarr.json)", file=sys.stderr)
        return 2
    info = describe(args.path)
    if args.verify:
        from physml.store import verify_path

        info["corrupt_shards"] = verify_path(args.path)
    if args.json:
        print(json.dumps(info, indent=2))
        return 0
    print(f"dataset     {info['path']}")
    print(f"simulator   {info['simulator']} v{info['simulator_version']}  split={info['split']} seed={info['seed']}")
    print(f"complete    {info['shards_complete']}/{info['num_shards']} shards, {info['num_samples']} samples in all")
    print("parameters")
    for key, value in info["params"].items():
        print(f"  {key:20s} {value}")
    print("schema")
    for key, spec in info["schema"].items():
        print(f"  {key:20s} {spec['dtype']:8s} {tuple(spec['shape'])}")
    if info["label_counts"]:
        print("label counts (complete shards)")
        for key, counts in info["label_counts"].items():
            shown = ", ".join(f"{k}: {v}" for k, v in list(counts.items())[:12])
            more = " ..." if len(counts) > 12 else ""
            print(f"  {key:20s} {shown}{more}")
    if args.verify:
        print(f"corrupt     {info['corrupt_shards'] or 'none'}")
    return 0


def _report(argv: list[str]) -> int:
    from physml.report import main as report_main

    return report_main(argv)


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] in ("-h", "--help"):
        print(USAGE)
        return 0
    command, rest = argv[0], argv[1:]
    if command == "simulate":
        from physml.simulate import hydra_main

        sys.argv = ["physml simulate", *rest]
        hydra_main()
        return 0
    if command == "inspect":
        return _inspect(rest)
    if command == "report":
        return _report(rest)
    print(f"physml: unknown command {command!r}\n\n{USAGE}", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
