"""Token buckets: how much one author (or peer) may send, with time passed in.

Pure: the caller supplies the clock, so the same calls always give the same answers.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass
from typing import Final, Generic, TypeVar

_K = TypeVar("_K")

MAX_TRACKED: Final = 100_000


@dataclass(slots=True)
class TokenBucket:
    """``rate`` tokens per second, holding at most ``burst``; starts full."""

    rate: float
    burst: float
    tokens: float = -1.0
    updated: float = 0.0

    def __post_init__(self) -> None:
        if self.tokens < 0:
            self.tokens = self.burst

    def _refill(self, now: float) -> None:
        if now > self.updated:
            self.tokens = min(self.burst, self.tokens + (now - self.updated) * self.rate)
            self.updated = now

    def can_take(self, now: float, count: float = 1.0) -> bool:
        """Whether ``count`` tokens could be taken now (taking none)."""
        self._refill(now)
        return self.tokens >= count

    def try_take(self, now: float, count: float = 1.0) -> bool:
        """Take ``count`` tokens if there are enough; False (taking none) if not."""
        self._refill(now)
        if self.tokens >= count:
            self.tokens -= count
            return True
        return False

    def take(self, now: float, count: float = 1.0) -> float:
        """Take ``count`` tokens, going into debt if need be; returns seconds to wait until
        the debt is paid (0 when there was enough)."""
        self._refill(now)
        self.tokens -= count
        return 0.0 if self.tokens >= 0 else -self.tokens / self.rate


class RateLimiter(Generic[_K]):
    """One token bucket per key, forgetting the least recently used beyond a bound."""

    def __init__(self, rate: float, burst: float, *, max_keys: int = MAX_TRACKED) -> None:
        self.rate, self.burst, self._max = rate, burst, max_keys
        self._buckets: OrderedDict[_K, TokenBucket] = OrderedDict()

    def allow(self, key: _K, now: float, count: float = 1.0) -> bool:
        """Whether ``key`` may send ``count`` more now (and if so, charge it)."""
        return self._bucket(key, now).try_take(now, count)

    def can(self, key: _K, now: float, count: float = 1.0) -> bool:
        """Whether ``key`` may send ``count`` more now, charging nothing (to check one
        limit before charging another)."""
        bucket = self._buckets.get(key)
        return count <= self.burst if bucket is None else bucket.can_take(now, count)

    def delay(self, key: _K, now: float, count: float = 1.0) -> float:
        """Charge ``key`` for ``count``; seconds to wait before serving it."""
        return self._bucket(key, now).take(now, count)

    def _bucket(self, key: _K, now: float) -> TokenBucket:
        bucket = self._buckets.get(key)
        if bucket is None:
            bucket = TokenBucket(self.rate, self.burst, updated=now)
            self._buckets[key] = bucket
            if len(self._buckets) > self._max:
                self._buckets.popitem(last=False)
        else:
            self._buckets.move_to_end(key)
        return bucket
