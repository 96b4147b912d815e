"""The bad-data cases of the SHACL shapes (shapes/shapes.ttl), shared by test_shapes.py (each
case reports exactly its problems, with file and line) and test_engines.py (both engines report
the same on every case): every case adds (or edits) its own entity with a single defect, and
run_batch validates a copy of the bundled project holding a batch of cases."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from kgtest import (
    BASE,
    PREFIXES,
    append_file,
    copy_project,
    edit_file,
    subject_line,
    validate_project,
)

V, W = "violation", "warning"
ENTRIES = "data/entries/publications.ttl"
COMMENTARIES = "data/entries/expert-commentaries.ttl"
TOPICS = "data/topics.ttl"
AGENTS = "data/agents.ttl"
PLACES = "data/places.ttl"
INSTRUMENTS = "data/instruments.ttl"
EXTERNAL = "data/external.ttl"
# The reachability rule's path is a SHACL path expression (zero or more skos:broader), not a
# property; the report renders it as "(path)" today (see test_complex_path_is_shown_readably).
REACHABLE_PATH = {"(path)", "skos:broader*", "(skos:broader)*", "skos:broader"}

PREFIX_IRIS = {
    "resource": BASE + "resource/",
    "topic": BASE + "topic/",
    "type": BASE + "type/",
    "agent": BASE + "agent/",
    "place": BASE + "place/",
    "image": BASE + "image/",
    "instrument": BASE + "instrument/",
    "initiative": BASE + "initiative/",
}


@dataclass
class Case:
    id: str
    file: str  # the data file the entity is written in
    subject: str  # the subject as written in column 0 of that file
    # (severity, path or set of paths, message fragment[, text of the line the problem points
    # at: the first line from the subject's on that holds it; by default the subject's line])
    expected: list[tuple]
    snippet: str | None = None  # Turtle appended to `file`
    edit: tuple[str, str] | None = None  # (old, new) applied to `file`
    # Cases whose defect is found through sh:node run in a batch of their own: pySHACL nests
    # the inner results (sh:detail), which kgpub currently reports as extra problems.
    batch: str = "main"
    xfail: str | None = None  # the reason, when a known bug makes the case fail

    @property
    def focus(self) -> str:
        if self.subject.startswith("<"):
            return BASE + self.subject[1:-1]
        prefix, local = self.subject.split(":", 1)
        return PREFIX_IRIS[prefix] + local


def statement(subject: str, cls: str | None, props: list[tuple[str, str]]) -> str:
    parts = ([f"a {cls}"] if cls else []) + [f"{p} {o}" for p, o in props]
    return f"{subject} " + " ;\n    ".join(parts) + " .\n"


def entry(subject, *, cls="sphr:Publication", drop=(), replace=None, add=()):
    """A complete, valid entry (title, abstract, type, subject, date) with one change."""
    slug = subject.split(":")[-1].strip("<>")
    base = [
        ("dcterms:title", f'"Case {slug}"@en'),
        ("dcterms:abstract", f'"Summary of case {slug}."@en'),
        ("dcterms:type", "type:report"),
        ("dcterms:subject", "topic:institutional-capacity-and-coordination"),
        ("dcterms:date", '"2020"^^xsd:gYear'),
    ]
    replace = replace or {}
    props = [(p, replace.get(p, o)) for p, o in base if p not in drop]
    return statement(subject, cls, props + list(add))


def topic(subject, *, drop=(), replace=None, add=()):
    slug = subject.split(":")[-1]
    base = [
        ("skos:prefLabel", f'"Case {slug}"@en'),
        ("skos:definition", f'"What case {slug} covers."@en'),
        ("skos:inScheme", "<topics>"),
        ("skos:broader", "topic:governance-accountability-and-democracy"),
    ]
    replace = replace or {}
    props = [(p, replace.get(p, o)) for p, o in base if p not in drop]
    return statement(subject, "sphr:Topic", props + list(add))


def image(subject, *, drop=(), replace=None, add=()):
    slug = subject.split(":")[-1].strip("<>")
    base = [
        ("dcterms:title", f'"Case {slug}"@en'),
        ("dcterms:creator", "agent:usaid-egypt"),
        ("dcterms:license", "<https://creativecommons.org/licenses/by/2.0/>"),
        ("dcterms:source", "<https://www.flickr.com/>"),
    ]
    replace = replace or {}
    props = [(p, replace.get(p, o)) for p, o in base if p not in drop]
    return statement(subject, "foaf:Image", props + list(add))


ENTRY_IRI = "An entry's IRI must be"
TITLE = "needs a language-tagged title"
TAGGED_TITLE = "title (dcterms:title) must be language-tagged"
TYPE = "exactly one resource type"
SUBJECT = "filed under at least one topic"
DATE = "must be a single xsd:date"
PAGE = "foaf:page must be an http(s) link"
LINK = "Link with a scheme other than http(s)"

# fmt: off
CASES = [
    # ---- resource entries ----
    Case("entry-missing-title", ENTRIES, "resource:case-missing-title",
         [(V, "dcterms:title", TITLE)],
         entry("resource:case-missing-title", drop=["dcterms:title"])),
    Case("entry-untagged-title", ENTRIES, "resource:case-untagged-title",
         [(V, "dcterms:title", TAGGED_TITLE, '"Untagged title"')],
         entry("resource:case-untagged-title", replace={"dcterms:title": '"Untagged title"'})),
    Case("entry-two-english-titles", ENTRIES, "resource:case-two-titles",
         [(V, "dcterms:title", "more than one title in the same language", "dcterms:title")],
         entry("resource:case-two-titles", add=[("dcterms:title", '"Another title"@en')])),
    Case("entry-missing-type", ENTRIES, "resource:case-missing-type",
         [(V, "dcterms:type", TYPE)],
         entry("resource:case-missing-type", drop=["dcterms:type"])),
    Case("commentary-missing-type", COMMENTARIES, "resource:case-commentary-missing-type",
         [(V, "dcterms:type", TYPE)],
         entry("resource:case-commentary-missing-type", cls="sphr:ExpertCommentary",
               drop=["dcterms:type"])),
    Case("entry-two-types", ENTRIES, "resource:case-two-types",
         [(V, "dcterms:type", TYPE, "dcterms:type")],
         entry("resource:case-two-types", add=[("dcterms:type", "type:guide")])),
    Case("entry-type-not-a-resource-type", ENTRIES, "resource:case-type-is-a-topic",
         [(V, "dcterms:type", TYPE, "dcterms:type topic:")],
         entry("resource:case-type-is-a-topic",
               replace={"dcterms:type": "topic:institutional-capacity-and-coordination"})),
    Case("entry-missing-subject", ENTRIES, "resource:case-missing-subject",
         [(V, "dcterms:subject", SUBJECT)],
         entry("resource:case-missing-subject", drop=["dcterms:subject"])),
    Case("entry-subject-not-a-topic", ENTRIES, "resource:case-subject-is-an-agent",
         [(V, "dcterms:subject", SUBJECT, "dcterms:subject agent:ilo")],
         entry("resource:case-subject-is-an-agent", replace={"dcterms:subject": "agent:ilo"}),
         batch="node"),
    Case("entry-subject-topic-not-in-scheme", ENTRIES, "resource:case-subject-outside-scheme",
         [(V, "dcterms:subject", SUBJECT, "dcterms:subject topic:case-outside")],
         entry("resource:case-subject-outside-scheme",
               replace={"dcterms:subject": "topic:case-outside-scheme"}),
         batch="node"),
    Case("topic-outside-scheme-used-as-subject", TOPICS, "topic:case-outside-scheme",
         [(V, "skos:inScheme", "must be in the topic scheme")],
         topic("topic:case-outside-scheme", drop=["skos:inScheme"]),
         batch="node"),
    Case("entry-date-plain-string", ENTRIES, "resource:case-date-string",
         [(V, "dcterms:date", DATE, "dcterms:date")],
         entry("resource:case-date-string", replace={"dcterms:date": '"2016-03-03"'})),
    Case("entry-date-datetime", ENTRIES, "resource:case-date-datetime",
         [(V, "dcterms:date", DATE, "dcterms:date")],
         entry("resource:case-date-datetime",
               replace={"dcterms:date": '"2016-03-03T10:00:00Z"^^xsd:dateTime'})),
    Case("entry-two-dates", ENTRIES, "resource:case-two-dates",
         [(V, "dcterms:date", DATE, "dcterms:date")],
         entry("resource:case-two-dates", add=[("dcterms:date", '"2019"^^xsd:gYear')])),
    Case("entry-creator-not-an-agent", ENTRIES, "resource:case-creator-is-a-place",
         [(V, "dcterms:creator", "dcterms:creator must point to an agent", "dcterms:creator")],
         entry("resource:case-creator-is-a-place", add=[("dcterms:creator", "place:kenya")])),
    Case("entry-publisher-not-an-agent", ENTRIES, "resource:case-publisher-is-a-topic",
         [(V, "dcterms:publisher", "dcterms:publisher must point to an agent", "dcterms:publisher")],
         entry("resource:case-publisher-is-a-topic",
               add=[("dcterms:publisher", "topic:governance-accountability-and-democracy")])),
    Case("entry-contributor-not-an-agent", ENTRIES, "resource:case-contributor-is-a-place",
         [(V, "dcterms:contributor", "dcterms:contributor must point to an agent",
           "dcterms:contributor")],
         entry("resource:case-contributor-is-a-place",
               add=[("dcterms:contributor", "place:india")])),
    Case("entry-spatial-not-a-place", ENTRIES, "resource:case-spatial-is-an-agent",
         [(V, "dcterms:spatial", "dcterms:spatial must point to a place", "dcterms:spatial")],
         entry("resource:case-spatial-is-an-agent", add=[("dcterms:spatial", "agent:ilo")])),
    Case("entry-concerns-not-an-instrument", ENTRIES, "resource:case-concerns-an-agent",
         [(V, "sphr:concerns", "must point to an instrument or initiative", "sphr:concerns")],
         entry("resource:case-concerns-an-agent", add=[("sphr:concerns", "agent:ilo")])),
    Case("entry-page-is-a-string", ENTRIES, "resource:case-page-string",
         [(V, "foaf:page", PAGE, "foaf:page")],
         entry("resource:case-page-string", add=[("foaf:page", '"https://example.org/report"')])),
    Case("entry-page-not-http", ENTRIES, "resource:case-page-ftp",
         [(V, "foaf:page", LINK, "foaf:page")],  # two rules, one problem
         entry("resource:case-page-ftp", add=[("foaf:page", "<ftp://example.org/report.pdf>")])),
    Case("entry-page-javascript", ENTRIES, "resource:case-page-javascript",
         [(V, "foaf:page", LINK, "foaf:page")],  # two rules, one problem
         entry("resource:case-page-javascript", add=[("foaf:page", "<javascript:alert(1)>")])),
    Case("entry-modified-not-datetime", ENTRIES, "resource:case-modified-date",
         [(V, "dcterms:modified", "must be a single xsd:dateTime", "dcterms:modified")],
         entry("resource:case-modified-date",
               add=[("dcterms:modified", '"2024-01-31"^^xsd:date')])),
    Case("entry-two-modified", ENTRIES, "resource:case-two-modified",
         [(V, "dcterms:modified", "must be a single xsd:dateTime", "dcterms:modified")],
         entry("resource:case-two-modified",
               add=[("dcterms:modified",
                     '"2024-01-31T12:00:00Z"^^xsd:dateTime , "2024-02-01T12:00:00Z"^^xsd:dateTime')])),
    Case("entry-replaced-by-not-an-entry", ENTRIES, "resource:case-replaced-by-topic",
         [(V, "dcterms:isReplacedBy", "must point to another resource entry",
           "dcterms:isReplacedBy")],
         entry("resource:case-replaced-by-topic",
               add=[("dcterms:isReplacedBy", "topic:institutional-capacity-and-coordination")])),
    Case("entry-deprecated-not-boolean", ENTRIES, "resource:case-deprecated-yes",
         [(V, "owl:deprecated", "must be a single boolean", "owl:deprecated")],
         entry("resource:case-deprecated-yes", add=[("owl:deprecated", '"yes"')])),
    Case("entry-untagged-abstract", ENTRIES, "resource:case-untagged-abstract",
         [(V, "dcterms:abstract", "summary (dcterms:abstract) must be language-tagged",
           "dcterms:abstract")],
         entry("resource:case-untagged-abstract",
               replace={"dcterms:abstract": '"An untagged summary."'})),
    Case("entry-two-english-abstracts", ENTRIES, "resource:case-two-abstracts",
         [(V, "dcterms:abstract", "more than one summary (dcterms:abstract) in the same language",
           "dcterms:abstract")],
         entry("resource:case-two-abstracts",
               add=[("dcterms:abstract", '"Another summary."@en')])),
    Case("entry-iri-not-a-slug", ENTRIES, "resource:Case_Not_A_Slug",
         [(V, "", ENTRY_IRI)],
         entry("resource:Case_Not_A_Slug")),
    Case("entry-iri-outside-resource", ENTRIES, "<publication/case-wrong-namespace>",
         [(V, "", ENTRY_IRI)],
         entry("<publication/case-wrong-namespace>")),
    Case("entry-without-date", ENTRIES, "resource:case-no-date",
         [(W, "dcterms:date", "has no date")],
         entry("resource:case-no-date", drop=["dcterms:date"])),
    Case("entry-without-abstract", ENTRIES, "resource:case-no-abstract",
         [(W, "dcterms:abstract", "has no summary")],
         entry("resource:case-no-abstract", drop=["dcterms:abstract"])),
    # ---- edits of entries that the bundled data already has ----
    Case("existing-entry-date-as-text", COMMENTARIES,
         "resource:inter-sectoral-coordination-social-protection-human-rights-virtuous-circle",
         [(V, "dcterms:date", DATE, 'dcterms:date "3 March 2016"')],
         edit=('dcterms:date "2016-03-03"^^xsd:date', 'dcterms:date "3 March 2016"')),
    Case("existing-entry-type-removed", ENTRIES,
         "resource:good-governance-guidelines-for-social-security-institutions",
         [(V, "dcterms:type", TYPE), (W, "dcterms:date", "has no date")],
         edit=("    dcterms:type type:guide ;\n    dcterms:subject topic:institutional-capacity-"
               "and-coordination ;\n    dcterms:publisher agent:issa .",
               "    dcterms:subject topic:institutional-capacity-and-coordination ;\n"
               "    dcterms:publisher agent:issa .")),
    # ---- topics ----
    Case("topic-missing-preflabel", TOPICS, "topic:case-no-label",
         [(V, "skos:prefLabel", "needs a language-tagged name")],
         topic("topic:case-no-label", drop=["skos:prefLabel"])),
    Case("topic-untagged-preflabel", TOPICS, "topic:case-untagged-label",
         [(V, "skos:prefLabel", "name (skos:prefLabel) must be language-tagged", "skos:prefLabel")],
         topic("topic:case-untagged-label", replace={"skos:prefLabel": '"Untagged"'})),
    Case("topic-two-english-preflabels", TOPICS, "topic:case-two-labels",
         [(V, "skos:prefLabel", "more than one skos:prefLabel in the same language",
           "skos:prefLabel")],
         topic("topic:case-two-labels", add=[("skos:prefLabel", '"Other name"@en')])),
    Case("topic-not-in-scheme", TOPICS, "topic:case-not-in-scheme",
         [(V, "skos:inScheme", "must be in the topic scheme")],
         topic("topic:case-not-in-scheme", drop=["skos:inScheme"])),
    Case("topic-unreachable", TOPICS, "topic:case-unreachable",
         [(V, REACHABLE_PATH, "cannot be reached from a key issue")],
         topic("topic:case-unreachable", drop=["skos:broader"])),
    Case("topic-broader-not-a-topic", TOPICS, "topic:case-broader-agent",
         [(V, "skos:broader", "skos:broader must point to another topic", "skos:broader agent:")],
         topic("topic:case-broader-agent", add=[("skos:broader", "agent:ilo")])),
    Case("topic-broader-chain-to-top-is-fine", TOPICS, "topic:case-grandchild",
         [],
         topic("topic:case-grandchild",
               replace={"skos:broader": "topic:institutional-capacity-and-coordination"})),
    Case("topic-depiction-not-an-image", TOPICS, "topic:case-depicts-agent",
         [(V, "foaf:depiction", "one picture described as a foaf:Image", "foaf:depiction")],
         topic("topic:case-depicts-agent", add=[("foaf:depiction", "agent:ilo")])),
    Case("topic-two-depictions", TOPICS, "topic:case-two-pictures",
         [(V, "foaf:depiction", "one picture described as a foaf:Image", "foaf:depiction")],
         topic("topic:case-two-pictures",
               add=[("foaf:depiction", "image:green-bean-farmer-in-asawn , image:case-valid")])),
    Case("topic-untagged-definition", TOPICS, "topic:case-untagged-definition",
         [(V, "skos:definition", "skos:definition must be language-tagged", "skos:definition")],
         topic("topic:case-untagged-definition",
               replace={"skos:definition": '"An untagged definition."'})),
    Case("topic-without-definition", TOPICS, "topic:case-no-definition",
         [(W, "skos:definition", "has no description")],
         topic("topic:case-no-definition", drop=["skos:definition"])),
    Case("topic-iri-not-a-slug", TOPICS, "topic:Case_Bad",
         [(V, "", "A topic's IRI must be")],
         topic("topic:Case_Bad")),
    # ---- resource types and schemes ----
    Case("type-without-preflabel", TOPICS, "type:case-unlabelled",
         [(V, "skos:prefLabel", "A resource type needs one language-tagged skos:prefLabel")],
         "type:case-unlabelled a sphr:ResourceType ; skos:inScheme <types> .\n"),
    Case("type-not-in-scheme", TOPICS, "type:case-outside",
         [(V, "skos:inScheme", "must be in the resource type scheme")],
         'type:case-outside a sphr:ResourceType ; skos:prefLabel "Outside"@en .\n'),
    Case("type-iri-not-under-type", TOPICS, "<kind/case-kind>",
         [(V, "", "A resource type's IRI must be")],
         '<kind/case-kind> a sphr:ResourceType ; skos:prefLabel "Kind"@en ;'
         " skos:inScheme <types> .\n"),
    Case("scheme-without-preflabel", TOPICS, "<case-scheme>",
         [(V, "skos:prefLabel", "A concept scheme needs one language-tagged skos:prefLabel")],
         "<case-scheme> a skos:ConceptScheme .\n"),
    # ---- agents ----
    Case("agent-without-name", AGENTS, "agent:case-nameless",
         [(V, "foaf:name", "An agent needs a name")],
         "agent:case-nameless a foaf:Organization .\n"),
    Case("person-without-name", AGENTS, "agent:case-nameless-person",
         [(V, "foaf:name", "An agent needs a name")],
         'agent:case-nameless-person a foaf:Person ; skos:altLabel "Anon"@en .\n'),
    Case("agent-suborganization-not-an-organisation", AGENTS, "agent:case-part-of-place",
         [(V, "org:subOrganizationOf", "must point to an organisation")],
         'agent:case-part-of-place a foaf:Organization ; foaf:name "Part"@en ;'
         " org:subOrganizationOf place:kenya .\n"),
    Case("agent-iri-not-under-agent", AGENTS, "<people/case-person>",
         [(V, "", "An agent's IRI must be")],
         '<people/case-person> a foaf:Person ; foaf:name "Somebody" .\n'),
    Case("empty-string-literal", AGENTS, "agent:case-empty-alt",
         [(V, "skos:altLabel", "Empty text value")],
         'agent:case-empty-alt a foaf:Organization ; foaf:name "Named"@en ;'
         ' skos:altLabel ""@en .\n'),
    Case("blank-string-literal", AGENTS, "agent:case-blank-name",
         [(V, "foaf:name", "Empty text value")],
         'agent:case-blank-name a foaf:Organization ; foaf:name "   "@en .\n'),
    Case("control-character-in-literal", AGENTS, "agent:case-bell",
         [(V, "foaf:name", "control character")],
         'agent:case-bell a foaf:Organization ; foaf:name "Bell\\u0007Organisation"@en .\n'),
    # characters XML 1.0 forbids, and invisible ones: kgpub's own check (kgpub.validate)
    Case("nul-in-literal", AGENTS, "agent:case-nul",
         [(V, "foaf:name", "U+0000 (NUL, a control character), a character XML 1.0 forbids")],
         'agent:case-nul a foaf:Organization ; foaf:name "Nul\\u0000Organisation"@en .\n'),
    Case("noncharacter-in-literal", PLACES, "place:case-noncharacter",
         [(V, "rdfs:label", "U+FFFE (a noncharacter), a character XML 1.0 forbids")],
         'place:case-noncharacter a dcterms:Location ; rdfs:label "Place\\uFFFE"@en .\n'),
    Case("bidi-control-in-name", AGENTS, "agent:case-rlo",
         [(W, "foaf:name", "U+202E (RIGHT-TO-LEFT OVERRIDE)")],
         'agent:case-rlo a foaf:Organization ; foaf:name "Right\\u202Eleft"@en .\n'),
    Case("tab-and-newline-are-fine", AGENTS, "agent:case-tab",
         [],
         'agent:case-tab a foaf:Organization ; foaf:name "Tab\\tand\\nnewline"@en .\n'),
    Case("javascript-iri", AGENTS, "agent:case-javascript",
         [(V, "foaf:homepage", LINK)],
         'agent:case-javascript a foaf:Organization ; foaf:name "Script"@en ;'
         " foaf:homepage <javascript:alert(1)> .\n"),
    Case("data-iri", AGENTS, "agent:case-data-iri",
         [(V, "foaf:homepage", LINK)],
         'agent:case-data-iri a foaf:Organization ; foaf:name "Data"@en ;'
         " foaf:homepage <data:text/html,hello> .\n"),
    Case("file-iri", AGENTS, "agent:case-file-iri",
         [(V, "foaf:homepage", LINK)],
         'agent:case-file-iri a foaf:Organization ; foaf:name "File"@en ;'
         " foaf:homepage <file:///etc/passwd> .\n"),
    Case("existing-agent-name-removed", AGENTS, "agent:alexandra-barrantes",
         [(V, "foaf:name", "An agent needs a name")],
         edit=('agent:alexandra-barrantes a foaf:Person ;\n    foaf:name "Alexandra Barrantes" .',
               "agent:alexandra-barrantes a foaf:Person .")),
    # ---- places ----
    Case("place-without-label", PLACES, "place:case-unlabelled",
         [(V, "rdfs:label", "A place needs a name")],
         "place:case-unlabelled a dcterms:Location .\n"),
    Case("place-two-english-labels", PLACES, "place:case-two-labels",
         [(V, "rdfs:label", "A place needs a name")],
         'place:case-two-labels a dcterms:Location ; rdfs:label "One"@en , "Two"@en .\n'),
    Case("place-part-of-not-a-place", PLACES, "place:case-part-of-agent",
         [(V, "dcterms:isPartOf", "must point to another place")],
         'place:case-part-of-agent a dcterms:Location ; rdfs:label "Part"@en ;'
         " dcterms:isPartOf agent:ilo .\n"),
    Case("place-iri-not-under-place", PLACES, "<country/case-country>",
         [(V, "", "A place's IRI must be")],
         '<country/case-country> a dcterms:Location ; rdfs:label "Country"@en .\n'),
    # ---- instruments and initiatives ----
    Case("instrument-without-title", INSTRUMENTS, "instrument:case-untitled",
         [(V, "dcterms:title", "needs one language-tagged title")],
         "instrument:case-untitled a sphr:Instrument .\n"),
    Case("initiative-untagged-title", INSTRUMENTS, "initiative:case-untagged",
         [(V, "dcterms:title", "needs one language-tagged title")],
         'initiative:case-untagged a sphr:Initiative ; dcterms:title "Untagged" .\n'),
    Case("instrument-creator-not-an-agent", INSTRUMENTS, "instrument:case-creator-place",
         [(V, "dcterms:creator", "dcterms:creator must point to an agent")],
         'instrument:case-creator-place a sphr:Instrument ; dcterms:title "Made"@en ;'
         " dcterms:creator place:kenya .\n"),
    Case("initiative-iri-not-a-slug", INSTRUMENTS, "<programme/case-programme>",
         [(V, "", "An instrument's or initiative's IRI must be")],
         '<programme/case-programme> a sphr:Initiative ; dcterms:title "Programme"@en .\n'),
    # ---- pictures ----
    Case("image-valid", TOPICS, "image:case-valid", [], image("image:case-valid")),
    Case("image-without-licence", TOPICS, "image:case-no-licence",
         [(V, "dcterms:license", "needs its licence as one http(s) IRI")],
         image("image:case-no-licence", drop=["dcterms:license"])),
    Case("image-licence-is-a-string", TOPICS, "image:case-licence-string",
         [(V, "dcterms:license", "needs its licence as one http(s) IRI", "dcterms:license")],
         # node kind + pattern: one problem
         image("image:case-licence-string", replace={"dcterms:license": '"CC BY 2.0"'})),
    Case("image-licence-not-http", TOPICS, "image:case-licence-urn",
         [(V, "dcterms:license", "needs its licence as one http(s) IRI", "dcterms:license")],
         image("image:case-licence-urn", replace={"dcterms:license": "<urn:license:cc-by>"})),
    Case("image-two-licences", TOPICS, "image:case-two-licences",
         [(V, "dcterms:license", "needs its licence as one http(s) IRI", "dcterms:license")],
         image("image:case-two-licences",
               add=[("dcterms:license", "<https://creativecommons.org/licenses/by/4.0/>")])),
    Case("image-without-creator", TOPICS, "image:case-no-creator",
         [(V, "dcterms:creator", "needs its creator")],
         image("image:case-no-creator", drop=["dcterms:creator"])),
    Case("image-creator-not-an-agent", TOPICS, "image:case-creator-place",
         [(V, "dcterms:creator", "needs its creator", "dcterms:creator")],
         image("image:case-creator-place", replace={"dcterms:creator": "place:kenya"})),
    Case("image-without-title", TOPICS, "image:case-no-title",
         [(V, "dcterms:title", "needs its title as credited")],
         image("image:case-no-title", drop=["dcterms:title"])),
    Case("image-source-is-a-string", TOPICS, "image:case-source-string",
         [(V, "dcterms:source", "must be an http(s) IRI", "dcterms:source")],  # kind + pattern: one
         image("image:case-source-string", replace={"dcterms:source": '"Flickr"'})),
    Case("image-iri-not-under-image", TOPICS, "<picture/case-picture>",
         [(V, "", "A picture's IRI must be")],
         image("<picture/case-picture>")),
    # ---- every described thing ----
    Case("untyped-subject-with-title", EXTERNAL, "<resource/case-untyped>",
         [(V, "rdf:type", "has no rdf:type")],
         '<resource/case-untyped> dcterms:title "Untyped"@en .\n'),
    Case("untyped-subject-with-name", EXTERNAL, "<agent/case-untyped-agent>",
         [(V, "rdf:type", "has no rdf:type")],
         '<agent/case-untyped-agent> foaf:name "Nobody" .\n'),
]

# fmt: on


@dataclass
class Batch:
    root: Path
    report: object
    lines: dict[str, int]  # case id -> line of the subject
    cases: list[Case]


def run_batch(root: Path, cases: list[Case]) -> Batch:
    copy_project(root)
    appended: dict[str, list[str]] = {}
    for case in cases:
        if case.edit:
            edit_file(root / case.file, *case.edit)
        if case.snippet:
            appended.setdefault(case.file, []).append(case.snippet)
    for file, snippets in appended.items():
        append_file(root / file, PREFIXES + "\n" + "\n".join(snippets))
    lines = {c.id: subject_line(root / c.file, c.subject) for c in cases}
    return Batch(root, validate_project(root), lines, cases)
