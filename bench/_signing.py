"""Signing planned messages, in worker processes: keys, bodies and chains.

The planner (:mod:`bench.corpus`) decides who writes what, when, and in reply to which
earlier message; this module turns those plans into signed wire bytes. Every key is derived
from the author's index, and every text from a seed, so plans are small to send to another
process and the result is the same on every run.
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Sequence
from functools import cache
from typing import NamedTuple

from nacl.signing import SigningKey

from p2psocial.core.bodies import (
    Body,
    Delete,
    Follow,
    Post,
    Profile,
    Reaction,
    Reply,
    Repost,
    Unfollow,
)
from p2psocial.core.ids import AuthorId, MessageId
from p2psocial.core.message import sign

from . import _text


class Spec(NamedTuple):
    """What a body should be, in a form cheap to pickle.

    Attributes:
        kind: The message kind (``post``, ``reply``...).
        seed: Seeds the text of posts, replies, reactions and profiles.
        authors: Author indices: mentions, or the subject of a follow/unfollow.
        ids: Raw message ids: ``(root, parent)`` of a reply, or the target.
    """

    kind: str
    seed: int = 0
    authors: tuple[int, ...] = ()
    ids: tuple[bytes, ...] = ()


class Planned(NamedTuple):
    """One message to sign.

    Attributes:
        serial: Its place in the corpus.
        author: The author's index.
        seq: Its seq in the author's chain.
        prev: The raw id of ``seq - 1`` when that was signed in an earlier round; None when
            ``seq`` is 1 or when ``seq - 1`` comes earlier in the same list.
        ts: Its timestamp.
        spec: Its body.
    """

    serial: int
    author: int
    seq: int
    prev: bytes | None
    ts: int
    spec: Spec


Signed = tuple[int, bytes, bytes]
"""``(serial, wire bytes, raw message id)``."""


@cache
def signing_key(author: int) -> SigningKey:
    """The deterministic key of the corpus author with this index."""
    seed = hashlib.blake2b(f"p2psocial-bench/author/{author}".encode(), digest_size=32)
    return SigningKey(seed.digest())


@cache
def author_id(author: int) -> AuthorId:
    """The id of the corpus author with this index."""
    return AuthorId(bytes(signing_key(author).verify_key))


def build_body(spec: Spec) -> Body:
    """The body a :class:`Spec` describes.

    Raises:
        ValueError: The spec's kind is unknown.
    """
    rng = random.Random(spec.seed)
    mentions = tuple(author_id(a) for a in spec.authors)
    names = tuple(_text.display_name(a) for a in spec.authors)
    match spec.kind:
        case "post":
            return Post(_text.post_text(rng, names), mentions)
        case "reply":
            root, parent = spec.ids
            return Reply(_text.post_text(rng, names), MessageId(root), MessageId(parent), mentions)
        case "reaction":
            return Reaction(MessageId(spec.ids[0]), _text.emoji(rng))
        case "repost":
            return Repost(MessageId(spec.ids[0]))
        case "delete":
            return Delete(MessageId(spec.ids[0]))
        case "follow":
            return Follow(mentions[0])
        case "unfollow":
            return Unfollow(mentions[0])
        case "profile":
            return Profile(_text.display_name(spec.authors[0]), _text.bio(rng))
    raise ValueError(f"unknown kind {spec.kind!r}")


def sign_planned(entries: Sequence[Planned]) -> list[Signed]:
    """Sign planned messages in order, chaining each author's messages within the list.

    Args:
        entries: Plans; an author's messages appear in seq order.

    Returns:
        One ``(serial, wire, id)`` per entry, in the same order.
    """
    last: dict[int, MessageId] = {}
    signed: list[Signed] = []
    for entry in entries:
        prev = MessageId(entry.prev) if entry.prev is not None else last.get(entry.author)
        if entry.seq == 1:
            prev = None
        message = sign(
            signing_key(entry.author),
            seq=entry.seq,
            prev=prev,
            ts=entry.ts,
            body=build_body(entry.spec),
        )
        last[entry.author] = message.id
        signed.append((entry.serial, message.to_bytes(), message.id.raw))
    return signed
