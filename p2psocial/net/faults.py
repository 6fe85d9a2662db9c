"""Fault injection for simulations and tests only: the daemon, the CLI and config.toml never
set it.

A :class:`Faults` handed to :class:`~p2psocial.net.network.Network` makes one node's links
behave badly. The node's own code runs unchanged; only what reaches it changes:

- ``gossip_drop``: the share of gossip messages from peers dropped on arrival, before
  gossipsub sees them, as if lost on the wire. A dropped copy is not marked seen, so another
  peer's copy may still deliver the message; otherwise sync must.
- ``gossip_delay``: seconds each gossip message from a peer waits before gossipsub sees it
  (a slow node: everything it validates and relays comes late).
- ``refuse``: peer ids (base58) this node is partitioned from: their gossip is dropped, a
  connection with one is closed as it opens, and dialling one fails. Adding an id does not
  close a connection already open; the caller closes it.

Each :class:`Faults` draws from its own seeded generator, so a simulation can be replayed.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

import trio
from libp2p.peer.id import ID
from libp2p.pubsub.pb import rpc_pb2
from libp2p.pubsub.pubsub import Pubsub


@dataclass
class Faults:
    """What goes wrong on one node's links; see the module docstring."""

    gossip_drop: float = 0.0
    gossip_delay: float = 0.0
    refuse: set[str] = field(default_factory=set)
    seed: int = 0
    dropped: int = 0
    """Gossip messages dropped so far (by ``gossip_drop`` or ``refuse``)."""
    _rng: random.Random = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self._rng = random.Random(self.seed)

    def refuses(self, peer: ID) -> bool:
        """Whether this node is partitioned from ``peer``."""
        return bool(self.refuse) and peer.to_string() in self.refuse

    def install(self, pubsub: Pubsub) -> None:
        """Put the drop, delay and refusal in front of ``pubsub``'s handling of each message
        a peer sends (the node's own publishes pass untouched)."""
        deliver = pubsub.push_msg
        me = pubsub.my_id

        async def push_msg(forwarder: ID, msg: rpc_pb2.Message) -> None:
            if forwarder != me:
                if self.refuses(forwarder) or (
                    self.gossip_drop > 0 and self._rng.random() < self.gossip_drop
                ):
                    self.dropped += 1
                    return
                if self.gossip_delay > 0:
                    await trio.sleep(self.gossip_delay)
            await deliver(forwarder, msg)

        # py-libp2p looks the method up on the instance for every message it reads.
        setattr(pubsub, "push_msg", push_msg)  # noqa: B010 - mypy refuses method assignment


__all__ = ["Faults"]
