"""The simulation's figures for ``make bench``: the hostile run, the multi-process run, and
the fault-free scale sweeps with the per-node cost model fitted to them."""

from __future__ import annotations

import logging
import shutil
import sys
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from ..report import Anchor, Entry, Plot, Target
from ..timing import Latency
from .cluster import SimResult, run_simulation
from .plan import Scenario, make_plan
from .processes import ProcessScenario, run_processes

CONVERGED = Target(">=", 1.0, note="every honest node agrees")
NOTHING = Target("<=", 0.0)
CONVERGE_TARGET = Target("<=", 60.0, unit="s", note="a minute after the last fault")

HOSTILE = Scenario()
HOSTILE_QUICK = Scenario(nodes=6, byzantine=1, seconds=10.0, posts=30, partitions=1, restarts=1)
PROCESSES = ProcessScenario()
PROCESSES_QUICK = ProcessScenario(nodes=3, seconds=8.0, posts=15, kills=1, stalls=1)


@dataclass(frozen=True, slots=True)
class Sweeps:
    """The scale sweeps of one run.

    Attributes:
        nodes: Node counts tried at ``messages`` messages over ``nodes_seconds``.
        messages: Network-wide messages (one each from that many extra authors).
        nodes_seconds: Length of each node-count run.
        authors: Author counts tried at ``authors_nodes`` nodes, one message each.
        authors_nodes: Nodes in the author runs.
        author_rate: Network-wide messages per second in the author runs (their length
            follows from it, at least ``min_seconds``).
        min_seconds: The shortest run.
    """

    nodes: tuple[int, ...] = (5, 10, 20)
    messages: int = 80
    nodes_seconds: float = 16.0
    authors: tuple[int, ...] = (10, 50, 100, 200, 400)
    authors_nodes: int = 8
    author_rate: float = 15.0
    min_seconds: float = 8.0


SWEEPS = Sweeps()
SWEEPS_QUICK = Sweeps(
    nodes=(4, 8), messages=30, nodes_seconds=6.0, authors=(10, 60), authors_nodes=4
)
CALM = Scenario(
    byzantine=0, posts=0, gossip_drop=0.0, partitions=0, restarts=0, slow=0, converge_timeout=60
)


def quiet_logs(path: Path) -> logging.Handler:
    """Send the nodes' logs (incidents, dial failures: hundreds of lines) to ``path``
    instead of the terminal; returns the handler, to remove afterwards."""
    handler = logging.FileHandler(path)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.addHandler(handler)
    for name in ("p2psocial", "libp2p", "tests"):
        logger = logging.getLogger(name)
        logger.propagate = False
        logger.handlers = [handler]
        logger.setLevel(logging.WARNING)
    return handler


def _run(scenario: Scenario, work: Path, label: str) -> SimResult:
    home = work / label
    print(f"[sim] {label}: {scenario}", file=sys.stderr, flush=True)
    handler = quiet_logs(work / f"{label}.log")
    try:
        return run_simulation(make_plan(scenario), home)
    finally:
        logging.getLogger().removeHandler(handler)
        handler.close()
        shutil.rmtree(home, ignore_errors=True)


# --- the hostile run ----------------------------------------------------------------------------


def hostile(work: Path, scenario: Scenario, echo: Anchor | None) -> tuple[list[Entry], list[Plot]]:
    """Run the hostile scenario; its entries and plots."""
    result = _run(scenario, work, "hostile")
    params = result.to_json() | {"run": "sim.hostile"}
    lat = Latency.of(result.latencies) if result.latencies else None
    sent = sum(n.bytes_sent for n in result.nodes) / len(result.nodes)
    entries = [
        Entry(
            "sim.hostile.converged", float(result.converged), "", target=CONVERGED, params=params
        ),
        Entry(
            "sim.hostile.converge_s",
            result.converge_s if result.converge_s is not None else float("nan"),
            "s",
            target=CONVERGE_TARGET,
        ),
        Entry("sim.hostile.lost", result.lost, "msgs", target=NOTHING),
        Entry("sim.hostile.forged_held", result.forged_held, "msgs", target=NOTHING),
        Entry("sim.hostile.latency.p50", lat.p50 if lat else float("nan"), "ms", anchor=echo),
        Entry(
            "sim.hostile.latency.p99",
            lat.p99 if lat else float("nan"),
            "ms",
            anchor=echo,
            note=f"{lat.samples} node-message pairs" if lat else "",
        ),
        Entry(
            "sim.hostile.bytes_per_node",
            result.bytes_per_node / 1e6,
            "MB",
            note=f"{sent / 1e6:.2f} MB sent; {result.agreed} messages held",
        ),
        Entry(
            "sim.hostile.cpu_per_node",
            result.cpu_per_node,
            "s",
            note=f"{result.process_cpu_s:.1f} s for the whole process",
        ),
    ]
    plots = [
        Plot(
            "latency",
            "Hostile simulation: ack to arrival",
            "cdf",
            "seconds",
            "share of (node, message) pairs",
            {f"{scenario.nodes} nodes, faults on": result.latencies},
            caption=(
                "From `Node.post` returning on the author's node to the message's arrival at"
                " each other honest node, through partitions, restarts, loss and attacks."
            ),
        ),
        Plot(
            "convergence",
            "Hostile simulation: copies still missing",
            "line",
            "seconds after the last event",
            "messages missing, summed over nodes",
            {f"seed {scenario.seed}": [list(p) for p in result.trace]},
            caption="How the honest nodes caught up once the last fault was over.",
        ),
    ]
    return entries, plots


# --- scale sweeps --------------------------------------------------------------------------------


def scale(work: Path, sweeps: Sweeps) -> tuple[list[Entry], list[Plot]]:
    """Run the fault-free sweeps; the fitted per-node cost and the plots."""
    runs: list[dict[str, Any]] = []
    by_nodes: list[tuple[int, SimResult]] = []
    for n in sweeps.nodes:
        scenario = replace(
            CALM, nodes=n, seconds=sweeps.nodes_seconds, authors=sweeps.messages, seed=100 + n
        )
        result = _run(scenario, work, f"scale-nodes{n}")
        by_nodes.append((n, result))
        runs.append(_summary(result, "nodes"))
    by_authors: list[tuple[int, SimResult]] = []
    for a in sweeps.authors:
        seconds = max(sweeps.min_seconds, a / sweeps.author_rate)
        scenario = replace(
            CALM, nodes=sweeps.authors_nodes, seconds=seconds, authors=a, seed=200 + a
        )
        result = _run(scenario, work, f"scale-authors{a}")
        by_authors.append((a, result))
        runs.append(_summary(result, "authors"))
    fit_bytes = _fit(
        [(r["span_s"], r["messages"], r["bytes_per_node"]) for r in runs if r["converged"]]
    )
    fit_cpu = _fit(
        [(r["span_s"], r["messages"], r["cpu_per_node_s"]) for r in runs if r["converged"]]
    )
    params = {"runs": runs, "model": "cost per node = idle x seconds + per_msg x messages"}
    entries = [
        Entry("sim.scale.bytes_per_msg", fit_bytes[1], "B", params=params),
        Entry("sim.scale.idle_bytes_per_s", fit_bytes[0], "B/s"),
        Entry("sim.scale.cpu_ms_per_msg", fit_cpu[1] * 1000, "ms"),
        Entry("sim.scale.idle_cpu_per_s", fit_cpu[0], "s/s"),
        Entry(
            "sim.scale.converged",
            sum(r["converged"] for r in runs) / len(runs),
            "",
            target=Target(">=", 1.0, note="every sweep run converged"),
        ),
    ]
    plots = [
        Plot(
            "cost",
            "Cost per node against authors replicated",
            "line",
            "authors (one message each) every node replicates",
            "per node over the run",
            {
                "MB sent+received": [
                    [a, r.bytes_per_node / 1e6] for a, r in by_authors if r.converged
                ],
                "CPU seconds": [[a, r.cpu_per_node] for a, r in by_authors if r.converged],
            },
            caption=(
                f"{sweeps.authors_nodes} nodes, no faults. Today every node replicates every"
                " author, so this is also the cost against followed authors; with topic"
                " sharding (docs/scaling.md) it would be only the followed ones."
            ),
        ),
        Plot(
            "cost",
            "Cost per node against nodes",
            "line",
            f"honest nodes ({sweeps.messages} messages in all)",
            "per node over the run",
            {
                "MB sent+received": [[n, r.bytes_per_node / 1e6] for n, r in by_nodes],
                "CPU seconds": [[n, r.cpu_per_node] for n, r in by_nodes],
            },
            caption="Each run in one process: CPU per node is the process's CPU over the nodes.",
        ),
    ]
    return entries, plots


def _summary(result: SimResult, sweep: str) -> dict[str, Any]:
    s = result.plan.scenario
    span = result.phase_s + (result.converge_s or 0.0)
    return {
        "sweep": sweep,
        "nodes": s.nodes,
        "authors": s.authors,
        "messages": result.acked,
        "span_s": round(span, 2),
        "converged": result.converged,
        "converge_s": result.converge_s,
        "bytes_per_node": round(result.bytes_per_node),
        "cpu_per_node_s": round(result.cpu_per_node, 3),
        "latency_p50_ms": Latency.of(result.latencies).p50 if result.latencies else None,
    }


def _fit(rows: Sequence[tuple[float, float, float]]) -> tuple[float, float]:
    """Least squares of y = a * seconds + b * messages (no intercept); (a, b)."""
    if len(rows) < 2:
        return float("nan"), float("nan")
    stt = sum(t * t for t, _, _ in rows)
    smm = sum(m * m for _, m, _ in rows)
    stm = sum(t * m for t, m, _ in rows)
    sty = sum(t * y for t, _, y in rows)
    smy = sum(m * y for _, m, y in rows)
    det = stt * smm - stm * stm
    if det == 0:
        return float("nan"), float("nan")
    return (sty * smm - smy * stm) / det, (smy * stt - sty * stm) / det


# --- the multi-process run ---------------------------------------------------------------------


def processes(work: Path, scenario: ProcessScenario) -> tuple[list[Entry], list[Plot]]:
    """Run the daemons' simulation; its entries and plot."""
    print(f"[sim] processes: {scenario}", file=sys.stderr, flush=True)
    home = work / "processes"
    try:
        result = run_processes(home, scenario)
    finally:
        shutil.rmtree(home, ignore_errors=True)
    params = result.to_json() | {"run": "sim.process"}
    cpu = result.cpu_s
    entries = [
        Entry(
            "sim.process.converged", float(result.converged), "", target=CONVERGED, params=params
        ),
        Entry(
            "sim.process.converge_s",
            result.converge_s if result.converge_s is not None else float("nan"),
            "s",
            target=CONVERGE_TARGET,
        ),
        Entry(
            "sim.process.lost",
            result.lost,
            "msgs",
            target=NOTHING,
            note=f"{result.acked} acknowledged, {result.kills} SIGKILLs",
        ),
        Entry("sim.process.forged_held", result.forged_held, "msgs", target=NOTHING),
        Entry(
            "sim.process.cpu_per_node",
            sum(cpu) / len(cpu),
            "s",
            note=f"per daemon {min(cpu):.1f}-{max(cpu):.1f} s over {result.wall_s:.0f} s",
        ),
    ]
    plots = [
        Plot(
            "convergence",
            f"{scenario.nodes} daemons: copies still missing",
            "line",
            "seconds after the last event",
            "messages missing, summed over daemons",
            {f"seed {scenario.seed}": [list(p) for p in result.trace]},
            caption=(
                "The same on separate `p2psocial node` processes (SIGKILL crashes, SIGSTOP stalls)."
            ),
        ),
    ]
    return entries, plots
