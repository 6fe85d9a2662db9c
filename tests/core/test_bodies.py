"""Body schemas: every kind's fields, types, limits and text rules."""

from __future__ import annotations

import pytest

from p2psocial.core import canonical
from p2psocial.core.bodies import (
    KINDS,
    Block,
    Body,
    Delete,
    Follow,
    Kind,
    ListEntry,
    ModerationList,
    Post,
    Profile,
    Reaction,
    Reply,
    Repost,
    Unblock,
    Unfollow,
    decode_body,
    encode_body,
)
from p2psocial.core.limits import (
    MAX_BIO_BYTES,
    MAX_BODY_BYTES,
    MAX_EMOJI_BYTES,
    MAX_LIST_ENTRIES,
    MAX_LIST_NAME_BYTES,
    MAX_MENTIONS,
    MAX_NAME_BYTES,
    MAX_REASON_BYTES,
    MAX_TEXT_BYTES,
)
from p2psocial.errors import (
    DecodeError,
    MalformedBodyError,
    NonCanonicalError,
    OversizeError,
    UnknownKindError,
)
from tests.factories import author_id, message_id

ID1, ID2 = message_id(1).raw, message_id(2).raw
A1, A2 = author_id(1).raw, author_id(2).raw

VALID: dict[str, dict[str, canonical.Value]] = {
    "post": {"text": "hi"},
    "reply": {"text": "hi", "root": ID1, "parent": ID2},
    "repost": {"target": ID1},
    "reaction": {"target": ID1, "emoji": "\N{THUMBS UP SIGN}"},
    "follow": {"author": A1},
    "unfollow": {"author": A1},
    "profile": {"name": "Alice", "bio": ""},
    "delete": {"target": ID1},
    "block": {"author": A1},
    "unblock": {"author": A1},
    "list": {"name": "spam", "entries": [{"author": A1, "reason": "sells pills"}]},
}
ID_FIELDS = [
    ("reply", "root"),
    ("reply", "parent"),
    ("repost", "target"),
    ("reaction", "target"),
    ("follow", "author"),
    ("unfollow", "author"),
    ("delete", "target"),
    ("block", "author"),
    ("unblock", "author"),
]
TEXT_FIELDS = [("post", "text"), ("reply", "text"), ("profile", "name"), ("profile", "bio")]
ALL_FIELDS = [(kind, field) for kind, value in VALID.items() for field in value]
MENTION_KINDS = ["post", "reply"]


def decode(kind: str, value: canonical.Value) -> Body:
    return decode_body(kind, canonical.encode(value))


def with_field(kind: str, **fields: canonical.Value) -> dict[str, canonical.Value]:
    return {**VALID[kind], **fields}


# --- every kind -------------------------------------------------------------------------


def test_every_kind_has_a_valid_example() -> None:
    assert set(VALID) == KINDS == {k.value for k in Kind}


@pytest.mark.parametrize("kind", sorted(VALID))
def test_valid_body_decodes_and_encodes_back(kind: str) -> None:
    data = canonical.encode(VALID[kind])
    body = decode_body(kind, data)
    assert body.kind == kind
    assert encode_body(body) == data


@pytest.mark.parametrize(("kind", "field"), ALL_FIELDS)
def test_refuses_a_missing_field(kind: str, field: str) -> None:
    value = dict(VALID[kind])
    del value[field]
    with pytest.raises(MalformedBodyError, match=f"{kind} body lacks '{field}'"):
        decode(kind, value)


@pytest.mark.parametrize("kind", sorted(VALID))
def test_refuses_an_unknown_field(kind: str) -> None:
    with pytest.raises(MalformedBodyError, match=r"unknown field.*'zzz'"):
        decode(kind, with_field(kind, zzz=1))


@pytest.mark.parametrize("kind", sorted(set(VALID) - set(MENTION_KINDS)))
def test_refuses_mentions_on_kinds_without_them(kind: str) -> None:
    with pytest.raises(MalformedBodyError, match=r"unknown field.*'mentions'"):
        decode(kind, with_field(kind, mentions=[A1]))


@pytest.mark.parametrize("kind", sorted(VALID))
@pytest.mark.parametrize("value", [[], "text", b"\xa0", 1, None])
def test_refuses_a_body_that_is_not_a_map(kind: str, value: canonical.Value) -> None:
    with pytest.raises(MalformedBodyError, match="must be a map"):
        decode(kind, value)


@pytest.mark.parametrize(("kind", "field"), ID_FIELDS)
@pytest.mark.parametrize("bad", [b"\x01" * 31, b"\x01" * 33, b"", "p2sm1...", 1, None, [ID1]])
def test_refuses_an_id_field_that_is_not_32_bytes(
    kind: str, field: str, bad: canonical.Value
) -> None:
    with pytest.raises(MalformedBodyError, match=f"{kind}.{field} must be a 32-byte id"):
        decode(kind, with_field(kind, **{field: bad}))


@pytest.mark.parametrize(("kind", "field"), TEXT_FIELDS)
@pytest.mark.parametrize("bad", [b"hi", 1, None, ["hi"], True])
def test_refuses_a_text_field_that_is_not_text(kind: str, field: str, bad: canonical.Value) -> None:
    with pytest.raises(MalformedBodyError, match=f"{kind}.{field} must be text"):
        decode(kind, with_field(kind, **{field: bad}))


# --- text limits: at the limit passes, one byte over fails ------------------------------


@pytest.mark.parametrize(
    ("kind", "field", "limit"),
    [
        ("post", "text", MAX_TEXT_BYTES),
        ("reply", "text", MAX_TEXT_BYTES),
        ("profile", "name", MAX_NAME_BYTES),
        ("profile", "bio", MAX_BIO_BYTES),
    ],
)
def test_text_limit_is_in_utf8_bytes(kind: str, field: str, limit: int) -> None:
    at_limit = "é" * (limit // 2)  # two bytes each
    assert len(at_limit.encode()) == limit
    decode(kind, with_field(kind, **{field: at_limit}))
    with pytest.raises(OversizeError, match=f"{kind}.{field} is {limit + 1} bytes, limit {limit}"):
        decode(kind, with_field(kind, **{field: at_limit + "a"}))
    # One character fewer than the limit in characters, still over it in bytes.
    with pytest.raises(OversizeError):
        decode(kind, with_field(kind, **{field: "é" * (limit // 2 + 1)}))


def test_emoji_limit_is_in_utf8_bytes() -> None:
    at_limit = "\N{GRINNING FACE}" * (MAX_EMOJI_BYTES // 4)  # four bytes each
    assert decode("reaction", with_field("reaction", emoji=at_limit)) == Reaction(
        message_id(1), at_limit
    )
    with pytest.raises(OversizeError, match=f"emoji is 33 bytes, limit {MAX_EMOJI_BYTES}"):
        decode("reaction", with_field("reaction", emoji=at_limit + "a"))


def test_body_size_limit() -> None:
    data = canonical.encode({"text": "a" * (MAX_BODY_BYTES + 1)})
    with pytest.raises(OversizeError, match=f"body is {len(data)} bytes, limit {MAX_BODY_BYTES}"):
        decode_body("post", data)


def test_largest_possible_valid_body_is_within_the_body_limit() -> None:
    mentions: list[canonical.Value] = [author_id(i).raw for i in range(MAX_MENTIONS)]
    value: canonical.Value = {
        "text": "a" * MAX_TEXT_BYTES,
        "root": ID1,
        "parent": ID2,
        "mentions": mentions,
    }
    assert len(canonical.encode(value)) <= MAX_BODY_BYTES
    decode("reply", value)


# --- text content rules -----------------------------------------------------------------

C0_BUT_LF_TAB = [chr(c) for c in range(0x20) if c not in (0x09, 0x0A)]
C1_AND_DEL = [chr(c) for c in range(0x7F, 0xA0)]


@pytest.mark.parametrize(
    ("kind", "field"), [("post", "text"), ("reply", "text"), ("profile", "bio")]
)
@pytest.mark.parametrize("char", C0_BUT_LF_TAB + C1_AND_DEL, ids=lambda c: f"U+{ord(c):04X}")
def test_multiline_text_refuses_control_characters(kind: str, field: str, char: str) -> None:
    with pytest.raises(MalformedBodyError, match=f"{kind}.{field} contains a control character"):
        decode(kind, with_field(kind, **{field: f"a{char}b"}))


@pytest.mark.parametrize(
    ("kind", "field"), [("post", "text"), ("reply", "text"), ("profile", "bio")]
)
def test_multiline_text_allows_line_feed_and_tab(kind: str, field: str) -> None:
    text = "line one\n\tline two"
    body = decode(kind, with_field(kind, **{field: text}))
    assert getattr(body, field) == text


@pytest.mark.parametrize("char", ["\n", "\t", "\r", "\x1b", "\x00", "\x85", "\x7f"])
def test_name_refuses_every_control_character(char: str) -> None:
    with pytest.raises(MalformedBodyError, match=r"profile\.name contains a control character"):
        decode("profile", with_field("profile", name=f"Al{char}ice"))


def test_text_allows_other_unicode() -> None:
    # Not control characters: bidi marks, zero-width joiner, line separator, emoji.
    text = "\u200f\u200d\u2028 \N{GRINNING FACE} 日本語"
    assert decode("post", {"text": text}) == Post(text)


@pytest.mark.parametrize("kind", ["post", "reply"])
@pytest.mark.parametrize("text", ["", " ", "\n\t ", "\u3000", "\u00a0"])
def test_post_and_reply_text_must_not_be_blank(kind: str, text: str) -> None:
    with pytest.raises(MalformedBodyError, match=f"{kind}.text is empty"):
        decode(kind, with_field(kind, text=text))


def test_text_may_have_surrounding_whitespace() -> None:
    assert decode("post", {"text": "  hi\n"}) == Post("  hi\n")


@pytest.mark.parametrize(("name", "bio"), [("", ""), (" ", " "), ("Alice", "")])
def test_profile_name_and_bio_may_be_empty(name: str, bio: str) -> None:
    assert decode("profile", {"name": name, "bio": bio}) == Profile(name, bio)


@pytest.mark.parametrize("emoji", ["", " ", "a b", "\N{THUMBS UP SIGN}\n", "\u00a0", "\u3000"])
def test_emoji_refuses_empty_and_whitespace(emoji: str) -> None:
    with pytest.raises(MalformedBodyError, match=r"reaction\.emoji"):
        decode("reaction", with_field("reaction", emoji=emoji))


@pytest.mark.parametrize("emoji", ["\x1b", "\x00", "a\x7f", "\x9b"])
def test_emoji_refuses_control_characters(emoji: str) -> None:
    with pytest.raises(MalformedBodyError, match="space or control character"):
        decode("reaction", with_field("reaction", emoji=emoji))


@pytest.mark.parametrize("bad", [1, b"+1", None, ["+1"]])
def test_emoji_must_be_text(bad: canonical.Value) -> None:
    with pytest.raises(MalformedBodyError, match="must be non-empty text"):
        decode("reaction", with_field("reaction", emoji=bad))


@pytest.mark.parametrize(
    "emoji", ["+1", "\N{THUMBS UP SIGN}\N{EMOJI MODIFIER FITZPATRICK TYPE-4}", "ok", "🇫🇷"]
)
def test_emoji_accepts_short_non_space_text(emoji: str) -> None:
    assert decode("reaction", with_field("reaction", emoji=emoji)) == Reaction(message_id(1), emoji)


# --- mentions ---------------------------------------------------------------------------


@pytest.mark.parametrize("kind", MENTION_KINDS)
def test_mentions_are_optional(kind: str) -> None:
    body = decode(kind, VALID[kind])
    assert body.mentions == ()  # type: ignore[union-attr]


@pytest.mark.parametrize("kind", MENTION_KINDS)
def test_mentions_keep_their_order(kind: str) -> None:
    body = decode(kind, with_field(kind, mentions=[A2, A1]))
    assert body.mentions == (author_id(2), author_id(1))  # type: ignore[union-attr]


@pytest.mark.parametrize("kind", MENTION_KINDS)
def test_refuses_an_empty_mentions_list(kind: str) -> None:
    # Empty lists are omitted instead, so that each body has exactly one encoding.
    with pytest.raises(MalformedBodyError, match="mentions must be a non-empty list"):
        decode(kind, with_field(kind, mentions=[]))


@pytest.mark.parametrize("kind", MENTION_KINDS)
@pytest.mark.parametrize("bad", [A1, "p2sa1...", None, 1, {"a": A1}])
def test_refuses_mentions_that_are_not_a_list(kind: str, bad: canonical.Value) -> None:
    with pytest.raises(MalformedBodyError, match="mentions must be a non-empty list"):
        decode(kind, with_field(kind, mentions=bad))


@pytest.mark.parametrize("kind", MENTION_KINDS)
@pytest.mark.parametrize("bad", [b"\x01" * 31, "p2sa1...", None, [A1]])
def test_refuses_a_mention_that_is_not_an_author_id(kind: str, bad: canonical.Value) -> None:
    with pytest.raises(MalformedBodyError, match="mentions must be a 32-byte id"):
        decode(kind, with_field(kind, mentions=[A1, bad]))


@pytest.mark.parametrize("kind", MENTION_KINDS)
def test_refuses_a_duplicate_mention(kind: str) -> None:
    with pytest.raises(MalformedBodyError, match="lists an author twice"):
        decode(kind, with_field(kind, mentions=[A1, A2, A1]))


@pytest.mark.parametrize("kind", MENTION_KINDS)
def test_mentions_limit(kind: str) -> None:
    authors: list[canonical.Value] = [author_id(i).raw for i in range(MAX_MENTIONS + 1)]
    body = decode(kind, with_field(kind, mentions=authors[:MAX_MENTIONS]))
    assert len(body.mentions) == MAX_MENTIONS  # type: ignore[union-attr]
    with pytest.raises(OversizeError, match=f"mentions has 17, limit {MAX_MENTIONS}"):
        decode(kind, with_field(kind, mentions=authors))


# --- decode_body's own checks -----------------------------------------------------------


@pytest.mark.parametrize("kind", ["", "poll", "POST", "post\x00", "x" * 100])
def test_refuses_an_unknown_kind(kind: str) -> None:
    with pytest.raises(UnknownKindError, match="unknown kind"):
        decode_body(kind, canonical.encode({"text": "hi"}))


def test_refuses_a_non_canonical_body() -> None:
    with pytest.raises(NonCanonicalError):
        decode_body("post", bytes.fromhex("a1780474657874626869"))  # long key length


def test_refuses_malformed_cbor() -> None:
    with pytest.raises(DecodeError):
        decode_body("post", b"\xa1\x64text")


def test_unknown_field_is_reported_after_the_known_ones() -> None:
    # A body with a bad known field and an unknown one names the known field.
    with pytest.raises(MalformedBodyError, match=r"post\.text is empty"):
        decode("post", {"text": "", "zzz": 1})


# --- encode_body ------------------------------------------------------------------------


def test_encode_body_exact_bytes() -> None:
    assert encode_body(Post("hi")).hex() == "a16474657874626869"
    assert encode_body(Profile("A")).hex() == "a26362696f60646e616d656141"


def test_encode_body_omits_empty_mentions() -> None:
    assert canonical.decode(encode_body(Post("hi"))) == {"text": "hi"}
    reply = Reply("hi", message_id(1), message_id(2))
    assert set(canonical.decode(encode_body(reply))) == {"text", "root", "parent"}  # type: ignore[arg-type]


def test_encode_body_writes_mentions_as_raw_keys() -> None:
    body = Post("hi", (author_id(2), author_id(1)))
    assert canonical.decode(encode_body(body)) == {"text": "hi", "mentions": [A2, A1]}


def test_encode_body_always_writes_bio() -> None:
    assert canonical.decode(encode_body(Profile("Alice"))) == {"name": "Alice", "bio": ""}


@pytest.mark.parametrize(
    ("body", "error"),
    [
        (Post(""), MalformedBodyError),
        (Post("a" * (MAX_TEXT_BYTES + 1)), OversizeError),
        (Post("hi", (author_id(1), author_id(1))), MalformedBodyError),
        (Reply("\x1b[2J", message_id(1), message_id(2)), MalformedBodyError),
        (Reaction(message_id(1), "a b"), MalformedBodyError),
        (Profile("a\nb"), MalformedBodyError),
        (Profile("n" * (MAX_NAME_BYTES + 1)), OversizeError),
    ],
)
def test_encode_body_refuses_what_decode_would_refuse(body: Body, error: type[Exception]) -> None:
    with pytest.raises(error):
        encode_body(body)


@pytest.mark.parametrize(
    "body",
    [
        Post("hello", (author_id(1),)),
        Reply("hi", message_id(1), message_id(2), (author_id(3), author_id(4))),
        Repost(message_id(1)),
        Reaction(message_id(1), "+1"),
        Follow(author_id(1)),
        Unfollow(author_id(1)),
        Profile("Alice", "likes\ttabs\nand lines"),
        Delete(message_id(1)),
    ],
    ids=lambda b: type(b).__name__,
)
def test_encode_decode_round_trip(body: Body) -> None:
    assert decode_body(body.kind, encode_body(body)) == body


# --- profile: the automated flag --------------------------------------------------------


def test_profile_automated_flag_is_true_or_omitted() -> None:
    assert decode("profile", VALID["profile"]) == Profile("Alice", "", automated=False)
    assert decode("profile", with_field("profile", automated=True)) == Profile(
        "Alice", "", automated=True
    )
    # One encoding per value: false is written by leaving the key out.
    assert b"automated" not in encode_body(Profile("Alice"))


@pytest.mark.parametrize("bad", [False, 1, "yes", None])
def test_profile_automated_refuses_anything_but_true(bad: canonical.Value) -> None:
    with pytest.raises(MalformedBodyError, match=r"profile\.automated must be true or omitted"):
        decode("profile", with_field("profile", automated=bad))


# --- block, unblock ---------------------------------------------------------------------


def test_block_and_unblock_round_trip() -> None:
    for body in (Block(author_id(3)), Unblock(author_id(3))):
        assert decode_body(body.kind, encode_body(body)) == body


# --- moderation lists -------------------------------------------------------------------


def list_body(*entries: dict[str, canonical.Value], name: str = "spam") -> bytes:
    return canonical.encode({"name": name, "entries": list(entries)})


def test_list_holds_authors_and_messages_in_order() -> None:
    body = decode_body(
        "list",
        list_body({"author": A1, "reason": "bot farm"}, {"message": ID1, "reason": "doxxing"}),
    )
    assert body == ModerationList(
        "spam", (ListEntry(author_id(1), "bot farm"), ListEntry(message_id(1), "doxxing"))
    )
    assert encode_body(body) == list_body(
        {"author": A1, "reason": "bot farm"}, {"message": ID1, "reason": "doxxing"}
    )


def test_an_empty_list_clears_it() -> None:
    assert decode_body("list", list_body()) == ModerationList("spam", ())


@pytest.mark.parametrize("name", ["a", "spam-2026", "x.y_z", "9" * MAX_LIST_NAME_BYTES])
def test_list_name_accepts_identifiers(name: str) -> None:
    assert decode_body("list", list_body(name=name)).name == name  # type: ignore[union-attr]


@pytest.mark.parametrize("name", ["", "Spam", "-x", "a b", "a/b", "é", "a\n"])
def test_list_name_refuses_what_a_command_line_cannot_carry(name: str) -> None:
    with pytest.raises(MalformedBodyError, match=r"list\.name must be lower-case"):
        decode_body("list", list_body(name=name))


def test_list_name_limit() -> None:
    with pytest.raises(OversizeError, match=r"list\.name"):
        decode_body("list", list_body(name="a" * (MAX_LIST_NAME_BYTES + 1)))


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ({"reason": "x"}, "exactly one of 'author' and 'message'"),
        ({"author": A1, "message": ID1, "reason": "x"}, "exactly one of 'author' and 'message'"),
        ({"author": A1}, "lacks 'reason'"),
        ({"author": A1, "reason": ""}, "reason is empty"),
        ({"author": A1, "reason": "a\nb"}, "control character"),
        ({"author": A1, "reason": "x", "extra": 1}, "unknown field"),
        ({"author": b"\x01", "reason": "x"}, "must be a 32-byte id"),
    ],
)
def test_list_refuses_a_bad_entry(entry: dict[str, canonical.Value], message: str) -> None:
    with pytest.raises(MalformedBodyError, match=message):
        decode_body("list", list_body(entry))


def test_list_refuses_entries_that_are_not_maps() -> None:
    with pytest.raises(MalformedBodyError, match="entries must be maps"):
        decode_body("list", canonical.encode({"name": "x", "entries": [A1]}))
    with pytest.raises(MalformedBodyError, match="entries must be a list"):
        decode_body("list", canonical.encode({"name": "x", "entries": A1}))


def test_list_refuses_a_target_twice() -> None:
    entry = {"author": A1, "reason": "x"}
    with pytest.raises(MalformedBodyError, match="lists a target twice"):
        decode_body("list", list_body(entry, {**entry, "reason": "y"}))


def test_list_reason_limit() -> None:
    ok = {"author": A1, "reason": "r" * MAX_REASON_BYTES}
    assert decode_body("list", list_body(ok))
    with pytest.raises(OversizeError, match="reason"):
        decode_body("list", list_body({**ok, "reason": "r" * (MAX_REASON_BYTES + 1)}))


def test_list_entry_limit() -> None:
    entries = [{"author": author_id(i).raw, "reason": "s"} for i in range(MAX_LIST_ENTRIES + 1)]
    with pytest.raises(OversizeError, match="entries has"):
        decode_body("list", list_body(*entries))
