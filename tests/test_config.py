"""HOME/config.toml: the documented defaults are the real ones, and bad files fail in one line.

docs/configuration.md is read here: its settings table and its examples are compared with
:data:`p2psocial.config.DEFAULTS`, so the page cannot drift from the code.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import fields
from pathlib import Path
from typing import Any

import pytest

from p2psocial.config import DEFAULTS, Config, ConfigError, load_config, parse_config
from p2psocial.errors import InputError

DOC = Path(__file__).resolve().parent.parent / "docs" / "configuration.md"
TYPE_NAMES = {bool: "boolean", tuple: "list of strings", int: "integer", float: "number"}


def doc_text() -> str:
    return DOC.read_text(encoding="utf-8")


def every_setting() -> dict[str, Any]:
    """``section.key`` -> default, for every field of :class:`Config`."""
    return {
        f"{section.name}.{setting.name}": getattr(getattr(DEFAULTS, section.name), setting.name)
        for section in fields(Config)
        for setting in fields(getattr(DEFAULTS, section.name))
    }


def doc_table() -> dict[str, tuple[str, str, str]]:
    """The settings table: ``section.key`` -> (type, default as TOML, meaning)."""
    rows = {}
    for line in doc_text().splitlines():
        match = re.fullmatch(r"\| `(\w+\.\w+)` \| ([^|]+) \| `([^`]*)` \| (.+) \|", line)
        if match:
            name, kind, default, meaning = match.groups()
            assert name not in rows, f"{name} is in the table twice"
            rows[name] = (kind.strip(), default, meaning.strip())
    return rows


def toml_blocks() -> list[str]:
    return re.findall(r"```toml\n(.*?)```", doc_text(), flags=re.DOTALL)


def kind_of(value: Any) -> str:
    return TYPE_NAMES[bool if isinstance(value, bool) else type(value)]


# --- the documentation ------------------------------------------------------------------------


def test_the_table_lists_every_setting_once_with_its_type() -> None:
    table = doc_table()
    assert sorted(table) == sorted(every_setting())
    for name, default in every_setting().items():
        kind, _, meaning = table[name]
        assert kind == kind_of(default), name
        assert meaning, name


@pytest.mark.parametrize("name", sorted(every_setting()))
def test_the_table_gives_the_real_default(name: str) -> None:
    _, written, _ = doc_table()[name]
    value = tomllib.loads(f"v = {written}")["v"]
    section, key = name.split(".")
    parsed = parse_config({section: {key: value}})
    assert getattr(getattr(parsed, section), key) == every_setting()[name]
    assert parsed == DEFAULTS


def test_the_full_example_is_every_default() -> None:
    first = toml_blocks()[0]
    data = tomllib.loads(first)
    written = {f"{s}.{k}" for s, values in data.items() for k in values}
    assert written == set(every_setting())
    assert parse_config(data) == DEFAULTS


def test_every_example_in_the_docs_is_a_valid_config(tmp_path: Path) -> None:
    blocks = toml_blocks()
    assert len(blocks) >= 2
    for block in blocks:
        (tmp_path / "config.toml").write_text(block, encoding="utf-8")
        load_config(tmp_path)


def test_the_home_layout_lists_the_files_the_node_makes() -> None:
    from p2psocial import home
    from p2psocial.config import CONFIG_FILENAME
    from p2psocial.control import SOCKET_FILENAME
    from p2psocial.daemon import LOG_FILENAME

    text = doc_text()
    names = [
        "identity.json",
        "transport.key",
        CONFIG_FILENAME,
        "lock",
        "log/",
        "torn/",
        "index.sqlite3",
        "peers.json",
        "moderation.json",
        SOCKET_FILENAME,
        LOG_FILENAME,
    ]
    layout = text[text.index("## The home directory") :]
    for name in names:
        assert re.search(rf"^\s+{re.escape(name)}\s", layout, flags=re.MULTILINE), name
        assert name in (home.__doc__ or ""), f"{name} is missing from p2psocial/home.py"


# --- loading ----------------------------------------------------------------------------------


def test_no_file_means_every_default(tmp_path: Path) -> None:
    assert load_config(tmp_path) is DEFAULTS


def test_settings_are_read_and_converted(tmp_path: Path) -> None:
    (tmp_path / "config.toml").write_text(
        '[network]\nlisten = ["/ip4/127.0.0.1/tcp/0"]\nmdns = false\n'
        "[gossip]\ndegree = 8\nheartbeat_interval = 2\n",
        encoding="utf-8",
    )
    config = load_config(tmp_path)
    assert config.network.listen == ("/ip4/127.0.0.1/tcp/0",)
    assert config.network.mdns is False
    assert config.gossip.degree == 8
    assert config.gossip.heartbeat_interval == 2.0
    assert isinstance(config.gossip.heartbeat_interval, float)
    assert config.sync == DEFAULTS.sync


BAD_FILES = {
    "not-toml": ("[network\nlisten = 1", "config.toml"),
    "unknown-section": ("[netwrok]\nmdns = false", "unknown section [netwrok]"),
    "section-not-a-table": ("network = 5", "[network] must be a table"),
    "unknown-setting": ("[network]\nmnds = false", "unknown setting 'mnds'"),
    "bool-as-string": ('[network]\nmdns = "no"', "mdns must be true or false"),
    "list-not-a-list": ('[network]\nlisten = "/ip4/0.0.0.0/tcp/4500"', "listen must be a list"),
    "list-of-numbers": ("[network]\npeers = [1, 2]", "peers must be a list of strings"),
    "negative-integer": ("[network]\nmax_peers = -1", "max_peers must be a non-negative"),
    "float-for-integer": ("[gossip]\ndegree = 6.5", "degree must be a non-negative integer"),
    "bool-for-integer": ("[limits]\nauthor_burst = true", "author_burst must be a non-negative"),
    "zero-number": ("[sync]\ninterval = 0", "interval must be a positive number"),
    "negative-number": ("[sync]\ntimeout = -3.0", "timeout must be a positive number"),
    "string-number": ('[limits]\nclock_skew = "600"', "clock_skew must be a positive number"),
    "nan": ("[limits]\nauthor_rate = nan", "author_rate must be a positive number"),
}


@pytest.mark.parametrize("case", sorted(BAD_FILES))
def test_a_bad_file_is_one_config_error(tmp_path: Path, case: str) -> None:
    text, says = BAD_FILES[case]
    (tmp_path / "config.toml").write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError) as raised:
        load_config(tmp_path)
    message = str(raised.value)
    assert "\n" not in message
    assert says in message
    assert str(tmp_path / "config.toml") in message
    assert raised.value.code == "input.config"
    assert isinstance(raised.value, InputError)


def test_a_file_that_is_not_utf8_is_one_config_error(tmp_path: Path) -> None:
    (tmp_path / "config.toml").write_bytes(b"[network]\nmdns = \xff\n")
    with pytest.raises(ConfigError, match="cannot read") as raised:
        load_config(tmp_path)
    assert "\n" not in str(raised.value)


def test_an_unreadable_file_is_one_config_error(tmp_path: Path) -> None:
    (tmp_path / "config.toml").mkdir()
    with pytest.raises(ConfigError, match="cannot read"):
        load_config(tmp_path)
