"""Runs every benchmark in order on one corpus and one store, and collects the entries.

Order: anchors, ingest in batches of 1000 (which builds the store the later figures use),
bytes on disk, timelines, reindex, single-message ingest of the tail, a sync between two
equal stores, ingest in batches of 100 into a fresh store, and last the network figures
(propagation, three node processes, the publish rate without loss, backfill).
"""

from __future__ import annotations

import cProfile
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

from p2psocial.home import HomePaths
from p2psocial.store.store import Store

from . import anchors, disk, ingest, network, ranking, reindex, timeline
from .config import Config
from .corpus import Corpus, load_corpus
from .report import Entry

_T = TypeVar("_T")


@dataclass(frozen=True, slots=True)
class StoreFigures:
    """The entries measured on the store that holds the whole corpus."""

    batch1000: Entry
    single: list[Entry]
    timelines: list[Entry]
    reindex: list[Entry]
    disk: list[Entry]
    sync_equal: list[Entry]


def _feeds(corpus: Corpus) -> list[timeline.Feed]:
    typical, sparse = corpus.owners["typical"], corpus.owners["sparse"]
    return [
        timeline.Feed("home.typical", timeline.home(typical), typical),
        timeline.Feed("home.sparse", timeline.home(sparse), sparse),
        timeline.Feed("global", timeline.global_feed()),
        timeline.Feed("author.busiest", timeline.author_feed(corpus.busiest)),
        timeline.Feed("author.median", timeline.author_feed(corpus.median)),
    ]


class Runner:
    """One benchmark run: a work directory under /tmp, optional cProfile dumps."""

    def __init__(self, config: Config, *, profile_dir: Path | None, keep: bool) -> None:
        self.config = config
        self.profile_dir = profile_dir
        self.keep = keep
        self.work = Path(tempfile.mkdtemp(prefix="p2psocial-bench-", dir="/tmp"))

    def stage(self, name: str, action: Callable[[], _T]) -> _T:
        """Run one stage, saying how long it took, under cProfile if asked to."""
        print(f"[{name}] ...", file=sys.stderr, flush=True)
        started = time.perf_counter()
        if self.profile_dir is None:
            result = action()
        else:
            profiler = cProfile.Profile()
            result = profiler.runcall(action)
            self.profile_dir.mkdir(parents=True, exist_ok=True)
            profiler.dump_stats(self.profile_dir / f"{name}.prof")
        print(f"[{name}] {time.perf_counter() - started:.1f} s", file=sys.stderr, flush=True)
        return result

    def run(self) -> list[Entry]:
        """Run every benchmark; the work directory is removed afterwards unless kept."""
        try:
            return self._run()
        finally:
            if self.keep:
                print(f"work directory kept: {self.work}", file=sys.stderr)
            else:
                shutil.rmtree(self.work, ignore_errors=True)

    def _run(self) -> list[Entry]:
        config = self.config
        corpus = self.stage(
            "corpus", lambda: load_corpus(config.corpus, workers=os.cpu_count() or 1)
        )
        verify = self.stage("anchor.verify", lambda: anchors.verify_rate(config.verify_count))
        fsync_write = self.stage(
            "anchor.fsync_write", lambda: anchors.fsync_write_rate(self.work, config.fsync_mib)
        )
        fsync_append = self.stage(
            "anchor.fsync_append",
            lambda: anchors.fsync_append_rate(self.work, config.fsync_appends),
        )
        home = HomePaths(self.work / "home")
        store = Store.open(home.root)
        try:
            figures = self._on_store(store, home, corpus, verify, fsync_append)
        finally:
            store.close()
        shutil.rmtree(home.root)
        batch100 = self.stage("ingest.batch100", lambda: self._batch100(corpus, verify))
        net = self._network(corpus)
        return [
            verify,
            fsync_write,
            fsync_append,
            figures.batch1000,
            batch100,
            *figures.single,
            *figures.timelines,
            *figures.reindex,
            *figures.disk,
            *figures.sync_equal,
            *net,
        ]

    def _on_store(
        self, store: Store, home: HomePaths, corpus: Corpus, verify: Entry, fsync: Entry
    ) -> StoreFigures:
        """The figures measured on the store that comes to hold the whole corpus."""
        config = self.config
        run = self.stage(
            "ingest.batch1000", lambda: ingest.ingest_batches(store, corpus.messages, 1000)
        )
        batch1000 = ingest.batch_entry(run, verify.as_anchor(), compare=config.batch100_messages)
        held = len(corpus.messages)
        footprint = self.stage("disk", lambda: disk.disk_usage(home, held, corpus.mean_size))
        timelines = self.stage(
            "timeline", lambda: timeline.measure(home.index, _feeds(corpus), config.sampling)
        )
        owner = corpus.owners["typical"]
        timelines += self.stage(
            "ranking", lambda: ranking.measure(home.index, owner, config.sampling) + ranking.trust()
        )
        rebuilt = self.stage("reindex", lambda: reindex.reindex(store, held))
        single = self.stage(
            "ingest.single",
            lambda: ingest.ingest_single(store, corpus.tail, fsync.as_anchor(), held=held),
        )
        authors = int(store.reader.query("SELECT count(*) FROM authors")[0][0])
        equal = self.stage("net.sync_equal", lambda: network.sync_equal(store, authors))
        return StoreFigures(batch1000, single, timelines, rebuilt, footprint, equal)

    def _network(self, corpus: Corpus) -> list[Entry]:
        """The network figures, each on fresh nodes in the work directory (loopback only)."""
        config = self.config
        work = self.work / "net"
        work.mkdir()
        propagation = self.stage(
            "net.propagation",
            lambda: network.propagation(
                work, nodes=config.net_nodes, posts=config.net_posts, rate=config.net_post_rate
            ),
        )
        processes = self.stage(
            "net.process", lambda: network.processes(work, samples=config.net_process_samples)
        )
        rate = self.stage(
            "net.max_rate",
            lambda: network.max_rate(work, rates=config.net_rates, seconds=config.net_rate_seconds),
        )
        backfill = self.stage(
            "net.backfill",
            lambda: network.backfill(work, corpus.messages[: config.backfill_messages]),
        )
        return [*propagation, *processes, *rate, *backfill]

    def _batch100(self, corpus: Corpus, verify: Entry) -> Entry:
        home = self.work / "home-batch100"
        store = Store.open(home)
        try:
            subset = corpus.messages[: self.config.batch100_messages]
            run = ingest.ingest_batches(store, subset, 100)
        finally:
            store.close()
            shutil.rmtree(home, ignore_errors=True)
        return ingest.batch_entry(run, verify.as_anchor())
