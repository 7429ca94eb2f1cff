"""The web client in a real browser: Debian's Chromium driven by Playwright against one
server (embedded, with nginx-rtmp in front of it and an OIDC issuer beside it) for the
whole module.

A creator signs up and creates a channel through the pages, reads the key off the
dashboard, publishes with ffmpeg, and the stream page plays it (the video's currentTime
advances); a viewer signs in, both chat (a message reaches the other page within a second,
as text even when it looks like markup), the owner deletes it from the page, a refusal
shows in words; the end turns the page offline with the recording listed. Every page is
checked with axe-core and screenshotted at 1280x800 and 390x844; bad input in forms shows
the API's problem beside its field and keeps what was typed. With a ladder that offers the
source on top (its own server and nginx), the player starts on the source."""

from __future__ import annotations

import io
import json
import re
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
from PIL import Image

from infra.ingest.nginx_rtmp import NginxRtmp, available, publish_command
from tests.harness import LiveServer, serving
from tests.integration.browser_support import (
    SIZES,
    chromium,
    launch_args,
    require_web_packages,
    screenshot_dir,
    serious_violations,
)
from tests.integration.identity_support import JwksServer, SigningKey, oidc_settings
from tests.integration.ingest_support import with_nginx

XSS = "<img src=x onerror=alert(1)>"
PASSWORD = "correct horse"


@dataclass
class Site:
    server: LiveServer
    nginx: NginxRtmp
    signing_key: SigningKey
    http: httpx.Client
    shots: Path
    # What the pages did that they must not: CSP violations, script errors, dialogs,
    # requests to an origin other than ours and the HLS server's, tokens in URLs.
    faults: list[str] = field(default_factory=list)

    @property
    def url(self) -> str:
        return self.server.url

    def register(self, name: str) -> dict[str, Any]:
        r = self.http.post("/api/auth/register", json={
            "email": f"{name}@example.com", "username": name, "password": PASSWORD,
            "displayName": name.title()})
        assert r.status_code == 201, r.text
        body = r.json()
        return {"token": body["token"], "id": body["user"]["id"], "username": name}


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    require_web_packages()
    missing = available()
    if missing:
        pytest.fail(f"the browser test needs {missing} (apt-get install -y nginx "
                    "libnginx-mod-rtmp ffmpeg)")
    root = tmp_path_factory.mktemp("web-client")
    nginx = NginxRtmp(root / "nginx")
    with JwksServer() as jwks:
        key = SigningKey("RS256", "web-test")
        jwks.publish(key)
        overrides = {
            "ingest_rtmp_url": nginx.ingest_url,
            "ingest_nginx_push_url": nginx.push_url,
            "ingest_playback_template": f"{nginx.http_url}/hls/{{playback_id}}.m3u8",
            "ingest_vod_template": f"{nginx.http_url}/recordings/{{recording}}",
            # The end is the owner's button here, not the grace's.
            "ingest_reconnect_grace_s": 60.0,
            "viewer_sample_s": 0.2,
            **oidc_settings(jwks),
        }
        with serving("embedded", root, **overrides) as server, \
                httpx.Client(base_url=server.url, timeout=20) as http:
            nginx.start(f"{server.url}/webhooks/nginx-rtmp")
            try:
                yield Site(server, nginx, key, http, screenshot_dir(root / "shots"))
            finally:
                nginx.stop()


@pytest.fixture(scope="module")
def browser(site: Site) -> Iterator[Any]:
    path = chromium()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        instance = p.chromium.launch(executable_path=path, headless=True, args=launch_args())
        try:
            yield instance
        finally:
            instance.close()


def new_context(browser: Any, site: Site, size: str = "desktop") -> Any:
    width, height = SIZES[size]
    context = browser.new_context(viewport={"width": width, "height": height},
                                  permissions=["clipboard-read", "clipboard-write"])
    allowed = {urlsplit(site.url).netloc, urlsplit(site.nginx.http_url).netloc}

    def watch(page: Any) -> None:
        page.on("pageerror", lambda e: site.faults.append(f"script error: {e}"))
        page.on("dialog", lambda d: (site.faults.append(f"dialog: {d.message}"), d.dismiss()))
        page.on("console", lambda m: "Content Security Policy" in m.text
                and site.faults.append(f"CSP: {m.text}"))
        page.on("request", lambda r: urlsplit(r.url).scheme in ("http", "https")
                and urlsplit(r.url).netloc not in allowed
                and site.faults.append(f"request elsewhere: {r.url}"))
        # A token (a JWT: "eyJ...") never rides in a URL, navigation or not.
        page.on("request", lambda r: "eyJ" in r.url
                and site.faults.append(f"token in a URL: {r.url}"))

    context.on("page", watch)
    return context


def sign_in_as(page: Any, site: Site, user: dict[str, Any]) -> None:
    """Puts a session in the site's storage, as the sign-in page leaves it."""
    page.goto(site.url + "/auth/login")
    page.evaluate("([k, v]) => localStorage.setItem(k, v)", ["aethex.session", json.dumps(
        {"token": user["token"], "userId": user["id"], "username": user["username"]})])


def check_page(page: Any, site: Site, name: str) -> None:
    """axe-core finds nothing serious on the page at each size; a screenshot of each."""
    for size, (width, height) in SIZES.items():
        page.set_viewport_size({"width": width, "height": height})
        page.wait_for_timeout(150)  # layout settles after the resize
        found = serious_violations(page)
        assert found == [], f"{name} at {size}: {found}"
        page.screenshot(path=str(site.shots / f"{name}-{size}.png"))
    page.set_viewport_size({"width": SIZES["desktop"][0], "height": SIZES["desktop"][1]})


def video_time(page: Any) -> float:
    return float(page.evaluate("() => document.querySelector('#video').currentTime"))


def say(page: Any, text: str) -> None:
    """Sends a chat message from the page and waits for the box to clear (the send's
    answer), so the next message typed cannot race it."""
    page.fill("#chat-input", text)
    page.press("#chat-input", "Enter")
    page.wait_for_function("() => document.querySelector('#chat-input').value === ''")


def message_action(line: Any, name: str) -> None:
    """Clicks one of a chat message's actions, behind its ⋯ menu."""
    menu = line.locator("details.actions")
    button = line.get_by_role("button", name=name)
    # A message arriving while the summary is clicked scrolls the log under the pointer:
    # the click can land beside the summary and leave the menu shut. Open it until it is.
    for _ in range(20):
        if not menu.evaluate("d => d.open"):
            menu.locator("summary").click()
        if button.is_visible():
            break
        line.page.wait_for_timeout(250)
    button.click()


# How far the chat's scroll box is from its end, and from its top.
CHAT_GAP = ("() => { const b = document.querySelector('#chat-scroll');"
            " return b.scrollHeight - b.scrollTop - b.clientHeight; }")
CHAT_TOP = "() => document.querySelector('#chat-scroll').scrollTop"


def test_pages_and_vendor_files_are_served_from_our_origin_with_a_strict_csp(
        site: Site) -> None:
    for path in ("/", "/streams/anything", "/dashboard", "/dashboard/profile",
                 "/auth/register", "/auth/login", "/onboarding", "/schema"):
        r = site.http.get(path)
        assert r.status_code == 200, (path, r.text)
        assert r.headers["content-type"].startswith("text/html")
        policy = r.headers["content-security-policy"]
        assert "script-src 'self';" in policy and "'unsafe-inline'" not in policy
        assert "frame-ancestors 'none'" in policy and r.headers["x-content-type-options"]
        assert "<script>" not in r.text  # no inline script anywhere
        for src in re.findall(r'(?:src|href)="([^"]+)"', r.text):
            assert src.startswith(("/", "#")), (path, src)  # nothing from another origin
    r = site.http.get("/vendor/hls.mjs")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/javascript")
    assert site.http.get("/vendor/package.json").status_code == 404  # only the named files
    assert site.http.get("/assets/../pages/home.html").status_code == 404
    assert site.http.get("/assets/%2e%2e/pages/home.html").status_code == 404
    assert site.http.get("/api/nowhere").headers["content-type"].startswith(
        "application/problem+json")  # API paths keep their answers
    # HEAD answers as GET does, without the body (on the same connection, which a body
    # sent anyway would break).
    for path in ("/", "/streams/anything", "/dashboard", "/auth/login", "/assets/app.css",
                 "/vendor/hls.mjs", "/schema"):
        got, head = site.http.get(path), site.http.head(path)
        assert (head.status_code, head.content) == (200, b""), path
        for name in ("content-length", "content-type", "content-security-policy", "etag",
                     "cache-control"):
            assert head.headers.get(name) == got.headers.get(name), (path, name)
    assert site.http.head("/api/channels").status_code == 405  # the API's own methods


def test_the_api_docs_render_from_local_assets(browser: Any, site: Site) -> None:
    context = new_context(browser, site)
    page = context.new_page()
    page.goto(site.url + "/schema")
    page.locator(".swagger-ui .info .title").wait_for(timeout=15000)
    assert "AeThex Live" in page.inner_text(".swagger-ui .info .title")
    page.locator(".opblock-tag", has_text="channels").first.wait_for()
    context.close()
    assert site.faults == []


def test_a_creator_goes_live_viewers_watch_and_chat_and_the_end_lists_the_vod(
        browser: Any, site: Site) -> None:
    owner_context = new_context(browser, site)
    dash = owner_context.new_page()

    # Sign up and create a channel through the pages.
    dash.goto(site.url + "/auth/register")
    dash.fill("#email", "ada@example.com")
    dash.fill("#username", "ada")
    dash.fill("#displayName", "Ada")
    dash.fill("#password", PASSWORD)
    dash.click("#register-form button[type=submit]")
    dash.wait_for_url("**/dashboard")
    dash.fill("#create-name", "Ada's Lab")
    assert dash.input_value("#create-slug") == "ada-s-lab"
    dash.click("#create-form button[type=submit]")
    dash.locator("#dash-title", has_text="Ada's Lab").wait_for()

    # The key: hidden until asked for, then shown and copied.
    hidden = dash.inner_text("#stream-key")
    assert set(hidden) == {"•"}
    dash.click("#toggle-key")
    key = dash.inner_text("#stream-key")
    assert len(key) >= 40 and key != hidden
    assert dash.get_attribute("#toggle-key", "aria-pressed") == "true"
    dash.click("#copy-key")
    assert dash.evaluate("() => navigator.clipboard.readText()") == key
    dash.click("#toggle-key")
    assert dash.inner_text("#stream-key") == hidden
    ingest = dash.inner_text("#ingest-url")
    assert ingest == site.nginx.ingest_url

    encoder = subprocess.Popen(publish_command(f"{ingest}/{key}", 90),
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        dash.locator("#status-line", has_text="LIVE").wait_for(timeout=20000)

        # The stream page plays the video: its clock advances.
        watch = owner_context.new_page()
        watch.goto(site.url + "/streams/ada-s-lab")
        watch.wait_for_function(
            "() => document.querySelector('#video').currentTime > 0.3", timeout=30000)
        before = video_time(watch)
        watch.wait_for_timeout(1500)
        assert video_time(watch) > before + 0.5, "the video does not advance"
        # The keyboard drives the player: k pauses and plays again.
        watch.focus("#video")
        watch.keyboard.press("k")
        watch.wait_for_function("() => document.querySelector('#video').paused")
        watch.keyboard.press("k")
        watch.wait_for_function("() => !document.querySelector('#video').paused")

        # A viewer signs in through the login page and lands on the stream.
        grace = site.register("grace")
        viewer_context = new_context(browser, site)
        view = viewer_context.new_page()
        view.goto(site.url + "/auth/login?next=/streams/ada-s-lab")
        view.fill("#email", "grace@example.com")
        view.fill("#password", PASSWORD)
        view.click("#login-form button[type=submit]")
        view.wait_for_url("**/streams/ada-s-lab")
        view.locator("#viewer-count", has_text="2 viewers").wait_for(timeout=10000)
        watch.locator("#viewer-count", has_text="2 viewers").wait_for(timeout=10000)

        # Typing shows on the other page.
        watch.fill("#chat-input", "hel")
        view.locator("#typing", has_text="Ada is typing").wait_for(timeout=5000)

        # A message that looks like markup reaches the owner within a second, as text.
        view.fill("#chat-input", XSS)
        sent = time.monotonic()
        view.press("#chat-input", "Enter")
        line = watch.locator("#chat-log li", has_text=XSS)
        line.wait_for(timeout=5000)
        assert time.monotonic() - sent < 1.0
        assert line.locator(".content").inner_text() == XSS
        assert watch.locator("#chat-log img").count() == 0
        view.wait_for_function("() => document.querySelector('#chat-input').value === ''")

        # The owner deletes it from the page: it disappears for the viewer.
        view.locator("#chat-log li", has_text=XSS).wait_for()
        line.locator("summary").click()
        line.get_by_role("button", name="Delete").click()
        view.locator("#chat-log li", has_text=XSS).wait_for(state="detached", timeout=5000)
        watch.locator("#chat-log li", has_text=XSS).wait_for(state="detached", timeout=5000)

        # The viewer follows from the creator card; both are in the viewers list.
        view.click("#follow")
        view.locator("#follow[aria-pressed='true']", has_text="Following").wait_for()
        assert view.inner_text("#follower-count") == "1 follower"
        view.click("#users-toggle")
        for name in ("Ada", "Grace"):
            view.locator("#user-list li", has_text=name).wait_for()
        view.click("#users-toggle")
        view.fill("#chat-input", "hello there")
        view.press("#chat-input", "Enter")
        hello = watch.locator("#chat-log li", has_text="hello there")
        hello.wait_for()

        # A filter set on the dashboard refuses a message; the viewer reads why, in
        # words, and keeps the text.
        dash.click("#tab-filters")
        dash.fill("#filters-terms", "pineapple")
        dash.click("#filters-form button[type=submit]")
        dash.locator("#filters-form .notice", has_text="Filters saved").wait_for()
        view.fill("#chat-input", "who likes pineapple")
        view.press("#chat-input", "Enter")
        view.locator("#chat-error", has_text="contains a word this channel blocks").wait_for()
        assert view.input_value("#chat-input") == "who likes pineapple"

        # The live page, checked and pictured at both sizes, and the chat drawer a phone
        # opens from its Chat button.
        for text in ("Welcome to the lab!", "Today: colour bars"):
            watch.fill("#chat-input", text)
            watch.press("#chat-input", "Enter")
            view.locator("#chat-log li", has_text=text).wait_for()
        check_page(watch, site, "stream")
        view.set_viewport_size({"width": SIZES["mobile"][0], "height": SIZES["mobile"][1]})
        assert view.locator("#chat").is_hidden()
        view.click("#chat-toggle")
        view.locator("#chat-log li", has_text="Today: colour bars").wait_for()
        assert serious_violations(view) == []
        view.screenshot(path=str(site.shots / "stream-chat-mobile.png"))
        view.keyboard.press("Escape")
        assert view.locator("#chat").is_hidden()
        view.set_viewport_size({"width": SIZES["desktop"][0], "height": SIZES["desktop"][1]})

        # The viewer reports a message; it is in the dashboard's queue, and dismissed.
        welcome = view.locator("#chat-log li", has_text="Welcome to the lab!")
        welcome.locator("summary").click()
        welcome.get_by_role("button", name="Report").click()
        view.locator("#chat-log li.system", has_text="Thanks").wait_for()
        dash.click("#tab-reports")
        report = dash.locator("#panel-reports tr", has_text="Welcome to the lab!")
        report.wait_for()
        report.get_by_role("button", name="Dismiss").click()
        dash.locator("#panel-reports", has_text="No open reports").wait_for()

        # The chat follows the newest message while the reader is at the end of it; one
        # who scrolled up to read stays where they are, told of new messages by a button
        # that brings them back; back at the end, it follows again.
        for i in range(3):
            say(watch, f"Long read {i}: " + "all about colour bars and tone " * 14)
        view.locator("#chat-log li", has_text="Long read 2").wait_for()
        assert view.evaluate("() => { const b = document.querySelector('#chat-scroll');"
                             " return b.scrollHeight - b.clientHeight; }") > 200
        assert view.evaluate(CHAT_GAP) < 4
        view.locator("#chat-scroll").evaluate("b => { b.scrollTop = 0; }")
        say(watch, "Meanwhile, at the end")
        view.locator("#chat-log li", has_text="Meanwhile, at the end").wait_for()
        view.locator("#jump").wait_for()
        assert view.evaluate(CHAT_TOP) == 0
        view.click("#jump")
        assert view.evaluate(CHAT_GAP) < 4 and view.locator("#jump").is_hidden()
        view.locator("#chat-scroll").evaluate("b => { b.scrollTop = 0; }")
        say(watch, "Scrolled up again")
        view.locator("#jump").wait_for()
        view.locator("#chat-scroll").hover()
        view.mouse.wheel(0, 10000)  # the reader scrolls back down themselves
        view.locator("#jump").wait_for(state="hidden")
        say(watch, "Following along")
        view.locator("#chat-log li", has_text="Following along").wait_for()
        view.wait_for_function(f"() => ({CHAT_GAP})() < 4")

        # The owner makes the viewer a moderator from the chat (their messages carry the
        # badge), then revokes it from the dashboard: the next one has none.
        message_action(hello, "Make moderator")
        watch.locator("#chat-log li.system", has_text="Grace is now a moderator").wait_for()
        say(view, "Modding now")
        watch.locator("#chat-log li", has_text="Modding now").locator(
            ".badge.moderator").wait_for()
        dash.click("#tab-moderators")
        moderator = dash.locator("#panel-moderators tr", has_text="Grace")
        moderator.wait_for(timeout=10000)  # the open list follows the channel
        moderator.get_by_role("button", name="Remove").click()
        dash.locator("#panel-moderators", has_text="No moderators yet").wait_for()
        say(view, "Just a viewer again")
        plain = watch.locator("#chat-log li", has_text="Just a viewer again")
        plain.wait_for()
        assert plain.locator(".badge").count() == 0

        # The owner ignores the viewer: their messages leave the owner's page, live and in
        # the history on a reload, and come back, in their place, when shown again.
        message_action(plain, "Ignore")
        watch.locator("#chat-log li.system", has_text="no longer see messages from Grace"
                      ).wait_for()
        graces = f"#chat-log li[data-user='{grace['id']}']"
        assert watch.locator(graces).count() == 0
        say(view, "Can anyone hear me?")
        say(watch, "Quiet in here")
        view.locator("#chat-log li", has_text="Quiet in here").wait_for()
        watch.locator("#chat-log li", has_text="Quiet in here").wait_for()
        assert watch.locator(graces).count() == 0
        watch.reload()
        watch.locator("#chat-log li", has_text="Quiet in here").wait_for()
        assert watch.locator(graces).count() == 0
        watch.click("#users-toggle")
        watch.get_by_role("button", name="Show messages from Grace again").click()
        back = watch.locator("#chat-log li", has_text="Can anyone hear me?")
        back.wait_for()
        order = watch.locator("#chat-log li .content").all_inner_texts()
        assert order.index("Can anyone hear me?") < order.index("Quiet in here")
        assert "Just a viewer again" in order
        assert watch.locator("#ignored-box").is_hidden()
        watch.click("#users-toggle")
        say(view, "Glad to be back")
        watch.locator("#chat-log li", has_text="Glad to be back").wait_for()

        # The owner times the viewer out from the chat: their next message is refused,
        # in words; the dashboard lists the timeout and lifts it.
        message_action(hello, "Timeout 10 min")
        view.locator("#chat-error", has_text="You are banned from this chat").wait_for()
        dash.click("#tab-bans")
        ban = dash.locator("#panel-bans tr", has_text="Grace")
        ban.wait_for()
        ban.get_by_role("button", name="Lift").click()
        dash.locator("#panel-bans", has_text="Nobody is banned").wait_for()

        # The owner ends it from the dashboard, then stops the encoder.
        dash.locator("#end-stream").click()
        view.locator("#offline", has_text="The stream has ended").wait_for(timeout=10000)
    finally:
        encoder.terminate()
        encoder.wait(10)
    # The whole stream, its parts joined into one MP4, plays in the page, listed with
    # its thumbnail; the focus goes to the video, and back to its button on Close.
    play = view.get_by_role("button", name="Watch the recording of “Ada's Lab”")
    play.wait_for(timeout=30000)
    channel_id = site.http.get("/api/channels/ada-s-lab").json()["id"]
    [vod] = site.http.get(f"/api/channels/{channel_id}/vod").json()["items"]
    assert vod["vodUrl"] == f"{site.nginx.http_url}/recordings/{vod['id']}.mp4"
    assert vod["thumbnailUrl"]
    view.wait_for_function(
        "() => document.querySelector('#vod-list img.vod-thumb')?.naturalWidth > 0")
    assert view.get_attribute("#vod-list img.vod-thumb", "src") == vod["thumbnailUrl"]
    play.click()
    view.wait_for_function(
        "() => document.querySelector('#vod-video').currentTime > 0.5", timeout=15000)
    assert view.evaluate("() => document.activeElement.id") == "vod-video"
    assert view.get_attribute("#vod-player .vod-file", "href") == vod["vodUrl"]
    assert view.locator("#offline").is_hidden()
    assert view.inner_text("#chat-error") == ""  # the timeout's refusal went with the room
    view.evaluate("() => window.scrollTo(0, 0)")
    check_page(view, site, "stream-recording")
    view.click("#vod-player .vod-close")
    assert view.locator("#offline").is_visible() and view.locator("#vod-player").is_hidden()
    assert view.evaluate("() => document.activeElement.textContent") == "Watch"
    # The dashboard lists it too, thumbnail and player.
    dash.locator("#vod-table img.vod-thumb").wait_for(timeout=10000)
    dash.get_by_role("button", name="Watch the recording of “Ada's Lab”").click()
    dash.wait_for_function("() => document.querySelector('#vod-video').duration > 1")
    dash.click("#vod-player .vod-close")
    # Rotating the key asks first; the new key replaces the old on the page.
    dash.click("#rotate-key")
    dash.locator("#rotate-dialog").wait_for()
    dash.click("#rotate-cancel")
    dash.click("#rotate-key")
    dash.click("#rotate-confirm")
    dash.locator("#key-status", has_text="new stream key").wait_for()
    dash.click("#toggle-key")
    assert dash.inner_text("#stream-key") not in (key, hidden)
    dash.click("#toggle-key")
    check_page(dash, site, "dashboard")
    viewer_context.close()
    owner_context.close()
    assert site.faults == []


def test_forms_show_the_problem_beside_the_field_and_keep_what_was_typed(
        browser: Any, site: Site) -> None:
    site.register("taken")
    context = new_context(browser, site)
    page = context.new_page()
    page.goto(site.url + "/auth/register")

    # Empty fields: the API's detail beside the field it names.
    page.click("#register-form button[type=submit]")
    page.locator("#email-error").wait_for()
    assert page.inner_text("#email-error")
    assert page.get_attribute("#email", "aria-invalid") == "true"

    # A taken username: the 409's detail beside it, everything typed still there.
    page.fill("#email", "someone@example.com")
    page.fill("#username", "taken")
    page.fill("#displayName", "Some One")
    page.fill("#password", PASSWORD)
    page.click("#register-form button[type=submit]")
    page.locator("#username-error", has_text="taken").wait_for()
    assert page.inner_text("#email-error") == ""
    assert (page.input_value("#email"), page.input_value("#username"),
            page.input_value("#displayName"), page.input_value("#password")) == (
        "someone@example.com", "taken", "Some One", PASSWORD)
    check_page(page, site, "register")

    # Wrong password on the login page.
    page.goto(site.url + "/auth/login")
    page.fill("#email", "taken@example.com")
    page.fill("#password", "not the password")
    page.click("#login-form button[type=submit]")
    page.locator("#login-form .field-error:not(:empty), #login-form .form-error:not(:empty)"
                 ).first.wait_for()
    assert page.input_value("#email") == "taken@example.com"
    check_page(page, site, "login")

    # The profile: a 10 MB avatar is refused beside the file field; a bad social link
    # beside its own field, the rest of the form as typed.
    user = site.register("maker")
    sign_in_as(page, site, user)
    page.goto(site.url + "/dashboard/profile")
    page.locator("#displayName").wait_for()
    page.wait_for_function("() => document.querySelector('#username').value === 'maker'")
    page.set_input_files("#avatar-file", files=[{
        "name": "huge.png", "mimeType": "image/png", "buffer": b"\x89PNG" + b"\0" * 10_000_000}])
    page.click("#avatar-form button[type=submit]")
    page.locator("#avatar-file-error:not(:empty)").wait_for()
    assert "bytes" in page.inner_text("#avatar-file-error")
    page.fill("#displayName", "Maker Of Things")
    page.fill("#bio", "I make things")
    page.fill("#social-github", "https://example.com/not-github")
    page.click("#profile-form button[type=submit]")
    page.locator("#social-github-error:not(:empty)").wait_for()
    assert "github.com" in page.inner_text("#social-github-error")
    assert (page.input_value("#displayName"), page.input_value("#bio")) == (
        "Maker Of Things", "I make things")
    # Fixed, it saves; a real image uploads and shows.
    page.fill("#social-github", "https://github.com/maker")
    page.click("#profile-form button[type=submit]")
    page.locator("#profile-form .notice", has_text="Profile saved").wait_for()
    picture = io.BytesIO()
    Image.new("RGB", (64, 64), (109, 40, 217)).save(picture, "PNG")
    png = picture.getvalue()
    page.set_input_files("#avatar-file", files=[{
        "name": "me.png", "mimeType": "image/png", "buffer": png}])
    page.click("#avatar-form button[type=submit]")
    page.locator("#avatar-form .notice", has_text="Avatar uploaded").wait_for()
    assert page.get_attribute("#avatar-preview", "src", timeout=2000)
    check_page(page, site, "profile")
    context.close()
    assert site.faults == []


def test_onboarding_after_an_external_sign_in(browser: Any, site: Site) -> None:
    context = new_context(browser, site)
    page = context.new_page()
    external = {"token": site.signing_key.token("user_web", email="lin@example.com"),
                "id": "", "username": ""}
    sign_in_as(page, site, external)
    page.goto(site.url + "/dashboard")
    page.wait_for_url("**/onboarding")  # not onboarded yet: sent here
    page.wait_for_function("() => document.querySelector('#username').value === 'lin'")
    check_page(page, site, "onboarding")
    page.fill("#username", "taken")  # taken by the forms test
    page.click("#onboarding-form button[type=submit]")
    page.locator("#username-error:not(:empty)").wait_for()
    page.fill("#username", "lin")
    page.fill("#displayName", "Lin")
    page.click("#onboarding-form button[type=submit]")
    page.wait_for_url("**/dashboard")
    page.locator("#create-heading").wait_for()
    context.close()
    assert site.faults == []


def test_home_lists_live_channels_then_the_others(browser: Any, site: Site) -> None:
    owner = site.register("zed")
    auth = {"Authorization": f"Bearer {owner['token']}"}
    made = {}
    for slug, name in (("zeds-den", "Zed's <Den>"), ("quiet-corner", "Quiet corner")):
        r = site.http.post("/api/channels", json={"slug": slug, "name": name,
                                                  "category": "music"}, headers=auth)
        assert r.status_code == 201, r.text
        made[slug] = r.json()
    live = made["zeds-den"]["id"]
    r = site.http.post(f"/api/streams/{live}/start", json={"title": "Night <b>tunes</b>"},
                       headers=auth)
    assert r.status_code == 201, r.text
    after = {"after": r.json()["position"]}
    assert site.http.get("/api/channels", params={**after, "live": "true"}).status_code == 200
    context = new_context(browser, site)
    page = context.new_page()
    page.goto(site.url + "/")
    tile = page.locator("#live-list li", has_text="Night <b>tunes</b>")
    tile.wait_for()
    assert "Zed's <Den>" in tile.inner_text() and "music" in tile.inner_text()
    page.locator("#channel-list li", has_text="Quiet corner").wait_for()
    page.locator("#category-list button", has_text="music").wait_for()
    check_page(page, site, "home")
    context.close()
    assert site.faults == []


def test_dashboard_settings_prepare_the_next_stream_and_go_live(
        browser: Any, site: Site) -> None:
    owner = site.register("hal")
    r = site.http.post("/api/channels", json={"slug": "hals-room", "name": "Hal's room"},
                       headers={"Authorization": f"Bearer {owner['token']}"})
    assert r.status_code == 201, r.text
    context = new_context(browser, site)
    page = context.new_page()
    sign_in_as(page, site, owner)
    page.goto(site.url + "/dashboard")
    page.locator("#dash-title", has_text="Hal's room").wait_for()

    # Offline, the settings prepare the next stream; the channel keeps category and tags.
    page.fill("#settings-title", "Late night <code>")
    page.fill("#settings-description", "Talking about compilers")
    page.fill("#settings-category", "science")
    page.fill("#settings-tags", "compilers, llvm")
    page.click("#settings-form button[type=submit]")
    page.locator("#settings-form .notice", has_text="Settings saved").wait_for()
    page.locator("#status-detail", has_text="Ready to go live as “Late night <code>”").wait_for()

    # Go live from the button: the prepared stream, with its title, on the stream page.
    page.click("#go-live")
    page.locator("#status-line", has_text="Late night <code>").wait_for()
    assert page.locator("#settings-title").is_disabled()
    stream = context.new_page()
    stream.goto(site.url + "/streams/hals-room")
    stream.locator("#stream-title", has_text="Late night <code>").wait_for()
    assert "#compilers" in stream.inner_text("#stream-meta")
    assert "science" in stream.inner_text("#stream-meta")

    # The chat's counter, and a message over the limit refused in words before sending.
    stream.locator("#chat-input:enabled").wait_for()
    stream.fill("#chat-input", "x" * 501)
    assert stream.inner_text("#chat-counter") == "501 / 500: 1 too many"
    stream.press("#chat-input", "Enter")
    stream.locator("#chat-error", has_text="at most 500 characters").wait_for()
    assert stream.input_value("#chat-input") == "x" * 501

    page.click("#end-stream")
    stream.locator("#offline", has_text="The stream has ended").wait_for(timeout=10000)
    page.locator("#go-live").wait_for()
    context.close()
    assert site.faults == []


def test_the_player_starts_on_the_source_a_ladder_lists_first(
        browser: Any, tmp_path: Path) -> None:
    """With the source on top of a ladder, announced above the 5 Mbps hls.js guesses before
    its first download, the player still asks for the source first (the variant playable
    while the transcoder starts), never for a transcoded one before the source's first
    segment, plays it, and names it in the quality menu."""
    qualities = "source:6000,180p:200,120p:100"
    with with_nginx("embedded", tmp_path, qualities=qualities) as (server, nginx), \
            httpx.Client(base_url=server.url, timeout=20) as http:
        r = http.post("/api/auth/register", json={
            "email": "lin@example.com", "username": "lin", "password": PASSWORD})
        assert r.status_code == 201, r.text
        headers = {"Authorization": f"Bearer {r.json()['token']}"}
        r = http.post("/api/channels", json={"slug": "lins-ladder", "name": "Lin's ladder"},
                      headers=headers)
        assert r.status_code == 201, r.text
        key = http.get(f"/api/channels/{r.json()['id']}/stream-key",
                       headers=headers).json()["streamKey"]
        encoder = subprocess.Popen(publish_command(f"{nginx.ingest_url}/{key}", 30),
                                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        context = browser.new_context()
        try:
            page = context.new_page()
            hls: list[str] = []
            page.on("request", lambda req: "/hls/" in req.url and hls.append(req.url))
            page.goto(server.url + "/streams/lins-ladder")
            page.wait_for_function(
                "() => document.querySelector('#video').currentTime > 0.3", timeout=30000)
            media = [u for u in hls if not re.search(r"/hls/[0-9a-f-]+\.m3u8$", u)]
            first_segment = next(i for i, u in enumerate(media) if u.endswith(".ts"))
            assert "/hls/source/" in media[0] and all(
                "/hls/source/" in u for u in media[:first_segment + 1]), media
            options = page.locator("#quality option").all_inner_texts()
            assert options[0] == "Auto" and "Source" in options and len(options) == 4
        finally:
            context.close()
            encoder.kill()
            encoder.wait()
