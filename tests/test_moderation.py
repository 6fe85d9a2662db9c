"""Moderation through the node, on real files: blocks (published, bodies dropped), mutes,
filters, hidden reposts, moderation lists, the settings file, and that every undo gives
back exactly what was there."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest

from p2psocial import keystore
from p2psocial.core.bodies import Kind, ListEntry
from p2psocial.core.ids import AuthorId
from p2psocial.core.message import Message, decode_message
from p2psocial.core.moderation import FilterError, Hidden, ListRef, ListRefError, Screened
from p2psocial.errors import InputError, NotFoundError
from p2psocial.moderation import (
    SETTINGS_FILENAME,
    ModerationSettings,
    SettingsCorruptError,
    load_policy,
    load_settings,
)
from p2psocial.node import Node, open_node
from p2psocial.store.queries import IndexReader, Item
from p2psocial.store.store import Store
from tests.factories import ChainBuilder


def fresh() -> tuple[ChainBuilder, ChainBuilder, ChainBuilder]:
    return ChainBuilder(11), ChainBuilder(12), ChainBuilder(13)


async def take(node: Node, *messages: Message) -> None:
    results = await node.ingest([m.to_bytes() for m in messages], source="network")
    assert all(r.error is None for r in results), results


def view(items: list[Item]) -> list[tuple[str, str | None]]:
    return [(i.id.short, i.text) for i in items]


def shown(screened: Screened[Item]) -> list[tuple[str, str | None, str | None]]:
    return [(i.id.short, i.text, v.label if v else None) for i, v in screened.pairs()]


def served(node: Node, message: Message) -> Message:
    """The message as this node serves it to a peer syncing from it."""
    [(_, wire)] = node.sync_view().messages(
        message.author.raw, message.seq, message.seq, desc=False, limit=1, max_bytes=1 << 20
    )
    return decode_message(wire)


# --- blocks --------------------------------------------------------------------------------


async def test_block_hides_drops_bodies_and_unblock_restores_the_feed(node: Node) -> None:
    alice, bob, _ = fresh()
    old = [alice.post("alice says crypto"), alice.post("second #tag"), bob.post("bob is fine")]
    await take(node, *old)
    before = view(await node.timeline("global"))
    before_search = [i.id for i in await node.search("crypto")]

    block = await node.block(alice.author)
    assert block.kind is Kind.BLOCK
    assert block.body.author == alice.author
    assert node.blocked == {alice.author}

    # Already held: no longer shown, searched or served.
    items = {i.id: i for i in await node.timeline("global")}
    assert items[old[0].id].text is None
    assert items[old[1].id].text is None
    assert items[old[2].id].text == "bob is fine"
    assert await node.search("crypto") == []
    assert served(node, old[0]).body is None
    assert served(node, old[2]).body is not None
    policy = await node.moderation_policy()
    assert policy.judge(items[old[0].id]) == Hidden("block", "blocked")
    screened = await node.screen(list(items.values()))
    assert [i.id for i in screened.items] == [old[2].id]
    assert screened.hidden == 2

    # New messages: stored header-only, the chain still complete.
    new = alice.post("posted while blocked")
    await take(node, new)
    stored = await node.get(new.id)
    assert stored is not None
    assert not stored.has_body
    info = await node.author(alice.author)
    assert info is not None
    assert (info.head_seq, info.held) == (3, 3)
    exported = [decode_message(w) for w in node._store.export_records()]
    assert {m.id for m in exported if m.author == alice.author and m.body is not None} == set()

    # Unblock: exactly the feed from before, plus the new post (still body-less).
    await node.unblock(alice.author)
    assert node.blocked == frozenset()
    after = view(await node.timeline("global"))
    assert after == [(new.id.short, None), *before]
    assert [i.id for i in await node.search("crypto")] == before_search
    assert served(node, old[0]).body == old[0].body


async def test_block_state_is_derived_from_the_log(home: Path) -> None:
    alice, _, _ = fresh()
    async with open_node(home) as node:
        await take(node, alice.post("one"))
        await node.block(alice.author)
        await take(node, alice.post("two"))
        await node.reindex()
        assert node.blocked == {alice.author}
        assert [i.text for i in await node.timeline("global")] == [None, None]
    # Reopened (and even with the index deleted): the same state.
    (home / "index.sqlite3").unlink()
    async with open_node(home) as node:
        assert node.blocked == {alice.author}
        assert await node.search("one") == []
        await node.unblock(alice.author)
        assert [i.text for i in await node.timeline("global")] == [None, "one"]
        assert [i.text for i in await node.search("one")] == ["one"]


async def test_blocks_follow_the_highest_seq_even_out_of_order(home: Path) -> None:
    """My own block and unblock arriving by sync from another device, newest first."""
    mine = ChainBuilder(key=keystore.unlock(home, None))
    alice = ChainBuilder(11)
    block = mine.block(alice)
    unblock = mine.unblock(alice)
    async with open_node(home) as node:
        await take(node, unblock)  # seq 2 first: alice is not blocked
        await take(node, block)  # the older block changes nothing
        assert node.blocked == frozenset()
        await take(node, alice.post("still shown"))
        [item] = await node.timeline("author:" + str(alice.author))
        assert item.text == "still shown"
        assert item.has_body


async def test_a_blocked_authors_delete_is_still_honoured(node: Node) -> None:
    alice, _, _ = fresh()
    doomed = alice.post("regret this")
    await take(node, doomed)
    await node.block(alice.author)
    delete = alice.delete(doomed)
    await take(node, delete)
    assert (await node.get(delete.id)).has_body  # type: ignore[union-attr]
    await node.unblock(alice.author)
    item = await node.get(doomed.id)
    assert item is not None
    assert item.deleted
    assert item.text is None
    assert await node.search("regret") == []


async def test_block_refusals_change_nothing(node: Node) -> None:
    alice, _, _ = fresh()
    with pytest.raises(InputError, match="cannot block yourself"):
        await node.block(node.me)
    with pytest.raises(InputError, match="you do not block"):
        await node.unblock(alice.author)
    await node.block(alice.author)
    with pytest.raises(InputError, match="already block"):
        await node.block(alice.author)
    assert (await node.counts())["messages"] == 1


async def test_other_peoples_blocks_drop_nothing(node: Node) -> None:
    alice, bob, _ = fresh()
    await take(node, bob.block(alice), alice.post("still here"))
    assert node.blocked == frozenset()
    assert node.reader.blocked_by(bob.author) == {alice.author}
    [item] = await node.timeline("author:" + str(alice.author))
    assert item.text == "still here"
    assert item.has_body
    assert (await node.moderation_policy()).empty


async def test_an_index_built_for_another_owner_is_rebuilt(home: Path, me: AuthorId) -> None:
    alice, _, _ = fresh()
    async with open_node(home) as node:
        await take(node, alice.post("hi"))
        await node.block(alice.author)
    store = Store.open(home)  # no owner given: the recorded one applies
    try:
        assert store.blocked == {alice.author}
    finally:
        store.close()
    store = Store.open(home, owner=alice.author)  # someone else's home now: rebuilt
    try:
        assert store.blocked == frozenset()
        [text] = [row[0] for row in store.reader.query("SELECT text FROM messages WHERE kind = 1")]
        assert text == "hi"
    finally:
        store.close()
    async with open_node(home) as node:
        assert node.blocked == {alice.author}


# --- mutes, filters, reposts ---------------------------------------------------------------


async def test_mute_is_private_and_undone_exactly(node: Node) -> None:
    alice, bob, _ = fresh()
    await take(node, alice.post("a"), bob.post("b"), alice.post("c"))
    feed = await node.timeline("global")
    before = await node.screen(feed)
    count = (await node.counts())["messages"]

    assert await node.mute(alice.author) is True
    assert await node.mute(alice.author) is False  # already muted: nothing changes
    assert (await node.counts())["messages"] == count  # nothing published
    muted = await node.screen(feed)
    assert [i.author for i in muted.items] == [bob.author]
    assert muted.hidden == 2
    assert shown(await node.screen(feed, show_hidden=True)) == [
        (i.id.short, i.text, "muted" if i.author == alice.author else None) for i in feed
    ]
    # Still stored, with bodies, and served to peers: muting is about reading only.
    assert served(node, alice.messages[0]).body is not None

    await node.unmute(alice.author)
    assert await node.screen(feed) == before
    with pytest.raises(NotFoundError, match="is not muted"):
        await node.unmute(alice.author)
    with pytest.raises(InputError, match="cannot mute yourself"):
        await node.mute(node.me)


async def test_filters_hide_by_word_tag_and_regex_and_come_off(node: Node) -> None:
    alice, _, _ = fresh()
    await take(
        node,
        alice.post("Crypto is the future"),
        alice.post("a post about #Gardening"),
        alice.post("BUY PILLS NOW"),
        alice.post("nothing wrong"),
    )
    feed = await node.timeline("global")
    before = await node.screen(feed)
    for text, regex in (("crypto", False), ("#gardening", False), (r"^buy\b", True)):
        _, added = await node.add_filter(text, regex=regex)
        assert added
    labels = {
        i.text: v.label if v else None
        for i, v in (await node.screen(feed, show_hidden=True)).pairs()
    }
    assert labels == {
        "Crypto is the future": 'filter "crypto"',
        "a post about #Gardening": "filter #gardening",
        "BUY PILLS NOW": r"filter /^buy\b/",
        "nothing wrong": None,
    }
    assert (await node.add_filter("crypto"))[1] is False
    for text, regex in (("crypto", False), ("#gardening", False), (r"^buy\b", True)):
        await node.remove_filter(text, regex=regex)
    assert await node.screen(feed) == before
    with pytest.raises(NotFoundError, match='there is no filter "crypto"'):
        await node.remove_filter("crypto")


async def test_a_bad_filter_changes_nothing(node: Node) -> None:
    await node.add_filter("keep me")
    path = node.home / SETTINGS_FILENAME
    saved = path.read_bytes()
    with pytest.raises(FilterError, match="bad regex filter"):
        await node.add_filter("([a-z]", regex=True)
    with pytest.raises(FilterError):
        await node.add_filter("   ")
    assert path.read_bytes() == saved


async def test_hide_reposts(node: Node) -> None:
    alice, bob, _ = fresh()
    original = alice.post("original")
    await take(node, original, bob.repost(original))
    feed = await node.timeline("global")
    assert await node.set_hide_reposts(True) is True
    assert await node.set_hide_reposts(True) is False
    screened = await node.screen(feed, show_hidden=True)
    assert [(i.kind, v) for i, v in screened.pairs()] == [
        (Kind.REPOST, Hidden("reposts", "repost (reposts hidden)")),
        (Kind.POST, None),
    ]
    await node.set_hide_reposts(False)
    assert (await node.screen(feed)).hidden == 0


# --- moderation lists ----------------------------------------------------------------------


async def test_subscribed_lists_hide_with_their_reasons(node: Node) -> None:
    alice, bob, carol = fresh()
    bad = bob.post("one bad post")
    await take(node, alice.post("spam spam"), bad, bob.post("a fine post"))
    await take(
        node,
        carol.moderation_list("spam", [(alice, "sells pills"), (bad, "a scam link")]),
    )
    feed = await node.timeline("global")
    ref = ListRef(carol.author, "spam")
    assert await node.subscribe_list(ref) is True
    labels = [
        (i.text, v.label if v else None)
        for i, v in (await node.screen(feed, show_hidden=True)).pairs()
    ]
    assert labels == [
        ("a fine post", None),
        ("one bad post", f'list {carol.author.short}/spam: "a scam link"'),
        ("spam spam", f'list {carol.author.short}/spam: "sells pills"'),
    ]
    # Its author replaces the list whole: the later one decides.
    await take(node, carol.moderation_list("spam", [(bad, "a scam link")]))
    assert [i.text for i in (await node.screen(feed)).items] == ["a fine post", "spam spam"]
    # An empty list clears it.
    await take(node, carol.moderation_list("spam", []))
    assert (await node.screen(feed)).hidden == 0
    await node.unsubscribe_list(ref)
    with pytest.raises(NotFoundError, match="you do not subscribe"):
        await node.unsubscribe_list(ref)


async def test_a_list_not_held_yet_applies_once_it_arrives(node: Node) -> None:
    alice, _, carol = fresh()
    await take(node, alice.post("spam"))
    ref = ListRef(carol.author, "spam")
    assert await node.subscribe_list(ref) is True
    overview = await node.lists()
    assert [(s.ref, s.held, s.entries) for s in overview.subscribed] == [(ref, False, ())]
    feed = await node.timeline("global")
    assert (await node.screen(feed)).hidden == 0
    await take(node, carol.moderation_list("spam", [(alice, "spammer")]))
    assert (await node.screen(feed)).hidden == 1
    await node.unsubscribe_list(ref)
    assert (await node.screen(feed)).hidden == 0


async def test_my_own_lists_publish_whole_and_edit_by_entry(node: Node) -> None:
    alice, bob, _ = fresh()
    first = await node.publish_list("spam")
    assert first.body.entries == ()  # type: ignore[union-attr]
    await node.add_to_list("spam", alice.author, "sells pills")
    await node.add_to_list("spam", bob.author, "bot")
    changed = await node.add_to_list("spam", alice.author, "sells fake pills")
    assert changed.body.entries == (  # type: ignore[union-attr]
        ListEntry(alice.author, "sells fake pills"),
        ListEntry(bob.author, "bot"),
    )
    with pytest.raises(InputError, match="already with that reason"):
        await node.add_to_list("spam", bob.author, "bot")
    removed = await node.remove_from_list("spam", alice.author)
    assert removed.body.entries == (ListEntry(bob.author, "bot"),)  # type: ignore[union-attr]
    with pytest.raises(NotFoundError, match="is not on your list spam"):
        await node.remove_from_list("spam", alice.author)
    [mine] = (await node.lists()).mine
    assert (mine.name, mine.id, mine.entries) == ("spam", removed.id, removed.body.entries)  # type: ignore[union-attr]


async def test_bad_list_edits_publish_nothing(node: Node) -> None:
    alice, _, _ = fresh()
    with pytest.raises(ListRefError, match="bad list name 'Spam'"):
        await node.publish_list("Spam")
    with pytest.raises(InputError, match="cannot be published"):
        await node.add_to_list("spam", alice.author, "   ")
    with pytest.raises(InputError, match=r"cannot be published.*shorten it"):
        await node.add_to_list("spam", alice.author, "x" * 201)
    assert (await node.counts())["messages"] == 0


# --- threads, mentions, search -------------------------------------------------------------


async def test_a_hidden_reply_keeps_its_place_in_a_thread(node: Node) -> None:
    alice, bob, carol = fresh()
    root = alice.post("root")
    hidden = bob.reply(root, "bob's reply")
    under = carol.reply(hidden, "carol answers bob")
    await take(node, root, hidden, under)
    await node.mute(bob.author)
    thread = await node.screen(await node.thread(root.id), keep_place=True)
    assert [(i.id, i.depth, v.label if v else None) for i, v in thread.pairs()] == [
        (root.id, 0, None),
        (hidden.id, 1, "muted"),
        (under.id, 2, None),
    ]
    assert not thread.revealed


async def test_mentions_and_search_are_screened(node: Node) -> None:
    alice, bob, _ = fresh()
    await take(
        node,
        alice.post("hey you", mentions=[node.me]),
        bob.post("hey you too", mentions=[node.me]),
    )
    await node.add_filter("too")
    mentions = await node.screen(await node.mentions())
    assert [i.author for i in mentions.items] == [alice.author]
    assert mentions.hidden == 1
    found = await node.screen(await node.search("hey"))
    assert [i.author for i in found.items] == [alice.author]
    assert found.hidden == 1


# --- the settings file ---------------------------------------------------------------------


async def test_the_settings_file_is_owner_only_and_readable_without_the_node(
    node: Node,
) -> None:
    alice, _, carol = fresh()
    await node.mute(alice.author)
    await node.add_filter("crypto")
    await node.add_filter("x+", regex=True)
    await node.set_hide_reposts(True)
    await node.subscribe_list(ListRef(carol.author, "spam"))
    path = node.home / SETTINGS_FILENAME
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert not list(node.home.glob(".moderation.json*"))  # no temporary file left
    saved = json.loads(path.read_text())
    assert saved == {
        "format": 1,
        "muted": [str(alice.author)],
        "filters": [{"kind": "keyword", "text": "crypto"}, {"kind": "regex", "text": "x+"}],
        "hide_reposts": True,
        "subscriptions": [f"{carol.author}/spam"],
    }
    settings = load_settings(node.home)
    assert settings == await node.moderation_settings()
    assert ModerationSettings.from_json(settings.to_json()) == settings
    # A reader (the CLI while a daemon runs) builds the same policy from the files.
    reader = IndexReader.open(node.home / "index.sqlite3")
    try:
        assert load_policy(node.home, reader, node.me) == await node.moderation_policy()
    finally:
        reader.close()


@pytest.mark.parametrize(
    "content",
    [
        b"{not json",
        b"\xff\xfe",
        b"[]",
        b'{"format": 2}',
        b'{"format": 1, "muted": ["p2sa1nope"]}',
        b'{"format": 1, "filters": [{"kind": "regex", "text": "("}]}',
        b'{"format": 1, "filters": [{"kind": "keyword", "text": "#tag"}]}',
        b'{"format": 1, "hide_reposts": "yes"}',
        b'{"format": 1, "surprise": []}',
    ],
)
async def test_a_damaged_settings_file_is_refused_and_never_overwritten(
    node: Node, content: bytes
) -> None:
    path = node.home / SETTINGS_FILENAME
    path.write_bytes(content)
    with pytest.raises(SettingsCorruptError, match=r"moderation\.json is damaged"):
        await node.mute(ChainBuilder(11).author)
    with pytest.raises(SettingsCorruptError):
        await node.moderation_policy()
    assert path.read_bytes() == content


async def test_a_failed_write_leaves_the_old_settings(node: Node) -> None:
    await node.add_filter("old")
    path = node.home / SETTINGS_FILENAME
    saved = path.read_bytes()
    (node.home / f".{SETTINGS_FILENAME}.tmp").mkdir()  # the temporary file cannot be made
    with pytest.raises(IsADirectoryError):
        await node.add_filter("new")
    assert path.read_bytes() == saved
    os.rmdir(node.home / f".{SETTINGS_FILENAME}.tmp")
    await node.add_filter("new")
    assert [f.text for f in (await node.moderation_settings()).filters] == ["old", "new"]
