"""The pipeline: settings, the time, the one order, checking plugins' output, paging, judges."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from types import MappingProxyType

import pytest

from p2psocial.core.bodies import Kind
from p2psocial.core.ranking import (
    BUILTINS,
    Algorithm,
    BrokenAlgorithmError,
    Candidate,
    Context,
    Hidden,
    Ranked,
    Reason,
    SettingError,
    SocialGraph,
    page,
    resolve_settings,
    run,
)
from tests.factories import author_id, message_id

ME = author_id(1)
GRAPH = SocialGraph.build(ME, {})


def candidate(n: int, ts: int = 1_000, author: int = 2) -> Candidate:
    return Candidate(
        id=message_id(n), author=author_id(author), author_name=None, ts=ts, kind=Kind.POST
    )


CANDIDATES = [candidate(n, ts=1_000 * n) for n in range(1, 11)]


def algorithm(rank: object, **defaults: object) -> Algorithm:
    return Algorithm("test", rank, defaults=MappingProxyType(defaults))  # type: ignore[arg-type]


# --- settings ------------------------------------------------------------------------------


def test_settings_are_the_defaults_overridden() -> None:
    trusted = BUILTINS["trusted"]
    settings = resolve_settings("trusted", trusted, {"half_life_hours": "6", "self_trust": 0})
    assert settings == {
        "trust_weight": 1.0,
        "recency_weight": 1.0,
        "half_life_hours": 6.0,
        "self_trust": 0.0,
    }
    assert isinstance(settings["self_trust"], float)


def test_text_settings_take_the_type_of_their_default() -> None:
    fresh = BUILTINS["fresh-voices"]
    settings = resolve_settings("f", fresh, {"include_replies": "TRUE", "per_author": "3"})
    assert settings["include_replies"] is True
    assert settings["per_author"] == 3


@pytest.mark.parametrize(
    ("given", "message"),
    [
        ({"halflife": "6"}, "has no setting 'halflife' .its settings: half_life_hours, recency"),
        ({"half_life_hours": "soon"}, "'half_life_hours' must be a number, got 'soon'"),
        ({"half_life_hours": True}, "must be a number, got True"),
        ({"half_life_hours": "nan"}, "must be finite"),
    ],
)
def test_bad_settings_are_refused_by_name(given: dict[str, object], message: str) -> None:
    with pytest.raises(SettingError, match=message):
        resolve_settings("trusted", BUILTINS["trusted"], given)  # type: ignore[arg-type]


def test_whole_numbers_and_booleans_are_checked() -> None:
    fresh = BUILTINS["fresh-voices"]
    with pytest.raises(SettingError, match=r"'per_author' must be a whole number, got 1\.5"):
        resolve_settings("fresh-voices", fresh, {"per_author": 1.5})
    with pytest.raises(SettingError, match="'include_replies' must be true or false, got 'yes'"):
        resolve_settings("fresh-voices", fresh, {"include_replies": "yes"})


# --- running -------------------------------------------------------------------------------


def test_now_is_the_newest_candidate_unless_given() -> None:
    seen: list[int] = []

    def rank(candidates: Sequence[Candidate], context: Context) -> Iterable[Ranked]:
        seen.append(context.now)
        return []

    run("t", algorithm(rank), CANDIDATES, GRAPH)
    run("t", algorithm(rank), CANDIDATES, GRAPH, now=123)
    run("t", algorithm(rank), [], GRAPH)
    assert seen == [10_000, 123, 0]


def test_items_are_ordered_by_score_then_by_id() -> None:
    def rank(candidates: Sequence[Candidate], context: Context) -> Iterable[Ranked]:
        # Two groups of scores; within one, values differ only past the 9th decimal.
        return [Ranked(c, (c.ts % 2000) / 1000 + i * 1e-12) for i, c in enumerate(candidates)]

    ranked = run("t", algorithm(rank), CANDIDATES, GRAPH)
    odd = sorted((c for c in CANDIDATES if c.ts % 2000), key=lambda c: c.id.raw)
    even = sorted((c for c in CANDIDATES if not c.ts % 2000), key=lambda c: c.id.raw)
    assert [r.candidate for r in ranked] == odd + even


def test_the_settings_reach_the_algorithm_read_only() -> None:
    def rank(candidates: Sequence[Candidate], context: Context) -> Iterable[Ranked]:
        assert context.number("boost") == 2.0
        with pytest.raises(TypeError):
            context.settings["boost"] = 3  # type: ignore[index]
        return [Ranked(c, context.number("boost")) for c in candidates]

    ranked = run("t", algorithm(rank, boost=1.0), CANDIDATES, GRAPH, settings={"boost": 2})
    assert {r.score for r in ranked} == {2.0}


def broken(result: object) -> Algorithm:
    return algorithm(lambda candidates, context: result)


@pytest.mark.parametrize(
    ("result", "message"),
    [
        ([CANDIDATES[0]], "algorithm 'x' returned Candidate, not Ranked"),
        ([Ranked(candidate(99), 1.0)], r"algorithm 'x' placed a message it was not given \(p2sm1"),
        ([Ranked(CANDIDATES[0], 1.0)] * 2, "algorithm 'x' placed p2sm1[a-z0-9]{8} twice"),
        (
            [Ranked(CANDIDATES[0], float("nan"))],
            "algorithm 'x' gave p2sm1[a-z0-9]{8} the score nan",
        ),
        ([Ranked(CANDIDATES[0], True)], "the score True"),
        ([Ranked(CANDIDATES[0], 1.0, [Reason("a", 1, 1, "a")])], "not a tuple of Reason"),  # type: ignore[arg-type]
        (None, "algorithm 'x' failed while ranking: TypeError: 'NoneType' object is not iterable"),
    ],
)
def test_an_algorithm_that_breaks_the_rules_is_named(result: object, message: str) -> None:
    with pytest.raises(BrokenAlgorithmError, match=message):
        run("x", broken(result), CANDIDATES, GRAPH)


def test_an_algorithm_that_raises_is_named_and_its_error_kept() -> None:
    def rank(candidates: Sequence[Candidate], context: Context) -> Iterable[Ranked]:
        raise ZeroDivisionError("oops")

    with pytest.raises(
        BrokenAlgorithmError, match="'x' failed while ranking: ZeroDivisionError: oops"
    ) as info:
        run("x", algorithm(rank), CANDIDATES, GRAPH)
    assert isinstance(info.value.__cause__, ZeroDivisionError)


def test_reading_a_setting_it_did_not_declare_is_a_setting_error() -> None:
    def rank(candidates: Sequence[Candidate], context: Context) -> Iterable[Ranked]:
        context.number("undeclared")
        return []

    with pytest.raises(SettingError, match="algorithm 'x': setting 'undeclared' must be a number"):
        run("x", algorithm(rank), CANDIDATES, GRAPH)


# --- paging and judges ---------------------------------------------------------------------


RANKED = [Ranked(c, float(-i)) for i, c in enumerate(CANDIDATES)]


def every_third(c: Candidate) -> Hidden | None:
    return Hidden("mute", "muted") if CANDIDATES.index(c) % 3 == 2 else None


def test_pages_cover_the_ranking_once() -> None:
    first = page(RANKED, limit=4)
    second = page(RANKED, offset=4, limit=4)
    third = page(RANKED, offset=8, limit=4)
    assert [p.position for p in first.placed + second.placed + third.placed] == list(range(10))
    assert (first.next_offset, second.next_offset, third.next_offset) == (4, 8, None)
    assert first.total == 10
    assert first.hidden == 0
    assert all(p.hidden is None for p in first.placed)


def test_a_judge_takes_items_out_and_counts_them() -> None:
    cut = page(RANKED, limit=5, judge=every_third)
    assert [p.position for p in cut.placed] == [0, 1, 3, 4, 6]
    assert cut.hidden == 2
    assert cut.next_offset == 7


def test_show_hidden_marks_items_in_place_and_moves_nothing_else() -> None:
    plain = page(RANKED, limit=5, judge=every_third)
    shown = page(RANKED, limit=5, judge=every_third, show_hidden=True)
    assert [p.position for p in shown.placed] == [0, 1, 2, 3, 4, 5, 6]
    assert [p.hidden for p in shown.placed if p.hidden] == [Hidden("mute", "muted")] * 2
    assert [p for p in shown.placed if p.hidden is None] == list(plain.placed)
    assert (shown.hidden, shown.next_offset) == (plain.hidden, plain.next_offset)


def test_a_page_of_only_hidden_items_ends_the_feed() -> None:
    cut = page(RANKED, limit=3, judge=lambda c: Hidden("block", "blocked"))
    assert cut.placed == ()
    assert cut.hidden == 10
    assert cut.next_offset is None


def test_bad_paging_is_refused() -> None:
    with pytest.raises(ValueError, match="offset"):
        page(RANKED, offset=-1)
    with pytest.raises(ValueError, match="limit"):
        page(RANKED, limit=0)
