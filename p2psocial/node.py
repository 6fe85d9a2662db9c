"""The node: a home directory opened for its owner, with an async (trio) API.

Embed it like this (docs/embedding.md has more)::

    async with p2psocial.open_node(home) as node:
        message = await node.post("hello #p2p")
        for item in await node.timeline("home"):
            print(item.author_display, item.text)

Blocking work (fsync, SQLite, Argon2id) runs in worker threads, so a node never stalls
the trio loop it lives on. Every change to the home goes through a node; the command
line and the terminal app are its first users.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, replace
from functools import partial
from pathlib import Path
from typing import Final, Literal, TypeVar

import trio
from nacl.signing import SigningKey

from . import keystore
from .admission import FollowDistances
from .config import DEFAULTS, Config, load_config
from .core.bodies import (
    Block,
    Body,
    Delete,
    Follow,
    Kind,
    ListEntry,
    ModerationList,
    Post,
    Profile,
    Reaction,
    Reply,
    Repost,
    Unblock,
    Unfollow,
)
from .core.ids import AuthorId, MessageId
from .core.limits import MAX_LIST_ENTRIES
from .core.message import Message, sign
from .core.moderation import Filter, ListRef, Policy, Screened, check_list_name, screen
from .core.ranking import DEFAULT_ALGORITHM, Judge, Setting
from .core.text import find_author_ids
from .errors import (
    ImportFileError,
    InputError,
    NotFoundError,
    OversizeError,
    PassphraseRequiredError,
    ValidationError,
)
from .feeds import FeedCursor, FeedPage, rank_feed
from .home import HomePaths
from .moderation import (
    ListsOverview,
    ModerationSettings,
    build_policy,
    lists_overview,
    load_settings,
    save_settings,
)
from .store.exchange import read_export, write_export
from .store.index import Head
from .store.log import RecoveryReport
from .store.queries import (
    DEFAULT_LIMIT,
    AuthorInfo,
    Cursor,
    IndexReader,
    Item,
    ListInfo,
    Reactions,
)
from .store.store import IngestResult, Outcome, Store, wall_clock_ms
from .store.syncview import StoreView

log = logging.getLogger(__name__)

_T = TypeVar("_T")

Passphrase = str | Callable[[], str] | None
"""A passphrase, a function that asks for one (called at most once), or None."""

Source = Literal["local", "import", "network"]

EVENT_BUFFER: Final = 1024


@dataclass(frozen=True, slots=True)
class NewMessage:
    """A message was stored."""

    message: Message
    source: Source
    fork: bool = False
    """It was stored as fork evidence (its author signed another message for its seq)."""


@dataclass(frozen=True, slots=True)
class EventsMissed:
    """A subscriber fell behind and ``count`` events were not delivered to it.

    Nothing was lost from the store: re-read what you show from the queries.
    """

    count: int


Event = NewMessage | EventsMissed


@dataclass(frozen=True, slots=True)
class ImportSummary:
    """What an import did."""

    read: int
    accepted: int
    duplicates: int
    forks: int


class Subscription:
    """An async iterator of events for one subscriber; see :meth:`Node.subscribe`."""

    def __init__(self) -> None:
        self._send, self._receive = trio.open_memory_channel[Event](EVENT_BUFFER)
        self._missed = 0

    def _offer(self, event: Event) -> None:
        if self._missed:
            # Keep order: nothing more is queued until the reader has been told of the gap.
            self._missed += 1
            return
        try:
            self._send.send_nowait(event)
        except trio.WouldBlock:
            self._missed = 1
        except trio.BrokenResourceError:
            pass  # the subscriber has stopped listening: nothing to tell it

    def __aiter__(self) -> Subscription:
        return self

    async def __anext__(self) -> Event:
        try:
            return self._receive.receive_nowait()
        except trio.WouldBlock:
            if self._missed:
                missed, self._missed = self._missed, 0
                return EventsMissed(missed)
        except trio.EndOfChannel:
            raise StopAsyncIteration from None
        try:
            return await self._receive.receive()
        except trio.EndOfChannel:
            raise StopAsyncIteration from None

    def _close(self) -> None:
        self._send.close()


def init_home(
    home: Path, *, passphrase: str | None, kdf: keystore.KdfParams = keystore.DEFAULT_KDF
) -> AuthorId:
    """Create a new identity in ``home`` (created if needed, owner-only).

    Args:
        home: The home directory.
        passphrase: Encrypts the key at rest; None stores it unencrypted (file mode 0600).
        kdf: Argon2id cost.

    Returns:
        The new author id.

    Raises:
        AlreadyInitializedError: ``home`` already has an identity.
    """
    if passphrase == "":
        raise InputError("an empty passphrase is not allowed (use None for no encryption)")
    paths = HomePaths(home)
    paths.ensure()
    return AuthorId(keystore.create_keystore(home, passphrase=passphrase, kdf=kdf))


@asynccontextmanager
async def open_node(
    home: Path,
    *,
    passphrase: Passphrase = None,
    clock: Callable[[], int] = wall_clock_ms,
    config: Config | None = None,
) -> AsyncIterator[Node]:
    """Open a node on an initialised home directory; close it on exit.

    The key is unlocked only when the node first signs something, so reading needs no
    passphrase.

    Args:
        home: The home directory.
        passphrase: For an encrypted keystore; see :data:`Passphrase`.
        clock: Milliseconds since the epoch (for tests).
        config: The settings (the postage paid on own messages, say); by default those
            of ``HOME/config.toml``.

    Raises:
        ConfigError: ``HOME/config.toml`` is malformed (when ``config`` is not given).
        NotInitializedError: ``home`` has no identity.
        HomeLockedError: Another process has this home open.
        LogCorruptError: The log is damaged other than at its tail.
    """
    me = AuthorId(keystore.read_public_key(home))
    if config is None:
        config = await trio.to_thread.run_sync(load_config, home)
    store = await trio.to_thread.run_sync(partial(Store.open, home, clock=clock, owner=me))
    node = Node(store, me, passphrase, clock, config)
    try:
        await node._track_follows((), everything=True)
        yield node
    finally:
        node._close_subscriptions()
        with trio.CancelScope(shield=True):
            await trio.to_thread.run_sync(store.close)


class Node:
    """An open home directory. Create with :func:`open_node`."""

    def __init__(
        self,
        store: Store,
        me: AuthorId,
        passphrase: Passphrase,
        clock: Callable[[], int],
        config: Config = DEFAULTS,
    ) -> None:
        self._store = store
        self.me = me
        """The owner's author id."""
        self._passphrase = passphrase
        self._key: SigningKey | None = None
        self._key_lock = trio.Lock()
        self._clock = clock
        self._subscriptions: set[Subscription] = set()
        self.config = config
        """The settings: ``HOME/config.toml``, or what :func:`open_node` was given."""
        self._distances = FollowDistances(me)
        self._distance_lock = trio.Lock()
        self._compose_lock = trio.Lock()
        self._settings_lock = trio.Lock()

    @property
    def home(self) -> Path:
        """The home directory."""
        return self._store.paths.root

    @property
    def recovery(self) -> RecoveryReport | None:
        """What opening the log cut off a torn tail after a crash, if anything."""
        return self._store.recovery

    def sync_view(self) -> StoreView:
        """The store as the sync protocol sees it (for network adapters)."""
        return self._store.sync_view()

    @property
    def reader(self) -> IndexReader:
        """Synchronous read access to the index (the async queries below wrap it)."""
        return self._store.reader

    def distance(self, author: AuthorId) -> int | None:
        """How many follows ``author`` is from the owner: 0 (the owner), 1 (followed), 2
        (followed by someone the owner follows), or None (further, or unknown).

        Kept in memory and updated whenever a follow or unfollow that changes it is
        stored, so it costs a dictionary lookup (admission asks it of every message).
        """
        return self._distances.distance(author)

    async def _track_follows(self, stored: Sequence[Message], *, everything: bool = False) -> None:
        """Bring the follow distances up to date after ``stored`` were stored (or, with
        ``everything``, read them all again). Serialised, so that a later read of the
        index is never overwritten by an earlier one.

        Called after the messages are stored and before they are announced (so that an
        event's reader sees the distances it implies): shielded, and with no checkpoint
        outside the shield, so that a caller cancelled here still announces what was stored;
        and never raising, since what it follows is already acknowledged (a failure is
        logged, and the next follow or a restart reads the distances again)."""
        authors = {m.author for m in stored if self._distances.touches(m)}
        if not authors and not everything:
            return
        with trio.CancelScope(shield=True):
            try:
                async with self._distance_lock:
                    update = await trio.to_thread.run_sync(
                        partial(self._distances.read, self.reader, authors, everything=everything)
                    )
                    if update is not None:
                        self._distances.apply(update)
            except Exception:
                log.exception("updating the follow distances failed; they may be stale")

    # --- events --------------------------------------------------------------------------

    @asynccontextmanager
    async def subscribe(self) -> AsyncIterator[Subscription]:
        """Receive an event for every message stored from now on.

        Example::

            async with node.subscribe() as events:
                async for event in events:
                    ...

        A subscriber that falls more than 1024 events behind gets one
        :class:`EventsMissed` in their place and should re-query; the node never waits
        for a slow subscriber.
        """
        subscription = Subscription()
        self._subscriptions.add(subscription)
        try:
            yield subscription
        finally:
            self._subscriptions.discard(subscription)
            subscription._close()

    def _publish(self, results: Sequence[IngestResult], source: Source) -> None:
        for result in results:
            if result.message is None or result.outcome not in (Outcome.ACCEPTED, Outcome.FORK):
                continue
            event = NewMessage(result.message, source, fork=result.outcome is Outcome.FORK)
            for subscription in list(self._subscriptions):
                subscription._offer(event)

    def _close_subscriptions(self) -> None:
        for subscription in self._subscriptions:
            subscription._close()

    # --- writing -------------------------------------------------------------------------

    async def _signing_key(self) -> SigningKey:
        async with self._key_lock:
            if self._key is None:
                secret = None
                if keystore.is_encrypted(self.home):
                    given = self._passphrase
                    secret = given() if callable(given) else given
                    if secret is None:
                        raise PassphraseRequiredError(
                            "the identity key is encrypted: a passphrase is needed to sign"
                        )
                self._key = await trio.to_thread.run_sync(keystore.unlock, self.home, secret)
            return self._key

    async def unlock(self) -> None:
        """Unlock the signing key now rather than at the first write (a daemon does this
        at start, so that a wrong passphrase stops it before it goes online).

        Raises:
            PassphraseRequiredError, WrongPassphraseError: The key cannot be unlocked.
        """
        await self._signing_key()

    async def publish(self, body: Body) -> Message:
        """Sign ``body`` as the next message of the owner's chain, store it, and announce it.

        The message is on disk (fsync) when this returns.

        Raises:
            PassphraseRequiredError, WrongPassphraseError: The key cannot be unlocked.
            MalformedBodyError, OversizeError: The body breaks its schema.
        """
        key = await self._signing_key()
        bits = self.config.postage.stamp

        def build(head: Head) -> Message:
            # Never at or before the previous message, even if the clock stepped back:
            # one author's messages keep their order in every timeline.
            ts = max(self._clock(), head.ts + 1)
            return sign(key, seq=head.seq + 1, prev=head.id, ts=ts, body=body, postage_bits=bits)

        async with self._compose_lock:
            # Postage is work (~0.1 s at 18 bits): do it in a worker thread, outside the
            # store's write lock, against the head as it is now. Own messages are composed
            # one at a time, so the head is still the same when the message is stored
            # (unless an import added own messages meanwhile: then it is signed again).
            head = await trio.to_thread.run_sync(self._store.head, self.me)
            draft = await trio.to_thread.run_sync(build, head)
            message = await trio.to_thread.run_sync(
                self._store.compose,
                self.me,
                lambda current: draft if current == head else build(current),
            )
        log.info("stored own %s seq %s %s", message.kind.value, message.seq, message.id.short)
        await self._track_follows([message])
        self._publish([IngestResult(Outcome.ACCEPTED, message)], "local")
        return message

    async def post(self, text: str, *, mentions: Sequence[AuthorId] | None = None) -> Message:
        """Post ``text``. Full author ids written in the text are mentioned automatically."""
        return await self.publish(Post(text, _mentions(text, mentions)))

    async def reply(
        self, parent: MessageId, text: str, *, mentions: Sequence[AuthorId] | None = None
    ) -> Message:
        """Reply to ``parent``, which must be held (its thread's root is taken from it).

        Raises:
            NotFoundError: ``parent`` is not held.
        """
        item = await self._target(parent, (Kind.POST, Kind.REPLY), "reply to")
        root = item.root or item.id
        return await self.publish(Reply(text, root, parent, _mentions(text, mentions)))

    async def react(self, target: MessageId, emoji: str) -> Message:
        """React to a post, reply or repost with a short emoji.

        Raises:
            NotFoundError: ``target`` is not held.
            InputError: ``target`` is not a post, reply or repost.
        """
        await self._target(target, (Kind.POST, Kind.REPLY, Kind.REPOST), "react to")
        return await self.publish(Reaction(target, emoji))

    async def repost(self, target: MessageId) -> Message:
        """Share a post or reply with the owner's followers.

        Raises:
            NotFoundError: ``target`` is not held.
            InputError: ``target`` is not a post or reply.
        """
        await self._target(target, (Kind.POST, Kind.REPLY), "repost")
        return await self.publish(Repost(target))

    async def _target(self, target: MessageId, kinds: tuple[Kind, ...], verb: str) -> Item:
        item = await self.get(target)
        if item is None:
            raise NotFoundError(f"message {target.short} is not held by this node")
        if item.kind not in kinds:
            names = [k.value for k in kinds]
            allowed = " or ".join([", ".join(names[:-1]), names[-1]] if len(names) > 2 else names)
            raise InputError(f"you can only {verb} a {allowed}, not a {item.kind.value}")
        return item

    async def follow(self, author: AuthorId) -> Message:
        """Follow ``author``.

        Raises:
            InputError: ``author`` is the owner.
        """
        if author == self.me:
            raise InputError("you cannot follow yourself")
        return await self.publish(Follow(author))

    async def unfollow(self, author: AuthorId) -> Message:
        """Stop following ``author``."""
        return await self.publish(Unfollow(author))

    async def set_profile(
        self, *, name: str | None = None, bio: str | None = None, automated: bool | None = None
    ) -> Message:
        """Publish a profile; a field left None keeps its current value.

        Args:
            name: The display name.
            bio: The bio.
            automated: Whether a program posts for this account (readers label it).
        """
        current = await self.author(self.me)
        return await self.publish(
            Profile(
                name if name is not None else (current.name if current and current.name else ""),
                bio if bio is not None else (current.bio if current and current.bio else ""),
                automated if automated is not None else bool(current and current.automated),
            )
        )

    async def delete(self, target: MessageId) -> Message:
        """Ask every node to drop the body of one of the owner's messages.

        Deletion is a request: this node drops the body from its index at once and
        well-behaved peers do the same, but copies already made elsewhere may remain.

        Raises:
            NotFoundError: ``target`` is not held.
            InputError: ``target`` is someone else's message.
        """
        item = await self.get(target)
        if item is None:
            raise NotFoundError(f"message {target.short} is not held by this node")
        if item.author != self.me:
            raise InputError("only the author of a message can ask to delete it")
        return await self.publish(Delete(target))

    # --- moderation (docs/moderation.md) ----------------------------------------------------

    @property
    def blocked(self) -> frozenset[AuthorId]:
        """The authors the owner blocks now (kept in memory; cheap to ask per message)."""
        return self._store.blocked

    async def block(self, author: AuthorId) -> Message:
        """Block ``author``: publish a signed ``block`` and stop storing and serving their
        bodies. Their posts are hidden everywhere (labelled ``blocked``), their text leaves
        search, and their new messages are stored without bodies (headers only, so their
        chain still verifies); what the log already holds stays there until log compaction.

        Raises:
            InputError: ``author`` is the owner, or is blocked already.
        """
        if author == self.me:
            raise InputError("you cannot block yourself")
        if author in self.blocked:
            raise InputError(f"you already block {author.short}; nothing was published")
        return await self.publish(Block(author))

    async def unblock(self, author: AuthorId) -> Message:
        """Undo :meth:`block`: publish an ``unblock``; ``author``'s messages show again,
        with the bodies this node kept (messages that arrived while blocked stay body-less).

        Raises:
            InputError: The owner does not block ``author``.
        """
        if author not in self.blocked:
            raise InputError(f"you do not block {author.short}; nothing was published")
        return await self.publish(Unblock(author))

    async def moderation_settings(self) -> ModerationSettings:
        """The owner's private settings: mutes, filters, hiding reposts, subscriptions.

        Raises:
            SettingsCorruptError: ``HOME/moderation.json`` is damaged.
        """
        return await trio.to_thread.run_sync(load_settings, self.home)

    async def _change_settings(
        self, change: Callable[[ModerationSettings], ModerationSettings]
    ) -> bool:
        """Apply ``change`` to the settings file, atomically; whether anything changed."""
        async with self._settings_lock:
            current = await trio.to_thread.run_sync(load_settings, self.home)
            new = change(current)
            if new == current:
                return False
            await trio.to_thread.run_sync(save_settings, self.home, new)
            log.info("moderation settings changed")
            return True

    async def mute(self, author: AuthorId) -> bool:
        """Hide ``author``'s messages from the owner's reading (private: never published;
        their messages are still stored, synced and forwarded). Returns False if they were
        muted already.

        Raises:
            InputError: ``author`` is the owner.
        """
        if author == self.me:
            raise InputError("you cannot mute yourself")
        return await self._change_settings(lambda s: s.with_mute(author, muted=True))

    async def unmute(self, author: AuthorId) -> None:
        """Undo :meth:`mute`.

        Raises:
            NotFoundError: ``author`` is not muted.
        """
        if not await self._change_settings(lambda s: s.with_mute(author, muted=False)):
            raise NotFoundError(f"{author.short} is not muted")

    async def add_filter(self, text: str, *, regex: bool = False) -> tuple[Filter, bool]:
        """Hide posts and replies matching ``text``: a word or phrase (whole words, any
        case), a ``#hashtag``, or with ``regex`` a regular expression (any case).

        Returns:
            The filter, and False if it existed already.

        Raises:
            FilterError: ``text`` is not a valid filter (a bad regex says why).
        """
        rule = Filter.parse(text, regex=regex)
        return rule, await self._change_settings(lambda s: s.with_filter(rule, present=True))

    async def remove_filter(self, text: str, *, regex: bool = False) -> Filter:
        """Remove a filter added with the same ``text`` and ``regex``.

        Raises:
            FilterError: ``text`` is not a valid filter.
            NotFoundError: There is no such filter.
        """
        rule = Filter.parse(text, regex=regex)
        if not await self._change_settings(lambda s: s.with_filter(rule, present=False)):
            raise NotFoundError(f"there is no {rule.label}")
        return rule

    async def set_hide_reposts(self, hide: bool) -> bool:
        """Hide (or show again) every repost. Returns whether the setting changed."""
        return await self._change_settings(
            lambda s: s if s.hide_reposts == hide else replace(s, hide_reposts=hide)
        )

    async def subscribe_list(self, ref: ListRef) -> bool:
        """Apply the moderation list ``ref`` to the owner's reading. A list not held yet is
        accepted and applies once it arrives. Returns False if already subscribed."""
        return await self._change_settings(lambda s: s.with_subscription(ref, subscribed=True))

    async def unsubscribe_list(self, ref: ListRef) -> None:
        """Undo :meth:`subscribe_list`.

        Raises:
            NotFoundError: The owner does not subscribe to ``ref``.
        """
        if not await self._change_settings(lambda s: s.with_subscription(ref, subscribed=False)):
            raise NotFoundError(f"you do not subscribe to {ref.short}")

    async def publish_list(self, name: str, entries: Sequence[ListEntry] | None = None) -> Message:
        """Publish the owner's moderation list ``name`` whole (it replaces the previous one).

        Args:
            name: The list's name (``[a-z0-9._-]``, up to 32 bytes).
            entries: Its entries; None republishes it as held (empty if new).

        Raises:
            ListRefError: ``name`` is not a valid list name.
            InputError: Too many entries, or too large for one message.
        """
        check_list_name(name)
        if entries is None:
            held = await self.moderation_list(self.me, name)
            entries = held.entries if held else ()
        if len(entries) > MAX_LIST_ENTRIES:
            raise InputError(
                f"list {name} would have {len(entries)} entries; one list holds at most"
                f" {MAX_LIST_ENTRIES}: start another list"
            )
        try:
            return await self.publish(ModerationList(name, tuple(entries)))
        except ValidationError as exc:
            hint = "; shorten it, or start another list" if isinstance(exc, OversizeError) else ""
            raise InputError(f"list {name} cannot be published: {exc}{hint}") from None

    async def add_to_list(self, name: str, target: AuthorId | MessageId, reason: str) -> Message:
        """Add ``target`` (an author or one message) to the owner's list ``name`` with a
        reason, or change its reason; publishes the whole new list.

        Raises:
            InputError: The same entry is there already, the list is full, or the reason
                is blank, too long or not one line.
        """
        check_list_name(name)
        held = await self.moderation_list(self.me, name)
        entries = list(held.entries if held else ())
        entry = ListEntry(target, reason)
        for i, old in enumerate(entries):
            if old.target == target:
                if old == entry:
                    raise InputError(f"{target.short} is on list {name} already with that reason")
                entries[i] = entry
                break
        else:
            entries.append(entry)
        return await self.publish_list(name, entries)

    async def remove_from_list(self, name: str, target: AuthorId | MessageId) -> Message:
        """Take ``target`` off the owner's list ``name``; publishes the whole new list.

        Raises:
            NotFoundError: ``target`` is not on the list (or there is no such list).
        """
        check_list_name(name)
        held = await self.moderation_list(self.me, name)
        entries = [e for e in (held.entries if held else ()) if e.target != target]
        if held is None or len(entries) == len(held.entries):
            raise NotFoundError(f"{target.short} is not on your list {name}")
        return await self.publish_list(name, entries)

    async def moderation_list(self, author: AuthorId, name: str) -> ListInfo | None:
        """The list ``author/name`` as last published, or None if none is held."""
        return await self._read(self.reader.moderation_list, author, name)

    async def lists(self) -> ListsOverview:
        """The owner's own lists and their subscriptions, with entries as held."""
        return await self._read(lists_overview, self.home, self.reader, self.me)

    async def moderation_policy(self) -> Policy:
        """Everything the owner chose not to see, ready to judge items
        (``policy.judge(item)``; pass ``policy.judge`` to the ranking pipeline).

        Raises:
            SettingsCorruptError: ``HOME/moderation.json`` is damaged.
        """
        settings = await self.moderation_settings()
        return await self._read(build_policy, settings, self.reader, self.me)

    async def screen(
        self, items: Sequence[Item], *, show_hidden: bool = False, keep_place: bool = False
    ) -> Screened[Item]:
        """Apply the owner's moderation to items read from any query.

        Args:
            items: Such as :meth:`search` or :meth:`mentions` returned.
            show_hidden: Keep hidden items, each with the rule that hides it.
            keep_place: Keep hidden items as labelled stubs (for :meth:`thread`).
        """
        policy = await self.moderation_policy()
        return screen(items, policy.judge, show_hidden=show_hidden, keep_place=keep_place)

    async def ingest(
        self, items: Sequence[bytes | Message], *, source: Source, allow_gaps: bool = True
    ) -> list[IngestResult]:
        """Validate and store messages from elsewhere (a peer, a file).

        Returns:
            One result per item; invalid ones are REJECTED with their error.
        """
        results = await trio.to_thread.run_sync(
            partial(self._store.ingest, items, allow_gaps=allow_gaps)
        )
        await self._track_follows(_accepted(results))
        self._publish(results, source)
        return results

    async def import_file(self, path: Path) -> ImportSummary:
        """Import an export file: every message is validated before any is stored.

        Raises:
            ImportFileError: The file is damaged, or one of its messages is invalid; then
                nothing was stored.
        """
        payloads = await trio.to_thread.run_sync(read_export, path)
        results = await trio.to_thread.run_sync(
            partial(self._store.ingest, payloads, allow_gaps=True, atomic=True)
        )
        for number, result in enumerate(results, 1):
            if result.outcome is Outcome.REJECTED:
                assert result.error is not None
                raise ImportFileError(
                    f"{path}: message {number} is invalid ({result.error.code}): "
                    f"{result.error}; nothing was imported"
                )
        await self._track_follows(_accepted(results))
        self._publish(results, "import")
        return ImportSummary(
            read=len(results),
            accepted=sum(r.outcome is Outcome.ACCEPTED for r in results),
            duplicates=sum(r.outcome is Outcome.DUPLICATE for r in results),
            forks=sum(r.outcome is Outcome.FORK for r in results),
        )

    async def export_file(self, path: Path) -> int:
        """Write every message held to an export file. Returns how many."""
        return await trio.to_thread.run_sync(write_export, path, self._store.export_records())

    async def reindex(self) -> int:
        """Rebuild the index from the log. Returns how many records were indexed."""
        count = await trio.to_thread.run_sync(self._store.reindex)
        await self._track_follows((), everything=True)
        return count

    # --- reading -------------------------------------------------------------------------

    async def _read(self, fn: Callable[..., _T], *args: object, **kwargs: object) -> _T:
        return await trio.to_thread.run_sync(partial(fn, *args, **kwargs))

    async def timeline(
        self, feed: str = "home", *, limit: int = DEFAULT_LIMIT, before: Cursor | None = None
    ) -> list[Item]:
        """A feed, newest first: ``home``, ``global``, ``global:all``, ``author:ID`` or
        ``tag:TAG``.

        ``home`` is the owner and the authors they follow; ``global`` gives authors with no
        trust path to the owner a tenth of the page at most, and counts the rest on the
        items (:attr:`Item.folded`); ``global:all`` leaves nothing out; ``ID`` may be a
        unique prefix.

        Raises:
            InputError: ``feed`` is none of these.
        """
        return await self._read(self.reader.feed, feed, self.me, limit=limit, before=before)

    async def ranked_feed(
        self,
        algorithm: str = DEFAULT_ALGORITHM,
        *,
        settings: Mapping[str, Setting] | None = None,
        limit: int = DEFAULT_LIMIT,
        cursor: FeedCursor | None = None,
        judge: Judge | None = None,
        show_hidden: bool = False,
    ) -> FeedPage:
        """One page of the owner's home feed as ``algorithm`` ranks it, every item with the
        reasons that placed it (docs/algorithms.md); pass ``page.next`` as ``cursor``.

        Args:
            algorithm: ``chronological``, ``trusted``, ``conversations``, ``fresh-voices``
                or an installed plugin's name.
            settings: Overrides of the algorithm's settings.
            limit: Visible items per page.
            cursor: The previous page's ``next``.
            judge: Moderation (a policy's ``judge``, for example): hidden
                items are left out and counted, or marked with ``show_hidden``.
            show_hidden: Keep hidden items in place, marked.

        Raises:
            AlgorithmError: The algorithm is unknown or broken, or a setting is bad.
        """
        return await self._read(
            rank_feed,
            self.reader,
            self.me,
            algorithm,
            settings=settings,
            limit=limit,
            cursor=cursor,
            judge=judge,
            show_hidden=show_hidden,
        )

    async def get(self, message: MessageId) -> Item | None:
        """One message, or None if it is not held."""
        return await self._read(self.reader.get, message)

    async def thread(self, message: MessageId) -> list[Item]:
        """The conversation around ``message``, root first, depth-first."""
        return await self._read(self.reader.thread, message)

    async def replies(self, message: MessageId) -> list[Item]:
        """Direct replies to ``message``, oldest first."""
        return await self._read(self.reader.replies, message)

    async def reactions(self, message: MessageId) -> Reactions:
        """Reactions to ``message``."""
        return await self._read(self.reader.reactions, message)

    async def author(self, author: AuthorId) -> AuthorInfo | None:
        """Profile and chain facts for ``author``, or None if nothing of theirs is held."""
        return await self._read(self.reader.author, author)

    async def followers(self, author: AuthorId | None = None) -> list[AuthorInfo]:
        """Who follows ``author`` (default: the owner)."""
        return await self._read(self.reader.followers, author or self.me)

    async def following(self, author: AuthorId | None = None) -> list[AuthorInfo]:
        """Whom ``author`` follows (default: the owner)."""
        return await self._read(self.reader.following, author or self.me)

    async def mentions(
        self, *, limit: int = DEFAULT_LIMIT, before: Cursor | None = None
    ) -> list[Item]:
        """Posts and replies that mention the owner, newest first."""
        return await self._read(self.reader.mentions, self.me, limit=limit, before=before)

    async def search(self, query: str, *, limit: int = DEFAULT_LIMIT) -> list[Item]:
        """Posts and replies containing every word of ``query``, newest first."""
        return await self._read(self.reader.search, query, limit=limit)

    async def resolve_author(self, text: str) -> AuthorId:
        """An author id from its text form or a unique prefix of it."""
        return await self._read(self.reader.resolve_author, text)

    async def resolve_message(self, text: str) -> MessageId:
        """A message id from its text form or a unique prefix of it."""
        return await self._read(self.reader.resolve_message, text)

    async def counts(self) -> dict[str, int]:
        """How many messages, authors and forks are held."""
        return await self._read(self.reader.counts)


def _accepted(results: Sequence[IngestResult]) -> list[Message]:
    return [r.message for r in results if r.outcome is Outcome.ACCEPTED and r.message]


def _mentions(text: str, explicit: Sequence[AuthorId] | None) -> tuple[AuthorId, ...]:
    found = dict.fromkeys([*(explicit or ()), *find_author_ids(text)])
    return tuple(found)


__all__ = [
    "Event",
    "EventsMissed",
    "ImportSummary",
    "NewMessage",
    "Node",
    "Subscription",
    "init_home",
    "open_node",
]
