"""Many real nodes in one process, on 127.0.0.1, for network tests.

Each node has its own home, its own store, its own libp2p host with gossip and sync,
exactly as the daemon runs them; only the process is shared. mDNS is off: on this machine
multicast beyond loopback is not allowed.

:func:`net_config` turns admission's defences off (no postage asked, a strangers' budget
no test reaches) and pays a token stamp, so that tests of gossip and sync are not about
them; tests/net/test_postage.py and tests/net/test_sybil.py use the real defaults.
"""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator, Sequence
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, replace
from pathlib import Path

import trio

from p2psocial.config import DEFAULTS, Config, PostageConfig
from p2psocial.core.ids import MessageId
from p2psocial.net.network import Network
from p2psocial.node import Node, init_home, open_node
from tests.conftest import TEST_STAMP_BITS

LOOPBACK = "/ip4/127.0.0.1/tcp/0"


TEST_POSTAGE = PostageConfig(followed=0, second=0, stranger=0, stamp=TEST_STAMP_BITS)
"""Nothing asked, a token paid (see the module docstring)."""


def net_config(**sync: float) -> Config:
    """Defaults, with a slow periodic sync unless a test says otherwise, and admission's
    defences off (see the module docstring)."""
    return replace(
        DEFAULTS,
        sync=replace(DEFAULTS.sync, **({"interval": 3600.0} | sync)),
        limits=replace(DEFAULTS.limits, stranger_rate=10_000.0, stranger_burst=100_000),
        postage=TEST_POSTAGE,
    )


@dataclass
class Peer:
    """One running node of a cluster."""

    node: Node
    net: Network
    home: Path
    scope: trio.CancelScope

    @property
    def addr(self) -> str:
        return self.net.listen_addrs[0]

    def holds(self, ids: Sequence[MessageId]) -> bool:
        return all(self.node.reader.get(i) is not None for i in ids)

    async def wait_for(self, ids: Sequence[MessageId]) -> None:
        await self.net.wait_until(lambda: self.holds(ids))

    async def wait_connected(self, count: int) -> None:
        await self.net.wait_until(lambda: len(self.net.connected_peers()) >= count)

    def message_ids(self) -> set[bytes]:
        return {row[0] for row in self.node.reader.query("SELECT id FROM messages")}


@asynccontextmanager
async def running_peer(
    home: Path, config: Config, peers: Sequence[str] = ()
) -> AsyncIterator[Peer]:
    """Open a node on ``home`` and run its network until the block exits.

    The network runs in a nursery inside the open node, as the daemon runs it, so that it
    has stopped (and no worker thread still queries the store) before the node closes.
    """
    if not (home / "identity.json").exists():
        init_home(home, passphrase=None)
    async with open_node(home, config=config) as node, trio.open_nursery() as nursery:
        net = Network(node, config, listen=[LOOPBACK], peers=peers, mdns=False)
        await nursery.start(net.run)
        try:
            yield Peer(node, net, home, nursery.cancel_scope)
        finally:
            nursery.cancel_scope.cancel()


@asynccontextmanager
async def cluster(
    tmp_path: Path, count: int, *, config: Config | None = None
) -> AsyncIterator[list[Peer]]:
    """``count`` running nodes, not yet connected to each other."""
    config = config or net_config()
    async with AsyncExitStack() as stack:
        peers = [
            await stack.enter_async_context(running_peer(tmp_path / f"node{i}", config))
            for i in range(count)
        ]
        yield peers


async def connect_line(peers: Sequence[Peer]) -> None:
    """Connect each peer to the next: 0-1-2-...; waits for gossip subscriptions too."""
    for a, b in itertools.pairwise(peers):
        await a.net.connect(b.addr)
    for a, b in itertools.pairwise(peers):
        await a.net.wait_for_gossip_peer(b.net.peer_id)
        await b.net.wait_for_gossip_peer(a.net.peer_id)
