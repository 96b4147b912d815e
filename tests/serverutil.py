"""Helpers for server tests: build a project copy, run `kgpub serve` for real on 127.0.0.1,
fetch from it, harvest it."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path

from kgtest import copy_project  # noqa: F401  (re-exported for the server tests)

KGPUB = [sys.executable, "-m", "kgpub.cli"]
# A query no server answers within its time limit (a four-way product of the whole graph).
CARTESIAN = "SELECT * WHERE { ?a ?b ?c . ?d ?e ?f . ?g ?h ?i . ?j ?k ?l } ORDER BY ?a ?d ?g ?j"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def running_server(project: Path, site: Path, *extra: str, ready_timeout: float = 60.0):
    """`kgpub serve` as a subprocess; yields its base URL; stops it afterwards."""
    port = free_port()
    proc = subprocess.Popen(
        KGPUB + ["serve", "--project", str(project), "--site", str(site),
                 "--port", str(port), *extra],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    url = f"http://127.0.0.1:{port}"
    try:
        # (its output can be read only once it has exited: the pipe stays open until then)
        wait_until_answered(url + "/sparql?query=ASK%7B%7D", proc, ready_timeout, "server",
                            lambda: proc.stdout.read().decode() if proc.poll() is not None
                            else "")
        yield url
    finally:
        stop_group(proc)


def wait_until_answered(url: str, proc: subprocess.Popen, timeout: float, what: str,
                        output: Callable[[], str]) -> None:
    """Poll url until it answers 200; fail with what the process said (`output()`) if it
    exits first or `timeout` seconds pass."""
    deadline = time.monotonic() + timeout
    while True:
        if proc.poll() is not None:
            raise RuntimeError(f"{what} exited: {output()}")
        with contextlib.suppress(OSError):
            with urllib.request.urlopen(url, timeout=5) as r:
                if r.status == 200:
                    return
        if time.monotonic() > deadline:
            raise RuntimeError(f"{what} did not become ready: {output()}")
        time.sleep(0.05)  # a short poll: the tests start some forty servers


def stop_group(proc: subprocess.Popen, sig: int = signal.SIGTERM, timeout: float = 15) -> bool:
    """Send `sig` to the process's group (started with start_new_session) and wait; kill the
    group if it is still there after `timeout`. True if it ended by itself."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, sig)
    try:
        proc.wait(timeout=timeout)
        return True
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
        return False


def port_of(url: str) -> int:
    return int(url.rsplit(":", 1)[1])


def server_pid(url: str) -> int:
    """The pid of the process listening on url's port (the uvicorn process, not its query
    workers): found through /proc/net/tcp's inode."""
    port = port_of(url)
    inodes = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            if int(fields[1].rsplit(":", 1)[1], 16) == port and fields[3] == "0A":  # LISTEN
                inodes.add(fields[9])
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            for fd in (proc / "fd").iterdir():
                link = str(fd.readlink())
                if link.startswith("socket:[") and link[8:-1] in inodes:
                    return int(proc.name)
        except OSError:
            continue
    raise AssertionError(f"no process listens on {port}")


def rss(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no VmRSS")


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


def fetch(url: str, headers: dict | None = None, method: str = "GET", data: bytes | None = None):
    """(status, headers, body) of one request, redirects not followed, errors as answers."""
    req = urllib.request.Request(url, headers=headers or {}, method=method, data=data)
    try:
        with urllib.request.build_opener(_NoRedirect).open(req, timeout=30) as r:
            return r.status, r.headers, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.headers, e.read()


def harvest(sickle, metadata_prefix: str = "oai_dc") -> list[tuple]:
    """Every record of a Sickle ListRecords harvest (over all its pages), deleted ones included:
    (identifier, deleted, datestamp, sets, metadata as a sorted tuple)."""
    return [(r.header.identifier, r.header.deleted, r.header.datestamp,
             tuple(r.header.setSpecs),
             tuple(sorted((k, tuple(v)) for k, v in getattr(r, "metadata", {}).items())))
            for r in sickle.ListRecords(metadataPrefix=metadata_prefix, ignore_deleted=False)]
