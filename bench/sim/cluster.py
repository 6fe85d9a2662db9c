"""The hostile-network simulation in one process: real nodes, real hosts, a bad network.

Each honest node is what the daemon runs: its own home, store, libp2p host (TCP on
127.0.0.1, Noise, yamux), gossipsub and sync, with mDNS off. What makes the network hostile
goes through :class:`p2psocial.net.faults.Faults` (lost and delayed gossip, partitions),
the configuration (slow sync serving), real restarts (the node's network and store are
closed and reopened on the same home) and byzantine nodes (:mod:`bench.sim.byzantine`).

A run: start the honest nodes and link them as the plan says, connect the byzantine
nodes, then play the plan's events in time (posts, partitions, restarts, attacks). When
the last event is over, wait until every honest node holds the same messages and every
message an honest node acknowledged (``Node.post`` returned) is held by all of them.

Nodes find each other again after a partition or a restart by themselves: the
simulation never redials for them.
"""

from __future__ import annotations

import logging
import sys
import time
from collections.abc import Sequence
from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

import trio
from libp2p.peer.id import ID

from p2psocial.config import CONFIG_FILENAME, DEFAULTS, load_config
from p2psocial.net.faults import Faults
from p2psocial.net.network import Network
from p2psocial.node import NewMessage, Node, init_home, open_node
from p2psocial.store.store import Outcome
from tests.factories import ChainBuilder
from tests.net.hostile import running_hostile

from .byzantine import Byzantine
from .meter import ByteMeter, CpuByNode
from .plan import Attack, Partition, Plan, Post, Restart
from .settings import sim_toml

if TYPE_CHECKING:
    from trio_typing import TaskStatus

LOOPBACK: Final = "/ip4/127.0.0.1/tcp/0"
SETUP_TIMEOUT: Final = 60.0
CHECK_EVERY: Final = 0.25
AUTHOR_SEED_BASE: Final = 5_000_000

log = logging.getLogger(__name__)


@dataclass
class NodeReport:
    """What one honest node ended with, and what it cost (from the start of the plan)."""

    index: int
    held: int
    missing_acked: int
    bytes_sent: int
    bytes_received: int
    connections: int
    cpu_main_s: float
    gossip_dropped: int
    slow: bool
    restarts: int

    def to_json(self) -> dict[str, Any]:
        """As a JSON object."""
        return {k: round(v, 3) if isinstance(v, float) else v for k, v in vars(self).items()}


@dataclass
class SimResult:
    """The outcome of one run."""

    plan: Plan
    converged: bool
    converge_s: float | None
    """From the end of the last event until every honest node agreed (None: never)."""
    phase_s: float
    acked: int
    lost: int
    """Acknowledged messages missing from some honest node, summed over nodes (must be 0)."""
    agreed: int
    """Messages in the set the honest nodes agree on (forked seqs aside)."""
    forged_held: int
    """Invalid messages held by some honest node, summed over nodes (must be 0)."""
    forks: int
    fork_evidence_nodes: list[int]
    """Per forked (author, seq): how many honest nodes hold both versions."""
    nodes: list[NodeReport]
    latencies: list[float]
    """Seconds from acknowledgement to arrival, per (honest node, message) pair."""
    events_missed: int
    process_cpu_s: float
    wall_s: float
    posts_skipped: int = 0
    byzantine: list[dict[str, Any]] = field(default_factory=list)
    trace: list[tuple[float, int]] = field(default_factory=list)
    """(seconds after the last event, copies still missing over all honest nodes)."""

    @property
    def bytes_per_node(self) -> float:
        """Mean bytes sent plus received per honest node."""
        return sum(n.bytes_sent + n.bytes_received for n in self.nodes) / len(self.nodes)

    @property
    def cpu_per_node(self) -> float:
        """The process's CPU seconds (all threads) over the honest nodes."""
        return self.process_cpu_s / len(self.nodes)

    def to_json(self, *, latencies: bool = False) -> dict[str, Any]:
        """As a JSON object (the latency samples only if asked)."""
        out: dict[str, Any] = {
            "scenario": self.plan.scenario.to_json(),
            "plan": self.plan.summary(),
            "converged": self.converged,
            "converge_s": None if self.converge_s is None else round(self.converge_s, 3),
            "phase_s": round(self.phase_s, 3),
            "acked": self.acked,
            "lost": self.lost,
            "agreed": self.agreed,
            "forged_held": self.forged_held,
            "forks": self.forks,
            "fork_evidence_nodes": self.fork_evidence_nodes,
            "bytes_per_node": round(self.bytes_per_node),
            "cpu_per_node_s": round(self.cpu_per_node, 3),
            "process_cpu_s": round(self.process_cpu_s, 3),
            "wall_s": round(self.wall_s, 3),
            "events_missed": self.events_missed,
            "posts_skipped": self.posts_skipped,
            "nodes": [n.to_json() for n in self.nodes],
            "byzantine": self.byzantine,
            "trace": [[round(t, 2), m] for t, m in self.trace],
        }
        if latencies:
            out["latencies_s"] = [round(x, 4) for x in self.latencies]
        return out


Row = tuple[bytes, bytes, int]
"""(message id, author key, seq) of a message or a piece of fork evidence a node holds."""

HELD_SQL: Final = (
    "SELECT m.id, a.key, m.seq FROM messages m JOIN authors a ON a.rowid = m.author"
    " UNION ALL SELECT f.id, a.key, f.seq FROM forks f JOIN authors a ON a.rowid = f.author"
)


def agreement(rows: Sequence[Sequence[Row]]) -> tuple[list[set[bytes]], set[tuple[bytes, int]]]:
    """What each node holds, for comparing: its ids, less both versions of any (author,
    seq) for which some node holds two (which one a node saw first may differ, by design);
    and those forked (author, seq) pairs."""
    versions: dict[tuple[bytes, int], set[bytes]] = {}
    for node in rows:
        for mid, key, seq in node:
            versions.setdefault((key, seq), set()).add(mid)
    forked = {slot for slot, ids in versions.items() if len(ids) > 1}
    core = [{mid for mid, key, seq in node if (key, seq) not in forked} for node in rows]
    return core, forked


def evidence_spread(rows: Sequence[Sequence[Row]], forked: set[tuple[bytes, int]]) -> list[int]:
    """For each forked (author, seq): how many nodes hold both versions."""
    return [
        sum(1 for node in rows if len({r[0] for r in node if (r[1], r[2]) == slot}) > 1)
        for slot in sorted(forked)
    ]


class _Slot:
    """One honest node's home, faults and meters, across its restarts."""

    def __init__(self, sim: _Sim, index: int) -> None:
        self.sim = sim
        self.index = index
        self.home = sim.work / f"node{index}"
        self.slow = index in sim.plan.slow
        s = sim.plan.scenario
        self.faults = Faults(
            gossip_drop=s.gossip_drop,
            gossip_delay=s.slow_delay if self.slow else 0.0,
            seed=s.seed * 1000 + index,
        )
        self.serve_rate = s.slow_serve_rate if self.slow else None
        self.meter = ByteMeter()
        self.node: Node | None = None
        self.net: Network | None = None
        self.peer_id = ""
        self.restarts = 0
        self._scope: trio.CancelScope | None = None
        self._done = trio.Event()

    async def start(self, nursery: trio.Nursery) -> None:
        await nursery.start(self._life)

    async def stop(self) -> None:
        if self._scope is not None:
            self._scope.cancel()
            await self._done.wait()

    async def _life(self, task_status: TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        self.sim.cpu.own(self.index)
        self._done = trio.Event()
        if not (self.home / "identity.json").exists():
            init_home(self.home, passphrase=None)
            (self.home / CONFIG_FILENAME).write_text(
                sim_toml(
                    sync_interval=self.sim.plan.scenario.sync_interval, serve_rate=self.serve_rate
                )
            )
        config = load_config(self.home)
        try:
            with trio.CancelScope() as scope:
                self._scope = scope
                async with open_node(self.home) as node, trio.open_nursery() as inner:
                    net = Network(
                        node,
                        config,
                        listen=[LOOPBACK],
                        peers=(),
                        mdns=False,
                        faults=self.faults,
                    )
                    self.meter.attach(net)
                    await inner.start(net.run)
                    await inner.start(self.sim.record_arrivals, self.index, node)
                    self.node, self.net, self.peer_id = node, net, net.peer_id
                    task_status.started()
                    await trio.sleep_forever()
        finally:
            self.node = self.net = None
            self._scope = None
            self._done.set()

    def rows(self) -> list[Row]:
        """Every message and every piece of fork evidence the node holds."""
        assert self.node is not None
        return [(bytes(r[0]), bytes(r[1]), int(r[2])) for r in self.node.reader.query(HELD_SQL)]


class _Sim:
    def __init__(self, plan: Plan, work: Path, *, quiet: bool, cpu_by_node: bool) -> None:
        self._lives: trio.Nursery | None = None
        self.cpu_by_node = cpu_by_node
        self.plan = plan
        self.work = work
        self.quiet = quiet
        self.cpu = CpuByNode()
        self.slots = [_Slot(self, i) for i in range(plan.scenario.nodes)]
        self.authors = {
            a: ChainBuilder(AUTHOR_SEED_BASE + plan.scenario.seed * 10_000 + a)
            for a in range(plan.scenario.authors)
        }
        self.acked: dict[bytes, float] = {}
        self.arrivals: list[dict[bytes, float]] = [{} for _ in self.slots]
        self.events_missed = 0
        self.posts_skipped = 0
        self.byzantine: list[Byzantine] = []
        self.active: list[Partition] = []
        self.trace: list[tuple[float, int]] = []

    def say(self, text: str) -> None:
        if not self.quiet:
            print(f"  [sim] {text}", file=sys.stderr, flush=True)

    async def record_arrivals(
        self, index: int, node: Node, task_status: TaskStatus[None] = trio.TASK_STATUS_IGNORED
    ) -> None:
        seen = self.arrivals[index]
        async with node.subscribe() as events:
            task_status.started()
            async for event in events:
                if isinstance(event, NewMessage):
                    if event.source != "local":
                        seen.setdefault(event.message.id.raw, time.perf_counter())
                else:
                    self.events_missed += event.count

    # --- running ---------------------------------------------------------------------------

    async def run(self) -> SimResult:
        started = time.perf_counter()
        if self.cpu_by_node:
            trio.lowlevel.add_instrument(self.cpu)
        try:
            async with trio.open_nursery() as lives, AsyncExitStack() as stack:
                self._lives = lives
                for slot in self.slots:
                    await slot.start(lives)
                await self._link()
                await self._connect_byzantine(stack, lives)
                result = await self._play(started)
                for slot in self.slots:
                    await slot.stop()
                lives.cancel_scope.cancel()
        finally:
            if self.cpu_by_node:
                trio.lowlevel.remove_instrument(self.cpu)
        return result

    async def _link(self) -> None:
        with trio.fail_after(SETUP_TIMEOUT):
            for a, b in self.plan.edges:
                net_a, net_b = self._net(a), self._net(b)
                await net_a.connect(net_b.listen_addrs[0])
            for a, b in self.plan.edges:
                await self._net(a).wait_for_gossip_peer(self.slots[b].peer_id, SETUP_TIMEOUT)
                await self._net(b).wait_for_gossip_peer(self.slots[a].peer_id, SETUP_TIMEOUT)
        self.say(f"{len(self.slots)} nodes linked by {len(self.plan.edges)} edges")

    async def _connect_byzantine(self, stack: AsyncExitStack, nursery: trio.Nursery) -> None:
        for index in range(self.plan.scenario.byzantine):
            peer = await stack.enter_async_context(running_hostile(nursery))
            byzantine = Byzantine(index, peer, self.plan.scenario.seed)
            byzantine.lie_in_sync()
            with trio.fail_after(SETUP_TIMEOUT):
                for b, honest in self.plan.byzantine_edges:
                    if b == index:
                        victim = await peer.connect(self._net(honest).listen_addrs[0])
                        await peer.wait_for_gossip(victim)
                        byzantine.victims.append(victim)
            self.byzantine.append(byzantine)

    def _net(self, index: int) -> Network:
        net = self.slots[index].net
        assert net is not None, f"node {index} is not running"
        return net

    async def _play(self, started: float) -> SimResult:
        plan = self.plan
        before = {s.index: s.meter.snapshot() for s in self.slots}
        cpu_before = dict(self.cpu.seconds)
        process_before = time.process_time()
        t0 = time.perf_counter()
        self.say(f"playing {len(plan.events)} events over {plan.scenario.seconds:g} s")
        async with trio.open_nursery() as background:
            for number, event in enumerate(plan.events):
                await trio.sleep_until(_trio_time(t0 + event.at))
                if isinstance(event, Post):
                    await self._post(event, number)
                elif isinstance(event, Partition):
                    background.start_soon(self._partition, event, t0)
                elif isinstance(event, Restart):
                    background.start_soon(self._restart, event, t0)
                elif isinstance(event, Attack):
                    background.start_soon(
                        self.byzantine[event.by].attack, event.kind, DEFAULTS.limits.author_burst
                    )
        ended = time.perf_counter()
        phase = ended - t0
        self.say(f"events over after {phase:.1f} s; waiting for convergence")
        converged = await self._converge(plan.scenario.converge_timeout)
        converge_s = time.perf_counter() - ended if converged else None
        self.say(
            f"converged in {converge_s:.1f} s" if converge_s is not None else "did NOT converge"
        )
        return self._result(
            converged=converged,
            converge_s=converge_s,
            phase=phase,
            before=before,
            cpu_before=cpu_before,
            process_cpu=time.process_time() - process_before,
            wall=time.perf_counter() - started,
        )

    async def _post(self, event: Post, number: int) -> None:
        slot = self.slots[event.node]
        node = slot.node
        if node is None:  # restarted later than planned: the plan keeps a margin
            self.posts_skipped += 1
            return
        if event.author is None:
            message = await node.post(f"sim post {number} by node {event.node}")
        else:
            message = self.authors[event.author].post(f"sim author {event.author} post {number}")
            [result] = await node.ingest([message], source="local")
            if result.outcome is not Outcome.ACCEPTED:
                raise RuntimeError(f"node {event.node} refused its own author's message")
        self.acked[message.id.raw] = time.perf_counter()

    async def _partition(self, event: Partition, t0: float) -> None:
        self.active.append(event)
        await self._apply_partitions()
        self.say(f"partition: {sorted(event.side)} cut off for {event.until - event.at:g} s")
        await trio.sleep_until(_trio_time(t0 + event.until))
        self.active.remove(event)
        await self._apply_partitions()

    async def _apply_partitions(self) -> None:
        everyone = set(range(len(self.slots)))
        cut: dict[int, set[int]] = {i: set() for i in everyone}
        for partition in self.active:
            other = everyone - partition.side
            for a in partition.side:
                cut[a] |= other
            for b in other:
                cut[b] |= partition.side
        for slot in self.slots:
            slot.faults.refuse = {self.slots[j].peer_id for j in cut[slot.index]}
        for slot in self.slots:
            net = slot.net
            if net is None:
                continue
            connected = set(net.connected_peers())
            for j in cut[slot.index]:
                peer = ID.from_base58(self.slots[j].peer_id)
                if peer in connected:
                    await net._host.disconnect(peer)

    async def _restart(self, event: Restart, t0: float) -> None:
        slot = self.slots[event.node]
        await slot.stop()
        self.say(f"node {event.node} stopped for {event.until - event.at:g} s")
        await trio.sleep_until(_trio_time(t0 + event.until))
        assert self._lives is not None
        await slot.start(self._lives)
        slot.restarts += 1

    # --- the end -------------------------------------------------------------------------------

    def _views(self) -> tuple[list[set[bytes]], set[tuple[bytes, int]], list[list[Row]]]:
        rows = [slot.rows() for slot in self.slots]
        core, forked = agreement(rows)
        return core, forked, rows

    def _agreed(self, since: float) -> bool:
        if any(slot.node is None for slot in self.slots):
            return False
        core, _, _ = self._views()
        union = set().union(*core) | set(self.acked)
        missing = sum(len(union - c) for c in core)
        self.trace.append((time.perf_counter() - since, missing))
        return missing == 0

    async def _converge(self, timeout: float) -> bool:
        since = time.perf_counter()
        with trio.move_on_after(timeout):
            while not self._agreed(since):
                await trio.sleep(CHECK_EVERY)
            return True
        return False

    def _result(
        self,
        *,
        converged: bool,
        converge_s: float | None,
        phase: float,
        before: dict[int, tuple[int, int]],
        cpu_before: dict[int, float],
        process_cpu: float,
        wall: float,
    ) -> SimResult:
        core, forked, rows = self._views()
        acked = set(self.acked)
        held = [{r[0] for r in node} for node in rows]
        forged = {raw for b in self.byzantine for raw in b.forged}
        evidence = evidence_spread(rows, forked)
        reports = []
        for slot, ids in zip(self.slots, held, strict=True):
            sent0, received0 = before[slot.index]
            reports.append(
                NodeReport(
                    index=slot.index,
                    held=len(ids),
                    missing_acked=len(acked - ids),
                    bytes_sent=slot.meter.sent - sent0,
                    bytes_received=slot.meter.received - received0,
                    connections=slot.meter.connections,
                    cpu_main_s=self.cpu.seconds.get(slot.index, 0.0)
                    - cpu_before.get(slot.index, 0.0),
                    gossip_dropped=slot.faults.dropped,
                    slow=slot.slow,
                    restarts=slot.restarts,
                )
            )
        latencies = [
            at[mid] - ack
            for at in self.arrivals
            for mid, ack in self.acked.items()
            if mid in at and at[mid] >= ack
        ]
        largest = max(core, key=len) if core else set()
        return SimResult(
            plan=self.plan,
            converged=converged,
            converge_s=converge_s,
            phase_s=phase,
            acked=len(acked),
            lost=sum(r.missing_acked for r in reports),
            agreed=len(largest),
            forged_held=sum(len(forged & ids) for ids in held),
            forks=len(forked),
            fork_evidence_nodes=evidence,
            nodes=reports,
            latencies=latencies,
            events_missed=self.events_missed,
            process_cpu_s=process_cpu,
            wall_s=wall,
            posts_skipped=self.posts_skipped,
            trace=self.trace,
            byzantine=[
                {
                    "index": b.index,
                    "published": b.published,
                    "forged": len(b.forged),
                    "still_connected_to": sum(
                        1
                        for s in self.slots
                        if s.net is not None and b.peer.peer_id in s.net.connected_peers()
                    ),
                }
                for b in self.byzantine
            ],
        )


def _trio_time(perf: float) -> float:
    """A ``time.perf_counter`` instant as a ``trio.current_time`` one."""
    return trio.current_time() + (perf - time.perf_counter())


async def simulate(
    plan: Plan, work: Path, *, quiet: bool = False, cpu_by_node: bool = False
) -> SimResult:
    """Run ``plan`` with homes under ``work`` (which must exist); inside ``trio.run``.

    Args:
        plan: What to do.
        work: Where the homes go.
        quiet: Say nothing on stderr.
        cpu_by_node: Charge main-thread CPU to nodes by task (a trio instrument; it costs
            about a tenth more CPU, so it is off unless asked for).
    """
    sim = _Sim(plan, work, quiet=quiet, cpu_by_node=cpu_by_node)
    return await sim.run()


def run_simulation(
    plan: Plan, work: Path, *, quiet: bool = False, cpu_by_node: bool = False
) -> SimResult:
    """Run ``plan`` in a fresh trio run (see :func:`simulate`)."""
    work.mkdir(parents=True, exist_ok=True)
    return trio.run(partial(simulate, quiet=quiet, cpu_by_node=cpu_by_node), plan, work)


__all__ = ["NodeReport", "SimResult", "run_simulation", "simulate"]
