"""A chat join happens whole or not at all: everything it reads is read before its first
frame goes out, so a store that fails during the join refuses it cleanly (no history, not
in the room), and one that fails after the history finds the join done. Telling the
others that a user joined is best effort while the broker is away."""

from __future__ import annotations

import uuid
from types import SimpleNamespace
from typing import Any

import psycopg

from infra.identity.auth import Principal
from infra.shared_state.presence import MemoryPresence
from read_api.chat_gateway import ChatGateway
from read_api.live import LiveHub

STREAM = str(uuid.uuid4())
CHANNEL = str(uuid.uuid4())
STREAM_VIEW = {"id": STREAM, "channelId": CHANNEL, "status": "LIVE", "peakViewers": 0}


class Reads:
    async def query(self, fn: Any, *args: Any) -> Any:
        name = fn.__name__
        if name == "get_stream":
            return dict(STREAM_VIEW)
        if name == "ignored_ids":
            return set()
        if name == "history_for_join":
            return [], 0
        raise AssertionError(f"unexpected read {name}")

    async def caught_up(self, names: Any, position: int) -> None:
        return None


class Roster:
    def __init__(self, chatter_fails: bool) -> None:
        self.chatter_fails = chatter_fails

    async def page(self, stream_id: str, limit: int) -> dict[str, Any]:
        return {"items": [], "next": None}

    async def chatter(self, channel_id: str, user_id: str) -> dict[str, Any]:
        if self.chatter_fails:
            raise psycopg.OperationalError("server closed the connection unexpectedly")
        return {"badges": []}


class Bus:
    def __init__(self, fails: bool) -> None:
        self.fails = fails
        self.published: list[Any] = []

    async def publish_live(self, updates: Any, **_: Any) -> None:
        if self.fails:
            raise ConnectionError("broker away")
        self.published.extend(updates)


def gateway(*, chatter_fails: bool = False,
            bus_fails: bool = False) -> tuple[ChatGateway, MemoryPresence, Bus]:
    presence = MemoryPresence(30.0)
    bus = Bus(bus_fails)
    services = SimpleNamespace(
        settings=SimpleNamespace(ws_max_queue=100, chat_history_size=50),
        presence=presence, rate_limiter=None, refusals=None, reads=Reads(),
        aggregates=None, bus=bus)
    gw = ChatGateway(services, LiveHub())  # type: ignore[arg-type]
    gw._roster = Roster(chatter_fails)  # type: ignore[assignment]
    return gw, presence, bus


def signed_in() -> Principal:
    return Principal(user_id=uuid.uuid4(), username="ada", display_name="Ada")


async def test_a_store_that_fails_during_the_join_refuses_it_whole() -> None:
    gw, presence, bus = gateway(chatter_fails=True)
    session = gw.open(signed_in())
    answer = await gw.handle(session, "chat:join", {"streamId": STREAM})
    assert answer["ok"] is False and answer["code"] == "unavailable"
    events = [f.event for f in session.frames]
    assert events == ["chat:error"]  # no history, no users: nothing of a join went out
    assert session.stream_id is None and await presence.count(STREAM) == 0
    assert bus.published == []


async def test_a_broker_away_after_the_history_leaves_the_join_done() -> None:
    gw, presence, _ = gateway(bus_fails=True)
    session = gw.open(signed_in())
    answer = await gw.handle(session, "chat:join", {"streamId": STREAM})
    assert answer["ok"] is True, answer
    events = [f.event for f in session.frames]
    assert events[:2] == ["chat:history", "chat:users"] and "chat:error" not in events
    assert session.stream_id == STREAM and await presence.count(STREAM) == 1


async def test_a_join_announces_the_user_to_the_room() -> None:
    gw, _, bus = gateway()
    session = gw.open(signed_in())
    assert (await gw.handle(session, "chat:join", {"streamId": STREAM}))["ok"] is True
    assert [u.event for u in bus.published] == ["chat:user-joined"]
    assert bus.published[0].data["username"] == "ada"
