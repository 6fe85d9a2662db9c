"""Real homes and nodes for the harnesses that need a store, and a libp2p-shaped stream
over trio's in-memory streams for driving p2psocial.net.sync without a network.
"""

from __future__ import annotations

import hashlib
import logging
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from types import SimpleNamespace
from typing import Final

import trio
import trio.testing
from libp2p.network.stream.exceptions import StreamEOF
from libp2p.peer.id import ID

from p2psocial.admission import Admission
from p2psocial.config import DEFAULTS
from p2psocial.core.postage import PostagePolicy
from p2psocial.net.sync import Incident, SyncService
from p2psocial.node import Node, init_home, open_node
from p2psocial.store.log import Log

from . import seeds

VOLATILE: Final = ("-shm", "control.sock", "lock", "node.log")
"""Home files that change without anything being stored (readers' marks, the socket)."""
PEER: ID = ID(b"\x00\x24\x08\x01\x12\x20" + b"\x42" * 32)
"""The (made-up) peer id the memory streams claim to come from."""


async def _fill(home: Path, share: int) -> None:
    async with open_node(home) as node:
        await node.post("hello from the node under test")
        await node.ingest([m.to_bytes() for m in seeds.messages()[:share]], source="import")


def make_home(parent: Path, *, share: int = 9) -> Path:
    """An initialised home holding one own post and the first ``share`` factory messages.

    Args:
        parent: A directory to create the home in.
        share: How many of :func:`tests.fuzz.seeds.messages` to store.
    """
    home = Path(tempfile.mkdtemp(prefix="home-", dir=parent))
    shutil.rmtree(home)
    init_home(home, passphrase=None)
    trio.run(_fill, home, share)
    return home


def copy_home(template: Path, parent: Path) -> Path:
    """A fresh copy of a (closed) home, for one example."""
    target = Path(tempfile.mkdtemp(prefix="copy-", dir=parent))
    shutil.copytree(template, target, dirs_exist_ok=True, ignore=shutil.ignore_patterns("lock"))
    return target


def log_end(home: Path) -> int:
    """Where the home's log ends (read-only; works beside a running node)."""
    with Log.open(home / "log", writable=False) as log:
        return log.end


def snapshot(home: Path) -> dict[str, str]:
    """What is stored in a home: every file but the volatile ones, by content hash."""
    return {
        str(path.relative_to(home)): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted(home.rglob("*"))
        if path.is_file() and not path.name.endswith(VOLATILE)
    }


class MemoryNetStream:
    """What p2psocial.net.sync uses of libp2p's ``INetStream``, over a trio memory stream.

    ``read`` returns what is buffered (as a yamux stream does) and raises StreamEOF once
    the other side has closed its end.
    """

    def __init__(self, stream: trio.StapledStream, peer: ID = PEER) -> None:
        self._stream = stream
        self._buffer = bytearray()
        self.muxed_conn = SimpleNamespace(peer_id=peer)

    async def read(self, n: int | None = None) -> bytes:
        if not self._buffer:
            try:
                chunk = await self._stream.receive_some()
            except (trio.BrokenResourceError, trio.ClosedResourceError):
                chunk = b""
            if not chunk:
                raise StreamEOF("the other side closed the stream")
            self._buffer += chunk
        size = len(self._buffer) if n is None else min(n, len(self._buffer))
        data = bytes(self._buffer[:size])
        del self._buffer[:size]
        return data

    async def write(self, data: bytes) -> None:
        await self._stream.send_all(data)

    async def close(self) -> None:
        await self._stream.aclose()


def stream_pair() -> tuple[MemoryNetStream, trio.StapledStream]:
    """A stream for net/sync.py and the raw trio stream at its other end."""
    ours, theirs = trio.testing.memory_stream_pair()
    return MemoryNetStream(ours), theirs


def sync_service(node: Node, host: object, incident: Incident) -> SyncService:
    """A SyncService as Network builds one, asking no postage (so that what a peer sends
    reaches validation and the store), with a short timeout."""
    admission = Admission(node.distance, PostagePolicy(0, 0, 0), DEFAULTS.limits)
    return SyncService(
        node,
        host,  # type: ignore[arg-type]
        replace(DEFAULTS.sync, timeout=5.0),
        incident,
        admission=admission,
    )


@contextmanager
def errors_logged() -> Iterator[list[logging.LogRecord]]:
    """Collect ERROR records of the library (a traceback logged is a failure)."""
    records: list[logging.LogRecord] = []
    handler = logging.Handler(logging.ERROR)
    handler.emit = records.append  # type: ignore[method-assign]
    logger = logging.getLogger("p2psocial")
    logger.addHandler(handler)
    try:
        yield records
    finally:
        logger.removeHandler(handler)
