"""Chain rules: verdicts, errors, out-of-order arrival and the ranges still missing."""

from __future__ import annotations

import pytest

from p2psocial.core.bodies import Post
from p2psocial.core.chain import ChainView, MemoryChains, Verdict, check_chain
from p2psocial.core.message import Message
from p2psocial.errors import ChainError, PrevMismatchError, SeqGapError
from tests.factories import ChainBuilder, message_id


@pytest.fixture
def alice() -> ChainBuilder:
    return ChainBuilder(1)


@pytest.fixture
def chains() -> MemoryChains:
    return MemoryChains()


def add_all(chains: MemoryChains, messages: list[Message], **kwargs: bool) -> list[Verdict]:
    return [chains.add(m, **kwargs) for m in messages]


# --- check_chain on its own: each branch --------------------------------------------------


def test_nothing_held_appends(alice: ChainBuilder) -> None:
    first = alice.post()
    assert check_chain(first, ChainView(), allow_gaps=False) is Verdict.APPEND


def test_same_id_held_at_seq_is_a_duplicate(alice: ChainBuilder) -> None:
    first = alice.post()
    view = ChainView(head_seq=1, at_seq=first.id)
    assert check_chain(first, view, allow_gaps=False) is Verdict.DUPLICATE


def test_other_id_held_at_seq_is_a_fork(alice: ChainBuilder) -> None:
    first = alice.post()
    view = ChainView(head_seq=1, at_seq=message_id(1))
    assert check_chain(first, view, allow_gaps=False) is Verdict.FORK


def test_successor_naming_another_prev_is_a_fork(alice: ChainBuilder) -> None:
    first = alice.post()
    view = ChainView(head_seq=2, after_prev=message_id(1))
    assert check_chain(first, view, allow_gaps=False) is Verdict.FORK


def test_successor_naming_this_message_appends(alice: ChainBuilder) -> None:
    first = alice.post()
    view = ChainView(head_seq=2, after_prev=first.id)
    assert check_chain(first, view, allow_gaps=False) is Verdict.APPEND


def test_prev_differing_from_the_held_predecessor_is_an_error(alice: ChainBuilder) -> None:
    alice.post()
    second = alice.post()
    view = ChainView(head_seq=1, before=message_id(1))
    with pytest.raises(PrevMismatchError, match=f"{alice.author.short} seq 2: prev is not"):
        check_chain(second, view, allow_gaps=True)


def test_seq_past_the_next_expected_is_a_gap_unless_allowed(alice: ChainBuilder) -> None:
    alice.extend(2)
    third = alice.post()
    view = ChainView(head_seq=1)
    with pytest.raises(SeqGapError, match="seq 3: the latest held is 1"):
        check_chain(third, view, allow_gaps=False)
    assert check_chain(third, view, allow_gaps=True) is Verdict.APPEND


def test_the_next_expected_seq_is_no_gap(alice: ChainBuilder) -> None:
    first = alice.post()
    second = alice.post()
    view = ChainView(head_seq=1, before=first.id)
    assert check_chain(second, view, allow_gaps=False) is Verdict.APPEND


def test_a_held_message_wins_over_every_other_rule(alice: ChainBuilder) -> None:
    alice.post()
    second = alice.post()
    # Even with a mismatching predecessor and a gap, a held copy makes it a duplicate.
    view = ChainView(head_seq=0, at_seq=second.id, before=message_id(9), after_prev=message_id(8))
    assert check_chain(second, view, allow_gaps=False) is Verdict.DUPLICATE


def test_a_successor_fork_is_found_before_a_prev_mismatch(alice: ChainBuilder) -> None:
    alice.post()
    second = alice.post()
    view = ChainView(head_seq=3, before=message_id(9), after_prev=message_id(8))
    assert check_chain(second, view, allow_gaps=False) is Verdict.FORK


def test_a_prev_mismatch_is_found_before_a_gap(alice: ChainBuilder) -> None:
    alice.post()
    second = alice.post()
    with pytest.raises(PrevMismatchError):
        check_chain(second, ChainView(head_seq=0, before=message_id(9)), allow_gaps=False)


def test_chain_errors_share_a_root() -> None:
    assert issubclass(PrevMismatchError, ChainError)
    assert issubclass(SeqGapError, ChainError)
    assert PrevMismatchError.code == "chain.prev_mismatch"
    assert SeqGapError.code == "chain.seq_gap"


# --- MemoryChains -----------------------------------------------------------------------


def test_a_chain_in_order_appends(alice: ChainBuilder, chains: MemoryChains) -> None:
    messages = alice.extend(5)
    assert add_all(chains, messages, allow_gaps=False) == [Verdict.APPEND] * 5
    assert chains.missing(alice.author) == []
    assert not chains.is_forked(alice.author)


def test_the_same_message_twice_is_a_duplicate(alice: ChainBuilder, chains: MemoryChains) -> None:
    first = alice.post()
    assert chains.add(first) is Verdict.APPEND
    assert chains.add(first) is Verdict.DUPLICATE
    assert chains.add(first.without_body()) is Verdict.DUPLICATE


def test_a_second_message_at_one_seq_is_a_fork(alice: ChainBuilder, chains: MemoryChains) -> None:
    messages = alice.extend(2)
    add_all(chains, messages)
    other = alice.fork(2)
    assert other.id != messages[1].id
    assert chains.add(other) is Verdict.FORK
    assert chains.is_forked(alice.author)
    # The first one seen stays the one held.
    assert chains.view(alice.author, 2).at_seq == messages[1].id
    assert chains.add(messages[1]) is Verdict.DUPLICATE


def test_a_fork_detected_through_the_successors_prev(
    alice: ChainBuilder, chains: MemoryChains
) -> None:
    first, second = alice.extend(2)
    assert chains.add(second) is Verdict.APPEND  # newest first: seq 1 not held yet
    other_first = alice.sign_at(1, Post("another first"))
    assert chains.add(other_first) is Verdict.FORK
    assert chains.is_forked(alice.author)
    assert chains.view(alice.author, 1).at_seq is None  # evidence is not the chain
    assert chains.add(first) is Verdict.APPEND
    assert chains.missing(alice.author) == []


def test_a_prev_mismatch_is_refused_and_not_recorded(
    alice: ChainBuilder, chains: MemoryChains
) -> None:
    first = alice.post()
    chains.add(first)
    stray = alice.sign_at(2, Post("points elsewhere"), prev=message_id(5))
    with pytest.raises(PrevMismatchError):
        chains.add(stray)
    assert chains.view(alice.author, 2).at_seq is None
    assert chains.add(alice.post()) is Verdict.APPEND


def test_a_gap_is_refused_without_allow_gaps(alice: ChainBuilder, chains: MemoryChains) -> None:
    first, _, third = alice.extend(3)
    chains.add(first)
    with pytest.raises(SeqGapError):
        chains.add(third, allow_gaps=False)
    assert chains.view(alice.author, 3).at_seq is None


def test_a_first_message_beyond_seq_1_is_a_gap(alice: ChainBuilder, chains: MemoryChains) -> None:
    messages = alice.extend(3)
    with pytest.raises(SeqGapError, match="the latest held is 0"):
        chains.add(messages[2], allow_gaps=False)


def test_a_gap_is_accepted_and_tracked_with_allow_gaps(
    alice: ChainBuilder, chains: MemoryChains
) -> None:
    messages = alice.extend(5)
    chains.add(messages[0])
    assert chains.add(messages[4], allow_gaps=True) is Verdict.APPEND
    assert chains.missing(alice.author) == [(2, 4)]
    assert chains.view(alice.author, 9).head_seq == 5


def test_out_of_order_arrival_newest_first(alice: ChainBuilder, chains: MemoryChains) -> None:
    messages = alice.extend(6)
    for message in reversed(messages):
        assert chains.add(message, allow_gaps=True) is Verdict.APPEND
        assert chains.missing(alice.author) == ([(1, message.seq - 1)] if message.seq > 1 else [])
    assert not chains.is_forked(alice.author)


def test_a_hole_below_the_head_may_be_filled_without_allow_gaps(
    alice: ChainBuilder, chains: MemoryChains
) -> None:
    messages = alice.extend(4)
    add_all(chains, [messages[0], messages[3]])
    assert chains.add(messages[2], allow_gaps=False) is Verdict.APPEND
    assert chains.add(messages[1], allow_gaps=False) is Verdict.APPEND
    assert chains.missing(alice.author) == []


def test_a_message_between_held_neighbours_must_fit_both(
    alice: ChainBuilder, chains: MemoryChains
) -> None:
    first, second, third = alice.extend(3)
    add_all(chains, [first, third])
    # Same prev as the real seq 2 (fits seq 1), but seq 3 names the real one: a fork.
    impostor = alice.sign_at(2, Post("impostor"))
    assert impostor.header.prev == first.id
    assert chains.add(impostor) is Verdict.FORK
    assert chains.add(second) is Verdict.APPEND


def test_missing_ranges(alice: ChainBuilder, chains: MemoryChains) -> None:
    messages = alice.extend(10)
    add_all(chains, [messages[i - 1] for i in (1, 3, 4, 7, 10)])
    assert chains.missing(alice.author) == [(2, 2), (5, 6), (8, 9)]


def test_missing_from_the_start(alice: ChainBuilder, chains: MemoryChains) -> None:
    messages = alice.extend(3)
    chains.add(messages[2])
    assert chains.missing(alice.author) == [(1, 2)]


def test_missing_for_an_unknown_author(chains: MemoryChains) -> None:
    assert chains.missing(ChainBuilder(9).author) == []
    assert not chains.is_forked(ChainBuilder(9).author)
    assert chains.view(ChainBuilder(9).author, 1) == ChainView()


def test_authors_are_independent(chains: MemoryChains) -> None:
    alice, bob = ChainBuilder(1), ChainBuilder(2)
    alice_first = alice.post()
    bob.post()
    bob_second = bob.post()
    chains.add(alice_first)
    with pytest.raises(SeqGapError):
        chains.add(bob_second, allow_gaps=False)
    chains.add(alice.fork(1))
    assert chains.is_forked(alice.author)
    assert not chains.is_forked(bob.author)


def test_view_reports_the_neighbours(alice: ChainBuilder, chains: MemoryChains) -> None:
    first, second, third = alice.extend(3)
    add_all(chains, [first, second, third])
    assert chains.view(alice.author, 2) == ChainView(
        head_seq=3, at_seq=second.id, before=first.id, after_prev=second.id
    )
