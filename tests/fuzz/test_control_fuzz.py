"""Fuzz the control socket: hostile JSON lines against a real control server.

Each example copies a home that holds own and others' messages, serves its control
socket (p2psocial.control.serve_control, on a real unix socket) and sends a few lines, each
cut into random chunks: requests for every method with params drawn from ids that exist,
ids that do not, prefixes, wrong types, oversize text, paths inside the example's
sandbox, and raw lines that are not JSON, not UTF-8 or longer than the limit. The
properties, per line: exactly one response line, in order; a JSON object with the
request's id (null when it cannot be read) and either a result or an error whose code is
a known library code or ``os``, never ``control.internal``; no ERROR logged; and when the
answer is an error, nothing in the home changed. File paths are only ever drawn inside
the sandbox, so a fuzzed export cannot write anywhere else.
"""

from __future__ import annotations

import itertools
import json
import tempfile
from pathlib import Path
from typing import Any, Final

import pytest
import trio
from hypothesis import event, given
from hypothesis import strategies as st

from p2psocial import control
from p2psocial.core.ids import AuthorId, MessageId
from p2psocial.node import open_node
from p2psocial.store.exchange import write_export
from tests.factories import message_id

from . import seeds
from .budget import budget
from .nodes import copy_home, errors_logged, make_home, snapshot
from .strategies import mutated

TIMEOUT: Final = 20.0
SANDBOX_NAMES: Final = (
    "good.export",
    "bad.export",
    "dir",
    "missing.export",
    "new.export",
    "dir/new.export",
    "nul\x00.export",
    "../outside.export",
    "",
)


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_home(tmp_path_factory.mktemp("control"), share=9)


@pytest.fixture(scope="module")
def known(template: Path) -> dict[str, list[str]]:
    """Ids held by the template home, in every form a person could type them."""

    async def read() -> dict[str, list[str]]:
        async with open_node(template) as node:
            rows = node.reader.query("SELECT id FROM messages")
            authors = node.reader.query("SELECT key FROM authors")
            me = str(node.me)
        messages = [str(MessageId(row[0])) for row in rows]
        author_ids = [str(AuthorId(row[0])) for row in authors]
        return {
            "messages": messages + [m[:12] for m in messages] + ["p2sm1", str(message_id(99))],
            "authors": [*author_ids, me, me[:13], "p2sa1", *(a[:9] for a in author_ids)],
        }

    return trio.run(read)


_JSON_SCALARS: Final = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**70), 2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=20),
)
_JSON: Final = st.recursive(
    _JSON_SCALARS,
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3)
    ),
    max_leaves=6,
)
_TEXT: Final = st.one_of(
    st.text(max_size=40),
    st.sampled_from(["", " ", "\n", "\x1b[31mred", "#tag @p2sa1", "(a+)+$", "[", "\ud800"]),
    st.just("x" * 2049),
    st.just("\u00e9" * 1100),
)


def param_values(name: str, known: dict[str, list[str]], sandbox: Path) -> st.SearchStrategy[Any]:
    """Values for a param: typed for its name, or anything JSON."""
    if name == "path":  # never a path outside the sandbox, whatever else is drawn
        return st.sampled_from(SANDBOX_NAMES).map(lambda n: str(sandbox / n)) | st.sampled_from(
            ["relative.export", "./x", "~/x"]
        )
    typed: dict[str, st.SearchStrategy[Any]] = {
        "author": st.sampled_from(known["authors"]),
        "target": st.sampled_from(known["messages"] + known["authors"]),
        "parent": st.sampled_from(known["messages"]),
        "mentions": st.lists(st.sampled_from(known["authors"]) | _TEXT, max_size=3),
        "list": st.sampled_from(known["authors"]).map(lambda a: f"{a}/news") | _TEXT,
        "emoji": st.sampled_from(["\N{THUMBS UP SIGN}", "a b", "", "\x07"]) | _TEXT,
        "regex": st.booleans(),
        "hide": st.booleans(),
        "addr": st.sampled_from(["/ip4/127.0.0.1/tcp/1/p2p/12D3KooWFake", "not an addr"]),
    }
    typed_value = typed.get(name, _TEXT)
    return st.one_of(typed_value, typed_value, typed_value, _JSON)


PARAM_NAMES: Final = (
    "text", "mentions", "parent", "target", "emoji", "author", "name", "bio", "path", "addr",
    "regex", "hide", "reason", "list",
)  # fmt: skip


METHOD_PARAMS: Final = {
    "post": ("text", "mentions"),
    "reply": ("parent", "text"),
    "react": ("target", "emoji"),
    "repost": ("target",),
    "delete": ("target",),
    "follow": ("author",),
    "unfollow": ("author",),
    "profile": ("name", "bio"),
    "import": ("path",),
    "export": ("path",),
    "connect": ("addr",),
    "mute": ("author",),
    "unmute": ("author",),
    "block": ("author",),
    "unblock": ("author",),
    "filter_add": ("text", "regex"),
    "filter_remove": ("text",),
    "hide_reposts": ("hide",),
    "list_publish": ("name",),
    "list_add": ("name", "target", "reason"),
    "list_remove": ("name", "target"),
    "list_subscribe": ("list",),
    "list_unsubscribe": ("list",),
}
"""The params each method takes (methods not listed take none)."""


@st.composite
def request_lines(draw: st.DrawFn, known: dict[str, list[str]], sandbox: Path) -> bytes:
    """One line without its newline: a request, or bytes no real client would send."""
    shape = draw(st.sampled_from(["request"] * 12 + ["json", "bytes", "huge"]))
    if shape == "bytes":
        return draw(st.binary(max_size=30)).replace(b"\n", b" ")
    if shape == "huge":
        return (
            b'{"id": 1, "method": "post", "params": {"text": "' + b"x" * control.MAX_LINE + b'"}}'
        )
    if shape == "json":
        return json.dumps(draw(_JSON)).encode()
    method = draw(st.sampled_from(control.METHODS)) if draw(st.integers(0, 9)) else draw(_TEXT)
    names = list(METHOD_PARAMS.get(method, ()))
    if draw(st.integers(0, 3)) == 0:  # mostly the method's own params, sometimes not
        names = draw(st.lists(st.sampled_from(PARAM_NAMES), max_size=3, unique=True))
    params = {name: draw(param_values(name, known, sandbox)) for name in names}
    request: dict[str, Any] = {
        "id": draw(st.integers(0, 2**31)) if draw(st.integers(0, 7)) else draw(_JSON_SCALARS),
        "method": method,
        "params": params if draw(st.integers(0, 15)) else draw(_JSON),
    }
    if draw(st.integers(0, 9)) == 0:
        del request[draw(st.sampled_from(sorted(request)))]
    if draw(st.integers(0, 19)) == 0:
        request["extra"] = 1
    # Raw UTF-8 sometimes, so that a lone surrogate reaches the server as invalid UTF-8.
    raw = draw(st.integers(0, 3)) == 0
    return json.dumps(request, ensure_ascii=not raw).encode("utf-8", "surrogatepass")


def expected_id(line: bytes) -> int | None:
    """The id a response to ``line`` must carry (the server's rules, restated)."""
    if len(line) > control.MAX_LINE:
        return None
    try:
        value = json.loads(line.decode("utf-8"), parse_constant=_refuse)
    except (UnicodeDecodeError, ValueError, RecursionError):
        return None
    if isinstance(value, dict) and type(value.get("id")) is int:
        return int(value["id"])
    return None


def _refuse(name: str) -> Any:
    raise ValueError(name)


def check_response(line: bytes, raw: bytes) -> dict[str, Any]:
    """One response line against the protocol's rules."""
    response = json.loads(raw.decode("utf-8"))
    assert isinstance(response, dict), response
    assert set(response) in ({"id", "result"}, {"id", "error"}), response
    assert response["id"] == expected_id(line), (line[:200], response)
    if "error" in response:
        error = response["error"]
        code = error["code"]
        assert isinstance(error["message"], str)
        assert error["message"]
        assert code != control.InternalError.code, error
        if code != "os":
            assert not getattr(control.error_class(code), "_remote", False), f"unknown code {code}"
    return response


class Connection:
    def __init__(self, stream: trio.SocketStream) -> None:
        self.stream = stream
        self.buffer = bytearray()

    async def send_line(self, line: bytes, cuts: list[int]) -> None:
        data = line + b"\n"
        bounds = sorted({0, len(data), *(c % len(data) for c in cuts)})
        for start, end in itertools.pairwise(bounds):
            await self.stream.send_all(data[start:end])
            await trio.lowlevel.checkpoint()

    async def read_line(self) -> bytes:
        while b"\n" not in self.buffer:
            chunk = await self.stream.receive_some(65536)
            assert chunk, "the server closed the connection instead of answering"
            self.buffer += chunk
        line, _, rest = bytes(self.buffer).partition(b"\n")
        self.buffer = bytearray(rest)
        return line


async def session(home: Path, lines: list[tuple[bytes, list[int]]]) -> list[str]:
    outcomes: list[str] = []
    async with open_node(home) as node, trio.open_nursery() as nursery:
        path = await nursery.start(control.serve_control, node, None, home)
        conn = Connection(await trio.open_unix_socket(str(path)))
        for line, cuts in lines:
            before = snapshot(home)
            await conn.send_line(line, cuts)
            response = check_response(line, await conn.read_line())
            if "error" in response:
                assert snapshot(home) == before, f"{line[:200]!r} was refused but changed the home"
                outcomes.append(f"{response['error']['code']}: {response['error']['message'][:50]}")
                continue
            outcomes.append("ok")
            if response["result"] == {"subscribed": True}:
                await conn.stream.aclose()  # an event stream now: start a new connection
                conn = Connection(await trio.open_unix_socket(str(path)))
        # A last line left without its newline is never answered; the server closes cleanly.
        await conn.stream.send_all(b'{"id": 9, "method": "whoami"')
        await conn.stream.send_eof()
        assert await conn.stream.receive_some(65536) == b""
        await conn.stream.aclose()
        nursery.cancel_scope.cancel()
    return outcomes


def make_sandbox(root: Path, bad_export: bytes) -> Path:
    sandbox = root / "sandbox"
    (sandbox / "dir").mkdir(parents=True)
    write_export(sandbox / "good.export", [m.to_bytes() for m in seeds.messages()])
    (sandbox / "bad.export").write_bytes(bad_export)
    return sandbox


@budget(40)
@given(data=st.data())
def test_any_line_gets_one_clean_answer(
    tmp_path: Path, template: Path, known: dict[str, list[str]], data: st.DataObject
) -> None:
    example = Path(tempfile.mkdtemp(dir=tmp_path))
    sandbox = make_sandbox(example, data.draw(mutated(seeds.export_files()), label="bad export"))
    home = copy_home(template, example)
    lines = data.draw(
        st.lists(
            st.tuples(request_lines(known, sandbox), st.lists(st.integers(0, 10**6), max_size=3)),
            min_size=1,
            max_size=5,
        ),
        label="lines",
    )
    with errors_logged() as errors:
        outcomes = trio.run(bounded_session, home, lines)
    assert not errors, [r.getMessage() for r in errors]
    for outcome in outcomes:
        event(outcome)


async def bounded_session(home: Path, lines: list[tuple[bytes, list[int]]]) -> list[str]:
    with trio.fail_after(TIMEOUT):
        return await session(home, lines)


@pytest.mark.parametrize(("method", "code"), [("import", "store.bad_import"), ("export", "os")])
def test_a_path_holding_a_nul_is_refused_cleanly(
    tmp_path: Path, template: Path, method: str, code: str
) -> None:
    """Found by the fuzzer: a NUL in a path made the OS layer raise ValueError, which the
    node answered as ``control.internal`` (a bug, with a traceback in its log)."""
    home = copy_home(template, tmp_path)
    line = json.dumps({"id": 7, "method": method, "params": {"path": f"{tmp_path}/a\x00b"}})
    with errors_logged() as errors:
        outcomes = trio.run(bounded_session, home, [(line.encode(), [])])
    [outcome] = outcomes
    assert outcome.startswith(f"{code}: "), outcome
    assert not errors
