"""What the index derives from post text: hashtags and mentioned authors."""

from __future__ import annotations

import re
from typing import Final

from ..errors import InvalidIdError
from .bech32 import CHARSET
from .ids import AuthorId

MAX_TAG_CHARS: Final = 64
_TAG = re.compile(r"(?<![\w#])#(\w{1,64})(?!\w)")
_AUTHOR = re.compile(rf"(?<![a-z0-9])({AuthorId.HRP}1[{CHARSET}]{{58}})(?![a-z0-9])")


def extract_tags(text: str) -> list[str]:
    """The hashtags in ``text``, case-folded, in order of first appearance, no repeats.

    A tag is ``#`` followed by 1 to 64 letters, digits or underscores, not preceded by a
    word character (so ``a#b`` and ``##x`` are not tags).
    """
    seen: dict[str, None] = {}
    for match in _TAG.finditer(text):
        seen.setdefault(match.group(1).casefold(), None)
    return list(seen)


def normalize_tag(tag: str) -> str:
    """A tag as the index keys it: without a leading ``#``, case-folded."""
    return tag.removeprefix("#").casefold()


def find_author_ids(text: str) -> list[AuthorId]:
    """Full author ids written in ``text`` (valid checksums only), no repeats, in order."""
    found: dict[AuthorId, None] = {}
    for match in _AUTHOR.finditer(text):
        try:
            found.setdefault(AuthorId.parse(match.group(1)), None)
        except InvalidIdError:  # a typo in the checksum or padding: not an id
            continue
    return list(found)
