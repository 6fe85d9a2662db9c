"""Anchors: what the hardware and the crypto library can do, measured in the same run.

A figure on its own says little on an unknown machine; beside its anchor it says how close
the code comes to what the machine allows:

- ``anchor.verify``: raw PyNaCl Ed25519 verification of ~200-byte messages
  (``VerifyKey.verify``, keys built beforehand), the ceiling of any ingest path that checks
  every signature;
- ``anchor.fsync_write``: sequential writes of 1 MiB blocks with an fsync after each, in the
  file system the store lives in: the ceiling of the log's bulk throughput;
- ``anchor.fsync_append``: one small (~400 byte) append and fsync at a time: the ceiling of
  ingesting messages one by one, as gossip delivers them;
- ``anchor.fsync.<size>``: sequential writes of 4 KiB to 1 MiB batches, an fsync after
  each: MB/s, and fsyncs per second in the note (what a group commit of that size can do);
- ``anchor.tcp_loopback``: one plain TCP stream on 127.0.0.1, Python on both ends;
- ``anchor.libp2p_stream``: one libp2p stream (Noise, yamux) between two hosts in one
  process, as nodes build them: the ceiling of sync and backfill.
"""

from __future__ import annotations

import os
import socket
import statistics
import threading
import time
from pathlib import Path
from typing import Any, Final

import trio
from nacl.signing import SigningKey, VerifyKey

from .report import Entry

MESSAGE_BYTES: Final = 200
KEYS: Final = 64
BLOCK: Final = 1024 * 1024
SMALL_RECORD: Final = 400


def verify_rate(count: int, *, repeats: int = 3) -> Entry:
    """Ed25519 verifications per second (median of ``repeats`` runs of ``count``)."""
    keys = [SigningKey(bytes([i]) * 32) for i in range(KEYS)]
    cases: list[tuple[VerifyKey, bytes, bytes]] = []
    for i in range(count):
        key = keys[i % KEYS]
        message = i.to_bytes(8, "big") * (MESSAGE_BYTES // 8)
        cases.append((key.verify_key, message, key.sign(message).signature))
    rates = []
    for _ in range(repeats):
        started = time.perf_counter()
        for verify_key, message, signature in cases:
            verify_key.verify(message, signature)
        rates.append(count / (time.perf_counter() - started))
    return Entry(
        "anchor.verify",
        statistics.median(rates),
        "msgs/s",
        params={"message_bytes": MESSAGE_BYTES, "count": count, "repeats": repeats},
    )


def fsync_write_rate(directory: Path, total_mib: int) -> Entry:
    """Sequential write throughput in MB/s, 1 MiB blocks, fsync after each block."""
    path = directory / "anchor-fsync-write.bin"
    block = os.urandom(BLOCK)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        started = time.perf_counter()
        for _ in range(total_mib):
            os.write(fd, block)
            os.fsync(fd)
        elapsed = time.perf_counter() - started
    finally:
        os.close(fd)
        path.unlink()
    return Entry(
        "anchor.fsync_write",
        total_mib * BLOCK / elapsed / 1e6,
        "MB/s",
        params={"block_bytes": BLOCK, "blocks": total_mib, "directory": str(directory)},
    )


def fsync_append_rate(directory: Path, count: int) -> Entry:
    """Small appends per second with an fsync after each (the one-at-a-time ceiling)."""
    path = directory / "anchor-fsync-append.bin"
    record = os.urandom(SMALL_RECORD)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_APPEND, 0o600)
    try:
        started = time.perf_counter()
        for _ in range(count):
            os.write(fd, record)
            os.fsync(fd)
        elapsed = time.perf_counter() - started
    finally:
        os.close(fd)
        path.unlink()
    return Entry(
        "anchor.fsync_append",
        count / elapsed,
        "ops/s",
        params={"record_bytes": SMALL_RECORD, "count": count},
    )


# --- sequential writes with fsync, batch sizes from 4 KiB to 1 MiB ---------------------------

FSYNC_SIZES: Final = (4096, 16384, 65536, 262144, BLOCK)


def fsync_sweep(directory: Path, total_mib: int, *, max_batches: int = 2000) -> list[Entry]:
    """Sequential writes with an fsync after each batch, one entry per batch size: MB/s as
    the value, fsyncs per second in the note. Each size writes ``total_mib`` MiB or
    ``max_batches`` batches, whichever is less."""
    out = []
    for size in FSYNC_SIZES:
        batches = max(64, min(max_batches, total_mib * BLOCK // size))
        path = directory / f"anchor-fsync-{size}.bin"
        block = os.urandom(size)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            started = time.perf_counter()
            for _ in range(batches):
                os.write(fd, block)
                os.fsync(fd)
            elapsed = time.perf_counter() - started
        finally:
            os.close(fd)
            path.unlink()
        syncs = batches / elapsed
        out.append(
            Entry(
                f"anchor.fsync.{_size_name(size)}",
                batches * size / elapsed / 1e6,
                "MB/s",
                note=f"{syncs:,.0f} fsyncs/s",
                params={"batch_bytes": size, "batches": batches, "fsyncs_per_s": round(syncs)},
            )
        )
    return out


def _size_name(size: int) -> str:
    return f"{size // BLOCK}m" if size >= BLOCK else f"{size // 1024}k"


# --- loopback streams: plain TCP, and libp2p (Noise + yamux) -----------------------------------

CHUNK: Final = 64 * 1024


def tcp_loopback_rate(total_mib: int) -> Entry:
    """MB/s through one plain TCP connection on 127.0.0.1: a thread sends ``total_mib`` MiB
    in 64 KiB writes, the main thread reads it all (the kernel's loopback ceiling for one
    stream, with Python on both ends)."""
    total = total_mib * BLOCK
    with socket.create_server(("127.0.0.1", 0)) as server:
        port = server.getsockname()[1]
        sender = threading.Thread(target=_send_all, args=(port, total), daemon=True)
        sender.start()
        conn, _ = server.accept()
        with conn:
            buffer = bytearray(CHUNK * 4)
            view = memoryview(buffer)
            received = 0
            started = time.perf_counter()
            while received < total:
                n = conn.recv_into(view)
                if n == 0:
                    raise RuntimeError("loopback sender stopped early")
                received += n
            elapsed = time.perf_counter() - started
        sender.join()
    return Entry(
        "anchor.tcp_loopback",
        total / elapsed / 1e6,
        "MB/s",
        params={"bytes": total, "chunk_bytes": CHUNK},
    )


def _send_all(port: int, total: int) -> None:
    chunk = os.urandom(CHUNK)
    with socket.create_connection(("127.0.0.1", port)) as sock:
        sent = 0
        while sent < total:
            sock.sendall(chunk)
            sent += len(chunk)


def libp2p_stream_rate(total_mib: int) -> Entry:
    """MB/s over one libp2p stream between two hosts in this process, built as a node builds
    its host (TCP on 127.0.0.1, Noise, yamux; ``p2psocial.net.host.make_host``): the ceiling
    of anything a node sends over streams (sync, backfill)."""
    total = total_mib * BLOCK
    seconds = trio.run(_libp2p_stream, total)
    return Entry(
        "anchor.libp2p_stream",
        total / seconds / 1e6,
        "MB/s",
        params={"bytes": total, "chunk_bytes": CHUNK, "security": "noise", "muxer": "yamux"},
    )


async def _libp2p_stream(total: int) -> float:
    # Imported here: the other anchors need neither trio's network stack nor libp2p.
    import multiaddr  # noqa: PLC0415
    from libp2p.crypto.ed25519 import create_new_key_pair  # noqa: PLC0415
    from libp2p.custom_types import TProtocol  # noqa: PLC0415
    from libp2p.peer.peerinfo import info_from_p2p_addr  # noqa: PLC0415

    from p2psocial.net.host import full_addrs, make_host  # noqa: PLC0415

    protocol = TProtocol("/p2psocial-bench/sink/1")
    listen = [multiaddr.Multiaddr("/ip4/127.0.0.1/tcp/0")]
    sink, source = (make_host(create_new_key_pair(os.urandom(32)), listen) for _ in range(2))
    done = trio.Event()
    received = 0

    async def drain(stream: Any) -> None:
        nonlocal received
        try:
            while received < total:
                data = await stream.read(CHUNK * 4)
                if not data:
                    break
                received += len(data)
            await stream.write(b"ok")
        finally:
            done.set()
            await stream.close()

    sink.set_stream_handler(protocol, drain)
    with trio.fail_after(120):
        async with sink.run(listen_addrs=listen), source.run(listen_addrs=listen):
            try:
                await source.connect(info_from_p2p_addr(multiaddr.Multiaddr(full_addrs(sink)[0])))
                stream = await source.new_stream(sink.get_id(), [protocol])
                chunk = os.urandom(CHUNK)
                started = time.perf_counter()
                for _ in range(total // CHUNK):
                    await stream.write(chunk)
                await done.wait()
                elapsed = time.perf_counter() - started
                await stream.close()
            finally:
                # py-libp2p leaves listeners and connections open when cancelled.
                with trio.CancelScope(shield=True), trio.move_on_after(3):
                    for host in (source, sink):
                        network = host.get_network()
                        for listener in list(network.listeners.values()):
                            await listener.close()
                        for peer in list(host.get_connected_peers()):
                            await network.close_peer(peer)
    if received < total:
        raise RuntimeError(f"libp2p stream delivered {received} of {total} bytes")
    return elapsed
