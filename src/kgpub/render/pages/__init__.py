"""The HTML pages, one module per page kind. Each builds a page's template context from a View
(the site in one language: kgpub.render.pages.view) and reads the graph only through the index
and browse accessors it holds, so what a page reads is recorded (kgpub.incremental).

    entity      the page of any entity: picks the builder of its kind (topic, entry, ontology,
                tombstone) or the generic one
    topic, entry, ontology
    listing     a listing's pages, with the pager
    facets      the browse index, the facets' pages and the topics A-Z
    home, search, not_found
    head        what every page's <head> and header carry (title, alternates, kind)
    schema_org, opengraph   structured data about a page's entity
    cards       entry cards (cached with what they read) and the site's order of entries
    navigation  breadcrumbs, the topic chain and tree
    picture     a picture with its credit
    dates       dates in the page's language
    view        the View itself: links, names, values, the metadata table

kgpub.render.html.HtmlRenderer is the facade the build calls.
"""
