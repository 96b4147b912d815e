"""The endpoint's limits ([sparql] in kgpub.toml): one definition, checked here, for the server
and `kgpub query` alike."""

from __future__ import annotations

from dataclasses import dataclass

from ..errors import ConfigError

MAX_QUERY_BYTES = 1024 * 1024
MiB = 1024 * 1024


@dataclass(frozen=True)
class QueryLimits:
    timeout: float = 10.0  # seconds a query may run: checking, evaluation, serialization, transfer
    max_rows: int = 10_000  # solutions of a SELECT, triples of a CONSTRUCT/DESCRIBE
    max_result_bytes: int = 32 * MiB  # a serialized result, cut at the last row that fits
    max_query_bytes: int = MAX_QUERY_BYTES
    workers: int = 2
    max_queue: int = 64  # queries waiting for a worker; 0: no queue
    max_queue_wait: float = 10.0  # seconds a query may wait for a worker; 0: refuse at once
    memory_mb: int = 4096  # address space of a worker; 0: unlimited

    _KEYS = {
        "timeout": (float, 0.001, 3600.0),
        "max_rows": (int, 1, 10_000_000),
        "max_result_bytes": (int, 4096, 1 << 40),
        "max_query_bytes": (int, 64, 64 * MAX_QUERY_BYTES),
        "workers": (int, 1, 64),
        "max_queue": (int, 0, 100_000),
        "max_queue_wait": (float, 0.0, 3600.0),
        "memory_mb": (int, 0, 1024 * 1024),
    }

    @classmethod
    def from_config(cls, cfg: dict | None) -> QueryLimits:
        """From the [sparql] table of kgpub.toml (or a whole config holding one)."""
        cfg = dict(cfg or {})
        if isinstance(cfg.get("sparql"), dict):
            cfg = dict(cfg["sparql"])
        unknown = sorted(set(cfg) - set(cls._KEYS))
        if unknown:
            raise ConfigError(
                f"[sparql] {', '.join(unknown)}: unknown key(s); known: {', '.join(cls._KEYS)}"
            )
        values = {}
        for key, value in cfg.items():
            kind, low, high = cls._KEYS[key]
            ok_type = isinstance(value, int | float) if kind is float else isinstance(value, int)
            if isinstance(value, bool) or not ok_type or not low <= value <= high:
                what = "a number" if kind is float else "an integer"
                raise ConfigError(f"[sparql] {key} = {value!r}: expected {what} from {low:g} to {high:g}")
            values[key] = kind(value)
        return cls(**values)
