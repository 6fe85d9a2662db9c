"""The sans-IO core: message model, canonical encoding, signing, validation, chain rules.

Nothing here touches a disk, a socket or a clock; everything is a function of its
arguments, tested without I/O. The store, the network and the command line are adapters
around it.
"""

from __future__ import annotations

from .bodies import (
    KINDS,
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
    decode_body,
    encode_body,
)
from .chain import ChainView, MemoryChains, Verdict, check_chain
from .ids import AuthorId, MessageId
from .message import SIGNING_CONTEXT, Header, Message, blake2b_256, decode_message, sign

__all__ = [
    "KINDS",
    "SIGNING_CONTEXT",
    "AuthorId",
    "Block",
    "Body",
    "ChainView",
    "Delete",
    "Follow",
    "Header",
    "Kind",
    "ListEntry",
    "MemoryChains",
    "Message",
    "MessageId",
    "ModerationList",
    "Post",
    "Profile",
    "Reaction",
    "Reply",
    "Repost",
    "Unblock",
    "Unfollow",
    "Verdict",
    "blake2b_256",
    "check_chain",
    "decode_body",
    "decode_message",
    "encode_body",
    "sign",
]
