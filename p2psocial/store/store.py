"""The store: validate, append to the log (durably), then index.

This is the only path by which a message enters a home directory, whatever its source
(this node's owner, an import file, later the network). For a batch it:

1. checks each message on its own (:func:`~p2psocial.core.message.decode_message`);
2. checks each against its author's chain, including the messages earlier in the batch;
3. appends the accepted ones (and fork evidence) to the log with one fsync;
4. applies them to the index in one transaction.

Only after step 3 is a message acknowledged. A crash between 3 and 4 is harmless: the
index resumes from the log position it last committed.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from enum import Enum
from pathlib import Path
from typing import Final, TypeVar

from ..core.bodies import Block, Kind, Unblock
from ..core.chain import ChainView, Verdict, check_chain
from ..core.ids import AuthorId, MessageId
from ..core.limits import DEFAULT_MAX_CLOCK_SKEW_MS
from ..core.message import Message, decode_message, decode_stored
from ..errors import ForkError, P2PSocialError
from ..home import HomePaths
from .index import Head, IndexWriter
from .lock import HomeLock
from .log import Log, RecoveryReport
from .queries import IndexReader
from .syncview import StoreView

log = logging.getLogger(__name__)

REPLAY_BATCH = 20_000
PARALLEL_DECODE_MIN: Final = 64
"""Batches at least this long are decoded on :data:`_DECODERS`."""
DECODE_CHUNK: Final = 128
_DECODERS = ThreadPoolExecutor(
    max_workers=min(4, os.cpu_count() or 1), thread_name_prefix="p2psocial-decode"
)
"""Signature checks release the GIL (PyNaCl calls libsodium through cffi), so decoding a
batch on a few threads overlaps one thread's Python with another's verification."""
_T = TypeVar("_T")


def wall_clock_ms() -> int:
    """Milliseconds since the Unix epoch."""
    return time.time_ns() // 1_000_000


class Outcome(Enum):
    """What became of one message offered to the store."""

    ACCEPTED = "accepted"
    DUPLICATE = "duplicate"
    FORK = "fork"
    """Stored as evidence; the author is marked forked."""
    REJECTED = "rejected"


_VERDICTS: Final[dict[Outcome, Verdict | None]] = {
    Outcome.ACCEPTED: Verdict.APPEND,
    Outcome.FORK: Verdict.FORK,
}
"""Ingest outcomes that reach the log, as the chain verdicts the index applies."""


@dataclass(frozen=True, slots=True)
class IngestResult:
    """The fate of one message of a batch."""

    outcome: Outcome
    message: Message | None = None
    error: P2PSocialError | None = None
    """Why it was rejected (or, for a fork, the ForkError describing it)."""
    position: int | None = None
    """Where it was appended to the log, if it was."""


class Store:
    """One home directory's log and index, opened by its single writer.

    Thread-safe: writes are serialised by a lock, reads go through :attr:`reader`.
    """

    def __init__(
        self,
        *,
        paths: HomePaths,
        lock: HomeLock,
        log_: Log,
        index: IndexWriter,
        reader: IndexReader,
        clock: Callable[[], int],
        max_skew_ms: int,
    ) -> None:
        self._owner_blocks: dict[bytes, tuple[int, bool]] = {}
        """Whom the owner blocks: author key -> (seq in effect, blocks); see :attr:`blocked`."""
        self._blocked: frozenset[AuthorId] = frozenset()
        self._set_owner_blocks(index.owner_blocks())
        self.paths = paths
        self._lock = lock
        self._log = log_
        self._index = index
        self.reader = reader
        self._clock = clock
        self._max_skew_ms = max_skew_ms
        self._write_lock = threading.Lock()

    @classmethod
    def open(
        cls,
        home: Path,
        *,
        clock: Callable[[], int] = wall_clock_ms,
        max_skew_ms: int = DEFAULT_MAX_CLOCK_SKEW_MS,
        owner: AuthorId | None = None,
    ) -> Store:
        """Open a home directory for writing: lock it, recover the log, catch the index up.

        Args:
            home: The home directory.
            clock: Milliseconds since the epoch, for timestamp checks.
            max_skew_ms: How far ahead of the clock a timestamp may be.
            owner: The home's owner. Whom they block is stored without bodies from then
                on, and their text is hidden (docs/moderation.md); None keeps the owner the
                index recorded.

        Raises:
            HomeLockedError: Another process writes to this home.
            LogCorruptError: The log is damaged other than at its tail; nothing changed.
        """
        paths = HomePaths(home)
        paths.ensure()
        lock = HomeLock.acquire(paths.lock)
        try:
            log_ = Log.open(paths.log, writable=True)
            try:
                index, position = IndexWriter.open(
                    paths.index, owner=None if owner is None else owner.raw
                )
                if position > log_.end:
                    # After a torn tail this is expected, and the log already said why.
                    log.log(
                        logging.INFO if log_.recovery else logging.WARNING,
                        "index is ahead of the log (%s > %s): rebuilding it",
                        position,
                        log_.end,
                    )
                    position = 0
                store = cls(
                    paths=paths,
                    lock=lock,
                    log_=log_,
                    index=index,
                    reader=IndexReader.open(paths.index),
                    clock=clock,
                    max_skew_ms=max_skew_ms,
                )
                if position == 0 and log_.end > 0:
                    store._rebuild()  # new, of another version, damaged, or ahead of the log
                else:
                    store._catch_up(position)
            except BaseException:
                log_.close()
                raise
        except BaseException:
            lock.release()
            raise
        return store

    def close(self) -> None:
        """Close the index and the log, then release the home."""
        with self._write_lock:
            self.reader.close()
            self._index.close()
            self._log.close()
            self._lock.release()

    @property
    def recovery(self) -> RecoveryReport | None:
        """What opening the log cut off a torn tail, if anything."""
        return self._log.recovery

    @property
    def blocked(self) -> frozenset[AuthorId]:
        """The authors the owner blocks now: their new messages are stored without bodies."""
        return self._blocked

    def _set_owner_blocks(self, blocks: dict[bytes, tuple[int, bool]]) -> None:
        self._owner_blocks = blocks
        self._blocked = frozenset(AuthorId(k) for k, (_, active) in blocks.items() if active)

    @property
    def log_end(self) -> int:
        """The log position just past its last record (its size in bytes, roughly)."""
        return self._log.end

    # --- writing -------------------------------------------------------------------------

    def ingest(
        self, items: Sequence[bytes | Message], *, allow_gaps: bool = True, atomic: bool = False
    ) -> list[IngestResult]:
        """Validate, store and index a batch of messages from anywhere.

        Args:
            items: Encoded messages, or messages already verified in this process.
            allow_gaps: Whether a message may lie beyond its author's next expected seq.
            atomic: Store nothing unless every message is valid (duplicates and forks
                count as valid); for import files.

        Returns:
            One result per item, in order. Only ACCEPTED and FORK results were appended.
        """
        now = self._clock()
        if len(items) < PARALLEL_DECODE_MIN:
            results = self._decode_all(items, now)
        else:
            chunks = [items[i : i + DECODE_CHUNK] for i in range(0, len(items), DECODE_CHUNK)]
            parts = _DECODERS.map(self._decode_all, chunks, [now] * len(chunks))
            results = [result for part in parts for result in part]
        with self._write_lock:
            results = self._check_chains(results, allow_gaps=allow_gaps)
            if atomic and any(r.outcome is Outcome.REJECTED for r in results):
                return results
            return self._append(results)

    def _decode_all(self, items: Sequence[bytes | Message], now: int) -> list[IngestResult]:
        """Check each item on its own (thread-safe: touches no store state)."""
        results: list[IngestResult] = []
        for item in items:
            if isinstance(item, Message):
                results.append(IngestResult(Outcome.ACCEPTED, item))
                continue
            try:
                message = decode_message(item, now_ms=now, max_skew_ms=self._max_skew_ms)
            except P2PSocialError as exc:
                results.append(IngestResult(Outcome.REJECTED, error=exc))
            else:
                results.append(IngestResult(Outcome.ACCEPTED, message))
        return results

    def compose(self, author: AuthorId, build: Callable[[Head], Message]) -> Message:
        """Sign and store the next message of ``author``'s chain, atomically.

        Args:
            author: The local author.
            build: Called with the chain's current head; returns the signed next message
                (see :func:`p2psocial.core.message.sign`).
        """
        with self._write_lock:
            message = build(self._index.head(author))
            [result] = self._check_chains(
                [IngestResult(Outcome.ACCEPTED, message)], allow_gaps=False
            )
            if result.error is not None:
                raise result.error
            self._append([result])
            return message

    def head(self, author: AuthorId) -> Head:
        """The newest message held for ``author``."""
        with self._write_lock:
            return self._index.head(author)

    def _check_chains(self, results: list[IngestResult], *, allow_gaps: bool) -> list[IngestResult]:
        pending: dict[tuple[AuthorId, int], Message] = {}
        heads: dict[AuthorId, int] = {}
        evidence: set[MessageId] = set()
        checked: list[IngestResult] = []
        for result in results:
            message = result.message
            if message is None:
                checked.append(result)
                continue
            view = self._view(message.author, message.seq, pending, heads)
            try:
                verdict = check_chain(message, view, allow_gaps=allow_gaps)
            except P2PSocialError as exc:
                checked.append(IngestResult(Outcome.REJECTED, message, exc))
                continue
            if verdict is Verdict.APPEND:
                pending[(message.author, message.seq)] = message
                heads[message.author] = max(view.head_seq, message.seq)
                checked.append(result)
            elif verdict is Verdict.DUPLICATE or (
                message.id in evidence or self._index.is_fork_evidence(message.id)
            ):
                checked.append(IngestResult(Outcome.DUPLICATE, message))
            else:
                evidence.add(message.id)
                error = ForkError(
                    f"{message.author.short} signed two different messages for seq "
                    f"{message.seq}; kept as evidence, author marked forked"
                )
                checked.append(IngestResult(Outcome.FORK, message, error))
        return checked

    def _view(
        self,
        author: AuthorId,
        seq: int,
        pending: dict[tuple[AuthorId, int], Message],
        heads: dict[AuthorId, int],
    ) -> ChainView:
        view = self._index.chain_view(author, seq)
        if not pending:
            return view
        at = pending.get((author, seq))
        before = pending.get((author, seq - 1))
        after = pending.get((author, seq + 1))
        return ChainView(
            head_seq=max(view.head_seq, heads.get(author, 0)),
            at_seq=at.id if at is not None else view.at_seq,
            before=before.id if before is not None else view.before,
            after_prev=after.header.prev if after is not None else view.after_prev,
        )

    def _append(self, results: list[IngestResult]) -> list[IngestResult]:
        to_store = [
            (i, r.message)
            for i, r in enumerate(results)
            if r.message is not None and r.outcome in (Outcome.ACCEPTED, Outcome.FORK)
        ]
        if not to_store:
            return results
        blocks = dict(self._owner_blocks)
        to_store = [
            (i, self._drop_blocked_body(m, blocks, results[i].outcome is Outcome.ACCEPTED))
            for i, m in to_store
        ]
        positions = self._log.append([m.to_bytes() for _, m in to_store])
        ends = [*positions[1:], self._log.end]
        self._index.apply(
            (pos, end, message, _VERDICTS[results[i].outcome])
            for pos, end, (i, message) in zip(positions, ends, to_store, strict=True)
        )
        self._set_owner_blocks(blocks)
        stored = list(results)
        for pos, (i, message) in zip(positions, to_store, strict=True):
            old = stored[i]
            stored[i] = IngestResult(old.outcome, message, old.error, pos)
        return stored

    def _drop_blocked_body(
        self, message: Message, blocks: dict[bytes, tuple[int, bool]], in_chain: bool
    ) -> Message:
        """``message`` as it is to be stored: without its body if the owner blocks its
        author (a delete request keeps its body, so that it is still honoured), and
        updating ``blocks`` when it is the owner's own block or unblock (``in_chain``: not
        fork evidence, which changes nothing)."""
        owner = self._index.owner
        body = message.body
        author = message.author.raw
        if author == owner:
            if in_chain and isinstance(body, Block | Unblock) and body.author.raw != owner:
                seq, _ = blocks.get(body.author.raw, (0, False))
                if message.seq > seq:
                    blocks[body.author.raw] = (message.seq, isinstance(body, Block))
            return message
        if body is None or message.kind is Kind.DELETE:
            return message
        if blocks.get(author, (0, False))[1]:
            log.debug(
                "stored %s of blocked %s without its body", message.id.short, message.author.short
            )
            return message.without_body()
        return message

    # --- rebuilding ----------------------------------------------------------------------

    def _catch_up(self, position: int) -> int:
        if position >= self._log.end:
            return 0
        started, count = time.monotonic(), 0
        for batch in _batched(self._log.read_from(position), REPLAY_BATCH):
            count += self._index.apply(
                (
                    rec.position,
                    rec.next_position,
                    decode_stored(rec.payload),
                    None,
                )
                for rec in batch
            )
        log.info("index caught up with %s log records in %.1f s", count, time.monotonic() - started)
        self._set_owner_blocks(self._index.owner_blocks())
        return count

    def reindex(self) -> int:
        """Rebuild the index from the log. Returns how many records were indexed."""
        with self._write_lock:
            return self._rebuild()

    def _rebuild(self) -> int:
        """Build a fresh index from the whole log, in bulk (see IndexWriter.create)."""
        self.reader.close()
        owner = self._index.owner
        self._index.close()
        self._index = IndexWriter.create(self.paths.index, bulk=True, owner=owner)
        count = self._catch_up(0)
        self._index.finish_bulk()
        self.reader = IndexReader.open(self.paths.index)
        return count

    def sync_view(self) -> StoreView:
        """This store as the sync protocol sees it."""
        return StoreView(self.reader, self._log)

    def export_records(self) -> Iterator[bytes]:
        """Every message held, in log order, with the bodies that deletes dropped, and the
        bodies of authors the owner blocks (but their delete requests), left out."""
        deleted = {
            MessageId(raw)
            for (raw,) in self.reader.query(
                "SELECT m.id FROM messages m JOIN authors a ON a.rowid = m.author"
                " WHERE m.deleted OR (a.blocked AND m.has_body AND m.kind <> 8)"
            )
        }
        for record in self._log.read_from(0):
            if deleted:
                message = decode_message(record.payload, check_signature=False)
                if message.id in deleted:
                    yield message.without_body().to_bytes()
                    continue
            yield record.payload


def _batched(items: Iterator[_T], size: int) -> Iterator[list[_T]]:
    batch: list[_T] = []
    for item in items:
        batch.append(item)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch
