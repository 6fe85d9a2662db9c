"""Canonical CBOR: the exact bytes of the subset, and every encoding decode must refuse."""

from __future__ import annotations

import pytest

from p2psocial.core import canonical
from p2psocial.errors import DecodeError, NonCanonicalError

# --- encode: exact bytes --------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "hex_"),
    [
        (0, "00"),
        (23, "17"),
        (24, "1818"),
        (255, "18ff"),
        (256, "190100"),
        (65535, "19ffff"),
        (65536, "1a00010000"),
        (2**32 - 1, "1affffffff"),
        (2**32, "1b0000000100000000"),
        (2**64 - 1, "1bffffffffffffffff"),
        (-1, "20"),
        (-24, "37"),
        (-25, "3818"),
        (-(2**63), "3b7fffffffffffffff"),
        (b"", "40"),
        (b"\x01" * 23, "57" + "01" * 23),
        (b"\x01" * 24, "5818" + "01" * 24),
        ("", "60"),
        ("é", "62c3a9"),
        ([], "80"),
        ([1, [2]], "820181" + "02"),
        ({}, "a0"),
        (False, "f4"),
        (True, "f5"),
        (None, "f6"),
    ],
)
def test_encode_gives_the_shortest_form(value: canonical.Value, hex_: str) -> None:
    assert canonical.encode(value).hex() == hex_
    assert canonical.decode(bytes.fromhex(hex_)) == value


def test_encode_sorts_map_keys_by_encoded_bytes() -> None:
    # Shorter keys first (their head byte is smaller), then bytewise.
    value: canonical.Value = {"bb": 1, "a": 2, "b": 3, "ab": 4}
    assert canonical.encode(value).hex() == "a46161026162036261620462626201"


def test_encode_allows_a_key_of_23_bytes() -> None:
    key = "k" * 23
    assert canonical.decode(canonical.encode({key: 1})) == {key: 1}


@pytest.mark.parametrize(
    ("value", "match"),
    [
        (1.5, "float"),
        ((1, 2), "tuple"),
        ({1, 2}, "set"),
        (2**64, "64-bit"),
        (-(2**63) - 1, "64-bit"),
        ({1: 2}, "keys must be text"),
        ({"k" * 24: 1}, "longer than 23"),
        ({"é" * 12: 1}, "longer than 23"),
        ([[[[[[[1]]]]]]], "deeper than 6"),
    ],
)
def test_encode_refuses_values_outside_the_subset(value: object, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        canonical.encode(value)  # type: ignore[arg-type]


# --- decode: what must be refused -------------------------------------------------------


@pytest.mark.parametrize(
    "hex_",
    [
        "1817",  # 23 in one extra byte
        "190017",  # 23 in two
        "1900ff",  # 255 in two
        "1a0000ffff",  # 65535 in four
        "1b00000000ffffffff",  # 2**32-1 in eight
        "3817",  # -24 in one extra byte
        "3b0000000000000000",  # -1 in eight
    ],
)
def test_decode_refuses_long_form_integers(hex_: str) -> None:
    with pytest.raises(NonCanonicalError, match="canonical"):
        canonical.decode(bytes.fromhex(hex_))


@pytest.mark.parametrize(
    "hex_",
    [
        "580141",  # bstr length 1 in one extra byte
        "59000141",  # bstr length 1 in two
        "780161",  # tstr length 1 in one extra byte
        "980101",  # array length 1 in one extra byte
        "b801616101",  # map length 1 in one extra byte
    ],
)
def test_decode_refuses_long_form_lengths(hex_: str) -> None:
    with pytest.raises(NonCanonicalError, match="canonical"):
        canonical.decode(bytes.fromhex(hex_))


def test_decode_refuses_unsorted_map_keys() -> None:
    with pytest.raises(NonCanonicalError, match="canonical"):
        canonical.decode(bytes.fromhex("a2616202616101"))  # {"b": 2, "a": 1}


def test_decode_refuses_length_first_order_violations() -> None:
    # "aa" before "b": bytewise on the text alone, but not on the encoded keys.
    with pytest.raises(NonCanonicalError, match="canonical"):
        canonical.decode(bytes.fromhex("a262616101616202"))


def test_decode_refuses_duplicate_keys() -> None:
    with pytest.raises(DecodeError, match=r"[Dd]uplicate"):
        canonical.decode(bytes.fromhex("a2616101616101"))


@pytest.mark.parametrize(
    "hex_",
    [
        "9f01ff",  # array
        "bf616101ff",  # map
        "5f4101ff",  # bstr
        "7f6161ff",  # tstr
    ],
)
def test_decode_refuses_indefinite_lengths(hex_: str) -> None:
    with pytest.raises(DecodeError, match="indefinite"):
        canonical.decode(bytes.fromhex(hex_))


@pytest.mark.parametrize(
    "hex_",
    [
        "c074323031332d30332d32315432303a30343a30305a",  # 0: date/time text
        "c101",  # 1: epoch time
        "c24101",  # 2: positive bignum 1 (would otherwise decode to an allowed int)
        "c34100",  # 3: negative bignum -1
        "d81e820102",  # 30: rational
        "d9d9f701",  # 55799: self-described CBOR around 1
        "d86401",  # 100: days since epoch
        "d9303901",  # 12345: a tag nobody defines
        "81c101",  # a tag inside an array
    ],
)
def test_decode_refuses_every_tag(hex_: str) -> None:
    with pytest.raises(DecodeError, match="tag"):
        canonical.decode(bytes.fromhex(hex_))


@pytest.mark.parametrize("hex_", ["f93c00", "fa3f800000", "fb3ff0000000000000", "f97e00"])
def test_decode_refuses_floats(hex_: str) -> None:
    with pytest.raises(DecodeError, match="float"):
        canonical.decode(bytes.fromhex(hex_))


@pytest.mark.parametrize("hex_", ["f7", "f0", "f820", "f8ff"])
def test_decode_refuses_other_simple_values(hex_: str) -> None:
    with pytest.raises(DecodeError, match="not allowed"):
        canonical.decode(bytes.fromhex(hex_))


@pytest.mark.parametrize("hex_", ["ff", "1c", "1f", "5c", "fc"])
def test_decode_refuses_reserved_and_break_bytes(hex_: str) -> None:
    with pytest.raises(DecodeError, match="malformed"):
        canonical.decode(bytes.fromhex(hex_))


def test_decode_refuses_trailing_bytes() -> None:
    with pytest.raises(DecodeError, match="1 trailing bytes"):
        canonical.decode(bytes.fromhex("0100"))


@pytest.mark.parametrize("hex_", ["", "18", "1900", "4201", "8201", "a16161"])
def test_decode_refuses_truncated_input(hex_: str) -> None:
    with pytest.raises(DecodeError, match="malformed"):
        canonical.decode(bytes.fromhex(hex_))


def test_decode_refuses_a_huge_declared_length_without_allocating() -> None:
    for head in ("9b", "bb", "5b", "7b"):
        with pytest.raises(DecodeError, match="malformed"):
            canonical.decode(bytes.fromhex(head + "1000000000000000"))


def test_decode_accepts_depth_six_and_refuses_depth_seven() -> None:
    # The top-level item is at depth 0; an array's items one deeper.
    assert canonical.decode(b"\x81" * 6 + b"\x01") == [[[[[[1]]]]]]
    assert canonical.decode(b"\x81" * 6 + b"\x80") == [[[[[[[]]]]]]]
    with pytest.raises(DecodeError, match="deeper than 6"):
        canonical.decode(b"\x81" * 7 + b"\x01")
    with pytest.raises(DecodeError, match="dep"):
        canonical.decode(b"\x81" * 40 + b"\x01")


def test_decode_counts_map_values_as_one_deeper() -> None:
    assert canonical.decode(b"\xa1\x61a" * 6 + b"\x01") is not None
    with pytest.raises(DecodeError, match="deeper than 6"):
        canonical.decode(b"\xa1\x61a" * 7 + b"\x01")


def test_decode_accepts_the_64_bit_range_edges() -> None:
    assert canonical.decode(bytes.fromhex("1bffffffffffffffff")) == 2**64 - 1
    assert canonical.decode(bytes.fromhex("3b7fffffffffffffff")) == -(2**63)


@pytest.mark.parametrize("hex_", ["3b8000000000000000", "3bffffffffffffffff"])
def test_decode_refuses_negative_integers_below_int64(hex_: str) -> None:
    with pytest.raises(DecodeError, match="64-bit"):
        canonical.decode(bytes.fromhex(hex_))


@pytest.mark.parametrize(
    "hex_",
    [
        "a10101",  # int key
        "a1410101",  # bstr key
        "a18001",  # array key
        "a1f501",  # bool key
    ],
)
def test_decode_refuses_non_text_keys(hex_: str) -> None:
    with pytest.raises(DecodeError):
        canonical.decode(bytes.fromhex(hex_))


def test_decode_refuses_keys_longer_than_23_bytes() -> None:
    data = b"\xa1\x78\x18" + b"k" * 24 + b"\x01"
    with pytest.raises(DecodeError, match="longer than 23"):
        canonical.decode(data)


@pytest.mark.parametrize("hex_", ["62c328", "61ff", "63eda080"])  # bad byte, lone surrogate
def test_decode_refuses_invalid_utf8(hex_: str) -> None:
    with pytest.raises(DecodeError, match="malformed"):
        canonical.decode(bytes.fromhex(hex_))
