"""Moderation on the owner's side: the rules that hide items, and why each one is hidden.

Sans-IO: a :class:`Policy` is built from plain data (whom the owner mutes and blocks, their
word, hashtag and regex filters, whether reposts are hidden, and the entries of the lists
they subscribe to) and judges one item at a time. Where the data lives (a settings file,
the index) is the adapters' business (:mod:`p2psocial.moderation`); docs/moderation.md is
the user's and developer's view.

Moderation decides what the owner *reads*, never what is valid: a muted or listed author's
messages are still stored, synced and forwarded like any other. (A *block* also makes the
node stop storing and serving the author's bodies; the store does that part.)

Precedence
==========
:meth:`Policy.judge` answers with the first rule that matches, in this order, so that an
item's label always names the strongest reason:

0. the owner's own messages are never hidden;
1. ``block``: the author is blocked (label ``blocked``);
2. ``mute``: the author is muted (label ``muted``);
3. ``list:AUTHOR/NAME``: a subscribed list names this very message; lists in the order
   they were subscribed to (label ``list p2sa1xxxxxxxx/name: "reason"``);
4. the same for a list that names the author;
5. ``reposts``: the item is a repost and reposts are hidden (label ``repost (reposts
   hidden)``);
6. filters, in the order they were added: ``keyword`` (label ``filter "crypto"``),
   ``hashtag`` (``filter #crypto``), ``regex`` (``filter /cryp+to/``);
7. a repost whose reposted message (when held) rules 1-6 hide is hidden with the inner
   rule, labelled ``reposts a message: <inner label>``.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Final, Generic, Protocol, TypeVar

from ..errors import InputError, P2PSocialError
from .bodies import Kind, ListEntry, ModerationList, decode_body, encode_body
from .ids import AuthorId, MessageId
from .ranking.interface import Hidden
from .text import extract_tags, normalize_tag

MAX_FILTER_CHARS: Final = 200
"""Longest keyword or phrase filter, in characters."""
MAX_REGEX_CHARS: Final = 200
"""Longest regex filter, in characters: short patterns keep judging cheap and readable."""
MAX_FILTERS: Final = 500
"""Filters one owner may have."""
_WORD: Final = re.compile(r"\w+")

_T = TypeVar("_T")


class FilterError(InputError):
    """A filter is empty, too long, or (for a regex) does not compile."""

    code = "input.bad_filter"


class ListRefError(InputError):
    """A list reference is not ``AUTHOR/NAME`` with a valid list name."""

    code = "input.bad_list"


class Judged(Protocol):
    """What a judge looks at: store items and ranking candidates both have it."""

    @property
    def id(self) -> MessageId:
        """The message id."""
        ...

    @property
    def author(self) -> AuthorId:
        """Who signed it."""
        ...

    @property
    def kind(self) -> Kind:
        """Its kind."""
        ...

    @property
    def text(self) -> str | None:
        """Its text, when it has one and its body is held."""
        ...

    @property
    def reposted(self) -> Judged | None:
        """For a repost, the reposted message when it is held."""
        ...


# --- filters ------------------------------------------------------------------------------


class FilterKind(StrEnum):
    """How a filter matches."""

    KEYWORD = "keyword"
    """A word or phrase, matched whole-word on NFC-normalised, case-folded text."""
    HASHTAG = "hashtag"
    """A hashtag (typed with its ``#``), matched against the message's tags."""
    REGEX = "regex"
    """A Python regular expression, searched case-insensitively (pattern and text NFC)."""


def _fold(text: str) -> str:
    """Text as keyword filters compare it: NFC after full case folding (like hashtags)."""
    return unicodedata.normalize("NFC", unicodedata.normalize("NFC", text).casefold())


@dataclass(frozen=True, slots=True)
class Filter:
    """One keyword, hashtag or regex filter; make one with :meth:`parse`.

    Attributes:
        kind: How it matches.
        text: What the owner typed (a phrase, ``#tag``, or a pattern), trimmed.
    """

    kind: FilterKind
    text: str
    _pattern: re.Pattern[str] | None = field(default=None, compare=False, repr=False)
    _tag: str = field(default="", compare=False, repr=False)
    _words: frozenset[str] = field(default=frozenset(), compare=False, repr=False)
    """A keyword's words: a text lacking any of them cannot match (checked first)."""

    @classmethod
    def parse(cls, text: str, *, regex: bool = False) -> Filter:
        """Check and compile a filter (compiled once, here).

        Args:
            text: A word or phrase, ``#tag``, or (with ``regex``) a pattern.
            regex: Read ``text`` as a regular expression.

        Raises:
            FilterError: ``text`` is blank, too long, not a valid hashtag, or a pattern
                that does not compile.
        """
        if regex:
            if not text:
                raise FilterError("a regex filter cannot be empty")
            if len(text) > MAX_REGEX_CHARS:
                raise FilterError(
                    f"a regex filter may be at most {MAX_REGEX_CHARS} characters, got {len(text)}"
                )
            try:
                pattern = re.compile(unicodedata.normalize("NFC", text), re.IGNORECASE)
            except re.error as exc:
                raise FilterError(f"bad regex filter {text!r}: {exc}") from None
            return cls(FilterKind.REGEX, text, pattern)
        words = text.split()
        if not words:
            raise FilterError("a filter needs a word, a phrase or a #hashtag")
        phrase = " ".join(words)
        if len(phrase) > MAX_FILTER_CHARS:
            raise FilterError(
                f"a filter may be at most {MAX_FILTER_CHARS} characters, got {len(phrase)}"
            )
        if phrase.startswith("#") and len(words) == 1:
            tag = normalize_tag(phrase)
            if extract_tags(phrase) != [tag]:
                raise FilterError(
                    f"{phrase!r} is not a hashtag: '#' then letters, digits or '_' (at most 64)"
                )
            return cls(FilterKind.HASHTAG, phrase, None, tag)
        folded = [_fold(word) for word in words]
        pattern = re.compile(r"(?<!\w)" + r"\s+".join(map(re.escape, folded)) + r"(?!\w)")
        needed = frozenset(_WORD.findall(" ".join(folded)))
        return cls(FilterKind.KEYWORD, phrase, pattern, "", needed)

    @property
    def label(self) -> str:
        """How a hidden item names this filter: ``filter "crypto"``, ``filter #crypto``,
        ``filter /cryp+to/``."""
        match self.kind:
            case FilterKind.KEYWORD:
                return f'filter "{self.text}"'
            case FilterKind.HASHTAG:
                return f"filter {self.text}"
            case FilterKind.REGEX:
                return f"filter /{self.text}/"

    def matches(self, text: str) -> bool:
        """Whether ``text`` (a post's or reply's) is caught by this filter."""
        return self.matches_text(_Text(text))

    def matches_text(self, text: _Text) -> bool:
        """:meth:`matches`, on text normalised once for every filter (:class:`_Text`)."""
        match self.kind:
            case FilterKind.HASHTAG:
                return self._tag in text.tags
            case FilterKind.KEYWORD:
                assert self._pattern is not None
                # A set lookup rules out almost every text; the search confirms the rest.
                if not self._words <= text.words:
                    return False
                return self._pattern.search(text.folded) is not None
            case FilterKind.REGEX:
                assert self._pattern is not None
                return self._pattern.search(text.nfc) is not None


class _Text:
    """One item's text in the forms filters compare, each computed once, when first asked."""

    __slots__ = ("_folded", "_nfc", "_tags", "_words", "raw")

    def __init__(self, raw: str) -> None:
        self.raw = raw
        self._nfc: str | None = None
        self._folded: str | None = None
        self._tags: list[str] | None = None
        self._words: frozenset[str] | None = None

    @property
    def words(self) -> frozenset[str]:
        if self._words is None:
            self._words = frozenset(_WORD.findall(self.folded))
        return self._words

    @property
    def nfc(self) -> str:
        if self._nfc is None:
            self._nfc = unicodedata.normalize("NFC", self.raw)
        return self._nfc

    @property
    def folded(self) -> str:
        if self._folded is None:
            self._folded = unicodedata.normalize("NFC", self.nfc.casefold())
        return self._folded

    @property
    def tags(self) -> list[str]:
        if self._tags is None:
            self._tags = extract_tags(self.raw)
        return self._tags


# --- lists --------------------------------------------------------------------------------


def check_list_name(name: str) -> str:
    """``name`` if it is a valid list name (the protocol's rule, section 5.2).

    Raises:
        ListRefError: It is not.
    """
    try:
        decode_body("list", encode_body(ModerationList(name)))
    except P2PSocialError as exc:
        raise ListRefError(f"bad list name {name!r}: {exc}") from None
    return name


@dataclass(frozen=True, slots=True)
class ListRef:
    """A moderation list, as ``AUTHOR/NAME``: its author's id and the list's name."""

    author: AuthorId
    name: str

    def __post_init__(self) -> None:
        check_list_name(self.name)

    def __str__(self) -> str:
        return f"{self.author}/{self.name}"

    @property
    def short(self) -> str:
        """``p2sa1xxxxxxxx/name``, for labels."""
        return f"{self.author.short}/{self.name}"

    @classmethod
    def split(cls, text: str) -> tuple[str, str]:
        """``AUTHOR/NAME`` into its two parts (the author may be a prefix; the caller
        resolves it), with the name checked.

        Raises:
            ListRefError: ``text`` has no ``/``, or the name is not a valid list name.
        """
        author, slash, name = text.strip().rpartition("/")
        if not slash or not author:
            raise ListRefError(f"a list is AUTHOR/NAME, such as p2sa1xxxxxxxx/spam, not {text!r}")
        return author, check_list_name(name)

    @classmethod
    def parse(cls, text: str) -> ListRef:
        """``AUTHOR/NAME`` with a full author id.

        Raises:
            ListRefError: See :meth:`split`.
            InvalidIdError: The author is not a full author id.
        """
        author, name = cls.split(text)
        return cls(AuthorId.parse(author), name)


@dataclass(frozen=True, slots=True)
class SubscribedList:
    """A list the owner subscribes to, with its entries as last published.

    Attributes:
        ref: Which list.
        entries: Its entries; empty when it is empty or not held yet.
        held: Whether any ``list`` message for it is held (a subscription to a list not
            held yet is kept, and applies once the list arrives).
    """

    ref: ListRef
    entries: tuple[ListEntry, ...] = ()
    held: bool = False


class _FilterIndex:
    """Which filters could match a text, found without trying each one: a keyword filter
    only when the text has one of its words, a hashtag filter only when it has the tag.
    Judging then costs about the same with 5 filters or 500 (docs/moderation.md)."""

    __slots__ = ("_always", "_by_tag", "_by_word")

    def __init__(self, filters: Sequence[Filter]) -> None:
        self._by_word: dict[str, list[int]] = {}
        self._by_tag: dict[str, list[int]] = {}
        self._always: list[int] = []
        for i, rule in enumerate(filters):
            if rule.kind is FilterKind.KEYWORD and rule._words:
                self._by_word.setdefault(min(rule._words), []).append(i)
            elif rule.kind is FilterKind.HASHTAG:
                self._by_tag.setdefault(rule._tag, []).append(i)
            else:  # a regex, or a keyword with no word characters
                self._always.append(i)

    def first_match(self, filters: Sequence[Filter], text: _Text) -> Filter | None:
        """The first filter, in the owner's order, that catches ``text``."""
        candidates = list(self._always)
        if self._by_word:
            for word in text.words & self._by_word.keys():
                candidates += self._by_word[word]
        if self._by_tag:
            for tag in text.tags:
                candidates += self._by_tag.get(tag, ())
        for i in sorted(candidates):
            if filters[i].matches_text(text):
                return filters[i]
        return None


def list_label(ref: ListRef, reason: str) -> str:
    """``list p2sa1xxxxxxxx/name: "reason"``."""
    return f'list {ref.short}: "{reason}"'


# --- the policy ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Policy:
    """Everything the owner chose not to see; :meth:`judge` applies it to one item.

    Attributes:
        me: The owner, whose own messages are never hidden (None: nobody is exempt).
        muted: Authors muted (private to this node).
        blocked: Authors blocked (published).
        filters: Keyword, hashtag and regex filters, in the order they were added.
        hide_reposts: Hide every repost.
        lists: Subscribed lists, in the order they were subscribed to.
    """

    me: AuthorId | None = None
    muted: frozenset[AuthorId] = frozenset()
    blocked: frozenset[AuthorId] = frozenset()
    filters: tuple[Filter, ...] = ()
    hide_reposts: bool = False
    lists: tuple[SubscribedList, ...] = ()
    _by_message: Mapping[MessageId, Hidden] = field(
        init=False, default_factory=dict, compare=False, repr=False
    )
    _by_author: Mapping[AuthorId, Hidden] = field(
        init=False, default_factory=dict, compare=False, repr=False
    )
    _filter_index: _FilterIndex = field(init=False, compare=False, repr=False)

    def __post_init__(self) -> None:
        by_message: dict[MessageId, Hidden] = {}
        by_author: dict[AuthorId, Hidden] = {}
        for subscribed in self.lists:
            if not subscribed.entries:
                continue
            rule = f"list:{subscribed.ref}"
            short = subscribed.ref.short  # a bech32 encoding: once per list, not per entry
            for entry in subscribed.entries:
                hidden = Hidden(rule, f'list {short}: "{entry.reason}"')
                if isinstance(entry.target, MessageId):
                    by_message.setdefault(entry.target, hidden)
                else:
                    by_author.setdefault(entry.target, hidden)
        object.__setattr__(self, "_by_message", by_message)
        object.__setattr__(self, "_by_author", by_author)
        object.__setattr__(self, "_filter_index", _FilterIndex(self.filters))

    @property
    def empty(self) -> bool:
        """Whether no rule can hide anything."""
        return not (
            self.muted
            or self.blocked
            or self.filters
            or self.hide_reposts
            or self._by_message
            or self._by_author
        )

    def judge(self, item: Judged) -> Hidden | None:
        """Why ``item`` is hidden, or None to show it (precedence: the module docstring).

        A :data:`p2psocial.core.ranking.interface.Judge` for the ranking pipeline, and the
        judge of every other reading surface (search, mentions, threads).
        """
        if item.author == self.me:
            return None
        hidden = self._own_rules(item)
        if hidden is not None:
            return hidden
        inner = item.reposted
        if item.kind is Kind.REPOST and inner is not None and inner.author != self.me:
            found = self._own_rules(inner)
            if found is not None:
                return Hidden(found.rule, f"reposts a message: {found.label}")
        return None

    def _own_rules(self, item: Judged) -> Hidden | None:
        """Rules 1-6, on the item alone."""
        if item.author in self.blocked:
            return Hidden("block", "blocked")
        if item.author in self.muted:
            return Hidden("mute", "muted")
        hidden = self._by_message.get(item.id) or self._by_author.get(item.author)
        if hidden is not None:
            return hidden
        if self.hide_reposts and item.kind is Kind.REPOST:
            return Hidden("reposts", "repost (reposts hidden)")
        if item.text is not None and self.filters:
            rule = self._filter_index.first_match(self.filters, _Text(item.text))
            if rule is not None:
                return Hidden(rule.kind.value, rule.label)
        return None


# --- applying a judge to a list of items --------------------------------------------------


@dataclass(frozen=True, slots=True)
class Screened(Generic[_T]):
    """Items after moderation: what to show, each with why it is hidden (if it is).

    Attributes:
        items: What to show, in the original order.
        verdicts: For each of ``items``, why rules hide it, or None.
        hidden: How many of the given items the rules hide (shown or not).
        revealed: Hidden items are shown in full (``--show-hidden``); otherwise the only
            hidden items in ``items`` are stubs kept so that a thread keeps its shape.
    """

    items: tuple[_T, ...]
    verdicts: tuple[Hidden | None, ...]
    hidden: int
    revealed: bool

    def pairs(self) -> list[tuple[_T, Hidden | None]]:
        """``(item, verdict)`` for each item shown."""
        return list(zip(self.items, self.verdicts, strict=True))

    @property
    def left_out(self) -> int:
        """Hidden items not in :attr:`items` at all."""
        return self.hidden - sum(v is not None for v in self.verdicts)


def screen(
    items: Iterable[_T],
    judge: Callable[[_T], Hidden | None],
    *,
    show_hidden: bool = False,
    keep_place: bool = False,
) -> Screened[_T]:
    """Apply ``judge`` to each item.

    Args:
        items: Items in display order.
        judge: Such as :meth:`Policy.judge`.
        show_hidden: Keep hidden items, labelled, to show them in full.
        keep_place: Keep hidden items as labelled stubs (threads: a hidden reply keeps
            its place so that the tree stays whole).
    """
    kept: list[_T] = []
    verdicts: list[Hidden | None] = []
    hidden = 0
    for item in items:
        verdict = judge(item)
        if verdict is not None:
            hidden += 1
            if not (show_hidden or keep_place):
                continue
        kept.append(item)
        verdicts.append(verdict)
    return Screened(tuple(kept), tuple(verdicts), hidden, show_hidden)


def hidden_note(count: int, *, flag: str = "--show-hidden") -> str:
    """The line that says how many items were hidden and how to see them."""
    what = "item" if count == 1 else "items"
    return f"{count} {what} hidden by your moderation rules (see them with {flag})"


def entries_by_target(entries: Sequence[ListEntry]) -> dict[bytes, ListEntry]:
    """A list's entries keyed by their target's raw id (for adding and removing)."""
    return {entry.target.raw: entry for entry in entries}


__all__ = [
    "MAX_FILTERS",
    "MAX_FILTER_CHARS",
    "MAX_REGEX_CHARS",
    "Filter",
    "FilterError",
    "FilterKind",
    "Hidden",
    "Judged",
    "ListRef",
    "ListRefError",
    "Policy",
    "Screened",
    "SubscribedList",
    "check_list_name",
    "entries_by_target",
    "hidden_note",
    "list_label",
    "screen",
]
