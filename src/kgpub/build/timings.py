"""Timings: the wall time of each stage of a build (kgpub build --timings)."""

from __future__ import annotations

import time


class Stopwatch:
    """Laps: each stage's time is from the end of the one before (stages may repeat: summed)."""

    def __init__(self) -> None:
        self.times: dict[str, float] = {}
        self._last = time.perf_counter()

    def lap(self, stage: str) -> None:
        now = time.perf_counter()
        self.times[stage] = self.times.get(stage, 0.0) + now - self._last
        self._last = now
