"""Output: which directories a build may write, and one line for one it cannot write.

The output is never the project or its sources, a directory inside a published site, a link
kgpub did not make, or a non-empty directory that is not a kgpub build. A write that fails
(full disk, read-only, no permission...) stops the build with the path, the reason and the fix.
"""

from __future__ import annotations

import errno
import os
from pathlib import Path

from .. import generation
from ..config import Project
from ..errors import KgpubError, OutputError
from ..layout import BUILD_FACTS, HOME, STYLESHEET


def check_output(project: Project, out: Path) -> None:
    """Never replace the project, its sources, a directory that is not an earlier build, or a
    link kgpub did not make. The output's own path is compared, not where a link leads."""
    target = _absolute(out)
    root = project.root.resolve()
    sources = [d.resolve() for d in (project.ontology_dir, project.data_dir, project.shapes_dir)]
    if target == root or target in root.parents or any(
            target == d or d in target.parents for d in sources):
        raise KgpubError(f"--out {out} would replace the project or its sources; "
                         "choose a directory of its own, e.g. site/")
    if any(generation.is_generation_dir(d) for d in target.parents):
        raise KgpubError(f"--out {out} is inside a published site; choose a directory of its "
                         "own, e.g. site/")
    if generation.is_generation_link(out):
        return
    if out.is_symlink():
        raise KgpubError(f"{out} is a symbolic link (to {os.readlink(out)}) that kgpub did not "
                         "make; refusing to replace it. Remove the link or choose another --out.")
    if out.exists() and not out.is_dir():
        raise KgpubError(f"{out} exists and is not a directory; choose another --out")
    if out.is_dir() and any(out.iterdir()) and not _is_built_site(out):
        raise KgpubError(f"{out} is not empty and is not a site built by kgpub; refusing to "
                         "replace it. Choose another --out or empty it first.")


def _absolute(path: Path) -> Path:
    """The absolute path, its directories resolved but not its last part (a link stays one)."""
    path = Path(os.path.abspath(path))
    return path.parent.resolve() / path.name if path.name else path


def _is_built_site(path: Path) -> bool:
    return (path / BUILD_FACTS).is_file() or (
        (path / HOME).is_file() and (path / STYLESHEET).is_file()
    )


_FIXES = {
    errno.ENOSPC: "Free space and build again.",
    errno.EDQUOT: "Free space (the disk quota is used up) and build again.",
    errno.EROFS: "The file system is read-only: choose another --out, or make it writable.",
    errno.EACCES: "kgpub may not write there: give it write permission or choose another --out.",
    errno.EPERM: "kgpub may not write there: give it write permission or choose another --out.",
    errno.ENAMETOOLONG: "The path is too long for the file system: shorten the slug of the IRI "
                        "it is made from, or choose a shorter --out.",
    errno.EXDEV: "The output is on another file system than its directory (a mount point?): "
                 "choose an --out inside the mounted file system.",
    errno.EMFILE: "Too many open files: raise the limit (ulimit -n) and build again.",
}


def output_error(exc: OSError, out: Path) -> OutputError:
    """One line for an output that cannot be written: which path, why, and the fix."""
    where = exc.filename if exc.filename is not None else out
    where = os.fsdecode(where)
    cwd = os.getcwd() + os.sep
    if where.startswith(cwd):
        where = where[len(cwd):]
    reason = exc.strerror or str(exc)
    fix = _FIXES.get(exc.errno or 0, "Fix the cause and build again.")
    return OutputError(f"cannot write {where}: {reason}; the published site is unchanged. {fix}")
