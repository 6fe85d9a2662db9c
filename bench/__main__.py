"""``python -m bench [--quick] [--only A,B | --skip A,B]``: run the benchmarks, write the
results file and the report (docs/benchmarks.md with its plots), print a table.

See docs/benchmarks.md for what each figure measures and its anchor.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from .config import FULL, QUICK
from .report import format_table, write_json, write_report
from .runner import STAGES, Runner

HERE = Path(__file__).parent
RESULTS = HERE / "results.json"
QUICK_RESULTS = HERE / "results-quick.json"
DOCS = HERE.parent / "docs"


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    """The command line."""
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument(
        "--quick", action="store_true", help="small sizes (20k messages), a few minutes"
    )
    parser.add_argument(
        "--only", type=_names, metavar="A,B", help="run only these stages (see --list)"
    )
    parser.add_argument("--skip", type=_names, metavar="A,B", help="run all but these stages")
    parser.add_argument("--list", action="store_true", help="list the stages and exit")
    parser.add_argument(
        "--output", type=Path, help=f"results file ({RESULTS.name}; {QUICK_RESULTS.name} quick)"
    )
    parser.add_argument(
        "--docs",
        type=Path,
        help="write benchmarks.md and its plots here (default: docs/ for a full run, none quick)",
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
    args = parser.parse_args(argv)
    known = {s.name for s in STAGES}
    for option in ("only", "skip"):
        unknown = (getattr(args, option) or set()) - known
        if unknown:
            parser.error(f"--{option}: no stage {', '.join(sorted(unknown))} (see --list)")
    return args


def _names(text: str) -> set[str]:
    return {name.strip() for name in text.split(",") if name.strip()}


def main(argv: list[str] | None = None) -> int:
    """Run the benchmarks; returns the exit status (1 if a stage failed)."""
    args = parse_args(argv)
    if args.list:
        for stage in STAGES:
            print(f"{stage.name}{'' if stage.quick else '  (not in --quick runs)'}")
        return 0
    config = QUICK if args.quick else FULL
    output = args.output or (QUICK_RESULTS if args.quick else RESULTS)
    docs = args.docs if args.docs is not None else (None if args.quick else DOCS)
    started = time.perf_counter()
    runner = Runner(
        config,
        profile_dir=args.profile,
        keep=args.keep,
        only=args.only,
        skip=args.skip,
        argv=sys.argv[1:] if argv is None else argv,
    )
    run = runner.run()
    document = run.to_json()
    write_json(output, document)
    print(format_table(document["results"]))
    for stage in run.stages:
        if stage.status != "ok":
            print(f"stage {stage.name}: {stage.status}: {stage.detail}")
    print(f"\n{config.mode} run: {time.perf_counter() - started:.0f} s; results in {output}")
    if docs is not None:
        print(f"report: {write_report(document, docs)}")
    return 1 if any(s.status == "failed" for s in run.stages) else 0


if __name__ == "__main__":
    sys.exit(main())
