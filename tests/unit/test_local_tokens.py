"""LocalTokens: our own HS256 access tokens, and the cache of tokens already verified."""

from __future__ import annotations

import threading
import time
import types
from collections.abc import Callable
from typing import Any
from uuid import uuid4

import jwt
import pytest

from domain.errors import Unauthenticated
from infra.identity import auth
from infra.identity.auth import LocalTokens

KEY = "test-signing-key-0123456789abcdef0123456789"


def make(**kwargs: Any) -> LocalTokens:
    options: dict[str, Any] = {"issuer": "aethex-test", "audience": "aethex", "ttl_s": 600}
    return LocalTokens(kwargs.pop("key", KEY), **(options | kwargs))


def count_decodes(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Counts jwt.decode calls (the signature check the cache saves)."""
    calls: list[str] = []
    real: Callable[..., Any] = jwt.decode

    def counting(token: str, *args: Any, **kwargs: Any) -> Any:
        calls.append(token)
        return real(token, *args, **kwargs)

    monkeypatch.setattr(auth.jwt, "decode", counting)
    return calls


def test_a_token_round_trips() -> None:
    tokens = make()
    user_id = uuid4()
    principal = tokens.authenticate(tokens.issue(user_id, "alice", "Alice A"))
    assert (principal.user_id, principal.username, principal.display_name) == (
        user_id, "alice", "Alice A")


def test_a_cached_token_is_not_verified_again(monkeypatch: pytest.MonkeyPatch) -> None:
    tokens = make()
    token = tokens.issue(uuid4(), "alice", "Alice")
    decodes = count_decodes(monkeypatch)
    first = tokens.authenticate(token)
    assert decodes == [token]
    for _ in range(5):
        assert tokens.authenticate(token) is first
    assert decodes == [token]  # served from the cache


def test_the_cache_honours_expiry_and_leeway_at_the_boundary(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    tokens = make(leeway_s=30)
    token = tokens.issue(uuid4(), "alice", "Alice")
    exp = jwt.decode(token, options={"verify_signature": False})["exp"]
    decodes = count_decodes(monkeypatch)
    tokens.authenticate(token)
    clock = types.SimpleNamespace(time=lambda: exp + 30 - 0.001)
    monkeypatch.setattr(auth, "time", clock)  # only the cache's clock, not PyJWT's
    tokens.authenticate(token)
    assert len(decodes) == 1  # still inside exp + leeway: a hit
    clock.time = lambda: exp + 30  # PyJWT refuses exp <= now - leeway
    tokens.authenticate(token)  # (PyJWT's real clock still accepts it)
    assert len(decodes) == 2  # the entry was dropped and the token verified again


def test_an_expired_cached_token_is_refused_as_before() -> None:
    tokens = make(ttl_s=1, leeway_s=0)
    token = tokens.issue(uuid4(), "alice", "Alice")
    exp = jwt.decode(token, options={"verify_signature": False})["exp"]
    tokens.authenticate(token)  # cached while valid
    while time.time() < exp + 0.01:
        time.sleep(0.05)
    with pytest.raises(Unauthenticated) as cached:
        tokens.authenticate(token)
    with pytest.raises(Unauthenticated) as fresh:  # what an empty cache says
        make(ttl_s=1, leeway_s=0).authenticate(token)
    assert str(cached.value) == str(fresh.value) == "invalid token: Signature has expired"
    assert token not in tokens._verified
    with pytest.raises(Unauthenticated):  # and again: refusals are never cached as hits
        tokens.authenticate(token)


def test_a_token_signed_with_another_key_is_refused_and_not_cached(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    tokens = make()
    forged = make(key="some-other-key-0123456789abcdef0123456789").issue(
        uuid4(), "mallory", "M")
    decodes = count_decodes(monkeypatch)
    for _ in range(2):
        with pytest.raises(Unauthenticated, match="invalid token"):
            tokens.authenticate(forged)
    assert len(decodes) == 2  # each refusal checked afresh
    assert tokens._verified == {}


def test_a_cached_token_does_not_vouch_for_a_tampered_copy() -> None:
    tokens = make()
    token = tokens.issue(uuid4(), "alice", "Alice")
    tokens.authenticate(token)
    header, payload, signature = token.split(".")
    flipped = "B" if signature[0] == "A" else "A"  # the first character: all six bits count
    tampered = ".".join([header, payload, flipped + signature[1:]])
    with pytest.raises(Unauthenticated):
        tokens.authenticate(tampered)
    with pytest.raises(Unauthenticated):
        tokens.authenticate(token + " ")


def test_the_cache_is_bounded_and_evicts_the_oldest(monkeypatch: pytest.MonkeyPatch) -> None:
    tokens = make(cache_size=3)
    issued = [tokens.issue(uuid4(), f"user{i}", f"User {i}") for i in range(5)]
    decodes = count_decodes(monkeypatch)
    for token in issued:
        tokens.authenticate(token)
    assert list(tokens._verified) == issued[2:]
    tokens.authenticate(issued[4])
    assert len(decodes) == 5  # still cached
    tokens.authenticate(issued[0])  # evicted: verified again, and now the newest
    assert len(decodes) == 6
    assert list(tokens._verified) == [*issued[3:], issued[0]]


def test_a_zero_size_cache_verifies_every_time(monkeypatch: pytest.MonkeyPatch) -> None:
    tokens = make(cache_size=0)
    token = tokens.issue(uuid4(), "alice", "Alice")
    decodes = count_decodes(monkeypatch)
    tokens.authenticate(token)
    tokens.authenticate(token)
    assert len(decodes) == 2 and tokens._verified == {}


def test_the_cache_survives_many_threads() -> None:
    tokens = make(cache_size=16)
    issued = [tokens.issue(uuid4(), f"user{i}", "U") for i in range(64)]
    failures: list[BaseException] = []
    start = threading.Barrier(6)

    def worker(offset: int) -> None:
        start.wait()
        try:
            for round_ in range(5):
                for i in range(len(issued)):
                    token = issued[(i * 7 + offset + round_) % len(issued)]
                    assert tokens.authenticate(token).username.startswith("user")
        except BaseException as e:
            failures.append(e)

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert failures == []
    assert len(tokens._verified) <= 16
