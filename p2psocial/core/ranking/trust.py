"""Trust in a follow graph, seen from one author: hop distances and personalised PageRank.

Pure functions of the graph they are given: no clock, no randomness, no dependence on
hash order (nodes and edges are put in id order before any float is summed), so the same
graph always gives bit-for-bit the same numbers.

Follows are a mapping from each follower to the authors they follow. Authors that appear
only as followees need no key of their own.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Final

from ..ids import AuthorId

DAMPING: Final = 0.85
"""Probability that the random walk follows an edge rather than restarting at ``me``."""
TOLERANCE: Final = 1e-9
"""Stop iterating once the L1 change of the whole vector is below this."""
MAX_ITERATIONS: Final = 200


def follow_distances(
    me: AuthorId, follows: Mapping[AuthorId, Collection[AuthorId]], max_depth: int
) -> dict[AuthorId, int]:
    """How many follow hops each author is from ``me``, up to ``max_depth`` hops.

    ``me`` is at 0, the authors ``me`` follows at 1, the authors they follow at 2, and so
    on (the shortest path counts). Authors further than ``max_depth`` hops, or not
    reachable at all, are absent.

    Args:
        me: Where the walk starts.
        follows: Each follower's followees.
        max_depth: The furthest distance reported (0 gives only ``me``).

    Returns:
        Each reachable author's distance.

    Raises:
        ValueError: ``max_depth`` is negative.
    """
    if max_depth < 0:
        raise ValueError(f"max_depth must be >= 0, got {max_depth}")
    distances = {me: 0}
    frontier = [me]
    for depth in range(1, max_depth + 1):
        nxt: list[AuthorId] = []
        for author in frontier:
            for followee in follows.get(author, ()):
                if followee not in distances:
                    distances[followee] = depth
                    nxt.append(followee)
        if not nxt:
            break
        frontier = nxt
    return distances


@dataclass(frozen=True, slots=True)
class Trust:
    """Personalised PageRank from one author over the follow graph.

    ``scores`` sum to 1 over every author reachable from ``me`` (``me`` included, and
    usually the largest); unreachable authors have no entry and count as 0.
    """

    me: AuthorId
    scores: Mapping[AuthorId, float]
    iterations: int
    """Power iterations run before the vector settled."""
    top: float
    """The largest score of anyone but ``me`` (0 when ``me`` follows nobody)."""

    def of(self, author: AuthorId) -> float:
        """``author``'s raw PageRank mass (0 when unreachable)."""
        return self.scores.get(author, 0.0)

    def relative(self, author: AuthorId) -> float:
        """``author``'s trust scaled so that the most trusted other author has 1.0.

        Raw PageRank shrinks as the graph grows; this scale does not, which makes it the
        one weights and explanations use. ``me`` gets 1.0.
        """
        if author == self.me:
            return 1.0
        return self.scores.get(author, 0.0) / self.top if self.top > 0 else 0.0


def personalised_pagerank(
    me: AuthorId,
    follows: Mapping[AuthorId, Collection[AuthorId]],
    *,
    damping: float = DAMPING,
    tolerance: float = TOLERANCE,
    max_iterations: int = MAX_ITERATIONS,
) -> Trust:
    """PageRank with every restart (and every dead end) going back to ``me``.

    A random walker starts at ``me``; at each step it follows one of the current author's
    follows, chosen uniformly, with probability ``damping``, and otherwise jumps back to
    ``me``. An author who follows nobody sends the walker back to ``me`` too. An author's
    score is the share of time the walker spends there: high for authors that many
    authors close to ``me`` follow, and zero for anyone ``me`` cannot reach, however
    many strangers follow them (which is what makes it hard to game with fresh keys).

    Only the part of the graph reachable from ``me`` is visited. Cost: O(edges) per
    iteration, and ``log(tolerance) / log(damping)`` iterations at most (~130).

    Raises:
        ValueError: ``damping`` is not in [0, 1).
    """
    if not 0.0 <= damping < 1.0:
        raise ValueError(f"damping must be in [0, 1), got {damping}")
    # A path visits each follower (key of ``follows``) at most once, then maybe one
    # followee that follows nobody: len(follows) + 1 hops reach everything reachable.
    reachable = follow_distances(me, follows, max_depth=len(follows) + 1)
    nodes = sorted(reachable, key=lambda a: a.raw)
    index = {author: i for i, author in enumerate(nodes)}
    n = len(nodes)
    start = index[me]
    out_degree = [0] * n
    incoming: list[list[int]] = [[] for _ in range(n)]
    for author in nodes:
        u = index[author]
        followees = {index[f] for f in follows.get(author, ()) if f != author}
        out_degree[u] = len(followees)
        for v in followees:
            incoming[v].append(u)
    for sources in incoming:
        sources.sort()
    inverse = [damping / d if d else 0.0 for d in out_degree]

    rank = [0.0] * n
    rank[start] = 1.0
    iterations = 0
    while iterations < max_iterations:
        iterations += 1
        shares = [r * w for r, w in zip(rank, inverse, strict=True)]
        get = shares.__getitem__
        new = [sum(map(get, sources)) for sources in incoming]
        lost = 1.0 - sum(new)  # restarts plus dead ends, both back to me
        new[start] += lost
        change = sum(abs(a - b) for a, b in zip(new, rank, strict=True))
        rank = new
        if change < tolerance:
            break
    scores = {nodes[i]: rank[i] for i in range(n) if rank[i] > 0.0}
    top = max((rank[i] for i in range(n) if i != start), default=0.0)
    return Trust(me, MappingProxyType(scores), iterations, top)
