"""Ranked feeds: the adapter between the index and the ranking core.

It finds algorithms (the built-ins, then plugins through the ``p2psocial.algorithms``
entry point group), gathers the candidates an algorithm asks for from the index, keeps
the social graph (trust and all) cached per state of the follow graph, runs the pipeline
of :mod:`p2psocial.core.ranking` and decorates the page for display.

A plugin that fails to load is reported by name (``p2psocial algos`` shows why) and
never takes the others down; asking for it is one clear error, never a traceback.
"""

from __future__ import annotations

import difflib
import logging
import threading
import weakref
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from importlib.metadata import EntryPoint, entry_points
from typing import Final

from .core.bodies import Kind
from .core.ids import AuthorId, MessageId
from .core.ranking import (
    BUILTINS,
    DEFAULT_ALGORITHM,
    Algorithm,
    BrokenAlgorithmError,
    Candidate,
    Hidden,
    Judge,
    Reason,
    Setting,
    SocialGraph,
    Sources,
    UnknownAlgorithmError,
    page,
    resolve_settings,
    run,
)
from .errors import InputError
from .store.queries import DEFAULT_LIMIT, MAX_LIMIT, IndexReader, Item

log = logging.getLogger(__name__)

ENTRY_POINT_GROUP: Final = "p2psocial.algorithms"
BUILT_IN: Final = "built in"


# --- finding algorithms ------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Installed:
    """An algorithm as ``p2psocial algos`` lists it.

    Attributes:
        name: What ``--algo`` takes.
        description: Its one line (empty when it is broken).
        source: ``built in``, or the distribution and entry point it came from.
        problem: Why it cannot be used, or None when it can.
        defaults: Its settings and their defaults.
    """

    name: str
    description: str
    source: str
    problem: str | None = None
    defaults: Mapping[str, Setting] = field(default_factory=dict)


@dataclass(slots=True)
class _Plugin:
    entry: EntryPoint
    source: str
    algorithm: Algorithm | None = None
    problem: str | None = None
    loaded: bool = False


class Registry:
    """The algorithms that can be asked for by name.

    Built-ins come from the code, so they work whatever the package metadata says.
    Plugins come from entry points in the ``p2psocial.algorithms`` group; each is
    imported the first time it is asked for (or listed), once.

    Args:
        plugins: Entry points to offer (default: every one installed in the group).
    """

    def __init__(self, plugins: Sequence[EntryPoint] | None = None) -> None:
        self._lock = threading.Lock()
        self._plugins: dict[str, _Plugin] = {}
        self._refused: list[Installed] = []
        found = entry_points(group=ENTRY_POINT_GROUP) if plugins is None else plugins
        for entry in sorted(found, key=lambda e: (e.name, _dist_name(e), e.value)):
            source = _source(entry)
            if entry.name in BUILTINS:
                self._refused.append(
                    Installed(entry.name, "", source, "has the name of a built-in algorithm")
                )
            elif entry.name in self._plugins:
                first = self._plugins[entry.name].source
                self._refused.append(
                    Installed(entry.name, "", source, f"has the name of the one from {first}")
                )
            else:
                self._plugins[entry.name] = _Plugin(entry, source)

    @property
    def names(self) -> list[str]:
        """Every name that may be asked for, built-ins first."""
        return [*BUILTINS, *sorted(self._plugins)]

    def get(self, name: str) -> Algorithm:
        """The algorithm called ``name``.

        Raises:
            UnknownAlgorithmError: Nothing of that name is installed (with a suggestion).
            BrokenAlgorithmError: The plugin of that name failed to load.
        """
        builtin = BUILTINS.get(name)
        if builtin is not None:
            return builtin
        plugin = self._plugins.get(name)
        if plugin is None:
            close = difflib.get_close_matches(name, self.names, n=1)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            raise UnknownAlgorithmError(f"no feed algorithm {name!r}{hint} (see 'p2psocial algos')")
        self._load(plugin)
        if plugin.algorithm is None:
            raise BrokenAlgorithmError(
                f"algorithm {name!r} ({plugin.source}) cannot be used: {plugin.problem}"
            )
        return plugin.algorithm

    def installed(self) -> list[Installed]:
        """Every algorithm, usable or not, built-ins first (this loads every plugin)."""
        out = [
            Installed(name, a.description, BUILT_IN, defaults=a.defaults)
            for name, a in BUILTINS.items()
        ]
        for name in sorted(self._plugins):
            plugin = self._plugins[name]
            self._load(plugin)
            found = plugin.algorithm
            if found is None:
                out.append(Installed(name, "", plugin.source, plugin.problem))
            else:
                out.append(Installed(name, found.description, plugin.source, None, found.defaults))
        return out + self._refused

    def _load(self, plugin: _Plugin) -> None:
        with self._lock:
            if plugin.loaded:
                return
            plugin.loaded = True
            try:
                loaded = plugin.entry.load()
            except (Exception, SystemExit) as exc:  # whatever a plugin's import does
                plugin.problem = f"it failed to load: {type(exc).__name__}: {exc}"
                # Reported where it is listed or asked for; the traceback only with debug.
                log.info(
                    "feed algorithm %s (%s) cannot be used: %s",
                    plugin.entry.name,
                    plugin.source,
                    plugin.problem,
                    exc_info=log.isEnabledFor(logging.DEBUG),
                )
                return
            plugin.algorithm = _as_algorithm(loaded)
            if plugin.algorithm is None:
                plugin.problem = (
                    f"{plugin.entry.value} is a {type(loaded).__name__}, not an Algorithm or a"
                    " function"
                )


def _as_algorithm(loaded: object) -> Algorithm | None:
    """An entry point's object as an Algorithm: itself, or a bare rank function."""
    if isinstance(loaded, Algorithm):
        return loaded
    if callable(loaded) and not isinstance(loaded, type):
        doc = (getattr(loaded, "__doc__", None) or "").strip().splitlines()
        return Algorithm(description=doc[0] if doc else "(no description)", rank=loaded)
    return None


def _dist_name(entry: EntryPoint) -> str:
    dist = entry.dist
    return "" if dist is None else str(dist.name)


def _source(entry: EntryPoint) -> str:
    dist = entry.dist
    where = "an unknown distribution" if dist is None else f"{dist.name} {dist.version}"
    return f"{where}, {entry.value}"


_default_registry: Registry | None = None
_default_lock = threading.Lock()


def default_registry() -> Registry:
    """The registry of what is installed in this process (entry points read once)."""
    global _default_registry  # noqa: PLW0603 (one registry per process, made on first use)
    with _default_lock:
        if _default_registry is None:
            _default_registry = Registry()
        return _default_registry


# --- the social graph, cached per state of the follow graph -------------------------------


@dataclass(slots=True)
class _GraphCache:
    lock: threading.Lock = field(default_factory=threading.Lock)
    position: int = -1
    state: tuple[int, int] = (-1, -1)
    graphs: dict[AuthorId, SocialGraph] = field(default_factory=dict)


_CACHES: weakref.WeakKeyDictionary[IndexReader, _GraphCache] = weakref.WeakKeyDictionary()
_CACHES_LOCK: Final = threading.Lock()


def social_graph(reader: IndexReader, me: AuthorId) -> SocialGraph:
    """``me``'s view of the follow graph the index holds, with trust and distances.

    Computed once per state of the follow graph and cached with the reader: a new
    message that is not a follow or unfollow costs two small queries, not a PageRank.
    """
    with _CACHES_LOCK:
        cache = _CACHES.get(reader)
        if cache is None:
            cache = _CACHES[reader] = _GraphCache()
    with cache.lock:
        position = reader.position()
        if position != cache.position:
            state = reader.follows_state()
            if state != cache.state:
                cache.graphs.clear()
                cache.state = state
            cache.position = position
        graph = cache.graphs.get(me)
        if graph is None:
            graph = SocialGraph.build(me, reader.follow_graph(), unfollowed=reader.unfollowed(me))
            cache.graphs[me] = graph
        return graph


# --- gathering candidates ----------------------------------------------------------------


def gather(reader: IndexReader, graph: SocialGraph, sources: Sources, upto: int) -> list[Candidate]:
    """The candidates ``sources`` asks for, as of row ``upto``, newest first (ties by id).

    ``home`` comes first, then ``roots`` (of home replies), then ``network``; a message
    gathered twice keeps its first origin.
    """
    found: dict[MessageId, Candidate] = {}
    if sources.home:
        home = reader.home_candidates(
            graph.me, limit=sources.window, upto=upto, counts=sources.counts
        )
        for candidate in home:
            found.setdefault(candidate.id, candidate)
    if sources.roots:
        threads = {c.thread for c in found.values() if c.kind is Kind.REPLY}
        roots = sorted(threads - found.keys(), key=lambda m: m.raw)
        for candidate in reader.candidates_by_id(
            roots, upto=upto, origin="root", counts=sources.counts
        ):
            found.setdefault(candidate.id, candidate)
    if sources.network:
        strangers = graph.most_trusted_strangers(sources.network)
        network = reader.candidates_per_author(
            strangers,
            per_author=sources.per_author,
            upto=upto,
            origin="network",
            counts=sources.counts,
        )
        for candidate in network[: sources.window]:
            found.setdefault(candidate.id, candidate)
    return sorted(found.values(), key=_newest_first)


def _newest_first(candidate: Candidate) -> tuple[int, bytes]:
    return (-candidate.ts, candidate.id.raw)


# --- a ranked page -----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class FeedCursor:
    """Where the next page of a ranked feed starts.

    Attributes:
        upto: The feed's "as of": candidates indexed after this row are not in it, so
            every page ranks the same candidates.
        offset: The position in the ranking the next page starts at.
    """

    upto: int
    offset: int


@dataclass(frozen=True, slots=True)
class FeedItem:
    """One item of a ranked page.

    Attributes:
        item: The message, decorated for display.
        score: The score the algorithm gave it.
        reasons: Why it is here.
        position: Its place in the whole ranking, from 0.
        hidden: Why moderation hides it (only on pages asked for with ``show_hidden``).
    """

    item: Item
    score: float
    reasons: tuple[Reason, ...]
    position: int
    hidden: Hidden | None = None


@dataclass(frozen=True, slots=True)
class FeedPage:
    """A page of a ranked feed.

    Attributes:
        algorithm: The algorithm's name.
        items: The page, in feed order.
        hidden: Items the judge hid within the span of this page.
        now: The time the feed was ranked at (ms).
        total: Items in the whole ranking, hidden ones included.
        next: The cursor of the next page, or None after the last.
    """

    algorithm: str
    items: tuple[FeedItem, ...]
    hidden: int
    now: int
    total: int
    next: FeedCursor | None


def rank_feed(
    reader: IndexReader,
    me: AuthorId,
    algorithm: str = DEFAULT_ALGORITHM,
    *,
    settings: Mapping[str, Setting] | None = None,
    limit: int = DEFAULT_LIMIT,
    cursor: FeedCursor | None = None,
    now: int | None = None,
    judge: Judge | None = None,
    show_hidden: bool = False,
    registry: Registry | None = None,
) -> FeedPage:
    """One page of ``me``'s feed as ``algorithm`` ranks it. Blocking (SQLite).

    Args:
        reader: The index.
        me: Whose feed.
        algorithm: A name from :meth:`Registry.names`.
        settings: Overrides of the algorithm's settings (text values are parsed).
        limit: Visible items per page.
        cursor: From the previous page's ``next``.
        now: The time to rank at (ms); default: the newest candidate's ``ts``.
        judge: Moderation: why a candidate is hidden, or None.
        show_hidden: Keep hidden items, marked, instead of leaving them out.
        registry: Where algorithms come from (default: what is installed).

    Raises:
        UnknownAlgorithmError, BrokenAlgorithmError, SettingError: The algorithm cannot
            be used as asked.
        InputError: ``limit`` is out of range.
    """
    registry = registry or default_registry()
    chosen = registry.get(algorithm)
    resolve_settings(algorithm, chosen, settings)  # a bad setting fails before any query
    _check_limit(limit)
    upto = cursor.upto if cursor is not None else reader.newest_rowid()
    graph = social_graph(reader, me)
    candidates = gather(reader, graph, chosen.sources, upto)
    if now is None:
        now = max((c.ts for c in candidates), default=0)
    ranked = run(algorithm, chosen, candidates, graph, settings=settings, now=now)
    cut = page(
        ranked,
        offset=cursor.offset if cursor is not None else 0,
        limit=limit,
        judge=judge,
        show_hidden=show_hidden,
    )
    items = {i.id: i for i in reader.items([p.ranked.candidate.id for p in cut.placed])}
    out = tuple(
        FeedItem(
            items[p.ranked.candidate.id], p.ranked.score, p.ranked.reasons, p.position, p.hidden
        )
        for p in cut.placed
        if p.ranked.candidate.id in items
    )
    following = None if cut.next_offset is None else FeedCursor(upto, cut.next_offset)
    return FeedPage(algorithm, out, cut.hidden, now, cut.total, following)


def _check_limit(limit: int) -> None:
    if not 1 <= limit <= MAX_LIMIT:
        raise InputError(f"limit must be between 1 and {MAX_LIMIT}, got {limit}")
