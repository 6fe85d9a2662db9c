"""Byzantine nodes: raw libp2p hosts (tests/net/hostile.py) that attack the honest ones.

Each byzantine node dials a few honest nodes, joins their gossip mesh, answers their sync
sessions with a lie, and carries out four attacks at the times the plan says:

- ``forge``: three messages that break one rule each: a flipped signature bit, a body
  that does not match its header's hash, random bytes. No honest node may hold any of them.
- ``fork``: its own author signs a chain of three, then a second, different message at
  seq 3 (equivocation). Honest nodes keep the first one seen and the other as evidence.
- ``flood``: a fresh author publishes three times the per-author burst at once; each
  honest node accepts up to its limit, and sync spreads what any of them accepted.
- ``withhold``: its author publishes seqs 1, 2, 4, 5 and never seq 3, and its sync server
  claims a head at seq 10 it never sends (the claim is checked and refused).

Valid messages it publishes are part of what the honest nodes must agree on; forged ones
are recorded so that the run can check no honest node holds them.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field

import trio
from libp2p.peer.id import ID

from p2psocial.core import sync as proto
from p2psocial.core.ids import MessageId
from tests.factories import ChainBuilder
from tests.net.hostile import (
    HostilePeer,
    claimed_id,
    claiming,
    flip_signature,
    garbage,
    swap_body,
)

from .plan import AttackKind

SEED_BASE = 7_000_000
"""Author seeds of byzantine nodes start here (honest extra authors use lower ones)."""


@dataclass
class Byzantine:
    """One byzantine node and what it has done."""

    index: int
    peer: HostilePeer
    seed: int
    victims: list[ID] = field(default_factory=list)
    forged: set[bytes] = field(default_factory=set)
    """Ids claimed by invalid messages it published (none may be held by an honest node)."""
    published: int = 0
    withheld: set[bytes] = field(default_factory=set)
    """Ids of valid messages it signed and never sent."""

    def author(self, kind: AttackKind) -> ChainBuilder:
        """The author it uses for one attack (one per attack, so that they do not mix)."""
        offset = ("forge", "fork", "flood", "withhold").index(kind)
        return ChainBuilder(SEED_BASE + self.seed * 1000 + self.index * 10 + offset)

    def lie_in_sync(self) -> None:
        """Answer every sync session with a claim to a chain it never sends."""
        author = self.author("withhold").author
        claim = proto.Frontier(author.raw, 10, secrets.token_bytes(32), 10)
        self.peer.serve_sync(claiming(claim))

    async def attack(self, kind: AttackKind, author_burst: int) -> None:
        """Carry out one attack on every honest node it is connected to."""
        if kind == "forge":
            victim = ChainBuilder(SEED_BASE + self.seed * 1000 + self.index * 10 + 9)
            good = victim.post("forged once")
            other = victim.post("forged twice")
            # Three, so that its gossipsub score (-10 each) stays above the -50 at which
            # its later, valid messages would be dropped unseen.
            for data in (
                flip_signature(good),
                swap_body(other, good),
                garbage("random", seed=self.index)[1],
            ):
                mid = claimed_id(data)
                if mid is not None:
                    self.forged.add(mid.raw)
                await self._publish(data)
        elif kind == "fork":
            builder = self.author("fork")
            for message in builder.extend(3, "fork chain {seq}"):
                await self._publish(message.to_bytes())
            other = builder.fork(3, f"the other seq 3 of byzantine {self.index}")
            await self._publish(other.to_bytes())
        elif kind == "flood":
            builder = self.author("flood")
            for message in builder.extend(3 * author_burst, "flood {seq}"):
                await self._publish(message.to_bytes())
        elif kind == "withhold":
            builder = self.author("withhold")
            chain = builder.extend(5, "with a hole {seq}")
            self.withheld.add(chain[2].id.raw)
            for message in chain[:2] + chain[3:]:
                await self._publish(message.to_bytes())

    async def _publish(self, data: bytes) -> None:
        if not self.victims:
            return
        try:
            await self.peer.publish(data)
            self.published += 1
        except Exception as exc:  # a banned byzantine node may have lost every peer
            print(f"  [sim] byzantine {self.index}: publish failed: {exc}", flush=True)
        await trio.sleep(0)


def forged_ids(byzantines: list[Byzantine]) -> set[MessageId]:
    """Every id a byzantine node published invalid bytes for."""
    return {MessageId(raw) for b in byzantines for raw in b.forged}
