"""Signed messages: the header, its signature, the body, and the message id.

The byte layout (normative in docs/protocol.md)::

    header        = canonical CBOR map {v, author, seq, prev, ts, kind, body_hash, body_len}
                    plus an optional ``pow`` nonce (postage, see :mod:`.postage`)
    signature     = Ed25519(author key, SIGNING_CONTEXT || header)
    signed_header = canonical CBOR array [header, signature]
    id            = BLAKE2b-256(signed_header)
    message       = canonical CBOR array [signed_header as bstr, body as bstr or null]

The header commits to the body by hash and length, so a node may drop a body (a delete, a
block, partial replication) and keep ``[signed_header, null]``: the author's chain still
verifies. Everything in this module is pure: bytes in, values out.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Final

import cbor2
from nacl.exceptions import BadSignatureError as _NaclBadSignature
from nacl.signing import SigningKey, VerifyKey

from ..errors import (
    BadSignatureError,
    BodyHashMismatchError,
    DecodeError,
    FutureTimestampError,
    MalformedHeaderError,
    OversizeError,
    UnknownKindError,
    UnsupportedVersionError,
)
from . import canonical, postage
from .bodies import KINDS, Body, Kind, decode_body, encode_body
from .ids import AuthorId, MessageId
from .limits import (
    MAX_BODY_BYTES,
    MAX_KIND_BYTES,
    MAX_MESSAGE_BYTES,
    MAX_SEQ,
    MAX_TS,
    PROTOCOL_VERSION,
)

SIGNING_CONTEXT: Final = b"p2psocial/v1/header\x00"
HEADER_FIELDS: Final = frozenset(
    {"v", "author", "seq", "prev", "ts", "kind", "body_hash", "body_len"}
)
OPTIONAL_HEADER_FIELDS: Final = frozenset({"pow"})
POW_BYTES: Final = 8
_SIG_BYTES: Final = 64
# A canonical [header, signature] array ends with the signature as a 64-byte bstr.
_SIG_PREFIX: Final = b"\x58\x40"


def blake2b_256(data: bytes) -> bytes:
    """BLAKE2b with a 32-byte digest, no key, no personalisation."""
    return hashlib.blake2b(data, digest_size=32).digest()


@dataclass(frozen=True, slots=True)
class Header:
    """The signed part of a message."""

    author: AuthorId
    seq: int
    prev: MessageId | None
    ts: int
    """Milliseconds since the Unix epoch, as the author's clock said."""
    kind: Kind
    body_hash: bytes
    body_len: int
    version: int = PROTOCOL_VERSION
    pow: bytes | None = None
    """The postage nonce (8 bytes), or None when the author paid no postage."""

    def to_value(self) -> dict[str, canonical.Value]:
        """The header as the CBOR map that is signed."""
        value: dict[str, canonical.Value] = {
            "v": self.version,
            "author": self.author.raw,
            "seq": self.seq,
            "prev": None if self.prev is None else self.prev.raw,
            "ts": self.ts,
            "kind": self.kind.value,
            "body_hash": self.body_hash,
            "body_len": self.body_len,
        }
        if self.pow is not None:
            value["pow"] = self.pow
        return value


@dataclass(frozen=True, slots=True)
class Message:
    """A verified message. Instances come only from :func:`sign` and :func:`decode_message`."""

    id: MessageId
    header: Header
    signature: bytes
    signed_header: bytes
    body: Body | None
    """The parsed body, or None when this node does not hold it."""
    body_bytes: bytes | None
    wire: bytes | None = field(default=None, compare=False, repr=False)
    """The encoded message as received, if it was (saves encoding it again)."""

    @property
    def author(self) -> AuthorId:
        """The author, from the header."""
        return self.header.author

    @property
    def seq(self) -> int:
        """The position in the author's chain, from 1."""
        return self.header.seq

    @property
    def kind(self) -> Kind:
        """The kind, from the header."""
        return self.header.kind

    @property
    def postage(self) -> int:
        """The postage paid: leading zero bits of the header's postage hash."""
        return postage.postage_bits(self.signed_header[1 : -(_SIG_BYTES + len(_SIG_PREFIX))])

    def to_bytes(self) -> bytes:
        """The message as it travels and is stored: ``[signed_header, body or null]``."""
        if self.wire is not None:
            return self.wire
        return canonical.encode([self.signed_header, self.body_bytes])

    def without_body(self) -> Message:
        """The same message with its body dropped; it still verifies."""
        return Message(self.id, self.header, self.signature, self.signed_header, None, None)


def sign(
    key: SigningKey,
    *,
    seq: int,
    prev: MessageId | None,
    ts: int,
    body: Body,
    postage_bits: int = 0,
) -> Message:
    """Build and sign a message.

    Args:
        key: The author's signing key.
        seq: Its position in the author's chain, from 1.
        prev: The id of the author's message ``seq - 1``; None exactly when ``seq`` is 1.
        ts: Milliseconds since the Unix epoch.
        body: The body; its kind becomes the header's kind.
        postage_bits: Proof of work to attach: the header gets a ``pow`` nonce that gives
            it at least this many postage bits (:mod:`.postage`); 0 attaches none.

    Returns:
        The signed message, which passes :func:`decode_message`.

    Raises:
        MalformedBodyError, OversizeError: The body breaks its schema.
        MalformedHeaderError: ``seq``, ``prev`` or ``ts`` is out of range.
    """
    body_bytes = encode_body(body)
    header = Header(
        author=AuthorId(bytes(key.verify_key)),
        seq=seq,
        prev=prev,
        ts=ts,
        kind=body.kind,
        body_hash=blake2b_256(body_bytes),
        body_len=len(body_bytes),
    )
    _check_header_ranges(header)
    if postage_bits:
        header = postage.stamp(header, postage_bits)
    header_bytes = canonical.encode(header.to_value())
    signature = key.sign(SIGNING_CONTEXT + header_bytes).signature
    signed_header = canonical.encode([header.to_value(), signature])
    return Message(
        MessageId(blake2b_256(signed_header)), header, signature, signed_header, body, body_bytes
    )


def decode_message(
    data: bytes,
    *,
    now_ms: int | None = None,
    max_skew_ms: int = 0,
    check_signature: bool = True,
) -> Message:
    """Check every rule that a message can be held to on its own, and parse it.

    The checks run cheapest first: size, encoding, header shape, kind, body schema, body
    hash, then the signature. Chain rules (``seq``, ``prev``, forks) need the author's
    history and live in :mod:`p2psocial.core.chain`.

    Args:
        data: The message as it travels: ``[signed_header, body or null]``.
        now_ms: The local clock; when given, a timestamp more than ``max_skew_ms`` ahead
            of it is refused.
        max_skew_ms: Allowed clock skew, with ``now_ms``.
        check_signature: False skips only the signature check, for bytes this node
            verified before storing them (its own log, protected by checksums).

    Returns:
        The verified message.

    Raises:
        ValidationError: One of its subclasses, naming the first rule broken.
    """
    if len(data) > MAX_MESSAGE_BYTES:
        raise OversizeError(f"message is {len(data)} bytes, limit {MAX_MESSAGE_BYTES}")
    outer = canonical.decode(data)
    if (
        not isinstance(outer, list)
        or len(outer) != 2
        or not isinstance(outer[0], bytes)
        or not (outer[1] is None or isinstance(outer[1], bytes))
    ):
        raise DecodeError("message must be [signed_header: bstr, body: bstr or null]")
    signed_header, body_bytes = outer[0], outer[1]
    inner = canonical.decode(signed_header)
    if not isinstance(inner, list) or len(inner) != 2 or not isinstance(inner[0], dict):
        raise DecodeError("signed header must be [header: map, signature: bstr]")
    signature = inner[1]
    if not isinstance(signature, bytes) or len(signature) != _SIG_BYTES:
        raise DecodeError("signature must be a 64-byte bstr")
    header = _parse_header(inner[0])
    if now_ms is not None and header.ts > now_ms + max_skew_ms:
        raise FutureTimestampError(
            f"timestamp is {header.ts - now_ms} ms ahead of this node's clock "
            f"(allowed {max_skew_ms} ms)"
        )
    body: Body | None = None
    if body_bytes is not None:
        if len(body_bytes) != header.body_len or blake2b_256(body_bytes) != header.body_hash:
            raise BodyHashMismatchError("body does not match the header's body_hash/body_len")
        body = decode_body(header.kind, body_bytes)
    # signed_header is canonical, so the header's bytes are its middle: skip the 1-byte
    # array head, stop before the 2-byte bstr head and the 64 signature bytes.
    header_bytes = signed_header[1 : -(_SIG_BYTES + len(_SIG_PREFIX))]
    if check_signature:
        try:
            VerifyKey(header.author.raw).verify(SIGNING_CONTEXT + header_bytes, signature)
        except (_NaclBadSignature, ValueError):
            raise BadSignatureError(
                f"signature does not verify for {header.author.short}"
            ) from None
    return Message(
        MessageId(blake2b_256(signed_header)),
        header,
        signature,
        signed_header,
        body,
        body_bytes,
        bytes(data),
    )


def decode_stored(data: bytes) -> Message:
    """Parse a message this node checked before storing it (its own log, CRC-protected).

    Skips what only untrusted input needs: the canonical-form checks of the envelope and
    header, the body hash and the signature. The body is still parsed by its schema.

    Raises:
        DecodeError: The bytes are not a message at all.
    """
    try:
        signed_header, body_bytes = cbor2.loads(data)
        value, signature = cbor2.loads(signed_header)
        prev = value["prev"]
        header = Header(
            author=AuthorId(value["author"]),
            seq=value["seq"],
            prev=None if prev is None else MessageId(prev),
            ts=value["ts"],
            kind=Kind(value["kind"]),
            body_hash=value["body_hash"],
            body_len=value["body_len"],
            version=value["v"],
            pow=value.get("pow"),
        )
    except (cbor2.CBORDecodeError, ValueError, TypeError, KeyError) as exc:
        raise DecodeError(f"stored record is not a message: {exc}") from None
    body = None if body_bytes is None else decode_body(header.kind, body_bytes)
    return Message(
        MessageId(blake2b_256(signed_header)),
        header,
        signature,
        signed_header,
        body,
        body_bytes,
        bytes(data),
    )


def _parse_header(value: dict[str, canonical.Value]) -> Header:
    version = value.get("v")
    # type() rather than ==: True == 1 in Python, but CBOR true is not the integer 1.
    if type(version) is not int or version != PROTOCOL_VERSION:
        raise UnsupportedVersionError(f"protocol version {version!r} is not supported")
    keys = set(value)
    if keys - OPTIONAL_HEADER_FIELDS != HEADER_FIELDS:
        missing, extra = HEADER_FIELDS - keys, keys - HEADER_FIELDS - OPTIONAL_HEADER_FIELDS
        raise MalformedHeaderError(
            f"header fields wrong (missing {sorted(missing)}, unknown {sorted(extra)})"
        )
    author, seq, prev, ts = value["author"], value["seq"], value["prev"], value["ts"]
    kind, body_hash, body_len = value["kind"], value["body_hash"], value["body_len"]
    if not isinstance(author, bytes) or len(author) != 32:
        raise MalformedHeaderError("header.author must be a 32-byte public key")
    if not isinstance(seq, int) or isinstance(seq, bool):
        raise MalformedHeaderError("header.seq must be an integer")
    if not (prev is None or (isinstance(prev, bytes) and len(prev) == 32)):
        raise MalformedHeaderError("header.prev must be a 32-byte id or null")
    if not isinstance(ts, int) or isinstance(ts, bool):
        raise MalformedHeaderError("header.ts must be an integer")
    if not isinstance(kind, str) or len(kind.encode("utf-8")) > MAX_KIND_BYTES:
        raise MalformedHeaderError(f"header.kind must be text of at most {MAX_KIND_BYTES} bytes")
    if kind not in KINDS:
        raise UnknownKindError(f"unknown kind {kind!r}")
    if not isinstance(body_hash, bytes) or len(body_hash) != 32:
        raise MalformedHeaderError("header.body_hash must be 32 bytes")
    if not isinstance(body_len, int) or isinstance(body_len, bool):
        raise MalformedHeaderError("header.body_len must be an integer")
    # Absent when no postage is paid; never null, so each header has one encoding.
    pow_nonce = value.get("pow")
    if "pow" in value and (not isinstance(pow_nonce, bytes) or len(pow_nonce) != POW_BYTES):
        raise MalformedHeaderError(f"header.pow must be {POW_BYTES} bytes when present")
    assert pow_nonce is None or isinstance(pow_nonce, bytes)  # for mypy: checked above
    header = Header(
        author=AuthorId(author),
        seq=seq,
        prev=None if prev is None else MessageId(prev),
        ts=ts,
        kind=Kind(kind),
        body_hash=body_hash,
        body_len=body_len,
        pow=pow_nonce,
    )
    _check_header_ranges(header)
    return header


def _check_header_ranges(header: Header) -> None:
    for name in ("seq", "ts", "body_len"):
        if type(getattr(header, name)) is not int:
            raise MalformedHeaderError(f"header.{name} must be an integer")
    if not 1 <= header.seq <= MAX_SEQ:
        raise MalformedHeaderError(f"header.seq must be in 1..{MAX_SEQ}")
    if (header.seq == 1) != (header.prev is None):
        raise MalformedHeaderError("header.prev must be null exactly when seq is 1")
    if not 0 <= header.ts <= MAX_TS:
        raise MalformedHeaderError(f"header.ts must be in 0..{MAX_TS}")
    if not 0 <= header.body_len <= MAX_BODY_BYTES:
        raise OversizeError(f"header.body_len must be in 0..{MAX_BODY_BYTES}")
