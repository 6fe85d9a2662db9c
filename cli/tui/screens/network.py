"""The node on the network: addresses to share, peers, counters; add a peer."""

from __future__ import annotations

import time

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, VerticalScroll
from textual.widgets import Button, DataTable, Footer, Header, Input, Label, ListItem, ListView

from p2psocial.errors import P2PSocialError

from .base import BaseScreen

REFRESH_SECONDS = 1.0
NO_PEERS = "No peers yet: add one above, or give someone one of your addresses."


class AddressItem(ListItem):
    def __init__(self, addr: str) -> None:
        super().__init__(Label(addr))
        self.addr = addr


class NetworkScreen(BaseScreen):
    """Listen addresses (enter or c copies one), connected peers, gossip and sync counters."""

    BINDINGS = [  # noqa: RUF012
        Binding("c", "copy_address", "Copy address"),
        Binding("a", "add_peer", "Add peer"),
        Binding("escape", "leave_field", "Leave the field"),
    ]

    def compose(self) -> ComposeResult:
        yield Header()
        with VerticalScroll(id="network"):
            yield Label("", id="network-summary")
            yield Label("Your addresses: give one to a friend (enter or c copies it)")
            yield ListView(id="addresses")
            yield Label("Add a peer")
            with Horizontal(id="add-peer"):
                yield Input(placeholder="/ip4/…/tcp/…/p2p/…", id="peer-addr")
                yield Button("Connect", id="peer-connect", variant="primary")
            yield Label("Peers")
            yield Label(NO_PEERS, id="peers-empty")
            yield DataTable(id="peers", cursor_type="row", zebra_stripes=True)
        yield Footer(compact=True, show_command_palette=False)

    def on_mount(self) -> None:
        self.sub_title = "Network"
        table = self.query_one("#peers", DataTable)
        table.add_columns(
            "peer", "conn", "gossip", "has my latest", "recv", "sent", "incid.", "synced"
        )
        self._addresses: list[str] = []
        self.refresh_status()
        self.set_interval(REFRESH_SECONDS, self.refresh_status)

    def on_screen_resume(self) -> None:
        super().on_screen_resume()
        self.refresh_status()

    def refresh_status(self) -> None:
        if not self.is_current:
            return
        backend = self.backend
        status = backend.network_status()
        summary = self.query_one("#network-summary", Label)
        where = ""
        if backend.mode == "attached":
            pid = getattr(backend, "node_pid", None)
            where = f"Attached to the node running on this home (pid {pid}).\n"
        if status is None:
            summary.update(where + backend.network_note())
            self.query_one("#peers-empty").display = False
            return
        holding = sum(bool(p.holds_my_latest) for p in status.peers)
        summary.update(
            f"{where}peer id {status.peer_id}\n"
            f"{status.connected} connected · {holding} hold my latest (seq "
            f"{status.my_head_seq}) · published {status.published} · received by gossip "
            f"{status.gossip_received} · left for sync {status.left_for_sync} · "
            f"syncing with {len(status.syncing)}"
        )
        if list(status.listen) != self._addresses:
            self._addresses = list(status.listen)
            addresses = self.query_one("#addresses", ListView)
            addresses.clear()
            addresses.extend([AddressItem(addr) for addr in status.listen])
        table = self.query_one("#peers", DataTable)
        row = table.cursor_row
        table.clear()
        now = time.time()
        for peer in status.peers:
            latest = (
                "?" if peer.holds_my_latest is None else ("yes" if peer.holds_my_latest else "no")
            )
            synced = "never" if peer.last_sync is None else f"{int(now - peer.last_sync)}s ago"
            table.add_row(
                peer.peer_id[-12:],
                "●" if peer.connected else "○",
                "yes" if peer.gossip else "no",
                latest,
                str(peer.received),
                str(peer.served),
                str(peer.incidents),
                synced,
                key=peer.peer_id,
            )
        if table.row_count:
            table.move_cursor(row=min(row, table.row_count - 1), animate=False)
        self.query_one("#peers-empty").display = not table.row_count

    @property
    def addresses(self) -> list[str]:
        return list(self._addresses)

    @on(ListView.Selected, "#addresses")
    def action_copy_address(self) -> None:
        child = self.query_one("#addresses", ListView).highlighted_child
        if not isinstance(child, AddressItem):
            if not self._addresses:
                self.notify("No address to copy: the network is off.", severity="warning")
                return
            addr = self._addresses[0]
        else:
            addr = child.addr
        self.app.copy_to_clipboard(addr)
        self.notify(f"Copied {addr}")

    def action_add_peer(self) -> None:
        self.query_one("#peer-addr").focus()

    def action_leave_field(self) -> None:
        self.query_one("#addresses").focus()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "leave_field":
            return self.query_one("#peer-addr").has_focus
        return True

    @on(Input.Submitted, "#peer-addr")
    @on(Button.Pressed, "#peer-connect")
    def _connect_pressed(self) -> None:
        addr = self.query_one("#peer-addr", Input).value.strip()
        if not addr:
            self.notify("Paste a peer's address first.", severity="warning")
            return
        self._connect(addr)

    @work(exclusive=True, group="connect")
    async def _connect(self, addr: str) -> None:
        self.notify(f"Dialling {addr}…")
        try:
            peer = await self.backend.connect(addr)
        except P2PSocialError as exc:
            self.notify(str(exc), title="Could not connect", severity="error", timeout=8)
            return
        self.query_one("#peer-addr", Input).value = ""
        self.notify(f"Connected to {peer}")
        self.refresh_status()
        self.query_one("#peers").focus()  # out of the field: the view keys work again
