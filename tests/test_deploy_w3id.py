"""`kgpub deploy w3id` run for real: Debian's Apache httpd, unprivileged on a free port of
127.0.0.1, serves the generated .htaccess from a directory named like w3id.org's (sphr/), with
mod_rewrite, mod_headers and `AllowOverride All`, as the registry does."""

from __future__ import annotations

import subprocess
import sys

import httpx
import pytest

from deployutil import APACHE2, free_port, need, public_dir, running_apache
from httpcases import (
    BROWSER,
    CLIENT_NEGOTIATION,
    LANGUAGE_NEGOTIATION,
    NEGOTIATION,
    NGINX_DIFFERS,
    TOPIC,
)
from kgtest import REPO

KGPUB = [sys.executable, "-m", "kgpub.cli"]
TARGET = "https://example.org/kg/"


@pytest.fixture(scope="module")
def w3id():
    need(APACHE2, "apache2")
    with public_dir("kgpub-w3id-") as tmp:
        root = tmp / "htdocs"
        (root / "sphr").mkdir(parents=True)
        root.chmod(0o755)
        (root / "sphr").chmod(0o755)
        subprocess.run(KGPUB + ["deploy", "w3id", "--project", str(REPO), "--target", TARGET,
                                "--out", str(root / "sphr" / ".htaccess")], check=True)
        (root / "sphr" / ".htaccess").chmod(0o644)
        port = free_port()
        with running_apache(tmp / "apache", root, port) as url:
            with httpx.Client(base_url=url + "/sphr", timeout=30) as client:
                yield client


def _get(client, path, **headers):
    return client.get(path, headers={k.replace("_", "-"): v for k, v in headers.items()},
                      follow_redirects=False)


@pytest.mark.parametrize("accept,fmt,status,suffix", NEGOTIATION + CLIENT_NEGOTIATION)
def test_negotiation_redirects_to_the_document(w3id, accept, fmt, status, suffix):
    """The table kgpub serve and nginx pass: the same choice, as a 303 to the target."""
    headers = {"accept": accept} if accept is not None else {}
    r = w3id.get(TOPIC + (f"?format={fmt}" if fmt is not None else ""), headers=headers,
                 follow_redirects=False)
    suffix = NGINX_DIFFERS.get(accept, suffix)
    assert r.status_code == status, r.text
    if status == 303:
        assert r.headers["location"] == TARGET + TOPIC.lstrip("/") + suffix
        assert {"Accept", "Accept-Language"} <= {v.strip() for v in r.headers["vary"].split(",")}
        assert r.headers["cache-control"] == "public, max-age=3600"


@pytest.mark.parametrize("accept_language, location", LANGUAGE_NEGOTIATION)
def test_language(w3id, accept_language, location):
    headers = {"accept": BROWSER}
    if accept_language is not None:
        headers["accept-language"] = accept_language
    r = w3id.get(TOPIC, headers=headers, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == TARGET + location.lstrip("/")


@pytest.mark.parametrize("path", ["/topic/x.ttl", "/dumps/dataset.nt.gz", "/_assets/style.css",
                                  "/", "/browse/", "/sitemap.xml",
                                  "/topic/x.html?y=1"])
def test_files_keep_their_path(w3id, path):
    r = w3id.get(path, headers={"accept": "text/turtle"}, follow_redirects=False)
    assert r.status_code == 302
    assert r.headers["location"] == TARGET + path.lstrip("/")
    assert r.headers["access-control-allow-origin"] == "*"


@pytest.mark.parametrize("path", ["/sparql?query=ASK%7B%7D", "/sparql/", "/oai?verb=Identify"])
def test_services_keep_their_path_and_method(w3id, path):
    r = w3id.post(path, content=b"query=ASK%7B%7D", follow_redirects=False)
    assert r.status_code == 307 and r.headers["location"] == TARGET + path.lstrip("/")


def test_void_has_no_html(w3id):
    r = w3id.get("/.well-known/void", headers={"accept": BROWSER}, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == TARGET + ".well-known/void.ttl"


@pytest.mark.parametrize("target,message", [
    ("ftp://example.org/", "expected an http(s) URL"),
    ("https://example.org/$1", "expected an http(s) URL"),
    ("not a url", "expected an http(s) URL"),
])
def test_bad_target_is_one_line_exit_2(target, message):
    proc = subprocess.run(KGPUB + ["deploy", "w3id", "--project", str(REPO), "--target", target],
                          capture_output=True, text=True)
    assert proc.returncode == 2 and proc.stdout == ""
    assert len(proc.stderr.strip().splitlines()) == 1 and message in proc.stderr
