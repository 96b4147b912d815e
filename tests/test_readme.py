"""The README's instructions work as a new user follows them: the Turtle of "Adding a topic or
an entry" validates and builds as written, and the commands it shows exist."""

from __future__ import annotations

import re
import subprocess
import sys

from kgtest import REPO, copy_project

README = (REPO / "README.md").read_text(encoding="utf-8")


def section(title: str) -> str:
    start = README.index(f"## {title}")
    end = README.find("\n## ", start + 3)
    return README[start:end if end != -1 else None]


def turtle_blocks(text: str) -> list[str]:
    return [re.sub(r"^   ", "", b, flags=re.M)
            for b in re.findall(r"```turtle\n(.*?)```", text, flags=re.S)]


def test_adding_a_topic_and_an_entry_as_the_readme_says(tmp_path):
    root = copy_project(tmp_path / "project")
    topic, entry = turtle_blocks(section("Adding a topic or an entry"))
    with (root / "data" / "topics.ttl").open("a", encoding="utf-8") as f:
        f.write("\n" + topic)
    (root / "data" / "entries" / "new.ttl").write_text(entry, encoding="utf-8")
    done = subprocess.run([sys.executable, "-m", "kgpub.cli", "validate", "--project", str(root)],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "social-dialogue" not in done.stdout.split("Warnings")[0]


def test_the_readme_says_where_the_command_is():
    assert ".venv/bin/kgpub" in README and ". .venv/bin/activate" in README
