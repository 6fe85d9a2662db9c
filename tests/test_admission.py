"""Admission without a network: postage by follow distance, the rate limits and the
strangers' budget, follow distances kept by the node, own postage, the scorer's charges,
Global's limit on authors with no trust path, and the automated label.

Postage checks use the real defaults (0, 10 and 18 bits); only where a test needs many
paid messages does it ask less of strangers, and says so.
"""

from __future__ import annotations

import json
import logging
import math
import os
import shutil
import subprocess
import sys
import time
from dataclasses import replace
from functools import cache
from pathlib import Path

import pytest
import trio
from libp2p.peer.id import ID
from p2psocial_cli import render

from p2psocial.admission import Admission, FollowDistances, Verdict, peek
from p2psocial.config import DEFAULTS, ConfigError, LimitsConfig, PostageConfig, load_config
from p2psocial.core.bodies import Kind, Post
from p2psocial.core.ids import AuthorId
from p2psocial.core.message import Message, decode_message
from p2psocial.core.postage import PostagePolicy
from p2psocial.errors import ValidationError
from p2psocial.net.network import SCORE_PARAMS
from p2psocial.net.scoring import OVER_LIMIT_CAP, OVER_LIMIT_WEIGHT, AdmissionScorer
from p2psocial.node import Node, init_home, open_node
from p2psocial.store.queries import UNTRUSTED_PER_AUTHOR, Item
from tests.conftest import TEST_STAMP_BITS
from tests.factories import BASE_TS, ChainBuilder, header_value, message_bytes, resign

DEFAULT_POLICY = PostagePolicy()
T0 = 1000.0
"""A monotonic time to start test clocks at."""


def forge(message: Message) -> bytes:
    """``message`` with one bit of its signature flipped."""
    signed = bytearray(message.signed_header)
    signed[-1] ^= 0x01
    return message_bytes(bytes(signed), message.body_bytes)


@cache
def stranger_paid_in_full() -> Message:
    """A post that pays the default stranger postage (18 bits: ~0.1 s, made once)."""
    return ChainBuilder(77).sign(Post("paid"), postage=18)


def distances(me: AuthorId, near: dict[AuthorId, int]) -> FollowDistances:
    """Follow distances as given (the owner at 0), without an index."""

    class Fixed(FollowDistances):
        def distance(self, author: AuthorId) -> int | None:
            return 0 if author == me else near.get(author)

    return Fixed(me)


def admission(
    near: dict[AuthorId, int] | None = None,
    *,
    policy: PostagePolicy = DEFAULT_POLICY,
    **limits: float,
) -> Admission:
    me = ChainBuilder(1).author
    return Admission(distances(me, near or {}).distance, policy, replace(DEFAULTS.limits, **limits))


# --- peek -------------------------------------------------------------------------------------


def test_peek_reads_the_author_and_the_postage_a_full_decode_finds() -> None:
    builder = ChainBuilder(2)
    for message in (builder.post("free"), builder.sign(Post("x"), postage=9)):
        envelope = peek(message.to_bytes())
        assert envelope is not None
        assert envelope.author == message.author
        assert envelope.postage == message.postage
    assert builder.messages[-1].postage >= 9


@pytest.mark.parametrize(
    "data",
    [b"", b"\xff\x00garbage", b"\x82\x41\x00\xf6", b"\x01", b"\x82" + b"\x58\x20" + bytes(32)],
)
def test_peek_gives_nothing_for_what_does_not_parse(data: bytes) -> None:
    assert peek(data) is None


def test_peek_is_not_fooled_by_an_author_entry_planted_in_an_earlier_field() -> None:
    builder = ChainBuilder(4)
    message = builder.post("x")
    kind = "fauthorX " + "1234567"  # the bytes of the key "author" and its value's head
    data = resign(builder.key, header_value(message, kind=kind), message.body_bytes)
    envelope = peek(data)
    assert envelope is not None
    assert envelope.author == builder.author
    with pytest.raises(ValidationError):
        decode_message(data)  # and such a header never gets further anyway


def test_peek_leaves_an_oversized_message_to_full_validation() -> None:
    message = ChainBuilder(3).post("x" * 100)
    assert peek(message.to_bytes() + bytes(70_000)) is None


# --- postage by distance, with the defaults ---------------------------------------------------


def test_the_defaults_ask_0_bits_of_followed_10_at_two_hops_and_18_of_strangers() -> None:
    followed, second, stranger = ChainBuilder(10), ChainBuilder(11), ChainBuilder(12)
    check = admission({followed.author: 1, second.author: 2})
    free = [b.post("no postage") for b in (followed, second, stranger)]
    assert all(m.postage < 10 for m in free)  # what an unstamped header happens to have
    ten = second.sign(Post("x"), postage=10)
    ten_from_stranger = stranger.sign(Post("x"), postage=10)

    def verdict(message: Message) -> Verdict:
        envelope = peek(message.to_bytes())
        assert envelope is not None
        return check.postage(envelope, T0)

    assert verdict(free[0]) is Verdict.ADMIT
    assert verdict(free[1]) is Verdict.POSTAGE
    assert verdict(ten) is Verdict.ADMIT
    assert verdict(free[2]) is Verdict.POSTAGE
    assert verdict(ten_from_stranger) is Verdict.POSTAGE
    assert verdict(stranger_paid_in_full()) is Verdict.ADMIT
    assert check.stats().refused_postage == 3


def test_own_messages_are_never_asked_for_postage() -> None:
    me = ChainBuilder(1)
    check = admission()
    envelope = peek(me.post("mine, unstamped").to_bytes())
    assert envelope is not None
    assert envelope.postage < 18
    assert check.postage(envelope, T0) is Verdict.ADMIT


# --- rate limits and the strangers' budget ----------------------------------------------------


def test_strangers_share_one_budget_and_followed_authors_never_wait_for_it() -> None:
    friends = [ChainBuilder(100 + i) for i in range(3)]
    near = {friends[0].author: 1, friends[1].author: 1, friends[2].author: 2}
    check = admission(near, stranger_rate=1.0, stranger_burst=10)
    fresh = [ChainBuilder(1000 + i).author for i in range(50)]
    verdicts = [check.gossip(author, T0) for author in fresh]
    assert verdicts.count(Verdict.ADMIT) == 10
    assert verdicts.count(Verdict.STRANGER_BUDGET) == 40
    # The budget is spent; followed authors and those two hops away are not slowed at all.
    for friend in friends:
        assert [check.gossip(friend.author, T0) for _ in range(20)] == [Verdict.ADMIT] * 20
    # It refills at its rate: five more strangers five seconds later, not six.
    later = [check.gossip(ChainBuilder(2000 + i).author, T0 + 5.0) for i in range(6)]
    assert later.count(Verdict.ADMIT) == 5
    stats = check.stats()
    assert stats.strangers_admitted == 15
    assert stats.refused_stranger_budget == 41


def test_an_author_over_its_limit_spends_nothing_of_the_strangers_budget() -> None:
    check = admission(author_rate=2.0, author_burst=60, stranger_rate=1.0, stranger_burst=100)
    loud = ChainBuilder(300).author
    verdicts = [check.gossip(loud, T0) for _ in range(70)]
    assert verdicts == [Verdict.ADMIT] * 60 + [Verdict.AUTHOR_RATE] * 10
    others = [check.gossip(ChainBuilder(3000 + i).author, T0) for i in range(41)]
    assert others.count(Verdict.ADMIT) == 40  # 100 - 60: the refused ten took nothing
    assert check.stats().over_author_limit == 10


def test_refusals_are_logged_once_per_author_per_minute_and_all_counted(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="p2psocial.admission")
    check = admission(stranger_rate=0.001, stranger_burst=1)
    author = ChainBuilder(400).author

    def lines() -> list[str]:
        return [r.getMessage() for r in caplog.records if author.short in r.getMessage()]

    assert check.gossip(author, T0) is Verdict.ADMIT  # the one token
    for t in (0.0, 1.0, 30.0, 59.0):
        assert check.gossip(author, T0 + t) is Verdict.STRANGER_BUDGET
    assert len(lines()) == 1
    assert "gossip.stranger_budget" in lines()[0]
    assert check.gossip(author, T0 + 61.0) is Verdict.STRANGER_BUDGET
    assert len(lines()) == 2
    assert check.stats().refused_stranger_budget == 5


# --- a sync batch ------------------------------------------------------------------------------


def test_a_sync_batch_keeps_what_is_paid_for_and_within_the_strangers_budget() -> None:
    cheap = PostagePolicy(followed=0, second=4, stranger=6)  # many paid messages, fast
    friend, stranger, forger = ChainBuilder(500), ChainBuilder(501), ChainBuilder(502)
    check = admission({friend.author: 1}, policy=cheap, stranger_rate=1.0, stranger_burst=3)
    friends = friend.extend(3)
    unpaid = stranger.post("unpaid")
    paid = [stranger.sign(Post(f"paid {i}"), postage=6) for i in range(4)]
    assert unpaid.postage < 6
    forged = forge(forger.sign(Post("forged"), postage=6))
    batch = [m.to_bytes() for m in friends] + [unpaid.to_bytes(), forged]
    batch += [m.to_bytes() for m in paid]
    out = check.screen(batch, now=T0, now_ms=BASE_TS + 10**9)
    # Followed: passed on as bytes, for the store to verify. Unpaid: dropped. Forged: passed
    # on as bytes, for the store to refuse and the peer to answer for, charging nothing.
    # Paid strangers: verified here and charged; the fourth is over the budget of three.
    assert out[:3] == [m.to_bytes() for m in friends]
    assert out[3] == forged
    assert [m.id for m in out[4:] if isinstance(m, Message)] == [m.id for m in paid[:3]]
    assert len(out) == 7
    stats = check.stats()
    assert (stats.refused_postage, stats.refused_stranger_budget) == (1, 1)
    assert stats.strangers_admitted == 3


# --- follow distances kept by the node ---------------------------------------------------------


async def test_distances_follow_the_graph_as_follows_are_stored(node: Node) -> None:
    bob, carol, dave = ChainBuilder(21), ChainBuilder(22), ChainBuilder(23)
    assert node.distance(node.me) == 0
    assert node.distance(bob.author) is None
    await node.follow(bob.author)
    assert node.distance(bob.author) == 1
    # Bob's follows arrive from the network: carol is two hops away, dave three.
    await node.ingest([bob.follow(carol), carol.follow(dave)], source="network")
    assert node.distance(carol.author) == 2
    assert node.distance(dave.author) is None
    # A stranger's follow changes nothing.
    await node.ingest([dave.follow(ChainBuilder(24))], source="network")
    assert node.distance(ChainBuilder(24).author) is None
    # Bob follows carol again, then unfollows her; the two arrive the other way round.
    again, unfollow = bob.follow(carol), bob.unfollow(carol)
    await node.ingest([unfollow], source="network")
    assert node.distance(carol.author) is None
    await node.ingest([again], source="network")  # older: the unfollow stays in effect
    assert node.distance(carol.author) is None
    # Following carol directly, then unfollowing bob.
    await node.follow(carol.author)
    await node.ingest([carol.follow(bob)], source="network")
    await node.unfollow(bob.author)
    assert node.distance(carol.author) == 1
    assert node.distance(bob.author) == 2  # carol follows bob
    assert node.distance(dave.author) == 2  # carol follows dave


async def test_distances_are_read_from_the_index_when_a_node_opens(home: Path) -> None:
    bob, carol = ChainBuilder(31), ChainBuilder(32)
    async with open_node(home) as node:
        await node.follow(bob.author)
        await node.ingest([bob.follow(carol)], source="network")
    async with open_node(home) as node:
        assert (node.distance(bob.author), node.distance(carol.author)) == (1, 2)
        await node.reindex()
        assert (node.distance(bob.author), node.distance(carol.author)) == (1, 2)


# --- own postage -------------------------------------------------------------------------------


async def test_own_messages_carry_the_configured_postage(node: Node, tmp_path: Path) -> None:
    message = await node.post("stamped")
    assert node.config.postage.stamp == TEST_STAMP_BITS
    assert message.header.pow is not None
    assert message.postage >= TEST_STAMP_BITS
    other = tmp_path / "free"
    init_home(other, passphrase=None)
    free = replace(DEFAULTS, postage=PostageConfig(stamp=0))
    async with open_node(other, config=free) as unpaid:
        assert (await unpaid.post("no postage")).header.pow is None


async def test_a_home_without_a_config_file_pays_the_stranger_postage(tmp_path: Path) -> None:
    home = tmp_path / "plain"
    init_home(home, passphrase=None)
    assert load_config(home).postage.stamp == DEFAULTS.postage.stranger == 18
    with trio.fail_after(30):
        async with open_node(home) as node:
            message = await node.post("the default stamp")
    assert message.postage >= 18


async def test_stamping_runs_in_a_worker_thread_and_never_stalls_the_event_loop(
    tmp_path: Path,
) -> None:
    home = tmp_path / "home"
    init_home(home, passphrase=None)
    config = replace(DEFAULTS, postage=PostageConfig())  # the real 18 bits
    with trio.fail_after(60):
        async with open_node(home, config=config) as node:
            for attempt in range(10):
                gaps: list[float] = []
                done = trio.Event()

                async def tick(gaps: list[float] = gaps, done: trio.Event = done) -> None:
                    last = time.perf_counter()
                    while not done.is_set():
                        await trio.sleep(0)
                        now = time.perf_counter()
                        gaps.append(now - last)
                        last = now

                async with trio.open_nursery() as nursery:
                    nursery.start_soon(tick)
                    started = time.perf_counter()
                    message = await node.post(f"attempt {attempt}")
                    took = time.perf_counter() - started
                    done.set()
                assert message.postage >= 18
                if took >= 0.08:  # a stamp long enough that a stall could not hide
                    break
            assert took >= 0.08
            # Blocking stamping would leave one gap as long as the whole stamp.
            assert max(gaps) < took / 3, (max(gaps), took)


# --- configuration ----------------------------------------------------------------------------


def test_postage_settings_are_checked(tmp_path: Path) -> None:
    (tmp_path / "config.toml").write_text("[postage]\nstranger = 33\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="stranger must be at most 32"):
        load_config(tmp_path)
    (tmp_path / "config.toml").write_text(
        "[postage]\nstamp = 12\n[limits]\nstranger_burst = 7\n", encoding="utf-8"
    )
    config = load_config(tmp_path)
    assert (config.postage.stamp, config.limits.stranger_burst) == (12, 7)
    assert config.postage.policy == DEFAULT_POLICY


def test_the_default_stranger_budget_is_bounded_and_the_stamp_reaches_strangers() -> None:
    limits: LimitsConfig = DEFAULTS.limits
    assert limits.stranger_rate > 0
    assert limits.stranger_burst > 0
    assert DEFAULTS.postage.stamp >= DEFAULTS.postage.policy.required(None)


# --- what over-limit and refused messages cost the relay -------------------------------------


def peer(n: int) -> ID:
    return ID(bytes([0, 2, 8, n]))


TOPIC = "t"


def test_excused_refusals_cost_nothing_and_invalid_messages_cost_ten() -> None:
    scorer = AdmissionScorer(SCORE_PARAMS)
    relay, forger = peer(1), peer(2)
    for n in range(30):
        for verdict in (Verdict.POSTAGE, Verdict.STRANGER_BUDGET):
            scorer.refused(relay, f"{verdict}{n}".encode(), verdict)
            scorer.on_invalid_message(relay, TOPIC)  # what py-libp2p reports after a "no"
    assert scorer.topic_score(relay, TOPIC) == 0
    scorer.on_invalid_message(forger, TOPIC)
    assert scorer.topic_score(forger, TOPIC) == -10


def test_over_limit_messages_cost_a_fifth_of_an_invalid_one_and_a_flood_loses_the_mesh() -> None:
    scorer = AdmissionScorer(SCORE_PARAMS)
    relay, flooder = peer(3), peer(4)

    def over(who: ID, count: int) -> None:
        for n in range(count):
            scorer.refused(who, f"{who}{n}{time.perf_counter()}".encode(), Verdict.AUTHOR_RATE)
            scorer.on_invalid_message(who, TOPIC)

    # A relay whose limiter disagrees with ours by a few messages (arrival times).
    over(relay, 3)
    assert scorer.topic_score(relay, TOPIC) == -3 * OVER_LIMIT_WEIGHT
    assert scorer.allow_gossip(relay, [TOPIC])
    assert not scorer.is_graylisted(relay, [TOPIC])
    for _ in range(10):
        scorer.on_heartbeat()
    assert scorer.topic_score(relay, TOPIC) == pytest.approx(-3 * OVER_LIMIT_WEIGHT * 0.9**10)
    # A flood: 200 over-limit messages; the charge stops at the cap, the peer is graylisted
    # (its messages dropped before validation, its GRAFTs refused) but never disconnected.
    over(flooder, 200)
    assert scorer.topic_score(flooder, TOPIC) == -OVER_LIMIT_WEIGHT * OVER_LIMIT_CAP
    assert scorer.is_graylisted(flooder, [TOPIC])
    assert not scorer.allow_publish(flooder, [TOPIC])
    beats = 0
    while scorer.is_graylisted(flooder, [TOPIC]):
        scorer.on_heartbeat()
        beats += 1
    # Back in once the decayed count is under 25: longer the bigger the flood (~20 s here).
    assert beats == math.ceil(math.log(25 / 200) / math.log(0.9))
    # 25 at once is the most a peer with no credit can forward and keep its mesh place.
    edge = peer(5)
    over(edge, 25)
    assert not scorer.is_graylisted(edge, [TOPIC])
    over(edge, 1)
    assert scorer.is_graylisted(edge, [TOPIC])
    scorer.remove_peer(edge)
    assert scorer.over_limit(edge) == 0


# --- Global and authors with no trust path -----------------------------------------------------


async def test_global_gives_authors_with_no_trust_path_a_tenth_of_each_page(node: Node) -> None:
    bob, carol = ChainBuilder(41, start_ts=BASE_TS), ChainBuilder(42, start_ts=BASE_TS + 500)
    await node.follow(bob.author)
    honest = [bob.follow(carol)]
    for i in range(30):
        honest += [bob.post(f"bob {i}"), carol.post(f"carol {i}")]
    sybils = [ChainBuilder(5000 + i, start_ts=BASE_TS + 100_000) for i in range(40)]
    flood = [s.post(f"buy now {n}") for s in sybils for n in range(3)]
    await node.ingest(honest + flood, source="network")
    sybil_ids = {s.author for s in sybils}

    page = node.reader.feed("global", node.me, limit=50)
    assert len(page) == 50
    shown = [i for i in page if i.author in sybil_ids]
    assert len(shown) == 5  # ceil(50 / 10): the flood is newest, yet takes a tenth
    assert max(sum(1 for i in shown if i.author == a) for a in sybil_ids) <= UNTRUSTED_PER_AUTHOR
    # Nothing left out silently: what was left out is counted where it was.
    assert sum(i.folded for i in page) == len(flood) - 5
    # global:all shows everything, newest first: the flood fills the page.
    everything = node.reader.feed("global:all", node.me, limit=50)
    assert all(i.author in sybil_ids for i in everything)

    # Page by page, every message is shown or counted exactly once.
    seen, counted, before = 0, 0, None
    while items := node.reader.global_feed(node.me, limit=20, before=before):
        seen += len(items)
        counted += sum(i.folded for i in items)
        before = items[-1].cursor
    assert seen + counted == len(flood) + 60


async def test_global_leaves_nothing_out_for_a_reader_who_follows_nobody(node: Node) -> None:
    sybils = [ChainBuilder(6000 + i) for i in range(20)]
    await node.ingest([s.post("hi") for s in sybils], source="network")
    page = node.reader.feed("global", node.me, limit=50)
    assert len(page) == 20
    assert all(i.folded == 0 for i in page)


# --- automated accounts --------------------------------------------------------------------


async def test_an_automated_account_is_labelled_in_items_and_profiles(node: Node) -> None:
    robot = ChainBuilder(71)
    await node.ingest(
        [robot.profile("weatherbot", automated=True), robot.post("rain at 3")], source="network"
    )
    [item] = node.reader.feed(f"author:{robot.author}", node.me)
    assert item.automated
    text = render.item_text(item)
    assert text.splitlines()[0].startswith("weatherbot [bot] (")
    assert render.item_json(item)["automated"] is True
    info = node.reader.author(robot.author)
    assert info is not None
    assert info.automated
    assert render.author_text(info).startswith("weatherbot [bot]  ")
    assert render.author_json(info)["automated"] is True
    # A person's items carry no label.
    human = await node.post("hello")
    mine = node.reader.get(human.id)
    assert mine is not None
    assert not mine.automated
    assert "[bot]" not in render.item_text(mine)


async def test_set_profile_declares_and_withdraws_automated_keeping_the_rest(node: Node) -> None:
    await node.set_profile(name="alice", bio="hi")
    await node.set_profile(automated=True)
    info = node.reader.author(node.me)
    assert info is not None
    assert (info.name, info.bio, info.automated) == ("alice", "hi", True)
    await node.set_profile(name="alice b")
    info = node.reader.author(node.me)
    assert info is not None
    assert info.automated  # kept when not given
    await node.set_profile(automated=False)
    info = node.reader.author(node.me)
    assert info is not None
    assert not info.automated


def test_a_folded_item_is_introduced_by_the_count_left_out() -> None:
    item = Item(
        id=ChainBuilder(81).post("x").id,
        author=ChainBuilder(81).author,
        author_name=None,
        seq=1,
        ts=BASE_TS,
        kind=Kind.POST,
        text="x",
        root=None,
        parent=None,
        target=None,
        has_body=True,
        deleted=False,
        folded=12,
    )
    first = render.item_text(item).splitlines()[0]
    assert first == render.folded_note(12)
    assert "12 more messages from accounts with no trust path" in first
    assert "global:all" in first
    assert render.item_json(item)["folded"] == 12


def _cli(home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    script = shutil.which("p2psocial", path=str(Path(sys.executable).parent))
    assert script is not None
    return subprocess.run(
        [script, "--home", str(home), *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        stdin=subprocess.DEVNULL,
        env={"PATH": os.defpath, "HOME": str(home.parent), "LANG": "C.UTF-8", "TZ": "UTC"},
    )


def test_profile_automated_from_the_command_line(home: Path) -> None:
    ok = _cli(home, "profile", "--name", "ticker", "--automated")
    assert ok.returncode == 0, ok.stderr
    shown = _cli(home, "profile")
    assert shown.returncode == 0, shown.stderr
    assert shown.stdout.splitlines()[0].startswith("ticker [bot]  p2sa1")
    assert json.loads(_cli(home, "profile", "--json").stdout)["automated"] is True
    assert _cli(home, "profile", "--no-automated").returncode == 0
    assert json.loads(_cli(home, "profile", "--json").stdout)["automated"] is False
    assert "[bot]" not in _cli(home, "profile").stdout
