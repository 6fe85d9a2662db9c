"""The index writer: turns log records into SQLite rows, in log order, deterministically.

The index holds nothing that is not derived from the log. Its ``meta`` table records the
schema version and the log position it has reached, committed in the same transaction as
the rows, so that after any crash the index resumes from exactly where its last commit
left off, and an index of another version is rebuilt from scratch.
"""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from ..core.bodies import (
    Block,
    Delete,
    Follow,
    ListEntry,
    ModerationList,
    Post,
    Profile,
    Reaction,
    Reply,
    Repost,
    Unblock,
    Unfollow,
)
from ..core.chain import ChainView, Verdict, check_chain
from ..core.ids import AuthorId, MessageId
from ..core.message import Message
from ..core.sync import seq_fingerprint
from ..core.text import extract_tags
from ..errors import ChainError
from .schema import (
    DELETABLE_CODES,
    INDEX_VERSION,
    KIND_CODES,
    PRAGMAS,
    SCHEMA,
    SECONDARY_INDEXES,
)

log = logging.getLogger(__name__)


def connect(path: Path, *, readonly: bool) -> sqlite3.Connection:
    """Open the index database with this project's settings.

    Args:
        path: The database file.
        readonly: Open with ``mode=ro`` (never writes, never creates).
    """
    if readonly:
        conn = sqlite3.connect(
            f"file:{path}?mode=ro", uri=True, check_same_thread=False, isolation_level=None
        )
    else:
        conn = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        for pragma in PRAGMAS:
            conn.execute(pragma)
    conn.execute("PRAGMA busy_timeout = 5000")
    return conn


def read_meta(conn: sqlite3.Connection) -> tuple[int | None, int]:
    """The index's schema version (None if it has none) and the log position reached.

    Raises:
        sqlite3.DatabaseError: The file is not an index (or not a database at all).
    """
    rows = dict(conn.execute("SELECT key, value FROM meta").fetchall())
    version = rows.get("version")
    return (int(version) if version is not None else None), int(rows.get("position", 0))


@dataclass(frozen=True, slots=True)
class Head:
    """An author's newest message as held: its seq, id and timestamp."""

    seq: int = 0
    id: MessageId | None = None
    ts: int = 0


class IndexWriter:
    """The single writer of the index. Not thread-safe: the store serialises calls.

    The index is derived from the log alone, except for one thing: whom the home's *owner*
    blocks (``authors.blocked``), which hides those authors' text from every query and
    search. The owner is recorded in ``meta``; an index built for another owner is rebuilt.
    """

    def __init__(self, conn: sqlite3.Connection, owner: bytes | None = None) -> None:
        self._conn = conn
        self._owner = owner
        self._author_rows: dict[bytes, int] = {}
        self._delete_targets: set[bytes] | None = None
        self._blocked_rows: set[int] | None = None
        self._heads: dict[int, list[int]] = {}
        """Per author row, the highest seq and the count applied in the open transaction."""

    @classmethod
    def open(cls, path: Path, *, owner: bytes | None = None) -> tuple[IndexWriter, int]:
        """Open or create the index at ``path``.

        Args:
            path: The database file.
            owner: The home owner's author key; None keeps the one the index records.

        Returns:
            The writer and the log position the index has reached (0 when new or rebuilt
            because its version, or its owner's blocks, differed).
        """
        if not path.exists():
            return cls.create(path, owner=owner), 0
        try:
            conn = connect(path, readonly=False)
            version, position = read_meta(conn)
        except sqlite3.DatabaseError as exc:
            log.warning("index %s is damaged (%s): rebuilding it from the log", path, exc)
            return cls.create(path, owner=owner), 0
        if version != INDEX_VERSION:
            conn.close()
            if version is not None:
                log.info("index version %s != %s: rebuilding %s", version, INDEX_VERSION, path)
            return cls.create(path, owner=owner), 0
        recorded = _read_owner(conn)
        if owner is None or owner == recorded:
            return cls(conn, recorded), position
        if recorded is not None or _blocks_by(conn, owner):
            # Blocks were applied for someone else, or this owner's were not applied.
            conn.close()
            log.info("index %s was built for another owner: rebuilding it", path)
            return cls.create(path, owner=owner), 0
        conn.execute("INSERT OR REPLACE INTO meta (key, value) VALUES ('owner', ?)", (owner,))
        return cls(conn, owner), position

    @classmethod
    def create(cls, path: Path, *, bulk: bool = False, owner: bytes | None = None) -> IndexWriter:
        """Create an empty index at ``path``, replacing any file there.

        Args:
            path: The database file.
            owner: The home owner's author key (whose blocks hide text), if known.
            bulk: For a full rebuild: no journal and no secondary indexes until
                :meth:`finish_bulk`, and version 0 until then, so that a crash midway
                leaves an index that the next open rebuilds.
        """
        for suffix in ("", "-wal", "-shm"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)
        conn = connect(path, readonly=False)
        conn.executescript(SCHEMA)
        if bulk:
            conn.execute("PRAGMA journal_mode = OFF")
            conn.execute("PRAGMA synchronous = OFF")
        else:
            for statement in SECONDARY_INDEXES:
                conn.execute(statement)
        conn.execute(
            "INSERT INTO meta (key, value) VALUES ('version', ?), ('position', 0), ('owner', ?)",
            (0 if bulk else INDEX_VERSION, owner),
        )
        return cls(conn, owner)

    def finish_bulk(self) -> None:
        """End a bulk rebuild: create the secondary indexes, return to WAL, mark it valid."""
        conn = self._conn
        for statement in SECONDARY_INDEXES:
            conn.execute(statement)
        conn.execute("PRAGMA journal_mode = WAL")
        conn.execute("PRAGMA synchronous = NORMAL")
        conn.execute("UPDATE meta SET value = ? WHERE key = 'version'", (INDEX_VERSION,))

    def close(self) -> None:
        """Close the connection."""
        self._conn.close()

    @property
    def owner(self) -> bytes | None:
        """The home owner's author key, whose blocks this index applies."""
        return self._owner

    def owner_blocks(self) -> dict[bytes, tuple[int, bool]]:
        """For each author the owner has blocked or unblocked: the seq of the message in
        effect and whether it blocks."""
        if self._owner is None:
            return {}
        rows = self._conn.execute(
            "SELECT t.key, b.seq, b.active FROM blocks b JOIN authors o ON o.rowid = b.blocker"
            " JOIN authors t ON t.rowid = b.blocked WHERE o.key = ?",
            (self._owner,),
        ).fetchall()
        return {key: (seq, bool(active)) for key, seq, active in rows}

    # --- reads the writer needs --------------------------------------------------------

    def chain_view(self, author: AuthorId, seq: int) -> ChainView:
        """What the index holds around ``(author, seq)``."""
        row = self._conn.execute(
            "SELECT rowid, head_seq FROM authors WHERE key = ?", (author.raw,)
        ).fetchone()
        if row is None:
            return ChainView()
        at = before = after_prev = None
        for s, mid, prev in self._conn.execute(
            "SELECT seq, id, prev FROM messages WHERE author = ? AND seq BETWEEN ? AND ?",
            (row[0], seq - 1, seq + 1),
        ):
            if s == seq:
                at = MessageId(mid)
            elif s == seq - 1:
                before = MessageId(mid)
            else:
                after_prev = None if prev is None else MessageId(prev)
        return ChainView(head_seq=row[1], at_seq=at, before=before, after_prev=after_prev)

    def is_fork_evidence(self, message: MessageId) -> bool:
        """Whether ``message`` is already held as fork evidence."""
        row = self._conn.execute("SELECT 1 FROM forks WHERE id = ?", (message.raw,)).fetchone()
        return row is not None

    def head(self, author: AuthorId) -> Head:
        """The newest message held for ``author`` (seq 0 when none)."""
        row = self._conn.execute(
            "SELECT m.seq, m.id, m.ts FROM authors a JOIN messages m "
            "ON m.author = a.rowid AND m.seq = a.head_seq WHERE a.key = ?",
            (author.raw,),
        ).fetchone()
        return Head() if row is None else Head(row[0], MessageId(row[1]), row[2])

    # --- applying records --------------------------------------------------------------

    def apply(self, records: Iterable[tuple[int, int, Message, Verdict | None]]) -> int:
        """Apply log records in one transaction and advance the recorded position.

        Args:
            records: ``(position, next_position, message, verdict)`` in log order. The
                verdict is the chain rules' answer when the caller has just computed it
                against this same index (the store's live path); None makes the index
                compute it (replay), which gives the same answer for the same log.

        Returns:
            How many records were applied.
        """
        count = 0
        end: int | None = None
        conn = self._conn
        conn.execute("BEGIN IMMEDIATE")
        try:
            for position, next_position, message, verdict in records:
                self._apply_one(position, message, verdict)
                end = next_position
                count += 1
            self._flush_heads()
            if end is not None:
                conn.execute("UPDATE meta SET value = ? WHERE key = 'position'", (end,))
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            self._author_rows.clear()
            self._heads.clear()
            self._delete_targets = None
            self._blocked_rows = None
            raise
        return count

    def _author_row(self, key: bytes) -> int:
        row = self._author_rows.get(key)
        if row is not None:
            return row
        found = self._conn.execute("SELECT rowid FROM authors WHERE key = ?", (key,)).fetchone()
        if found is None:
            cursor = self._conn.execute("INSERT INTO authors (key) VALUES (?)", (key,))
            row = int(cursor.lastrowid)  # type: ignore[arg-type]
        else:
            row = int(found[0])
        if len(self._author_rows) > 100_000:
            self._author_rows.clear()
        self._author_rows[key] = row
        return row

    def _apply_one(self, position: int, message: Message, verdict: Verdict | None) -> None:
        conn = self._conn
        try:
            if verdict is None:
                verdict = check_chain(
                    message, self.chain_view(message.author, message.seq), allow_gaps=True
                )
        except ChainError as exc:
            # The writer never appends such a record; only a log written by something
            # else could hold one. Keep it out of the index and say so.
            log.warning("log record at %s skipped by the index: %s", position, exc)
            return
        author = self._author_row(message.author.raw)
        if verdict is Verdict.DUPLICATE:
            return
        if verdict is Verdict.FORK:
            conn.execute(
                "INSERT OR IGNORE INTO forks (id, author, seq, pos) VALUES (?, ?, ?, ?)",
                (message.id.raw, author, message.seq, position),
            )
            conn.execute("UPDATE authors SET forked = 1 WHERE rowid = ?", (author,))
            return

        header, body = message.header, message.body
        text: str | None = None
        root = parent = target = None
        subject: int | None = None
        match body:
            case Post():
                text = body.text
            case Reply():
                text, root, parent = body.text, body.root.raw, body.parent.raw
            case Repost() | Delete():
                target = body.target.raw
            case Reaction():
                text, target = body.emoji, body.target.raw
            case Follow() | Unfollow() | Block() | Unblock():
                subject = self._author_row(body.author.raw)
        code = KIND_CODES[header.kind]
        deleted = 0
        if code in DELETABLE_CODES and message.id.raw in self._deleted_targets():
            row = conn.execute(
                "SELECT author FROM deletes WHERE target = ?", (message.id.raw,)
            ).fetchone()
            if row is not None and row[0] == author:
                deleted, text = 1, None
        cursor = conn.execute(
            "INSERT INTO messages (id, author, seq, prev, ts, kind, pos, text, root, parent,"
            " target, subject, has_body, deleted) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
            (
                message.id.raw,
                author,
                message.seq,
                None if header.prev is None else header.prev.raw,
                header.ts,
                code,
                position,
                text,
                root,
                parent,
                target,
                subject,
                int(body is not None),
                deleted,
            ),
        )
        rowid = cursor.lastrowid
        head = self._heads.get(author)
        if head is None:
            self._heads[author] = [message.seq, 1, seq_fingerprint(message.seq)]
        else:
            head[0] = max(head[0], message.seq)
            head[1] += 1
            head[2] ^= seq_fingerprint(message.seq)
        if deleted or body is None:
            return
        match body:
            case Post() | Reply():
                if author not in self._blocked():
                    conn.execute(
                        "INSERT INTO search (rowid, text) VALUES (?, ?)", (rowid, body.text)
                    )
                tags = extract_tags(body.text)
                if tags:
                    conn.executemany(
                        "INSERT OR IGNORE INTO tags (tag, ts, msg) VALUES (?, ?, ?)",
                        [(tag, header.ts, rowid) for tag in tags],
                    )
                if body.mentions:
                    conn.executemany(
                        "INSERT OR IGNORE INTO mentions (author, ts, msg) VALUES (?, ?, ?)",
                        [(self._author_row(m.raw), header.ts, rowid) for m in body.mentions],
                    )
            case Follow() | Unfollow():
                conn.execute(
                    "INSERT INTO follows (follower, followee, seq, active) VALUES (?, ?, ?, ?)"
                    " ON CONFLICT (follower, followee) DO UPDATE SET seq = excluded.seq,"
                    " active = excluded.active WHERE excluded.seq > follows.seq",
                    (author, subject, message.seq, int(isinstance(body, Follow))),
                )
            case Profile(name=name, bio=bio, automated=automated):
                conn.execute(
                    "UPDATE authors SET name = ?, bio = ?, automated = ?, profile_seq = ?"
                    " WHERE rowid = ? AND profile_seq < ?",
                    (name, bio, int(automated), message.seq, author, message.seq),
                )
            case Delete():
                self._apply_delete(author, body.target)
            case Block() | Unblock():
                assert subject is not None
                self._apply_block(author, subject, message, active=isinstance(body, Block))
            case ModerationList(name=name, entries=entries):
                self._apply_list(author, int(rowid or 0), message.seq, name, entries)
            case _:
                pass

    def _deleted_targets(self) -> set[bytes]:
        """The targets of every indexed delete request, loaded once, then kept up to date.

        This writer is the only one, so only :meth:`_apply_delete` adds to them. Deletes are
        rare (a few per thousand messages) but not absent, so a per-message lookup would
        run for every post once the first delete arrives.
        """
        if self._delete_targets is None:
            rows = self._conn.execute("SELECT target FROM deletes").fetchall()
            self._delete_targets = {row[0] for row in rows}
        return self._delete_targets

    def _blocked(self) -> set[int]:
        """Rows of the authors the owner blocks, loaded once, then kept up to date."""
        if self._blocked_rows is None:
            rows = self._conn.execute("SELECT rowid FROM authors WHERE blocked = 1").fetchall()
            self._blocked_rows = {row[0] for row in rows}
        return self._blocked_rows

    def _apply_block(self, blocker: int, blocked: int, message: Message, *, active: bool) -> None:
        """For each (blocker, blocked) the block or unblock with the highest seq decides."""
        conn = self._conn
        row = conn.execute(
            "SELECT seq, active FROM blocks WHERE blocker = ? AND blocked = ?", (blocker, blocked)
        ).fetchone()
        if row is not None and row[0] >= message.seq:
            return
        conn.execute(
            "INSERT INTO blocks (blocker, blocked, seq, active) VALUES (?, ?, ?, ?)"
            " ON CONFLICT (blocker, blocked) DO UPDATE SET seq = excluded.seq,"
            " active = excluded.active",
            (blocker, blocked, message.seq, int(active)),
        )
        was_active = row is not None and bool(row[1])
        if message.author.raw == self._owner and blocker != blocked and was_active != active:
            self._set_owner_block(blocked, active=active)

    def _set_owner_block(self, author: int, *, active: bool) -> None:
        """The owner blocks (or unblocks) ``author``: hide (or show again) their text and
        take it out of (or put it back into) search. Text stays in ``messages`` (masked by
        every query), so that an unblock restores exactly what was there."""
        conn = self._conn
        conn.execute("UPDATE authors SET blocked = ? WHERE rowid = ?", (int(active), author))
        rows = conn.execute(
            "SELECT rowid, text FROM messages WHERE author = ? AND kind IN (1, 2)"
            " AND deleted = 0 AND text IS NOT NULL",
            (author,),
        ).fetchall()
        if active:
            self._blocked().add(author)
            conn.executemany(
                "INSERT INTO search (search, rowid, text) VALUES ('delete', ?, ?)", rows
            )
        else:
            self._blocked().discard(author)
            conn.executemany("INSERT INTO search (rowid, text) VALUES (?, ?)", rows)
        log.info(
            "owner %s author row %s: %s messages %s search",
            "blocks" if active else "unblocks",
            author,
            len(rows),
            "taken out of" if active else "put back into",
        )

    def _apply_list(
        self, author: int, rowid: int, seq: int, name: str, entries: tuple[ListEntry, ...]
    ) -> None:
        """The latest ``list`` of an author and name replaces earlier ones whole."""
        conn = self._conn
        row = conn.execute(
            "SELECT seq FROM lists WHERE author = ? AND name = ?", (author, name)
        ).fetchone()
        if row is not None and row[0] >= seq:
            return
        conn.execute(
            "INSERT INTO lists (author, name, seq, msg) VALUES (?, ?, ?, ?)"
            " ON CONFLICT (author, name) DO UPDATE SET seq = excluded.seq, msg = excluded.msg",
            (author, name, seq, rowid),
        )
        conn.execute("DELETE FROM list_entries WHERE author = ? AND name = ?", (author, name))
        conn.executemany(
            "INSERT INTO list_entries (author, name, position, target, is_author, reason)"
            " VALUES (?, ?, ?, ?, ?, ?)",
            [
                (author, name, i, e.target.raw, int(isinstance(e.target, AuthorId)), e.reason)
                for i, e in enumerate(entries)
            ],
        )

    def _flush_heads(self) -> None:
        """Write the authors' new head seqs, counts and held-set fingerprints: one update
        per author per batch. (SQLite has no XOR: a ^ b = (a | b) & ~(a & b).)"""
        self._conn.executemany(
            "UPDATE authors SET head_seq = max(head_seq, ?1), held = held + ?2,"
            " held_fp = (held_fp | ?3) & ~(held_fp & ?3) WHERE rowid = ?4",
            [(seq, n, _signed64(fp), row) for row, (seq, n, fp) in self._heads.items()],
        )
        self._heads.clear()

    def _apply_delete(self, author: int, target: MessageId) -> None:
        conn = self._conn
        self._deleted_targets().add(target.raw)
        conn.execute(
            "INSERT OR IGNORE INTO deletes (target, author) VALUES (?, ?)", (target.raw, author)
        )
        row = conn.execute(
            "SELECT rowid, author, kind, text, ts, deleted FROM messages WHERE id = ?",
            (target.raw,),
        ).fetchone()
        if row is None:
            return  # honoured when the target arrives
        rowid, target_author, code, text, ts, deleted = row
        if target_author != author or code not in DELETABLE_CODES or deleted:
            return
        if text is not None and code in (KIND_CODES[Post.kind], KIND_CODES[Reply.kind]):
            if author not in self._blocked():  # a block already took it out of search
                conn.execute(
                    "INSERT INTO search (search, rowid, text) VALUES ('delete', ?, ?)",
                    (rowid, text),
                )
            conn.executemany(
                "DELETE FROM tags WHERE tag = ? AND ts = ? AND msg = ?",
                [(tag, ts, rowid) for tag in extract_tags(text)],
            )
            conn.execute("DELETE FROM mentions WHERE msg = ?", (rowid,))
        conn.execute("UPDATE messages SET deleted = 1, text = NULL WHERE rowid = ?", (rowid,))


def _signed64(value: int) -> int:
    """An unsigned 64-bit value as the signed integer SQLite stores."""
    return value - (1 << 64) if value >= 1 << 63 else value


def _read_owner(conn: sqlite3.Connection) -> bytes | None:
    row = conn.execute("SELECT value FROM meta WHERE key = 'owner'").fetchone()
    return None if row is None or row[0] is None else bytes(row[0])


def _blocks_by(conn: sqlite3.Connection, owner: bytes) -> bool:
    """Whether the index holds any block or unblock by ``owner``."""
    row = conn.execute(
        "SELECT 1 FROM blocks b JOIN authors a ON a.rowid = b.blocker WHERE a.key = ? LIMIT 1",
        (owner,),
    ).fetchone()
    return row is not None
