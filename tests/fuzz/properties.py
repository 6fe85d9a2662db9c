"""The property each harness checks, as plain functions of the input.

Hypothesis (tests/fuzz/test_*.py) and atheris (tools/fuzz.py) call the same functions. Each
returns normally when the input was handled correctly (accepted, or refused with the
documented error) and raises anything else: an ``AssertionError`` when an accepted input
breaks an invariant, or the unexpected exception itself.
"""

from __future__ import annotations

import hashlib
from functools import cache
from pathlib import Path
from typing import Final

from nacl.signing import VerifyKey

from p2psocial.core import canonical
from p2psocial.core import sync as proto
from p2psocial.core.bodies import KINDS, Body, decode_body, encode_body
from p2psocial.core.limits import MAX_BODY_BYTES, MAX_MESSAGE_BYTES, MAX_SEQ, MAX_TS
from p2psocial.core.message import SIGNING_CONTEXT, Message, decode_message
from p2psocial.errors import ImportFileError, ValidationError
from p2psocial.store.exchange import read_export
from p2psocial.store.framing import EXPORT_HEADER, encode_frame
from tests.core.test_sync import MemoryView

from . import seeds

REQUEST_KINDS: Final = 6
"""How many requests :func:`request_for` can pick from."""


def check_canonical(data: bytes) -> canonical.Value | None:
    """``canonical.decode``: a value whose canonical encoding is ``data``, or a
    ValidationError (DecodeError, NonCanonicalError)."""
    try:
        value = canonical.decode(data)
    except ValidationError:
        return None
    assert canonical.encode(value) == data, "decode accepted a non-canonical encoding"
    return value


def check_message(data: bytes) -> Message | None:
    """``decode_message``: a message that satisfies every rule, or a ValidationError."""
    try:
        message = decode_message(data)
    except ValidationError:
        return None
    check_valid_message(message, data)
    return message


def check_valid_message(message: Message, data: bytes) -> None:
    """Invariants of a message that ``decode_message`` accepted from ``data``."""
    assert len(data) <= MAX_MESSAGE_BYTES
    assert message.to_bytes() == data
    assert canonical.encode([message.signed_header, message.body_bytes]) == data
    assert message.id.raw == hashlib.blake2b(message.signed_header, digest_size=32).digest()
    header = message.header
    assert 1 <= header.seq <= MAX_SEQ
    assert (header.seq == 1) == (header.prev is None)
    assert 0 <= header.ts <= MAX_TS
    assert 0 <= header.body_len <= MAX_BODY_BYTES
    assert header.kind.value in KINDS
    # The signature verifies, checked here without the library's own code path.
    header_value = canonical.decode(message.signed_header)
    assert isinstance(header_value, list)
    signed = SIGNING_CONTEXT + canonical.encode(header_value[0])
    VerifyKey(header.author.raw).verify(signed, message.signature)
    if message.body_bytes is None:
        assert message.body is None
    else:
        assert message.body is not None
        assert len(message.body_bytes) == header.body_len
        assert hashlib.blake2b(message.body_bytes, digest_size=32).digest() == header.body_hash
        # One encoding per body: what was accepted is exactly what this node would write.
        assert encode_body(message.body) == message.body_bytes
    dropped = decode_message(message.without_body().to_bytes())
    assert dropped.id == message.id


def check_body(kind: str, data: bytes) -> Body | None:
    """``decode_body``: a body whose encoding is exactly ``data``, or a ValidationError."""
    try:
        body = decode_body(kind, data)
    except ValidationError:
        return None
    assert body.kind.value == kind
    assert encode_body(body) == data, "decode_body accepted a second encoding of a body"
    return body


@cache
def peer_view() -> MemoryView:
    """A sync peer holding the factory messages and a fork."""
    view = MemoryView()
    for message in seeds.messages():
        view.add(message.to_bytes())
    return view


def check_sync_request(data: bytes) -> proto.Request | None:
    """``decode_request`` then ``answer``: a request that re-encodes to ``data`` and whose
    answer a client accepts, or a ValidationError."""
    try:
        request = proto.decode_request(data)
    except ValidationError:
        return None
    assert proto.encode_request(request) == data
    response = proto.answer(request, peer_view())
    frame = proto.encode_response(response)
    assert len(frame) <= proto.MAX_FRAME_BYTES
    assert proto.decode_response(frame, request) == response
    return request


def request_for(selector: int) -> proto.Request:
    """One of :data:`REQUEST_KINDS` requests a client could be waiting on."""
    return proto.decode_request(seeds.sync_requests()[selector % REQUEST_KINDS])


def check_sync_response(data: bytes, request: proto.Request) -> proto.Response | None:
    """``decode_response``: a response that answers ``request`` and re-encodes to
    ``data`` (error responses aside, which are cut to length), or a ValidationError."""
    try:
        response = proto.decode_response(data, request)
    except ValidationError:
        return None
    if isinstance(response, proto.ErrorResponse):
        assert len(response.code) <= 64
        assert len(response.message) <= 512
        return response
    assert proto.encode_response(response) == data
    match request, response:
        case proto.DigestRequest(ranges), proto.DigestResponse(digests):
            assert len(digests) == len(ranges)
        case proto.FrontierRequest(ranges, _), proto.FrontierResponse(entries, _):
            assert len(entries) <= proto.MAX_ENTRIES
            authors = [e.author for e in entries]
            assert authors == sorted(set(authors))
        case proto.MessagesRequest(_, first, last, _, limit), proto.MessagesResponse(items, _):
            assert len(items) <= limit
            assert all(first <= seq <= last for seq, _ in items)
        case _:
            raise AssertionError(f"{type(response).__name__} accepted for {request}")
    return response


def check_export(data: bytes, path: Path) -> list[bytes] | None:
    """``read_export`` of a file holding ``data``: frames that make up exactly ``data``,
    or an ImportFileError."""
    path.write_bytes(data)
    try:
        payloads = read_export(path)
    except ImportFileError:
        return None
    assert EXPORT_HEADER + b"".join(encode_frame(p) for p in payloads) == data
    return payloads
