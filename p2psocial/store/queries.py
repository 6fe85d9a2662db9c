"""The index's read side: timelines, threads, profiles, the social graph and search.

Readers never write, so any number may run beside the one writer (SQLite WAL). Every
list is newest first and paged by keyset: pass the last item's ``cursor`` as ``before``
to get the next page, which costs the same at any depth.
"""

from __future__ import annotations

import sqlite3
import threading
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Final, TypeVar

from ..core.bodies import Kind, ListEntry
from ..core.ids import ID_TEXT_CHARS, AuthorId, MessageId
from ..core.ranking.interface import Candidate, Origin
from ..core.text import normalize_tag
from ..errors import AmbiguousIdError, InputError, NotFoundError, StoreError
from .index import connect
from .schema import CODE_KINDS, KIND_CODES, TIMELINE_KINDS_SQL

DEFAULT_LIMIT: Final = 50
MAX_LIMIT: Final = 1000
UNTRUSTED_SHARE: Final = 10
"""Global gives at most one item in this many (rounded up) to authors with no trust path
to its reader (more than two follows away): 5 of a page of 50."""
UNTRUSTED_PER_AUTHOR: Final = 2
"""And at most this many of a page to any one of them."""
UNTRUSTED_SCAN: Final = 20
"""Global reads at most this many times ``limit`` messages for one page; what is left is
for the next page."""

_IdT = TypeVar("_IdT", AuthorId, MessageId)

Cursor = tuple[int, int]
"""Opaque position in a list: pass an item's ``cursor`` as ``before``."""


@dataclass(frozen=True, slots=True)
class AuthorInfo:
    """What the index knows about an author."""

    id: AuthorId
    name: str | None
    bio: str | None
    head_seq: int
    """The highest seq held."""
    held: int
    """How many of the author's messages are held (``head_seq - held`` are missing)."""
    forked: bool
    """The author has signed two different messages for one seq."""
    automated: bool = False
    """The author's profile declares that a program posts for this account."""

    @property
    def display_name(self) -> str:
        """The profile name, or the short id when there is none."""
        return self.name or self.id.short


@dataclass(frozen=True, slots=True)
class Reactions:
    """Reactions to one message: emoji and how many authors used each, most used first."""

    counts: tuple[tuple[str, int], ...] = ()

    @property
    def total(self) -> int:
        """All reactions together."""
        return sum(n for _, n in self.counts)


@dataclass(frozen=True, slots=True)
class Item:
    """A message as timelines, threads and search show it."""

    id: MessageId
    author: AuthorId
    author_name: str | None
    seq: int
    ts: int
    kind: Kind
    text: str | None
    """Post or reply text, or a reaction's emoji; None when the body is absent or deleted."""
    root: MessageId | None
    parent: MessageId | None
    target: MessageId | None
    has_body: bool
    deleted: bool
    replies: int = 0
    reposts: int = 0
    reactions: Reactions = Reactions()
    reposted: Item | None = None
    """For a repost, the reposted message when it is held."""
    depth: int = 0
    """In a thread, how deep below the root."""
    cursor: Cursor = (0, 0)
    automated: bool = False
    """The author's profile declares that a program posts for this account."""
    folded: int = 0
    """In Global (:meth:`IndexReader.global_feed`): how many messages of authors with no
    trust path to the reader were left out just before this item (newer than it, older
    than the item shown before it). The feed ``global:all`` shows them."""

    @property
    def author_display(self) -> str:
        """The author's profile name, or their short id."""
        return self.author_name or self.author.short


@dataclass(frozen=True, slots=True)
class ListInfo:
    """A moderation list as its author last published it."""

    author: AuthorId
    name: str
    entries: tuple[ListEntry, ...]
    id: MessageId
    """The ``list`` message in effect."""
    ts: int


NOTIFICATION_KINDS: Final = ("reply", "mention", "reaction", "repost", "follow")
"""What a :class:`Notification` can be about, in the codes the query uses (1-5)."""


@dataclass(frozen=True, slots=True)
class Notification:
    """Something another author did that concerns the owner."""

    what: str
    """One of :data:`NOTIFICATION_KINDS`: a reply to one of the owner's messages, a post
    or reply that mentions the owner, a reaction to or a repost of one of the owner's
    messages, or a follow of the owner (still in effect)."""
    item: Item
    """The message that did it (the reply, the mentioning post, the reaction, the repost,
    the follow)."""
    subject: Item | None
    """The owner's message it answers, reacts to or reposts (None for mentions, follows,
    and a subject the owner has deleted)."""

    @property
    def cursor(self) -> Cursor:
        """Pass as ``before`` for the next page."""
        return self.item.cursor


# The text of an author the home's owner blocks is never shown (docs/moderation.md).
_ITEM_COLUMNS: Final = (
    "m.rowid, m.id, a.key, a.name, m.seq, m.ts, m.kind,"
    " CASE WHEN a.blocked THEN NULL ELSE m.text END, m.root, m.parent,"
    " m.target, m.has_body, m.deleted, a.automated"
)
_FROM: Final = "FROM messages m JOIN authors a ON a.rowid = m.author"


class IndexReader:
    """Read-only queries on the index. Safe to share between threads."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self._conn = conn
        self._lock = threading.Lock()
        self._closed = False

    @classmethod
    def open(cls, path: Path) -> IndexReader:
        """Open the index read-only."""
        return cls(connect(path, readonly=True))

    def close(self) -> None:
        """Close the connection, after any query in flight (SQLite must not be closed under
        a running statement); later queries raise StoreError."""
        with self._lock:
            self._conn.close()
            self._closed = True

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[Any]:
        """Run read-only SQL against the index (for adapters such as sync); rows as tuples."""
        with self._lock:
            if self._closed:
                raise StoreError("the index is closed (the node was closed)")
            try:
                return self._conn.execute(sql, params).fetchall()
            except sqlite3.DatabaseError as exc:
                raise StoreError(
                    f"cannot read the index ({exc}); the node rebuilds a damaged index from the"
                    " log when it next opens this home, or run 'p2psocial reindex'"
                ) from None

    def _author_rowid(self, author: AuthorId) -> int | None:
        rows = self.query("SELECT rowid FROM authors WHERE key = ?", (author.raw,))
        return rows[0][0] if rows else None

    # --- timelines -----------------------------------------------------------------------

    def feed(
        self, feed: str, me: AuthorId, *, limit: int = DEFAULT_LIMIT, before: Cursor | None = None
    ) -> list[Item]:
        """A feed by name: ``home``, ``global``, ``global:all``, ``author:ID`` or ``tag:TAG``.

        ``global`` gives authors with no trust path to ``me`` a tenth of the page at most
        (:meth:`global_feed`); ``global:all`` is everything held, newest first.

        Args:
            feed: The feed; ``ID`` may be a unique prefix of an author id.
            me: Whose home feed ``home`` is.
            limit: At most this many items.
            before: A cursor from the previous page.

        Raises:
            InputError: ``feed`` is none of these, or ``ID`` matches no single author.
        """
        name, _, arg = feed.partition(":")
        if name == "home" and not arg:
            return self.home(me, limit=limit, before=before)
        if name == "global" and arg in ("", "all"):
            return self.global_feed(None if arg else me, limit=limit, before=before)
        if name == "author" and arg:
            return self.author_feed(self.resolve_author(arg), limit=limit, before=before)
        if name == "tag" and arg:
            return self.tag_feed(arg, limit=limit, before=before)
        raise InputError(
            f"unknown feed {feed!r}: use home, global, global:all, author:ID or tag:TAG"
        )

    def home(
        self, me: AuthorId, *, limit: int = DEFAULT_LIMIT, before: Cursor | None = None
    ) -> list[Item]:
        """Posts, replies and reposts by ``me`` and the authors ``me`` follows."""
        me_row = self._author_rowid(me)
        if me_row is None:
            return []
        if self._follows_are_sparse(me_row, limit):
            # Few followed messages: gather them author by author, then sort them.
            where = (
                "m.author IN (SELECT ? UNION ALL"
                " SELECT followee FROM follows WHERE follower = ? AND active = 1)"
            )
            index = "messages_author_timeline"
        else:
            # Many: walk the whole timeline newest first until ``limit`` of them.
            where = (
                "(m.author = ? OR m.author IN"
                " (SELECT followee FROM follows WHERE follower = ? AND active = 1))"
            )
            index = "messages_timeline"
        return self._timeline(where, [me_row, me_row], limit, before, index=index)

    def _follows_are_sparse(self, me_row: int, limit: int) -> bool:
        """Whether gathering the followed authors' messages beats a newest-first scan.

        A scan in time order meets about ``limit * total / followed`` rows before it has
        ``limit`` followed ones; gathering by author reads about ``followed`` rows and
        sorts them. The second is cheaper when ``followed ** 2 < limit * total``.
        """
        rows = self.query(
            "SELECT coalesce(sum(a.held), 0), (SELECT max(rowid) FROM messages)"
            " FROM follows f JOIN authors a ON a.rowid = f.followee"
            " WHERE f.follower = ? AND f.active = 1",
            [me_row],
        )
        followed, total = rows[0]
        return bool(followed * followed < limit * (total or 0))

    def global_feed(
        self,
        me: AuthorId | None = None,
        *,
        limit: int = DEFAULT_LIMIT,
        before: Cursor | None = None,
    ) -> list[Item]:
        """Posts, replies and reposts by every author held, newest first.

        Given its reader ``me`` (who follows someone), authors with no trust path to
        ``me`` (more than two follows away, keys never followed by anyone ``me`` knows)
        get at most one item in :data:`UNTRUSTED_SHARE` of a page, and at most
        :data:`UNTRUSTED_PER_AUTHOR` each; the rest are left out and counted on the next
        item shown (:attr:`Item.folded`). So a flood of fresh keys, which the strangers'
        budget already bounds in total, takes at most a tenth of Global, and the page says
        how much it left out. Without ``me``, or before ``me`` follows anyone (then there
        is no trust to go by), nothing is left out.
        """
        limit = _check_limit(limit)
        me_row = None if me is None else self._author_rowid(me)
        if me_row is None or not self.query(
            "SELECT 1 FROM follows WHERE follower = ? AND active = 1 LIMIT 1", [me_row]
        ):
            return self._timeline("1", [], limit, before, index="messages_timeline")
        return self._global_with_trust(me_row, limit, before)

    def _global_with_trust(self, me_row: int, limit: int, before: Cursor | None) -> list[Item]:
        room = -(-limit // UNTRUSTED_SHARE)
        per_author: Counter[AuthorId] = Counter()
        trusted: dict[AuthorId, bool] = {}
        shown: list[Item] = []
        folded = 0
        scanned = 0
        chunk = min(MAX_LIMIT, 2 * limit)
        cursor = before
        while len(shown) < limit and scanned < UNTRUSTED_SCAN * limit:
            items = self._timeline("1", [], chunk, cursor, index="messages_timeline")
            trusted.update(self._trust_paths(me_row, {i.author for i in items} - trusted.keys()))
            for item in items:
                scanned += 1
                cursor = item.cursor
                if not trusted[item.author]:
                    if room == 0 or per_author[item.author] == UNTRUSTED_PER_AUTHOR:
                        folded += 1
                        continue
                    room -= 1
                    per_author[item.author] += 1
                shown.append(replace(item, folded=folded))
                folded = 0
                if len(shown) == limit:
                    break
            if len(items) < chunk:
                break
        # Anything left out after the last item shown is met again by the next page.
        return shown

    def _trust_paths(self, me_row: int, authors: set[AuthorId]) -> dict[AuthorId, bool]:
        """Whether each author is within two follows of ``me_row``: ``me``, followed by
        ``me``, or followed by someone ``me`` follows (one index lookup per follower)."""
        if not authors:
            return {}
        marks = ",".join("?" * len(authors))
        rows = self.query(
            f"SELECT a.key FROM authors a WHERE a.key IN ({marks}) AND (a.rowid = ?"
            " OR EXISTS (SELECT 1 FROM follows f WHERE f.follower = ? AND f.followee = a.rowid"
            " AND f.active = 1)"
            " OR EXISTS (SELECT 1 FROM follows f2 JOIN follows f1 ON f1.follower = ?"
            " AND f1.followee = f2.follower AND f1.active = 1"
            " WHERE f2.followee = a.rowid AND f2.active = 1))",
            [*(a.raw for a in authors), me_row, me_row, me_row],
        )
        found = {AuthorId(row[0]) for row in rows}
        return {a: a in found for a in authors}

    def author_feed(
        self, author: AuthorId, *, limit: int = DEFAULT_LIMIT, before: Cursor | None = None
    ) -> list[Item]:
        """Posts, replies and reposts by one author."""
        row = self._author_rowid(author)
        if row is None:
            return []
        return self._timeline(
            "m.author = ?", [row], limit, before, index="messages_author_timeline"
        )

    def tag_feed(
        self, tag: str, *, limit: int = DEFAULT_LIMIT, before: Cursor | None = None
    ) -> list[Item]:
        """Posts and replies carrying ``#tag`` (case-insensitive)."""
        return self._linked_page("tags", "tag", normalize_tag(tag), limit, before)

    def mentions(
        self, me: AuthorId, *, limit: int = DEFAULT_LIMIT, before: Cursor | None = None
    ) -> list[Item]:
        """Posts and replies that mention ``me``."""
        me_row = self._author_rowid(me)
        if me_row is None:
            return []
        return self._linked_page("mentions", "author", me_row, limit, before)

    def _linked_page(
        self, table: str, key: str, value: object, limit: int, before: Cursor | None
    ) -> list[Item]:
        """A page of the messages a ``(key, ts, msg)`` table links to ``value``."""
        limit = _check_limit(limit)
        params: list[Any] = [value]
        where = f"x.{key} = ?"
        if before is not None:
            where += " AND (x.ts, x.msg) < (?, ?)"
            params += [before[0], before[1]]
        rows = self.query(
            f"SELECT {_ITEM_COLUMNS} FROM {table} x JOIN messages m ON m.rowid = x.msg"
            f" JOIN authors a ON a.rowid = m.author WHERE {where} AND m.deleted = 0"
            " ORDER BY x.ts DESC, x.msg DESC LIMIT ?",
            [*params, limit],
        )
        return self._decorate(rows)

    def search(self, query: str, *, limit: int = DEFAULT_LIMIT) -> list[Item]:
        """Posts and replies containing every word of ``query``, newest first.

        The query is plain words, not FTS syntax: each word must appear (as a word or a
        word prefix when it ends with ``*``).

        Raises:
            InputError: The query has no words.
        """
        limit = _check_limit(limit)
        match = _fts_query(query)
        rows = self.query(
            f"SELECT {_ITEM_COLUMNS} FROM search s JOIN messages m ON m.rowid = s.rowid"
            " JOIN authors a ON a.rowid = m.author WHERE search MATCH ? AND m.deleted = 0"
            " ORDER BY m.ts DESC, m.rowid DESC LIMIT ?",
            [match, limit],
        )
        return self._decorate(rows)

    def _timeline(
        self, where: str, params: list[Any], limit: int, before: Cursor | None, *, index: str
    ) -> list[Item]:
        limit = _check_limit(limit)
        if before is not None:
            where += " AND (m.ts, m.rowid) < (?, ?)"
            params = [*params, before[0], before[1]]
        rows = self.query(
            f"SELECT {_ITEM_COLUMNS} FROM messages m INDEXED BY {index}"
            f" JOIN authors a ON a.rowid = m.author"
            f" WHERE m.{TIMELINE_KINDS_SQL} AND m.deleted = 0 AND {where}"
            " ORDER BY m.ts DESC, m.rowid DESC LIMIT ?",
            [*params, limit],
        )
        return self._decorate(rows)

    # --- messages and threads ------------------------------------------------------------

    def has(self, message: MessageId) -> bool:
        """Whether ``message`` is held (cheaper than :meth:`get`)."""
        return bool(self.query("SELECT 1 FROM messages WHERE id = ?", (message.raw,)))

    def get(self, message: MessageId) -> Item | None:
        """One message, or None if it is not held."""
        rows = self.query(f"SELECT {_ITEM_COLUMNS} {_FROM} WHERE m.id = ?", (message.raw,))
        items = self._decorate(rows)
        return items[0] if items else None

    def thread(self, message: MessageId) -> list[Item]:
        """The whole conversation ``message`` belongs to, as a depth-first tree.

        The root comes first (when held), then each reply after its parent, siblings
        oldest first; ``Item.depth`` gives the indentation. Deleted messages stay in place
        (with no text) so that the tree keeps its shape. Replies whose parent is not held
        hang under the root.

        Raises:
            NotFoundError: ``message`` is not held.
        """
        start = self.get(message)
        if start is None:
            raise NotFoundError(f"message {message.short} is not held by this node")
        root = start.root or start.id
        rows = self.query(
            f"SELECT {_ITEM_COLUMNS} {_FROM} WHERE m.id = ? OR m.root = ? ORDER BY m.ts, m.rowid",
            (root.raw, root.raw),
        )
        items = self._decorate(rows)
        by_parent: dict[MessageId | None, list[Item]] = {}
        ids = {item.id for item in items}
        for item in items:
            if item.id == root:
                continue
            parent = item.parent if item.parent in ids else root
            by_parent.setdefault(parent, []).append(item)
        root_item = next((item for item in items if item.id == root), None)
        ordered = [root_item] if root_item is not None else []
        self._walk(root, 1, by_parent, ordered)
        return ordered

    def _walk(
        self,
        parent: MessageId,
        depth: int,
        by_parent: dict[MessageId | None, list[Item]],
        out: list[Item],
    ) -> None:
        pending = [(child, depth) for child in reversed(by_parent.get(parent, []))]
        while pending:
            item, level = pending.pop()
            out.append(replace(item, depth=level))
            pending.extend((child, level + 1) for child in reversed(by_parent.get(item.id, [])))

    def replies(self, message: MessageId, *, limit: int = MAX_LIMIT) -> list[Item]:
        """Direct replies to ``message``, oldest first."""
        rows = self.query(
            f"SELECT {_ITEM_COLUMNS} {_FROM} WHERE m.parent = ? ORDER BY m.ts, m.rowid LIMIT ?",
            (message.raw, _check_limit(limit)),
        )
        return self._decorate(rows)

    def reactions(self, message: MessageId) -> Reactions:
        """The reactions to ``message``: each emoji counted once per author."""
        return self._reactions([message.raw]).get(message.raw, Reactions())

    # --- authors and the social graph ----------------------------------------------------

    def author(self, author: AuthorId) -> AuthorInfo | None:
        """What is known about ``author``, or None if nothing is held."""
        rows = self.query(
            "SELECT key, name, bio, head_seq, held, forked, automated FROM authors WHERE key = ?",
            (author.raw,),
        )
        return _author_info(rows[0]) if rows else None

    def following(self, author: AuthorId) -> list[AuthorInfo]:
        """The authors ``author`` follows, by name."""
        return self._graph("f.follower", "f.followee", author)

    def followers(self, author: AuthorId) -> list[AuthorInfo]:
        """The authors that follow ``author``, by name."""
        return self._graph("f.followee", "f.follower", author)

    def is_following(self, follower: AuthorId, followee: AuthorId) -> bool:
        """Whether ``follower`` currently follows ``followee``."""
        rows = self.query(
            "SELECT 1 FROM follows f JOIN authors a ON a.rowid = f.follower"
            " JOIN authors b ON b.rowid = f.followee"
            " WHERE a.key = ? AND b.key = ? AND f.active = 1",
            (follower.raw, followee.raw),
        )
        return bool(rows)

    # --- blocks and moderation lists -------------------------------------------------------

    def blocked_by(self, blocker: AuthorId) -> frozenset[AuthorId]:
        """The authors ``blocker`` blocks now (their latest block or unblock is a block)."""
        rows = self.query(
            "SELECT t.key FROM blocks b JOIN authors o ON o.rowid = b.blocker"
            " JOIN authors t ON t.rowid = b.blocked WHERE o.key = ? AND b.active = 1",
            (blocker.raw,),
        )
        return frozenset(AuthorId(row[0]) for row in rows)

    def moderation_list(self, author: AuthorId, name: str) -> ListInfo | None:
        """The list ``author/name`` as last published, or None if none is held."""
        found = self._lists(author, name)
        return found[0] if found else None

    def moderation_lists(self, author: AuthorId) -> list[ListInfo]:
        """Every moderation list ``author`` has published (empty ones too), by name."""
        return self._lists(author, None)

    def _lists(self, author: AuthorId, name: str | None) -> list[ListInfo]:
        where = "" if name is None else " AND l.name = ?"
        params: list[Any] = [author.raw] + ([] if name is None else [name])
        rows = self.query(
            "SELECT l.name, m.id, m.ts FROM lists l JOIN authors a ON a.rowid = l.author"
            f" JOIN messages m ON m.rowid = l.msg WHERE a.key = ?{where} ORDER BY l.name",
            params,
        )
        if not rows:
            return []
        entries: dict[str, list[ListEntry]] = {}
        for list_name, target, is_author, reason in self.query(
            "SELECT e.name, e.target, e.is_author, e.reason FROM list_entries e"
            f" JOIN authors a ON a.rowid = e.author WHERE a.key = ?{where.replace('l.', 'e.')}"
            " ORDER BY e.name, e.position",
            params,
        ):
            ref = AuthorId(target) if is_author else MessageId(target)
            entries.setdefault(list_name, []).append(ListEntry(ref, reason))
        return [
            ListInfo(author, list_name, tuple(entries.get(list_name, ())), MessageId(mid), ts)
            for list_name, mid, ts in rows
        ]

    def _graph(self, this: str, other: str, author: AuthorId) -> list[AuthorInfo]:
        rows = self.query(
            "SELECT o.key, o.name, o.bio, o.head_seq, o.held, o.forked, o.automated FROM follows f"
            f" JOIN authors t ON t.rowid = {this} JOIN authors o ON o.rowid = {other}"
            " WHERE t.key = ? AND f.active = 1 ORDER BY coalesce(o.name, ''), o.key",
            (author.raw,),
        )
        return [_author_info(row) for row in rows]

    def authors(self) -> list[AuthorInfo]:
        """Every author held, by name."""
        rows = self.query(
            "SELECT key, name, bio, head_seq, held, forked, automated FROM authors WHERE held > 0"
            " ORDER BY coalesce(name, ''), key"
        )
        return [_author_info(row) for row in rows]

    # --- ids typed by people -------------------------------------------------------------

    def resolve_author(self, text: str) -> AuthorId:
        """An author from a full id or a unique prefix of one (such as the short form).

        Raises:
            InvalidIdError: ``text`` is not an author id or prefix.
            NotFoundError, AmbiguousIdError: The prefix matches no or several authors.
        """
        return self._resolve(AuthorId, "authors", "key", text)

    def resolve_message(self, text: str) -> MessageId:
        """A message from a full id or a unique prefix of one.

        Raises:
            InvalidIdError: ``text`` is not a message id or prefix.
            NotFoundError, AmbiguousIdError: The prefix matches no or several messages.
        """
        return self._resolve(MessageId, "messages", "id", text)

    def _resolve(self, cls: type[_IdT], table: str, column: str, text: str) -> _IdT:
        try:
            return cls.parse(text)
        except InputError:
            if len(text.strip()) >= len(cls.HRP) + 1 + ID_TEXT_CHARS:
                raise  # a whole id with a typo: its checksum error says so
            low, high = cls.prefix_range(text)
        sql = f"SELECT {column} FROM {table} WHERE {column} >= ?"
        params: list[Any] = [low]
        if high is not None:
            sql += f" AND {column} < ?"
            params.append(high)
        rows = self.query(sql + " LIMIT 2", params)
        if not rows:
            raise NotFoundError(f"no {cls.WHAT} matches {text.strip()!r}")
        if len(rows) > 1:
            raise AmbiguousIdError(f"{text.strip()!r} matches several {cls.WHAT}s: type more")
        return cls(rows[0][0])

    # --- notifications -------------------------------------------------------------------

    def notifications(
        self, me: AuthorId, *, limit: int = DEFAULT_LIMIT, before: Cursor | None = None
    ) -> list[Notification]:
        """What others did that concerns ``me``, newest first (see :class:`Notification`).

        A reply that also mentions ``me`` is one notification, a reply. Own messages never
        count. Each page reads ``me``'s messages through ``messages_author_seq`` and what
        answers them through ``messages_parent`` and ``messages_target``, mentions through
        the ``mentions`` key and follows through ``follows_followee``: the cost grows with
        how many messages ``me`` has written and received answers to, not with the store.

        Args:
            me: The owner.
            limit: At most this many notifications.
            before: A cursor from the previous page.
        """
        limit = _check_limit(limit)
        me_row = self._author_rowid(me)
        if me_row is None:
            return []
        page = "" if before is None else "WHERE (ts, msg) < (?, ?)"
        rows = self.query(
            "SELECT ts, msg, min(what) FROM ("
            # 1: replies to my messages
            " SELECT r.ts AS ts, r.rowid AS msg, 1 AS what FROM messages m"
            " JOIN messages r ON r.parent = m.id"
            " WHERE m.author = ? AND r.kind = 2 AND r.author <> m.author AND r.deleted = 0"
            # 3, 4: reactions to and reposts of my messages
            " UNION ALL SELECT r.ts, r.rowid, CASE r.kind WHEN 4 THEN 3 ELSE 4 END"
            " FROM messages m JOIN messages r ON r.target = m.id"
            " WHERE m.author = ? AND r.kind IN (3, 4) AND r.author <> m.author AND r.deleted = 0"
            # 2: mentions of me
            " UNION ALL SELECT x.ts, x.msg, 2 FROM mentions x JOIN messages r ON r.rowid = x.msg"
            " WHERE x.author = ? AND r.author <> x.author AND r.deleted = 0"
            # 5: follows of me still in effect, dated by the follow message
            " UNION ALL SELECT m.ts, m.rowid, 5 FROM follows f"
            " JOIN messages m ON m.author = f.follower AND m.seq = f.seq"
            " WHERE f.followee = ? AND f.active = 1"
            f") {page} GROUP BY msg ORDER BY ts DESC, msg DESC LIMIT ?",
            [me_row] * 4 + ([] if before is None else [before[0], before[1]]) + [limit],
        )
        if not rows:
            return []
        marks = ",".join("?" * len(rows))
        found = self.query(
            f"SELECT {_ITEM_COLUMNS} {_FROM} WHERE m.rowid IN ({marks})", [row[1] for row in rows]
        )
        items = {item.cursor[1]: item for item in self._decorate(found)}
        subject_ids = {
            ref.raw
            for item in items.values()
            if (ref := item.parent if item.kind is Kind.REPLY else item.target) is not None
        }
        subjects: dict[MessageId, Item] = {}
        if subject_ids:
            marks = ",".join("?" * len(subject_ids))
            mine = self.query(
                f"SELECT {_ITEM_COLUMNS} {_FROM} WHERE m.id IN ({marks}) AND m.deleted = 0",
                list(subject_ids),
            )
            subjects = {item.id: item for item in self._decorate(mine)}
        out = []
        for _ts, rowid, code in rows:
            item = items[rowid]
            what = NOTIFICATION_KINDS[code - 1]
            ref = item.parent if what == "reply" else item.target
            subject = subjects.get(ref) if ref is not None and what != "mention" else None
            out.append(Notification(what, item, subject))
        return out

    # --- statistics ----------------------------------------------------------------------

    def counts(self) -> dict[str, int]:
        """How many messages, authors and forks the index holds."""
        rows = self.query(
            "SELECT (SELECT count(*) FROM messages), (SELECT count(*) FROM authors"
            " WHERE held > 0), (SELECT count(*) FROM forks)"
        )
        messages, authors, forks = rows[0]
        return {"messages": messages, "authors": authors, "forks": forks}

    # --- ranking candidates (p2psocial.feeds) ---------------------------------------------

    def position(self) -> int:
        """The log position the index has reached: it moves whenever anything is indexed."""
        rows = self.query("SELECT value FROM meta WHERE key = 'position'")
        return int(rows[0][0]) if rows else 0

    def newest_rowid(self) -> int:
        """The row of the message indexed last (0 when none): a ranked feed's "as of"."""
        return int(self.query("SELECT coalesce(max(rowid), 0) FROM messages")[0][0])

    def follows_state(self) -> tuple[int, int]:
        """A fingerprint of the follow graph: it changes with every follow or unfollow
        applied (a pair's seq only grows), and with nothing else."""
        count, seqs = self.query("SELECT count(*), coalesce(sum(seq), 0) FROM follows")[0]
        return int(count), int(seqs)

    def follow_graph(self) -> dict[AuthorId, list[AuthorId]]:
        """The whole follow graph held: each follower's current followees, in one query."""
        keys = dict(self.query("SELECT rowid, key FROM authors"))
        graph: dict[AuthorId, list[AuthorId]] = {}
        ids: dict[int, AuthorId] = {}
        for follower, followee in self.query(
            "SELECT follower, followee FROM follows WHERE active = 1"
        ):
            a = ids.get(follower) or ids.setdefault(follower, AuthorId(keys[follower]))
            b = ids.get(followee) or ids.setdefault(followee, AuthorId(keys[followee]))
            graph.setdefault(a, []).append(b)
        return graph

    def unfollowed(self, author: AuthorId) -> list[AuthorId]:
        """Whom ``author`` followed once and has unfollowed since."""
        rows = self.query(
            "SELECT b.key FROM follows f JOIN authors a ON a.rowid = f.follower"
            " JOIN authors b ON b.rowid = f.followee WHERE a.key = ? AND f.active = 0",
            (author.raw,),
        )
        return [AuthorId(key) for (key,) in rows]

    def home_candidates(
        self, me: AuthorId, *, limit: int, upto: int, counts: bool = False
    ) -> list[Candidate]:
        """The newest ``limit`` messages of ``me``'s home feed (as :meth:`home` picks them,
        by the same plan), indexed at or before row ``upto``, as candidates."""
        me_row = self._author_rowid(me)
        if me_row is None:
            return []
        if self._follows_are_sparse(me_row, limit):
            index = "messages_author_timeline"
            authors = (
                "SELECT ? UNION ALL SELECT followee FROM follows WHERE follower = ? AND active = 1"
            )
            where = f"m.author IN ({authors})"
        else:
            index = "messages_timeline"
            where = (
                "(m.author = ? OR m.author IN"
                " (SELECT followee FROM follows WHERE follower = ? AND active = 1))"
            )
        rows = self.query(
            f"SELECT {self._columns(counts)} FROM messages m INDEXED BY {index}"
            " JOIN authors a ON a.rowid = m.author"
            f" WHERE m.{TIMELINE_KINDS_SQL} AND m.deleted = 0 AND m.rowid <= ? AND {where}"
            " ORDER BY m.ts DESC, m.rowid DESC LIMIT ?",
            [upto, me_row, me_row, limit],
        )
        return self._candidates(rows, "home", upto, counts)

    def candidates_per_author(
        self,
        authors: Sequence[AuthorId],
        *,
        per_author: int,
        upto: int,
        origin: Origin,
        counts: bool = False,
    ) -> list[Candidate]:
        """Each author's newest ``per_author`` posts, replies and reposts (up to row
        ``upto``), newest first overall."""
        if not authors:
            return []
        marks = ",".join("?" * len(authors))
        rows = self.query(
            f"SELECT {self._columns(counts)} FROM authors a JOIN messages m ON m.rowid IN"
            " (SELECT x.rowid FROM messages x INDEXED BY messages_author_timeline"
            f" WHERE x.author = a.rowid AND x.{TIMELINE_KINDS_SQL} AND x.deleted = 0"
            " AND x.rowid <= ? ORDER BY x.ts DESC, x.rowid DESC LIMIT ?)"
            f" WHERE a.key IN ({marks}) ORDER BY m.ts DESC, m.rowid DESC",
            [upto, per_author, *(a.raw for a in authors)],
        )
        return self._candidates(rows, origin, upto, counts)

    def candidates_by_id(
        self, ids: Sequence[MessageId], *, upto: int, origin: Origin, counts: bool = False
    ) -> list[Candidate]:
        """These messages as candidates, when held, not deleted, of a timeline kind and
        indexed at or before row ``upto``; newest first."""
        if not ids:
            return []
        marks = ",".join("?" * len(ids))
        rows = self.query(
            f"SELECT {self._columns(counts)} FROM messages m JOIN authors a ON a.rowid = m.author"
            f" WHERE m.id IN ({marks}) AND m.{TIMELINE_KINDS_SQL} AND m.deleted = 0"
            " AND m.rowid <= ? ORDER BY m.ts DESC, m.rowid DESC",
            [*(i.raw for i in ids), upto],
        )
        return self._candidates(rows, origin, upto, counts)

    def _candidates(
        self, rows: list[Any], origin: Origin, upto: int, counts: bool
    ) -> list[Candidate]:
        """Rows of :meth:`_columns` as candidates, reposts with their targets."""
        out = [self._candidate(row, origin) for row in rows]
        targets = [c.target for c in out if c.kind is Kind.REPOST and c.target is not None]
        if not targets:
            return out
        found = self.candidates_by_id(targets, upto=upto, origin=origin, counts=counts)
        by_id = {c.id: c for c in found}
        return [replace(c, reposted=by_id.get(c.target)) if c.target else c for c in out]

    def _columns(self, counts: bool) -> str:
        return self._CANDIDATE_COLUMNS + (self._COUNT_COLUMNS if counts else ", NULL, NULL, NULL")

    _CANDIDATE_COLUMNS: Final = (
        "m.id, a.key, a.name, m.ts, m.kind, m.text, m.root, m.parent, m.target"
    )
    _COUNT_COLUMNS: Final = (
        ", (SELECT count(*) FROM messages r WHERE r.parent = m.id"
        f" AND r.kind = {KIND_CODES[Kind.REPLY]} AND r.deleted = 0),"
        " (SELECT count(*) FROM messages r WHERE r.target = m.id"
        f" AND r.kind = {KIND_CODES[Kind.REPOST]} AND r.deleted = 0),"
        " (SELECT count(DISTINCT r.author || ':' || r.text) FROM messages r"
        f" WHERE r.target = m.id AND r.kind = {KIND_CODES[Kind.REACTION]} AND r.deleted = 0"
        " AND r.text IS NOT NULL)"
    )
    """A candidate's counts; each reaction counts once per author and emoji, as in
    :class:`Reactions`."""

    _AUTHOR_IDS: Final[dict[bytes, AuthorId]] = {}
    """Author ids already made, shared: a page's candidates come from a few hundred
    authors, and every object a page keeps alive costs garbage-collection time."""

    @classmethod
    def _candidate(cls, row: Any, origin: Origin) -> Candidate:
        mid, key, name, ts, code, text, root, parent, target, replies, reposts, reactions = row
        author = cls._AUTHOR_IDS.get(key)
        if author is None:
            if len(cls._AUTHOR_IDS) >= 100_000:
                cls._AUTHOR_IDS.clear()
            author = cls._AUTHOR_IDS[key] = AuthorId(key)
        return Candidate(
            id=MessageId(mid),
            author=author,
            author_name=name,
            ts=ts,
            kind=CODE_KINDS[code],
            text=text,
            root=_opt_id(root),
            parent=_opt_id(parent),
            target=_opt_id(target),
            replies=replies,
            reposts=reposts,
            reactions=reactions,
            origin=origin,
        )

    def items(self, ids: Sequence[MessageId]) -> list[Item]:
        """These messages as timeline items, decorated, in the order given; ids not held
        are left out."""
        if not ids:
            return []
        marks = ",".join("?" * len(ids))
        rows = self.query(
            f"SELECT {_ITEM_COLUMNS} {_FROM} WHERE m.id IN ({marks})", [i.raw for i in ids]
        )
        by_id = {item.id: item for item in self._decorate(rows)}
        return [by_id[i] for i in ids if i in by_id]

    # --- decoration ----------------------------------------------------------------------

    def _decorate(self, rows: list[Any]) -> list[Item]:
        items = [_item(row) for row in rows]
        if not items:
            return items
        ids = [item.id.raw for item in items]
        replies = self._count_by("parent", ids, "m.kind = 2")
        reposts = self._count_by("target", ids, "m.kind = 3")
        reactions = self._reactions(ids)
        targets = [item.target for item in items if item.kind is Kind.REPOST and item.target]
        reposted: dict[MessageId, Item] = {}
        if targets:
            marks = ",".join("?" * len(targets))
            found = self.query(
                f"SELECT {_ITEM_COLUMNS} {_FROM} WHERE m.id IN ({marks}) AND m.deleted = 0",
                [t.raw for t in targets],
            )
            reposted = {item.id: item for item in self._decorate(found)}
        return [
            replace(
                item,
                replies=replies.get(item.id.raw, 0),
                reposts=reposts.get(item.id.raw, 0),
                reactions=reactions.get(item.id.raw, Reactions()),
                reposted=reposted.get(item.target) if item.target else None,
            )
            for item in items
        ]

    def _count_by(self, column: str, ids: list[bytes], kind_sql: str) -> dict[bytes, int]:
        marks = ",".join("?" * len(ids))
        rows = self.query(
            f"SELECT m.{column}, count(*) FROM messages m WHERE m.{column} IN ({marks})"
            f" AND {kind_sql} AND m.deleted = 0 GROUP BY m.{column}",
            ids,
        )
        return {key: n for key, n in rows}

    def _reactions(self, ids: list[bytes]) -> dict[bytes, Reactions]:
        marks = ",".join("?" * len(ids))
        rows = self.query(
            "SELECT m.target, m.text, count(DISTINCT m.author) AS n FROM messages m"
            f" WHERE m.target IN ({marks}) AND m.kind = {KIND_CODES[Kind.REACTION]}"
            " AND m.deleted = 0 AND m.text IS NOT NULL GROUP BY m.target, m.text"
            " ORDER BY n DESC, m.text",
            ids,
        )
        grouped: dict[bytes, list[tuple[str, int]]] = {}
        for target, emoji, n in rows:
            grouped.setdefault(target, []).append((emoji, n))
        return {key: Reactions(tuple(value)) for key, value in grouped.items()}


def _check_limit(limit: int) -> int:
    if not 1 <= limit <= MAX_LIMIT:
        raise InputError(f"limit must be between 1 and {MAX_LIMIT}, got {limit}")
    return limit


def _fts_query(query: str) -> str:
    words = query.split()
    if not words:
        raise InputError("search needs at least one word")
    terms = []
    for word in words:
        prefix = word.endswith("*") and len(word) > 1
        bare = word.rstrip("*") if prefix else word
        terms.append('"' + bare.replace('"', '""') + '"' + ("*" if prefix else ""))
    return " ".join(terms)


def _opt_id(raw: bytes | None) -> MessageId | None:
    return None if raw is None else MessageId(raw)


def _item(row: Any) -> Item:
    rowid, mid, key, name, seq, ts, code, text, root, parent, target, has_body, deleted = row[:13]
    return Item(
        id=MessageId(mid),
        author=AuthorId(key),
        author_name=name,
        seq=seq,
        ts=ts,
        kind=CODE_KINDS[code],
        text=text,
        root=_opt_id(root),
        parent=_opt_id(parent),
        target=_opt_id(target),
        has_body=bool(has_body),
        deleted=bool(deleted),
        cursor=(ts, rowid),
        automated=bool(row[13]),
    )


def _author_info(row: Any) -> AuthorInfo:
    key, name, bio, head_seq, held, forked, automated = row
    return AuthorInfo(AuthorId(key), name, bio, head_seq, held, bool(forked), bool(automated))
