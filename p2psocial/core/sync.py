"""The sync protocol, sans I/O: what to ask a peer, and how to answer one.

Sync is how a node catches up: after being offline, after a partition, for a newly
followed author, or to fill a gap that gossip left. It runs over one libp2p stream as
request/response pairs of canonical CBOR maps (docs/protocol.md, "Sync"), in three steps:

1. **Digests.** Both sides summarise their per-author *frontiers* (author, head seq, head
   id, number of messages held, a fingerprint of which seqs are held) over ranges of the
   author-id space. Equal digests mean
   nothing to do: two equal stores agree in one round trip, whatever their size. A range
   whose digests differ is split into 16 and compared again, until it is small.
2. **Frontiers.** For small differing ranges the client fetches the peer's entries and
   compares them with its own to find what it lacks: newer messages, gaps the peer can
   fill, or a different head at the same seq (a fork to collect as evidence).
3. **Messages.** The client asks for each wanted seq range, newest first, in batches of
   bounded size, and stores each batch (validating every message) before asking for the
   next, so memory stays bounded on both sides and an interrupted sync resumes from
   whatever was stored.

:class:`SyncClient` is the client's state machine; :func:`answer` is the server. Both see
the local store only through the :class:`LocalView` protocol, so this module does no I/O.
"""

from __future__ import annotations

import hashlib
import itertools
from collections import deque
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Final, Protocol

from ..errors import DecodeError
from . import canonical
from .ids import ID_BYTES, AuthorId
from .limits import MAX_SEQ

PROTOCOL_ID: Final = "/p2psocial/sync/1"
MAX_FRAME_BYTES: Final = 2 * 1024 * 1024
MAX_RANGES: Final = 64
"""Ranges in one digest or frontier request."""
MAX_ENTRIES: Final = 1024
"""Frontier entries in one response."""
MAX_BATCH: Final = 512
"""Messages in one response."""
MAX_BATCH_BYTES: Final = 1024 * 1024
"""Message bytes in one response (the last message may cross it)."""
SPLIT: Final = 16
"""How many parts a differing range is split into."""
FRONTIER_THRESHOLD: Final = 256
"""A differing range with at most this many authors (on the peer) is listed, not split."""
MAX_PENDING_RANGES: Final = 1024
"""Ranges waiting for digests; beyond it a differing range is listed instead of split."""
FRONTIER_SLACK: Final = 64
"""Authors a peer may list beyond what its digests claimed (its store may grow meanwhile)."""
MAX_SESSION_REQUESTS: Final = 20_000
"""Requests in one session (an honest backfill of 1M messages needs about 2,000)."""

_LOW: Final = b"\x00" * ID_BYTES

Range = tuple[bytes, bytes | None]
"""Author ids ``low <= id < high``; ``high`` None means to the end of the id space."""
FULL_RANGE: Final[Range] = (_LOW, None)


FINGERPRINT_BYTES: Final = 8
_FINGERPRINT_MASK: Final = (1 << (8 * FINGERPRINT_BYTES)) - 1


def seq_fingerprint(seq: int) -> int:
    """One seq's share of a held-set fingerprint: BLAKE2b-64 of the seq as 8 bytes."""
    return int.from_bytes(hashlib.blake2b(seq.to_bytes(8, "big"), digest_size=8).digest(), "big")


def held_fingerprint(seqs: Iterable[int]) -> bytes:
    """The fingerprint of a set of held seqs: the XOR of their :func:`seq_fingerprint`.

    XOR makes it cheap to keep up to date (one XOR per message stored, in any order), and
    two nodes holding the same count of an author's seqs but different ones (different
    holes) have different fingerprints, so their digests differ and they fill each other's
    holes.
    """
    value = 0
    for seq in seqs:
        value ^= seq_fingerprint(seq)
    return value.to_bytes(FINGERPRINT_BYTES, "big")


def fingerprint_bytes(value: int) -> bytes:
    """A fingerprint kept as a signed 64-bit integer (SQLite's), as its 8 bytes."""
    return (value & _FINGERPRINT_MASK).to_bytes(FINGERPRINT_BYTES, "big")


@dataclass(frozen=True, slots=True)
class Frontier:
    """What a node holds of one author."""

    author: bytes
    head_seq: int
    head_id: bytes
    held: int
    """How many of seqs 1..head_seq are held."""
    fingerprint: bytes = b""
    """:func:`held_fingerprint` of the held seqs; may be left out when none is missing
    (``held == head_seq``), and is then computed."""

    def __post_init__(self) -> None:
        if not self.fingerprint:
            if self.held != self.head_seq:
                raise ValueError("a frontier with holes needs its fingerprint")
            complete = held_fingerprint(range(1, self.head_seq + 1))
            object.__setattr__(self, "fingerprint", complete)

    def to_value(self) -> list[canonical.Value]:
        """The CBOR array form ``[author, head_seq, head_id, held, fingerprint]``."""
        return [self.author, self.head_seq, self.head_id, self.held, self.fingerprint]


@dataclass(frozen=True, slots=True)
class Digest:
    """A summary of the frontiers in one range."""

    count: int
    hash: bytes


def digest_of(entries: Sequence[Frontier]) -> Digest:
    """The digest of frontier entries sorted by author: count and BLAKE2b-128 of their
    canonical encodings, concatenated."""
    h = hashlib.blake2b(digest_size=16)
    for entry in entries:
        h.update(canonical.encode(entry.to_value()))
    return Digest(len(entries), h.digest())


def split_range(rng: Range, parts: int = SPLIT) -> list[Range]:
    """Split a range of author ids into ``parts`` contiguous ranges of near-equal width."""
    low = int.from_bytes(rng[0], "big")
    high = 1 << (8 * ID_BYTES) if rng[1] is None else int.from_bytes(rng[1], "big")
    width = high - low
    if width < parts:
        return [rng]
    bounds = [low + width * i // parts for i in range(parts)] + [high]
    out: list[Range] = []
    for a, b in itertools.pairwise(bounds):
        end = None if b >= 1 << (8 * ID_BYTES) else b.to_bytes(ID_BYTES, "big")
        out.append((a.to_bytes(ID_BYTES, "big"), end))
    return out


def author_range(author: AuthorId) -> Range:
    """The range holding exactly one author."""
    value = int.from_bytes(author.raw, "big") + 1
    high = None if value >= 1 << (8 * ID_BYTES) else value.to_bytes(ID_BYTES, "big")
    return (author.raw, high)


class LocalView(Protocol):
    """What sync needs to know about the local store (implemented by the store adapter)."""

    def frontiers(self, rng: Range, *, after: bytes | None, limit: int) -> list[Frontier]:
        """Entries in ``rng`` with author > ``after``, sorted by author, at most ``limit``."""
        ...

    def frontier(self, author: bytes) -> Frontier | None:
        """One author's entry, if any message of theirs is held."""
        ...

    def missing(self, author: bytes, up_to: int) -> list[tuple[int, int]]:
        """The seq ranges in 1..up_to that are not held, ascending."""
        ...

    def messages(
        self, author: bytes, first: int, last: int, *, desc: bool, limit: int, max_bytes: int
    ) -> list[tuple[int, bytes]]:
        """Held messages of ``author`` with seq in first..last as ``(seq, wire bytes)``,
        in seq order (descending if ``desc``), stopping after ``limit`` messages or once
        ``max_bytes`` are reached. Bodies a delete dropped are served as null."""
        ...


# --- requests and responses --------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class DigestRequest:
    """``{"op": "digest", "ranges": [[low, high], ...]}``."""

    ranges: tuple[Range, ...]


@dataclass(frozen=True, slots=True)
class FrontierRequest:
    """``{"op": "frontier", "ranges": [...], "after": bstr / null}``."""

    ranges: tuple[Range, ...]
    after: bytes | None = None


@dataclass(frozen=True, slots=True)
class MessagesRequest:
    """``{"op": "messages", "author", "first", "last", "desc", "limit"}``."""

    author: bytes
    first: int
    last: int
    desc: bool
    limit: int = MAX_BATCH


Request = DigestRequest | FrontierRequest | MessagesRequest


@dataclass(frozen=True, slots=True)
class DigestResponse:
    """``{"digests": [[count, hash], ...]}``, one per requested range."""

    digests: tuple[Digest, ...]


@dataclass(frozen=True, slots=True)
class FrontierResponse:
    """``{"entries": [[author, head_seq, head_id, held, fingerprint], ...], "more": bool}``."""

    entries: tuple[Frontier, ...]
    more: bool


@dataclass(frozen=True, slots=True)
class MessagesResponse:
    """``{"messages": [[seq, message], ...], "more": bool}``."""

    messages: tuple[tuple[int, bytes], ...]
    more: bool


@dataclass(frozen=True, slots=True)
class ErrorResponse:
    """``{"error": code, "message": text}``: the request was refused."""

    code: str
    message: str


Response = DigestResponse | FrontierResponse | MessagesResponse | ErrorResponse


def encode_request(request: Request) -> bytes:
    """A request's canonical encoding."""
    value: dict[str, canonical.Value]
    match request:
        case DigestRequest(ranges):
            value = {"op": "digest", "ranges": _ranges_value(ranges)}
        case FrontierRequest(ranges, after):
            value = {"op": "frontier", "ranges": _ranges_value(ranges), "after": after}
        case MessagesRequest(author, first, last, desc, limit):
            value = {
                "op": "messages",
                "author": author,
                "first": first,
                "last": last,
                "desc": desc,
                "limit": limit,
            }
    return canonical.encode(value)


def decode_request(data: bytes) -> Request:
    """Parse a request from a peer.

    Raises:
        DecodeError: Malformed, unknown, or over a limit.
        NonCanonicalError: Not canonical CBOR.
    """
    value = _map(data)
    op = value.get("op")
    if op == "digest":
        _keys(value, {"op", "ranges"})
        return DigestRequest(_parse_ranges(value["ranges"]))
    if op == "frontier":
        _keys(value, {"op", "ranges", "after"})
        after = value["after"]
        if after is not None and not _is_id(after):
            raise DecodeError("frontier.after must be a 32-byte author id or null")
        return FrontierRequest(_parse_ranges(value["ranges"]), after)  # type: ignore[arg-type]
    if op == "messages":
        _keys(value, {"op", "author", "first", "last", "desc", "limit"})
        author, first, last = value["author"], value["first"], value["last"]
        desc, limit = value["desc"], value["limit"]
        if not _is_id(author):
            raise DecodeError("messages.author must be a 32-byte author id")
        if not (_is_seq(first) and _is_seq(last) and first <= last):  # type: ignore[operator]
            raise DecodeError(
                f"messages.first and .last must satisfy 1 <= first <= last <= {MAX_SEQ}"
            )
        if not isinstance(desc, bool) or not (_is_uint(limit) and 1 <= limit <= MAX_BATCH):  # type: ignore[operator]
            raise DecodeError(f"messages.desc must be a bool and limit in 1..{MAX_BATCH}")
        return MessagesRequest(author, first, last, desc, limit)  # type: ignore[arg-type]
    raise DecodeError(f"unknown sync op {op!r:.40}")


def encode_response(response: Response) -> bytes:
    """A response's canonical encoding."""
    value: dict[str, canonical.Value]
    match response:
        case DigestResponse(digests):
            value = {"digests": [[d.count, d.hash] for d in digests]}
        case FrontierResponse(entries, more):
            value = {"entries": [e.to_value() for e in entries], "more": more}
        case MessagesResponse(messages, more):
            value = {"messages": [[seq, wire] for seq, wire in messages], "more": more}
        case ErrorResponse(code, message):
            value = {"error": code, "message": message}
    return canonical.encode(value)


def decode_response(data: bytes, request: Request) -> Response:
    """Parse a peer's response to ``request``, checking it answers what was asked.

    Raises:
        DecodeError: Malformed, over a limit, or not an answer to ``request``.
    """
    value = _map(data)
    if "error" in value:
        _keys(value, {"error", "message"})
        code, message = value["error"], value["message"]
        if not isinstance(code, str) or not isinstance(message, str):
            raise DecodeError("error response fields must be text")
        return ErrorResponse(code[:64], message[:512])
    match request:
        case DigestRequest(ranges):
            _keys(value, {"digests"})
            items = _list(value["digests"], len(ranges))
            if len(items) != len(ranges):
                raise DecodeError("digest response must answer every range")
            digests = []
            for item in items:
                if not (isinstance(item, list) and len(item) == 2 and _is_uint(item[0])):
                    raise DecodeError("a digest is [count, hash]")
                if not (isinstance(item[1], bytes) and len(item[1]) == 16):
                    raise DecodeError("a digest hash is 16 bytes")
                digests.append(Digest(item[0], item[1]))  # type: ignore[arg-type]
            return DigestResponse(tuple(digests))
        case FrontierRequest(ranges, after):
            _keys(value, {"entries", "more"})
            more = value["more"]
            if not isinstance(more, bool):
                raise DecodeError("frontier.more must be a bool")
            entries = []
            previous = after
            for item in _list(value["entries"], MAX_ENTRIES):
                entry = _parse_frontier(item)
                if previous is not None and entry.author <= previous:
                    raise DecodeError("frontier entries must be sorted, after 'after'")
                if not any(_in_range(entry.author, r) for r in ranges):
                    raise DecodeError("frontier entry outside the requested ranges")
                entries.append(entry)
                previous = entry.author
            return FrontierResponse(tuple(entries), more)
        case MessagesRequest(first=first, last=last, desc=desc, limit=limit):
            _keys(value, {"messages", "more"})
            more = value["more"]
            if not isinstance(more, bool):
                raise DecodeError("messages.more must be a bool")
            out = []
            previous_seq: int | None = None
            for item in _list(value["messages"], limit):
                if not (
                    isinstance(item, list)
                    and len(item) == 2
                    and _is_uint(item[0])
                    and isinstance(item[1], bytes)
                ):
                    raise DecodeError("a message entry is [seq, message]")
                seq = item[0]
                assert isinstance(seq, int)
                if not first <= seq <= last:
                    raise DecodeError("message seq outside the requested range")
                backwards = previous_seq is not None and (
                    seq >= previous_seq if desc else seq <= previous_seq
                )
                if backwards:
                    raise DecodeError("messages must be in the requested order, without repeats")
                out.append((seq, item[1]))
                previous_seq = seq
            return MessagesResponse(tuple(out), more)
    raise AssertionError("unreachable")


# --- the server --------------------------------------------------------------------------


def answer(request: Request, local: LocalView) -> Response:
    """The response to a (decoded, hence bounded) request."""
    match request:
        case DigestRequest(ranges):
            return DigestResponse(tuple(_local_digest(local, r) for r in ranges))
        case FrontierRequest(ranges, after):
            entries: list[Frontier] = []
            more = False
            for rng in _union(ranges):
                if rng[1] is not None and after is not None and rng[1] <= after:
                    continue
                room = MAX_ENTRIES - len(entries)
                found = local.frontiers(rng, after=after, limit=room + 1)
                if len(found) > room:
                    entries.extend(found[:room])
                    more = True
                    break
                entries.extend(found)
            return FrontierResponse(tuple(entries), more)
        case MessagesRequest(author, first, last, desc, limit):
            batch = local.messages(
                author, first, last, desc=desc, limit=limit + 1, max_bytes=MAX_BATCH_BYTES
            )
            more = len(batch) > limit or sum(len(w) for _, w in batch) >= MAX_BATCH_BYTES
            return MessagesResponse(tuple(batch[:limit]), more)


def _union(ranges: Sequence[Range]) -> list[Range]:
    """The authors of ``ranges`` as sorted, disjoint ranges.

    A client may send its ranges in any order, even overlapping; the entries of a frontier
    response must still be ascending and each author listed once.
    """
    merged: list[Range] = []
    for low, high in sorted(ranges, key=lambda rng: rng[0]):
        if merged:
            last_low, last_high = merged[-1]
            if last_high is None or low <= last_high:
                if last_high is not None and (high is None or high > last_high):
                    merged[-1] = (last_low, high)
                continue
        merged.append((low, high))
    return merged


def _local_digest(local: LocalView, rng: Range) -> Digest:
    entries: list[Frontier] = []
    after: bytes | None = None
    while True:
        page = local.frontiers(rng, after=after, limit=4096)
        entries.extend(page)
        if len(page) < 4096:
            return digest_of(entries)
        after = page[-1].author


# --- the client --------------------------------------------------------------------------


@dataclass(slots=True)
class SyncStats:
    """What one sync session did."""

    requests: int = 0
    bytes_sent: int = 0
    bytes_received: int = 0
    ranges_equal: int = 0
    authors_compared: int = 0
    messages_received: int = 0


@dataclass(slots=True)
class _Want:
    author: bytes
    first: int
    last: int
    held_by_peer: int | None = None
    """A seq the peer's frontier says it holds (its head): the first batch must have it."""


@dataclass(slots=True)
class SyncClient:
    """One sync session's client side, as a state machine.

    Drive it like this::

        client = SyncClient(local)
        while (request := client.next_request()) is not None:
            response = <send encode_request(request), read and decode_response(...)>
            batch = client.receive(response)   # messages to validate and store, if any
            <store the batch>

    The client never asks twice for the same author range in one session, so a peer that
    claims messages it does not send cannot keep it busy; the session ends when nothing
    more is wanted.
    """

    local: LocalView
    ranges: Sequence[Range] = (FULL_RANGE,)
    """What to reconcile; one author's range for a targeted sync."""
    stats: SyncStats = field(default_factory=SyncStats)
    _digest_queue: deque[Range] = field(default_factory=deque)
    _frontier_queue: deque[Range] = field(default_factory=deque)
    _frontier_after: bytes | None = None
    _frontier_batch: tuple[Range, ...] = ()
    _wants: deque[_Want] = field(default_factory=deque)
    _claimed: dict[Range, int] = field(default_factory=dict)
    _parent: dict[Range, Range] = field(default_factory=dict)
    _parts_total: dict[Range, int] = field(default_factory=dict)
    _frontier_received: int = 0
    _pending: Request | None = None
    _started: bool = False

    def next_request(self) -> Request | None:
        """The next request to send, or None when the session is complete."""
        if self._pending is not None:
            raise RuntimeError("receive() the previous response first")
        if not self._started:
            self._started = True
            self._digest_queue.extend(self.ranges)
        request: Request | None = None
        if self._wants:
            want = self._wants[0]
            request = MessagesRequest(want.author, want.first, want.last, desc=True)
        elif self._frontier_batch or self._frontier_queue:
            if not self._frontier_batch:
                count = min(len(self._frontier_queue), MAX_RANGES)
                self._frontier_batch = tuple(self._frontier_queue.popleft() for _ in range(count))
                self._frontier_after = None
            request = FrontierRequest(self._frontier_batch, self._frontier_after)
        elif self._digest_queue:
            count = min(len(self._digest_queue), MAX_RANGES)
            request = DigestRequest(tuple(self._digest_queue.popleft() for _ in range(count)))
        self._pending = request
        if request is not None:
            self.stats.requests += 1
            if self.stats.requests > MAX_SESSION_REQUESTS:
                raise DecodeError(f"sync session over {MAX_SESSION_REQUESTS} requests: ended")
        return request

    def receive(self, response: Response) -> list[bytes]:
        """Take the response to the last request; returns messages to validate and store.

        Raises:
            DecodeError: The peer refused the request (an :class:`ErrorResponse`).
        """
        request, self._pending = self._pending, None
        if request is None:
            raise RuntimeError("no request is pending")
        if isinstance(response, ErrorResponse):
            raise DecodeError(f"peer refused sync request: {response.code}: {response.message}")
        match request, response:
            case DigestRequest(ranges), DigestResponse(digests):
                for rng, theirs in zip(ranges, digests, strict=True):
                    self._check_parts_add_up(rng, theirs.count)
                    if theirs == _local_digest(self.local, rng):
                        self.stats.ranges_equal += 1
                        continue
                    self._claimed[rng] = theirs.count
                    parts = split_range(rng)
                    crowded = len(self._digest_queue) + len(parts) > MAX_PENDING_RANGES
                    if theirs.count <= FRONTIER_THRESHOLD or len(parts) == 1 or crowded:
                        self._frontier_queue.append(rng)
                    else:
                        self._digest_queue.extend(parts)
                        self._parent.update(dict.fromkeys(parts, rng))
                return []
            case FrontierRequest(ranges), FrontierResponse(entries, more):
                self._frontier_received += len(entries)
                claimed = sum(self._claimed.get(r, MAX_ENTRIES) for r in ranges)
                if self._frontier_received > claimed + FRONTIER_SLACK:
                    raise DecodeError(
                        f"peer listed {self._frontier_received} authors where its digests"
                        f" claimed {claimed}"
                    )
                for entry in entries:
                    self._compare(entry)
                if more and entries:
                    self._frontier_after = entries[-1].author
                else:
                    self._frontier_batch, self._frontier_after = (), None
                    self._frontier_received = 0
                return []
            case MessagesRequest(), MessagesResponse(messages, more):
                want = self._wants[0]
                self.stats.messages_received += len(messages)
                if want.held_by_peer is not None:
                    if not messages or messages[0][0] != want.held_by_peer:
                        raise DecodeError(
                            f"peer claimed seq {want.held_by_peer} of an author as its head"
                            " but did not send it"
                        )
                    want.held_by_peer = None
                if more and messages:
                    lowest = messages[-1][0]
                    if lowest <= want.first:
                        self._wants.popleft()
                    else:
                        want.last = lowest - 1
                else:
                    self._wants.popleft()
                return [wire for _, wire in messages]
        raise DecodeError("response does not answer the request")

    def _check_parts_add_up(self, rng: Range, count: int) -> None:
        """The parts of a split range partition it: their counts must add up to its own.

        Raises:
            DecodeError: They add up to more (beyond slack for a store that grows).
        """
        parent = self._parent.pop(rng, None)
        if parent is None:
            return
        total = self._parts_total.get(parent, 0) + count
        self._parts_total[parent] = total
        if total > self._claimed[parent] + FRONTIER_SLACK:
            raise DecodeError(
                f"peer's digests of a range's parts add up to {total}, more than the"
                f" {self._claimed[parent]} it claimed for the whole range"
            )

    def _compare(self, theirs: Frontier) -> None:
        self.stats.authors_compared += 1
        mine = self.local.frontier(theirs.author)
        head = theirs.head_seq
        if mine is None:
            self._wants.append(_Want(theirs.author, 1, head, held_by_peer=head))
            return
        if head > mine.head_seq:
            self._wants.append(_Want(theirs.author, mine.head_seq + 1, head, held_by_peer=head))
        elif head == mine.head_seq and theirs.head_id != mine.head_id:
            # Two heads for one seq: fetch theirs as fork evidence.
            self._wants.append(_Want(theirs.author, head, head, held_by_peer=head))
        # They surely hold some of my gaps if, even counting every message they have
        # beyond my head, they hold more below it than I do; and they hold some when our
        # heads agree and we hold as many or fewer but not the same seqs.
        surely = theirs.held - max(0, theirs.head_seq - mine.head_seq) > mine.held
        other_holes = head == mine.head_seq and theirs.fingerprint != mine.fingerprint
        if (surely or other_holes) and mine.held < mine.head_seq:
            upto = min(mine.head_seq, theirs.head_seq)
            for first, last in reversed(self.local.missing(theirs.author, upto)):
                self._wants.append(_Want(theirs.author, first, last))


# --- parsing helpers ---------------------------------------------------------------------


def _map(data: bytes) -> dict[str, canonical.Value]:
    if len(data) > MAX_FRAME_BYTES:
        raise DecodeError(f"sync frame of {len(data)} bytes is over {MAX_FRAME_BYTES}")
    value = canonical.decode(data)
    if not isinstance(value, dict):
        raise DecodeError("a sync frame must be a map")
    return value


def _keys(value: dict[str, canonical.Value], expected: set[str]) -> None:
    if set(value) != expected:
        raise DecodeError(f"sync frame fields must be exactly {sorted(expected)}")


def _list(value: canonical.Value, limit: int) -> list[canonical.Value]:
    if not isinstance(value, list):
        raise DecodeError("expected a list")
    if len(value) > limit:
        raise DecodeError(f"list of {len(value)} is over the limit of {limit}")
    return value


def _is_uint(value: object) -> bool:
    return type(value) is int and 0 <= value <= MAX_SEQ


def _is_seq(value: object) -> bool:
    return type(value) is int and 1 <= value <= MAX_SEQ


def _is_id(value: object) -> bool:
    return isinstance(value, bytes) and len(value) == ID_BYTES


def _ranges_value(ranges: Sequence[Range]) -> list[canonical.Value]:
    return [[low, high] for low, high in ranges]


def _parse_ranges(value: canonical.Value) -> tuple[Range, ...]:
    items = _list(value, MAX_RANGES)
    if not items:
        raise DecodeError("at least one range is needed")
    ranges: list[Range] = []
    for item in items:
        if not (isinstance(item, list) and len(item) == 2 and _is_id(item[0])):
            raise DecodeError("a range is [low: id, high: id or null]")
        low, high = item
        if high is not None and not (_is_id(high) and high > low):  # type: ignore[operator]
            raise DecodeError("a range's high must be an id above low, or null")
        ranges.append((low, high))  # type: ignore[arg-type]
    return tuple(ranges)


def _parse_frontier(item: canonical.Value) -> Frontier:
    if not (isinstance(item, list) and len(item) == 5):
        raise DecodeError("a frontier entry is [author, head_seq, head_id, held, fingerprint]")
    author, head_seq, head_id, held, fingerprint = item
    if not (_is_id(author) and _is_id(head_id) and _is_uint(head_seq) and _is_uint(held)):
        raise DecodeError("a frontier entry has a wrong type")
    if not (isinstance(fingerprint, bytes) and len(fingerprint) == FINGERPRINT_BYTES):
        raise DecodeError(f"a frontier fingerprint is {FINGERPRINT_BYTES} bytes")
    if not 1 <= held <= head_seq:  # type: ignore[operator]
        raise DecodeError("a frontier entry must have 1 <= held <= head_seq")
    return Frontier(author, head_seq, head_id, held, fingerprint)  # type: ignore[arg-type]


def _in_range(author: bytes, rng: Range) -> bool:
    return rng[0] <= author and (rng[1] is None or author < rng[1])
