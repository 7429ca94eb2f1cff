"""`/metrics` (Prometheus text) and the operator endpoint, on a real server in both modes."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.harness import (
    LiveServer,
    drop_namespace,
    embedded_settings,
    new_namespace,
    production_settings,
    require_services,
    running,
)
from tests.integration.client import Api, assert_problem

TOKEN = "operator-token-for-tests-0123456789"


@pytest.fixture(params=["embedded", "production"])
def server(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[LiveServer]:
    if request.param == "embedded":
        with running(embedded_settings(tmp_path, operator_token=TOKEN)) as live:
            yield live
        return
    require_services()
    namespace = new_namespace()
    try:
        with running(production_settings(tmp_path, namespace, operator_token=TOKEN)) as live:
            yield live
    finally:
        drop_namespace(namespace)


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    out = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


def value(found: dict, name: str, **labels: str) -> float:
    matching = [v for (n, ls), v in found.items()
                if n == name and all((k, want) in ls for k, want in labels.items())]
    assert matching, f"no sample {name} {labels}"
    return sum(matching)


async def scrape(api: Api) -> dict:
    r = await api.http.get("/metrics")
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/plain")
    return samples(r.text)


async def wait_for_projections(api: Api, head: int) -> dict:
    headers = {"Authorization": f"Bearer {TOKEN}"}
    for _ in range(200):
        body = (await api.http.get("/api/admin/projections", headers=headers)).json()
        if all(p["position"] >= head for p in body["projections"]):
            return body
        await asyncio.sleep(0.05)
    raise AssertionError(f"projections did not reach {head}: {body}")


async def test_metrics_expose_commands_events_batches_lag_sockets_and_latency(
        server: LiveServer) -> None:
    api = Api(server.url, server.ws_url)
    try:
        before = await scrape(api)
        owner = await api.register()
        channel = await api.channel(owner)
        stream = await api.go_live(owner, channel["id"])
        sent = await asyncio.gather(*(api.send(owner, stream["id"], f"hi {i}")
                                      for i in range(20)))
        assert all(r.status_code == 201 for r in sent), sent[0].text
        ws = await api.subscribe(stream["id"], owner["token"])
        try:
            head = max(r.json()["position"] for r in sent)
            await wait_for_projections(api, head)
            after = await scrape(api)
        finally:
            await ws.close()

        def grew(name: str, **labels: str) -> float:
            was = ([v for (n, ls), v in before.items() if n == name
                    and all((k, x) in ls for k, x in labels.items())] or [0.0])
            return value(after, name, **labels) - sum(was)

        assert grew("aethex_commands_total", command="send_message") == 20
        assert grew("aethex_commands_total", command="go_live") == 1
        assert grew("aethex_events_appended_total") >= 20 + 3
        assert grew("aethex_events_relayed_total") >= 20
        assert grew("aethex_events_projected_total", projection="chat_history") == 20
        assert grew("aethex_group_commit_batch_size_count", writer="chat") >= 1
        assert grew("aethex_group_commit_batch_size_sum", writer="chat") == 20
        assert value(after, "aethex_event_store_head") >= head
        assert value(after, "aethex_projection_lag_events", projection="chat_history") == 0
        assert ("aethex_relay_lag_events", ()) in after
        assert value(after, "aethex_websocket_connections") == 1
        # Latency by route template: one series for every stream, not one per id.
        route = "/api/streams/{stream_id}/messages"
        assert grew("aethex_http_request_duration_seconds_count", route=route,
                    method="POST", status="201") == 20
        assert not any(stream["id"] in dict(ls).get("route", "") for _, ls in after)
    finally:
        await api.close()


async def test_admin_projections_needs_the_operator_token(server: LiveServer) -> None:
    async with httpx.AsyncClient(base_url=server.url, timeout=10) as http:
        assert_problem(await http.get("/api/admin/projections"), 401)
        assert_problem(await http.get("/api/admin/projections",
                                      headers={"Authorization": "Bearer wrong"}), 403)
        assert_problem(await http.get("/api/admin/projections",
                                      headers={"Authorization": f"Bearer {TOKEN}x"}), 403)
        r = await http.get("/api/admin/projections",
                           headers={"Authorization": f"Bearer {TOKEN}"})
        assert r.status_code == 200
        body = r.json()
        names = {p["name"] for p in body["projections"]}
        assert {"users", "channel_page", "stream_status", "chat_history"} <= names
        for p in body["projections"]:
            assert set(p) >= {"position", "head", "lagEvents", "lagSeconds", "lastError"}
        assert body["relay"]["lagEvents"] >= 0


async def test_admin_endpoint_is_closed_without_a_configured_token(tmp_path: Path) -> None:
    with running(embedded_settings(tmp_path)) as live:
        async with httpx.AsyncClient(base_url=live.url, timeout=10) as http:
            assert_problem(await http.get("/api/admin/projections",
                                          headers={"Authorization": "Bearer anything"}), 403)
