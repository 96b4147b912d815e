"""An OAI-PMH 2.0 data provider, framework-free: request arguments in, response XML bytes out.

The web layer (kgpub.server.oai) only passes the raw (multi-valued, ordered) GET query or POST
form arguments to `OaiProvider.respond` and sends the result with status 200 and `MEDIA_TYPE`:
every protocol error is an OAI-PMH <error> inside a normal response, as the specification
requires. Nothing here knows the site's layout: the web layer says where the site serves the
`rdf` format's schema (RepositoryInfo.rdf_schema_path).

  records    what is served: OaiRecord, OaiSet, RepositoryInfo, checked when a provider is made
  provider   OaiProvider: the indexes and the six verbs
  arguments  a request's verb and arguments, and the protocol errors
  tokens     stateless, signed resumption tokens
  metadata   the formats: oai_dc and rdf
  response   the response document's XML
  values     datestamps, identifiers and the other forms the schema allows
"""

from __future__ import annotations

from .arguments import ARGUMENT_MAX, MAX_ERRORS, VERBS
from .metadata import MetadataFormat, metadata_formats, oai_dc_element, rdf_element
from .provider import OaiProvider
from .records import OaiRecord, OaiSet, RepositoryInfo
from .response import (
    DC_NS,
    MEDIA_TYPE,
    OAI_DC_NS,
    OAI_DC_SCHEMA,
    OAI_ID_NS,
    OAI_NS,
    OAI_SCHEMA,
    RDF_NS,
    XSI_NS,
)
from .tokens import DEFAULT_TOKEN_SECRET
from .values import GRANULARITY, parse_utc, utc_now

__all__ = [
    "ARGUMENT_MAX",
    "DC_NS",
    "DEFAULT_TOKEN_SECRET",
    "GRANULARITY",
    "MAX_ERRORS",
    "MEDIA_TYPE",
    "OAI_DC_NS",
    "OAI_DC_SCHEMA",
    "OAI_ID_NS",
    "OAI_NS",
    "OAI_SCHEMA",
    "RDF_NS",
    "VERBS",
    "XSI_NS",
    "MetadataFormat",
    "OaiProvider",
    "OaiRecord",
    "OaiSet",
    "RepositoryInfo",
    "metadata_formats",
    "oai_dc_element",
    "parse_utc",
    "rdf_element",
    "utc_now",
]
