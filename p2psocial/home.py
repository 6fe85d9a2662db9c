"""The home directory: where one node keeps its identity, log and index.

::

    HOME/
      identity.json      the author key (0600), see p2psocial.keystore
      transport.key      the libp2p transport key (0600), see p2psocial.net.host
      config.toml        optional settings, see p2psocial.config and docs/configuration.md
      lock               held by the one process that writes this home
      log/               the append-only log: the truth (see p2psocial.store.log)
        torn/            bytes cut off a torn tail after a crash, kept for inspection
      index.sqlite3      the derived index (+ -wal, -shm); delete it and it is rebuilt
      peers.json         peers to redial after a restart, see p2psocial.net.peers
      moderation.json    the owner's mutes, filters, hidden reposts and list subscriptions
                         (0600, never published), see p2psocial.moderation
      tui.json           the terminal app's own settings (0600), see p2psocial_cli.tui.settings
      control.sock       the running daemon's control socket (0600), see p2psocial.control
      node.log           the daemon's log, rotated (node.log.1 ... node.log.3), see
                         p2psocial.daemon

The default home is ``$P2PSOCIAL_HOME``, else the platform's user data directory:
``$XDG_DATA_HOME/p2psocial`` (``~/.local/share/p2psocial``) on Linux and other Unixes,
``~/Library/Application Support/p2psocial`` on macOS.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from pathlib import Path

HOME_ENV = "P2PSOCIAL_HOME"


@dataclass(frozen=True, slots=True)
class HomePaths:
    """The files of one home directory."""

    root: Path

    @property
    def keystore(self) -> Path:
        """The identity keystore."""
        return self.root / "identity.json"

    @property
    def lock(self) -> Path:
        """The writer's lock file."""
        return self.root / "lock"

    @property
    def log(self) -> Path:
        """The log's directory."""
        return self.root / "log"

    @property
    def index(self) -> Path:
        """The SQLite index."""
        return self.root / "index.sqlite3"

    def ensure(self) -> None:
        """Create the home directory, owner-only, if it does not exist."""
        self.root.mkdir(mode=0o700, parents=True, exist_ok=True)


def default_home() -> Path:
    """The home directory to use when none is given."""
    env = os.environ.get(HOME_ENV)
    if env:
        return Path(env).expanduser()
    if sys.platform == "darwin":
        return Path.home() / "Library" / "Application Support" / "p2psocial"
    data = os.environ.get("XDG_DATA_HOME")
    base = Path(data).expanduser() if data else Path.home() / ".local" / "share"
    return base / "p2psocial"
