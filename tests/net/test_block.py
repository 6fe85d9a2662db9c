"""A block over a real network on 127.0.0.1: the blocked author's new posts reach the
blocker header-only, are not forwarded by gossip, and are not served with their bodies."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import trio

from p2psocial.core.ids import MessageId
from tests.net.harness import Peer, connect_line, net_config, running_peer


def has_body(peer: Peer, message: MessageId) -> bool:
    item = peer.node.reader.get(message)
    assert item is not None
    return item.has_body


async def test_a_blocked_authors_posts_arrive_header_only_and_go_no_further(
    tmp_path: Path,
) -> None:
    config = net_config()
    # The blocked author and the third node each keep to their one link with me: peer
    # exchange would otherwise have them dial each other, and the third node would sync
    # straight from the author.
    one_link = replace(config, network=replace(config.network, max_peers=1))
    with trio.fail_after(60):
        async with (
            running_peer(tmp_path / "me", config) as me,
            running_peer(tmp_path / "blocked", one_link) as blocked,
            running_peer(tmp_path / "third", one_link) as third,
        ):
            await connect_line([blocked, me])
            before = await blocked.node.post("said before the block")
            await me.wait_for([before.id])
            assert has_body(me, before.id)

            await me.node.block(blocked.node.me)
            after = await blocked.node.post("said after the block")
            await me.wait_for([after.id])  # by gossip: the only link is gossip-ready
            assert not has_body(me, after.id)
            assert me.net._gossip.kept_back >= 1
            info = await me.node.author(blocked.node.me)
            assert info is not None
            assert (info.head_seq, info.held) == (2, 2)  # the chain is whole

            # A third node syncs from me: it gets both posts, neither with its body.
            await connect_line([me, third])
            await third.wait_for([before.id, after.id])
            assert not has_body(third, before.id)
            assert not has_body(third, after.id)

            # Gossip: I store the blocked author's next post but do not forward it. My own
            # post, published after it, does reach the third node; theirs never does.
            later = await blocked.node.post("and again")
            await me.wait_for([later.id])
            marker = await me.node.post("a post of my own")
            await third.wait_for([marker.id])
            assert third.node.reader.get(later.id) is None
            assert me.net._gossip.kept_back >= 2

            # The blocked author still has everything, bodies and all, and the two others
            # never met.
            assert has_body(blocked, later.id)
            assert blocked.net.peer_id not in {str(p) for p in third.net.connected_peers()}
