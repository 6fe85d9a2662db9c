"""Sync between real nodes on 127.0.0.1: catch-up, partitions, follows and gaps."""

from __future__ import annotations

from pathlib import Path

import trio

from p2psocial.core.ids import AuthorId
from tests.factories import ChainBuilder
from tests.net.harness import cluster, connect_line, net_config, running_peer


async def test_a_restarted_node_catches_up_without_a_manual_step(tmp_path: Path) -> None:
    """The issue's test: a node stopped while its peer posts 1,000 messages."""
    config = net_config()
    with trio.fail_after(120):
        async with running_peer(tmp_path / "a", config) as a:
            async with running_peer(tmp_path / "b", config, peers=[a.addr]) as b:
                await b.wait_connected(1)
                first = await a.node.post("before b stops")
                await b.wait_for([first.id])
            # b is stopped; a keeps posting.
            ids = [(await a.node.post(f"while b was away {i}")).id for i in range(1000)]
            async with running_peer(tmp_path / "b", config, peers=[a.addr]) as b:
                await b.wait_for(ids)
                assert b.message_ids() == a.message_ids()


async def test_partitions_converge_when_healed(tmp_path: Path) -> None:
    """Five nodes in two groups keep posting; after the split heals all hold the same set."""
    with trio.fail_after(90):
        async with cluster(tmp_path, 5) as peers:
            left, right = peers[:3], peers[3:]
            await connect_line(left)
            await connect_line(right)
            for round_ in range(5):
                for peer in peers:
                    await peer.node.post(f"round {round_} from {peer.home.name}")
            union = set().union(*(p.message_ids() for p in peers))
            assert len(union) == 25
            await left[-1].net.connect(right[0].addr)
            for peer in peers:
                await peer.net.wait_until(lambda peer=peer: peer.message_ids() == union)


async def test_a_new_follow_fetches_that_authors_history(tmp_path: Path) -> None:
    with trio.fail_after(60):
        async with cluster(tmp_path, 2) as (a, b):
            history = [(await a.node.post(f"old post {i}")).id for i in range(30)]
            await b.net.connect(a.addr)
            await b.wait_for(history)  # the connect-time sync
            more = [(await a.node.post(f"newer post {i}")).id for i in range(5)]
            await b.node.follow(a.node.me)
            await b.wait_for(more)
            assert [i.id for i in await b.node.timeline("home", limit=5)] == list(reversed(more))


async def test_a_gap_seen_in_gossip_is_repaired_by_sync(tmp_path: Path) -> None:
    """A gossiped message whose predecessors are missing is stored, then its chain filled."""
    alice = ChainBuilder(11)
    alice.extend(20)
    with trio.fail_after(60):
        async with cluster(tmp_path, 2) as (a, b):
            # a holds all of alice's chain; b only its start.
            await a.node.ingest(alice.wire(), source="import")
            await b.node.ingest(alice.wire()[:3], source="import")
            await connect_line([a, b])
            await b.net.wait_until(lambda: b.message_ids() >= a.message_ids())
            info = await b.node.author(AuthorId(alice.author.raw))
            assert info is not None
            assert (info.head_seq, info.held) == (20, 20)


async def test_a_restarted_node_redials_the_peers_it_remembers(tmp_path: Path) -> None:
    config = net_config()
    with trio.fail_after(60):
        async with running_peer(tmp_path / "a", config) as a:
            async with running_peer(tmp_path / "b", config) as b:
                await b.net.connect(a.addr)
                await b.wait_connected(1)
            remembered = (tmp_path / "b" / "peers.json").read_text()
            assert a.net.peer_id in remembered
            # No bootstrap peer this time: b finds a in its peer book.
            async with running_peer(tmp_path / "b", config) as b:
                await b.wait_connected(1)
                assert {str(p) for p in b.net.connected_peers()} == {a.net.peer_id}
