"""What the index derives from post text: hashtags and mentioned authors."""

from __future__ import annotations

import re
import unicodedata
from typing import Final

from ..errors import InvalidIdError
from .bech32 import CHARSET
from .ids import AuthorId

MAX_TAG_CHARS: Final = 64
_AUTHOR = re.compile(rf"(?<![a-z0-9])({AuthorId.HRP}1[{CHARSET}]{{58}})(?![a-z0-9])")


def _is_word_char(char: str) -> bool:
    """``_``, or a letter, number or combining mark (Unicode categories L, N, M)."""
    return char == "_" or unicodedata.category(char)[0] in "LNM"


def extract_tags(text: str) -> list[str]:
    """The hashtags in ``text`` as the index keys them, in order of first appearance.

    A tag is ``#`` not preceded by a word character or ``#``, then 1 to 64 word
    characters (after NFC normalisation) starting with a letter, number or ``_``; a longer
    run is no tag at all. Word characters include combining marks, so ``#हिन्दी`` and a
    decomposed ``#café`` are whole tags.
    """
    text = unicodedata.normalize("NFC", text)
    seen: dict[str, None] = {}
    start = text.find("#")
    while start != -1:
        end = start + 1
        while end < len(text) and _is_word_char(text[end]):
            end += 1
        word = text[start + 1 : end]
        before = text[start - 1] if start else ""
        if (
            word
            and len(word) <= MAX_TAG_CHARS
            and unicodedata.category(word[0])[0] != "M"
            and not (before and (before == "#" or _is_word_char(before)))
        ):
            seen.setdefault(normalize_tag(word), None)
        start = text.find("#", max(end, start + 1))
    return list(seen)


def normalize_tag(tag: str) -> str:
    """A tag as the index keys it: no leading ``#``, case-folded, NFC-normalised."""
    return unicodedata.normalize("NFC", tag.removeprefix("#").casefold())


def find_author_ids(text: str) -> list[AuthorId]:
    """Full author ids written in ``text`` (valid checksums only), no repeats, in order."""
    found: dict[AuthorId, None] = {}
    for match in _AUTHOR.finditer(text):
        try:
            found.setdefault(AuthorId.parse(match.group(1)), None)
        except InvalidIdError:  # a typo in the checksum or padding: not an id
            continue
    return list(found)
