"""The control socket's ``subscribe``: the live events an attached terminal app shows.

A real node and a real unix socket in a temporary home; clients are the blocking
:class:`ControlClient` in worker threads, as the app runs them. Every test is bounded by
``trio.fail_after``; waits are on events, never on fixed sleeps.
"""

from __future__ import annotations

import socket
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import pytest
import trio

from p2psocial.control import (
    BadRequestError,
    ControlClient,
    ControlEvent,
    MessageStored,
    NoAnswerError,
    call_local,
    serve_control,
    socket_path,
)
from p2psocial.node import EventsMissed, Node
from tests.factories import authors

TIMEOUT = 20.0
_T = TypeVar("_T")


async def in_thread(fn: Callable[[], _T]) -> _T:
    return await trio.to_thread.run_sync(fn)


def connect(home: Path) -> ControlClient:
    client = ControlClient.connect(home)
    assert client is not None, "no daemon answered"
    return client


def receive_until(
    client: ControlClient, done: Callable[[list[ControlEvent]], bool]
) -> list[ControlEvent]:
    events: list[ControlEvent] = []
    while not done(events):
        events += client.receive_events(timeout=TIMEOUT)
    return events


async def test_a_subscriber_gets_each_stored_message_in_order(home: Path, node: Node) -> None:
    alice, bob = authors(2)
    incoming = [alice.post("one"), bob.post("two"), alice.post("three")]
    with trio.fail_after(TIMEOUT):
        async with trio.open_nursery() as nursery:
            await nursery.start(serve_control, node, None, home)
            subscriber = await in_thread(lambda: connect(home))
            await in_thread(subscriber.subscribe)
            # Nothing is waiting before anything is stored.
            assert await in_thread(lambda: subscriber.receive_events(timeout=0.05)) == []
            writer = await in_thread(lambda: connect(home))
            posted = await in_thread(lambda: writer.call("post", {"text": "mine"}))
            await node.ingest(incoming, source="network")
            events = await in_thread(lambda: receive_until(subscriber, lambda e: len(e) >= 4))
            assert all(isinstance(e, MessageStored) for e in events)
            stored = [e for e in events if isinstance(e, MessageStored)]
            assert [(str(e.id), e.source, e.kind) for e in stored] == [
                (posted["id"], "local", "post"),
                *((str(m.id), "network", "post") for m in incoming),
            ]
            assert stored[1].author == alice.author
            assert (stored[1].seq, stored[1].ts, stored[1].fork) == (
                incoming[0].seq,
                incoming[0].header.ts,
                False,
            )
            # The request connection still works beside the stream.
            assert (await in_thread(lambda: writer.call("whoami")))["id"] == str(node.me)
            writer.close()
            subscriber.close()
            nursery.cancel_scope.cancel()


async def test_a_subscriber_that_does_not_read_never_holds_up_the_node(
    home: Path, node: Node
) -> None:
    """A stalled subscriber: the node stores everything anyway, and the subscriber is told
    how many events it lost, so message events plus missed counts add up to all of them."""
    (alice,) = authors(1)
    total = 3000  # ~250-byte lines: far more than the socket buffers and the 1024 queue
    burst = [alice.post(f"message {n} " + "x" * 120) for n in range(total)]
    with trio.fail_after(TIMEOUT * 2):
        async with trio.open_nursery() as nursery:
            await nursery.start(serve_control, node, None, home)
            subscriber = await in_thread(lambda: connect(home))
            # A small receive buffer, so the stall shows at once.
            subscriber._sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)  # type: ignore[union-attr]
            await in_thread(subscriber.subscribe)
            for start in range(0, total, 250):
                await node.ingest(burst[start : start + 250], source="network")
            assert (await node.counts())["messages"] == total
            # The node answers other clients meanwhile.
            writer = await in_thread(lambda: connect(home))
            await in_thread(lambda: writer.call("post", {"text": "still answering"}))
            writer.close()

            def counted(events: list[ControlEvent]) -> int:
                return sum(e.count if isinstance(e, EventsMissed) else 1 for e in events)

            events = await in_thread(
                lambda: receive_until(subscriber, lambda e: counted(e) >= total + 1)
            )
            assert counted(events) == total + 1
            missed = [e for e in events if isinstance(e, EventsMissed)]
            assert missed, "the stalled subscriber must be told it missed events"
            stored = [e.id for e in events if isinstance(e, MessageStored)]
            # What it did get came in order, with no duplicates.
            order = {m.id: n for n, m in enumerate(burst)}
            positions = [order[i] for i in stored if i in order]
            assert positions == sorted(set(positions))
            subscriber.close()
            nursery.cancel_scope.cancel()


async def test_hanging_up_unsubscribes(home: Path, node: Node) -> None:
    (alice,) = authors(1)
    with trio.fail_after(TIMEOUT):
        async with trio.open_nursery() as nursery:
            await nursery.start(serve_control, node, None, home)
            subscriber = await in_thread(lambda: connect(home))
            await in_thread(subscriber.subscribe)
            # Lines sent after subscribing are ignored, not answered.
            subscriber._sock.sendall(b'{"id": 9, "method": "whoami"}\n')  # type: ignore[union-attr]
            await node.ingest([alice.post("after the noise")], source="network")
            [event] = await in_thread(lambda: receive_until(subscriber, bool))
            assert isinstance(event, MessageStored)
            subscriber.close()
            # The node drops the subscription once it notices the hang-up.
            while node._subscriptions:
                await trio.sleep(0.01)
            nursery.cancel_scope.cancel()


async def test_the_stream_ends_when_the_node_stops(home: Path) -> None:
    from p2psocial.node import open_node

    with trio.fail_after(TIMEOUT):
        async with open_node(home) as node, trio.open_nursery() as nursery:
            await nursery.start(serve_control, node, None, home)
            subscriber = await in_thread(lambda: connect(home))
            await in_thread(subscriber.subscribe)
            nursery.cancel_scope.cancel()
        assert not socket_path(home).exists()
        with pytest.raises(NoAnswerError, match="closed the event stream"):
            await in_thread(lambda: subscriber.receive_events(timeout=TIMEOUT))


async def test_subscribe_needs_the_socket(node: Node) -> None:
    with pytest.raises(BadRequestError, match="only over the control socket"):
        await call_local(node, "subscribe")
