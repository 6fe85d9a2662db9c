"""Follow-hop distances and personalised PageRank on small graphs worked by hand."""

from __future__ import annotations

import random

import pytest

from p2psocial.core.ids import AuthorId
from p2psocial.core.ranking.trust import follow_distances, personalised_pagerank
from tests.factories import author_id

ME, A, B, C, D, E = (author_id(i) for i in range(1, 7))


def test_distances_count_the_shortest_path_and_stop_at_max_depth() -> None:
    follows = {ME: [A, B], A: [C], B: [A, C], C: [D], D: [E, ME]}
    assert follow_distances(ME, follows, max_depth=0) == {ME: 0}
    assert follow_distances(ME, follows, max_depth=2) == {ME: 0, A: 1, B: 1, C: 2}
    assert follow_distances(ME, follows, max_depth=9) == {ME: 0, A: 1, B: 1, C: 2, D: 3, E: 4}


def test_distances_of_someone_who_follows_nobody() -> None:
    assert follow_distances(ME, {A: [B]}, max_depth=3) == {ME: 0}


def test_negative_depth_is_refused() -> None:
    with pytest.raises(ValueError, match="max_depth"):
        follow_distances(ME, {}, max_depth=-1)


def test_pagerank_of_a_chain_matches_the_closed_form() -> None:
    # ME -> A -> B, B follows nobody (a dead end, back to ME). Stationary: r_A = d r_ME,
    # r_B = d r_A, and r_ME + r_A + r_B = 1.
    d = 0.85
    trust = personalised_pagerank(ME, {ME: [A], A: [B]}, damping=d, tolerance=1e-14)
    total = 1 + d + d * d
    assert trust.of(ME) == pytest.approx(1 / total, abs=1e-12)
    assert trust.of(A) == pytest.approx(d / total, abs=1e-12)
    assert trust.of(B) == pytest.approx(d * d / total, abs=1e-12)
    assert trust.relative(A) == 1.0
    assert trust.relative(B) == pytest.approx(d, abs=1e-12)


def test_strangers_who_follow_each_other_get_nothing() -> None:
    # A sybil ring (C, D, E) follows B heavily, but nobody I can reach follows into it.
    follows = {ME: [A], A: [B], C: [B, D, E], D: [B, C, E], E: [B, C, D]}
    trust = personalised_pagerank(ME, follows)
    assert set(trust.scores) == {ME, A, B}
    assert trust.of(C) == trust.relative(D) == 0.0


def test_authors_followed_by_more_of_my_circle_rank_higher() -> None:
    follows = {ME: [A, B, C], A: [D, E], B: [D], C: [D]}
    trust = personalised_pagerank(ME, follows)
    assert trust.of(D) > trust.of(E) > 0
    assert sum(trust.scores.values()) == pytest.approx(1.0, abs=1e-9)


def test_self_follows_and_duplicates_change_nothing() -> None:
    plain = personalised_pagerank(ME, {ME: [A], A: [B]})
    noisy = personalised_pagerank(ME, {ME: [A, A, ME], A: [B, A]})
    assert plain.scores == noisy.scores


def test_following_nobody_leaves_all_trust_with_me() -> None:
    trust = personalised_pagerank(ME, {})
    assert trust.scores == {ME: 1.0}
    assert trust.top == 0.0
    assert trust.relative(A) == 0.0
    assert trust.relative(ME) == 1.0


def test_the_result_does_not_depend_on_insertion_or_hash_order() -> None:
    rng = random.Random(7)
    people = [author_id(i) for i in range(1, 80)]
    edges = [(rng.choice(people), rng.choice(people)) for _ in range(400)]

    def graph(order: list[tuple[AuthorId, AuthorId]]) -> dict[AuthorId, set[AuthorId]]:
        follows: dict[AuthorId, set[AuthorId]] = {}
        for a, b in order:
            follows.setdefault(a, set()).add(b)
        return follows

    first = personalised_pagerank(people[0], graph(edges))
    rng.shuffle(edges)
    second = personalised_pagerank(people[0], graph(edges))
    assert first.scores == second.scores  # bit for bit, not approximately
    assert first.iterations == second.iterations


def test_bad_damping_is_refused() -> None:
    with pytest.raises(ValueError, match="damping"):
        personalised_pagerank(ME, {}, damping=1.0)
