"""The minimal WebSocket endpoint: subscribe to a stream and receive its new chat messages,
deletions and status changes as JSON frames `{"event": ..., "data": ...}`."""

from __future__ import annotations

import anyio
from litestar import WebSocket, websocket
from litestar.exceptions import WebSocketDisconnect
from litestar.params import FromPath

from read_api.deps import parse_id
from read_api.live import LiveHub, Subscriber

SLOW_CONSUMER = 4008  # application close code: the client fell too far behind


async def _pump(socket: WebSocket, sub: Subscriber, scope: anyio.CancelScope) -> None:
    while True:
        frame = await sub.frames.get()
        if frame is None:
            await socket.close(code=SLOW_CONSUMER, reason="slow consumer")
            scope.cancel()
            return
        await socket.send_data(frame.decode(), mode="text")


@websocket("/ws/streams/{stream_id:str}")
async def stream_socket(socket: WebSocket, stream_id: FromPath[str]) -> None:
    """Pushes `chat:message`, `chat:deleted`, `stream:status` and `stream:viewers`."""
    try:
        parse_id(stream_id, "stream")
    except Exception:
        await socket.close(code=4404, reason="unknown stream")
        return
    hub: LiveHub = socket.app.state.hub
    await socket.accept()
    sub = hub.subscribe(stream_id)
    try:
        await socket.send_json({"event": "subscribed", "data": {"streamId": stream_id}})
        async with anyio.create_task_group() as tg:
            tg.start_soon(_pump, socket, sub, tg.cancel_scope)
            while True:
                text = await socket.receive_data(mode="text")
                if text == "ping":
                    await socket.send_data('{"event":"pong","data":null}', mode="text")
    except WebSocketDisconnect:
        pass
    finally:
        hub.unsubscribe(sub)
