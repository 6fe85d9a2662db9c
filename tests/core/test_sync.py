"""The sync protocol without I/O: a client and a server wired together in memory."""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field

import pytest

from p2psocial.core.chain import MemoryChains
from p2psocial.core.message import Message, decode_message
from p2psocial.core.sync import (
    FULL_RANGE,
    MAX_BATCH,
    Digest,
    DigestRequest,
    DigestResponse,
    Frontier,
    FrontierRequest,
    MessagesRequest,
    MessagesResponse,
    Range,
    SyncClient,
    answer,
    author_range,
    decode_request,
    decode_response,
    digest_of,
    encode_request,
    encode_response,
    held_fingerprint,
    split_range,
)
from p2psocial.errors import DecodeError, NonCanonicalError
from tests.factories import ChainBuilder


@dataclass
class MemoryView:
    """A LocalView over messages in memory (the store adapter does the same with SQLite)."""

    held: dict[bytes, dict[int, Message]] = field(default_factory=dict)
    chains: MemoryChains = field(default_factory=MemoryChains)

    def add(self, wire: bytes) -> None:
        message = decode_message(wire)
        self.chains.add(message)
        self.held.setdefault(message.author.raw, {}).setdefault(message.seq, message)

    def frontier(self, author: bytes) -> Frontier | None:
        seqs = self.held.get(author)
        if not seqs:
            return None
        head = max(seqs)
        return Frontier(author, head, seqs[head].id.raw, len(seqs), held_fingerprint(seqs))

    def frontiers(self, rng: Range, *, after: bytes | None, limit: int) -> list[Frontier]:
        keys = sorted(
            k
            for k in self.held
            if rng[0] <= k and (rng[1] is None or k < rng[1]) and (after is None or k > after)
        )
        return [f for f in (self.frontier(k) for k in keys[:limit]) if f is not None]

    def missing(self, author: bytes, up_to: int) -> list[tuple[int, int]]:
        seqs = self.held.get(author, {})
        gaps, start = [], None
        for seq in range(1, up_to + 1):
            if seq not in seqs:
                start = seq if start is None else start
            elif start is not None:
                gaps.append((start, seq - 1))
                start = None
        if start is not None:
            gaps.append((start, up_to))
        return gaps

    def messages(
        self, author: bytes, first: int, last: int, *, desc: bool, limit: int, max_bytes: int
    ) -> list[tuple[int, bytes]]:
        seqs = sorted((s for s in self.held.get(author, {}) if first <= s <= last), reverse=desc)
        out, size = [], 0
        for seq in seqs[:limit]:
            wire = self.held[author][seq].to_bytes()
            out.append((seq, wire))
            size += len(wire)
            if size >= max_bytes:
                break
        return out

    def ids(self) -> set[bytes]:
        return {m.id.raw for seqs in self.held.values() for m in seqs.values()}


def run_sync(
    client_view: MemoryView, server_view: MemoryView, ranges: list[Range] | None = None
) -> SyncClient:
    """Drive a whole session through the real encoders and decoders."""
    client = SyncClient(client_view, ranges=ranges or [FULL_RANGE])
    while (request := client.next_request()) is not None:
        sent = encode_request(request)
        client.stats.bytes_sent += len(sent)
        reply = encode_response(answer(decode_request(sent), server_view))
        client.stats.bytes_received += len(reply)
        for wire in client.receive(decode_response(reply, request)):
            client_view.add(wire)
    return client


def network(authors: int, posts: int) -> list[ChainBuilder]:
    builders = [ChainBuilder(i) for i in range(1, authors + 1)]
    for builder in builders:
        builder.extend(posts)
    return builders


def view_of(builders: list[ChainBuilder], keep: int | None = None) -> MemoryView:
    view = MemoryView()
    for builder in builders:
        for message in builder.messages[:keep]:
            view.add(message.to_bytes())
    return view


def test_equal_stores_agree_in_one_round_trip() -> None:
    builders = network(40, 3)
    client = run_sync(view_of(builders), view_of(builders))
    assert client.stats.requests == 1
    assert client.stats.messages_received == 0
    assert client.stats.bytes_sent + client.stats.bytes_received < 200


def test_a_new_node_gets_everything_newest_first() -> None:
    builders = network(5, 20)
    empty, full = MemoryView(), view_of(builders)
    client = run_sync(empty, full)
    assert empty.ids() == full.ids()
    assert client.stats.messages_received == 100


def test_catch_up_fetches_only_the_new_messages() -> None:
    builders = network(30, 10)
    behind = view_of(builders, keep=6)
    client = run_sync(behind, view_of(builders))
    assert behind.ids() == view_of(builders).ids()
    assert client.stats.messages_received == 30 * 4


def test_gaps_are_filled_from_a_peer_that_has_them() -> None:
    [alice] = network(1, 10)
    client_view = MemoryView()
    for message in alice.messages[:2] + alice.messages[7:]:
        client_view.add(message.to_bytes())
    run_sync(client_view, view_of([alice]))
    assert client_view.missing(alice.author.raw, 10) == []


def test_large_sets_with_few_differences_are_split_not_listed() -> None:
    builders = network(600, 1)
    client = run_sync(view_of(builders[:597]), view_of(builders))
    assert client.stats.messages_received == 3
    # Only the sixteenths holding a difference are listed: at most 3 of 16.
    assert client.stats.authors_compared <= 3 * 600 // 16 + 30
    assert client.stats.ranges_equal >= 13


def test_a_targeted_sync_looks_at_one_author_only() -> None:
    builders = network(10, 5)
    client_view = MemoryView()
    run_sync(client_view, view_of(builders), ranges=[author_range(builders[3].author)])
    assert set(client_view.held) == {builders[3].author.raw}


def test_a_fork_on_the_peer_is_fetched_as_evidence() -> None:
    [alice] = network(1, 3)
    mine = view_of([alice])
    theirs = MemoryView()
    for message in alice.messages[:2]:
        theirs.add(message.to_bytes())
    theirs.add(alice.fork(3, "the other seq 3").to_bytes())
    fetched: list[bytes] = []
    client = SyncClient(mine)
    while (request := client.next_request()) is not None:
        fetched += client.receive(answer(request, theirs))
    assert [decode_message(w).seq for w in fetched] == [3]
    assert decode_message(fetched[0]).id != alice.messages[2].id


def test_batches_are_bounded_and_resume() -> None:
    [alice] = network(1, MAX_BATCH + 10)
    client = run_sync(MemoryView(), view_of([alice]))
    assert client.stats.messages_received == MAX_BATCH + 10
    assert client.stats.requests == 1 + 1 + 2  # digest, frontier, two batches


def test_a_peer_that_does_not_send_its_claimed_head_ends_the_session() -> None:
    """Its frontier says it holds seq 5; a first batch without seq 5 is a lie."""
    builders = network(3, 5)
    client = SyncClient(MemoryView())
    honest = view_of(builders)
    requests = 0

    def session() -> None:
        nonlocal requests
        while (request := client.next_request()) is not None:
            requests += 1
            response = answer(request, honest)
            if isinstance(request, MessagesRequest):
                response = MessagesResponse((), more=True)
            client.receive(response)

    with pytest.raises(DecodeError, match="did not send it"):
        session()
    assert requests == 1 + 1 + 1


def test_a_peer_with_gaps_is_not_taken_for_a_liar() -> None:
    """A peer holding only its head (and nothing below) serves just that: no error."""
    [alice] = network(1, 5)
    theirs = MemoryView()
    theirs.add(alice.messages[4].to_bytes())
    mine = MemoryView()
    run_sync(mine, theirs)
    assert set(mine.held[alice.author.raw]) == {5}


def test_split_range_covers_the_space_without_overlap() -> None:
    parts = split_range(FULL_RANGE)
    assert len(parts) == 16
    assert parts[0][0] == FULL_RANGE[0]
    assert parts[-1][1] is None
    for (_, high), (low, _) in itertools.pairwise(parts):
        assert high == low


def test_digest_depends_on_every_field() -> None:
    base = Frontier(b"\x01" * 32, 5, b"\x02" * 32, 5)
    variants = [
        Frontier(b"\x03" * 32, 5, b"\x02" * 32, 5),
        Frontier(b"\x01" * 32, 6, b"\x02" * 32, 5, held_fingerprint([1, 2, 3, 4, 6])),
        Frontier(b"\x01" * 32, 5, b"\x04" * 32, 5),
        Frontier(b"\x01" * 32, 5, b"\x02" * 32, 4, held_fingerprint([1, 2, 3, 5])),
        Frontier(b"\x01" * 32, 5, b"\x02" * 32, 4, held_fingerprint([1, 2, 4, 5])),
    ]
    assert len({digest_of([v]).hash for v in [base, *variants]}) == 6


def test_held_fingerprint_is_a_set_hash() -> None:
    assert held_fingerprint([3, 1, 2]) == held_fingerprint([1, 2, 3])
    assert held_fingerprint([1, 2, 3]) != held_fingerprint([1, 2, 4])
    assert held_fingerprint([]) == bytes(8)
    # A complete chain's fingerprint is what a frontier without holes defaults to.
    assert Frontier(b"\x01" * 32, 3, b"\x02" * 32, 3).fingerprint == held_fingerprint([1, 2, 3])
    with pytest.raises(ValueError, match="needs its fingerprint"):
        Frontier(b"\x01" * 32, 3, b"\x02" * 32, 2)


def test_different_holes_with_equal_counts_are_filled_both_ways() -> None:
    """Same head, same number held, different holes: the fingerprints tell them apart."""
    [alice] = network(1, 20)
    a, b = MemoryView(), MemoryView()
    for message in alice.messages:
        if message.seq != 11:
            a.add(message.to_bytes())
        if message.seq != 12:
            b.add(message.to_bytes())
    run_sync(a, b)
    run_sync(b, a)
    assert a.missing(alice.author.raw, 20) == []
    assert b.missing(alice.author.raw, 20) == []


def test_holes_the_peer_shares_cost_nothing_once_equal() -> None:
    [alice] = network(1, 20)
    a, b = MemoryView(), MemoryView()
    for message in alice.messages:
        if message.seq != 11:
            a.add(message.to_bytes())
            b.add(message.to_bytes())
    client = run_sync(a, b)
    assert client.stats.requests == 1  # equal digests: nobody can fill seq 11


@pytest.mark.parametrize(
    "data",
    [
        b"\x01",
        b"\xa1\x62op\x64nope",
        b"\xa2\x62op\x66digest\x66ranges\x80",  # no ranges
        encode_request(MessagesRequest(b"\x01" * 32, 0, 2, desc=True)),  # seq 0
        encode_request(MessagesRequest(b"\x01" * 32, 3, 2, desc=True)),  # first > last
        encode_request(MessagesRequest(b"\x01" * 32, 1, 2, desc=True, limit=MAX_BATCH + 1)),
    ],
)
def test_malformed_requests_are_refused(data: bytes) -> None:
    with pytest.raises((DecodeError, NonCanonicalError)):
        decode_request(data)


def test_too_many_ranges_are_refused() -> None:
    request = DigestRequest(tuple(split_range(FULL_RANGE, 65)))
    with pytest.raises(DecodeError, match="over the limit"):
        decode_request(encode_request(request))


def test_responses_must_answer_the_request() -> None:
    request = FrontierRequest((author_range(ChainBuilder(1).author),))
    stray = Frontier(ChainBuilder(2).author.raw, 1, b"\x00" * 32, 1)
    from p2psocial.core.sync import FrontierResponse

    with pytest.raises(DecodeError, match="outside the requested ranges"):
        decode_response(encode_response(FrontierResponse((stray,), more=False)), request)
    wanted = MessagesRequest(b"\x01" * 32, 5, 9, desc=True)
    for bad in [((4, b"x"),), ((6, b"x"), (7, b"y"))]:
        with pytest.raises(DecodeError):
            decode_response(encode_response(MessagesResponse(bad, more=False)), wanted)


def test_digest_counts_of_the_parts_must_add_up() -> None:
    """A peer that claims 10,000 authors in every range contradicts itself after one split."""
    client = SyncClient(MemoryView())
    requests = 0

    def session() -> None:
        nonlocal requests
        while (request := client.next_request()) is not None:
            requests += 1
            assert isinstance(request, DigestRequest)
            fake = Digest(10_000, b"\x07" * 16)
            client.receive(DigestResponse(tuple(fake for _ in request.ranges)))

    with pytest.raises(DecodeError, match="add up to"):
        session()
    assert requests == 2
