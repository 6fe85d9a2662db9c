"""mDNS: find peers on the local network (on by default; ``--no-mdns`` turns it off).

py-libp2p's discovery reports peers on a zeroconf thread through a process-wide
registry; this module hands them to trio and dials them itself (the library's own
auto-connector is stopped, so nothing dials behind our back). Stopping must happen on the
trio thread: from a worker thread it was seen to hang.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Awaitable, Callable
from typing import Any

import trio
from libp2p.abc import IHost
from libp2p.discovery.events.peerDiscovery import peerDiscovery
from libp2p.discovery.mdns import create_mdns_discovery

from ..errors import P2PSocialError

log = logging.getLogger(__name__)


async def run_mdns(host: IHost, dial: Callable[[Any], Awaitable[None]]) -> None:
    """Announce this host and dial every peer found, until cancelled."""
    token = trio.lowlevel.current_trio_token()
    send, receive = trio.open_memory_channel[Any](100)

    def found(info: Any) -> None:  # on a zeroconf thread
        with contextlib.suppress(trio.RunFinishedError, trio.WouldBlock):
            trio.from_thread.run_sync(send.send_nowait, info, trio_token=token)

    peerDiscovery.register_peer_discovered_handler(found)
    discovery = create_mdns_discovery(host.get_network(), host=host)
    discovery.start()
    log.info("mDNS discovery started")
    try:
        async for info in receive:
            if info.peer_id == host.get_id() or info.peer_id in host.get_connected_peers():
                continue
            try:
                await dial(info)
                log.info("connected to %s, found by mDNS", info.peer_id)
            except P2PSocialError as exc:
                log.info("dialling %s (found by mDNS) failed: %s", info.peer_id, exc)
    finally:
        with trio.CancelScope(shield=True):
            discovery.stop()
            peerDiscovery.unregister_peer_discovered_handler(found)
