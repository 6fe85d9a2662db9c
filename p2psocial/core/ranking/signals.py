"""Small helpers the built-in algorithms share: age, decay, and words for explanations."""

from __future__ import annotations

from typing import Final

from .graph import SocialGraph
from .interface import Candidate

MS_PER_HOUR: Final = 3_600_000


def age_hours(now: int, ts: int) -> float:
    """Hours from ``ts`` to ``now`` (0 for a timestamp after ``now``)."""
    return max(0, now - ts) / MS_PER_HOUR


def decay(age: float, half_life: float) -> float:
    """``0.5 ** (age / half_life)``: 1.0 when new, 0.5 one half-life later.

    Raises:
        ValueError: ``half_life`` is not positive.
    """
    if half_life <= 0:
        raise ValueError(f"half-life must be positive, got {half_life:g}")
    return float(0.5 ** (age / half_life))


def age_text(hours: float) -> str:
    """An age for people: ``new``, ``12 min old``, ``5.2 h old``, ``3.1 d old``."""
    minutes = hours * 60
    if minutes < 1:
        return "new"
    if minutes < 60:
        return f"{minutes:.0f} min old"
    if hours < 48:
        return f"{hours:.1f} h old"
    return f"{hours / 24:.1f} d old"


def name(candidate: Candidate) -> str:
    """The candidate's author as people read it."""
    return candidate.author_display


def relation(graph: SocialGraph, candidate: Candidate) -> str:
    """How the candidate's author stands to me, in words."""
    author = candidate.author
    if author == graph.me:
        return "you"
    shared = graph.followed_by_following.get(author, 0)
    people = f"{shared} of the {len(graph.following)} people you follow"
    if author in graph.following:
        return f"you follow them, and so do {people}" if shared else "you follow them"
    hops = graph.hops(author)
    where = f"{hops} hops away" if hops is not None else "more than 3 hops away"
    return f"{people} follow them; {where}" if shared else f"you do not follow them; {where}"


def joined(names: list[str], *, most: int = 3) -> str:
    """``a``, ``a and b``, ``a, b and c``, ``a, b, c and 2 others``."""
    if len(names) > most:
        rest = len(names) - most
        return ", ".join(names[:most]) + f" and {rest} other{'s' if rest > 1 else ''}"
    if len(names) <= 1:
        return "".join(names)
    return ", ".join(names[:-1]) + " and " + names[-1]
