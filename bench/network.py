"""Network figures: gossip propagation, the publish rate without loss, backfill, equal sync.

Every node listens on 127.0.0.1 only and mDNS is off (``mdns=False``, ``--no-mdns``):
multicast beyond loopback is not allowed on the benchmark machine. Every wait is bounded.

- ``net.echo_rtt``: the anchor, a 4-byte write and read back on one libp2p stream between
  two of the in-process hosts (median of repeated round trips);
- ``net.propagation.*``: posts published from one of 10 in-process nodes joined in a ring
  with chords, each post's arrival time at every other node (``Node.subscribe``);
- ``net.process.*``: three ``p2psocial node`` processes in a line a-b-c, from
  ``p2psocial post`` on a returning to the post being in c's index (polled read-only);
- ``net.max_rate``: the highest paced publish rate one node sustains to 2 peers with every
  message delivered by gossip alone (periodic sync off, publishing after the connect-time
  sync);
- ``net.backfill.*``: an empty node syncing a corpus from one peer, beside the local
  ``Store.ingest`` rate of the same messages (batches of 512), and in MB/s beside a raw
  libp2p stream;
- ``net.sync_equal.*``: one sync session between two equal stores, in process
  (``SyncClient`` against ``answer``): round trips and bytes.
"""

from __future__ import annotations

import os
import shutil
import signal
import sqlite3
import statistics
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import AsyncExitStack, ExitStack, asynccontextmanager, contextmanager
from dataclasses import dataclass, replace
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

import trio
from libp2p.custom_types import TProtocol
from libp2p.peer.id import ID

from p2psocial.config import CONFIG_FILENAME, DEFAULTS, Config
from p2psocial.core import sync as proto
from p2psocial.core.ids import MessageId
from p2psocial.net.network import Network
from p2psocial.node import NewMessage, Node, init_home, open_node
from p2psocial.store.store import Store

from .report import Anchor, Entry, Target
from .sim.settings import open_admission, sim_toml
from .timing import Latency

if TYPE_CHECKING:
    # libp2p pulls in trio-typing, whose stubs shadow trio's own types for mypy.
    from trio_typing import TaskStatus

LOOPBACK: Final = "/ip4/127.0.0.1/tcp/0"
ECHO_PROTOCOL: Final = TProtocol("/p2psocial-bench/echo/1")
ECHO_ROUNDS: Final = 200
SETUP_TIMEOUT: Final = 60.0
GRACE_S: Final = 5.0
"""How long after the last publish the propagation run waits for stragglers."""
RATE_GRACE_S: Final = 2.0
"""The max-rate test window: the publishing time plus this."""
LOCAL_BATCH: Final = 512
POLL_S: Final = 0.01
PROPAGATION_TARGET: Final = Target("<=", 1000.0, unit="ms", note="every node within a second")
DELIVERY_TARGET: Final = Target(">=", 1.0)
BACKFILL_TARGET: Final = Target("<=", 20.0, unit="s")
ROUND_TRIP_TARGET: Final = Target("<=", 1.0)


def bench_config(*, publish_rate: float = 20.0, author_rate: float = 2.0) -> Config:
    """Defaults with periodic sync off (1 h): what arrives within a run came by gossip,
    by the connect-time sync or by a gap-triggered one. Admission's postage is off, as in
    the network tests (bench/sim/settings.py): these figures are about the network."""
    return open_admission(
        replace(
            DEFAULTS,
            sync=replace(DEFAULTS.sync, interval=3600.0),
            gossip=replace(DEFAULTS.gossip, publish_rate=publish_rate),
            limits=replace(
                DEFAULTS.limits,
                author_rate=author_rate,
                author_burst=max(60, int(author_rate * 2)),
            ),
        )
    )


# --- in-process nodes (as tests/net/harness.py runs them) ---------------------------------


@dataclass
class Peer:
    """One running in-process node."""

    node: Node
    net: Network
    scope: trio.CancelScope

    @property
    def addr(self) -> str:
        return self.net.listen_addrs[0]

    def count(self) -> int:
        return int(self.node.reader.query("SELECT count(*) FROM messages")[0][0])


@asynccontextmanager
async def running_peer(home: Path, config: Config) -> AsyncIterator[Peer]:
    """Open a node on ``home`` (initialised if needed) and run its network on loopback; the
    network runs inside the open node, so it has stopped before the node closes."""
    if not (home / "identity.json").exists():
        init_home(home, passphrase=None)
        # What the node pays on its own posts (the rest of the settings come from config).
        (home / CONFIG_FILENAME).write_text(sim_toml(author_rate=None))
    async with open_node(home) as node, trio.open_nursery() as nursery:
        net = Network(node, config, listen=[LOOPBACK], peers=(), mdns=False)
        await nursery.start(net.run)
        try:
            yield Peer(node, net, nursery.cancel_scope)
        finally:
            nursery.cancel_scope.cancel()


@asynccontextmanager
async def cluster(work: Path, count: int, config: Config) -> AsyncIterator[list[Peer]]:
    """``count`` running nodes, not yet connected."""
    async with AsyncExitStack() as stack:
        yield [
            await stack.enter_async_context(running_peer(work / f"node{i}", config))
            for i in range(count)
        ]


async def connect(peers: Sequence[Peer], edges: Sequence[tuple[int, int]]) -> None:
    """Dial each edge and wait until both ends are in each other's gossip mesh and the
    connect-time syncs have run."""
    with trio.fail_after(SETUP_TIMEOUT):
        for a, b in edges:
            await peers[a].net.connect(peers[b].addr)
        for a, b in edges:
            await peers[a].net.wait_for_gossip_peer(peers[b].net.peer_id, timeout=SETUP_TIMEOUT)
            await peers[b].net.wait_for_gossip_peer(peers[a].net.peer_id, timeout=SETUP_TIMEOUT)
        for a, b in edges:
            for x, y in ((a, b), (b, a)):
                await peers[x].net.wait_until(partial(_synced, peers[x], peers[y]))


def _synced(peer: Peer, other: Peer) -> bool:
    return any(s.peer_id == other.net.peer_id and s.sessions >= 1 for s in peer.net.peers())


class Arrivals:
    """When each message reached each node, from ``Node.subscribe``."""

    def __init__(self, count: int) -> None:
        self.at: list[dict[MessageId, float]] = [{} for _ in range(count)]
        self.missed = 0

    async def record(
        self, index: int, node: Node, task_status: TaskStatus[None] = trio.TASK_STATUS_IGNORED
    ) -> None:
        async with node.subscribe() as events:
            task_status.started()
            async for event in events:
                if isinstance(event, NewMessage):
                    if event.source == "network":
                        self.at[index].setdefault(event.message.id, time.perf_counter())
                else:
                    self.missed += event.count


async def _paced_posts(node: Node, count: int, rate: float, tag: str) -> dict[MessageId, float]:
    """Post ``count`` messages at ``rate`` per second; returns when each was stored."""
    sent: dict[MessageId, float] = {}
    started = time.perf_counter()
    for i in range(count):
        delay = started + i / rate - time.perf_counter()
        if delay > 0:
            await trio.sleep(delay)
        message = await node.post(f"bench {tag} post {i}: propagation across the mesh")
        sent[message.id] = time.perf_counter()
    return sent


# --- the anchor: a 4-byte echo on one stream ---------------------------------------------


async def _echo_rtt(client: Peer, server: Peer) -> list[float]:
    async def echo(stream: Any) -> None:
        try:
            while data := await stream.read(4):
                await stream.write(data)
        finally:
            await stream.close()

    server.net._host.set_stream_handler(ECHO_PROTOCOL, echo)
    host = client.net._host
    rtts = []
    with trio.fail_after(SETUP_TIMEOUT):
        stream = await host.new_stream(ID.from_base58(server.net.peer_id), [ECHO_PROTOCOL])
        try:
            for i in range(ECHO_ROUNDS):
                payload = i.to_bytes(4, "big")
                started = time.perf_counter()
                await stream.write(payload)
                got = b""
                while len(got) < 4:
                    chunk = await stream.read(4 - len(got))
                    if not chunk:
                        raise RuntimeError("echo stream closed")
                    got += chunk
                rtts.append(time.perf_counter() - started)
        finally:
            await stream.close()
    return rtts[10:]  # the first round trips warm the stream up


# --- 1. propagation across 10 in-process nodes --------------------------------------------


def mesh_edges(count: int) -> list[tuple[int, int]]:
    """A ring plus chords across it (each node to the one opposite, for half the ring)."""
    ring = [(i, (i + 1) % count) for i in range(count)]
    chords = [(i, i + count // 2) for i in range(0, count // 2, 2)]
    return ring + chords


def propagation(
    work: Path, *, nodes: int, posts: int, rate: float
) -> tuple[list[Entry], list[float]]:
    """Publish ``posts`` from node 0 at ``rate``/s; arrival latency and delivery at the rest,
    and every latency sample (seconds, for the report's plot)."""
    return trio.run(_propagation, work, nodes, posts, rate)


async def _propagation(
    work: Path, nodes: int, posts: int, rate: float
) -> tuple[list[Entry], list[float]]:
    config = bench_config(publish_rate=max(20.0, rate * 2), author_rate=rate * 2)
    edges = mesh_edges(nodes)
    async with cluster(work / "propagation", nodes, config) as peers:
        await connect(peers, edges)
        rtts = await _echo_rtt(peers[0], peers[1])
        arrivals = Arrivals(nodes)
        async with trio.open_nursery() as recorders:
            for i in range(1, nodes):
                await recorders.start(arrivals.record, i, peers[i].node)
            sent = await _paced_posts(peers[0].node, posts, rate, "propagation")
            expected = posts * (nodes - 1)
            with trio.move_on_after(GRACE_S):
                while sum(len(a) for a in arrivals.at) < expected:
                    await trio.sleep(0.05)
            recorders.cancel_scope.cancel()
        syncs = sum(s.messages_received for p in peers for s in p.net.peers())
    latencies = [at[mid] - sent[mid] for at in arrivals.at[1:] for mid in sent if mid in at]
    delivered = len(latencies)
    anchor = Entry(
        "net.echo_rtt",
        statistics.median(rtts) * 1000,
        "ms",
        params={"payload_bytes": 4, "round_trips": len(rtts), "p99_ms": _p(rtts, 0.99) * 1000},
    )
    params = {
        "nodes": nodes,
        "edges": len(edges),
        "posts": posts,
        "rate_per_s": rate,
        "grace_s": GRACE_S,
        "delivered": delivered,
        "expected": expected,
        "messages_via_sync": syncs,
        "events_missed": arrivals.missed,
        "author_rate_limit": config.limits.author_rate,
    }
    lat = Latency.of(latencies) if latencies else None
    echo = anchor.as_anchor()
    return [
        anchor,
        Entry(
            "net.propagation.delivery",
            delivered / expected,
            "",
            target=DELIVERY_TARGET,
            params=params,
        ),
        Entry("net.propagation.p50", lat.p50 if lat else float("nan"), "ms", anchor=echo),
        Entry(
            "net.propagation.p99",
            lat.p99 if lat else float("nan"),
            "ms",
            anchor=echo,
            target=PROPAGATION_TARGET,
        ),
    ], latencies


def _p(values: Sequence[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


# --- 3. the highest rate published to 2 peers without loss --------------------------------


def max_rate(work: Path, *, rates: Sequence[float], seconds: float) -> list[Entry]:
    """Try each rate on a fresh 3-node star; the highest with every message delivered to
    both peers by gossip within the window."""
    tried: dict[str, Any] = {}
    best = 0.0
    for rate in rates:
        result = trio.run(_rate_run, work / f"rate{rate:g}", rate, seconds)
        tried[f"{rate:g}"] = result
        print(f"[net.max_rate] {rate:g}/s: {result}", file=sys.stderr, flush=True)
        if result["gossip_delivered"] == result["expected"]:
            best = max(best, rate)
    return [
        Entry(
            "net.max_rate",
            best,
            "msgs/s",
            params={
                "peers": 2,
                "seconds_per_rate": seconds,
                "window_grace_s": RATE_GRACE_S,
                "tried": tried,
            },
        )
    ]


async def _rate_run(work: Path, rate: float, seconds: float) -> dict[str, Any]:
    config = bench_config(publish_rate=rate, author_rate=rate * 2)
    count = round(rate * seconds)
    async with cluster(work, 3, config) as peers:
        await connect(peers, [(0, 1), (0, 2)])
        before = [p.net.status().gossip_received for p in peers]
        arrivals = Arrivals(3)
        async with trio.open_nursery() as recorders:
            for i in (1, 2):
                await recorders.start(arrivals.record, i, peers[i].node)
            started = time.perf_counter()
            sent = await _paced_posts(peers[0].node, count, rate, f"rate{rate:g}")
            publishing = time.perf_counter() - started
            deadline = started + seconds + RATE_GRACE_S
            while time.perf_counter() < deadline and any(
                len(arrivals.at[i]) < count for i in (1, 2)
            ):
                await trio.sleep(0.02)
            recorders.cancel_scope.cancel()
        gossip = [p.net.status().gossip_received - b for p, b in zip(peers, before, strict=True)]
        via_sync = sum(
            s.messages_received
            for p in peers[1:]
            for s in p.net.peers()
            if s.peer_id == peers[0].net.peer_id
        )
    late = [max(arrivals.at[i].get(m, float("inf")) for i in (1, 2)) for m in sent]
    return {
        "expected": 2 * count,
        "delivered": sum(len(arrivals.at[i]) for i in (1, 2)),
        "gossip_delivered": min(sum(gossip[1:]), 2 * count),
        "via_sync": via_sync,
        "publish_seconds": round(publishing, 2),
        "last_arrival_s": round(max(late) - started, 2) if late else None,
    }


# --- 2. three `p2psocial node` processes in a line ------------------------------------------


def _exe() -> str:
    exe = shutil.which("p2psocial", path=str(Path(sys.executable).parent))
    if exe is None:
        raise RuntimeError("the p2psocial console script is not installed in this venv")
    return exe


def _env(home: Path) -> dict[str, str]:
    return {
        "PATH": os.environ.get("PATH", ""),
        "HOME": str(home.parent),
        "LC_ALL": "C.UTF-8",
        "P2PSOCIAL_HOME": str(home),
    }


def _cli(home: Path, *args: str) -> str:
    result = subprocess.run(
        [_exe(), *args],
        env=_env(home),
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    if result.returncode != 0:
        raise RuntimeError(f"p2psocial {args[0]} failed: {result.stderr.strip()}")
    return result.stdout


@contextmanager
def _node_process(home: Path, *peers: str) -> Any:
    args = [_exe(), "node", "--listen", LOOPBACK, "--no-mdns"]
    for peer in peers:
        args += ["--peer", peer]
    with (home.parent / f"{home.name}.stderr").open("w") as log:
        process = subprocess.Popen(
            args,
            env=_env(home),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=log,
            text=True,
        )
        try:
            assert process.stdout is not None
            line = process.stdout.readline().strip()  # printed once listening
            if not line.startswith("/ip4/127.0.0.1/tcp/"):
                raise RuntimeError(f"{home.name} did not start: {line!r}")
            yield line
        finally:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
            if process.stdout is not None:
                process.stdout.close()


def _count(index: sqlite3.Connection) -> int:
    return int(index.execute("SELECT count(*) FROM messages").fetchone()[0])


def _sample(
    home: Path,
    first: sqlite3.Connection,
    last: sqlite3.Connection,
    text: str,
    timeout: float = 15.0,
) -> tuple[float, float, float, float]:
    """Run ``p2psocial post`` on a while polling a's and c's indexes every ``POLL_S``;
    returns when the CLI was called and returned, and when a and c first held the post."""
    held_a, held_c = _count(first), _count(last)
    called = time.perf_counter()
    process = subprocess.Popen(
        [_exe(), "post", text],
        env=_env(home),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    returned = on_a = on_c = None
    try:
        while on_c is None or returned is None:
            now = time.perf_counter()
            if now - called > timeout:
                raise RuntimeError(f"{text!r} did not reach c in {timeout:g} s")
            if returned is None and process.poll() is not None:
                if process.returncode != 0:
                    raise RuntimeError("p2psocial post failed")
                returned = now
            if on_a is None and _count(first) > held_a:
                on_a = now
            if on_c is None and _count(last) > held_c:
                on_c = now
            time.sleep(POLL_S)
    finally:
        if process.poll() is None:
            process.kill()
        process.wait()
    return called, returned, on_a if on_a is not None else on_c, on_c


def _wait(condition: Callable[[], bool], timeout: float, what: str, step: float = POLL_S) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise RuntimeError(f"timed out after {timeout:g} s waiting for {what}")
        time.sleep(step)


def processes(
    work: Path, *, samples: int, timeout: float = 15.0
) -> tuple[list[Entry], list[float]]:
    """``samples`` posts on a, each timed from the CLI returning to c's index holding it;
    the entries, and every a-to-c sample (seconds)."""
    homes = [work / "processes" / name for name in ("a", "b", "c")]
    for home in homes:
        home.parent.mkdir(parents=True, exist_ok=True)
        _cli(home, "init", "--no-passphrase")
        (home / CONFIG_FILENAME).write_text(sim_toml(author_rate=None))
    hops: list[float] = []
    from_call: list[float] = []
    from_return: list[float] = []
    with ExitStack() as stack:
        a = stack.enter_context(_node_process(homes[0]))
        b = stack.enter_context(_node_process(homes[1], a))
        stack.enter_context(_node_process(homes[2], b))
        indexes = [
            sqlite3.connect(f"file:{home / 'index.sqlite3'}?mode=ro", uri=True)
            for home in (homes[0], homes[2])
        ]
        for index in indexes:
            stack.callback(index.close)
        first, last = indexes
        # A first post, untimed, proves the line a-b-c carries gossip (meshes take a
        # heartbeat or two to form).
        _cli(homes[0], "post", "warm-up")
        _wait(lambda: _count(last) >= 1, SETUP_TIMEOUT, "the warm-up post on c", 0.05)
        for i in range(samples):
            times = _sample(
                homes[0], first, last, f"bench sample {i} from a, through b, to c", timeout
            )
            called, returned, on_a, on_c = times
            hops.append(on_c - on_a)
            from_call.append(on_c - called)
            from_return.append(on_c - returned)
            time.sleep(0.2)
    seconds = hops
    lat = Latency.of(seconds)
    params = {
        "processes": 3,
        "line": "a-b-c",
        "samples": len(seconds),
        "poll_ms": POLL_S * 1000,
        "measured": "in a's index -> in c's index (both polled read-only)",
        "from_cli_call_p50_ms": Latency.of(from_call).p50,
        "from_cli_return_p50_ms": Latency.of(from_return).p50,
        "from_cli_return_p99_ms": Latency.of(from_return).p99,
    }
    return [
        Entry("net.process.p50", lat.p50, "ms", params=params),
        Entry("net.process.p99", lat.p99, "ms", target=PROPAGATION_TARGET),
    ], hops


# --- 4. backfill from one peer, beside local ingest ------------------------------------------


def backfill(
    work: Path,
    messages: Sequence[bytes],
    *,
    stream: Anchor | None = None,
    timeout: float = 180.0,
) -> list[Entry]:
    """Node A holds ``messages``; an empty node B connects; time until B holds them all.
    The rate is also given in MB/s of message bytes, beside ``stream`` (a libp2p stream's
    throughput) when given."""
    home_a = work / "backfill-a"
    init_home(home_a, passphrase=None)
    store = Store.open(home_a)
    try:
        elapsed = 0.0
        for start in range(0, len(messages), LOCAL_BATCH):
            batch = messages[start : start + LOCAL_BATCH]
            began = time.perf_counter()
            store.ingest(batch, allow_gaps=True)
            elapsed += time.perf_counter() - began
        held = int(store.reader.query("SELECT count(*) FROM messages")[0][0])
    finally:
        store.close()
    local = Entry(
        "net.backfill.local_ingest",
        len(messages) / elapsed,
        "msgs/s",
        params={"messages": len(messages), "batch": LOCAL_BATCH, "held": held},
    )
    seconds, stats = trio.run(_backfill, work, held, timeout)
    rate = held / seconds
    params = {"messages": held, "timeout_s": timeout, "serve_rate": DEFAULTS.sync.serve_rate}
    mean = sum(map(len, messages)) / max(1, len(messages))
    return [
        local,
        Entry("net.backfill.seconds", seconds, "s", target=BACKFILL_TARGET, params=params | stats),
        Entry("net.backfill.rate", rate, "msgs/s", anchor=local.as_anchor()),
        Entry(
            "net.backfill.throughput",
            rate * mean / 1e6,
            "MB/s",
            anchor=stream,
            note=f"{mean:.0f} B per message",
        ),
    ]


async def _backfill(work: Path, held: int, timeout: float) -> tuple[float, dict[str, Any]]:
    config = bench_config()
    async with AsyncExitStack() as stack:
        a = await stack.enter_async_context(running_peer(work / "backfill-a", config))
        b = await stack.enter_async_context(running_peer(work / "backfill-b", config))
        started = time.perf_counter()
        await b.net.connect(a.addr)
        with trio.fail_after(timeout):
            while b.count() < held:
                await trio.sleep(0.05)
        seconds = time.perf_counter() - started
        records = [s for s in b.net.peers() if s.peer_id == a.net.peer_id]
        stats = {
            "sessions": records[0].sessions if records else 0,
            "messages_via_sync": records[0].messages_received if records else 0,
        }
        a.scope.cancel()
        b.scope.cancel()
    return seconds, stats


# --- 5. a sync between two equal stores ------------------------------------------------------


def sync_equal(store: Store, authors: int) -> list[Entry]:
    """One ``SyncClient`` session against ``answer`` on the same store's view: the two sides
    are equal by construction (the protocol sees only digests and frontiers)."""
    view = store.sync_view()
    client = proto.SyncClient(view)
    sent = received = 0
    started = time.perf_counter()
    while (request := client.next_request()) is not None:
        data = proto.encode_request(request)
        sent += len(data)
        response = proto.answer(proto.decode_request(data), view)
        frame = proto.encode_response(response)
        received += len(frame)
        if client.receive(proto.decode_response(frame, request)):
            raise RuntimeError("two equal stores exchanged messages")
    seconds = time.perf_counter() - started
    params = {
        "authors": authors,
        "bytes_sent": sent,
        "bytes_received": received,
        "ranges_equal": client.stats.ranges_equal,
        "authors_compared": client.stats.authors_compared,
        "cpu_ms": round(seconds * 1000, 2),
    }
    return [
        Entry(
            "net.sync_equal.round_trips",
            client.stats.requests,
            "",
            target=ROUND_TRIP_TARGET,
            params=params,
        ),
        Entry("net.sync_equal.bytes", sent + received, "B", params=params),
    ]


__all__ = ["backfill", "max_rate", "processes", "propagation", "sync_equal"]
