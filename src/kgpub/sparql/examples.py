"""Example SPARQL queries over the graph: shown on the endpoint's page, used by the benchmark."""

from __future__ import annotations

from dataclasses import dataclass

PREFIXES = """PREFIX rdfs: <http://www.w3.org/2000/01/rdf-schema#>
PREFIX skos: <http://www.w3.org/2004/02/skos/core#>
PREFIX dcterms: <http://purl.org/dc/terms/>
PREFIX foaf: <http://xmlns.com/foaf/0.1/>
PREFIX sphr: <{base}ontology#>
"""


@dataclass(frozen=True)
class Example:
    slug: str
    title: str
    query: str


def example_queries(base: str) -> list[Example]:
    p = PREFIXES.format(base=base)
    return [
        Example(
            "topic-entries",
            "Entries of a topic and of its narrower topics",
            p + f"""
SELECT ?entry ?title ?topicLabel WHERE {{
  ?topic skos:broader* <{base}topic/governance-accountability-and-democracy> ;
         skos:prefLabel ?topicLabel .
  ?entry dcterms:subject ?topic ;
         dcterms:title ?title .
}}
ORDER BY ?topicLabel ?title
LIMIT 100""",
        ),
        Example(
            "counts-per-type",
            "Number of entries per resource type",
            p + """
SELECT ?type ?label (COUNT(DISTINCT ?entry) AS ?entries) WHERE {
  ?entry dcterms:type ?type .
  ?type skos:prefLabel ?label .
  FILTER (lang(?label) = "en")
}
GROUP BY ?type ?label
ORDER BY DESC(?entries) ?label""",
        ),
        Example(
            "entries-by-region",
            "Entries by region (countries count towards their region)",
            p + """
SELECT ?place ?label (COUNT(DISTINCT ?entry) AS ?entries) WHERE {
  ?entry dcterms:spatial ?where .
  ?where dcterms:isPartOf* ?place .
  ?place rdfs:label ?label .
  FILTER NOT EXISTS { ?place dcterms:isPartOf ?larger }
}
GROUP BY ?place ?label
ORDER BY DESC(?entries) ?label""",
        ),
        Example(
            "entries-by-year",
            "Entries by year",
            p + """
SELECT ?year (COUNT(DISTINCT ?entry) AS ?entries) WHERE {
  ?entry dcterms:subject ?topic ;
         dcterms:date ?date .
  BIND (SUBSTR(STR(?date), 1, 4) AS ?year)
}
GROUP BY ?year
ORDER BY DESC(?year)""",
        ),
        Example(
            "organisations",
            "Organisations and the entries they wrote or published",
            p + """
SELECT ?organisation ?name (COUNT(DISTINCT ?entry) AS ?entries) WHERE {
  ?entry dcterms:creator|dcterms:publisher ?organisation .
  ?organisation a foaf:Organization ;
                foaf:name ?name .
}
GROUP BY ?organisation ?name
ORDER BY DESC(?entries) ?name""",
        ),
        Example(
            "describe-topic",
            "Everything about one topic (CONSTRUCT)",
            p + f"""
CONSTRUCT {{ ?topic ?p ?o }} WHERE {{
  BIND (<{base}topic/institutional-capacity-and-coordination> AS ?topic)
  ?topic ?p ?o .
}}""",
        ),
    ]
