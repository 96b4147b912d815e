"""Run a command as a subprocess and measure it: wall time and peak memory.

The command runs in a session of its own, so processes it starts (forked workers) are counted.
Peak memory, reported as the largest of:
- ru_maxrss from wait4(2): the exact peak resident set of the largest single process of the
  command (it or a child it waited for);
- the peak of the summed proportional set size (PSS, /proc/PID/smaps_rollup) of the session's
  processes, sampled at most every 2 s and only when more than one process runs and their RSS
  sum exceeds the peak so far (reading smaps_rollup walks the page tables: ~90 ms for 1.5 GiB, so
  it is kept rare). PSS counts pages shared copy-on-write between forked workers once in total.
The plain RSS sum over the session, sampled every 50 ms, is kept too (peak_rss_sum): an upper
bound that counts shared pages once per process. Linux only (/proc).
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

PAGE = os.sysconf("SC_PAGE_SIZE")


@dataclass
class Measured:
    cmd: list[str]
    wall: float  # seconds
    returncode: int | None  # None: stopped at the timeout
    stdout: str
    stderr: str
    peak_pss: int  # bytes, sampled PSS sum over the session (0: one process only)
    peak_rss_sum: int  # bytes, sampled RSS sum over the session (upper bound)
    maxrss: int  # bytes, from wait4

    @property
    def peak(self) -> int:
        return max(self.peak_pss, self.maxrss)

    @property
    def timed_out(self) -> bool:
        return self.returncode is None

    def tail(self, lines: int = 6) -> str:
        text = (self.stderr.strip() or self.stdout.strip()).splitlines()
        return " | ".join(text[-lines:])


def session_rss(sid: int) -> int:
    """Sum of RSS (bytes) over the processes whose session id is sid."""
    return sum(session_processes(sid).values())


def proc_stats():
    """(pid, fields of /proc/pid/stat after the command name) for every live process."""
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat", "rb") as f:
                data = f.read()
        except OSError:
            continue
        yield int(name), data[data.rindex(b")") + 2:].split()


def session_processes(sid: int) -> dict[int, int]:
    """{pid: RSS in bytes} of the processes whose session id is sid."""
    found: dict[int, int] = {}
    for pid, rest in proc_stats():
        # rest[i] is field i + 3 of proc(5): session is field 6, rss (pages) field 24.
        try:
            if int(rest[3]) == sid:
                found[pid] = int(rest[21]) * PAGE
        except (IndexError, ValueError):
            continue
    return found


def pss(pids) -> int:
    """Sum of the proportional set sizes (bytes) of pids."""
    total = 0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/smaps_rollup", "rb") as f:
                for line in f:
                    if line.startswith(b"Pss:"):
                        total += int(line.split()[1]) * 1024
                        break
        except OSError:
            continue
    return total


def kill_session(pid: int, sig: int = signal.SIGKILL) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, sig)


def run_measured(cmd: list[str], timeout: float, *, cwd: Path | None = None,
                 env: dict | None = None, sample_every: float = 0.05,
                 pss_every: float = 2.0) -> Measured:
    """Run cmd to completion (or until timeout seconds, then kill its session)."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        started = time.perf_counter()
        proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=out, stderr=err, cwd=cwd,
                                env=env, start_new_session=True)
        peak_rss = peak_pss = 0
        next_sample = next_pss = started
        rusage = None
        status = None
        while True:
            pid, st, ru = os.wait4(proc.pid, os.WNOHANG)
            now = time.perf_counter()
            if pid == proc.pid:
                wall = now - started
                status, rusage = st, ru
                break
            if now >= next_sample:
                procs = session_processes(proc.pid)
                rss = sum(procs.values())
                peak_rss = max(peak_rss, rss)
                if len(procs) > 1 and rss > peak_pss and now >= next_pss:
                    peak_pss = max(peak_pss, pss(procs))
                    next_pss = time.perf_counter() + pss_every
                next_sample = now + sample_every
            if now - started > timeout:
                kill_session(proc.pid)
                _, st, ru = os.wait4(proc.pid, 0)
                wall = time.perf_counter() - started
                rusage = ru
                break
            time.sleep(0.005)
        kill_session(proc.pid)  # leftovers of the session, if any
        code = os.waitstatus_to_exitcode(status) if status is not None else None
        proc.returncode = code if code is not None else -9  # reaped here, not by Popen
        out.seek(0)
        err.seek(0)
        return Measured(
            cmd=cmd, wall=wall, returncode=code,
            stdout=out.read().decode("utf-8", "replace"),
            stderr=err.read().decode("utf-8", "replace"),
            peak_pss=peak_pss, peak_rss_sum=peak_rss, maxrss=(rusage.ru_maxrss * 1024 if rusage else 0),
        )


# ---- how much of the machine other work used -------------------------------------------------------

CLK_TCK = os.sysconf("SC_CLK_TCK")


def _busy_seconds() -> float:
    """CPU time (s) spent by the whole machine, all cores, since boot (not idle, not iowait)."""
    with open("/proc/stat") as f:
        fields = [int(x) for x in f.readline().split()[1:]]
    user, nice, system, _idle, _iowait, irq, softirq, steal = (fields + [0] * 8)[:8]
    return (user + nice + system + irq + softirq + steal) / CLK_TCK


def _own_seconds() -> float:
    """CPU time (s) of this process, its reaped children, and its live descendants."""
    import resource

    total = 0.0
    for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN):
        ru = resource.getrusage(who)
        total += ru.ru_utime + ru.ru_stime
    parents: dict[int, int] = {}
    times: dict[int, float] = {}
    for pid, rest in proc_stats():
        try:
            # rest[1] ppid (field 4); utime, stime, cutime, cstime are fields 14-17.
            parents[pid] = int(rest[1])
            times[pid] = sum(int(x) for x in rest[11:15]) / CLK_TCK
        except (IndexError, ValueError):
            continue
    me = os.getpid()
    for pid in times:
        p, seen = parents.get(pid), 0
        while p and p != me and seen < 64:
            p, seen = parents.get(p), seen + 1
        if p == me and pid != me:
            total += times[pid]
    return total


class CpuWatch:
    """Share of the machine's cores used by other work (not this process or its descendants)
    between start() and stop()."""

    def start(self) -> None:
        self.t = time.monotonic()
        self.busy = _busy_seconds()
        self.own = _own_seconds()

    def stop(self) -> float | None:
        try:
            wall = time.monotonic() - self.t
            other = (_busy_seconds() - self.busy) - (_own_seconds() - self.own)
            if wall < 2:  # too short for /proc/stat's 10 ms ticks to mean anything
                return None
            return max(0.0, other) / (wall * (os.cpu_count() or 1))
        except (OSError, AttributeError):
            return None
