"""Sizes of a benchmark run: the full run and the quick one."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from .corpus import CorpusSpec
from .timeline import Sampling


@dataclass(frozen=True, slots=True)
class Config:
    """Everything that differs between a full and a quick run.

    Attributes:
        mode: ``full`` or ``quick``.
        corpus: The corpus to generate (or load from the cache).
        verify_count: Signatures per verify-rate run.
        fsync_mib: MiB written by the sequential fsync anchor.
        fsync_appends: Appends made by the small-append fsync anchor.
        batch100_messages: Messages ingested in batches of 100 (into a fresh store).
        sampling: Latency samples per timeline case.
        net_nodes: In-process nodes the propagation figure runs.
        net_posts: Posts published for the propagation figure (at ``net_post_rate``/s).
        net_post_rate: Their pace, per second.
        net_process_samples: Posts timed across the three node processes.
        net_rates: Publish rates tried for ``net.max_rate``.
        net_rate_seconds: Seconds of publishing at each rate.
        backfill_messages: Messages the backfill figure syncs (the corpus' first ones).
    """

    mode: str
    corpus: CorpusSpec
    verify_count: int
    fsync_mib: int
    fsync_appends: int
    batch100_messages: int
    sampling: Sampling
    net_nodes: int
    net_posts: int
    net_post_rate: float
    net_process_samples: int
    net_rates: tuple[float, ...]
    net_rate_seconds: float
    backfill_messages: int


FULL: Final = Config(
    mode="full",
    corpus=CorpusSpec(messages=1_000_000, authors=10_000, follows=500, tail=2_000),
    verify_count=20_000,
    fsync_mib=512,
    fsync_appends=2_000,
    batch100_messages=100_000,
    sampling=Sampling(samples=300, warmup=20, budget_s=30.0),
    net_nodes=10,
    net_posts=200,
    net_post_rate=10.0,
    net_process_samples=20,
    net_rates=(10.0, 20.0, 50.0, 100.0),
    net_rate_seconds=5.0,
    backfill_messages=100_000,
)
QUICK: Final = Config(
    mode="quick",
    corpus=CorpusSpec(messages=20_000, authors=1_000, follows=50, tail=500),
    verify_count=5_000,
    fsync_mib=128,
    fsync_appends=1_000,
    batch100_messages=20_000,
    sampling=Sampling(samples=200, warmup=10, budget_s=5.0),
    net_nodes=10,
    net_posts=50,
    net_post_rate=10.0,
    net_process_samples=5,
    net_rates=(10.0, 20.0, 50.0, 100.0),
    net_rate_seconds=2.0,
    backfill_messages=10_000,
)
