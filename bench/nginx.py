"""Benchmark: document GETs through nginx (`kgpub deploy nginx`) beside `kgpub serve`.

The same built site, the same paths (each entity's documents in turn) and the same load tool
(bench/loadgen.py: wrk, or the Python generator), one after the other in the same run; nginx
with as many worker processes as the server has (`--workers`). Reports requests/s, p50 and p99
for both and the ratio nginx / kgpub serve.

    python bench/nginx.py --project P --site S [--seconds 10] [--connections 32]

bench/run.py runs the same comparison on its generated projects (section "Load", row
"document GETs through nginx"). Everything runs on 127.0.0.1.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import loadgen  # noqa: E402

MAIN = """daemon off;
worker_processes {workers};
pid {prefix}/nginx.pid;
error_log {prefix}/error.log error;
{user}
events {{ worker_connections 1024; }}
http {{
    access_log off;
    client_body_temp_path {prefix}/tmp;
    proxy_temp_path {prefix}/tmp;
    fastcgi_temp_path {prefix}/tmp;
    uwsgi_temp_path {prefix}/tmp;
    scgi_temp_path {prefix}/tmp;
    include {include};
}}
"""


def nginx_command() -> str | None:
    return shutil.which("nginx") or ("/usr/sbin/nginx" if Path("/usr/sbin/nginx").is_file()
                                      else None)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def running(project_dir: Path, site: Path, workers: int = 1):
    """nginx serving `site` with kgpub's configuration; yields its URL. As root, its workers
    stay root (bench/run.py's sites are in a private temporary directory), unlike the tests'."""
    from kgpub.config import load_project
    from kgpub.deploy.nginx import NginxOptions, generate

    command = nginx_command()
    if command is None:
        raise RuntimeError("nginx is not installed (apt-get install nginx)")
    port = _free_port()
    prefix = Path(tempfile.mkdtemp(prefix="kgpub-bench-nginx-"))
    try:
        (prefix / "tmp").mkdir()
        user = "user root root;" if os.geteuid() == 0 else ""
        include = prefix / "kgpub.conf"
        include.write_text(generate(load_project(project_dir),
                                    NginxOptions(Path(site), f"127.0.0.1:{port}")))
        conf = prefix / "nginx.conf"
        conf.write_text(MAIN.format(prefix=prefix, include=include, user=user, workers=workers))
        log = prefix / "error.log"
        log.touch()
        with open(log, "ab") as out:  # nginx writes what stops it at start to stderr
            proc = subprocess.Popen([command, "-p", str(prefix), "-c", str(conf)],
                                    stdout=subprocess.DEVNULL, stderr=out,
                                    start_new_session=True)
        try:
            deadline = time.monotonic() + 20
            while True:
                if proc.poll() is not None:
                    raise RuntimeError(f"nginx exited: {log.read_text()[-400:]}")
                with socket.socket() as s:
                    if s.connect_ex(("127.0.0.1", port)) == 0:
                        break
                if time.monotonic() > deadline:
                    raise RuntimeError("nginx did not listen")
                time.sleep(0.05)
            yield f"http://127.0.0.1:{port}"
        finally:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(timeout=15)
    finally:
        shutil.rmtree(prefix, ignore_errors=True)


def load(url: str, paths: list[str], tool: str, connections: int, seconds: float):
    if tool == "wrk":
        return loadgen.run_wrk(url, paths, connections=connections, seconds=seconds)
    return loadgen.run_python(url, paths, connections=connections, seconds=seconds)


def document_paths(site: Path, limit: int = 500) -> list[str]:
    """Each entity's documents in turn (the paths bench/run.py's document GETs use)."""
    exts = [".html", ".ttl", ".jsonld", ".nt", ".rdf"]
    root = site.resolve()
    things = sorted("/" + str(p.relative_to(root))[: -len(".ttl")]
                    for p in root.glob("*/*.ttl") if not p.parent.name.startswith("."))[:limit]
    return [t + exts[i % len(exts)] for i, t in enumerate(things)]


@contextlib.contextmanager
def running_kgpub(project_dir: Path, site: Path):
    """`kgpub serve --site` on a free port until `/` answers; yields its URL."""
    import urllib.request

    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    proc = subprocess.Popen([sys.executable, "-m", "kgpub.cli", "serve", "--project",
                             str(project_dir), "--site", str(site), "--port", str(port)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT,
                            start_new_session=True)
    try:
        deadline = time.monotonic() + 120
        while True:
            with contextlib.suppress(OSError):
                with urllib.request.urlopen(url + "/", timeout=2):
                    break
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("kgpub serve did not start")
            time.sleep(0.1)
        yield url
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=30)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--project", type=Path, default=Path("."))
    p.add_argument("--site", type=Path, default=Path("site"))
    p.add_argument("--seconds", type=float, default=10)
    p.add_argument("--connections", type=int, default=32)
    a = p.parse_args()
    paths = document_paths(a.site)
    tool = "wrk" if loadgen.have_wrk() else "python"
    with running_kgpub(a.project, a.site) as url:
        kgpub = load(url, paths, tool, a.connections, a.seconds)
    with running(a.project, a.site) as url:
        nginx = load(url, paths, tool, a.connections, a.seconds)
    for name, r in (("kgpub serve", kgpub), ("nginx", nginx)):
        print(f"{name:12} {r.rps:9,.0f} req/s  p50 {r.p50_ms:6.1f} ms  p99 {r.p99_ms:6.1f} ms"
              f"  errors {r.errors or 'none'}")
    print(f"ratio nginx / kgpub serve: {nginx.rps / kgpub.rps:.1f}x ({tool}, {len(paths)} paths)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
