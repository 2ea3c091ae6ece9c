"""A private single-node SLURM cluster for tests: install, configure, start, stop.

Why this exists: physml's ``hardware=slurm`` path (hydra-submitit-launcher -> sbatch -> srun ->
Lightning's SLURMEnvironment) can only be trusted once it has run on a real scheduler. This
module brings one up on localhost from Debian's ``slurm-wlm`` and ``munge`` packages:

- everything it writes (munge key and socket, ``slurm.conf``, state, spool, logs) lives in one
  directory, with free TCP ports, so it never touches ``/etc/slurm`` or a site's cluster;
- the daemons run in the foreground as children in their own sessions, so they are stopped by
  their process ids (recorded in ``pids.json``), never by name;
- the settings that work in a container without systemd or cgroups: proctrack/linuxproc,
  task/none, no accounting database (a ``sacct`` stand-in on the session's PATH answers
  submitit's job-state queries from slurmctld: sacct.py), batch jobs requeue-able (``JobRequeue=1``) so a test can
  ``scontrol requeue`` a running job and see it start again in the same job id.

Command line (root): ``python tests/slurm/cluster.py start DIR`` prints the ``SLURM_CONF=...``
to export; ``python tests/slurm/cluster.py stop DIR`` stops it.
"""

from __future__ import annotations

import argparse
import json
import os
import pwd
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

PARTITION = "debug"
PACKAGES = ("slurm-wlm", "munge")
PROGRAMS = ("munged", "slurmctld", "slurmd", "sinfo", "sbatch", "srun", "squeue", "scontrol", "scancel")


class ClusterError(RuntimeError):
    """The cluster could not be installed or started: says which step and shows its log."""


def missing_programs() -> list[str]:
    """SLURM/munge programs not on PATH (sbin included, where the daemons live)."""
    path = os.pathsep.join([os.environ.get("PATH", ""), "/usr/sbin", "/sbin"])
    return [p for p in PROGRAMS if shutil.which(p, path=path) is None]


def ensure_installed() -> None:
    """Install Debian's slurm-wlm and munge with apt-get when any program is missing."""
    if not missing_programs():
        return
    if os.geteuid() != 0 or shutil.which("apt-get") is None:
        raise ClusterError(f"missing {missing_programs()}; install {' '.join(PACKAGES)} (needs root and apt-get)")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for cmd in (["apt-get", "update", "-q"], ["apt-get", "install", "-y", "-q", *PACKAGES]):
        done = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=1200)
        if done.returncode != 0:
            raise ClusterError(f"{' '.join(cmd)} failed:\n{done.stdout[-2000:]}\n{done.stderr[-2000:]}")
    if missing_programs():
        raise ClusterError(f"still missing after installing {PACKAGES}: {missing_programs()}")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _program(name: str) -> str:
    path = os.pathsep.join([os.environ.get("PATH", ""), "/usr/sbin", "/sbin"])
    found = shutil.which(name, path=path)
    if found is None:
        raise ClusterError(f"{name} not found")
    return found


def _memory_mb() -> int:
    """Total memory in MB, from /proc/meminfo."""
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemTotal:"):
            return int(line.split()[1]) // 1024
    return 2048


class SlurmCluster:
    """One slurmctld + one slurmd (+ a private munged) on localhost, configured under ``root``.

    ``cpus`` defaults to max(nproc, 2): SLURM may then pack 2 one-CPU tasks on a 1-core machine
    (``SlurmdParameters=config_overrides`` lets the node claim what it is told).
    """

    def __init__(self, root: Path, cpus: int | None = None, partition: str = PARTITION) -> None:
        self.root = Path(root).resolve()
        self.cpus = cpus or max(os.cpu_count() or 1, 2)
        self.partition = partition
        self.node = socket.gethostname().split(".")[0]
        self.conf = self.root / "slurm.conf"
        self.munge_dir = self.root / "munge"
        self.socket = self.munge_dir / "munge.socket"
        self.bin_dir = self.root / "bin"
        self.pids: dict[str, int] = {}

    # ---- configuration -------------------------------------------------------------
    def env(self) -> dict[str, str]:
        """Environment for SLURM clients (sbatch, srun, sinfo, submitit) talking to this cluster.

        PATH starts with ``bin/``, which holds the ``sacct`` stand-in (see sacct.py).
        """
        path = os.pathsep.join([str(self.bin_dir), os.environ.get("PATH", "")])
        return {**os.environ, "SLURM_CONF": str(self.conf), "PATH": path}

    def write_sacct(self) -> None:
        """``bin/sacct``: job states from slurmctld, because this cluster has no accounting database."""
        self.bin_dir.mkdir(parents=True, exist_ok=True)
        script = Path(__file__).with_name("sacct.py")
        wrapper = self.bin_dir / "sacct"
        wrapper.write_text(f'#!/bin/sh\nexec "{sys.executable}" "{script}" "$@"\n')
        wrapper.chmod(0o755)

    def write_config(self) -> None:
        """slurm.conf for one node: no cgroups, no accounting, requeue-able batch jobs."""
        for sub in ("state", "spool", "log", "run"):
            (self.root / sub).mkdir(parents=True, exist_ok=True)
        memory = max(256, int(_memory_mb() * 0.9))
        lines = [
            "ClusterName=physmltest",
            f"SlurmctldHost={self.node}(127.0.0.1)",
            f"SlurmctldPort={_free_port()}",
            f"SlurmdPort={_free_port()}",
            "SlurmUser=root",
            "SlurmdUser=root",
            "AuthType=auth/munge",
            "CredType=cred/munge",
            f"AuthInfo=socket={self.socket}",
            f"StateSaveLocation={self.root / 'state'}",
            f"SlurmdSpoolDir={self.root / 'spool'}",
            f"SlurmctldPidFile={self.root / 'run' / 'slurmctld.pid'}",
            f"SlurmdPidFile={self.root / 'run' / 'slurmd.pid'}",
            f"SlurmctldLogFile={self.root / 'log' / 'slurmctld.log'}",
            f"SlurmdLogFile={self.root / 'log' / 'slurmd.log'}",
            "SlurmctldDebug=info",
            "SlurmdDebug=info",
            "ProctrackType=proctrack/linuxproc",
            "TaskPlugin=task/none",
            "JobAcctGatherType=jobacct_gather/none",
            "AccountingStorageType=accounting_storage/none",
            "JobCompType=jobcomp/none",
            "MpiDefault=none",
            "SwitchType=switch/none",
            "SchedulerType=sched/backfill",
            "SelectType=select/cons_tres",
            "SelectTypeParameters=CR_Core",
            "SlurmdParameters=config_overrides",
            "ReturnToService=2",
            "JobRequeue=1",
            "KillWait=5",
            "MinJobAge=3600",  # finished jobs stay visible to scontrol (and the sacct stand-in)
            "InactiveLimit=0",
            "SlurmdTimeout=60",
            "SlurmctldTimeout=60",
            f"NodeName={self.node} NodeAddr=127.0.0.1 CPUs={self.cpus} RealMemory={memory} State=UNKNOWN",
            f"PartitionName={self.partition} Nodes={self.node} Default=YES MaxTime=INFINITE State=UP",
        ]
        self.conf.write_text("\n".join(lines) + "\n")

    def _prepare_munge(self) -> None:
        """A private munge key and socket dir owned by the munge user (munged checks both)."""
        munge = pwd.getpwnam("munge")
        self.root.chmod(0o755)  # munged must traverse it; it refuses group/world-writable dirs
        self.munge_dir.mkdir(exist_ok=True)
        self.munge_dir.chmod(0o755)  # clients need to reach the socket; munged insists on o+x
        key = self.munge_dir / "munge.key"
        if not key.exists():
            key.write_bytes(os.urandom(1024))
        key.chmod(0o400)
        for path in (self.munge_dir, key):
            os.chown(path, munge.pw_uid, munge.pw_gid)

    # ---- processes -----------------------------------------------------------------
    def _spawn(self, name: str, cmd: list[str], user: str | None = None) -> None:
        log = open(self.root / "log" / f"{name}.out", "ab")  # noqa: SIM115 - handed to the child
        proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                env=self.env(), user=user, start_new_session=True)
        log.close()
        self.pids[name] = proc.pid
        (self.root / "pids.json").write_text(json.dumps(self.pids))

    def run(self, *args: str, timeout: float = 60, check: bool = True) -> subprocess.CompletedProcess[str]:
        """A SLURM client command against this cluster, e.g. ``run("sinfo", "-h")``."""
        done = subprocess.run([_program(args[0]), *args[1:]], capture_output=True, text=True, env=self.env(),
                              timeout=timeout)
        if check and done.returncode != 0:
            raise ClusterError(f"{' '.join(args)} exited {done.returncode}: {done.stderr.strip()}")
        return done

    def wait_until(self, what: str, predicate: Callable[[], bool], timeout: float = 60,
                   poll: float = 0.5) -> None:
        """Poll ``predicate`` until true; raise with the daemons' log tails on timeout or if one died."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if predicate():
                return
            dead = [name for name, pid in self.pids.items() if not _alive(pid)]
            if dead:
                raise ClusterError(f"{dead} exited while waiting for {what}\n{self.log_tails()}")
            time.sleep(poll)
        raise ClusterError(f"timed out after {timeout:.0f} s waiting for {what}\n{self.log_tails()}")

    def log_tails(self, chars: int = 1500) -> str:
        parts = []
        for log in sorted((self.root / "log").glob("*")):
            parts.append(f"--- {log.name}\n{log.read_text(errors='replace')[-chars:]}")
        return "\n".join(parts)

    def node_state(self) -> str:
        done = self.run("sinfo", "-h", "-N", "-o", "%T", check=False, timeout=20)
        return done.stdout.strip() if done.returncode == 0 else ""

    def _munge_ok(self) -> bool:
        if not self.socket.exists():
            return False
        cred = subprocess.run([_program("munge"), "-n", f"--socket={self.socket}"], capture_output=True,
                              timeout=10)
        back = subprocess.run([_program("unmunge"), f"--socket={self.socket}"], input=cred.stdout,
                              capture_output=True, timeout=10)
        return cred.returncode == 0 and back.returncode == 0

    def start(self, timeout: float = 90) -> None:
        """Install if needed, configure, start munged, slurmctld, slurmd; wait for an idle node."""
        if os.geteuid() != 0:
            raise ClusterError("a private SLURM cluster needs root (slurmd starts jobs as their user)")
        ensure_installed()
        self.root.mkdir(parents=True, exist_ok=True)
        self.write_config()
        self.write_sacct()
        self._prepare_munge()
        m = self.munge_dir
        self._spawn("munged", [_program("munged"), "--foreground", f"--socket={self.socket}",
                               f"--key-file={m / 'munge.key'}", f"--log-file={m / 'munged.log'}",
                               f"--pid-file={m / 'munged.pid'}", f"--seed-file={m / 'munged.seed'}"],
                    user="munge")
        try:
            self.wait_until("munged (munge -n | unmunge)", self._munge_ok, timeout=30)
            self._spawn("slurmctld", [_program("slurmctld"), "-D", "-i", "-f", str(self.conf)])
            self.wait_until("slurmctld (sinfo)", lambda: bool(self.node_state()), timeout=timeout)
            self._spawn("slurmd", [_program("slurmd"), "-D", "-f", str(self.conf)])
            self.wait_until(f"node {self.node} idle", lambda: self.node_state() == "idle", timeout=timeout)
        except BaseException:
            self.stop()
            raise

    def stop(self, timeout: float = 30) -> None:
        """Cancel every job, then stop the daemons by pid (slurmd, slurmctld, munged), SIGKILL if slow."""
        if self.pids.get("slurmctld") and _alive(self.pids["slurmctld"]):
            self.run("scancel", "--full", f"--partition={self.partition}", check=False, timeout=20)
            try:
                self.wait_until("jobs to end", lambda: not self.run("squeue", "-h", check=False).stdout.strip(),
                                timeout=timeout)
            except ClusterError:
                pass
        for name in ("slurmd", "slurmctld", "munged"):
            pid = self.pids.pop(name, None)
            if pid is not None:
                _terminate(pid, timeout=timeout)
        (self.root / "pids.json").write_text(json.dumps(self.pids))

    @classmethod
    def attach(cls, root: Path) -> SlurmCluster:
        """The cluster a previous ``start`` left running under ``root`` (for the command line)."""
        cluster = cls(root)
        cluster.pids = json.loads((cluster.root / "pids.json").read_text())
        return cluster

    # ---- jobs ----------------------------------------------------------------------
    def sbatch(self, *args: str) -> str:
        """Submit a batch job; returns its id."""
        return self.run("sbatch", "--parsable", *args).stdout.strip().split(";")[0]

    def job(self, job_id: str) -> dict[str, str]:
        """``scontrol show job`` as a dict (JobState, Restarts, Reason, ...); {} once forgotten."""
        done = self.run("scontrol", "-o", "show", "job", job_id, check=False, timeout=20)
        fields: dict[str, str] = {}
        for item in done.stdout.split():
            key, sep, value = item.partition("=")
            if sep:
                fields[key] = value
        return fields

    def wait_for_state(self, job_id: str, states: Sequence[str], timeout: float = 120) -> dict[str, str]:
        """Wait until the job is in one of ``states`` (e.g. RUNNING, COMPLETED); returns its fields."""
        seen: dict[str, str] = {}

        def reached() -> bool:
            seen.update(self.job(job_id))
            return seen.get("JobState") in states

        self.wait_until(f"job {job_id} in {list(states)} (now {seen.get('JobState')})", reached, timeout=timeout)
        return seen

    def requeue(self, job_id: str) -> None:
        """``scontrol requeue`` a running job and let it start again now (SLURM delays it ~2 min)."""
        self.run("scontrol", "requeue", job_id)
        self.wait_until(f"job {job_id} pending after requeue",
                        lambda: self.job(job_id).get("JobState") in ("PENDING", "RUNNING"), timeout=60)
        self.run("scontrol", "update", f"JobId={job_id}", "StartTime=now", check=False)
        self.run("scontrol", "release", job_id, check=False)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # a child that exited but was not reaped is a zombie: not alive
    try:
        return Path(f"/proc/{pid}/stat").read_text().split(") ")[1][0] != "Z"
    except (OSError, IndexError):
        return True


def _terminate(pid: int, timeout: float) -> None:
    """SIGTERM one process by id, wait, SIGKILL if it is still there; reap it if it is our child."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.kill(pid, sig)
        except ProcessLookupError:
            break
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and _alive(pid):
            time.sleep(0.2)
        if not _alive(pid):
            break
    try:
        os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        pass


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("action", choices=["start", "stop", "status"])
    parser.add_argument("dir", type=Path, help="where slurm.conf, state, logs and pids live")
    args = parser.parse_args(argv)
    if args.action == "start":
        cluster = SlurmCluster(args.dir)
        cluster.start()
        print(f"export SLURM_CONF={cluster.conf}   # node {cluster.node} idle, partition {cluster.partition}")
        return 0
    cluster = SlurmCluster.attach(args.dir)
    if args.action == "stop":
        cluster.stop()
        return 0
    print(cluster.run("sinfo", check=False).stdout)
    return 0


if __name__ == "__main__":
    sys.exit(main())
