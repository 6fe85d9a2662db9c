"""Feed ranking: open, pluggable algorithms that explain every item they place.

Sans-IO like the rest of :mod:`p2psocial.core`: an algorithm is a pure function of the
candidates, the local social graph and the user's settings, returning ranked items with
their reasons (docs/algorithms.md). This package holds the interface
(:mod:`.interface`), trust in the follow graph (:mod:`.trust`, :mod:`.graph`), the
pipeline that runs an algorithm and pages its output (:mod:`.pipeline`), and the
built-in algorithms, one module each. Gathering candidates from the index and loading
plugins is the adapter's work (:mod:`p2psocial.feeds`). ``Kind``, ``AuthorId`` and
``MessageId`` are re-exported so that a plugin needs only this package.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Final

from ..bodies import Kind
from ..ids import AuthorId, MessageId
from . import chronological, conversations, fresh_voices, trusted
from .graph import SocialGraph
from .interface import (
    Algorithm,
    AlgorithmError,
    BrokenAlgorithmError,
    Candidate,
    Context,
    Hidden,
    Judge,
    Origin,
    Ranked,
    RankFn,
    Reason,
    Setting,
    SettingError,
    Sources,
    UnknownAlgorithmError,
)
from .pipeline import Placed, RankedPage, page, resolve_settings, run, sort_key
from .trust import Trust, follow_distances, personalised_pagerank

DEFAULT_ALGORITHM: Final = "chronological"

BUILTINS: Final[Mapping[str, Algorithm]] = MappingProxyType(
    {
        "chronological": chronological.ALGORITHM,
        "trusted": trusted.ALGORITHM,
        "conversations": conversations.ALGORITHM,
        "fresh-voices": fresh_voices.ALGORITHM,
    }
)
"""The algorithms that ship with p2psocial, by name (they need no package metadata)."""

__all__ = [
    "BUILTINS",
    "DEFAULT_ALGORITHM",
    "Algorithm",
    "AlgorithmError",
    "AuthorId",
    "BrokenAlgorithmError",
    "Candidate",
    "Context",
    "Hidden",
    "Judge",
    "Kind",
    "MessageId",
    "Origin",
    "Placed",
    "RankFn",
    "Ranked",
    "RankedPage",
    "Reason",
    "Setting",
    "SettingError",
    "SocialGraph",
    "Sources",
    "Trust",
    "UnknownAlgorithmError",
    "follow_distances",
    "page",
    "personalised_pagerank",
    "resolve_settings",
    "run",
    "sort_key",
]
