"""``sacct -o JobID,State,NodeList --parsable2 -j ID ...`` answered from slurmctld (``scontrol``).

Why: submitit learns that a job ended *without* writing its result (a task that exited
non-zero, a killed job) only from ``sacct``, and real ``sacct`` needs slurmdbd plus a MySQL
server, far more than a test cluster should start. Without any ``sacct`` such a job leaves the
launcher waiting forever. slurmctld itself knows every job's state for ``MinJobAge`` seconds
after it ends, so this stand-in asks it (``scontrol -o show job ID``) and prints the same
columns. The test cluster puts it on PATH only for the test session; it supports exactly the
options submitit uses (``-o/--format`` with JobID, State, NodeList; ``--parsable2``; ``-j``).
Standard library only: it runs under whichever Python the harness wrote into its wrapper.
"""

from __future__ import annotations

import argparse
import subprocess
import sys

COLUMNS = {"JobID", "State", "NodeList"}


def _fields(line: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for item in line.split():
        key, sep, value = item.partition("=")
        if sep:
            out[key] = value
    return out


def job_rows(job_id: str) -> list[dict[str, str]]:
    """One row per job (array jobs: one per task, or one ``ID_[a-b]`` row for pending ranges)."""
    done = subprocess.run(["scontrol", "-o", "show", "job", job_id], capture_output=True, text=True, check=False)
    rows = []
    for line in done.stdout.splitlines():
        fields = _fields(line)
        if "JobId" not in fields:
            continue
        array_id, task = fields.get("ArrayJobId"), fields.get("ArrayTaskId")
        if array_id and task is not None:
            name = f"{array_id}_{task}" if task.isdigit() else f"{array_id}_[{task.split('%')[0]}]"
        else:
            name = fields["JobId"]
        state = fields.get("JobState", "UNKNOWN")
        rows.append({"JobID": name, "State": state, "NodeList": fields.get("NodeList", "")})
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="sacct")
    parser.add_argument("-o", "--format", default="JobID,State,NodeList")
    parser.add_argument("-j", "--jobs", action="append", default=[])
    parser.add_argument("--parsable2", "-P", action="store_true")
    args = parser.parse_args(argv)
    columns = args.format.split(",")
    unknown = [c for c in columns if c not in COLUMNS]
    if unknown:
        print(f"sacct (test stand-in): unsupported columns {unknown}; supported {sorted(COLUMNS)}", file=sys.stderr)
        return 1
    print("|".join(columns))
    for jobs in args.jobs:
        for job_id in jobs.split(","):
            for row in job_rows(job_id):
                print("|".join(row[c] for c in columns))
    return 0


if __name__ == "__main__":
    sys.exit(main())
