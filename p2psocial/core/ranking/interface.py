"""What a feed algorithm is: the types it takes and returns (docs/algorithms.md).

An algorithm is a pure function ``rank(candidates, context) -> Iterable[Ranked]``: from
the candidate messages the node gathered for it, the local social graph and the user's
settings, to ranked items that each carry the reasons (signals and weights) that placed
them. It reads no clock, no disk and no network; ``context.now`` is the time it ranks at.
The pipeline (:mod:`.pipeline`) then orders the items by score, breaking ties by message
id, so the same log and the same settings always give the same feed.

Moderation plugs in after ranking as a *judge*: a function from a candidate to
:class:`Hidden` (why it is hidden) or None. It never reorders anything; it only takes items
out of the page (counting them) or, on request, marks them where they stand.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Final, Literal, TypeAlias

from ...errors import InputError
from ..bodies import Kind
from ..ids import AuthorId, MessageId
from .graph import SocialGraph

Setting: TypeAlias = bool | int | float | str
"""A value an algorithm's settings may take."""

Origin = Literal["home", "root", "network"]
"""Why a candidate was gathered: see :class:`Sources`."""

MAX_WINDOW: Final = 5000


class AlgorithmError(InputError):
    """A feed algorithm could not be used."""

    code = "input.algorithm"


class UnknownAlgorithmError(AlgorithmError):
    """No algorithm of that name is installed."""

    code = "input.unknown_algorithm"


class BrokenAlgorithmError(AlgorithmError):
    """A plugin failed to load, or failed (or broke the rules) while ranking."""

    code = "input.broken_algorithm"


class SettingError(AlgorithmError):
    """A setting is unknown to the algorithm, or its value has the wrong type."""

    code = "input.algorithm_setting"


@dataclass(frozen=True, slots=True)
class Candidate:
    """A message the node gathered for ranking: a post, reply or repost, not deleted.

    Attributes:
        id: The message id.
        author: Who signed it.
        author_name: The author's profile name, if any.
        ts: The author's timestamp, milliseconds since the epoch.
        kind: ``Kind.POST``, ``Kind.REPLY`` or ``Kind.REPOST``.
        text: The text of a post or reply; None for reposts and for bodies not held.
        root: For a reply, the first message of its thread.
        parent: For a reply, the message it answers.
        target: For a repost, the message reposted.
        replies: Direct replies held (not deleted); None unless the algorithm's
            :class:`Sources` ask for ``counts``.
        reposts: Reposts held; None unless counted.
        reactions: Reactions held, each author counted once per emoji; None unless
            counted.
        reposted: For a repost, the reposted message when it is held.
        origin: Which source gathered it (:class:`Sources`).
    """

    id: MessageId
    author: AuthorId
    author_name: str | None
    ts: int
    kind: Kind
    text: str | None = None
    root: MessageId | None = None
    parent: MessageId | None = None
    target: MessageId | None = None
    replies: int | None = None
    reposts: int | None = None
    reactions: int | None = None
    reposted: Candidate | None = None
    origin: Origin = "home"

    @property
    def author_display(self) -> str:
        """The author's profile name, or their short id."""
        return self.author_name or self.author.short

    @property
    def thread(self) -> MessageId:
        """The thread this message belongs to: its root, or itself when it is one."""
        return self.root or self.parent or self.id


@dataclass(frozen=True, slots=True)
class Sources:
    """Which candidates an algorithm wants the node to gather.

    Attributes:
        home: The newest posts, replies and reposts by me and the authors I follow.
        roots: The first message of every thread a gathered reply belongs to, when held
            (``origin="root"``), so that a thread can be shown from its start.
        network: Also gather from this many of the authors I trust most but do not
            follow (by personalised PageRank; never me, nor anyone I unfollowed): each
            one's newest ``per_author`` posts, replies and reposts (``origin="network"``).
        per_author: See ``network``.
        window: At most this many candidates from each of ``home`` and ``network``, the
            newest; a ranked feed covers that window and ends after it. Gathering costs
            about linearly in it (200: four pages of 50 to reorder, a few milliseconds over
            a store of 1M messages).
        counts: Count each candidate's replies, reposts and reactions. It costs a few
            index lookups per candidate and more for popular ones (about half the time
            of a ranked page over a big store), so only algorithms that use them ask.
    """

    home: bool = True
    roots: bool = False
    network: int = 0
    per_author: int = 5
    window: int = 200
    counts: bool = False

    def __post_init__(self) -> None:
        if not 1 <= self.window <= MAX_WINDOW:
            raise ValueError(f"window must be between 1 and {MAX_WINDOW}, got {self.window}")
        if self.network < 0 or self.per_author < 1:
            raise ValueError("network must be >= 0 and per_author >= 1")


@dataclass(frozen=True, slots=True)
class Reason:
    """One signal that placed an item: its measured value and the weight it carries.

    For the built-in algorithms an item's score is the sum of its reasons'
    ``contribution``; a plugin should keep to that so that explanations add up.

    Attributes:
        signal: A short machine name (``trust``, ``recency``, ``people``).
        value: What was measured for this item.
        weight: How much the signal counts (from the settings).
        text: One sentence for people, such as ``"7.3 h old (half-life 24 h)"``.
    """

    signal: str
    value: float
    weight: float
    text: str

    @property
    def contribution(self) -> float:
        """``value * weight``."""
        return self.value * self.weight


@dataclass(frozen=True, slots=True)
class Ranked:
    """A candidate placed by an algorithm: its score and why."""

    candidate: Candidate
    score: float
    reasons: tuple[Reason, ...] = ()


@dataclass(frozen=True, slots=True)
class Hidden:
    """Why a judge (moderation) hides an item.

    Attributes:
        rule: What hid it, for programs: ``mute``, ``block``, ``keyword``,
            ``list:AUTHOR/NAME`` and so on.
        label: What the user reads next to the item, such as ``"blocked"``.
    """

    rule: str
    label: str


Judge = Callable[[Candidate], Hidden | None]
"""Moderation's verdict on one candidate: why it is hidden, or None to show it."""


@dataclass(frozen=True, slots=True)
class Context:
    """Everything an algorithm may know besides the candidates.

    Attributes:
        graph: The local social graph as seen from me, with trust and distances.
        now: The time the feed is ranked at, in milliseconds: given by the caller, else
            the newest candidate's ``ts`` (never the wall clock, so ranking is repeatable).
        settings: The algorithm's settings: its defaults, overridden by the user's.
    """

    graph: SocialGraph
    now: int
    settings: Mapping[str, Setting]

    @property
    def me(self) -> AuthorId:
        """Whose feed this is."""
        return self.graph.me

    def number(self, key: str) -> float:
        """A numeric setting as a float (a bool is refused).

        Raises:
            SettingError: The setting is missing or not a number.
        """
        value = self.settings.get(key)
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise SettingError(f"setting {key!r} must be a number, got {value!r}")
        return float(value)


RankFn = Callable[[Sequence[Candidate], Context], Iterable[Ranked]]
"""The pure function at the heart of an algorithm."""


@dataclass(frozen=True, slots=True)
class Algorithm:
    """A feed algorithm: a rank function and what it needs.

    Its name is not part of it: built-ins are registered under theirs, and a plugin's
    name is the name of its entry point.

    Attributes:
        description: One line, shown by ``p2psocial algos``.
        rank: The ranking function: it may drop candidates, never invent them.
        sources: Which candidates to gather.
        defaults: Every setting the algorithm reads, with its default; users may
            override these and nothing else.
    """

    description: str
    rank: RankFn
    sources: Sources = Sources()
    defaults: Mapping[str, Setting] = field(default_factory=lambda: MappingProxyType({}))
