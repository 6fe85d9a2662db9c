"""``fresh-voices``: authors your follow graph trusts whom you do not follow yet.

Candidates come from the ``network`` source: the newest posts of the authors you trust
most (personalised PageRank) among those you neither follow nor have unfollowed. Authors
with a relative trust below ``min_trust`` are left out, and so are replies (unless
``include_replies``) and reposts: a new voice is heard in its own words.

score = trust_weight * trust + recency_weight * 0.5 ** (age_hours / half_life_hours)

then at most ``per_author`` items per author are kept (their best), so that one prolific
stranger cannot fill the page.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from types import MappingProxyType

from ..bodies import Kind
from ..ids import AuthorId
from .interface import Algorithm, Candidate, Context, Ranked, Reason, SettingError, Sources
from .pipeline import sort_key
from .signals import age_hours, age_text, decay, name, relation


def rank(candidates: Sequence[Candidate], context: Context) -> Iterator[Ranked]:
    """Score strangers' posts by trust and freshness, then cap each author."""
    graph = context.graph
    trust_weight = context.number("trust_weight")
    recency_weight = context.number("recency_weight")
    half_life = context.number("half_life_hours")
    min_trust = context.number("min_trust")
    cap = int(context.number("per_author"))
    include_replies = context.settings.get("include_replies") is True
    if half_life <= 0:
        raise SettingError(f"half_life_hours must be above 0, got {half_life:g}")
    if cap < 1:
        raise SettingError(f"per_author must be 1 or more, got {cap}")
    kinds = {Kind.POST, Kind.REPLY} if include_replies else {Kind.POST}
    scored: list[Ranked] = []
    said: dict[AuthorId, Reason] = {}  # one (immutable) trust reason per author
    for candidate in candidates:
        author = candidate.author
        if (
            candidate.kind not in kinds
            or author == graph.me
            or author in graph.following
            or author in graph.unfollowed
        ):
            continue
        trust = graph.trust.relative(author)
        if trust <= 0 or trust < min_trust:
            continue
        trusted = said.get(author)
        if trusted is None:
            why = (
                f"{name(candidate)} has trust {trust:.2f} from your follow graph "
                f"({relation(graph, candidate)})"
            )
            trusted = said[author] = Reason("trust", trust, trust_weight, why)
        age = age_hours(context.now, candidate.ts)
        reasons = (
            trusted,
            Reason(
                "recency",
                decay(age, half_life),
                recency_weight,
                f"{age_text(age)} (half-life {half_life:g} h)",
            ),
        )
        scored.append(Ranked(candidate, sum(r.contribution for r in reasons), reasons))
    kept: dict[AuthorId, int] = {}
    for item in sorted(scored, key=sort_key):
        count = kept.get(item.candidate.author, 0)
        if count < cap:
            kept[item.candidate.author] = count + 1
            yield item


ALGORITHM = Algorithm(
    description="well-trusted authors you do not follow yet, a few posts each",
    rank=rank,
    sources=Sources(home=False, network=100, per_author=3),
    defaults=MappingProxyType(
        {
            "trust_weight": 1.0,
            "recency_weight": 0.5,
            "half_life_hours": 48.0,
            "min_trust": 0.05,
            "per_author": 2,
            "include_replies": False,
        }
    ),
)
