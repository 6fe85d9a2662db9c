"""``python -m bench.sim``: run one simulation scenario and print its result as JSON."""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
from dataclasses import fields
from pathlib import Path

from .cluster import run_simulation
from .plan import Scenario, make_plan


def main(argv: list[str] | None = None) -> int:
    """Run the scenario the options describe; exit 0 only if it converged with nothing lost."""
    parser = argparse.ArgumentParser(prog="python -m bench.sim", description=__doc__)
    for f in fields(Scenario):
        parser.add_argument(
            f"--{f.name.replace('_', '-')}", type=type(f.default), default=f.default
        )
    parser.add_argument("--keep", action="store_true", help="keep the nodes' homes")
    parser.add_argument("--latencies", action="store_true", help="print every latency sample")
    parser.add_argument(
        "--cpu-by-node", action="store_true", help="charge main-thread CPU to nodes (slower)"
    )
    args = parser.parse_args(argv)
    scenario = Scenario(**{f.name: getattr(args, f.name) for f in fields(Scenario)})
    work = Path(tempfile.mkdtemp(prefix="p2psocial-sim-", dir="/tmp"))
    try:
        result = run_simulation(make_plan(scenario), work, cpu_by_node=args.cpu_by_node)
    finally:
        if args.keep:
            print(f"homes kept in {work}", file=sys.stderr)
        else:
            shutil.rmtree(work, ignore_errors=True)
    print(json.dumps(result.to_json(latencies=args.latencies), indent=2))
    return 0 if result.converged and result.lost == 0 and result.forged_held == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
