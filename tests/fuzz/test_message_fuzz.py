"""Fuzz message and body validation.

Byte edits of real messages mostly die at the signature or the body hash; so the main
harness here re-signs each mutated header with its author's key (and fixes up the body
hash), which carries the mutation to the rule it breaks: header shape and ranges, kinds,
every body schema, the limits. Whatever is accepted must satisfy every invariant of a
valid message (tests/fuzz/properties.py), including that its body has exactly the bytes
this node would have written.
"""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from p2psocial.core import canonical
from p2psocial.core.bodies import KINDS

from . import seeds
from .budget import budget
from .properties import check_body, check_message
from .strategies import mutate_value, mutated, resigned, values


@budget(300)
@given(resigned(seeds.valid_seeds()))
def test_resigned_mutations_are_valid_or_refused(data: bytes) -> None:
    check_message(data)


@budget(300)
@given(mutated(seeds.valid_wires() + seeds.invalid_wires()))
def test_byte_edits_are_valid_or_refused(data: bytes) -> None:
    check_message(data)


@budget(300)
@given(st.sampled_from(sorted(KINDS)) | st.text(max_size=20), values())
def test_any_body_value_is_a_valid_body_or_refused(kind: str, value: canonical.Value) -> None:
    check_body(kind, canonical.encode(value))


@st.composite
def mutated_bodies(draw: st.DrawFn) -> tuple[str, bytes]:
    """A real body of a real kind with one value-level edit (often still valid)."""
    message = draw(st.sampled_from(seeds.messages()))
    assert message.body_bytes is not None
    value = draw(mutate_value(canonical.decode(message.body_bytes)))
    kind = draw(st.just(message.kind.value) | st.sampled_from(sorted(KINDS)))
    return kind, canonical.encode(value)


@budget(300)
@given(mutated_bodies())
def test_edited_bodies_are_valid_or_refused(case: tuple[str, bytes]) -> None:
    check_body(*case)
