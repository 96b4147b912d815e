"""Relative links between site files: the fast rel() equals posixpath.relpath on site paths."""

import itertools
import posixpath

from kgpub.render.templates import rel

PATHS = ["index.html", "topics.html", "topic/x.html", "topic/y.html", "resource/z.html",
         "_assets/style.css", "a/b/c.html", "a/d/e.html", "a/b.html", "a/b/c/d.html",
         ".well-known/void.ttl", "dumps/dataset.nt.gz",
         # a sibling whose name starts like the page's directory is not below it
         "a/bc.html", "a/b-c/d.html", "a/b/x/y.html", "fr/a/b.html", "fr/a/b/c.html"]


def test_rel_matches_relpath():
    for page, target in itertools.product(PATHS, PATHS):
        assert rel(page, target) == posixpath.relpath(target, posixpath.dirname(page) or "."), (
            page, target)
