"""Builds cannot corrupt a site (kgpub.generation): every build writes a new generation and
publishes it with one atomic rename of the output link, so

- a second build of the same output at the same time is refused (one line, exit 2), and the
  site is afterwards a full build's;
- a symbolic link planted in the published site is never followed nor copied: nothing outside
  the site is written;
- a full disk, a read-only output or a name too long stop the build with one line (exit 2, no
  traceback), the published site untouched and nothing left that hinders the next build;
- old generations are deleted only when no server holds them, and the one the published
  generation was made from is brought up to date by the next build instead of linking the
  whole tree again;
- a site built before generations (a plain directory) is replaced by the link atomically, and
  a link kgpub did not make is refused.
"""

from __future__ import annotations

import errno
import fcntl
import hashlib
import json
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from kgpub import generation
from kgpub.build import build, transaction
from kgpub.config import load_project
from kgpub.errors import OutputError
from kgtest import (
    KGPUB_BIN,
    bench_generator,
    copy_build,
    copy_project,
    edit_file,
    run_cli,
    subprocess_env,
)

TITLE = '"Social Protection: A Key to a Fair Society"@en'
PAGE = "resource/social-protection-a-key-to-a-fair-society.html"


def hashes(root: Path) -> dict[str, str]:
    """sha256 of every file under root (through the output link, never through another)."""
    found = {}
    for folder, _dirs, names in os.walk(root):
        for name in names:
            path = os.path.join(folder, name)
            if not os.path.islink(path):
                with open(path, "rb") as f:
                    found[os.path.relpath(path, root)] = hashlib.sha256(f.read()).hexdigest()
    return found


def links_in(root: Path) -> list[str]:
    return sorted(os.path.relpath(os.path.join(folder, name), root)
                  for folder, dirs, names in os.walk(root) for name in dirs + names
                  if os.path.islink(os.path.join(folder, name)))


def generations(out: Path) -> list[str]:
    gens = generation.generations_dir(out)
    return sorted((p.name for p in gens.iterdir() if p.name.isdigit()), key=int)


def published_number(out: Path) -> str:
    return Path(os.readlink(out)).name


def edit_title(project: Path, suffix: str) -> None:
    path = project / "data/entries/publications.ttl"
    text = path.read_text()
    start = text.index('"Social Protection: A Key to a Fair Society')
    end = text.index('"@en', start)
    path.write_text(text[:start] + f'"Social Protection: A Key to a Fair Society{suffix}'
                    + text[end:])


def full_build(project: Path, where: Path) -> dict[str, str]:
    shutil.rmtree(where, ignore_errors=True)
    build(load_project(project), where / "site", full=True)
    return hashes(where / "site")


def cli(*args) -> subprocess.CompletedProcess:
    """The real command, in its own process."""
    return subprocess.run([str(KGPUB_BIN), *map(str, args)], capture_output=True, text=True,
                          env=subprocess_env(), timeout=600)


def assert_one_clear_line(stderr: str, *words: str) -> str:
    lines = stderr.strip().splitlines()
    assert len(lines) == 1, stderr
    assert lines[0].startswith("error: ") and "Traceback" not in stderr, stderr
    for word in words:
        assert word in lines[0], lines[0]
    return lines[0]


@pytest.fixture
def project(tmp_path) -> Path:
    return copy_project(tmp_path / "project")


@pytest.fixture
def site(project, tmp_path, built_site) -> Path:
    """A published site (one generation): the project's build, copied from the run's build of
    the same (bundled) project rather than built again for every test."""
    out = copy_build(built_site, tmp_path / "public" / "site")
    assert generation.is_generation_link(out)
    return out


# ---- one build at a time ------------------------------------------------------------------------


def test_a_second_build_is_refused_while_one_holds_the_lock(project, site):
    lock = generation.build_lock_path(site)
    before, served = hashes(site), os.readlink(site)
    edit_title(project, " (edited)")
    fd = os.open(lock, os.O_RDWR)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        os.write(fd, f"{os.getpid()}\n".encode())
        r = cli("build", "--project", project, "--out", site)
    finally:
        os.close(fd)
    assert r.returncode == 2, r.stderr
    line = assert_one_clear_line(r.stderr)
    assert line == (f"error: another kgpub build (pid {os.getpid()}) is writing {site}; "
                    "wait for it to finish")
    assert os.readlink(site) == served and hashes(site) == before
    # once the lock is free, the build runs (and says which pid it is while it does)
    r = cli("build", "--project", project, "--out", site)
    assert r.returncode == 0, r.stderr
    assert "(edited)" in (site / PAGE).read_text()
    assert lock.read_text() == ""  # released


def test_two_builds_at_once_leave_a_full_builds_site(tmp_path):
    project = tmp_path / "generated"
    # Big enough that the winner holds the lock (taken first thing) for over a second, longer
    # than the two processes' start-ups differ; 400 entries cost ~7 s more for nothing.
    bench_generator().generate(120, project, seed=3)
    out = tmp_path / "public" / "site"
    assert cli("build", "--project", project, "--out", out).returncode == 0
    entries = sorted((project / "data" / "entries").rglob("*.ttl"))[0]
    text = entries.read_text()
    at = text.index('dcterms:title "') + len('dcterms:title "')
    entries.write_text(text[:at] + "Edited: " + text[at:])
    procs = [subprocess.Popen([str(KGPUB_BIN), "build", "--project", str(project), "--out",
                               str(out)], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              text=True, env=subprocess_env()) for _ in range(2)]
    results = [(p.returncode, *p.communicate(timeout=600)) for p in procs]
    results = [(p.returncode, out_, err) for p, (_, out_, err) in zip(procs, results, strict=True)]
    codes = sorted(code for code, _, _ in results)
    assert codes == [0, 2], results
    refused = next(err for code, _, err in results if code == 2)
    winner = next(proc.pid for proc, (code, _, _) in zip(procs, results, strict=True)
                  if code == 0)
    assert_one_clear_line(refused, f"another kgpub build (pid {winner}) is writing {out}")
    assert hashes(out) == full_build(project, tmp_path / "full")
    assert generation.current_number(out) is not None
    assert len(generations(out)) <= 2  # the published one and the one it was made from


# ---- links planted in the site --------------------------------------------------------------------


def test_links_planted_in_the_published_site_are_never_followed(project, site, tmp_path):
    outside = tmp_path / "outside"
    shutil.copytree(site / "topic", outside / "topic")  # what a followed link would overwrite
    (outside / "robots.txt").write_text("not the site's robots.txt\n")
    os.symlink(outside / "empty", outside / "dangling")
    before = hashes(outside)
    # someone replaces a directory and a file of the published site by links
    shutil.rmtree(site / "topic")
    os.symlink(outside / "topic", site / "topic")
    (site / "robots.txt").unlink()
    os.symlink(outside / "robots.txt", site / "robots.txt")
    os.symlink(outside / "dangling", site / "browse" / "new.html")
    # an edit that makes the topic pages and the site-wide files be written again
    topics = project / "data/topics.ttl"
    edit_file(topics, '"Institutional capacity and coordination"@en',
              '"Institutional capacity and coordination (edited)"@en')

    r = run_cli("build", "--project", project, "--out", site)  # incremental
    assert r.exit_code == 0, r.output
    warnings = [line for line in r.stderr.splitlines() if line.startswith("warning: ")]
    assert warnings == ["warning: skipped 3 symbolic link(s) or special file(s) found in the "
                        "published site (browse/new.html, robots.txt, topic): a build never "
                        "follows or copies them"]
    assert hashes(outside) == before
    assert links_in(site) == [] and not (site / "topic").is_symlink()
    assert "(edited)" in (site / "topic/institutional-capacity-and-coordination.html").read_text()

    # a full build (from the generation that had the links: it is not brought up to date, as
    # it holds links) restores every file
    r = run_cli("build", "--project", project, "--out", site, "--full")
    assert r.exit_code == 0, r.output
    assert hashes(outside) == before
    for number in generations(site):
        assert links_in(generation.generations_dir(site) / number) == []
    assert hashes(site) == full_build(project, tmp_path / "full")


# ---- faults ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("full", [False, True], ids=["incremental", "full"])
def test_a_full_disk_leaves_the_published_site(project, site, tmp_path, monkeypatch, full):
    edit_title(project, " (edited)")
    before, served, gens = hashes(site), os.readlink(site), generations(site)
    real_open, created = os.open, []

    def full_disk(path, flags, *args, **kwargs):
        if flags & os.O_CREAT and ".site.gen/" in os.fspath(path):
            created.append(path)
            if len(created) > 5:
                raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), path)
        return real_open(path, flags, *args, **kwargs)

    monkeypatch.setattr(os, "open", full_disk)
    with pytest.raises(OutputError) as caught:
        build(load_project(project), site, full=full, workers=1)
    monkeypatch.setattr(os, "open", real_open)
    message = str(caught.value)
    assert message.startswith(f"cannot write {created[-1]}: No space left on device; "
                              "the published site is unchanged. Free space and build again.")
    assert os.readlink(site) == served and hashes(site) == before
    assert generations(site) == gens  # the unpublished generation is gone
    result = build(load_project(project), site)
    assert result.changed > 0
    assert hashes(site) == full_build(project, tmp_path / "full")


def test_a_failed_publish_leaves_the_published_site(project, site, monkeypatch):
    edit_title(project, " (edited)")
    before, served, gens = hashes(site), os.readlink(site), generations(site)

    def refused(src, dst, *args, **kwargs):
        raise OSError(errno.EACCES, os.strerror(errno.EACCES), dst)

    monkeypatch.setattr(os, "symlink", refused)
    with pytest.raises(OutputError, match="Permission denied; the published site is unchanged"):
        build(load_project(project), site)
    monkeypatch.undo()
    assert os.readlink(site) == served and hashes(site) == before
    assert generations(site) == gens


def test_a_name_too_long_stops_the_build_with_one_line(project, site, monkeypatch):
    """Names are bounded by the gate (a slug over 200 bytes is a violation: tests/test_gate.py)
    and the build writes through short relative paths, so the file system's "name too long"
    is injected here, where it would surface: one line with the fix, the site unchanged."""
    edit_title(project, " (edited)")
    before, served, gens = hashes(site), os.readlink(site), generations(site)
    real_open = os.open

    def too_long(path, flags, *args, **kwargs):
        if flags & os.O_CREAT and os.fspath(path).endswith(".jsonld"):
            raise OSError(errno.ENAMETOOLONG, os.strerror(errno.ENAMETOOLONG), path)
        return real_open(path, flags, *args, **kwargs)

    monkeypatch.setattr(os, "open", too_long)
    with pytest.raises(OutputError) as caught:
        build(load_project(project), site, workers=1)
    monkeypatch.setattr(os, "open", real_open)
    message = str(caught.value)
    assert "File name too long" in message and "the published site is unchanged" in message
    assert "\n" not in message
    assert os.readlink(site) == served and hashes(site) == before
    assert generations(site) == gens


def _namespace_script(body: str) -> str:
    return textwrap.dedent("""
        import hashlib, json, os, subprocess, sys
        KGPUB = sys.argv[1]
        def build(project, out):
            r = subprocess.run([KGPUB, "build", "--project", project, "--out", out],
                               capture_output=True, text=True, timeout=600)
            return {"code": r.returncode, "stderr": r.stderr}
        def hashes(root):
            found = {}
            for folder, dirs, names in os.walk(root):
                for name in names:
                    path = os.path.join(folder, name)
                    with open(path, "rb") as f:
                        found[os.path.relpath(path, root)] = hashlib.sha256(f.read()).hexdigest()
            return found
    """) + textwrap.dedent(body)


def _in_mount_namespace(script: str, *args) -> dict:
    """Run a script as root in a private mount namespace (tmpfs, read-only bind mounts), or
    skip where that is not possible."""
    if os.geteuid() != 0 or not shutil.which("unshare"):
        pytest.skip("needs root and unshare for a private mount namespace")
    probe = subprocess.run(["unshare", "-m", "--propagation", "private", "true"],
                           capture_output=True)
    if probe.returncode != 0:
        pytest.skip(f"unshare -m does not work here: {probe.stderr.decode().strip()}")
    r = subprocess.run(["unshare", "-m", "--propagation", "private", sys.executable, "-c",
                        script, str(KGPUB_BIN), *map(str, args)], capture_output=True,
                       text=True, env=subprocess_env(), timeout=900)
    if r.returncode == 77:
        pytest.skip(r.stderr.strip())
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout)


def test_a_really_full_disk_with_the_command(tmp_path):
    """On a real 16 MB tmpfs, filled up: exit 2, one line, the site as it was; once space is
    freed the next build succeeds."""
    old, new = copy_project(tmp_path / "old"), copy_project(tmp_path / "new")
    edit_title(new, " (edited)")
    disk = tmp_path / "disk"
    disk.mkdir()
    script = _namespace_script("""
        disk, old, new = sys.argv[2:5]
        if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=16m", "tmpfs", disk]).returncode:
            sys.stderr.write("cannot mount a tmpfs"); sys.exit(77)
        out = os.path.join(disk, "site")
        report = {"first": build(old, out)}
        before, served = hashes(out), os.readlink(out)
        with open(os.path.join(disk, "filler"), "wb", buffering=0) as f:
            for size in (1 << 20, 4096, 1):
                try:
                    while True:
                        f.write(b"\\0" * size)
                except OSError:
                    pass
        report["full"] = build(new, out)
        report["unchanged"] = hashes(out) == before and os.readlink(out) == served
        report["generations"] = sorted(os.listdir(os.path.join(disk, ".site.gen")))
        os.unlink(os.path.join(disk, "filler"))
        report["after"] = build(new, out)
        report["hashes"] = hashes(out)
        subprocess.run(["umount", disk])
        print(json.dumps(report))
    """)
    report = _in_mount_namespace(script, disk, old, new)
    assert report["first"]["code"] == 0, report["first"]
    assert report["full"]["code"] == 2, report["full"]
    assert_one_clear_line(report["full"]["stderr"], "No space left on device",
                          "the published site is unchanged. Free space and build again.")
    assert report["unchanged"]
    assert report["generations"] == ["1"]
    assert report["after"]["code"] == 0, report["after"]
    assert report["hashes"] == full_build(new, tmp_path / "full")


def test_a_read_only_output_with_the_command(tmp_path):
    """The output's file system mounted read-only (a real EROFS): exit 2, one line."""
    project = copy_project(tmp_path / "project")
    public = tmp_path / "public"
    build(load_project(project), public / "site")
    before = hashes(public / "site")
    edit_title(project, " (edited)")
    script = _namespace_script("""
        public, project = sys.argv[2:4]
        for step in (["mount", "--bind", public, public],
                     ["mount", "-o", "remount,ro,bind", public]):
            if subprocess.run(step).returncode:
                sys.stderr.write("cannot make a read-only bind mount"); sys.exit(77)
        print(json.dumps(build(project, os.path.join(public, "site"))))
    """)
    report = _in_mount_namespace(script, public, project)
    assert report["code"] == 2, report
    assert_one_clear_line(report["stderr"], "Read-only file system",
                          "the published site is unchanged")
    assert hashes(public / "site") == before


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into read-only directories")
def test_an_output_without_write_permission(project, site):
    before, served = hashes(site), os.readlink(site)
    edit_title(project, " (edited)")
    site.parent.chmod(0o555)
    try:
        r = cli("build", "--project", project, "--out", site)
    finally:
        site.parent.chmod(0o755)
    assert r.returncode == 2, r.stderr
    assert_one_clear_line(r.stderr, "Permission denied", "the published site is unchanged")
    assert os.readlink(site) == served and hashes(site) == before
    assert cli("build", "--project", project, "--out", site).returncode == 0


# ---- generations ------------------------------------------------------------------------------


def test_a_rebuild_brings_the_generation_before_up_to_date(project, site, tmp_path):
    """The second rebuild takes the generation the published one was made from (same
    directory, renamed) rather than linking every file again; unchanged files keep their inode
    (and mtime) through all of them."""
    gens = generation.generations_dir(site)
    kept = site / "place/kenya.html"
    inode = kept.stat().st_ino
    edit_title(project, " (1)")
    build(load_project(project), site)
    assert generations(site) == ["1", "2"] and published_number(site) == "2"
    first = (gens / "1").stat().st_ino
    edit_title(project, " (2)")
    build(load_project(project), site)
    assert generations(site) == ["2", "3"] and published_number(site) == "3"
    assert (gens / "3").stat().st_ino == first  # generation 1, brought up to date
    assert kept.stat().st_ino == inode
    assert "(2)" in (site / PAGE).read_text()
    assert hashes(site) == full_build(project, tmp_path / "full")
    assert hashes(gens / "2") != hashes(site)  # the previous generation was not touched
    assert "(1)" in (gens / "2" / PAGE).read_text()


def test_an_update_takes_up_the_generation_before_without_walking_it(project, site,
                                                                    monkeypatch):
    """find(1), started with the build, searched the generation before for links meanwhile:
    the update takes it up without walking its files in Python."""
    if shutil.which("find") is None:
        pytest.skip("find(1) is not installed: generations are walked instead")
    edit_title(project, " (1)")
    build(load_project(project), site)
    first = (generation.generations_dir(site) / "1").stat().st_ino
    walked: list[Path] = []
    walk = transaction._walk
    monkeypatch.setattr(transaction, "_walk", lambda root: walked.append(root) or walk(root))
    edit_title(project, " (2)")
    assert build(load_project(project), site).incremental
    assert walked == []
    assert (generation.generations_dir(site) / "3").stat().st_ino == first


@pytest.mark.parametrize("find", [True, False], ids=["find", "walked"])
def test_a_link_planted_in_the_generation_before_is_never_published(project, site, tmp_path,
                                                                    monkeypatch, find):
    """The generation the published one was made from is taken up only when it holds nothing
    but files and directories, as find(1) finds or, where find is missing, a walk: one with
    links is left, and the published files are linked into the new generation instead."""
    gens = generation.generations_dir(site)
    edit_title(project, " (1)")
    build(load_project(project), site)
    assert generations(site) == ["1", "2"]
    outside = tmp_path / "outside.html"
    outside.write_text("not the site's\n")
    os.symlink(outside, gens / "1" / "planted.html")
    os.symlink(outside.parent, gens / "1" / "topic" / "planted")
    if not find:
        monkeypatch.setattr(transaction.shutil, "which", lambda name: None)
    found: list[list[str] | None] = []
    odd = transaction.Survey.odd
    monkeypatch.setattr(transaction.Survey, "odd",
                        lambda self, gen: found.append(odd(self, gen)) or found[-1])
    edit_title(project, " (2)")
    assert build(load_project(project), site).incremental
    assert links_in(site) == [] and "(2)" in (site / PAGE).read_text()
    assert outside.read_text() == "not the site's\n"
    assert [sorted(f) if f else f for f in found] == (
        [["planted.html", "topic/planted"]] if find else [None])
    assert hashes(site) == full_build(project, tmp_path / "full")


def test_generations_held_by_a_server_are_kept(project, site, tmp_path):
    served = generation.current(site)
    hold = generation.Hold(served)
    try:
        for n in range(3):
            edit_title(project, f" ({n})")
            build(load_project(project), site)
        assert served.is_dir() and served.name in generations(site)
        assert (served / PAGE).read_text().count("(0)") == 0  # never modified
    finally:
        hold.release()
    edit_title(project, " (3)")
    build(load_project(project), site)
    assert not served.exists() and not generation.lock_path(served).exists()
    assert len(generations(site)) == 2
    assert hashes(site) == full_build(project, tmp_path / "full")


def test_a_site_built_before_generations_is_replaced_atomically(project, site, tmp_path):
    plain = tmp_path / "old" / "site"
    shutil.copytree(site, plain)  # a plain directory, as kgpub wrote before generations
    before = hashes(plain)
    r = run_cli("build", "--project", project, "--out", plain)
    assert r.exit_code == 0, r.output
    assert generation.is_generation_link(plain) and os.readlink(plain) == ".site.gen/1"
    assert hashes(plain) == before
    assert sorted(p.name for p in plain.parent.iterdir()) == [".site.gen", ".site.lock", "site"]


def test_a_link_kgpub_did_not_make_is_refused(project, site, tmp_path):
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / "keep.txt").write_text("keep")
    link = tmp_path / "public" / "mine"
    os.symlink(elsewhere, link)
    r = run_cli("build", "--project", project, "--out", link)
    assert r.exit_code == 2
    assert "is a symbolic link" in r.stderr and "kgpub did not make" in r.stderr
    assert os.readlink(link) == str(elsewhere)
    assert sorted(p.name for p in elsewhere.iterdir()) == ["keep.txt"]
    # a link to a site kgpub built is not one of its generation links either
    os.symlink(site, tmp_path / "public" / "alias")
    r = run_cli("build", "--project", project, "--out", tmp_path / "public" / "alias")
    assert r.exit_code == 2 and "kgpub did not make" in r.stderr
    # nor is a directory inside a published generation an output of its own
    before = hashes(site)
    r = run_cli("build", "--project", project, "--out", site / "nested")
    assert r.exit_code == 2 and "inside a published site" in r.stderr
    assert hashes(site) == before


@pytest.mark.parametrize("where", ["data", "ontology", "data/entries", "shapes/x"])
def test_the_project_through_a_linked_directory_is_refused(project, tmp_path, where):
    """The output's own path is compared with the project's (its directories resolved, not
    the output itself): the sources reached through a link to the project are refused."""
    alias = tmp_path / "alias"
    os.symlink(project, alias)
    before = hashes(project)
    r = run_cli("build", "--project", project, "--out", alias / where)
    assert r.exit_code == 2
    assert "would replace the project or its sources" in r.stderr
    assert hashes(project) == before
    assert not list(project.rglob(".*.gen")) and not list(project.rglob(".*.lock"))
    # the project itself through the link: a link kgpub did not make
    r = run_cli("build", "--project", project, "--out", alias)
    assert r.exit_code == 2 and "kgpub did not make" in r.stderr
