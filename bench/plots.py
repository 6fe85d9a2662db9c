"""The report's plots: one PNG per figure (``docs/bench-<figure>.png``), drawn from the data
a run measured (:class:`bench.report.Plot` records), with matplotlib's Agg backend.

matplotlib is the optional ``bench`` extra (``pip install -e '.[bench]'``; ``make bench``
installs it). Without it the report is still written, and says the plots were not drawn.
Plots an earlier run left in the directory are removed first, so a PNG beside the report
always comes from the same run as its numbers.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Final

PREFIX: Final = "bench-"
PANEL_SIZE: Final = (5.4, 3.9)
DPI: Final = 110


def draw(plots: list[dict[str, Any]], directory: Path) -> tuple[dict[str, str], str]:
    """Draw every figure of ``plots`` into ``directory``.

    Returns:
        Figure name -> PNG file name (relative to ``directory``), and why nothing was drawn
        (empty when something was, or when there was nothing to draw).
    """
    directory.mkdir(parents=True, exist_ok=True)
    for old in directory.glob(f"{PREFIX}*.png"):
        old.unlink()
    if not plots:
        return {}, ""
    try:
        import matplotlib  # noqa: PLC0415 - optional

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt  # noqa: PLC0415
    except ImportError:
        return {}, "matplotlib is not installed (`pip install -e '.[bench]'`; `make bench` does)"
    figures: dict[str, list[dict[str, Any]]] = {}
    for plot in plots:
        figures.setdefault(plot["figure"], []).append(plot)
    images = {}
    for name, panels in figures.items():
        width, height = PANEL_SIZE
        fig, axes = plt.subplots(1, len(panels), figsize=(width * len(panels), height))
        for ax, panel in zip(fig.axes if len(panels) > 1 else [axes], panels, strict=True):
            _panel(ax, panel)
        fig.tight_layout()
        file = f"{PREFIX}{name}.png"
        fig.savefig(directory / file, dpi=DPI)
        plt.close(fig)
        images[name] = file
    return images, ""


def _panel(ax: Any, panel: dict[str, Any]) -> None:
    for label, data in panel["series"].items():
        if not data:
            continue
        if panel["kind"] == "cdf":
            xs = sorted(float(x) for x in data)
            ys = [(i + 1) / len(xs) for i in range(len(xs))]
            ax.step(xs, ys, where="post", label=f"{label} (n={len(xs)})")
        else:
            points = sorted((float(x), float(y)) for x, y in data)
            ax.plot(
                [p[0] for p in points],
                [p[1] for p in points],
                marker="o" if len(points) <= 30 else None,
                markersize=4,
                label=label,
            )
    if panel.get("log_x"):
        ax.set_xscale("log")
    if panel["kind"] == "line":
        # Every line plotted here is a count, a rate or a share: start at zero, and show a
        # share on its whole scale.
        ys = [float(y) for data in panel["series"].values() for _, y in data]
        ax.set_ylim(bottom=0, top=1.05 if ys and max(ys) <= 1 else None)
    ax.set_title(panel["title"], fontsize=10)
    ax.set_xlabel(panel["x_label"])
    ax.set_ylabel(panel["y_label"])
    ax.grid(True, alpha=0.3)
    if any(panel["series"].values()):
        ax.legend(fontsize=8)
