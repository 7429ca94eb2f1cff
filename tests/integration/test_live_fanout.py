"""Live fan-out from the commit, on the real services in production mode.

The API node that commits a batch of chat messages pushes them to its own rooms at once and
publishes them for the other nodes; every node also reads the relayed events as the
fallback, and a copy that arrives by a second path is dropped by message id. These tests
hold the contract to that: exactly once per viewer on every node, nothing lost when the
committing node never publishes, no gap when a viewer joins ahead of the read model, the
other room updates still arriving, and Socket.IO getting one packet per message, written
straight to websocket connections and queued for long-polling ones.
"""

from __future__ import annotations

import asyncio
import inspect
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest
from engineio.payload import Payload

import tests.integration.test_chat_nodes as chat_nodes
from commands.send_message import Author, MessageSent, SendMessage
from entrypoints.bootstrap import Services
from read_api.socketio_transport import _SioLink
from tests.harness import LiveServer, production_settings, serving
from tests.integration.client import Api
from tests.integration.live_support import (
    SioViewer,
    Topology,
    Viewer,
    WsViewer,
    close_all,
    compose_topology,
    count_by_id,
    read_model_contents,
    until_read_model_has,
    until_stream_readable,
)
from tests.integration.test_chat_nodes import two_nodes  # noqa: F401

pytestmark = pytest.mark.services

# After the last live copy, how long to keep listening for a second copy of anything
# (the relayed one follows the live one by a few milliseconds; the projector that tells us
# the relay has published is waited for first).
SETTLE_S = 0.5


@dataclass
class Cluster:
    """The two API nodes of `two_nodes` (each running the relay and the projectors, which
    take turns) and the namespace they share."""

    urls: list[str]
    namespace: str

    def apis(self) -> tuple[Api, Api]:
        a, b = (Api(u, u.replace("http", "ws")) for u in self.urls)
        return a, b


@pytest.fixture
def cluster(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Cluster:
    # `two_nodes` keeps its namespace to itself: note the one it draws, so this process
    # can commit into the same store as the nodes.
    drawn: list[str] = []
    draw = chat_nodes.new_namespace

    def noted() -> str:
        drawn.append(draw())
        return drawn[-1]

    monkeypatch.setattr(chat_nodes, "new_namespace", noted)
    # The nodes inherit this environment: bursts from one user are the point here.
    monkeypatch.setenv("AETHEX_CHAT_RATE_LIMIT", "none")
    urls = request.getfixturevalue("two_nodes")
    return Cluster(urls, drawn[0])


async def live_stream(api: Api) -> tuple[dict[str, Any], str, str]:
    """A signed-in owner, their live stream's id and its channel's id."""
    owner = await api.register()
    channel = await api.channel(owner)
    stream = await api.go_live(owner, channel["id"])
    await until_stream_readable(api, stream["id"])
    return owner, stream["id"], channel["id"]


async def ws_viewer(api: Api, label: str, stream_id: str,
                    token: str | None = None) -> WsViewer:
    viewer = await WsViewer.open(api, label, stream_id, token)
    await viewer.until_history()
    return viewer


async def sio_viewer(api: Api, label: str, stream_id: str, token: str | None = None,
                     transports: tuple[str, ...] = ("websocket",)) -> SioViewer:
    viewer = await SioViewer.open(api, label, token, transports)
    await viewer.join(stream_id)
    return viewer


def assert_once_each(viewer: Viewer, contents: list[str], *,
                     with_history: bool = False) -> None:
    """Each of `contents` reached the viewer exactly once (by id), with its position."""
    heard = viewer.messages() + (viewer.history or [] if with_history else [])
    mine = [m for m in heard if m["content"] in set(contents)]
    by_content = Counter(m["content"] for m in mine)
    assert by_content == Counter(contents), f"{viewer.label}: {by_content}"
    doubled = {i: n for i, n in count_by_id(viewer, with_history).items() if n > 1}
    assert not doubled, f"{viewer.label} heard some messages twice: {doubled}"
    assert all(isinstance(m["position"], int) and m["position"] > 0 for m in mine), mine
    assert not viewer.of("chat:error"), f"{viewer.label}: {viewer.of('chat:error')}"


async def test_every_viewer_on_both_nodes_hears_every_message_once(cluster: Cluster) -> None:
    """Senders on both nodes (HTTP and socket `chat:send`), viewers on both (plain WebSocket
    and Socket.IO): every message reaches every viewer exactly once, with the position it
    was stored at, and the viewers of one node hear them in one order."""
    a, b = cluster.apis()
    viewers: list[Viewer] = []
    try:
        owner, sid, _ = await live_stream(a)
        sio_user_a, sio_user_b, ws_user_b, http_user_b = [await a.register() for _ in range(4)]
        on_a = [await ws_viewer(a, "A ws", sid),
                await sio_viewer(a, "A sio", sid),
                await sio_viewer(a, "A sio sender", sid, sio_user_a["token"])]
        on_b = [await ws_viewer(b, "B ws", sid),
                await ws_viewer(b, "B ws sender", sid, ws_user_b["token"]),
                await sio_viewer(b, "B sio sender", sid, sio_user_b["token"])]
        viewers = on_a + on_b
        answers: dict[str, dict[str, Any]] = {}  # content -> the id and position it got

        async def over_http(api: Api, user: dict[str, Any], tag: str) -> None:
            for i in range(8):
                r = await api.send(user, sid, f"{tag} {i}")
                assert r.status_code == 201, r.text
                answers[f"{tag} {i}"] = r.json()

        async def over_socketio(viewer: SioViewer, tag: str) -> None:
            for i in range(8):
                answers[f"{tag} {i}"] = await viewer.call("chat:send", {"content": f"{tag} {i}"})

        async def over_websocket(viewer: WsViewer, tag: str) -> None:
            for i in range(8):  # the plain WebSocket answers nothing: pipelined
                await viewer.emit("chat:send", {"content": f"{tag} {i}"})

        sio_a, ws_b, sio_b = on_a[2], on_b[1], on_b[2]
        assert isinstance(sio_a, SioViewer) and isinstance(sio_b, SioViewer)
        assert isinstance(ws_b, WsViewer)
        await asyncio.gather(over_http(a, owner, "http A"), over_http(b, http_user_b, "http B"),
                             over_socketio(sio_a, "sio A"), over_socketio(sio_b, "sio B"),
                             over_websocket(ws_b, "ws B"))
        expected = [f"{tag} {i}" for tag in ("http A", "http B", "sio A", "sio B", "ws B")
                    for i in range(8)]
        for viewer in viewers:
            await viewer.until_contents(expected)
        # Every relayed copy has reached the nodes once the projector has every message
        # (they come off the same batches): a second copy would be in by now.
        await until_read_model_has(a, sid, set(expected))
        await asyncio.sleep(SETTLE_S)

        for viewer in viewers:
            assert_once_each(viewer, expected)
            assert len(viewer.messages()) == len(expected), viewer.label
            for m in viewer.messages():  # the stored id and position, whichever path
                answer = answers.get(m["content"])
                if answer is not None:
                    assert (m["id"], m["position"]) == (answer["id"], answer["position"])
        ids = {m["content"]: m["id"] for m in on_a[0].messages()}
        for viewer in viewers:
            assert {m["content"]: m["id"] for m in viewer.messages()} == ids, viewer.label
        for node in (on_a, on_b):
            orders = {v.label: [m["id"] for m in v.messages()] for v in node}
            assert len({tuple(o) for o in orders.values()}) == 1, orders
    finally:
        await close_all(viewers)
        await asyncio.gather(a.close(), b.close())


async def test_a_commit_never_published_live_reaches_both_nodes_and_resumes(
        cluster: Cluster, tmp_path: Path) -> None:
    """A node that dies right after its commit, before publishing live (here: messages
    committed through the group commit of a `Services` in this process, with no API node
    and no live feed): every viewer on both real nodes still hears them, once, from the
    relayed events; a viewer of the dead node who reconnects elsewhere with `since` gets
    exactly what it missed in its `chat:history`."""
    a, b = cluster.apis()
    viewers: list[Viewer] = []
    try:
        owner, sid, _ = await live_stream(a)
        viewers = [await ws_viewer(a, "A ws", sid), await sio_viewer(a, "A sio", sid),
                   await ws_viewer(b, "B ws", sid), await sio_viewer(b, "B sio", sid)]
        orphaned = await sio_viewer(a, "viewer of the dying node", sid)
        assert (await a.send(owner, sid, "before")).status_code == 201
        for viewer in [*viewers, orphaned]:
            await viewer.until_contents(["before"])
        last_seen = orphaned.messages()[-1]["id"]
        await orphaned.close()  # its node is gone

        dying = Services(production_settings(tmp_path, cluster.namespace))
        try:
            author = Author(id=UUID(owner["id"]), username=owner["username"],
                            display_name=owner["username"].title())
            results = await asyncio.gather(*(
                dying.chat(SendMessage(stream_id=UUID(sid), author=author,
                                       content=f"orphan {i}")) for i in range(3)))
        finally:
            dying.close()
        assert all(isinstance(r, MessageSent) for r in results), results
        orphans = [f"orphan {i}" for i in range(3)]
        positions = {r.message.content: r.position for r in results
                     if isinstance(r, MessageSent)}

        for viewer in viewers:
            await viewer.until_contents(orphans)
        await until_read_model_has(a, sid, set(orphans))
        await asyncio.sleep(SETTLE_S)
        for viewer in viewers:
            assert_once_each(viewer, ["before", *orphans])
            assert {m["content"]: m["position"] for m in viewer.messages()
                    if m["content"] in positions} == positions

        resumed = await SioViewer.open(b, "the same viewer, back on B")
        viewers.append(resumed)
        await resumed.join(sid, since=last_seen)
        assert [m["content"] for m in resumed.history or []] == orphans
    finally:
        await close_all(viewers)
        await asyncio.gather(a.close(), b.close())


@pytest.fixture(scope="module")
def compose(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Topology]:
    # One topology for the tests below (each has a stream of its own): starting one takes
    # most of a test's time.
    with compose_topology(tmp_path_factory.mktemp("compose")) as running:
        yield running


@pytest.fixture
def topology(compose: Topology) -> Iterator[Topology]:
    yield compose
    compose.resume_all()  # a test that failed with a worker paused leaves none paused


async def test_deletions_bans_status_and_viewer_counts_reach_both_nodes(
        topology: Topology) -> None:
    """What else a room hears keeps arriving on both nodes of the compose topology:
    `chat:deleted` after an HTTP delete, `chat:banned` (and the banned user's messages
    deleted), `stream:viewers` as viewers come and go on either node, `stream:status` when
    the owner ends the stream."""
    a, b = topology.api(0), topology.api(1)
    viewers: list[Viewer] = []
    leaver: Viewer | None = None
    try:
        owner, sid, channel_id = await live_stream(a)
        troll = await b.register()
        viewers = [await ws_viewer(a, "A ws", sid), await sio_viewer(a, "A sio", sid),
                   await ws_viewer(b, "B ws", sid), await sio_viewer(b, "B sio", sid)]
        leaver = await ws_viewer(b, "leaver", sid)  # the fifth: joins last, leaves first

        # Counts are sampled into the log and come from the read model: 5 can only reach
        # the first four live, and 4 after 5 only once the leaver has gone.
        def saw(*counts: int) -> Callable[[Viewer], bool]:
            def check(v: Viewer) -> bool:
                heard = [d["count"] for d in v.of("stream:viewers")]
                for count in counts:
                    if count not in heard:
                        return False
                    heard = heard[heard.index(count) + 1:]
                return True
            return check

        for viewer in viewers:
            await viewer.until(saw(5), "stream:viewers 5")
        await leaver.close()
        leaver = None
        for viewer in viewers:
            await viewer.until(saw(5, 4), "stream:viewers 4 after 5")

        doomed = (await a.send(owner, sid, "to be deleted")).json()
        trolling = (await b.send(troll, sid, "trolling")).json()
        for viewer in viewers:
            await viewer.until_contents(["to be deleted", "trolling"])
        r = await b.http.delete(f"/api/messages/{doomed['id']}", headers=owner["headers"])
        assert r.status_code == 200, r.text
        for viewer in viewers:
            await viewer.until(lambda v: doomed["id"] in {
                d["messageId"] for d in v.of("chat:deleted")}, "chat:deleted")

        r = await a.http.post(f"/api/users/{troll['id']}/block",
                              json={"channelId": channel_id}, headers=owner["headers"])
        assert r.status_code == 200, r.text
        assert trolling["id"] in r.json()["removedMessageIds"]
        for viewer in viewers:
            await viewer.until(lambda v: troll["id"] in {
                d["userId"] for d in v.of("chat:banned")}, "chat:banned")
            await viewer.until(lambda v: trolling["id"] in {
                d["messageId"] for d in v.of("chat:deleted")}, "the banned user's message deleted")

        ended = await b.http.post(f"/api/streams/{sid}/end", headers=owner["headers"])
        assert ended.status_code == 200, ended.text
        for viewer in viewers:
            await viewer.until(lambda v: any(
                d["status"] == ended.json()["status"] and d["endTime"]
                for d in v.of("stream:status")), "stream:status ended")
        for viewer in viewers:  # one copy of each deletion and ban per viewer
            deleted = Counter(d["messageId"] for d in viewer.of("chat:deleted"))
            assert deleted == Counter([doomed["id"], trolling["id"]]), viewer.label
            assert len(viewer.of("chat:banned")) == 1, viewer.label
    finally:
        await close_all([*viewers, *([leaver] if leaver else [])])
        await asyncio.gather(a.close(), b.close())


async def test_a_join_ahead_of_the_read_model_gets_what_was_pushed(topology: Topology) -> None:
    """The compose topology, projectors paused: messages still reach the room at once
    (live delivery waits for no projector), and a viewer who joins before the read model
    has them finds them in its `chat:history`. With the relay paused as well, the other
    node still hears them (the committing node's live copy) and so do its joins. Once
    both resume, nothing arrives twice: not the relayed copies, not between a history and
    what follows it live."""
    a, b = topology.api(0), topology.api(1)
    viewers: list[Viewer] = []
    try:
        owner, sid, _ = await live_stream(a)
        await until_stream_readable(b, sid)
        chatter = await b.register()
        sender = await sio_viewer(b, "B sio sender", sid, chatter["token"])
        early = [await ws_viewer(a, "A ws", sid), await sio_viewer(a, "A sio", sid),
                 await ws_viewer(b, "B ws", sid), sender]
        viewers = list(early)

        async def send(tag: str) -> list[str]:
            sent = []
            for i in range(3):  # from the owner over HTTP on A
                assert (await a.send(owner, sid, f"{tag} a{i}")).status_code == 201
                sent.append(f"{tag} a{i}")
            for i in range(2):  # from a socket on B
                await sender.call("chat:send", {"content": f"{tag} b{i}"})
                sent.append(f"{tag} b{i}")
            return sent

        async def joiners(tag: str) -> list[Viewer]:
            joined = [await sio_viewer(a, f"A sio, joined {tag}", sid),
                      await ws_viewer(b, f"B ws, joined {tag}", sid)]
            viewers.extend(joined)
            return joined

        topology.pause(topology.projectors)
        first = await send("projectors paused:")
        for viewer in viewers:
            await viewer.until_contents(first)
        # Heard live while the read model has none of them: the projector did not gate it.
        assert not set(first) & await read_model_contents(a, sid)
        late = await joiners("with the projectors paused")
        for viewer in late:
            assert [m["content"] for m in viewer.history or []] == first, viewer.label

        topology.pause(topology.relay)
        second = await send("relay paused:")
        for viewer in viewers:
            await viewer.until_contents(second)
        later = await joiners("with the relay paused")
        for viewer in later:
            assert [m["content"] for m in viewer.history or []] == first + second

        topology.resume(topology.relay)
        topology.resume(topology.projectors)
        await until_read_model_has(a, sid, set(first + second))
        last = await joiners("after the read model caught up")
        await asyncio.sleep(SETTLE_S)

        everything = first + second
        for viewer in early:
            assert_once_each(viewer, everything)
        for viewer in late:
            assert_once_each(viewer, everything, with_history=True)
            assert [m["content"] for m in viewer.messages()] == second, viewer.label
        for viewer in later + last:
            assert_once_each(viewer, everything, with_history=True)
            assert not viewer.messages(), viewer.label
        for viewer in late + later + last:
            positions = [m["position"] for m in viewer.history or []]
            assert positions == sorted(positions), viewer.label
    finally:
        await close_all(viewers)
        await asyncio.gather(a.close(), b.close())


class FrameTally:
    """Stands in for a Socket.IO session's direct writer: passes every frame on to the
    real one and counts the `chat:message` packets that went straight to the wire."""

    PACKET = b'42["chat:message"'

    def __init__(self, link: _SioLink) -> None:
        self.link = link
        self.direct = 0
        self.largest = 0  # the most packets in one room frame offered (coalesced if > 1)

    def write(self, frame: bytes) -> bool:
        packets = frame.count(self.PACKET)
        self.largest = max(self.largest, packets)
        written = self.link.write(frame)
        if written:
            self.direct += packets
        return written


class SlowPathTally:
    """Counts the `chat:message` packets a Socket.IO connection got through Engine.IO's
    queue or the connection's ASGI send (anything but the direct write)."""

    def __init__(self, eio: Any) -> None:
        self.queued = 0
        self.sent = 0
        queue_send = eio.send

        async def counted_queue(pkt: Any) -> None:
            if '"chat:message"' in str(pkt.data):
                self.queued += 1
            await queue_send(pkt)

        eio.send = counted_queue
        ws = getattr(eio, "aethex_ws", None)
        if ws is not None:
            ws_send = ws.send

            async def counted_send(message: Any) -> None:
                if '"chat:message"' in str(message):
                    self.sent += 1
                await ws_send(message)

            ws.send = counted_send


async def test_socketio_one_packet_per_message_direct_on_websocket_queued_when_polling(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """In one room, a long-polling Socket.IO client gets every `chat:message` (through
    Engine.IO's queue), and a websocket one gets one `chat:message` per message even when
    the hub coalesced a burst into room frames, every one of them written straight to its
    connection."""
    # A poll answers with everything queued since the last one; the Python client refuses
    # answers of more than 16 packets (the stock JavaScript client has no such limit).
    monkeypatch.setattr(Payload, "max_decode_packets", 256)
    # Paced at the whole window whatever the room's size (a room of two is otherwise
    # paced to almost nothing), so the burst is coalesced.
    with serving("production", tmp_path, ws_coalesce_ms=50.0, ws_room_writes_per_s=0,
                 chat_rate_limit="none") as live:
        api = Api(live.url, live.ws_url)
        viewers: list[Viewer] = []
        try:
            owner, sid, _ = await live_stream(api)
            websocket = await sio_viewer(api, "websocket", sid)
            polling = await sio_viewer(api, "polling", sid, transports=("polling",))
            viewers = [websocket, polling]
            tallies = await on_server_loop(live, lambda: install_tallies(live))
            by_client = {v.label: tallies[v.client.eio.sid] for v in (websocket, polling)}

            burst = [f"burst {i}" for i in range(20)]
            sent = await asyncio.gather(*(api.send(owner, sid, c) for c in burst))
            assert all(r.status_code == 201 for r in sent), [r.text for r in sent]
            for viewer in viewers:
                await viewer.until_contents(burst)
            await asyncio.sleep(SETTLE_S)
            for viewer in viewers:
                assert_once_each(viewer, burst)
                assert len(viewer.messages()) == len(burst), viewer.label

            frames, slow = by_client["websocket"]
            assert (frames.direct, slow.queued, slow.sent) == (len(burst), 0, 0)
            assert frames.largest > 1, "the burst was never coalesced: nothing proven"
            frames, slow = by_client["polling"]
            assert frames.direct == 0 and slow.queued == len(burst)
        finally:
            for viewer in viewers:
                await close_from_server(live, viewer)
            await close_all(viewers)
            await api.close()


async def on_server_loop(live: LiveServer, fn: Any) -> Any:
    """Runs `fn` on the server's event loop (the sessions live there), returns its result
    (awaited, if it is awaitable)."""
    async def call() -> Any:
        result = fn()
        return await result if inspect.isawaitable(result) else result

    loop = live.app.litestar.state.loop
    return await asyncio.wrap_future(asyncio.run_coroutine_threadsafe(call(), loop))


async def close_from_server(live: LiveServer, viewer: Viewer) -> None:
    """Closes a long-polling client's Engine.IO session from the server, which answers its
    pending poll with the close: closed by the client, it would wait for the server's next
    ping (25 s), and the abandoned poll would hold up the server's shutdown."""
    if not isinstance(viewer, SioViewer) or viewer.client.transport() != "polling":
        return
    eio_sid = viewer.client.eio.sid
    if eio_sid is None:
        return
    await on_server_loop(live, lambda: live.app.litestar.state.sio.eio.disconnect(eio_sid))
    deadline = time.monotonic() + 5
    while viewer.client.eio.state != "disconnected" and time.monotonic() < deadline:
        await asyncio.sleep(0.02)


def install_tallies(live: LiveServer) -> dict[str, tuple[FrameTally, SlowPathTally]]:
    """Wraps every Socket.IO session's ways to the wire; by Engine.IO session id."""
    tallies = {}
    for session in live.app.litestar.state.gateway.sessions:
        link = session.direct
        assert isinstance(link, _SioLink), link
        frames = FrameTally(link)
        session.direct = frames
        tallies[link.eio.sid] = (frames, SlowPathTally(link.eio))
    return tallies


class AckTally:
    """Stands in for a link in the server's ack table: counts acknowledgements written
    straight to the connection."""

    def __init__(self, link: _SioLink) -> None:
        self.link = link
        self.direct = 0
        self.eio = link.eio
        self.engine_used = link.engine_used

    def write(self, frame: bytes) -> bool:
        written = self.link.write(frame)
        if written and b'43' in frame[:12]:  # the frame's text starts "43<id>[...]"
            self.direct += 1
        return written

    def __setattr__(self, name: str, value: Any) -> None:
        if name == "engine_used" and "link" in self.__dict__:
            self.link.engine_used = value
        object.__setattr__(self, name, value)


async def test_socketio_acks_go_straight_to_a_websocket_and_through_engineio_when_polling(
        tmp_path: Path) -> None:
    """A sender's acknowledgements take the direct path on the websocket transport, in
    order with the room's pushes; a long-polling sender gets them through Engine.IO."""
    with serving("production", tmp_path, chat_rate_limit="none") as live:
        api = Api(live.url, live.ws_url)
        viewers: list[Viewer] = []
        try:
            owner, sid, _ = await live_stream(api)
            websocket = await sio_viewer(api, "websocket", sid, owner["token"])
            polling = await sio_viewer(api, "polling", sid, owner["token"],
                                       transports=("polling",))
            viewers = [websocket, polling]
            sio = live.app.litestar.state.sio

            def tally() -> dict[str, AckTally]:
                tallies = {eio_sid: AckTally(link) for eio_sid, link in sio.links.items()}
                sio.links.update(tallies)
                return tallies

            tallies = await on_server_loop(live, tally)
            for i in range(5):
                for viewer in viewers:
                    ack = await viewer.call("chat:send", {"content": f"{viewer.label} {i}"})
                    assert ack["id"] and ack["position"] > 0
            contents = [f"{v.label} {i}" for v in viewers for i in range(5)]
            for viewer in viewers:
                await viewer.until_contents(contents)
                assert_once_each(viewer, contents)
            assert tallies[websocket.client.eio.sid].direct == 5
            assert tallies[polling.client.eio.sid].direct == 0
        finally:
            for viewer in viewers:
                await close_from_server(live, viewer)
            await close_all(viewers)
            await api.close()
