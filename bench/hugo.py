"""Benchmark: kgpub beside Hugo on the same generated entries, same machine, same run.

The project (bench/generate.py) is converted into an equivalent Hugo site (bench/hugo_site.py:
pages per entity in three languages, eight taxonomies with paginated term pages, the per-entry RDF
documents and citations as extra output formats). Then, alternating the tools (K H, H K, ...):

  full build   `kgpub build` and `hugo --destination`, each into a new empty directory
  rebuild      one live entry's English title changed (a new value each time), each tool building
               again into its last full build: kgpub's incremental build, Hugo's second run
  live preview then Hugo's own incremental mode, `hugo server --renderToDisk --watch`: from
               saving the edit to the new title on disk in every language (if the budget allows)

Each figure is the median of the runs; time and peak memory as bench/measure.py measures them
(wall time of the command; the larger of ru_maxrss and the summed PSS of its processes). Ratios
are kgpub / Hugo. After each rebuild both outputs are checked to show the new title in all three
languages, so a tool that skipped the edit cannot look fast.

    python bench/hugo.py --project DIR [--runs 3] [--edits 3] [--workdir DIR]

bench/run.py runs it on its generated projects (section "Side by side: Hugo"). Needs Debian's
`hugo` (0.111; `make bench` installs it with apt-get when missing).
"""

from __future__ import annotations

import argparse
import html
import json
import os
import queue
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import hugo_site  # noqa: E402
from measure import kill_session, run_measured  # noqa: E402

LANG_PREFIXES = {"en": "", "fr": "fr/", "es": "es/"}  # where each language's pages are, both tools
MISSING = "hugo is not installed (Debian: apt-get install hugo; `make bench` installs it)"


def hugo_command() -> str | None:
    return shutil.which("hugo")


def hugo_version(command: str) -> str:
    try:
        out = subprocess.run([command, "version"], capture_output=True, text=True, timeout=30)
        return out.stdout.split("+")[0].split(" BuildDate")[0].strip() or "hugo"
    except (OSError, subprocess.SubprocessError):
        return "hugo (version unknown)"


def kgpub_command() -> list[str]:
    """The `kgpub` console script beside this Python, else the module."""
    script = Path(sys.executable).with_name("kgpub")
    return [str(script)] if script.is_file() else [sys.executable, "-m", "kgpub.cli"]


def median(values: list[float]) -> float | None:
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


def ratio(a: float | None, b: float | None) -> float | None:
    return a / b if a is not None and b else None


# ---- the edit -------------------------------------------------------------------------------------

@dataclass
class Edit:
    """One live entry's English title, changed in both sources: the Turtle statement kgpub reads
    and the three Markdown pages Hugo reads (its fr/es pages show the English title as fallback,
    as kgpub's do). restore() puts both back."""

    slug: str
    title: str
    ttl: Path
    md: dict[str, Path]
    originals: dict[Path, str] = field(default_factory=dict)

    @classmethod
    def pick(cls, project: Path, site: Path) -> Edit:
        """The first entry (by slug) that is live, dated, and titled in English only."""
        resources = site / "content" / "en" / "resource"
        for page in sorted(resources.glob("*.md")):
            text = page.read_text("utf-8")
            labels = text.split("labels:", 1)[-1].split("\n", 1)[0]
            if ('title_lang: "en"' in text and "withdrawn" not in text and "date_lex" in text
                    and labels.startswith(' {"en":') and labels.count(":") == 1):
                slug = page.stem
                found = re.search(r"^title: (\".*\")$", text, re.M)
                if found is None:
                    continue
                title = json.loads(found.group(1))
                ttl = cls._turtle_of(project, slug)
                md = {lang: site / "content" / lang / "resource" / f"{slug}.md"
                      for lang in LANG_PREFIXES}
                edit = cls(slug, title, ttl, md)
                edit.originals = {p: p.read_text("utf-8") for p in [ttl, *md.values()]}
                return edit
        raise RuntimeError("no live, dated entry titled in English only to edit")

    @staticmethod
    def _turtle_of(project: Path, slug: str) -> Path:
        needle = f"\nresource:{slug} a "
        for f in sorted((project / "data" / "entries").rglob("*.ttl")):
            if needle in f.read_text("utf-8"):
                return f
        raise RuntimeError(f"no data file states resource:{slug}")

    def apply_kgpub(self, new: str) -> None:
        text = self.originals[self.ttl]
        start = text.index(f"\nresource:{self.slug} a ")
        end = text.index(" .\n", start)
        old = json.dumps(self.title, ensure_ascii=False) + "@en"
        block = text[start:end]
        if old not in block:
            raise RuntimeError(f"the title of resource:{self.slug} is not {old} in {self.ttl}")
        block = block.replace(old, json.dumps(new, ensure_ascii=False) + "@en", 1)
        self.ttl.write_text(text[:start] + block + text[end:], "utf-8")

    def apply_hugo(self, new: str) -> None:
        old, q = (json.dumps(t, ensure_ascii=False) for t in (self.title, new))
        for lang, page in self.md.items():
            text = self.originals[page].replace(f"title: {old}", f"title: {q}", 1)
            if lang == "en":  # the labels its RDF outputs state
                text = text.replace(f'labels: {{"en": {old}}}', f'labels: {{"en": {q}}}', 1)
            page.write_text(text, "utf-8")

    def restore(self) -> None:
        for path, text in self.originals.items():
            path.write_text(text, "utf-8")

    def shown(self, out: Path, title: str) -> list[str]:
        """The languages whose page of the entry in `out` shows `title`."""
        wanted = (html.escape(title, quote=False), html.escape(title))
        found = []
        for lang, prefix in LANG_PREFIXES.items():
            page = out / prefix / "resource" / f"{self.slug}.html"
            if page.is_file() and any(w in page.read_text("utf-8") for w in wanted):
                found.append(lang)
        return found


# ---- one build ------------------------------------------------------------------------------------

def inventory(root: Path) -> dict:
    """Files, HTML pages and bytes of an output (through kgpub's generation link)."""
    files = pages = size = 0
    for dirpath, _dirs, names in os.walk(root.resolve()):
        for name in names:
            files += 1
            pages += name.endswith(".html")
            size += os.lstat(os.path.join(dirpath, name)).st_size
    return {"files": files, "html": pages, "bytes": size}


def remove_output(out: Path) -> None:
    """An output and, for kgpub, its generations and build lock beside it (the next build is a
    full one)."""
    from kgpub.generation import build_lock_path, generations_dir

    if out.is_symlink():
        out.unlink()
    shutil.rmtree(out, ignore_errors=True)
    shutil.rmtree(generations_dir(out), ignore_errors=True)
    build_lock_path(out).unlink(missing_ok=True)


def run_tool(tool: str, cmd: list[str], timeout: float, cwd: Path | None = None) -> dict:
    m = run_measured(cmd, timeout, cwd=cwd)
    if m.timed_out:
        return {"tool": tool, "stopped": True, "wall": m.wall, "peak": m.peak}
    if m.returncode != 0:
        raise RuntimeError(f"{tool} exited {m.returncode}: {m.tail()}")
    return {"tool": tool, "wall": m.wall, "peak": m.peak, "maxrss": m.maxrss,
            "peak_pss": m.peak_pss}


@dataclass
class Tools:
    project: Path
    site: Path  # the Hugo site
    hugo: str
    kgpub: list[str]

    def build(self, tool: str, out: Path, timeout: float) -> dict:
        if tool == "kgpub":
            cmd = [*self.kgpub, "build", "--project", str(self.project), "--out", str(out)]
            return run_tool(tool, cmd, timeout)
        return run_tool(tool, [self.hugo, "--destination", str(out)], timeout, cwd=self.site)


def order(i: int) -> tuple[str, str]:
    """Alternate which tool goes first, so that neither always runs on a warmer machine."""
    return ("kgpub", "hugo") if i % 2 else ("hugo", "kgpub")


# ---- the comparison --------------------------------------------------------------------------------

def compare(project: Path, work: Path, *, runs: int = 3, edits: int = 3,
            budget: float = 1e9, timeout: float = 1800, kgpub: list[str] | None = None,
            log=print) -> dict:
    """Full builds and rebuilds of both tools, alternating, then Hugo's live preview; stops
    adding runs when another would exceed `budget` seconds. `work` receives the Hugo site and
    the outputs (removed at the end)."""
    command = hugo_command()
    if command is None:
        raise RuntimeError(MISSING)
    started = time.monotonic()
    work.mkdir(parents=True, exist_ok=True)
    site = work / "hugo-site"
    converted = hugo_site.build(project, site)
    tools = Tools(project, site, command, kgpub or kgpub_command())
    data: dict = {"measured": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
                  "hugo_version": hugo_version(command), "conversion": converted,
                  "full": [], "rebuild": [], "notes": []}
    last: dict[str, Path] = {}  # each tool's newest output
    try:
        data["full"] = full_builds(tools, work, last, runs, started, budget, timeout,
                                   data["notes"], log)
        data["outputs"] = {tool: inventory(out) for tool, out in last.items()}
        edit = Edit.pick(project, site)
        data["edited"] = {"slug": edit.slug, "file": str(edit.ttl.relative_to(project))}
        try:
            data["rebuild"] = rebuilds(tools, edit, last, edits, started, budget, timeout,
                                       data["notes"], log)
            if _time_for_preview(data, edits, started, budget):
                data["server"] = server_rebuilds(tools, edit, work / "hugo-server", edits,
                                                 timeout, log)
        finally:
            edit.restore()
    finally:
        for out in [*last.values(), work / "hugo-server"]:
            remove_output(out)
        shutil.rmtree(site, ignore_errors=True)
    return summarize(data)


def full_builds(tools: Tools, work: Path, last: dict[str, Path], runs: int, started: float,
                budget: float, timeout: float, notes: list[str], log) -> list[dict]:
    done: list[dict] = []
    for i in range(1, runs + 1):
        if not _time_for_more(done, started, budget, notes, "full builds"):
            break
        for tool in order(i):
            out = work / f"{tool}-{i}"
            remove_output(out)
            r = tools.build(tool, out, timeout)
            r["run"] = i
            done.append(r)
            log(f"  {tool} full build {i}: {r['wall']:.2f} s, peak {r['peak'] / 2**20:.0f} MiB")
            if r.get("stopped"):
                raise RuntimeError(f"{tool}'s full build was stopped at {timeout:.0f} s")
            if tool in last:
                remove_output(last[tool])  # only the newest build of each tool is kept (disk)
            last[tool] = out
    return done


def rebuilds(tools: Tools, edit: Edit, last: dict[str, Path], edits: int, started: float,
             budget: float, timeout: float, notes: list[str], log) -> list[dict]:
    done: list[dict] = []
    for i in range(1, edits + 1):
        if not _time_for_more(done, started, budget, notes, "rebuilds"):
            break
        new = f"{edit.title} (edited {i})"
        for tool in order(i):
            (edit.apply_kgpub if tool == "kgpub" else edit.apply_hugo)(new)
            r = tools.build(tool, last[tool], timeout)
            r.update(edit=i, shown=edit.shown(last[tool], new))
            done.append(r)
            log(f"  {tool} rebuild {i}: {r['wall']:.2f} s, title shown in {r['shown']}")
            if r.get("stopped"):
                raise RuntimeError(f"{tool}'s rebuild was stopped at {timeout:.0f} s")
    return done


# ---- Hugo's own incremental mode ----------------------------------------------------------------

class Watched:
    """`hugo server --renderToDisk` watching the site, as an editor using Hugo's live preview
    runs it; its output lines are read by a thread, so waiting for one can time out."""

    def __init__(self, hugo: str, site: Path, out: Path):
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]
        self.proc = subprocess.Popen(
            [hugo, "server", "--bind", "127.0.0.1", "--port", str(port), "--renderToDisk",
             "--destination", str(out), "--disableLiveReload", "--watch"],
            cwd=site, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT, text=True, start_new_session=True)
        self.lines: queue.Queue[str | None] = queue.Queue()
        self.seen: list[str] = []
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.put(line)
        self.lines.put(None)

    def wait_for(self, pattern: str, seconds: float) -> re.Match | None:
        end = time.monotonic() + seconds
        while (left := end - time.monotonic()) > 0:
            try:
                line = self.lines.get(timeout=left)
            except queue.Empty:
                return None
            if line is None:
                return None
            self.seen.append(line)
            if found := re.search(pattern, line):
                return found
        return None

    def peak(self) -> int:
        """The server's peak resident memory so far (VmHWM), in bytes."""
        status = Path(f"/proc/{self.proc.pid}/status").read_text()
        found = re.search(r"VmHWM:\s+(\d+) kB", status)
        return int(found.group(1)) * 1024 if found else 0

    def stop(self) -> None:
        kill_session(self.proc.pid, signal.SIGTERM)
        try:
            self.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            kill_session(self.proc.pid)
            self.proc.wait()


def server_rebuilds(tools: Tools, edit: Edit, out: Path, edits: int, timeout: float,
                    log) -> dict:
    """Time from saving the edited pages to the new title on disk in every language, through
    as many rebuilds as Hugo makes of it."""
    server = Watched(tools.hugo, tools.site, out)
    try:
        t0 = time.perf_counter()
        if server.wait_for(r"Web Server is available", timeout) is None:
            raise RuntimeError("hugo server did not start: " + "".join(server.seen[-5:])[-300:])
        data: dict = {"first_build": time.perf_counter() - t0, "runs": []}
        for i in range(1, edits + 1):
            new = f"{edit.title} (server edit {i})"
            t = time.perf_counter()
            edit.apply_hugo(new)
            shown: list[str] = []
            while len(shown) < len(LANG_PREFIXES):
                left = timeout - (time.perf_counter() - t)
                if server.wait_for(r"Total in \d+ ms", left) is None:
                    raise RuntimeError(f"hugo server showed the edit in {shown} only")
                shown = edit.shown(out, new)
            wall = time.perf_counter() - t
            data["runs"].append({"wall": wall, "shown": shown})
            log(f"  hugo server rebuild {i}: {wall:.2f} s")
            time.sleep(1)  # a rebuild of late events would be seen before the next edit
        data["peak"] = server.peak()
        return data
    finally:
        server.stop()


def _time_for_preview(data: dict, edits: int, started: float, budget: float) -> bool:
    """`hugo server`'s first build and its rebuilds, estimated from Hugo's runs, fit."""
    full = median([r["wall"] for r in data["full"] if r["tool"] == "hugo"]) or 0
    rebuild = median([r["wall"] for r in data["rebuild"] if r["tool"] == "hugo"]) or 0
    if time.monotonic() - started + full + edits * rebuild <= budget:
        return True
    data["notes"].append(f"`hugo server` not measured: its first build and {edits} rebuild(s) "
                         "would exceed the time budget")
    return False


def _time_for_more(done: list[dict], started: float, budget: float, notes: list[str],
                   what: str) -> bool:
    """Another round (one run of each tool) fits in what is left of the budget."""
    if not done:
        return True
    last_round = sum(r["wall"] for r in done[-2:])
    if time.monotonic() - started + last_round <= budget:
        return True
    rounds = len(done) // 2
    notes.append(f"{what}: {rounds} round(s); another (~{last_round:.0f} s) would exceed the "
                 f"time budget ({budget:.0f} s)")
    return False


def summarize(data: dict) -> dict:
    """Medians per tool and kind, ratios kgpub / Hugo."""
    for kind in ("full", "rebuild"):
        for tool in ("kgpub", "hugo"):
            runs = [r for r in data[kind] if r["tool"] == tool and not r.get("stopped")]
            data[f"{kind}_{tool}_wall"] = median([r["wall"] for r in runs])
            data[f"{kind}_{tool}_peak"] = median([r["peak"] for r in runs])
        data[f"{kind}_ratio_wall"] = ratio(data[f"{kind}_kgpub_wall"], data[f"{kind}_hugo_wall"])
        data[f"{kind}_ratio_peak"] = ratio(data[f"{kind}_kgpub_peak"], data[f"{kind}_hugo_peak"])
    if "server" in data:
        server = data["server"]
        server["wall"] = median([r["wall"] for r in server["runs"]])
        data["server_ratio_wall"] = ratio(data["rebuild_kgpub_wall"], server["wall"])
        data["server_ratio_peak"] = ratio(data["rebuild_kgpub_peak"], server["peak"])
    data["all_shown"] = all(len(r.get("shown", [])) == len(LANG_PREFIXES)
                            for r in data["rebuild"])
    return data


# ---- the report ----------------------------------------------------------------------------------

def _s(v: float | None) -> str:
    return "–" if v is None else f"{v:.2f} s" if v < 10 else f"{v:.1f} s"


def _m(v: float | None) -> str:
    return "–" if v is None else f"{v / 2**30:.2f} GiB" if v >= 2**30 else f"{v / 2**20:.0f} MiB"


def _x(v: float | None) -> str:
    return "–" if v is None else f"{v:.2f}x"


def _runs(data: dict, kind: str, tool: str) -> str:
    return ", ".join(_s(r["wall"]) for r in data[kind] if r["tool"] == tool) or "–"


def report_lines(data: dict) -> list[str]:
    c = data["conversion"]
    lines = [
        f"Measured {data['measured']}: {data['hugo_version']} on an equivalent site converted "
        "from the same project "
        f"(bench/hugo_site.py, {c['seconds']:.1f} s, not counted): {c['entities']:,} entities, "
        f"{c['files']:,} content and configuration files. Tools alternate (K H, H K, ...); "
        "ratios are kgpub / Hugo; target: at most half of Hugo's time (≤ 0.5x).",
        "",
        "| | kgpub | Hugo | ratio time | kgpub peak | Hugo peak | ratio memory | "
        "runs kgpub | runs Hugo | target | |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | --- | --- | --- | --- |",
    ]
    for kind, label in (("full", "full build"), ("rebuild", "rebuild after one edited title")):
        r = data[f"{kind}_ratio_wall"]
        verdict = "–" if r is None else "**met**" if r <= 0.5 else "**missed**"
        lines.append(
            f"| {label} | {_s(data[f'{kind}_kgpub_wall'])} | {_s(data[f'{kind}_hugo_wall'])} | "
            f"{_x(r)} | {_m(data[f'{kind}_kgpub_peak'])} | {_m(data[f'{kind}_hugo_peak'])} | "
            f"{_x(data[f'{kind}_ratio_peak'])} | {_runs(data, kind, 'kgpub')} | "
            f"{_runs(data, kind, 'hugo')} | ≤ 0.5x | {verdict} |")
    if "server" in data:
        server, r = data["server"], data["server_ratio_wall"]
        verdict = "–" if r is None else "**met**" if r <= 0.5 else "**missed**"
        lines.append(
            f"| rebuild, Hugo watching (`hugo server`) | {_s(data['rebuild_kgpub_wall'])} | "
            f"{_s(server['wall'])} | {_x(r)} | {_m(data['rebuild_kgpub_peak'])} | "
            f"{_m(server['peak'])} | {_x(data['server_ratio_peak'])} | "
            f"{_runs(data, 'rebuild', 'kgpub')} | "
            f"{', '.join(_s(x['wall']) for x in server['runs'])} | ≤ 0.5x | {verdict} |")
    lines.append("")
    outs = data.get("outputs", {})
    if outs:
        lines.append("Outputs: " + "; ".join(
            f"{tool} {o['files']:,} files ({o['html']:,} HTML, {o['bytes'] / 1e6:,.0f} MB)"
            for tool, o in outs.items()) + ".")
    if "edited" in data:
        lines.append(f"Edited: the English title of `resource/{data['edited']['slug']}` "
                     f"(`{data['edited']['file']}` for kgpub, its three Markdown pages for Hugo); "
                     + ("after every rebuild both outputs show the new title in en, fr and es."
                        if data["all_shown"] else
                        "**an output did not show the new title in every language**."))
    if "server" in data:
        lines.append(f"`hugo server --renderToDisk --watch` (Hugo's live preview; its first build "
                     f"{_s(data['server']['first_build'])}): from saving the edited pages to the "
                     "new title on disk in the three languages; its memory is the server's peak "
                     "(VmHWM) over its first build and the rebuilds. The rebuilds with `hugo` run "
                     "it again into the last build, as a publishing pipeline would.")
    for note in data.get("notes", []):
        lines.append(f"Note: {note}.")
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--project", type=Path, required=True, help="a bench/generate.py project")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--edits", type=int, default=3)
    parser.add_argument("--workdir", type=Path, default=None)
    args = parser.parse_args(argv)
    if hugo_command() is None:
        print(f"skipped: {MISSING}", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory(prefix="kgpub-hugo-", dir=args.workdir) as tmp:
        data = compare(args.project.resolve(), Path(tmp), runs=args.runs, edits=args.edits)
    print("\n".join(report_lines(data)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
