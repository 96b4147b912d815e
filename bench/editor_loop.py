"""The editor's loop (issue 13): the edits bench/run.py makes to a generated project between
incremental rebuilds, what it reads from `kgpub build --timings`, and how it reports them.

Four kinds of edit, each undone afterwards so that later sections see the generated project:
  title   one entry's English dcterms:title
  add     an entry appended to an existing data file (a copy of its first entry under a new
          IRI and title: a new *file* would make kgpub fall back to a full build)
  delete  that entry removed again (the file is back to what was generated)
  topic   the English skos:prefLabel of the topic most entries have as dcterms:subject: every
          page that lists or links the topic shows the label, so thousands of pages change
"""

from __future__ import annotations

import re
import statistics
from collections.abc import Callable
from pathlib import Path

TITLE = re.compile(r'(dcterms:title\s+")([^"\\\n]+)(")')
LABEL_EN = re.compile(r'(skos:prefLabel\s+")([^"\\\n]+)("@en)')
SUBJECT = re.compile(r"^resource:\S+ a ", re.M)
TOPIC_USE = re.compile(r"topic:([\w-]+)")
TIMINGS = re.compile(r"^timings: (.*)$", re.M)
STAGE = re.compile(r"\s*(.+?) (\d+(?:\.\d+)?) s$")
# Another branch may print when a rebuild's pages were published, before the search index;
# read leniently: any line naming "published" and "search" with a duration.
LIVE = re.compile(r"^(?=.*\bpublished\b)(?=.*\bsearch\b).*?(\d+(?:\.\d+)?)\s*(ms|s)\b",
                  re.M | re.I)
KINDS = [("title", "one edited English title"), ("add", "an added entry"),
         ("delete", "that entry deleted again"), ("topic", "a renamed topic label (English)")]
DASH = "—"


def stages(output: str) -> dict[str, float]:
    """{stage: seconds} from kgpub's `timings: load 0.52 s, validate 0.10 s, ...` line."""
    m = TIMINGS.search(output)
    if not m:
        return {}
    found = {}
    for part in m.group(1).split(", "):
        if s := STAGE.fullmatch(part):
            found[s.group(1)] = float(s.group(2))
    return found


def live_after(output: str) -> float | None:
    """Seconds after which kgpub said the edit was published (search index to follow)."""
    m = LIVE.search(output)
    if not m:
        return None
    value = float(m.group(1))
    return value / 1000 if m.group(2).lower() == "ms" else value


def blocks(text: str) -> list[str]:
    """The statements of a generated data file, one per entry, in order."""
    return [b for b in text.split("\n\n") if SUBJECT.match(b)]


def title_target(data: Path) -> Path:
    """The first entry file (sorted) with a plain dcterms:title literal."""
    for f in sorted((data / "entries").rglob("*.ttl")):
        if TITLE.search(f.read_text("utf-8")):
            return f
    raise RuntimeError('no entry with a dcterms:title "..." in data/entries')


def retitled(text: str, k: int) -> str:
    return TITLE.sub(lambda g: f"{g.group(1)}{g.group(2)} (edited {k}){g.group(3)}", text, count=1)


def with_added_entry(text: str, k: int) -> tuple[str, str]:
    """(the file with a copy of its first entry appended under a new IRI, the new IRI's name)."""
    first = blocks(text)[0]
    name = first.split()[0].removeprefix("resource:") + f"-added-{k}"
    block = re.sub(r"^resource:\S+", f"resource:{name}", first, count=1)
    block = TITLE.sub(lambda g: f"{g.group(1)}An entry added by the benchmark ({k}){g.group(3)}",
                      block, count=1)
    return text.rstrip("\n") + "\n\n" + block + "\n", name


def busiest_topic(data: Path) -> tuple[str, int]:
    """(the topic most entries have as subject, how many entries name it)."""
    counts: dict[str, int] = {}
    for f in (data / "entries").rglob("*.ttl"):
        for line in f.read_text("utf-8").splitlines():
            if "dcterms:subject" in line:
                for slug in set(TOPIC_USE.findall(line)):
                    counts[slug] = counts.get(slug, 0) + 1
    labelled = labelled_topics(data / "topics.ttl")
    ranked = sorted((-n, slug) for slug, n in counts.items() if slug in labelled)
    if not ranked:
        raise RuntimeError("no topic with an English skos:prefLabel is a subject of an entry")
    return ranked[0][1], -ranked[0][0]


def labelled_topics(topics: Path) -> set[str]:
    found = set()
    for block in topics.read_text("utf-8").split("\n\n"):
        m = re.match(r"topic:(\S+) a ", block.strip())
        if m and LABEL_EN.search(block):
            found.add(m.group(1))
    return found


def relabelled(text: str, slug: str, k: int) -> str:
    """topics.ttl with the English prefLabel of topic:slug renamed."""
    head = re.search(rf"^topic:{re.escape(slug)} a ", text, re.M)
    if head is None:
        raise RuntimeError(f"topic:{slug} is not declared in topics.ttl")
    end = text.find("\n\n", head.start())
    end = len(text) if end < 0 else end
    block = LABEL_EN.sub(lambda g: f"{g.group(1)}{g.group(2)} (renamed {k}){g.group(3)}",
                         text[head.start():end], count=1)
    return text[:head.start()] + block + text[end:]


def diff(before: dict[str, bytes], after: dict[str, bytes]) -> dict:
    changed = sorted(p for p in after if p in before and after[p] != before[p])
    return {"changed": len(changed), "added": sum(p not in before for p in after),
            "removed": sum(p not in after for p in before), "examples": changed[:12],
            "by_folder": by_folder(changed), "by_ext": by_ext(changed)}


def by_folder(paths: list[str]) -> dict[str, int]:
    """Changed files per top folder (files at the top: '/'), largest first."""
    counts: dict[str, int] = {}
    for p in paths:
        top = p.split("/", 1)[0] + "/" if "/" in p else "/"
        counts[top] = counts.get(top, 0) + 1
    return dict(sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])))


def by_ext(paths: list[str]) -> dict[str, int]:
    """Changed files per extension (.html, .ttl, ...), largest first."""
    counts: dict[str, int] = {}
    for p in paths:
        name = p.rsplit("/", 1)[-1]
        ext = "." + name.rsplit(".", 1)[1] if "." in name.lstrip(".") else name
        counts[ext] = counts.get(ext, 0) + 1
    return dict(sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])))


def same_site(a: dict[str, bytes], b: dict[str, bytes]) -> dict:
    """Two sites compared file by file, the build's own files (.kgpub/) left out."""
    a = {p: h for p, h in a.items() if not p.startswith(".kgpub/")}
    b = {p: h for p, h in b.items() if not p.startswith(".kgpub/")}
    differ = sorted(p for p in a.keys() & b.keys() if a[p] != b[p])
    only_a, only_b = sorted(a.keys() - b.keys()), sorted(b.keys() - a.keys())
    return {"identical": not (differ or only_a or only_b), "files": len(a),
            "differ": differ[:10], "only_incremental": only_a[:10], "only_full": only_b[:10],
            "counts": [len(differ), len(only_a), len(only_b)]}


def summarize(runs: list[dict]) -> dict:
    """Medians over the runs of one kind; the last run's file counts (they repeat)."""
    ok = [r for r in runs if not r.get("stopped")]
    out: dict = {"runs": runs, "stopped": len(ok) < len(runs),
                 "stopped_at": runs[-1]["wall"] if runs and len(ok) < len(runs) else None,
                 "wall": _median([r["wall"] for r in ok]),
                 "live": _median([r.get("live") for r in ok]),
                 "timings": {}}
    if ok:
        last = ok[-1]
        out.update({k: last.get(k) for k in ("changed", "added", "removed", "examples",
                                              "by_folder", "by_ext", "output")})
        for stage in last.get("timings") or {}:
            out["timings"][stage] = _median([(r.get("timings") or {}).get(stage) for r in ok])
    return out


def _median(values: list) -> float | None:
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


# ---- the report ------------------------------------------------------------------------------

def report_lines(e: dict, fs: Callable, verdict_text: str, target_text: str) -> list[str]:
    """The incremental section: one row per kind of edit, then the title's stage profile, the
    topic's why, and the correctness checks. Results of older runs (no "kinds") still render."""
    kinds = e.get("kinds") or {"title": {k: e.get(k) for k in (
        "wall", "runs", "changed", "added", "removed", "examples", "output", "stopped",
        "stopped_at")}}
    full = e.get("full_build")
    lines = ["Each edit is followed by `kgpub build --timings` as a fresh process into the built "
             "site (median of the runs); files compared by hash before and after.", "",
             "| edit | median | runs | edit live after | files changed | added | removed "
             "| target | |",
             "| --- | ---: | --- | ---: | ---: | ---: | ---: | --- | --- |"]
    for key, label in KINDS:
        k = kinds.get(key)
        if not k:
            lines.append(f"| {label} | {DASH} | {DASH} | {DASH} | {DASH} | {DASH} | {DASH} | "
                         f"{target_text if key == 'title' else DASH} | {DASH} |")
            continue
        wall = (fs(k["wall"]) if k.get("wall") is not None
                else f"> {fs(k['stopped_at'])} (stopped)" if k.get("stopped_at") else DASH)
        runs = ", ".join(fs(r["wall"]) for r in k.get("runs") or [] if r.get("wall") is not None)
        target, ok = (target_text, verdict_text) if key == "title" else ("(none)", "")
        lines.append(f"| {label} | {wall} | {runs or DASH} | "
                     f"{fs(k['live']) if k.get('live') is not None else DASH} | "
                     f"{_n(k.get('changed'))} | {_n(k.get('added'))} | {_n(k.get('removed'))} | "
                     f"{target} | {ok} |")
    said = any((k or {}).get("live") is not None for k in kinds.values())
    lines += ["", "*Edit live after*: when kgpub said the edit was published, the search index "
              "still to follow" + ("." if said else f" ({DASH}: this kgpub prints no such line; "
                                   "the wall time includes the search index)."),
              f"Full build of the same project: {fs(full) if full else DASH}; site files: "
              f"{_n(e.get('total_files'))}."]
    if e.get("file"):
        lines.append(f"Title edited in `{e['file']}`"
                     + (f"; entry added to and deleted from `{e['add_file']}`"
                        if e.get("add_file") else "") + ".")
    lines += [""] + profile_lines(kinds.get("title") or {}, fs) + [""] + topic_lines(e, kinds)
    lines += [""] + check_lines(e)
    title = kinds.get("title") or {}
    if title.get("output"):
        lines += ["", f"kgpub said (title): `{title['output']}`"]
    return lines


def profile_lines(k: dict, fs: Callable) -> list[str]:
    t = k.get("timings") or {}
    if not t:
        return [f"Stages of the title rebuild (`timings:`): {DASH} (not measured)."]
    total = sum(t.values())
    lines = ["Where the title rebuild's time goes (kgpub's `timings:` line, medians; the rest of "
             f"the wall time, {fs(max(0.0, (k.get('wall') or 0) - total))}, is interpreter "
             "start-up, imports and what no stage times):", "", "| stage | time | share |", "| --- | ---: | ---: |"]
    lines += [f"| {stage} | {fs(s)} | {s / total:.0%} |" if total else f"| {stage} | {fs(s)} | |"
              for stage, s in sorted(t.items(), key=lambda kv: -(kv[1] or 0))]
    return lines


def topic_lines(e: dict, kinds: dict) -> list[str]:
    k = kinds.get("topic")
    if not k or k.get("changed") is None:
        return [f"Renamed topic: {DASH}."]
    folders = ", ".join(f"`{f}` {n:,}" for f, n in list((k.get("by_folder") or {}).items())[:6])
    exts = ", ".join(f"{x} {n:,}" for x, n in list((k.get("by_ext") or {}).items())[:8])
    entries = e.get("topic_entries")
    per_entry = (k.get("by_folder") or {}).get("resource/")
    each = (f" — {per_entry / entries:.1f} files per entry" if per_entry and entries else "")
    return [f"Renamed topic: `topic:{e.get('topic')}` (the topic most entries have as subject: "
            f"{_n(entries)} entries); {k['changed']:,} files changed, by folder: {folders}; by "
            f"kind: {exts or DASH}. Why so many: every document of an entry carries the labels "
            "of the topics it has as subject (its HTML in each language, its Turtle, JSON-LD, "
            "N-Triples and RDF/XML with the topic's skos:prefLabel, its BibTeX and RIS citations "
            f"as a keyword), so every entry with the topic is written again{each}; then the "
            "topic's own documents and those of the topics next to it, the browse listings and "
            "facets that name it, and the site-wide files (dumps, search index, OAI records)."]


def check_lines(e: dict) -> list[str]:
    lines = []
    r = e.get("restored")
    lines.append("Project restored and rebuilt: site identical to the first full build's "
                 "(`.kgpub/` left out): " + _yes(r) + _restore_wall(r) + ".")
    c = e.get("check")
    if c is None or c.get("identical") is None:
        lines.append(f"Incremental site after the edits = a full build into a fresh directory: "
                     f"{DASH}" + (f" ({c['reason']})" if c and c.get("reason") else "") + ".")
    else:
        lines.append("Incremental site after the edits (title, entry added and deleted, topic "
                     "renamed) = a full build into a fresh directory, every file but `.kgpub/`: "
                     f"identical: **{'yes' if c['identical'] else 'no'}** ({c['files']:,} files)"
                     + ("" if c["identical"] else
                        f"; differ: {c['differ']}, only incremental: {c['only_incremental']}, "
                        f"only full: {c['only_full']}") + ".")
    return lines


def _yes(r: dict | None) -> str:
    if not r or r.get("identical") is None:
        return DASH
    return "**yes**" if r["identical"] else f"**no** (differ / only after / only before: {r['counts']})"


def _restore_wall(r: dict | None) -> str:
    return f" (rebuild {r['wall']:.2f} s)" if r and r.get("wall") is not None else ""


def _n(v) -> str:
    return DASH if v is None else f"{v:,}"
