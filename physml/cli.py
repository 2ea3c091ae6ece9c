"""The `physml` command: simulate (Hydra app), inspect and repair a dataset, report on runs."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

#: exit status when stored data fail verification (2 is a configuration error)
EXIT_DATA = 3

USAGE = """usage: physml <command> [args]

commands:
  simulate [hydra overrides]   generate a dataset or a range of its shards (conf/simulate.yaml)
  inspect PATH [--verify]      schema, parameters, completeness and label counts of a dataset;
                               --verify checks it byte for byte (exit 3 naming every bad shard)
  repair PATH [--workers N]    regenerate exactly the corrupt shards and damaged metadata of a dataset
  report DIR                   recompute figures/tables of a run or multirun dir, write report.html
  reproduce [--study NAME ...] [--scale laptop|paper] [--out DIR] [--docs DIR]
                               run the review's results as studies; scorecard with verdicts
  reference j1j2 --J2 ...      Monte Carlo reference T_c(J2) from Binder crossings (no learning)
"""


def _is_dataset(path: Path) -> bool:
    """A physml dataset directory: it has a group zarr.json, or (metadata lost) its marker folder."""
    from physml.store import MARKER_DIR

    return path.is_dir() and ((path / "zarr.json").exists() or (path / MARKER_DIR).is_dir())


def _inspect(argv: list[str]) -> int:
    """Describe a dataset; with --verify check it byte for byte (exit 3 when anything is bad)."""
    from physml.errors import DataIntegrityError
    from physml.store import describe, verify_path

    parser = argparse.ArgumentParser(prog="physml inspect")
    parser.add_argument("path", type=Path)
    parser.add_argument("--verify", action="store_true", help="check every complete shard and metadata file byte for byte")
    parser.add_argument("--json", action="store_true", help="print machine-readable JSON")
    args = parser.parse_args(argv)
    if not _is_dataset(args.path):
        print(f"physml inspect: {args.path} is not a physml dataset (no zarr.json)", file=sys.stderr)
        return 2
    info: dict[str, Any] = {"path": str(args.path)}
    described = True
    try:
        info.update(describe(args.path))
    except DataIntegrityError as exc:
        described = False
        info["metadata_error"] = str(exc)
        if not args.verify:
            print(f"physml: data error: {exc}", file=sys.stderr)
            return EXIT_DATA
    report = verify_path(args.path, progress=not args.json and sys.stderr.isatty()) if args.verify else None
    if report is not None:
        info["corrupt_shards"] = sorted(report.bad_shards)
        info["verify"] = report.as_dict()
        status = 0 if report.ok else EXIT_DATA
    else:
        status = EXIT_DATA if info.get("damaged_metadata") else 0
    if args.json:
        print(json.dumps(info, indent=2))
        return status
    if described:
        _print_description(info)
    if report is not None:
        _print_report(report)
    elif info.get("damaged_metadata"):
        from physml.store import repair_command

        for why in info["damaged_metadata"].values():
            print(f"physml: data error: metadata: {why}", file=sys.stderr)
        print(f"check every shard with `physml inspect {args.path} --verify`; repair: {repair_command(args.path)}",
              file=sys.stderr)
    return status


def _print_description(info: dict[str, Any]) -> None:
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
    for key, why in info.get("unreadable", {}).items():
        print(f"  {key:20s} unreadable: {why}")


def _print_report(report: Any) -> None:
    from physml.store import repair_command

    how = "file SHA-256s and data checksums" if not report.legacy else "data checksums (old markers: no file records)"
    if report.ok:
        print(f"corrupt     none: metadata and {len(report.checked)} complete shards match their records ({how})")
        return
    print(f"verify      FAILED: {len(report.bad_shards)} of {len(report.checked)} complete shards corrupt, "
          f"{len(report.bad_metadata)} metadata file(s) damaged", file=sys.stderr)
    if report.bad_shards:
        print(f"corrupt     shards {', '.join(map(str, sorted(report.bad_shards)))}", file=sys.stderr)
    for line in report.problems(limit=len(report.bad_shards)):
        print(f"  {line}", file=sys.stderr)
    print(f"repair      {repair_command(report.path)}", file=sys.stderr)


def _repair(argv: list[str]) -> int:
    """Rebuild a dataset's spec from the store itself and rewrite exactly what is bad."""
    from physml.errors import ConfigError, DataIntegrityError
    from physml.store import repair, spec_from_store

    parser = argparse.ArgumentParser(
        prog="physml repair",
        description="Verify a dataset byte for byte and regenerate exactly its corrupt shards and damaged "
        "metadata (byte-identical to a clean generation); missing shards are generated too.",
    )
    parser.add_argument("path", type=Path)
    parser.add_argument("--workers", type=int, default=1, help="processes that regenerate shards (default 1)")
    args = parser.parse_args(argv)
    if args.workers < 1:
        print(f"physml: configuration error: --workers={args.workers} is invalid: allowed integers >= 1", file=sys.stderr)
        return 2
    if not _is_dataset(args.path):
        print(f"physml repair: {args.path} is not a physml dataset (no zarr.json)", file=sys.stderr)
        return 2
    try:
        spec, data_dir = spec_from_store(args.path)
        result = repair(spec, data_dir, workers=args.workers, progress=sys.stderr.isatty())
    except ConfigError as exc:
        print(f"physml: configuration error: {exc}", file=sys.stderr)
        return 2
    except DataIntegrityError as exc:
        print(f"physml: data error: {exc}", file=sys.stderr)
        return EXIT_DATA
    print(result.summary())
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
    if command == "repair":
        return _repair(rest)
    if command == "reproduce":
        from physml.reproduce import main as reproduce_main

        return reproduce_main(rest)
    if command == "reference":
        from physml.reference import main as reference_main

        return reference_main(rest)
    print(f"physml: unknown command {command!r}\n\n{USAGE}", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
