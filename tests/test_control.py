"""The control socket: a real unix socket in a temporary home, a real node, a fake network.

Clients are the real blocking :class:`ControlClient` (run in a worker thread, as the CLI
would run it in its own process) or a raw trio connection for malformed input. Every test
runs under :data:`TIMEOUT`; waits are on events or on the socket, never on fixed sleeps.
"""

from __future__ import annotations

import json
import os
import socket
import stat
import sys
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import pytest
import trio

from p2psocial import control
from p2psocial.control import (
    MAX_LINE,
    BadRequestError,
    BusyError,
    ControlClient,
    ForbiddenError,
    NoAnswerError,
    RequestTooLargeError,
    UnknownMethodError,
    call_local,
    check_peer,
    error_class,
    error_from_json,
    peer_credentials,
    serve_control,
    socket_path,
)
from p2psocial.core.bodies import Kind
from p2psocial.core.ids import AuthorId, MessageId
from p2psocial.errors import (
    DialError,
    InputError,
    InvalidIdError,
    NetworkError,
    NotFoundError,
    P2PSocialError,
    StoreError,
)
from p2psocial.node import Node, init_home, open_node
from p2psocial.store.exchange import write_export
from tests.factories import ChainBuilder

TIMEOUT = 10.0
FAKE_PEER = "12D3KooWFakePeer"


# --- fixtures and helpers ------------------------------------------------------------------


@dataclass(frozen=True)
class FakeRecord:
    data: dict[str, Any]

    def to_json(self) -> dict[str, Any]:
        return dict(self.data)


class FakeNetwork:
    """Stands in for p2psocial.net.network.Network; records what it was asked to dial."""

    def __init__(self) -> None:
        self.dialled: list[str] = []

    @property
    def peer_id(self) -> str:
        return "12D3KooWSelf"

    @property
    def listen_addrs(self) -> list[str]:
        return ["/ip4/127.0.0.1/tcp/4500/p2p/12D3KooWSelf"]

    def status(self) -> FakeRecord:
        return FakeRecord({"peer_id": self.peer_id, "listen": self.listen_addrs})

    def peers(self) -> list[FakeRecord]:
        return [FakeRecord({"peer_id": FAKE_PEER, "connected": True})]

    async def connect(self, addr: str) -> str:
        await trio.lowlevel.checkpoint()
        if "/p2p/" not in addr:
            raise InputError(f"peer {addr!r} needs its /p2p/<peer id> part")
        if "tcp/1/" in addr:
            raise DialError(f"cannot reach {addr}")
        self.dialled.append(addr)
        return addr.rsplit("/p2p/", 1)[1]


@pytest.fixture
def network() -> FakeNetwork:
    return FakeNetwork()


@pytest.fixture
async def server(node: Node, home: Path, network: FakeNetwork, nursery: trio.Nursery) -> Path:
    """The control socket of ``home``, served (in the test's nursery) until the test ends."""
    path: Path = await nursery.start(serve_control, node, network, home)
    return path


async def call(home: Path, method: str, params: dict[str, Any] | None = None) -> Any:
    """One request through a fresh :class:`ControlClient`, in a worker thread."""

    def work() -> Any:
        client = ControlClient.connect(home)
        assert client is not None, "no daemon answered"
        with client:
            return client.call(method, params, timeout=TIMEOUT)

    return await trio.to_thread.run_sync(work)


async def fails(home: Path, method: str, params: dict[str, Any] | None = None) -> Exception:
    """The exception one request raises."""
    try:
        await call(home, method, params)
    except Exception as exc:
        return exc
    pytest.fail(f"{method} {params} did not fail")


class Raw:
    """A raw connection to the control socket, for bytes no real client would send."""

    def __init__(self, stream: trio.SocketStream) -> None:
        self.stream = stream
        self._buffer = bytearray()

    @classmethod
    async def open(cls, path: Path) -> Raw:
        return cls(await trio.open_unix_socket(str(path)))

    async def send(self, data: bytes) -> None:
        await self.stream.send_all(data)

    async def request(self, value: object) -> None:
        await self.send(json.dumps(value).encode() + b"\n")

    async def response(self) -> Any:
        while b"\n" not in self._buffer:
            chunk = await self.stream.receive_some(65536)
            if not chunk:
                pytest.fail("the server closed the connection")
            self._buffer += chunk
        line, _, rest = bytes(self._buffer).partition(b"\n")
        self._buffer = bytearray(rest)
        return json.loads(line)

    async def wait_closed(self) -> None:
        """Return once the server has closed the connection (anything sent is dropped)."""
        while await self.stream.receive_some(65536):
            pass

    async def aclose(self) -> None:
        await self.stream.aclose()


# --- who may connect -------------------------------------------------------------------------


async def test_socket_is_owner_only_in_an_owner_only_home(server: Path, home: Path) -> None:
    with trio.fail_after(TIMEOUT):
        mode = os.stat(server).st_mode
        assert server == socket_path(home) == home / "control.sock"
        assert stat.S_ISSOCK(mode)
        assert stat.S_IMODE(mode) == 0o600
        assert stat.S_IMODE(home.stat().st_mode) == 0o700


async def test_a_loose_home_is_tightened_with_a_warning(
    node: Node, home: Path, nursery: trio.Nursery, caplog: pytest.LogCaptureFixture
) -> None:
    with trio.fail_after(TIMEOUT):
        home.chmod(0o755)
        await nursery.start(serve_control, node, None, home)
        assert stat.S_IMODE(home.stat().st_mode) == 0o700
        assert any("mode 755" in r.getMessage() for r in caplog.records)


def test_check_peer_accepts_the_owner_and_refuses_anyone_else() -> None:
    left, right = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
    with left, right:
        creds = check_peer(left)
        if not sys.platform.startswith("linux"):
            assert creds is None
            return
        assert creds == peer_credentials(left)
        assert creds is not None
        assert (creds.pid, creds.uid, creds.gid) == (os.getpid(), os.getuid(), os.getgid())
        assert check_peer(left, owner_uid=os.getuid()) == creds
        with pytest.raises(ForbiddenError, match=f"not uid {os.getuid()}"):
            check_peer(left, owner_uid=os.getuid() + 1)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="SO_PEERCRED is Linux only")
async def test_the_server_refuses_another_user(
    server: Path, home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with trio.fail_after(TIMEOUT):
        monkeypatch.setattr(control, "check_peer", partial(check_peer, owner_uid=os.getuid() + 1))
        refused = await fails(home, "whoami")
        assert isinstance(refused, ForbiddenError)
        assert "only for its owner" in str(refused)
        monkeypatch.undo()
        assert (await call(home, "whoami"))["home"] == str(home)


# --- the socket file -------------------------------------------------------------------------


def _stale_socket(path: Path) -> None:
    """Leave a socket file that nobody listens on, as a crashed daemon would."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.bind(str(path))
    assert stat.S_ISSOCK(path.lstat().st_mode)


def test_connect_without_a_daemon_is_none_and_removes_nothing(home: Path) -> None:
    assert ControlClient.connect(home) is None
    _stale_socket(socket_path(home))
    assert ControlClient.connect(home) is None
    assert socket_path(home).exists()


async def test_a_stale_socket_is_replaced_at_start(node: Node, home: Path) -> None:
    with trio.fail_after(TIMEOUT):
        _stale_socket(socket_path(home))
        async with trio.open_nursery() as nursery:
            await nursery.start(serve_control, node, None, home)
            assert (await call(home, "whoami"))["id"] == str(node.me)
            nursery.cancel_scope.cancel()


async def test_the_socket_file_is_removed_on_exit(node: Node, home: Path) -> None:
    with trio.fail_after(TIMEOUT):
        async with trio.open_nursery() as nursery:
            path = await nursery.start(serve_control, node, None, home)
            assert path.exists()
            nursery.cancel_scope.cancel()
        assert not path.exists()
        assert await trio.to_thread.run_sync(ControlClient.connect, home) is None


async def test_a_home_path_too_long_for_sun_path_still_works(tmp_path: Path) -> None:
    with trio.fail_after(TIMEOUT):
        home = tmp_path / ("d" * 60) / ("e" * 60) / "home"
        assert len(str(socket_path(home))) > 108
        init_home(home, passphrase=None)
        async with open_node(home) as node, trio.open_nursery() as nursery:
            await nursery.start(serve_control, node, None, home)
            assert (await call(home, "post", {"text": "long way home"}))["id"].startswith("p2sm1")
            nursery.cancel_scope.cancel()


# --- every method ----------------------------------------------------------------------------


async def test_write_methods_round_trip(server: Path, home: Path, node: Node) -> None:
    with trio.fail_after(TIMEOUT):
        other = ChainBuilder(7)
        theirs = other.post("a post by someone else")
        await node.ingest([theirs.to_bytes()], source="network")

        posted = await call(home, "post", {"text": "hello over the socket"})
        post_id = MessageId.parse(posted["id"])
        assert set(posted) == {"id"}
        stored = await node.get(post_id)
        assert stored is not None
        assert stored.text == "hello over the socket"

        mentioned = await call(home, "post", {"text": "hi", "mentions": [str(other.author)]})
        mention = await node.get(MessageId.parse(mentioned["id"]))
        assert mention is not None
        assert mention.text == "hi"

        replied = await call(home, "reply", {"parent": theirs.id.short, "text": "nice"})
        assert replied["parent"] == str(theirs.id)
        reply = await node.get(MessageId.parse(replied["id"]))
        assert reply is not None
        assert (reply.kind, reply.parent, reply.text) == (Kind.REPLY, theirs.id, "nice")

        reacted = await call(home, "react", {"target": str(theirs.id), "emoji": "🔥"})
        assert reacted["target"] == str(theirs.id)
        reposted = await call(home, "repost", {"target": theirs.id.short})
        assert reposted["target"] == str(theirs.id)
        item = await node.get(theirs.id)
        assert item is not None
        assert (item.replies, item.reposts, item.reactions.counts) == (1, 1, (("🔥", 1),))

        followed = await call(home, "follow", {"author": str(other.author)})
        assert followed["author"] == str(other.author)
        assert [a.id for a in await node.following()] == [other.author]
        unfollowed = await call(home, "unfollow", {"author": other.author.short})
        assert unfollowed["author"] == str(other.author)
        assert await node.following() == []

        profile = await call(home, "profile", {"name": "Alice"})
        await call(home, "profile", {"bio": "builds things"})
        me = await node.author(node.me)
        assert me is not None
        assert (me.name, me.bio) == ("Alice", "builds things")
        assert MessageId.parse(profile["id"])

        deleted = await call(home, "delete", {"target": posted["id"][:20]})
        assert deleted["target"] == posted["id"]
        gone = await node.get(post_id)
        assert gone is not None
        assert gone.deleted


async def test_import_export_reindex_round_trip(
    server: Path, home: Path, node: Node, tmp_path: Path
) -> None:
    with trio.fail_after(TIMEOUT):
        await call(home, "post", {"text": "one"})
        await call(home, "post", {"text": "two"})
        export = tmp_path / "out.p2s"
        assert await call(home, "export", {"path": str(export)}) == {"count": 2}
        assert export.exists()

        other = ChainBuilder(3)
        theirs = [other.post("x"), other.post("y"), other.post("z")]
        incoming = tmp_path / "in.p2s"
        write_export(incoming, [m.to_bytes() for m in theirs])
        summary = await call(home, "import", {"path": str(incoming)})
        assert summary == {"read": 3, "accepted": 3, "duplicates": 0, "forks": 0}
        again = await call(home, "import", {"path": str(incoming)})
        assert again == {"read": 3, "accepted": 0, "duplicates": 3, "forks": 0}

        assert await call(home, "reindex") == {"count": 5}
        assert (await node.counts())["messages"] == 5


async def test_whoami_and_status_describe_the_node(server: Path, home: Path, node: Node) -> None:
    with trio.fail_after(TIMEOUT):
        await call(home, "post", {"text": "counted"})
        whoami = await call(home, "whoami")
        assert whoami == {
            "id": str(node.me),
            "short": node.me.short,
            "name": None,
            "bio": None,
            "messages": 1,
            "home": str(home),
            "encrypted": False,
        }
        status = await call(home, "status")
        log_bytes = sum(p.stat().st_size for p in (home / "log").glob("*.seg"))
        assert status["running"] is True
        assert status["pid"] == os.getpid()
        assert status["uptime_s"] >= 0
        assert isinstance(status["started_ms"], int)
        assert (status["home"], status["author"]) == (str(home), str(node.me))
        assert status["author_short"] == node.me.short
        assert status["log_bytes"] == log_bytes > 0
        assert (status["messages"], status["authors"], status["forks"]) == (1, 1, 0)
        assert status["network"] == {
            "peer_id": "12D3KooWSelf",
            "listen": ["/ip4/127.0.0.1/tcp/4500/p2p/12D3KooWSelf"],
        }


async def test_peers_and_connect_go_to_the_network(
    server: Path, home: Path, network: FakeNetwork
) -> None:
    with trio.fail_after(TIMEOUT):
        assert await call(home, "peers") == [{"peer_id": FAKE_PEER, "connected": True}]
        addr = "/ip4/127.0.0.1/tcp/4501/p2p/12D3KooWOther"
        assert await call(home, "connect", {"addr": addr}) == {"peer_id": "12D3KooWOther"}
        assert network.dialled == [addr]
        bad = await fails(home, "connect", {"addr": "/ip4/127.0.0.1/tcp/4501"})
        assert type(bad) is InputError
        assert "needs its /p2p/" in str(bad)
        unreachable = await fails(home, "connect", {"addr": "/ip4/127.0.0.1/tcp/1/p2p/X"})
        assert type(unreachable) is DialError


async def test_without_a_network(node: Node, home: Path) -> None:
    with trio.fail_after(TIMEOUT):
        async with trio.open_nursery() as nursery:
            await nursery.start(serve_control, node, None, home)
            assert (await call(home, "status"))["network"] is None
            assert await call(home, "peers") == []
            offline = await fails(home, "connect", {"addr": "/ip4/127.0.0.1/tcp/1/p2p/X"})
            assert type(offline) is NetworkError
            assert "without a network" in str(offline)
            nursery.cancel_scope.cancel()


# --- errors ------------------------------------------------------------------------------------


async def test_errors_come_back_as_the_library_raised_them(
    server: Path, home: Path, node: Node, tmp_path: Path
) -> None:
    with trio.fail_after(TIMEOUT):
        unknown = ChainBuilder(9).post("never seen").id
        local: Exception | None = None
        try:
            await call_local(node, "reply", {"parent": str(unknown), "text": "hi"})
        except P2PSocialError as exc:
            local = exc
        remote = await fails(home, "reply", {"parent": str(unknown), "text": "hi"})
        assert type(remote) is type(local) is NotFoundError
        assert str(remote) == str(local)

        assert type(await fails(home, "follow", {"author": str(node.me)})) is InputError
        not_an_id = await fails(home, "react", {"target": "p2sm1bbbb", "emoji": "x"})
        assert type(not_an_id) is InvalidIdError
        missing = tmp_path / "no-such-dir" / "out.p2s"
        oserror = await fails(home, "export", {"path": str(missing)})
        assert isinstance(oserror, OSError)
        assert oserror.filename is not None
        assert str(missing.parent) in oserror.filename or str(missing) in oserror.filename
        assert oserror.strerror

        assert type(await fails(home, "frobnicate")) is UnknownMethodError
        for params in (
            {},
            {"text": 5},
            {"text": "x", "colour": "red"},
            {"text": "x", "mentions": "p2sa1"},
            {"text": "\ud800"},
        ):
            bad = await fails(home, "post", params)
            assert type(bad) is BadRequestError, params
        relative = await fails(home, "import", {"path": "in.p2s"})
        assert type(relative) is BadRequestError
        assert "absolute" in str(relative)
        nothing = await fails(home, "profile", {})
        assert type(nothing) is InputError


def test_error_codes_map_back_to_classes() -> None:
    assert error_class("input.not_found") is NotFoundError
    assert error_class("control.too_large") is RequestTooLargeError
    assert error_class("store") is StoreError
    weird = error_class("net.weird")
    assert issubclass(weird, NetworkError)
    assert weird.code == "net.weird"
    assert error_class("net.weird") is weird
    alien = error_class("zzz.unheard_of")
    assert issubclass(alien, P2PSocialError)
    assert not issubclass(alien, NetworkError)
    assert alien.code == "zzz.unheard_of"
    # Classes made for unknown codes never shadow real ones.
    assert error_class("net") is NetworkError

    exc = error_from_json({"code": "input.ambiguous", "message": "two match"})
    assert isinstance(exc, InputError)
    assert str(exc) == "two match"
    os_error = error_from_json(
        {"code": "os", "message": "No such file or directory", "errno": 2, "filename": "/x"}
    )
    assert isinstance(os_error, FileNotFoundError)
    assert (os_error.filename, os_error.strerror) == ("/x", "No such file or directory")


# --- the wire ------------------------------------------------------------------------------------


async def test_bad_lines_get_errors_and_the_connection_stays_up(server: Path, home: Path) -> None:
    with trio.fail_after(TIMEOUT):
        raw = await Raw.open(server)
        await raw.send(b"this is not json\n")
        response = await raw.response()
        assert response["id"] is None
        assert response["error"]["code"] == "control.bad_request"

        await raw.send(b"x" * (MAX_LINE + 1000) + b"\n")
        response = await raw.response()
        assert response == {
            "id": None,
            "error": {
                "code": "control.too_large",
                "message": f"a request may be at most {MAX_LINE} bytes",
            },
        }

        await raw.request({"id": 3, "method": "nope"})
        response = await raw.response()
        assert response["id"] == 3
        assert response["error"]["code"] == "control.unknown_method"

        await raw.request({"id": 4, "method": "whoami"})
        assert (await raw.response())["result"]["home"] == str(home)
        await raw.aclose()


async def test_a_line_of_exactly_the_limit_is_read(server: Path, home: Path) -> None:
    with trio.fail_after(TIMEOUT):
        raw = await Raw.open(server)
        request = json.dumps({"id": 1, "method": "whoami", "params": {}}).encode()
        padded = request[:-1] + b" " * (MAX_LINE - len(request)) + b"}"
        assert len(padded) == MAX_LINE
        await raw.send(padded + b"\n")
        assert (await raw.response())["result"]["id"]
        await raw.send(padded[:-1] + b" }\n")
        assert (await raw.response())["error"]["code"] == "control.too_large"
        await raw.aclose()


@pytest.mark.parametrize(
    ("line", "request_id"),
    [
        (b"[1, 2]", None),
        (b'"just a string"', None),
        (b'{"method": "whoami"}', None),
        (b'{"id": true, "method": "whoami"}', None),
        (b'{"id": 1.5, "method": "whoami"}', None),
        (b'{"id": 7}', 7),
        (b'{"id": 7, "method": 3}', 7),
        (b'{"id": 7, "method": "whoami", "params": []}', 7),
        (b'{"id": 7, "method": "whoami", "extra": 1}', 7),
        (b'{"id": 7, "method": "post", "params": {"text": NaN}}', None),
        (b'{"id": 7, "method": "whoami", "params": {"x": 1}}', 7),
        (b"\xff\xfe not utf-8", None),
        (b"[" * 30000 + b"]" * 30000, None),  # deeper than the JSON parser recurses
    ],
)
async def test_malformed_requests(server: Path, line: bytes, request_id: int | None) -> None:
    with trio.fail_after(TIMEOUT):
        raw = await Raw.open(server)
        await raw.send(line + b"\n")
        response = await raw.response()
        assert response["id"] == request_id
        assert response["error"]["code"] == "control.bad_request"
        assert response["error"]["message"]
        await raw.request({"id": 8, "method": "peers"})
        assert await raw.response() == {
            "id": 8,
            "result": [{"peer_id": FAKE_PEER, "connected": True}],
        }
        await raw.aclose()


async def test_many_requests_per_connection_and_many_clients(
    server: Path, home: Path, node: Node
) -> None:
    clients, each = 4, 5

    def one_client(number: int) -> list[str]:
        client = ControlClient.connect(home)
        assert client is not None
        with client:
            return [
                client.call("post", {"text": f"client {number} post {i}"}, timeout=TIMEOUT)["id"]
                for i in range(each)
            ]

    with trio.fail_after(TIMEOUT * 3):
        results: list[list[str]] = []

        async def run(number: int) -> None:
            results.append(await trio.to_thread.run_sync(one_client, number))

        async with trio.open_nursery() as nursery:
            for number in range(clients):
                nursery.start_soon(run, number)
        posted = [i for r in results for i in r]
        assert len(set(posted)) == clients * each
        mine = await node.author(node.me)
        assert mine is not None
        assert (mine.head_seq, mine.held) == (clients * each, clients * each)


async def test_too_many_clients_are_told_so(
    server: Path, home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with trio.fail_after(TIMEOUT):
        monkeypatch.setattr(control, "MAX_CLIENTS", 1)
        first = await Raw.open(server)
        await first.request({"id": 1, "method": "whoami"})
        assert "result" in await first.response()
        busy = await fails(home, "whoami")
        assert type(busy) is BusyError
        await first.aclose()


async def test_an_idle_connection_is_closed(server: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with trio.fail_after(TIMEOUT):
        monkeypatch.setattr(control, "IDLE_TIMEOUT", 0.2)
        raw = await Raw.open(server)
        await raw.send(b'{"id": 1, "method": ')  # never finished
        await raw.wait_closed()


# --- the client on its own ----------------------------------------------------------------------


async def _fake_server(
    path: Path, behave: Callable[[trio.SocketStream], Any], nursery: trio.Nursery
) -> None:
    sock = trio.socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    await sock.bind(str(path))
    sock.listen(4)
    listener = trio.SocketListener(sock)
    await nursery.start(partial(trio.serve_listeners, behave, [listener]))


async def test_the_client_gives_up_on_a_silent_node(tmp_path: Path, nursery: trio.Nursery) -> None:
    silent = trio.Event()

    async def never_answer(stream: trio.SocketStream) -> None:
        await silent.wait()

    with trio.fail_after(TIMEOUT):
        await _fake_server(socket_path(tmp_path), never_answer, nursery)
        client = await trio.to_thread.run_sync(ControlClient.connect, tmp_path)
        assert client is not None
        with pytest.raises(NoAnswerError, match=r"did not answer 'whoami' within 0\.3 s"):
            await trio.to_thread.run_sync(partial(client.call, "whoami", timeout=0.3))
        with pytest.raises(NoAnswerError, match="closed"):
            client.call("whoami")
        silent.set()


async def test_the_client_reports_a_node_that_hangs_up(
    tmp_path: Path, nursery: trio.Nursery
) -> None:
    async def hang_up(stream: trio.SocketStream) -> None:
        await stream.receive_some(100)
        await stream.aclose()

    with trio.fail_after(TIMEOUT):
        await _fake_server(socket_path(tmp_path), hang_up, nursery)
        client = await trio.to_thread.run_sync(ControlClient.connect, tmp_path)
        assert client is not None
        with pytest.raises(NoAnswerError, match="closed the connection before answering"):
            await trio.to_thread.run_sync(partial(client.call, "post", {"text": "x"}))


def test_the_client_refuses_to_send_an_oversize_request(tmp_path: Path) -> None:
    a, b = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
    with b:
        client = ControlClient(a, tmp_path / "control.sock")
        with client, pytest.raises(RequestTooLargeError):
            client.call("post", {"text": "x" * MAX_LINE})
        assert b.recv(1) == b""  # closed with nothing sent


async def test_call_local_needs_no_absolute_paths(node: Node, tmp_path: Path) -> None:
    with trio.fail_after(TIMEOUT):
        await node.post("one")
        target = tmp_path / "rel.p2s"
        cwd = Path.cwd()
        os.chdir(tmp_path)
        try:
            assert await call_local(node, "export", {"path": "rel.p2s"}) == {"count": 1}
        finally:
            os.chdir(cwd)
        assert target.exists()
        assert AuthorId.parse((await call_local(node, "whoami"))["id"]) == node.me
