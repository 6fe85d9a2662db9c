"""A deterministic backend for snapshot tests: fixed people, texts, ages and network."""

from __future__ import annotations

import time

from p2psocial_cli.tui.backend import PAGE, NetView, PeerView, RefusesWrites

from p2psocial.core.bodies import Kind
from p2psocial.core.ids import AuthorId, MessageId
from p2psocial.core.moderation import Policy
from p2psocial.errors import NotFoundError
from p2psocial.store.queries import AuthorInfo, Cursor, Item, Notification, Reactions
from tests.factories import author_id, message_id

ME = author_id(90)
ALICE, BOB, CAROL = author_id(91), author_id(92), author_id(93)
NAMES = {ME: "zoe", ALICE: "alice", BOB: "bob", CAROL: "carol"}
HOUR_MS = 3_600_000


def _item(
    n: int,
    author: AuthorId,
    text: str,
    *,
    hours: int,
    kind: Kind = Kind.POST,
    root: MessageId | None = None,
    parent: MessageId | None = None,
    depth: int = 0,
    replies: int = 0,
    reactions: tuple[tuple[str, int], ...] = (),
) -> Item:
    # Ages well inside an hour bucket so that "3h" stays "3h" while a test runs.
    ts = int(time.time() * 1000) - hours * HOUR_MS - HOUR_MS // 2
    return Item(
        id=message_id(n),
        author=author,
        author_name=NAMES[author],
        seq=n,
        ts=ts,
        kind=kind,
        text=text,
        root=root,
        parent=parent,
        target=None,
        has_body=True,
        deleted=False,
        replies=replies,
        reactions=Reactions(reactions),
        depth=depth,
        cursor=(ts, n),
    )


class FakeBackend(RefusesWrites):
    """In memory; writes are refused (snapshots only look)."""

    refusal = "the snapshot backend does not write"
    mode = "local"
    read_only = False

    def __init__(self, *, empty: bool = False) -> None:
        """``empty``: a newcomer's node, holding nothing but their identity."""
        self.me = ME
        self.empty = empty
        root = message_id(1)
        self.thread_items = [
            _item(
                1,
                ALICE,
                "Has anyone run a node on a Raspberry Pi? #p2p #selfhosting",
                hours=5,
                replies=2,
                reactions=(("👍", 3), ("🎉", 1)),
            ),
            _item(
                2,
                BOB,
                "Yes: a Pi 4, about 80 MB of RAM.",
                hours=4,
                kind=Kind.REPLY,
                root=root,
                parent=root,
                depth=1,
                replies=1,
            ),
            _item(
                3,
                ALICE,
                "Thanks! Over wifi?",
                hours=3,
                kind=Kind.REPLY,
                root=root,
                parent=message_id(2),
                depth=2,
            ),
            _item(
                4,
                CAROL,
                "Mine runs on an old laptop.",
                hours=2,
                kind=Kind.REPLY,
                root=root,
                parent=root,
                depth=1,
            ),
        ]
        self.feed = [
            _item(5, ME, "hello p2psocial 👋", hours=1, reactions=(("👍", 1),)),
            _item(
                6,
                CAROL,
                "A long one, to see wrapping: the log is append-only, every message is "
                "signed, and peers repair gaps by sync when gossip drops something.",
                hours=1,
            ),
            *reversed(self.thread_items),
        ]

    async def timeline(
        self, feed: str, *, limit: int = PAGE, before: Cursor | None = None
    ) -> list[Item]:
        items = self.feed if before is None and not self.empty else []
        if feed.startswith("author:"):
            items = [i for i in items if str(i.author) == feed.removeprefix("author:")]
        return items[:limit]

    async def thread(self, message: MessageId) -> list[Item]:
        return list(self.thread_items)

    async def author(self, author: AuthorId) -> AuthorInfo | None:
        return AuthorInfo(author, NAMES.get(author), "testing p2psocial", 7, 7, False)

    async def followers(self, author: AuthorId) -> list[AuthorInfo]:
        return [await self.author(a) for a in (ALICE, BOB) if a != author]  # type: ignore[misc]

    async def following(self, author: AuthorId) -> list[AuthorInfo]:
        return [await self.author(ALICE)]  # type: ignore[list-item]

    async def counts(self) -> dict[str, int]:
        return {"messages": len(self.feed), "authors": 4, "forks": 0}

    async def get(self, message: MessageId) -> Item | None:
        return next((i for i in self.feed if i.id == message), None)

    async def is_following(self, author: AuthorId) -> bool:
        return author == ALICE

    async def notifications(
        self, *, limit: int = PAGE, before: Cursor | None = None
    ) -> list[Notification]:
        if before is not None or self.empty:
            return []
        mine = self.feed[0]
        bob_reply = _item(
            7,
            BOB,
            "Welcome! Which port do you listen on?",
            hours=0,
            kind=Kind.REPLY,
            root=mine.id,
            parent=mine.id,
        )
        like = _item(8, ALICE, "🎉", hours=1, kind=Kind.REACTION)
        follow = _item(9, CAROL, "", hours=2, kind=Kind.FOLLOW)
        mention = _item(10, ALICE, f"say hi to {ME.short}, new here", hours=3)
        return [
            Notification("reply", bob_reply, mine),
            Notification("reaction", like, mine),
            Notification("follow", follow, None),
            Notification("mention", mention, None),
        ][:limit]

    async def search(self, query: str, *, limit: int = PAGE) -> list[Item]:
        words = query.lower().split()
        return [i for i in self.feed if i.text and all(w in i.text.lower() for w in words)]

    async def resolve_author(self, text: str) -> AuthorId:
        for author in NAMES:
            if str(author).startswith(text.strip()):
                return author
        raise NotFoundError(f"no author matches {text.strip()!r}")

    async def names_of(self, messages: list[MessageId]) -> dict[MessageId, str]:
        items = {i.id: i for i in [*self.feed, *self.thread_items]}
        return {m: items[m].author_display for m in messages if m in items}

    async def policy(self) -> Policy:
        return Policy(me=ME)

    def network_status(self) -> NetView | None:
        peer = "12D3KooWPeerPeerPeerPeerPeerPeerPeerPeerPeerPeerPeer1"
        return NetView(
            peer_id="12D3KooWMeMeMeMeMeMeMeMeMeMeMeMeMeMeMeMeMeMeMeMeMe",
            listen=(
                "/ip4/127.0.0.1/tcp/4500/p2p/12D3KooWMeMeMeMeMeMeMeMeMeMeMeMeMeMeMeMeMeMeMeMeMe",
            ),
            peers=(
                PeerView(
                    peer_id=peer,
                    connected=True,
                    gossip=True,
                    holds_my_latest=True,
                    received=6,
                    served=2,
                    incidents=0,
                    last_sync=None,
                ),
            ),
            published=2,
            gossip_received=6,
            left_for_sync=0,
            syncing=(),
            my_head_seq=2,
        )

    def network_note(self) -> str:
        return "The network is off."

    async def stop(self) -> None:
        pass
