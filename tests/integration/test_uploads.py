"""Avatar and banner uploads against the embedded disk store and a real S3 API
(moto's server mode over HTTP), with real images made by Pillow and crafted bad files."""

from __future__ import annotations

import io
import os
import zlib
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from PIL import Image

from tests.harness import LiveServer
from tests.integration.client import Api, assert_problem
from tests.integration.identity_support import MotoS3, serve


class Target:
    """The running service and a way to list what its storage holds."""

    def __init__(self, live: LiveServer, moto: MotoS3 | None, root: Path) -> None:
        self.live = live
        self.moto = moto
        self.root = root

    def stored(self) -> list[str]:
        if self.moto is not None:
            return self.moto.keys()
        if not self.root.exists():
            return []
        return sorted(str(p.relative_to(self.root)) for p in self.root.rglob("*") if p.is_file())

    async def fetch(self, http: httpx.AsyncClient, url: str) -> httpx.Response:
        if url.startswith("/"):
            return await http.get(url)
        async with httpx.AsyncClient() as outside:
            return await outside.get(url)


@pytest.fixture(params=["embedded-disk", "embedded-s3", "production-s3"])
def target(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Target]:
    mode, store = request.param.split("-")
    request.param = mode  # type: ignore[misc]  (serve() reads the mode from the request)
    if store == "disk":
        for live in serve(request, tmp_path):
            yield Target(live, None, tmp_path / "var" / "uploads")
        return
    with MotoS3() as moto:
        for live in serve(request, tmp_path, **moto.settings()):
            yield Target(live, moto, tmp_path)


@pytest.fixture
async def api(target: Target) -> AsyncIterator[Api]:
    client = Api(target.live.url, target.live.ws_url)
    yield client
    await client.close()


def image_bytes(fmt: str, size: tuple[int, int] = (64, 48), *, noise: bool = False,
                **save: Any) -> bytes:
    if noise:
        image = Image.frombytes("RGB", size, os.urandom(size[0] * size[1] * 3))
    else:
        image = Image.new("RGB", size, (30, 120, 200))
    out = io.BytesIO()
    image.save(out, format=fmt, **save)
    return out.getvalue()


def png_bomb(width: int, height: int) -> bytes:
    """A valid, tiny PNG that decodes to width x height pixels (a decompression bomb)."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return (len(data).to_bytes(4, "big") + kind + data
                + zlib.crc32(kind + data).to_bytes(4, "big"))
    header = width.to_bytes(4, "big") + height.to_bytes(4, "big") + bytes([1, 0, 0, 0, 0])
    compressor = zlib.compressobj(9)
    row = b"\x00" + b"\x00" * ((width + 7) // 8)
    data = b"".join(compressor.compress(row) for _ in range(64)) + compressor.flush()
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", data) + chunk(
        b"IEND", b"")


async def upload(api: Api, user: dict[str, Any], kind: str, content: bytes,
                 name: str = "picture.png", content_type: str = "image/png") -> httpx.Response:
    return await api.http.post(f"/api/upload/{kind}", headers=user["headers"],
                               files={"file": (name, content, content_type)})


async def test_avatar_and_banner_are_checked_reencoded_and_recorded(
        api: Api, target: Target) -> None:
    user = await api.register()
    exif = Image.Exif()
    exif[0x010F] = "SpyCam Inc."  # Make
    exif[0x8825] = {2: (51.0, 30.0, 0.0)}  # GPS latitude
    jpeg = image_bytes("JPEG", (80, 60), exif=exif.tobytes(), quality=95)
    assert b"SpyCam" in jpeg

    # The declared name and type are ignored: the content decides.
    r = await upload(api, user, "avatar", jpeg, name="avatar.gif", content_type="text/plain")
    assert r.status_code == 201, r.text
    body = r.json()
    assert body["contentType"] == "image/jpeg" and body["key"].endswith(".jpg")
    assert (body["width"], body["height"]) == (80, 60)
    got = await target.fetch(api.http, body["url"])
    assert got.status_code == 200, got.text
    assert got.content != jpeg and b"SpyCam" not in got.content
    assert not Image.open(io.BytesIO(got.content)).getexif()
    assert len(target.stored()) == 1

    again = await upload(api, user, "avatar", jpeg)
    assert again.json()["key"] == body["key"]  # content-addressed
    assert len(target.stored()) == 1

    profile = await api.http.get(f"/api/users/{user['id']}", params={"after": body["position"]})
    assert profile.json()["avatar"] == body["url"]

    for fmt in ("PNG", "WEBP", "GIF"):
        r = await upload(api, user, "avatar", image_bytes(fmt))
        assert r.status_code == 201, (fmt, r.text)
        assert r.json()["contentType"] == f"image/{fmt.lower()}"

    # A noisy 3 MB PNG is too big for an avatar but fine as a banner.
    big = image_bytes("PNG", (1024, 1024), noise=True)
    assert 2 * 1024 * 1024 < len(big) < 8 * 1024 * 1024
    before = target.stored()
    assert_problem(await upload(api, user, "avatar", big), 413, "file")
    assert target.stored() == before
    banner = await upload(api, user, "banner", big)
    assert banner.status_code == 201, banner.text
    me = await api.http.get("/api/auth/user", headers=user["headers"])
    assert me.json()["banner"] == banner.json()["url"]


async def test_bad_files_are_refused_and_nothing_is_stored(api: Api, target: Target) -> None:
    user = await api.register()
    png = image_bytes("PNG", (120, 90))
    jpeg = image_bytes("JPEG", (120, 90))
    zip_tail = b"PK\x03\x04" + b"\x14\x00" * 10 + b"payload.jsp" + b"PK\x05\x06" + b"\x00" * 18
    cases: dict[str, tuple[bytes, int]] = {
        "png + zip polyglot": (png + zip_tail, 422),
        "jpeg + html polyglot": (jpeg + b"<html><script>alert(1)</script></html>", 422),
        "gif with script in a comment": (
            image_bytes("GIF", comment=b"<script>alert(1)</script>"), 422),
        "truncated png": (png[: len(png) // 2], 422),
        "truncated jpeg": (jpeg[: len(jpeg) - 40], 422),
        "decompression bomb": (png_bomb(30_000, 30_000), 413),
        "svg": (b'<svg xmlns="http://www.w3.org/2000/svg"><script>1</script></svg>', 422),
        "text named .png": (b"just some text, honest", 422),
        "bmp": (image_bytes("BMP"), 422),
        "empty": (b"", 422),
        # Past the server's whole-body limit (10 MB): refused before any handler runs,
        # still naming the file, so a form shows it beside its file input.
        "ten megabytes": (b"\x89PNG" + b"\0" * 10_000_000, 413),
    }
    for name, (content, status) in cases.items():
        r = await upload(api, user, "avatar", content)
        assert_problem(r, status, "file")
        assert target.stored() == [], name
    missing = await api.http.post("/api/upload/avatar", headers=user["headers"],
                                  files={"other": ("a.png", png, "image/png")})
    assert missing.status_code in (400, 422), missing.text
    assert missing.json()["field"] == "file"
    assert_problem(await api.http.post("/api/upload/avatar",
                                       files={"file": ("a.png", png, "image/png")}), 401)
    not_multipart = await api.http.post("/api/upload/avatar", headers=user["headers"],
                                        json={"file": "aGVsbG8="})
    assert_problem(not_multipart, 400, "body")
    huge_json = await api.http.put("/api/auth/profile", headers=user["headers"],
                                   content=b'{"bio": "' + b"x" * 10_000_000 + b'"}')
    assert "at most" in assert_problem(huge_json, 413, "body")["detail"]
    assert target.stored() == []
    me = await api.http.get("/api/auth/user", headers=user["headers"])
    assert me.json()["avatar"] is None


async def test_presigned_upload_then_confirm(api: Api, target: Target) -> None:
    alice = await api.register()
    bob = await api.register()
    presign = await api.http.post("/api/upload/avatar/presign", headers=alice["headers"])
    if target.moto is None:
        assert_problem(presign, 409, "storage")
        return
    assert presign.status_code == 201, presign.text
    form = presign.json()
    png = image_bytes("PNG", (50, 50))
    async with httpx.AsyncClient() as outside:
        sent = await outside.post(form["url"], data=form["fields"],
                                  files={"file": ("a.png", png, "image/png")})
    assert sent.status_code in (200, 201, 204), sent.text
    assert form["key"] in target.stored()

    # Another user's token cannot adopt alice's upload.
    assert_problem(await api.http.post("/api/upload/avatar/confirm", json={"key": form["key"]},
                                       headers=bob["headers"]), 403, "key")
    done = await api.http.post("/api/upload/avatar/confirm", json={"key": form["key"]},
                               headers=alice["headers"])
    assert done.status_code == 201, done.text
    assert target.stored() == [done.json()["key"]]  # the pending object is gone
    got = await target.fetch(api.http, done.json()["url"])
    assert got.status_code == 200 and got.content.startswith(b"\x89PNG")

    # A bad object is refused and removed; so is one over the limit.
    for content, status in ((png + b"PK\x03\x04tail", 422),
                            (image_bytes("PNG", (1024, 1024), noise=True), 413)):
        form = (await api.http.post("/api/upload/avatar/presign",
                                    headers=alice["headers"])).json()
        async with httpx.AsyncClient() as outside:
            await outside.post(form["url"], data=form["fields"],
                               files={"file": ("a.png", content, "image/png")})
        r = await api.http.post("/api/upload/avatar/confirm", json={"key": form["key"]},
                                headers=alice["headers"])
        assert_problem(r, status, "file")
        assert target.stored() == [done.json()["key"]]
    assert_problem(await api.http.post("/api/upload/avatar/confirm",
                                       json={"key": "images/../../etc/passwd"},
                                       headers=alice["headers"]), 422, "key")
    assert_problem(await api.http.post("/api/upload/avatar/confirm",
                                       json={"key": form["key"]},
                                       headers=alice["headers"]), 404, "key")
    assert_problem(await api.http.post("/api/upload/poster/presign",
                                       headers=alice["headers"]), 404)
