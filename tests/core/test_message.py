"""Signed messages: signing, and one test per validation rule of decode_message.

Every negative test breaks exactly one rule and signs everything else properly, so that
it can only pass when that rule, and not a later one, refuses the message.
"""

from __future__ import annotations

import pytest

from p2psocial.core import canonical
from p2psocial.core.bodies import Kind, Post, Reply
from p2psocial.core.ids import AuthorId, MessageId
from p2psocial.core.limits import MAX_BODY_BYTES, MAX_MESSAGE_BYTES, MAX_SEQ, MAX_TS
from p2psocial.core.message import (
    SIGNING_CONTEXT,
    Message,
    blake2b_256,
    decode_message,
    sign,
)
from p2psocial.errors import (
    BadSignatureError,
    BodyHashMismatchError,
    DecodeError,
    FutureTimestampError,
    MalformedBodyError,
    MalformedHeaderError,
    NonCanonicalError,
    OversizeError,
    UnknownKindError,
    UnsupportedVersionError,
    ValidationError,
)
from tests.factories import (
    BASE_TS,
    TICK_MS,
    ChainBuilder,
    authors,
    body_for,
    cbor_bstr,
    header_value,
    message_bytes,
    message_id,
    resign,
    signed_header_bytes,
    signing_key,
)

KEY = signing_key(1)


@pytest.fixture
def alice() -> ChainBuilder:
    return ChainBuilder(1)


@pytest.fixture
def post(alice: ChainBuilder) -> Message:
    return alice.post("hello")


@pytest.fixture
def second(alice: ChainBuilder, post: Message) -> Message:
    return alice.post("second")


def _with_header(message: Message, **changes: canonical.Value) -> bytes:
    """``message`` re-signed with some header fields changed, body kept."""
    return resign(KEY, header_value(message, **changes), message.body_bytes)


# --- the happy path ---------------------------------------------------------------------


def test_signed_message_decodes_to_the_same_message(post: Message) -> None:
    decoded = decode_message(post.to_bytes())
    assert decoded == post
    assert decoded.body == Post("hello")
    assert decoded.kind is Kind.POST
    assert decoded.seq == 1
    assert decoded.author == AuthorId(bytes(KEY.verify_key))


def test_id_is_blake2b_of_the_signed_header(post: Message) -> None:
    assert post.id.raw == blake2b_256(post.signed_header)
    assert canonical.decode(post.signed_header) == [post.header.to_value(), post.signature]


def test_signature_covers_the_context_and_the_canonical_header(post: Message) -> None:
    header = canonical.encode(post.header.to_value())
    KEY.verify_key.verify(SIGNING_CONTEXT + header, post.signature)
    assert SIGNING_CONTEXT == b"p2psocial/v1/header\x00"


def test_wire_form_is_signed_header_and_body(post: Message) -> None:
    assert canonical.decode(post.to_bytes()) == [post.signed_header, post.body_bytes]


def test_message_without_body_still_verifies(post: Message) -> None:
    dropped = post.without_body()
    assert dropped.body is None
    assert dropped.body_bytes is None
    assert dropped.to_bytes() == canonical.encode([post.signed_header, None])
    decoded = decode_message(dropped.to_bytes())
    assert decoded == dropped
    assert decoded.id == post.id


def test_chain_fields_link_to_the_previous_message(post: Message, second: Message) -> None:
    assert post.header.prev is None
    assert second.header.prev == post.id
    assert second.seq == 2


def test_decoded_header_re_encodes_to_the_signed_bytes(post: Message) -> None:
    decoded = decode_message(post.to_bytes())
    assert canonical.encode([decoded.header.to_value(), decoded.signature]) == post.signed_header


# --- sign() refuses what others would refuse -------------------------------------------


def test_sign_refuses_seq_zero() -> None:
    with pytest.raises(MalformedHeaderError, match="seq"):
        sign(KEY, seq=0, prev=None, ts=0, body=Post("x"))


def test_sign_refuses_prev_on_the_first_message() -> None:
    with pytest.raises(MalformedHeaderError, match="prev"):
        sign(KEY, seq=1, prev=message_id(1), ts=0, body=Post("x"))


def test_sign_refuses_a_missing_prev_after_the_first_message() -> None:
    with pytest.raises(MalformedHeaderError, match="prev"):
        sign(KEY, seq=2, prev=None, ts=0, body=Post("x"))


def test_sign_refuses_a_negative_timestamp() -> None:
    with pytest.raises(MalformedHeaderError, match="ts"):
        sign(KEY, seq=1, prev=None, ts=-1, body=Post("x"))


def test_sign_refuses_a_malformed_body() -> None:
    with pytest.raises(MalformedBodyError, match="empty"):
        sign(KEY, seq=1, prev=None, ts=0, body=Post(" "))


# --- rule: size -------------------------------------------------------------------------


def test_refuses_a_message_over_the_size_limit(post: Message) -> None:
    data = message_bytes(post.signed_header, b"\x00" * (MAX_MESSAGE_BYTES - 200))
    assert len(data) > MAX_MESSAGE_BYTES
    with pytest.raises(OversizeError, match=f"limit {MAX_MESSAGE_BYTES}"):
        decode_message(data)


def test_size_limit_is_inclusive(post: Message) -> None:
    # Exactly at the limit the size rule passes; the body hash rule refuses it instead.
    # The body's bstr head grows from 1 byte (empty) to 3 bytes (256 bytes and more).
    filler = MAX_MESSAGE_BYTES - (len(message_bytes(post.signed_header, b"")) - 1) - 3
    data = message_bytes(post.signed_header, b"\x00" * filler)
    assert len(data) == MAX_MESSAGE_BYTES
    with pytest.raises(BodyHashMismatchError):
        decode_message(data)


# --- rule: the outer array --------------------------------------------------------------


def test_refuses_bytes_that_are_not_cbor() -> None:
    with pytest.raises(DecodeError, match="malformed"):
        decode_message(b"\xff")


def test_refuses_trailing_bytes(post: Message) -> None:
    with pytest.raises(DecodeError, match="trailing"):
        decode_message(post.to_bytes() + b"\x00")


def test_refuses_a_non_canonical_outer_array(post: Message) -> None:
    # The signed header's bstr length written in a longer form than needed.
    assert post.body_bytes is not None
    long_form = b"\x59" + len(post.signed_header).to_bytes(2, "big")
    data = b"\x82" + long_form + post.signed_header + cbor_bstr(post.body_bytes)
    assert len(post.signed_header) < 256  # so the two-byte length is not the shortest
    with pytest.raises(NonCanonicalError):
        decode_message(data)


@pytest.mark.parametrize(
    "outer",
    [
        "not a list",
        ["one"],
        [b"a", b"b", b"c"],
        ["text", None],
        [b"header", True],
        [b"header", 0],
    ],
)
def test_refuses_a_wrong_outer_shape(outer: canonical.Value) -> None:
    with pytest.raises(DecodeError, match=r"message must be \[signed_header"):
        decode_message(canonical.encode(outer))


# --- rule: the signed header ------------------------------------------------------------


def test_refuses_a_signed_header_that_is_not_cbor(post: Message) -> None:
    with pytest.raises(DecodeError, match="malformed"):
        decode_message(message_bytes(b"\xff", post.body_bytes))


def test_refuses_unsorted_header_keys_even_when_signed(post: Message) -> None:
    value = post.header.to_value()
    # Encode each key/value canonically but write the pairs in reverse order.
    pairs = sorted(value.items(), key=lambda kv: canonical.encode(kv[0]), reverse=True)
    header = b"\xa8" + b"".join(canonical.encode(k) + canonical.encode(v) for k, v in pairs)
    with pytest.raises(NonCanonicalError):
        decode_message(resign(KEY, header, post.body_bytes))


@pytest.mark.parametrize(
    "inner",
    [
        [],
        [{"v": 1}],
        [{"v": 1}, b"\x00" * 64, b""],
        [[1], b"\x00" * 64],
        ["header", b"\x00" * 64],
    ],
)
def test_refuses_a_wrong_signed_header_shape(inner: canonical.Value, post: Message) -> None:
    with pytest.raises(DecodeError, match=r"signed header must be \[header"):
        decode_message(message_bytes(canonical.encode(inner), post.body_bytes))


@pytest.mark.parametrize("signature", [b"\x00" * 63, b"\x00" * 65, "sig", None])
def test_refuses_a_signature_that_is_not_64_bytes(
    signature: canonical.Value, post: Message
) -> None:
    signed_header = canonical.encode([post.header.to_value(), signature])
    with pytest.raises(DecodeError, match="64-byte"):
        decode_message(message_bytes(signed_header, post.body_bytes))


# --- rule: version ----------------------------------------------------------------------


@pytest.mark.parametrize("version", [0, 2, -1, 2**64 - 1, "1", b"\x01", None, True])
def test_refuses_any_version_but_the_integer_1(version: canonical.Value, post: Message) -> None:
    with pytest.raises(UnsupportedVersionError, match="version"):
        decode_message(_with_header(post, v=version))


def test_refuses_a_header_without_a_version(post: Message) -> None:
    value = header_value(post)
    del value["v"]
    with pytest.raises(UnsupportedVersionError, match="None"):
        decode_message(resign(KEY, value, post.body_bytes))


def test_version_is_checked_before_the_field_set(post: Message) -> None:
    # A future version may have other fields: it is "unsupported", not "malformed".
    value: dict[str, canonical.Value] = {"v": 2, "something": "else"}
    with pytest.raises(UnsupportedVersionError):
        decode_message(resign(KEY, value, None))


# --- rule: the header's field set -------------------------------------------------------


@pytest.mark.parametrize("field", ["author", "seq", "prev", "ts", "kind", "body_hash", "body_len"])
def test_refuses_a_header_missing_a_field(field: str, post: Message) -> None:
    value = header_value(post)
    del value[field]
    with pytest.raises(MalformedHeaderError, match=f"missing \\['{field}'\\]"):
        decode_message(resign(KEY, value, post.body_bytes))


def test_refuses_a_header_with_an_unknown_field(post: Message) -> None:
    with pytest.raises(MalformedHeaderError, match=r"unknown \['extra'\]"):
        decode_message(_with_header(post, extra=1))


# --- rule: each header field's type -----------------------------------------------------


@pytest.mark.parametrize("author", [b"\x01" * 31, b"\x01" * 33, "p2sa1...", None, 1])
def test_refuses_an_author_that_is_not_32_bytes(author: canonical.Value, post: Message) -> None:
    with pytest.raises(MalformedHeaderError, match=r"header\.author"):
        decode_message(_with_header(post, author=author))


@pytest.mark.parametrize("seq", [True, "1", b"\x01", None])
def test_refuses_a_seq_that_is_not_an_integer(seq: canonical.Value, post: Message) -> None:
    with pytest.raises(MalformedHeaderError, match=r"header\.seq must be an integer"):
        decode_message(_with_header(post, seq=seq))


@pytest.mark.parametrize("prev", [b"\x01" * 31, b"", "id", 0, False])
def test_refuses_a_prev_that_is_not_an_id_or_null(prev: canonical.Value, post: Message) -> None:
    with pytest.raises(MalformedHeaderError, match=r"header\.prev must be"):
        decode_message(_with_header(post, seq=2, prev=prev))


@pytest.mark.parametrize("ts", [True, "0", None, b""])
def test_refuses_a_ts_that_is_not_an_integer(ts: canonical.Value, post: Message) -> None:
    with pytest.raises(MalformedHeaderError, match=r"header\.ts must be an integer"):
        decode_message(_with_header(post, ts=ts))


@pytest.mark.parametrize("kind", [1, b"post", None, "x" * 17])
def test_refuses_a_kind_that_is_not_short_text(kind: canonical.Value, post: Message) -> None:
    with pytest.raises(MalformedHeaderError, match=r"header\.kind"):
        decode_message(_with_header(post, kind=kind))


@pytest.mark.parametrize("kind", ["poll", "Post", "post ", "", "x" * 16])
def test_refuses_an_unknown_kind(kind: str, post: Message) -> None:
    with pytest.raises(UnknownKindError, match="unknown kind"):
        decode_message(_with_header(post, kind=kind))


@pytest.mark.parametrize("body_hash", [b"\x00" * 31, b"\x00" * 64, "hash", None])
def test_refuses_a_body_hash_that_is_not_32_bytes(
    body_hash: canonical.Value, post: Message
) -> None:
    with pytest.raises(MalformedHeaderError, match=r"header\.body_hash"):
        decode_message(_with_header(post, body_hash=body_hash))


@pytest.mark.parametrize("body_len", [True, "9", None])
def test_refuses_a_body_len_that_is_not_an_integer(
    body_len: canonical.Value, post: Message
) -> None:
    with pytest.raises(MalformedHeaderError, match=r"header\.body_len"):
        decode_message(_with_header(post, body_len=body_len))


# --- rule: each header field's range ----------------------------------------------------


@pytest.mark.parametrize("seq", [0, -1, MAX_SEQ + 1, 2**64 - 1])
def test_refuses_a_seq_out_of_range(seq: int, post: Message) -> None:
    with pytest.raises(MalformedHeaderError, match=r"header\.seq must be in"):
        decode_message(_with_header(post, seq=seq, prev=message_id(0).raw))


def test_accepts_the_largest_seq(post: Message) -> None:
    assert decode_message(_with_header(post, seq=MAX_SEQ, prev=message_id(0).raw)).seq == MAX_SEQ


def test_refuses_a_prev_on_the_first_message(post: Message) -> None:
    with pytest.raises(MalformedHeaderError, match="null exactly when seq is 1"):
        decode_message(_with_header(post, prev=message_id(0).raw))


def test_refuses_a_null_prev_after_the_first_message(post: Message) -> None:
    with pytest.raises(MalformedHeaderError, match="null exactly when seq is 1"):
        decode_message(_with_header(post, seq=2, prev=None))


@pytest.mark.parametrize("ts", [-1, MAX_TS + 1])
def test_refuses_a_ts_out_of_range(ts: int, post: Message) -> None:
    with pytest.raises(MalformedHeaderError, match=r"header\.ts must be in"):
        decode_message(_with_header(post, ts=ts))


@pytest.mark.parametrize("ts", [0, MAX_TS])
def test_accepts_the_ts_range_edges(ts: int, post: Message) -> None:
    assert decode_message(_with_header(post, ts=ts)).header.ts == ts


@pytest.mark.parametrize("body_len", [MAX_BODY_BYTES + 1, -1])
def test_refuses_a_body_len_out_of_range(body_len: int, post: Message) -> None:
    with pytest.raises(OversizeError, match=r"header\.body_len"):
        decode_message(_with_header(post, body_len=body_len))


# --- rule: timestamps from the future (local policy) ------------------------------------


def test_refuses_a_timestamp_beyond_the_allowed_skew(post: Message) -> None:
    ts = post.header.ts
    with pytest.raises(FutureTimestampError, match="1 ms ahead"):
        decode_message(post.to_bytes(), now_ms=ts - 1)
    with pytest.raises(FutureTimestampError, match="allowed 500 ms"):
        decode_message(post.to_bytes(), now_ms=ts - 501, max_skew_ms=500)


def test_accepts_a_timestamp_within_the_skew(post: Message) -> None:
    assert decode_message(post.to_bytes(), now_ms=post.header.ts) == post
    assert decode_message(post.to_bytes(), now_ms=post.header.ts - 500, max_skew_ms=500) == post
    assert decode_message(post.to_bytes()) == post  # no clock, no check


# --- rule: the body matches the header --------------------------------------------------


def test_refuses_a_body_that_does_not_match_its_hash(post: Message) -> None:
    other = canonical.encode({"text": "hellp"})  # same length, other bytes
    assert post.body_bytes is not None
    assert len(other) == len(post.body_bytes)
    with pytest.raises(BodyHashMismatchError, match="body_hash"):
        decode_message(message_bytes(post.signed_header, other))


def test_refuses_a_body_whose_length_differs_from_body_len(post: Message) -> None:
    assert post.body_bytes is not None
    body_len = len(post.body_bytes) + 1
    with pytest.raises(BodyHashMismatchError, match="body_len"):
        decode_message(_with_header(post, body_len=body_len))


def test_refuses_an_empty_body(post: Message) -> None:
    with pytest.raises(BodyHashMismatchError):
        decode_message(message_bytes(post.signed_header, b""))


# --- rule: the body's schema (details in test_bodies.py) --------------------------------


def _with_body(value: canonical.Value, kind: str = "post") -> bytes:
    data = canonical.encode(value)
    base = ChainBuilder(1).post("x")
    return resign(
        KEY,
        header_value(base, kind=kind, body_hash=blake2b_256(data), body_len=len(data)),
        data,
    )


def test_refuses_a_body_that_breaks_its_schema() -> None:
    with pytest.raises(MalformedBodyError, match="post body lacks 'text'"):
        decode_message(_with_body({"txt": "hello"}))


def test_refuses_a_body_that_is_not_canonical() -> None:
    data = bytes.fromhex("a16474657874780568656c6c6f")  # {"text": "hello"}, long length
    base = ChainBuilder(1).post("x")
    header = header_value(base, body_hash=blake2b_256(data), body_len=len(data))
    with pytest.raises(NonCanonicalError):
        decode_message(resign(KEY, header, data))


def test_refuses_a_body_of_another_kind() -> None:
    with pytest.raises(MalformedBodyError, match="reply body lacks 'root'"):
        decode_message(_with_body({"text": "hello"}, kind="reply"))


def test_a_dropped_body_is_not_checked_against_the_schema() -> None:
    data, body_hash, body_len = body_for({"txt": "never seen"})
    base = ChainBuilder(1).post("x")
    wire = resign(KEY, header_value(base, body_hash=body_hash, body_len=body_len), None)
    assert decode_message(wire).body is None
    with pytest.raises(MalformedBodyError):
        decode_message(
            resign(KEY, header_value(base, body_hash=body_hash, body_len=body_len), data)
        )


# --- rule: the signature ---------------------------------------------------------------


def test_refuses_a_flipped_signature_bit(post: Message) -> None:
    signature = bytearray(post.signature)
    signature[0] ^= 1
    signed_header = canonical.encode([post.header.to_value(), bytes(signature)])
    with pytest.raises(BadSignatureError, match=post.author.short):
        decode_message(message_bytes(signed_header, post.body_bytes))


def test_refuses_a_signature_by_another_key(post: Message) -> None:
    header = canonical.encode(post.header.to_value())
    with pytest.raises(BadSignatureError):
        decode_message(message_bytes(signed_header_bytes(signing_key(2), header), post.body_bytes))


def test_refuses_a_signature_without_the_context(post: Message) -> None:
    header = canonical.encode(post.header.to_value())
    signature = KEY.sign(header).signature
    signed_header = canonical.encode([post.header.to_value(), signature])
    with pytest.raises(BadSignatureError):
        decode_message(message_bytes(signed_header, post.body_bytes))


def test_refuses_a_changed_header_field(post: Message) -> None:
    value = header_value(post, ts=post.header.ts + 1)
    signed_header = canonical.encode([value, post.signature])
    with pytest.raises(BadSignatureError):
        decode_message(message_bytes(signed_header, post.body_bytes))


def test_refuses_an_author_that_is_not_a_curve_point(post: Message) -> None:
    with pytest.raises(BadSignatureError):
        decode_message(_with_header(post, author=b"\xff" * 32))


def test_signature_is_checked_even_without_a_body(post: Message) -> None:
    value = header_value(post, ts=post.header.ts + 1)
    signed_header = canonical.encode([value, post.signature])
    with pytest.raises(BadSignatureError):
        decode_message(message_bytes(signed_header, None))


# --- every kind signs and decodes -------------------------------------------------------


def test_every_kind_round_trips(alice: ChainBuilder) -> None:
    bob = ChainBuilder(2)
    post = alice.post("hi @bob", mentions=[bob])
    reply = bob.reply(post, "hi alice")
    messages = [
        post,
        reply,
        alice.reply(reply, "nested"),
        bob.repost(post),
        bob.react(post),
        alice.follow(bob),
        alice.unfollow(bob),
        alice.profile("Alice", "bio"),
        alice.delete(post),
        alice.block(bob),
        alice.unblock(bob),
        bob.moderation_list("spam", [(alice, "too loud"), (post, "off topic")]),
    ]
    assert {m.kind for m in messages} == set(Kind)
    for message in messages:
        assert decode_message(message.to_bytes()) == message
    nested = messages[2].body
    assert isinstance(nested, Reply)
    assert nested.root == post.id
    assert nested.parent == reply.id


def test_every_error_is_a_validation_error() -> None:
    for error in (
        DecodeError,
        NonCanonicalError,
        OversizeError,
        UnsupportedVersionError,
        MalformedHeaderError,
        UnknownKindError,
        MalformedBodyError,
        BodyHashMismatchError,
        BadSignatureError,
        FutureTimestampError,
    ):
        assert issubclass(error, ValidationError)
        assert error.code.startswith("invalid.")


def test_message_ids_differ_per_message(alice: ChainBuilder) -> None:
    messages = alice.extend(5)
    assert len({m.id for m in messages}) == 5
    assert all(isinstance(m.id, MessageId) for m in messages)


# --- the factories the other suites rely on --------------------------------------------


def test_factories_build_linked_deterministic_chains() -> None:
    alice, bob = authors(2)
    assert alice.author == ChainBuilder(1).author != bob.author
    post = alice.post("hello")
    reply = bob.reply(post, "hi")
    nested = alice.reply(reply, "again")
    assert [m.seq for m in alice.messages] == [1, 2]
    assert alice.messages[1].header.prev == post.id
    assert alice.messages[1].header.ts == post.header.ts + TICK_MS
    assert post.header.ts == BASE_TS
    assert isinstance(nested.body, Reply)
    assert (nested.body.root, nested.body.parent) == (post.id, reply.id)
    assert authors(1)[0].post("hello").to_bytes() == post.to_bytes()


def test_factories_sign_off_chain_messages_without_touching_the_chain() -> None:
    alice = ChainBuilder(1)
    alice.extend(2)
    fork = alice.fork(2)
    assert alice.seq == 2
    assert fork.seq == 2
    assert fork.header.prev == alice.messages[0].id
    assert fork.id != alice.messages[1].id
    with pytest.raises(ValueError, match="no message at seq 4"):
        alice.sign_at(5, Post("far ahead"))
