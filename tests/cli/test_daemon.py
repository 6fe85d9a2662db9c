"""``p2psocial node``, the daemon, run as the real console script, and commands through it.

Every daemon here listens on 127.0.0.1 only and runs with ``--no-mdns`` (multicast on other
interfaces is not allowed on test machines). Waits are on the daemon's stdout, its exit, or
a polled condition with a deadline; never a fixed sleep.
"""

from __future__ import annotations

import logging
import os
import re
import select
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import pytest

from p2psocial.control import ControlClient
from p2psocial.daemon import DemoteLibp2pNoise, is_libp2p_noise
from p2psocial.errors import HomeLockedError
from p2psocial.store.lock import HomeLock
from tests.cli.test_cli import (
    AUTHOR_ID,
    MESSAGE_ID,
    PASSPHRASE,
    PASSPHRASE_ENV,
    SHORT_LEN,
    failed,
    init,
    items,
    ok,
    run,
    script,
    scrubbed_env,
    written,
)

START_TIMEOUT = 30.0
STOP_TIMEOUT = 10.0
LOOPBACK = "/ip4/127.0.0.1/tcp/0"
LISTEN_ADDR = re.compile(r"/ip4/127\.0\.0\.1/tcp/(\d+)/p2p/(12D3Koo\w+)")
NOT_RUNNING = "no node running: start one with `p2psocial node`"


# --- running a daemon ----------------------------------------------------------------------------


@dataclass
class Daemon:
    """One ``p2psocial node`` process."""

    home: Path
    proc: subprocess.Popen[bytes]
    stderr_path: Path
    addrs: list[str] = field(default_factory=list)

    @property
    def peer_id(self) -> str:
        match = LISTEN_ADDR.fullmatch(self.addrs[0])
        assert match, self.addrs
        return match.group(2)

    def stderr(self) -> str:
        return self.stderr_path.read_text(encoding="utf-8", errors="backslashreplace")

    def node_log(self) -> str:
        return (self.home / "node.log").read_text(encoding="utf-8")

    def describe(self) -> str:
        return f"daemon exit {self.proc.poll()}\n--- its stderr\n{self.stderr()}"

    def stop(self, signum: int = signal.SIGTERM) -> tuple[int, float]:
        """Send ``signum``; return the exit status and how long the exit took."""
        began = time.monotonic()
        self.proc.send_signal(signum)
        try:
            status = self.proc.wait(timeout=STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            pytest.fail(f"the daemon did not stop within {STOP_TIMEOUT} s\n{self.describe()}")
        return status, time.monotonic() - began


def _read_line(stream: IO[bytes], deadline: float) -> bytes:
    """One line from a pipe, waiting at most until ``deadline``; b"" if the process exits."""
    data = b""
    fd = stream.fileno()
    while not data.endswith(b"\n"):
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise TimeoutError
        ready, _, _ = select.select([fd], [], [], remaining)
        if not ready:
            continue
        chunk = os.read(fd, 1)
        if not chunk:
            return data
        data += chunk
    return data


@pytest.fixture
def start_daemon(tmp_path: Path) -> Iterator[Callable[..., Daemon]]:
    """Start daemons; each is killed at the end of the test if it still runs."""
    started: list[Daemon] = []

    def start(
        home: Path,
        *args: str,
        env: Mapping[str, str] | None = None,
        listen: bool = True,
        ready: bool = True,
        verbose: bool = False,
    ) -> Daemon:
        stderr_path = tmp_path / f"daemon-{len(started)}.stderr"
        argv = [script(), "--home", str(home), *(["-v"] if verbose else []), "node", "--no-mdns"]
        if listen:
            argv += ["--listen", LOOPBACK]
        argv += list(args)
        with stderr_path.open("wb") as stderr:
            proc = subprocess.Popen(
                argv,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=stderr,
                env=scrubbed_env(home.parent / "user", env),
            )
        daemon = Daemon(home, proc, stderr_path)
        started.append(daemon)
        if ready:
            _wait_ready(daemon)
        return daemon

    yield start
    for daemon in started:
        if daemon.proc.poll() is None:
            daemon.proc.kill()
            daemon.proc.wait(timeout=STOP_TIMEOUT)
        if daemon.proc.stdout is not None:
            daemon.proc.stdout.close()


def _wait_ready(daemon: Daemon) -> None:
    """Wait for the one listen address on stdout; the control socket answers by then."""
    assert daemon.proc.stdout is not None
    try:
        line = _read_line(daemon.proc.stdout, time.monotonic() + START_TIMEOUT)
    except TimeoutError:
        pytest.fail(f"no listen address within {START_TIMEOUT} s\n{daemon.describe()}")
    if not line:
        daemon.proc.wait(timeout=STOP_TIMEOUT)
        pytest.fail(f"the daemon exited before listening\n{daemon.describe()}")
    daemon.addrs.append(line.decode().rstrip("\n"))
    assert LISTEN_ADDR.fullmatch(daemon.addrs[0]), daemon.addrs
    client = ControlClient.connect(daemon.home)
    assert client is not None, "the control socket must answer once the address is printed"
    client.close()


def wait_for(condition: Callable[[], bool], what: str, timeout: float = 10.0) -> None:
    """Poll ``condition`` until it holds, failing after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"{what}: not within {timeout} s")
        time.sleep(0.02)


@pytest.fixture
def home(tmp_path: Path) -> Path:
    path = tmp_path / "home"
    init(path, "--no-passphrase")
    return path


def status(home: Path) -> dict[str, Any]:
    value = ok(run("status", "--json", home=home)).json()
    assert isinstance(value, dict)
    return value


def assert_home_held(home: Path) -> None:
    """The home's lock is held by another process (the daemon)."""
    with pytest.raises(HomeLockedError):
        HomeLock.acquire(home / "lock").release()


# --- the daemon's life ------------------------------------------------------------------------


def test_post_goes_through_the_running_daemon(
    home: Path, start_daemon: Callable[..., Daemon]
) -> None:
    daemon = start_daemon(home)
    assert_home_held(home)
    posted = written(run("post", "hello through the daemon", home=home))
    # It could not have opened the home itself: the daemon holds the lock throughout.
    assert_home_held(home)
    assert re.search(r"control connection \d+ \(pid \d+\): post done", daemon.node_log())
    facts = status(home)
    assert (facts["running"], facts["pid"], facts["messages"]) == (True, daemon.proc.pid, 1)
    [item] = items(home, "timeline")  # readers read the index while the daemon runs
    assert (item["id"], item["text"]) == (posted, "hello through the daemon")
    assert daemon.stop()[0] == 0
    assert daemon.proc.stdout is not None
    assert daemon.proc.stdout.read() == b""  # nothing but the listen address on stdout
    ok(run("verify", home=home))


def test_every_write_command_goes_through_the_daemon(
    home: Path, tmp_path: Path, start_daemon: Callable[..., Daemon]
) -> None:
    bob_home = tmp_path / "bob"
    bob = init(bob_home, "--name", "Bob", "--no-passphrase")
    bob_post = written(run("post", "bob was here", home=bob_home))
    ok(run("export", tmp_path / "bob.p2s", home=bob_home))

    daemon = start_daemon(home)
    imported = ok(run("import", tmp_path / "bob.p2s", home=home)).stdout
    assert imported == (
        f"imported 2 new messages from {tmp_path / 'bob.p2s'} (0 already held, 0 fork evidence)\n"
    )
    post = written(run("post", "-", home=home, input="from stdin\n"))
    reply = ok(run("reply", bob_post[:SHORT_LEN], "hi bob", home=home)).stdout
    assert re.fullmatch(rf"replied {MESSAGE_ID.pattern}\n", reply), reply
    assert ok(run("react", bob_post, "👍", home=home)).stdout.startswith("reacted p2sm1")
    assert ok(run("repost", bob_post, home=home)).stdout.startswith("reposted p2sm1")
    followed = ok(run("follow", bob, home=home)).stdout
    assert re.fullmatch(rf"following {bob[:SHORT_LEN]}: {MESSAGE_ID.pattern}\n", followed)
    unfollowed = ok(run("unfollow", bob[:SHORT_LEN], home=home)).stdout
    assert unfollowed.startswith(f"unfollowed {bob[:SHORT_LEN]}: p2sm1")
    assert ok(run("profile", "--name", "Alice", home=home)).stdout.startswith("profile set: ")
    deleted = ok(run("delete", post, home=home)).stdout
    assert deleted.startswith(f"asked to delete {post[:SHORT_LEN]} (p2sm1")
    export = tmp_path / "alice.p2s"
    assert ok(run("export", export, home=home)).stdout == f"exported 10 messages to {export}\n"
    assert ok(run("reindex", home=home)).stdout == "reindexed 10 messages\n"

    # Errors come back as the same single line as offline.
    failed(run("reply", "p2sm1qqqqqqqq", "x", home=home), "no message matches", code=1)
    failed(run("follow", "not-an-id", home=home), code=1)
    failed(run("export", tmp_path / "missing" / "x.p2s", home=home), "missing", code=1)
    failed(run("import", tmp_path / "nothing.p2s", home=home), "nothing.p2s", code=1)
    failed(run("profile", "--bio", "x", bob, home=home), "your own profile", code=1)

    log = daemon.node_log()
    for method in ("import", "post", "reply", "react", "repost", "follow", "unfollow"):
        assert re.search(rf"\): {method} done", log), method
    for method in ("profile", "delete", "export", "reindex"):
        assert re.search(rf"\): {method} done", log), method
    me = ok(run("whoami", "--json", home=home)).json()
    assert (me["name"], me["messages"]) == ("Alice", 8)
    assert daemon.stop()[0] == 0
    assert ok(run("verify", home=home)).stdout.startswith("OK: 10 records")


def test_status_and_peers_as_json(home: Path, start_daemon: Callable[..., Daemon]) -> None:
    daemon = start_daemon(home)
    facts = status(home)
    assert facts["running"] is True
    assert facts["home"] == str(home)
    assert AUTHOR_ID.fullmatch(facts["author"])
    assert facts["uptime_s"] >= 0
    network = facts["network"]
    assert network["peer_id"] == daemon.peer_id
    assert network["listen"] == daemon.addrs
    assert ok(run("peers", "--json", home=home)).json() == []
    assert ok(run("peers", home=home)).stdout == "no peers yet\n"
    text = ok(run("status", home=home)).stdout
    assert f"peer id:   {daemon.peer_id}" in text
    assert daemon.addrs[0] in text
    assert NOT_RUNNING not in text


def test_connect_and_peers_between_two_daemons(
    home: Path, tmp_path: Path, start_daemon: Callable[..., Daemon]
) -> None:
    other_home = tmp_path / "other"
    init(other_home, "--no-passphrase")
    first, second = start_daemon(home), start_daemon(other_home)
    connected = ok(run("connect", second.addrs[0], home=home)).stdout
    assert connected == f"connected to {second.peer_id}\n"

    def sees_second() -> bool:
        peers = ok(run("peers", "--json", home=home)).json()
        return any(p["peer_id"] == second.peer_id and p["connected"] for p in peers)

    wait_for(sees_second, "the first node lists the second as connected")
    assert second.peer_id in ok(run("peers", home=home)).stdout
    failed(run("connect", "not-a-multiaddr", home=home), "not a multiaddr", code=1)
    assert first.stop()[0] == 0
    assert second.stop()[0] == 0


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_a_signal_stops_it_cleanly(
    home: Path, start_daemon: Callable[..., Daemon], signum: int
) -> None:
    daemon = start_daemon(home)
    sock = home / "control.sock"
    assert sock.exists()
    code, took = daemon.stop(signum)
    assert code == 0, daemon.describe()
    assert took < STOP_TIMEOUT
    assert not sock.exists()
    assert "Traceback" not in daemon.stderr()
    log = daemon.node_log()
    assert f"received {signal.Signals(signum).name}: stopping" in log
    assert log.rstrip().endswith("node stopped")
    HomeLock.acquire(home / "lock").release()  # the home is free again
    written(run("post", "offline again", home=home))


def test_a_second_node_on_the_same_home_is_refused(
    home: Path, start_daemon: Callable[..., Daemon]
) -> None:
    first = start_daemon(home)
    second = start_daemon(home, ready=False)
    assert second.proc.wait(timeout=START_TIMEOUT) == 1
    assert second.proc.stdout is not None
    assert second.proc.stdout.read() == b""
    lines = second.stderr().splitlines()
    assert len(lines) == 1, second.stderr()
    assert lines[0].startswith("p2psocial: error: ")
    assert "in use" in lines[0]
    assert str(first.proc.pid) in lines[0]
    written(run("post", "the first one still serves", home=home))


def test_an_encrypted_key_is_unlocked_once_at_start(
    tmp_path: Path, start_daemon: Callable[..., Daemon]
) -> None:
    home = tmp_path / "home"
    init(home, env={PASSPHRASE_ENV: PASSPHRASE})
    refused = start_daemon(home, ready=False)
    assert refused.proc.wait(timeout=START_TIMEOUT) == 1
    assert refused.stderr().count("\n") == 1
    assert PASSPHRASE_ENV in refused.stderr()
    wrong = start_daemon(home, env={PASSPHRASE_ENV: "not it"}, ready=False)
    assert wrong.proc.wait(timeout=START_TIMEOUT) == 1
    assert wrong.stderr().count("\n") == 1
    assert "passphrase" in wrong.stderr()

    start_daemon(home, env={PASSPHRASE_ENV: PASSPHRASE})
    # No passphrase here, no terminal: the daemon signs.
    written(run("post", "signed by the daemon", home=home))


def test_offline_runs_the_control_socket_without_a_network(
    home: Path, start_daemon: Callable[..., Daemon]
) -> None:
    daemon = start_daemon(home, "--offline", listen=False, ready=False)

    def answers() -> bool:
        assert daemon.proc.poll() is None, daemon.describe()
        client = ControlClient.connect(home)
        if client is None:
            return False
        client.close()
        return True

    wait_for(answers, "the offline daemon's control socket answers", timeout=START_TIMEOUT)
    written(run("post", "no network needed", home=home))
    facts = status(home)
    assert (facts["running"], facts["network"], facts["messages"]) == (True, None, 1)
    assert "network:   none" in ok(run("status", home=home)).stdout
    assert ok(run("peers", "--json", home=home)).json() == []
    failed(run("connect", "/ip4/127.0.0.1/tcp/1/p2p/12D3KooWx", home=home), "without a network")
    assert daemon.stop()[0] == 0
    assert daemon.proc.stdout is not None
    assert daemon.proc.stdout.read() == b""


# --- bad starts ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["--listen", "nonsense"], "not a multiaddr"),
        (["--peer", "/ip4/127.0.0.1/tcp/1"], "/p2p/"),
        (["--peer", "/ip4/999.0.0.1/tcp/1"], "not a multiaddr"),
    ],
    ids=["bad-listen", "peer-without-id", "bad-peer"],
)
def test_a_bad_multiaddr_is_one_line(
    home: Path, start_daemon: Callable[..., Daemon], args: list[str], says: str
) -> None:
    daemon = start_daemon(home, *args, listen=args[0] != "--listen", ready=False)
    assert daemon.proc.wait(timeout=START_TIMEOUT) == 1
    lines = daemon.stderr().splitlines()
    assert len(lines) == 1, daemon.stderr()
    assert says in lines[0]
    assert not (home / "control.sock").exists()


def test_a_bad_config_is_one_line(home: Path) -> None:
    (home / "config.toml").write_text("[network]\nmnds = false\n", encoding="utf-8")
    failed(run("node", "--no-mdns", "--listen", LOOPBACK, home=home), "unknown setting", code=1)


def test_an_uninitialised_home_is_one_line(tmp_path: Path) -> None:
    failed(
        run("node", "--no-mdns", "--listen", LOOPBACK, home=tmp_path / "nothing"),
        "p2psocial init",
        code=1,
    )


def test_a_port_in_use_stops_it_with_an_error(home: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        result = run("node", "--no-mdns", "--listen", f"/ip4/127.0.0.1/tcp/{port}", home=home)
    assert result.returncode == 1, result.describe()
    assert "Traceback" not in result.stderr
    assert result.stdout == ""
    # py-libp2p's own ERROR line says why; ours is the last line.
    assert "Address already in use" in result.stderr
    assert result.err_lines[-1] == (
        f"p2psocial: error: could listen on only 0 of 1 addresses (/ip4/127.0.0.1/tcp/{port});"
        " is the port in use? (choose another with --listen)"
    )
    assert not (home / "control.sock").exists()
    log = (home / "node.log").read_text(encoding="utf-8")
    assert "the node stopped: could listen on only 0 of 1 addresses" in log
    assert "Traceback" not in log


# --- without a daemon ----------------------------------------------------------------------------


def test_status_without_a_daemon_tells_what_the_home_holds(home: Path) -> None:
    written(run("post", "offline", home=home))
    text = ok(run("status", home=home)).stdout
    assert text.rstrip().endswith(NOT_RUNNING)
    assert f"home:      {home}" in text
    assert "1 messages from 1 authors" in text
    facts = status(home)
    assert facts["running"] is False
    assert (facts["messages"], facts["authors"], facts["forks"]) == (1, 1, 0)
    assert facts["log_bytes"] > 0
    assert "network" not in facts


def test_peers_and_connect_need_a_daemon(home: Path) -> None:
    failed(run("peers", home=home), NOT_RUNNING, code=1)
    failed(run("peers", "--json", home=home), NOT_RUNNING, code=1)
    failed(run("connect", "/ip4/127.0.0.1/tcp/1/p2p/12D3KooWx", home=home), NOT_RUNNING, code=1)


def test_a_stale_socket_is_ignored_then_replaced(
    home: Path, start_daemon: Callable[..., Daemon]
) -> None:
    stale = home / "control.sock"
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.bind(str(stale))
    written(run("post", "works offline beside a stale socket", home=home))
    assert stale.exists()
    start_daemon(home)
    assert status(home)["running"] is True


# --- logging -------------------------------------------------------------------------------------


def _record(name: str, level: int, message: str) -> logging.LogRecord:
    return logging.LogRecord(name, level, __file__, 1, message, None, None)


def test_known_libp2p_noise_is_demoted_and_the_rest_kept() -> None:
    noisy = [
        _record("libp2p.host.basic_host", logging.ERROR, "Failed to open stream to peer X"),
        _record("libp2p.protocol_muxer.multiselect_client", logging.ERROR, "anything"),
        _record("libp2p.network.swarm", logging.WARNING, "[ADDCONN_FAIL] closing"),
        _record(
            "libp2p.tools.anyio_service.TrioManager.Swarm", logging.ERROR, "task exited with error"
        ),
    ]
    kept = [
        _record("libp2p.pubsub.pubsub", logging.WARNING, "fail to deliver message to subscription"),
        _record("libp2p.network.swarm", logging.ERROR, "something new"),
        _record("p2psocial.net", logging.ERROR, "Failed to open stream to peer X"),
    ]
    assert all(is_libp2p_noise(r) for r in noisy)
    assert not any(is_libp2p_noise(r) for r in kept)
    quiet, verbose = DemoteLibp2pNoise(show_debug=False), DemoteLibp2pNoise(show_debug=True)
    for record in noisy:
        assert not quiet.filter(record)
        assert verbose.filter(record)
        assert (record.levelno, record.levelname) == (logging.DEBUG, "DEBUG")
    for record in kept:
        level = record.levelno
        assert quiet.filter(record)
        assert record.levelno == level


def test_the_daemon_log_file_is_owner_only_and_has_context(
    home: Path, start_daemon: Callable[..., Daemon]
) -> None:
    daemon = start_daemon(home)
    written(run("post", "logged", home=home))
    assert daemon.stop()[0] == 0
    assert (home / "node.log").stat().st_mode & 0o777 == 0o600
    log = daemon.node_log()
    assert f"node starting: home {home}" in log
    assert f"node running: peer id {daemon.peer_id}" in log
    assert daemon.stderr() == ""  # a quiet node: stderr has warnings and errors only


def test_verbose_logs_to_stderr_too(home: Path, start_daemon: Callable[..., Daemon]) -> None:
    daemon = start_daemon(home, verbose=True)
    written(run("post", "logged", home=home))
    assert daemon.stop()[0] == 0
    stderr = daemon.stderr()
    assert "INFO p2psocial.daemon: node starting" in stderr
    assert re.search(r"control connection \d+ \(pid \d+\): post done", stderr)
