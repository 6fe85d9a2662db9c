"""Postage: the proof of work in the header, and the policy that asks for it."""

from __future__ import annotations

import dataclasses
import hashlib

import pytest
from nacl.signing import SigningKey

from p2psocial.core import canonical
from p2psocial.core.bodies import Post
from p2psocial.core.message import decode_message, sign
from p2psocial.core.postage import (
    MAX_POSTAGE_BITS,
    POSTAGE_CONTEXT,
    PostagePolicy,
    postage_bits,
    stamp,
)
from p2psocial.errors import MalformedHeaderError
from tests.factories import message_bytes, signed_header_bytes

KEY = SigningKey(b"\x07" * 32)
TS = 1_700_000_000_000


def test_a_stamped_message_has_at_least_the_bits_asked_and_verifies() -> None:
    for bits in (1, 6, 12):
        message = sign(KEY, seq=1, prev=None, ts=TS, body=Post("hi"), postage_bits=bits)
        decoded = decode_message(message.to_bytes())
        assert decoded.header.pow is not None
        assert len(decoded.header.pow) == 8
        assert decoded.postage >= bits
        assert decoded.id == message.id


def test_postage_is_the_leading_zero_bits_of_the_context_hash() -> None:
    message = sign(KEY, seq=1, prev=None, ts=TS, body=Post("hi"), postage_bits=10)
    header_bytes = canonical.encode(message.header.to_value())
    digest = hashlib.blake2b(POSTAGE_CONTEXT + header_bytes, digest_size=32).digest()
    bits = "".join(f"{byte:08b}" for byte in digest)
    zeros = len(bits) - len(bits.lstrip("0"))
    assert postage_bits(header_bytes) == zeros == message.postage
    assert zeros >= 10


def test_stamping_is_deterministic_and_minimal() -> None:
    header = sign(KEY, seq=1, prev=None, ts=TS, body=Post("hi")).header
    first, second = stamp(header, 8), stamp(header, 8)
    assert first == second
    assert first.pow is not None
    n = int.from_bytes(first.pow, "big")
    # Every smaller nonce falls short: the search starts at 0 and stops at the first hit.
    for smaller in range(n):
        trial = dataclasses.replace(header, pow=smaller.to_bytes(8, "big"))
        assert postage_bits(canonical.encode(trial.to_value())) < 8


def test_postage_is_bound_to_the_message() -> None:
    """The same nonce on another header (another ts) is worth nothing in general."""
    stamped = sign(KEY, seq=1, prev=None, ts=TS, body=Post("hi"), postage_bits=14)
    other = sign(KEY, seq=1, prev=None, ts=TS + 1, body=Post("hi")).header
    moved = dataclasses.replace(other, pow=stamped.header.pow)
    assert postage_bits(canonical.encode(moved.to_value())) < 14


def test_unstamped_header_has_no_pow_field() -> None:
    message = sign(KEY, seq=1, prev=None, ts=TS, body=Post("hi"))
    assert "pow" not in message.header.to_value()
    assert decode_message(message.to_bytes()).header.pow is None


@pytest.mark.parametrize("bad", [b"", b"\x00" * 7, b"\x00" * 9, 5, "nonce", None])
def test_refuses_a_pow_that_is_not_8_bytes(bad: canonical.Value) -> None:
    message = sign(KEY, seq=1, prev=None, ts=TS, body=Post("hi"))
    header = canonical.encode({**message.header.to_value(), "pow": bad})
    data = message_bytes(signed_header_bytes(KEY, header), message.body_bytes)
    with pytest.raises(MalformedHeaderError, match=r"header\.pow must be 8 bytes"):
        decode_message(data)


@pytest.mark.parametrize("bits", [-1, MAX_POSTAGE_BITS + 1])
def test_stamp_refuses_bits_out_of_range(bits: int) -> None:
    header = sign(KEY, seq=1, prev=None, ts=TS, body=Post("hi")).header
    with pytest.raises(ValueError, match="postage bits"):
        stamp(header, bits)


def test_policy_asks_more_the_further_the_author() -> None:
    policy = PostagePolicy(followed=0, second=10, stranger=18)
    assert policy.required(0) == 0
    assert policy.required(1) == 0
    assert policy.required(2) == 10
    assert policy.required(3) == 18
    assert policy.required(None) == 18
    assert PostagePolicy(followed=4).required(1) == 4
    assert PostagePolicy(followed=4).required(0) == 0  # never of myself


@pytest.mark.parametrize("bad", [-1, MAX_POSTAGE_BITS + 1, True, 2.0])
def test_policy_refuses_bits_out_of_range(bad: object) -> None:
    with pytest.raises(ValueError, match=r"postage\.stranger"):
        PostagePolicy(stranger=bad)  # type: ignore[arg-type]
