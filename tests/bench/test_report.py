"""The benchmark report: written from one run's results, saying what it did not measure.

These tests build a results document by hand (no benchmark runs) and check what
``bench.report`` writes from it: docs/benchmarks.md and the plots beside it.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from bench.report import (
    TEMPLATE,
    Anchor,
    Entry,
    Plot,
    Run,
    StageOutcome,
    described_figures,
    format_table,
    render_markdown,
    write_json,
    write_report,
)
from bench.runner import STAGES


def a_run() -> Run:
    run = Run(mode="quick", argv=["--quick", "--only", "anchors,sim"])
    verify = Entry("anchor.verify", 25_000.0, "msgs/s")
    run.entries = [
        verify,
        Entry("anchor.fsync.4k", 30.0, "MB/s", note="7,300 fsyncs/s"),
        Entry(
            "ingest.batch1000",
            6_000.0,
            "msgs/s",
            anchor=Anchor("anchor.verify", 25_000.0, "msgs/s"),
        ),
        Entry("sim.hostile.lost", 0.0, "msgs"),
        Entry("something.new", 1.5, "s"),
    ]
    run.plots = [
        Plot("latency", "Post to arrival", "cdf", "s", "share", {"10 nodes": [0.1, 0.2, 0.3]}),
        Plot("cost", "Cost per node", "line", "authors", "MB", {"MB": [[10, 1.0], [50, 4.0]]}),
    ]
    run.stages = [
        StageOutcome("anchors", "ok", 3.0),
        StageOutcome("store", "skipped", detail="not named in --only"),
        StageOutcome("sim", "failed", 9.0, "RuntimeError: no peers"),
    ]
    run.finish(12.0)
    return run


def test_every_stage_has_a_distinct_name() -> None:
    names = [s.name for s in STAGES]
    assert len(names) == len(set(names))
    assert {"anchors", "store", "network", "sim", "sim-process", "scale"} <= set(names)


def test_the_report_holds_the_machine_every_figure_and_its_ratio() -> None:
    document = a_run().to_json()
    text = render_markdown(document, {})
    machine = document["machine"]
    assert machine["cpu"] in text
    assert f"{machine['cores']} cores" in text
    assert "load average before" in text
    assert " / ".join(map(str, machine["load_before"])) in text
    assert "| ingest.batch1000 | 6,000 msgs/s | 25,000 msgs/s | 0.240 |" in text
    assert "7,300 fsyncs/s" in text
    assert "{{" not in text  # every placeholder filled


def test_what_a_run_did_not_measure_is_said_not_left_out() -> None:
    text = render_markdown(a_run().to_json(), {})
    assert "stage `store` was skipped: not named in --only" in text
    assert "stage `sim` FAILED: RuntimeError: no peers" in text
    # Described in the report's figure list but absent from this run:
    not_measured = text.split("### Not measured in this run")[1].split("## Plots")[0]
    assert "`net.propagation.p99`" in not_measured
    assert "`ingest.batch1000`" not in not_measured  # it was measured
    # Measured but undescribed figures are named, not silently listed.
    assert "`something.new`" in not_measured


def test_described_figures_come_from_the_figure_table_only() -> None:
    names = described_figures(TEMPLATE.read_text())
    assert "anchor.libp2p_stream" in names
    assert "sim.hostile.converge_s" in names
    assert not any(n.startswith("--") for n in names)


def test_the_results_file_round_trips_into_the_same_report(tmp_path: Path) -> None:
    document = a_run().to_json()
    write_json(tmp_path / "results.json", document)
    again = json.loads((tmp_path / "results.json").read_text())
    assert render_markdown(again, {}) == render_markdown(document, {})
    assert "ingest.batch1000" in format_table(again["results"])


def test_plots_are_drawn_from_the_run_and_old_ones_removed(tmp_path: Path) -> None:
    stale = tmp_path / "bench-throughput.png"  # from an earlier run: not drawn this time
    stale.write_bytes(b"old")
    other = tmp_path / "architecture.png"  # not a bench plot: left alone
    other.write_bytes(b"keep")
    report = write_report(a_run().to_json(), tmp_path)
    text = report.read_text()
    assert not stale.exists()
    assert other.read_bytes() == b"keep"
    for name in ("latency", "cost"):
        png = tmp_path / f"bench-{name}.png"
        assert png.read_bytes().startswith(b"\x89PNG")
        assert f"](bench-{name}.png)" in text


def test_without_matplotlib_the_report_says_the_plots_were_not_drawn(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import builtins

    real_import = builtins.__import__

    def no_matplotlib(name: str, *args: Any, **kwargs: Any) -> Any:
        if name.startswith("matplotlib"):
            raise ImportError(name)
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_matplotlib)
    text = write_report(a_run().to_json(), tmp_path).read_text()
    assert "Plots were not drawn: matplotlib is not installed" in text
    assert not list(tmp_path.glob("bench-*.png"))
