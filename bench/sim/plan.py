"""A simulation's scenario and its seeded plan: who links to whom, and what happens when.

Everything random in a run is drawn here, from one ``random.Random(seed)``, before the run
starts: the topology, the slow nodes, when each honest post is made and by whom, when
each partition starts and heals and which nodes it cuts off, when each node restarts, and
when each byzantine node attacks. The same scenario gives the same plan, so a run can be
replayed (timing inside the network still varies from run to run: it is real).
"""

from __future__ import annotations

import random
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

AttackKind = Literal["forge", "fork", "flood", "withhold"]
ATTACKS: tuple[AttackKind, ...] = ("forge", "fork", "flood", "withhold")
MARGIN = 0.5
"""Seconds kept free around a restart: no post is planned on a node this close to it."""


@dataclass(frozen=True, slots=True)
class Scenario:
    """The size and the hostility of one simulated network.

    Attributes:
        nodes: Honest nodes (each a real node: home, store, libp2p host).
        byzantine: Byzantine nodes (raw libp2p hosts that attack, tests/net/hostile.py).
        seed: Seeds every random choice of the plan and of the nodes' gossip loss.
        seconds: Length of the hostile phase (posts, partitions, restarts, attacks).
        posts: Posts the honest owners make during it.
        authors: Extra authors, hosted round-robin by the honest nodes, each signing
            ``author_posts`` messages during the phase (the load of a larger network).
        author_posts: Messages each extra author signs.
        degree: Links each honest node starts with (a ring plus random chords).
        byzantine_links: Honest nodes each byzantine node connects to.
        gossip_drop: Share of incoming gossip each honest node drops (lossy links).
        partitions: Partitions during the phase; each cuts a random minority off.
        partition_seconds: How long each lasts.
        restarts: Node restarts during the phase (network and store closed, then reopened
            on the same home).
        restart_seconds: How long a restarted node stays down.
        slow: Slow honest nodes: each gossip message waits ``slow_delay`` before they see
            it, and they serve sync at ``slow_serve_rate`` messages per second.
        slow_delay: See ``slow``.
        slow_serve_rate: See ``slow``.
        sync_interval: Seconds between a node's background syncs with each peer.
        converge_timeout: How long after the phase the run waits for convergence.
    """

    nodes: int = 10
    byzantine: int = 2
    seed: int = 1
    seconds: float = 20.0
    posts: int = 60
    authors: int = 0
    author_posts: int = 1
    degree: int = 3
    byzantine_links: int = 2
    gossip_drop: float = 0.2
    partitions: int = 2
    partition_seconds: float = 4.0
    restarts: int = 2
    restart_seconds: float = 2.0
    slow: int = 1
    slow_delay: float = 0.2
    slow_serve_rate: float = 200.0
    sync_interval: float = 3.0
    converge_timeout: float = 90.0

    def to_json(self) -> dict[str, Any]:
        """The scenario as a JSON object."""
        return asdict(self)


@dataclass(frozen=True, slots=True)
class Post:
    """An honest node stores a new message and gossips it."""

    at: float
    node: int
    author: int | None = None
    """None: the node's owner posts; else the index of the hosted extra author."""


@dataclass(frozen=True, slots=True)
class Partition:
    """``side`` is cut off from the other honest nodes from ``at`` until ``until``."""

    at: float
    until: float
    side: frozenset[int]


@dataclass(frozen=True, slots=True)
class Restart:
    """Node ``node`` stops at ``at`` and starts again on the same home at ``until``."""

    at: float
    until: float
    node: int


@dataclass(frozen=True, slots=True)
class Attack:
    """Byzantine node ``by`` attacks at ``at``."""

    at: float
    by: int
    kind: AttackKind


Event = Post | Partition | Restart | Attack


@dataclass(frozen=True, slots=True)
class Plan:
    """Everything a run does, decided beforehand."""

    scenario: Scenario
    edges: tuple[tuple[int, int], ...]
    """Honest links (a dials b)."""
    byzantine_edges: tuple[tuple[int, int], ...]
    """(byzantine node, honest node it dials)."""
    slow: frozenset[int]
    events: tuple[Event, ...] = field(default_factory=tuple)
    """Sorted by time."""

    @property
    def hosts(self) -> dict[int, int]:
        """Extra author index -> the honest node that hosts it."""
        return {a: a % self.scenario.nodes for a in range(self.scenario.authors)}

    def summary(self) -> dict[str, Any]:
        """Counts of what the plan holds, for the report."""
        kinds: dict[str, int] = {}
        for event in self.events:
            name = type(event).__name__.lower()
            if isinstance(event, Attack):
                name = f"attack.{event.kind}"
            kinds[name] = kinds.get(name, 0) + 1
        return {"edges": len(self.edges), "slow": sorted(self.slow), "events": kinds}


def make_plan(scenario: Scenario) -> Plan:
    """Draw the plan of ``scenario`` from its seed."""
    rng = random.Random(scenario.seed)
    n = scenario.nodes
    edges = _topology(rng, n, scenario.degree)
    byzantine_edges = tuple(
        (b, h)
        for b in range(scenario.byzantine)
        for h in sorted(rng.sample(range(n), min(n, scenario.byzantine_links)))
    )
    slow = frozenset(rng.sample(range(n), min(n, scenario.slow)))
    span = scenario.seconds
    restarts = _restarts(rng, scenario)
    partitions = [
        Partition(at, at + scenario.partition_seconds, _minority(rng, n))
        for at in sorted(
            rng.uniform(0, max(0.0, span - scenario.partition_seconds))
            for _ in range(scenario.partitions)
        )
    ]
    posts = [Post(at, node) for at, node in _times(rng, scenario.posts, span, n, restarts)]
    hosts = {a: a % n for a in range(scenario.authors)}
    for author in range(scenario.authors):
        for at in sorted(rng.uniform(0, span) for _ in range(scenario.author_posts)):
            node = hosts[author]
            if not _down(node, at, restarts):
                posts.append(Post(at, node, author))
    attacks = [
        Attack(rng.uniform(0, span), b, kind) for b in range(scenario.byzantine) for kind in ATTACKS
    ]
    events: list[Event] = [*posts, *partitions, *restarts, *attacks]
    events.sort(key=lambda e: e.at)
    return Plan(scenario, edges, byzantine_edges, slow, tuple(events))


def _topology(rng: random.Random, n: int, degree: int) -> tuple[tuple[int, int], ...]:
    """A ring (so the honest nodes are connected) plus random chords up to ``degree``."""
    if n < 2:
        return ()
    edges = {(i, (i + 1) % n) for i in range(n)} if n > 2 else {(0, 1)}
    links = {i: 2 if n > 2 else 1 for i in range(n)}
    for i in rng.sample(range(n), n):
        others = [j for j in range(n) if j != i and links[j] < degree]
        rng.shuffle(others)
        for j in others:
            if links[i] >= degree:
                break
            if (i, j) in edges or (j, i) in edges:
                continue
            edges.add((i, j))
            links[i] += 1
            links[j] += 1
    return tuple(sorted(edges))


def _minority(rng: random.Random, n: int) -> frozenset[int]:
    return frozenset(rng.sample(range(n), rng.randint(1, max(1, n // 2))))


def _restarts(rng: random.Random, scenario: Scenario) -> list[Restart]:
    out: list[Restart] = []
    length = scenario.restart_seconds
    for _ in range(scenario.restarts):
        for _attempt in range(100):
            node = rng.randrange(scenario.nodes)
            at = rng.uniform(0, max(0.0, scenario.seconds - length))
            clash = any(
                r.node == node and at < r.until + MARGIN and r.at < at + length + MARGIN
                for r in out
            )
            if not clash:
                out.append(Restart(at, at + length, node))
                break
    return sorted(out, key=lambda r: r.at)


def _down(node: int, at: float, restarts: list[Restart]) -> bool:
    return any(r.node == node and r.at - MARGIN <= at <= r.until + MARGIN for r in restarts)


def _times(
    rng: random.Random, count: int, span: float, n: int, restarts: list[Restart]
) -> list[tuple[float, int]]:
    """``count`` (time, node) pairs, uniform over the span, on nodes that are up then."""
    out = []
    for at in sorted(rng.uniform(0, span) for _ in range(count)):
        up = [i for i in range(n) if not _down(i, at, restarts)]
        if up:
            out.append((at, rng.choice(up)))
    return out
