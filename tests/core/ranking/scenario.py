"""A fixed, generated social network for ranking tests, and a model of gathering in memory.

The network (every key, time and text comes from fixed seeds, so it is the same each run):

- ``me`` follows alice, bob, carol, dave, erin and frank, followed ivan once and
  unfollowed him;
- they follow others: grace is followed by four of them, heidi by two, judy, niaj,
  olivia and peggy by one; rupert, trent and victor are three hops away;
- a ring of four sybils follow each other (and grace) and post a lot, recently; nobody
  reachable from me follows them;
- threads: grace's question answered by alice, bob, carol, trent and me; alice's post
  answered by dave and alice; a sybil's post answered by bob; erin's post unanswered;
- reposts, reactions, a deleted post, two posts at the very same time (a tie), and each
  author's ordinary posts spread over three days.

:class:`MemoryIndex` applies the messages the way the index does (latest profile,
latest follow or unfollow, deletes by their own author), and :func:`gather` picks
candidates by the rules of docs/algorithms.md, so the core tests need no disk and the
adapter's test can check that the store gathers exactly the same.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Final

from p2psocial.core.bodies import (
    Delete,
    Follow,
    Kind,
    Post,
    Profile,
    Reaction,
    Reply,
    Repost,
    Unfollow,
)
from p2psocial.core.ids import AuthorId, MessageId
from p2psocial.core.message import Message
from p2psocial.core.ranking import Candidate, SocialGraph, Sources
from p2psocial.core.ranking.interface import Origin
from tests.factories import BASE_TS, ChainBuilder

MINUTE: Final = 60_000
HOUR: Final = 60 * MINUTE
START: Final = BASE_TS
"""The first message of the scenario; the last is about three days later."""

NAMES: Final = [
    "me",
    "alice",
    "bob",
    "carol",
    "dave",
    "erin",
    "frank",
    "grace",
    "heidi",
    "ivan",
    "judy",
    "mallory",
    "niaj",
    "olivia",
    "peggy",
    "rupert",
    "trent",
    "victor",
    "sybil1",
    "sybil2",
    "sybil3",
    "sybil4",
]


@dataclass
class Scenario:
    """The people (by name) and every message, in the order a node receives them."""

    people: dict[str, ChainBuilder]
    messages: list[Message] = field(default_factory=list)

    @property
    def me(self) -> AuthorId:
        return self.people["me"].author

    def author(self, name: str) -> AuthorId:
        return self.people[name].author

    def wire(self) -> list[bytes]:
        return [m.to_bytes() for m in self.messages]


def build() -> Scenario:
    """The scenario (the same every call)."""
    rng = random.Random(20260505)
    people = {name: ChainBuilder(1000 + i) for i, name in enumerate(NAMES)}
    scenario = Scenario(people)
    p = people

    def at(minutes: float) -> int:
        return START + int(minutes * MINUTE)

    for i, name in enumerate(NAMES):
        if name != "mallory":  # one author without a profile: shown by short id
            p[name].profile(name, ts=at(i))
    follows = {
        "me": ["alice", "bob", "carol", "dave", "erin", "frank", "ivan"],
        "alice": ["bob", "carol", "grace", "heidi"],
        "bob": ["alice", "grace", "judy"],
        "carol": ["grace", "heidi", "niaj", "alice"],
        "dave": ["grace", "olivia"],
        "erin": ["peggy", "alice", "mallory"],
        "grace": ["rupert", "trent"],
        "heidi": ["rupert"],
        "ivan": ["victor"],
        "judy": ["alice"],
        "niaj": ["trent"],
        "sybil1": ["sybil2", "sybil3", "sybil4", "grace"],
        "sybil2": ["sybil1", "sybil3", "sybil4", "grace"],
        "sybil3": ["sybil1", "sybil2", "sybil4", "grace"],
        "sybil4": ["sybil1", "sybil2", "sybil3", "grace"],
    }
    for follower, followees in follows.items():
        for j, followee in enumerate(followees):
            p[follower].follow(p[followee], ts=at(30 + j))
    p["me"].unfollow(p["ivan"], ts=at(40))

    # Ordinary posts over three days.
    for name in NAMES:
        count = 12 if name.startswith("sybil") else rng.randint(2, 6)
        for k in range(count):
            minute = rng.uniform(60, 72 * 60) if not name.startswith("sybil") else None
            if minute is None:  # sybils: a burst in the last two hours
                minute = 70 * 60 + rng.uniform(0, 120)
            p[name].post(
                f"{name} says #{k}: {rng.choice(WORDS)} {rng.choice(WORDS)}", ts=at(minute)
            )

    # Threads.
    question = p["grace"].post("what makes a feed fair?", ts=at(60 * 60))
    replies = [
        ("alice", 61),
        ("bob", 62 * 1),
        ("carol", 63),
        ("trent", 64),
        ("me", 65),
        ("alice", 66),
    ]
    for name, hour_offset in replies:
        p[name].reply(question, f"{name}: it explains itself", ts=at(hour_offset * 60 + 5))
    musing = p["alice"].post("thinking about trust", ts=at(40 * 60))
    answer = p["dave"].reply(musing, "trust is local", ts=at(41 * 60))
    p["alice"].reply(answer, "yes, computed locally", ts=at(42 * 60))
    bait = p["sybil1"].post("buy now!!!", ts=at(71 * 60))
    p["bob"].reply(bait, "this is spam", ts=at(71 * 60 + 30))
    p["erin"].post("anyone here?", ts=at(50 * 60))

    # Reposts and reactions.
    p["bob"].repost(question, ts=at(60 * 60 + 30))
    p["carol"].repost(bait, ts=at(71 * 60 + 40))
    for name in ("alice", "bob", "carol", "sybil2", "sybil3"):
        p[name].react(question, "👍", ts=at(60 * 60 + 50))
    p["carol"].react(question, "🎉", ts=at(60 * 60 + 51))
    p["alice"].react(musing, "💡", ts=at(40 * 60 + 1))

    # A deleted post, and two posts at exactly the same time.
    oops = p["dave"].post("a post I regret", ts=at(65 * 60))
    p["dave"].delete(oops, ts=at(65 * 60 + 1))
    p["alice"].post("tick", ts=at(68 * 60))
    p["bob"].post("tock", ts=at(68 * 60))

    everything = [m for b in people.values() for m in b.messages]
    everything.sort(key=lambda m: (m.header.ts, m.author.raw, m.seq))
    scenario.messages = everything
    return scenario


WORDS: Final = [
    "gossip",
    "sync",
    "trust",
    "chains",
    "keys",
    "logs",
    "feeds",
    "peers",
    "graphs",
    "bodies",
    "headers",
    "threads",
]


# --- the index, modelled in memory --------------------------------------------------------


@dataclass(frozen=True)
class _Row:
    rowid: int
    message: Message


class MemoryIndex:
    """What the index would hold after ingesting ``messages`` in order."""

    def __init__(self, messages: Sequence[Message]) -> None:
        self.rows = [_Row(i + 1, m) for i, m in enumerate(messages)]
        self.by_id = {r.message.id: r for r in self.rows}
        names: dict[AuthorId, tuple[int, str]] = {}
        edges: dict[tuple[AuthorId, AuthorId], tuple[int, bool]] = {}
        self.deleted: set[MessageId] = set()
        for row in self.rows:
            m, body = row.message, row.message.body
            match body:
                case Profile(name=name):
                    if m.seq > names.get(m.author, (0, ""))[0]:
                        names[m.author] = (m.seq, name)
                case Follow(author=who) | Unfollow(author=who):
                    key = (m.author, who)
                    if m.seq > edges.get(key, (0, False))[0]:
                        edges[key] = (m.seq, isinstance(body, Follow))
                case Delete(target=target):
                    victim = self.by_id.get(target)
                    if victim is not None and victim.message.author == m.author:
                        self.deleted.add(target)
        self.names = {a: n for a, (_, n) in names.items()}
        self.follows: dict[AuthorId, list[AuthorId]] = {}
        self.unfollowed: dict[AuthorId, list[AuthorId]] = {}
        for (a, b), (_, active) in sorted(edges.items(), key=lambda e: (e[0][0].raw, e[0][1].raw)):
            (self.follows if active else self.unfollowed).setdefault(a, []).append(b)

    def graph(self, me: AuthorId) -> SocialGraph:
        return SocialGraph.build(me, self.follows, unfollowed=self.unfollowed.get(me, ()))

    def _timeline(self, row: _Row) -> bool:
        kind = row.message.body.kind
        return kind in (Kind.POST, Kind.REPLY, Kind.REPOST) and row.message.id not in self.deleted

    def candidate(self, row: _Row, origin: Origin, counts: bool = False) -> Candidate:
        m, body = row.message, row.message.body
        replies = reposts = 0
        reactions: set[tuple[AuthorId, str]] = set()
        for other in self.rows:
            if other.message.id in self.deleted:
                continue
            match other.message.body:
                case Reply(parent=parent) if parent == m.id:
                    replies += 1
                case Repost(target=target) if target == m.id:
                    reposts += 1
                case Reaction(target=target, emoji=emoji) if target == m.id:
                    reactions.add((other.message.author, emoji))
        text = body.text if isinstance(body, Post | Reply) else None
        candidate = Candidate(
            id=m.id,
            author=m.author,
            author_name=self.names.get(m.author),
            ts=m.header.ts,
            kind=body.kind,
            text=text,
            root=body.root if isinstance(body, Reply) else None,
            parent=body.parent if isinstance(body, Reply) else None,
            target=body.target if isinstance(body, Repost) else None,
            replies=replies if counts else None,
            reposts=reposts if counts else None,
            reactions=len(reactions) if counts else None,
            origin=origin,
        )
        if isinstance(body, Repost):
            target_row = self.by_id.get(body.target)
            if target_row is not None and self._timeline(target_row):
                inner = self.candidate(target_row, origin, counts)
                candidate = replace(candidate, reposted=inner)
        return candidate

    def newest(self, rows: list[_Row], limit: int) -> list[_Row]:
        return sorted(rows, key=lambda r: (-r.message.header.ts, -r.rowid))[:limit]

    def by_authors(self, authors: set[AuthorId]) -> list[_Row]:
        return [r for r in self.rows if self._timeline(r) and r.message.author in authors]


def gather(index: MemoryIndex, graph: SocialGraph, sources: Sources) -> list[Candidate]:
    """Candidates by the documented rules (docs/algorithms.md, "Candidates")."""
    found: dict[MessageId, Candidate] = {}
    if sources.home:
        rows = index.by_authors({graph.me, *graph.following})
        for row in index.newest(rows, sources.window):
            found.setdefault(row.message.id, index.candidate(row, "home", sources.counts))
    if sources.roots:
        threads = {c.thread for c in found.values() if c.kind is Kind.REPLY}
        for thread in threads - found.keys():
            row = index.by_id.get(thread)
            if row is not None and index._timeline(row):
                found.setdefault(thread, index.candidate(row, "root", sources.counts))
    if sources.network:
        network: list[_Row] = []
        for author in graph.most_trusted_strangers(sources.network):
            network += index.newest(index.by_authors({author}), sources.per_author)
        for row in index.newest(network, sources.window):
            found.setdefault(row.message.id, index.candidate(row, "network", sources.counts))
    return sorted(found.values(), key=lambda c: (-c.ts, c.id.raw))
