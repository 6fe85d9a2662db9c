"""What the app asks of a node: the node here, a running daemon, or a read-only index.

Three backends give the screens one interface (:class:`Backend`):

- :class:`LocalBackend` runs the node (and, unless disabled, the network and the control
  socket) on trio in *guest mode* inside Textual's asyncio loop:
  ``trio.lowlevel.start_guest_run`` hands trio's I/O waits to asyncio, so both share one
  thread. The UI reaches trio through its :class:`trio.lowlevel.TrioToken`:
  :meth:`LocalBackend.call` schedules a task in the trio nursery with
  ``token.run_sync_soon`` and awaits an asyncio future that the task resolves.
  :meth:`LocalBackend.stop` cancels the trio run and waits for its ``done_callback`` before
  the asyncio loop may close. Because it serves the control socket too, ``p2psocial post``
  and a second app on the same home work while it runs.
- :class:`AttachedBackend` is used when a node (``p2psocial node``, or another app) already
  owns the home: writes go over its control socket (one short connection per request), a
  worker thread holds a ``subscribe`` connection and hands each burst of events to the app,
  and the daemon's network status is polled.
- :class:`ReadOnlyBackend` is the fallback when another process holds the home but nothing
  answers on its control socket: it reads the index and refuses writes with one clear
  message.

All three read timelines, threads and profiles straight from the index
(:class:`IndexReads`, a read-only SQLite connection used from a worker thread), as the
design says: one writer, many readers.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

import trio
from outcome import Outcome

from p2psocial import keystore
from p2psocial.config import load_config
from p2psocial.control import (
    ControlClient,
    ControlEvent,
    NotRunningError,
    serve_control,
)
from p2psocial.core.ids import AuthorId, MessageId
from p2psocial.core.moderation import Policy
from p2psocial.errors import P2PSocialError
from p2psocial.feeds import FeedCursor, FeedPage, rank_feed
from p2psocial.home import HomePaths
from p2psocial.moderation import load_policy
from p2psocial.node import EventsMissed, NewMessage, Node, open_node
from p2psocial.store.queries import AuthorInfo, Cursor, IndexReader, Item, Notification

if TYPE_CHECKING:
    from trio_typing import TaskStatus

    from p2psocial.net.network import Network, NetworkStatus

log = logging.getLogger(__name__)

_T = TypeVar("_T")

PAGE = 40
"""Items per timeline page."""
STATUS_SECONDS = 2.0
"""Attached: how often the daemon's status (peers, sync) is asked for."""
EVENT_WAIT = 0.25
"""Attached: the event thread's longest wait, so that it notices a stop quickly."""
RELINK_SECONDS = 3.0
"""Attached: after losing the node, how long to wait before trying to attach again."""
BURST = 1000
"""At most this many events are handed to the app in one call."""


class ReadOnlyError(P2PSocialError):
    """A write was asked of a read-only view."""

    code = "input.read_only"


# --- what the app is told -----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Arrival:
    """One message the node stored."""

    id: MessageId
    author: AuthorId
    kind: str
    source: str
    """``local``, ``network`` or ``import``."""


@dataclass(frozen=True, slots=True)
class Arrived:
    """A burst of stored messages, handed to the app in one call."""

    messages: tuple[Arrival, ...]
    missed: bool = False
    """Some events were lost on the way (a slow reader): re-read everything shown."""

    @property
    def from_network(self) -> int:
        """How many came from other nodes."""
        return sum(m.source == "network" for m in self.messages)


OnEvents = Callable[[Arrived], None]
OnLink = Callable[[bool, str], None]
"""Attached: the link to the node was lost (False, why) or made again (True, "")."""


@dataclass(frozen=True, slots=True)
class PeerView:
    """One peer, as the Network view shows it."""

    peer_id: str
    connected: bool
    gossip: bool
    holds_my_latest: bool | None
    received: int
    served: int
    incidents: int
    last_sync: float | None


@dataclass(frozen=True, slots=True)
class NetView:
    """The network, as the Network view and the title show it."""

    peer_id: str
    listen: tuple[str, ...]
    peers: tuple[PeerView, ...]
    published: int
    gossip_received: int
    left_for_sync: int
    syncing: tuple[str, ...]
    my_head_seq: int

    @property
    def connected(self) -> int:
        """Peers connected now."""
        return sum(p.connected for p in self.peers)

    @classmethod
    def of(cls, status: NetworkStatus) -> NetView:
        """From the network's own status record (the node runs here)."""
        return cls(
            peer_id=status.peer_id,
            listen=tuple(status.listen),
            peers=tuple(
                PeerView(
                    peer_id=p.peer_id,
                    connected=p.connected,
                    gossip=p.gossip,
                    holds_my_latest=p.holds_my_latest,
                    received=p.messages_received,
                    served=p.messages_served,
                    incidents=p.incidents,
                    last_sync=p.last_sync,
                )
                for p in status.peers
            ),
            published=status.published,
            gossip_received=status.gossip_received,
            left_for_sync=status.left_for_sync,
            syncing=tuple(status.syncing),
            my_head_seq=status.my_head_seq,
        )

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> NetView:
        """From the ``network`` object of the control socket's ``status`` result.

        Raises:
            KeyError, TypeError, ValueError: ``data`` is not such an object.
        """
        gossip = data.get("gossip") or {}
        return cls(
            peer_id=str(data["peer_id"]),
            listen=tuple(str(a) for a in data.get("listen") or ()),
            peers=tuple(
                PeerView(
                    peer_id=str(p["peer_id"]),
                    connected=bool(p.get("connected")),
                    gossip=bool(p.get("gossip")),
                    holds_my_latest=p.get("holds_my_latest"),
                    received=int(p.get("messages_received") or 0),
                    served=int(p.get("messages_served") or 0),
                    incidents=int(p.get("incidents") or 0),
                    last_sync=p.get("last_sync"),
                )
                for p in data.get("peers") or ()
            ),
            published=int(gossip.get("published") or 0),
            gossip_received=int(gossip.get("received") or 0),
            left_for_sync=int(gossip.get("left_for_sync") or 0),
            syncing=tuple(str(s) for s in data.get("syncing") or ()),
            my_head_seq=int(data.get("my_head_seq") or 0),
        )


# --- the interface ------------------------------------------------------------------------


class Backend(Protocol):
    """What the screens need; every backend provides it (tests may inject their own)."""

    me: AuthorId
    mode: str
    """``local`` (the node runs here), ``attached`` (to a running node) or ``read-only``."""
    read_only: bool

    async def timeline(
        self, feed: str, *, limit: int = PAGE, before: Cursor | None = None
    ) -> list[Item]: ...
    async def thread(self, message: MessageId) -> list[Item]: ...
    async def get(self, message: MessageId) -> Item | None: ...
    async def author(self, author: AuthorId) -> AuthorInfo | None: ...
    async def followers(self, author: AuthorId) -> list[AuthorInfo]: ...
    async def following(self, author: AuthorId) -> list[AuthorInfo]: ...
    async def is_following(self, author: AuthorId) -> bool: ...
    async def counts(self) -> dict[str, int]: ...
    async def notifications(
        self, *, limit: int = PAGE, before: Cursor | None = None
    ) -> list[Notification]: ...
    async def search(self, query: str, *, limit: int = PAGE) -> list[Item]: ...
    async def resolve_author(self, text: str) -> AuthorId: ...
    async def names_of(self, messages: list[MessageId]) -> dict[MessageId, str]: ...
    async def post(self, text: str) -> MessageId: ...
    async def reply(self, parent: MessageId, text: str) -> MessageId: ...
    async def react(self, target: MessageId, emoji: str) -> MessageId: ...
    async def repost(self, target: MessageId) -> MessageId: ...
    async def delete(self, target: MessageId) -> MessageId:
        """Ask every node to drop one of the owner's messages (a request, not a proof)."""
        ...

    async def follow(self, author: AuthorId) -> MessageId: ...
    async def unfollow(self, author: AuthorId) -> MessageId: ...
    async def set_profile(self, name: str | None, bio: str | None = None) -> MessageId: ...
    async def policy(self) -> Policy:
        """Everything the owner chose not to see (mutes, blocks, filters, lists)."""
        ...

    async def ranked(self, algorithm: str, *, cursor: FeedCursor | None = None) -> FeedPage:
        """A page of Home as ``algorithm`` ranks it, each item with its reasons."""
        ...

    async def mute(self, author: AuthorId) -> bool: ...
    async def unmute(self, author: AuthorId) -> None: ...
    async def block(self, author: AuthorId) -> MessageId: ...
    async def unblock(self, author: AuthorId) -> MessageId: ...
    async def connect(self, addr: str) -> str: ...
    def network_status(self) -> NetView | None: ...
    def network_note(self) -> str:
        """Why there is no network status to show (when :meth:`network_status` is None)."""
        ...

    async def stop(self) -> None: ...


class IndexReads:
    """The reads every backend shares: the index, queried from a worker thread."""

    me: AuthorId
    home: Path
    _reader: IndexReader

    async def _read(self, fn: Callable[..., _T], *args: Any, **kwargs: Any) -> _T:
        return await asyncio.to_thread(fn, *args, **kwargs)

    async def timeline(
        self, feed: str, *, limit: int = PAGE, before: Cursor | None = None
    ) -> list[Item]:
        return await self._read(self._reader.feed, feed, self.me, limit=limit, before=before)

    async def thread(self, message: MessageId) -> list[Item]:
        return await self._read(self._reader.thread, message)

    async def get(self, message: MessageId) -> Item | None:
        return await self._read(self._reader.get, message)

    async def author(self, author: AuthorId) -> AuthorInfo | None:
        return await self._read(self._reader.author, author)

    async def followers(self, author: AuthorId) -> list[AuthorInfo]:
        return await self._read(self._reader.followers, author)

    async def following(self, author: AuthorId) -> list[AuthorInfo]:
        return await self._read(self._reader.following, author)

    async def is_following(self, author: AuthorId) -> bool:
        return await self._read(self._reader.is_following, self.me, author)

    async def counts(self) -> dict[str, int]:
        return await self._read(self._reader.counts)

    async def notifications(
        self, *, limit: int = PAGE, before: Cursor | None = None
    ) -> list[Notification]:
        return await self._read(self._reader.notifications, self.me, limit=limit, before=before)

    async def search(self, query: str, *, limit: int = PAGE) -> list[Item]:
        return await self._read(self._reader.search, query, limit=limit)

    async def resolve_author(self, text: str) -> AuthorId:
        return await self._read(self._reader.resolve_author, text)

    async def policy(self) -> Policy:
        # Built from the settings file and the index, whoever writes them (a few ms).
        return await self._read(load_policy, self.home, self._reader, self.me)

    async def ranked(self, algorithm: str, *, cursor: FeedCursor | None = None) -> FeedPage:
        # Unjudged: the lists apply the policy themselves, so that they know what the
        # rules hid (by id) and can show it in place when asked.
        return await self._read(
            rank_feed, self._reader, self.me, algorithm, limit=PAGE, cursor=cursor
        )

    async def names_of(self, messages: list[MessageId]) -> dict[MessageId, str]:
        """The author's display name of each held message (a reply says whom it answers)."""

        def read() -> dict[MessageId, str]:
            found = {m: self._reader.get(m) for m in messages}
            return {m: item.author_display for m, item in found.items() if item is not None}

        return await self._read(read)


# --- the node here --------------------------------------------------------------------------


class LocalBackend(IndexReads):
    """The node (and network, and control socket) on trio, guest in the app's asyncio loop.

    Create it with :meth:`start`; it calls ``on_events`` with each burst of stored
    messages on the app's thread.
    """

    mode = "local"
    read_only = False

    def __init__(
        self,
        home: Path,
        *,
        passphrase: str | None,
        network: bool,
        listen: Sequence[str] | None,
        mdns: bool | None,
        on_events: OnEvents,
        control: bool,
    ) -> None:
        self.home = home
        self.me = AuthorId(keystore.read_public_key(home))
        self.has_network = network
        self._passphrase = passphrase
        self._listen = listen
        self._mdns = mdns
        self._on_events = on_events
        self._serve_control = control
        self._node: Node | None = None
        self._network: Network | None = None
        self._nursery: trio.Nursery | None = None
        self._token: trio.lowlevel.TrioToken | None = None
        self._loop = asyncio.get_running_loop()
        self._ready: asyncio.Future[None] = self._loop.create_future()
        self._done: asyncio.Future[None] = self._loop.create_future()
        self._stop_scope: trio.CancelScope | None = None

    @classmethod
    async def start(
        cls,
        home: Path,
        *,
        passphrase: str | None = None,
        network: bool = True,
        listen: Sequence[str] | None = None,
        mdns: bool | None = None,
        on_events: OnEvents = lambda _: None,
        control: bool = True,
    ) -> LocalBackend:
        """Open the node (and start the network) in a trio guest run; return once ready.

        Args:
            home: An initialised home.
            passphrase: For an encrypted key.
            network: Go online.
            listen: Listen addresses instead of the config's.
            mdns: mDNS on or off instead of the config's.
            on_events: Called with each burst of stored messages.
            control: Serve the home's control socket, so that commands and other apps
                can use this node while it runs.

        Raises:
            P2PSocialError, OSError: The node or the network cannot start (then the trio
                run has ended).
        """
        backend = cls(
            home,
            passphrase=passphrase,
            network=network,
            listen=listen,
            mdns=mdns,
            on_events=on_events,
            control=control,
        )
        trio.lowlevel.start_guest_run(
            backend._main,
            run_sync_soon_threadsafe=backend._soon_threadsafe,
            run_sync_soon_not_threadsafe=backend._soon,
            done_callback=backend._finished,
            host_uses_signal_set_wakeup_fd=False,
        )
        try:
            await asyncio.shield(backend._ready)
        except BaseException:
            await backend.stop()
            raise
        return backend

    def _soon_threadsafe(self, fn: Callable[[], object]) -> None:
        self._loop.call_soon_threadsafe(fn)

    def _soon(self, fn: Callable[[], object]) -> None:
        self._loop.call_soon(fn)

    # --- the trio side -------------------------------------------------------------------

    async def _main(self) -> None:
        self._token = trio.lowlevel.current_trio_token()
        with trio.CancelScope() as scope:
            self._stop_scope = scope
            config = load_config(self.home)
            async with open_node(self.home, passphrase=self._passphrase) as node:
                self._node = node
                self._reader = node.reader
                async with trio.open_nursery() as nursery:
                    self._nursery = nursery
                    if self.has_network:
                        from p2psocial.net.network import Network  # noqa: PLC0415 - slow import

                        self._network = Network(node, config, listen=self._listen, mdns=self._mdns)
                        await nursery.start(self._network.run)
                    await nursery.start(self._pump_events, node)
                    if self._serve_control:
                        nursery.start_soon(self._control, node)
                    if not self._ready.done():
                        self._ready.set_result(None)
                    await trio.sleep_forever()

    async def _control(self, node: Node) -> None:
        """Serve the control socket; without it the app still works (logged)."""
        try:
            await serve_control(node, self._network, self.home)
        except OSError as exc:
            log.warning("no control socket (commands cannot reach this node): %s", exc)

    async def _pump_events(
        self, node: Node, task_status: TaskStatus[None] = trio.TASK_STATUS_IGNORED
    ) -> None:
        """Hand events to the UI in bursts: one call per burst, never one per message."""
        async with node.subscribe() as events:
            task_status.started()
            batch: list[NewMessage | EventsMissed] = []
            async for event in events:
                batch.append(event)
                # Gather what is already queued (a burst) before waking the UI.
                with trio.move_on_after(0.05):
                    async for more in events:
                        batch.append(more)
                        if len(batch) >= BURST:
                            break
                self._on_events(_arrived(batch))
                batch = []

    def _finished(self, result: Outcome[None]) -> None:
        error: BaseException | None = None
        try:
            result.unwrap()
        except BaseException as exc:  # handed to whoever waits for the start, or logged
            error = _unwrap_group(exc)
        if not self._ready.done():
            self._ready.set_exception(error or RuntimeError("the node stopped before it was ready"))
        elif error is not None and not isinstance(error, trio.Cancelled | KeyboardInterrupt):
            log.error("the node stopped: %s", error, exc_info=error)
        if not self._done.done():
            self._done.set_result(None)

    # --- the asyncio side ----------------------------------------------------------------

    async def call(self, fn: Callable[[], Awaitable[_T]]) -> _T:
        """Run ``fn()`` as a trio task and wait for its result from asyncio."""
        if self._nursery is None or self._token is None or self._done.done():
            raise P2PSocialError("the node is not running")
        future: asyncio.Future[_T] = self._loop.create_future()
        scope = trio.CancelScope()
        nursery = self._nursery

        async def task() -> None:
            with scope:
                try:
                    value = await fn()
                except Exception as exc:
                    if not future.done():
                        future.set_exception(exc)
                    return
                if not future.done():
                    future.set_result(value)
            if not future.done():
                future.cancel()

        self._token.run_sync_soon(nursery.start_soon, task)
        try:
            return await future
        except asyncio.CancelledError:
            if not self._done.done():
                self._token.run_sync_soon(scope.cancel)
            raise

    async def stop(self) -> None:
        """Cancel the trio run and wait until it has ended (node and network closed)."""
        if not self._done.done():
            if self._token is not None and self._stop_scope is not None:
                with contextlib.suppress(trio.RunFinishedError):
                    self._token.run_sync_soon(self._stop_scope.cancel)
            await asyncio.shield(self._done)

    @property
    def node(self) -> Node:
        assert self._node is not None
        return self._node

    async def post(self, text: str) -> MessageId:
        return (await self.call(lambda: self.node.post(text))).id

    async def reply(self, parent: MessageId, text: str) -> MessageId:
        return (await self.call(lambda: self.node.reply(parent, text))).id

    async def react(self, target: MessageId, emoji: str) -> MessageId:
        return (await self.call(lambda: self.node.react(target, emoji))).id

    async def repost(self, target: MessageId) -> MessageId:
        return (await self.call(lambda: self.node.repost(target))).id

    async def delete(self, target: MessageId) -> MessageId:
        return (await self.call(lambda: self.node.delete(target))).id

    async def follow(self, author: AuthorId) -> MessageId:
        return (await self.call(lambda: self.node.follow(author))).id

    async def unfollow(self, author: AuthorId) -> MessageId:
        return (await self.call(lambda: self.node.unfollow(author))).id

    async def set_profile(self, name: str | None, bio: str | None = None) -> MessageId:
        return (await self.call(lambda: self.node.set_profile(name=name, bio=bio))).id

    async def mute(self, author: AuthorId) -> bool:
        return await self.call(lambda: self.node.mute(author))

    async def unmute(self, author: AuthorId) -> None:
        await self.call(lambda: self.node.unmute(author))

    async def block(self, author: AuthorId) -> MessageId:
        return (await self.call(lambda: self.node.block(author))).id

    async def unblock(self, author: AuthorId) -> MessageId:
        return (await self.call(lambda: self.node.unblock(author))).id

    async def connect(self, addr: str) -> str:
        network = self._network
        if network is None:
            raise ReadOnlyError("the network is off (started with --no-network)")
        return await self.call(lambda: network.connect(addr))

    def network_status(self) -> NetView | None:
        # Same thread as trio (guest mode): a synchronous read of its state is safe.
        return None if self._network is None else NetView.of(self._network.status())

    def network_note(self) -> str:
        return "The network is off (started with --no-network): posts stay local until next time."


def _arrived(batch: Sequence[NewMessage | EventsMissed | ControlEvent]) -> Arrived:
    messages: list[Arrival] = []
    missed = False
    for event in batch:
        if isinstance(event, EventsMissed):
            missed = True
        elif isinstance(event, NewMessage):
            m = event.message
            messages.append(Arrival(m.id, m.author, m.kind.value, event.source))
        else:
            messages.append(Arrival(event.id, event.author, event.kind, event.source))
    return Arrived(tuple(messages), missed)


# --- attached to a running node -------------------------------------------------------------


class AttachedBackend(IndexReads):
    """A node that another process runs on this home, used through its control socket.

    Create it with :meth:`start`. Reads go to the index directly; each write is one request
    on a fresh connection (a connection idle for a minute is closed by the node, and a
    fresh one never leaves a write's fate in doubt); events come from a ``subscribe``
    connection held by a worker thread, which attaches again if the node goes away and
    comes back.
    """

    mode = "attached"
    read_only = False

    def __init__(self, home: Path, *, on_events: OnEvents, on_link: OnLink) -> None:
        self.home = home
        self.me = AuthorId(keystore.read_public_key(home))
        self._reader = IndexReader.open(HomePaths(home).index)
        self._on_events = on_events
        self._on_link = on_link
        self._loop = asyncio.get_running_loop()
        self._stopping = threading.Event()
        self._linked = threading.Event()
        self._thread: threading.Thread | None = None
        self._status: dict[str, Any] | None = None
        self._net: NetView | None = None
        self._poller: asyncio.Task[None] | None = None

    @classmethod
    async def start(cls, home: Path, *, on_events: OnEvents, on_link: OnLink) -> AttachedBackend:
        """Attach: read the node's status, subscribe to its events, start polling.

        Raises:
            NotRunningError: No node answers on the home's control socket.
            P2PSocialError: The node refused.
        """
        backend = cls(home, on_events=on_events, on_link=on_link)
        try:
            await backend._refresh_status()
            subscribed: asyncio.Future[None] = backend._loop.create_future()
            backend._thread = threading.Thread(
                target=backend._events, args=(subscribed,), name="p2psocial-events", daemon=True
            )
            backend._thread.start()
            await subscribed
        except BaseException:
            await backend.stop()
            raise
        backend._poller = asyncio.create_task(backend._poll_status())
        return backend

    # --- requests ------------------------------------------------------------------------

    async def _call(self, method: str, params: Mapping[str, Any] | None = None) -> Any:
        def request() -> Any:
            client = ControlClient.connect(self.home)
            if client is None:
                raise NotRunningError(
                    "the node on this home has stopped: start it again (p2psocial node), "
                    "or quit and reopen the app to run the node here"
                )
            with client:
                return client.call(method, params)

        return await asyncio.to_thread(request)

    async def _written(self, method: str, params: Mapping[str, Any]) -> MessageId:
        result = await self._call(method, params)
        return MessageId.parse(result["id"])

    async def post(self, text: str) -> MessageId:
        return await self._written("post", {"text": text})

    async def reply(self, parent: MessageId, text: str) -> MessageId:
        return await self._written("reply", {"parent": str(parent), "text": text})

    async def react(self, target: MessageId, emoji: str) -> MessageId:
        return await self._written("react", {"target": str(target), "emoji": emoji})

    async def repost(self, target: MessageId) -> MessageId:
        return await self._written("repost", {"target": str(target)})

    async def delete(self, target: MessageId) -> MessageId:
        return await self._written("delete", {"target": str(target)})

    async def follow(self, author: AuthorId) -> MessageId:
        return await self._written("follow", {"author": str(author)})

    async def unfollow(self, author: AuthorId) -> MessageId:
        return await self._written("unfollow", {"author": str(author)})

    async def set_profile(self, name: str | None, bio: str | None = None) -> MessageId:
        params = {k: v for k, v in (("name", name), ("bio", bio)) if v is not None}
        return await self._written("profile", params)

    async def mute(self, author: AuthorId) -> bool:
        result = await self._call("mute", {"author": str(author)})
        return bool(result["changed"])

    async def unmute(self, author: AuthorId) -> None:
        await self._call("unmute", {"author": str(author)})

    async def block(self, author: AuthorId) -> MessageId:
        return await self._written("block", {"author": str(author)})

    async def unblock(self, author: AuthorId) -> MessageId:
        return await self._written("unblock", {"author": str(author)})

    async def connect(self, addr: str) -> str:
        result = await self._call("connect", {"addr": addr})
        self._poller_kick()
        return str(result["peer_id"])

    # --- status --------------------------------------------------------------------------

    @property
    def node_pid(self) -> int | None:
        """The process id of the node attached to, once known."""
        pid = (self._status or {}).get("pid")
        return pid if isinstance(pid, int) else None

    @property
    def linked(self) -> bool:
        """Whether the event stream from the node is up."""
        return self._linked.is_set()

    def network_status(self) -> NetView | None:
        return self._net

    def network_note(self) -> str:
        if self._status is None or not self.linked:
            return "The node this app is attached to does not answer."
        return "The node this app is attached to runs without a network (--offline)."

    async def _refresh_status(self) -> None:
        status = await self._call("status")
        self._status = status
        network = status.get("network")
        try:
            self._net = None if network is None else NetView.from_json(network)
        except (KeyError, TypeError, ValueError) as exc:
            log.warning("the node's network status is not understood: %s", exc)
            self._net = None

    async def _poll_status(self) -> None:
        while True:
            await asyncio.sleep(STATUS_SECONDS)
            try:
                await self._refresh_status()
            except (P2PSocialError, OSError) as exc:
                log.info("status from the node failed: %s", exc)
                self._status = None
                self._net = None

    def _poller_kick(self) -> None:
        task = asyncio.ensure_future(self._refresh_status())
        task.add_done_callback(lambda t: t.cancelled() or t.exception())

    # --- events (a worker thread) ----------------------------------------------------------

    def _events(self, subscribed: asyncio.Future[None]) -> None:
        """Hold a subscription and hand bursts to the app; attach again after a loss."""
        first = True
        while not self._stopping.is_set():
            why = ""
            try:
                client = ControlClient.connect(self.home)
                if client is None:
                    raise NotRunningError("no node answers on this home's control socket")
                with client:
                    client.subscribe()
                    self._linked.set()
                    self._post(self._link_changed, True, "", subscribed if first else None)
                    if not first:
                        # Whatever was stored while unlinked: the app re-reads everything.
                        self._post(self._on_events, Arrived((), missed=True))
                    first = False
                    while not self._stopping.is_set():
                        events = client.receive_events(EVENT_WAIT)
                        for start in range(0, len(events), BURST):
                            self._post(self._on_events, _arrived(events[start : start + BURST]))
            except (P2PSocialError, OSError) as exc:
                why = str(exc)
            if self._stopping.is_set():
                break
            if first:
                error = NotRunningError(f"cannot follow the node's events: {why}")
                self._post(_fail, subscribed, error)
                return
            if self._linked.is_set():
                self._linked.clear()
                self._post(self._link_changed, False, why, None)
            self._stopping.wait(RELINK_SECONDS)

    def _post(self, fn: Callable[..., object], *args: Any) -> None:
        with contextlib.suppress(RuntimeError):  # the loop has closed: nobody to tell
            self._loop.call_soon_threadsafe(fn, *args)

    def _link_changed(self, up: bool, why: str, subscribed: asyncio.Future[None] | None) -> None:
        if subscribed is not None:
            if not subscribed.done():
                subscribed.set_result(None)
            return
        self._on_link(up, why)
        if up:
            self._poller_kick()

    async def stop(self) -> None:
        self._stopping.set()
        if self._poller is not None:
            self._poller.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._poller
        if self._thread is not None:
            await asyncio.to_thread(self._thread.join)
        await asyncio.to_thread(self._reader.close)


def _fail(future: asyncio.Future[None], error: BaseException) -> None:
    if not future.done():
        future.set_exception(error)


# --- read-only ------------------------------------------------------------------------------


class RefusesWrites:
    """Every write refused with one clear error: for backends that can only read."""

    refusal: str = "this view is read-only"

    def _refuse(self) -> ReadOnlyError:
        return ReadOnlyError(self.refusal)

    async def post(self, text: str) -> MessageId:
        raise self._refuse()

    async def reply(self, parent: MessageId, text: str) -> MessageId:
        raise self._refuse()

    async def react(self, target: MessageId, emoji: str) -> MessageId:
        raise self._refuse()

    async def repost(self, target: MessageId) -> MessageId:
        raise self._refuse()

    async def delete(self, target: MessageId) -> MessageId:
        raise self._refuse()

    async def follow(self, author: AuthorId) -> MessageId:
        raise self._refuse()

    async def unfollow(self, author: AuthorId) -> MessageId:
        raise self._refuse()

    async def set_profile(self, name: str | None, bio: str | None = None) -> MessageId:
        raise self._refuse()

    async def mute(self, author: AuthorId) -> bool:
        raise self._refuse()

    async def unmute(self, author: AuthorId) -> None:
        raise self._refuse()

    async def block(self, author: AuthorId) -> MessageId:
        raise self._refuse()

    async def unblock(self, author: AuthorId) -> MessageId:
        raise self._refuse()

    async def connect(self, addr: str) -> str:
        raise self._refuse()


class ReadOnlyBackend(IndexReads, RefusesWrites):
    """The index of a home another process holds, with no node answering for it."""

    refusal = (
        "another program has this home open and no node answers on its control socket: "
        "this view is read-only (close that program and reopen the app)"
    )

    mode = "read-only"
    read_only = True

    def __init__(self, home: Path) -> None:
        self.home = home
        self.me = AuthorId(keystore.read_public_key(home))
        self._reader = IndexReader.open(HomePaths(home).index)

    def network_status(self) -> NetView | None:
        return None

    def network_note(self) -> str:
        return "Another program holds this home: its network is not visible from here."

    async def stop(self) -> None:
        await asyncio.to_thread(self._reader.close)


def _unwrap_group(exc: BaseException) -> BaseException:
    """The single exception inside (nested) exception groups, else the group itself."""
    while isinstance(exc, BaseExceptionGroup) and len(exc.exceptions) == 1:
        exc = exc.exceptions[0]
    return exc
