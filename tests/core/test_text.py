"""Derived data: hashtags and author ids found in text."""

from __future__ import annotations

import pytest

from p2psocial.core import bech32
from p2psocial.core.ids import AuthorId, MessageId
from p2psocial.core.text import MAX_TAG_CHARS, extract_tags, find_author_ids, normalize_tag
from tests.factories import author_id

# --- hashtags ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "tags"),
    [
        ("#p2p", ["p2p"]),
        ("hello #world and #p2p", ["world", "p2p"]),
        ("#a #b #a", ["a", "b"]),  # no repeats, first appearance order
        ("#Rust #RUST #rust", ["rust"]),  # case-folded
        ("#Straße", ["strasse"]),  # full case folding, not lower()
        ("#snake_case #_x #123", ["snake_case", "_x", "123"]),
        ("#日本語 #café", ["日本語", "café"]),  # letters of any script
        ("(#wrapped), #end.", ["wrapped", "end"]),
        ("line\n#start", ["start"]),
        ("#tag!", ["tag"]),
        ("#tag-with-dash", ["tag"]),  # a dash ends the tag
    ],
)
def test_extract_tags(text: str, tags: list[str]) -> None:
    assert extract_tags(text) == tags


@pytest.mark.parametrize(
    "text",
    [
        "",
        "no tags",
        "#",  # nothing after the mark
        "# spaced",
        "a#b",  # preceded by a word character
        "é#b",
        "##double",  # preceded by another #
        "#!",
        "x" * 10 + "#" * 3,
    ],
)
def test_extract_tags_finds_none(text: str) -> None:
    assert extract_tags(text) == []


def test_tag_length_limit() -> None:
    at_limit = "t" * MAX_TAG_CHARS
    assert extract_tags(f"#{at_limit}") == [at_limit]
    # Over the limit it is not a tag at all, rather than a truncated one.
    assert extract_tags(f"#{at_limit}x") == []


def test_tag_limit_counts_characters() -> None:
    assert extract_tags("#" + "é" * MAX_TAG_CHARS) == ["é" * MAX_TAG_CHARS]


def test_tags_keep_combining_marks() -> None:
    assert extract_tags("#हिन्दी") == ["हिन्दी"]
    assert extract_tags("#cafe\u0301 #café") == ["café"]  # decomposed and precomposed agree


@pytest.mark.parametrize(
    ("tag", "key"), [("#Rust", "rust"), ("rust", "rust"), ("#Straße", "strasse")]
)
def test_normalize_tag(tag: str, key: str) -> None:
    assert normalize_tag(tag) == key


def test_normalize_tag_agrees_with_extract_tags() -> None:
    for text in ("#Hello", "#ÉTÉ", "#Straße"):
        assert extract_tags(text) == [normalize_tag(text)]


# --- author ids in text -----------------------------------------------------------------


def test_find_author_ids_in_order_without_repeats() -> None:
    a, b = author_id(1), author_id(2)
    text = f"cc {b} and {a}, again {b}."
    assert find_author_ids(text) == [b, a]


def test_find_author_ids_at_the_edges_of_text() -> None:
    a = author_id(1)
    assert find_author_ids(str(a)) == [a]
    assert find_author_ids(f"({a})") == [a]
    assert find_author_ids(f"@{a}\n") == [a]


def test_find_author_ids_skips_a_typo() -> None:
    a, b = author_id(1), author_id(2)
    text = str(a)
    typo = text[:-1] + ("q" if text[-1] != "q" else "p")
    assert find_author_ids(f"{typo} {b}") == [b]


def test_find_author_ids_skips_bad_padding() -> None:
    # 52 data characters carry 260 bits; the last 4 must be zero. "l" sets them.
    raw_text = "p2sa1" + "l" * 52
    groups = [bech32.CHARSET.index(c) for c in raw_text[5:]]
    poly = bech32._polymod([*bech32._hrp_expand("p2sa"), *groups, 0, 0, 0, 0, 0, 0])
    checksum = "".join(
        bech32.CHARSET[(poly ^ bech32._BECH32M_CONST) >> 5 * (5 - i) & 31] for i in range(6)
    )
    assert find_author_ids(raw_text + checksum) == []


@pytest.mark.parametrize(
    "template",
    [
        "x{id}",  # glued to a word before
        "{id}x",  # glued to a word after
        "{id}0",
        "9{id}",
    ],
)
def test_find_author_ids_needs_word_boundaries(template: str) -> None:
    assert find_author_ids(template.format(id=author_id(1))) == []


def test_find_author_ids_ignores_short_forms_and_message_ids() -> None:
    a = author_id(1)
    assert find_author_ids(f"{a.short} {MessageId(a.raw)}") == []


def test_find_author_ids_ignores_upper_case() -> None:
    # The upper-case form is valid bech32m, but only lower case is recognised in text.
    assert find_author_ids(str(author_id(1)).upper()) == []


def test_find_author_ids_returns_author_ids() -> None:
    (found,) = find_author_ids(f"hi {author_id(3)}")
    assert isinstance(found, AuthorId)
    assert found == author_id(3)
