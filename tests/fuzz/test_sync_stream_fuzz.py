"""Fuzz p2psocial.net.sync over a stream: a hostile client against the real server, and a
hostile server against the real client, each with a real node and store behind it.

The stream is trio's in-memory stream behind the three methods net/sync.py calls on a
libp2p stream (tests/fuzz/nodes.py), so a session costs microseconds, not a libp2p
connection; tests/net/test_hostile.py drives the same code over real libp2p streams on
127.0.0.1 with hand-picked abuse. The properties: the server answers every well-framed
valid request exactly as :func:`p2psocial.core.sync.answer` would, refuses the first bad
one with one error frame and one incident, never raises or logs an error, and never
changes the store; the client ends every session with its stats or a SyncError, stores
only valid messages it was sent in well-formed responses, and nothing else.
"""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Final

import pytest
import trio
from hypothesis import event, given
from hypothesis import strategies as st
from libp2p.exceptions import ParseError
from libp2p.io.exceptions import IncompleteReadError
from libp2p.network.stream.exceptions import StreamEOF
from libp2p.peer.id import ID
from libp2p.utils.varint import (
    decode_uvarint,
    encode_uvarint,
    encode_varint_prefixed,
    read_varint_prefixed_bytes_limited,
)

from p2psocial.core import canonical
from p2psocial.core import sync as proto
from p2psocial.core.message import decode_message
from p2psocial.errors import SyncError, ValidationError
from p2psocial.node import open_node
from p2psocial.store.verify import verify_log

from . import seeds
from .budget import budget
from .nodes import (
    MemoryNetStream,
    copy_home,
    errors_logged,
    log_end,
    make_home,
    stream_pair,
    sync_service,
)
from .properties import peer_view
from .strategies import mutate_value, mutated
from .test_sync_fuzz import request_values

TIMEOUT: Final = 20.0
SERVER_INCIDENTS: Final = {"sync.bad_request", "sync.bad_frame"}
CLIENT_INCIDENTS: Final = {
    "sync.bad_response",
    "sync.inconsistent",
    "sync.invalid_message",
    "sync.timeout",
    "sync.bad_frame",
}


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A home holding an own post and part of the factory messages (closed)."""
    return make_home(tmp_path_factory.mktemp("sync-stream"), share=5)


class Incidents(list[tuple[str, str]]):
    def __call__(self, peer: ID, code: str, detail: str) -> None:
        self.append((code, detail))


# --- a hostile client against the server ---------------------------------------------------


@st.composite
def units(draw: st.DrawFn) -> bytes:
    """One unit of a client's byte stream: a framed request (valid, edited or shaped
    like one), unframed garbage, an oversize or malformed length prefix."""
    kind = draw(st.sampled_from(["seed"] * 4 + ["edited", "value", "value", "garbage", "prefix"]))
    if kind == "seed":
        return encode_varint_prefixed(draw(st.sampled_from(seeds.sync_requests())))
    if kind == "edited":
        return encode_varint_prefixed(draw(mutated(seeds.sync_requests())))
    if kind == "value":
        return encode_varint_prefixed(canonical.encode(draw(request_values())))
    if kind == "garbage":
        return draw(st.binary(min_size=1, max_size=12))
    return draw(
        st.sampled_from(
            [
                encode_uvarint(proto.MAX_FRAME_BYTES + 1),
                encode_uvarint(2**64 - 1),
                b"\xff" * 10 + b"\x01",  # a varint longer than 64 bits
                b"\x80\x00",  # a non-minimal zero
                b"\x00",  # an empty frame
            ]
        )
    )


def expected_session(data: bytes) -> tuple[list[proto.Request], str]:
    """What the server must do with ``data``: the requests it answers, and how the session
    ends: ``eof``, ``bad_request`` (one error frame) or ``bad_frame`` (nothing more)."""
    requests: list[proto.Request] = []
    offset = 0
    while True:
        prefix = b""
        while offset < len(data) and len(prefix) < 10:
            prefix += data[offset : offset + 1]
            offset += 1
            if prefix[-1] & 0x80 == 0:
                break
        if not prefix or (prefix[-1] & 0x80 and len(prefix) < 10):
            return requests, "eof"
        if prefix[-1] & 0x80:
            return requests, "bad_frame"
        try:
            length = decode_uvarint(prefix)
        except ParseError:
            return requests, "bad_frame"
        if length > proto.MAX_FRAME_BYTES:
            return requests, "bad_frame"
        if offset + length > len(data):
            return requests, "eof"
        frame, offset = data[offset : offset + length], offset + length
        try:
            requests.append(proto.decode_request(frame))
        except ValidationError:
            return requests, "bad_request"


def split_frames(data: bytes) -> list[bytes]:
    """The varint-prefixed frames of a server's whole output (which must be well framed)."""
    frames = []
    offset = 0
    while offset < len(data):
        length, used = 0, 0
        while True:
            byte = data[offset + used]
            length |= (byte & 0x7F) << (7 * used)
            used += 1
            if not byte & 0x80:
                break
        frames.append(data[offset + used : offset + used + length])
        offset += used + length
        assert offset <= len(data), "the server sent a cut-off frame"
    return frames


async def serve_one_session(home: Path, chunks: list[bytes]) -> tuple[bytes, Incidents]:
    incidents = Incidents()
    async with open_node(home) as node:
        service = sync_service(node, None, incidents)
        ours, theirs = stream_pair()
        output = bytearray()

        async def client() -> None:
            try:
                for chunk in chunks:
                    await theirs.send_all(chunk)
                await theirs.send_eof()
            except (trio.BrokenResourceError, trio.ClosedResourceError):
                pass  # the server hung up first: normal after a bad frame
            while chunk := await theirs.receive_some():
                output.extend(chunk)

        with trio.fail_after(TIMEOUT):
            async with trio.open_nursery() as nursery:
                nursery.start_soon(client)
                await service.handle(ours)  # type: ignore[arg-type]
        requests, _ = expected_session(b"".join(chunks))
        view = node.sync_view()
        answers = [proto.encode_response(proto.answer(r, view)) for r in requests]
    return bytes(output), incidents, answers  # type: ignore[return-value]


_GOOD_UNITS: Final = st.lists(
    st.sampled_from(seeds.sync_requests()).map(encode_varint_prefixed), max_size=4
)


@budget(60)
@given(_GOOD_UNITS, st.lists(units(), min_size=1, max_size=3), st.data())
def test_the_server_answers_or_refuses_any_byte_stream(
    template: Path, good: list[bytes], hostile: list[bytes], data: st.DataObject
) -> None:
    stream = b"".join(good + hostile)
    if data.draw(st.integers(0, 3), label="cut") == 0:
        stream = stream[: data.draw(st.integers(0, len(stream)), label="at")]
    cuts = sorted(data.draw(st.lists(st.integers(0, len(stream)), max_size=4), label="cuts"))
    chunks = [stream[a:b] for a, b in zip([0, *cuts], [*cuts, len(stream)], strict=True)]
    chunks = [c for c in chunks if c]
    before = log_end(template)
    with errors_logged() as errors:
        output, incidents, answers = trio.run(serve_one_session, template, chunks)
    assert not errors, [r.getMessage() for r in errors]
    requests, end = expected_session(stream)
    event(f"session ends: {end}")
    event(f"requests answered: {min(len(requests), 3)}+" if requests else "requests answered: 0")
    frames = split_frames(output)
    assert frames[: len(answers)] == answers, "a request was not answered as answer() would"
    extra = frames[len(answers) :]
    codes = [code for code, _ in incidents]
    if end == "bad_request":
        assert len(extra) == 1
        refusal = proto.decode_response(extra[0], requests[0] if requests else _ANY)
        assert isinstance(refusal, proto.ErrorResponse)
        assert codes == ["sync.bad_request"]
    elif end == "bad_frame":
        assert extra == []
        assert codes == ["sync.bad_frame"]
    else:
        assert extra == []
        assert codes == []
    assert set(codes) <= SERVER_INCIDENTS
    assert log_end(template) == before, "serving changed the store"


_ANY: Final = proto.DigestRequest((proto.FULL_RANGE,))


# --- a hostile server against the client -----------------------------------------------------

HONEST_AFTER: Final = 100


class OneStreamHost:
    """A host whose every new stream is the given one (the client side of a pair)."""

    def __init__(self, stream: MemoryNetStream) -> None:
        self._stream = stream

    async def new_stream(self, peer: ID, protocols: object) -> MemoryNetStream:
        return self._stream


async def lie(data: st.DataObject, step: int, honest: bytes) -> bytes | None:
    """The server's reply: honest, edited, garbage, a refusal, or None to hang up."""
    if step > HONEST_AFTER:
        return honest
    # Mostly honest, so that sessions get far before the lie (a whole one takes ~6 steps).
    lies = ["value", "value", "bytes", "refuse", "hang up", "other"]
    how = (
        "honest" if data.draw(st.integers(0, 39)) >= len(lies) else data.draw(st.sampled_from(lies))
    )
    await trio.lowlevel.checkpoint()
    if how == "value":
        return canonical.encode(data.draw(mutate_value(canonical.decode(honest))))
    if how == "bytes":
        return data.draw(mutated([honest], max_steps=2))
    if how == "refuse":
        return proto.encode_response(proto.ErrorResponse("refused", "no"))
    if how == "other":  # a valid message that was not asked for
        wire = data.draw(st.sampled_from(seeds.valid_wires()))
        return proto.encode_response(proto.MessagesResponse(((1, wire),), more=False))
    if how == "hang up":
        return None
    return honest


async def pull_one_session(
    home: Path, data: st.DataObject
) -> tuple[proto.SyncStats | SyncError, Incidents, set[bytes], set[bytes], set[bytes]]:
    incidents = Incidents()
    sent: set[bytes] = set()  # ids of valid messages sent in well-formed responses
    async with open_node(home) as node:
        before = {row[0] for row in node.reader.query("SELECT id FROM messages")}
        ours, theirs = stream_pair()
        service = sync_service(node, OneStreamHost(ours), incidents)
        reader = MemoryNetStream(theirs)
        outcome: proto.SyncStats | SyncError | None = None

        async def server() -> None:
            step = 0
            while True:
                try:
                    frame = await read_varint_prefixed_bytes_limited(reader, proto.MAX_FRAME_BYTES)
                except (StreamEOF, IncompleteReadError):
                    return
                step += 1
                request = proto.decode_request(frame)  # the client only sends valid ones
                honest = proto.encode_response(proto.answer(request, peer_view()))
                reply = await lie(data, step, honest)
                if reply is None:
                    await theirs.aclose()
                    return
                try:
                    response = proto.decode_response(reply, request)
                except ValidationError:
                    pass
                else:
                    if isinstance(response, proto.MessagesResponse):
                        for _, wire in response.messages:
                            with contextlib.suppress(ValidationError):
                                sent.add(decode_message(wire).id.raw)
                try:
                    await theirs.send_all(encode_varint_prefixed(reply))
                except (trio.BrokenResourceError, trio.ClosedResourceError):
                    return

        async def client() -> None:
            nonlocal outcome
            try:
                outcome = await service.sync_with(PEER_ID)
            except SyncError as exc:
                outcome = exc

        with trio.fail_after(TIMEOUT):
            async with trio.open_nursery() as nursery:
                nursery.start_soon(server)
                await client()
                nursery.cancel_scope.cancel()
        after = {row[0] for row in node.reader.query("SELECT id FROM messages")}
    assert outcome is not None
    return outcome, incidents, before, after, sent


PEER_ID: Final = ID(b"\x00\x24\x08\x01\x12\x20" + b"\x43" * 32)


@budget(40)
@given(st.data())
def test_the_client_survives_any_server(
    tmp_path: Path, template: Path, data: st.DataObject
) -> None:
    home = copy_home(template, tmp_path)
    with errors_logged() as errors:
        outcome, incidents, before, after, sent = trio.run(pull_one_session, home, data)
    assert not errors, [r.getMessage() for r in errors]
    assert {code for code, _ in incidents} <= CLIENT_INCIDENTS
    event(f"outcome: {type(outcome).__name__}")
    event(f"stored from the peer: {'some' if after - before else 'none'}")
    for code, _ in incidents:
        event(f"incident: {code}")
    if isinstance(outcome, proto.SyncStats):
        assert not incidents
    assert after - before <= sent, "stored a message no well-formed response carried"
    report = verify_log(home / "log")
    assert report.ok, report.problems
