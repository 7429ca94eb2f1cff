"""Channel chat filters: blocked terms with Unicode and look-alike folding, a
default profanity list, link blocking, slow mode and followers-only mode. Pure: the send
decision calls `check_content`; times and follow ages are passed in."""

from __future__ import annotations

import re
import unicodedata
from datetime import datetime, timedelta
from functools import lru_cache
from operator import itemgetter

import msgspec

from domain.confusables import CONFUSABLES
from domain.errors import Invalid

MAX_TERMS = 200
MAX_TERM_LENGTH = 50
MAX_SLOW_MODE_S = 3600
MAX_FOLLOW_AGE_S = 90 * 86400

# A short list on purpose: the owner adds their own terms, or turns this off.
DEFAULT_PROFANITY = ("fuck", "motherfucker", "shit", "bullshit", "cunt", "bitch", "asshole",
                     "bastard", "dickhead", "wanker", "twat", "slut", "whore")

# Look-alikes folded to the letter they imitate (after NFKC, which already maps full-width
# and most compatibility forms, and after diacritics are stripped): chosen by hand for
# leetspeak and where Unicode's data names another letter than chat usage means
# (Greek nu as v), over the look-alikes of Unicode's confusables data (UTS #39, generated
# into domain/confusables.py), whose digits fold on to the letters they stand for.
_BY_HAND = {
    "0": "o", "1": "i", "3": "e", "4": "a", "5": "s", "7": "t", "8": "b", "9": "g",
    "@": "a", "$": "s", "!": "i", "|": "i", "€": "e", "£": "l", "+": "t",
    # Cyrillic, Greek and other letters that look Latin (escaped: they look alike here too)
    "\u0430": "a", "\u0435": "e", "\u043e": "o", "\u0440": "p", "\u0441": "c", "\u0443": "y",
    "\u0445": "x", "\u0456": "i", "\u0458": "j", "\u0455": "s", "\u043a": "k", "\u043c": "m",
    "\u0442": "t", "\u0432": "b", "\u043d": "h", "\u0501": "d", "\u03b1": "a", "\u03b2": "b",
    "\u03b5": "e", "\u03b9": "i", "\u03ba": "k", "\u03bd": "v", "\u03bf": "o", "\u03c1": "p",
    "\u03c4": "t", "\u03c5": "u", "\u03c7": "x", "\u0475": "v", "\u0261": "g", "\u0142": "l",
    "\u00f8": "o", "\u00df": "ss",
}
_LOOKALIKE = str.maketrans({
    **{char: _BY_HAND.get(target, target) for char, target in CONFUSABLES.items()},
    **_BY_HAND,
})
# Endings that still name the blocked word ("fucking", "shitty", "frees").
_SUFFIXES = ("", "s", "es", "ed", "er", "ers", "ing", "in", "y", "ty")
_REPEATS = re.compile(r"(.)\1+")
_FIRST = itemgetter(1)  # a match's first group
_SPLIT = re.compile(r"[\W_]+")
_SINGLE = re.compile(r"(?<![^\W_])[^\W_](?![^\W_])")  # a word of one letter
_TRAILING_BANG = re.compile(r"[!|]+(?![\w$@!|])")
_LINK = re.compile(
    r"(?:https?://|www\.|\b[a-z0-9](?:[a-z0-9-]*[a-z0-9])?(?:\.[a-z0-9-]+)*\."
    r"(?:com|net|org|io|gg|tv|ly|me|co|xyz|info|biz|ru|de|uk|app|dev|link|site|live|"
    r"shop|club|online|top|cc|to|be|fm)\b)")
_DOT = re.compile(r"\s*[(\[]\s*dot\s*[)\]]\s*|\s+dot\s+")


def fold(text: str) -> str:
    """NFKC, casefold, strip diacritics and invisible characters, fold look-alikes."""
    if text.isascii():  # the common case: nothing to normalise (checked in C)
        text = text.lower()
    else:
        text = unicodedata.normalize("NFKC", text).casefold()
        text = unicodedata.normalize("NFC", "".join(
            ch for ch in unicodedata.normalize("NFD", text)
            if unicodedata.category(ch) not in ("Mn", "Me", "Cf")))
    # "!" and "|" stand for "i" only inside a word: "b!tch" but not "free!!!".
    text = _TRAILING_BANG.sub(" ", text)
    return text.translate(_LOOKALIKE)


def _collapse(text: str) -> str:
    """Each run of one character as one ("freeee" -> "fre"). Not `sub(r"\\1", ...)`:
    Python's `re` expands a template in Python for every match, where a C callable that
    picks the group does not; and most texts have no run at all."""
    return _REPEATS.sub(_FIRST, text) if _REPEATS.search(text) else text


def words(text: str) -> list[str]:
    """The folded words of a text, repeated letters collapsed ("freeee" -> "fre"); a run of
    single letters is also joined into a word, so `f r e e` and `f.r.e.e` make `fre`."""
    folded = _collapse(fold(text))
    raw = [w for w in _SPLIT.split(folded) if w]
    if _SINGLE.search(folded) is None:  # no one-letter word, so no run to join
        return raw
    out: list[str] = []
    run: list[str] = []
    for w in [*raw, ""]:  # the empty word ends the last run
        if len(w) == 1:
            run.append(w)
            continue
        out.extend(run)
        if len(run) > 1:
            out.append(_collapse("".join(run)))
        run = []
        if w:
            out.append(w)
    return out


# A term list's matchers: one-word forms to their term; (term, leading words, forms of the
# last word) for longer terms; the stems any match needs.
_Multi = tuple[tuple[str, tuple[str, ...], frozenset[str]], ...]
_Matchers = tuple[dict[str, str], _Multi, re.Pattern[bytes]]


@lru_cache(maxsize=256)
def _matchers(terms: tuple[str, ...]) -> _Matchers:
    """Per term list, built once: one-word terms as a lookup from every accepted form to
    the term, longer ones as (term, leading words, accepted forms of the last word), and
    the stems any match needs (see `_may_match`)."""
    single: dict[str, str] = {}
    multi = []
    stems: set[str] = set()
    for term in terms:
        pattern = tuple(words(term))
        if not pattern:  # no word in it ("!!!"): nothing a message could match
            continue
        forms = frozenset(_REPEATS.sub(r"\1", pattern[-1] + s) for s in _SUFFIXES)
        if len(pattern) == 1:
            for form in forms:
                single.setdefault(form, term)
        else:
            multi.append((term, pattern[:-1], forms))
        stems.add(pattern[-1])
    return single, tuple(multi), _stems_pattern(stems)


def _stems_pattern(stems: set[str]) -> re.Pattern[bytes]:
    """Finds any of the ASCII stems in squeezed ASCII text, each letter repeated any number
    of times; a pattern that matches nothing when there is none (a folded ASCII text
    holds only ASCII, so a stem with any other letter never matches it)."""
    branches = sorted(_repeated_letters(stem.encode()) for stem in stems if stem.isascii())
    return re.compile(b"|".join(branches) if branches else rb"(?!)")


def _repeated_letters(stem: bytes) -> bytes:
    """`f+u+c+k` written `ff*uu*cc*k`: the same language, but each branch begins with a
    literal, which lets `re` skip to the places where one of them starts (five times
    faster on ordinary chat)."""
    letters = [re.escape(stem[i:i + 1]) for i in range(len(stem))]
    return b"".join(c + c + b"*" for c in letters[:-1]) + letters[-1]


# The ASCII half of the look-alike folding as a byte table (every ASCII character folds to
# one ASCII character), and the bytes that are separators once folded.
_ASCII_FOLD = bytes(ord(chr(c).translate(_LOOKALIKE)) for c in range(128)) + bytes(
    range(128, 256))
_ASCII_SEPARATORS = bytes(c for c in range(256)
                          if not (c < 128 and chr(_ASCII_FOLD[c]).isalnum()))
_TRAILING_BANG_ASCII = re.compile(rb"[!|]+(?![\w$@!|])")


def _may_match(text: str, stems: re.Pattern[bytes]) -> bool:
    """False when an ASCII text cannot hold any blocked term: most messages, told apart in
    a few passes in C instead of `words`' dozen.

    Every word `words` finds, and every run of single letters it joins, appears whole in
    the text folded, with its separators dropped and its repeated letters collapsed; and
    every accepted form of a term begins with its last word's stem. So a text whose
    squeezed form holds no stem (its letters repeated any number of times) has no match.
    A test checks this against `words` on random texts built to match and nearly match."""
    if not text.isascii():
        return True
    folded = text.encode().lower()
    if b"!" in folded or b"|" in folded:
        folded = _TRAILING_BANG_ASCII.sub(b" ", folded)
    return stems.search(folded.translate(_ASCII_FOLD, _ASCII_SEPARATORS)) is not None


def blocked_term(text: str, terms: tuple[str, ...]) -> str | None:
    """The first term the text contains as whole folded words (with common endings)."""
    if not terms:
        return None
    return _blocked(text, terms, _matchers(terms))


def _blocked(text: str, terms: tuple[str, ...], matchers: _Matchers) -> str | None:
    single, multi, stems = matchers
    if not _may_match(text, stems):
        return None
    return _first_blocked(words(text), terms, single, multi)


def _first_blocked(found: list[str], terms: tuple[str, ...], single: dict[str, str],
                   multi: _Multi) -> str | None:
    hits = [single[w] for w in found if w in single]
    for term, head, forms in multi:
        n = len(head)
        for i in range(n, len(found)):
            if found[i] in forms and tuple(found[i - n:i]) == head:
                hits.append(term)
                break
    if not hits:
        return None
    order = {t: k for k, t in enumerate(terms)}
    return min(hits, key=order.__getitem__)  # the first term of the list, as before


def has_link(text: str) -> bool:
    """A URL or a bare domain name (`example.com`, `www.x`), after NFKC and casefolding."""
    folded = unicodedata.normalize("NFKC", text).casefold()
    if "dot" in folded:  # "example dot com", "example(dot)com"
        folded = _DOT.sub(".", folded)
    return _LINK.search(folded) is not None


class ChatFilters(msgspec.Struct, frozen=True, kw_only=True):
    """A channel's filter settings, as the owner or a moderator last set them."""

    blocked_terms: tuple[str, ...] = ()
    default_profanity: bool = True
    block_links: bool = False
    slow_mode_s: int = 0
    followers_only: bool = False
    follow_min_age_s: int = 0

    def terms(self) -> tuple[str, ...]:
        return self.blocked_terms + (DEFAULT_PROFANITY if self.default_profanity else ())


def clean_filters(filters: ChatFilters) -> ChatFilters:
    """Validated and tidied settings (terms trimmed, deduplicated), or Invalid."""
    terms: list[str] = []
    for term in filters.blocked_terms:
        value = " ".join(term.split())
        if not value or len(value) > MAX_TERM_LENGTH or not words(value):
            raise Invalid(f"each blocked term needs 1-{MAX_TERM_LENGTH} characters with a "
                          "letter or digit", field="blockedTerms")
        if value.casefold() not in (t.casefold() for t in terms):
            terms.append(value)
    if len(terms) > MAX_TERMS:
        raise Invalid(f"at most {MAX_TERMS} blocked terms", field="blockedTerms")
    if not 0 <= filters.slow_mode_s <= MAX_SLOW_MODE_S:
        raise Invalid(f"slowModeSeconds must be 0-{MAX_SLOW_MODE_S}", field="slowModeSeconds")
    if not 0 <= filters.follow_min_age_s <= MAX_FOLLOW_AGE_S:
        raise Invalid(f"followMinAgeSeconds must be 0-{MAX_FOLLOW_AGE_S}",
                      field="followMinAgeSeconds")
    return msgspec.structs.replace(filters, blocked_terms=tuple(terms))


class Filtered(Invalid):
    """A message a channel filter refused; `code` says which filter (the sender sees it)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message, field="content", code=code)


def check_content(content: str, filters: ChatFilters, *, allow_links: bool = False) -> None:
    """Refuses content with a blocked term or, when links are blocked, a link."""
    if filters.block_links and not allow_links and has_link(content):
        raise Filtered("links_blocked", "links are not allowed in this chat")
    terms = filters.terms()
    if terms and _blocked(content, terms, _matchers_of(filters, terms)) is not None:
        raise Filtered("filtered", "your message contains a term this channel blocks")


# The matchers of the filters objects seen last, by identity (a batch checks every message
# against its channel's one object): `_matchers`' cache would hash the whole term list, up
# to 250 terms, for every message. The object itself is kept, so an id is never mistaken.
_BY_FILTERS: dict[int, tuple[ChatFilters, _Matchers]] = {}


def _matchers_of(filters: ChatFilters, terms: tuple[str, ...]) -> _Matchers:
    entry = _BY_FILTERS.get(id(filters))
    if entry is not None and entry[0] is filters:
        return entry[1]
    if len(_BY_FILTERS) >= 64:
        _BY_FILTERS.clear()
    matchers = _matchers(terms)
    _BY_FILTERS[id(filters)] = (filters, matchers)
    return matchers


def check_slow_mode(filters: ChatFilters, last_sent: datetime | None, now: datetime) -> None:
    """One message per `slow_mode_s` seconds per user."""
    if filters.slow_mode_s and last_sent is not None:
        wait = last_sent + timedelta(seconds=filters.slow_mode_s) - now
        if wait.total_seconds() > 0:
            seconds = max(1, round(wait.total_seconds()))
            raise Filtered("slow_mode", f"slow mode is on: wait {seconds} s before your next "
                           "message")


def check_followers_only(filters: ChatFilters, followed_since: datetime | None,
                         now: datetime) -> None:
    """Only followers (for at least `follow_min_age_s`) may chat."""
    if not filters.followers_only:
        return
    if followed_since is None:
        raise Filtered("followers_only", "this chat is for followers only: follow the channel")
    if now - followed_since < timedelta(seconds=filters.follow_min_age_s):
        raise Filtered("followers_only", "this chat is for followers of at least "
                       f"{filters.follow_min_age_s} s")
