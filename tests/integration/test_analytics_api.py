"""The analytics routes on both modes, after real sends over HTTP (two refused: by the
rate limit, and by the writer for a stream that has ended): the
operators' report with the operator token only, a channel's figures for its owner only,
and bad periods answered 422 naming the parameter."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from tests.harness import serving
from tests.integration.client import Api, assert_problem

OPERATOR = "operator-secret-for-analytics"


@pytest.mark.parametrize("mode", ["embedded", "production"])
async def test_the_analytics_routes(mode: str, tmp_path: Path) -> None:
    with serving(mode, tmp_path, operator_token=OPERATOR,
                 chat_rate_limit="3 per 60 seconds") as live:
        api = Api(live.url, live.ws_url)
        try:
            owner, viewer = await api.register(), await api.register()
            channel = await api.channel(owner)
            sid = (await api.go_live(owner, channel["id"]))["id"]
            for n in range(3):
                r = await api.send(viewer, sid, f"hello {n}")
                assert r.status_code == 201, r.text
            assert_problem(await api.send(viewer, sid, "one too many"), 429)  # the route's
            r = await api.http.post(f"/api/streams/{sid}/end", headers=owner["headers"])
            assert r.status_code == 200, r.text
            assert_problem(await api.send(owner, sid, "too late"), 409)  # the writer's
            # The recorder's timer, run now: the refusals become ChatRefusals.Counted events.
            recorder = live.app.litestar.state.refusals
            assert await asyncio.to_thread(recorder.flush) == 2

            admin = "/api/admin/analytics"
            assert_problem(await api.http.get(admin), 401)
            assert_problem(await api.http.get(admin, headers=owner["headers"]), 403)
            op = {"Authorization": f"Bearer {OPERATOR}"}
            assert_problem(await api.http.get(admin, params={"since": "soon"}, headers=op),
                           422, "since")
            assert_problem(await api.http.get(admin, params={
                "since": "2026-11-02", "until": "2026-11-01"}, headers=op), 422, "until")
            assert_problem(await api.http.get(admin, params={"until": "2001-01-01"},
                                              headers=op), 422, "until")
            r = await api.http.get(admin, headers=op)
            assert r.status_code == 200, r.text
            metrics = {m["key"]: m for m in r.json()["metrics"]}
            assert metrics["registered_users"]["value"] == 2
            assert metrics["creators_onboarded"]["value"] == 1
            assert metrics["chat_messages_per_stream_median"]["value"] == 3
            assert metrics["failed_chat_messages"]["value"] == pytest.approx(40.0)  # 2 of 5
            assert metrics["failed_chat_messages"]["met"] is False
            assert r.json()["refusals"] == {"rate_limited": 1, "stream_offline": 1}
            [stream] = r.json()["streams"]
            assert stream["streamId"] == sid and stream["messages"] == 3

            mine = f"/api/channels/{channel['id']}/analytics"
            assert_problem(await api.http.get(mine), 401)
            assert_problem(await api.http.get(mine, headers=viewer["headers"]), 403,
                           "channelId")
            assert_problem(await api.http.get(mine, params={"until": "x"},
                                              headers=owner["headers"]), 422, "until")
            r = await api.http.get(mine, headers=owner["headers"])
            assert r.status_code == 200, r.text
            body = r.json()
            assert body["channelId"] == channel["id"] and body["messages"] == 3
            assert [s["streamId"] for s in body["streams"]] == [sid]
            assert (body["followersGained"], body["followersLost"]) == (0, 0)
        finally:
            await api.close()
