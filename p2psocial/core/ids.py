"""Author and message ids and their one text form.

An author id is the author's 32-byte Ed25519 public key; a message id is the 32-byte
BLAKE2b-256 hash of the message's signed header. Both have one text form, used in the
command line, JSON and docs alike: bech32m with the prefix ``p2sa`` (author) or ``p2sm``
(message), for example ``p2sa1...`` (63 characters in all). The short form for display is
the prefix and the first 8 data characters (40 bits), e.g. ``p2sa1qy352euf``; wherever a
user types an id, a unique prefix like that is accepted too.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar, Final, Self

from ..errors import InvalidIdError
from . import bech32

ID_BYTES: Final = 32
ID_TEXT_CHARS: Final = 58
"""Data and checksum characters after the ``1`` of a full id (52 + 6)."""
SHORT_CHARS: Final = 8


@dataclass(frozen=True, slots=True)
class _Id:
    raw: bytes
    HRP: ClassVar[str] = ""
    WHAT: ClassVar[str] = ""

    def __post_init__(self) -> None:
        if len(self.raw) != ID_BYTES:
            raise ValueError(f"{self.WHAT} id must be {ID_BYTES} bytes, got {len(self.raw)}")

    def __str__(self) -> str:
        return bech32.encode(self.HRP, self.raw)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.short!r})"

    @property
    def short(self) -> str:
        """The display form: prefix and the first 8 data characters."""
        return str(self)[: len(self.HRP) + 1 + SHORT_CHARS]

    @classmethod
    def parse(cls, text: str) -> Self:
        """Parse the full text form.

        Raises:
            InvalidIdError: ``text`` is not a complete, checksummed id of this type.
        """
        text = text.strip()
        try:
            raw = bech32.decode(text, cls.HRP)
        except bech32.Bech32Error as exc:
            raise InvalidIdError(f"not a valid {cls.WHAT} id {text!r}: {exc}") from None
        if len(raw) != ID_BYTES:
            raise InvalidIdError(f"not a valid {cls.WHAT} id {text!r}: wrong length")
        return cls(raw)

    @classmethod
    def looks_like(cls, text: str) -> bool:
        """Whether ``text`` starts with this id type's prefix (full id or short form)."""
        return text.strip().lower().startswith(cls.HRP + "1")

    @classmethod
    def prefix_range(cls, text: str) -> tuple[bytes, bytes | None]:
        """The raw-id range ``[low, high)`` that a text prefix like the short form selects.

        ``high`` is None when the range runs to the end of the id space.

        Raises:
            InvalidIdError: ``text`` is not a prefix of this id type's text form.
        """
        text = text.strip()
        try:
            packed, nbits = bech32.decode_prefix(text, cls.HRP)
        except bech32.Bech32Error as exc:
            raise InvalidIdError(f"not a valid {cls.WHAT} id {text!r}: {exc}") from None
        if nbits == 0 or nbits > ID_BYTES * 8 + 4:
            raise InvalidIdError(f"not a valid {cls.WHAT} id {text!r}: wrong length")
        nbits = min(nbits, ID_BYTES * 8)
        value = int.from_bytes(packed, "big") >> (len(packed) * 8 - nbits)
        span = ID_BYTES * 8 - nbits
        low = (value << span).to_bytes(ID_BYTES, "big")
        top = (value + 1) << span
        high = None if top >= 1 << (ID_BYTES * 8) else top.to_bytes(ID_BYTES, "big")
        return low, high


@dataclass(frozen=True, slots=True, repr=False)
class AuthorId(_Id):
    """An author: the 32-byte Ed25519 public key that signs their messages."""

    HRP: ClassVar[str] = "p2sa"
    WHAT: ClassVar[str] = "author"


@dataclass(frozen=True, slots=True, repr=False)
class MessageId(_Id):
    """A message: BLAKE2b-256 of its signed header."""

    HRP: ClassVar[str] = "p2sm"
    WHAT: ClassVar[str] = "message"
