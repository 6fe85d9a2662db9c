"""Gossip: new messages to every node within a second, over libp2p gossipsub.

Every message travels on one topic, :data:`TOPIC`, as its wire bytes. The topic validator
is where messages enter this node from gossip: it checks the postage its author owes
(:mod:`p2psocial.admission`, before the signature: it is cheaper), the message on its own
(size, encoding, signature, timestamp), the author's rate limit and, for a stranger, the
strangers' shared budget, and then stores it (chain rules included) before returning True,
so that gossipsub forwards only what this node has validated and stored. Anything else
returns False: an invalid message counts against the peer that sent it in full, an
over-limit one a little, and a refusal of local policy (postage, the strangers' budget) not
at all (:mod:`p2psocial.net.scoring`). Stores are batched: concurrent validators share one
fsync.

A blocked author's message (docs/moderation.md) is taken before gossipsub sees it: stored
(the store keeps its header only) and not forwarded, without counting against the peer
that relayed it; a block also clears that author's messages from gossipsub's cache.

Publishing goes through a paced queue, because py-libp2p drops silently once 32 messages
wait for one peer. Each own message is published, or, with no peer subscribed, left for
sync; the log says which.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Final

import trio
from libp2p.peer.id import ID
from libp2p.pubsub.pb import rpc_pb2
from libp2p.pubsub.pubsub import Pubsub

from ..admission import Admission, Verdict, peek
from ..config import GossipConfig, LimitsConfig
from ..core.bodies import Kind
from ..core.ids import AuthorId
from ..core.message import Message, decode_message
from ..core.ratelimit import RateLimiter
from ..errors import StoreError, ValidationError
from ..node import NewMessage, Node
from ..store.store import IngestResult, Outcome
from .scoring import AdmissionScorer

if TYPE_CHECKING:
    # libp2p pulls in trio-typing, whose stubs shadow trio's own types for mypy.
    from trio_typing import TaskStatus

log = logging.getLogger(__name__)

TOPIC: Final = "p2psocial/v1/messages"
BATCH_MAX: Final = 256
QUEUE_SIZE: Final = 4096

Incident = Callable[[ID, str, str], None]
GapHandler = Callable[[AuthorId, ID], None]


class _Batcher:
    """Group commit for validators: one store call (one fsync) for what arrived together."""

    def __init__(self, node: Node) -> None:
        self._node = node
        self._send, self._receive = trio.open_memory_channel[
            tuple[Message, list[IngestResult], trio.Event]
        ](QUEUE_SIZE)

    async def store(self, message: Message) -> IngestResult:
        slot: list[IngestResult] = []
        done = trio.Event()
        await self._send.send((message, slot, done))
        await done.wait()
        return slot[0]

    async def run(self) -> None:
        async for first in self._receive:
            batch = [first]
            while len(batch) < BATCH_MAX:
                try:
                    batch.append(self._receive.receive_nowait())
                except trio.WouldBlock:
                    break
            try:
                results = await self._node.ingest(
                    [m for m, _, _ in batch], source="network", allow_gaps=True
                )
            except Exception:
                log.exception("gossip: storing a batch of %s failed", len(batch))
                results = [IngestResult(Outcome.REJECTED, m) for m, _, _ in batch]
            for (_, slot, done), result in zip(batch, results, strict=True):
                slot.append(result)
                done.set()


@dataclass
class _InFlight:
    """A message being stored, for copies of it that arrive meanwhile."""

    done: trio.Event = field(default_factory=trio.Event)
    stored: bool = False
    """Whether the store took it (or held it already): what its copies answer."""


class Gossip:
    """The gossip side of a running network."""

    def __init__(
        self,
        node: Node,
        pubsub: Pubsub,
        config: GossipConfig,
        limits: LimitsConfig,
        *,
        admission: Admission,
        scores: AdmissionScorer,
        incident: Incident,
        on_gap: GapHandler,
    ) -> None:
        self._node = node
        self._pubsub = pubsub
        self._config = config
        self._limits = limits
        self._admission = admission
        self._scores = scores
        self._incident = incident
        self._on_gap = on_gap
        self._own: RateLimiter[AuthorId] = RateLimiter(limits.author_rate, limits.author_burst)
        self._batcher = _Batcher(node)
        # Messages admitted and being stored: py-libp2p marks a message seen only after its
        # validator returns, so a second copy (another relay's, or an IWANT answer) can
        # arrive meanwhile; it waits for the first instead of being charged again.
        self._in_flight: dict[bytes, _InFlight] = {}
        self.published = 0
        self.left_for_sync = 0
        self.received = 0
        self.kept_back = 0
        """Messages of blocked authors taken out of gossip (stored header-only when valid)."""
        self._keep_back_blocked()

    async def run(self, *, task_status: TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        """Subscribe, validate and publish until cancelled."""
        subscription = await self._pubsub.subscribe(TOPIC)
        self._pubsub.set_topic_validator(TOPIC, self._validate, is_async_validator=True)
        async with self._node.subscribe() as events, trio.open_nursery() as nursery:
            nursery.start_soon(self._batcher.run)
            nursery.start_soon(self._drain, subscription)
            task_status.started()
            await self._publish_loop(events)

    def _keep_back_blocked(self) -> None:
        """Put :meth:`_kept_back` in front of gossipsub's handling of each peer's message.

        A topic validator can only accept a message (gossipsub then forwards it) or reject
        it (and score the peer that relayed it down). Relaying a blocked author is no fault
        of the peer, and forwarding it is what this node's owner asked it not to do.
        """
        deliver = self._pubsub.push_msg
        me = self._pubsub.my_id

        async def push_msg(forwarder: ID, msg: rpc_pb2.Message) -> None:
            if (
                forwarder == me
                or not self._node.blocked
                or not await self._kept_back(forwarder, msg)
            ):
                await deliver(forwarder, msg)

        # py-libp2p looks the method up on the instance for every message it reads.
        setattr(self._pubsub, "push_msg", push_msg)  # noqa: B010 - mypy refuses method assignment

    async def _kept_back(self, forwarder: ID, msg: rpc_pb2.Message) -> bool:
        """Take a blocked author's message here: admitted, validated and stored like any
        other (the store keeps its header only), and marked seen, so that gossipsub neither
        forwards it nor asks for it again, and never scores the relay for it. False: not a
        blocked author's (or not readable: the validator refuses and scores it as usual)."""
        envelope = peek(msg.data)
        if envelope is None or envelope.author not in self._node.blocked:
            return False
        seen = self._pubsub.seen_messages
        key = self._pubsub.get_message_id(msg)
        if seen.has(key):
            return True
        seen.add(key)
        self.kept_back += 1
        try:
            stored = await self._check_and_store(forwarder, msg.data)
        except Exception:
            log.exception("gossip: storing a blocked author's message from %s failed", forwarder)
            return True
        log.debug("gossip: kept back a message of blocked %s (%s)", envelope.author.short, stored)
        if stored is False:
            # Invalid (a forgery that names a blocked author, say): it skipped the
            # validator, so score it here as the validator's refusal would have.
            scorer = getattr(self._pubsub.router, "scorer", None)
            if scorer is not None:
                scorer.on_invalid_message(forwarder, TOPIC)
        return True

    def _forget_blocked(self) -> None:
        """Drop blocked authors' messages from gossipsub's cache of recent messages, from
        which it would still push them to a newly subscribed peer or answer an IWANT."""
        cache = getattr(self._pubsub.router, "mcache", None)
        if cache is None:
            return
        blocked = self._node.blocked
        for key, msg in list(cache.msgs.items()):
            try:
                author = decode_message(msg.data, check_signature=False).author
            except ValidationError:
                continue
            if author in blocked:
                del cache.msgs[key]
                log.debug("gossip: dropped a message of blocked %s from the cache", author.short)

    def peers(self) -> set[ID]:
        """Peers subscribed to the topic."""
        return set(self._pubsub.peer_topics.get(TOPIC, set()))

    async def _drain(self, subscription: object) -> None:
        # Validated messages are already stored; keep py-libp2p's 32-slot channel empty.
        async for _ in subscription:  # type: ignore[attr-defined]
            self.received += 1

    async def _validate(self, forwarder: ID, msg: rpc_pb2.Message) -> bool:
        try:
            verdict = await self._check_and_store(forwarder, msg.data)
        except Exception:
            log.exception("gossip: validating a message from %s failed; rejected", forwarder)
            return False
        if isinstance(verdict, Verdict):
            # Refused, but not invalid: tell the scorer before answering "no", and mark the
            # envelope seen, so that neither other relays' copies nor gossip's IHAVE/IWANT
            # bring it back to be refused again (sync brings it once this node takes it).
            msg_id = self._pubsub.get_message_id(msg)
            self._scores.refused(forwarder, msg_id, verdict)
            self._pubsub.seen_messages.add(msg_id)
            return False
        return verdict

    async def _check_and_store(self, forwarder: ID, data: bytes) -> bool | Verdict:
        """True: stored (or held already); False: invalid; a :class:`Verdict`: refused by
        admission."""
        own = forwarder == self._pubsub.my_id
        now = time.monotonic()
        envelope = peek(data)
        if envelope is not None and not own:
            verdict = self._admission.postage(envelope, now)
            if verdict is not Verdict.ADMIT:
                return verdict
        try:
            message = decode_message(
                data,
                now_ms=time.time_ns() // 1_000_000,
                max_skew_ms=int(self._limits.clock_skew * 1000),
            )
        except ValidationError as exc:
            if not own:
                self._incident(forwarder, exc.code, str(exc))
            return False
        if message.author != self._node.me:
            if self._already_held(message):
                return True  # a duplicate costs its author nothing
            first = self._in_flight.get(message.id.raw)
            if first is not None:
                await first.done.wait()  # a copy of one being stored: its outcome, uncharged
                return first.stored
            verdict = self._admission.gossip(message.author, now)
            if verdict is Verdict.AUTHOR_RATE:
                self._incident(forwarder, verdict.value, f"{message.author.short} over limit")
            if verdict is not Verdict.ADMIT:
                return verdict
        pending = self._in_flight.setdefault(message.id.raw, _InFlight())
        try:
            result = await self._batcher.store(message)
            pending.stored = result.outcome is not Outcome.REJECTED
        finally:
            if self._in_flight.get(message.id.raw) is pending:
                del self._in_flight[message.id.raw]
            pending.done.set()
        if result.outcome is Outcome.REJECTED:
            if not own:
                code = result.error.code if result.error else "rejected"
                self._incident(forwarder, code, str(result.error))
            return False
        if result.outcome is Outcome.ACCEPTED and not own:
            info = await self._node.author(message.author)
            if info is not None and info.held < info.head_seq:
                self._on_gap(message.author, forwarder)
        return True

    def _already_held(self, message: Message) -> bool:
        try:
            return self._node.reader.has(message.id)
        except StoreError:
            return False  # the index is being rebuilt: the store will tell

    async def _publish_loop(self, events: object) -> None:
        interval = 1.0 / self._config.publish_rate
        async for event in events:  # type: ignore[attr-defined]
            if not isinstance(event, NewMessage) or event.source != "local":
                continue
            message = event.message
            if message.kind is Kind.BLOCK:
                self._forget_blocked()
            peers = len(self.peers())
            if not self._own.allow(self._node.me, time.monotonic()):
                # Peers would refuse it as over the author limit (and blame us): sync
                # carries it instead.
                self.left_for_sync += 1
                log.info(
                    "posting faster than peers accept: %s seq %s left for sync",
                    message.id.short,
                    message.seq,
                )
                continue
            if peers == 0:
                self.left_for_sync += 1
                log.info("no gossip peers: %s seq %s left for sync", message.id.short, message.seq)
                continue
            try:
                await self._pubsub.publish(TOPIC, message.to_bytes())
            except Exception as exc:
                self.left_for_sync += 1
                log.warning("publishing %s failed (%s): left for sync", message.id.short, exc)
            else:
                self.published += 1
                log.info("published %s seq %s to %s peers", message.id.short, message.seq, peers)
            await trio.sleep(interval)
