"""The corpus planner: who writes what, when, and in answer to which earlier message.

One seeded generator decides every message (see :mod:`bench.corpus` for the shape of the
corpus); :mod:`bench._signing` turns the plans into signed bytes. Planning goes in rounds:
:meth:`Planner.plan` decides a round, the caller signs it, and :meth:`Planner.record` learns
the new ids so that later rounds can reply to, react to and repost those messages.
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Sequence
from dataclasses import asdict
from itertools import accumulate
from typing import TYPE_CHECKING, Any, Final

from ._signing import Planned, Signed, Spec

if TYPE_CHECKING:
    from .corpus import CorpusSpec

CORPUS_VERSION: Final = 1
"""Bump when planning or text generation changes, so that stale caches are not used."""
BASE_TS: Final = 1_700_000_000_000
SPAN_MS: Final = 90 * 86_400_000
"""The corpus covers 90 days from 2023-11-14, well in the past (no clock-skew rejections)."""
ACTIVITY_SIGMA: Final = 1.5
OWNER_POSTS: Final = 20
RECENT_MEAN: Final = 3_000
"""Replies and reactions target messages this many timeline messages back, on average."""
MENTION_SHARE: Final = 0.12
KIND_MIX: Final = (
    ("post", 0.45),
    ("reply", 0.22),
    ("reaction", 0.18),
    ("repost", 0.06),
    ("follow", 0.07),
    ("profile", 0.01),
    ("unfollow", 0.005),
    ("delete", 0.005),
)
_KIND_CUM: Final = tuple(accumulate(share for _, share in KIND_MIX))


class Planner:
    """Decides every message of the corpus, round by round, from one seeded generator."""

    def __init__(self, spec: CorpusSpec) -> None:
        self.spec = spec
        self.rng = random.Random(spec.seed)
        crowd = spec.authors
        weights = [self.rng.lognormvariate(0.0, ACTIVITY_SIGMA) for _ in range(crowd)]
        self.cum_weights = list(accumulate(weights))
        self.typical, self.sparse = crowd, crowd + 1
        self.order = self._order()
        self.counts = Counter(self.order[: spec.messages])
        self.followees = {
            self.typical: self.rng.sample(range(crowd), spec.follows),
            self.sparse: sorted(range(crowd), key=lambda a: (self.counts[a], a))[: spec.follows],
        }
        authors = crowd + 2
        self.next_seq = [0] * authors
        self.head: list[bytes | None] = [None] * authors
        self.follows: list[list[int]] = [[] for _ in range(authors)]
        self.last_own = [-1] * authors
        self.ids: dict[int, bytes] = {}
        self.author_of: dict[int, int] = {}
        self.known: list[int] = []
        """Indices of signed posts and replies, oldest first: what new messages may target."""
        self.root_of: dict[int, bytes] = {}
        self.kinds: Counter[str] = Counter()

    def _order(self) -> list[int]:
        """Who writes each message of the corpus, in time order."""
        spec, rng = self.spec, self.rng
        owner_total = 1 + spec.follows + OWNER_POSTS
        extra = spec.messages - 2 * owner_total - 2 * spec.authors
        if extra < 0:
            raise ValueError(f"{spec.messages} messages are too few for {spec.authors} authors")
        order = list(range(spec.authors)) * 2
        order += rng.choices(range(spec.authors), cum_weights=self.cum_weights, k=extra)
        order += [self.typical] * owner_total + [self.sparse] * owner_total
        rng.shuffle(order)
        order += rng.choices(range(spec.authors), cum_weights=self.cum_weights, k=spec.tail)
        return order

    def meta(self) -> dict[str, Any]:
        """What the benchmarks need to know besides the bytes."""
        ranked = sorted(range(self.spec.authors), key=lambda a: (self.counts[a], a))
        return {
            "spec": asdict(self.spec),
            "version": CORPUS_VERSION,
            "owners": {"typical": self.typical, "sparse": self.sparse},
            "busiest": ranked[-1],
            "median": ranked[len(ranked) // 2],
            "kinds": dict(sorted(self.kinds.items())),
        }

    # --- one round -----------------------------------------------------------------------

    def plan(self, start: int, end: int) -> list[Planned]:
        """Plan messages ``start`` to ``end - 1``; targets come from earlier rounds only."""
        gap = SPAN_MS // (self.spec.messages + self.spec.tail)
        started: set[int] = set()
        entries: list[Planned] = []
        for index in range(start, end):
            author = self.order[index]
            seq = self.next_seq[author] = self.next_seq[author] + 1
            prev = None if author in started else self.head[author]
            started.add(author)
            spec = self._spec(author, seq)
            if index < self.spec.messages:
                self.kinds[spec.kind] += 1
            ts = BASE_TS + index * gap + self.rng.randrange(gap)
            entries.append(Planned(index, author, seq, prev, ts, spec))
        return entries

    def record(self, entries: Sequence[Planned], signed: Sequence[Signed]) -> None:
        """Learn the ids of a signed round, so that later rounds may point at them."""
        by_index = {index: mid for index, _, mid in signed}
        for entry in entries:
            mid = by_index[entry.serial]
            self.head[entry.author] = mid
            if entry.spec.kind in ("post", "reply"):
                self.ids[entry.serial] = mid
                self.author_of[entry.serial] = entry.author
                self.known.append(entry.serial)
                self.last_own[entry.author] = entry.serial
            if entry.spec.kind == "reply":
                self.root_of[entry.serial] = entry.spec.ids[0]

    # --- one message ---------------------------------------------------------------------

    def _spec(self, author: int, seq: int) -> Spec:
        seed = self.rng.getrandbits(32)
        if seq == 1:
            return Spec("profile", seed, (author,))
        followees = self.followees.get(author)
        if followees is not None:
            if seq - 2 < len(followees):
                return Spec("follow", authors=(followees[seq - 2],))
            return Spec("post", seed)
        kind = KIND_MIX[_bisect(_KIND_CUM, self.rng.random())][0]
        spec = self._crowd_spec(kind, author, seed)
        return spec if spec is not None else Spec("post", seed, self._mentions(author))

    def _crowd_spec(self, kind: str, author: int, seed: int) -> Spec | None:
        """A spec of ``kind``, or None when it cannot be made yet (nothing to target)."""
        match kind:
            case "post":
                return Spec("post", seed, self._mentions(author))
            case "reply":
                return self._reply(author, seed)
            case "reaction" | "repost":
                target = self._recent()
                return None if target is None else Spec(kind, seed, ids=(self.ids[target],))
            case "follow":
                return self._follow(author)
            case "unfollow":
                if not self.follows[author]:
                    return None
                followee = self.follows[author].pop(self.rng.randrange(len(self.follows[author])))
                return Spec("unfollow", authors=(followee,))
            case "profile":
                return Spec("profile", seed, (author,))
            case "delete":
                own = self.last_own[author]
                if own < 0:
                    return None
                self.last_own[author] = -1
                return Spec("delete", ids=(self.ids[own],))
        raise ValueError(f"unknown kind {kind!r}")

    def _reply(self, author: int, seed: int) -> Spec | None:
        parent = self._recent()
        if parent is None:
            return None
        parent_id = self.ids[parent]
        root = self.root_of.get(parent, parent_id)
        mentions = self._mentions(author)
        parent_author = self.author_of[parent]
        if parent_author != author and parent_author not in mentions and self.rng.random() < 0.3:
            mentions = (parent_author, *mentions)
        return Spec("reply", seed, mentions, (root, parent_id))

    def _follow(self, author: int) -> Spec | None:
        for _ in range(3):
            followee = self._popular()
            if followee != author and followee not in self.follows[author]:
                self.follows[author].append(followee)
                return Spec("follow", authors=(followee,))
        return None

    def _recent(self) -> int | None:
        if not self.known:
            return None
        back = min(int(self.rng.expovariate(1 / RECENT_MEAN)), len(self.known) - 1)
        return self.known[-1 - back]

    def _popular(self) -> int:
        return self.rng.choices(range(self.spec.authors), cum_weights=self.cum_weights)[0]

    def _mentions(self, author: int) -> tuple[int, ...]:
        if self.rng.random() >= MENTION_SHARE:
            return ()
        count = 1 if self.rng.random() < 0.8 else 2
        return tuple(
            dict.fromkeys(a for a in (self._popular() for _ in range(count)) if a != author)
        )


def _bisect(cumulative: Sequence[float], value: float) -> int:
    for i, bound in enumerate(cumulative):
        if value < bound:
            return i
    return len(cumulative) - 1
