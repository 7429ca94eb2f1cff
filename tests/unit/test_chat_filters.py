"""Channel chat filters: a table of evasions that must be caught, a table of
innocent messages that must pass, links, slow mode and followers-only, all pure."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pytest

from domain.chat_filters import (
    _REPEATS,
    DEFAULT_PROFANITY,
    ChatFilters,
    Filtered,
    _collapse,
    _first_blocked,
    _matchers,
    blocked_term,
    check_content,
    check_followers_only,
    check_slow_mode,
    clean_filters,
    fold,
    has_link,
    words,
)
from domain.errors import Invalid

TERMS = ("free", "buy followers", "scam")
NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)

EVASIONS = [
    ("free", "free"),
    ("FREE stuff", "free"),
    ("fr33", "free"),
    ("fr3e", "free"),
    ("\uff26\uff32\uff25\uff25", "free"),  # full-width FREE
    ("fr\u00e9\u00e9", "free"),  # diacritics
    ("fre\u0301e", "free"),  # a combining accent
    ("fr\u0435\u0435", "free"),  # Cyrillic ie for e
    ("fr\u200bee", "free"),  # a zero-width space inside
    ("f r e e", "free"),
    ("f.r.e.e", "free"),
    ("f-r-3-3 gifts", "free"),
    ("f!! r e e", "free"),  # "!" ends a word here, and is no "i"
    ("frEEEEEE", "free"),
    ("free!!!", "free"),
    ("frees", "free"),
    ("get it for free.", "free"),
    ("BUY   followers now", "buy followers"),
    ("buy f0ll0wers", "buy followers"),
    ("b.u.y followers", "buy followers"),
    ("$c@m", "scam"),
    ("5c4m", "scam"),
    ("\U0001d412\U0001d402\U0001d400\U0001d40c", "scam"),  # mathematical bold SCAM
]

INNOCENT = [
    "freedom",
    "carefree",
    "buy me a coffee",
    "my followers are great",
    "scampi for dinner",
    "hello there",
    "3 cats and 4 dogs",
    "classic assumptions",
]


@pytest.mark.parametrize(("text", "term"), EVASIONS)
def test_evasions_are_caught(text: str, term: str) -> None:
    assert blocked_term(text, TERMS) == term


@pytest.mark.parametrize("text", INNOCENT)
def test_innocent_messages_pass(text: str) -> None:
    assert blocked_term(text, TERMS) is None
    check_content(text, ChatFilters())  # the default profanity list does not object either


def test_fold_normalises_unicode_and_look_alikes() -> None:
    assert fold("\uff26\uff32\uff25\uff25") == "free"
    assert fold("Cr\u00e8me Br\u00fbl\u00e9e") == "creme brulee"
    assert fold("h3ll0") == "hello"


@pytest.mark.parametrize("text", ["what the fuck", "sh1t", "FUUUCK", "fucking hell",
                                  "you b!tch", "a$$hole"])
def test_default_profanity_is_on_until_the_owner_turns_it_off(text: str) -> None:
    with pytest.raises(Filtered) as refused:
        check_content(text, ChatFilters())
    assert refused.value.code == "filtered" and refused.value.field == "content"
    check_content(text, ChatFilters(default_profanity=False))


@pytest.mark.parametrize(("text", "link"), [
    ("see https://example.org/x", True),
    ("go to www.example", True),
    ("example.com", True),
    ("EXAMPLE.COM", True),
    ("\uff45\uff58\uff41\uff4d\uff50\uff4c\uff45\uff0e\uff43\uff4f\uff4d", True),  # full-width
    ("example dot com", True),
    ("example(dot)com", True),
    ("sub.domain.gg/join", True),
    ("e.g. this", False),
    ("3.5 stars", False),
    ("ok...sure", False),
    ("polka dots", False),
])
def test_links(text: str, link: bool) -> None:
    assert has_link(text) is link
    filters = ChatFilters(block_links=True)
    if link:
        with pytest.raises(Filtered) as refused:
            check_content(text, filters)
        assert refused.value.code == "links_blocked"
        check_content(text, filters, allow_links=True)  # the owner and moderators
    else:
        check_content(text, filters)
    check_content(text, ChatFilters())  # links allowed by default


def test_slow_mode() -> None:
    filters = ChatFilters(slow_mode_s=30)
    check_slow_mode(filters, None, NOW)
    check_slow_mode(filters, NOW - timedelta(seconds=30), NOW)
    with pytest.raises(Filtered) as refused:
        check_slow_mode(filters, NOW - timedelta(seconds=10), NOW)
    assert refused.value.code == "slow_mode" and "20 s" in refused.value.message
    check_slow_mode(ChatFilters(), NOW, NOW)  # off


def test_followers_only_with_a_minimum_age() -> None:
    filters = ChatFilters(followers_only=True, follow_min_age_s=600)
    with pytest.raises(Filtered) as refused:
        check_followers_only(filters, None, NOW)
    assert refused.value.code == "followers_only"
    with pytest.raises(Filtered):
        check_followers_only(filters, NOW - timedelta(seconds=599), NOW)
    check_followers_only(filters, NOW - timedelta(seconds=600), NOW)
    check_followers_only(ChatFilters(), None, NOW)  # off


def test_clean_filters() -> None:
    cleaned = clean_filters(ChatFilters(blocked_terms=("  free  ", "FREE", "buy   now")))
    assert cleaned.blocked_terms == ("free", "buy now")
    for bad in (ChatFilters(blocked_terms=("",)), ChatFilters(blocked_terms=("!!!",)),
                ChatFilters(blocked_terms=("x" * 51,)), ChatFilters(slow_mode_s=-1),
                ChatFilters(slow_mode_s=3601), ChatFilters(follow_min_age_s=-5)):
        with pytest.raises(Invalid):
            clean_filters(bad)


def test_collapsing_repeats_is_the_regex_it_replaces() -> None:
    """`_collapse` skips `re`'s template expansion; it must give what
    `_REPEATS.sub(r"\\1", text)` gives, line breaks (which `.` leaves alone) included."""
    rng = random.Random(7)
    alphabet = "aab  f.r e_!|1\u00e9\u03a9\n\n"
    for _ in range(20_000):
        text = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 16)))
        assert _collapse(text) == _REPEATS.sub(r"\1", text), repr(text)


def test_the_ascii_shortcut_refuses_nothing_the_words_would_catch() -> None:
    """`blocked_term` skips `words` for an ASCII text whose squeezed form holds no stem;
    on texts built from the terms, look-alikes, separators and repeats, it must answer
    what the words alone answer, hit or miss."""
    rng = random.Random(11)
    term_lists = [TERMS, DEFAULT_PROFANITY, ("buy cheap followers", "\u0441\u043a\u0430\u043c",
                                             "x", "free", "gg ez")]
    leet = {"a": "4@", "e": "3", "i": "1!|", "o": "0", "s": "5$", "t": "7+", "b": "8",
            "g": "9", "l": "1"}
    noise = ["hello", "there", "fr", "ee", "sc", "am", "u", "ck", "lol", "!!", "a", "b",
             "\u00e9", "42", "_", "shi", "t"]
    hits = misses = 0
    for _ in range(20_000):
        terms = rng.choice(term_lists)
        parts = []
        for _ in range(rng.randint(1, 4)):
            piece = rng.choice([*terms, *noise]) if rng.random() < 0.6 else rng.choice(noise)
            out = []
            for ch in piece:
                if ch in leet and rng.random() < 0.3:
                    ch = rng.choice(leet[ch])
                if rng.random() < 0.2:
                    ch = ch.upper()
                out.append(ch * rng.choice((1, 1, 1, 2, 3)))
                if rng.random() < 0.15:
                    out.append(rng.choice(" .-_!|*"))
            parts.append("".join(out) + rng.choice(("", "s", "ing", "y", "x")))
        text = rng.choice((" ", "", ". ", "!! ", "-")).join(parts)
        single, multi, _ = _matchers(terms)
        expected = _first_blocked(words(text), terms, single, multi)
        assert blocked_term(text, terms) == expected, (text, terms)
        if expected is None:
            misses += 1
        else:
            hits += 1
    assert hits > 2_000 and misses > 2_000  # both sides of the shortcut were exercised
