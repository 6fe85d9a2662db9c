"""``trusted``: your home feed, weighted by how much your follow graph trusts each author.

Trust is personalised PageRank from you over the follows your node holds
(:mod:`.trust`), scaled so that the most trusted author other than you has 1.0: an
author whom many of the people you follow also follow ranks above one whom only you
follow. It cannot be bought with fresh keys: trust flows only along follows from you.

score = trust_weight * trust + recency_weight * 0.5 ** (age_hours / half_life_hours)

Your own posts count with ``self_trust`` instead of a trust of their own.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from types import MappingProxyType

from ..ids import AuthorId
from .interface import Algorithm, Candidate, Context, Ranked, Reason, SettingError
from .signals import age_hours, age_text, decay, name, relation


def rank(candidates: Sequence[Candidate], context: Context) -> Iterator[Ranked]:
    """Score each candidate by its author's trust and its freshness."""
    graph = context.graph
    trust_weight = context.number("trust_weight")
    recency_weight = context.number("recency_weight")
    half_life = context.number("half_life_hours")
    self_trust = context.number("self_trust")
    if half_life <= 0:
        raise SettingError(f"half_life_hours must be above 0, got {half_life:g}")
    by_author: dict[AuthorId, Reason] = {}  # one (immutable) trust reason per author
    for candidate in candidates:
        trusted = by_author.get(candidate.author)
        if trusted is None:
            if candidate.author == graph.me:
                trust = self_trust
                why = f"your own post (self_trust {self_trust:g})"
            else:
                trust = graph.trust.relative(candidate.author)
                why = (
                    f"{name(candidate)} has trust {trust:.2f} from your follow graph "
                    f"({relation(graph, candidate)})"
                )
            trusted = by_author[candidate.author] = Reason("trust", trust, trust_weight, why)
        age = age_hours(context.now, candidate.ts)
        fresh = decay(age, half_life)
        reasons = (
            trusted,
            Reason(
                "recency",
                fresh,
                recency_weight,
                f"{age_text(age)} (half-life {half_life:g} h)",
            ),
        )
        yield Ranked(candidate, trusted.value * trust_weight + fresh * recency_weight, reasons)


ALGORITHM = Algorithm(
    description="home weighted by trust: authors your follow graph vouches for come first",
    rank=rank,
    defaults=MappingProxyType(
        {
            "trust_weight": 1.0,
            "recency_weight": 1.0,
            "half_life_hours": 24.0,
            "self_trust": 0.5,
        }
    ),
)
