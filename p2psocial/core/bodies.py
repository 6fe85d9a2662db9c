"""Message kinds and their bodies: one schema per kind, checked strictly.

A body is a canonical CBOR map. Every key of a kind's schema is listed below; a missing
required key, an unknown key, a wrong type or a value over its limit makes the body
malformed. Optional list fields are omitted when empty (an empty list is malformed), so
each body value has exactly one encoding.

Text fields are UTF-8 with no control characters except line feed and tab (so that no
message can drive a terminal with escape sequences).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum
from typing import ClassVar, Final, TypeAlias, Union

from ..errors import MalformedBodyError, OversizeError, UnknownKindError
from . import canonical
from .ids import AuthorId, MessageId
from .limits import (
    MAX_BIO_BYTES,
    MAX_BODY_BYTES,
    MAX_EMOJI_BYTES,
    MAX_LIST_ENTRIES,
    MAX_LIST_NAME_BYTES,
    MAX_MENTIONS,
    MAX_NAME_BYTES,
    MAX_REASON_BYTES,
    MAX_TEXT_BYTES,
)


class Kind(StrEnum):
    """The kinds of message, as they appear in the header's ``kind`` field."""

    POST = "post"
    REPLY = "reply"
    REPOST = "repost"
    REACTION = "reaction"
    FOLLOW = "follow"
    UNFOLLOW = "unfollow"
    PROFILE = "profile"
    DELETE = "delete"
    BLOCK = "block"
    UNBLOCK = "unblock"
    LIST = "list"


KINDS: Final = frozenset(k.value for k in Kind)

# C0 controls but tab and line feed, DEL, and C1 controls.
_FORBIDDEN = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")
_FORBIDDEN_INLINE = re.compile(r"[\x00-\x1f\x7f-\x9f]")
# A moderation list's name is typed on command lines as AUTHOR/NAME.
_LIST_NAME = re.compile(r"[a-z0-9][a-z0-9._-]*")


@dataclass(frozen=True, slots=True)
class Post:
    """A top-level post."""

    text: str
    mentions: tuple[AuthorId, ...] = ()

    kind: ClassVar[Kind] = Kind.POST


@dataclass(frozen=True, slots=True)
class Reply:
    """A reply: ``parent`` is the message answered, ``root`` the top of its thread."""

    text: str
    root: MessageId
    parent: MessageId
    mentions: tuple[AuthorId, ...] = ()

    kind: ClassVar[Kind] = Kind.REPLY


@dataclass(frozen=True, slots=True)
class Repost:
    """Shares another message with the author's followers."""

    target: MessageId

    kind: ClassVar[Kind] = Kind.REPOST


@dataclass(frozen=True, slots=True)
class Reaction:
    """A short reaction (usually one emoji) to a message."""

    target: MessageId
    emoji: str

    kind: ClassVar[Kind] = Kind.REACTION


@dataclass(frozen=True, slots=True)
class Follow:
    """Starts following ``author``."""

    author: AuthorId

    kind: ClassVar[Kind] = Kind.FOLLOW


@dataclass(frozen=True, slots=True)
class Unfollow:
    """Stops following ``author``."""

    author: AuthorId

    kind: ClassVar[Kind] = Kind.UNFOLLOW


@dataclass(frozen=True, slots=True)
class Profile:
    """The author's display name and bio; the latest profile message replaces earlier ones.

    ``automated`` is the author's own statement that a program, not a person, posts for
    this account; readers label such accounts.
    """

    name: str
    bio: str = ""
    automated: bool = False

    kind: ClassVar[Kind] = Kind.PROFILE


@dataclass(frozen=True, slots=True)
class Delete:
    """Asks every node to drop the body of the author's own message ``target``."""

    target: MessageId

    kind: ClassVar[Kind] = Kind.DELETE


@dataclass(frozen=True, slots=True)
class Block:
    """Publicly blocks ``author``: the blocker's node stops storing and relaying their bodies."""

    author: AuthorId

    kind: ClassVar[Kind] = Kind.BLOCK


@dataclass(frozen=True, slots=True)
class Unblock:
    """Undoes a :class:`Block` of ``author``."""

    author: AuthorId

    kind: ClassVar[Kind] = Kind.UNBLOCK


@dataclass(frozen=True, slots=True)
class ListEntry:
    """One entry of a moderation list: an author or a single message, and why."""

    target: AuthorId | MessageId
    reason: str


@dataclass(frozen=True, slots=True)
class ModerationList:
    """A named moderation list; the author's latest ``list`` with a name replaces earlier ones.

    Others subscribe to ``AUTHOR/NAME``; an empty ``entries`` clears the list.
    """

    name: str
    entries: tuple[ListEntry, ...] = ()

    kind: ClassVar[Kind] = Kind.LIST


Body: TypeAlias = Union[  # noqa: UP007
    Post, Reply, Repost, Reaction, Follow, Unfollow, Profile, Delete, Block, Unblock, ModerationList
]


def encode_body(body: Body) -> bytes:
    """The canonical encoding of a body.

    Raises:
        MalformedBodyError: A field breaks its kind's schema (checked before encoding,
            so that this node never signs what other nodes would refuse).
        OversizeError: A field or the whole body is over its limit.
    """
    value: dict[str, canonical.Value]
    match body:
        case Post(text, mentions):
            value = {"text": text}
            if mentions:
                value["mentions"] = [a.raw for a in mentions]
        case Reply(text, root, parent, mentions):
            value = {"text": text, "root": root.raw, "parent": parent.raw}
            if mentions:
                value["mentions"] = [a.raw for a in mentions]
        case Repost(target) | Delete(target):
            value = {"target": target.raw}
        case Reaction(target, emoji):
            value = {"target": target.raw, "emoji": emoji}
        case Follow(author) | Unfollow(author) | Block(author) | Unblock(author):
            value = {"author": author.raw}
        case Profile(name, bio, automated):
            value = {"name": name, "bio": bio}
            if automated:
                value["automated"] = True
        case ModerationList(name, entries):
            value = {"name": name, "entries": [_entry_value(e) for e in entries]}
    try:
        data = canonical.encode(value)
    except ValueError as exc:
        raise MalformedBodyError(f"{body.kind.value} body: {exc}") from None
    # Re-parse: one set of rules for what we write and what we accept.
    decode_body(body.kind, data)
    return data


def decode_body(kind: str, data: bytes) -> Body:
    """Parse and check a body of the given kind.

    Raises:
        UnknownKindError: ``kind`` is not a known kind.
        OversizeError: The body or a field is over its limit.
        DecodeError, NonCanonicalError: The bytes are not canonical CBOR.
        MalformedBodyError: The body does not match the kind's schema.
    """
    if kind not in KINDS:
        raise UnknownKindError(f"unknown kind {kind[:32]!r}")
    if len(data) > MAX_BODY_BYTES:
        raise OversizeError(f"body is {len(data)} bytes, limit {MAX_BODY_BYTES}")
    value = canonical.decode(data)
    if not isinstance(value, dict):
        raise MalformedBodyError(f"{kind} body must be a map")
    fields = _Fields(kind, value)
    body: Body
    match Kind(kind):
        case Kind.POST:
            body = Post(fields.text("text", MAX_TEXT_BYTES), fields.mentions())
        case Kind.REPLY:
            body = Reply(
                fields.text("text", MAX_TEXT_BYTES),
                fields.message_id("root"),
                fields.message_id("parent"),
                fields.mentions(),
            )
        case Kind.REPOST:
            body = Repost(fields.message_id("target"))
        case Kind.REACTION:
            body = Reaction(fields.message_id("target"), fields.emoji("emoji"))
        case Kind.FOLLOW:
            body = Follow(fields.author_id("author"))
        case Kind.UNFOLLOW:
            body = Unfollow(fields.author_id("author"))
        case Kind.PROFILE:
            body = Profile(
                fields.text("name", MAX_NAME_BYTES, inline=True, may_be_empty=True),
                fields.text("bio", MAX_BIO_BYTES, may_be_empty=True),
                fields.true_flag("automated"),
            )
        case Kind.DELETE:
            body = Delete(fields.message_id("target"))
        case Kind.BLOCK:
            body = Block(fields.author_id("author"))
        case Kind.UNBLOCK:
            body = Unblock(fields.author_id("author"))
        case Kind.LIST:
            body = ModerationList(fields.list_name("name"), fields.list_entries("entries"))
    fields.finish()
    return body


def _entry_value(entry: ListEntry) -> dict[str, canonical.Value]:
    key = "author" if isinstance(entry.target, AuthorId) else "message"
    return {key: entry.target.raw, "reason": entry.reason}


def _utf8_size(kind: str, key: str, value: str) -> int:
    try:
        return len(value.encode("utf-8"))
    except UnicodeEncodeError:
        raise MalformedBodyError(f"{kind}.{key} is not valid UTF-8 text") from None


class _Fields:
    """Takes fields out of a body map one by one, then insists nothing is left."""

    def __init__(self, kind: str, value: dict[str, canonical.Value]) -> None:
        self._kind = kind
        self._left = dict(value)

    def _take(self, key: str) -> canonical.Value:
        if key not in self._left:
            raise MalformedBodyError(f"{self._kind} body lacks {key!r}")
        return self._left.pop(key)

    def text(
        self, key: str, limit: int, *, inline: bool = False, may_be_empty: bool = False
    ) -> str:
        value = self._take(key)
        if not isinstance(value, str):
            raise MalformedBodyError(f"{self._kind}.{key} must be text")
        size = _utf8_size(self._kind, key, value)
        if size > limit:
            raise OversizeError(f"{self._kind}.{key} is {size} bytes, limit {limit}")
        if (_FORBIDDEN_INLINE if inline else _FORBIDDEN).search(value):
            raise MalformedBodyError(f"{self._kind}.{key} contains a control character")
        if not may_be_empty and not value.strip():
            raise MalformedBodyError(f"{self._kind}.{key} is empty")
        return value

    def emoji(self, key: str) -> str:
        value = self._take(key)
        if not isinstance(value, str) or not value:
            raise MalformedBodyError(f"{self._kind}.{key} must be non-empty text")
        size = _utf8_size(self._kind, key, value)
        if size > MAX_EMOJI_BYTES:
            raise OversizeError(f"{self._kind}.{key} is {size} bytes, limit {MAX_EMOJI_BYTES}")
        if _FORBIDDEN_INLINE.search(value) or any(c.isspace() for c in value):
            raise MalformedBodyError(f"{self._kind}.{key} contains a space or control character")
        return value

    def _raw_id(self, key: str, value: canonical.Value) -> bytes:
        if not isinstance(value, bytes) or len(value) != 32:
            raise MalformedBodyError(f"{self._kind}.{key} must be a 32-byte id")
        return value

    def message_id(self, key: str) -> MessageId:
        return MessageId(self._raw_id(key, self._take(key)))

    def author_id(self, key: str) -> AuthorId:
        return AuthorId(self._raw_id(key, self._take(key)))

    def mentions(self) -> tuple[AuthorId, ...]:
        if "mentions" not in self._left:
            return ()
        value = self._left.pop("mentions")
        if not isinstance(value, list) or not value:
            raise MalformedBodyError(f"{self._kind}.mentions must be a non-empty list")
        if len(value) > MAX_MENTIONS:
            raise OversizeError(f"{self._kind}.mentions has {len(value)}, limit {MAX_MENTIONS}")
        authors = tuple(AuthorId(self._raw_id("mentions", item)) for item in value)
        if len(set(authors)) != len(authors):
            raise MalformedBodyError(f"{self._kind}.mentions lists an author twice")
        return authors

    def true_flag(self, key: str) -> bool:
        """An optional flag: present means ``true``; ``false`` is written by omitting it."""
        if key not in self._left:
            return False
        if self._left.pop(key) is not True:
            raise MalformedBodyError(f"{self._kind}.{key} must be true or omitted")
        return True

    def list_name(self, key: str) -> str:
        value = self._take(key)
        if not isinstance(value, str):
            raise MalformedBodyError(f"{self._kind}.{key} must be text")
        if len(value.encode("utf-8")) > MAX_LIST_NAME_BYTES:
            raise OversizeError(
                f"{self._kind}.{key} is {len(value.encode('utf-8'))} bytes, "
                f"limit {MAX_LIST_NAME_BYTES}"
            )
        if not _LIST_NAME.fullmatch(value):
            raise MalformedBodyError(
                f"{self._kind}.{key} must be lower-case letters, digits, '.', '_' or '-', "
                "starting with a letter or digit"
            )
        return value

    def list_entries(self, key: str) -> tuple[ListEntry, ...]:
        value = self._take(key)
        if not isinstance(value, list):
            raise MalformedBodyError(f"{self._kind}.{key} must be a list")
        if len(value) > MAX_LIST_ENTRIES:
            raise OversizeError(f"{self._kind}.{key} has {len(value)}, limit {MAX_LIST_ENTRIES}")
        entries: list[ListEntry] = []
        for item in value:
            if not isinstance(item, dict):
                raise MalformedBodyError(f"{self._kind}.{key} entries must be maps")
            entry = _Fields(f"{self._kind}.{key}[]", item)
            target: AuthorId | MessageId
            if "author" in item and "message" not in item:
                target = entry.author_id("author")
            elif "message" in item and "author" not in item:
                target = entry.message_id("message")
            else:
                raise MalformedBodyError(
                    f"{self._kind}.{key} entries need exactly one of 'author' and 'message'"
                )
            entries.append(ListEntry(target, entry.text("reason", MAX_REASON_BYTES, inline=True)))
            entry.finish()
        targets = [e.target.raw for e in entries]
        if len(set(targets)) != len(targets):
            raise MalformedBodyError(f"{self._kind}.{key} lists a target twice")
        return tuple(entries)

    def finish(self) -> None:
        if self._left:
            extra = ", ".join(sorted(repr(k) for k in self._left))
            raise MalformedBodyError(f"{self._kind} body has unknown field(s) {extra}")
