"""The node's configuration: ``HOME/config.toml``, every setting optional.

docs/configuration.md lists every setting with its default; :data:`DEFAULTS` here is the
source of truth and a test keeps the two in step. Command-line flags (``--listen``,
``--peer``, ``--no-mdns``) override the file.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any, Final

from .core.postage import MAX_POSTAGE_BITS, PostagePolicy
from .errors import InputError

CONFIG_FILENAME: Final = "config.toml"


class ConfigError(InputError):
    """The configuration file is malformed or has a bad value."""

    code = "input.config"


@dataclass(frozen=True, slots=True)
class NetworkConfig:
    """``[network]``: where to listen and whom to dial."""

    listen: tuple[str, ...] = ("/ip4/0.0.0.0/tcp/4500",)
    """Multiaddrs to listen on."""
    peers: tuple[str, ...] = ()
    """Bootstrap peers (full multiaddrs with ``/p2p/<peer id>``), dialled at start."""
    mdns: bool = True
    """Find peers on the local network with mDNS."""
    max_peers: int = 50
    """Stop dialling discovered peers beyond this many connections."""
    remember_peers: int = 100
    """How many known peers to remember and redial after a restart."""


@dataclass(frozen=True, slots=True)
class GossipConfig:
    """``[gossip]``: the pubsub mesh."""

    heartbeat_interval: float = 1.0
    """Seconds between gossipsub heartbeats (mesh upkeep)."""
    degree: int = 6
    """Target mesh degree (D); low and high are D-2 and 2D."""
    publish_rate: float = 20.0
    """Own messages published per second at most; a burst waits its turn."""


@dataclass(frozen=True, slots=True)
class SyncConfig:
    """``[sync]``: catching up over streams."""

    interval: float = 30.0
    """Seconds between background syncs with a connected peer."""
    serve_rate: float = 20000.0
    """Messages per second one peer may be served."""
    timeout: float = 30.0
    """Seconds a peer has to answer one sync request."""


@dataclass(frozen=True, slots=True)
class LimitsConfig:
    """``[limits]``: what this node accepts from the network."""

    author_rate: float = 2.0
    """Messages per second one author may sustain through gossip."""
    author_burst: int = 60
    """How many messages one author may send at once through gossip."""
    stranger_rate: float = 5.0
    """Messages per second all strangers together (authors more than two follows away,
    and keys never seen) may sustain, through gossip and sync combined."""
    stranger_burst: int = 100
    """How many messages all strangers together may send at once."""
    clock_skew: float = 600.0
    """Seconds a message's timestamp may be ahead of this node's clock."""


_BITS: Final = {"max": MAX_POSTAGE_BITS}


@dataclass(frozen=True, slots=True)
class PostageConfig:
    """``[postage]``: proof of work asked of others' messages, and paid on one's own
    (docs/protocol.md, "Postage")."""

    followed: int = field(default=0, metadata=_BITS)
    """Bits asked of the authors the owner follows."""
    second: int = field(default=10, metadata=_BITS)
    """Bits asked of authors followed by someone the owner follows."""
    stranger: int = field(default=18, metadata=_BITS)
    """Bits asked of everyone else, keys never seen included."""
    stamp: int = field(default=18, metadata=_BITS)
    """Bits paid on each own message: the default stranger requirement, so that it
    reaches every node that keeps the defaults."""

    @property
    def policy(self) -> PostagePolicy:
        """What this node asks, by follow distance."""
        return PostagePolicy(self.followed, self.second, self.stranger)


@dataclass(frozen=True, slots=True)
class Config:
    """The whole configuration."""

    network: NetworkConfig = field(default_factory=NetworkConfig)
    gossip: GossipConfig = field(default_factory=GossipConfig)
    sync: SyncConfig = field(default_factory=SyncConfig)
    limits: LimitsConfig = field(default_factory=LimitsConfig)
    postage: PostageConfig = field(default_factory=PostageConfig)


DEFAULTS: Final = Config()


def load_config(home: Path) -> Config:
    """Read ``HOME/config.toml``; a missing file means every default.

    Raises:
        ConfigError: The file is not TOML, or has an unknown section, setting or bad value.
    """
    path = home / CONFIG_FILENAME
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return DEFAULTS
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read {path}: {exc}") from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: {exc}") from None
    return parse_config(data, where=str(path))


def parse_config(data: dict[str, Any], *, where: str = "config") -> Config:
    """Build a :class:`Config` from parsed TOML, checking every name, type and range."""
    sections = {f.name: f for f in fields(Config)}
    config = DEFAULTS
    for name, values in data.items():
        if name not in sections:
            raise ConfigError(f"{where}: unknown section [{name}] (known: {', '.join(sections)})")
        if not isinstance(values, dict):
            raise ConfigError(f"{where}: [{name}] must be a table")
        current = getattr(config, name)
        config = replace(config, **{name: _section(current, values, f"{where} [{name}]")})
    return config


def _section(current: Any, values: dict[str, Any], where: str) -> Any:
    known = {f.name: f for f in fields(current)}
    changes: dict[str, Any] = {}
    for key, value in values.items():
        if key not in known:
            raise ConfigError(f"{where}: unknown setting {key!r} (known: {', '.join(known)})")
        default = getattr(current, key)
        changes[key] = _coerce(value, default, f"{where} {key}")
        top = known[key].metadata.get("max")
        if top is not None and changes[key] > top:
            raise ConfigError(f"{where} {key} must be at most {top}")
    return replace(current, **changes)


def _coerce(value: Any, default: Any, where: str) -> Any:
    if isinstance(default, bool):
        if not isinstance(value, bool):
            raise ConfigError(f"{where} must be true or false")
        return value
    if isinstance(default, tuple):
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise ConfigError(f"{where} must be a list of strings")
        return tuple(value)
    if isinstance(default, int):
        if type(value) is not int or value < 0:
            raise ConfigError(f"{where} must be a non-negative integer")
        return value
    if isinstance(default, float):
        if type(value) not in (int, float) or not value > 0:
            raise ConfigError(f"{where} must be a positive number")
        return float(value)
    raise AssertionError(f"unhandled setting type at {where}")
