"""Index queries over a small generated network."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from p2psocial.core.bodies import Kind
from p2psocial.core.ids import AuthorId, MessageId
from p2psocial.errors import AmbiguousIdError, InputError, InvalidIdError, NotFoundError
from p2psocial.store.queries import IndexReader
from p2psocial.store.store import Store
from tests.factories import ChainBuilder


class Network:
    def __init__(self) -> None:
        self.alice, self.bob, self.carol, self.dave = (ChainBuilder(i) for i in (1, 2, 3, 4))
        a, b, c, d = self.alice, self.bob, self.carol, self.dave
        a.profile("alice")
        b.profile("bob")
        a.follow(b)
        self.root = b.post("what do you think of #Gossip?")
        self.r1 = a.reply(self.root, "it is best effort", mentions=[b])
        self.r2 = c.reply(self.r1, "sync is the guarantee")
        self.r3 = b.reply(self.root, "agreed")
        a.react(self.root, "👍")
        c.react(self.root, "👍")
        c.react(self.root, "🎉")
        a.react(self.root, "👍")  # the same author twice counts once
        self.repost = a.repost(self.root)
        d.extend(30, "dave says {seq} #gossip")

    def wire(self) -> list[bytes]:
        return [
            m.to_bytes() for b in (self.alice, self.bob, self.carol, self.dave) for m in b.messages
        ]


@pytest.fixture
def net() -> Network:
    return Network()


@pytest.fixture
def reader(tmp_path: Path, net: Network) -> Iterator[IndexReader]:
    store = Store.open(tmp_path / "home")
    store.ingest(net.wire())
    yield store.reader
    store.close()


def test_home_is_me_and_whom_i_follow(reader: IndexReader, net: Network) -> None:
    authors = {item.author for item in reader.home(net.alice.author, limit=1000)}
    assert authors == {net.alice.author, net.bob.author}
    assert reader.home(AuthorId(b"\x00" * 32)) == []


def test_global_feed_is_newest_first_and_excludes_non_timeline_kinds(
    reader: IndexReader,
) -> None:
    items = reader.global_feed(limit=1000)
    assert [i.ts for i in items] == sorted((i.ts for i in items), reverse=True)
    assert {i.kind for i in items} == {Kind.POST, Kind.REPLY, Kind.REPOST}


def test_pages_do_not_overlap_and_cover_the_feed(reader: IndexReader) -> None:
    everything = reader.global_feed(limit=1000)
    pages, before = [], None
    while True:
        page = reader.global_feed(limit=7, before=before)
        if not page:
            break
        pages.extend(page)
        before = page[-1].cursor
    assert [i.id for i in pages] == [i.id for i in everything]


def test_author_and_tag_feeds(reader: IndexReader, net: Network) -> None:
    assert {i.author for i in reader.author_feed(net.dave.author, limit=100)} == {net.dave.author}
    assert len(reader.author_feed(net.dave.author, limit=100)) == 30
    tagged = reader.tag_feed("#GOSSIP", limit=100)
    assert len(tagged) == 31
    assert net.root.id in {i.id for i in tagged}


def test_feed_by_name(reader: IndexReader, net: Network) -> None:
    me = net.alice.author
    assert reader.feed("home", me) == reader.home(me)
    assert reader.feed(f"author:{net.dave.author.short}", me, limit=3) == reader.author_feed(
        net.dave.author, limit=3
    )
    with pytest.raises(InputError, match="unknown feed"):
        reader.feed("hom", me)


def test_counts_on_items(reader: IndexReader, net: Network) -> None:
    item = reader.get(net.root.id)
    assert item is not None
    assert item.replies == 2  # direct replies only
    assert item.reposts == 1
    assert item.reactions.counts == (("👍", 2), ("🎉", 1))
    repost = reader.get(net.repost.id)
    assert repost is not None
    assert repost.reposted is not None
    assert repost.reposted.id == net.root.id


def test_thread_is_a_depth_first_tree(reader: IndexReader, net: Network) -> None:
    for start in (net.root.id, net.r2.id):
        thread = reader.thread(start)
        assert [(i.id, i.depth) for i in thread] == [
            (net.root.id, 0),
            (net.r1.id, 1),
            (net.r2.id, 2),
            (net.r3.id, 1),
        ]


def test_thread_of_unknown_message(reader: IndexReader) -> None:
    with pytest.raises(NotFoundError):
        reader.thread(MessageId(b"\x01" * 32))


def test_mentions(reader: IndexReader, net: Network) -> None:
    assert [i.id for i in reader.mentions(net.bob.author)] == [net.r1.id]
    assert reader.mentions(net.carol.author) == []


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("guarantee", 1),
        ("sync guarantee", 1),
        ("sync nothing", 0),
        ("guar*", 1),
        ('"unbalanced', 0),
        ("AND OR NOT (", 0),
        ("dave", 30),
    ],
)
def test_search_takes_plain_words(reader: IndexReader, query: str, expected: int) -> None:
    assert len(reader.search(query, limit=100)) == expected


def test_search_needs_a_word(reader: IndexReader) -> None:
    with pytest.raises(InputError):
        reader.search("   ")


def test_resolve_prefixes(reader: IndexReader, net: Network) -> None:
    assert reader.resolve_author(net.bob.author.short) == net.bob.author
    assert reader.resolve_author(str(net.bob.author)) == net.bob.author
    assert reader.resolve_message(net.root.id.short) == net.root.id
    ids = [str(i.id) for i in reader.global_feed(limit=1000)]
    shared = next(p for p in (s[:6] for s in ids) if sum(s.startswith(p) for s in ids) > 1)
    with pytest.raises(AmbiguousIdError):
        reader.resolve_message(shared)
    with pytest.raises(InvalidIdError):
        reader.resolve_message("p2sm1")
    with pytest.raises(NotFoundError):
        reader.resolve_author("p2sa1" + "q" * 12)
    with pytest.raises(InvalidIdError):
        reader.resolve_author("p2sm1qqqq")
    with pytest.raises(InvalidIdError):
        reader.resolve_message("p2sm1bbbb")  # 'b' is not in the bech32 alphabet


def test_follow_graph(reader: IndexReader, net: Network) -> None:
    assert [a.id for a in reader.following(net.alice.author)] == [net.bob.author]
    assert [a.id for a in reader.followers(net.bob.author)] == [net.alice.author]
    assert reader.is_following(net.alice.author, net.bob.author)
    assert not reader.is_following(net.bob.author, net.alice.author)


def test_limit_is_checked(reader: IndexReader) -> None:
    with pytest.raises(InputError):
        reader.global_feed(limit=0)


def test_both_home_plans_give_the_same_feed(tmp_path: Path, net: Network) -> None:
    """A small limit makes the newest-first scan cheaper, a large one the per-author plan."""
    alice = net.alice
    for other in (net.carol, net.dave):
        alice.follow(other)
    store = Store.open(tmp_path / "both")
    try:
        store.ingest(net.wire())
        reader = store.reader
        followed = {alice.author, net.bob.author, net.carol.author, net.dave.author}
        brute = [i.id for i in reader.global_feed(limit=1000) if i.author in followed]
        me_row = reader._author_rowid(alice.author)
        assert me_row is not None
        assert not reader._follows_are_sparse(me_row, 3)
        assert reader._follows_are_sparse(me_row, 1000)
        pages, before = [], None
        while page := reader.home(alice.author, limit=3, before=before):
            pages += [i.id for i in page]
            before = page[-1].cursor
        assert pages == brute
        assert [i.id for i in reader.home(alice.author, limit=1000)] == brute
    finally:
        store.close()


def test_automated_follows_the_latest_profile(tmp_path: Path) -> None:
    bot = ChainBuilder(9)
    bot.profile("weather", automated=True)
    store = Store.open(tmp_path / "home")
    try:
        store.ingest(bot.wire())
        info = store.reader.author(bot.author)
        assert info is not None
        assert info.automated
        assert [a.automated for a in store.reader.authors()] == [True]
        store.ingest([bot.profile("a person again").to_bytes()])
        info = store.reader.author(bot.author)
        assert info is not None
        assert not info.automated
    finally:
        store.close()


def test_block_and_list_messages_are_stored_and_counted_as_held(tmp_path: Path) -> None:
    alice, bob = ChainBuilder(1), ChainBuilder(2)
    alice.block(bob)
    alice.moderation_list("spam", [(bob, "sells pills")])
    alice.unblock(bob)
    store = Store.open(tmp_path / "home")
    try:
        store.ingest(alice.wire())
        info = store.reader.author(alice.author)
        assert info is not None
        assert (info.head_seq, info.held) == (3, 3)
        assert all(store.reader.has(m.id) for m in alice.messages)
        assert store.reader.global_feed() == []  # none of them is a timeline item
    finally:
        store.close()


def test_sync_frontier_fingerprints_the_held_seqs_in_any_order(tmp_path: Path) -> None:
    """The index keeps each author's held-set fingerprint as messages arrive, in batches
    and out of order, equal to computing it from scratch (and across a reindex)."""
    from p2psocial.core.sync import held_fingerprint

    alice = ChainBuilder(1)
    alice.extend(30)
    wire = alice.wire()
    store = Store.open(tmp_path / "home")
    try:
        store.ingest(wire[20:25])
        store.ingest([wire[3], wire[29], wire[0]])
        store.ingest(wire[10:12])
        held = {4, 30, 1, 11, 12, *range(21, 26)}
        frontier = store.sync_view().frontier(alice.author.raw)
        assert frontier is not None
        assert (frontier.head_seq, frontier.held) == (30, len(held))
        assert frontier.fingerprint == held_fingerprint(held)
        store.reindex()
        assert store.sync_view().frontier(alice.author.raw) == frontier
    finally:
        store.close()
