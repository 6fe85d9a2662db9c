"""Timing helpers: latency sampling with a warm-up, and percentiles."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Latency:
    """Latency percentiles of one operation, in milliseconds."""

    p50: float
    p99: float
    mean: float
    max: float
    samples: int

    @classmethod
    def of(cls, seconds: Sequence[float]) -> Latency:
        """Summarise samples given in seconds."""
        ordered = sorted(seconds)
        return cls(
            p50=percentile(ordered, 50) * 1000,
            p99=percentile(ordered, 99) * 1000,
            mean=sum(ordered) / len(ordered) * 1000,
            max=ordered[-1] * 1000,
            samples=len(ordered),
        )


def percentile(ordered: Sequence[float], q: float) -> float:
    """The ``q``-th percentile of sorted samples, interpolating between ranks.

    Raises:
        ValueError: There are no samples.
    """
    if not ordered:
        raise ValueError("no samples")
    rank = (len(ordered) - 1) * q / 100
    low = int(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def sample_latency(
    call: Callable[[], object], *, samples: int, warmup: int, budget_s: float
) -> Latency:
    """Time ``call`` repeatedly after warming up.

    Args:
        call: The operation.
        samples: How many timed calls to make.
        warmup: Untimed calls first (caches, prepared statements).
        budget_s: Stop early once the timed calls have taken this long, so that a
            pathologically slow case cannot stall the run; :attr:`Latency.samples` says how
            many were taken.
    """
    for _ in range(warmup):
        call()
    timings: list[float] = []
    clock = time.perf_counter
    spent = 0.0
    while len(timings) < samples and spent < budget_s:
        started = clock()
        call()
        elapsed = clock() - started
        timings.append(elapsed)
        spent += elapsed
    return Latency.of(timings)
