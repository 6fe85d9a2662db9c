"""The store as sync sees it: frontiers, gaps and message ranges (a LocalView)."""

from __future__ import annotations

from ..core.message import decode_message
from ..core.sync import Frontier, Range, fingerprint_bytes
from .log import Log
from .queries import IndexReader


class StoreView:
    """Implements :class:`p2psocial.core.sync.LocalView` over the index and the log.

    Thread-safe as its parts are: the reader serialises its queries and the log's
    random reads open their own file.
    """

    def __init__(self, reader: IndexReader, log: Log) -> None:
        self._reader = reader
        self._log = log

    def frontiers(self, rng: Range, *, after: bytes | None, limit: int) -> list[Frontier]:
        """Entries in ``rng`` with author > ``after``, sorted by author, at most ``limit``."""
        low, high = rng
        sql = (
            "SELECT a.key, a.head_seq, m.id, a.held, a.held_fp FROM authors a JOIN messages m"
            " ON m.author = a.rowid AND m.seq = a.head_seq WHERE a.held > 0 AND a.key >= ?"
        )
        params: list[object] = [low]
        if high is not None:
            sql += " AND a.key < ?"
            params.append(high)
        if after is not None:
            sql += " AND a.key > ?"
            params.append(after)
        rows = self._reader.query(sql + " ORDER BY a.key LIMIT ?", [*params, limit])
        return [
            Frontier(key, head, head_id, held, fingerprint_bytes(fp))
            for key, head, head_id, held, fp in rows
        ]

    def frontier(self, author: bytes) -> Frontier | None:
        """One author's entry, if any of their messages is held."""
        found = self.frontiers((author, None), after=None, limit=1)
        return found[0] if found and found[0].author == author else None

    def missing(self, author: bytes, up_to: int) -> list[tuple[int, int]]:
        """The seq ranges in 1..up_to not held, ascending."""
        rows = self._reader.query(
            "SELECT m.seq FROM messages m JOIN authors a ON a.rowid = m.author"
            " WHERE a.key = ? AND m.seq <= ? ORDER BY m.seq",
            [author, up_to],
        )
        gaps: list[tuple[int, int]] = []
        expected = 1
        for (seq,) in rows:
            if seq > expected:
                gaps.append((expected, seq - 1))
            expected = seq + 1
        if expected <= up_to:
            gaps.append((expected, up_to))
        return gaps

    def messages(
        self, author: bytes, first: int, last: int, *, desc: bool, limit: int, max_bytes: int
    ) -> list[tuple[int, bytes]]:
        """Held messages of ``author`` in first..last, in seq order, bounded in count and
        bytes; a body dropped by a delete is served as null, and so is every body of an
        author the owner blocks (but a delete request's)."""
        order = "DESC" if desc else "ASC"
        rows = self._reader.query(
            "SELECT m.seq, m.pos, m.deleted OR (a.blocked AND m.has_body AND m.kind <> 8)"
            " FROM messages m JOIN authors a ON a.rowid = m.author"
            f" WHERE a.key = ? AND m.seq BETWEEN ? AND ? ORDER BY m.seq {order} LIMIT ?",
            [author, first, last, limit],
        )
        out: list[tuple[int, bytes]] = []
        size = 0
        for seq, pos, deleted in rows:
            wire = self._log.read_at(pos)
            if deleted:
                wire = decode_message(wire, check_signature=False).without_body().to_bytes()
            out.append((seq, wire))
            size += len(wire)
            if size >= max_bytes:
                break
        return out
