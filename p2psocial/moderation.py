"""The owner's moderation settings on disk, and the policy built from them and the index.

Two kinds of state make up what the owner chose not to see (docs/moderation.md):

- **private settings**, never published: mutes, filters, hiding reposts, and the lists the
  owner subscribes to. They live in ``HOME/moderation.json`` (:class:`ModerationSettings`),
  written only by the node (the home's one writer), atomically: a new file is written,
  fsynced and renamed over the old one, so a crash leaves the old settings or the new ones,
  never half of either. The file is 0600. A file that cannot be read as settings is refused
  with one error (:class:`SettingsCorruptError`) and never overwritten;
- **published state**, derived from the log by the index: whom the owner blocks, and the
  moderation lists authors publish.

:func:`load_policy` joins the two into a :class:`~p2psocial.core.moderation.Policy`, which
readers (the command line, the terminal app) apply with its ``judge``.
"""

from __future__ import annotations

import contextlib
import functools
import json
import os
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Final

from .core.ids import AuthorId
from .core.moderation import (
    MAX_FILTERS,
    Filter,
    FilterKind,
    ListRef,
    Policy,
    SubscribedList,
)
from .errors import InputError, P2PSocialError, StoreError
from .store.queries import IndexReader, ListInfo

SETTINGS_FILENAME: Final = "moderation.json"
SETTINGS_FORMAT: Final = 1
MAX_SETTINGS_BYTES: Final = 4 * 1024 * 1024
"""A settings file larger than this is refused as damaged."""
MAX_MUTES: Final = 10_000
MAX_SUBSCRIPTIONS: Final = 1_000


class BadSettingsError(ValueError):
    """Raised by :meth:`ModerationSettings.from_json` for a value that is not settings."""


class SettingsCorruptError(StoreError):
    """``HOME/moderation.json`` exists but is not valid settings; nothing is written over it."""

    code = "store.moderation_corrupt"


@dataclass(frozen=True, slots=True)
class ModerationSettings:
    """The owner's private moderation settings (never published).

    Attributes:
        muted: Muted authors, in the order they were muted.
        filters: Keyword, hashtag and regex filters, in the order they were added.
        hide_reposts: Hide every repost.
        subscriptions: Subscribed lists, in the order they were subscribed to.
    """

    muted: tuple[AuthorId, ...] = ()
    filters: tuple[Filter, ...] = ()
    hide_reposts: bool = False
    subscriptions: tuple[ListRef, ...] = ()

    def to_json(self) -> dict[str, Any]:
        """The settings as the file holds them."""
        return {
            "format": SETTINGS_FORMAT,
            "muted": [_text(a) for a in self.muted],
            "filters": [{"kind": f.kind.value, "text": f.text} for f in self.filters],
            "hide_reposts": self.hide_reposts,
            "subscriptions": [f"{_text(ref.author)}/{ref.name}" for ref in self.subscriptions],
        }

    @classmethod
    def from_json(cls, value: Any) -> ModerationSettings:
        """Read settings from their JSON form.

        Raises:
            BadSettingsError: ``value`` is not settings (the message says what is wrong).
        """
        if not isinstance(value, dict):
            raise BadSettingsError("not a JSON object")
        if value.get("format") != SETTINGS_FORMAT:
            raise BadSettingsError(f"unknown format {value.get('format')!r} (this node reads 1)")
        unknown = sorted(
            set(value) - {"format", "muted", "filters", "hide_reposts", "subscriptions"}
        )
        if unknown:
            raise BadSettingsError(f"unknown keys {unknown}")
        muted = _strings(value, "muted")
        hide = value.get("hide_reposts", False)
        if not isinstance(hide, bool):
            raise BadSettingsError("'hide_reposts' must be true or false")
        filters = []
        raw_filters = value.get("filters", [])
        if not isinstance(raw_filters, list):
            raise BadSettingsError("'filters' must be a list")
        for raw in raw_filters:
            if not isinstance(raw, dict) or set(raw) != {"kind", "text"}:
                raise BadSettingsError("each filter must be {'kind': ..., 'text': ...}")
            kind, text = raw["kind"], raw["text"]
            if kind not in {k.value for k in FilterKind} or not isinstance(text, str):
                raise BadSettingsError(f"bad filter {raw!r}")
            try:
                parsed = Filter.parse(text, regex=kind == FilterKind.REGEX.value)
            except P2PSocialError as exc:
                raise BadSettingsError(str(exc)) from None
            if parsed.kind.value != kind:
                raise BadSettingsError(f"filter {text!r} is not a {kind} filter")
            filters.append(parsed)
        try:
            return cls(
                muted=tuple(AuthorId.parse(a) for a in muted),
                filters=tuple(filters),
                hide_reposts=hide,
                subscriptions=tuple(ListRef.parse(r) for r in _strings(value, "subscriptions")),
            )
        except P2PSocialError as exc:
            raise BadSettingsError(str(exc)) from None

    # --- changes (each returns new settings) ----------------------------------------------

    def with_mute(self, author: AuthorId, *, muted: bool) -> ModerationSettings:
        """Mute or unmute ``author`` (the same settings if nothing changes).

        Raises:
            InputError: Too many authors are muted.
        """
        if muted == (author in self.muted):
            return self
        if not muted:
            return replace(self, muted=tuple(a for a in self.muted if a != author))
        if len(self.muted) >= MAX_MUTES:
            raise InputError(f"at most {MAX_MUTES} authors can be muted")
        return replace(self, muted=(*self.muted, author))

    def with_filter(self, rule: Filter, *, present: bool) -> ModerationSettings:
        """Add or remove a filter (the same settings if nothing changes).

        Raises:
            InputError: Too many filters.
        """
        if present == (rule in self.filters):
            return self
        if not present:
            return replace(self, filters=tuple(f for f in self.filters if f != rule))
        if len(self.filters) >= MAX_FILTERS:
            raise InputError(f"at most {MAX_FILTERS} filters are allowed")
        return replace(self, filters=(*self.filters, rule))

    def with_subscription(self, ref: ListRef, *, subscribed: bool) -> ModerationSettings:
        """Subscribe to or unsubscribe from a list (the same settings if nothing changes).

        Raises:
            InputError: Too many subscriptions.
        """
        if subscribed == (ref in self.subscriptions):
            return self
        if not subscribed:
            return replace(self, subscriptions=tuple(r for r in self.subscriptions if r != ref))
        if len(self.subscriptions) >= MAX_SUBSCRIPTIONS:
            raise InputError(f"at most {MAX_SUBSCRIPTIONS} lists can be subscribed to")
        return replace(self, subscriptions=(*self.subscriptions, ref))


@functools.lru_cache(maxsize=MAX_MUTES + MAX_SUBSCRIPTIONS)
def _text(author: AuthorId) -> str:
    """An author's text form, remembered: each bech32 encoding costs ~0.1 ms, and every
    change rewrites every id in the file."""
    return str(author)


def _strings(value: dict[str, Any], key: str) -> list[str]:
    found = value.get(key, [])
    if not isinstance(found, list) or not all(isinstance(v, str) for v in found):
        raise BadSettingsError(f"{key!r} must be a list of strings")
    return found


def settings_path(home: Path) -> Path:
    """Where the moderation settings of ``home`` live."""
    return home / SETTINGS_FILENAME


def load_settings(home: Path) -> ModerationSettings:
    """The owner's moderation settings; the defaults (nothing hidden) when there is no file.

    Raises:
        SettingsCorruptError: The file exists but is not valid settings.
        OSError: The file cannot be read.
    """
    path = settings_path(home)
    try:
        with path.open("rb") as file:
            identity = _identity(os.fstat(file.fileno()))
            cached = _CACHE.get(path)
            if cached is not None and cached[0] == identity:
                return cached[1]
            data = file.read(MAX_SETTINGS_BYTES + 1)
    except FileNotFoundError:
        return ModerationSettings()
    try:
        if len(data) > MAX_SETTINGS_BYTES:
            problem = f"larger than {MAX_SETTINGS_BYTES} bytes"
        else:
            settings = ModerationSettings.from_json(json.loads(data.decode("utf-8")))
            if len(_CACHE) >= _CACHE_SIZE:
                _CACHE.clear()
            _CACHE[path] = (identity, settings)
            return settings
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        problem = str(exc)
    raise SettingsCorruptError(
        f"{path} is damaged ({problem}); nothing was changed. Fix it, or move it away to"
        " start over (it holds your mutes, filters and list subscriptions)"
    )


_CACHE: dict[Path, tuple[tuple[int, int, int, int], ModerationSettings]] = {}
"""Settings as last read, by file identity: parsing them (every id's checksum) costs a few
milliseconds, and readers load them for every page. A save renames a new file into place,
so the identity (inode, size, mtime) changes with every change."""
_CACHE_SIZE: Final = 16


def _identity(stat: os.stat_result) -> tuple[int, int, int, int]:
    return (stat.st_dev, stat.st_ino, stat.st_size, stat.st_mtime_ns)


def save_settings(home: Path, settings: ModerationSettings) -> None:
    """Write the settings atomically and durably (owner-only, 0600).

    Only the node (which holds the home's lock) calls this.

    Raises:
        OSError: The file cannot be written; the old one is then unchanged.
    """
    path = settings_path(home)
    data = (json.dumps(settings.to_json(), ensure_ascii=False, indent=2) + "\n").encode("utf-8")
    temporary = path.with_name(f".{path.name}.tmp")
    temporary.unlink(missing_ok=True)  # left by a crash; recreated 0600 below
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600)
    try:
        with os.fdopen(fd, "wb") as file:
            file.write(data)
            file.flush()
            os.fsync(file.fileno())
        os.replace(temporary, path)
        _CACHE[path] = (_identity(path.stat()), settings)
    except BaseException:
        with contextlib.suppress(OSError):
            temporary.unlink()
        raise
    directory = os.open(path.parent, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(directory)
    finally:
        os.close(directory)


@dataclass(frozen=True, slots=True)
class ListsOverview:
    """The owner's own moderation lists and the lists they subscribe to."""

    mine: tuple[ListInfo, ...]
    """Lists the owner has published, by name (empty ones too)."""
    subscribed: tuple[SubscribedList, ...]
    """Subscriptions in the order they were made, each with its entries as held."""


def lists_overview(home: Path, reader: IndexReader, me: AuthorId) -> ListsOverview:
    """What ``p2psocial lists`` shows.

    Raises:
        SettingsCorruptError: ``HOME/moderation.json`` is damaged.
    """
    settings = load_settings(home)
    return ListsOverview(
        tuple(reader.moderation_lists(me)), subscribed_lists(reader, settings.subscriptions)
    )


def subscribed_lists(reader: IndexReader, refs: Sequence[ListRef]) -> tuple[SubscribedList, ...]:
    """The subscribed lists with their entries as held (empty when a list is not held)."""
    found = []
    for ref in refs:
        info = reader.moderation_list(ref.author, ref.name)
        found.append(SubscribedList(ref, info.entries if info else (), held=info is not None))
    return tuple(found)


def build_policy(settings: ModerationSettings, reader: IndexReader, me: AuthorId) -> Policy:
    """The policy for ``me``: ``settings`` and what the index says ``me`` blocks."""
    return Policy(
        me=me,
        muted=frozenset(settings.muted),
        blocked=reader.blocked_by(me),
        filters=settings.filters,
        hide_reposts=settings.hide_reposts,
        lists=subscribed_lists(reader, settings.subscriptions),
    )


def load_policy(home: Path, reader: IndexReader, me: AuthorId) -> Policy:
    """Everything ``me`` chose not to see, read from ``home`` and its index.

    Costs one small file read and a few indexed queries (well under a millisecond for
    typical settings); build one per page shown.

    Raises:
        SettingsCorruptError: ``HOME/moderation.json`` is damaged.
    """
    return build_policy(load_settings(home), reader, me)


__all__ = [
    "SETTINGS_FILENAME",
    "BadSettingsError",
    "ListsOverview",
    "ModerationSettings",
    "SettingsCorruptError",
    "build_policy",
    "lists_overview",
    "load_policy",
    "load_settings",
    "save_settings",
    "settings_path",
    "subscribed_lists",
]
