"""Admission: which messages from the network this node lets in, and what they cost.

A message from a peer (gossip or sync) is let in only if its author has paid the postage
this node asks of them, and, through gossip, only within its author's rate limit; all
*strangers* together also share one budget. What is asked depends on the author's
distance in the owner's follow graph (:class:`FollowDistances`): 0 the owner, 1 an author
the owner follows, 2 an author one of those follows, anything else a stranger
(docs/protocol.md, "Postage").

The checks run cheapest first. Postage is read from the envelope (:func:`peek`) before the
signature is checked, like a timestamp, so a message that has not paid costs this node one
hash, not a signature check; the rate limits are charged only for verified messages, so
that nobody can spend another author's (or the strangers') budget with forgeries.

Refusals are counted (:meth:`Admission.stats`, shown by ``p2psocial status``) and logged
once per author per :data:`LOG_INTERVAL`. What they cost the peer that relayed the message
is the network's business (:mod:`p2psocial.net.scoring`); :class:`Verdict` says which kind
of refusal it was. The owner's own messages and imported files never come through here.
"""

from __future__ import annotations

import logging
import threading
from collections import Counter, OrderedDict
from collections.abc import Callable, Collection, Iterable, Sequence
from dataclasses import dataclass
from enum import Enum
from typing import Any, Final

from .config import LimitsConfig
from .core.bodies import Kind
from .core.ids import AuthorId
from .core.limits import MAX_MESSAGE_BYTES
from .core.message import Message, decode_message
from .core.postage import PostagePolicy, postage_bits
from .core.ratelimit import RateLimiter, TokenBucket
from .errors import StoreError, ValidationError
from .store.queries import IndexReader

log = logging.getLogger(__name__)

LOG_INTERVAL: Final = 60.0
"""Seconds between two log lines about the same author's refused messages."""
MAX_LOGGED_AUTHORS: Final = 10_000
SECOND_DISTANCE: Final = 2
"""The furthest distance that is not a stranger."""
_SIGNATURE_TAIL: Final = 66
"""A canonical signed header ends with a 2-byte bstr head and the 64-byte signature."""
_ARRAY_OF_TWO: Final = 0x82
_BSTR_1: Final = 0x58
_BSTR_2: Final = 0x59
_MIN_WIRE: Final = 4
_AUTHOR_ENTRY: Final = b"\x66author\x58\x20"
"""The key ``author`` (a 6-byte text) and the head of its 32-byte value."""
_QUERY_CHUNK: Final = 500


class Verdict(Enum):
    """What admission made of one message; the value is the code logs and status use."""

    ADMIT = "admit"
    POSTAGE = "invalid.postage"
    """Less postage than asked of its author: local policy, never the relay's fault."""
    AUTHOR_RATE = "gossip.author_rate"
    """Over its author's rate limit: a relay that applies the same limits would not have
    forwarded it, so it costs the relay a little (never as much as an invalid message)."""
    STRANGER_BUDGET = "gossip.stranger_budget"
    """All strangers together are over their budget: local capacity, never the relay's
    fault (the relay's strangers are not ours)."""


@dataclass(frozen=True, slots=True)
class Envelope:
    """What :func:`peek` reads from a message without verifying it."""

    author: AuthorId
    """The author the header claims (unverified)."""
    postage: int
    """Leading zero bits of the header's postage hash (what the author paid)."""


def peek(data: bytes) -> Envelope | None:
    """The claimed author and the postage of a message on the wire, in about a microsecond.

    Nothing is verified, and only what canonical encoding fixes is read: the wire form
    ``[signed_header, body]`` starts with its array head and the signed header's bstr head,
    and the header map holds the key ``author`` once, followed by its 32 bytes. A message
    that does not look like that gives None, and full validation
    (:func:`~p2psocial.core.message.decode_message`) names its fault later. The postage is
    computed exactly as :attr:`~p2psocial.core.message.Message.postage` does, so for a valid
    message the two agree. (The last ``author`` key is taken: every field after it is a hash
    or a length, so no sender can plant a false one there; one planted earlier, in ``kind``
    or ``pow``, is passed over, and such a header fails full validation anyway.)
    """
    if not _MIN_WIRE <= len(data) <= MAX_MESSAGE_BYTES or data[0] != _ARRAY_OF_TWO:
        return None
    head = data[1]
    if head == _BSTR_1:
        size, start = data[2], 3
    elif head == _BSTR_2:
        size, start = int.from_bytes(data[2:4], "big"), 4
    else:
        return None  # a signed header is 24 to 65 535 bytes long
    signed_header = data[start : start + size]
    if len(signed_header) != size or size <= _SIGNATURE_TAIL + 1:
        return None
    header = signed_header[1:-_SIGNATURE_TAIL]
    at = header.rfind(_AUTHOR_ENTRY)
    if at < 0:
        return None
    author = header[at + len(_AUTHOR_ENTRY) : at + len(_AUTHOR_ENTRY) + 32]
    if len(author) != 32:
        return None
    return Envelope(AuthorId(author), postage_bits(header))


# --- the owner's follow graph, two hops deep -----------------------------------------------


@dataclass(frozen=True, slots=True)
class DistanceUpdate:
    """What :meth:`FollowDistances.read` found in the index, to :meth:`~FollowDistances.apply`."""

    followed: frozenset[AuthorId] | None
    """Whom the owner follows now, when the owner's follows were read."""
    follows: dict[AuthorId, frozenset[AuthorId]]
    """Whom each of these followed authors follows now."""


class FollowDistances:
    """How many follows separate each author from the owner: 0, 1, 2, or None (a stranger).

    Derived from the index (the follow in effect for each pair, docs/protocol.md section 9)
    and kept up to date incrementally: when a follow or unfollow by the owner or by an
    author the owner follows is stored, :meth:`read` re-reads that author's follows (in a
    worker thread: it queries SQLite) and :meth:`apply` updates the counts, so checking a
    message is a dictionary lookup. Reads and applies must be serialised by the caller
    (the node holds a lock), so that a later read is never overwritten by an earlier one.
    """

    def __init__(self, me: AuthorId) -> None:
        self.me = me
        self._followed: frozenset[AuthorId] = frozenset()
        self._their: dict[AuthorId, frozenset[AuthorId]] = {}
        self._second: Counter[AuthorId] = Counter()
        """For each author, how many of the owner's followees follow them."""

    def distance(self, author: AuthorId) -> int | None:
        """0 for the owner, 1 for a followed author, 2 for one they follow, else None."""
        if author == self.me:
            return 0
        if author in self._followed:
            return 1
        if author in self._second:
            return SECOND_DISTANCE
        return None

    @property
    def followed(self) -> frozenset[AuthorId]:
        """The authors at distance 1."""
        return self._followed

    def second_count(self) -> int:
        """How many authors are at distance 2 (for status and tests)."""
        return sum(1 for a in self._second if a != self.me and a not in self._followed)

    def touches(self, message: Message) -> bool:
        """Whether storing ``message`` may change a distance: a follow or an unfollow by
        the owner or by an author the owner follows."""
        return message.kind in (Kind.FOLLOW, Kind.UNFOLLOW) and (
            message.author == self.me or message.author in self._followed
        )

    def read(
        self, reader: IndexReader, authors: Collection[AuthorId] = (), *, everything: bool = False
    ) -> DistanceUpdate | None:
        """Read from the index the follows now in effect of ``authors``: for the owner,
        whom they follow (and whom each newly followed author follows); for a followed
        author, whom they follow. Blocking: run it in a worker thread.

        Args:
            reader: The index.
            authors: Whose follows changed.
            everything: Read the whole two-hop graph again (at open, after a reindex).

        Returns:
            The update, or None when the index cannot be read now (being rebuilt, closed):
            the distances stay as they were, and the reason is logged.
        """
        try:
            followed = None
            wanted = {a for a in authors if a != self.me and a in self._followed}
            if everything or self.me in authors:
                followed = frozenset(_followees(reader, [self.me]).get(self.me, ()))
                fresh = followed if everything else followed - self._followed
                wanted = (wanted & followed) | fresh
            found = _followees(reader, sorted(wanted, key=lambda a: a.raw))
        except StoreError as exc:
            log.warning("follow distances not updated (%s); they stay as they were", exc)
            return None
        return DistanceUpdate(followed, {a: frozenset(found.get(a, ())) for a in wanted})

    def apply(self, update: DistanceUpdate) -> None:
        """Take what :meth:`read` found."""
        if update.followed is not None:
            for gone in self._followed - update.followed:
                self._forget(gone)
            self._followed = update.followed
        for author, followees in update.follows.items():
            if author in self._followed:
                self._forget(author)
                self._their[author] = followees
                self._second.update(followees)

    def _forget(self, author: AuthorId) -> None:
        for followee in self._their.pop(author, ()):
            left = self._second[followee] - 1
            if left > 0:
                self._second[followee] = left
            else:
                del self._second[followee]


def _followees(reader: IndexReader, authors: Sequence[AuthorId]) -> dict[AuthorId, set[AuthorId]]:
    out: dict[AuthorId, set[AuthorId]] = {}
    for start in range(0, len(authors), _QUERY_CHUNK):
        chunk = authors[start : start + _QUERY_CHUNK]
        marks = ",".join("?" * len(chunk))
        rows = reader.query(
            "SELECT fr.key, fe.key FROM authors fr"
            " JOIN follows f ON f.follower = fr.rowid AND f.active = 1"
            f" JOIN authors fe ON fe.rowid = f.followee WHERE fr.key IN ({marks})",
            [a.raw for a in chunk],
        )
        for follower, followee in rows:
            out.setdefault(AuthorId(follower), set()).add(AuthorId(followee))
    return out


# --- the checks --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class AdmissionStats:
    """What admission has refused and let in since the network started."""

    refused_postage: int = 0
    refused_stranger_budget: int = 0
    over_author_limit: int = 0
    strangers_admitted: int = 0

    def to_json(self) -> dict[str, Any]:
        """As a JSON object."""
        return {
            "refused_postage": self.refused_postage,
            "refused_stranger_budget": self.refused_stranger_budget,
            "over_author_limit": self.over_author_limit,
            "strangers_admitted": self.strangers_admitted,
        }


class Admission:
    """The checks of one running network. Thread-safe: sync screens its batches in a
    worker thread while gossip validates on the trio thread.

    Args:
        distance: The owner's follow distance of an author (see :class:`FollowDistances`).
        postage: What to ask, by distance.
        limits: The per-author and stranger budgets.
    """

    def __init__(
        self,
        distance: Callable[[AuthorId], int | None],
        postage: PostagePolicy,
        limits: LimitsConfig,
    ) -> None:
        self._distance = distance
        self._policy = postage
        self._limits = limits
        self._authors: RateLimiter[AuthorId] = RateLimiter(limits.author_rate, limits.author_burst)
        self._strangers = TokenBucket(limits.stranger_rate, limits.stranger_burst)
        self._lock = threading.Lock()
        self._counts: Counter[Verdict] = Counter()
        self._strangers_admitted = 0
        self._logged: OrderedDict[tuple[AuthorId, Verdict], float] = OrderedDict()

    def stats(self) -> AdmissionStats:
        """Counters since start."""
        with self._lock:
            return AdmissionStats(
                refused_postage=self._counts[Verdict.POSTAGE],
                refused_stranger_budget=self._counts[Verdict.STRANGER_BUDGET],
                over_author_limit=self._counts[Verdict.AUTHOR_RATE],
                strangers_admitted=self._strangers_admitted,
            )

    def is_stranger(self, author: AuthorId) -> bool:
        """Whether ``author`` is more than two follows from the owner (or unknown)."""
        distance = self._distance(author)
        return distance is None or distance > SECOND_DISTANCE

    def postage(self, envelope: Envelope, now: float) -> Verdict:
        """Whether the message has paid what its author's distance asks (no charge)."""
        required = self._policy.required(self._distance(envelope.author))
        if envelope.postage >= required:
            return Verdict.ADMIT
        self._refused(
            Verdict.POSTAGE,
            envelope.author,
            now,
            f"paid {envelope.postage} bits of postage, {required} asked",
        )
        return Verdict.POSTAGE

    def gossip(self, author: AuthorId, now: float) -> Verdict:
        """Charge a verified gossip message to its author's limit and, for a stranger, to
        the strangers' budget; either may refuse it (charging nothing)."""
        with self._lock:
            if not self._authors.can(author, now):
                verdict = Verdict.AUTHOR_RATE
            elif self.is_stranger(author):
                verdict = self._take_stranger(now)
            else:
                verdict = Verdict.ADMIT
            if verdict is Verdict.ADMIT:
                self._authors.allow(author, now)
        if verdict is not Verdict.ADMIT:
            self._refused(verdict, author, now, "")
        return verdict

    def screen(self, batch: Iterable[bytes], *, now: float, now_ms: int) -> list[bytes | Message]:
        """What of a sync batch to store: postage checked for every message, strangers'
        messages verified and charged to their budget (the rest is verified by the store).

        Blocking (it checks signatures): run it in a worker thread. A message that does
        not parse, or a stranger's that does not verify, is passed on as it came, for the
        store to refuse and the peer to answer for.
        """
        out: list[bytes | Message] = []
        for data in batch:
            envelope = peek(data)
            if envelope is None:
                out.append(data)
                continue
            if self.postage(envelope, now) is not Verdict.ADMIT:
                continue
            if not self.is_stranger(envelope.author):
                out.append(data)
                continue
            with self._lock:
                room = self._strangers.can_take(now)
            if not room:
                self._refused(Verdict.STRANGER_BUDGET, envelope.author, now, "(sync)")
                continue
            try:
                message = decode_message(
                    data, now_ms=now_ms, max_skew_ms=int(self._limits.clock_skew * 1000)
                )
            except ValidationError:
                out.append(data)
                continue
            with self._lock:
                verdict = self._take_stranger(now)
            if verdict is Verdict.ADMIT:
                out.append(message)
            else:
                self._refused(verdict, envelope.author, now, "(sync)")
        return out

    def _take_stranger(self, now: float) -> Verdict:
        # Called with the lock held.
        if not self._strangers.try_take(now):
            return Verdict.STRANGER_BUDGET
        self._strangers_admitted += 1
        return Verdict.ADMIT

    def _refused(self, verdict: Verdict, author: AuthorId, now: float, detail: str) -> None:
        with self._lock:
            self._counts[verdict] += 1
            key = (author, verdict)
            last = self._logged.get(key)
            if last is not None and now - last < LOG_INTERVAL:
                return
            self._logged[key] = now
            self._logged.move_to_end(key)
            if len(self._logged) > MAX_LOGGED_AUTHORS:
                self._logged.popitem(last=False)
            total = self._counts[verdict]
        log.info(
            "refused a message of %s: %s %s(%s refused so far; next line about this author"
            " in %.0f s at the earliest)",
            author.short,
            verdict.value,
            f"{detail} " if detail else "",
            total,
            LOG_INTERVAL,
        )


__all__ = [
    "Admission",
    "AdmissionStats",
    "DistanceUpdate",
    "Envelope",
    "FollowDistances",
    "Verdict",
    "peek",
]
