"""Factories for correctly signed test messages.

Everything here is deterministic: a key comes from a small integer seed, and each author's
clock starts at :data:`BASE_TS` and ticks :data:`TICK_MS` per message, so the same test
builds the same bytes every run.

Typical use::

    alice, bob = authors(2)  # ChainBuilder(1), ChainBuilder(2)
    post = alice.post("hello #p2p")
    reply = bob.reply(post, "hi alice")
    bob.follow(alice)
    wire = [m.to_bytes() for m in alice.messages + bob.messages]

For negative tests, :func:`signed_header_bytes` and :func:`message_bytes` assemble wire
bytes by hand around any header bytes, canonical or not, with a valid signature, so that a
test can break exactly one rule.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from typing import Final

from nacl.signing import SigningKey

from p2psocial.core import canonical
from p2psocial.core.bodies import (
    Block,
    Body,
    Delete,
    Follow,
    ListEntry,
    ModerationList,
    Post,
    Profile,
    Reaction,
    Reply,
    Repost,
    Unblock,
    Unfollow,
)
from p2psocial.core.ids import AuthorId, MessageId
from p2psocial.core.message import SIGNING_CONTEXT, Message, blake2b_256, sign

BASE_TS: Final = 1_700_000_000_000
"""2023-11-14T22:13:20Z in milliseconds: where every builder's clock starts."""
TICK_MS: Final = 1_000
"""How far a builder's clock moves per message unless a test says otherwise."""


def signing_key(seed: int) -> SigningKey:
    """A deterministic Ed25519 key: the same ``seed`` always gives the same key."""
    material = hashlib.blake2b(f"p2psocial-tests/key/{seed}".encode(), digest_size=32).digest()
    return SigningKey(material)


def author_id(seed: int) -> AuthorId:
    """The author id of :func:`signing_key` ``(seed)``."""
    return AuthorId(bytes(signing_key(seed).verify_key))


def message_id(n: int) -> MessageId:
    """An arbitrary but deterministic message id (for bodies that point somewhere)."""
    return MessageId(blake2b_256(f"p2psocial-tests/message/{n}".encode()))


def authors(count: int, *, first_seed: int = 1) -> list[ChainBuilder]:
    """``count`` builders with consecutive seeds: ``alice, bob = authors(2)``."""
    return [ChainBuilder(first_seed + i) for i in range(count)]


def _id_of(target: Message | MessageId) -> MessageId:
    return target.id if isinstance(target, Message) else target


def _author_of(target: ChainBuilder | AuthorId) -> AuthorId:
    return target.author if isinstance(target, ChainBuilder) else target


class ChainBuilder:
    """One author who signs a valid chain: each message gets the next seq, prev and ts.

    Args:
        seed: Picks the key (see :func:`signing_key`); or pass ``key`` instead.
        key: An explicit signing key.
        start_ts: The timestamp of the first message.
        tick_ms: How far the clock moves per message.
    """

    def __init__(
        self,
        seed: int = 0,
        *,
        key: SigningKey | None = None,
        start_ts: int = BASE_TS,
        tick_ms: int = TICK_MS,
    ) -> None:
        self.key: Final = key if key is not None else signing_key(seed)
        self.author: Final = AuthorId(bytes(self.key.verify_key))
        self.messages: list[Message] = []
        """Every message on the chain, in seq order (forks are not appended)."""
        self.tick_ms = tick_ms
        self._next_ts = start_ts

    def __repr__(self) -> str:
        return f"ChainBuilder({self.author.short}, seq={self.seq})"

    @property
    def seq(self) -> int:
        """The seq of the latest message, 0 before the first."""
        return len(self.messages)

    @property
    def head(self) -> Message | None:
        """The latest message, or None before the first."""
        return self.messages[-1] if self.messages else None

    def next_ts(self) -> int:
        """The timestamp the next message gets unless one is given."""
        return self._next_ts

    # --- any body -------------------------------------------------------------------

    def sign(self, body: Body, *, ts: int | None = None, postage: int = 0) -> Message:
        """Sign ``body`` as the next message of the chain and append it.

        Args:
            body: Any body.
            ts: The timestamp; by default the builder's clock, which then ticks.
            postage: Proof-of-work bits to pay (see p2psocial.core.postage).
        """
        head = self.head
        message = sign(
            self.key,
            seq=self.seq + 1,
            prev=None if head is None else head.id,
            ts=self._take_ts(ts),
            body=body,
            postage_bits=postage,
        )
        self.messages.append(message)
        return message

    def sign_at(
        self, seq: int, body: Body, *, prev: MessageId | None = None, ts: int | None = None
    ) -> Message:
        """Sign a message at any ``seq`` without touching the chain (forks, bad prevs).

        Args:
            seq: Its seq.
            body: Its body.
            prev: Its prev; by default the id of the chain's message at ``seq - 1``.
            ts: Its timestamp; by default the builder's clock, which then ticks.
        """
        if prev is None and seq > 1:
            if seq - 1 > len(self.messages):
                raise ValueError(f"no message at seq {seq - 1} to be prev; pass prev=")
            prev = self.messages[seq - 2].id
        return sign(self.key, seq=seq, prev=prev, ts=self._take_ts(ts), body=body)

    def fork(self, seq: int, text: str = "the other story") -> Message:
        """A second, different post at ``seq`` with the chain's prev: equivocation."""
        return self.sign_at(seq, Post(text))

    def extend(self, count: int, text: str = "post {seq}") -> list[Message]:
        """Append ``count`` posts; ``text`` may use ``{seq}``."""
        return [self.post(text.format(seq=self.seq + 1)) for _ in range(count)]

    def _take_ts(self, ts: int | None) -> int:
        if ts is None:
            ts = self._next_ts
        self._next_ts = ts + self.tick_ms
        return ts

    # --- one method per kind ----------------------------------------------------------

    def post(
        self,
        text: str = "hello",
        *,
        mentions: Iterable[ChainBuilder | AuthorId] = (),
        ts: int | None = None,
    ) -> Message:
        """Sign a post."""
        return self.sign(Post(text, tuple(_author_of(a) for a in mentions)), ts=ts)

    def reply(
        self,
        parent: Message | MessageId,
        text: str = "a reply",
        *,
        root: Message | MessageId | None = None,
        mentions: Iterable[ChainBuilder | AuthorId] = (),
        ts: int | None = None,
    ) -> Message:
        """Sign a reply to ``parent``.

        The thread's root defaults to the parent's root when the parent is a reply
        message, else to the parent itself.
        """
        if root is None:
            parent_body = parent.body if isinstance(parent, Message) else None
            root_id = parent_body.root if isinstance(parent_body, Reply) else _id_of(parent)
        else:
            root_id = _id_of(root)
        body = Reply(text, root_id, _id_of(parent), tuple(_author_of(a) for a in mentions))
        return self.sign(body, ts=ts)

    def repost(self, target: Message | MessageId, *, ts: int | None = None) -> Message:
        """Sign a repost of ``target``."""
        return self.sign(Repost(_id_of(target)), ts=ts)

    def react(
        self,
        target: Message | MessageId,
        emoji: str = "\N{THUMBS UP SIGN}",
        *,
        ts: int | None = None,
    ) -> Message:
        """Sign a reaction to ``target``."""
        return self.sign(Reaction(_id_of(target), emoji), ts=ts)

    def follow(self, author: ChainBuilder | AuthorId, *, ts: int | None = None) -> Message:
        """Sign a follow of ``author``."""
        return self.sign(Follow(_author_of(author)), ts=ts)

    def unfollow(self, author: ChainBuilder | AuthorId, *, ts: int | None = None) -> Message:
        """Sign an unfollow of ``author``."""
        return self.sign(Unfollow(_author_of(author)), ts=ts)

    def profile(
        self, name: str, bio: str = "", *, automated: bool = False, ts: int | None = None
    ) -> Message:
        """Sign a profile."""
        return self.sign(Profile(name, bio, automated), ts=ts)

    def block(self, author: ChainBuilder | AuthorId, *, ts: int | None = None) -> Message:
        """Sign a block of ``author``."""
        return self.sign(Block(_author_of(author)), ts=ts)

    def unblock(self, author: ChainBuilder | AuthorId, *, ts: int | None = None) -> Message:
        """Sign an unblock of ``author``."""
        return self.sign(Unblock(_author_of(author)), ts=ts)

    def moderation_list(
        self,
        name: str,
        entries: Iterable[tuple[ChainBuilder | AuthorId | Message | MessageId, str]],
        *,
        ts: int | None = None,
    ) -> Message:
        """Sign the moderation list ``name`` with (author or message, reason) entries."""
        listed = tuple(
            ListEntry(
                _author_of(target)
                if isinstance(target, ChainBuilder | AuthorId)
                else _id_of(target),
                reason,
            )
            for target, reason in entries
        )
        return self.sign(ModerationList(name, listed), ts=ts)

    def delete(self, target: Message | MessageId, *, ts: int | None = None) -> Message:
        """Sign a delete request for ``target``."""
        return self.sign(Delete(_id_of(target)), ts=ts)

    # --- wire form ------------------------------------------------------------------

    def wire(self) -> list[bytes]:
        """Every message of the chain as it travels."""
        return [m.to_bytes() for m in self.messages]


# --- hand-built wire bytes ------------------------------------------------------------


def cbor_head(major: int, argument: int) -> bytes:
    """The shortest CBOR head for a major type (0-7) and argument."""
    if argument < 24:
        return bytes([major << 5 | argument])
    for info, width in ((24, 1), (25, 2), (26, 4), (27, 8)):
        if argument < 1 << (8 * width):
            return bytes([major << 5 | info]) + argument.to_bytes(width, "big")
    raise ValueError("argument does not fit 64 bits")


def cbor_bstr(data: bytes) -> bytes:
    """``data`` as a canonical CBOR byte string."""
    return cbor_head(2, len(data)) + data


def signed_header_bytes(key: SigningKey, header: bytes) -> bytes:
    """``[header, signature]`` around raw header bytes, canonical or not, signed properly."""
    signature = key.sign(SIGNING_CONTEXT + header).signature
    return b"\x82" + header + cbor_bstr(signature)


def message_bytes(signed_header: bytes, body: bytes | None) -> bytes:
    """``[signed_header, body or null]`` around raw bytes."""
    return b"\x82" + cbor_bstr(signed_header) + (b"\xf6" if body is None else cbor_bstr(body))


def header_value(message: Message, **changes: canonical.Value) -> dict[str, canonical.Value]:
    """The header map of ``message`` with some fields replaced.

    To drop a field, delete its key from the result.
    """
    value = message.header.to_value()
    value.update(changes)
    return value


def resign(
    key: SigningKey,
    header: dict[str, canonical.Value] | bytes,
    body: bytes | None,
) -> bytes:
    """Wire bytes of a message with any header, validly signed by ``key``.

    Args:
        key: The signing key (normally the header's author).
        header: A header map (encoded canonically) or raw header bytes.
        body: Raw body bytes, or None for a dropped body.
    """
    raw = canonical.encode(header) if isinstance(header, dict) else header
    return message_bytes(signed_header_bytes(key, raw), body)


def body_for(value: dict[str, canonical.Value]) -> tuple[bytes, bytes, int]:
    """A raw body map's bytes, hash and length, for a header that commits to it."""
    data = canonical.encode(value)
    return data, blake2b_256(data), len(data)
