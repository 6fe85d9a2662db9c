"""The libp2p host: TCP, Noise only, yamux only, and a transport key of its own.

The transport key (the libp2p peer id) is separate from the author key, and kept in
``HOME/transport.key`` (32 random bytes, owner-only). A peer id is tied to IP addresses
in every connection; keeping it apart from the author key means that knowing where a
node runs does not say whose it is, and an author can move between devices (each with
its own transport key) without linking them at the network level.

py-libp2p's defaults are overridden where they hurt (shared/notes/py-libp2p.md): only
Noise is offered and accepted (no plaintext, TLS or SECIO), only yamux (mplex is 3-5x
slower), an in-memory peerstore (the SQLite one writes the private key to disk), and one
connection per peer (which removes a fixed 250 ms "happy eyeballs" delay per dial).
"""

from __future__ import annotations

import logging
import os
import secrets
from collections.abc import Sequence
from pathlib import Path
from typing import Final

import multiaddr
from libp2p import new_host
from libp2p.abc import IHost
from libp2p.crypto.ed25519 import create_new_key_pair
from libp2p.crypto.keys import KeyPair
from libp2p.crypto.x25519 import create_new_key_pair as create_x25519_key_pair
from libp2p.custom_types import TProtocol
from libp2p.network.config import ConnectionConfig
from libp2p.peer.peerstore import PeerStore
from libp2p.security.noise.transport import PROTOCOL_ID as NOISE_PROTOCOL_ID
from libp2p.security.noise.transport import Transport as NoiseTransport
from libp2p.stream_muxer.yamux.yamux import PROTOCOL_ID as YAMUX_PROTOCOL_ID
from libp2p.stream_muxer.yamux.yamux import Yamux

from ..errors import InputError, StoreError

log = logging.getLogger(__name__)

TRANSPORT_KEY_FILENAME: Final = "transport.key"
_SEED_BYTES: Final = 32


def load_transport_key(home: Path) -> KeyPair:
    """The node's transport key pair, created on first use.

    Raises:
        StoreError: The key file exists but is not a key.
    """
    path = home / TRANSPORT_KEY_FILENAME
    try:
        seed = path.read_bytes()
    except FileNotFoundError:
        seed = secrets.token_bytes(_SEED_BYTES)
        tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            os.write(fd, seed)
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, path)
        log.info("created a transport key in %s", path)
    if len(seed) != _SEED_BYTES:
        raise StoreError(f"{path} is not a transport key ({len(seed)} bytes); delete it")
    return create_new_key_pair(seed)


def parse_multiaddrs(texts: Sequence[str], *, what: str) -> list[multiaddr.Multiaddr]:
    """Parse multiaddrs typed by a person or read from the config.

    Raises:
        InputError: One of them is not a multiaddr.
    """
    out = []
    for text in texts:
        try:
            out.append(multiaddr.Multiaddr(text))
        except Exception as exc:  # multiaddr raises several unrelated types
            raise InputError(f"{what} {text!r} is not a multiaddr: {exc}") from None
    return out


def make_host(key_pair: KeyPair, listen: Sequence[multiaddr.Multiaddr]) -> IHost:
    """A host with the hardened options above; start it with ``host.run(listen)``."""
    noise = NoiseTransport(key_pair, noise_privkey=create_x25519_key_pair().private_key)
    return new_host(
        key_pair=key_pair,
        sec_opt={TProtocol(NOISE_PROTOCOL_ID): noise},
        muxer_opt={TProtocol(YAMUX_PROTOCOL_ID): Yamux},
        peerstore_opt=PeerStore(),
        connection_config=ConnectionConfig(max_connections_per_peer=1),
        listen_addrs=list(listen),
    )


def full_addrs(host: IHost) -> list[str]:
    """The host's listen addresses, each with ``/p2p/<peer id>``, ready to share."""
    peer = host.get_id().to_string()
    out = []
    for addr in host.get_addrs():
        text = str(addr)
        out.append(text if "/p2p/" in text else f"{text}/p2p/{peer}")
    return out
