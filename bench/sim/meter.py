"""What each simulated node costs: real bytes on its TCP connections, and CPU.

**Bytes.** py-libp2p wraps every TCP connection, dialled or accepted, in a
``RawConnection`` and hands it to its host's ``TransportUpgrader.upgrade_security`` before
Noise and yamux go on top. :meth:`ByteMeter.attach` puts a counter around that raw stream,
so it counts every byte the node writes to and reads from its sockets: Noise handshakes and
framing, yamux headers and window updates, gossipsub RPCs (with their signed peer records),
identify, sync and peer exchange. TCP/IP headers are not counted.

**CPU.** Nodes in one process share it, so a node's CPU is attributed by trio task:
:class:`CpuByNode` is a trio instrument that charges each task step's thread CPU time
(``time.thread_time``) to the node whose task tree the task belongs to. Work that a node
hands to worker threads (fsync, SQLite, signature checks in sync) is not in that figure;
the process's total CPU (``time.process_time``, all threads) is reported beside it.
"""

from __future__ import annotations

import time
from typing import Any

import trio
from trio.lowlevel import Task

from p2psocial.net.network import Network


class ByteMeter:
    """Bytes one node sent and received on its connections, across restarts."""

    def __init__(self) -> None:
        self.sent = 0
        self.received = 0
        self.connections = 0

    def attach(self, net: Network) -> None:
        """Count every connection ``net``'s host makes or accepts from now on."""
        upgrader: Any = net._host.get_network().upgrader  # type: ignore[attr-defined]
        secure = upgrader.upgrade_security
        meter = self

        async def upgrade_security(raw_conn: Any, is_initiator: bool, peer_id: Any = None) -> Any:
            raw_conn.stream = _Counted(raw_conn.stream, meter)
            meter.connections += 1
            return await secure(raw_conn, is_initiator, peer_id)

        upgrader.upgrade_security = upgrade_security

    def snapshot(self) -> tuple[int, int]:
        """(sent, received) so far."""
        return self.sent, self.received


class _Counted:
    """A raw stream that counts what passes through it."""

    def __init__(self, inner: Any, meter: ByteMeter) -> None:
        self._inner = inner
        self._meter = meter

    async def write(self, data: bytes) -> None:
        await self._inner.write(data)
        self._meter.sent += len(data)

    async def read(self, n: int | None = None) -> bytes:
        data: bytes = await self._inner.read(n)
        self._meter.received += len(data)
        return data

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)


class CpuByNode(trio.abc.Instrument):
    """Main-thread CPU seconds per node, by the task tree each task descends from."""

    def __init__(self) -> None:
        self.seconds: dict[int, float] = {}
        self._owner: dict[Task, int] = {}
        self._started = 0.0

    def own(self, node: int) -> None:
        """Charge the current task, and every task it or its children start, to ``node``."""
        self._owner[trio.lowlevel.current_task()] = node

    def task_spawned(self, task: Task) -> None:
        nursery = task.parent_nursery
        parent = nursery.parent_task if nursery is not None else None
        if parent is not None and parent in self._owner:
            self._owner[task] = self._owner[parent]

    def task_exited(self, task: Task) -> None:
        self._owner.pop(task, None)

    def before_task_step(self, task: Task) -> None:
        self._started = time.thread_time()

    def after_task_step(self, task: Task) -> None:
        node = self._owner.get(task)
        if node is not None:
            self.seconds[node] = self.seconds.get(node, 0.0) + time.thread_time() - self._started
