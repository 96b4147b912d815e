"""The worker processes themselves, as the pool sees them: starting one ("spawn": never a fork
of a process that runs threads), its state, killing it, why it ended, its memory."""

from __future__ import annotations

import contextlib
import multiprocessing
import multiprocessing.connection
import signal
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .worker import worker_main


@dataclass(eq=False)
class WorkerProcess:
    process: multiprocessing.process.BaseProcess
    conn: multiprocessing.connection.Connection
    state: str = "loading"  # loading -> idle <-> busy; dead
    started: float = field(default_factory=time.monotonic)
    deadline: float = 0.0
    info: dict = field(default_factory=dict)


def start_worker(ctx: Any, paths: list[Path], memory_mb: int) -> WorkerProcess:
    """A new worker process, loading the graph files (it says "ready" when it has)."""
    parent, child = ctx.Pipe(duplex=True)
    process = ctx.Process(
        target=worker_main,
        args=(child, [str(p) for p in paths], memory_mb),
        name="kgpub-sparql",
        daemon=True,
    )
    process.start()
    child.close()  # so the parent sees EOF when the worker dies
    return WorkerProcess(process, parent)


def kill(process, wait: bool = True) -> None:
    if process.is_alive():
        with contextlib.suppress(OSError):
            process.kill()
    if wait:
        process.join(2.0)


def exit_reason(process, when: str) -> str:
    process.join(1.0)
    code = process.exitcode
    if code is not None and code < 0:
        try:
            return f"{when} (signal {signal.Signals(-code).name})"
        except ValueError:
            return f"{when} (signal {-code})"
    return f"{when} (exit code {code})"


def rss(pid: int | None) -> int | None:
    """Resident memory of a process (Linux), for the pool's status."""
    try:
        with open(f"/proc/{pid}/status", encoding="ascii") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError):
        return None
    return None
