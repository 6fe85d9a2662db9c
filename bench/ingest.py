"""Ingest: pre-signed messages from many authors through ``Store.ingest``.

Each call decodes every message, verifies its signature, checks it against its author's
chain, appends the batch to the log with one fsync, and indexes it in one transaction. Only
the ``ingest`` calls are timed; the corpus was signed beforehand.
"""

from __future__ import annotations

import sys
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

from p2psocial.store.store import IngestResult, Outcome, Store

from .corpus import iter_batches
from .report import Anchor, Entry, Target
from .timing import Latency

PROGRESS_MIN: Final = 100_000
"""Say how far ingest has come every tenth of the messages, once there are this many."""
INGEST_TARGET: Final = Target(">=", 0.5, on="ratio", note="of raw verify")


@dataclass(frozen=True, slots=True)
class BatchRun:
    """Timings of ingesting a list of messages batch by batch.

    Attributes:
        batch: Messages per ``ingest`` call.
        sizes: Messages in each call.
        seconds: Time of each call.
        cpu_seconds: CPU time this process spent in all calls together; beside the wall
            time it shows how much other load on the machine slowed the run down.
    """

    batch: int
    sizes: list[int]
    seconds: list[float]
    cpu_seconds: float

    @property
    def count(self) -> int:
        """Messages ingested."""
        return sum(self.sizes)

    def rate(self, first: int | None = None, last: int | None = None) -> float:
        """Messages per second over all calls, the first ``first`` or the last ``last``."""
        sizes, seconds = self.sizes, self.seconds
        if first is not None:
            n = -(-first // self.batch)
            sizes, seconds = sizes[:n], seconds[:n]
        elif last is not None:
            n = -(-last // self.batch)
            sizes, seconds = sizes[-n:], seconds[-n:]
        return sum(sizes) / sum(seconds)


def ingest_batches(store: Store, messages: Sequence[bytes], batch: int) -> BatchRun:
    """Ingest ``messages`` in calls of ``batch`` and time each call.

    Raises:
        RuntimeError: A message was not accepted (the corpus or the store is wrong).
    """
    sizes: list[int] = []
    seconds: list[float] = []
    clock, cpu = time.perf_counter, 0.0
    report_every = max(len(messages) // 10, PROGRESS_MIN)
    for chunk in iter_batches(messages, batch):
        cpu_started = time.process_time()
        started = clock()
        results = store.ingest(chunk, allow_gaps=True)
        seconds.append(clock() - started)
        cpu += time.process_time() - cpu_started
        sizes.append(len(chunk))
        _check_accepted(results)
        done = len(sizes) * batch
        if done % report_every < batch and done < len(messages):
            rate = done / sum(seconds)
            print(f"  [ingest] {done}/{len(messages)}: {rate:,.0f} msgs/s", file=sys.stderr)
    return BatchRun(batch, sizes, seconds, cpu)


def _check_accepted(results: list[IngestResult]) -> None:
    outcomes = Counter(r.outcome for r in results)
    if outcomes[Outcome.ACCEPTED] != len(results):
        first = next(r for r in results if r.outcome is not Outcome.ACCEPTED)
        raise RuntimeError(f"corpus message not accepted: {dict(outcomes)}; first: {first}")


def batch_entry(run: BatchRun, verify: Anchor, *, compare: int | None = None) -> Entry:
    """The entry of a batched run, against the raw verify rate.

    Args:
        run: The run.
        verify: The raw verify rate.
        compare: Also record the rate over the first this many messages, and over the
            last tenth (how ingest slows as the index grows).
    """
    params: dict[str, object] = {"batch": run.batch, "messages": run.count}
    params["seconds"] = round(sum(run.seconds), 2)
    params["cpu_seconds"] = round(run.cpu_seconds, 2)
    if compare is not None:
        params[f"rate_first_{compare}"] = round(run.rate(first=compare))
    params["rate_last_tenth"] = round(run.rate(last=max(run.count // 10, run.batch)))
    return Entry(
        f"ingest.batch{run.batch}",
        run.rate(),
        "msgs/s",
        anchor=verify,
        target=INGEST_TARGET,
        params=params,
    )


def ingest_single(
    store: Store, messages: Sequence[bytes], fsync: Anchor, *, held: int
) -> list[Entry]:
    """Ingest messages one call each (gossip), on a store that already holds ``held``.

    Returns:
        The rate (against the fsync-per-append ceiling) and the per-message latency.
    """
    run = ingest_batches(store, messages, 1)
    latency = Latency.of(run.seconds)
    params = {
        "messages": run.count,
        "held_before": held,
        "seconds": round(sum(run.seconds), 2),
        "cpu_seconds": round(run.cpu_seconds, 2),
    }
    return [
        Entry("ingest.single", run.rate(), "msgs/s", anchor=fsync, params=params),
        Entry("ingest.single.p50", latency.p50, "ms", params={"samples": latency.samples}),
        Entry("ingest.single.p99", latency.p99, "ms", params={"samples": latency.samples}),
    ]
