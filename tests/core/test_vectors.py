"""The test vectors of docs/protocol.md, checked byte for byte.

docs/vectors.json holds, for two fixed keys and fixed timestamps, one message of every
kind forming two valid chains, and negative vectors that each break one rule. Ed25519 is
deterministic, so signing the same fields again must give the same bytes.

Regenerate the file (only when the format changes on purpose) with::

    PYTHONPATH=. python tests/core/test_vectors.py
"""

from __future__ import annotations

import itertools
import json
import re
import struct
import zlib
from pathlib import Path
from typing import Any, Final

import pytest
from nacl.signing import SigningKey

from p2psocial import errors
from p2psocial.core import canonical
from p2psocial.core.bodies import (
    Block,
    Body,
    Delete,
    Follow,
    Kind,
    ListEntry,
    ModerationList,
    Post,
    Profile,
    Reaction,
    Reply,
    Repost,
    Unblock,
    Unfollow,
    encode_body,
)
from p2psocial.core.ids import AuthorId, MessageId
from p2psocial.core.limits import MAX_MESSAGE_BYTES, MAX_TS
from p2psocial.core.message import SIGNING_CONTEXT, Message, blake2b_256, decode_message, sign
from p2psocial.core.postage import POSTAGE_CONTEXT, postage_bits
from p2psocial.core.text import extract_tags
from tests.factories import cbor_bstr, cbor_head, message_bytes, signed_header_bytes

ROOT: Final = Path(__file__).resolve().parents[2]
VECTORS_PATH: Final = ROOT / "docs" / "vectors.json"
PROTOCOL_PATH: Final = ROOT / "docs" / "protocol.md"

SEEDS: Final = {"alice": b"\x01" * 32, "bob": b"\x02" * 32}
START_TS: Final = 1_700_000_000_000  # 2023-11-14T22:13:20Z
TICK_MS: Final = 60_000
POSTAGE_BITS: Final = 12

RECORD_MAGIC: Final = b"P2SR"
SEGMENT_HEADER: Final = b"p2slog\x00\x01"
EXPORT_HEADER: Final = b"p2sexp\x00\x01"

# Subclasses of ValidationError by code: a vector names its error by code.
ERROR_CLASSES: Final = {
    cls.code: cls
    for cls in vars(errors).values()
    if isinstance(cls, type) and issubclass(cls, errors.ValidationError)
}


# --- bodies as JSON ---------------------------------------------------------------------


def body_to_json(body: Body) -> dict[str, Any]:
    """A body's fields with ids as hex, as the vectors file lists them."""
    match body:
        case Post(text, mentions):
            out: dict[str, Any] = {"text": text}
            if mentions:
                out["mentions"] = [a.raw.hex() for a in mentions]
            return out
        case Reply(text, root, parent, mentions):
            out = {"text": text, "root": root.raw.hex(), "parent": parent.raw.hex()}
            if mentions:
                out["mentions"] = [a.raw.hex() for a in mentions]
            return out
        case Repost(target) | Delete(target):
            return {"target": target.raw.hex()}
        case Reaction(target, emoji):
            return {"target": target.raw.hex(), "emoji": emoji}
        case Follow(author) | Unfollow(author) | Block(author) | Unblock(author):
            return {"author": author.raw.hex()}
        case Profile(name, bio, automated):
            out = {"name": name, "bio": bio}
            if automated:
                out["automated"] = True
            return out
        case ModerationList(name, entries):
            return {
                "name": name,
                "entries": [
                    {
                        ("author" if isinstance(e.target, AuthorId) else "message"): (
                            e.target.raw.hex()
                        ),
                        "reason": e.reason,
                    }
                    for e in entries
                ],
            }
    raise AssertionError(body)


def body_from_json(kind: str, fields: dict[str, Any]) -> Body:
    """The inverse of :func:`body_to_json`."""

    def mid(key: str) -> MessageId:
        return MessageId(bytes.fromhex(fields[key]))

    def aid(key: str) -> AuthorId:
        return AuthorId(bytes.fromhex(fields[key]))

    mentions = tuple(AuthorId(bytes.fromhex(h)) for h in fields.get("mentions", []))
    match Kind(kind):
        case Kind.POST:
            return Post(fields["text"], mentions)
        case Kind.REPLY:
            return Reply(fields["text"], mid("root"), mid("parent"), mentions)
        case Kind.REPOST:
            return Repost(mid("target"))
        case Kind.REACTION:
            return Reaction(mid("target"), fields["emoji"])
        case Kind.FOLLOW:
            return Follow(aid("author"))
        case Kind.UNFOLLOW:
            return Unfollow(aid("author"))
        case Kind.PROFILE:
            return Profile(fields["name"], fields["bio"], fields.get("automated", False))
        case Kind.DELETE:
            return Delete(mid("target"))
        case Kind.BLOCK:
            return Block(aid("author"))
        case Kind.UNBLOCK:
            return Unblock(aid("author"))
        case Kind.LIST:
            return ModerationList(
                fields["name"],
                tuple(
                    ListEntry(
                        AuthorId(bytes.fromhex(e["author"]))
                        if "author" in e
                        else MessageId(bytes.fromhex(e["message"])),
                        e["reason"],
                    )
                    for e in fields["entries"]
                ),
            )


# --- the generator ----------------------------------------------------------------------


class _Author:
    def __init__(self, name: str) -> None:
        self.name = name
        self.seed = SEEDS[name]
        self.key = SigningKey(self.seed)
        self.id = AuthorId(bytes(self.key.verify_key))
        self.chain: list[Message] = []

    def sign(self, body: Body, ts: int, postage: int = 0) -> Message:
        prev = self.chain[-1].id if self.chain else None
        message = sign(
            self.key, seq=len(self.chain) + 1, prev=prev, ts=ts, body=body, postage_bits=postage
        )
        self.chain.append(message)
        return message


def _positive(name: str, author: _Author, message: Message, *, dropped: bool) -> dict[str, Any]:
    assert message.body is not None
    assert message.body_bytes is not None
    wire = message.without_body() if dropped else message
    header = message.header
    entry: dict[str, Any] = {
        "name": name,
        "author": author.name,
        "seed_hex": author.seed.hex(),
        "public_key_hex": author.id.raw.hex(),
        "author_id": str(author.id),
        "seq": header.seq,
        "prev_hex": None if header.prev is None else header.prev.raw.hex(),
        "ts": header.ts,
        "kind": header.kind.value,
        "body": body_to_json(message.body),
        "body_hex": message.body_bytes.hex(),
        "body_hash_hex": header.body_hash.hex(),
        "body_len": header.body_len,
        "header_hex": canonical.encode(header.to_value()).hex(),
        "signature_hex": message.signature.hex(),
        "signed_header_hex": message.signed_header.hex(),
        "dropped": dropped,
        "message_hex": wire.to_bytes().hex(),
        "id_hex": message.id.raw.hex(),
        "id": str(message.id),
        "pow_hex": None if header.pow is None else header.pow.hex(),
        "postage_bits": message.postage,
    }
    if isinstance(message.body, Post | Reply):
        entry["tags"] = extract_tags(message.body.text)
    return entry


def _chains() -> tuple[list[dict[str, Any]], dict[str, Message], dict[str, _Author]]:
    alice, bob = _Author("alice"), _Author("bob")
    clock = iter(range(START_TS, START_TS + 100 * TICK_MS, TICK_MS))
    named: dict[str, Message] = {}
    order: list[tuple[str, _Author]] = []

    def add(name: str, author: _Author, body: Body, postage: int = 0) -> Message:
        named[name] = author.sign(body, next(clock), postage)
        order.append((name, author))
        return named[name]

    add("alice-1-profile", alice, Profile("Alice", "Writes about #p2p.\nLikes tea."))
    add("bob-1-profile", bob, Profile("Bob"))
    hello = add(
        "alice-2-post", alice, Post("Hello, world! #p2p #Introductions", mentions=(bob.id,))
    )
    first = add("bob-2-post", bob, Post("First post from Bob.\n\tIndented line."))
    add("alice-3-follow", alice, Follow(bob.id))
    welcome = add("bob-3-reply", bob, Reply("Welcome, Alice!", hello.id, hello.id))
    add("bob-4-follow", bob, Follow(alice.id))
    add("alice-4-reply", alice, Reply("Thanks, Bob! #p2p", hello.id, welcome.id))
    add("alice-5-reaction", alice, Reaction(welcome.id, "\N{THUMBS UP SIGN}"))
    add("alice-6-repost", alice, Repost(first.id))
    oops = add("alice-7-post", alice, Post("Oops, a typo."))
    add("alice-8-delete", alice, Delete(oops.id))
    add("alice-9-unfollow", alice, Unfollow(bob.id))
    add("alice-10-block", alice, Block(bob.id))
    add("alice-11-unblock", alice, Unblock(bob.id))
    add(
        "bob-5-list",
        bob,
        ModerationList(
            "spam",
            (ListEntry(alice.id, "reposts ads"), ListEntry(oops.id, "a typo, not spam")),
        ),
    )
    add("bob-6-profile", bob, Profile("Bob's bot", "Posts the weather.", automated=True))
    add("alice-12-post", alice, Post("Paid postage to reach strangers."), POSTAGE_BITS)

    entries = [_positive(n, a, named[n], dropped=False) for n, a in order]
    entries.append(_positive("alice-7-post-dropped", alice, oops, dropped=True))
    return entries, named, {"alice": alice, "bob": bob}


def _map(pairs: list[tuple[str, bytes]], *, sort: bool = True) -> bytes:
    """A CBOR map from keys and raw value bytes (sorted canonically unless told not to)."""
    if sort:
        pairs = sorted(pairs, key=lambda kv: canonical.encode(kv[0]))
    return cbor_head(5, len(pairs)) + b"".join(canonical.encode(k) + v for k, v in pairs)


def _header_pairs(message: Message, **raw: bytes | None) -> list[tuple[str, bytes]]:
    """A message's header as (key, value bytes); ``raw`` replaces (or, with None, drops)."""
    pairs = {k: canonical.encode(v) for k, v in message.header.to_value().items()}
    for key, value in raw.items():
        if value is None:
            pairs.pop(key, None)
        else:
            pairs[key] = value
    return list(pairs.items())


def _negatives(named: dict[str, Message], authors: dict[str, _Author]) -> list[dict[str, Any]]:
    key = authors["alice"].key
    post = named["alice-2-post"]  # seq 2, with mentions
    first = named["alice-1-profile"]  # seq 1
    reaction = named["alice-5-reaction"]
    assert post.body_bytes is not None
    out: list[dict[str, Any]] = []

    def add(name: str, description: str, error: type[errors.ValidationError], data: bytes) -> None:
        assert error.code in ERROR_CLASSES
        out.append(
            {
                "name": name,
                "description": description,
                "error": error.code,
                "message_hex": data.hex(),
            }
        )

    def header_msg(
        pairs: list[tuple[str, bytes]], body: bytes | None, *, sort: bool = True
    ) -> bytes:
        return message_bytes(signed_header_bytes(key, _map(pairs, sort=sort)), body)

    def with_body(base: Message, body: bytes, **raw: bytes | None) -> bytes:
        """``base``'s header committing to ``body`` (a raw, possibly bad body)."""
        changes: dict[str, bytes | None] = {
            "body_hash": canonical.encode(blake2b_256(body)),
            "body_len": canonical.encode(len(body)),
        }
        changes.update(raw)
        return header_msg(_header_pairs(base, **changes), body)

    def post_body(**fields: canonical.Value) -> bytes:
        return canonical.encode({"text": "hi", **fields})

    enc = canonical.encode
    # Encoding
    add(
        "header_map_unsorted",
        "header keys in reverse canonical order, validly signed",
        errors.NonCanonicalError,
        header_msg(
            sorted(_header_pairs(post), key=lambda kv: enc(kv[0]), reverse=True),
            post.body_bytes,
            sort=False,
        ),
    )
    add(
        "header_int_long_form",
        "header seq 2 written as 0x18 0x02 (one extra byte), validly signed",
        errors.NonCanonicalError,
        header_msg(_header_pairs(post, seq=b"\x18\x02"), post.body_bytes),
    )
    add(
        "length_long_form",
        "the signed header's bstr length written with two bytes where one suffices",
        errors.NonCanonicalError,
        b"\x82"
        + b"\x59"
        + len(post.signed_header).to_bytes(2, "big")
        + post.signed_header
        + cbor_bstr(post.body_bytes),
    )
    add(
        "body_map_unsorted",
        "a reply body with keys out of order, committed to by the header",
        errors.NonCanonicalError,
        with_body(
            post,
            _map(
                [("text", enc("hi")), ("root", enc(first.id.raw)), ("parent", enc(first.id.raw))],
                sort=False,
            ),
            kind=enc("reply"),
        ),
    )
    add(
        "indefinite_length",
        "the outer array with indefinite length (0x9f ... 0xff)",
        errors.DecodeError,
        b"\x9f" + post.to_bytes()[1:] + b"\xff",
    )
    add(
        "tag_epoch",
        "header ts wrapped in tag 1 (epoch time), validly signed",
        errors.DecodeError,
        header_msg(_header_pairs(post, ts=b"\xc1" + enc(post.header.ts)), post.body_bytes),
    )
    add(
        "tag_bignum",
        "header seq as tag 2 (bignum) around the bytes 0x02, validly signed",
        errors.DecodeError,
        header_msg(_header_pairs(post, seq=b"\xc2\x41\x02"), post.body_bytes),
    )
    add(
        "float",
        "header ts as a float64 of the same value, validly signed",
        errors.DecodeError,
        header_msg(
            _header_pairs(post, ts=b"\xfb" + struct.pack(">d", float(post.header.ts))),
            post.body_bytes,
        ),
    )
    add(
        "trailing_byte",
        "a valid message followed by one 0x00 byte",
        errors.DecodeError,
        post.to_bytes() + b"\x00",
    )
    add(
        "duplicate_key",
        "a post body with the key 'text' twice",
        errors.DecodeError,
        with_body(post, b"\xa2" + enc("text") + enc("a") + enc("text") + enc("b")),
    )
    add(
        "nesting_too_deep",
        "a post body whose text is a value at depth 7",
        errors.DecodeError,
        with_body(post, b"\xa1" + enc("text") + b"\x81" * 6 + b"\x01"),
    )
    add(
        "int_below_int64",
        "header ts = -2**64 (0x3b ff..ff), validly signed",
        errors.DecodeError,
        header_msg(_header_pairs(post, ts=b"\x3b" + b"\xff" * 8), post.body_bytes),
    )
    add(
        "invalid_utf8",
        "a post body whose text is the bytes c3 28 (invalid UTF-8)",
        errors.DecodeError,
        with_body(post, b"\xa1" + enc("text") + b"\x62\xc3\x28"),
    )
    add(
        "outer_not_a_pair",
        "[signed_header] without the body slot",
        errors.DecodeError,
        b"\x81" + cbor_bstr(post.signed_header),
    )
    add(
        "body_slot_undefined",
        "[signed_header, undefined]: the body slot must be a bstr or null",
        errors.DecodeError,
        b"\x82" + cbor_bstr(post.signed_header) + b"\xf7",
    )
    add(
        "signature_63_bytes",
        "a signature one byte short",
        errors.DecodeError,
        message_bytes(
            b"\x82" + enc(post.header.to_value()) + cbor_bstr(post.signature[:63]),
            post.body_bytes,
        ),
    )
    # Size
    # An empty body slot is 1 byte (0x40); 256 bytes and more take 3 (0x59 + length).
    filler = MAX_MESSAGE_BYTES + 1 - (len(message_bytes(post.signed_header, b"")) - 1 + 3)
    oversize = message_bytes(post.signed_header, b"\x00" * filler)
    assert len(oversize) == MAX_MESSAGE_BYTES + 1
    add(
        "message_oversize",
        f"a message of {MAX_MESSAGE_BYTES + 1} bytes (a long body slot)",
        errors.OversizeError,
        oversize,
    )
    add(
        "body_len_oversize",
        "header body_len 4097 on a message without body, validly signed",
        errors.OversizeError,
        header_msg(_header_pairs(post, body_len=enc(4097)), None),
    )
    add(
        "text_oversize",
        "a post of 2049 bytes of text, committed to by the header",
        errors.OversizeError,
        with_body(post, enc({"text": "a" * 2049})),
    )
    add(
        "mentions_oversize",
        "a post mentioning 17 authors",
        errors.OversizeError,
        with_body(post, post_body(mentions=[bytes([i]) * 32 for i in range(17)])),
    )
    # Header
    add(
        "version_2",
        "header v = 2",
        errors.UnsupportedVersionError,
        header_msg(_header_pairs(post, v=enc(2)), post.body_bytes),
    )
    add(
        "version_true",
        "header v = true (CBOR 0xf5), which is not the integer 1",
        errors.UnsupportedVersionError,
        header_msg(_header_pairs(post, v=b"\xf5"), post.body_bytes),
    )
    add(
        "header_missing_field",
        "a header without ts",
        errors.MalformedHeaderError,
        header_msg(_header_pairs(post, ts=None), post.body_bytes),
    )
    add(
        "header_extra_field",
        "a header with an extra key 'x'",
        errors.MalformedHeaderError,
        header_msg([*_header_pairs(post), ("x", enc(0))], post.body_bytes),
    )
    add(
        "pow_7_bytes",
        "a header whose postage nonce pow is 7 bytes (it must be 8, or absent)",
        errors.MalformedHeaderError,
        header_msg([*_header_pairs(post), ("pow", enc(bytes(7)))], post.body_bytes),
    )
    add(
        "pow_null",
        "a header with pow = null (no postage is written by leaving pow out)",
        errors.MalformedHeaderError,
        header_msg([*_header_pairs(post), ("pow", enc(None))], post.body_bytes),
    )
    add(
        "seq_0",
        "header seq = 0 with prev null",
        errors.MalformedHeaderError,
        header_msg(_header_pairs(first, seq=enc(0)), first.body_bytes),
    )
    add(
        "prev_at_seq_1",
        "header seq = 1 with a non-null prev",
        errors.MalformedHeaderError,
        header_msg(_header_pairs(post, seq=enc(1)), post.body_bytes),
    )
    add(
        "prev_null_at_seq_2",
        "header seq = 2 with prev null",
        errors.MalformedHeaderError,
        header_msg(_header_pairs(post, prev=enc(None)), post.body_bytes),
    )
    add(
        "ts_negative",
        "header ts = -1",
        errors.MalformedHeaderError,
        header_msg(_header_pairs(post, ts=enc(-1)), post.body_bytes),
    )
    add(
        "ts_too_large",
        "header ts = 2**53",
        errors.MalformedHeaderError,
        header_msg(_header_pairs(post, ts=enc(MAX_TS + 1)), post.body_bytes),
    )
    add(
        "author_31_bytes",
        "header author of 31 bytes",
        errors.MalformedHeaderError,
        header_msg(_header_pairs(post, author=enc(post.author.raw[:31])), post.body_bytes),
    )
    add(
        "kind_too_long",
        "header kind of 17 bytes",
        errors.MalformedHeaderError,
        header_msg(_header_pairs(post, kind=enc("p" * 17)), post.body_bytes),
    )
    add(
        "unknown_kind",
        "header kind 'poll'",
        errors.UnknownKindError,
        header_msg(_header_pairs(post, kind=enc("poll")), post.body_bytes),
    )
    # Body against header
    tampered = bytearray(post.body_bytes)
    tampered[-1] ^= 0x01
    add(
        "body_hash_mismatch",
        "the post's body with its last byte changed",
        errors.BodyHashMismatchError,
        message_bytes(post.signed_header, bytes(tampered)),
    )
    add(
        "body_len_mismatch",
        "a header committing to the right body hash but body_len + 1",
        errors.BodyHashMismatchError,
        header_msg(_header_pairs(post, body_len=enc(len(post.body_bytes) + 1)), post.body_bytes),
    )
    # Body schema
    add(
        "body_missing_field",
        "a post body without text",
        errors.MalformedBodyError,
        with_body(post, enc({"mentions": [first.author.raw]})),
    )
    add(
        "body_unknown_field",
        "a post body with an extra key 'lang'",
        errors.MalformedBodyError,
        with_body(post, post_body(lang="en")),
    )
    add(
        "body_not_a_map",
        "a post body that is a text string",
        errors.MalformedBodyError,
        with_body(post, enc("hi")),
    )
    add(
        "text_control_char",
        "a post whose text holds ESC (0x1b)",
        errors.MalformedBodyError,
        with_body(post, enc({"text": "\x1b[2Jhi"})),
    )
    add(
        "name_line_feed",
        "a profile whose name holds a line feed",
        errors.MalformedBodyError,
        with_body(first, enc({"name": "Al\nice", "bio": ""})),
    )
    add(
        "text_blank",
        "a post whose text is only white space",
        errors.MalformedBodyError,
        with_body(post, enc({"text": " \n"})),
    )
    add(
        "emoji_with_space",
        "a reaction whose emoji holds a space",
        errors.MalformedBodyError,
        with_body(reaction, enc({"target": first.id.raw, "emoji": "+ 1"})),
    )
    add(
        "mentions_empty",
        "a post with an empty mentions list (it must be omitted instead)",
        errors.MalformedBodyError,
        with_body(post, post_body(mentions=[])),
    )
    add(
        "mentions_duplicate",
        "a post mentioning one author twice",
        errors.MalformedBodyError,
        with_body(post, post_body(mentions=[first.author.raw, first.author.raw])),
    )
    add(
        "id_31_bytes",
        "a reaction whose target is 31 bytes",
        errors.MalformedBodyError,
        with_body(reaction, enc({"target": first.id.raw[:31], "emoji": "+1"})),
    )
    add(
        "profile_automated_false",
        "a profile with automated = false (it must be omitted instead)",
        errors.MalformedBodyError,
        with_body(first, enc({"name": "A", "bio": "", "automated": False})),
    )
    add(
        "list_name_upper_case",
        "a moderation list named 'Spam' (names are lower-case identifiers)",
        errors.MalformedBodyError,
        with_body(post, enc({"name": "Spam", "entries": []}), kind=enc("list")),
    )
    add(
        "list_entry_two_targets",
        "a moderation list entry naming both an author and a message",
        errors.MalformedBodyError,
        with_body(
            post,
            enc(
                {
                    "name": "spam",
                    "entries": [
                        {"author": first.author.raw, "message": first.id.raw, "reason": "x"}
                    ],
                }
            ),
            kind=enc("list"),
        ),
    )
    # Signature
    bad_signature = bytearray(post.signature)
    bad_signature[10] ^= 0x40
    add(
        "signature_bit_flip",
        "the post's signature with one bit flipped",
        errors.BadSignatureError,
        message_bytes(
            b"\x82" + enc(post.header.to_value()) + cbor_bstr(bytes(bad_signature)),
            post.body_bytes,
        ),
    )
    add(
        "signature_by_other_key",
        "alice's header signed by bob's key",
        errors.BadSignatureError,
        message_bytes(
            signed_header_bytes(authors["bob"].key, enc(post.header.to_value())),
            post.body_bytes,
        ),
    )
    add(
        "signature_without_context",
        "the header signed without the SIGNING_CONTEXT prefix",
        errors.BadSignatureError,
        message_bytes(
            b"\x82"
            + enc(post.header.to_value())
            + cbor_bstr(key.sign(enc(post.header.to_value())).signature),
            post.body_bytes,
        ),
    )
    order_l = 2**252 + 27742317777372353535851937790883648493
    r_bytes, s = post.signature[:32], int.from_bytes(post.signature[32:], "little")
    add(
        "signature_s_not_reduced",
        "the post's signature with L added to S (malleated; S must be < L)",
        errors.BadSignatureError,
        message_bytes(
            b"\x82"
            + enc(post.header.to_value())
            + cbor_bstr(r_bytes + (s + order_l).to_bytes(32, "little")),
            post.body_bytes,
        ),
    )
    # With A = the identity point, R = B and S = 1 satisfy [S]B = R + [k]A for every
    # message: a verifier that skips the small-order check accepts this forgery.
    identity = b"\x01" + bytes(31)
    base_point = bytes.fromhex("58" + "66" * 31)
    forged_header = _map(_header_pairs(post, author=enc(identity)))
    forged = base_point + (1).to_bytes(32, "little")
    add(
        "author_small_order",
        "author = the identity point (small order), signature R = B, S = 1",
        errors.BadSignatureError,
        message_bytes(b"\x82" + forged_header + cbor_bstr(forged), post.body_bytes),
    )
    add(
        "author_not_canonical",
        "author = 32 bytes of 0xff (y >= p, not a canonical point encoding)",
        errors.BadSignatureError,
        header_msg(_header_pairs(post, author=enc(b"\xff" * 32)), post.body_bytes),
    )
    return out


def _record(payload: bytes) -> bytes:
    length = struct.pack(">I", len(payload))
    crc = zlib.crc32(payload, zlib.crc32(length))
    return RECORD_MAGIC + length + struct.pack(">I", crc) + payload


def generate() -> dict[str, Any]:
    """Everything in docs/vectors.json, from the fixed seeds and timestamps."""
    positives, named, authors = _chains()
    first = bytes.fromhex(positives[0]["message_hex"])
    second = bytes.fromhex(positives[1]["message_hex"])
    return {
        "description": (
            "p2psocial protocol v1 test vectors (docs/protocol.md). Generated by "
            "tests/core/test_vectors.py; every message is signed with Ed25519 from seed_hex."
        ),
        "signing_context_hex": SIGNING_CONTEXT.hex(),
        "authors": [
            {
                "name": a.name,
                "seed_hex": a.seed.hex(),
                "public_key_hex": a.id.raw.hex(),
                "author_id": str(a.id),
                "short": a.id.short,
            }
            for a in authors.values()
        ],
        "messages": positives,
        "invalid": _negatives(named, authors),
        "framing": {
            "record_of": [positives[0]["name"], positives[1]["name"]],
            "record_hex": [_record(first).hex(), _record(second).hex()],
            "export_file_hex": (EXPORT_HEADER + _record(first) + _record(second)).hex(),
        },
    }


def _dump(data: dict[str, Any]) -> str:
    return json.dumps(data, indent=2, ensure_ascii=False) + "\n"


# --- the tests --------------------------------------------------------------------------


@pytest.fixture(scope="module")
def vectors() -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(VECTORS_PATH.read_text(encoding="utf-8"))
    return loaded


def _entries(section: str) -> list[dict[str, Any]]:
    # Read at collection time for parametrize; a missing file fails the tests above.
    if not VECTORS_PATH.exists():
        return []
    entries: list[dict[str, Any]] = json.loads(VECTORS_PATH.read_text(encoding="utf-8"))[section]
    return entries


def test_file_is_what_the_generator_writes() -> None:
    assert VECTORS_PATH.read_text(encoding="utf-8") == _dump(generate())


def test_every_kind_and_case_is_covered(vectors: dict[str, Any]) -> None:
    messages = vectors["messages"]
    assert {m["kind"] for m in messages} == {k.value for k in Kind}
    assert any(m["dropped"] for m in messages)
    assert any(m["pow_hex"] is not None and m["postage_bits"] >= POSTAGE_BITS for m in messages)
    assert any(m["body"].get("automated") for m in messages if m["kind"] == "profile")
    replies = [m for m in messages if m["kind"] == "reply"]
    assert any(m["body"]["root"] != m["body"]["parent"] for m in replies)
    assert vectors["signing_context_hex"] == SIGNING_CONTEXT.hex()


@pytest.mark.parametrize("entry", _entries("messages"), ids=lambda e: e["name"])
def test_signing_again_gives_the_same_bytes(entry: dict[str, Any]) -> None:
    key = SigningKey(bytes.fromhex(entry["seed_hex"]))
    assert bytes(key.verify_key).hex() == entry["public_key_hex"]
    assert str(AuthorId(bytes(key.verify_key))) == entry["author_id"]
    body = body_from_json(entry["kind"], entry["body"])
    assert encode_body(body).hex() == entry["body_hex"]
    prev = None if entry["prev_hex"] is None else MessageId(bytes.fromhex(entry["prev_hex"]))
    bits = entry["postage_bits"] if entry["pow_hex"] is not None else 0
    message = sign(key, seq=entry["seq"], prev=prev, ts=entry["ts"], body=body, postage_bits=bits)
    assert canonical.encode(message.header.to_value()).hex() == entry["header_hex"]
    assert message.header.body_hash.hex() == entry["body_hash_hex"]
    assert message.header.body_len == entry["body_len"]
    assert message.signature.hex() == entry["signature_hex"]
    assert message.signed_header.hex() == entry["signed_header_hex"]
    assert message.id.raw.hex() == entry["id_hex"]
    assert str(message.id) == entry["id"]
    wire = message.without_body() if entry["dropped"] else message
    assert wire.to_bytes().hex() == entry["message_hex"]


@pytest.mark.parametrize("entry", _entries("messages"), ids=lambda e: e["name"])
def test_vector_parts_fit_together(entry: dict[str, Any]) -> None:
    """Checks a second implementation can follow: each part from the ones before."""
    header = bytes.fromhex(entry["header_hex"])
    signature = bytes.fromhex(entry["signature_hex"])
    body = bytes.fromhex(entry["body_hex"])
    signed_header = bytes.fromhex(entry["signed_header_hex"])
    SigningKey(bytes.fromhex(entry["seed_hex"])).verify_key.verify(
        SIGNING_CONTEXT + header, signature
    )
    assert blake2b_256(body).hex() == entry["body_hash_hex"]
    assert signed_header == b"\x82" + header + b"\x58\x40" + signature
    assert blake2b_256(signed_header).hex() == entry["id_hex"]
    slot = b"\xf6" if entry["dropped"] else cbor_bstr(body)
    assert (b"\x82" + cbor_bstr(signed_header) + slot).hex() == entry["message_hex"]
    digest = blake2b_256(POSTAGE_CONTEXT + header)
    bits = "".join(f"{byte:08b}" for byte in digest)
    assert len(bits) - len(bits.lstrip("0")) == entry["postage_bits"]


@pytest.mark.parametrize("entry", _entries("messages"), ids=lambda e: e["name"])
def test_decoding_gives_the_same_fields(entry: dict[str, Any]) -> None:
    message = decode_message(bytes.fromhex(entry["message_hex"]))
    header = message.header
    assert header.version == 1
    assert header.author.raw.hex() == entry["public_key_hex"]
    assert header.seq == entry["seq"]
    assert (None if header.prev is None else header.prev.raw.hex()) == entry["prev_hex"]
    assert header.ts == entry["ts"]
    assert header.kind.value == entry["kind"]
    assert header.body_hash.hex() == entry["body_hash_hex"]
    assert header.body_len == entry["body_len"]
    assert (None if header.pow is None else header.pow.hex()) == entry["pow_hex"]
    assert message.postage == postage_bits(bytes.fromhex(entry["header_hex"]))
    assert message.postage == entry["postage_bits"]
    assert message.signature.hex() == entry["signature_hex"]
    assert message.id.raw.hex() == entry["id_hex"]
    if entry["dropped"]:
        assert message.body is None
    else:
        assert message.body is not None
        assert body_to_json(message.body) == entry["body"]
    if "tags" in entry:
        assert extract_tags(entry["body"]["text"]) == entry["tags"]


def test_vectors_form_valid_chains(vectors: dict[str, Any]) -> None:
    by_author: dict[str, list[dict[str, Any]]] = {}
    for entry in vectors["messages"]:
        if not entry["dropped"]:
            by_author.setdefault(entry["author"], []).append(entry)
    for entries in by_author.values():
        assert [e["seq"] for e in entries] == list(range(1, len(entries) + 1))
        for before, after in itertools.pairwise(entries):
            assert after["prev_hex"] == before["id_hex"]
            assert after["ts"] > before["ts"]


@pytest.mark.parametrize("entry", _entries("invalid"), ids=lambda e: e["name"])
def test_invalid_vector_raises_exactly_its_error(entry: dict[str, Any]) -> None:
    expected = ERROR_CLASSES[entry["error"]]
    with pytest.raises(errors.ValidationError) as caught:
        decode_message(bytes.fromhex(entry["message_hex"]))
    assert type(caught.value) is expected, f"{entry['name']}: {caught.value}"


def test_invalid_vectors_cover_every_validation_error(vectors: dict[str, Any]) -> None:
    local_policy = {
        errors.FutureTimestampError.code,
        errors.InsufficientPostageError.code,
        errors.ValidationError.code,
    }
    assert {e["error"] for e in vectors["invalid"]} == set(ERROR_CLASSES) - local_policy


def test_framing_examples(vectors: dict[str, Any]) -> None:
    framing = vectors["framing"]
    names = {m["name"]: m for m in vectors["messages"]}
    records = b""
    for name, record_hex in zip(framing["record_of"], framing["record_hex"], strict=True):
        record = bytes.fromhex(record_hex)
        payload = bytes.fromhex(names[name]["message_hex"])
        assert record[:4] == RECORD_MAGIC
        (length,) = struct.unpack(">I", record[4:8])
        (crc,) = struct.unpack(">I", record[8:12])
        assert length == len(payload)
        assert record[12:] == payload
        assert crc == zlib.crc32(record[4:8] + payload)
        records += record
    assert bytes.fromhex(framing["export_file_hex"]) == EXPORT_HEADER + records


def test_protocol_md_embeds_the_post_and_reply_vectors(vectors: dict[str, Any]) -> None:
    text = re.sub(r"\s+", "", PROTOCOL_PATH.read_text(encoding="utf-8"))
    names = {m["name"]: m for m in vectors["messages"]}
    for name in ("alice-2-post", "alice-4-reply"):
        for field in (
            "seed_hex",
            "header_hex",
            "body_hex",
            "signature_hex",
            "message_hex",
            "id_hex",
        ):
            assert names[name][field] in text, f"{name} {field} missing from docs/protocol.md"
    assert SIGNING_CONTEXT.hex() in text


if __name__ == "__main__":
    VECTORS_PATH.write_text(_dump(generate()), encoding="utf-8")
    print(f"wrote {VECTORS_PATH}")
