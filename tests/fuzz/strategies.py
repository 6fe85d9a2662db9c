"""Hypothesis strategies for hostile input: byte mutations of real seeds, raw CBOR of
every major type (well-formed or not), and value-level mutations that stay canonical, so
that a re-signed message gets past the signature and reaches the deeper rules.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final

from hypothesis import strategies as st
from nacl.signing import SigningKey

from p2psocial.core import canonical
from p2psocial.core.message import SIGNING_CONTEXT, blake2b_256

from .seeds import Seed

INTERESTING_BYTES: Final = (
    0x00, 0x01, 0x17, 0x18, 0x19, 0x1A, 0x1B, 0x1C, 0x1F, 0x20, 0x38, 0x40, 0x58, 0x5F,
    0x60, 0x78, 0x7F, 0x80, 0x9F, 0xA0, 0xBF, 0xC0, 0xC2, 0xD8, 0xF4, 0xF5, 0xF6, 0xF7,
    0xF8, 0xF9, 0xFA, 0xFB, 0xFF,
)  # fmt: skip
"""CBOR heads at the edges: short/long arguments, indefinite lengths, tags, floats, break."""

INTERESTING_INTS: Final = (
    0, 1, -1, 23, 24, 255, 256, 65535, 65536, 2**32 - 1, 2**32, 2**53 - 1, 2**53,
    2**63 - 1, 2**64 - 1, -(2**63), -(2**53), 8192, 4096, 2048,
)  # fmt: skip
"""Integers at the limits of CBOR heads, of the protocol (MAX_SEQ, sizes) and of SQLite."""

FIELD_NAMES: Final = (
    "v", "author", "seq", "prev", "ts", "kind", "body_hash", "body_len", "pow",
    "text", "mentions", "root", "parent", "target", "emoji", "name", "bio", "automated",
    "entries", "reason", "op", "ranges", "after", "first", "last", "desc", "limit",
    "digests", "more", "messages", "error", "message",
)  # fmt: skip
"""Every map key the protocol uses (a mutation that renames a key uses one of these)."""


# --- bytes ---------------------------------------------------------------------------------


@st.composite
def mutated(draw: st.DrawFn, seeds: Sequence[bytes], *, max_steps: int = 4) -> bytes:
    """A seed with a few byte-level edits, libFuzzer style (each shrinks toward the seed)."""
    data = bytearray(draw(st.sampled_from(seeds), label="seed"))
    for _ in range(draw(st.integers(1, max_steps), label="steps")):
        op = draw(
            st.sampled_from(
                ["flip", "set", "insert", "delete", "duplicate", "splice", "truncate", "append"]
            )
        )
        size = len(data)
        at = draw(st.integers(0, size), label="at")
        if op == "flip" and at < size:
            data[at] ^= 1 << draw(st.integers(0, 7))
        elif op == "set" and at < size:
            data[at] = draw(st.sampled_from(INTERESTING_BYTES) | st.integers(0, 255))
        elif op == "insert":
            data[at:at] = draw(st.binary(min_size=1, max_size=9))
        elif op == "delete":
            del data[at : at + draw(st.integers(1, 16))]
        elif op == "duplicate":
            data[at:at] = data[at : at + draw(st.integers(1, 32))]
        elif op == "splice":
            other = draw(st.sampled_from(seeds))
            start = draw(st.integers(0, len(other)))
            data[at:] = other[start:]
        elif op == "truncate":
            del data[at:]
        elif op == "append":
            data += draw(st.binary(min_size=1, max_size=16))
    return bytes(data)


def _head(major: int, info: int, argument: int) -> bytes:
    width = {24: 1, 25: 2, 26: 4, 27: 8}.get(info, 0)
    if width == 0:
        return bytes([major << 5 | info])
    return bytes([major << 5 | info]) + (argument % (1 << (8 * width))).to_bytes(width, "big")


@st.composite
def raw_cbor(draw: st.DrawFn, depth: int = 0) -> bytes:
    """One CBOR item built from heads of any major type and width: canonical, long-form,
    indefinite, tagged, floats, simple values, lengths that lie, invalid UTF-8, or
    nesting deeper than the subset allows."""
    major = draw(st.integers(0, 7), label="major")
    info = draw(
        st.integers(0, 23) | st.sampled_from([24, 25, 26, 27]) | st.sampled_from([28, 31]),
        label="info",
    )
    argument = draw(st.sampled_from(INTERESTING_INTS) | st.integers(0, 40), label="argument")
    argument = abs(argument)
    if info < 24:
        argument = info
    head = _head(major, info, argument)
    # Few items, fewer the deeper: the claimed length may still be huge (and a lie).
    count = min(argument, max(1, 3 - depth))
    if info == 31:
        count = draw(st.integers(0, max(1, 3 - depth)))
    if major in (2, 3):
        if info == 31:  # indefinite: chunks then break
            chunks = [_head(major, 1, 0) + b"a" for _ in range(count)]
            return head + b"".join(chunks) + b"\xff"
        content = draw(st.binary(max_size=8), label="content")
        if major == 3 and draw(st.booleans()):
            content = draw(st.text(max_size=8)).encode("utf-8", "surrogatepass")
        return head + content[: min(argument, 64)]
    if major in (4, 5, 6) and depth < 9:
        items = 1 if major == 6 else count * (2 if major == 5 else 1)
        inner = b"".join(draw(raw_cbor(depth + 1)) for _ in range(items))
        return head + inner + (b"\xff" if info == 31 else b"")
    return head


# --- canonical values ------------------------------------------------------------------------

_KEYS: Final = st.sampled_from(FIELD_NAMES) | st.text(max_size=6)
_SCALARS: Final = st.one_of(
    st.sampled_from(INTERESTING_INTS),
    st.integers(-(2**63), 2**64 - 1),
    st.binary(max_size=40),
    st.sampled_from([b"", b"\x00" * 31, b"\x00" * 32, b"\xff" * 32, b"\x00" * 33, b"\x01" * 64]),
    st.text(max_size=12),
    st.sampled_from(["", " ", "\n", "\x1b[2J", "\u202e", "a" * 300, "\u00e9" * 2049]),
    st.booleans(),
    st.none(),
)


def values(depth: int = 3) -> st.SearchStrategy[canonical.Value]:
    """Values of the canonical subset, with protocol keys and boundary scalars."""
    if depth == 0:
        return _SCALARS
    inner = values(depth - 1)
    return st.one_of(
        _SCALARS,
        st.lists(inner, max_size=4),
        st.dictionaries(_KEYS, inner, max_size=5),
    )


@st.composite
def mutate_value(draw: st.DrawFn, value: canonical.Value) -> canonical.Value:
    """``value`` with one node replaced, removed or added, still in the canonical subset."""
    # Mostly edit inside a container: replacing a whole message mostly tests one rule.
    descend = draw(st.integers(0, 7), label="descend") > 0
    if isinstance(value, dict) and value and descend:
        key = draw(st.sampled_from(sorted(value)), label="key")
        copy = dict(value)
        action = draw(st.sampled_from(["replace", "recurse", "delete", "add", "rename"]))
        if action == "replace":
            copy[key] = draw(values(1))
        elif action == "recurse":
            copy[key] = draw(mutate_value(value[key]))
        elif action == "delete":
            del copy[key]
        elif action == "add":
            copy[draw(_KEYS)] = draw(values(1))
        else:
            copy[draw(_KEYS)] = copy.pop(key)
        return copy
    if isinstance(value, list) and value and descend:
        at = draw(st.integers(0, len(value) - 1), label="index")
        copy = list(value)
        action = draw(st.sampled_from(["replace", "recurse", "delete", "insert"]))
        if action == "replace":
            copy[at] = draw(values(1))
        elif action == "recurse":
            copy[at] = draw(mutate_value(value[at]))
        elif action == "delete":
            del copy[at]
        else:
            copy.insert(at, draw(values(1)))
        return copy
    return draw(values(2))


@st.composite
def resigned(draw: st.DrawFn, seeds: Sequence[Seed]) -> bytes:
    """A valid message with its header and/or body mutated at the value level, the body
    hash and length fixed up (usually) and the header signed again by the author's key
    (usually), so that the mutation meets the rule it breaks, not the signature check."""
    seed = draw(st.sampled_from(seeds), label="seed")
    outer = canonical.decode(seed.wire)
    assert isinstance(outer, list)
    signed_header, body = outer[0], outer[1]
    assert isinstance(signed_header, bytes)
    inner = canonical.decode(signed_header)
    assert isinstance(inner, list)
    assert isinstance(inner[0], dict)
    header: canonical.Value = dict(inner[0])
    target = draw(st.sampled_from(["header", "header", "body", "body", "both", "outer"]))
    if target == "outer":
        mutated_outer = draw(mutate_value(outer))
        return canonical.encode(mutated_outer)
    if target in ("body", "both"):
        if body is None or draw(st.integers(0, 9)) == 0:
            body = draw(st.none() | st.binary(max_size=64))
        else:
            body_value = canonical.decode(body)
            body = canonical.encode(draw(mutate_value(body_value)))
        if isinstance(header, dict) and body is not None and draw(st.integers(0, 9)) > 0:
            header = {**header, "body_hash": blake2b_256(body), "body_len": len(body)}
    if target in ("header", "both"):
        header = draw(mutate_value(header))
    header_bytes = canonical.encode(header)
    key = (
        seed.key
        if seed.key is not None and draw(st.integers(0, 9)) > 0
        else SigningKey(b"\x07" * 32)
    )
    signature = key.sign(SIGNING_CONTEXT + header_bytes).signature
    return canonical.encode([canonical.encode([header, signature]), body])
