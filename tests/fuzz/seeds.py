"""The seed corpus: real bytes of every kind a node reads, from docs/vectors.json and the
factories, plus the keys that signed them (so a harness can re-sign a mutated header).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any, Final

from nacl.signing import SigningKey

from p2psocial.core import sync
from p2psocial.core.message import Message, decode_message
from p2psocial.store.framing import EXPORT_HEADER, encode_frame
from tests.factories import ChainBuilder, message_id

VECTORS_PATH: Final = Path(__file__).resolve().parents[2] / "docs" / "vectors.json"


@dataclass(frozen=True, slots=True)
class Seed:
    """A valid message and, when known, the key that signed it."""

    wire: bytes
    key: SigningKey | None


@cache
def vectors() -> dict[str, Any]:
    """docs/vectors.json, parsed."""
    loaded: dict[str, Any] = json.loads(VECTORS_PATH.read_text(encoding="utf-8"))
    return loaded


@cache
def chains() -> tuple[ChainBuilder, ChainBuilder, ChainBuilder]:
    """Three authors whose chains use every long-standing kind, with a fork and a gap."""
    alice, bob, carol = ChainBuilder(101), ChainBuilder(102), ChainBuilder(103)
    alice.profile("Alice", "writes about #p2p")
    hello = alice.post("hello #p2p", mentions=[bob])
    bob.follow(alice)
    reply = bob.reply(hello, "hi alice")
    alice.reply(reply, "hi bob, how are you?")
    carol.react(hello)
    carol.repost(hello)
    alice.delete(hello)
    bob.unfollow(alice)
    carol.post("line one\nline two\twith a tab")
    carol.post(message_id(7).short)  # text that looks like an id
    return alice, bob, carol


@cache
def valid_seeds() -> tuple[Seed, ...]:
    """Every valid message of the vectors and the factories, with its key."""
    keys = {
        bytes.fromhex(author["public_key_hex"]): SigningKey(bytes.fromhex(author["seed_hex"]))
        for author in vectors()["authors"]
    }
    seeds = [
        Seed(wire, keys.get(decode_message(wire).author.raw))
        for wire in (bytes.fromhex(m["message_hex"]) for m in vectors()["messages"])
    ]
    for builder in chains():
        seeds.extend(Seed(m.to_bytes(), builder.key) for m in builder.messages)
        seeds.append(Seed(builder.messages[0].without_body().to_bytes(), builder.key))
    return tuple(seeds)


@cache
def valid_wires() -> tuple[bytes, ...]:
    """The wire bytes of :func:`valid_seeds`."""
    return tuple(seed.wire for seed in valid_seeds())


@cache
def invalid_wires() -> tuple[bytes, ...]:
    """The invalid messages of the vectors, one per rule."""
    return tuple(bytes.fromhex(case["message_hex"]) for case in vectors()["invalid"])


@cache
def messages() -> tuple[Message, ...]:
    """The factories' messages, decoded (for stores and sync peers)."""
    return tuple(m for builder in chains() for m in builder.messages)


@cache
def fork() -> Message:
    """A second message for seq 2 of the first factory author: fork evidence."""
    return chains()[0].fork(2)


@cache
def export_files() -> tuple[bytes, ...]:
    """Export files: the vectors' one and one holding every factory message."""
    made = EXPORT_HEADER + b"".join(encode_frame(m.to_bytes()) for m in messages())
    return (bytes.fromhex(vectors()["framing"]["export_file_hex"]), made)


@cache
def sync_requests() -> tuple[bytes, ...]:
    """One encoded request of each kind, aimed at the factory authors."""
    author = chains()[0].author
    ranges = sync.split_range(sync.FULL_RANGE, 4)
    return tuple(
        sync.encode_request(request)
        for request in (
            sync.DigestRequest((sync.FULL_RANGE,)),
            sync.DigestRequest(tuple(ranges)),
            sync.FrontierRequest((sync.author_range(author),)),
            sync.FrontierRequest(tuple(ranges), after=author.raw),
            sync.MessagesRequest(author.raw, 1, 9, desc=True),
            sync.MessagesRequest(author.raw, 2, 3, desc=False, limit=1),
        )
    )


def corpus() -> dict[str, tuple[bytes, ...]]:
    """Seed inputs per atheris target (tools/fuzz.py writes them into its corpora)."""
    return {
        "canonical": valid_wires() + invalid_wires(),
        "message": valid_wires() + invalid_wires(),
        "sync_request": sync_requests(),
        "sync_response": tuple(b"\x00" + r for r in sync_requests()),
        "export": export_files(),
    }
