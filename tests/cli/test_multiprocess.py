"""Three real `p2psocial node` processes on 127.0.0.1: posts cross the line both ways."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

import pytest

EXE = shutil.which("p2psocial", path=str(Path(sys.executable).parent))
START_TIMEOUT = 30.0
ARRIVAL_TIMEOUT = 30.0


def env_for(home: Path) -> dict[str, str]:
    return {
        "PATH": os.environ.get("PATH", ""),
        "HOME": str(home.parent),
        "LC_ALL": "C.UTF-8",
        "P2PSOCIAL_HOME": str(home),
    }


def cli(home: Path, *args: str) -> str:
    assert EXE is not None
    result = subprocess.run(
        [EXE, *args],
        env=env_for(home),
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, (args, result.stdout, result.stderr)
    return result.stdout


@contextmanager
def node_process(home: Path, *peers: str) -> Iterator[str]:
    """Run `p2psocial node` on ``home``; yields its first listen multiaddr."""
    assert EXE is not None
    args = [EXE, "node", "--listen", "/ip4/127.0.0.1/tcp/0", "--no-mdns"]
    for peer in peers:
        args += ["--peer", peer]
    log = (home.parent / f"{home.name}.stderr").open("w")
    process = subprocess.Popen(
        args,
        env=env_for(home),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=log,
        text=True,
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline().strip()  # printed once listening
        assert line.startswith("/ip4/127.0.0.1/tcp/"), (
            line,
            (home.parent / f"{home.name}.stderr").read_text(),
        )
        yield line
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            assert process.wait(timeout=15) == 0
        finally:
            if process.poll() is None:
                process.kill()
                process.wait()
            if process.stdout is not None:
                process.stdout.close()
            log.close()


def wait_for_text(home: Path, text: str, deadline: float) -> float:
    """Poll the node's global feed (through its index) until ``text`` is in it."""
    while time.monotonic() < deadline:
        feed = json.loads(cli(home, "timeline", "--feed", "global", "--json", "--limit", "50"))
        if any(item["text"] == text for item in feed):
            return time.monotonic()
        time.sleep(0.05)
    raise AssertionError(f"{text!r} did not reach {home.name}")


def peers_of(home: Path) -> int:
    status = json.loads(cli(home, "status", "--json"))
    return int(status["network"]["connected"] if "network" in status else status["connected"])


@pytest.mark.skipif(EXE is None, reason="the p2psocial console script is not installed")
def test_three_processes_exchange_posts_both_ways(tmp_path: Path) -> None:
    homes = [tmp_path / name for name in ("a", "b", "c")]
    for home in homes:
        cli(home, "init", "--no-passphrase")
    with ExitStack() as stack:
        a = stack.enter_context(node_process(homes[0]))
        b = stack.enter_context(node_process(homes[1], a))
        stack.enter_context(node_process(homes[2], b))
        deadline = time.monotonic() + START_TIMEOUT
        while peers_of(homes[1]) < 2:
            assert time.monotonic() < deadline, "b did not connect to a and c"
            time.sleep(0.05)
        sent = time.monotonic()
        cli(homes[0], "post", "from a, through b, to c")
        arrived = wait_for_text(homes[2], "from a, through b, to c", sent + ARRIVAL_TIMEOUT)
        sent_back = time.monotonic()
        cli(homes[2], "post", "and back from c")
        back = wait_for_text(homes[0], "and back from c", sent_back + ARRIVAL_TIMEOUT)
        # Recorded for the benchmark report; the polling CLI itself costs ~0.3 s a round.
        print(f"two hops: {arrived - sent:.2f} s there, {back - sent_back:.2f} s back")
