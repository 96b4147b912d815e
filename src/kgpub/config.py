"""The project: its directory, its kgpub.toml settings and where its sources live."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from .errors import ConfigError

CONFIG_FILE = "kgpub.toml"
DEFAULT_BASE = "https://w3id.org/sphr/"


@dataclass(frozen=True)
class Project:
    root: Path
    base: str = DEFAULT_BASE
    title: str = "Social Protection and Human Rights"
    description: str = ""
    languages: tuple[str, ...] = ("en",)
    license: str | None = None
    page_size: int = 20  # entries per listing page
    shard_pages: int = 10_000  # pages per search bundle ([search] shard_pages; kgpub.search)
    repository: dict = field(default_factory=dict)
    # Query limits of the SPARQL endpoint ([sparql] in kgpub.toml).
    sparql: dict = field(default_factory=dict)

    @property
    def default_language(self) -> str:
        return self.languages[0]

    @property
    def ontology_dir(self) -> Path:
        return self.root / "ontology"

    @property
    def data_dir(self) -> Path:
        return self.root / "data"

    @property
    def shapes_dir(self) -> Path:
        return self.root / "shapes"

    @property
    def vocab(self) -> str:
        """Namespace of the project's vocabulary (a hash namespace: terms live in one document)."""
        return self.base + "ontology#"

    def rel(self, path: Path) -> str:
        """A path as shown to the user: relative to the project when possible."""
        try:
            return str(path.resolve().relative_to(self.root.resolve()))
        except ValueError:
            return str(path)


def load_project(root: str | Path = ".") -> Project:
    root = Path(root)
    cfg_path = root / CONFIG_FILE
    if not root.is_dir():
        raise ConfigError(f"project directory {root} does not exist")
    if not cfg_path.is_file():
        raise ConfigError(
            f"{cfg_path}: not found. Run kgpub in a project directory or pass --project DIR."
        )
    try:
        cfg = tomllib.loads(cfg_path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{cfg_path}: not valid TOML: {exc}") from exc
    site = cfg.get("site", {})
    base = site.get("base", DEFAULT_BASE)
    parts = urlsplit(base)
    if parts.scheme not in ("http", "https") or not parts.netloc or not base.endswith("/"):
        raise ConfigError(
            f"{cfg_path}: [site] base = {base!r} must be an http(s) IRI ending with '/', "
            f"e.g. {DEFAULT_BASE!r}"
        )
    languages = site.get("languages", ["en"])
    if not languages or not all(isinstance(x, str) and x for x in languages):
        raise ConfigError(f"{cfg_path}: [site] languages must be a non-empty list, e.g. ['en']")
    page_size = site.get("page_size", 20)
    if not isinstance(page_size, int) or isinstance(page_size, bool) or not 1 <= page_size <= 500:
        raise ConfigError(f"{cfg_path}: [site] page_size = {page_size!r} must be a whole number "
                          "from 1 to 500, e.g. 20")
    shard_pages = cfg.get("search", {}).get("shard_pages", Project.shard_pages)
    if not isinstance(shard_pages, int) or isinstance(shard_pages, bool) or shard_pages < 1:
        raise ConfigError(f"{cfg_path}: [search] shard_pages = {shard_pages!r} must be a whole "
                          "number of at least 1, e.g. 10000")
    return Project(
        root=root,
        page_size=page_size,
        shard_pages=shard_pages,
        base=base,
        title=site.get("title", Project.title),
        description=site.get("description", ""),
        languages=tuple(languages),
        license=site.get("license"),
        repository=dict(cfg.get("repository", {})),
        sparql=dict(cfg.get("sparql", {})),
    )
