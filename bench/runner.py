"""Runs the benchmarks, stage by stage, and collects their entries and plots into one Run.

Stages, in order (:data:`STAGES`; ``python -m bench --list`` shows them):

- ``anchors``: raw Ed25519 verify, sequential writes with fsync (1 MiB blocks, small
  appends, and batches of 4 KiB to 1 MiB), loopback TCP, a libp2p stream;
- ``store``: on one store, ingest in batches of 1000 (which builds the store the next
  figures use), bytes on disk, timelines, reindex, single-message ingest of the tail, a sync
  between two equal stores;
- ``batch100``: ingest in batches of 100 into a fresh store;
- ``network``: propagation over 10 in-process nodes, three node processes, the publish
  rate without loss;
- ``backfill``: an empty node syncing the corpus' first messages from one peer;
- ``sybil``: a flood of fresh keys through admission (what reaches Home and Global), and
  what postage costs to pay and to check (bench/sybil.py);
- ``tui``: the terminal app on a store of the corpus: Home's first paint, and the event
  loop's stalls and key latency while 1,000 messages arrive (bench/tui.py);
- ``sim``: the hostile-network simulation in one process;
- ``sim-process``: the smaller one on ``p2psocial node`` daemons;
- ``scale``: the simulation's fault-free sweeps (more nodes, more authors) and the per-node
  cost fitted to them (not in ``--quick`` runs unless named with ``--only``).

A stage that is skipped or fails measures nothing, and the report says so; the others run.
A stage that needs an anchor measures it if the ``anchors`` stage did not.

To add a benchmark, write a function ``(runner) -> list[Entry]`` in its own module and add
one :class:`Stage` line to :data:`STAGES`.
"""

from __future__ import annotations

import cProfile
import os
import shutil
import sys
import tempfile
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Final, TypeVar

from p2psocial.home import HomePaths
from p2psocial.store.store import Store

from . import anchors, disk, ingest, network, ranking, reindex, sybil, timeline, tui
from .config import Config
from .corpus import Corpus, load_corpus
from .ingest import BatchRun
from .report import Entry, Plot, Run, StageOutcome
from .sim import stages as sim

_T = TypeVar("_T")

TCP_MIB: Final = {"full": 256, "quick": 64}
LIBP2P_MIB: Final = {"full": 64, "quick": 16}
FSYNC_SWEEP_MIB: Final = {"full": 64, "quick": 16}


@dataclass(frozen=True, slots=True)
class Stage:
    """One stage of a run.

    Attributes:
        name: What ``--only``/``--skip`` and the report call it.
        run: Measures, returns the entries (and may add plots with :meth:`Runner.plot`).
        quick: Whether a ``--quick`` run includes it.
    """

    name: str
    run: Callable[[Runner], list[Entry]]
    quick: bool = True


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

    def __init__(
        self,
        config: Config,
        *,
        profile_dir: Path | None,
        keep: bool,
        only: set[str] | None = None,
        skip: set[str] | None = None,
        argv: list[str] | None = None,
    ) -> None:
        self.config = config
        self.profile_dir = profile_dir
        self.keep = keep
        self.only = only
        self.skip = skip or set()
        self.work = Path(tempfile.mkdtemp(prefix="p2psocial-bench-", dir="/tmp"))
        self.result = Run(mode=config.mode, argv=argv or [])
        self._corpus: Corpus | None = None
        self._anchors: dict[str, Entry] = {}
        self._lazy: list[Entry] = []

    @property
    def quick(self) -> bool:
        """Whether this is a ``--quick`` run."""
        return self.config.mode == "quick"

    def stage(self, name: str, action: Callable[[], _T]) -> _T:
        """Run one step, saying how long it took, under cProfile if asked to."""
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

    def plot(self, *plots: Plot) -> None:
        """Add plot data measured in this run."""
        self.result.plots.extend(plots)

    def corpus(self) -> Corpus:
        """The corpus of this run's size (loaded, or signed and cached, once)."""
        if self._corpus is None:
            spec = self.config.corpus
            self._corpus = self.stage(
                "corpus", lambda: load_corpus(spec, workers=os.cpu_count() or 1)
            )
        return self._corpus

    def anchor(self, name: str) -> Entry:
        """An anchor entry, measured now if no stage has measured it yet (it is then
        reported with the stage that needed it)."""
        if name not in self._anchors:
            entry = self.stage(name, lambda: self._measure_anchor(name))
            self._anchors[name] = entry
            self._lazy.append(entry)
        return self._anchors[name]

    def _measure_anchor(self, name: str) -> Entry:
        config = self.config
        if name == "anchor.verify":
            return anchors.verify_rate(config.verify_count)
        if name == "anchor.fsync_append":
            return anchors.fsync_append_rate(self.work, config.fsync_appends)
        if name == "anchor.libp2p_stream":
            return anchors.libp2p_stream_rate(LIBP2P_MIB[config.mode])
        raise KeyError(name)

    # --- running -------------------------------------------------------------------------------

    def selected(self, stage: Stage) -> str | None:
        """Why ``stage`` is not run, or None when it is."""
        if self.only is not None:
            return None if stage.name in self.only else "not named in --only"
        if stage.name in self.skip:
            return "named in --skip"
        if self.quick and not stage.quick:
            return "not part of --quick runs (name it in --only to run it)"
        return None

    def run(self) -> Run:
        """Run every selected stage; the work directory is removed afterwards unless kept."""
        started = time.perf_counter()
        try:
            for stage in STAGES:
                reason = self.selected(stage)
                if reason is not None:
                    self.result.stages.append(StageOutcome(stage.name, "skipped", detail=reason))
                    continue
                began = time.perf_counter()
                try:
                    entries = stage.run(self)
                except Exception as exc:
                    traceback.print_exc()
                    leaf = _leaf(exc)
                    detail = f"{type(leaf).__name__}: {leaf}".splitlines()[0][:300]
                    entries = []
                    outcome = StageOutcome(
                        stage.name, "failed", time.perf_counter() - began, detail
                    )
                else:
                    outcome = StageOutcome(stage.name, "ok", time.perf_counter() - began)
                # Anchors a stage needed and measured itself come first.
                self.result.entries.extend([*self._lazy, *entries])
                self._lazy.clear()
                self.result.stages.append(outcome)
        finally:
            if self.keep:
                print(f"work directory kept: {self.work}", file=sys.stderr)
            else:
                shutil.rmtree(self.work, ignore_errors=True)
        self.result.finish(time.perf_counter() - started)
        return self.result

    # --- the stages ------------------------------------------------------------------------------

    def anchors(self) -> list[Entry]:
        """Every anchor (later stages use some of them)."""
        config, mode = self.config, self.config.mode
        measured = [
            self.stage("anchor.verify", lambda: self._measure_anchor("anchor.verify")),
            self.stage(
                "anchor.fsync_write", lambda: anchors.fsync_write_rate(self.work, config.fsync_mib)
            ),
            self.stage("anchor.fsync_append", lambda: self._measure_anchor("anchor.fsync_append")),
            *self.stage(
                "anchor.fsync", lambda: anchors.fsync_sweep(self.work, FSYNC_SWEEP_MIB[mode])
            ),
        ]
        tcp = self.stage("anchor.tcp_loopback", lambda: anchors.tcp_loopback_rate(TCP_MIB[mode]))
        stream = self.stage(
            "anchor.libp2p_stream", lambda: self._measure_anchor("anchor.libp2p_stream")
        )
        measured += [tcp, replace(stream, anchor=tcp.as_anchor())]
        for entry in measured:
            self._anchors[entry.name] = entry
        return measured

    def store(self) -> list[Entry]:
        """Every figure measured on the store that holds the whole corpus."""
        corpus = self.corpus()
        verify, fsync = self.anchor("anchor.verify"), self.anchor("anchor.fsync_append")
        home = HomePaths(self.work / "home")
        store = Store.open(home.root)
        try:
            figures = self._on_store(store, home, corpus, verify, fsync)
        finally:
            store.close()
        shutil.rmtree(home.root)
        return [
            figures.batch1000,
            *figures.single,
            *figures.timelines,
            *figures.reindex,
            *figures.disk,
            *figures.sync_equal,
        ]

    def _on_store(
        self, store: Store, home: HomePaths, corpus: Corpus, verify: Entry, fsync: Entry
    ) -> StoreFigures:
        """The figures measured on the store that comes to hold the whole corpus."""
        config = self.config
        run = self.stage(
            "ingest.batch1000", lambda: ingest.ingest_batches(store, corpus.messages, 1000)
        )
        self._throughput_plot(run)
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

    def _throughput_plot(self, run: BatchRun) -> None:
        self.plot(
            Plot(
                "throughput",
                f"Ingest rate as the store grows (batches of {run.batch})",
                "line",
                "messages held",
                "messages/s over the last window",
                {f"batch {run.batch}": _windows(run, points=100)},
                caption=(
                    "`Store.ingest` of the corpus into an empty store, timed per call; each"
                    " point is the rate over about 1% of the corpus."
                ),
            )
        )

    def batch100(self) -> list[Entry]:
        """Ingest in batches of 100 into a fresh store."""
        corpus = self.corpus()
        verify = self.anchor("anchor.verify")

        def measure() -> Entry:
            home = self.work / "home-batch100"
            store = Store.open(home)
            try:
                subset = corpus.messages[: self.config.batch100_messages]
                run = ingest.ingest_batches(store, subset, 100)
            finally:
                store.close()
                shutil.rmtree(home, ignore_errors=True)
            return ingest.batch_entry(run, verify.as_anchor())

        return [self.stage("ingest.batch100", measure)]

    def network(self) -> list[Entry]:
        """The network figures, each on fresh nodes in the work directory (loopback only)."""
        config = self.config
        work = self.work / "net"
        work.mkdir()
        propagation, latencies = self.stage(
            "net.propagation",
            lambda: network.propagation(
                work, nodes=config.net_nodes, posts=config.net_posts, rate=config.net_post_rate
            ),
        )
        processes, hops = self.stage(
            "net.process", lambda: network.processes(work, samples=config.net_process_samples)
        )
        rate = self.stage(
            "net.max_rate",
            lambda: network.max_rate(work, rates=config.net_rates, seconds=config.net_rate_seconds),
        )
        self.plot(
            Plot(
                "latency",
                "Gossip: post to arrival",
                "cdf",
                "seconds",
                "share of arrivals",
                {
                    f"{config.net_nodes} nodes, one process": latencies,
                    "3 processes, a to c": hops,
                },
                log_x=True,
                caption=(
                    "In process: from `Node.post` returning on node 0 to the arrival event at"
                    " each other node. Across processes: from the post being in a's index to"
                    " it being in c's (polled every 10 ms)."
                ),
            ),
            Plot(
                "throughput",
                "Gossip: delivered against published rate",
                "line",
                "messages/s published to 2 peers",
                "share delivered by gossip in time",
                {
                    "one node, 2 peers": [
                        [float(r), t["gossip_delivered"] / t["expected"]]
                        for r, t in rate[0].params["tried"].items()
                    ]
                },
                caption="Periodic sync off: what gossip alone delivers at each rate.",
            ),
        )
        return [*propagation, *processes, *rate]

    def backfill(self) -> list[Entry]:
        """An empty node syncing the corpus' first messages from one peer."""
        config = self.config
        work = self.work / "backfill"
        work.mkdir()
        corpus = self.corpus()
        stream = self.anchor("anchor.libp2p_stream")
        return self.stage(
            "net.backfill",
            lambda: network.backfill(
                work, corpus.messages[: config.backfill_messages], stream=stream.as_anchor()
            ),
        )

    def simulation(self) -> list[Entry]:
        """The hostile-network simulation in one process."""
        echo = next((e for e in self.result.entries if e.name == "net.echo_rtt"), None)
        scenario = sim.HOSTILE_QUICK if self.quick else sim.HOSTILE
        entries, plots = self.stage(
            "sim.hostile",
            lambda: sim.hostile(self.work, scenario, echo.as_anchor() if echo else None),
        )
        self.plot(*plots)
        return entries

    def simulation_processes(self) -> list[Entry]:
        """The hostile-network simulation on daemons."""
        scenario = sim.PROCESSES_QUICK if self.quick else sim.PROCESSES
        entries, plots = self.stage("sim.process", lambda: sim.processes(self.work, scenario))
        self.plot(*plots)
        return entries

    def scale(self) -> list[Entry]:
        """The fault-free sweeps and the per-node cost fitted to them."""
        sweeps = sim.SWEEPS_QUICK if self.quick else sim.SWEEPS
        entries, plots = self.stage("sim.scale", lambda: sim.scale(self.work, sweeps))
        self.plot(*plots)
        return entries


def _leaf(exc: BaseException) -> BaseException:
    """The one exception inside nested exception groups (trio wraps a task's error)."""
    while isinstance(exc, BaseExceptionGroup) and len(exc.exceptions) == 1:
        exc = exc.exceptions[0]
    return exc


def _windows(run: BatchRun, *, points: int) -> list[list[float]]:
    """(messages held, rate over the window) for about ``points`` windows of ``run``."""
    per = max(1, len(run.sizes) // points)
    out, held = [], 0
    for start in range(0, len(run.sizes), per):
        sizes, seconds = run.sizes[start : start + per], run.seconds[start : start + per]
        held += sum(sizes)
        if sum(seconds) > 0:
            out.append([held, sum(sizes) / sum(seconds)])
    return out


STAGES: Final[list[Stage]] = [
    Stage("anchors", Runner.anchors),
    Stage("store", Runner.store),
    Stage("batch100", Runner.batch100),
    Stage("network", Runner.network),
    Stage("backfill", Runner.backfill),
    Stage("sybil", sybil.stage),
    Stage("tui", tui.stage),
    Stage("sim", Runner.simulation),
    Stage("sim-process", Runner.simulation_processes),
    Stage("scale", Runner.scale, quick=False),
]
"""Every stage, in the order a run takes them. Add new benchmarks here."""
