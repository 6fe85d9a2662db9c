"""Shared fixtures: a home directory with an identity, and a node opened on it.

Keys in tests are unencrypted unless a test is about encryption: the Argon2id cost of a
real keystore (about 0.6 s) belongs in the tests that check it, not in every test. For the
same reason a test home pays :data:`TEST_STAMP_BITS` of postage on its own messages, not
the default 18 (~0.1 s each); tests of postage itself use the real defaults.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

from p2psocial.config import CONFIG_FILENAME
from p2psocial.core.ids import AuthorId
from p2psocial.node import Node, init_home, open_node

# Deterministic property tests in CI; `--hypothesis-profile=dev` explores further.
settings.register_profile(
    "ci", derandomize=True, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.register_profile("dev", deadline=None, max_examples=1000)
# `make fuzz`: random seeds, each harness in tests/fuzz runs 50 times its short count
# (tests/fuzz/budget.py), a 5 s deadline flags inputs that make a parser crawl, and a
# failure prints the blob that replays it (and stays in .hypothesis/ for the next run).
settings.register_profile(
    "fuzz",
    derandomize=False,
    deadline=5000,
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.load_profile("ci")

TEST_STAMP_BITS = 4
"""Postage on a test home's own messages: still a real stamp (a pow nonce in every
header), at 16 hashes instead of 262 144."""
TEST_CONFIG_TOML = f"[postage]\nstamp = {TEST_STAMP_BITS}\n"


@pytest.fixture
def home(tmp_path: Path) -> Path:
    """An initialised home directory (unencrypted key)."""
    path = tmp_path / "home"
    init_home(path, passphrase=None)
    (path / CONFIG_FILENAME).write_text(TEST_CONFIG_TOML, encoding="utf-8")
    return path


@pytest.fixture
def me(home: Path) -> AuthorId:
    """The author id of :func:`home`'s identity."""
    from p2psocial import keystore

    return AuthorId(keystore.read_public_key(home))


@pytest.fixture
async def node(home: Path) -> AsyncIterator[Node]:
    """A node opened on :func:`home`."""
    async with open_node(home) as opened:
        yield opened
