"""The plan-style chat server the Socket.IO benchmark measures us against.

Built the way the product plan describes a chat backend, and nothing more: a python-socketio
AsyncServer (ASGI) under uvicorn with uvloop in one process, a psycopg 3 async connection
pool to PostgreSQL, and for each `chat:send` one INSERT (autocommit) followed by
`emit('chat:message', ..., room=stream_id)`. It speaks our client contract for what the
benchmark uses:

  connect with auth {token}  any token is accepted and taken as the user name; none: anonymous
  chat:join {streamId}       joins the room; ack {ok: true}
  chat:send {content}        ack {ok: true, id, position}; the room gets chat:message
                             {id, streamId, user: {id, username, displayName, badges: []},
                              content, createdAt, position} (position from a BIGSERIAL)

Its table lives in a schema of its own (--schema), created at start-up and dropped at
shutdown. It is the figure to beat, so it is kept plain but not crippled: the same uvicorn
WebSocket implementation and settings as `aethex serve`.

  .venv/bin/python scripts/baseline_sio_server.py --port 19500 --schema baseline_sio_1
"""

from __future__ import annotations

import argparse
import os
import uuid
from typing import Any

import psycopg
import socketio
import uvicorn
from psycopg import sql
from psycopg_pool import AsyncConnectionPool

DATABASE_URL = os.environ.get("AETHEX_BENCH_DATABASE_URL",
                              "postgresql://postgres@127.0.0.1:5432/postgres")
_NAMESPACE = uuid.UUID("7b1e4c1e-0d0a-4b8e-9d4f-5a7c2b1e0f00")  # stable user ids per name


def create_app(database_url: str, schema: str, pool_size: int = 10) -> socketio.ASGIApp:
    """The whole server as one ASGI app; its lifespan opens the pool and owns the schema."""
    sio = socketio.AsyncServer(async_mode="asgi", cors_allowed_origins="*")
    pool = AsyncConnectionPool(database_url, min_size=pool_size, max_size=pool_size,
                               kwargs={"autocommit": True}, open=False)
    table = sql.Identifier(schema, "chat_messages")
    insert = sql.SQL(
        "INSERT INTO {} (id, stream_id, user_id, username, content) "
        "VALUES (%s, %s, %s, %s, %s) RETURNING position, created_at").format(table)
    users: dict[str, dict[str, Any]] = {}  # sid -> the signed-in user (absent: anonymous)
    rooms: dict[str, str] = {}  # sid -> the stream it joined

    async def startup() -> None:
        async with await psycopg.AsyncConnection.connect(database_url, autocommit=True) as conn:
            await conn.execute(sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(
                sql.Identifier(schema)))
            await conn.execute(sql.SQL(
                "CREATE TABLE IF NOT EXISTS {} ("
                " position BIGSERIAL PRIMARY KEY, id UUID NOT NULL, stream_id TEXT NOT NULL,"
                " user_id UUID NOT NULL, username TEXT NOT NULL, content TEXT NOT NULL,"
                " created_at TIMESTAMPTZ NOT NULL DEFAULT now())").format(table))
        await pool.open(wait=True)

    async def shutdown() -> None:
        await pool.close()
        async with await psycopg.AsyncConnection.connect(database_url, autocommit=True) as conn:
            await conn.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(
                sql.Identifier(schema)))

    @sio.event
    async def connect(sid: str, environ: dict[str, Any], auth: Any = None) -> None:
        token = auth.get("token") if isinstance(auth, dict) else None
        if isinstance(token, str) and token:
            users[sid] = {"id": str(uuid.uuid5(_NAMESPACE, token)), "username": token,
                          "displayName": token, "badges": []}

    @sio.event
    async def disconnect(sid: str, reason: Any = None) -> None:
        users.pop(sid, None)
        rooms.pop(sid, None)

    @sio.on("chat:join")
    async def join(sid: str, data: Any = None) -> dict[str, Any]:
        stream_id = data.get("streamId") if isinstance(data, dict) else None
        if not isinstance(stream_id, str) or not stream_id:
            return {"ok": False, "code": "bad_request", "message": "expected {streamId: string}"}
        if sid in rooms:
            await sio.leave_room(sid, rooms[sid])
        await sio.enter_room(sid, stream_id)
        rooms[sid] = stream_id
        return {"ok": True, "streamId": stream_id}

    @sio.on("chat:send")
    async def send(sid: str, data: Any = None) -> dict[str, Any]:
        user, stream_id = users.get(sid), rooms.get(sid)
        content = data.get("content") if isinstance(data, dict) else None
        if user is None:
            return {"ok": False, "code": "unauthenticated", "message": "connect with a token"}
        if stream_id is None:
            return {"ok": False, "code": "not_joined", "message": "join a stream first"}
        if not isinstance(content, str) or not 1 <= len(content.strip()) <= 500:
            return {"ok": False, "code": "invalid_content", "message": "1-500 characters"}
        message_id = uuid.uuid4()
        async with pool.connection() as conn:
            cur = await conn.execute(insert, (message_id, stream_id, user["id"],
                                              user["username"], content))
            row = await cur.fetchone()
        assert row is not None
        position, created_at = row
        await sio.emit("chat:message", {
            "id": str(message_id), "streamId": stream_id, "user": user, "content": content,
            "createdAt": created_at.isoformat(), "position": position}, room=stream_id)
        return {"ok": True, "id": str(message_id), "position": position}

    return socketio.ASGIApp(sio, on_startup=startup, on_shutdown=shutdown)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8100)
    p.add_argument("--schema", default=f"baseline_sio_{os.getpid()}",
                   help="PostgreSQL schema of its table, dropped at shutdown")
    p.add_argument("--database-url", default=DATABASE_URL)
    p.add_argument("--pool-size", type=int, default=10)
    args = p.parse_args()
    uvicorn.run(create_app(args.database_url, args.schema, args.pool_size), host=args.host,
                port=args.port, loop="uvloop", lifespan="on", log_level="warning",
                access_log=False, ws="websockets-sansio",
                # As `aethex serve`: zlib per frame per connection costs more CPU than it saves.
                ws_per_message_deflate=False, timeout_graceful_shutdown=5)


if __name__ == "__main__":
    main()
