"""The moderation rules, pure: every rule, its label, the precedence, and undo.

Items are the ranking pipeline's own candidates, so the judge tested here is exactly the one
the pipeline calls.
"""

from __future__ import annotations

from dataclasses import replace

import pytest

from p2psocial.core.bodies import Kind, ListEntry
from p2psocial.core.ids import AuthorId, MessageId
from p2psocial.core.moderation import (
    MAX_FILTER_CHARS,
    MAX_REGEX_CHARS,
    Filter,
    FilterError,
    FilterKind,
    ListRef,
    ListRefError,
    Policy,
    SubscribedList,
    hidden_note,
    screen,
)
from p2psocial.core.ranking.interface import Candidate, Hidden, Judge
from p2psocial.errors import InvalidIdError
from tests.factories import author_id, message_id

ME, ALICE, BOB, CAROL = (author_id(n) for n in range(1, 5))


def post(
    n: int,
    author: AuthorId,
    text: str | None = "hello",
    *,
    kind: Kind = Kind.POST,
    reposted: Candidate | None = None,
) -> Candidate:
    return Candidate(
        id=message_id(n),
        author=author,
        author_name=None,
        ts=1000 + n,
        kind=kind,
        text=text,
        target=reposted.id if reposted else None,
        reposted=reposted,
    )


def repost(n: int, author: AuthorId, of: Candidate | None) -> Candidate:
    return post(n, author, None, kind=Kind.REPOST, reposted=of)


def spam_list(
    *entries: tuple[AuthorId | MessageId, str], author: AuthorId = CAROL
) -> SubscribedList:
    return SubscribedList(ListRef(author, "spam"), tuple(ListEntry(t, r) for t, r in entries), True)


# --- filters ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("phrase", "text", "caught"),
    [
        ("crypto", "Buy CRYPTO now", True),
        ("crypto", "cryptography is fine", False),  # whole words only
        ("crypto", "#crypto gains", True),  # a tag is a word too
        ("crypto", "(crypto)", True),
        ("hot take", "a  HOT\ntake here", True),  # a phrase: any white space between words
        ("hot take", "hot takes", False),
        ("straße", "STRASSE closed", True),  # full case folding
        ("café", "CAFE\u0301 open", True),  # NFC: a decomposed é is the same letter
        ("c++", "I like C++ a lot", True),
        ("c++", "c+++", True),  # '+' is no word character: the phrase ends there
    ],
)
def test_keyword_filters_match_whole_words_any_case(phrase: str, text: str, caught: bool) -> None:
    rule = Filter.parse(phrase)
    assert rule.kind is FilterKind.KEYWORD
    assert rule.matches(text) is caught


def test_hashtag_filters_match_tags_not_words() -> None:
    rule = Filter.parse("#Crypto")
    assert rule.kind is FilterKind.HASHTAG
    assert rule.label == "filter #Crypto"
    assert rule.matches("gains #CRYPTO")
    assert not rule.matches("crypto without a tag")
    assert not rule.matches("#cryptocurrency")
    assert Filter.parse("#Straße").matches("#STRASSE")


def test_regex_filters_are_compiled_once_and_case_insensitive() -> None:
    rule = Filter.parse(r"cryp+to\d", regex=True)
    assert rule.kind is FilterKind.REGEX
    assert rule.label == r"filter /cryp+to\d/"
    assert rule.matches("CRYPPTO7")
    assert not rule.matches("crypto")
    # Pattern and text are both NFC: an é typed either way matches an é written either way.
    assert Filter.parse("\u00e9$", regex=True).matches("cafe\u0301")
    assert Filter.parse("e\u0301$", regex=True).matches("caf\u00e9")


def test_a_bad_regex_is_one_clear_error() -> None:
    with pytest.raises(FilterError, match=r"bad regex filter '\(unclosed': missing \)"):
        Filter.parse("(unclosed", regex=True)
    with pytest.raises(FilterError, match=f"at most {MAX_REGEX_CHARS} characters"):
        Filter.parse("a" * (MAX_REGEX_CHARS + 1), regex=True)
    Filter.parse("a" * MAX_REGEX_CHARS, regex=True)  # the limit itself is allowed
    with pytest.raises(FilterError, match="cannot be empty"):
        Filter.parse("", regex=True)


@pytest.mark.parametrize("text", ["", "   ", "\n\t"])
def test_a_blank_filter_is_refused(text: str) -> None:
    with pytest.raises(FilterError, match="needs a word"):
        Filter.parse(text)


def test_filter_length_and_hashtag_shape_are_checked() -> None:
    with pytest.raises(FilterError, match=f"at most {MAX_FILTER_CHARS}"):
        Filter.parse("x" * (MAX_FILTER_CHARS + 1))
    with pytest.raises(FilterError, match="is not a hashtag"):
        Filter.parse("#")
    with pytest.raises(FilterError, match="is not a hashtag"):
        Filter.parse("#" + "a" * 65)


def test_filters_compare_by_what_was_typed_not_by_spacing() -> None:
    assert Filter.parse("hot   take") == Filter.parse(" hot take ")
    assert Filter.parse("crypto") != Filter.parse("crypto", regex=True)


# --- lists ---------------------------------------------------------------------------------


def test_list_refs() -> None:
    ref = ListRef.parse(f"{ALICE}/spam.v2")
    assert (ref.author, ref.name) == (ALICE, "spam.v2")
    assert str(ref) == f"{ALICE}/spam.v2"
    assert ref.short == f"{ALICE.short}/spam.v2"
    assert ListRef.split(f"{ALICE.short}/x") == (ALICE.short, "x")
    with pytest.raises(ListRefError, match="AUTHOR/NAME"):
        ListRef.split("spam")
    with pytest.raises(ListRefError, match="bad list name 'Spam'"):
        ListRef.parse(f"{ALICE}/Spam")
    with pytest.raises(InvalidIdError):
        ListRef.parse("p2sa1nope/spam")


# --- the policy ---------------------------------------------------------------------------


def test_an_empty_policy_hides_nothing() -> None:
    policy = Policy(me=ME)
    assert policy.empty
    assert policy.judge(post(1, ALICE, "crypto")) is None


@pytest.mark.parametrize(
    ("policy", "item", "hidden"),
    [
        (Policy(blocked=frozenset({ALICE})), post(1, ALICE), Hidden("block", "blocked")),
        (Policy(muted=frozenset({ALICE})), post(1, ALICE), Hidden("mute", "muted")),
        (
            Policy(lists=(spam_list((ALICE, "sells pills")),)),
            post(1, ALICE),
            Hidden(f"list:{CAROL}/spam", f'list {CAROL.short}/spam: "sells pills"'),
        ),
        (
            Policy(lists=(spam_list((message_id(1), "one bad post")),)),
            post(1, ALICE),
            Hidden(f"list:{CAROL}/spam", f'list {CAROL.short}/spam: "one bad post"'),
        ),
        (
            Policy(hide_reposts=True),
            repost(2, ALICE, post(1, BOB)),
            Hidden("reposts", "repost (reposts hidden)"),
        ),
        (
            Policy(filters=(Filter.parse("crypto"),)),
            post(1, ALICE, "crypto!"),
            Hidden("keyword", 'filter "crypto"'),
        ),
        (
            Policy(filters=(Filter.parse("#crypto"),)),
            post(1, ALICE, "#crypto!"),
            Hidden("hashtag", "filter #crypto"),
        ),
        (
            Policy(filters=(Filter.parse("^buy", regex=True),)),
            post(1, ALICE, "BUY now"),
            Hidden("regex", "filter /^buy/"),
        ),
    ],
)
def test_each_rule_hides_with_its_label(policy: Policy, item: Candidate, hidden: Hidden) -> None:
    assert not policy.empty
    assert policy.judge(item) == hidden
    other = post(50, BOB, "nothing to see")
    assert policy.judge(other) is None


def test_precedence_names_the_strongest_rule() -> None:
    listed = spam_list((message_id(1), "this post"), (ALICE, "this author"))
    full = Policy(
        me=ME,
        blocked=frozenset({ALICE}),
        muted=frozenset({ALICE}),
        filters=(Filter.parse("crypto"),),
        lists=(listed,),
    )
    item = post(1, ALICE, "crypto")
    labels = []
    policy = full
    # Take the strongest rule away, one at a time: the next one names the item.
    for strip in (
        {"blocked": frozenset()},
        {"muted": frozenset()},
        {"lists": (spam_list((ALICE, "this author")),)},
        {"lists": ()},
        {"filters": ()},
    ):
        verdict = policy.judge(item)
        labels.append(None if verdict is None else verdict.label)
        policy = replace(policy, **strip)  # type: ignore[arg-type]
    labels.append(None if policy.judge(item) is None else "?")
    assert labels == [
        "blocked",
        "muted",
        f'list {CAROL.short}/spam: "this post"',
        f'list {CAROL.short}/spam: "this author"',
        'filter "crypto"',
        None,
    ]


def test_lists_apply_in_subscription_order_and_messages_before_authors() -> None:
    first = SubscribedList(ListRef(CAROL, "a"), (ListEntry(ALICE, "first list"),), True)
    second = SubscribedList(ListRef(BOB, "b"), (ListEntry(ALICE, "second list"),), True)
    by_message = SubscribedList(ListRef(BOB, "m"), (ListEntry(message_id(1), "the post"),), True)
    assert Policy(lists=(first, second)).judge(post(1, ALICE)) == Hidden(
        f"list:{CAROL}/a", f'list {CAROL.short}/a: "first list"'
    )
    assert Policy(lists=(second, first)).judge(post(1, ALICE)).label.endswith('"second list"')  # type: ignore[union-attr]
    assert Policy(lists=(first, by_message)).judge(post(1, ALICE)).label.endswith('"the post"')  # type: ignore[union-attr]


def test_filters_apply_in_the_order_added() -> None:
    a, b = Filter.parse("crypto"), Filter.parse("coin")
    item = post(1, ALICE, "crypto coin")
    assert Policy(filters=(a, b)).judge(item) == Hidden("keyword", 'filter "crypto"')
    assert Policy(filters=(b, a)).judge(item) == Hidden("keyword", 'filter "coin"')


def test_my_own_messages_are_never_hidden() -> None:
    policy = Policy(
        me=ME,
        muted=frozenset({ME}),
        blocked=frozenset({ME}),
        filters=(Filter.parse("crypto"),),
        hide_reposts=True,
        lists=(spam_list((ME, "them")),),
    )
    assert policy.judge(post(1, ME, "crypto")) is None
    assert policy.judge(repost(2, ME, post(1, ALICE))) is None


def test_a_repost_of_a_hidden_message_is_hidden_with_the_inner_rule() -> None:
    bad = post(1, ALICE, "crypto")
    policy = Policy(me=ME, blocked=frozenset({BOB}), filters=(Filter.parse("crypto"),))
    assert policy.judge(repost(2, CAROL, bad)) == Hidden(
        "keyword", 'reposts a message: filter "crypto"'
    )
    assert policy.judge(repost(3, CAROL, post(4, BOB))) == Hidden(
        "block", "reposts a message: blocked"
    )
    assert policy.judge(repost(5, CAROL, post(6, ME, "crypto"))) is None  # mine: shown
    assert policy.judge(repost(7, CAROL, None)) is None  # the target is not held


def test_items_without_text_escape_text_filters_only() -> None:
    policy = Policy(muted=frozenset({ALICE}), filters=(Filter.parse("x", regex=True),))
    assert policy.judge(post(1, BOB, None)) is None
    assert policy.judge(post(2, ALICE, None)) == Hidden("mute", "muted")


def test_a_subscribed_list_not_held_yet_hides_nothing_until_it_arrives() -> None:
    waiting = SubscribedList(ListRef(CAROL, "spam"))
    assert not waiting.held
    assert Policy(lists=(waiting,)).empty
    arrived = spam_list((ALICE, "sells pills"))
    assert Policy(lists=(arrived,)).judge(post(1, ALICE)) is not None


def test_the_judge_is_a_ranking_judge() -> None:
    judge: Judge = Policy(muted=frozenset({ALICE})).judge
    assert judge(post(1, ALICE)) == Hidden("mute", "muted")


# --- screening lists of items --------------------------------------------------------------


def test_screen_counts_what_it_hides_and_reveals_it_on_request() -> None:
    items = [post(1, ALICE), post(2, BOB), post(3, ALICE), post(4, CAROL)]
    judge = Policy(muted=frozenset({ALICE})).judge
    hidden = screen(items, judge)
    assert [i.id for i in hidden.items] == [message_id(2), message_id(4)]
    assert hidden.verdicts == (None, None)
    assert (hidden.hidden, hidden.left_out, hidden.revealed) == (2, 2, False)

    shown = screen(items, judge, show_hidden=True)
    assert [i.id for i in shown.items] == [i.id for i in items]  # nothing moves
    assert [v.label if v else None for v in shown.verdicts] == ["muted", None, "muted", None]
    assert (shown.hidden, shown.left_out, shown.revealed) == (2, 0, True)

    stubs = screen(items, judge, keep_place=True)
    assert [i.id for i in stubs.items] == [i.id for i in items]
    assert (stubs.hidden, stubs.left_out, stubs.revealed) == (2, 0, False)
    assert stubs.pairs()[0] == (items[0], Hidden("mute", "muted"))


def test_undo_gives_back_exactly_the_same_items() -> None:
    items = [post(n, a, t) for n, a, t in [(1, ALICE, "a"), (2, BOB, "crypto"), (3, CAROL, "c")]]
    before = screen(items, Policy(me=ME).judge)
    rules = Policy(
        me=ME,
        muted=frozenset({ALICE}),
        filters=(Filter.parse("crypto"),),
        lists=(spam_list((CAROL, "spam")),),
    )
    assert screen(items, rules.judge).items == ()
    undone = replace(rules, muted=frozenset(), filters=(), lists=())
    assert screen(items, undone.judge) == before


def test_the_hidden_note_says_how_many_and_how_to_see_them() -> None:
    assert hidden_note(1) == "1 item hidden by your moderation rules (see them with --show-hidden)"
    assert hidden_note(3).startswith("3 items hidden")


def test_the_filter_index_agrees_with_trying_every_filter_in_order() -> None:
    """The policy finds candidate filters by word and tag; the answer must be exactly the
    first filter, in the owner's order, whose own ``matches`` says yes."""
    filters = (
        Filter.parse("#news"),
        Filter.parse("hot take"),
        Filter.parse("c++"),
        Filter.parse("take"),
        Filter.parse(r"\d{3,}", regex=True),
        Filter.parse("!!!"),
        Filter.parse("NEWS"),
        Filter.parse("straße"),
    )
    texts = [
        "nothing here",
        "a hot take on #news",
        "#NEWS only",
        "news without the tag",
        "take it or leave it",
        "hot\ntake",
        "C++ and 1234",
        "wow!!!",
        "STRASSE 12",
        "takeaway hotness",
        "",
    ]
    policy = Policy(filters=filters)
    for n, text in enumerate(texts):
        expected = next((f for f in filters if f.matches(text)), None)
        verdict = policy.judge(post(n, ALICE, text))
        assert (verdict.label if verdict else None) == (expected.label if expected else None), text
    for order in (filters[::-1], filters[3:] + filters[:3]):
        policy = Policy(filters=order)
        for n, text in enumerate(texts):
            expected = next((f for f in order if f.matches(text)), None)
            verdict = policy.judge(post(n, ALICE, text))
            assert (verdict.label if verdict else None) == (expected.label if expected else None)
