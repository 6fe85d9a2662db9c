"""Postage on a real network (127.0.0.1, mDNS off), with the default policy: nothing asked
of followed authors, 10 bits two follows away, 18 of strangers.

A refused message is neither stored nor forwarded, costs the peer that relayed it nothing,
is logged once per author and counted in status; a node's own messages carry the postage
its config says (18 bits by default), so they reach nodes whose owners do not follow it.

Showing that something did NOT happen follows tests/net/test_hostile.py: after the refused
messages a *marker* that is admitted goes the same way, and the test waits for it.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, replace
from pathlib import Path

import pytest
import trio
from libp2p.peer.id import ID

from p2psocial.config import DEFAULTS, Config
from p2psocial.core.bodies import Post
from p2psocial.core.message import Message
from p2psocial.net.gossip import TOPIC
from p2psocial.net.scoring import AdmissionScorer
from tests.factories import ChainBuilder
from tests.net.harness import Peer, connect_line, net_config, running_peer
from tests.net.hostile import HostilePeer, running_hostile

ADMISSION_LOGGER = "p2psocial.admission"


def real_config() -> Config:
    """The harness's, with admission's real defaults: the policy, the stamp, the budget."""
    return replace(net_config(), limits=DEFAULTS.limits, postage=DEFAULTS.postage)


def scorer_of(peer: Peer) -> AdmissionScorer:
    scorer = peer.net._gossipsub.scorer
    assert isinstance(scorer, AdmissionScorer)
    return scorer


def refusals(caplog: pytest.LogCaptureFixture, author: ChainBuilder) -> list[str]:
    return [
        r.getMessage()
        for r in caplog.records
        if r.name == ADMISSION_LOGGER and author.author.short in r.getMessage()
    ]


async def eventually(condition: Callable[[], bool]) -> None:
    """Wait for a condition that no event announces (a refusal being counted): re-check
    it every 10 ms. This waits for the result, not for a fixed time."""
    while not condition():
        await trio.sleep(0.01)


@dataclass
class Scene:
    victim: Peer
    """Runs the real defaults."""
    honest: Peer
    """Behind the victim; also the real defaults."""
    hostile: HostilePeer
    """Publishes whatever a test gives it, straight to the victim."""

    def hostile_stats(self) -> dict[str, float | str]:
        return scorer_of(self.victim).get_score_stats(self.hostile.peer_id, TOPIC)


@asynccontextmanager
async def scene(tmp_path: Path) -> AsyncIterator[Scene]:
    """hostile ── victim ── honest, the last two with admission's real defaults."""
    config = real_config()
    async with trio.open_nursery() as nursery:
        async with (
            running_peer(tmp_path / "victim", config) as victim,
            running_peer(tmp_path / "honest", config) as honest,
            running_hostile(nursery) as hostile,
        ):
            await connect_line([honest, victim])
            await hostile.connect(victim.addr)
            await hostile.wait_for_gossip(ID.from_base58(victim.net.peer_id))
            yield Scene(victim, honest, hostile)
        nursery.cancel_scope.cancel()


def paid(builder: ChainBuilder, text: str, bits: int) -> Message:
    message = builder.sign(Post(text), postage=bits)
    assert message.postage >= bits
    return message


def unpaid(builder: ChainBuilder, text: str, below: int) -> Message:
    message = builder.post(text)
    assert message.postage < below  # what an unstamped header happens to carry
    return message


async def test_a_stranger_pays_18_bits_or_is_refused_and_the_relay_is_not_blamed(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger=ADMISSION_LOGGER)
    stranger = ChainBuilder(700)
    cheap = [unpaid(stranger, "free ride", 18), paid(stranger, "ten bits", 10)]
    cheap.append(paid(stranger, "ten more bits", 10))
    assert all(m.postage < 18 for m in cheap)
    marker = paid(stranger, "paid in full", 18)
    with trio.fail_after(30):
        async with scene(tmp_path) as s:
            for message in [*cheap, marker]:
                await s.hostile.publish(message.to_bytes())
            await s.honest.wait_for([marker.id])
            for peer in (s.victim, s.honest):
                assert not any(peer.holds([m.id]) for m in cheap)
            stats = s.victim.net.status().admission
            assert stats.refused_postage == len(cheap)
            assert s.victim.net.status().to_json()["admission"]["refused_postage"] == len(cheap)
            # Local policy: no incident, no invalid message in the score; the marker's
            # first delivery even earned a point.
            [hostile] = [
                p for p in s.victim.net.peers() if p.peer_id == s.hostile.peer_id.to_string()
            ]
            assert hostile.incidents == 0
            assert s.hostile_stats()["invalid_messages"] == 0
            assert float(s.hostile_stats()["total_score"]) > 0
            # Logged once for this author, however many messages.
            lines = refusals(caplog, stranger)
            assert len(lines) == 1
            assert "invalid.postage" in lines[0]


async def test_own_messages_are_stamped_and_reach_nodes_that_do_not_follow_them(
    tmp_path: Path,
) -> None:
    with trio.fail_after(30):
        async with scene(tmp_path) as s:
            post = await s.victim.node.post("to whom it may concern")
            assert post.postage >= DEFAULTS.postage.stamp
            await s.honest.wait_for([post.id])
            assert s.honest.node.distance(s.victim.node.me) is None  # a stranger there


async def test_what_is_asked_follows_the_graph_as_it_changes(tmp_path: Path) -> None:
    friend, friends_friend, later = ChainBuilder(710), ChainBuilder(711), ChainBuilder(712)
    with trio.fail_after(40):
        async with scene(tmp_path) as s:
            victim = s.victim.node
            await victim.follow(friend.author)
            # The friend follows someone: that author is two hops away now.
            follow = friend.follow(friends_friend)
            await s.hostile.publish(follow.to_bytes())
            await s.victim.wait_for([follow.id])
            assert victim.distance(friends_friend.author) == 2
            free_from_friend = unpaid(friend, "no postage needed", 18)
            two_hops_unpaid = unpaid(friends_friend, "not enough", 10)
            two_hops_paid = paid(friends_friend, "ten bits", 10)
            stranger_ten = paid(later, "ten bits from a stranger", 10)
            assert stranger_ten.postage < 18
            for message in (two_hops_unpaid, stranger_ten, free_from_friend, two_hops_paid):
                await s.hostile.publish(message.to_bytes())
            await s.victim.wait_for([free_from_friend.id, two_hops_paid.id])
            assert not s.victim.holds([two_hops_unpaid.id])
            assert not s.victim.holds([stranger_ten.id])
            # Follow the stranger: what they send next is free.
            await victim.follow(later.author)
            assert victim.distance(later.author) == 1
            welcome = unpaid(later, "now followed", 18)
            await s.hostile.publish(welcome.to_bytes())
            await s.victim.wait_for([welcome.id])
            assert s.victim.net.status().admission.refused_postage == 2


async def test_sync_stores_only_what_has_paid(tmp_path: Path) -> None:
    friend, stranger = ChainBuilder(720), ChainBuilder(721)
    friends = [unpaid(friend, f"friend {i}", 18) for i in range(5)]
    free = [unpaid(stranger, "free", 18)]
    dues = [paid(stranger, f"paid {i}", 18) for i in range(2)]
    with trio.fail_after(40):
        # The keeper holds everything (its defences are off) and serves it by sync.
        async with (
            running_peer(tmp_path / "keeper", net_config()) as keeper,
            running_peer(tmp_path / "victim", real_config()) as victim,
        ):
            await keeper.node.ingest(friends + free + dues, source="network")
            assert keeper.holds([m.id for m in friends + free + dues])
            await victim.node.follow(friend.author)
            await victim.net.connect(keeper.addr)  # a sync on connect
            await victim.wait_for([m.id for m in friends + dues])
            await victim.net.wait_until(lambda: any(p.sessions for p in victim.net.peers()))
            assert not victim.holds([free[0].id])
            stats = victim.net.status().admission
            assert stats.refused_postage >= 1
            assert stats.strangers_admitted == len(dues)
            # Refusing was not the keeper's fault: no incident.
            assert all(p.incidents == 0 for p in victim.net.peers())


async def test_a_refused_message_costs_none_of_its_relays_anything_and_is_not_fetched_again(
    tmp_path: Path,
) -> None:
    """py-libp2p answers a second copy of a refused message from its validation cache, as
    invalid, without asking the validator; and it fetches a refused message again whenever
    a peer announces it (IHAVE). A refusal of local policy is kept out of that cache and its
    envelope is marked seen, so every relay is excused and nothing comes back."""
    stranger = ChainBuilder(730)
    refused = unpaid(stranger, "no postage", 18)
    with trio.fail_after(40):
        async with trio.open_nursery() as nursery:
            async with (
                running_peer(tmp_path / "victim", real_config()) as victim,
                running_peer(tmp_path / "relay-a", net_config()) as relay_a,
                running_peer(tmp_path / "relay-b", net_config()) as relay_b,
                running_hostile(nursery) as hostile,
            ):
                relays = (relay_a, relay_b)
                for relay in relays:
                    await victim.node.follow(relay.node.me)
                    await connect_line([relay, victim])
                    await hostile.connect(relay.addr)
                    await hostile.wait_for_gossip(ID.from_base58(relay.net.peer_id))
                envelope = await hostile.publish(refused.to_bytes())
                for relay in relays:
                    await relay.wait_for([refused.id])  # stored, so forwarded to the victim
                # Each relay's own post follows the copy it forwarded, on the same stream:
                # once the victim holds both, it has dealt with both copies.
                posts = [(await relay.node.post("after the refused one")).id for relay in relays]
                await victim.wait_for(posts)
                assert not victim.holds([refused.id])
                assert victim.net.status().admission.refused_postage >= 1
                assert victim.net._pubsub.seen_messages.has(envelope)
                scorer = scorer_of(victim)
                for relay in relays:
                    stats = scorer.get_score_stats(ID.from_base58(relay.net.peer_id), TOPIC)
                    assert stats["invalid_messages"] == 0
            nursery.cancel_scope.cancel()
