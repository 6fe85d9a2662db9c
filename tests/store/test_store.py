"""The store: every message's fate, durability order, and the index derived from the log."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

from p2psocial.core.message import Message
from p2psocial.errors import (
    BadSignatureError,
    ForkError,
    FutureTimestampError,
    HomeLockedError,
    PrevMismatchError,
    SeqGapError,
)
from p2psocial.home import HomePaths
from p2psocial.store.log import Log
from p2psocial.store.store import Outcome, Store
from tests.factories import BASE_TS, ChainBuilder


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    opened = Store.open(tmp_path / "home", clock=lambda: BASE_TS + 10**9)
    yield opened
    opened.close()


def reopen(store: Store) -> Store:
    root = store.paths.root
    store.close()
    return Store.open(root, clock=lambda: BASE_TS + 10**9)


def outcomes(results: list) -> list[Outcome]:  # type: ignore[type-arg]
    return [r.outcome for r in results]


def texts(store: Store) -> list[str | None]:
    return [item.text for item in store.reader.global_feed(limit=1000)]


def tamper_signature(message: Message) -> bytes:
    wire = bytearray(message.to_bytes())
    # The signature is the last 64 bytes of the signed header, which ends right before
    # the body's bstr head and bytes.
    body_len = len(message.body_bytes or b"")
    body_head = 1 if body_len < 24 else 2
    wire[-(body_len + body_head) - 1] ^= 0x01
    return bytes(wire)


def test_accepted_messages_are_logged_then_indexed(store: Store) -> None:
    alice, bob = ChainBuilder(1), ChainBuilder(2)
    post = alice.post("hello from alice")
    bob.reply(post, "hi alice")
    results = store.ingest(alice.wire() + bob.wire())
    assert outcomes(results) == [Outcome.ACCEPTED, Outcome.ACCEPTED]
    positions = [r.position for r in results]
    assert positions[0] is not None
    assert positions[1] is not None
    assert positions[0] < positions[1] <= store.log_end
    assert texts(store) == ["hi alice", "hello from alice"]


def test_duplicate_is_not_appended_again(store: Store) -> None:
    alice = ChainBuilder(1)
    alice.extend(3)
    store.ingest(alice.wire())
    end = store.log_end
    assert outcomes(store.ingest(alice.wire())) == [Outcome.DUPLICATE] * 3
    assert store.log_end == end


def test_invalid_message_is_rejected_and_the_rest_of_the_batch_stored(store: Store) -> None:
    alice, bob = ChainBuilder(1), ChainBuilder(2)
    good = alice.post("good")
    bad = tamper_signature(bob.post("forged"))
    results = store.ingest([bad, good.to_bytes()])
    assert outcomes(results) == [Outcome.REJECTED, Outcome.ACCEPTED]
    assert isinstance(results[0].error, BadSignatureError)
    assert texts(store) == ["good"]


def test_atomic_batch_stores_nothing_when_one_message_is_invalid(store: Store) -> None:
    alice, bob = ChainBuilder(1), ChainBuilder(2)
    good = alice.post("good")
    bad = tamper_signature(bob.post("forged"))
    end = store.log_end
    results = store.ingest([good.to_bytes(), bad], atomic=True)
    assert outcomes(results) == [Outcome.ACCEPTED, Outcome.REJECTED]
    assert store.log_end == end
    assert texts(store) == []


def test_future_timestamp_is_rejected(tmp_path: Path) -> None:
    store = Store.open(tmp_path / "home", clock=lambda: BASE_TS, max_skew_ms=60_000)
    try:
        alice = ChainBuilder(1)
        ok = alice.post("within skew", ts=BASE_TS + 59_000)
        late = alice.post("too far ahead", ts=BASE_TS + 61_000)
        results = store.ingest([ok.to_bytes(), late.to_bytes()])
        assert outcomes(results) == [Outcome.ACCEPTED, Outcome.REJECTED]
        assert isinstance(results[1].error, FutureTimestampError)
    finally:
        store.close()


def test_fork_is_kept_as_evidence_and_marks_the_author(store: Store) -> None:
    alice = ChainBuilder(1)
    alice.extend(2)
    store.ingest(alice.wire())
    other = alice.fork(2, "a different seq 2")
    end = store.log_end
    [result] = store.ingest([other.to_bytes()])
    assert result.outcome is Outcome.FORK
    assert isinstance(result.error, ForkError)
    assert store.log_end > end, "fork evidence must be appended to the log"
    info = store.reader.author(alice.author)
    assert info is not None
    assert info.forked
    assert "a different seq 2" not in texts(store), "the first-seen message stays"
    assert store.reader.counts()["forks"] == 1
    # Evidence sent again (a peer replaying it) is a duplicate: the log does not grow.
    end = store.log_end
    assert outcomes(store.ingest([other.to_bytes(), other.to_bytes()])) == [Outcome.DUPLICATE] * 2
    assert store.log_end == end
    # The index is derived: replaying the log finds the same fork.
    store.reindex()
    info = store.reader.author(alice.author)
    assert info is not None
    assert info.forked
    assert store.reader.counts()["forks"] == 1


def test_fork_proven_by_a_held_successor(store: Store) -> None:
    alice = ChainBuilder(1)
    alice.extend(2)
    store.ingest([alice.messages[1].to_bytes()], allow_gaps=True)
    impostor_seq1 = alice.fork(1, "not the seq 1 that seq 2 points to")
    [result] = store.ingest([impostor_seq1.to_bytes()])
    assert result.outcome is Outcome.FORK


def test_prev_mismatch_is_rejected_and_not_stored(store: Store) -> None:
    alice = ChainBuilder(1)
    alice.extend(1)
    store.ingest(alice.wire())
    wrong = alice.sign_at(2, alice.messages[0].body, prev=ChainBuilder(9).post().id)  # type: ignore[arg-type]
    end = store.log_end
    [result] = store.ingest([wrong.to_bytes()])
    assert result.outcome is Outcome.REJECTED
    assert isinstance(result.error, PrevMismatchError)
    assert store.log_end == end


def test_gaps_need_permission_and_are_tracked(store: Store) -> None:
    alice = ChainBuilder(1)
    alice.extend(5)
    [result] = store.ingest([alice.messages[4].to_bytes()], allow_gaps=False)
    assert isinstance(result.error, SeqGapError)
    [result] = store.ingest([alice.messages[4].to_bytes()], allow_gaps=True)
    assert result.outcome is Outcome.ACCEPTED
    info = store.reader.author(alice.author)
    assert info is not None
    assert (info.head_seq, info.held) == (5, 1)
    # Newest-first backfill fills the gap; every link is checked as it lands.
    results = store.ingest([m.to_bytes() for m in reversed(alice.messages[:4])])
    assert outcomes(results) == [Outcome.ACCEPTED] * 4
    info = store.reader.author(alice.author)
    assert info is not None
    assert (info.head_seq, info.held) == (5, 5)


def test_a_batch_is_checked_against_its_own_earlier_messages(store: Store) -> None:
    alice = ChainBuilder(1)
    alice.extend(3)
    fork = alice.fork(2)
    results = store.ingest([*alice.wire(), fork.to_bytes()], allow_gaps=False)
    assert outcomes(results) == [Outcome.ACCEPTED] * 3 + [Outcome.FORK]


def test_dropped_body_is_stored_as_a_verified_header(store: Store) -> None:
    alice = ChainBuilder(1)
    post = alice.post("a body this node will not hold")
    [result] = store.ingest([post.without_body().to_bytes()])
    assert result.outcome is Outcome.ACCEPTED
    item = store.reader.get(post.id)
    assert item is not None
    assert not item.has_body
    assert item.text is None


def test_index_catches_up_with_records_it_never_saw(store: Store) -> None:
    """A crash after the log's fsync but before the index commit loses nothing."""
    alice = ChainBuilder(1)
    alice.extend(2)
    store.ingest(alice.wire()[:1])
    root = store.paths.root
    store.close()
    with Log.open(HomePaths(root).log, writable=True) as log:
        log.append([alice.messages[1].to_bytes()])
    store = Store.open(root)
    try:
        assert texts(store) == ["post 2", "post 1"]
    finally:
        store.close()


def test_index_of_another_version_is_rebuilt(store: Store) -> None:
    alice = ChainBuilder(1)
    alice.extend(3)
    store.ingest(alice.wire())
    root = store.paths.root
    store.close()
    with sqlite3.connect(HomePaths(root).index) as conn:
        conn.execute("UPDATE meta SET value = 0 WHERE key = 'version'")
        conn.execute("DELETE FROM messages")
    store = Store.open(root)
    try:
        assert len(texts(store)) == 3
    finally:
        store.close()


def test_index_ahead_of_the_log_is_rebuilt(store: Store) -> None:
    alice = ChainBuilder(1)
    alice.extend(2)
    store.ingest(alice.wire())
    root = store.paths.root
    store.close()
    with sqlite3.connect(HomePaths(root).index) as conn:
        conn.execute("UPDATE meta SET value = 999999999 WHERE key = 'position'")
    store = Store.open(root)
    try:
        assert len(texts(store)) == 2
    finally:
        store.close()


def test_reindex_reproduces_every_query(store: Store) -> None:
    alice, bob = ChainBuilder(1), ChainBuilder(2)
    post = alice.post("hello #p2p", mentions=[bob])
    bob.reply(post, "hi")
    bob.react(post)
    bob.follow(alice)
    alice.profile("alice", "bio")
    doomed = alice.post("regret")
    alice.delete(doomed)
    store.ingest(alice.wire() + bob.wire())

    def snapshot() -> tuple[object, ...]:
        reader = store.reader
        return (
            reader.global_feed(limit=100),
            reader.home(bob.author),
            reader.thread(post.id),
            reader.tag_feed("P2P"),
            reader.mentions(bob.author),
            reader.search("hello"),
            reader.followers(alice.author),
            reader.author(alice.author),
            reader.counts(),
        )

    before = snapshot()
    assert store.reindex() == len(alice.messages) + len(bob.messages)
    assert snapshot() == before


def test_a_second_writer_is_refused(store: Store) -> None:
    with pytest.raises(HomeLockedError):
        Store.open(store.paths.root)


def test_state_kinds_take_the_highest_seq_whatever_the_arrival_order(store: Store) -> None:
    alice, bob = ChainBuilder(1), ChainBuilder(2)
    alice.profile("old name")
    alice.follow(bob)
    alice.unfollow(bob)
    alice.profile("new name")
    store.ingest([m.to_bytes() for m in reversed(alice.messages)])
    info = store.reader.author(alice.author)
    assert info is not None
    assert info.name == "new name"
    assert not store.reader.is_following(alice.author, bob.author)
    store = reopen(store)
    try:
        assert store.reader.following(alice.author) == []
    finally:
        store.close()


def test_delete_hides_the_body_even_when_it_arrives_first(store: Store) -> None:
    alice = ChainBuilder(1)
    post = alice.post("delete me #gone")
    delete = alice.delete(post)
    store.ingest([delete.to_bytes()])
    store.ingest([post.to_bytes()])
    assert texts(store) == []
    assert store.reader.search("delete") == []
    assert store.reader.tag_feed("gone") == []
    item = store.reader.get(post.id)
    assert item is not None
    assert item.deleted
    assert item.text is None


def test_delete_of_someone_elses_message_is_ignored(store: Store) -> None:
    alice, mallory = ChainBuilder(1), ChainBuilder(6)
    post = alice.post("mine")
    mallory.delete(post)
    store.ingest(alice.wire() + mallory.wire())
    assert texts(store) == ["mine"]


def test_a_rebuild_cut_short_is_rebuilt_on_the_next_open(store: Store) -> None:
    """A full rebuild runs without a journal and without the query indexes until it
    finishes; one interrupted midway must not be taken for a finished index."""
    from p2psocial.store.index import IndexWriter

    alice = ChainBuilder(1)
    alice.extend(3)
    store.ingest(alice.wire())
    root = store.paths.root
    store.close()
    IndexWriter.create(HomePaths(root).index, bulk=True).close()  # the crash: never finished
    store = Store.open(root)
    try:
        assert texts(store) == ["post 3", "post 2", "post 1"]  # uses the timeline index
        assert store.reindex() == 3
        assert texts(store) == ["post 3", "post 2", "post 1"]
    finally:
        store.close()
