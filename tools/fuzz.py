"""The long fuzz run's second half: coverage-guided fuzzing with atheris (libFuzzer).

``make fuzz`` first runs the Hypothesis harnesses of tests/fuzz with the ``fuzz`` profile,
then this: each target below for a fixed time, in its own process, seeded with the corpus
of tests/fuzz/seeds.py (docs/vectors.json and the factories). Every target checks the same
property as its Hypothesis twin (tests/fuzz/properties.py): a valid result, or the
documented error, nothing else, and no input slower than ``--timeout`` seconds.

Atheris pays off where the input is bytes into pure code that runs in microseconds
(decoders, validators, the sync codec, the export reader): libFuzzer's coverage feedback
then finds paths random mutation would not. The control socket and the sync streams need
a live node per input, far below libFuzzer's speed, so they stay with Hypothesis.

Usage::

    python -m tools.fuzz                         # every target, 60 s each
    python -m tools.fuzz --seconds 300 message   # one target for longer
    python -m tools.fuzz --reproduce message build/fuzz/crashes/message/crash-...

The corpus grows in ``build/fuzz/corpus/<target>/`` across runs; crashes, hangs and the
inputs that caused them are written to ``build/fuzz/crashes/<target>/``. A crash found here
becomes a regression test (an ``@example`` or a named test) in tests/fuzz.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import random
import re
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Final

ROOT: Final = Path(__file__).resolve().parents[1]
TARGETS: Final = ("canonical", "message", "body", "sync_request", "sync_response", "export")
DEFAULT_WORKDIR: Final = ROOT / "build" / "fuzz"
_DONE: Final = re.compile(r"Done (\d+) runs in (\d+) second")


@dataclass(frozen=True, slots=True)
class Result:
    """What one target's run did."""

    target: str
    status: int
    runs: int
    seconds: float
    artifacts: tuple[Path, ...]

    @property
    def ok(self) -> bool:
        return self.status == 0 and not self.artifacts


# --- the child: one target under atheris ---------------------------------------------------


def _target(name: str, scratch: Path) -> Callable[[bytes], None]:
    """The function libFuzzer calls with each input, for target ``name``.

    Imported under atheris' instrumentation, so that the library's branches guide it.
    """
    import atheris  # type: ignore[import-untyped]  # noqa: PLC0415

    with atheris.instrument_imports(include=["p2psocial", "tests.fuzz", "cbor2"]):
        from p2psocial.core.bodies import KINDS  # noqa: PLC0415
        from tests.fuzz import properties  # noqa: PLC0415

    kinds = sorted(KINDS)
    export_path = scratch / "input.export"

    def canonical(data: bytes) -> None:
        properties.check_canonical(data)

    def message(data: bytes) -> None:
        properties.check_message(data)

    def body(data: bytes) -> None:
        if data:
            properties.check_body(kinds[data[0] % len(kinds)], data[1:])

    def sync_request(data: bytes) -> None:
        properties.check_sync_request(data)

    def sync_response(data: bytes) -> None:
        if data:
            properties.check_sync_response(data[1:], properties.request_for(data[0]))

    def export(data: bytes) -> None:
        properties.check_export(data, export_path)

    functions: dict[str, Callable[[bytes], None]] = {
        "canonical": canonical,
        "message": message,
        "body": body,
        "sync_request": sync_request,
        "sync_response": sync_response,
        "export": export,
    }
    return functions[name]


def run_child(name: str, libfuzzer_args: list[str]) -> None:
    """Run one target under atheris until libFuzzer stops (it exits the process)."""
    import atheris  # noqa: PLC0415

    sys.path.insert(0, str(ROOT))
    with tempfile.TemporaryDirectory(prefix="p2psocial-fuzz-", dir=_scratch_root()) as scratch:
        function = _target(name, Path(scratch))
        atheris.Setup([sys.argv[0], *libfuzzer_args], function)
        atheris.Fuzz()


def _scratch_root() -> str | None:
    """A RAM disk for the export target's input file, if there is one."""
    return "/dev/shm" if os.access("/dev/shm", os.W_OK) else None


# --- the parent: corpora, one process per target, a summary --------------------------------


def seed_corpus(name: str, directory: Path) -> int:
    """Write the seed inputs of target ``name`` into ``directory`` (named by content)."""
    sys.path.insert(0, str(ROOT))
    from tests.fuzz.seeds import corpus  # noqa: PLC0415

    directory.mkdir(parents=True, exist_ok=True)
    inputs = _body_seeds() if name == "body" else corpus()[name]
    for data in inputs:
        (directory / f"seed-{hashlib.sha1(data).hexdigest()}").write_bytes(data)
    return len(inputs)


def _body_seeds() -> tuple[bytes, ...]:
    from p2psocial.core.bodies import KINDS  # noqa: PLC0415
    from tests.fuzz.seeds import messages  # noqa: PLC0415

    kinds = sorted(KINDS)
    return tuple(
        bytes([kinds.index(m.kind.value)]) + m.body_bytes
        for m in messages()
        if m.body_bytes is not None
    )


def run_target(name: str, *, seconds: int, seed: int, workdir: Path, timeout: int) -> Result:
    """Fuzz one target in a child process for ``seconds``."""
    corpus = workdir / "corpus" / name
    crashes = workdir / "crashes" / name
    crashes.mkdir(parents=True, exist_ok=True)
    seeded = seed_corpus(name, corpus)
    before = set(crashes.iterdir())
    args = [
        str(corpus),
        f"-max_total_time={seconds}",
        f"-timeout={timeout}",
        f"-seed={seed}",
        "-rss_limit_mb=2048",
        "-max_len=16384",
        f"-artifact_prefix={crashes}/",
        "-print_final_stats=1",
    ]
    print(f"[{name}] {seconds} s, seed {seed}, corpus {corpus} ({seeded} seeds)", flush=True)
    began = time.monotonic()
    log_path = workdir / f"{name}.log"
    with open(log_path, "w", encoding="utf-8") as log:
        process = subprocess.run(
            [sys.executable, "-m", "tools.fuzz", "--child", name, *args],
            cwd=ROOT,
            stdout=log,
            stderr=subprocess.STDOUT,
            timeout=seconds + 120,
            check=False,
        )
    elapsed = time.monotonic() - began
    text = log_path.read_text(encoding="utf-8", errors="replace")
    done = _DONE.search(text)
    artifacts = tuple(sorted(set(crashes.iterdir()) - before))
    result = Result(name, process.returncode, int(done.group(1)) if done else 0, elapsed, artifacts)
    if not result.ok:
        print(text[-4000:], flush=True)
    return result


def reproduce(name: str, inputs: list[str]) -> int:
    """Run target ``name`` once on each given input file (libFuzzer's own mode for it)."""
    return subprocess.run(
        [sys.executable, "-m", "tools.fuzz", "--child", name, *inputs],
        cwd=ROOT,
        check=False,
    ).returncode


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["--child"]:  # python -m tools.fuzz --child TARGET LIBFUZZER-ARGS...
        run_child(argv[1], argv[2:])
        return 0
    parser = argparse.ArgumentParser(
        prog="python -m tools.fuzz", description=__doc__.split("\n")[0]
    )
    parser.add_argument("targets", nargs="*", metavar="TARGET", help=f"of {', '.join(TARGETS)}")
    parser.add_argument("--seconds", type=int, default=60, help="per target (default 60)")
    parser.add_argument("--seed", type=int, help="libFuzzer's seed (default: random, printed)")
    parser.add_argument("--timeout", type=int, default=10, help="seconds one input may take")
    parser.add_argument("--workdir", type=Path, default=DEFAULT_WORKDIR)
    parser.add_argument("--reproduce", nargs="+", metavar=("TARGET", "INPUT"))
    args = parser.parse_args(argv)
    unknown = [t for t in [*args.targets, *(args.reproduce or [])[:1]] if t not in TARGETS]
    if unknown:
        parser.error(f"unknown target(s) {unknown}; the targets are {', '.join(TARGETS)}")
    try:
        import atheris  # noqa: F401, PLC0415
    except ImportError:
        print("atheris is not installed: pip install -e '.[fuzz]'", file=sys.stderr)
        return 2
    if args.reproduce:
        return reproduce(args.reproduce[0], args.reproduce[1:])
    seed = args.seed if args.seed is not None else random.SystemRandom().randrange(1, 2**31)
    targets = args.targets or list(TARGETS)
    print(f"atheris: {len(targets)} targets, {args.seconds} s each, seed {seed}", flush=True)
    results = [
        run_target(
            name, seconds=args.seconds, seed=seed, workdir=args.workdir, timeout=args.timeout
        )
        for name in targets
    ]
    print(f"\n{'target':<14} {'runs':>10} {'runs/s':>8}  result")
    for r in results:
        verdict = "clean" if r.ok else f"FAILED (exit {r.status}): {[str(a) for a in r.artifacts]}"
        print(f"{r.target:<14} {r.runs:>10} {r.runs / max(r.seconds, 1e-9):>8.0f}  {verdict}")
    print(f"seed {seed}; rerun one input with: python -m tools.fuzz --reproduce TARGET FILE")
    return 0 if all(r.ok for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
