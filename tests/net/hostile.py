"""A hostile peer for network tests: a raw py-libp2p host that says whatever a test wants.

It is built like a real node's host (:func:`p2psocial.net.host.make_host`: Noise only,
yamux only, one connection per peer) and runs its own Pubsub + GossipSub subscribed to
:data:`p2psocial.net.gossip.TOPIC`, but with **no topic validator**: it publishes any bytes
it is given, and relays nothing of its own accord. It can also talk the sync protocol raw:
as a client (open a stream to a node's sync server and write any frame) and as a server
(answer a node's sync session with lies, or not at all).

The helpers at the bottom forge the bad inputs of issue 3 from correctly signed messages,
so that each one breaks exactly one rule.

Typical use::

    async with running_hostile(nursery) as hostile:
        await hostile.connect(victim.addr)
        await hostile.wait_for_gossip(victim_id)
        await hostile.publish(flip_signature(builder.post("x").to_bytes()))
"""

from __future__ import annotations

import logging
import random
import secrets
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from functools import partial
from typing import TYPE_CHECKING, Any, cast

import cbor2
import multiaddr
import trio
from libp2p.abc import IHost, INetStream
from libp2p.crypto.ed25519 import create_new_key_pair
from libp2p.network.config import RetryConfig
from libp2p.peer.id import ID
from libp2p.peer.peerinfo import info_from_p2p_addr
from libp2p.pubsub.gossipsub import PROTOCOL_ID as MESHSUB_V10
from libp2p.pubsub.gossipsub import PROTOCOL_ID_V11 as MESHSUB_V11
from libp2p.pubsub.gossipsub import GossipSub
from libp2p.pubsub.pubsub import Pubsub
from libp2p.tools.anyio_service import background_trio_service
from libp2p.utils.varint import encode_varint_prefixed, read_varint_prefixed_bytes_limited

from p2psocial.core import canonical
from p2psocial.core import sync as proto
from p2psocial.core.bodies import Post
from p2psocial.core.ids import MessageId
from p2psocial.core.limits import MAX_MESSAGE_BYTES
from p2psocial.core.message import Message, blake2b_256, decode_message
from p2psocial.errors import ValidationError
from p2psocial.net.gossip import TOPIC
from p2psocial.net.host import full_addrs, make_host
from p2psocial.net.peers import PEX_PROTOCOL, encode_pex
from p2psocial.net.sync import SYNC_PROTOCOL
from tests.factories import ChainBuilder, body_for, header_value, message_bytes, resign

if TYPE_CHECKING:
    # libp2p pulls in trio-typing, whose stubs shadow trio's own types for mypy.
    from trio_typing import TaskStatus

log = logging.getLogger(__name__)

LOOPBACK = multiaddr.Multiaddr("/ip4/127.0.0.1/tcp/0")
OUTBOUND_QUEUE = 4096
"""The hostile's outbound pubsub queue per peer: py-libp2p's 32 would drop a flood at the
sender, and the test wants the flood to reach the victim."""


class Unframed(bytes):
    """Bytes a lying sync server writes as they are, without a length prefix."""


SyncAnswer = Callable[[proto.Request], Awaitable[bytes | proto.Response | None]]
"""What a lying sync server says to one request: a response, a frame's payload (bytes),
:class:`Unframed` bytes, or None to say nothing at all (stall until the client gives up)."""


@dataclass
class HostilePeer:
    """A running hostile peer; see :func:`running_hostile`."""

    host: IHost
    pubsub: Pubsub
    gossipsub: GossipSub
    gossip_received: list[bytes] = field(default_factory=list)
    """Gossip that reached the hostile (what its neighbours forwarded), in order."""
    sync_requests: list[proto.Request] = field(default_factory=list)
    """Sync requests its lying server was asked, in order."""
    sync_sessions: int = 0
    """Sync streams opened to its lying server."""
    sync_sessions_ended: int = 0
    """Of those, how many the client has ended (or our handler gave up on)."""
    _change: trio.Event = field(default_factory=trio.Event)

    @property
    def peer_id(self) -> ID:
        return self.host.get_id()

    @property
    def addr(self) -> str:
        return full_addrs(self.host)[0]

    # --- connections and gossip ----------------------------------------------------------

    async def connect(self, addr: str) -> ID:
        """Dial a node by full multiaddr; returns its peer id."""
        info = info_from_p2p_addr(multiaddr.Multiaddr(addr))
        await self.host.connect(info)
        return info.peer_id

    async def wait_for_gossip(self, peer: ID) -> None:
        """Return once ``peer`` gossips with us on the topic (its subscription seen, in our
        mesh); enlarge our outbound queue to it so that a flood is not dropped here."""
        await self.pubsub.wait_for_subscription(peer, TOPIC, timeout=10)
        await self.pubsub.wait_for_mesh(peer, TOPIC, timeout=10)
        # Until GossipSub has registered the peer's protocol, py-libp2p also queues each
        # publish for it and flushes the queue later: the peer gets those messages twice,
        # and a node counts an invalid message twice against us (its validation cache
        # re-raises). Wait for that (no event announces it), so each message goes once.
        while peer not in self.gossipsub.peer_protocol:
            await trio.sleep(0.005)
        queue = self.pubsub.peer_queues[peer]
        cast(Any, queue)._queue.max_size = OUTBOUND_QUEUE

    async def publish(self, data: bytes) -> bytes:
        """Publish raw bytes on the topic, in a validly signed pubsub envelope; returns the
        envelope's pubsub message id (our peer id and the envelope's seqno)."""
        envelope_id = self.peer_id.to_bytes() + (self.pubsub.counter + 1).to_bytes(8, "big")
        await self.pubsub.publish(TOPIC, data)
        # Our own subscription receives the message too, into a 32-slot channel; let the
        # drain task empty it before the next publish, or a flood overflows it.
        own = self.pubsub.subscribed_topics_send[TOPIC]
        while own.statistics().current_buffer_used:
            await trio.sleep(0)
        return envelope_id

    async def flushed(self, peer: ID) -> None:
        """Return once everything published so far has been written to ``peer``."""
        while (queue := self.pubsub.peer_queues.get(peer)) is not None and len(queue) > 0:
            await trio.sleep(0.005)

    async def wait_until(self, condition: Callable[[], bool]) -> None:
        """Return once ``condition()`` holds; re-checked whenever gossip reaches us or our
        lying sync server is asked something."""
        while not condition():
            await self._change.wait()

    def _changed(self) -> None:
        self._change.set()
        self._change = trio.Event()

    async def _drain(self) -> None:
        # Our own publishes come back on our subscription too; a full 32-slot channel
        # would only log warnings, but keep it empty and remember what others sent.
        subscription = await self.pubsub.subscribe(TOPIC)
        async for message in subscription:
            if ID(message.from_id) != self.peer_id:
                self.gossip_received.append(message.data)
                self._changed()

    # --- sync, as a client ------------------------------------------------------------------

    async def open_sync(self, peer: ID) -> INetStream:
        """A raw stream to ``peer``'s sync server."""
        return await self.host.new_stream(peer, [SYNC_PROTOCOL])

    # --- sync, as a (lying) server ----------------------------------------------------------

    def serve_sync(self, answer: SyncAnswer) -> None:
        """Answer every sync session opened to us with ``answer``."""

        async def handle(stream: INetStream) -> None:
            self.sync_sessions += 1
            self._changed()
            try:
                while True:
                    try:
                        frame = await read_varint_prefixed_bytes_limited(
                            stream, proto.MAX_FRAME_BYTES
                        )
                    except Exception:
                        return  # the client ended the session
                    request = proto.decode_request(frame)
                    self.sync_requests.append(request)
                    self._changed()
                    reply = await answer(request)
                    if reply is None:
                        await trio.sleep_forever()
                    elif isinstance(reply, Unframed):
                        await stream.write(bytes(reply))
                    else:
                        raw = reply if isinstance(reply, bytes) else proto.encode_response(reply)
                        await stream.write(encode_varint_prefixed(raw))
            except Exception:
                log.debug("hostile sync server: session ended", exc_info=True)
            finally:
                self.sync_sessions_ended += 1
                self._changed()
                with trio.CancelScope(shield=True):
                    try:
                        await stream.reset()
                    except Exception:
                        log.debug("hostile sync server: reset failed", exc_info=True)

        self.host.set_stream_handler(SYNC_PROTOCOL, handle)

    # --- peer exchange ----------------------------------------------------------------------

    def serve_pex(self, addrs: Sequence[str]) -> None:
        """Answer peer exchange with ``addrs`` (full multiaddrs, true or not)."""

        async def handle(stream: INetStream) -> None:
            try:
                await stream.write(encode_varint_prefixed(encode_pex(list(addrs))))
                await stream.close()
            except Exception:
                log.debug("hostile peer exchange: serving failed", exc_info=True)

        self.host.set_stream_handler(PEX_PROTOCOL, handle)


@asynccontextmanager
async def running_hostile(nursery: trio.Nursery) -> AsyncIterator[HostilePeer]:
    """Run a hostile peer on 127.0.0.1 until the block exits."""
    host = make_host(create_new_key_pair(secrets.token_bytes(32)), [LOOPBACK])
    gossipsub = GossipSub(
        protocols=[MESHSUB_V11, MESHSUB_V10],
        degree=6,
        degree_low=4,
        degree_high=12,
        heartbeat_interval=1,
        heartbeat_initial_delay=0.1,
        adaptive_gossip_enabled=False,
        spam_protection_enabled=False,  # a flooder does not limit itself
    )
    pubsub = Pubsub(host, gossipsub, strict_signing=True)  # no topic validator: anything goes
    hostile = HostilePeer(host, pubsub, gossipsub)
    scope = trio.CancelScope()

    async def run(task_status: TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        with scope:
            async with (
                background_trio_service(pubsub),
                background_trio_service(gossipsub),
                host.run(listen_addrs=[LOOPBACK]),
            ):
                network = host.get_network()
                try:
                    cast(Any, network).retry_config = RetryConfig(max_retries=0)
                    await cast(Any, network).auto_connector.stop()
                    await pubsub.wait_until_ready()
                    async with trio.open_nursery() as inner:
                        inner.start_soon(hostile._drain)
                        task_status.started()
                        await trio.sleep_forever()
                finally:
                    # py-libp2p leaves its listener and connections open when cancelled.
                    with trio.CancelScope(shield=True), trio.move_on_after(3):
                        for listener in list(network.listeners.values()):
                            await listener.close()
                        for peer in list(host.get_connected_peers()):
                            await network.close_peer(peer)

    await nursery.start(run)
    try:
        yield hostile
    finally:
        scope.cancel()


async def tarpit(nursery: trio.Nursery, count: int) -> list[str]:
    """``count`` full multiaddrs on 127.0.0.1 that accept a TCP connection and then say
    nothing, ever (each with a made-up peer id): a dial to one hangs until it times out."""
    listeners = await nursery.start(partial(trio.serve_tcp, _silence, 0, host="127.0.0.1"))
    port = listeners[0].socket.getsockname()[1]
    return [
        f"/ip4/127.0.0.1/tcp/{port}/p2p/{ID.from_pubkey(create_new_key_pair().public_key)}"
        for _ in range(count)
    ]


async def _silence(stream: trio.SocketStream) -> None:
    await trio.sleep_forever()


# --- raw sync frames ------------------------------------------------------------------------


async def write_frame(stream: INetStream, payload: bytes) -> None:
    """One sync frame: an unsigned-varint length, then ``payload``."""
    await stream.write(encode_varint_prefixed(payload))


async def read_frame(stream: INetStream) -> bytes | None:
    """The next sync frame, or None when the peer ended the stream."""
    try:
        return await read_varint_prefixed_bytes_limited(stream, proto.MAX_FRAME_BYTES)
    except Exception:
        return None


# --- forging bad input ------------------------------------------------------------------------


def claimed_id(wire: bytes) -> MessageId | None:
    """The id a message's bytes claim (the hash of their signed header), if they are shaped
    like a message at all: what a node that wrongly stored them would hold them under."""
    try:
        outer = canonical.decode(wire)
    except ValidationError:
        if len(wire) <= MAX_MESSAGE_BYTES or not wire.startswith(b"\x82"):
            return None
        # Oversized: the signed header is the first item; parse it without the limit.
        outer = cbor2.loads(wire)
    if isinstance(outer, list) and outer and isinstance(outer[0], bytes):
        return MessageId(blake2b_256(outer[0]))
    return None


def garbage(kind: str, seed: int = 0) -> list[bytes]:
    """Bytes that are not a message: ``random`` bytes, ``truncated`` CBOR of a real message,
    or valid canonical CBOR of the ``wrong_shape``."""
    rng = random.Random(seed)
    real = ChainBuilder(1000 + seed).post("soon to be cut short").to_bytes()
    if kind == "random":
        return [rng.randbytes(n) for n in (1, 64, 700)]
    if kind == "truncated":
        return [real[: len(real) // 2], real[:-1], real[:3]]
    if kind == "wrong_shape":
        header = ChainBuilder(1000 + seed).post("x").signed_header
        return [
            canonical.encode({"hello": "world"}),
            canonical.encode([header]),  # one item, not [signed_header, body]
            canonical.encode([header, 7]),  # body neither bstr nor null
        ]
    raise ValueError(kind)


def flip_signature(message: Message) -> bytes:
    """``message`` with one bit of its signature flipped (its last byte)."""
    signed = bytearray(message.signed_header)
    signed[-1] ^= 0x01
    return message_bytes(bytes(signed), message.body_bytes)


def swap_body(message: Message, other: Message) -> bytes:
    """``message``'s validly signed header with ``other``'s body: the body hash mismatches."""
    return message_bytes(message.signed_header, other.body_bytes)


def oversized(message: Message) -> bytes:
    """``message``'s validly signed header with a body past the 8192-byte message limit."""
    return message_bytes(message.signed_header, b"\xa0" * (MAX_MESSAGE_BYTES + 1))


def unknown_kind(builder: ChainBuilder, kind: str = "poll") -> bytes:
    """A validly signed seq-1 message of ``builder`` whose kind no node knows."""
    body, body_hash, body_len = body_for({"question": "which kind is this?"})
    template = builder.sign_at(1, Post("template"))
    header = header_value(
        template, kind=kind, body_hash=body_hash, body_len=body_len, prev=None, seq=1
    )
    return resign(builder.key, header, body)


def code_of(wire: bytes, *, now_ms: int, max_skew_ms: int) -> str:
    """The validation code a node gives ``wire`` on its own (no chain), for assertions."""
    try:
        decode_message(wire, now_ms=now_ms, max_skew_ms=max_skew_ms)
    except ValidationError as exc:
        return exc.code
    return "valid"


# --- lying sync servers -----------------------------------------------------------------------


def claiming(entry: proto.Frontier, messages: Sequence[tuple[int, bytes]] = ()) -> SyncAnswer:
    """A sync server that claims to hold ``entry`` (one author's frontier) and nothing
    else, and, asked for that author's messages, sends those of ``messages`` in the asked
    range: a liar when ``messages`` does not back the claim, or holds forgeries."""

    def mine(rng: proto.Range) -> bool:
        return rng[0] <= entry.author and (rng[1] is None or entry.author < rng[1])

    async def answer(request: proto.Request) -> proto.Response:
        match request:
            case proto.DigestRequest(ranges):
                return proto.DigestResponse(
                    tuple(proto.digest_of([entry] if mine(r) else []) for r in ranges)
                )
            case proto.FrontierRequest(ranges, after):
                wanted = any(mine(r) for r in ranges) and (after is None or entry.author > after)
                return proto.FrontierResponse((entry,) if wanted else (), more=False)
            case proto.MessagesRequest(author, first, last, desc, limit):
                found = sorted(
                    ((seq, wire) for seq, wire in messages if first <= seq <= last),
                    reverse=desc,
                )
                held = found[:limit] if author == entry.author else []
                return proto.MessagesResponse(tuple(held), more=False)
        raise AssertionError(request)

    return answer


async def stall(request: proto.Request) -> None:
    """A sync server that reads a request and never answers it."""
    return None


async def every_range_differs(request: proto.Request) -> proto.Response:
    """A sync server that claims a billion authors in every range it is asked about, so
    that every range always needs splitting again."""
    if isinstance(request, proto.DigestRequest):
        return proto.DigestResponse(
            tuple(proto.Digest(10**9, secrets.token_bytes(16)) for _ in request.ranges)
        )
    if isinstance(request, proto.FrontierRequest):
        return proto.FrontierResponse((), more=False)
    return proto.MessagesResponse((), more=False)


async def endless_frontier(request: proto.Request) -> proto.Response:
    """A sync server whose frontier listing never ends: one made-up author per page, each
    just after the last, always with ``more``; none of them has any message to send."""
    if isinstance(request, proto.DigestRequest):
        return proto.DigestResponse(
            tuple(proto.Digest(1, secrets.token_bytes(16)) for _ in request.ranges)
        )
    if isinstance(request, proto.FrontierRequest):
        low = request.after if request.after is not None else request.ranges[0][0]
        author = (int.from_bytes(low, "big") + 1).to_bytes(32, "big")
        head = secrets.token_bytes(32)
        return proto.FrontierResponse((proto.Frontier(author, 5, head, 5),), more=True)
    return proto.MessagesResponse((), more=False)
