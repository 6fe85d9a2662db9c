"""Ranked feeds over a real store: gathering, the committed rankings, paging, the graph
cache, judges, and plugins found through real entry points."""

from __future__ import annotations

import re
import sys
import textwrap
import tomllib
from collections.abc import Iterator, Mapping
from pathlib import Path

import pytest

from p2psocial.core.bodies import Kind
from p2psocial.core.ranking import BUILTINS, Candidate, Hidden, SettingError, Sources
from p2psocial.core.ranking.interface import BrokenAlgorithmError, UnknownAlgorithmError
from p2psocial.errors import InputError
from p2psocial.feeds import (
    ENTRY_POINT_GROUP,
    FeedPage,
    Installed,
    Registry,
    gather,
    rank_feed,
    social_graph,
)
from p2psocial.node import Node
from p2psocial.store.queries import IndexReader
from p2psocial.store.store import Store, wall_clock_ms
from tests.core.ranking import golden, scenario
from tests.factories import ChainBuilder

DOCS = Path(__file__).parent.parent / "docs" / "algorithms.md"


@pytest.fixture(scope="module")
def world() -> scenario.Scenario:
    return scenario.build()


@pytest.fixture
def store(tmp_path: Path, world: scenario.Scenario) -> Iterator[Store]:
    opened = Store.open(tmp_path / "home")
    opened.ingest(world.wire())
    yield opened
    opened.close()


@pytest.fixture
def reader(store: Store) -> IndexReader:
    return store.reader


def page_snapshot(page: FeedPage) -> list[dict[str, object]]:
    return golden.snapshot(
        (
            f.position,
            f.item.id.short,
            f.item.author_display,
            f.item.kind.value,
            f.item.text,
            f.score,
            f.reasons,
        )
        for f in page.items
    )


# --- gathering and ranking a real store ----------------------------------------------------


EVERYTHING = Sources(home=True, roots=True, network=100, per_author=3, counts=True)


@pytest.mark.parametrize(
    "sources",
    [*(a.sources for a in BUILTINS.values()), EVERYTHING, Sources(window=7, network=2)],
)
def test_the_store_gathers_what_the_rules_say(
    sources: Sources, reader: IndexReader, world: scenario.Scenario
) -> None:
    graph = social_graph(reader, world.me)
    memory = scenario.MemoryIndex(world.messages)
    expected = scenario.gather(memory, memory.graph(world.me), sources)
    assert gather(reader, graph, sources, reader.newest_rowid()) == expected


@pytest.mark.parametrize("name", list(BUILTINS))
def test_each_builtin_ranks_the_store_as_committed(
    name: str, reader: IndexReader, world: scenario.Scenario
) -> None:
    page = rank_feed(reader, world.me, name, limit=1000)
    assert page.next is None
    assert page.total == len(page.items)
    golden.check(name, page_snapshot(page))


def test_pages_follow_one_ranking_as_of_the_first(
    store: Store, reader: IndexReader, world: scenario.Scenario
) -> None:
    whole = rank_feed(reader, world.me, "trusted", limit=1000)
    first = rank_feed(reader, world.me, "trusted", limit=20)
    assert first.next is not None
    # Something new arrives between pages: the later pages do not move.
    store.ingest([world.people["alice"].post("breaking news", ts=first.now + 1).to_bytes()])
    second = rank_feed(reader, world.me, "trusted", limit=20, cursor=first.next)
    assert second.next is not None
    third = rank_feed(reader, world.me, "trusted", limit=20, cursor=second.next)
    assert third.next is None
    assert [f.item.id for f in first.items + second.items + third.items] == [
        f.item.id for f in whole.items
    ]
    fresh = rank_feed(reader, world.me, "trusted", limit=1)
    assert fresh.items[0].item.text == "breaking news"


def test_now_can_be_given(reader: IndexReader, world: scenario.Scenario) -> None:
    later = rank_feed(reader, world.me, "chronological", limit=1, now=scenario.START + 10**9)
    assert later.now == scenario.START + 10**9
    assert later.items[0].reasons[0].value > 200  # hours


def test_the_graph_is_computed_once_per_follow_state(
    store: Store, reader: IndexReader, world: scenario.Scenario
) -> None:
    graph = social_graph(reader, world.me)
    assert social_graph(reader, world.me) is graph
    store.ingest([world.people["erin"].post("not a follow").to_bytes()])
    assert social_graph(reader, world.me) is graph
    store.ingest([world.people["me"].follow(world.people["grace"]).to_bytes()])
    updated = social_graph(reader, world.me)
    assert updated is not graph
    assert world.author("grace") in updated.following
    assert world.author("grace") not in graph.following


def test_a_judge_hides_or_marks_and_the_rest_stays_put(
    reader: IndexReader, world: scenario.Scenario
) -> None:
    alice = world.author("alice")

    def judge(candidate: Candidate) -> Hidden | None:
        return Hidden("mute", "muted") if candidate.author == alice else None

    plain = rank_feed(reader, world.me, "trusted", limit=1000)
    hidden = rank_feed(reader, world.me, "trusted", limit=1000, judge=judge)
    shown = rank_feed(reader, world.me, "trusted", limit=1000, judge=judge, show_hidden=True)
    alices = [f for f in plain.items if f.item.author == alice]
    assert alices
    assert hidden.hidden == shown.hidden == len(alices)
    assert [f.item.id for f in hidden.items] == [
        f.item.id for f in plain.items if f.item.author != alice
    ]
    assert [f.item.id for f in shown.items] == [f.item.id for f in plain.items]
    assert {f.hidden for f in shown.items if f.item.author == alice} == {Hidden("mute", "muted")}
    assert {f.hidden for f in shown.items if f.item.author != alice} == {None}


def test_page_items_are_decorated_for_display(
    reader: IndexReader, world: scenario.Scenario
) -> None:
    page = rank_feed(reader, world.me, "conversations")
    question = page.items[0].item
    assert question.text == "what makes a feed fair?"
    assert question.replies == 6
    assert question.reposts == 1
    assert dict(question.reactions.counts) == {"👍": 5, "🎉": 1}


def test_an_unknown_algorithm_suggests_a_close_name(
    reader: IndexReader, world: scenario.Scenario
) -> None:
    with pytest.raises(
        UnknownAlgorithmError, match="no feed algorithm 'trustd'; did you mean 'trusted'"
    ):
        rank_feed(reader, world.me, "trustd")
    with pytest.raises(UnknownAlgorithmError, match=r"^no feed algorithm 'zzz' \(see"):
        rank_feed(reader, world.me, "zzz")


def test_bad_settings_and_limits_are_refused(reader: IndexReader, world: scenario.Scenario) -> None:
    with pytest.raises(SettingError, match="has no setting 'speed'"):
        rank_feed(reader, world.me, "trusted", settings={"speed": "1"})
    with pytest.raises(InputError, match="limit must be between 1 and 1000"):
        rank_feed(reader, world.me, "trusted", limit=0)


# --- plugins through real entry points ------------------------------------------------------


def install_distribution(
    root: Path, dist: str, modules: Mapping[str, str], entry_points: Mapping[str, str]
) -> None:
    """Install a distribution by hand into the directory ``root``: its modules, and a
    ``*.dist-info`` whose ``entry_points.txt`` offers ``entry_points`` as algorithms."""
    for name, source in modules.items():
        (root / f"{name}.py").write_text(textwrap.dedent(source), encoding="utf-8")
    info = root / f"{dist.replace('-', '_')}-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: 1.0\n")
    lines = [f"[{ENTRY_POINT_GROUP}]"] + [f"{k} = {v}" for k, v in entry_points.items()]
    (info / "entry_points.txt").write_text("\n".join(lines) + "\n")


class Site:
    """A directory on sys.path where tests install distributions by hand, which
    importlib.metadata really reads."""

    def __init__(self, root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        self.root = root
        self.modules: list[str] = []
        root.mkdir()
        monkeypatch.syspath_prepend(str(root))

    def install(
        self, dist: str, modules: Mapping[str, str], entry_points: Mapping[str, str]
    ) -> None:
        install_distribution(self.root, dist, modules, entry_points)
        self.modules.extend(modules)


@pytest.fixture
def site(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Site]:
    made = Site(tmp_path / "site", monkeypatch)
    yield made
    for name in made.modules:
        sys.modules.pop(name, None)


GOOD = """
    from p2psocial.core.ranking import Algorithm, Ranked, Reason

    def rank(candidates, context):
        for c in candidates:
            n = len(c.text or "")
            yield Ranked(c, float(n), (Reason("length", n, 1.0, f"{n} characters"),))

    ALGORITHM = Algorithm(description="longest first", rank=rank)
"""
FUNCTION = '''
    from p2psocial.core.ranking import Ranked

    def oldest(candidates, context):
        """Oldest first, as a bare function."""
        return [Ranked(c, -c.ts) for c in candidates]
'''


def test_plugins_load_by_entry_point_and_broken_ones_are_named(
    site: Site, reader: IndexReader, world: scenario.Scenario
) -> None:
    site.install("p2p-longest", {"longest_feed": GOOD}, {"longest": "longest_feed:ALGORITHM"})
    site.install("p2p-oldest", {"oldest_feed": FUNCTION}, {"oldest": "oldest_feed:oldest"})
    site.install(
        "p2p-broken",
        {
            "broken_feed": "import no_such_module_anywhere\n",
            "odd_feed": "THING = 42\n",
            "exit_feed": "import sys\nsys.exit(3)\n",
        },
        {
            "broken": "broken_feed:ALGORITHM",
            "exits": "exit_feed:ALGORITHM",
            "odd": "odd_feed:THING",
            "trusted": "odd_feed:THING",
        },
    )
    registry = Registry()
    assert registry.names == [*BUILTINS, "broken", "exits", "longest", "odd", "oldest"]

    longest = rank_feed(reader, world.me, "longest", registry=registry)
    texts = [f.item.text or "" for f in longest.items]
    assert [len(t) for t in texts] == sorted((len(t) for t in texts), reverse=True)
    assert longest.items[0].reasons[0].signal == "length"
    oldest = rank_feed(reader, world.me, "oldest", registry=registry, limit=1000)
    assert [f.item.ts for f in oldest.items] == sorted(f.item.ts for f in oldest.items)

    with pytest.raises(BrokenAlgorithmError) as info:
        rank_feed(reader, world.me, "broken", registry=registry)
    assert str(info.value) == (
        "algorithm 'broken' (p2p-broken 1.0, broken_feed:ALGORITHM) cannot be used: it failed"
        " to load: ModuleNotFoundError: No module named 'no_such_module_anywhere'"
    )
    with pytest.raises(BrokenAlgorithmError, match=r"it failed to load: SystemExit: 3$"):
        registry.get("exits")
    with pytest.raises(BrokenAlgorithmError, match="odd_feed:THING is a int, not an Algorithm"):
        registry.get("odd")
    assert registry.get("trusted") is BUILTINS["trusted"]  # a plugin cannot take its name

    listed = {(i.name, i.source): i for i in registry.installed()}
    assert listed["longest", "p2p-longest 1.0, longest_feed:ALGORITHM"] == Installed(
        "longest", "longest first", "p2p-longest 1.0, longest_feed:ALGORITHM"
    )
    assert listed["oldest", "p2p-oldest 1.0, oldest_feed:oldest"].description == (
        "Oldest first, as a bare function."
    )
    assert listed["broken", "p2p-broken 1.0, broken_feed:ALGORITHM"].problem is not None
    clash = listed["trusted", "p2p-broken 1.0, odd_feed:THING"]
    assert clash.problem == "has the name of a built-in algorithm"
    assert listed["trusted", "built in"].problem is None


def test_a_plugin_that_fails_while_ranking_is_named(
    site: Site, reader: IndexReader, world: scenario.Scenario
) -> None:
    site.install(
        "p2p-crash",
        {"crash_feed": "def crash(candidates, context):\n    return 1 / 0\n"},
        {"crash": "crash_feed:crash"},
    )
    registry = Registry()
    with pytest.raises(
        BrokenAlgorithmError,
        match="algorithm 'crash' failed while ranking: ZeroDivisionError: division by zero",
    ):
        rank_feed(reader, world.me, "crash", registry=registry)
    assert rank_feed(reader, world.me, "trusted", registry=registry).items


def test_built_ins_need_no_metadata() -> None:
    registry = Registry(plugins=[])
    assert registry.names == list(BUILTINS)
    assert [i.name for i in registry.installed()] == list(BUILTINS)
    assert all(i.source == "built in" and i.description for i in registry.installed())


# --- the worked example in docs/algorithms.md ----------------------------------------------


def documented(block: str) -> str:
    """The python block of docs/algorithms.md that starts with ``# <block>``."""
    doc = DOCS.read_text(encoding="utf-8")
    [source] = re.findall(rf"```python\n# {re.escape(block)}\n(.*?)```", doc, flags=re.DOTALL)
    return str(source)


def documented_entry_points() -> dict[str, str]:
    doc = DOCS.read_text(encoding="utf-8")
    [toml] = re.findall(r"```toml\n(.*?)```", doc, flags=re.DOTALL)
    return dict(tomllib.loads(toml)["project"]["entry-points"][ENTRY_POINT_GROUP])


def test_the_documented_plugin_works_as_documented(
    site: Site, reader: IndexReader, world: scenario.Scenario
) -> None:
    entry_points = documented_entry_points()
    assert entry_points == {"lively": "lively_feed:ALGORITHM"}
    site.install("p2psocial-lively", {"lively_feed": documented("lively_feed.py")}, entry_points)
    registry = Registry()
    assert "lively" in registry.names
    assert registry.installed()[-1] == Installed(
        "lively",
        "home posts people are talking about: replies and reactions, fresh first",
        "p2psocial-lively 1.0, lively_feed:ALGORITHM",
        defaults={"reply_weight": 1.0, "reaction_weight": 0.5, "half_life_hours": 12.0},
    )

    page = rank_feed(reader, world.me, "lively", registry=registry, limit=5)
    assert page.items[0].item.text == "thinking about trust"  # the one with a reply
    assert [r.text for r in page.items[0].reasons][:2] == [
        "1 replies (counted as log2(1 + n))",
        "1 reactions (counted as log2(1 + n))",
    ]
    for entry in page.items:
        assert entry.item.kind is Kind.POST
        assert [r.signal for r in entry.reasons] == ["replies", "reactions", "recency"]
        assert entry.score == pytest.approx(sum(r.contribution for r in entry.reasons))
    tuned = rank_feed(
        reader, world.me, "lively", registry=registry, settings={"reaction_weight": "0"}
    )
    assert all(entry.reasons[1].weight == 0.0 for entry in tuned.items)
    with pytest.raises(SettingError, match="algorithm 'lively' has no setting 'weight'"):
        rank_feed(reader, world.me, "lively", registry=registry, settings={"weight": "1"})
    with pytest.raises(SettingError, match="'lively': half_life_hours must be above 0, got -1"):
        rank_feed(reader, world.me, "lively", registry=registry, settings={"half_life_hours": "-1"})


def test_the_documented_plugin_test_passes(site: Site) -> None:
    site.install("p2psocial-lively", {"lively_feed": documented("lively_feed.py")}, {})
    namespace: dict[str, object] = {}
    exec(compile(documented("test_lively.py"), "docs/algorithms.md", "exec"), namespace)
    test = namespace["test_talked_about_posts_come_first"]
    assert callable(test)
    test()


def test_a_new_author_with_no_follows_gets_a_feed(tmp_path: Path) -> None:
    store = Store.open(tmp_path / "lonely")
    try:
        me = ChainBuilder(7)
        store.ingest([me.post("first!").to_bytes()])
        for name in BUILTINS:
            page = rank_feed(store.reader, me.author, name)
            expected = ["first!"] if name in ("chronological", "trusted") else []
            assert [f.item.text for f in page.items] == expected
    finally:
        store.close()


async def test_the_node_serves_ranked_pages(node: Node) -> None:
    hour = 3_600_000
    friend = ChainBuilder(8, start_ts=wall_clock_ms() - 4 * hour, tick_ms=hour)
    friend.profile("friend")
    friend.extend(3, "friend {seq}")  # 3, 2 and 1 hours old
    await node.ingest(friend.wire(), source="import")
    await node.follow(friend.author)
    await node.post("my own")  # new, but counts with self_trust 0.5 against trust 1.0
    page = await node.ranked_feed("trusted", limit=2)
    assert page.algorithm == "trusted"
    assert [f.item.text for f in page.items] == ["friend 4", "friend 3"]
    assert [r.signal for r in page.items[0].reasons] == ["trust", "recency"]
    assert page.next is not None
    rest = await node.ranked_feed("trusted", limit=10, cursor=page.next)
    assert [f.item.text for f in rest.items] == ["friend 2", "my own"]
    assert rest.next is None
    with pytest.raises(UnknownAlgorithmError, match="did you mean 'conversations'"):
        await node.ranked_feed("conversation")
