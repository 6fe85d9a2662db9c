"""``verify``: re-check every record, signature, hash and link in a log.

Trusts nothing derived: it reads the log files only (never the index), checks each
frame's checksum, validates each message in full (signature included) and rebuilds every
author's chain in memory. It needs no lock and changes nothing, so it may run beside the
writer.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from ..core.chain import MemoryChains, Verdict
from ..core.ids import AuthorId
from ..core.message import decode_message
from ..errors import P2PSocialError
from .log import Damage, Log


@dataclass(frozen=True, slots=True)
class Problem:
    """One thing wrong in the log."""

    position: int
    code: str
    """An error code from :mod:`p2psocial.errors` (``store.log_corrupt`` for damage)."""
    detail: str


@dataclass(slots=True)
class VerifyReport:
    """What ``verify`` found."""

    records: int = 0
    authors: int = 0
    problems: list[Problem] = field(default_factory=list)
    forks: list[tuple[AuthorId, int]] = field(default_factory=list)
    """Fork evidence held (author, seq): valid records, reported for information."""
    gaps: dict[AuthorId, list[tuple[int, int]]] = field(default_factory=dict)
    """Seq ranges not (yet) held below each author's newest message."""

    @property
    def ok(self) -> bool:
        """True when no record is damaged, invalid or mislinked."""
        return not self.problems


def verify_log(log_dir: Path) -> VerifyReport:
    """Check every record of the log in ``log_dir``.

    Raises:
        StoreError: The log directory cannot be read at all.
    """
    report = VerifyReport()
    chains = MemoryChains()
    authors: set[AuthorId] = set()
    with Log.open(log_dir, writable=False) as log:
        for entry in log.scan():
            if isinstance(entry, Damage):
                report.problems.append(Problem(entry.position, "store.log_corrupt", entry.reason))
                continue
            report.records += 1
            try:
                message = decode_message(entry.payload)
                verdict = chains.add(message, allow_gaps=True)
            except P2PSocialError as exc:
                report.problems.append(Problem(entry.position, exc.code, str(exc)))
                continue
            authors.add(message.author)
            if verdict is Verdict.FORK:
                report.forks.append((message.author, message.seq))
    report.authors = len(authors)
    for author in sorted(authors, key=lambda a: a.raw):
        missing = chains.missing(author)
        if missing:
            report.gaps[author] = missing
    return report
