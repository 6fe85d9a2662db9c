"""Fuzz the sync protocol without I/O: its codec, its server, and its client state machine
driven by a server that lies.

tests/core/test_sync.py checks honest sessions and a handful of named lies; here requests
and responses are edited at the byte and value level, and a client runs whole sessions
against a server that, at every step, answers honestly, edits its honest answer, sends
bytes, or refuses. The client must end every session (within
:data:`~p2psocial.core.sync.MAX_SESSION_REQUESTS` requests) with nothing but
DecodeError, and never ask anything an honest server would refuse.
"""

from __future__ import annotations

import contextlib

from hypothesis import example, given
from hypothesis import strategies as st

from p2psocial.core import canonical
from p2psocial.core import sync as proto
from p2psocial.errors import P2PSocialError, ValidationError
from tests.core.test_sync import MemoryView

from . import seeds
from .budget import budget
from .properties import REQUEST_KINDS, check_sync_request, check_sync_response, peer_view
from .strategies import INTERESTING_INTS, mutate_value, mutated, values

_ID = st.sampled_from([b"\x00" * 32, b"\xff" * 32, seeds.chains()[0].author.raw]) | st.binary(
    min_size=31, max_size=33
)
_SEQ = st.sampled_from(INTERESTING_INTS) | st.integers(-2, 12)


@st.composite
def request_values(draw: st.DrawFn) -> canonical.Value:
    """Request-shaped maps with edge values in every field."""
    op = draw(st.sampled_from(["digest", "frontier", "messages"]) | st.text(max_size=8))
    ranges = draw(st.lists(st.lists(_ID | st.none(), min_size=0, max_size=3), max_size=66))
    fields: dict[str, canonical.Value] = {"op": op}
    if op in ("digest", "frontier"):
        fields["ranges"] = list(ranges)
    if op == "frontier":
        fields["after"] = draw(_ID | st.none())
    if op == "messages":
        fields.update(
            author=draw(_ID),
            first=draw(_SEQ),
            last=draw(_SEQ),
            desc=draw(st.booleans() | st.integers(0, 1)),
            limit=draw(_SEQ),
        )
    if draw(st.integers(0, 9)) == 0:
        fields[draw(st.text(max_size=6))] = draw(values(1))
    return fields


@budget(300)
@given(request_values())
@example({"op": "messages", "author": b"\x01" * 32, "first": 1, "last": 2**63 - 1, "desc": True,
          "limit": 1})  # fmt: skip
@example({"op": "digest", "ranges": [[b"\x00" * 32, b"\x00" * 32]]})  # an empty range
@example({"op": "frontier", "ranges": [[b"\x00" * 32, None]] * 2, "after": b"\x00" * 32})
def test_request_values_are_served_or_refused(value: canonical.Value) -> None:
    check_sync_request(canonical.encode(value))


def test_frontier_ranges_in_any_order_get_an_ascending_answer() -> None:
    """Found by the fuzzer: the server listed entries range by range, so ranges sent out
    of order or overlapping got an answer with authors out of order or twice, which every
    client must refuse (docs/protocol.md: entries ascending by author)."""
    low, high = proto.split_range(proto.FULL_RANGE, 2)
    for ranges in [(high, low), (proto.FULL_RANGE, proto.FULL_RANGE), (proto.FULL_RANGE, high)]:
        request = proto.FrontierRequest(ranges)
        response = proto.answer(request, peer_view())
        assert isinstance(response, proto.FrontierResponse)
        authors = [entry.author for entry in response.entries]
        assert authors == sorted(set(authors))
        assert len(authors) == len(seeds.chains())
        check_sync_request(proto.encode_request(request))


@budget(300)
@given(mutated(seeds.sync_requests()))
def test_edited_requests_are_served_or_refused(data: bytes) -> None:
    check_sync_request(data)


@st.composite
def responses(draw: st.DrawFn) -> tuple[bytes, proto.Request]:
    """An honest answer to one of the seed requests, edited, and that request."""
    request = proto.decode_request(seeds.sync_requests()[draw(st.integers(0, REQUEST_KINDS - 1))])
    honest = proto.encode_response(proto.answer(request, peer_view()))
    how = draw(st.sampled_from(["bytes", "value", "value"]))
    if how == "bytes":
        return draw(mutated([honest])), request
    return canonical.encode(draw(mutate_value(canonical.decode(honest)))), request


@budget(300)
@given(responses())
def test_edited_responses_are_accepted_only_if_they_answer(
    case: tuple[bytes, proto.Request],
) -> None:
    check_sync_response(*case)


HONEST_AFTER = 200
"""Steps after which the lying server turns honest (the session must still end)."""


def _lie(data: st.DataObject, request: proto.Request, honest: bytes) -> bytes:
    how = data.draw(st.sampled_from(["honest", "honest", "value", "bytes", "error"]))
    if how == "value":
        return canonical.encode(data.draw(mutate_value(canonical.decode(honest))))
    if how == "bytes":
        return data.draw(mutated([honest], max_steps=2))
    if how == "error":
        return proto.encode_response(proto.ErrorResponse("refused", "no"))
    return honest


@budget(100)
@given(st.data())
def test_a_client_ends_every_session_with_a_lying_server(data: st.DataObject) -> None:
    local = MemoryView()
    for message in data.draw(st.lists(st.sampled_from(seeds.messages()), max_size=8)):
        with contextlib.suppress(P2PSocialError):  # one the chain rules refuse: not held
            local.add(message.to_bytes())
    targeted = data.draw(st.booleans())
    ranges = [proto.author_range(seeds.chains()[0].author)] if targeted else [proto.FULL_RANGE]
    client = proto.SyncClient(local, ranges=ranges)
    server = peer_view()
    steps = 0
    try:
        while (request := client.next_request()) is not None:
            steps += 1
            assert steps <= proto.MAX_SESSION_REQUESTS, "the session did not end"
            # The client only ever asks what an honest server accepts.
            assert proto.decode_request(proto.encode_request(request)) == request
            honest = proto.encode_response(proto.answer(request, server))
            frame = honest if steps > HONEST_AFTER else _lie(data, request, honest)
            try:
                response = proto.decode_response(frame, request)
            except ValidationError:
                return  # net/sync.py ends the session on a malformed response
            for wire in client.receive(response):
                # An invalid one is refused by the store; net/sync.py reports the peer.
                with contextlib.suppress(P2PSocialError):
                    local.add(wire)
    except ValidationError:
        return  # the client ended the session: the peer contradicted itself
