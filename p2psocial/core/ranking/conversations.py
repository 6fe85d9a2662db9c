"""``conversations``: threads where people you follow are talking, one item per thread.

A thread is every gathered reply with the same root. Its *people* are the authors you
follow among those who replied in it, plus the root's author if you follow them; you
yourself do not count. A thread with fewer than ``min_people`` people is left out, and
so is every post nobody you follow has answered. The item shown is the thread's first
message when it is held, else its newest reply.

score = people_weight * people
      + replies_weight * log2(1 + replies)
      + recency_weight * 0.5 ** (hours since the newest reply / half_life_hours)

where ``replies`` counts the gathered replies in the thread (yours and those of the
people you follow).
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from types import MappingProxyType

from ..bodies import Kind
from ..ids import AuthorId, MessageId
from .interface import Algorithm, Candidate, Context, Ranked, Reason, SettingError, Sources
from .signals import age_hours, age_text, decay, joined


def rank(candidates: Sequence[Candidate], context: Context) -> Iterator[Ranked]:
    """Group replies into threads and score each thread."""
    graph = context.graph
    people_weight = context.number("people_weight")
    replies_weight = context.number("replies_weight")
    recency_weight = context.number("recency_weight")
    half_life = context.number("half_life_hours")
    min_people = context.number("min_people")
    if half_life <= 0:
        raise SettingError(f"half_life_hours must be above 0, got {half_life:g}")
    by_id = {c.id: c for c in candidates}
    threads: dict[MessageId, list[Candidate]] = {}
    for candidate in candidates:
        if candidate.kind is Kind.REPLY and candidate.origin == "home":
            threads.setdefault(candidate.thread, []).append(candidate)
    for root_id, replies in threads.items():
        replies.sort(key=lambda c: (c.ts, c.id.raw))
        root = by_id.get(root_id)
        talkers: dict[AuthorId, str] = {}
        if root is not None and root.author in graph.following:
            talkers[root.author] = root.author_display
        for reply in replies:
            if reply.author in graph.following:
                talkers.setdefault(reply.author, reply.author_display)
        people = len(talkers)
        if people < min_people or people == 0:
            continue
        newest = replies[-1]
        age = age_hours(context.now, newest.ts)
        names = list(talkers.values())
        verb = "are" if people > 1 else "is"
        reasons = (
            Reason(
                "people",
                float(people),
                people_weight,
                f"{joined(names)}, whom you follow, {verb} talking",
            ),
            Reason(
                "replies",
                math.log2(1 + len(replies)),
                replies_weight,
                f"{len(replies)} repl{'ies' if len(replies) > 1 else 'y'} from you and people"
                " you follow (counted as log2(1 + n))",
            ),
            Reason(
                "recency",
                decay(age, half_life),
                recency_weight,
                f"the latest reply is {age_text(age)} (half-life {half_life:g} h)",
            ),
        )
        shown = root if root is not None else newest
        yield Ranked(shown, sum(r.contribution for r in reasons), reasons)


ALGORITHM = Algorithm(
    description="threads where people you follow are talking, liveliest first",
    rank=rank,
    sources=Sources(home=True, roots=True),
    defaults=MappingProxyType(
        {
            "people_weight": 1.0,
            "replies_weight": 0.5,
            "recency_weight": 1.0,
            "half_life_hours": 12.0,
            "min_people": 1,
        }
    ),
)
