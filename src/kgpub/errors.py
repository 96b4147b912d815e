"""Error types. The CLI maps them to exit codes (pySHACL's convention)."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:  # validate imports this module
    from .validate import Report

EXIT_OK = 0
EXIT_INVALID = 1  # the data breaks a shape
EXIT_USAGE = 2  # bad options, unreadable or unparsable input


class KgpubError(Exception):
    """An error the user can fix; its message says what and where."""

    exit_code = EXIT_USAGE


class ConfigError(KgpubError):
    """kgpub.toml is missing or wrong."""


class LoadError(KgpubError):
    """A source file cannot be read or parsed."""

    def __init__(self, message: str, file: str | None = None, line: int | None = None):
        where = f"{file}:{line}: " if file and line else (f"{file}: " if file else "")
        super().__init__(f"{where}{message}")
        self.file, self.line = file, line


class InvalidData(KgpubError):
    """Validation found violations; the report is attached."""

    exit_code = EXIT_INVALID

    def __init__(self, report: Report) -> None:
        super().__init__(f"{len(report.violations)} violation(s): nothing was published")
        self.report = report


class OutputError(KgpubError):
    """The output cannot be written (full disk, read-only, permissions, a name too long...);
    the message names the path, the system's reason and the fix."""


class BuildBusy(KgpubError):
    """Another build is writing the same output (it holds the build lock)."""
