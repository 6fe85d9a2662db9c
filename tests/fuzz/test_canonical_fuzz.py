"""Fuzz canonical CBOR decoding: raw CBOR of every major type and mutated real messages.

tests/core/test_properties.py already checks round trips, every non-canonical encoding of
a value, and short random bytes; these harnesses add CBOR heads of every kind (tags,
floats, simple values, indefinite and lying lengths, nesting past the limit) and byte
edits of real signed messages.
"""

from __future__ import annotations

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from p2psocial.core import canonical
from p2psocial.errors import DecodeError, NonCanonicalError

from . import seeds
from .budget import budget
from .properties import check_canonical
from .strategies import mutated, raw_cbor


@budget(400)
@given(raw_cbor())
@example(bytes.fromhex("9bffffffffffffffff"))  # an array claiming 2**64-1 items
@example(bytes.fromhex("5bffffffffffffffff"))  # a byte string claiming 2**64-1 bytes
@example(bytes.fromhex("c249010000000000000000"))  # bignum 2**64: tag 2
@example(bytes.fromhex("f97e00"))  # half-float NaN
@example(b"\x81" * 7 + b"\x00")  # nested one deeper than MAX_DEPTH
def test_raw_cbor_decodes_canonically_or_is_refused(data: bytes) -> None:
    check_canonical(data)


@budget(400)
@given(mutated(seeds.valid_wires() + seeds.invalid_wires()))
def test_mutated_messages_decode_canonically_or_are_refused(data: bytes) -> None:
    check_canonical(data)


@budget(200)
@given(st.lists(raw_cbor(), min_size=1, max_size=4))
def test_items_inside_a_canonical_array(items: list[bytes]) -> None:
    """Broken items behind a well-formed array head (the shape of every message)."""
    check_canonical(bytes([0x80 | len(items)]) + b"".join(items))


@pytest.mark.parametrize(
    ("data", "error"),
    [
        (b"\x81" * canonical.MAX_DEPTH + b"\x00", None),
        (b"\x81" * (canonical.MAX_DEPTH + 1) + b"\x00", DecodeError),
        (b"\xc1\x00", DecodeError),  # a tag, even the epoch one, is never NonCanonical
        (b"\x18\x00", NonCanonicalError),
        (b"\x7f\x61a\xff", DecodeError),  # indefinite text
    ],
)
def test_limits_of_the_subset(data: bytes, error: type[Exception] | None) -> None:
    if error is None:
        assert check_canonical(data) is not None
    else:
        with pytest.raises(error):
            canonical.decode(data)
