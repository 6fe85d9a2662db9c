"""Chain rules: how a valid message fits its author's hash chain.

Each author's messages form a chain: ``seq`` counts from 1 and ``prev`` is the id of the
message at ``seq - 1``. Messages may arrive out of order (newest-first sync), so a node
may hold a message whose predecessors it has not seen yet; the chain is checked against
whatever neighbours are held, and completeness is tracked separately.

The rules, given what is held for the author:

1. The same message again is a duplicate (not an error; nothing to store).
2. A different message already held at the same ``seq`` is a **fork**. So is a message
   whose held successor (``seq + 1``) names another ``prev``: the author has signed two
   different messages for one ``seq``. Forks are stored as evidence and the author is
   marked forked; the first message held stays the one in timelines.
3. If the message at ``seq - 1`` is held, ``prev`` must be its id (else *prev mismatch*).
4. Without ``allow_gaps``, ``seq`` may be at most one past the highest held ``seq``
   (else *seq gap*). Locally composed messages, and peers' gossip before a sync fills the
   gap, are checked this way.

This module is pure; the store supplies a :class:`ChainView` from its index, and
:class:`MemoryChains` supplies one from memory (for ``verify`` and tests).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum

from ..errors import PrevMismatchError, SeqGapError
from .ids import AuthorId, MessageId
from .message import Message


class Verdict(Enum):
    """What to do with a message that passed the chain rules."""

    APPEND = "append"
    """New: store it."""
    DUPLICATE = "duplicate"
    """Already held: nothing to do."""
    FORK = "fork"
    """Equivocation by its author: store it as evidence and mark the author forked."""


@dataclass(frozen=True, slots=True)
class ChainView:
    """What a node holds around one (author, seq)."""

    head_seq: int = 0
    """The highest seq held for the author, 0 if none."""
    at_seq: MessageId | None = None
    """The id held at the same seq (the first one, if forked)."""
    before: MessageId | None = None
    """The id held at seq - 1."""
    after_prev: MessageId | None = None
    """The ``prev`` of the message held at seq + 1."""


def check_chain(message: Message, view: ChainView, *, allow_gaps: bool) -> Verdict:
    """Apply the chain rules to a message that is valid on its own.

    Args:
        message: A verified message.
        view: What is held around ``(message.author, message.seq)``.
        allow_gaps: Whether the message may lie beyond the next expected seq.

    Returns:
        APPEND, DUPLICATE or FORK.

    Raises:
        PrevMismatchError: ``prev`` differs from the held predecessor's id.
        SeqGapError: ``seq`` skips ahead and gaps are not allowed.
    """
    if view.at_seq is not None:
        return Verdict.DUPLICATE if view.at_seq == message.id else Verdict.FORK
    if view.after_prev is not None and view.after_prev != message.id:
        return Verdict.FORK
    if view.before is not None and message.header.prev != view.before:
        raise PrevMismatchError(
            f"{message.author.short} seq {message.seq}: prev is not the id of seq {message.seq - 1}"
        )
    if not allow_gaps and message.seq > view.head_seq + 1:
        raise SeqGapError(
            f"{message.author.short} seq {message.seq}: the latest held is {view.head_seq}"
        )
    return Verdict.APPEND


@dataclass(slots=True)
class _AuthorChain:
    ids: dict[int, MessageId] = field(default_factory=dict)
    prevs: dict[int, MessageId | None] = field(default_factory=dict)
    head: int = 0
    forked: bool = False


class MemoryChains:
    """Every author's chain held in memory: the reference for ``verify`` and tests."""

    def __init__(self) -> None:
        self._chains: dict[AuthorId, _AuthorChain] = {}

    def view(self, author: AuthorId, seq: int) -> ChainView:
        """What is held around ``(author, seq)``."""
        chain = self._chains.get(author)
        if chain is None:
            return ChainView()
        return ChainView(
            head_seq=chain.head,
            at_seq=chain.ids.get(seq),
            before=chain.ids.get(seq - 1),
            after_prev=chain.prevs.get(seq + 1),
        )

    def add(self, message: Message, *, allow_gaps: bool = True) -> Verdict:
        """Check a message against the held chain and record it.

        Raises:
            PrevMismatchError, SeqGapError: As :func:`check_chain`.
        """
        verdict = check_chain(
            message, self.view(message.author, message.seq), allow_gaps=allow_gaps
        )
        chain = self._chains.setdefault(message.author, _AuthorChain())
        if verdict is Verdict.APPEND:
            chain.ids[message.seq] = message.id
            chain.prevs[message.seq] = message.header.prev
            chain.head = max(chain.head, message.seq)
        elif verdict is Verdict.FORK:
            chain.forked = True
        return verdict

    def is_forked(self, author: AuthorId) -> bool:
        """Whether a fork by ``author`` has been seen."""
        chain = self._chains.get(author)
        return chain is not None and chain.forked

    def missing(self, author: AuthorId) -> list[tuple[int, int]]:
        """The seq ranges ``(first, last)`` below the head that are not held."""
        chain = self._chains.get(author)
        if chain is None:
            return []
        gaps: list[tuple[int, int]] = []
        expected = 1
        for seq in sorted(chain.ids):
            if seq > expected:
                gaps.append((expected, seq - 1))
            expected = seq + 1
        return gaps
