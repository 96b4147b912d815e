"""The gate's report: problems (file:line, entity, property, what is wrong, the value, a fix),
violations apart from warnings, as text for people or JSON for machines."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field


@dataclass(frozen=True, order=True)
class Problem:
    file: str
    line: int
    focus: str
    path: str
    severity: str  # "violation" | "warning" | "info"
    message: str
    value: str | None = None
    hint: str = ""
    rule: str = ""

    @property
    def where(self) -> str:
        return f"{self.file}:{self.line}" if self.line else self.file


@dataclass
class Report:
    problems: list[Problem] = field(default_factory=list)
    engine: str = field(default="", compare=False)  # the SHACL engine that ran
    # the problems the shapes gave, before kgpub's own checks (kept for a rebuild:
    # kgpub.validate.cache)
    shacl: list[Problem] = field(default_factory=list, compare=False, repr=False)

    @property
    def violations(self) -> list[Problem]:
        return [p for p in self.problems if p.severity == "violation"]

    @property
    def warnings(self) -> list[Problem]:
        return [p for p in self.problems if p.severity != "violation"]

    @property
    def conforms(self) -> bool:
        return not self.violations

    def to_json(self) -> str:
        return json.dumps(
            {
                "conforms": self.conforms,
                "violations": [asdict(p) for p in self.violations],
                "warnings": [asdict(p) for p in self.warnings],
            },
            indent=2,
            ensure_ascii=False,
        )

    def to_text(self) -> str:
        out: list[str] = []
        for title, items in (("Violations", self.violations), ("Warnings", self.warnings)):
            if not items:
                continue
            out.append(f"{title} ({len(items)}):")
            for p in items:
                focus = f"<{p.focus}>" if ":" in p.focus else "[a blank node]"
                out.append(f"{p.where}: {p.severity}: {focus}" + (f" {p.path}" if p.path else ""))
                out.append(f"    {p.message}")
                if p.value is not None:
                    out.append(f"    value: {p.value}")
                if p.hint:
                    out.append(f"    fix: {p.hint}")
                out.append(f"    rule: {p.rule}")
            out.append("")
        verdict = "conforms" if self.conforms else "does NOT conform"
        out.append(
            f"The data {verdict}: {len(self.violations)} violation(s), {len(self.warnings)} warning(s)."
        )
        return "\n".join(out)


def shortener(prefixes: dict[str, str]):
    known = sorted(prefixes.items(), key=lambda kv: -len(kv[1]))

    def short(iri: str) -> str:
        for prefix, ns in known:
            if prefix and iri.startswith(ns) and len(iri) > len(ns):
                return f"{prefix}:{iri[len(ns) :]}"
        return f"<{iri}>" if "://" in iri else iri

    return short
