"""What the app talks to: a node run in this process, or a read-only view of the index.

:class:`LocalBackend` runs the node (and, unless disabled, the network) on trio in *guest
mode* inside Textual's asyncio loop: ``trio.lowlevel.start_guest_run`` hands trio's I/O
waits to asyncio, so both share one thread. The UI reaches trio through its
:class:`trio.lowlevel.TrioToken`: :meth:`LocalBackend.call` schedules a task in the trio
nursery with ``token.run_sync_soon`` and awaits an asyncio future that the task resolves.
:meth:`LocalBackend.stop` cancels the trio run and waits for its ``done_callback`` before the
asyncio loop may close.

:class:`ReadOnlyBackend` is used when a daemon owns the home: it reads the index read-only
and refuses writes with a clear message (attaching to the daemon's control socket for
writes and live events is not done yet).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

import trio
from outcome import Outcome

from p2psocial import keystore
from p2psocial.config import load_config
from p2psocial.core.ids import AuthorId, MessageId
from p2psocial.errors import P2PSocialError
from p2psocial.home import HomePaths
from p2psocial.node import EventsMissed, NewMessage, Node, open_node
from p2psocial.store.queries import AuthorInfo, Cursor, IndexReader, Item

if TYPE_CHECKING:
    from trio_typing import TaskStatus

    from p2psocial.net.network import Network, NetworkStatus

log = logging.getLogger(__name__)

_T = TypeVar("_T")

PAGE = 40
"""Items per timeline page."""


class ReadOnlyError(P2PSocialError):
    """A write was asked of a read-only view."""

    code = "input.read_only"


class Backend(Protocol):
    """What the screens need; both backends provide it (tests may inject their own)."""

    me: AuthorId
    read_only: bool
    has_network: bool

    async def timeline(
        self, feed: str, *, limit: int = PAGE, before: Cursor | None = None
    ) -> list[Item]: ...
    async def thread(self, message: MessageId) -> list[Item]: ...
    async def author(self, author: AuthorId) -> AuthorInfo | None: ...
    async def followers(self, author: AuthorId) -> list[AuthorInfo]: ...
    async def following(self, author: AuthorId) -> list[AuthorInfo]: ...
    async def counts(self) -> dict[str, int]: ...
    async def post(self, text: str) -> MessageId: ...
    async def reply(self, parent: MessageId, text: str) -> MessageId: ...
    async def react(self, target: MessageId, emoji: str) -> MessageId: ...
    async def repost(self, target: MessageId) -> MessageId: ...
    async def follow(self, author: AuthorId) -> MessageId: ...
    async def unfollow(self, author: AuthorId) -> MessageId: ...
    async def set_profile(self, name: str) -> MessageId: ...
    async def connect(self, addr: str) -> str: ...
    def network_status(self) -> NetworkStatus | None: ...
    async def stop(self) -> None: ...


class LocalBackend:
    """The node (and network) running on trio, guest in the app's asyncio loop.

    Create it with :meth:`start`; it calls ``on_events`` with each batch of
    :class:`NewMessage` (or :class:`EventsMissed`) on the app's thread.
    """

    read_only = False

    def __init__(
        self,
        home: Path,
        *,
        passphrase: str | None,
        network: bool,
        listen: Sequence[str] | None,
        mdns: bool | None,
        on_events: Callable[[list[NewMessage | EventsMissed]], None],
    ) -> None:
        self.home = home
        self.me = AuthorId(keystore.read_public_key(home))
        self.has_network = network
        self._passphrase = passphrase
        self._listen = listen
        self._mdns = mdns
        self._on_events = on_events
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
        on_events: Callable[[list[NewMessage | EventsMissed]], None] = lambda _: None,
    ) -> LocalBackend:
        """Open the node (and start the network) in a trio guest run; return once ready.

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
                async with trio.open_nursery() as nursery:
                    self._nursery = nursery
                    if self.has_network:
                        from p2psocial.net.network import Network  # noqa: PLC0415 - slow import

                        self._network = Network(node, config, listen=self._listen, mdns=self._mdns)
                        await nursery.start(self._network.run)
                    await nursery.start(self._pump_events, node)
                    if not self._ready.done():
                        self._ready.set_result(None)
                    await trio.sleep_forever()

    async def _pump_events(
        self, node: Node, task_status: TaskStatus[None] = trio.TASK_STATUS_IGNORED
    ) -> None:
        """Hand events to the UI in batches: one call per burst, never one per message."""
        async with node.subscribe() as events:
            task_status.started()
            batch: list[NewMessage | EventsMissed] = []
            async for event in events:
                batch.append(event)
                # Gather what is already queued (a burst) before waking the UI.
                with trio.move_on_after(0.05):
                    async for more in events:
                        batch.append(more)
                        if len(batch) >= 1000:
                            break
                self._on_events(batch)
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

    async def timeline(
        self, feed: str, *, limit: int = PAGE, before: Cursor | None = None
    ) -> list[Item]:
        return await self.call(lambda: self.node.timeline(feed, limit=limit, before=before))

    async def thread(self, message: MessageId) -> list[Item]:
        return await self.call(lambda: self.node.thread(message))

    async def author(self, author: AuthorId) -> AuthorInfo | None:
        return await self.call(lambda: self.node.author(author))

    async def followers(self, author: AuthorId) -> list[AuthorInfo]:
        return await self.call(lambda: self.node.followers(author))

    async def following(self, author: AuthorId) -> list[AuthorInfo]:
        return await self.call(lambda: self.node.following(author))

    async def counts(self) -> dict[str, int]:
        return await self.call(self.node.counts)

    async def post(self, text: str) -> MessageId:
        return (await self.call(lambda: self.node.post(text))).id

    async def reply(self, parent: MessageId, text: str) -> MessageId:
        return (await self.call(lambda: self.node.reply(parent, text))).id

    async def react(self, target: MessageId, emoji: str) -> MessageId:
        return (await self.call(lambda: self.node.react(target, emoji))).id

    async def repost(self, target: MessageId) -> MessageId:
        return (await self.call(lambda: self.node.repost(target))).id

    async def follow(self, author: AuthorId) -> MessageId:
        return (await self.call(lambda: self.node.follow(author))).id

    async def unfollow(self, author: AuthorId) -> MessageId:
        return (await self.call(lambda: self.node.unfollow(author))).id

    async def set_profile(self, name: str) -> MessageId:
        return (await self.call(lambda: self.node.set_profile(name=name))).id

    async def connect(self, addr: str) -> str:
        network = self._network
        if network is None:
            raise ReadOnlyError("the network is off (started with --no-network)")
        return await self.call(lambda: network.connect(addr))

    def network_status(self) -> NetworkStatus | None:
        # Same thread as trio (guest mode): a synchronous read of its state is safe.
        return None if self._network is None else self._network.status()


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

    async def follow(self, author: AuthorId) -> MessageId:
        raise self._refuse()

    async def unfollow(self, author: AuthorId) -> MessageId:
        raise self._refuse()

    async def set_profile(self, name: str) -> MessageId:
        raise self._refuse()

    async def connect(self, addr: str) -> str:
        raise self._refuse()


class ReadOnlyBackend(RefusesWrites):
    """The index of a home that another process (a daemon) owns, opened read-only."""

    refusal = (
        "a node is running on this home: this view is read-only "
        "(use `p2psocial post`, or stop the node and reopen the app)"
    )

    read_only = True
    has_network = False

    def __init__(self, home: Path) -> None:
        self.home = home
        self.me = AuthorId(keystore.read_public_key(home))
        self._reader = IndexReader.open(HomePaths(home).index)

    async def _read(self, fn: Callable[..., _T], *args: Any, **kwargs: Any) -> _T:
        return await asyncio.to_thread(fn, *args, **kwargs)

    async def timeline(
        self, feed: str, *, limit: int = PAGE, before: Cursor | None = None
    ) -> list[Item]:
        return await self._read(self._reader.feed, feed, self.me, limit=limit, before=before)

    async def thread(self, message: MessageId) -> list[Item]:
        return await self._read(self._reader.thread, message)

    async def author(self, author: AuthorId) -> AuthorInfo | None:
        return await self._read(self._reader.author, author)

    async def followers(self, author: AuthorId) -> list[AuthorInfo]:
        return await self._read(self._reader.followers, author)

    async def following(self, author: AuthorId) -> list[AuthorInfo]:
        return await self._read(self._reader.following, author)

    async def counts(self) -> dict[str, int]:
        return await self._read(self._reader.counts)

    def network_status(self) -> NetworkStatus | None:
        return None

    async def stop(self) -> None:
        self._reader.close()


def _unwrap_group(exc: BaseException) -> BaseException:
    """The single exception inside (nested) exception groups, else the group itself."""
    while isinstance(exc, BaseExceptionGroup) and len(exc.exceptions) == 1:
        exc = exc.exceptions[0]
    return exc
