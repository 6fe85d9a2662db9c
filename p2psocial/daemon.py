"""The headless daemon behind ``p2psocial node``.

:func:`run_daemon` opens the node (which takes the home's lock), then runs the network and
the control socket (p2psocial.control) in one trio nursery. Once both are up it prints each
full listen multiaddr (with ``/p2p/<peer id>``) on stdout, one per line, and nothing else
on stdout, so a script can read them. It logs to ``HOME/node.log`` (INFO and up, rotated at
5 MB, three old files kept) and to stderr (WARNING and up; everything with ``--verbose``).
SIGINT or SIGTERM stops it cleanly: the network closes its connections, the control socket
file is removed, the log and index are closed, and it exits 0. A second signal, or a stop
that takes longer than :data:`STOP_GRACE` seconds, ends the process at once (the log is
fsynced per write, so nothing acknowledged is lost).

py-libp2p logs under ``libp2p``, with no handler and ``propagate`` off; here its records
flow into the daemon's handlers at WARNING and above, and the known-noisy ones (teardown
chatter, dials that race a closing peer; :data:`LIBP2P_NOISE`) are demoted to DEBUG,
shown only with ``--verbose``.
"""

from __future__ import annotations

import logging
import logging.handlers
import os
import signal
import sys
from collections.abc import AsyncIterator, Iterator, Sequence
from contextlib import contextmanager
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Final, NoReturn

import trio

from . import keystore
from .config import Config, load_config
from .control import serve_control, socket_path
from .errors import P2PSocialError, PassphraseRequiredError
from .home import HomePaths
from .node import Node, Passphrase, open_node
from .store.lock import HomeLock

if TYPE_CHECKING:
    from .net.network import Network

log = logging.getLogger(__name__)

LOG_FILENAME: Final = "node.log"
LOG_MAX_BYTES: Final = 5 * 1024 * 1024
LOG_BACKUPS: Final = 3
LOG_FORMAT: Final = "%(asctime)s %(levelname)s %(name)s: %(message)s"
STOP_GRACE: Final = 10.0
"""Seconds a stop may take before the process exits regardless."""
EXIT_FORCED: Final = 1

LIBP2P_NOISE: Final = (
    ("libp2p.host.basic_host", "Failed to open stream to peer"),
    ("libp2p.protocol_muxer.multiselect_client", ""),
    ("libp2p.network.swarm", "failed to upgrade security"),
    ("libp2p.network.swarm", "[ADDCONN_FAIL]"),
    ("libp2p.transport.tcp.tcp", "Failed to open TCP stream"),
    ("libp2p.pubsub.gossipsub", "Rate limit exceeded"),
    ("libp2p.pubsub.gossipsub", "GRAFT flood detected"),
    ("libp2p.tools.anyio_service", "exited with error"),
)
"""(logger, message fragment) of py-libp2p records demoted to DEBUG; an empty fragment
matches every record of that logger (and its children). "fail to deliver message to
subscription" is deliberately not here: it means a message was lost to a full queue."""
QUIET_LOGGERS: Final = (
    "libp2p.network.auto_connector",  # sets itself to INFO and reports every 10 s
    "multiaddr",  # a DEBUG line per address component, even with --verbose too many
)
"""Loggers held at WARNING even with ``--verbose``."""


def run_daemon(
    home: Path,
    *,
    listen: Sequence[str] | None = None,
    peers: Sequence[str] = (),
    mdns: bool | None = None,
    passphrase: Passphrase = None,
    verbose: bool = False,
    offline: bool = False,
) -> int:
    """Run the node until SIGINT or SIGTERM; call it from the main thread.

    Args:
        home: An initialised home directory.
        listen: Multiaddrs to listen on, instead of the config's ``network.listen``.
        peers: Bootstrap peers to dial besides the config's ``network.peers``.
        mdns: Whether to use mDNS; None takes the config's ``network.mdns``.
        passphrase: For an encrypted key: the passphrase or a function asked once at start
            (the key is unlocked then, so a wrong one fails at once, not at the first post).
        verbose: Log DEBUG records too, and everything on stderr as well as in the file.
        offline: Run the control socket without a network (tests, maintenance).

    Returns:
        The exit status: 0 after a clean stop.

    Raises:
        ConfigError: ``HOME/config.toml`` is malformed.
        NotInitializedError: ``home`` has no identity.
        HomeLockedError: Another process (such as another daemon) has ``home`` open.
        InputError: A multiaddr does not parse.
        PassphraseRequiredError, WrongPassphraseError: The key cannot be unlocked.
        NetworkError, OSError: The network or the control socket cannot start.
    """
    config = load_config(home)
    keystore.read_public_key(home)  # a clear error for a home that is not one, before anything
    _check_free(home)
    network_class = None if offline else _network_class()
    secret = _unlock(home, passphrase)
    with daemon_logging(verbose=verbose):
        try:
            return trio.run(
                partial(
                    _main,
                    home,
                    config,
                    network_class,
                    listen=listen,
                    peers=peers,
                    mdns=mdns,
                    passphrase=secret,
                    verbose=verbose,
                )
            )
        except BaseExceptionGroup as group:
            leaf = _single_leaf(group)
            if isinstance(leaf, P2PSocialError | OSError):
                raise leaf from None
            raise


def _check_free(home: Path) -> None:
    """Fail early, before asking for a passphrase, if another process has the home.

    Only a courtesy: the node takes the lock for real when it opens.
    """
    HomeLock.acquire(HomePaths(home).lock).release()


def _unlock(home: Path, passphrase: Passphrase) -> str | None:
    """Ask for the passphrase once, at start (the node checks it before going online)."""
    if not keystore.is_encrypted(home):
        return None
    secret = passphrase() if callable(passphrase) else passphrase
    if secret is None:
        raise PassphraseRequiredError(
            "the identity key is encrypted: a passphrase is needed to run the node"
        )
    return secret


def _network_class() -> type[Network]:
    # Imported here, not at the top: py-libp2p takes ~0.5 s to import, and the command
    # line imports this module for every command.
    from .net.network import Network  # noqa: PLC0415

    return Network


async def _main(
    home: Path,
    config: Config,
    network_class: type[Network] | None,
    *,
    listen: Sequence[str] | None,
    peers: Sequence[str],
    mdns: bool | None,
    passphrase: str | None,
    verbose: bool,
) -> int:
    # Signals are caught from here on; one that arrives while starting is acted on as soon
    # as the watcher below runs.
    with trio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
        async with open_node(home, passphrase=passphrase) as node:
            await node.unlock()  # one key derivation, before going online
            with _file_logging(home, verbose=verbose):
                log.info(
                    "node starting: home %s, author %s, pid %s", home, node.me.short, os.getpid()
                )
                network = (
                    None
                    if network_class is None
                    else network_class(node, config, listen=listen, peers=peers, mdns=mdns)
                )
                stop = trio.CancelScope()
                async with trio.open_nursery() as outer:
                    outer.start_soon(_watch_signals, signals, stop)
                    with stop:
                        await _serve(node, network, home)
                    outer.cancel_scope.cancel()
                log.info("node stopped")
    return 0


async def _serve(node: Node, network: Network | None, home: Path) -> None:
    async with trio.open_nursery() as nursery:
        if network is not None:
            await nursery.start(network.run)  # raises NetworkError if it cannot listen
        await nursery.start(serve_control, node, network, home)
        if network is None:
            log.info("running without a network (--offline); control socket %s", socket_path(home))
        else:
            addrs = network.listen_addrs
            for addr in addrs:
                sys.stdout.write(f"{addr}\n")
            sys.stdout.flush()
            log.info("node running: peer id %s", network.peer_id)


async def _watch_signals(signals: AsyncIterator[int], stop: trio.CancelScope) -> None:
    first = await anext(signals)
    log.info("received %s: stopping", signal.Signals(first).name)
    stop.cancel()
    with trio.move_on_after(STOP_GRACE):
        again = await anext(signals)
        _exit_now(f"received {signal.Signals(again).name} again: exiting at once")
    _exit_now(f"did not stop within {STOP_GRACE:g} s: exiting at once")


def _exit_now(reason: str) -> NoReturn:
    log.error("%s", reason)
    for handler in logging.getLogger().handlers:
        handler.flush()
    os._exit(EXIT_FORCED)


def _single_leaf(group: BaseExceptionGroup[BaseException]) -> BaseException | None:
    """The one exception inside nested groups, or None if there are several."""
    leaves: list[BaseException] = []
    pending: list[BaseException] = [group]
    while pending:
        exc = pending.pop()
        if isinstance(exc, BaseExceptionGroup):
            pending.extend(exc.exceptions)
        else:
            leaves.append(exc)
    return leaves[0] if len(leaves) == 1 else None


# --- logging ---------------------------------------------------------------------------


def is_libp2p_noise(record: logging.LogRecord) -> bool:
    """Whether ``record`` is one of py-libp2p's known-noisy ones (:data:`LIBP2P_NOISE`)."""
    if not record.name.startswith("libp2p"):
        return False
    for name, fragment in LIBP2P_NOISE:
        if (record.name == name or record.name.startswith(name + ".")) and (
            fragment in record.getMessage()
        ):
            return True
    return False


class DemoteLibp2pNoise(logging.Filter):
    """A handler filter that turns py-libp2p's known-noisy records into DEBUG records.

    It belongs on handlers: a logger's filters see only the records logged on that very
    logger, not on its children.
    """

    def __init__(self, *, show_debug: bool) -> None:
        """Create the filter.

        Args:
            show_debug: Let demoted records through (as DEBUG) instead of dropping them.
        """
        super().__init__()
        self._show_debug = show_debug

    def filter(self, record: logging.LogRecord) -> bool:
        """Demote ``record`` if it is noise; say whether the handler should emit it."""
        if is_libp2p_noise(record):
            record.levelno, record.levelname = logging.DEBUG, "DEBUG"
            return self._show_debug
        return True


@contextmanager
def daemon_logging(*, verbose: bool) -> Iterator[None]:
    """Log to stderr, with py-libp2p routed in; undone on exit.

    stderr gets WARNING and above (a headless node stays quiet), or everything from DEBUG
    up if ``verbose``; ``HOME/node.log``, added once the home is ours, gets INFO and up
    (DEBUG if ``verbose``).

    Args:
        verbose: Log DEBUG records too, and INFO records on stderr.
    """
    root = logging.getLogger()
    libp2p = logging.getLogger("libp2p")
    saved = (root.level, libp2p.level, libp2p.propagate)
    handler = logging.StreamHandler(sys.stderr)
    handler.setLevel(logging.DEBUG if verbose else logging.WARNING)
    handler.setFormatter(logging.Formatter(LOG_FORMAT))
    handler.addFilter(DemoteLibp2pNoise(show_debug=verbose))
    root.setLevel(logging.DEBUG if verbose else logging.INFO)
    root.addHandler(handler)
    libp2p.propagate = True
    libp2p.setLevel(logging.WARNING)
    quiet = {name: logging.getLogger(name) for name in QUIET_LOGGERS}
    quiet_saved = {name: logger.level for name, logger in quiet.items()}
    for logger in quiet.values():
        logger.setLevel(logging.WARNING)
    try:
        yield
    finally:
        root.removeHandler(handler)
        root.setLevel(saved[0])
        libp2p.setLevel(saved[1])
        libp2p.propagate = saved[2]
        for name, logger in quiet.items():
            logger.setLevel(quiet_saved[name])


@contextmanager
def _file_logging(home: Path, *, verbose: bool) -> Iterator[None]:
    """Also log to ``HOME/node.log`` (owner-only); only while this process owns the home."""
    path = home / LOG_FILENAME
    os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_CLOEXEC, 0o600))
    handler = logging.handlers.RotatingFileHandler(
        path, maxBytes=LOG_MAX_BYTES, backupCount=LOG_BACKUPS, encoding="utf-8"
    )
    handler.setFormatter(logging.Formatter(LOG_FORMAT))
    handler.addFilter(DemoteLibp2pNoise(show_debug=verbose))
    root = logging.getLogger()
    root.addHandler(handler)
    try:
        yield
    except Exception as exc:
        # Into the file only: the command line prints the error itself, once, on stderr.
        leaf = _single_leaf(exc) if isinstance(exc, BaseExceptionGroup) else exc
        expected = isinstance(leaf, P2PSocialError | OSError)
        record = log.makeRecord(
            log.name,
            logging.ERROR,
            __file__,
            0,
            "the node stopped: %s",
            (leaf if expected else exc,),
            None if expected else (type(exc), exc, exc.__traceback__),
        )
        handler.handle(record)
        raise
    finally:
        root.removeHandler(handler)
        handler.close()


__all__ = [
    "LIBP2P_NOISE",
    "LOG_FILENAME",
    "STOP_GRACE",
    "DemoteLibp2pNoise",
    "daemon_logging",
    "is_libp2p_noise",
    "run_daemon",
]
