"""Postage: a proof of work in the header that strangers must pay to reach a node.

A message's *postage* is the number of leading zero bits of::

    BLAKE2b-256(POSTAGE_CONTEXT || header_bytes)

where ``header_bytes`` is the canonical header, including its optional 8-byte ``pow``
nonce. The author varies the nonce until the hash has as many zero bits as it wants to
pay; every reader recomputes one hash to check it. The header binds author, seq, ts and
body hash, so postage paid for one message cannot be reused for another.

How many bits a node requires is local policy (:class:`PostagePolicy`): nothing from the
authors its owner follows, a little from authors they follow, more from everyone else
(docs/protocol.md, "Postage"). Everything here is pure.
"""

from __future__ import annotations

import hashlib
import itertools
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Final

from . import canonical

if TYPE_CHECKING:
    from .message import Header

POSTAGE_CONTEXT: Final = b"p2psocial/v1/postage\x00"
MAX_POSTAGE_BITS: Final = 32
"""The most a policy may ask (2^32 hashes is hours of one core)."""
_NONCE_BYTES: Final = 8
# In a canonical header the pow entry is the key "pow" (0x63 'pow') then a bstr(8) head.
_POW_ENTRY: Final = b"\x63pow\x48"


def postage_bits(header_bytes: bytes) -> int:
    """The postage of a header: leading zero bits of its postage hash (0..256)."""
    digest = hashlib.blake2b(POSTAGE_CONTEXT + header_bytes, digest_size=32).digest()
    value = int.from_bytes(digest, "big")
    return 256 - value.bit_length()


def stamp(header: Header, bits: int) -> Header:
    """``header`` with a ``pow`` nonce that gives it at least ``bits`` of postage.

    Expected cost: 2**bits hashes (about 1 µs each here); the nonces are tried in order
    from 0, so the result is deterministic.

    Raises:
        ValueError: ``bits`` is outside 0..MAX_POSTAGE_BITS.
    """
    if not 0 <= bits <= MAX_POSTAGE_BITS:
        raise ValueError(f"postage bits must be in 0..{MAX_POSTAGE_BITS}, not {bits}")
    data = canonical.encode(replace(header, pow=bytes(_NONCE_BYTES)).to_value())
    at = data.index(_POW_ENTRY) + len(_POW_ENTRY)
    prefix = hashlib.blake2b(POSTAGE_CONTEXT + data[:at], digest_size=32)
    tail = data[at + _NONCE_BYTES :]
    limit = 1 << (256 - bits)
    for n in itertools.count():
        nonce = n.to_bytes(_NONCE_BYTES, "big")
        attempt = prefix.copy()
        attempt.update(nonce)
        attempt.update(tail)
        if int.from_bytes(attempt.digest(), "big") < limit:
            return replace(header, pow=nonce)
    raise AssertionError("unreachable")  # pragma: no cover


@dataclass(frozen=True, slots=True)
class PostagePolicy:
    """The postage a node requires, by the author's distance in its owner's follow graph.

    Distance 0 is the owner, 1 an author the owner follows, 2 an author followed by one of
    those; anything further or unknown is a stranger.
    """

    followed: int = 0
    second: int = 10
    stranger: int = 18

    def __post_init__(self) -> None:
        for name in ("followed", "second", "stranger"):
            bits = getattr(self, name)
            if type(bits) is not int or not 0 <= bits <= MAX_POSTAGE_BITS:
                raise ValueError(f"postage.{name} must be an integer in 0..{MAX_POSTAGE_BITS}")

    def required(self, distance: int | None) -> int:
        """Bits required of an author at ``distance`` (None: not in the graph)."""
        if distance is not None and distance <= 1:
            return 0 if distance == 0 else self.followed
        if distance == 2:
            return self.second
        return self.stranger
