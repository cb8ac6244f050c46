"""Aggregate memory, process and CPU caps for one local jail, through a cgroup.

rlimits bind per process, so a jail may hold ``pids x memory_mb`` of
address space; a cgroup caps the whole tree. Creating one needs root (or a
delegated hierarchy), so this is best effort: :meth:`JailCgroup.create`
returns None when it cannot, and the jail reports the layer inactive.

Contract: a :class:`JailCgroup` owns its directories (one per controller,
under ``stochbox/<name>``); :meth:`join_prefix` is the argv prefix that moves
the launched process into them *before* it execs anything, so every
descendant is inside from its first instruction; :meth:`remove` deletes the
directories once the processes are gone (idempotent).
"""

from __future__ import annotations

import os
import time
from pathlib import Path

CGROUP_ROOT = Path("/sys/fs/cgroup")


class JailCgroup:
    def __init__(self, dirs: list[Path], memory_bytes: int, pids: int, version: int) -> None:
        self.dirs = dirs
        self.memory_bytes = memory_bytes
        self.pids = pids
        self.version = version
        #: CPUs the jail may use at once (CFS quota), None when the cpu controller is absent.
        self.cpus: float | None = None

    @classmethod
    def create(cls, name: str, memory_bytes: int, pids: int, cpus: float | None = None) -> "JailCgroup | None":
        if os.geteuid() != 0:
            return None
        try:
            if (CGROUP_ROOT / "cgroup.controllers").exists():
                made = cls._create_v2(name, memory_bytes, pids)
            else:
                made = cls._create_v1(name, memory_bytes, pids)
        except OSError:
            return None
        if made is not None and cpus:
            made._limit_cpu(name, cpus)
        return made

    def _limit_cpu(self, name: str, cpus: float) -> None:
        """Best effort: memory and pids are what containment needs; CPU is fairness."""
        period = 100_000
        quota = max(1000, int(cpus * period))
        try:
            if self.version == 2:
                (self.dirs[0] / "cpu.max").write_text(f"{quota} {period}")
            else:
                cpu_root = CGROUP_ROOT / "cpu"
                if not (cpu_root / "cgroup.procs").exists():
                    return
                _remove_stale((cpu_root / "stochbox").glob("*-*"))
                d = cpu_root / "stochbox" / name
                d.mkdir(parents=True, exist_ok=True)
                self.dirs.append(d)
                (d / "cpu.cfs_period_us").write_text(str(period))
                (d / "cpu.cfs_quota_us").write_text(str(quota))
        except OSError:
            return
        self.cpus = cpus

    @classmethod
    def _create_v1(cls, name: str, memory_bytes: int, pids: int) -> "JailCgroup | None":
        mem_root, pids_root = CGROUP_ROOT / "memory", CGROUP_ROOT / "pids"
        if not (mem_root / "cgroup.procs").exists() or not (pids_root / "cgroup.procs").exists():
            return None
        mem, pid = mem_root / "stochbox" / name, pids_root / "stochbox" / name
        for parent in (mem.parent, pid.parent):
            _remove_stale(parent.glob("*-*"))
        made = cls([mem, pid], memory_bytes, pids, 1)
        try:
            for d in made.dirs:
                d.mkdir(parents=True, exist_ok=True)
            (mem / "memory.limit_in_bytes").write_text(str(memory_bytes))
            swap = mem / "memory.memsw.limit_in_bytes"
            if swap.exists():
                swap.write_text(str(memory_bytes))
            (pid / "pids.max").write_text(str(pids))
        except OSError:
            made.remove()
            return None
        return made

    @classmethod
    def _create_v2(cls, name: str, memory_bytes: int, pids: int) -> "JailCgroup | None":
        enabled = (CGROUP_ROOT / "cgroup.subtree_control").read_text().split()
        if "memory" not in enabled or "pids" not in enabled:
            return None
        d = CGROUP_ROOT / f"stochbox-{name}"
        _remove_stale(CGROUP_ROOT.glob("stochbox-*-*"))
        made = cls([d], memory_bytes, pids, 2)
        try:
            d.mkdir(exist_ok=True)
            (d / "memory.max").write_text(str(memory_bytes))
            if (d / "memory.swap.max").exists():
                (d / "memory.swap.max").write_text("0")
            (d / "pids.max").write_text(str(pids))
        except OSError:
            made.remove()
            return None
        return made

    def join_prefix(self) -> list[str]:
        """``sh -c`` that writes its own pid into every ``cgroup.procs``, then execs the rest of argv."""
        script = " && ".join(f"echo $$ > '{d / 'cgroup.procs'}'" for d in self.dirs) + ' && exec "$@"'
        return ["/bin/sh", "-c", script, "stochbox-cgroup-join"]

    def describe(self) -> str:
        cpu = f", {self.cpus:g} CPU" if self.cpus else ""
        return f"cgroup v{self.version}: memory {self.memory_bytes >> 20} MiB, pids {self.pids}{cpu} for the whole jail"

    def remove(self) -> None:
        for d in self.dirs:
            for _ in range(50):  # the last processes may still be exiting
                try:
                    d.rmdir()
                    break
                except FileNotFoundError:
                    break
                except OSError:
                    time.sleep(0.02)


def _remove_stale(dirs) -> None:
    """Remove cgroups left by stochbox processes that died without closing (names start with their pid)."""
    for d in dirs:
        owner = d.name.removeprefix("stochbox-").split("-", 1)[0]
        if not d.is_dir() or not owner.isdigit() or Path(f"/proc/{owner}").exists():
            continue
        try:
            d.rmdir()  # fails, harmlessly, while processes are still inside
        except OSError:
            pass
