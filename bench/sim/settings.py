"""Settings of simulated and benchmarked nodes: a shorter background sync, a higher author
rate, and admission's defences off.

Admission (postage, the strangers' budget) is turned off as in the network tests
(tests/net/harness.py), where this version of the node has it: the simulation is about
what gets through to the store (forks, floods, holes) and how sync repairs it, and the
network benchmarks about gossip and sync, not about proof of work. Only settings this
version of the node knows are written, so the same code runs before and after a setting
is added.
"""

from __future__ import annotations

from dataclasses import fields, replace
from typing import Any, Final

from p2psocial.config import DEFAULTS, Config

AUTHOR_RATE: Final = 10.0
"""Messages per second one author may gossip (the default, 2, is for people; the
simulation's extra authors are many, hosted by few nodes)."""

OPEN_ADMISSION: Final[dict[str, dict[str, Any]]] = {
    "limits": {"stranger_rate": 10_000.0, "stranger_burst": 100_000},
    "postage": {"followed": 0, "second": 0, "stranger": 0, "stamp": 4},
}


def _known(section: str, values: dict[str, Any]) -> dict[str, Any]:
    current = getattr(DEFAULTS, section, None)
    if current is None:
        return {}
    names = {f.name for f in fields(current)}
    return {k: v for k, v in values.items() if k in names}


def open_admission(config: Config) -> Config:
    """``config`` with admission's defences off (where this node has them)."""
    changes = {}
    for section, values in OPEN_ADMISSION.items():
        known = _known(section, values)
        if known:
            changes[section] = replace(getattr(config, section), **known)
    return replace(config, **changes)


def sim_toml(
    *,
    sync_interval: float | None = None,
    serve_rate: float | None = None,
    author_rate: float | None = AUTHOR_RATE,
    network: dict[str, Any] | None = None,
) -> str:
    """``HOME/config.toml`` with the given settings and admission's defences off."""
    sync: dict[str, Any] = {}
    if sync_interval is not None:
        sync["interval"] = sync_interval
    if serve_rate is not None:
        sync["serve_rate"] = serve_rate
    sections: dict[str, dict[str, Any]] = {
        "network": network or {},
        "sync": sync,
        "limits": {} if author_rate is None else {"author_rate": author_rate},
    }
    for name, values in OPEN_ADMISSION.items():
        sections.setdefault(name, {}).update(_known(name, values))
    lines = []
    for name, section in sections.items():
        if section:
            lines.append(f"[{name}]")
            lines.extend(f"{key} = {_toml(value)}" for key, value in section.items())
    return "\n".join(lines) + "\n"


def _toml(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return f'"{value}"'
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_toml(v) for v in value) + "]"
    return repr(value)
