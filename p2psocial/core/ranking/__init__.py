"""Feed ranking: open, pluggable algorithms that explain every item they place.

Sans-IO like the rest of :mod:`p2psocial.core`: an algorithm is a pure function of the
candidates, the local social graph and the user's settings (docs/algorithms.md).
"""

from __future__ import annotations

from .trust import Trust, follow_distances, personalised_pagerank

__all__ = ["Trust", "follow_distances", "personalised_pagerank"]
