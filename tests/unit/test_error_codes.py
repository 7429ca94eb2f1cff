"""Every domain error carries its code; the transports map the code (and the type, for the
HTTP status), never the message, so rewording a message changes nothing a client sees."""

from __future__ import annotations

from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any, cast

import pytest

from commands.end_stream import EndStream, end_stream
from commands.send_message import MessageSent, SendMessage, send_messages
from domain.channel import Channel
from domain.chat import MAX_MESSAGE_LENGTH, clean_content
from domain.chat_filters import Filtered
from domain.errors import (
    Banned,
    Conflict,
    DomainError,
    Forbidden,
    Invalid,
    NotFound,
    RateLimited,
    TooLong,
)
from domain.user import User
from infra.eventstore.event_store import EventStore
from read_api.chat_gateway import error_code
from read_api.errors import domain_error

from .support import World, author


def send(store: EventStore, user: User, channel: Channel, content: str = "hi"
         ) -> MessageSent | DomainError:
    stream_id = store.get(channel.id, Channel).current_stream_id
    assert stream_id is not None
    return send_messages([SendMessage(stream_id=stream_id, author=author(user),
                                      content=content)], store)[0]


def http(exc: DomainError) -> tuple[int, dict[str, Any], dict[str, str]]:
    request = SimpleNamespace(url=SimpleNamespace(path="/api/x"), scope={"state": {}})
    response = domain_error(cast(Any, request), exc)
    headers = {k.lower(): v for k, v in response.headers.items()}
    return response.status_code, cast(dict[str, Any], response.content), headers


# -- the error carries the code ---------------------------------------------------------

def test_the_constructor_takes_a_message_a_field_and_optionally_a_code() -> None:
    plain = Invalid("bad", field="title")
    assert (plain.message, plain.field, plain.code, str(plain)) == ("bad", "title", "invalid",
                                                                     "bad")
    narrowed = Invalid("bad", field="content", code="invalid_content")
    assert narrowed.code == "invalid_content" and Invalid.code == "invalid"  # not the class's
    assert DomainError("x").code == "domain_error" and DomainError("x").field is None
    limited = RateLimited("slow", retry_after_s=3, field="content")
    assert (limited.code, limited.retry_after_s, limited.field) == ("rate_limited", 3, "content")


def test_narrower_kinds_are_still_their_kind() -> None:
    assert issubclass(Banned, Forbidden) and Banned.code == "banned"
    assert issubclass(TooLong, Invalid) and TooLong.code == "too_long"
    assert Banned("", field="content").code == "banned"  # whatever the message says


# -- chat:error codes ---------------------------------------------------------------------

@pytest.mark.parametrize(("error", "code"), [
    # The message mentions a ban, but this is no ban.
    (Forbidden("the channel owner cannot be banned", field="userId"), "forbidden"),
    (Forbidden("only a moderator may ban"), "forbidden"),
    # A ban, whatever its message says.
    (Banned("you are banned from this channel's chat", field="content"), "banned"),
    (Banned("go away", field="content"), "banned"),
    (Banned(""), "banned"),
    # Too long by its type, not by "at most" in the message.
    (TooLong("that is far too much text", field="content"), "too_long"),
    (Invalid("a message is at most 500 characters", field="content"), "invalid"),
    (Invalid("at most", field="content", code="invalid_content"), "invalid_content"),
    # A stream that is not live: by its code, not by the field it names.
    (Conflict("the stream has ended; chat is closed", field="streamId",
              code="stream_offline"), "stream_offline"),
    (Conflict("a concurrent change", field="streamId"), "conflict"),
    (Filtered("links_blocked", "no links, and no bans either"), "links_blocked"),
    (NotFound("stream x not found", field="streamId"), "not_found"),
    (RateLimited("slow down: banned for a second", field="content"), "rate_limited"),
])
def test_chat_error_code_is_the_errors_code(error: DomainError, code: str) -> None:
    assert error_code(error) == code


def test_the_real_refusals_carry_their_codes(
        store: EventStore, world: World, channel: Channel, owner: User) -> None:
    with pytest.raises(TooLong) as too_long:
        clean_content("x" * (MAX_MESSAGE_LENGTH + 1))
    assert error_code(too_long.value) == "too_long" and too_long.value.field == "content"
    for content in ("   ", "\u200b", 42):
        with pytest.raises(Invalid) as empty:
            clean_content(content)  # type: ignore[arg-type]
        assert error_code(empty.value) == "invalid_content", content

    viewer, mod = world.user("viewer"), world.user("mod")
    world.grant(channel, mod)
    stream = world.live_stream(channel)
    live = store.get(channel.id, Channel)
    with pytest.raises(Forbidden) as not_a_ban:  # names a ban; refuses a moderation step
        live.ban(owner.id, by=mod.id, until=None, reason="", now=datetime.now(UTC))
    assert "ban" in not_a_ban.value.message and error_code(not_a_ban.value) != "banned"

    live.ban(viewer.id, by=owner.id, until=None, reason="spam", now=datetime.now(UTC))
    store.save(live)
    refused = send(store, viewer, channel)
    assert isinstance(refused, Banned) and error_code(refused) == "banned"
    too_much = send(store, owner, channel, "y" * (MAX_MESSAGE_LENGTH + 1))
    assert isinstance(too_much, TooLong) and error_code(too_much) == "too_long"

    end_stream(EndStream(actor_id=owner.id, stream_id=stream.id), store)
    closed = send_messages([SendMessage(stream_id=stream.id, author=author(owner),
                                        content="hi")], store)[0]
    assert isinstance(closed, Conflict) and error_code(closed) == "stream_offline"


# -- HTTP problem+json: unchanged for the narrower codes ---------------------------------

@pytest.mark.parametrize(("error", "status", "problem"), [
    (Banned("you are banned from this channel's chat", field="content"), 403, "forbidden"),
    (Forbidden("the channel owner cannot be banned", field="userId"), 403, "forbidden"),
    (TooLong("a message is at most 500 characters", field="content"), 422, "invalid"),
    (TooLong("title must be at most 140 characters", field="title"), 422, "invalid"),
    (Invalid("a message needs at least one visible character", field="content",
             code="invalid_content"), 422, "invalid"),
    (Conflict("the stream has ended; chat is closed", field="streamId",
              code="stream_offline"), 409, "conflict"),
    (Filtered("links_blocked", "links are not allowed in this chat"), 422, "links_blocked"),
    (Filtered("slow_mode", "slow mode is on: wait 3 s"), 422, "slow_mode"),
    (NotFound("stream x not found", field="streamId"), 404, "not_found"),
])
def test_http_status_from_the_type_and_problem_type_from_the_code(
        error: DomainError, status: int, problem: str) -> None:
    got_status, body, _ = http(error)
    assert got_status == status
    assert body["type"] == f"/problems/{problem}"
    assert body["detail"] == error.message and body.get("field") == error.field


def test_http_headers_are_unchanged() -> None:
    _, _, headers = http(RateLimited("slow down", retry_after_s=2.6, field="content"))
    assert headers["retry-after"] == "3"
    status, body, _ = http(Invalid("x", code="something_new"))
    assert status == 422 and body["type"] == "/problems/something_new"
