"""Gossip between real nodes on 127.0.0.1."""

from __future__ import annotations

from pathlib import Path

import trio

from tests.net.harness import cluster, connect_line


async def test_a_post_reaches_every_node_along_a_line(tmp_path: Path) -> None:
    with trio.fail_after(30):
        async with cluster(tmp_path, 3) as peers:
            await connect_line(peers)
            message = await peers[0].node.post("hello over gossip")
            for peer in peers[1:]:
                await peer.wait_for([message.id])
            reply = await peers[2].node.reply(message.id, "hello back")
            await peers[0].wait_for([reply.id])


async def test_status_learns_which_peers_hold_my_latest_message(tmp_path: Path) -> None:
    with trio.fail_after(30):
        async with cluster(tmp_path, 2) as (a, b):
            await connect_line([a, b])
            message = await a.node.post("do you have it?")
            await b.wait_for([message.id])

            def b_holds_it() -> bool:
                peers = a.net.peers()
                return len(peers) == 1 and peers[0].holds_my_latest is True

            await a.net.wait_until(b_holds_it)
            assert a.net.status().to_json()["peers_holding_my_latest"] == 1
