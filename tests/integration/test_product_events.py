"""Product events to PostHog, with the real `posthog` client posting to a loopback server
that reads its batches: the key events arrive with our user ids and nothing personal, a
batch PostHog refused is sent again (with the same ids), and without a key nothing runs."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from entrypoints.bootstrap import Services
from infra.analytics.posthog import PostHogSink, PostHogUnavailable
from infra.eventstore.log_watcher import LogWatcher
from tests.harness import LiveServer, embedded_settings, running
from tests.integration.client import Api
from tests.receivers import CapturingServer
from workers.product_events import ProductEvents


def captured(server: CapturingServer) -> list[dict[str, Any]]:
    """Every event in the `/batch/` posts the server received."""
    return [e for r in server.snapshot() if r.path.startswith("/batch")
            for e in json.loads(r.body)["batch"]]


class Flaky:
    """Answers 503 to the first `failures` posts, then 200, as PostHog's capture does."""

    def __init__(self, failures: int) -> None:
        self.failures = failures

    def __call__(self, path: str) -> tuple[int, str, bytes]:
        if self.failures > 0:
            self.failures -= 1
            return 503, "application/json", b'{"error": "unavailable"}'
        return 200, "application/json", b'{"status": 1}'


@pytest.fixture
def posthog() -> Iterator[CapturingServer]:
    with CapturingServer(Flaky(0)) as server:
        yield server


@pytest.fixture
def live(tmp_path: Path, posthog: CapturingServer) -> Iterator[LiveServer]:
    with running(embedded_settings(tmp_path, posthog_key="phc_test_key",
                                   posthog_host=posthog.url)) as server:
        yield server


async def test_key_events_reach_posthog_without_personal_data(
        live: LiveServer, posthog: CapturingServer) -> None:
    api = Api(live.url, live.ws_url)
    try:
        owner = await api.register("phowner")
        fan = await api.register("phfan")
        channel = await api.channel(owner)
        stream = await api.go_live(owner, channel["id"])
        assert (await api.send(fan, stream["id"], "a secret message text")).status_code == 201
        followed = await api.http.post(f"/api/channels/{channel['id']}/follow",
                                       headers=fan["headers"])
        assert followed.status_code in (200, 201), followed.text
    finally:
        await api.close()

    def four_kinds() -> list[dict[str, Any]] | None:
        events = captured(posthog)
        kinds = {e["event"] for e in events}
        return events if {"signed up", "went live", "chatted", "followed"} <= kinds else None

    events = posthog.wait_for(four_kinds, timeout=20, what="the product events")
    by = {(e["event"], e["distinct_id"]) for e in events}
    assert {("signed up", owner["id"]), ("signed up", fan["id"]), ("went live", owner["id"]),
            ("chatted", fan["id"]), ("followed", fan["id"])} <= by
    went_live = next(e for e in events if e["event"] == "went live")
    assert went_live["properties"]["stream_id"] == stream["id"]
    assert len({e["uuid"] for e in events}) == len(events)
    body = b"".join(r.body for r in posthog.snapshot())
    for private in (b"@example.com", b"a secret message text", b"phowner", b"correct horse"):
        assert private not in body
    assert all(r.headers.get("content-type", "").startswith("application/json")
               for r in posthog.snapshot())
    assert b'"api_key": "phc_test_key"' in body


async def test_a_refused_batch_is_sent_again_with_the_same_ids(tmp_path: Path) -> None:
    with CapturingServer(Flaky(1)) as server:
        services = Services(embedded_settings(tmp_path))
        sink = PostHogSink("phc_test_key", server.url, timeout_s=2, max_retries=0)
        try:
            api_user = services.store  # events straight into the log, as any command does
            from domain.user import User

            api_user.save(User(email="x@example.com", username="x", display_name="X",
                               password_hash=None))
            worker = ProductEvents(services.store, services.db, LogWatcher(), sink.send)
            with pytest.raises(PostHogUnavailable):
                await worker.step()
            assert worker.position == 0 and len(captured(server)) == 1  # refused
            assert await worker.step()  # the restart sends it again; now it is taken
            refused, event = captured(server)
            assert event["event"] == "signed up" and refused == event
            assert worker.position == services.store.head()
            assert not await worker.step()  # nothing new
            attempts = [json.loads(r.body)["batch"][0]["uuid"] for r in server.snapshot()]
            assert len(attempts) == 2 and attempts[0] == attempts[1] == event["uuid"]
        finally:
            await asyncio.to_thread(sink.close)
            services.close()


def test_without_a_key_the_worker_does_not_run(tmp_path: Path) -> None:
    services = Services(embedded_settings(tmp_path))
    try:
        asyncio.run(_start_stop(services))
        assert services.product_events is None
        assert "product_events" not in {t.name for t in services.supervisor.tasks}
    finally:
        services.close()


async def _start_stop(services: Services) -> None:
    await services.start()
    await services.stop()
