"""kgpub: publish a knowledge graph as validated, dereferenceable linked data and a static site."""

__version__ = "0.1.0"
