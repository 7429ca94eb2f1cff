"""Svix signatures, image checks and the JWKS cache, without a server: real
HMACs, real Pillow images, keys and tokens the test makes."""

from __future__ import annotations

import base64
import io
import struct
import time

import pytest
from PIL import Image

from domain.errors import Invalid, TooLarge, Unauthenticated
from infra.identity import svix
from infra.identity.oidc import IssuerChain, JwksCache, OidcVerifier
from infra.storage.images import check_image
from infra.storage.objects import DiskStorage
from tests.integration.identity_support import JwksServer, SigningKey

SECRET = "whsec_" + base64.b64encode(b"0123456789abcdef0123456789abcdef").decode()
BODY = b'{"type":"user.created","data":{"id":"user_1"}}'


def headers(msg_id: str = "msg_1", stamp: int | None = None, sig: str | None = None
            ) -> dict[str, str]:
    stamp = int(time.time()) if stamp is None else stamp
    return {"svix-id": msg_id, "svix-timestamp": str(stamp),
            "svix-signature": sig or svix.sign(SECRET, msg_id, stamp, BODY)}


def test_svix_signature_matches_the_documented_scheme() -> None:
    import hashlib
    import hmac

    key = base64.b64decode(SECRET.removeprefix("whsec_"))
    expected = base64.b64encode(hmac.new(key, b"msg_1.1700000000." + BODY,
                                         hashlib.sha256).digest()).decode()
    assert svix.sign(SECRET, "msg_1", 1_700_000_000, BODY) == "v1," + expected
    h = headers(stamp=1_700_000_000)
    assert svix.verify(SECRET, h, BODY, now=1_700_000_100) == "msg_1"
    several = {**h, "svix-signature": "v1,AAAA v2,whatever " + h["svix-signature"]}
    assert svix.verify(SECRET, several, BODY, now=1_700_000_000) == "msg_1"


@pytest.mark.parametrize("change", ["body", "id", "stale", "future", "secret", "missing",
                                    "v2-only"])
def test_svix_refusals(change: str) -> None:
    h, body, now = headers(stamp=1_700_000_000), BODY, 1_700_000_000
    if change == "body":
        body = BODY + b" "
    elif change == "id":
        h["svix-id"] = "msg_2"
    elif change == "stale":
        now += 301
    elif change == "future":
        now -= 301
    elif change == "secret":
        h["svix-signature"] = svix.sign("whsec_" + base64.b64encode(b"x" * 32).decode(),
                                        "msg_1", 1_700_000_000, BODY)
    elif change == "missing":
        del h["svix-signature"]
    elif change == "v2-only":
        h["svix-signature"] = h["svix-signature"].replace("v1,", "v2,")
    with pytest.raises(Unauthenticated):
        svix.verify(SECRET, h, body, now=now)


def _image(fmt: str, size: tuple[int, int] = (40, 30), mode: str = "RGB", **save: object
           ) -> bytes:
    out = io.BytesIO()
    Image.new(mode, size, 128).save(out, format=fmt, **save)
    return out.getvalue()


def test_images_are_reencoded_without_metadata() -> None:
    exif = Image.Exif()
    exif[0x010F] = "Camera Maker"
    exif[0x0112] = 6  # orientation: rotate, so the pixels are turned before EXIF goes
    source = _image("JPEG", (40, 30), exif=exif.tobytes())
    checked = check_image(source, max_bytes=1 << 20, max_pixels=10_000)
    assert (checked.width, checked.height) == (30, 40)
    assert b"Camera Maker" not in checked.data
    assert checked.key == f"images/{checked.sha256}.jpg"
    png = _image("PNG", mode="RGBA")
    text_png = io.BytesIO()
    from PIL import PngImagePlugin

    info = PngImagePlugin.PngInfo()
    info.add_text("Comment", "secret location")
    Image.open(io.BytesIO(png)).save(text_png, format="PNG", pnginfo=info)
    out = check_image(text_png.getvalue(), max_bytes=1 << 20, max_pixels=10_000)
    assert b"secret location" not in out.data and out.content_type == "image/png"


def test_image_limits_and_shapes() -> None:
    with pytest.raises(TooLarge):
        check_image(_image("PNG", (200, 200)), max_bytes=1 << 20, max_pixels=39_999)
    with pytest.raises(TooLarge):
        check_image(_image("PNG"), max_bytes=10, max_pixels=10_000)
    webp = _image("WEBP")
    with pytest.raises(Invalid):  # the RIFF size says where it ends; more is smuggled
        check_image(webp + b"extra", max_bytes=1 << 20, max_pixels=10_000)
    riff = bytearray(webp)
    struct.pack_into("<I", riff, 4, len(webp) + 100)  # claims more than there is
    with pytest.raises(Invalid):
        check_image(bytes(riff), max_bytes=1 << 20, max_pixels=10_000)
    with pytest.raises(Invalid):
        check_image(_image("GIF") + b"GIF89a", max_bytes=1 << 20, max_pixels=10_000)
    with pytest.raises(Invalid):
        check_image(_image("TIFF"), max_bytes=1 << 20, max_pixels=10_000)


def test_disk_storage_keys_are_content_addresses_only(tmp_path: object) -> None:
    from pathlib import Path

    storage = DiskStorage(Path(str(tmp_path)))
    for key in ("../x.png", "images/../../etc/passwd", "images/abc.png", "pending/x"):
        with pytest.raises(Invalid):
            storage.put(key, b"x", "image/png")
    key = "images/" + "a" * 64 + ".png"
    assert storage.put(key, b"x", "image/png") == f"/uploads/{key}"
    assert storage.exists(key)


def test_jwks_cache_refetches_unknown_kids_at_most_once_per_interval() -> None:
    one, two = SigningKey("RS256", "one"), SigningKey("ES256", "two")
    with JwksServer() as server:
        server.publish(one)
        cache = JwksCache(server.url, min_refresh_s=1.0)
        verifier = OidcVerifier("https://iss.example", "aud", cache, leeway_s=0)
        claims = verifier.verify(one.token("s1", iss="https://iss.example", aud="aud"))
        assert claims["sub"] == "s1" and server.hits == 1
        verifier.verify(one.token("s2", iss="https://iss.example", aud="aud"))
        assert server.hits == 1  # cached
        server.publish(one, two)
        token = two.token("s3", iss="https://iss.example", aud="aud")
        with pytest.raises(Unauthenticated):  # too soon after the last fetch
            verifier.verify(token)
        assert server.hits == 1
        time.sleep(1.05)
        verifier.verify(token)  # unknown kid: refetched once the interval allows
        assert server.hits == 2
        for _ in range(5):
            with pytest.raises(Unauthenticated):
                verifier.verify(SigningKey("ES256", "ghost").token(
                    "s4", iss="https://iss.example", aud="aud"))
        assert server.hits == 2  # within the interval: no more fetches
        time.sleep(1.05)
        with pytest.raises(Unauthenticated):
            verifier.verify(SigningKey("ES256", "ghost").token(
                "s4", iss="https://iss.example", aud="aud"))
        assert server.hits == 3
        # The published key's type decides: an RS256 key never checks an ES256 header.
        mixed = SigningKey("ES256", "one")
        with pytest.raises(Unauthenticated):
            verifier.verify(mixed.token("s5", iss="https://iss.example", aud="aud"))


def test_jwks_cache_backs_off_and_keeps_the_last_keys_while_the_issuer_is_down() -> None:
    key = SigningKey("RS256", "k")
    with JwksServer() as server:
        # No usable key published: a failed fetch, and the next one waits out the interval.
        cache = JwksCache(server.url, min_refresh_s=1.0, max_age_s=0.2)
        verifier = OidcVerifier("https://iss.example", None, cache, leeway_s=0)
        token = key.token("s", iss="https://iss.example", aud=None)
        for _ in range(3):
            with pytest.raises(Unauthenticated, match="could not be fetched"):
                verifier.verify(token)
        assert server.hits == 1
        time.sleep(1.05)
        server.publish(key)
        assert verifier.verify(token)["sub"] == "s" and server.hits == 2
        # The issuer breaks and the set expires: the keys it last published stay in use.
        server.publish()
        time.sleep(0.25)
        for _ in range(3):
            assert verifier.verify(token)["sub"] == "s"
        assert server.hits == 3
    with pytest.raises(ValueError):
        JwksCache("file:///etc/passwd")


def test_issuer_chain_refuses_unknown_and_unsigned_issuers() -> None:
    chain = IssuerChain({})
    with pytest.raises(Unauthenticated):
        chain.authenticate(SigningKey("RS256", "k").token("s", iss="https://x.example"))
    with pytest.raises(Unauthenticated):
        chain.authenticate("garbage")


def test_the_chain_names_people_not_onboarded_but_does_not_let_them_act() -> None:
    from uuid import uuid4

    from infra.identity.oidc import ExternalUser, OidcAuthenticator

    key = SigningKey("ES256", "k")
    with JwksServer() as server:
        server.publish(key)
        verifier = OidcVerifier("https://iss.example", None, JwksCache(server.url))
        known: dict[object, ExternalUser] = {}
        user_id = uuid4()
        chain = IssuerChain({"https://iss.example": OidcAuthenticator(
            verifier, lambda iss, sub: user_id, known.get)})
        token = key.token("s", iss="https://iss.example", aud=None, email="e@example.com")
        who = chain.identify(token)
        assert (who.user_id, who.onboarded, who.email) == (user_id, False, "e@example.com")
        with pytest.raises(Unauthenticated):
            chain.authenticate(token)
        known[user_id] = ExternalUser("name", "Name", onboarded=True, deleted=False)
        assert chain.authenticate(token).username == "name"
        known[user_id] = ExternalUser("name", "Name", onboarded=True, deleted=True)
        with pytest.raises(Unauthenticated):
            chain.identify(token)
