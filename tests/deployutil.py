"""Helpers for the deployment tests: Debian's nginx and Apache httpd run for real, each with its
own configuration, pid file, logs and temporary files in a test directory, on a free port of
127.0.0.1, stopped at teardown. tests/install_servers.sh installs them (`make test`); a test
that needs a missing one skips with the reason that script recorded."""

from __future__ import annotations

import contextlib
import grp
import os
import pwd
import shutil
import socket
import stat
import subprocess
import tempfile
import time
from pathlib import Path

import pytest

from serverutil import KGPUB, free_port, stop_group

REPO = Path(__file__).resolve().parents[1]
NOTES = REPO / ".cache" / "server-deps"
NGINX = Path(os.environ.get("NGINX", "/usr/sbin/nginx"))
APACHE2 = Path(os.environ.get("APACHE2", "/usr/sbin/apache2"))
APACHE_MODULES = Path("/usr/lib/apache2/modules")
# As root, the servers' workers run as this user (they never need root: a port above 1024).
WORKER_USER = "nobody"


def need(binary: Path, package: str) -> None:
    if binary.is_file():
        return
    note = NOTES / f"{package}.missing"
    why = note.read_text().strip() if note.is_file() else (
        f"{binary} not found; run `make server-deps` (apt-get install {package}, as root)")
    pytest.skip(f"{package} tests skipped: {why}")


@contextlib.contextmanager
def public_dir(prefix: str):
    """A temporary directory the servers' unprivileged workers can read (pytest's tmp_path is
    private to its user)."""
    path = Path(tempfile.mkdtemp(prefix=prefix))
    path.chmod(0o755)
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def _worker_group() -> str:
    return grp.getgrgid(pwd.getpwnam(WORKER_USER).pw_gid).gr_name


def _worker_owned(path: Path) -> None:
    path.mkdir(parents=True, exist_ok=True)
    if os.geteuid() == 0:
        user = pwd.getpwnam(WORKER_USER)
        os.chown(path, user.pw_uid, user.pw_gid)
    path.chmod(stat.S_IRWXU | stat.S_IRGRP | stat.S_IXGRP | stat.S_IROTH | stat.S_IXOTH)


def _wait_for_port(port: int, proc: subprocess.Popen, log: Path, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited {proc.returncode}: {log.read_text()[-2000:]}")
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise RuntimeError(f"server did not listen on {port}: {log.read_text()[-2000:]}")


def nginx_config(project: Path, site: Path, port: int, app: str, out: Path) -> Path:
    """`kgpub deploy nginx` for `site`, listening on 127.0.0.1:port, /sparql and /oai proxied to
    `app`; written to `out`."""
    subprocess.run(KGPUB + ["deploy", "nginx", "--project", str(project), "--site", str(site),
                            "--listen", f"127.0.0.1:{port}", "--app", app, "--out", str(out)],
                   check=True)
    return out


NGINX_MAIN = """daemon off;
master_process on;
worker_processes {workers};
pid {prefix}/nginx.pid;
error_log {prefix}/error.log warn;
{user}
events {{ worker_connections 512; }}
http {{
    access_log off;
    client_body_temp_path {prefix}/tmp/body;
    proxy_temp_path {prefix}/tmp/proxy;
    fastcgi_temp_path {prefix}/tmp/fastcgi;
    uwsgi_temp_path {prefix}/tmp/uwsgi;
    scgi_temp_path {prefix}/tmp/scgi;
    include {include};
}}
"""


@contextlib.contextmanager
def running_nginx(prefix: Path, include: Path, port: int, workers: int = 1):
    """nginx in the foreground (`daemon off`) with the configuration `include` in its http
    context; yields its base URL."""
    prefix.mkdir(parents=True, exist_ok=True)
    _worker_owned(prefix / "tmp")
    user = f"user {WORKER_USER} {_worker_group()};" if os.geteuid() == 0 else ""
    conf = prefix / "nginx.conf"
    conf.write_text(NGINX_MAIN.format(prefix=prefix, include=include, user=user,
                                      workers=workers))
    log = prefix / "error.log"
    log.touch()
    check = subprocess.run([str(NGINX), "-t", "-p", str(prefix), "-c", str(conf)],
                           capture_output=True, text=True)
    if check.returncode != 0:
        raise RuntimeError(f"nginx -t: {check.stderr.strip()}")
    proc = subprocess.Popen([str(NGINX), "-p", str(prefix), "-c", str(conf)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT,
                            start_new_session=True)
    try:
        _wait_for_port(port, proc, log)
        yield f"http://127.0.0.1:{port}"
    finally:
        stop_group(proc)


APACHE_MAIN = """ServerRoot {prefix}
ServerName 127.0.0.1
Listen 127.0.0.1:{port}
PidFile {prefix}/httpd.pid
ErrorLog {prefix}/error.log
LogLevel warn
{user}
LoadModule mpm_event_module {modules}/mod_mpm_event.so
LoadModule authz_core_module {modules}/mod_authz_core.so
LoadModule mime_module {modules}/mod_mime.so
LoadModule rewrite_module {modules}/mod_rewrite.so
LoadModule headers_module {modules}/mod_headers.so
LoadModule env_module {modules}/mod_env.so
Mutex file:{prefix}
DefaultRuntimeDir {prefix}
TypesConfig /etc/mime.types
DocumentRoot {root}
<Directory {root}>
    AllowOverride All
    Require all granted
</Directory>
"""


@contextlib.contextmanager
def running_apache(prefix: Path, root: Path, port: int):
    """Apache httpd in the foreground with mod_rewrite and mod_headers, `AllowOverride All`
    on the DocumentRoot `root`; yields its base URL."""
    prefix.mkdir(parents=True, exist_ok=True)
    _worker_owned(prefix)
    user = f"User {WORKER_USER}\nGroup {_worker_group()}" if os.geteuid() == 0 else ""
    conf = prefix / "httpd.conf"
    conf.write_text(APACHE_MAIN.format(prefix=prefix, port=port, root=root, user=user,
                                       modules=APACHE_MODULES))
    log = prefix / "error.log"
    log.touch()
    proc = subprocess.Popen([str(APACHE2), "-f", str(conf), "-DFOREGROUND"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT,
                            start_new_session=True)
    try:
        _wait_for_port(port, proc, log)
        yield f"http://127.0.0.1:{port}"
    finally:
        stop_group(proc)


__all__ = ["free_port", "need", "nginx_config", "public_dir", "running_apache",
           "running_nginx"]
