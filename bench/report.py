"""Benchmark results: entries, their anchors and targets, the machine, JSON and a table."""

from __future__ import annotations

import datetime as dt
import json
import os
import platform
import sqlite3
from dataclasses import dataclass, field
from importlib.metadata import version
from pathlib import Path
from typing import Any, Literal


@dataclass(frozen=True, slots=True)
class Anchor:
    """A figure measured in the same run that another figure is compared with."""

    name: str
    value: float
    unit: str

    def to_json(self) -> dict[str, Any]:
        """The anchor as the JSON record ``{name, value, unit}``."""
        return {"name": self.name, "value": self.value, "unit": self.unit}


@dataclass(frozen=True, slots=True)
class Target:
    """A goal for a figure: its value, or its ratio to its anchor, against a bound."""

    op: Literal[">=", "<="]
    bound: float
    on: Literal["value", "ratio"] = "value"
    unit: str = ""
    note: str = ""

    @property
    def text(self) -> str:
        """The goal in words, e.g. ``ratio >= 0.5`` or ``<= 20 ms``."""
        subject = "ratio " if self.on == "ratio" else ""
        unit = f" {self.unit}" if self.unit else ""
        note = f" ({self.note})" if self.note else ""
        return f"{subject}{self.op} {self.bound:g}{unit}{note}"

    def met(self, value: float, ratio: float | None) -> bool | None:
        """Whether the goal is met, or None when the ratio it needs is missing."""
        x = ratio if self.on == "ratio" else value
        if x is None:
            return None
        return x >= self.bound if self.op == ">=" else x <= self.bound


@dataclass(frozen=True, slots=True)
class Entry:
    """One measured figure."""

    name: str
    value: float
    unit: str
    anchor: Anchor | None = None
    target: Target | None = None
    params: dict[str, Any] = field(default_factory=dict)

    @property
    def ratio(self) -> float | None:
        """``value / anchor.value``, or None without an anchor."""
        if self.anchor is None or self.anchor.value == 0:
            return None
        return self.value / self.anchor.value

    @property
    def met(self) -> bool | None:
        """Whether the target is met (None without a target)."""
        return None if self.target is None else self.target.met(self.value, self.ratio)

    def as_anchor(self) -> Anchor:
        """This figure as an anchor for others."""
        return Anchor(self.name, self.value, self.unit)

    def to_json(self) -> dict[str, Any]:
        """The entry as the record described in docs/benchmarks.md."""
        return {
            "name": self.name,
            "value": _round(self.value),
            "unit": self.unit,
            "anchor": None if self.anchor is None else self.anchor.to_json(),
            "ratio": None if self.ratio is None else round(self.ratio, 4),
            "target": None if self.target is None else self.target.text,
            "params": self.params,
        }


def machine() -> dict[str, Any]:
    """The machine and the versions that matter to these figures.

    ``loadavg`` is the 1, 5 and 15 minute load average when the run ended: other work on
    the machine slows every figure down but not their anchors alike.
    """
    return {
        "cpu": _cpu_model(),
        "cores": os.cpu_count(),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "sqlite": sqlite3.sqlite_version,
        "pynacl": version("pynacl"),
        "cbor2": version("cbor2"),
        "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "loadavg": [round(x, 2) for x in os.getloadavg()],
    }


def _cpu_model() -> str:
    try:
        lines = Path("/proc/cpuinfo").read_text().splitlines()
    except OSError:
        return platform.processor() or "unknown"
    for line in lines:
        key, _, value = line.partition(":")
        if key.strip() == "model name":
            return value.strip()
    return "unknown"


def write_json(path: Path, mode: str, seconds: float, entries: list[Entry]) -> None:
    """Write the results atomically (through ``path.tmp``)."""
    document = {
        "machine": machine(),
        "mode": mode,
        "seconds": round(seconds, 1),
        "results": [entry.to_json() for entry in entries],
    }
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(document, indent=2, ensure_ascii=False) + "\n")
    os.replace(tmp, path)


def format_table(entries: list[Entry]) -> str:
    """A plain-text table of the entries: figure, anchor, ratio, target and verdict."""
    header = ("figure", "value", "anchor", "ratio", "target", "")
    rows = [header] + [_row(entry) for entry in entries]
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    lines = []
    for n, row in enumerate(rows):
        cells = [
            cell.rjust(width) if i in (1, 3) else cell.ljust(width)
            for i, (cell, width) in enumerate(zip(row, widths, strict=True))
        ]
        lines.append("  ".join(cells).rstrip())
        if n == 0:
            lines.append("  ".join("-" * w for w in widths))
    return "\n".join(lines)


def _row(entry: Entry) -> tuple[str, str, str, str, str, str]:
    anchor = "" if entry.anchor is None else f"{_fmt(entry.anchor.value)} {entry.anchor.unit}"
    ratio = "" if entry.ratio is None else f"{entry.ratio:.3f}"
    target = "" if entry.target is None else entry.target.text
    verdict = {True: "ok", False: "MISSED", None: ""}[entry.met]
    return (entry.name, f"{_fmt(entry.value)} {entry.unit}", anchor, ratio, target, verdict)


def _fmt(value: float) -> str:
    if abs(value) >= 1000:
        return f"{value:,.0f}"
    if abs(value) >= 10:
        return f"{value:.1f}"
    return f"{value:.3g}"


def _round(value: float) -> float:
    return float(f"{value:.6g}")
