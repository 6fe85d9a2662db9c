"""Bech32m (BIP 350) and the author and message ids built on it."""

from __future__ import annotations

import pytest

from p2psocial.core import bech32
from p2psocial.core.ids import AuthorId, MessageId
from p2psocial.errors import InvalidIdError
from tests.factories import author_id, message_id

# --- bech32m: the official BIP-350 vectors ----------------------------------------------

BIP350_VALID = [
    "A1LQFN3A",
    "a1lqfn3a",
    "an83characterlonghumanreadablepartthatcontainsthetheexcludedcharactersbioandnumber11sg7hg6",
    "abcdef1l7aum6echk45nj3s0wdvt2fg8x9yrzpqzd3ryx",
    "11" + "l" * 83 + "udsr8",  # 90 characters
    "split1checkupstagehandshakeupstreamerranterredcaperredlc445v",
    "?1v759aa",
]

# Each with the BIP's reason. Our decoder always takes the expected prefix; each string is
# tried against its own prefix (everything before the last "1"), lowercased.
BIP350_INVALID = [
    ("qyrz8wqd2c9m", "no separator character"),
    ("1qyrz8wqd2c9m", "empty HRP"),
    ("y1b0jsk6g", "invalid data character"),
    ("lt1igcx5c0", "invalid data character"),
    ("in1muywd", "too short checksum"),
    ("mm1crxm3i", "invalid character in checksum"),
    ("au1s5cgom", "invalid character in checksum"),
    ("M1VUXWEZ", "checksum calculated with uppercase form of HRP"),
    ("16plkw9", "empty HRP"),
    ("1p2gdwpf", "empty HRP"),
]
# The BIP's other invalid vectors fail for an HRP character out of range (0x20, 0x7f,
# 0x80) or for a total length over 90. Neither can matter here: the prefix is always our
# own "p2sa" or "p2sm", and an id has exactly 32 bytes (63 characters); both are covered
# by test_parse_refuses_the_wrong_prefix and test_parse_refuses_the_wrong_length.


def _own_hrp(text: str) -> str:
    return text[: max(text.rfind("1"), 0)].lower()


@pytest.mark.parametrize("text", BIP350_VALID)
def test_bip350_valid_strings_have_a_valid_checksum(text: str) -> None:
    hrp = _own_hrp(text)
    groups = [bech32.CHARSET.index(c) for c in text.lower()[len(hrp) + 1 :]]
    assert bech32._polymod([*bech32._hrp_expand(hrp), *groups]) == bech32._BECH32M_CONST


@pytest.mark.parametrize(
    "text",
    [t for t in BIP350_VALID if 5 * (len(t) - len(_own_hrp(t)) - 7) % 8 == 0],
)
def test_bip350_valid_strings_decode_and_encode_back(text: str) -> None:
    # Only the vectors whose data part is whole bytes: "11lll..." ends in nonzero padding
    # bits, which a byte-oriented decoder rightly refuses.
    hrp = _own_hrp(text)
    assert bech32.encode(hrp, bech32.decode(text, hrp)) == text.lower()


@pytest.mark.parametrize(("text", "reason"), BIP350_INVALID)
def test_bip350_invalid_strings_are_refused(text: str, reason: str) -> None:
    with pytest.raises(bech32.Bech32Error):
        bech32.decode(text, _own_hrp(text) or "a")


def test_bech32_uses_the_bech32m_constant() -> None:
    # The same data with the original bech32 constant (1) must not verify.
    assert bech32._BECH32M_CONST == 0x2BC830A3
    plain_bech32 = "a12uel5l"  # a valid BIP-173 (bech32) string
    with pytest.raises(bech32.Bech32Error, match="checksum"):
        bech32.decode(plain_bech32, "a")


def test_bech32_refuses_mixed_case() -> None:
    text = str(author_id(1))
    mixed = text[:10] + text[10:].upper()
    with pytest.raises(bech32.Bech32Error, match="mixed"):
        bech32.decode(mixed, "p2sa")
    assert bech32.decode(text.upper(), "p2sa") == author_id(1).raw


def test_bech32_refuses_nonzero_padding() -> None:
    # One byte is 8 bits in two groups: 2 padding bits, which must be zero.
    good = bech32.encode("x", b"\xff")
    groups = [bech32.CHARSET.index(c) for c in good[2:-6]]
    groups[-1] |= 1
    bad = bech32.encode("x", b"")[:2] + "".join(bech32.CHARSET[g] for g in groups)
    with pytest.raises(bech32.Bech32Error):
        bech32.decode(bad + "qqqqqq", "x")
    with pytest.raises(bech32.Bech32Error, match="padding"):
        bech32.from_5bit(groups)


@pytest.mark.parametrize("data", [b"", b"\x00", b"\xff" * 5, bytes(range(32)), b"\x80" * 33])
def test_5bit_regrouping_round_trips(data: bytes) -> None:
    assert bech32.from_5bit(bech32.to_5bit(data)) == data


# --- ids: the text form -----------------------------------------------------------------


@pytest.mark.parametrize("cls", [AuthorId, MessageId])
@pytest.mark.parametrize("raw", [bytes(32), b"\xff" * 32, bytes(range(32))])
def test_id_text_round_trip(cls: type[AuthorId] | type[MessageId], raw: bytes) -> None:
    text = str(cls(raw))
    assert len(text) == 63
    assert text.startswith(cls.HRP + "1")
    assert text == text.lower()
    assert cls.parse(text) == cls(raw)


def test_id_text_of_known_bytes() -> None:
    assert str(AuthorId(bytes(32))) == "p2sa1" + "q" * 52 + "59c2f0"
    assert str(MessageId(bytes(32))).startswith("p2sm1" + "q" * 52)


def test_parse_accepts_upper_case_and_surrounding_space() -> None:
    text = str(author_id(1))
    assert AuthorId.parse(f"  {text.upper()}\n") == author_id(1)


def test_parse_refuses_mixed_case() -> None:
    text = str(author_id(1))
    position = next(i for i, c in enumerate(text) if i > 4 and c.isalpha())
    mixed = text[:position] + text[position].upper() + text[position + 1 :]
    with pytest.raises(InvalidIdError, match="mixed"):
        AuthorId.parse(mixed)


def test_parse_refuses_the_wrong_prefix() -> None:
    with pytest.raises(InvalidIdError, match=r"not a valid author id.*expected 'p2sa'"):
        AuthorId.parse(str(MessageId(author_id(1).raw)))
    with pytest.raises(InvalidIdError, match=r"not a valid message id.*expected 'p2sm'"):
        MessageId.parse(str(author_id(1)))


@pytest.mark.parametrize("length", [0, 1, 31, 33, 64])
def test_parse_refuses_the_wrong_length(length: int) -> None:
    with pytest.raises(InvalidIdError, match=r"wrong length|padding"):
        AuthorId.parse(bech32.encode("p2sa", b"\x01" * length))


@pytest.mark.parametrize("text", ["", "p2sa", "p2sa1", "hello", "p2sa1qqqq", "p2sa1bio"])
def test_parse_refuses_garbage(text: str) -> None:
    with pytest.raises(InvalidIdError):
        AuthorId.parse(text)


def test_checksum_catches_every_single_character_typo() -> None:
    text = str(message_id(7))
    for position in range(len("p2sm1"), len(text)):
        for char in bech32.CHARSET:
            if char == text[position]:
                continue
            typo = text[:position] + char + text[position + 1 :]
            with pytest.raises(InvalidIdError):
                MessageId.parse(typo)


def test_checksum_catches_swapped_neighbours() -> None:
    text = str(message_id(7))
    for position in range(len("p2sm1"), len(text) - 1):
        a, b = text[position], text[position + 1]
        if a == b:
            continue
        with pytest.raises(InvalidIdError):
            MessageId.parse(text[:position] + b + a + text[position + 2 :])


def test_id_must_be_32_bytes() -> None:
    with pytest.raises(ValueError, match="must be 32 bytes, got 31"):
        AuthorId(bytes(31))


def test_ids_of_different_types_are_not_equal() -> None:
    raw = bytes(32)
    assert AuthorId(raw) != MessageId(raw)  # type: ignore[comparison-overlap]
    assert AuthorId(raw) == AuthorId(raw)
    assert len({AuthorId(raw), AuthorId(raw)}) == 1


# --- short form and prefixes ------------------------------------------------------------


def test_short_form_is_the_prefix_and_eight_characters() -> None:
    aid = author_id(1)
    assert aid.short == str(aid)[:13]
    assert len(aid.short) == len("p2sa1") + 8
    assert repr(aid) == f"AuthorId({aid.short!r})"


def test_looks_like() -> None:
    assert AuthorId.looks_like(author_id(1).short)
    assert AuthorId.looks_like(" P2SA1QQ")
    assert not AuthorId.looks_like(message_id(1).short)
    assert not MessageId.looks_like("p2sa1qq")
    assert not AuthorId.looks_like("alice")


def _in_range(raw: bytes, low: bytes, high: bytes | None) -> bool:
    return low <= raw and (high is None or raw < high)


@pytest.mark.parametrize("seed", range(5))
def test_short_form_range_holds_its_id(seed: int) -> None:
    aid = author_id(seed)
    low, high = AuthorId.prefix_range(aid.short)
    assert _in_range(aid.raw, low, high)
    assert high is not None
    # 40 bits known: the range is exactly 2**(256-40) ids wide.
    assert int.from_bytes(high, "big") - int.from_bytes(low, "big") == 2 ** (256 - 40)


@pytest.mark.parametrize("seed", range(3))
def test_every_prefix_length_selects_its_id(seed: int) -> None:
    mid = message_id(seed)
    text = str(mid)
    for end in range(len("p2sm1") + 1, len(text) - 6 + 1):
        low, high = MessageId.prefix_range(text[:end])
        assert _in_range(mid.raw, low, high), end


def test_prefix_range_all_zero() -> None:
    low, high = AuthorId.prefix_range("p2sa1q")
    assert low == bytes(32)
    assert high == bytes([0x08]) + bytes(31)  # first 5 bits known: 00000


def test_prefix_range_all_ones_runs_to_the_end() -> None:
    low, high = AuthorId.prefix_range("p2sa1l")  # 11111
    assert low == bytes([0xF8]) + bytes(31)
    assert high is None
    low, high = AuthorId.prefix_range("p2sa1" + "l" * 52)
    assert low == b"\xff" * 32
    assert high is None


def test_prefix_range_full_length_selects_one_id() -> None:
    for raw in (bytes(32), b"\x12" * 32, b"\xff" * 31 + b"\xfe"):
        data = str(AuthorId(raw))[: len("p2sa1") + 52]  # without the checksum
        low, high = AuthorId.prefix_range(data)
        assert low == raw
        assert high == (int.from_bytes(raw, "big") + 1).to_bytes(32, "big")


def test_prefix_range_ignores_case() -> None:
    assert AuthorId.prefix_range("P2SA1QY35") == AuthorId.prefix_range("p2sa1qy35")


def test_prefix_range_neighbours_do_not_overlap() -> None:
    _, high = AuthorId.prefix_range("p2sa1qq")
    low, _ = AuthorId.prefix_range("p2sa1qp")  # "p" is the next value after "q"
    assert high == low


@pytest.mark.parametrize(
    "text",
    [
        "p2sa1",  # nothing after the separator
        "p2sm1qq",  # the other id type
        "p2sa",  # no separator
        "p2sa1qqb",  # "b" is not in the alphabet
        "p2sa1" + "q" * 53,  # longer than an id's data
        "alice",
    ],
)
def test_prefix_range_refuses_what_is_not_a_prefix(text: str) -> None:
    with pytest.raises(InvalidIdError, match="not a valid author id"):
        AuthorId.prefix_range(text)
