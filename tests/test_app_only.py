"""`kgpub serve --app-only` as replicas: /sparql and /oai without the site's files, resumption
tokens of one replica accepted by another (the key comes from the configuration and the build,
not from a process), and each replica switching to a new build by itself."""

from __future__ import annotations

import contextlib
import time
import urllib.parse
from pathlib import Path

import pytest
from sickle import Sickle

from kgpub.config import load_project
from kgpub.site import build
from serverutil import copy_project, fetch, harvest, running_server

pytestmark = pytest.mark.timeout(240)

ENTRY = "resource/good-governance-guidelines-for-social-security-institutions"
OLD = "Good Governance Guidelines for Social Security Institutions"
NEW = "Good Governance Guidelines, replicated"
OAI_ID = "oai:socialprotection-humanrights.org:" + ENTRY


class Alternating(Sickle):
    """Sickle asking each page of a harvest from the next replica in turn."""

    def __init__(self, urls: list[str]):
        super().__init__(urls[0])
        self.urls, self.used = urls, []

    def harvest(self, **kwargs):
        self.endpoint = self.urls[len(self.used) % len(self.urls)]
        self.used.append(self.endpoint)
        return super().harvest(**kwargs)


@pytest.fixture(scope="module")
def project(tmp_path_factory) -> Path:
    root = copy_project(tmp_path_factory.mktemp("replicas") / "project")
    config = root / "kgpub.toml"
    text = config.read_text(encoding="utf-8")
    config.write_text(text.replace("[repository]\n", "[repository]\noai_page_size = 3\n", 1),
                      encoding="utf-8")
    return root


@pytest.fixture(scope="module")
def replicas(project, tmp_path_factory):
    site = build(load_project(project), tmp_path_factory.mktemp("replica-site") / "site").out
    with contextlib.ExitStack() as stack:
        urls = [stack.enter_context(running_server(project, site, "--app-only"))
                for _ in range(2)]
        yield site, urls


def test_only_the_application_is_served(replicas):
    _, urls = replicas
    for url in urls:
        status, _, body = fetch(f"{url}/index.html")
        assert status == 404 and body.decode().count("\n") == 1
        assert b"answers /sparql and /oai only" in body
        assert fetch(f"{url}/{ENTRY}", {"Accept": "text/turtle"})[0] == 404
        assert fetch(f"{url}/oai?verb=Identify")[0] == 200
        query = urllib.parse.quote(f"ASK {{ <https://w3id.org/sphr/{ENTRY}> ?p ?o }}")
        status, _, body = fetch(f"{url}/sparql?query={query}",
                                {"Accept": "application/sparql-results+json"})
        assert status == 200 and b"true" in body


def test_a_harvest_moves_between_replicas(replicas):
    _, urls = replicas
    alone = harvest(Sickle(f"{urls[0]}/oai"))
    both = Alternating([f"{url}/oai" for url in urls])
    assert harvest(both) == alone and len(alone) > 6
    assert len(both.used) >= 3 and set(both.used) == {f"{url}/oai" for url in urls}


def test_each_replica_switches_to_a_new_build(replicas, project):
    site, urls = replicas
    before = {fetch(f"{url}/oai?verb=Identify")[1]["Kgpub-Build"] for url in urls}
    assert len(before) == 1
    publications = project / "data/entries/publications.ttl"
    text = publications.read_text(encoding="utf-8")
    publications.write_text(text.replace(f'"{OLD}"@en', f'"{NEW}"@en', 1), encoding="utf-8")
    build(load_project(project), site)
    record = f"/oai?verb=GetRecord&metadataPrefix=oai_dc&identifier={urllib.parse.quote(OAI_ID)}"
    query = urllib.parse.quote(
        f"SELECT ?t WHERE {{ <https://w3id.org/sphr/{ENTRY}> <http://purl.org/dc/terms/title> ?t }}")
    deadline = time.monotonic() + 60
    pending = set(urls)
    while pending and time.monotonic() < deadline:
        for url in sorted(pending):
            status, headers, body = fetch(url + record)
            _, _, answer = fetch(f"{url}/sparql?query={query}", {"Accept": "text/csv"})
            if NEW.encode() in body and NEW.encode() in answer:
                assert headers["Kgpub-Build"] not in before
                pending.discard(url)
        time.sleep(0.3)
    assert not pending, f"still on the old build: {pending}"
    alone = harvest(Sickle(f"{urls[1]}/oai"))
    assert harvest(Alternating([f"{url}/oai" for url in urls])) == alone
