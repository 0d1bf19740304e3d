"""Medians with their spread: every figure of the benchmark is the median of several runs."""

from __future__ import annotations

import statistics
from collections.abc import Callable, Sequence
from dataclasses import dataclass

__all__ = ["Summary", "time_runs"]


@dataclass(frozen=True, slots=True)
class Summary:
    """Median, interquartile range and extremes of ``n`` samples (one sample = one run)."""

    median: float
    q1: float
    q3: float
    low: float
    high: float
    n: int

    @classmethod
    def of(cls, samples: Sequence[float]) -> Summary:
        """Return the summary of ``samples``; raises ValueError when there are none."""
        if not samples:
            raise ValueError("no samples to summarise")
        ordered = sorted(samples)
        if len(ordered) == 1:
            only = ordered[0]
            return cls(only, only, only, only, only, 1)
        q1, _, q3 = statistics.quantiles(ordered, n=4, method="inclusive")
        return cls(statistics.median(ordered), q1, q3, ordered[0], ordered[-1], len(ordered))

    def scaled(self, factor: float) -> Summary:
        """Return the same summary with every figure multiplied by ``factor`` (unit change)."""
        return Summary(self.median * factor, self.q1 * factor, self.q3 * factor, self.low * factor,
                       self.high * factor, self.n)

    def format(self, digits: int = 2) -> str:
        """Return ``median [q1–q3]`` (IQR over the runs), e.g. ``4.21 [4.10–4.35]``."""
        if self.n == 1:
            return f"{self.median:.{digits}f}"
        return f"{self.median:.{digits}f} [{self.q1:.{digits}f}–{self.q3:.{digits}f}]"


def time_runs(fn: Callable[[], object], *, runs: int, inner: int, warmup: int = 2,
              clock: Callable[[], float] | None = None) -> Summary:
    """Return the per-call seconds of ``fn``: ``runs`` samples, each the mean of ``inner`` calls."""
    import time

    tick = clock or time.perf_counter
    for _ in range(warmup):
        fn()
    samples = []
    for _ in range(runs):
        start = tick()
        for _ in range(inner):
            fn()
        samples.append((tick() - start) / inner)
    return Summary.of(samples)
