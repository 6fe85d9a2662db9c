"""``python -m bench [--quick]``: run every benchmark, write bench/results.json, print a table.

See docs/benchmarks.md for what each figure measures and its anchor.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from .config import FULL, QUICK
from .report import format_table, write_json
from .runner import Runner

DEFAULT_OUTPUT = Path(__file__).with_name("results.json")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    """The command line."""
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument(
        "--quick", action="store_true", help="small sizes (20k messages): under a minute"
    )
    parser.add_argument(
        "--output", type=Path, default=DEFAULT_OUTPUT, help="results file (%(default)s)"
    )
    parser.add_argument(
        "--profile",
        type=Path,
        metavar="DIR",
        help="run each stage under cProfile and dump DIR/<stage>.prof (slows it down)",
    )
    parser.add_argument(
        "--keep", action="store_true", help="keep the work directory (the store) for inspection"
    )
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    """Run the benchmarks; returns the exit status."""
    args = parse_args(argv)
    config = QUICK if args.quick else FULL
    started = time.perf_counter()
    entries = Runner(config, profile_dir=args.profile, keep=args.keep).run()
    seconds = time.perf_counter() - started
    write_json(args.output, config.mode, seconds, entries)
    print(format_table(entries))
    print(f"\n{config.mode} run: {seconds:.0f} s; results in {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
