"""Known peers: remembered across restarts, and exchanged with other peers.

``HOME/peers.json`` keeps the peers this node has been connected to (peer id, full
multiaddrs, when last seen), newest first, bounded; a restarted node dials them again.

Peer exchange (``/p2psocial/peers/1``) lets a node learn peers beyond its bootstrap list:
the server writes one frame, an unsigned-varint length and the canonical CBOR map
``{"peers": [multiaddr text, ...]}`` (at most 32 full multiaddrs of peers it is connected
to), then closes; the client reads it and may dial them.
"""

from __future__ import annotations

import json
import logging
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Final

import multiaddr
from libp2p.custom_types import TProtocol

from ..core import canonical
from ..errors import DecodeError

log = logging.getLogger(__name__)

PEERS_FILENAME: Final = "peers.json"
PEX_PROTOCOL: Final = TProtocol("/p2psocial/peers/1")
PEX_MAX_PEERS: Final = 32
PEX_MAX_FRAME: Final = 64 * 1024


@dataclass(slots=True)
class KnownPeer:
    """A peer this node has been connected to."""

    peer_id: str
    addrs: list[str]
    last_seen: float


class PeerBook:
    """The remembered peers of one home, most recently seen first."""

    def __init__(self, path: Path, capacity: int) -> None:
        self._path = path
        self._capacity = capacity
        self._peers: dict[str, KnownPeer] = {}
        self._load()

    def _load(self) -> None:
        try:
            data = json.loads(self._path.read_text(encoding="utf-8"))
            for entry in data["peers"]:
                peer = KnownPeer(str(entry["id"]), [str(a) for a in entry["addrs"]], 0.0)
                peer.last_seen = float(entry["last_seen"])
                self._peers[peer.peer_id] = peer
        except FileNotFoundError:
            return
        except (OSError, ValueError, KeyError, TypeError) as exc:
            log.warning(
                "ignoring unreadable %s (%s); it is rewritten as peers connect", self._path, exc
            )
            self._peers.clear()

    def peers(self) -> list[KnownPeer]:
        """The known peers, most recently seen first."""
        return sorted(self._peers.values(), key=lambda p: p.last_seen, reverse=True)

    def saw(self, peer_id: str, addrs: list[str]) -> None:
        """Record that ``peer_id`` is reachable at ``addrs`` (full multiaddrs) now."""
        if not addrs:
            return
        self._peers[peer_id] = KnownPeer(peer_id, addrs, time.time())
        if len(self._peers) > self._capacity:
            for old in self.peers()[self._capacity :]:
                del self._peers[old.peer_id]
        self._save()

    def _save(self) -> None:
        data = {
            "peers": [
                {"id": p.peer_id, "addrs": p.addrs, "last_seen": p.last_seen} for p in self.peers()
            ]
        }
        tmp = self._path.with_name(f".{self._path.name}.tmp-{os.getpid()}")
        try:
            tmp.write_text(json.dumps(data, indent=1), encoding="utf-8")
            os.replace(tmp, self._path)
        except OSError as exc:
            log.warning("cannot save known peers to %s: %s", self._path, exc)


def encode_pex(addrs: list[str]) -> bytes:
    """A peer-exchange frame's payload."""
    value: dict[str, canonical.Value] = {"peers": list(addrs[:PEX_MAX_PEERS])}
    return canonical.encode(value)


def decode_pex(data: bytes) -> list[str]:
    """The multiaddrs of a peer-exchange frame; only full ones (with ``/p2p/``).

    Raises:
        DecodeError: The frame is malformed.
    """
    value = canonical.decode(data)
    if not isinstance(value, dict) or set(value) != {"peers"}:
        raise DecodeError('a peer-exchange frame is {"peers": [...]}')
    peers = value["peers"]
    if not isinstance(peers, list) or len(peers) > PEX_MAX_PEERS:
        raise DecodeError(f"peers must be a list of at most {PEX_MAX_PEERS}")
    out = []
    for text in peers:
        if not isinstance(text, str) or len(text) > 512:
            raise DecodeError("each peer is a multiaddr of at most 512 characters")
        try:
            addr = multiaddr.Multiaddr(text)
        except Exception:
            raise DecodeError(f"not a multiaddr: {text[:80]!r}") from None
        if "/p2p/" in str(addr):
            out.append(str(addr))
    return out
