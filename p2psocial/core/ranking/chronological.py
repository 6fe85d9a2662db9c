"""``chronological``: the newest first, nothing else. The default.

score = -age_hours (so the newest item, at age 0, comes first); equal times are ordered
by message id, like every feed.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

from .interface import Algorithm, Candidate, Context, Ranked, Reason
from .signals import age_hours, age_text


def rank(candidates: Sequence[Candidate], context: Context) -> Iterator[Ranked]:
    """Place each candidate by its age alone."""
    for candidate in candidates:
        age = age_hours(context.now, candidate.ts)
        reason = Reason("age_hours", age, -1.0, f"{age_text(age)}; newest first")
        yield Ranked(candidate, -age, (reason,))


ALGORITHM = Algorithm(
    description="newest first: you and the people you follow, nothing reordered",
    rank=rank,
)
