"""Notifications: the index query (``IndexReader.notifications``) on a real node's index."""

from __future__ import annotations

from pathlib import Path

import trio

from p2psocial.core.ids import AuthorId
from p2psocial.core.message import Message
from p2psocial.node import Node, open_node
from p2psocial.store.index import connect
from p2psocial.store.queries import Notification
from tests.factories import authors


def summary(notes: list[Notification]) -> list[tuple[str, str | None, str | None]]:
    return [(n.what, n.item.author_name, n.subject.text if n.subject else None) for n in notes]


async def test_replies_mentions_reactions_reposts_and_follows_newest_first(
    node: Node, me: AuthorId
) -> None:
    alice, bob, carol = authors(3)
    mine = await node.post("my first post")
    other = await node.post("my second post")
    theirs = carol.post("carol talks to herself")
    incoming: list[Message] = [
        alice.profile("alice"),
        bob.profile("bob"),
        carol.profile("carol"),
        theirs,
        alice.reply(mine, "alice answers"),
        bob.react(mine, "🎉"),
        carol.follow(me),
        bob.post(f"hello {me}", mentions=[me]),
        alice.repost(other),
        # Not for me: a reply to someone else, a reaction to theirs, my own reply.
        bob.reply(theirs, "bob answers carol"),
        alice.react(theirs, "👍"),
        # A reply to me that also mentions me counts once, as a reply.
        bob.reply(other, f"bob to {me}", mentions=[me]),
    ]
    results = await node.ingest(incoming, source="network")
    assert all(r.error is None for r in results), results
    await node.reply(mine.id, "I answer myself")

    notes = await trio.to_thread.run_sync(lambda: node.reader.notifications(me))
    assert summary(notes) == [
        ("reply", "bob", "my second post"),
        ("repost", "alice", "my second post"),
        ("mention", "bob", None),
        ("follow", "carol", None),
        ("reaction", "bob", "my first post"),
        ("reply", "alice", "my first post"),
    ]
    assert notes[4].item.text == "🎉"

    # Paged by cursor: the same list, two at a time.
    paged: list[Notification] = []
    before = None
    while True:
        page = node.reader.notifications(me, limit=2, before=before)
        paged += page
        if len(page) < 2:
            break
        before = page[-1].cursor
    assert [n.item.id for n in paged] == [n.item.id for n in notes]


async def test_an_unfollow_withdraws_the_follow_notification(node: Node, me: AuthorId) -> None:
    (alice,) = authors(1)
    await node.ingest([alice.follow(me)], source="network")
    assert [n.what for n in node.reader.notifications(me)] == ["follow"]
    await node.ingest([alice.unfollow(me)], source="network")
    assert node.reader.notifications(me) == []


def test_nothing_for_an_owner_the_index_has_never_seen(home: Path, me: AuthorId) -> None:
    async def main() -> None:
        async with open_node(home) as node:
            assert node.reader.notifications(me) == []

    trio.run(main)


async def test_the_query_uses_indexes(node: Node, me: AuthorId) -> None:
    """Each part of the query is an index search, never a scan of the messages table."""
    (alice,) = authors(1)
    mine = await node.post("indexed")
    await node.ingest([alice.reply(mine, "hi"), alice.follow(me)], source="network")
    statements: list[str] = []
    conn = connect(node.home / "index.sqlite3", readonly=True)
    try:
        from p2psocial.store.queries import IndexReader

        conn.set_trace_callback(statements.append)
        IndexReader(conn).notifications(me)
        conn.set_trace_callback(None)
        query = next(s for s in statements if "UNION ALL" in s)
        plan = [row[3] for row in conn.execute(f"EXPLAIN QUERY PLAN {query}")]
    finally:
        conn.close()
    tables = [step for step in plan if step.startswith(("SCAN", "SEARCH"))]
    assert len(tables) == 9, plan  # two per part, and the scan of their union
    [scan] = [s for s in tables if s.startswith("SCAN")]
    assert scan.startswith("SCAN (subquery"), plan
