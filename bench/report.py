"""Benchmark results: entries, their anchors and targets, plots' data, the machine, and the
report (bench/results.json, docs/benchmarks.md).

A run's :class:`Run` holds everything measured: the entries, the data of every plot
(:class:`Plot`), what each stage did (:class:`StageOutcome`: run, skipped or failed) and
the machine before and after. The JSON file and the markdown report are both written from
it, so a report never mixes runs: ``python -m bench.report RESULTS`` redraws a report from
a results file, and figures a run did not measure are listed as such.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import os
import platform
import re
import sqlite3
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any, Final, Literal

TEMPLATE: Final = Path(__file__).with_name("report_template.md")


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
    note: str = ""
    """A short detail for the report's table (e.g. fsyncs per second beside MB/s)."""

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
            "met": self.met,
            "note": self.note,
            "params": self.params,
        }


@dataclass(frozen=True, slots=True)
class Plot:
    """The data of one panel of a PNG in the report, measured in the run.

    Attributes:
        figure: The PNG it goes into (``docs/bench-<figure>.png``); panels of one figure
            sit side by side.
        title: The panel's title.
        kind: ``cdf`` (each series is a list of samples, drawn as a distribution) or
            ``line`` (each series is a list of ``[x, y]`` points).
        x_label: The x axis.
        y_label: The y axis (for ``cdf``: the share of samples at or below x).
        series: Label -> samples or points.
        log_x: A logarithmic x axis.
        caption: One sentence under the figure in the report.
    """

    figure: str
    title: str
    kind: Literal["cdf", "line"]
    x_label: str
    y_label: str
    series: dict[str, list[Any]]
    log_x: bool = False
    caption: str = ""

    def to_json(self) -> dict[str, Any]:
        """As a JSON object."""
        return {
            "figure": self.figure,
            "title": self.title,
            "kind": self.kind,
            "x_label": self.x_label,
            "y_label": self.y_label,
            "series": self.series,
            "log_x": self.log_x,
            "caption": self.caption,
        }


@dataclass(frozen=True, slots=True)
class StageOutcome:
    """What one stage of a run did: ``ok``, ``skipped`` (with the reason) or ``failed``
    (with the error); a stage that did not run measured nothing."""

    name: str
    status: Literal["ok", "skipped", "failed"]
    seconds: float = 0.0
    detail: str = ""

    def to_json(self) -> dict[str, Any]:
        """As a JSON object."""
        return {
            "name": self.name,
            "status": self.status,
            "seconds": round(self.seconds, 1),
            "detail": self.detail,
        }


def machine() -> dict[str, Any]:
    """The machine and the versions that matter to these figures (load taken separately)."""
    return {
        "cpu": _cpu_model(),
        "cores": os.cpu_count(),
        "ram_gib": _ram_gib(),
        "os": platform.platform(),
        "python": platform.python_version(),
        "sqlite": sqlite3.sqlite_version,
        "pynacl": _version("pynacl"),
        "cbor2": _version("cbor2"),
        "libp2p": _version("libp2p"),
        "trio": _version("trio"),
    }


def load() -> list[float]:
    """The 1, 5 and 15 minute load averages now."""
    return [round(x, 2) for x in os.getloadavg()]


def _version(package: str) -> str:
    try:
        return version(package)
    except PackageNotFoundError:
        return "not installed"


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


def _ram_gib() -> float | None:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return round(int(line.split()[1]) / 1024**2, 1)
    except (OSError, ValueError, IndexError):
        pass
    return None


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")


@dataclass
class Run:
    """Everything one run measured, and how it went."""

    mode: str
    argv: list[str]
    started: str = field(default_factory=_now)
    load_before: list[float] = field(default_factory=load)
    load_after: list[float] = field(default_factory=list)
    seconds: float = 0.0
    entries: list[Entry] = field(default_factory=list)
    plots: list[Plot] = field(default_factory=list)
    stages: list[StageOutcome] = field(default_factory=list)

    def finish(self, seconds: float) -> None:
        """Record the run's length and the load at its end."""
        self.seconds = seconds
        self.load_after = load()

    def to_json(self) -> dict[str, Any]:
        """The results document (bench/results.json)."""
        return {
            "machine": machine() | {"load_before": self.load_before, "load_after": self.load_after},
            "mode": self.mode,
            "argv": self.argv,
            "started": self.started,
            "seconds": round(self.seconds, 1),
            "stages": [s.to_json() for s in self.stages],
            "results": [e.to_json() for e in self.entries],
            "plots": [p.to_json() for p in self.plots],
        }


def write_json(path: Path, document: dict[str, Any]) -> None:
    """Write a results document atomically (through ``path.tmp``)."""
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(document, indent=1, ensure_ascii=False) + "\n")
    os.replace(tmp, path)


# --- the plain-text table (the terminal) -----------------------------------------------------


def format_table(results: Sequence[dict[str, Any]]) -> str:
    """A plain-text table of result records: figure, anchor, ratio, target and verdict."""
    header = ("figure", "value", "anchor", "ratio", "target", "", "note")
    rows = [header] + [_row(r) for r in results]
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


def _row(r: dict[str, Any]) -> tuple[str, str, str, str, str, str, str]:
    anchor = r.get("anchor")
    anchor_text = "" if anchor is None else f"{_fmt(anchor['value'])} {anchor['unit']}"
    ratio = "" if r.get("ratio") is None else f"{r['ratio']:.3f}"
    verdict = {True: "ok", False: "MISSED", None: ""}[r.get("met")]
    value = f"{_fmt(r['value'])} {r['unit']}".strip()
    return (r["name"], value, anchor_text, ratio, r.get("target") or "", verdict, r.get("note", ""))


def _fmt(value: float | None) -> str:
    if value is None or math.isnan(value):
        return "n/a"
    if abs(value) >= 1000:
        return f"{value:,.0f}"
    if abs(value) >= 10:
        return f"{value:.1f}"
    return f"{value:.3g}"


def _round(value: float) -> float:
    return float(f"{value:.6g}")


# --- the markdown report (docs/benchmarks.md) -------------------------------------------------


def render_markdown(document: dict[str, Any], images: dict[str, str], plot_error: str = "") -> str:
    """docs/benchmarks.md for a results document.

    Args:
        document: What :meth:`Run.to_json` returned (or bench/results.json holds).
        images: Figure name -> the PNG's path relative to docs/, for the figures drawn.
        plot_error: Why no figure was drawn, if none was.
    """
    template = TEMPLATE.read_text()
    parts = {
        "run": _run_section(document),
        "machine": _machine_section(document),
        "results": _results_section(document),
        "targets": _targets_section(document),
        "not_measured": _not_measured_section(document, template),
        "plots": _plots_section(document, images, plot_error),
        "simulation": _simulation_section(document),
    }
    out = template
    for key, text in parts.items():
        out = out.replace("{{" + key + "}}", text.rstrip())
    return out


def _run_section(doc: dict[str, Any]) -> str:
    argv = " ".join(doc.get("argv") or [])
    return (
        f"This report was written by `python -m bench {argv}`".rstrip()
        + f" ({doc['mode']} run) started {doc['started']}, which took {doc['seconds']:.0f} s."
        " Every number, table and plot below comes from that one run; nothing is carried"
        " over from an earlier one."
    )


def _machine_section(doc: dict[str, Any]) -> str:
    m = doc["machine"]
    rows = [
        ("CPU", f"{m['cpu']}, {m['cores']} cores"),
        ("RAM", f"{m['ram_gib']} GiB"),
        ("OS", m["os"]),
        ("Python", m["python"]),
        (
            "libraries",
            f"SQLite {m['sqlite']}, PyNaCl {m['pynacl']}, cbor2 {m['cbor2']},"
            f" libp2p {m['libp2p']}, trio {m['trio']}",
        ),
        ("load average before (1/5/15 min)", " / ".join(map(str, m["load_before"]))),
        ("load average after", " / ".join(map(str, m["load_after"]))),
    ]
    lines = ["| | |", "|---|---|", *(f"| {k} | {v} |" for k, v in rows)]
    busy = max([*m["load_before"][:1], *m["load_after"][:1]], default=0.0)
    if busy >= 1.0:
        lines.append("")
        lines.append(
            f"The machine was not idle (load up to {busy:g} on {m['cores']} cores): other work"
            " slows figures and their anchors alike only roughly, so compare ratios, and"
            " treat small differences between runs as noise."
        )
    return "\n".join(lines)


def _results_section(doc: dict[str, Any]) -> str:
    lines = [
        "| figure | value | anchor | ratio | target | met | note |",
        "|---|---:|---:|---:|---|---|---|",
    ]
    for r in doc["results"]:
        name, value, anchor, ratio, target, verdict, note = _row(r)
        met = {"ok": "yes", "MISSED": "**no**", "": ""}[verdict]
        lines.append(f"| {name} | {value} | {anchor} | {ratio} | {target} | {met} | {note} |")
    if not doc["results"]:
        lines.append("| (nothing was measured) | | | | | | |")
    return "\n".join(lines)


def _targets_section(doc: dict[str, Any]) -> str:
    met = [r for r in doc["results"] if r.get("met") is True]
    missed = [r for r in doc["results"] if r.get("met") is False]
    lines = [f"{len(met)} targets met, {len(missed)} missed in this run."]
    if missed:
        lines.append("")
        lines.append("Missed:")
        lines.append("")
        for r in missed:
            ratio = "" if r.get("ratio") is None else f" (ratio {r['ratio']:.3f})"
            lines.append(
                f"- `{r['name']}`: {_fmt(r['value'])} {r['unit']}{ratio}, target {r['target']}"
            )
    return "\n".join(lines)


def _not_measured_section(doc: dict[str, Any], template: str) -> str:
    lines = []
    for stage in doc.get("stages", []):
        if stage["status"] == "skipped":
            lines.append(f"- stage `{stage['name']}` was skipped: {stage['detail']}")
        elif stage["status"] == "failed":
            lines.append(f"- stage `{stage['name']}` FAILED: {stage['detail']}")
    measured = {r["name"] for r in doc["results"]}
    documented = described_figures(template)
    absent = [name for name in documented if not any(_covers(name, m) for m in measured)]
    if absent:
        lines.append(
            "- described below but not measured in this run: " + ", ".join(f"`{n}`" for n in absent)
        )
    undocumented = sorted(m for m in measured if not any(_covers(d, m) for d in documented))
    if undocumented:
        lines.append(
            "- measured but not described in this report's figure list (see their modules"
            " in bench/): " + ", ".join(f"`{n}`" for n in undocumented)
        )
    if not lines:
        return "Every stage ran and every figure described below was measured."
    return "\n".join(lines)


def described_figures(template: str) -> list[str]:
    """Figure names (or patterns: ``timeline.*``, ``anchor.fsync.<size>``) the first column
    of the template's "Figures" table lists."""
    names: list[str] = []
    section = ""
    for line in template.splitlines():
        if line.startswith("#"):
            section = line.lstrip("#").strip()
        if section != "Figures" or not line.startswith("| `"):
            continue
        first = line.split("|")[1]
        names.extend(re.findall(r"`([a-z0-9_.<>*-]+)`", first))
    return list(dict.fromkeys(names))


def _covers(described: str, measured: str) -> bool:
    """Whether a described name (``net.process.p50``, ``timeline.*``, ``anchor.fsync.<size>``)
    covers a measured figure."""
    pattern = re.escape(described).replace(r"\*", ".*")
    pattern = re.sub(r"<[^>]*>", ".+", pattern.replace(r"\<", "<").replace(r"\>", ">"))
    return re.fullmatch(pattern, measured) is not None


def _plots_section(doc: dict[str, Any], images: dict[str, str], plot_error: str) -> str:
    plots = doc.get("plots", [])
    if not plots:
        return "No plot data was measured in this run."
    lines = []
    if plot_error:
        lines.append(f"Plots were not drawn: {plot_error}.")
        lines.append("")
    figures: dict[str, list[dict[str, Any]]] = {}
    for plot in plots:
        figures.setdefault(plot["figure"], []).append(plot)
    for name, panels in figures.items():
        titles = "; ".join(p["title"] for p in panels)
        if name in images:
            lines.append(f"![{titles}]({images[name]})")
            lines.append("")
        captions = " ".join(p["caption"] for p in panels if p.get("caption"))
        lines.append(f"*{titles}.* {captions}".rstrip())
        lines.append("")
    return "\n".join(lines)


def _simulation_section(doc: dict[str, Any]) -> str:
    lines = []
    seen: set[str] = set()
    for r in doc["results"]:
        p = r["params"]
        if not r["name"].startswith("sim.") or "scenario" not in p or p.get("run") in seen:
            continue
        seen.add(p.get("run", r["name"]))
        s = p["scenario"]
        if p.get("run") == "sim.process":
            setup = (
                f"{s['nodes']} `p2psocial node` daemons"
                f"{' + 1 byzantine node' if s.get('byzantine') else ''}, seed {s['seed']},"
                f" {s['seconds']:g} s of {s['posts']} posts through the control socket;"
                f" {s['kills']} SIGKILL crashes ({s['down_seconds']:g} s down),"
                f" {s['stalls']} SIGSTOP stalls of {s['stall_seconds']:g} s"
            )
        else:
            setup = (
                f"{s['nodes']} honest + {s['byzantine']} byzantine nodes in one process,"
                f" seed {s['seed']}, {s['seconds']:g} s of {s['posts']} posts"
                + (f" and {s['authors']} extra authors" if s.get("authors") else "")
                + f"; {s['partitions']} partitions of {s['partition_seconds']:g} s,"
                f" {s['restarts']} restarts, {s['gossip_drop']:.0%} of gossip lost,"
                f" {s['slow']} slow"
            )
        converge = p.get("converge_s")
        lines.append(
            f"- **{p.get('run', r['name'])}**: {setup}. Converged: **{p.get('converged')}**"
            + (f" in {converge:.1f} s" if converge is not None else "")
            + f"; acknowledged {p.get('acked')}, lost **{p.get('lost')}**, forged held"
            f" **{p.get('forged_held')}**; the honest nodes agree on {p.get('agreed')} messages"
            + (
                f"; forked seqs: {p['forks']} (honest nodes holding both versions:"
                f" {p.get('fork_evidence_nodes')})"
                if "forks" in p
                else ""
            )
            + "."
        )
    return "\n".join(lines) if lines else "The simulation did not run in this run."


def main(argv: list[str] | None = None) -> int:
    """``python -m bench.report [RESULTS] [--docs DIR]``: rewrite the report from a results
    file, redrawing its plots from the data in it."""
    import argparse  # noqa: PLC0415

    parser = argparse.ArgumentParser(prog="python -m bench.report", description=main.__doc__)
    parser.add_argument("results", type=Path, nargs="?", default=Path("bench/results.json"))
    parser.add_argument("--docs", type=Path, default=Path("docs"))
    args = parser.parse_args(argv)
    document = json.loads(args.results.read_text())
    write_report(document, args.docs)
    print(f"wrote {args.docs / 'benchmarks.md'}", file=sys.stderr)
    return 0


def write_report(document: dict[str, Any], docs: Path) -> Path:
    """Draw the plots into ``docs`` (removing bench plots this run did not draw) and write
    ``docs/benchmarks.md``; returns its path."""
    from .plots import draw  # noqa: PLC0415 - matplotlib is optional

    images, error = draw(document.get("plots", []), docs)
    path = docs / "benchmarks.md"
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(render_markdown(document, images, error) + "\n")
    os.replace(tmp, path)
    return path


if __name__ == "__main__":
    sys.exit(main())
