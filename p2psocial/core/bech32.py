"""Bech32m (BIP 350): the text form of author and message ids.

Bech32m strings are lowercase letters and digits only (no ``+``, ``/`` or look-alike
characters), so they survive copy-paste, a double-click selection and a phone keyboard,
and their six-character checksum catches any typo of up to four characters. This module
is the plain algorithm; :mod:`p2psocial.core.ids` gives it p2psocial's prefixes.
"""

from __future__ import annotations

from typing import Final

CHARSET: Final = "qpzry9x8gf2tvdw0s3jn54khce6mua7l"
_CHAR_VALUE: Final = {c: i for i, c in enumerate(CHARSET)}
_BECH32M_CONST: Final = 0x2BC830A3
_GENERATOR: Final = (0x3B6A57B2, 0x26508E6D, 0x1EA119FA, 0x3D4233DD, 0x2A1462B3)


class Bech32Error(ValueError):
    """A string is not valid bech32m, or not for the expected prefix."""


def _polymod(values: list[int]) -> int:
    chk = 1
    for value in values:
        top = chk >> 25
        chk = (chk & 0x1FFFFFF) << 5 ^ value
        for i, gen in enumerate(_GENERATOR):
            if (top >> i) & 1:
                chk ^= gen
    return chk


def _hrp_expand(hrp: str) -> list[int]:
    return [ord(c) >> 5 for c in hrp] + [0] + [ord(c) & 31 for c in hrp]


def to_5bit(data: bytes) -> list[int]:
    """Regroup bytes into 5-bit groups, zero-padding the last one."""
    acc = bits = 0
    out: list[int] = []
    for byte in data:
        acc = (acc << 8) | byte
        bits += 8
        while bits >= 5:
            bits -= 5
            out.append((acc >> bits) & 31)
    if bits:
        out.append((acc << (5 - bits)) & 31)
    return out


def from_5bit(groups: list[int]) -> bytes:
    """Regroup 5-bit groups into bytes; the padding must be fewer than 5 zero bits.

    Raises:
        Bech32Error: The padding is too long or not zero.
    """
    acc = bits = 0
    out = bytearray()
    for group in groups:
        acc = (acc << 5) | group
        bits += 5
        if bits >= 8:
            bits -= 8
            out.append((acc >> bits) & 0xFF)
    if bits >= 5 or (acc << (8 - bits)) & 0xFF:
        raise Bech32Error("invalid padding")
    return bytes(out)


def encode(hrp: str, data: bytes) -> str:
    """Encode ``data`` as a bech32m string with human-readable prefix ``hrp``."""
    groups = to_5bit(data)
    poly = _polymod([*_hrp_expand(hrp), *groups, 0, 0, 0, 0, 0, 0]) ^ _BECH32M_CONST
    checksum = [(poly >> 5 * (5 - i)) & 31 for i in range(6)]
    return hrp + "1" + "".join(CHARSET[g] for g in groups + checksum)


def decode(text: str, hrp: str) -> bytes:
    """Decode a bech32m string that must carry prefix ``hrp``.

    Upper case is accepted (bech32 allows an all-upper-case form); mixed case is not.

    Raises:
        Bech32Error: The string is malformed, has another prefix, or fails its checksum.
    """
    if text != text.lower() and text != text.upper():
        raise Bech32Error("mixed upper and lower case")
    text = text.lower()
    sep = text.rfind("1")
    if sep < 1:
        raise Bech32Error("no '1' separator after the prefix")
    if text[:sep] != hrp:
        raise Bech32Error(f"prefix is {text[:sep]!r}, expected {hrp!r}")
    try:
        groups = [_CHAR_VALUE[c] for c in text[sep + 1 :]]
    except KeyError as exc:
        raise Bech32Error(f"character {exc.args[0]!r} is not in the bech32 alphabet") from None
    if len(groups) < 6:
        raise Bech32Error("too short for a checksum")
    if _polymod([*_hrp_expand(hrp), *groups]) != _BECH32M_CONST:
        raise Bech32Error("checksum mismatch (a typo?)")
    return from_5bit(groups[:-6])


def decode_prefix(text: str, hrp: str) -> tuple[bytes, int]:
    """Decode the start of a bech32m string that has no checksum yet (an id prefix).

    Returns:
        The known leading bits packed into bytes (the last byte zero-padded), and how many
        leading bits are known.

    Raises:
        Bech32Error: The prefix or a character is wrong.
    """
    text = text.lower()
    head = hrp + "1"
    if not text.startswith(head):
        raise Bech32Error(f"expected an id starting with {head!r}")
    try:
        groups = [_CHAR_VALUE[c] for c in text[len(head) :]]
    except KeyError as exc:
        raise Bech32Error(f"character {exc.args[0]!r} is not in the bech32 alphabet") from None
    nbits = 5 * len(groups)
    acc = 0
    for group in groups:
        acc = (acc << 5) | group
    nbytes = (nbits + 7) // 8
    acc <<= nbytes * 8 - nbits
    return acc.to_bytes(nbytes, "big"), nbits
