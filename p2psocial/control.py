"""The control socket: how other programs on this machine drive a running node.

A running daemon (``p2psocial node``) owns its home's log, so other ``p2psocial`` commands on
the same home hand their writes to it over ``HOME/control.sock``. The same socket serves the
terminal app and any program of the owner's.

Who may connect
===============
Only the owner of the home:

- the home directory is 0700 (tightened, with a warning, if it is not);
- the socket is created 0600: it is bound under umask 0o177, so it never exists with looser
  bits, and chmod-ed 0600 again right after;
- on Linux each connection's ``SO_PEERCRED`` is checked, and a process of another user is
  refused (:func:`check_peer`) even if the bits above were loosened by hand.

A socket file present when the daemon starts is stale (the daemon holds the home's lock, so
no other daemon can be serving it): it is removed. The daemon removes its socket on exit.

The protocol
============
Newline-delimited JSON: UTF-8, one JSON object per line, over a stream socket. The client
sends a request and reads its response; responses come in request order. A connection
carries any number of requests one after another; any number of clients (up to
:data:`MAX_CLIENTS` at once) may be connected.

Request::

    {"id": 1, "method": "post", "params": {"text": "hello #p2p"}}

``id`` is an integer chosen by the client and echoed in the response; ``params`` is an
object and may be left out when a method takes none. Unknown keys are refused.

Response, success or error::

    {"id": 1, "result": {"id": "p2sm1..."}}
    {"id": 1, "error": {"code": "input.not_found", "message": "no message matches ..."}}

An error's ``code`` is the dotted code of the library's error (p2psocial.errors) and its
``message`` the sentence a person reads; the CLI prints that sentence. Codes of this socket:
``control.bad_request`` (not JSON, not an object, bad ``id``, ``method`` or ``params``),
``control.unknown_method``, ``control.too_large`` (a request line over :data:`MAX_LINE`
bytes), ``control.forbidden`` (another user), ``control.busy`` (too many clients),
``control.internal`` (a bug; the node's log has the traceback), and ``os`` for a file the
node could not read or write (with ``errno`` and ``filename`` beside ``message``). When the
request's ``id`` cannot be read the response's ``id`` is null. A bad request never closes
the connection; a connection that sends no complete request for :data:`IDLE_TIMEOUT`
seconds is closed. Two codes never travel: :class:`ControlClient` raises
``control.no_answer`` when no response comes in time or the connection drops, and the CLI
``control.not_running`` when a command needs a daemon and none runs.

Methods (ids are the text forms, ``p2sa1...`` and ``p2sm1...``; where a person would type
an id, a unique prefix such as the short form works too):

=========  ===============================================  ====================================
method     params                                           result
=========  ===============================================  ====================================
post       ``text``, ``mentions`` (author ids, optional)    ``{"id"}``
reply      ``parent``, ``text``, ``mentions`` (optional)    ``{"id", "parent"}``
react      ``target``, ``emoji``                            ``{"id", "target"}``
repost     ``target``                                       ``{"id", "target"}``
delete     ``target`` (one of the owner's messages)         ``{"id", "target"}``
follow     ``author``                                       ``{"id", "author"}``
unfollow   ``author``                                       ``{"id", "author"}``
profile    ``name``, ``bio``, ``automated`` (bool; at       ``{"id"}``
           least one of the three)
import     ``path`` (absolute)                              ``{"read", "accepted", "duplicates",
                                                            "forks"}``
export     ``path`` (absolute)                              ``{"count"}``
reindex    none                                             ``{"count"}``
whoami     none                                             as ``p2psocial whoami --json``
status     none                                             as ``p2psocial status --json``
peers      none                                             a list, as ``p2psocial peers --json``
connect    ``addr`` (a multiaddr with ``/p2p/<peer id>``)   ``{"peer_id"}``
subscribe  none                                             ``{"subscribed": true}``, then
                                                            events (below)
=========  ===============================================  ====================================

Moderation (docs/moderation.md). ``mute``, filters, ``hide_reposts`` and list subscriptions
change the private ``HOME/moderation.json``; ``block``, ``unblock`` and the ``list_*`` edits
publish a signed message (``id``). ``changed`` is false when the setting was already so.

================  ==========================================  ================================
method            params                                      result
================  ==========================================  ================================
mute              ``author``                                  ``{"author", "changed"}``
unmute            ``author``                                  ``{"author"}``
block             ``author``                                  ``{"id", "author"}``
unblock           ``author``                                  ``{"id", "author"}``
filter_add        ``text``, ``regex`` (bool, optional)        ``{"filter", "kind", "changed"}``
filter_remove     ``text``, ``regex`` (bool, optional)        ``{"filter", "kind"}``
hide_reposts      ``hide`` (bool)                             ``{"hide_reposts", "changed"}``
list_publish      ``name``                                    ``{"id", "list", "entries",
                                                              "subscribed"}``
list_add          ``name``, ``target`` (author or message),   ``{"id", "list", "target",
                  ``reason``                                  "entries", "subscribed"}``
list_remove       ``name``, ``target``                        ``{"id", "list", "target",
                                                              "entries"}``
list_subscribe    ``list`` (``AUTHOR/NAME``)                  ``{"list", "held", "entries",
                                                              "changed"}``
list_unsubscribe  ``list``                                    ``{"list"}``
================  ==========================================  ================================

``filter`` is the label hidden items carry (``filter "crypto"``); ``list`` is the full
``AUTHOR/NAME``; ``entries`` counts the list's entries; ``subscribed`` is true when the
owner's first publication of a list subscribed them to it; ``held`` is false for a list not
held yet (the subscription applies once it arrives).

In the write results ``id`` is the new message's id and ``parent``, ``target`` and
``author`` the full ids the given prefixes resolved to.

Events
======
``subscribe`` turns its connection into a stream of events, so that a program (the
terminal app) shows new messages as the node stores them. Its response is followed by one
line per message stored from then on (own posts, gossip, sync and imports alike), in the
order the node stored them::

    {"event": "message", "id": "p2sm1...", "author": "p2sa1...", "kind": "post",
     "seq": 7, "ts": 1700000000000, "source": "network", "fork": false}

``source`` is ``local``, ``network`` or ``import``; ``fork`` marks a message stored as fork
evidence. The node never waits for a subscriber: it queues up to 1024 events for each
(:class:`~p2psocial.node.Subscription`), and a subscriber that falls further behind gets
``{"event": "missed", "count": n}`` in place of the ``n`` events it lost (nothing is lost
from the store: re-read what you show from the index). A subscriber that reads nothing for
:data:`SEND_TIMEOUT` seconds is disconnected. After subscribing a client sends nothing
more (what it sends is read and ignored); closing the connection unsubscribes. A client
should read events unknown to it as a sign to re-read the index, not as an error.
:class:`ControlClient` has :meth:`~ControlClient.subscribe` and
:meth:`~ControlClient.receive_events`; ``subscribe`` through :func:`call_local` is a
``control.bad_request`` (there is no connection to stream on).

:func:`serve_control` is the server (a trio task); :class:`ControlClient` a small blocking
client; :func:`call_local` runs a method on a node in the same process, with the same
checks and results, which is how the CLI works when no daemon runs.
"""

from __future__ import annotations

import contextlib
import errno as errno_codes
import json
import logging
import os
import socket
import stat
import struct
import sys
import time
from collections.abc import Awaitable, Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final, Protocol, Self, cast

import trio

from . import keystore
from .core.ids import ID_TEXT_CHARS, AuthorId, MessageId
from .core.message import Message
from .core.moderation import ListRef
from .errors import InputError, NetworkError, P2PSocialError
from .home import HomePaths
from .node import Event, EventsMissed, Node
from .store.queries import IndexReader

if TYPE_CHECKING:
    # libp2p pulls in trio-typing, whose stubs shadow trio's own types for mypy.
    from trio_typing import TaskStatus

log = logging.getLogger(__name__)

SOCKET_FILENAME: Final = "control.sock"
MAX_LINE: Final = 64 * 1024
"""Longest request line, in bytes, without its newline."""
MAX_RESPONSE: Final = 16 * 1024 * 1024
"""Longest response line a :class:`ControlClient` accepts."""
IDLE_TIMEOUT: Final = 60.0
"""Seconds a connection may take to send each complete request."""
SEND_TIMEOUT: Final = 30.0
"""Seconds a client may take to read a response."""
MAX_CLIENTS: Final = 64
"""Connections served at once; more are answered ``control.busy`` and closed."""
CONNECT_TIMEOUT: Final = 5.0
"""Seconds :meth:`ControlClient.connect` waits for the daemon to accept."""
CALL_TIMEOUT: Final = 60.0
"""Seconds :meth:`ControlClient.call` waits for an answer by default."""

_QUIET_METHODS: Final = frozenset({"whoami", "status", "peers"})  # polled: logged at DEBUG
_BACKLOG: Final = 64
_RECEIVE_CHUNK: Final = 65536
_SUN_PATH_MAX: Final = 107  # Linux: 108 bytes including the terminating NUL
_UCRED: Final = struct.Struct("3i")  # struct ucred {pid_t pid; uid_t uid; gid_t gid;}


# --- errors ------------------------------------------------------------------------------


class ControlError(P2PSocialError):
    """The control socket: a request the node refused, or a node that did not answer."""

    code = "control"


class BadRequestError(ControlError):
    """A request that is not JSON, not an object, or has a bad ``id``, ``method`` or param."""

    code = "control.bad_request"


class UnknownMethodError(ControlError):
    """A request names a method the node does not have."""

    code = "control.unknown_method"


class RequestTooLargeError(ControlError):
    """A request line is longer than :data:`MAX_LINE` bytes."""

    code = "control.too_large"


class ForbiddenError(ControlError):
    """A process of another user tried to use the socket."""

    code = "control.forbidden"


class BusyError(ControlError):
    """The node already serves :data:`MAX_CLIENTS` connections."""

    code = "control.busy"


class InternalError(ControlError):
    """The node failed while carrying out a request: a bug, logged with its traceback."""

    code = "control.internal"


class NoAnswerError(ControlError):
    """The node did not answer in time, or closed the connection before answering."""

    code = "control.no_answer"


class NotRunningError(ControlError):
    """No daemon serves this home, and the command needs one."""

    code = "control.not_running"


# --- the network, as this module sees it ------------------------------------------------


class JsonRecord(Protocol):
    """Anything with a JSON form (the network's status and peer records)."""

    def to_json(self) -> dict[str, Any]:
        """The record as a JSON object."""
        ...


class NetworkView(Protocol):
    """What the control socket needs of :class:`p2psocial.net.network.Network`."""

    @property
    def peer_id(self) -> str:
        """This node's libp2p peer id."""
        ...

    @property
    def listen_addrs(self) -> list[str]:
        """Full listen multiaddrs, each with ``/p2p/<peer id>``."""
        ...

    def status(self) -> JsonRecord:
        """The network's state."""
        ...

    def peers(self) -> Sequence[JsonRecord]:
        """The connected peers."""
        ...

    async def connect(self, addr: str) -> str:
        """Dial ``addr``; return the peer id."""
        ...


# --- the socket file and who may open it --------------------------------------------------


def socket_path(home: Path) -> Path:
    """Where the control socket of ``home`` lives."""
    return home / SOCKET_FILENAME


@dataclass(frozen=True, slots=True)
class PeerCredentials:
    """Who is at the other end of a unix socket (Linux ``SO_PEERCRED``)."""

    pid: int
    uid: int
    gid: int


class _HasSockopt(Protocol):
    def getsockopt(self, level: int, optname: int, buflen: int, /) -> bytes: ...


def peer_credentials(sock: _HasSockopt) -> PeerCredentials | None:
    """The credentials of a connected unix socket's peer, or None where the OS cannot tell.

    Args:
        sock: A connected AF_UNIX socket (stdlib or trio).
    """
    option = getattr(socket, "SO_PEERCRED", None)
    if option is None:
        return None
    raw = sock.getsockopt(socket.SOL_SOCKET, option, _UCRED.size)
    pid, uid, gid = _UCRED.unpack(raw)
    return PeerCredentials(pid=pid, uid=uid, gid=gid)


def check_peer(sock: _HasSockopt, *, owner_uid: int | None = None) -> PeerCredentials | None:
    """Refuse a connection from a process of another user.

    Args:
        sock: A connected AF_UNIX socket (stdlib or trio).
        owner_uid: The uid allowed in; default, this process's.

    Returns:
        The peer's credentials, or None where the OS cannot tell (then the socket file's
        0600 mode in a 0700 directory is the only guard).

    Raises:
        ForbiddenError: The peer runs as another user.
    """
    creds = peer_credentials(sock)
    uid = os.getuid() if owner_uid is None else owner_uid
    if creds is not None and creds.uid != uid:
        raise ForbiddenError(
            f"the control socket is only for its owner (uid {uid}), not uid {creds.uid}"
        )
    return creds


@contextlib.contextmanager
def _sun_path(path: Path) -> Iterator[str]:
    """An address for ``path`` that fits in ``sun_path``, for one bind or connect.

    A path longer than the kernel's limit is reached through ``/proc/self/fd`` of its
    directory on Linux; elsewhere the bind or connect fails with the OS's error.
    """
    if len(os.fsencode(path)) <= _SUN_PATH_MAX or not sys.platform.startswith("linux"):
        yield str(path)
        return
    fd = os.open(path.parent, os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        yield f"/proc/self/fd/{fd}/{path.name}"
    finally:
        os.close(fd)


def _tighten_home(home: Path) -> None:
    mode = stat.S_IMODE(home.stat().st_mode)
    if mode & 0o077:
        os.chmod(home, 0o700)
        log.warning("home %s was mode %o; set it to 700 (owner only)", home, mode)


def _bind(path: Path) -> tuple[socket.socket, os.stat_result]:
    """A listening socket at ``path``, owner-only from the moment it exists, and its file's
    identity (to remove only that file later)."""
    with contextlib.suppress(FileNotFoundError):
        path.unlink()
        log.info("removed a stale control socket %s (left by a node that crashed)", path)
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        with _sun_path(path) as address:
            old = os.umask(0o177)
            try:
                sock.bind(address)
            finally:
                os.umask(old)
        os.chmod(path, 0o600)
        identity = os.stat(path)
        sock.listen(_BACKLOG)
    except BaseException:
        sock.close()
        raise
    return sock, identity


# --- the server ----------------------------------------------------------------------------


async def serve_control(
    node: Node,
    network: NetworkView | None,
    home: Path,
    *,
    task_status: TaskStatus[Path] = trio.TASK_STATUS_IGNORED,
) -> None:
    """Serve the control socket of ``home`` until cancelled, then remove the socket file.

    Start it with ``await nursery.start(serve_control, node, network, home)``, which
    returns once clients can connect.

    Args:
        node: The open node the requests act on.
        network: The running network, or None for a node without one (``status`` then
            reports no network, ``peers`` an empty list, ``connect`` fails).
        home: The home directory (its lock is held by ``node``).
        task_status: Given the socket's path once it listens.

    Raises:
        OSError: The socket cannot be created.
    """
    path = socket_path(home)
    _tighten_home(home)
    raw, identity = _bind(path)
    server = _Server(_Context(node, network))
    try:
        listener = trio.SocketListener(trio.socket.from_stdlib_socket(raw))
        log.info("control socket listening at %s", path)
        task_status.started(path)
        await trio.serve_listeners(server.handle, [listener])
    finally:
        raw.close()
        try:
            current = os.stat(path)
        except FileNotFoundError:
            pass
        else:
            if (current.st_dev, current.st_ino) == (identity.st_dev, identity.st_ino):
                path.unlink()
                log.info("control socket %s removed", path)


@dataclass
class _Context:
    node: Node
    network: NetworkView | None
    started: float = field(default_factory=time.monotonic)
    started_ms: int = field(default_factory=lambda: int(time.time() * 1000))


class _Oversize:
    """A request line that was longer than the limit (its bytes were dropped)."""


_OVERSIZE: Final = _Oversize()


class _LineReader:
    """Newline-delimited lines from a stream, each at most ``limit`` bytes."""

    def __init__(self, stream: trio.abc.ReceiveStream, limit: int) -> None:
        self._stream = stream
        self._limit = limit
        self._buffer = bytearray()
        self._scanned = 0

    async def read_line(self) -> bytes | _Oversize | None:
        """The next line without its newline, :data:`_OVERSIZE`, or None at end of stream."""
        oversize = False
        while True:
            newline = self._buffer.find(b"\n", self._scanned)
            if newline >= 0:
                line = bytes(self._buffer[:newline])
                del self._buffer[: newline + 1]
                self._scanned = 0
                return _OVERSIZE if oversize or len(line) > self._limit else line
            if len(self._buffer) > self._limit:
                oversize = True
                self._buffer.clear()
            self._scanned = len(self._buffer)
            chunk = await self._stream.receive_some(_RECEIVE_CHUNK)
            if not chunk:
                return None
            self._buffer += chunk


class _Server:
    def __init__(self, context: _Context) -> None:
        self._context = context
        self._clients = 0
        self._connections = 0

    async def handle(self, stream: trio.SocketStream) -> None:
        """Serve one connection; never raises (a failure ends only this connection)."""
        self._connections += 1
        number = self._connections
        try:
            await self._serve(stream, number)
        except (trio.BrokenResourceError, trio.ClosedResourceError) as exc:
            log.debug("control connection %s: closed by the client (%s)", number, exc)
        except Exception:
            log.exception("control connection %s failed; closing it", number)

    async def _serve(self, stream: trio.SocketStream, number: int) -> None:
        try:
            creds = check_peer(stream.socket)
        except ForbiddenError as exc:
            log.warning("control connection %s refused: %s", number, exc)
            await self._send(stream, _error_response(None, exc))
            return
        who = f"connection {number} (pid {creds.pid})" if creds else f"connection {number}"
        if self._clients >= MAX_CLIENTS:
            log.warning("control %s refused: %s clients already connected", who, self._clients)
            busy = BusyError(f"the node already serves {MAX_CLIENTS} clients; try again")
            await self._send(stream, _error_response(None, busy))
            return
        self._clients += 1
        try:
            reader = _LineReader(stream, MAX_LINE)
            while True:
                with trio.move_on_after(IDLE_TIMEOUT) as idle:
                    line = await reader.read_line()
                if idle.cancelled_caught:
                    log.debug("control %s: idle for %s s; closed", who, IDLE_TIMEOUT)
                    return
                if line is None:
                    return
                response = await self._respond(line, who)
                if isinstance(response.get("result"), _Subscribe):
                    await self._stream_events(stream, reader, response["id"], who)
                    return
                if not await self._send(stream, response):
                    log.warning("control %s: did not read its response; closed", who)
                    return
        finally:
            self._clients -= 1

    async def _stream_events(
        self, stream: trio.SocketStream, reader: _LineReader, request_id: int, who: str
    ) -> None:
        """Send ``who`` an event line per message stored, until either end stops.

        The node offers events without waiting (:class:`~p2psocial.node.Subscription`), so
        only this connection waits on a slow reader; what its queue cannot hold becomes one
        ``missed`` event.
        """
        async with self._context.node.subscribe() as events:
            # Subscribed before the answer goes out: nothing stored after it is missed.
            if not await self._send(stream, {"id": request_id, "result": {"subscribed": True}}):
                return
            log.info("control %s: subscribed to events", who)
            async with trio.open_nursery() as nursery:
                nursery.start_soon(_until_hangup, reader, nursery.cancel_scope)
                async for event in events:
                    if not await self._send(stream, event_json(event)):
                        log.warning(
                            "control %s: read no events for %s s; unsubscribed and closed",
                            who,
                            SEND_TIMEOUT,
                        )
                        break
                nursery.cancel_scope.cancel()
        log.info("control %s: unsubscribed", who)

    async def _send(self, stream: trio.SocketStream, response: dict[str, Any]) -> bool:
        data = json.dumps(response, ensure_ascii=False, separators=(",", ":")) + "\n"
        with trio.move_on_after(SEND_TIMEOUT):
            await stream.send_all(data.encode("utf-8"))
            return True
        return False

    async def _respond(self, line: bytes | _Oversize, who: str) -> dict[str, Any]:
        if isinstance(line, _Oversize):
            log.info("control %s: refused a request over %s bytes", who, MAX_LINE)
            too_large = RequestTooLargeError(f"a request may be at most {MAX_LINE} bytes")
            return _error_response(None, too_large)
        try:
            request_id, method, params = _parse_request(line)
        except _BadRequest as bad:
            log.info("control %s: bad request: %s", who, bad.error)
            return _error_response(bad.request_id, bad.error)
        began = time.perf_counter()
        context = self._context
        try:
            result = await _dispatch(
                _Call(
                    context.node,
                    context.network,
                    _Params(method, params),
                    remote=True,
                    started=context.started,
                    started_ms=context.started_ms,
                ),
                method,
            )
        except (P2PSocialError, OSError) as exc:
            log.info("control %s: %s refused: %s", who, method, _describe(exc))
            return _error_response(request_id, exc)
        except Exception as exc:
            log.exception("control %s: %s failed with a bug", who, method)
            return _error_response(request_id, exc)
        log.log(
            logging.DEBUG if method in _QUIET_METHODS else logging.INFO,
            "control %s: %s done in %.1f ms",
            who,
            method,
            (time.perf_counter() - began) * 1000,
        )
        return {"id": request_id, "result": result}


async def _until_hangup(reader: _LineReader, scope: trio.CancelScope) -> None:
    """Read (and ignore) what a subscriber sends until it closes its end; then stop. A
    reset connection is a hangup too (raised here, it would reach the nursery wrapped in an
    exception group, past the connection handler's own ``except``)."""
    with contextlib.suppress(trio.BrokenResourceError, trio.ClosedResourceError):
        while await reader.read_line() is not None:
            pass
    scope.cancel()


def event_json(event: Event) -> dict[str, Any]:
    """A node event as the line ``subscribe`` sends for it (see "Events" above).

    Args:
        event: A :class:`~p2psocial.node.NewMessage` or :class:`~p2psocial.node.EventsMissed`.
    """
    if isinstance(event, EventsMissed):
        return {"event": "missed", "count": event.count}
    message = event.message
    return {
        "event": "message",
        "id": str(message.id),
        "author": str(message.author),
        "kind": message.kind.value,
        "seq": message.seq,
        "ts": message.header.ts,
        "source": event.source,
        "fork": event.fork,
    }


def _describe(exc: P2PSocialError | OSError) -> str:
    if isinstance(exc, P2PSocialError):
        return f"{exc.code}: {exc}"
    return f"os: {exc}"


class _BadRequest(Exception):
    def __init__(self, request_id: int | None, error: P2PSocialError) -> None:
        super().__init__(str(error))
        self.request_id = request_id
        self.error = error


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not allowed")


def _parse_request(line: bytes) -> tuple[int, str, dict[str, Any]]:
    try:
        value = json.loads(line.decode("utf-8"), parse_constant=_reject_constant)
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        error = BadRequestError(f"a request must be one JSON object: {exc}")
        raise _BadRequest(None, error) from None
    if not isinstance(value, dict):
        raise _BadRequest(None, BadRequestError("a request must be a JSON object"))
    request_id = value.get("id")
    if type(request_id) is not int:
        raise _BadRequest(None, BadRequestError("a request needs an integer 'id'"))
    unknown = sorted(set(value) - {"id", "method", "params"})
    if unknown:
        raise _BadRequest(request_id, BadRequestError(f"unknown request keys: {unknown}"))
    method = value.get("method")
    if not isinstance(method, str):
        raise _BadRequest(request_id, BadRequestError("a request needs a string 'method'"))
    params = value.get("params", {})
    if not isinstance(params, dict):
        raise _BadRequest(request_id, BadRequestError("'params' must be an object"))
    return request_id, method, params


def _error_response(request_id: int | None, exc: BaseException) -> dict[str, Any]:
    error: dict[str, Any]
    if isinstance(exc, P2PSocialError):
        error = {"code": exc.code, "message": str(exc)}
    elif isinstance(exc, OSError):
        error = {
            "code": "os",
            "message": exc.strerror or str(exc),
            "errno": exc.errno,
            "filename": None if exc.filename is None else os.fsdecode(exc.filename),
        }
    else:
        error = {
            "code": InternalError.code,
            "message": f"the node failed ({type(exc).__name__}); its node.log has the details",
        }
    return {"id": request_id, "error": error}


# --- the methods -----------------------------------------------------------------------


class _Params:
    """A request's params, read one by one; anything not read is an error."""

    def __init__(self, method: str, raw: Mapping[str, Any]) -> None:
        self._method = method
        self._raw = raw
        self._read: set[str] = set()

    def _get(self, name: str) -> Any:
        self._read.add(name)
        return self._raw.get(name)

    def _bad(self, name: str, what: str) -> BadRequestError:
        return BadRequestError(f"{self._method}: param {name!r} must be {what}")

    def text(self, name: str) -> str:
        value = self.optional_text(name)
        if value is None:
            raise self._bad(name, "a string")
        return value

    def optional_text(self, name: str) -> str | None:
        value = self._get(name)
        if value is None:
            return None
        if not isinstance(value, str):
            raise self._bad(name, "a string")
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            raise self._bad(name, "valid Unicode text") from None
        return value

    def optional_flag(self, name: str) -> bool | None:
        value = self._get(name)
        if value is not None and not isinstance(value, bool):
            raise self._bad(name, "true or false")
        return value

    def authors(self, name: str) -> list[AuthorId] | None:
        value = self._get(name)
        if value is None:
            return None
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise self._bad(name, "a list of author ids")
        return [AuthorId.parse(v) for v in value]

    def flag(self, name: str, *, default: bool | None = None) -> bool:
        value = self._get(name)
        if value is None and default is not None:
            return default
        if not isinstance(value, bool):
            raise self._bad(name, "true or false")
        return value

    def path(self, name: str, *, absolute: bool) -> Path:
        path = Path(self.text(name))
        if absolute and not path.is_absolute():
            raise self._bad(name, "an absolute path (the node's working directory is not yours)")
        return path

    def done(self) -> None:
        unknown = sorted(set(self._raw) - self._read)
        if unknown:
            raise BadRequestError(f"{self._method}: unknown params {unknown}")


@dataclass(frozen=True, slots=True)
class _Call:
    node: Node
    network: NetworkView | None
    params: _Params
    remote: bool
    started: float | None = None
    started_ms: int | None = None


_Method = Callable[[_Call], Awaitable[Any]]
_METHODS: dict[str, _Method] = {}


def _method(name: str) -> Callable[[_Method], _Method]:
    def register(fn: _Method) -> _Method:
        _METHODS[name] = fn
        return fn

    return register


METHODS: Final = (
    "post",
    "reply",
    "react",
    "repost",
    "delete",
    "follow",
    "unfollow",
    "profile",
    "import",
    "export",
    "reindex",
    "whoami",
    "status",
    "peers",
    "connect",
    "subscribe",
    "mute",
    "unmute",
    "block",
    "unblock",
    "filter_add",
    "filter_remove",
    "hide_reposts",
    "list_publish",
    "list_add",
    "list_remove",
    "list_subscribe",
    "list_unsubscribe",
)
"""Every method of the protocol."""


async def call_local(
    node: Node,
    method: str,
    params: Mapping[str, Any] | None = None,
    *,
    network: NetworkView | None = None,
    remote: bool = False,
) -> Any:
    """Run one control method on ``node`` in this process.

    This is what the server runs for each request, and what the CLI runs when no daemon
    owns the home, so both give the same results and the same errors.

    Args:
        node: The open node.
        method: One of :data:`METHODS`.
        params: The method's params.
        network: The running network, if any.
        remote: The request came over the socket (paths must then be absolute).

    Returns:
        The method's JSON-ready result.

    Raises:
        UnknownMethodError: ``method`` is not one of :data:`METHODS`.
        BadRequestError: A param is missing, unknown or of the wrong type.
        P2PSocialError: The method failed (its own error, such as NotFoundError).
        OSError: A file given to ``import`` or ``export`` could not be read or written.
    """
    return await _dispatch(_Call(node, network, _Params(method, params or {}), remote), method)


async def _dispatch(call: _Call, method: str) -> Any:
    handler = _METHODS.get(method)
    if handler is None:
        raise UnknownMethodError(f"unknown method {method!r} (known: {', '.join(METHODS)})")
    return await handler(call)


async def _author_arg(node: Node, text: str) -> AuthorId:
    """A full author id need not be known yet (follow someone new); a prefix must be."""
    if AuthorId.looks_like(text) and len(text.strip()) == len(str(node.me)):
        return AuthorId.parse(text)
    return await node.resolve_author(text)


@_method("post")
async def _post(call: _Call) -> dict[str, Any]:
    text = call.params.text("text")
    mentions = call.params.authors("mentions")
    call.params.done()
    message = await call.node.post(text, mentions=mentions)
    return {"id": str(message.id)}


@_method("reply")
async def _reply(call: _Call) -> dict[str, Any]:
    parent_text = call.params.text("parent")
    text = call.params.text("text")
    mentions = call.params.authors("mentions")
    call.params.done()
    parent = await call.node.resolve_message(parent_text)
    message = await call.node.reply(parent, text, mentions=mentions)
    return {"id": str(message.id), "parent": str(parent)}


@_method("react")
async def _react(call: _Call) -> dict[str, Any]:
    target_text = call.params.text("target")
    emoji = call.params.text("emoji")
    call.params.done()
    target = await call.node.resolve_message(target_text)
    message = await call.node.react(target, emoji)
    return {"id": str(message.id), "target": str(target)}


def _on_target(name: str, act: Callable[[Node, MessageId], Awaitable[Message]]) -> None:
    """Register a method that takes one message id, ``target``, and acts on it."""

    @_method(name)
    async def handle(call: _Call) -> dict[str, Any]:
        target_text = call.params.text("target")
        call.params.done()
        target = await call.node.resolve_message(target_text)
        message = await act(call.node, target)
        return {"id": str(message.id), "target": str(target)}


_on_target("repost", Node.repost)
_on_target("delete", Node.delete)


def _on_author(name: str, act: Callable[[Node, AuthorId], Awaitable[Message]]) -> None:
    """Register a method that takes one author, ``author``, and publishes a message."""

    @_method(name)
    async def handle(call: _Call) -> dict[str, Any]:
        author_text = call.params.text("author")
        call.params.done()
        author = await _author_arg(call.node, author_text)
        message = await act(call.node, author)
        return {"id": str(message.id), "author": str(author)}


_on_author("follow", Node.follow)
_on_author("unfollow", Node.unfollow)
_on_author("block", Node.block)
_on_author("unblock", Node.unblock)


@_method("profile")
async def _profile(call: _Call) -> dict[str, Any]:
    name = call.params.optional_text("name")
    bio = call.params.optional_text("bio")
    automated = call.params.optional_flag("automated")
    call.params.done()
    if name is None and bio is None and automated is None:
        raise InputError("give a name, a bio or the automated flag to set")
    message = await call.node.set_profile(name=name, bio=bio, automated=automated)
    return {"id": str(message.id)}


@_method("import")
async def _import(call: _Call) -> dict[str, Any]:
    path = call.params.path("path", absolute=call.remote)
    call.params.done()
    summary = await call.node.import_file(path)
    return {
        "read": summary.read,
        "accepted": summary.accepted,
        "duplicates": summary.duplicates,
        "forks": summary.forks,
    }


@_method("export")
async def _export(call: _Call) -> dict[str, Any]:
    path = call.params.path("path", absolute=call.remote)
    call.params.done()
    return {"count": await call.node.export_file(path)}


@_method("reindex")
async def _reindex(call: _Call) -> dict[str, Any]:
    call.params.done()
    return {"count": await call.node.reindex()}


@_method("whoami")
async def _whoami(call: _Call) -> dict[str, Any]:
    call.params.done()
    return await trio.to_thread.run_sync(whoami, call.node.home, call.node.reader, call.node.me)


@_method("status")
async def _status(call: _Call) -> dict[str, Any]:
    call.params.done()
    node = call.node
    facts = await trio.to_thread.run_sync(local_status, node.home, node.reader, node.me)
    facts["running"] = True
    facts["pid"] = os.getpid()
    if call.started is not None and call.started_ms is not None:
        facts["started_ms"] = call.started_ms
        facts["uptime_s"] = round(time.monotonic() - call.started, 3)
    facts["network"] = call.network.status().to_json() if call.network else None
    return facts


@_method("peers")
async def _peers(call: _Call) -> list[dict[str, Any]]:
    call.params.done()
    if call.network is None:
        return []
    return [peer.to_json() for peer in call.network.peers()]


@_method("connect")
async def _connect(call: _Call) -> dict[str, Any]:
    addr = call.params.text("addr")
    call.params.done()
    if call.network is None:
        raise NetworkError("this node runs without a network (started with --offline)")
    return {"peer_id": await call.network.connect(addr)}


# --- moderation ------------------------------------------------------------------------------


@_method("mute")
async def _mute(call: _Call) -> dict[str, Any]:
    author_text = call.params.text("author")
    call.params.done()
    author = await _author_arg(call.node, author_text)
    return {"author": str(author), "changed": await call.node.mute(author)}


@_method("unmute")
async def _unmute(call: _Call) -> dict[str, Any]:
    author_text = call.params.text("author")
    call.params.done()
    author = await _author_arg(call.node, author_text)
    await call.node.unmute(author)
    return {"author": str(author)}


@_method("filter_add")
async def _filter_add(call: _Call) -> dict[str, Any]:
    text = call.params.text("text")
    regex = call.params.flag("regex", default=False)
    call.params.done()
    rule, changed = await call.node.add_filter(text, regex=regex)
    return {"filter": rule.label, "kind": rule.kind.value, "changed": changed}


@_method("filter_remove")
async def _filter_remove(call: _Call) -> dict[str, Any]:
    text = call.params.text("text")
    regex = call.params.flag("regex", default=False)
    call.params.done()
    rule = await call.node.remove_filter(text, regex=regex)
    return {"filter": rule.label, "kind": rule.kind.value}


@_method("hide_reposts")
async def _hide_reposts(call: _Call) -> dict[str, Any]:
    hide = call.params.flag("hide")
    call.params.done()
    return {"hide_reposts": hide, "changed": await call.node.set_hide_reposts(hide)}


async def _target_arg(node: Node, text: str) -> AuthorId | MessageId:
    """An author or a message, by full id (need not be held) or unique prefix."""
    if MessageId.looks_like(text):
        if len(text.strip()) == len("p2sm1") + ID_TEXT_CHARS:  # a whole id: need not be held
            return MessageId.parse(text.strip())
        return await node.resolve_message(text)
    if AuthorId.looks_like(text):
        return await _author_arg(node, text)
    raise InputError(
        f"{text!r} is neither an author (p2sa1...) nor a message (p2sm1...) id or prefix"
    )


async def _publish_list_result(
    call: _Call, name: str, edit: Callable[[], Awaitable[Message]]
) -> dict[str, Any]:
    """Run ``edit`` (which publishes the owner's list ``name``); the first publication of
    a list also subscribes the owner to it, so that their own list hides what it names."""
    node = call.node
    new = await node.moderation_list(node.me, name) is None
    message = await edit()
    held = await node.moderation_list(node.me, name)
    subscribed = new and await node.subscribe_list(ListRef(node.me, name))
    return {
        "id": str(message.id),
        "list": str(ListRef(node.me, name)),
        "entries": len(held.entries) if held else 0,
        "subscribed": subscribed,
    }


@_method("list_publish")
async def _list_publish(call: _Call) -> dict[str, Any]:
    name = call.params.text("name")
    call.params.done()
    return await _publish_list_result(call, name, lambda: call.node.publish_list(name))


@_method("list_add")
async def _list_add(call: _Call) -> dict[str, Any]:
    name = call.params.text("name")
    target_text = call.params.text("target")
    reason = call.params.text("reason")
    call.params.done()
    target = await _target_arg(call.node, target_text)
    result = await _publish_list_result(
        call, name, lambda: call.node.add_to_list(name, target, reason)
    )
    return {**result, "target": str(target)}


@_method("list_remove")
async def _list_remove(call: _Call) -> dict[str, Any]:
    name = call.params.text("name")
    target_text = call.params.text("target")
    call.params.done()
    target = await _target_arg(call.node, target_text)
    message = await call.node.remove_from_list(name, target)
    held = await call.node.moderation_list(call.node.me, name)
    return {
        "id": str(message.id),
        "list": str(ListRef(call.node.me, name)),
        "target": str(target),
        "entries": len(held.entries) if held else 0,
    }


async def _list_arg(node: Node, text: str) -> ListRef:
    author, name = ListRef.split(text)
    return ListRef(await _author_arg(node, author), name)


@_method("list_subscribe")
async def _list_subscribe(call: _Call) -> dict[str, Any]:
    ref_text = call.params.text("list")
    call.params.done()
    ref = await _list_arg(call.node, ref_text)
    changed = await call.node.subscribe_list(ref)
    held = await call.node.moderation_list(ref.author, ref.name)
    return {
        "list": str(ref),
        "held": held is not None,
        "entries": len(held.entries) if held else 0,
        "changed": changed,
    }


@_method("list_unsubscribe")
async def _list_unsubscribe(call: _Call) -> dict[str, Any]:
    ref_text = call.params.text("list")
    call.params.done()
    ref = await _list_arg(call.node, ref_text)
    await call.node.unsubscribe_list(ref)
    return {"list": str(ref)}


class _Subscribe:
    """The result of ``subscribe``: the server switches the connection to events."""


_SUBSCRIBE: Final = _Subscribe()


@_method("subscribe")
async def _subscribe(call: _Call) -> _Subscribe:
    call.params.done()
    if not call.remote:
        raise BadRequestError("subscribe: events are sent only over the control socket")
    return _SUBSCRIBE


def whoami(home: Path, reader: IndexReader, me: AuthorId) -> dict[str, Any]:
    """The owner's identity and profile, as ``p2psocial whoami --json`` prints it.

    Args:
        home: The home directory.
        reader: Its index.
        me: The owner.
    """
    info = reader.author(me)
    return {
        "id": str(me),
        "short": me.short,
        "name": info.name if info else None,
        "bio": info.bio if info else None,
        "messages": info.held if info else 0,
        "home": str(home),
        "encrypted": keystore.is_encrypted(home),
    }


def local_status(home: Path, reader: IndexReader, me: AuthorId) -> dict[str, Any]:
    """What can be told of a home without a running node.

    Args:
        home: The home directory.
        reader: Its index.
        me: The owner.

    Returns:
        ``home``, ``author``, ``author_short``, ``log_bytes`` (the log's size on disk),
        ``messages``, ``authors``, ``forks`` (held in the index), and ``running`` False;
        the daemon adds ``running`` True, ``pid``, ``started_ms``, ``uptime_s`` and
        ``network``.
    """
    log_dir = HomePaths(home).log
    try:
        log_bytes = sum(p.stat().st_size for p in log_dir.glob("*.seg"))
    except FileNotFoundError:
        log_bytes = 0
    return {
        "running": False,
        "home": str(home),
        "author": str(me),
        "author_short": me.short,
        "log_bytes": log_bytes,
        **reader.counts(),
    }


# --- the client ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class MessageStored:
    """A ``message`` event: the node stored a message (see "Events" above)."""

    id: MessageId
    author: AuthorId
    kind: str
    """The message kind's name (``post``, ``reply``, ...)."""
    seq: int
    ts: int
    source: str
    """``local``, ``network`` or ``import``."""
    fork: bool


ControlEvent = MessageStored | EventsMissed
"""What :meth:`ControlClient.receive_events` returns."""


class ControlClient:
    """A blocking client of a daemon's control socket; create with :meth:`connect`.

    Example::

        client = ControlClient.connect(home)
        if client is not None:
            with client:
                print(client.call("post", {"text": "hello"})["id"])
    """

    def __init__(self, sock: socket.socket, path: Path) -> None:
        """Wrap a connected socket; use :meth:`connect` instead of calling this.

        Args:
            sock: A socket connected to ``path``.
            path: The control socket's path (for messages).
        """
        self._sock: socket.socket | None = sock
        self._path = path
        self._buffer = bytearray()
        self._next_id = 1

    @classmethod
    def connect(cls, home: Path, *, timeout: float = CONNECT_TIMEOUT) -> ControlClient | None:
        """Connect to the daemon serving ``home``.

        Args:
            home: The home directory.
            timeout: Seconds to wait for the daemon to accept.

        Returns:
            A client, or None when no daemon listens (no socket file, or a stale one:
            nothing is removed).

        Raises:
            NoAnswerError: The daemon did not accept within ``timeout``.
            OSError: The socket exists but cannot be opened (such as permission denied).
        """
        path = socket_path(home)
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            sock.settimeout(timeout)
            with _sun_path(path) as address:
                sock.connect(address)
        except (FileNotFoundError, ConnectionRefusedError):
            sock.close()
            return None
        except TimeoutError:
            sock.close()
            raise NoAnswerError(
                f"the node at {path} did not accept a connection within {timeout:g} s"
            ) from None
        except BaseException:
            sock.close()
            raise
        return cls(sock, path)

    def close(self) -> None:
        """Close the connection (idempotent)."""
        if self._sock is not None:
            self._sock.close()
            self._sock = None

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def call(
        self,
        method: str,
        params: Mapping[str, Any] | None = None,
        *,
        timeout: float = CALL_TIMEOUT,
    ) -> Any:
        """Send one request and wait for its response.

        Args:
            method: One of :data:`METHODS`.
            params: The method's params (JSON-ready values).
            timeout: Seconds to wait for the whole exchange.

        Returns:
            The method's result.

        Raises:
            P2PSocialError: The node answered with an error: an instance of the library's
                class for its code (an unknown code gives a subclass of the closest known
                one, with that code).
            OSError: The node could not read or write a file named in ``params``.
            NoAnswerError: No answer within ``timeout``, or the connection was lost (the
                connection is closed then; the node may still carry out the request).
            RequestTooLargeError: The request is over :data:`MAX_LINE` bytes (not sent).
        """
        if self._sock is None:
            raise NoAnswerError("this control connection is closed")
        request_id = self._next_id
        self._next_id += 1
        request = {"id": request_id, "method": method, "params": dict(params or {})}
        # ASCII escapes: text that is not valid Unicode reaches the node, which says so.
        data = json.dumps(request, separators=(",", ":")).encode("ascii")
        if len(data) > MAX_LINE:
            raise RequestTooLargeError(
                f"the request is {len(data)} bytes; at most {MAX_LINE} may be sent"
            )
        deadline = time.monotonic() + timeout
        try:
            self._sock.settimeout(timeout)
            # A node that refuses a client says why before it hangs up: read that anyway.
            with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                self._sock.sendall(data + b"\n")
            line = self._read_line(deadline)
        except TimeoutError:
            self.close()
            raise NoAnswerError(
                f"the node did not answer {method!r} within {timeout:g} s "
                "(it may still carry it out)"
            ) from None
        except ConnectionResetError:
            line = None
        if line is None:
            self.close()
            raise NoAnswerError(
                f"the node closed the connection before answering {method!r} "
                "(it may be stopping; the request may or may not have been carried out)"
            )
        return _unpack_response(line, request_id)

    def subscribe(self, *, timeout: float = CALL_TIMEOUT) -> None:
        """Turn this connection into a stream of events; read them with :meth:`receive_events`.

        No other request may be sent on the connection afterwards.

        Raises:
            NoAnswerError: No answer within ``timeout``, or the connection was lost.
            ControlError: The node refused (a node that has no ``subscribe`` says
                ``control.unknown_method``).
        """
        self.call("subscribe", timeout=timeout)

    def receive_events(self, timeout: float) -> list[ControlEvent]:
        """Wait up to ``timeout`` seconds for events; return all that have arrived.

        Returns:
            Every complete event received so far, oldest first, once there is at least
            one; an empty list if none came within ``timeout``. Events of a kind this
            client does not know are skipped (logged).

        Raises:
            NoAnswerError: The node closed the connection (it is stopping) or sent a line
                that is not an event; the connection is closed then.
        """
        deadline = time.monotonic() + timeout
        while True:
            events = self._buffered_events()
            if events:
                return events
            if self._sock is None:
                raise NoAnswerError("this control connection is closed")
            if len(self._buffer) > MAX_RESPONSE:
                self.close()
                raise NoAnswerError(f"an event from the node is over {MAX_RESPONSE} bytes")
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return []
            self._sock.settimeout(remaining)
            try:
                chunk = self._sock.recv(_RECEIVE_CHUNK)
            except TimeoutError:
                return []
            except ConnectionResetError:
                chunk = b""
            if not chunk:
                self.close()
                raise NoAnswerError("the node closed the event stream (it may be stopping)")
            self._buffer += chunk

    def _buffered_events(self) -> list[ControlEvent]:
        events: list[ControlEvent] = []
        while (newline := self._buffer.find(b"\n")) >= 0:
            line = bytes(self._buffer[:newline])
            del self._buffer[: newline + 1]
            event = _parse_event(line)
            if event is None:
                self.close()
                raise NoAnswerError(f"the node sent a line that is not an event: {line[:80]!r}")
            if not isinstance(event, _Unknown):
                events.append(event)
        return events

    def _read_line(self, deadline: float) -> bytes | None:
        assert self._sock is not None
        scanned = 0
        while True:
            newline = self._buffer.find(b"\n", scanned)
            if newline >= 0:
                line = bytes(self._buffer[:newline])
                del self._buffer[: newline + 1]
                return line
            if len(self._buffer) > MAX_RESPONSE:
                self.close()
                raise NoAnswerError(f"the node's answer is over {MAX_RESPONSE} bytes")
            scanned = len(self._buffer)
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError
            self._sock.settimeout(remaining)
            chunk = self._sock.recv(_RECEIVE_CHUNK)
            if not chunk:
                return None
            self._buffer += chunk


class _Unknown:
    """An event of a kind this client does not know (a newer node): skipped."""


def _parse_event(line: bytes) -> ControlEvent | _Unknown | None:
    """One event line, or None when the line is not an event at all."""
    try:
        value = json.loads(line.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        return None
    if not isinstance(value, dict) or not isinstance(value.get("event"), str):
        return None
    try:
        if value["event"] == "missed":
            return EventsMissed(int(value["count"]))
        if value["event"] == "message":
            return MessageStored(
                id=MessageId.parse(value["id"]),
                author=AuthorId.parse(value["author"]),
                kind=str(value["kind"]),
                seq=int(value["seq"]),
                ts=int(value["ts"]),
                source=str(value["source"]),
                fork=bool(value["fork"]),
            )
    except (KeyError, TypeError, ValueError, P2PSocialError):
        return None
    log.debug("skipped an event of unknown kind %r", value["event"])
    return _Unknown()


def _unpack_response(line: bytes, request_id: int) -> Any:
    try:
        response = json.loads(line.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise NoAnswerError(f"the node's answer is not JSON: {exc}") from None
    if not isinstance(response, dict):
        raise NoAnswerError("the node's answer is not a JSON object")
    error = response.get("error")
    if isinstance(error, dict):
        raise error_from_json(error)
    if response.get("id") != request_id or "result" not in response:
        raise NoAnswerError(f"the node's answer does not match request {request_id}")
    return response["result"]


def error_from_json(error: Mapping[str, Any]) -> Exception:
    """The exception an error response stands for.

    Args:
        error: A response's ``error`` object (``code``, ``message``, maybe ``errno`` and
            ``filename``).

    Returns:
        An :class:`OSError` for code ``os``; else an instance of the
        :class:`~p2psocial.errors.P2PSocialError` class with that code (see
        :func:`error_class`).
    """
    code = str(error.get("code", P2PSocialError.code))
    message = str(error.get("message", "the node reported an error"))
    if code == "os":
        number = error.get("errno")
        filename = error.get("filename")
        return OSError(
            number if isinstance(number, int) else errno_codes.EIO,
            message,
            *([filename] if isinstance(filename, str) else []),
        )
    cls = error_class(code)
    for base in cls.__mro__:
        if not issubclass(base, P2PSocialError):
            continue
        # A class whose constructor takes more than a message: try its ancestors.
        kind = cls if base is cls else _remote_class(code, base)
        with contextlib.suppress(TypeError):
            return kind(message)
    return _remote_class(code, P2PSocialError)(message)


def error_class(code: str) -> type[P2PSocialError]:
    """The error class for a dotted code.

    Args:
        code: Such as ``input.not_found``.

    Returns:
        The class with exactly that code if this process knows one; else a subclass of
        the class with the longest known prefix of it (``net.foo`` under
        :class:`~p2psocial.errors.NetworkError`), or of P2PSocialError, carrying ``code``.
    """
    known = _known_codes()
    if code in known:
        return known[code]
    parts = code.split(".")
    parent: type[P2PSocialError] = P2PSocialError
    for end in range(len(parts) - 1, 0, -1):
        prefix = ".".join(parts[:end])
        if prefix in known:
            parent = known[prefix]
            break
    return _remote_class(code, parent)


def _known_codes() -> dict[str, type[P2PSocialError]]:
    found: dict[str, type[P2PSocialError]] = {}
    pending: list[type[P2PSocialError]] = [P2PSocialError]
    while pending:
        cls = pending.pop()
        if not cls.__dict__.get("_remote", False):
            found.setdefault(cls.code, cls)
        pending.extend(cls.__subclasses__())
    return found


_REMOTE_CLASSES: dict[tuple[str, type[P2PSocialError]], type[P2PSocialError]] = {}


def _remote_class(code: str, parent: type[P2PSocialError]) -> type[P2PSocialError]:
    key = (code, parent)
    if key in _REMOTE_CLASSES:
        return _REMOTE_CLASSES[key]
    namespace = {
        "code": code,
        "_remote": True,
        "__module__": __name__,
        "__doc__": f"An error the node reported with code {code!r}.",
    }
    made = cast(type[P2PSocialError], type(parent.__name__, (parent,), namespace))
    if len(_REMOTE_CLASSES) < 256:  # codes come from the node: keep the cache bounded
        _REMOTE_CLASSES[key] = made
    return made


__all__ = [
    "CALL_TIMEOUT",
    "IDLE_TIMEOUT",
    "MAX_CLIENTS",
    "MAX_LINE",
    "METHODS",
    "SOCKET_FILENAME",
    "BadRequestError",
    "BusyError",
    "ControlClient",
    "ControlError",
    "ControlEvent",
    "ForbiddenError",
    "InternalError",
    "JsonRecord",
    "MessageStored",
    "NetworkView",
    "NoAnswerError",
    "NotRunningError",
    "PeerCredentials",
    "RequestTooLargeError",
    "UnknownMethodError",
    "call_local",
    "check_peer",
    "error_class",
    "error_from_json",
    "event_json",
    "local_status",
    "peer_credentials",
    "serve_control",
    "socket_path",
    "whoami",
]
