"""Canonical CBOR: the one byte form of every value that is signed or hashed.

p2psocial uses a small subset of CBOR (RFC 8949) and its core deterministic encoding
(section 4.2.1): definite lengths only, the shortest form of every integer and length,
map keys sorted by their encoded bytes, no tags, no floats. Only these types appear:

========  =====================================================
CBOR      Python
========  =====================================================
uint/nint ``int`` in [-2**63, 2**64 - 1]
bstr      ``bytes``
tstr      ``str`` (valid UTF-8)
array     ``list``
map       ``dict`` with ``str`` keys of at most 23 bytes
simple    ``True``, ``False``, ``None``
========  =====================================================

Keys are limited to 23 bytes so that RFC 8949 order (bytewise on the encoded key) and
the older RFC 7049 "length first" order coincide; any conforming encoder then produces
the same bytes.

:func:`decode` accepts only input that :func:`encode` would have produced for the same
value. Anything else (an unsorted map, a duplicate key, a long-form integer, an
indefinite length, a tag, a float, trailing bytes) is refused, so that one value has
exactly one encoding and every hash and signature is over that encoding.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Iterator, Mapping
from typing import Any, Final, TypeAlias, Union, cast

import cbor2

from ..errors import DecodeError, NonCanonicalError

MAX_DEPTH: Final = 6
MAX_KEY_BYTES: Final = 23
_INT_MIN: Final = -(2**63)
_INT_MAX: Final = 2**64 - 1

Value: TypeAlias = Union[int, bytes, str, bool, list["Value"], dict[str, "Value"], None]  # noqa: UP007


def encode(value: Value) -> bytes:
    """Encode a value in canonical CBOR.

    Args:
        value: A value built only of the types in the module docstring.

    Returns:
        The one canonical encoding of ``value``.

    Raises:
        ValueError: ``value`` holds a type or integer outside the subset.
    """
    _check_value(value, depth=0, error=ValueError)
    return cbor2.dumps(value, canonical=True)


def decode(data: bytes) -> Value:
    """Decode canonical CBOR, refusing every other encoding of the same value.

    Args:
        data: Exactly one CBOR data item, with nothing after it.

    Returns:
        The decoded value.

    Raises:
        DecodeError: ``data`` is not well-formed CBOR of the subset.
        NonCanonicalError: ``data`` is well-formed but not the canonical encoding.
    """
    stream = io.BytesIO(data)
    # Built outside the try: a cbor2 without these options must fail loudly, not make
    # every message look malformed.
    decoder = cbor2.CBORDecoder(
        stream,
        max_depth=MAX_DEPTH + 1,
        allow_indefinite=False,
        allow_duplicate_keys=False,
        semantic_decoders=_EVERY_TAG_REFUSED,
        tag_hook=cast(Any, _refuse_tag),  # cbor2's stubs disagree with its docs
    )
    try:
        value: Any = decoder.decode()
    except DecodeError:
        raise
    except (cbor2.CBORDecodeError, ValueError, TypeError, RecursionError, OverflowError) as exc:
        raise DecodeError(f"malformed CBOR: {_first_line(exc)}") from None
    if stream.tell() != len(data):
        raise DecodeError(f"{len(data) - stream.tell()} trailing bytes after the CBOR item")
    _check_value(value, depth=0, error=DecodeError, from_wire=True)
    if cbor2.dumps(value, canonical=True) != bytes(data):
        raise NonCanonicalError("CBOR is well-formed but not in canonical form")
    return value  # type: ignore[no-any-return]


def _refuse_tag(_decoder: object, tag: cbor2.CBORTag) -> object:
    raise DecodeError(f"CBOR tag {tag.tag} is not allowed")


def _refuse_semantic_tag(*_args: object) -> object:
    raise ValueError("CBOR tags are not allowed")


class _EveryTagRefused(Mapping[int, Callable[..., object]]):
    """Maps every tag number to a refusal.

    cbor2 interprets some tags itself (bignums, self-described CBOR, dates, regexes...)
    before ``tag_hook`` sees them; overriding all of them keeps attacker-chosen bytes
    away from those decoders and makes every tag a DecodeError, never a NonCanonicalError.
    """

    def __getitem__(self, tag: int) -> Callable[..., object]:
        return _refuse_semantic_tag

    def __contains__(self, tag: object) -> bool:
        return True

    def __iter__(self) -> Iterator[int]:
        return iter(())

    def __len__(self) -> int:
        return 0


_EVERY_TAG_REFUSED: Final = _EveryTagRefused()


_SCALARS: Final = frozenset({bytes, bool, type(None)})


def _check_value(
    value: object, *, depth: int, error: type[Exception], from_wire: bool = False
) -> None:
    # Exact types only (no subclasses), tested cheapest first: this runs on every decode.
    if depth > MAX_DEPTH:
        raise error(f"CBOR nested deeper than {MAX_DEPTH}")
    kind = type(value)
    if kind in _SCALARS:
        return
    if kind is str:
        if not from_wire:  # decoded text is valid UTF-8 already
            try:
                value.encode("utf-8")  # type: ignore[attr-defined]
            except UnicodeEncodeError:
                raise error("text is not valid UTF-8 (it holds a lone surrogate)") from None
        return
    if kind is int:
        if not _INT_MIN <= value <= _INT_MAX:  # type: ignore[operator]
            raise error("integer out of the 64-bit range")
        return
    if kind is list:
        for item in value:  # type: ignore[attr-defined]
            _check_value(item, depth=depth + 1, error=error, from_wire=from_wire)
        return
    if kind is dict:
        for key, item in value.items():  # type: ignore[attr-defined]
            if type(key) is not str:
                raise error("map keys must be text strings")
            if len(key) > MAX_KEY_BYTES or len(key.encode("utf-8")) > MAX_KEY_BYTES:
                raise error(f"map key longer than {MAX_KEY_BYTES} bytes")
            _check_value(item, depth=depth + 1, error=error, from_wire=from_wire)
        return
    raise error(f"type {type(value).__name__} is not allowed in p2psocial CBOR")


def _first_line(exc: BaseException) -> str:
    text = str(exc) or type(exc).__name__
    return text.splitlines()[0][:200]
