"""Generations: how a build is published and how a running server finds the newest one.

Every build writes a new, complete directory (a *generation*) and then publishes it by
replacing the output path, a symbolic link, in one atomic rename:

    site -> .site.gen/7          (relative link, in the output's parent directory)
    .site.gen/7/                 the published build (index.html, .kgpub/, ...)
    .site.gen/7.lock             held shared by every server process serving generation 7
    .site.gen/6/ ...             older generations, deleted once no server holds them
    .site.lock                   held exclusively by the one build writing `site`

A generation is never modified once published, so a server that resolved `site` to
`.site.gen/7` serves one consistent build for as long as it holds 7's lock, however many builds
publish meanwhile; it switches by resolving the link again. Builds delete an old generation
only when they can take its lock exclusively (no server holds it).
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import fcntl
import json
import os
import shutil
import sys
from collections.abc import Set
from pathlib import Path

from .errors import BuildBusy

GEN_SUFFIX = ".gen"


def generations_dir(out: Path) -> Path:
    """Where the generations of the output `out` live: `.{name}.gen` beside it."""
    out = Path(out)
    return out.parent / f".{out.name}{GEN_SUFFIX}"


def build_lock_path(out: Path) -> Path:
    out = Path(out)
    return out.parent / f".{out.name}.lock"


def lock_path(gen: Path) -> Path:
    """The lock file a server holds (shared) while it serves generation `gen`."""
    gen = Path(gen)
    return gen.parent / f"{gen.name}.lock"


def is_generation_dir(path: Path) -> bool:
    """True when `path` is a generations directory (`.{name}.gen` beside `name`)."""
    path = Path(path)
    return (path.name.startswith(".") and path.name.endswith(GEN_SUFFIX)
            and len(path.name) > len(GEN_SUFFIX) + 1 and path.is_dir())


def is_generation_link(out: Path) -> bool:
    """True when `out` is a link to one of its own generations (made by kgpub)."""
    out = Path(out)
    if not out.is_symlink():
        return False
    target = Path(os.readlink(out))
    return (not target.is_absolute() and len(target.parts) == 2
            and target.parts[0] == generations_dir(out).name and target.parts[1].isdigit())


def current(out: Path) -> Path | None:
    """The directory of the published build: the generation `out` links to, or `out` itself
    when it is a plain directory (a site built before generations, or copied); None when
    there is nothing there."""
    out = Path(out)
    if is_generation_link(out):
        gen = generations_dir(out) / Path(os.readlink(out)).name
        return gen.resolve() if gen.is_dir() else None
    if out.is_dir() and not out.is_symlink():
        return out.resolve()
    return None


def link_target(out: Path) -> str | None:
    """What `out` links to (cheap: one readlink), to notice a newly published build."""
    with contextlib.suppress(OSError):
        return os.readlink(out)
    return None


class Hold:
    """A server's shared lock on one generation: while held, no build deletes it. A plain
    directory (not a generation) needs no lock."""

    def __init__(self, gen: Path):
        self.gen = Path(gen)
        self._fd: int | None = None
        lock = lock_path(self.gen)
        if self.gen.parent.name.endswith(GEN_SUFFIX) and lock.parent.is_dir():
            self._fd = os.open(lock, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
            fcntl.flock(self._fd, fcntl.LOCK_SH)

    def release(self) -> None:
        if self._fd is not None:
            with contextlib.suppress(OSError):
                os.close(self._fd)  # closing releases the lock
            self._fd = None

    def __del__(self) -> None:
        self.release()


def try_lock_exclusive(gen: Path) -> int | None:
    """For a build about to delete `gen`: an fd holding its lock exclusively, or None when a
    server holds it (it must stay)."""
    fd = os.open(lock_path(gen), os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        os.close(fd)
        return None
    return fd


# ---- the build side: new generations, publishing, collecting, the build lock -------------------
#
# A build also leaves beside each generation it publishes the differences from the generation it
# started from (`.site.gen/7.changes`: the base's number, the paths it wrote and those it removed),
# so that the next build can take that base (once no server holds it) and bring it up to date
# by applying them, instead of hard-linking the whole tree again. The record stays outside the
# generation: a generation holds exactly the site.

CHANGES_SUFFIX = ".changes"


def number(name: str) -> int | None:
    """The generation number a name in the generations directory belongs to ("7", "7.lock",
    "7.changes"), or None."""
    head = name.split(".", 1)[0]
    return int(head) if head.isdigit() else None


def current_number(out: Path) -> int | None:
    """The number of the generation `out` links to, or None (not a generation link)."""
    return int(Path(os.readlink(out)).name) if is_generation_link(out) else None


def changes_path(gen: Path) -> Path:
    gen = Path(gen)
    return gen.parent / f"{gen.name}{CHANGES_SUFFIX}"


def write_changes(gen: Path, base: int, written: list[str], removed: list[str]) -> None:
    """Record what the build of `gen` changed on top of generation `base` (before publishing)."""
    path = changes_path(gen)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps({"base": base, "written": sorted(written),
                               "removed": sorted(removed)}, separators=(",", ":")))
    os.replace(tmp, path)


def read_changes(gen: Path) -> tuple[int, list[str], list[str]] | None:
    """(base, written, removed) as recorded for `gen`, or None."""
    try:
        doc = json.loads(changes_path(gen).read_text())
        base, written, removed = doc["base"], doc["written"], doc["removed"]
    except (OSError, ValueError, KeyError, TypeError):
        return None
    if not isinstance(base, int) or not all(isinstance(p, str) for p in written + removed):
        return None
    return base, written, removed


def next_generation(out: Path) -> Path:
    """The path of the next generation: a number above every one used (not created)."""
    gens = generations_dir(out)
    gens.mkdir(exist_ok=True)
    used = [n for n in map(number, os.listdir(gens)) if n is not None]
    return gens / str(max(used, default=0) + 1)


def new_generation(out: Path) -> Path:
    """Create the (empty) directory of the next generation."""
    gen = next_generation(out)
    gen.mkdir()
    return gen


def temp_path(out: Path) -> Path:
    """Where a build makes the link it publishes (and, when it replaces a plain directory, where
    that directory goes before it is deleted)."""
    out = Path(out)
    return out.parent / f".{out.name}.tmp"


def old_path(out: Path) -> Path:
    out = Path(out)
    return out.parent / f".{out.name}.old"


def publish(out: Path, gen: Path) -> None:
    """Make `out` a link to `gen` in one atomic step. A plain directory (a site built before
    generations) is exchanged with the link atomically (renameat2 RENAME_EXCHANGE on Linux;
    elsewhere two renames leave a brief moment without a site), then deleted."""
    out, gen = Path(out), Path(gen)
    tmp = temp_path(out)
    remove(tmp)
    os.symlink(f"{generations_dir(out).name}/{gen.name}", tmp)
    if out.is_dir() and not out.is_symlink():
        if not exchange(tmp, out):
            os.rename(out, old_path(out))
            os.replace(tmp, out)
            tmp = old_path(out)
        remove(tmp)  # the previous site (its files are hard-linked into the generation)
    else:
        os.replace(tmp, out)


def remove(path: Path) -> None:
    """Delete a file, link or directory tree if it is there (never following a link)."""
    path = Path(path)
    if path.is_symlink() or path.is_file():
        path.unlink(missing_ok=True)
    elif path.is_dir():
        shutil.rmtree(path, ignore_errors=True)


def discard(gen: Path) -> None:
    """Delete a generation that was never published (a failed or killed build's)."""
    remove(gen)
    changes_path(gen).unlink(missing_ok=True)


def collect(out: Path, keep: Set[int] = frozenset()) -> list[str]:
    """Delete the generations of `out` other than the published one and those in `keep`, each
    only when no server holds it (its lock can be taken exclusively), with its lock and its
    record; also a build's leftovers (generations never published, temporary links). Returns
    the generations kept because a server holds them."""
    out = Path(out)
    gens = generations_dir(out)
    remove(temp_path(out))
    if old_path(out).is_dir() and not os.path.lexists(out):
        os.rename(old_path(out), out)  # killed between the two renames of publish()
    remove(old_path(out))
    if not gens.is_dir():
        return []
    published = current_number(out)
    keep = set(keep) | ({published} if published is not None else set())
    held = []
    names = sorted(os.listdir(gens), key=lambda n: (number(n) or 0, n))
    for name in names:
        n = number(name)
        path = gens / name
        if n is None or n in keep:
            continue
        if name == str(n) and not path.is_symlink():
            fd = try_lock_exclusive(path)
            if fd is None:
                held.append(name)
                continue
            try:
                remove(path)
                changes_path(path).unlink(missing_ok=True)
                lock_path(path).unlink(missing_ok=True)  # still held: nobody takes it meanwhile
            finally:
                os.close(fd)
        elif not (gens / str(n)).exists():  # a lock, record or temporary file left alone
            if name.endswith(".lock"):
                fd = try_lock_exclusive(gens / str(n))
                if fd is None:
                    continue
                os.unlink(path)
                os.close(fd)
            else:
                remove(path)
    return held


class BuildLock:
    """The one build writing `out`: an exclusive lock on `.{name}.lock`, which holds its pid."""

    def __init__(self, out: Path):
        self.out = Path(out)
        self.path = build_lock_path(self.out)
        self._fd: int | None = None

    def acquire(self) -> BuildLock:
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC | os.O_NOFOLLOW, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            pid = os.pread(fd, 32, 0).decode("ascii", "replace").strip() or "?"
            os.close(fd)
            raise BuildBusy(f"another kgpub build (pid {pid}) is writing {self.out}; wait for "
                            "it to finish") from None
        except BaseException:
            os.close(fd)
            raise
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        self._fd = fd
        return self

    def release(self) -> None:
        if self._fd is not None:
            with contextlib.suppress(OSError):
                os.ftruncate(self._fd, 0)
            os.close(self._fd)  # closing releases the lock
            self._fd = None

    def __enter__(self) -> BuildLock:
        return self.acquire() if self._fd is None else self

    def __exit__(self, *exc: object) -> None:
        self.release()


_RENAME_EXCHANGE = 2


def exchange(a: Path, b: Path) -> bool:
    """Swap two paths atomically (renameat2 RENAME_EXCHANGE); False where it is not available."""
    if not sys.platform.startswith("linux"):
        return False
    libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
    renameat2 = getattr(libc, "renameat2", None)
    if renameat2 is None:
        return False
    at_fdcwd = -100
    rc = renameat2(at_fdcwd, os.fsencode(a), at_fdcwd, os.fsencode(b), _RENAME_EXCHANGE)
    return bool(rc == 0)
