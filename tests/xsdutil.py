"""The official XML schemas (../shared/xsd, next to the repository) for the tests that validate
OAI-PMH responses and sitemaps: loaded once, every public schema URL mapped to its local copy,
nothing fetched. Without ../shared those tests skip, all with the one message below."""

from __future__ import annotations

import functools
from importlib.resources import files
from pathlib import Path

import pytest

XSD_DIR = Path(__file__).resolve().parents[2] / "shared" / "xsd"
WRAPPER_XSD = Path(str(files("kgpub") / "static" / "rdf-wrapper.xsd"))
MISSING = (f"official XSDs not found at {XSD_DIR} (shared/xsd next to the repository "
           "directory): schema validation tests skipped")

OAI_NS = "http://www.openarchives.org/OAI/2.0/"
OAI_DC_NS = "http://www.openarchives.org/OAI/2.0/oai_dc/"
OAI_ID_NS = "http://www.openarchives.org/OAI/2.0/oai-identifier"
RDF_NS = "http://www.w3.org/1999/02/22-rdf-syntax-ns#"
SITEMAP_NS = "http://www.sitemaps.org/schemas/sitemap/0.9"

_PUBLIC = {
    "http://www.openarchives.org/OAI/2.0/OAI-PMH.xsd": "OAI-PMH.xsd",
    "http://www.openarchives.org/OAI/2.0/oai_dc.xsd": "oai_dc.xsd",
    "http://www.openarchives.org/OAI/2.0/oai-identifier.xsd": "oai-identifier.xsd",
    "http://dublincore.org/schemas/xmls/simpledc20021212.xsd": "simpledc20021212.xsd",
    "http://www.w3.org/2001/xml.xsd": "xml.xsd",
    "http://www.w3.org/2001/03/xml.xsd": "xml.xsd",
}


def require_xsd() -> None:
    if not (XSD_DIR / "OAI-PMH.xsd").is_file():
        pytest.skip(MISSING)


def _local(uri: str) -> str:
    if uri in _PUBLIC:
        return (XSD_DIR / _PUBLIC[uri]).as_uri()
    if uri.endswith("/_assets/rdf-wrapper.xsd"):  # the `rdf` format's schema, on any host
        return WRAPPER_XSD.as_uri()
    return uri


@functools.cache
def oai_schema():
    """OAI-PMH.xsd with oai_dc, oai-identifier and the rdf wrapper, all local."""
    import xmlschema

    require_xsd()
    return xmlschema.XMLSchema(
        (XSD_DIR / "OAI-PMH.xsd").as_uri(),
        locations=[(OAI_DC_NS, (XSD_DIR / "oai_dc.xsd").as_uri()),
                   (OAI_ID_NS, (XSD_DIR / "oai-identifier.xsd").as_uri()),
                   (RDF_NS, WRAPPER_XSD.as_uri())],
        uri_mapper=_local,
        allow="local",  # a schema we failed to map must fail the test, not be fetched
    )


@functools.cache
def sitemap_schema(name: str = "sitemap.xsd"):
    """sitemap.xsd (a urlset) or siteindex.xsd (a sitemap index)."""
    import xmlschema

    require_xsd()
    return xmlschema.XMLSchema((XSD_DIR / name).as_uri(), allow="local")


def oai_errors(root) -> list:
    """Schema errors of an OAI-PMH response (an lxml element): [] when valid."""
    return list(oai_schema().iter_errors(root))
