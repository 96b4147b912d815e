"""Transaction: the output of a build, staged as a new generation and then published at once.

The new generation (kgpub.generation) starts as the published site's files: the generation the
published one was made from, brought up to date with the changes its build journalled (the
`.changes` file beside it), or hard links to every published file. Changed files are replaced,
never written in place (they are shared with the published site); files no longer produced are
deleted; then the output link is swapped to it in one atomic rename. A published generation is
never modified, so a failed or killed build leaves the site as it was.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import stat
import subprocess
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from .. import generation
from ..errors import KgpubError
from ..layout import OLD_JOURNAL


@dataclass
class Staging:
    """A new generation, holding the published site's files."""

    gen: Path  # its directory
    files: set[str]  # the files it holds (site-relative; empty when stage() was not asked)
    base: int | None  # the generation it equals (None: a site built before generations)
    skipped: list[str]  # published paths that are neither files nor directories (never copied)


class Survey:
    """The generations a build may take up, searched in the background for anything that is
    neither a file nor a directory (which a generation taken up must not hold: see _reuse).

    An update takes up the generation the published one was made from, and, for a second
    generation (its search index), the published one. Walking a generation in Python is the
    only thing staging does that grows with the site (1.2M files at 100,000 entries: 2-3 s,
    and twice), yet an update needs no list of the files, only to know that none is odd. So
    find(1) searches both in processes of their own, started when the build starts: they run
    on another core while this one parses and validates. Where find is missing or fails, the
    generation is walked as before."""

    def __init__(self, out: Path):
        self._found: dict[str, subprocess.Popen[bytes]] = {}
        find = shutil.which("find")
        number = generation.current_number(out)
        published = generation.current(out)
        if find is None or number is None or published is None:
            return
        # Named as _reuse names them: the base of the published one's journal, and the
        # published one (the base of the journal of an update's first generation).
        gens = [generation.generations_dir(out) / str(number)]
        recorded = generation.read_changes(published)
        if recorded is not None:
            gens.insert(0, generation.generations_dir(out) / str(recorded[0]))
        for gen in gens:
            if gen.is_dir() and not gen.is_symlink():
                with contextlib.suppress(OSError):
                    # -P (the default): links are listed, never followed.
                    self._found[os.fspath(gen)] = subprocess.Popen(
                        [find, os.fspath(gen), "!", "-type", "f", "!", "-type", "d",
                         "-print0"], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                        stdin=subprocess.DEVNULL)

    def odd(self, gen: Path) -> list[str] | None:
        """What is neither a file nor a directory under gen (relative paths), or None when gen
        was not searched or find failed."""
        proc = self._found.pop(os.fspath(gen), None)
        if proc is None:
            return None
        out, _ = proc.communicate()
        if proc.returncode != 0:
            return None
        prefix = os.fsencode(gen) + b"/"
        return [os.fsdecode(p[len(prefix):]) for p in out.split(b"\0")
                if p.startswith(prefix)]

    def close(self) -> None:
        for proc in self._found.values():
            with contextlib.suppress(OSError):
                proc.kill()
            proc.communicate()
        self._found.clear()


def stage(out: Path, published: Path | None, survey: Survey | None = None,
          files: bool = True) -> Staging:
    """The next generation of `out`: the generation the published one was made from, brought
    up to date with the differences its build recorded, when no server holds it any more;
    else hard links to every file of the published site. files=False: the caller (an update)
    needs no list of its files (Staging.files is then empty when a generation is taken up),
    and the survey, when it searched that generation, spares walking it."""
    number = generation.current_number(out)
    if published is not None and number is not None:
        reused = _reuse(out, published, number, None if files else survey)
        if reused:
            return reused
    gen = generation.new_generation(out)
    if published is None:
        return Staging(gen, set(), None, [])
    try:
        linked, skipped = _link_tree(published, gen)
    except BaseException:
        generation.discard(gen)
        raise
    return Staging(gen, linked, number, skipped)


def publish(out: Path, staged: Staging, written: list[str], removed: list[str],
            files: int) -> int | None:
    """Journal what this build changed (when it is little: the next build applies it to the
    generation `staged` equals instead of linking the whole tree again) and publish the
    generation. Returns the generation the journal applies to, which is kept."""
    base = staged.base
    if base is not None and len(written) + len(removed) <= max(1000, files // 4):
        generation.write_changes(staged.gen, base, written, removed)
    else:
        base = None  # the next build links the whole tree rather than apply so much
    generation.publish(out, staged.gen)
    return base


def old_staging_left(out: Path) -> bool:
    """Staging directories of kgpub before generations (`.site.building-<pid>`) are deleted;
    True when one held a journal, i.e. an update left half done (a full build repairs it)."""
    journal = False
    for stale in out.parent.glob(f".{out.name}.building-*"):
        journal |= (stale / OLD_JOURNAL).is_file()
        generation.remove(stale)
    return journal


class Writer:
    """Writes a generation's files. Knows which directories it made (per process: forked
    renderers each have their own copy)."""

    def __init__(self, root: Path):
        self.root = root
        self._made: set[str] = set()

    def write(self, rel: str, data: bytes) -> bool:
        """Write a file unless it already holds these bytes; True if it was (re)written. A
        changed file is replaced by a new one, never written in place: it may be a hard link
        shared with the published site. Links are never followed (a staged generation has
        none: see _link_tree)."""
        if ".." in rel.split("/") or rel.startswith("/"):
            raise KgpubError(f"refusing to write outside the site: {rel}")
        target = os.path.join(self.root, rel)
        try:
            st = os.lstat(target)
        except FileNotFoundError:
            folder = os.path.dirname(target)
            if folder not in self._made:
                os.makedirs(folder, exist_ok=True)
                self._made.add(folder)
        else:
            if stat.S_ISREG(st.st_mode) and st.st_size == len(data):
                with open(os.open(target, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC), "rb") as f:
                    if f.read() == data:
                        return False
            os.unlink(target)
        fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC,
                     0o666)
        with open(fd, "wb") as f:
            f.write(data)
        return True

    def remove(self, paths: Iterable[str]) -> None:
        """Delete these files, then the directories that leaves empty."""
        remove_files(self.root, paths)
        self._made.clear()

    def prune(self) -> None:
        """Delete the empty directories (bottom-up, so parents see the result)."""
        for dirpath, _dirs, _names in os.walk(self.root, topdown=False):
            if Path(dirpath) != self.root and not os.listdir(dirpath):
                os.rmdir(dirpath)
        self._made.clear()


def remove_files(root: Path, paths: Iterable[str]) -> None:
    """Delete these files, then the directories that leaves empty."""
    folders = set()
    for rel in paths:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(os.path.join(root, rel))
        folders.add(os.path.dirname(rel))
    for folder in sorted(folders, key=lambda f: -f.count("/")):
        while folder:
            try:
                os.rmdir(os.path.join(root, folder))
            except OSError:  # not empty (or gone)
                break
            folder = os.path.dirname(folder)


# ---- staging ----------------------------------------------------------------------------------


def _reuse(out: Path, published: Path, number: int,
           survey: Survey | None = None) -> Staging | None:
    """Take the generation the published one was made from (unless a server holds it, or it
    holds anything but files and directories) and apply the published build's changes.
    survey: what it found of that generation replaces walking it (no list of files then)."""
    recorded = generation.read_changes(published)
    if recorded is None:
        return None
    base, written, removed = recorded
    old = generation.generations_dir(out) / str(base)
    if base == number or old.is_symlink() or not old.is_dir():
        return None
    fd = generation.try_lock_exclusive(old)
    if fd is None:
        return None
    try:
        odd = survey.odd(old) if survey is not None else None
        listed = odd is None
        if listed:
            files, odd = _walk(old)
        else:
            files = set()
        if odd:
            return None  # collected later, like any old generation
        gen = generation.next_generation(out)
        os.rename(old, gen)
        generation.changes_path(old).unlink(missing_ok=True)
        generation.lock_path(old).unlink(missing_ok=True)
    finally:
        os.close(fd)
    try:
        skipped = _apply(gen, published, files, written, removed)
    except BaseException:
        generation.discard(gen)
        raise
    return Staging(gen, files if listed else set(), number, skipped)


def _apply(gen: Path, published: Path, files: set[str], written: list[str],
           removed: list[str]) -> list[str]:
    """Bring gen up to date with a build's journal: what it removed goes, what it wrote is
    linked from the published site. Returns the written paths that are no longer files there
    (edited by hand)."""
    skipped = []
    remove_files(gen, removed)
    files.difference_update(removed)
    made: set[str] = set()
    for rel in written:
        target = os.path.join(gen, rel)
        with contextlib.suppress(FileNotFoundError):
            os.unlink(target)
        files.discard(rel)
        if not _regular_file(published, rel):  # edited by hand: a link, or gone
            skipped.append(rel)
            continue
        folder = os.path.dirname(target)
        if folder not in made:
            os.makedirs(folder, exist_ok=True)
            made.add(folder)
        os.link(os.path.join(published, rel), target, follow_symlinks=False)
        files.add(rel)
    return skipped


def _regular_file(root: Path, rel: str) -> bool:
    """Whether root/rel is a regular file reached through directories only (no link)."""
    path = str(root)
    parts = rel.split("/")
    try:
        for i, part in enumerate(parts):
            if part in ("", ".", ".."):
                return False
            path = os.path.join(path, part)
            mode = os.lstat(path).st_mode
            if not (stat.S_ISREG(mode) if i == len(parts) - 1 else stat.S_ISDIR(mode)):
                return False
    except OSError:
        return False
    return True


def _walk(root: Path) -> tuple[set[str], list[str]]:
    """The files under root (relative paths) and what is neither a file nor a directory
    (symbolic links, ...). Links are never followed."""
    files: set[str] = set()
    odd: list[str] = []
    stack = [(os.fspath(root), "")]
    while stack:
        folder, rel = stack.pop()
        with os.scandir(folder) as entries:
            for entry in entries:
                if entry.is_dir(follow_symlinks=False):
                    stack.append((entry.path, rel + entry.name + "/"))
                elif entry.is_file(follow_symlinks=False):
                    files.add(rel + entry.name)
                else:
                    odd.append(rel + entry.name)
    return files, odd


def _link_tree(src: Path, dest: Path) -> tuple[set[str], list[str]]:
    """Hard-link every file of the published site into the new generation. Symbolic links
    (and anything else that is neither a file nor a directory) are skipped, never followed:
    returns (the files linked, the paths skipped)."""
    found: set[str] = set()
    skipped: list[str] = []
    stack = [(os.fspath(src), os.fspath(dest), "")]
    while stack:
        folder, target, rel = stack.pop()
        with os.scandir(folder) as entries:
            for entry in entries:
                name = rel + entry.name
                if entry.is_dir(follow_symlinks=False):
                    os.mkdir(os.path.join(target, entry.name))
                    stack.append((entry.path, os.path.join(target, entry.name), name + "/"))
                elif entry.is_file(follow_symlinks=False):
                    os.link(entry.path, os.path.join(target, entry.name), follow_symlinks=False)
                    found.add(name)
                else:
                    skipped.append(name)
    return found, sorted(skipped)
