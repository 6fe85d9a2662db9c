"""The network: one libp2p host running gossip, sync, peer exchange and discovery.

Gossip is best effort; sync is the guarantee. A node syncs with every peer it connects
to, with each connected peer again every ``sync.interval`` seconds, with the peer that
gossiped a message whose author's chain has a gap (for that author), and with every
connected peer for an author it starts to follow (newest first). Misbehaving peers are
scored down by gossipsub (invalid gossip) and by this module (invalid sync, timeouts):
each incident is logged once per peer and kind, and a peer with too many is disconnected
and refused for a while.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Final, cast

import multiaddr
import trio
from libp2p.abc import INetConn, INetStream, INetwork, INotifee
from libp2p.network.config import RetryConfig
from libp2p.peer.id import ID
from libp2p.peer.peerinfo import info_from_p2p_addr
from libp2p.peer.peerstore import PeerStoreError
from libp2p.pubsub.gossipsub import PROTOCOL_ID as MESHSUB_V10
from libp2p.pubsub.gossipsub import PROTOCOL_ID_V11 as MESHSUB_V11
from libp2p.pubsub.gossipsub import GossipSub
from libp2p.pubsub.pubsub import Pubsub
from libp2p.pubsub.score import ScoreParams, TopicScoreParams
from libp2p.tools.anyio_service import background_trio_service
from libp2p.utils.varint import encode_varint_prefixed, read_varint_prefixed_bytes_limited

from ..admission import Admission, AdmissionStats
from ..config import Config
from ..core import sync as proto
from ..core.bodies import Follow, Kind
from ..core.ids import AuthorId
from ..errors import DialError, InputError, NetworkError, P2PSocialError, ValidationError
from ..node import NewMessage, Node
from .faults import Faults
from .gossip import TOPIC, Gossip
from .host import full_addrs, load_transport_key, make_host, parse_multiaddrs
from .peers import PEERS_FILENAME, PEX_MAX_FRAME, PEX_PROTOCOL, PeerBook, decode_pex, encode_pex
from .scoring import install as install_scorer
from .sync import SYNC_PROTOCOL, SyncService

if TYPE_CHECKING:
    # libp2p pulls in trio-typing, whose stubs shadow trio's own types for mypy.
    from trio_typing import TaskStatus

log = logging.getLogger(__name__)
# It sets itself to INFO and logs every 10 s; it is stopped as soon as the host runs.
logging.getLogger("libp2p.network.auto_connector").setLevel(logging.WARNING)

DIAL_TIMEOUT: Final = 10.0
REDIAL_MIN: Final = 2.0
REDIAL_MAX: Final = 60.0
BAN_AFTER_INCIDENTS: Final = 20
NOT_HELD_AGAINST: Final = frozenset({"gossip.author_rate"})
"""Incidents an honest relay can cause (it forwards a fast author): logged, not counted
toward a ban; the gossipsub score charges them a little (p2psocial/net/scoring.py)."""
BAN_SECONDS: Final = 600.0
GAP_DEBOUNCE: Final = 5.0
SHUTDOWN_TIMEOUT: Final = 3.0
HEAD_CHECK_DELAY: Final = 1.0
PEX_DIAL_TIMEOUT: Final = 3.0
SYNC_WORKERS: Final = 2

# Invalid gossip costs a peer 10 points (capped at 100), first deliveries earn one (capped
# at 10); below -10 it gets no gossip from us, below -50 its messages are dropped and its
# GRAFTs refused. (py-libp2p gates inbound messages at the publish threshold, so the
# graylist threshold is set equal to it; see the research notes in docs/network.md.)
# Over-limit gossip costs 1 point per message beyond a tolerance of 20, and refusals of
# local policy (postage, the strangers' budget) cost nothing: p2psocial/net/scoring.py.
SCORE_PARAMS: Final = ScoreParams(
    p4_invalid_messages=TopicScoreParams(weight=10.0, cap=100.0, decay=0.9),
    p2_first_message_deliveries=TopicScoreParams(weight=1.0, cap=10.0, decay=0.9),
    p5_behavior_penalty_weight=1.0,
    p5_behavior_penalty_threshold=0.0,
    p5_behavior_penalty_decay=0.9,
    gossip_threshold=-10.0,
    publish_threshold=-50.0,
    graylist_threshold=-50.0,
    accept_px_threshold=0.0,
)


@dataclass(frozen=True, slots=True)
class PeerStatus:
    """One peer as ``p2psocial peers`` shows it."""

    peer_id: str
    addrs: tuple[str, ...]
    connected: bool
    gossip: bool
    """Subscribed to our topic."""
    my_head_seq: int | None
    """The newest seq of mine the peer held at the last sync (None: not synced yet)."""
    holds_my_latest: bool | None
    sessions: int
    messages_received: int
    messages_served: int
    last_sync: float | None
    incidents: int

    def to_json(self) -> dict[str, Any]:
        """As a JSON object."""
        return {
            "peer_id": self.peer_id,
            "addrs": list(self.addrs),
            "connected": self.connected,
            "gossip": self.gossip,
            "my_head_seq": self.my_head_seq,
            "holds_my_latest": self.holds_my_latest,
            "sync_sessions": self.sessions,
            "messages_received": self.messages_received,
            "messages_served": self.messages_served,
            "last_sync": self.last_sync,
            "incidents": self.incidents,
        }


@dataclass(frozen=True, slots=True)
class NetworkStatus:
    """The network as ``p2psocial status`` shows it."""

    peer_id: str
    listen: tuple[str, ...]
    topics: tuple[str, ...]
    peers: tuple[PeerStatus, ...]
    published: int
    left_for_sync: int
    gossip_received: int
    syncing: tuple[str, ...]
    my_head_seq: int
    admission: AdmissionStats = field(default_factory=AdmissionStats)
    """Messages refused for postage, over limits, and strangers let in (p2psocial.admission)."""

    def to_json(self) -> dict[str, Any]:
        """As a JSON object."""
        return {
            "peer_id": self.peer_id,
            "listen": list(self.listen),
            "topics": list(self.topics),
            "peers": [p.to_json() for p in self.peers],
            "connected": sum(p.connected for p in self.peers),
            "gossip": {
                "published": self.published,
                "left_for_sync": self.left_for_sync,
                "received": self.gossip_received,
            },
            "syncing": list(self.syncing),
            "my_head_seq": self.my_head_seq,
            "peers_holding_my_latest": sum(bool(p.holds_my_latest) for p in self.peers),
            "admission": self.admission.to_json(),
        }


@dataclass(slots=True)
class _Incidents:
    count: int = 0
    kinds: set[str] = field(default_factory=set)


class _Events(INotifee):
    """Connection events, handed from the swarm to the network's own tasks."""

    def __init__(self, network: Network) -> None:
        self._network = network

    async def connected(self, network: INetwork, conn: INetConn) -> None:
        self._network._on_connected(conn.muxed_conn.peer_id)
        if self._network._is_banned(conn.muxed_conn.peer_id):
            await network.close_peer(conn.muxed_conn.peer_id)

    async def disconnected(self, network: INetwork, conn: INetConn) -> None:
        self._network._changed()

    async def opened_stream(self, network: INetwork, stream: INetStream) -> None:
        return None

    async def closed_stream(self, network: INetwork, stream: INetStream) -> None:
        return None

    async def listen(self, network: INetwork, multiaddr: multiaddr.Multiaddr) -> None:
        return None

    async def listen_close(self, network: INetwork, multiaddr: multiaddr.Multiaddr) -> None:
        return None


class Network:
    """A node's presence on the network. Run it with ``nursery.start(network.run)``."""

    def __init__(
        self,
        node: Node,
        config: Config,
        *,
        listen: Sequence[str] | None = None,
        peers: Sequence[str] = (),
        mdns: bool | None = None,
        faults: Faults | None = None,
    ) -> None:
        """Prepare (but do not start) the network.

        Args:
            node: The open node whose messages to share.
            config: The configuration; ``listen``, ``peers`` and ``mdns`` override it.
            listen: Multiaddrs to listen on.
            peers: Extra bootstrap peers (full multiaddrs).
            mdns: Whether to discover peers on the local network.
            faults: Test-only fault injection (lossy links, partitions); never set by the
                daemon.

        Raises:
            InputError: A multiaddr does not parse, or a bootstrap peer lacks ``/p2p/``.
        """
        self._node = node
        self._config = config
        self._listen = parse_multiaddrs(listen or config.network.listen, what="listen address")
        self._bootstrap = [
            str(a) for a in parse_multiaddrs([*config.network.peers, *peers], what="peer")
        ]
        for addr in self._bootstrap:
            if "/p2p/" not in addr:
                raise InputError(f"peer {addr!r} needs its /p2p/<peer id> part")
        self._mdns = config.network.mdns if mdns is None else mdns
        self._host = make_host(load_transport_key(node.home), self._listen)
        cast(Any, self._host.get_network()).retry_config = RetryConfig(max_retries=0)
        self._gossipsub = GossipSub(
            protocols=[MESHSUB_V11, MESHSUB_V10],
            degree=config.gossip.degree,
            degree_low=max(1, config.gossip.degree - 2),
            degree_high=config.gossip.degree * 2,
            heartbeat_interval=config.gossip.heartbeat_interval,  # type: ignore[arg-type]
            heartbeat_initial_delay=0.1,
            adaptive_gossip_enabled=False,
            spam_protection_enabled=False,
            score_params=SCORE_PARAMS,
        )
        self._pubsub = Pubsub(self._host, self._gossipsub, strict_signing=True)
        self._scores = install_scorer(self._pubsub, self._gossipsub)
        self._admission = Admission(node.distance, config.postage.policy, config.limits)
        self._faults = faults
        self._book = PeerBook(node.home / PEERS_FILENAME, config.network.remember_peers)
        self._incidents: dict[ID, _Incidents] = {}
        self._banned: dict[ID, float] = {}
        self._sync = SyncService(
            node, self._host, config.sync, self._incident, admission=self._admission
        )
        self._gossip = Gossip(
            node,
            self._pubsub,
            config.gossip,
            config.limits,
            admission=self._admission,
            scores=self._scores,
            incident=self._incident,
            on_gap=self._gap,
        )
        if faults is not None:
            # After Gossip wraps pubsub's handling of messages, so that a copy lost on the
            # wire reaches none of this node's code.
            faults.install(self._pubsub)
        self._sync_send, self._sync_receive = trio.open_memory_channel[
            tuple[ID, tuple[proto.Range, ...]]
        ](1024)
        self._connected_send, self._connected_receive = trio.open_memory_channel[ID](1024)
        self._gap_seen: dict[AuthorId, float] = {}
        self._change = trio.Event()
        self._nursery: trio.Nursery | None = None
        self._head_check_pending = False

    # --- facts -----------------------------------------------------------------------------

    @property
    def peer_id(self) -> str:
        """This node's libp2p peer id (from its transport key, not its author key)."""
        return self._host.get_id().to_string()

    @property
    def listen_addrs(self) -> list[str]:
        """Full multiaddrs (with ``/p2p/<peer id>``) other nodes can dial."""
        return full_addrs(self._host)

    def connected_peers(self) -> list[ID]:
        """The peers connected now."""
        return list(self._host.get_connected_peers())

    async def wait_for_gossip_peer(self, peer_id: str, timeout: float = 10.0) -> None:
        """Return once ``peer_id`` has joined our gossip mesh.

        Raises:
            trio.TooSlowError: Not within ``timeout`` seconds.
        """
        peer = ID.from_base58(peer_id)
        await self._pubsub.wait_for_subscription(peer, TOPIC, timeout=timeout)
        await self._pubsub.wait_for_mesh(peer, TOPIC, timeout=timeout)

    def peers(self) -> list[PeerStatus]:
        """Every peer connected now or synced with since start."""
        my_head = self._my_head()
        connected = set(self._host.get_connected_peers())
        gossiping = self._gossip.peers()
        out = []
        for peer in sorted(connected | set(self._sync.peers), key=str):
            record = self._sync.peer(peer)
            addrs = tuple(self._addrs(peer)) if peer in connected else ()
            held = record.my_head_seq
            out.append(
                PeerStatus(
                    peer_id=peer.to_string(),
                    addrs=addrs,
                    connected=peer in connected,
                    gossip=peer in gossiping,
                    my_head_seq=held,
                    holds_my_latest=None if held is None else held >= my_head,
                    sessions=record.sessions,
                    messages_received=record.messages_received,
                    messages_served=record.messages_served,
                    last_sync=record.last_sync,
                    incidents=self._incidents.get(peer, _Incidents()).count,
                )
            )
        return out

    def _addrs(self, peer: ID) -> list[str]:
        """A peer's known addresses as full multiaddrs (none before identify, say)."""
        try:
            found = self._host.get_peerstore().addrs(peer)
        except PeerStoreError:
            return []
        suffix = f"/p2p/{peer.to_string()}"
        return [str(a) if "/p2p/" in str(a) else f"{a}{suffix}" for a in found]

    def status(self) -> NetworkStatus:
        """Listen addresses, peers, gossip and sync counters."""
        return NetworkStatus(
            peer_id=self.peer_id,
            listen=tuple(self.listen_addrs),
            topics=tuple(self._pubsub.topic_ids),
            peers=tuple(self.peers()),
            published=self._gossip.published,
            left_for_sync=self._gossip.left_for_sync,
            gossip_received=self._gossip.received,
            syncing=tuple(p.to_string() for p, r in self._sync.peers.items() if r.running),
            my_head_seq=self._my_head(),
            admission=self._admission.stats(),
        )

    def _my_head(self) -> int:
        info = self._node.reader.author(self._node.me)
        return info.head_seq if info else 0

    # --- waiting (for tests and tools) --------------------------------------------------

    def _changed(self) -> None:
        self._change.set()
        self._change = trio.Event()

    async def wait_until(self, condition: Callable[[], bool]) -> None:
        """Return once ``condition()`` holds; it is re-checked whenever peers connect or
        disconnect and whenever a sync session or gossip delivery completes."""
        while not condition():
            await self._change.wait()

    # --- running ---------------------------------------------------------------------------

    async def run(self, *, task_status: TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        """Run until cancelled; ``task_status.started()`` once listening."""
        async with (
            background_trio_service(self._pubsub),
            background_trio_service(self._gossipsub),
            self._host.run(listen_addrs=self._listen),
        ):
            try:
                await self._start(task_status)
            finally:
                await self._shut_down()

    async def _shut_down(self) -> None:
        """Close listeners and connections ourselves: cancelled, py-libp2p leaves both open
        (its listener keeps accepting after ``run()`` returns)."""
        network = self._host.get_network()
        with trio.CancelScope(shield=True), trio.move_on_after(SHUTDOWN_TIMEOUT):
            for listener in list(network.listeners.values()):
                await listener.close()
            async with trio.open_nursery() as nursery:
                for peer in list(self._host.get_connected_peers()):
                    nursery.start_soon(network.close_peer, peer)

    async def _start(self, task_status: TaskStatus[None]) -> None:
        network = self._host.get_network()
        # py-libp2p's host.run() ignores a listen that failed (a port in use, say).
        listening = len(network.listeners)
        if listening < len(self._listen):
            wanted = ", ".join(str(a) for a in self._listen)
            raise NetworkError(
                f"could listen on only {listening} of {len(self._listen)} addresses ({wanted});"
                " is the port in use? (choose another with --listen)"
            )
        connector = getattr(network, "auto_connector", None)
        if connector is not None:
            await connector.stop()  # it would dial every peerstore entry by itself
        self._host.set_stream_handler(SYNC_PROTOCOL, self._sync.handle)
        self._host.set_stream_handler(PEX_PROTOCOL, self._serve_pex)
        network.register_notifee(_Events(self))
        await self._pubsub.wait_until_ready()
        async with trio.open_nursery() as nursery:
            self._nursery = nursery
            await nursery.start(self._gossip.run)
            for _ in range(SYNC_WORKERS):
                nursery.start_soon(self._sync_worker)
            nursery.start_soon(self._connected_loop)
            nursery.start_soon(self._dial_loop)
            nursery.start_soon(self._periodic_sync)
            nursery.start_soon(self._follow_loop)
            if self._mdns:
                from .mdns import run_mdns  # noqa: PLC0415 - only when used: zeroconf

                nursery.start_soon(run_mdns, self._host, self._dial_info)
            log.info("listening on %s", ", ".join(self.listen_addrs))
            task_status.started()

    # --- dialling ----------------------------------------------------------------------------

    async def connect(self, addr: str) -> str:
        """Dial a peer by full multiaddr; returns its peer id.

        Raises:
            InputError: ``addr`` is not a full multiaddr.
            DialError: The peer could not be reached.
        """
        [parsed] = parse_multiaddrs([addr], what="peer")
        try:
            info = info_from_p2p_addr(parsed)
        except Exception as exc:
            raise InputError(f"peer {addr!r} needs its /p2p/<peer id> part ({exc})") from None
        await self._dial_info(info)
        return info.peer_id.to_string()

    async def _dial_info(self, info: Any) -> None:
        if info.peer_id == self._host.get_id():
            return
        if self._is_banned(info.peer_id):
            raise DialError(f"{info.peer_id} is refused for now")
        try:
            with trio.fail_after(DIAL_TIMEOUT):
                await self._host.connect(info)
        except Exception as exc:
            cast(Any, self._host.get_network()).unblock_peer(info.peer_id)  # no 60 s ban
            raise DialError(f"cannot reach {info.peer_id}: {exc or type(exc).__name__}") from None

    async def _dial_loop(self) -> None:
        """Keep bootstrap peers connected and redial remembered ones, with backoff.

        The peer book is read again each round: a peer first met while running (dialled by
        hand, learnt by peer exchange) is redialled too when its connection drops.
        """
        backoff: dict[str, float] = {}
        next_try: dict[str, float] = {}
        while True:
            now = time.monotonic()
            connected = {p.to_string() for p in self._host.get_connected_peers()}
            for addr in dict.fromkeys([*self._bootstrap, *self._remembered()]):
                peer = addr.rsplit("/p2p/", 1)[-1]
                backoff.setdefault(addr, REDIAL_MIN)
                if peer in connected or now < next_try.get(addr, 0.0):
                    continue
                if len(connected) >= self._config.network.max_peers and addr not in self._bootstrap:
                    continue
                try:
                    await self.connect(addr)
                    backoff[addr] = REDIAL_MIN
                except P2PSocialError as exc:
                    log.info("dial %s failed (%s); next try in %.0f s", addr, exc, backoff[addr])
                    next_try[addr] = now + backoff[addr]
                    backoff[addr] = min(REDIAL_MAX, backoff[addr] * 2)
            await trio.sleep(REDIAL_MIN)

    def _remembered(self) -> list[str]:
        out = []
        for known in self._book.peers():
            out.extend(known.addrs[:1])
        return out[: self._config.network.max_peers]

    # --- connection events ------------------------------------------------------------------

    def _on_connected(self, peer: ID) -> None:
        try:
            self._connected_send.send_nowait(peer)
        except trio.WouldBlock:
            log.warning("connection events backlog full; %s will sync on the next round", peer)
        self._changed()

    async def _connected_loop(self) -> None:
        async for peer in self._connected_receive:
            self._book.saw(peer.to_string(), self._addrs(peer))
            self._request_sync(peer, (proto.FULL_RANGE,))
            if (
                self._nursery is not None
                and len(self._host.get_connected_peers()) < self._config.network.max_peers
            ):
                # In its own task: a peer that offers dead addresses must not hold up the
                # next connection's sync.
                self._nursery.start_soon(self._exchange_peers, peer)

    async def _serve_pex(self, stream: INetStream) -> None:
        try:
            peers = [
                addrs[0]
                for p in self._host.get_connected_peers()
                if p != stream.muxed_conn.peer_id and (addrs := self._addrs(p))
            ]
            await stream.write(encode_varint_prefixed(encode_pex(peers)))
        except Exception:
            log.debug("peer exchange: serving %s failed", stream.muxed_conn.peer_id)
        finally:
            with trio.CancelScope(shield=True):
                try:
                    await stream.close()
                except Exception:
                    log.debug("peer exchange: closing a stream failed")

    async def _exchange_peers(self, peer: ID) -> None:
        try:
            with trio.fail_after(DIAL_TIMEOUT):
                stream = await self._host.new_stream(peer, [PEX_PROTOCOL])
                try:
                    frame = await read_varint_prefixed_bytes_limited(stream, PEX_MAX_FRAME)
                finally:
                    await stream.close()
            addrs = decode_pex(frame)
        except ValidationError as exc:
            self._incident(peer, "pex.bad_frame", str(exc))
            return
        except Exception as exc:
            log.debug("peer exchange with %s failed: %s", peer, exc)
            return
        connected = {p.to_string() for p in self._host.get_connected_peers()}
        room = self._config.network.max_peers - len(connected)
        fresh = [a for a in addrs if a.rsplit("/p2p/", 1)[-1] not in connected | {self.peer_id}][
            : max(0, room)
        ]

        async def dial(addr: str) -> None:
            try:
                with trio.fail_after(PEX_DIAL_TIMEOUT):
                    await self.connect(addr)
                log.info("connected to %s, learnt from %s", addr, peer)
            except (P2PSocialError, trio.TooSlowError) as exc:
                log.debug("dialling %s (from peer exchange) failed: %s", addr, exc)

        async with trio.open_nursery() as nursery:
            for addr in fresh:
                nursery.start_soon(dial, addr)

    # --- sync scheduling --------------------------------------------------------------------

    def _request_sync(self, peer: ID, ranges: tuple[proto.Range, ...]) -> None:
        try:
            self._sync_send.send_nowait((peer, ranges))
        except trio.WouldBlock:
            log.info("sync queue full; %s waits for the next round", peer)

    async def _sync_worker(self) -> None:
        async for peer, ranges in self._sync_receive:
            if peer not in self._host.get_connected_peers():
                continue
            try:
                await self._sync.sync_with(peer, ranges)
            except P2PSocialError as exc:
                log.info("sync with %s failed: %s", peer, exc)
            except Exception:
                # No peer's input may take the network down: log it and carry on.
                log.exception("sync with %s failed unexpectedly", peer)
            self._changed()

    async def _periodic_sync(self) -> None:
        while True:
            await trio.sleep(self._config.sync.interval * random.uniform(0.8, 1.2))
            for peer in self._host.get_connected_peers():
                self._request_sync(peer, (proto.FULL_RANGE,))

    def _gap(self, author: AuthorId, peer: ID) -> None:
        now = time.monotonic()
        if now - self._gap_seen.get(author, -GAP_DEBOUNCE) < GAP_DEBOUNCE:
            return
        self._gap_seen[author] = now
        log.info("gap in %s's chain: syncing it from %s", author.short, peer)
        self._request_sync(peer, (proto.author_range(author),))

    async def _follow_loop(self) -> None:
        """A new follow syncs that author from every connected peer, newest first; a new
        own message is followed by a check of which peers hold it (for ``status``)."""
        async with self._node.subscribe() as events:
            async for event in events:
                if isinstance(event, NewMessage) and event.source == "local":
                    body = event.message.body
                    if event.message.kind is Kind.FOLLOW and isinstance(body, Follow):
                        rng = proto.author_range(body.author)
                        for peer in self._host.get_connected_peers():
                            self._request_sync(peer, (rng,))
                    if not self._head_check_pending and self._nursery is not None:
                        self._head_check_pending = True
                        self._nursery.start_soon(self._check_my_head)
                self._changed()

    async def _check_my_head(self) -> None:
        # Give gossip a moment to deliver, then ask each peer for my frontier.
        await trio.sleep(HEAD_CHECK_DELAY)
        self._head_check_pending = False
        mine = (proto.author_range(self._node.me),)
        for peer in self._host.get_connected_peers():
            self._request_sync(peer, mine)

    # --- misbehaviour -------------------------------------------------------------------------

    def _incident(self, peer: ID, code: str, detail: str) -> None:
        record = self._incidents.setdefault(peer, _Incidents())
        if code not in NOT_HELD_AGAINST:
            record.count += 1
        if code not in record.kinds:
            record.kinds.add(code)
            log.warning(
                "peer %s: %s (%s); further %s from it are counted, not logged",
                peer,
                code,
                detail,
                code,
            )
        if record.count == BAN_AFTER_INCIDENTS:
            log.warning(
                "peer %s: %s incidents: disconnecting and refusing it for %.0f s",
                peer,
                record.count,
                BAN_SECONDS,
            )
            self._banned[peer] = time.monotonic() + BAN_SECONDS
            if self._nursery is not None:
                self._nursery.start_soon(self._host.disconnect, peer)

    def _is_banned(self, peer: ID) -> bool:
        if self._faults is not None and self._faults.refuses(peer):
            return True
        until = self._banned.get(peer)
        if until is None:
            return False
        if time.monotonic() > until:
            del self._banned[peer]
            self._incidents.pop(peer, None)
            return False
        return True


__all__ = ["TOPIC", "Network", "NetworkStatus", "PeerStatus"]
