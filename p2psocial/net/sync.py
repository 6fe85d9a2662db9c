"""Sync over libp2p streams: the I/O around :mod:`p2psocial.core.sync`.

One stream per session, on protocol ``/p2psocial/sync/1``. Each frame is an unsigned-varint
length followed by canonical CBOR (at most 2 MiB). The client writes a request and reads
its response, again and again, then closes. The server answers each request in turn,
serving at most ``serve_rate`` messages per second to one peer, and ends the session on
the first malformed frame or after ``timeout`` seconds of silence. What a session brings
in is screened by :class:`~p2psocial.admission.Admission` before it is stored: postage
for every message, the strangers' budget for strangers' (the per-author rate limits are
gossip's: sync is how a node catches up).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import partial
from typing import Final

import trio
from libp2p.abc import IHost, INetStream
from libp2p.custom_types import TProtocol
from libp2p.exceptions import ParseError
from libp2p.io.exceptions import IOException, MessageTooLarge
from libp2p.network.stream.exceptions import StreamError
from libp2p.peer.id import ID
from libp2p.utils.varint import encode_varint_prefixed, read_varint_prefixed_bytes_limited

from ..admission import Admission
from ..config import SyncConfig
from ..core import sync as proto
from ..core.ratelimit import RateLimiter
from ..errors import P2PSocialError, SyncError, ValidationError
from ..node import Node
from ..store.store import Outcome

log = logging.getLogger(__name__)

SYNC_PROTOCOL: Final = TProtocol(proto.PROTOCOL_ID)
_CLOSED: Final = (StreamError, IOException)

Incident = Callable[[ID, str, str], None]
"""Reports a peer's misbehaviour: (peer, code, detail)."""


@dataclass(slots=True)
class PeerSync:
    """What sync knows about one peer, for ``status``."""

    sessions: int = 0
    messages_received: int = 0
    messages_served: int = 0
    last_sync: float | None = None
    """Wall-clock time of the last completed session."""
    my_head_seq: int | None = None
    """The seq of the newest message of mine that this peer holds, as of the last session."""
    running: bool = False


class SyncService:
    """Serves sync to peers and runs sync sessions against them."""

    def __init__(
        self,
        node: Node,
        host: IHost,
        config: SyncConfig,
        incident: Incident,
        *,
        admission: Admission,
    ) -> None:
        self._node = node
        self._host = host
        self._config = config
        self._incident = incident
        self._admission = admission
        self._serve_limits: RateLimiter[ID] = RateLimiter(
            config.serve_rate, config.serve_rate, max_keys=10_000
        )
        self.peers: dict[ID, PeerSync] = {}

    def peer(self, peer: ID) -> PeerSync:
        """The sync record of ``peer`` (created empty)."""
        return self.peers.setdefault(peer, PeerSync())

    # --- serving -------------------------------------------------------------------------

    async def handle(self, stream: INetStream) -> None:
        """Serve one session; never raises (a raising handler would kill the swarm)."""
        peer = stream.muxed_conn.peer_id
        try:
            await self._serve(stream, peer)
        except (StreamError, IOException, EOFError):
            pass  # the client went away: normal at the end of a session
        except P2PSocialError as exc:
            log.debug("sync: session with %s ended: %s", peer, exc)
        except Exception:
            log.exception("sync: serving %s failed", peer)
        finally:
            with trio.CancelScope(shield=True):
                try:
                    await stream.close()
                except Exception:
                    log.debug("sync: closing the stream of %s failed", peer)

    async def _serve(self, stream: INetStream, peer: ID) -> None:
        view = self._node.sync_view()
        while True:
            frame = None
            with trio.move_on_after(self._config.timeout) as idle:
                frame = await self._read_frame(stream, peer)
                if frame is None:
                    return
            if idle.cancelled_caught or frame is None:
                log.info("sync: %s idle for %s s, ending its session", peer, self._config.timeout)
                return
            try:
                request = proto.decode_request(frame)
            except ValidationError as exc:
                self._incident(peer, "sync.bad_request", str(exc))
                await stream.write(
                    encode_varint_prefixed(
                        proto.encode_response(proto.ErrorResponse("bad_request", str(exc)))
                    )
                )
                return
            response = await trio.to_thread.run_sync(proto.answer, request, view)
            wait = self._serve_limits.delay(peer, time.monotonic(), _cost(response))
            if wait > 0:
                await trio.sleep(wait)
            if isinstance(response, proto.MessagesResponse):
                self.peer(peer).messages_served += len(response.messages)
            await stream.write(encode_varint_prefixed(proto.encode_response(response)))

    async def _read_frame(self, stream: INetStream, peer: ID) -> bytes | None:
        """One frame, or None when the peer closed the stream.

        Raises:
            SyncError: The peer sent a length prefix that is not a varint or is over the
                limit (an incident; nothing past the prefix is read).
        """
        try:
            return await read_varint_prefixed_bytes_limited(stream, proto.MAX_FRAME_BYTES)
        except (ParseError, MessageTooLarge, ValueError) as exc:
            detail = str(exc) or type(exc).__name__
            self._incident(peer, "sync.bad_frame", detail)
            raise SyncError(f"{peer} sent a malformed sync frame: {detail}") from None
        except _CLOSED:
            return None

    # --- pulling -------------------------------------------------------------------------

    async def sync_with(
        self, peer: ID, ranges: Sequence[proto.Range] = (proto.FULL_RANGE,)
    ) -> proto.SyncStats:
        """Run one session against ``peer``: fetch, validate and store what it has and we
        lack, then ask which of our messages it holds.

        Raises:
            SyncError: The peer timed out, sent a malformed frame, refused a request or
                sent invalid messages (the last is also reported as an incident).
        """
        record = self.peer(peer)
        if record.running:
            return proto.SyncStats()
        record.running = True
        try:
            stream = await self._host.new_stream(peer, [SYNC_PROTOCOL])
        except Exception as exc:
            record.running = False
            raise SyncError(f"cannot open a sync stream to {peer}: {exc}") from None
        try:
            client = proto.SyncClient(self._node.sync_view(), ranges=ranges)
            try:
                while (request := client.next_request()) is not None:
                    response = await self._ask(stream, peer, request, client.stats)
                    batch = await trio.to_thread.run_sync(client.receive, response)
                    if batch:
                        await self._store(peer, batch)
            except ValidationError as exc:
                # The peer broke the session's bounds or its own claims: more listed than
                # its digests said, a head it does not send, too many requests.
                self._incident(peer, "sync.inconsistent", str(exc))
                raise SyncError(f"sync with {peer} ended: {exc}") from None
            record.my_head_seq = await self._my_head_there(stream, peer, client.stats)
        except _CLOSED as exc:
            raise SyncError(f"sync with {peer} broke off: {exc or type(exc).__name__}") from None
        else:
            record.sessions += 1
            record.messages_received += client.stats.messages_received
            record.last_sync = time.time()
            log.info(
                "sync with %s: %s requests, %s messages, %s bytes in",
                peer,
                client.stats.requests,
                client.stats.messages_received,
                client.stats.bytes_received,
            )
            return client.stats
        finally:
            record.running = False
            with trio.CancelScope(shield=True):
                try:
                    await stream.close()
                except Exception:
                    log.debug("sync: closing the stream to %s failed", peer)

    async def _ask(
        self, stream: INetStream, peer: ID, request: proto.Request, stats: proto.SyncStats
    ) -> proto.Response:
        data = proto.encode_request(request)
        stats.bytes_sent += len(data)
        await stream.write(encode_varint_prefixed(data))
        frame = None
        with trio.move_on_after(self._config.timeout) as late:
            frame = await self._read_frame(stream, peer)
            if frame is None:
                raise SyncError(f"{peer} closed the sync stream")
        if late.cancelled_caught or frame is None:
            self._incident(peer, "sync.timeout", f"no answer in {self._config.timeout} s")
            raise SyncError(f"{peer} did not answer a sync request in {self._config.timeout} s")
        stats.bytes_received += len(frame)
        try:
            response = proto.decode_response(frame, request)
        except ValidationError as exc:
            self._incident(peer, "sync.bad_response", str(exc))
            raise SyncError(f"{peer} sent a malformed sync response: {exc}") from None
        if isinstance(response, proto.ErrorResponse):
            raise SyncError(f"{peer} refused a sync request: {response.code}: {response.message}")
        return response

    async def _store(self, peer: ID, batch: list[bytes]) -> None:
        admitted = await trio.to_thread.run_sync(
            partial(
                self._admission.screen,
                batch,
                now=time.monotonic(),
                now_ms=time.time_ns() // 1_000_000,
            )
        )
        if not admitted:
            return
        results = await self._node.ingest(admitted, source="network", allow_gaps=True)
        bad = [r for r in results if r.outcome is Outcome.REJECTED]
        if bad:
            first = bad[0].error
            self._incident(peer, "sync.invalid_message", f"{len(bad)} invalid, first: {first}")
            raise SyncError(f"{peer} sent {len(bad)} invalid message(s) in sync: {first}")

    async def _my_head_there(
        self, stream: INetStream, peer: ID, stats: proto.SyncStats
    ) -> int | None:
        request = proto.FrontierRequest((proto.author_range(self._node.me),))
        response = await self._ask(stream, peer, request, stats)
        assert isinstance(response, proto.FrontierResponse)
        return response.entries[0].head_seq if response.entries else None


def _cost(response: proto.Response) -> float:
    """What serving ``response`` costs against a peer's budget, in messages: each request
    at least one, digests and frontiers by the authors they had to read."""
    match response:
        case proto.MessagesResponse(messages=messages):
            return 1 + len(messages)
        case proto.FrontierResponse(entries=entries):
            return 1 + len(entries) / 16
        case proto.DigestResponse(digests=digests):
            return 1 + sum(d.count for d in digests) / 256
    return 1
