"""Guards against bad input and stale access, without a server: JSON nesting depth, log
redaction in both formats, the account check behind tokens, sign-in throttling, and the
look-alike fold built from Unicode's confusables data."""

from __future__ import annotations

import asyncio
import contextlib
import io
import logging
import subprocess
import sys
import time
from pathlib import Path
from uuid import uuid4

import pytest
import structlog

from domain.chat_filters import blocked_term, fold
from domain.errors import RateLimited, Unauthenticated
from infra.identity.auth import LocalTokens
from infra.identity.authenticators import Account, AccountGuard
from infra.observability.logging import configure_logging
from infra.shared_state.rate_limit import LoginThrottle
from infra.web.json_depth import too_deep

ROOT = Path(__file__).resolve().parents[2]


# -- JSON depth ----------------------------------------------------------------------------

def test_depth_is_counted_outside_strings() -> None:
    assert not too_deep(b"[" * 64 + b"]" * 64)
    assert too_deep(b"[" * 65 + b"]" * 65)
    assert too_deep(b'{"a":' * 65 + b"1" + b"}" * 65)
    assert too_deep("[" * 5000)  # unterminated counts too: the decoder recurses first
    assert not too_deep(b'["' + b"[" * 500 + b'"]')  # brackets inside a string
    assert not too_deep(b'["\\"' + b"[" * 500 + b'"]')  # after an escaped quote, still inside
    assert too_deep(b'["\\\\"' + b",[" * 100 + b"]" * 100 + b"]")  # the string ended there
    assert not too_deep(b'{"a": [1, {"b": "x[y"}]}' * 10_000)  # wide, not deep
    assert too_deep(b"[[[", 2) and not too_deep(b"[[]]", 2)


def test_depth_scan_is_cheap() -> None:
    started = time.perf_counter()
    assert too_deep(b"[" * 1_000_000)
    assert not too_deep(b"[]" * 500_000)
    assert time.perf_counter() - started < 0.5


# -- logs ----------------------------------------------------------------------------------

@contextlib.contextmanager
def captured_logs(json_logs: bool) -> io.StringIO:  # type: ignore[misc]
    buffer = io.StringIO()
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    with contextlib.redirect_stderr(buffer):
        configure_logging(json_logs=json_logs)
    try:
        yield buffer
    finally:
        structlog.reset_defaults()
        root.handlers[:], root.level = handlers, level


@pytest.mark.parametrize("json_logs", [False, True])
def test_a_traceback_never_prints_locals_or_secrets(json_logs: bool) -> None:
    jwt_like = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJlLXNpZ25hdHVyZQ"
    with captured_logs(json_logs) as out:
        def sign_up(body: bytes) -> None:
            password = "hunter2-secret-pw"  # noqa: F841  (a local, as in a handler)
            raise RecursionError("maximum recursion depth exceeded")

        try:
            sign_up(b'{"password": "hunter2-secret-pw"}')
        except RecursionError:
            structlog.get_logger("t").exception("request.failed", path="/api/auth/register")
        structlog.get_logger("t").info(
            "request", password="hunter2-secret-pw", token=jwt_like,
            url=f"/ws/chat?token={jwt_like}", detail="stream key live_" + "k" * 43,
            header=f"Bearer {jwt_like}", data={"streamKey": "x" * 10, "n": 1})
        logging.getLogger("uvicorn.error").error("connect %s", f"?token={jwt_like}")
    text = out.getvalue()
    assert "request.failed" in text and "RecursionError" in text and "sign_up" in text
    for secret in ("hunter2", jwt_like, "live_kkkk", "x" * 10):
        assert secret not in text, text
    assert "[redacted]" in text


# -- the account behind a token ------------------------------------------------------------

def _guard(accounts: dict, ttl_s: float = 60.0) -> tuple[AccountGuard, LocalTokens, list]:
    tokens = LocalTokens("k" * 32, issuer="i", audience="a", ttl_s=600)
    lookups: list = []

    def lookup(user_id):  # type: ignore[no-untyped-def]
        lookups.append(user_id)
        return accounts.get(user_id)

    return AccountGuard(tokens, lookup, ttl_s=ttl_s), tokens, lookups


def test_a_signed_token_needs_an_account_that_exists_and_is_not_deleted() -> None:
    alice, ghost = uuid4(), uuid4()
    accounts = {alice: Account("alice", "Alice", False)}
    guard, tokens, lookups = _guard(accounts)
    token = tokens.issue(alice, "alice", "Alice")
    assert guard.quick(token) is None  # not remembered yet: the caller takes the slow path
    assert guard.authenticate(token).username == "alice"
    assert guard.quick(token) is not None and len(lookups) == 1  # remembered
    with pytest.raises(Unauthenticated, match="does not exist"):
        guard.authenticate(tokens.issue(ghost, "admin", "Admin"))

    accounts[alice] = Account("alice", "Alice", True)  # deleted
    assert guard.authenticate(token).username == "alice"  # still remembered ...
    guard.forget(str(alice))  # ... until the user's event arrives
    with pytest.raises(Unauthenticated, match="deleted"):
        guard.authenticate(token)
    with pytest.raises(Unauthenticated):
        guard.quick(token)  # the refusal is remembered too


def test_the_account_is_read_again_after_its_ttl_and_its_names_win() -> None:
    bob = uuid4()
    accounts = {bob: Account("bob", "Bob", False)}
    guard, tokens, lookups = _guard(accounts, ttl_s=0.05)
    token = tokens.issue(bob, "bob", "Bob")
    guard.authenticate(token)
    accounts[bob] = Account("robert", "Robert", False)
    time.sleep(0.06)
    principal = guard.authenticate(token)
    assert (principal.username, principal.display_name) == ("robert", "Robert")
    assert len(lookups) == 2


# -- sign-in throttling --------------------------------------------------------------------

def test_failed_logins_are_limited_per_account_and_per_address() -> None:
    async def scenario() -> None:
        throttle = LoginThrottle("3 per 1 minute", "5 per 1 minute", None, "t")
        await throttle.check("alice@example.com", "10.0.0.1")
        await throttle.succeeded("alice@example.com", "10.0.0.1")  # alice's own address
        for _ in range(3):
            await throttle.check("alice@example.com", "10.0.0.66")
            await throttle.failed("alice@example.com", "10.0.0.66")
        with pytest.raises(RateLimited) as refused:
            await throttle.check("alice@example.com", "10.0.0.77")  # any new address
        assert refused.value.field == "email" and 50 < refused.value.retry_after_s <= 60
        await throttle.check("alice@example.com", "10.0.0.1")  # alice is not locked out
        for account in ("bob@example.com", "carol@example.com"):
            await throttle.check(account, "10.0.0.66")
            await throttle.failed(account, "10.0.0.66")
        with pytest.raises(RateLimited, match="address"):
            await throttle.check("dave@example.com", "10.0.0.66")  # the address is spent
        await throttle.check("dave@example.com", "10.0.0.2")

    asyncio.run(scenario())


def test_none_turns_sign_in_limits_off() -> None:
    async def scenario() -> None:
        throttle = LoginThrottle("none", "none", None, "t")
        for _ in range(20):
            await throttle.check("a@example.com", "10.0.0.1")
            await throttle.failed("a@example.com", "10.0.0.1")

    asyncio.run(scenario())


# -- look-alikes ---------------------------------------------------------------------------

@pytest.mark.parametrize("text,term", [
    ("\u0585k", "ok"),  # Armenian oh
    ("b\u0585\u057dght", "bought"),  # Armenian oh and seh
    ("\u13daell", "sell"),  # Cherokee capital
    ("\uabaaell", "sell"),  # Cherokee small (casefolds to the capital)
    ("sh\u0131t", "shit"),  # dotless i
    ("fr\u1d0f", "fro"),  # small capital o
    ("\u0192ree", "free"),  # f with hook
    ("g\u0966\u0966d", "good"),  # Devanagari zero, a digit that reads as o
])
def test_unicode_look_alikes_are_folded(text: str, term: str) -> None:
    assert blocked_term(text, (term,)) == term, fold(text)


def test_the_fast_path_and_the_hand_made_choices_stay() -> None:
    assert fold("Free stuff") == "free stuff"  # ASCII: no normalisation at all
    assert fold("\u03bd") == "v"  # Greek nu reads as v in chat, whatever Unicode says
    assert blocked_term("freedom", ("free",)) is None


def test_a_term_with_no_words_leaves_the_others_their_names() -> None:
    # A term of punctuation alone matches nothing, and the terms after it are still
    # reported as themselves (the moderation log names the term that blocked a message).
    terms = ("!!!", "spam", "buy now")
    assert blocked_term("spam here", terms) == "spam"
    assert blocked_term("please buy now", terms) == "buy now"
    assert blocked_term("!!!", terms) is None


def test_the_confusables_module_is_generated_from_the_package() -> None:
    run = subprocess.run([sys.executable, str(ROOT / "scripts" / "gen_confusables.py"),
                          "--check"], capture_output=True, text=True, cwd=ROOT)
    assert run.returncode == 0, run.stderr
