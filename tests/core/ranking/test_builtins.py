"""The built-in algorithms on the fixed scenario: committed rankings, and the rules behind them."""

from __future__ import annotations

import random
from collections import Counter

import pytest

from p2psocial.core.bodies import Kind
from p2psocial.core.ranking import BUILTINS, Candidate, Ranked, SettingError, SocialGraph, run

from . import golden
from .scenario import MemoryIndex, Scenario, build, gather


@pytest.fixture(scope="module")
def scenario() -> Scenario:
    return build()


@pytest.fixture(scope="module")
def index(scenario: Scenario) -> MemoryIndex:
    return MemoryIndex(scenario.messages)


@pytest.fixture(scope="module")
def graph(index: MemoryIndex, scenario: Scenario) -> SocialGraph:
    return index.graph(scenario.me)


def rank(name: str, index: MemoryIndex, graph: SocialGraph, **settings: object) -> list[Ranked]:
    algorithm = BUILTINS[name]
    return run(name, algorithm, gather(index, graph, algorithm.sources), graph, settings=settings)  # type: ignore[arg-type]


@pytest.mark.parametrize("name", list(BUILTINS))
def test_ranking_matches_the_committed_one(
    name: str, index: MemoryIndex, graph: SocialGraph
) -> None:
    golden.check(name, golden.ranked_snapshot(rank(name, index, graph)))


@pytest.mark.parametrize("name", list(BUILTINS))
def test_every_item_is_explained_and_its_reasons_add_up(
    name: str, index: MemoryIndex, graph: SocialGraph
) -> None:
    ranked = rank(name, index, graph)
    assert ranked
    for item in ranked:
        assert item.reasons
        assert all(r.text for r in item.reasons)
        assert item.score == pytest.approx(sum(r.contribution for r in item.reasons))


@pytest.mark.parametrize("name", list(BUILTINS))
def test_the_order_of_candidates_given_does_not_matter(
    name: str, index: MemoryIndex, graph: SocialGraph
) -> None:
    algorithm = BUILTINS[name]
    candidates = gather(index, graph, algorithm.sources)
    shuffled = list(candidates)
    random.Random(3).shuffle(shuffled)
    assert run(name, algorithm, shuffled, graph) == run(name, algorithm, candidates, graph)


def authors_of(ranked: list[Ranked]) -> list[str]:
    return [r.candidate.author_display for r in ranked]


def test_chronological_is_newest_first_with_ties_by_id(
    index: MemoryIndex, graph: SocialGraph, scenario: Scenario
) -> None:
    ranked = rank("chronological", index, graph)
    keys = [(-r.candidate.ts, r.candidate.id.raw) for r in ranked]
    assert keys == sorted(keys)
    tick, tock = (r for r in ranked if r.candidate.text in ("tick", "tock"))
    assert tick.candidate.ts == tock.candidate.ts
    assert ranked.index(tick) + 1 == ranked.index(tock) or ranked.index(tock) + 1 == ranked.index(
        tick
    )
    first = min(tick, tock, key=lambda r: r.candidate.id.raw)
    assert ranked.index(first) < ranked.index(tock if first is tick else tick)
    # Home: me and whom I follow (not ivan, unfollowed), and nothing deleted.
    home = {scenario.author(n) for n in ("me", "alice", "bob", "carol", "dave", "erin", "frank")}
    assert {r.candidate.author for r in ranked} <= home
    assert "a post I regret" not in {r.candidate.text for r in ranked}


def test_trusted_puts_the_author_more_of_my_circle_follows_first(
    index: MemoryIndex, graph: SocialGraph, scenario: Scenario
) -> None:
    alice, carol = scenario.author("alice"), scenario.author("carol")
    assert graph.followed_by_following[alice] > graph.followed_by_following.get(carol, 0)
    assert graph.trust.relative(alice) == 1.0 > graph.trust.relative(carol)
    ranked = rank("trusted", index, graph)
    assert ranked[0].candidate.author == alice
    mine = [r for r in ranked if r.candidate.author == scenario.me]
    assert mine
    assert all(r.reasons[0].value == 0.5 for r in mine)  # self_trust


def test_trusted_with_no_trust_weight_is_chronological(
    index: MemoryIndex, graph: SocialGraph
) -> None:
    by_time = [r.candidate.id for r in rank("chronological", index, graph)]
    by_recency = [r.candidate.id for r in rank("trusted", index, graph, trust_weight=0.0)]
    assert by_recency == by_time


def test_conversations_shows_each_thread_once_by_its_root(
    index: MemoryIndex, graph: SocialGraph
) -> None:
    ranked = rank("conversations", index, graph)
    texts = [r.candidate.text for r in ranked]
    assert texts == ["what makes a feed fair?", "thinking about trust", "buy now!!!"]
    people = [r.reasons[0] for r in ranked]
    assert [p.value for p in people] == [3.0, 2.0, 1.0]
    assert people[0].text == "alice, bob and carol, whom you follow, are talking"
    assert "anyone here?" not in texts  # nobody answered erin


def test_conversations_min_people_drops_thin_threads(
    index: MemoryIndex, graph: SocialGraph
) -> None:
    ranked = rank("conversations", index, graph, min_people=2)
    assert [r.candidate.text for r in ranked] == ["what makes a feed fair?", "thinking about trust"]


def test_fresh_voices_are_trusted_strangers_capped_per_author(
    index: MemoryIndex, graph: SocialGraph, scenario: Scenario
) -> None:
    ranked = rank("fresh-voices", index, graph)
    names = set(authors_of(ranked))
    assert names >= {"grace", "heidi", "rupert", "trent"}
    excluded = {"me", "alice", "bob", "carol", "dave", "erin", "frank", "ivan"}
    excluded |= {f"sybil{i}" for i in range(1, 5)}
    assert not names & excluded  # followed, me, unfollowed, unreachable sybils
    assert max(Counter(authors_of(ranked)).values()) == 2
    assert {r.candidate.kind for r in ranked} == {Kind.POST}
    capped = rank("fresh-voices", index, graph, per_author=1)
    assert Counter(authors_of(capped)) == Counter(dict.fromkeys(names, 1))


def test_fresh_voices_may_include_replies(index: MemoryIndex, graph: SocialGraph) -> None:
    ranked = rank("fresh-voices", index, graph, include_replies=True, per_author=10)
    assert Kind.REPLY in {r.candidate.kind for r in ranked}  # trent's reply to grace


@pytest.mark.parametrize("name", ["trusted", "conversations", "fresh-voices"])
def test_a_half_life_of_zero_is_a_setting_error(
    name: str, index: MemoryIndex, graph: SocialGraph
) -> None:
    with pytest.raises(SettingError, match=f"algorithm '{name}': half_life_hours must be above 0"):
        rank(name, index, graph, half_life_hours=0)


def test_candidates_newer_than_now_count_as_new(graph: SocialGraph, scenario: Scenario) -> None:
    later = Candidate(
        id=scenario.messages[-1].id, author=scenario.me, author_name="me", ts=10_000, kind=Kind.POST
    )
    [ranked] = run("chronological", BUILTINS["chronological"], [later], graph, now=5_000)
    assert ranked.score == 0.0
    assert ranked.reasons[0].text == "new; newest first"
