"""OAI-PMH 2.0 at /oai: the web side of kgpub.oaipmh, fed by the records the build wrote."""

from __future__ import annotations

import asyncio
import gzip
import hashlib
from urllib.parse import parse_qsl

from starlette.requests import Request
from starlette.responses import Response

from ..config import Project
from ..layout import (
    BUILD_FACTS,
    OAI_RECORDS,
    OAI_SETS,
    RDF_WRAPPER,
    HarvestRecord,
    read_build_facts,
    read_oai_records,
    read_oai_sets,
)
from ..oaipmh import OaiProvider, OaiRecord, RepositoryInfo
from .limits import BodyTooLarge, read_body
from .static import SiteFiles, accepts_gzip
from .urls import public_url

MAX_FORM = 64 * 1024


class OaiEndpoint:
    def __init__(self, project: Project, files: SiteFiles):
        self.project = project
        self.files = files
        records = files.root / OAI_RECORDS
        self.available = records.is_file()
        self._provider: OaiProvider | None = None
        if not self.available:
            return
        self.earliest = read_build_facts((files.root / BUILD_FACTS).read_bytes()).earliest_datestamp
        self.sets = read_oai_sets((files.root / OAI_SETS).read_bytes())
        raw = records.read_bytes()
        self.records = [self._record(r) for r in read_oai_records(raw)]
        # Tokens are signed with a key tied to this repository and this data version.
        repo = project.repository
        seed = repo.get("oai_token_secret") or (repo.get("oai_repository_identifier", "") + project.base)
        self.secret = hashlib.sha256(seed.encode() + hashlib.sha256(raw).digest()).digest()
        self._provider = self._make_provider()  # now, not on the event loop at a request

    def _record(self, r: HarvestRecord) -> OaiRecord:
        rdf = None
        if r.rdf:
            path = self.files.resolve(r.rdf)
            rdf = path.read_bytes() if path is not None else None
        return OaiRecord(
            local_id=r.local_id,
            datestamp=r.datestamp,
            sets=r.sets,
            deleted=r.deleted,
            dc=r.dc,
            rdf_xml=rdf,
        )

    def provider(self) -> OaiProvider:
        assert self._provider is not None
        return self._provider

    def _make_provider(self) -> OaiProvider:
        """The one provider of this build (the base URL is a value of each request, not part
        of the provider: a new Host header costs nothing)."""
        repo = self.project.repository
        emails = repo.get("admin_email", "admin@example.org")
        info = RepositoryInfo(
            name=repo.get("name", self.project.title),
            base_url=repo.get("oai_base_url") or "http://localhost/oai",
            admin_emails=tuple([emails] if isinstance(emails, str) else emails),
            repository_id=repo.get("oai_repository_identifier", "kgpub"),
            earliest_datestamp=self.earliest,
            sample_local_id=self.records[0].local_id if self.records else "resource/x",
            page_size=int(repo.get("oai_page_size", RepositoryInfo.page_size)),
            token_secret=self.secret,
            rdf_schema_path="/" + RDF_WRAPPER,
        )
        return OaiProvider(info, self.records, self.sets)

    async def handle(self, request: Request) -> Response:
        if not self.available:
            return Response("OAI-PMH is not available: rebuild the site with kgpub build.\n",
                            status_code=404, media_type="text/plain")
        args = list(request.query_params.multi_items())
        if request.method == "POST":
            try:
                body = await read_body(request, MAX_FORM)
            except BodyTooLarge as exc:
                return Response(f"{exc}\n", status_code=413, media_type="text/plain",
                                headers={"Connection": "close"})
            ctype = request.headers.get("content-type", "").split(";")[0].strip().lower()
            if ctype != "application/x-www-form-urlencoded":
                return Response("POST a form (application/x-www-form-urlencoded).\n",
                                status_code=415, media_type="text/plain")
            args += parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True)
        base_url = self.project.repository.get("oai_base_url") or public_url(request.scope, "/oai")
        gzipped = accepts_gzip(request.headers.get("accept-encoding"))
        # A page of up to oai_page_size records: built (and compressed) off the event loop.
        xml = await asyncio.to_thread(self._respond, args, base_url, gzipped)
        headers = {"Cache-Control": "no-cache", "Vary": "Accept-Encoding"}
        if gzipped:
            headers["Content-Encoding"] = "gzip"
        return Response(xml, media_type="text/xml; charset=utf-8", headers=headers)

    def _respond(self, args: list[tuple[str, str]], base_url: str, gzipped: bool) -> bytes:
        xml = self.provider().respond(args, base_url)
        return gzip.compress(xml, compresslevel=6, mtime=0) if gzipped else xml
