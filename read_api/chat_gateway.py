"""The chat gateway: the plan's socket contract, whatever the transport.

Transports (plain WebSocket, Socket.IO) are thin: they authenticate, turn frames into
`handle(session, event, data)` calls and drain each session's outgoing queue. Everything
else lives here: joining rooms with history and resume, sending through the same
group-committed command as HTTP, rate limits, typing, joins and leaves, presence.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from collections import deque
from collections.abc import Callable, Sequence
from typing import Any, Protocol
from uuid import UUID

import structlog

from commands.delete_message import DeleteMessage
from commands.send_message import Author, SendMessage
from domain.errors import DomainError, RateLimited
from domain.stream import Stream
from infra.identity.auth import Principal
from infra.messaging.bus import LiveUpdate
from infra.observability import sentry, tracing
from infra.runtime.outages import is_outage
from infra.shared_state.presence import member_of
from projections.chat_history import history_for_join
from projections.ignores import ignored_ids
from projections.stream_status import get_stream
from read_api.chatters import Roster
from read_api.live import Batch, LiveHub, Outgoing
from read_api.realtime.recent import RecentMessages, merge_history
from read_api.services import Services

log = structlog.get_logger(__name__)


class ChatError(Exception):
    """A refusal the client sees as `chat:error {code, message}`."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def error_code(error: DomainError) -> str:
    """The `chat:error` code for a refused command: the error's own code (`banned`,
    `too_long`, `stream_offline`, a filter's), never read from its message, which may be
    reworded freely."""
    return error.code


# Chatters in the `chat:users` a join gets; the rest are a page of
# GET /api/streams/{id}/chatters away (its `nextCursor`).
USERS_SNAPSHOT_SIZE = 100

# A relayed copy of a message already in a join's history may still arrive this long after
# the join (it can come after the read model had it): it is dropped by id until then.
HISTORY_DEDUPE_S = 10.0


class FrameWriter(Protocol):
    """Writes whole encoded frames to a connection: True if written, False to queue."""

    def write(self, frame: bytes) -> bool: ...


def ws_frame(item: Outgoing) -> bytes:
    return item.ws_frame


class ChatSession:
    """One client connection: who it is, which room it is in, and its outgoing queue."""

    def __init__(self, principal: Principal | None, *, max_queue: int) -> None:
        self.id = uuid.uuid4().hex
        self.principal = principal
        # In presence: this connection, and the user it is signed in as.
        self.member = member_of(self.id, str(principal.user_id) if principal else None)
        self.stream_id: str | None = None
        self.max_queue = max_queue
        self.frames: deque[Outgoing] = deque()
        # Under uvicorn, frames may go straight to the connection while nothing is queued
        # or being sent (so the order on the wire is the order pushed), encoded the
        # transport's way (`frame_of`) once for the whole room.
        self.direct: FrameWriter | None = None
        self.frame_of: Callable[[Outgoing], bytes] = ws_frame
        self.sending = False
        self.ready = asyncio.Event()
        self.dropped = asyncio.Event()  # set when the client fell too far behind
        self.overflowed = False
        self.closed = False
        self._holding = False
        self._held: list[Outgoing] = []
        self._history_ids: set[str] = set()
        self._history_upto = 0  # the highest position in that history
        self._history_until = 0.0
        self.last_typing = 0.0
        # Sends from one connection are submitted in the order they came, one at a time,
        # but their results are awaited side by side (so a client can pipeline them).
        self.send_lock = asyncio.Lock()
        self.in_flight = asyncio.Semaphore(64)
        # Users whose messages this user ignores: hidden from history and live.
        self.ignored: set[str] = set()
        self.ignores_loaded = False

    # -- the Listener side: called by the hub, never blocks ---------------------------

    def deliver(self, items: Sequence[Outgoing]) -> None:
        if self.ignored:  # only users who ignore someone pay for this
            items = self._visible(items)
        if self._holding:
            self._held.extend(items)
            if len(self._held) > self.max_queue:
                self._overflow()
            return
        for item in items:
            if self._history_ids and isinstance(item, Batch):
                if item.lowest_position > self._history_upto:
                    self._push(item)  # all of it newer than the history: the shared frame
                    continue
                # Just joined: drop what the history already held.
                kept = [o for o in item.items if not self._seen(o)]
                if len(kept) != len(item.items):
                    for o in kept:
                        self._push(o)
                    continue
            elif self._seen(item):
                continue  # already sent in the history that joined this room
            self._push(item)

    def _visible(self, items: Sequence[Outgoing]) -> list[Outgoing]:
        out: list[Outgoing] = []
        for item in items:
            if isinstance(item, Batch):
                kept = [o for o in item.items if not self._hides(o)]
                if len(kept) == len(item.items):
                    out.append(item)  # the room's shared frame, unchanged
                elif kept:
                    out.append(Batch(kept))
            elif not self._hides(item):
                out.append(item)
        return out

    def _hides(self, item: Outgoing) -> bool:
        data = item.data
        if item.event == "chat:message":
            return data["user"]["id"] in self.ignored
        if item.event == "chat:typing":
            return data.get("userId") in self.ignored
        return False

    def _seen(self, item: Outgoing) -> bool:
        """Was this message in the history that joined this room? (Checked by id: copies
        from several nodes need not arrive in position order.)"""
        if not self._history_ids or item.event != "chat:message":
            return False
        if item.data["position"] > self._history_upto:
            return False  # newer than anything the history held
        if time.monotonic() > self._history_until:
            self._history_ids = set()  # no copy of the history is still on its way
            return False
        return item.data["id"] in self._history_ids

    def emit(self, event: str, data: Any) -> None:
        self._push(Outgoing(event, data))

    def _push(self, item: Outgoing) -> None:
        if self.overflowed or self.closed:
            return
        if (self.direct is not None and not self.frames and not self.sending
                and self.direct.write(self.frame_of(item))):
            return
        if len(self.frames) >= self.max_queue:
            self._overflow()
            return
        self.frames.append(item)
        self.ready.set()

    def _overflow(self) -> None:
        self.overflowed = True  # the transport disconnects a client that cannot keep up
        self.frames.clear()
        self._held.clear()
        self.ready.set()
        self.dropped.set()

    def hold(self) -> None:
        self._holding = True
        self._held = []

    def release(self, history: Sequence[dict[str, Any]] = ()) -> None:
        """Stops holding; what was held and what comes next skips the `history` sent."""
        held, self._held, self._holding = self._held, [], False
        self._history_ids = {m["id"] for m in history}
        self._history_upto = max((m["position"] for m in history), default=0)
        self._history_until = time.monotonic() + HISTORY_DEDUPE_S
        self.deliver(held)

    async def next_batch(self) -> list[Outgoing] | None:
        """What to send next (the hub has already coalesced a room's events); None when
        the connection must be dropped for falling behind."""
        await self.ready.wait()
        self.ready.clear()
        if self.overflowed:
            return None
        batch = list(self.frames)
        self.frames.clear()
        self.sending = bool(batch)  # until the transport calls `sent`
        return batch

    def sent(self) -> None:
        """The transport has handed the last batch to the connection."""
        self.sending = False


def user_view(principal: Principal) -> dict[str, Any]:
    return {"id": str(principal.user_id), "username": principal.username,
            "displayName": principal.display_name}


class ChatGateway:
    """The contract's events, for any transport."""

    def __init__(self, services: Services, hub: LiveHub) -> None:
        self.services = services
        self.settings = services.settings
        self.hub = hub
        self.presence = services.presence
        self.limiter = services.rate_limiter
        self.refusals = services.refusals  # what the writer does not see refused
        self.sessions: set[ChatSession] = set()
        self._roster: Roster | None = None
        # Each room's latest messages, kept by the node's live feed: what a join's history
        # needs while the read model catches up.
        self.recent = RecentMessages()

    @property
    def roster(self) -> Roster:
        """Who is in each room, on every node (presence, named from the read models)."""
        if self._roster is None:
            self._roster = Roster(self.presence, self.services.reads)
        return self._roster

    def open(self, principal: Principal | None) -> ChatSession:
        session = ChatSession(principal, max_queue=self.settings.ws_max_queue)
        self.sessions.add(session)
        return session

    async def close(self, session: ChatSession) -> None:
        session.closed = True
        self.sessions.discard(session)
        await self._leave(session)

    async def dispatch(self, updates: Sequence[LiveUpdate]) -> None:
        self.deliver(updates)

    def deliver(self, updates: Sequence[LiveUpdate]) -> None:
        """Tells banned users' sessions, then feeds the rooms (what the live feed admits)."""
        for update in updates:
            if update.event in ("chat:banned", "chat:unbanned"):
                self._apply_ban(update)
            elif update.event == "chat:ignores":
                self._apply_ignore(update)
        self.hub.push(updates)

    def _apply_ignore(self, update: LiveUpdate) -> None:
        data = update.data if isinstance(update.data, dict) else {}
        for session in list(self.sessions):
            if session.principal is not None and str(session.principal.user_id) == \
                    data.get("userId"):
                if data.get("ignored"):
                    session.ignored.add(str(data.get("ignoredId")))
                else:
                    session.ignored.discard(str(data.get("ignoredId")))

    def _apply_ban(self, update: LiveUpdate) -> None:
        data = update.data if isinstance(update.data, dict) else {}
        for session in list(self.sessions):
            if (session.principal is None or session.stream_id != update.stream_id
                    or str(session.principal.user_id) != data.get("userId")):
                continue
            # Only told: whether a send is refused is the Channel's decision, in the store,
            # which a ban or its lifting reaches before any room hears of it (a copy kept
            # here would refuse a user just unbanned until the news arrived).
            if update.event == "chat:banned":
                session.emit("chat:error", {"code": "banned", "message": _ban_message(data)})

    async def handle(self, session: ChatSession, event: str, data: Any) -> Any:
        """Runs one client event; refusals become `chat:error` and an error ack."""
        try:
            if event == "chat:join":
                return await self._join(session, data)
            if event == "chat:send":
                if tracing.ON:
                    with tracing.span("socket chat:send", kind="server"):
                        return await self._send(session, data)
                return await self._send(session, data)
            if event == "chat:leave":
                await self._leave(session)
                return {"ok": True}
            if event == "chat:typing":
                await self._typing(session)
                return {"ok": True}
            if event == "chat:delete":  # as DELETE /api/messages/{id}
                return await self._delete(session, data)
            raise ChatError("unknown_event", f"unknown event {event!r}")
        except ChatError as e:
            session.emit("chat:error", {"code": e.code, "message": e.message})
            return {"ok": False, "code": e.code, "message": e.message}
        except DomainError as e:
            code = error_code(e)
            session.emit("chat:error", {"code": code, "message": e.message})
            return {"ok": False, "code": code, "message": e.message}
        except Exception as e:
            # Not the client's doing: a store or broker away for a moment (try again), or
            # our bug. The connection stays; the client is told, as HTTP would tell it.
            if is_outage(e):
                log.warning("chat.unavailable", chat_event=event, error=repr(e))
                code, message = "unavailable", "the service is unavailable for a moment; " \
                    "try again"
            else:
                log.exception("chat.failed", chat_event=event)
                sentry.report(e, socket_event=event)
                code, message = "internal", "something went wrong on our side"
            session.emit("chat:error", {"code": code, "message": message})
            return {"ok": False, "code": code, "message": message}

    # -- events ------------------------------------------------------------------------

    async def _join(self, session: ChatSession, data: Any) -> Any:
        stream_id = _field(data, "streamId")
        try:
            UUID(stream_id)
        except ValueError:
            raise ChatError("not_found", f"stream {stream_id!r} not found") from None
        reads, aggregates = self.services.reads, self.services.aggregates
        stream = await reads.query(get_stream, stream_id)
        if stream is None and await aggregates.find(UUID(stream_id), Stream) is not None:
            # Just created: the read model is a moment behind the store.
            await reads.caught_up(("stream_status",), await aggregates.head())
            stream = await reads.query(get_stream, stream_id)
        if stream is None:
            raise ChatError("not_found", f"stream {stream_id!r} not found")
        bot = session.principal
        if bot is not None and bot.is_bot and (
                str(bot.bot_channel) != stream["channelId"]
                or not {"chat:read", "chat:write"} & set(bot.scopes)):
            raise ChatError("forbidden", "this bot token reads its own channel's chat only")
        if session.stream_id is not None:
            await self._leave(session)
        since = data.get("since") if isinstance(data, dict) else None
        after = data.get("after") if isinstance(data, dict) else None
        if isinstance(after, int) and after > 0:  # read-your-writes, as `?after=` over HTTP
            # A signed-in viewer's ignores hide messages: they are read up to `after` too.
            await reads.caught_up(("chat_history", "ignores") if session.principal is not None
                                  else ("chat_history",), after)
        if session.principal is not None and not session.ignores_loaded:
            # Once per connection: later changes arrive live (`chat:ignores`).
            session.ignored.update(await reads.query(ignored_ids,
                                                     str(session.principal.user_id)))
            session.ignores_loaded = True
        session.hold()  # live updates wait until the history has gone out
        session.stream_id = stream_id
        self.hub.join(stream_id, session)
        since_id = since if isinstance(since, str) else None
        size = self.settings.chat_history_size
        first = False
        try:
            first = await self.presence.add(stream_id, session.member)
            recent = self.recent.snapshot(stream_id)
            anchor = next((m["position"] for m in recent if m["id"] == since_id), None) \
                if since_id else None
            stored, after = await reads.query(history_for_join, stream_id, since_id, size,
                                              anchor)
            # What this node pushed meanwhile is in the history too, read model or not.
            items = merge_history(stored, self.recent.snapshot(stream_id), after, size,
                                  self.recent.deleted())
            # Read while live updates are held: a join or leave after this read reaches
            # the client after the list, never before it.
            users = await self.roster.page(stream_id, limit=USERS_SNAPSHOT_SIZE)
            count = await self.presence.count(stream_id)
            # Everything the join reads is read before its first frame goes out: a store
            # that goes away after that finds the join done, not half done.
            chatter = await self.roster.chatter(stream["channelId"],
                                                str(session.principal.user_id)) \
                if session.principal is not None and first else None
        except BaseException:
            # A join either happens whole or not at all: a session left in the room,
            # holding its updates, would be fed nothing while it looks connected.
            session.stream_id = None
            self.hub.leave(stream_id, session)
            session.release()
            with contextlib.suppress(Exception):
                await self.presence.remove(stream_id, session.member)
            raise
        session.emit("chat:history", [m for m in items if m["user"]["id"] not in session.ignored]
                     if session.ignored else items)
        session.emit("chat:users", users)
        session.release(items)
        session.emit("stream:status", stream)
        session.emit("stream:viewers", {"streamId": stream_id, "count": count,
                                        "peak": max(count, stream["peakViewers"])})
        if chatter is not None and session.principal is not None:  # the user's first tab
            try:
                await self.services.bus.publish_live([LiveUpdate(
                    stream_id, "chat:user-joined",
                    {**chatter, **user_view(session.principal)})])
            except Exception as e:
                if not is_outage(e):
                    raise
                # The viewer is in: only the others' notice is lost (they see the user in
                # the next list they read).
                log.warning("chat.join_unannounced", stream_id=stream_id, error=repr(e))
        return {"ok": True, "streamId": stream_id, "history": len(items)}

    async def _leave(self, session: ChatSession) -> None:
        stream_id = session.stream_id
        if stream_id is None:
            return
        session.stream_id = None
        self.hub.leave(stream_id, session)
        last = await self.presence.remove(stream_id, session.member)
        if session.principal is not None and last:  # the user's last tab, on any node
            await self.services.bus.publish_live([LiveUpdate(
                stream_id, "chat:user-left", str(session.principal.user_id))])

    async def _send(self, session: ChatSession, data: Any) -> Any:
        if session.principal is None:
            raise ChatError("unauthenticated", "sign in to chat: connect with a token")
        if session.stream_id is None:
            raise ChatError("not_joined", "join a stream first (chat:join)")
        content = _field(data, "content")
        # Everything that may wait happens under the lock, so a send never overtakes the
        # one before it (an account check that goes to the store takes longer than one
        # answered from memory).
        async with session.send_lock:
            # Signed in at connect; the account may have been deleted since.
            principal = session.principal = await self.services.identities.still_active(
                session.principal)
            try:
                await self.limiter.enforce(str(principal.user_id))
            except RateLimited:
                self.refusals.note(UUID(session.stream_id), RateLimited.code)
                raise
            pending = self.services.chat.enqueue(SendMessage(
                stream_id=UUID(session.stream_id),
                author=Author(id=principal.user_id, username=principal.username,
                              display_name=principal.display_name, bot=principal.is_bot),
                content=content))
        result = await pending
        if isinstance(result, DomainError):
            raise result
        return {"ok": True, "id": str(result.message.id), "position": result.position}

    async def _delete(self, session: ChatSession, data: Any) -> Any:
        if session.principal is None:
            raise ChatError("unauthenticated", "sign in to delete: connect with a token")
        message_id = _field(data, "messageId")
        try:
            mid = UUID(message_id)
        except ValueError:
            raise ChatError("not_found", f"message {message_id!r} not found") from None
        # `chat:deleted` reaches the rooms from the relayed event, as for HTTP deletes.
        result = await self.services.commands.execute(DeleteMessage(
            actor_id=session.principal.user_id, message_id=mid))
        return {"ok": True, "messageId": message_id, "position": result.position}

    async def _typing(self, session: ChatSession) -> None:
        if session.principal is None or session.stream_id is None:
            return
        now = time.monotonic()
        if now - session.last_typing < self.settings.typing_interval_s:
            return  # typing indicators are throttled, not refused
        session.last_typing = now
        await self.services.bus.publish_live([LiveUpdate(
            session.stream_id, "chat:typing", {"userId": str(session.principal.user_id)})])

    # -- presence ----------------------------------------------------------------------

    async def heartbeat(self, stopping: asyncio.Event) -> None:
        """Keeps this node's members alive in presence; they lapse if the node dies."""
        while not stopping.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stopping.wait(), self.settings.presence_heartbeat_s)
            members = [(s.stream_id, s.member) for s in self.sessions if s.stream_id]
            if members:
                # A failure ends this run: the supervisor logs it, counts it and starts
                # the heartbeat again after a backoff.
                await self.presence.refresh(members)


def _ban_message(data: dict[str, Any]) -> str:
    until = data.get("until")
    return "you are banned from this channel's chat" + (
        f" until {until} (a timeout)" if until else "")


def _field(data: Any, name: str) -> str:
    if not isinstance(data, dict) or not isinstance(data.get(name), str):
        raise ChatError("bad_request", f"expected {{{name}: string}}")
    return data[name]
