"""A room's frames are paced to one per coalescing window: a quiet room's first update goes
out at once, what follows within the window goes out together at its end, in order."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from itertools import pairwise

from infra.messaging.bus import LiveUpdate
from read_api.live import Batch, LiveHub, Outgoing, flatten

WINDOW_S = 0.05


class Recorder:
    """A listener that records each delivery with the loop time it arrived."""

    def __init__(self) -> None:
        self.frames: list[tuple[float, list[str]]] = []

    def deliver(self, items: Sequence[Outgoing]) -> None:
        assert len(items) == 1  # one frame per delivery: an event or a room-wide Batch
        contents = [o.data["content"] for o in flatten(items)]
        self.frames.append((asyncio.get_running_loop().time(), contents))


async def until(condition: Callable[[], bool], timeout: float = 5.0) -> None:
    """Yields to the loop until `condition()` holds (a slow machine only makes it take
    longer); fails after `timeout`."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not condition():
        assert loop.time() < deadline, "timed out waiting for the frames"
        await asyncio.sleep(0.001)


def chat(stream_id: str, *contents: str) -> list[LiveUpdate]:
    return [LiveUpdate(stream_id, "chat:message", {"content": c}) for c in contents]


async def test_a_quiet_room_gets_its_first_update_at_once() -> None:
    hub, viewer = LiveHub(coalesce_s=WINDOW_S), Recorder()
    hub.join("s1", viewer)
    t0 = asyncio.get_running_loop().time()
    await hub.dispatch(chat("s1", "a"))
    assert len(viewer.frames) == 1
    at, contents = viewer.frames[0]
    assert contents == ["a"] and at - t0 < WINDOW_S / 2


async def test_updates_within_the_window_go_out_together_at_its_end() -> None:
    hub, viewer = LiveHub(coalesce_s=WINDOW_S), Recorder()
    hub.join("s1", viewer)
    await hub.dispatch(chat("s1", "a"))
    await hub.dispatch(chat("s1", "b", "c"))
    await hub.dispatch(chat("s1", "d"))
    assert [c for _, c in viewer.frames] == [["a"]]  # the rest waits for the window
    await until(lambda: len(viewer.frames) >= 2)
    assert [c for _, c in viewer.frames] == [["a"], ["b", "c", "d"]]
    first, second = viewer.frames[0][0], viewer.frames[1][0]
    assert second - first >= WINDOW_S * 0.95  # one frame per window, no sooner


async def test_a_busy_room_gets_one_frame_per_window() -> None:
    hub, viewer = LiveHub(coalesce_s=WINDOW_S), Recorder()
    hub.join("s1", viewer)
    sent = [f"m{i}" for i in range(30)]
    for content in sent:
        await hub.dispatch(chat("s1", content))
        await asyncio.sleep(WINDOW_S / 10)
    await until(lambda: sum(len(frame) for _, frame in viewer.frames) >= len(sent))
    assert [c for _, frame in viewer.frames for c in frame] == sent  # nothing lost, in order
    times = [at for at, _ in viewer.frames]
    assert all(b - a >= WINDOW_S * 0.95 for a, b in pairwise(times))
    assert len(viewer.frames) < len(sent) / 3


async def test_rooms_are_paced_apart() -> None:
    hub, one, two = LiveHub(coalesce_s=WINDOW_S), Recorder(), Recorder()
    hub.join("s1", one)
    hub.join("s2", two)
    await hub.dispatch(chat("s1", "a"))
    await hub.dispatch(chat("s2", "x"))  # s1's window does not hold s2 back
    assert [c for _, c in one.frames] == [["a"]] and [c for _, c in two.frames] == [["x"]]


async def test_a_batch_is_built_once_for_the_room() -> None:
    hub, one, two = LiveHub(coalesce_s=WINDOW_S), Recorder(), Recorder()
    got: list[Outgoing] = []
    one.deliver = lambda items: got.extend(items)  # type: ignore[method-assign]
    two.deliver = lambda items: got.extend(items)  # type: ignore[method-assign]
    hub.join("s1", one)
    hub.join("s1", two)
    await hub.dispatch(chat("s1", "a", "b"))
    assert len(got) == 2 and isinstance(got[0], Batch) and got[0] is got[1]


async def test_without_a_window_every_dispatch_goes_out_at_once() -> None:
    hub, viewer = LiveHub(coalesce_s=0.0), Recorder()
    viewer.deliver = lambda items: viewer.frames.append(  # type: ignore[method-assign]
        (0.0, [o.data["content"] for o in flatten(items)]))
    hub.join("s1", viewer)
    await hub.dispatch(chat("s1", "a"))
    await hub.dispatch(chat("s1", "b"))
    assert [c for _, c in viewer.frames] == [["a"], ["b"]]


async def test_leaving_forgets_the_room() -> None:
    hub, viewer = LiveHub(coalesce_s=WINDOW_S), Recorder()
    hub.join("s1", viewer)
    await hub.dispatch(chat("s1", "a"))
    hub.leave("s1", viewer)
    assert "s1" not in hub.rooms and hub.connections == 0
    hub.join("s1", viewer)  # a new room starts quiet: its first update goes at once
    await hub.dispatch(chat("s1", "b"))
    assert [c for _, c in viewer.frames] == [["a"], ["b"]]


class Many:
    """A listener standing for a room's other connections: counts deliveries only."""

    def deliver(self, items: Sequence[Outgoing]) -> None:
        pass


async def test_a_small_room_is_paced_by_its_writes_not_the_whole_window() -> None:
    """With a write budget, a room of a few listeners gets each update at once even when
    they come faster than the window; a big room is paced at the whole window."""
    hub = LiveHub(coalesce_s=WINDOW_S, writes_per_s=1000.0)
    small = Recorder()
    hub.join("small", small)  # 1 listener: frames at least 1 ms apart
    big = Recorder()
    hub.join("big", big)
    for _ in range(199):  # 200 listeners: 200 ms, so the whole window
        hub.join("big", Many())
    assert hub.window("small") == 0.001 and hub.window("big") == WINDOW_S
    for i in range(5):
        await hub.dispatch(chat("small", f"s{i}") + chat("big", f"b{i}"))
        await asyncio.sleep(0.005)
    await until(lambda: sum(len(f) for _, f in big.frames) == 5)
    assert [f for _, f in small.frames] == [[f"s{i}"] for i in range(5)]  # each on its own
    assert big.frames[0][1] == ["b0"] and len(big.frames) < 5  # coalesced
    assert [c for _, f in big.frames for c in f] == [f"b{i}" for i in range(5)]
