"""Properties of the encoding and of message validation, checked with Hypothesis.

Every test runs derandomized with no example database, so CI runs are reproducible; the
example counts keep the whole core suite within a few seconds.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Final

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from p2psocial.core import canonical
from p2psocial.core.bodies import (
    Body,
    Delete,
    Follow,
    Post,
    Profile,
    Reaction,
    Reply,
    Repost,
    Unfollow,
    decode_body,
    encode_body,
)
from p2psocial.core.ids import AuthorId, MessageId
from p2psocial.core.limits import (
    MAX_BIO_BYTES,
    MAX_EMOJI_BYTES,
    MAX_MENTIONS,
    MAX_NAME_BYTES,
    MAX_SEQ,
    MAX_TEXT_BYTES,
    MAX_TS,
)
from p2psocial.core.message import Message, decode_message, sign
from p2psocial.errors import BodyHashMismatchError, NonCanonicalError, ValidationError
from tests.factories import ChainBuilder, signing_key

SETTINGS: Final = settings(
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


def examples(n: int) -> Callable[[Callable[..., None]], Callable[..., None]]:
    """The shared settings with ``n`` examples."""
    return settings(SETTINGS, max_examples=n)


# --- strategies: canonical values -------------------------------------------------------

ints = st.integers(min_value=-(2**63), max_value=2**64 - 1)
keys = st.text(max_size=23).filter(lambda k: len(k.encode("utf-8")) <= 23)
scalars = st.one_of(ints, st.binary(max_size=40), st.text(max_size=20), st.booleans(), st.none())


def values(depth: int = canonical.MAX_DEPTH) -> st.SearchStrategy[canonical.Value]:
    """Values of the subset with containers nested at most ``depth`` deep."""
    if depth == 0:
        return scalars
    inner = values(depth - 1)
    return st.one_of(
        scalars,
        st.lists(inner, max_size=4),
        st.dictionaries(keys, inner, max_size=4),
    )


VALUES: Final = values()


# --- strategies: other encodings of the same value -------------------------------------


def _head(draw: st.DrawFn, major: int, argument: int) -> bytes:
    """A CBOR head in any width that holds ``argument``, not only the shortest."""
    widths = [w for w in (0, 1, 2, 4, 8) if argument < (24 if w == 0 else 1 << (8 * w))]
    width = draw(st.sampled_from(widths))
    if width == 0:
        return bytes([major << 5 | argument])
    info = {1: 24, 2: 25, 4: 26, 8: 27}[width]
    return bytes([major << 5 | info]) + argument.to_bytes(width, "big")


def _any_encoding(draw: st.DrawFn, value: canonical.Value) -> bytes:
    """A well-formed CBOR encoding of ``value``: any widths, any map order."""
    if value is None:
        return b"\xf6"
    if isinstance(value, bool):
        return b"\xf5" if value else b"\xf4"
    if isinstance(value, int):
        return _head(draw, 0, value) if value >= 0 else _head(draw, 1, -1 - value)
    if isinstance(value, bytes):
        return _head(draw, 2, len(value)) + value
    if isinstance(value, str):
        data = value.encode("utf-8")
        return _head(draw, 3, len(data)) + data
    if isinstance(value, list):
        return _head(draw, 4, len(value)) + b"".join(_any_encoding(draw, v) for v in value)
    items = draw(st.permutations(list(value.items())))
    return _head(draw, 5, len(items)) + b"".join(
        _any_encoding(draw, k) + _any_encoding(draw, v) for k, v in items
    )


@st.composite
def value_and_encoding(draw: st.DrawFn) -> tuple[canonical.Value, bytes]:
    value = draw(VALUES)
    return value, _any_encoding(draw, value)


# --- strategies: valid bodies and messages ----------------------------------------------

_CONTROL = "".join(chr(c) for c in [*range(0x20), *range(0x7F, 0xA0)])
_MULTILINE = st.characters(
    exclude_categories=["Cs"], exclude_characters=_CONTROL.replace("\n", "").replace("\t", "")
)
_INLINE = st.characters(exclude_categories=["Cs"], exclude_characters=_CONTROL)


def _text(
    alphabet: st.SearchStrategy[str], limit: int, *, blank_ok: bool
) -> st.SearchStrategy[str]:
    text = st.text(alphabet, min_size=0 if blank_ok else 1, max_size=limit // 4)
    return text if blank_ok else text.filter(lambda t: bool(t.strip()))


message_ids = st.binary(min_size=32, max_size=32).map(MessageId)
author_ids = st.binary(min_size=32, max_size=32).map(AuthorId)
mentions = st.lists(author_ids, max_size=MAX_MENTIONS, unique=True).map(tuple)
post_text = _text(_MULTILINE, MAX_TEXT_BYTES, blank_ok=False)
emoji = st.text(
    st.characters(exclude_categories=["Cs", "Zs", "Zl", "Zp"], exclude_characters=_CONTROL),
    min_size=1,
    max_size=MAX_EMOJI_BYTES // 4,
).filter(lambda e: not any(c.isspace() for c in e))

BODIES: Final = st.one_of(
    st.builds(Post, post_text, mentions),
    st.builds(Reply, post_text, message_ids, message_ids, mentions),
    st.builds(Repost, message_ids),
    st.builds(Reaction, message_ids, emoji),
    st.builds(Follow, author_ids),
    st.builds(Unfollow, author_ids),
    st.builds(
        Profile,
        _text(_INLINE, MAX_NAME_BYTES, blank_ok=True),
        _text(_MULTILINE, MAX_BIO_BYTES, blank_ok=True),
    ),
    st.builds(Delete, message_ids),
)


@st.composite
def messages(draw: st.DrawFn) -> Message:
    seq = draw(st.one_of(st.integers(1, 3), st.just(MAX_SEQ)))
    prev = None if seq == 1 else draw(message_ids)
    return sign(
        signing_key(draw(st.integers(0, 3))),
        seq=seq,
        prev=prev,
        ts=draw(st.integers(0, MAX_TS)),
        body=draw(BODIES),
    )


@st.composite
def wire_messages(draw: st.DrawFn) -> bytes:
    message = draw(messages())
    if draw(st.booleans()):
        message = message.without_body()
    return message.to_bytes()


# Fixed messages for the exhaustive tests.
_alice, _bob = ChainBuilder(1), ChainBuilder(2)
_hello = _alice.post("hello #p2p", mentions=[_bob])
FIXED: Final = {
    "post": _hello,
    "reply": _bob.reply(_hello, "hi"),
    "profile": _bob.profile("Bob", "bio"),
    "dropped": _alice.react(_hello).without_body(),
}


# --- canonical encoding -----------------------------------------------------------------


@examples(300)
@given(VALUES)
def test_canonical_round_trip(value: canonical.Value) -> None:
    data = canonical.encode(value)
    decoded = canonical.decode(data)
    assert decoded == value
    assert canonical.encode(decoded) == data  # same types too (True is not 1)


@examples(300)
@given(value_and_encoding())
def test_canonical_form_is_unique(case: tuple[canonical.Value, bytes]) -> None:
    value, data = case
    if data == canonical.encode(value):
        assert canonical.decode(data) == value
    else:
        with pytest.raises(NonCanonicalError):
            canonical.decode(data)


@examples(300)
@given(st.binary(max_size=64))
def test_canonical_decode_raises_only_validation_errors(data: bytes) -> None:
    try:
        value = canonical.decode(data)
    except ValidationError:
        return
    assert canonical.encode(value) == data


# --- messages: any damage is refused ----------------------------------------------------


@pytest.mark.parametrize("name", sorted(FIXED))
def test_every_bit_flip_is_refused(name: str) -> None:
    message = FIXED[name]
    data = message.to_bytes()
    body_start = len(data) - (len(message.body_bytes) if message.body_bytes else 0)
    for position in range(len(data)):
        for bit in range(8):
            damaged = bytearray(data)
            damaged[position] ^= 1 << bit
            if position >= body_start:
                with pytest.raises(BodyHashMismatchError):
                    decode_message(bytes(damaged))
            else:
                with pytest.raises(ValidationError):
                    decode_message(bytes(damaged))


@pytest.mark.parametrize("name", sorted(FIXED))
def test_every_truncation_is_refused(name: str) -> None:
    data = FIXED[name].to_bytes()
    for end in range(len(data)):
        with pytest.raises(ValidationError):
            decode_message(data[:end])


@examples(200)
@given(messages(), st.data())
def test_any_byte_replacement_is_refused(message: Message, data: st.DataObject) -> None:
    wire = message.to_bytes()
    position = data.draw(st.integers(0, len(wire) - 1), label="position")
    byte = data.draw(st.integers(0, 255).filter(lambda b: b != wire[position]), label="byte")
    damaged = wire[:position] + bytes([byte]) + wire[position + 1 :]
    assert message.body_bytes is not None
    if position >= len(wire) - len(message.body_bytes):
        with pytest.raises(BodyHashMismatchError):
            decode_message(damaged)
    else:
        with pytest.raises(ValidationError):
            decode_message(damaged)


@examples(100)
@given(wire_messages(), st.data())
def test_any_truncation_or_extension_is_refused(wire: bytes, data: st.DataObject) -> None:
    end = data.draw(st.integers(0, len(wire) - 1), label="end")
    with pytest.raises(ValidationError):
        decode_message(wire[:end])
    extra = data.draw(st.binary(min_size=1, max_size=8), label="extra")
    with pytest.raises(ValidationError):
        decode_message(wire + extra)


@examples(500)
@given(st.binary(max_size=300))
def test_random_bytes_raise_only_validation_errors(data: bytes) -> None:
    with pytest.raises(ValidationError):
        decode_message(data)


@examples(300)
@given(VALUES)
def test_random_cbor_raises_only_validation_errors(value: canonical.Value) -> None:
    with pytest.raises(ValidationError):
        decode_message(canonical.encode(value))


@examples(200)
@given(wire_messages(), st.data())
def test_spliced_messages_raise_only_validation_errors(wire: bytes, data: st.DataObject) -> None:
    # Insertions and deletions shift the structure, unlike in-place replacements.
    start = data.draw(st.integers(0, len(wire)), label="start")
    stop = data.draw(st.integers(start, min(len(wire), start + 8)), label="stop")
    insert = data.draw(st.binary(max_size=8), label="insert")
    spliced = wire[:start] + insert + wire[stop:]
    if spliced == wire:
        return
    with pytest.raises(ValidationError):
        decode_message(spliced)


# --- bodies and messages: valid ones round-trip -----------------------------------------


@examples(300)
@given(BODIES)
def test_body_round_trip(body: Body) -> None:
    data = encode_body(body)
    assert decode_body(body.kind, data) == body
    assert canonical.encode(canonical.decode(data)) == data


@examples(150)
@given(messages())
def test_message_round_trip(message: Message) -> None:
    wire = message.to_bytes()
    decoded = decode_message(wire)
    assert decoded == message
    assert decoded.to_bytes() == wire
    # The parsed header re-encodes to exactly the bytes that were signed.
    assert canonical.encode([decoded.header.to_value(), decoded.signature]) == (
        message.signed_header
    )
    dropped = decode_message(message.without_body().to_bytes())
    assert dropped.id == message.id
    assert dropped.body is None
