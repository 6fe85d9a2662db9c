"""Hard limits of the message format (docs/protocol.md, "Limits").

Every limit is in bytes of UTF-8 or of encoding, never in characters, so that every
implementation counts the same way. A message over any of them is invalid.
"""

from __future__ import annotations

from typing import Final

PROTOCOL_VERSION: Final = 1

MAX_MESSAGE_BYTES: Final = 8192
"""The whole encoded message: signed header and body."""

MAX_BODY_BYTES: Final = 4096
MAX_TEXT_BYTES: Final = 2048
"""Text of a post or reply."""

MAX_NAME_BYTES: Final = 64
MAX_BIO_BYTES: Final = 1024
MAX_EMOJI_BYTES: Final = 32
MAX_MENTIONS: Final = 16
MAX_LIST_NAME_BYTES: Final = 32
MAX_LIST_ENTRIES: Final = 64
"""Entries of one moderation list message (a longer list is split over several names)."""
MAX_REASON_BYTES: Final = 200
MAX_KIND_BYTES: Final = 16
MAX_SEQ: Final = 2**53 - 1
MAX_TS: Final = 2**53 - 1

DEFAULT_MAX_CLOCK_SKEW_MS: Final = 10 * 60 * 1000
"""How far ahead of the local clock a timestamp may be (local policy, not format)."""
