"""Peer scores that know why our validator refused a message.

py-libp2p's topic validators answer only yes or no, and every "no" counts as an invalid
message against the peer that forwarded it (P4 of the gossipsub score: 10 points here).
That is right for a forged or malformed message, but not for the refusals that
:mod:`p2psocial.admission` makes:

- too little postage, or strangers over their shared budget: local policy (the relay's
  follow graph and capacity are not ours), so the relay pays nothing;
- over the author's rate limit: a relay that applies the default limits itself does not
  forward that (it checks the same limits before forwarding), but a relay cannot tell a
  fast honest author from a flood, so it pays a little: a fifth of an invalid message.

:class:`AdmissionScorer` replaces the router's scorer: the validator tells it what each
refusal was (:meth:`AdmissionScorer.refused`) just before answering "no", and the invalid
report that follows is excused or turned into the over-limit charge. It also keeps
py-libp2p's validation cache from replaying an excused refusal as "invalid" to the next
peer that forwards the same message (:func:`install`).

The numbers (docs/protocol.md, section 12.2): each over-limit message adds 1 to a per-peer
count that decays by :data:`OVER_LIMIT_DECAY` per heartbeat (1 s), as the invalid count
does, and the score loses ``OVER_LIMIT_WEIGHT * min(count, OVER_LIMIT_CAP)``. Two
limiters with the same settings disagree only by arrival times, so an honest relay
forwards at most the odd over-limit message: 2 points, gone in seconds. Under -10 a peer
gets no gossip (IHAVE) from us; under -50 (graylist) its messages are dropped before
validation and its GRAFTs refused, so it is out of our mesh. From a neutral score that
takes 5 and 25 over-limit messages at once, or a steady 0.5 and 2.5 per second beyond the
limit (each first delivery of a valid message earns back up to 10). The count itself is not
capped, only its charge (at -150): a peer is back above -50 once its count has decayed
under 25, some 10 s after a flood of 75 and 20 s after one of 200. Over-limit traffic
never disconnects a peer: it is not an incident that counts toward a ban.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any, Final

from libp2p.peer.id import ID
from libp2p.pubsub.gossipsub import GossipSub
from libp2p.pubsub.pubsub import Pubsub
from libp2p.pubsub.score import PeerScorer, ScoreParams

from ..admission import Verdict

OVER_LIMIT_WEIGHT: Final = 2.0
"""Score points per over-limit message (an invalid one costs 10)."""
OVER_LIMIT_CAP: Final = 75.0
"""The count beyond which more over-limit messages cost no more (at most -150); the count
keeps growing, so a longer flood takes longer to be forgiven."""
OVER_LIMIT_DECAY: Final = 0.9
"""The over-limit count is multiplied by this every heartbeat (half-life ~6.6 s at 1 s)."""
_FORGET_BELOW: Final = 0.01
MAX_EXCUSED_IDS: Final = 10_000
"""Bound on message ids awaiting the validation cache (each is removed as it is cached)."""


class AdmissionScorer(PeerScorer):
    """py-libp2p's peer scorer, plus what admission refusals should cost (module doc)."""

    def __init__(self, params: ScoreParams) -> None:
        super().__init__(params)
        self._excused: defaultdict[ID, int] = defaultdict(int)
        self._excused_ids: set[bytes] = set()
        self._over: dict[ID, float] = {}

    # --- what the validator says -----------------------------------------------------------

    def refused(self, peer: ID, msg_id: bytes, verdict: Verdict) -> None:
        """The validator is about to answer "no" to ``peer``'s message ``msg_id`` for
        ``verdict`` (not for being invalid): excuse the invalid report that follows, and
        charge an over-limit message for :attr:`Verdict.AUTHOR_RATE`."""
        self._excused[peer] += 1
        if len(self._excused_ids) < MAX_EXCUSED_IDS:
            self._excused_ids.add(msg_id)
        if verdict is Verdict.AUTHOR_RATE:
            self._over[peer] = self._over.get(peer, 0.0) + 1.0

    def is_excused(self, msg_id: bytes) -> bool:
        """Whether the refusal of ``msg_id`` was excused (asked once, by the cache)."""
        if msg_id in self._excused_ids:
            self._excused_ids.discard(msg_id)
            return True
        return False

    def over_limit(self, peer: ID) -> float:
        """``peer``'s decayed count of over-limit messages."""
        return self._over.get(peer, 0.0)

    # --- PeerScorer ------------------------------------------------------------------------

    def on_invalid_message(self, peer: ID, topic: str) -> None:
        """Count an invalid message, unless the validator excused this refusal."""
        if self._excused.get(peer, 0) > 0:
            self._excused[peer] -= 1
            if not self._excused[peer]:
                del self._excused[peer]
            return
        super().on_invalid_message(peer, topic)

    def topic_score(self, peer: ID, topic: str) -> float:
        """The gossipsub topic score, less the over-limit penalty."""
        score = super().topic_score(peer, topic)
        over = self._over.get(peer)
        if over:
            score -= OVER_LIMIT_WEIGHT * min(over, OVER_LIMIT_CAP)
        return score

    def on_heartbeat(self, dt_seconds: float = 1.0) -> None:
        """Decay every counter, ours included."""
        super().on_heartbeat(dt_seconds)
        for peer, over in list(self._over.items()):
            decayed = over * OVER_LIMIT_DECAY
            if decayed < _FORGET_BELOW:
                del self._over[peer]
            else:
                self._over[peer] = decayed

    def remove_peer(self, peer: ID) -> None:
        """Forget a disconnected peer, our counters too."""
        super().remove_peer(peer)
        self._over.pop(peer, None)
        self._excused.pop(peer, None)


def install(pubsub: Pubsub, gossipsub: GossipSub) -> AdmissionScorer:
    """Give ``gossipsub`` an :class:`AdmissionScorer` with its score parameters, and make
    ``pubsub``'s validation cache skip excused refusals (so that the same message from
    another peer is validated again, not reported invalid from the cache)."""
    params = gossipsub.scorer.params if gossipsub.scorer is not None else ScoreParams()
    scorer = AdmissionScorer(params)
    gossipsub.scorer = scorer
    cache = pubsub.validation_cache
    put = cache.put

    def put_unless_excused(msg_id: bytes, result: Any) -> None:
        if not result.is_valid and scorer.is_excused(msg_id):
            return
        put(msg_id, result)

    # py-libp2p looks the method up on the instance each time.
    setattr(cache, "put", put_unless_excused)  # noqa: B010 - mypy refuses method assignment
    return scorer


__all__ = [
    "OVER_LIMIT_CAP",
    "OVER_LIMIT_DECAY",
    "OVER_LIMIT_WEIGHT",
    "AdmissionScorer",
    "install",
]
