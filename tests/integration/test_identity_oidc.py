"""External sign-in: tokens from an OIDC issuer (Clerk) verified against a JWKS the
test serves over HTTP, onboarding, and Clerk's Svix-signed user webhooks, on both modes."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from infra.identity import svix
from tests.harness import LiveServer
from tests.integration.client import Api, assert_problem
from tests.integration.identity_support import (
    AUDIENCE,
    ISSUER,
    WEBHOOK_SECRET,
    JwksServer,
    SigningKey,
    jwks,  # noqa: F401  (fixture)
    oidc_settings,
    serve,
)


@pytest.fixture(params=["embedded", "production"])
def oidc_server(request: pytest.FixtureRequest, tmp_path: Path,
                jwks: JwksServer) -> Iterator[LiveServer]:  # noqa: F811
    yield from serve(request, tmp_path, **oidc_settings(jwks))


@pytest.fixture
async def api(oidc_server: LiveServer) -> AsyncIterator[Api]:
    client = Api(oidc_server.url, oidc_server.ws_url)
    yield client
    await client.close()


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def test_external_sign_in_and_onboarding(api: Api, jwks: JwksServer) -> None:  # noqa: F811
    rsa_key, ec_key = SigningKey("RS256", "rsa-1"), SigningKey("ES256", "ec-1")
    jwks.publish(rsa_key, ec_key)
    token = rsa_key.token("user_2RsaPerson", email="Rsa.Person@example.com")

    me = await api.http.get("/api/auth/user", headers=bearer(token))
    assert me.status_code == 200, me.text
    assert me.json()["onboarded"] is False and me.json()["username"] is None
    # Until onboarded, only onboarding and who-am-I are open.
    assert_problem(await api.http.post("/api/channels", json={"slug": "early", "name": "E"},
                                       headers=bearer(token)), 403)
    assert_problem(await api.http.put("/api/auth/profile", json={"bio": "x"},
                                      headers=bearer(token)), 403)
    for body, field in [({"username": "admin"}, "username"), ({"username": "no"}, "username"),
                        ({"username": "fine_name", "bio": "b" * 501}, "bio"),
                        ({"username": "fine_name", "avatar": "ftp://x/y.png"}, "avatar")]:
        assert_problem(await api.http.post("/api/auth/onboard", json=body,
                                           headers=bearer(token)), 422, field)

    r = await api.http.post("/api/auth/onboard", headers=bearer(token), json={
        "username": "Rsa_Person", "displayName": "Rsa Person", "bio": "hello",
        "avatar": "https://img.clerk.com/abc.png"})
    assert r.status_code == 201, r.text
    account = r.json()
    assert account["username"] == "rsa_person" and account["onboarded"] is True
    assert account["email"] == "rsa.person@example.com"
    again = await api.http.post("/api/auth/onboard", json={"username": "other_name"},
                                headers=bearer(token))
    assert_problem(again, 409)
    me = await api.http.get("/api/auth/user", headers=bearer(token))
    assert me.json()["username"] == "rsa_person" and me.json()["id"] == account["id"]
    channel = await api.http.post("/api/channels", json={"slug": "rsa-show", "name": "Show"},
                                  headers=bearer(token))
    assert channel.status_code == 201, channel.text
    public = await api.http.get(f"/api/users/{account['id']}",
                                params={"after": account["position"]})
    assert public.json()["bio"] == "hello"

    # ES256 works too; a taken username is refused case-insensitively.
    ec_token = ec_key.token("user_2EcPerson")
    taken = await api.http.post("/api/auth/onboard", json={"username": "RSA_PERSON"},
                                headers=bearer(ec_token))
    assert_problem(taken, 409, "username")
    ok = await api.http.post("/api/auth/onboard", json={"username": "ec_person"},
                             headers=bearer(ec_token))
    assert ok.status_code == 201, ok.text
    assert ok.json()["email"] is None
    # Local accounts still sign in beside the external issuer, and cannot "onboard".
    local = await api.register("localuser")
    assert_problem(await api.http.post("/api/auth/onboard", json={"username": "x_y_z"},
                                       headers=local["headers"]), 403)
    # Another user's token cannot edit this profile.
    assert_problem(await api.http.put(f"/api/users/{account['id']}", json={"bio": "mine"},
                                      headers=local["headers"]), 403)
    assert_problem(await api.http.put(f"/api/users/{local['id']}", json={"bio": "mine"},
                                      headers=bearer(ec_token)), 403)


def _b64(data: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


async def test_bad_tokens_are_refused(api: Api, jwks: JwksServer) -> None:  # noqa: F811
    key = SigningKey("RS256", "rsa-1")
    jwks.publish(key)
    good = key.token("user_ok")
    assert (await api.http.get("/api/auth/user", headers=bearer(good))).status_code == 200

    now = int(time.time())
    header, _, signature = good.split(".")
    claims = jwt.decode(good, options={"verify_signature": False})
    tampered = ".".join([header, _b64({**claims, "sub": "user_someone_else"}), signature])
    none_token = jwt.encode({**claims}, None, algorithm="none")
    other_issuer = key.token("user_ok", iss="https://evil.example")
    public_pem = key.private.public_key().public_bytes(
        encoding=Encoding.PEM, format=PublicFormat.SubjectPublicKeyInfo)
    # alg confusion: HS256 "signed" with the public key the JWKS publishes.
    hs_header = _b64({"alg": "HS256", "typ": "JWT", "kid": "rsa-1"})
    hs_body = _b64(claims)
    hs_sig = base64.urlsafe_b64encode(hmac.new(
        public_pem, f"{hs_header}.{hs_body}".encode(), hashlib.sha256).digest()
    ).rstrip(b"=").decode()
    stranger = SigningKey("RS256", "rsa-1")  # same kid, a key the issuer never published
    cases = {
        "expired": key.token("user_ok", iat=now - 3600, ttl=60),
        "wrong issuer (signed by the real key)": key.token("user_ok", iss="https://other.example"),
        "unknown issuer": other_issuer,
        "wrong audience": key.token("user_ok", aud="someone-else"),
        "no audience": key.token("user_ok", aud=None),
        "tampered": tampered,
        "alg none": none_token,
        "hs256 with the public key": f"{hs_header}.{hs_body}.{hs_sig}",
        "signed by another key": stranger.token("user_ok"),
        "unknown kid": SigningKey("ES256", "nobody").token("user_ok"),
        "garbage": "not.a.token",
    }
    for name, token in cases.items():
        r = await api.http.get("/api/auth/user", headers=bearer(token))
        assert r.status_code == 401, (name, r.text)
        assert r.headers["content-type"].startswith("application/problem+json")


async def test_keys_rotate_and_refetches_are_rate_limited(api: Api,
                                                          jwks: JwksServer) -> None:  # noqa: F811
    old = SigningKey("RS256", "old")
    jwks.publish(old)
    assert (await api.http.get("/api/auth/user",
                               headers=bearer(old.token("user_rot")))).status_code == 200
    fetched = jwks.hits
    # A burst of tokens with unknown kids refetches at most once per refresh interval (0.5 s).
    tokens = [SigningKey("ES256", f"x{i}").token("user_rot") for i in range(20)]
    started = time.monotonic()
    for token in tokens:
        r = await api.http.get("/api/auth/user", headers=bearer(token))
        assert r.status_code == 401
    allowed = 1 + int((time.monotonic() - started) / 0.5)
    assert jwks.hits - fetched <= allowed < 20
    # The issuer rotates: a token with the new kid is accepted once the cache may refresh
    # (at most one refresh interval after the last fetch), by one more fetch.
    new = SigningKey("ES256", "new")
    jwks.publish(old, new)
    token, published, before = new.token("user_rot"), time.monotonic(), jwks.hits
    while (r := await api.http.get("/api/auth/user", headers=bearer(token))).status_code != 200:
        assert r.status_code == 401, r.text
        assert time.monotonic() - published < 5, "the new key was never fetched"
        await asyncio.sleep(0.05)
    assert jwks.hits - before == 1, "refetched more than once for one new key"
    assert time.monotonic() - published < 0.5 + 2  # one interval, and slack for a slow box


def signed(body: bytes, msg_id: str, *, secret: str = WEBHOOK_SECRET,
           timestamp: int | None = None, extra: str = "") -> dict[str, str]:
    stamp = int(time.time()) if timestamp is None else timestamp
    signature = svix.sign(secret, msg_id, stamp, body)
    return {"svix-id": msg_id, "svix-timestamp": str(stamp),
            "svix-signature": f"{extra} {signature}".strip(),
            "content-type": "application/json"}


def clerk_user(event: str, user_id: str, **data: Any) -> bytes:
    return json.dumps({"type": event, "object": "event",
                       "data": {"id": user_id, "object": "user", **data}}).encode()


async def post_hook(http: httpx.AsyncClient, body: bytes, headers: dict[str, str]
                    ) -> httpx.Response:
    return await http.post("/webhooks/clerk", content=body, headers=headers)


async def test_clerk_webhooks_sync_users_once(api: Api, jwks: JwksServer) -> None:  # noqa: F811
    key = SigningKey("RS256", "rsa-1")
    jwks.publish(key)
    created = clerk_user(
        "user.created", "user_2Hooked", username="hooked", first_name="Hoo", last_name="Ked",
        image_url="https://img.clerk.com/hooked.png", primary_email_address_id="e1",
        email_addresses=[{"id": "e0", "email_address": "old@example.com"},
                         {"id": "e1", "email_address": "Hooked@Example.com"}])

    r = await post_hook(api.http, created, signed(created, "msg_1"))
    assert r.status_code == 200, r.text
    assert r.json()["duplicate"] is False
    again = await post_hook(api.http, created, signed(created, "msg_1"))
    assert again.status_code == 200 and again.json()["duplicate"] is True

    token = key.token("user_2Hooked")
    me = (await api.http.get("/api/auth/user", headers=bearer(token))).json()
    assert me["onboarded"] is False and me["username"] == "hooked"
    assert me["email"] == "hooked@example.com" and me["displayName"] == "Hoo Ked"
    assert me["avatar"] == "https://img.clerk.com/hooked.png"
    onboard = await api.http.post("/api/auth/onboard", json={"username": "hooked_up"},
                                  headers=bearer(token))
    assert onboard.status_code == 201, onboard.text
    assert onboard.json()["id"] == me["id"]

    updated = clerk_user("user.updated", "user_2Hooked", primary_email_address_id="e2",
                         email_addresses=[{"id": "e2", "email_address": "new@example.com"}],
                         first_name="Hooked", last_name="Person")
    r = await post_hook(api.http, updated, signed(updated, "msg_2", extra="v1,bm9wZQ=="))
    assert r.status_code == 200, r.text
    me = (await api.http.get("/api/auth/user", headers=bearer(token))).json()
    assert me["email"] == "new@example.com" and me["displayName"] == "Hooked Person"
    assert me["username"] == "hooked_up"

    # Refused: bad signature, wrong secret, stale or future timestamp, missing headers.
    forged = signed(updated, "msg_3")
    forged["svix-signature"] = "v1," + base64.b64encode(b"x" * 32).decode()
    wrong_secret = "whsec_" + base64.b64encode(b"k" * 24).decode()
    for headers in (forged,
                    signed(updated, "msg_3", secret=wrong_secret),
                    # A minute past the tolerance either way: a second past it would
                    # pass once the clock's second turned between signing and checking.
                    signed(updated, "msg_3", timestamp=int(time.time()) - svix.TOLERANCE_S - 60),
                    signed(updated, "msg_3", timestamp=int(time.time()) + svix.TOLERANCE_S + 60),
                    {"content-type": "application/json"}):
        assert_problem(await post_hook(api.http, updated, headers), 401)
    body = signed(updated, "msg_3")
    assert_problem(await post_hook(api.http, updated + b" ", body), 401)  # body changed
    broken = b'{"type": "user.created", "data": {}}'
    assert_problem(await post_hook(api.http, broken, signed(broken, "msg_4")), 422, "data.id")
    other = b'{"type": "session.created", "data": {"id": "sess_1"}}'
    r = await post_hook(api.http, other, signed(other, "msg_5"))
    assert r.status_code == 200 and r.json()["handled"] is False

    deleted = clerk_user("user.deleted", "user_2Hooked", deleted=True)
    r = await post_hook(api.http, deleted, signed(deleted, "msg_6"))
    assert r.status_code == 200, r.text
    assert_problem(await api.http.get("/api/auth/user", headers=bearer(token)), 401)
    assert_problem(await api.http.get(f"/api/users/{me['id']}",
                                      params={"after": r.json()["position"]}), 404)
    # The deleted account's username is free again.
    newcomer = await api.http.post("/api/auth/onboard", json={"username": "hooked_up"},
                                   headers=bearer(key.token("user_2Newcomer")))
    assert newcomer.status_code == 201, newcomer.text


def test_issuer_settings_are_checked(tmp_path: Path) -> None:
    from entrypoints.bootstrap import Services
    from infra.settings import SettingsError
    from tests.harness import embedded_settings

    with pytest.raises(SettingsError):
        Services(embedded_settings(tmp_path, oidc_issuer=ISSUER, oidc_audience=AUDIENCE))
