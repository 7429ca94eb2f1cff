"""ChatMessage: content cleaning, delete permissions and idempotence, the v1 -> v2 upcast."""

from __future__ import annotations

from typing import Any
from uuid import UUID, uuid4

import pytest

from domain.chat import MAX_MESSAGE_LENGTH, ChatMessage, clean_content
from domain.errors import Forbidden, Invalid

from .support import event_names


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("hello", "hello"),
        ("  hello  ", "hello"),
        ("a\tb", "a b"),
        ("a\nb", "a b"),
        ("a\r\nb", "a  b"),  # each of \r and \n becomes a space
        ("\t\nhi\n\t", "hi"),
        ("a\x00b", "ab"),
        ("a\x07\x1b[31mb", "a[31mb"),
        ("a\x7fb", "ab"),
        ("a\x85b", "ab"),  # NEL is a C1 control character
        ("a\ud800b", "ab"),  # lone surrogate
        ("\x00 hi \x00", "hi"),
        ("héllo 👋 世界", "héllo 👋 世界"),
        ("\u00a0hi\u3000", "hi"),  # non-ASCII spaces are trimmed too
        ("a\u00a0b", "a\u00a0b"),  # but kept inside
        ("x", "x"),
        ("x" * MAX_MESSAGE_LENGTH, "x" * MAX_MESSAGE_LENGTH),
        ("  " + "x" * MAX_MESSAGE_LENGTH + "\n", "x" * MAX_MESSAGE_LENGTH),  # trimmed first
        ("x" * MAX_MESSAGE_LENGTH + "\x00" * 5, "x" * MAX_MESSAGE_LENGTH),
    ],
)
def test_clean_content_accepts(raw: str, expected: str) -> None:
    assert clean_content(raw) == expected


@pytest.mark.parametrize(
    "raw",
    [
        "",
        " ",
        "   \t\n\r  ",
        "\x00\x01\x02",
        "\x00 \x00",
        "x" * (MAX_MESSAGE_LENGTH + 1),
        " " + "x" * (MAX_MESSAGE_LENGTH + 1) + " ",
        "x" * 250 + "\n" + "x" * 250,  # the newline becomes a space: 501 characters
    ],
)
def test_clean_content_refuses(raw: str) -> None:
    with pytest.raises(Invalid) as info:
        clean_content(raw)
    assert info.value.field == "content"


@pytest.mark.parametrize("raw", [None, 42, b"bytes"])
def test_clean_content_refuses_non_text(raw: Any) -> None:
    with pytest.raises(Invalid) as info:
        clean_content(raw)
    assert info.value.field == "content"


def test_max_message_length_is_500() -> None:
    assert MAX_MESSAGE_LENGTH == 500


def make_message(author_id: UUID) -> ChatMessage:
    message = ChatMessage(stream_id=uuid4(), channel_id=uuid4(), author_id=author_id,
                          username="u", display_name="U", badges=["moderator"], content="hi")
    message.collect_events()
    return message


def test_sent_event_carries_everything() -> None:
    author_id = uuid4()
    message = ChatMessage(stream_id=uuid4(), channel_id=uuid4(), author_id=author_id,
                          username="u", display_name="U", badges=["broadcaster"], content="hi")
    [sent] = message.collect_events()
    assert type(sent).__qualname__ == "ChatMessage.Sent"
    assert sent.badges == ["broadcaster"]  # type: ignore[attr-defined]
    assert sent.author_id == author_id  # type: ignore[attr-defined]
    assert message.is_deleted is False


def test_sent_builds_what_the_library_constructor_builds() -> None:
    """`ChatMessage.sent` skips the library's reflection: the aggregate, its pending
    event, their attributes (in order) and their classes must be the ones
    `ChatMessage(...)` makes, and the library must save and load it as its own."""
    args = {"stream_id": uuid4(), "channel_id": uuid4(), "author_id": uuid4(),
            "username": "u", "display_name": "U", "badges": ["moderator"],
            "content": "hi"}
    fast = ChatMessage.sent(**args)
    made = ChatMessage(**args)
    # The id and the time are new for each; the rest must match exactly.
    same = {"_id": fast.id, "_created_on": fast.created_on, "_modified_on": fast.modified_on}
    made.__dict__.update(same)
    [made_event] = made.pending_events
    made_event.__dict__.update(originator_id=fast.id, timestamp=fast.created_on)
    assert type(fast) is type(made)
    assert list(vars(fast)) == list(vars(made))
    assert {k: v for k, v in vars(fast).items() if k != "_pending_events"} == \
        {k: v for k, v in vars(made).items() if k != "_pending_events"}
    [fast_event] = fast.pending_events
    assert type(fast_event) is type(made_event)
    assert list(vars(fast_event).items()) == list(vars(made_event).items())
    assert fast_event == made_event
    assert fast.badges is not fast_event.badges  # type: ignore[attr-defined]
    assert fast.created_on.tzinfo is not None and fast.version == 1

    # Replaying the event makes the same aggregate the constructor made.
    replayed = fast_event.mutate(None)
    assert replayed is not None
    assert {k: v for k, v in vars(replayed).items() if k != "_pending_events"} == \
        {k: v for k, v in vars(fast).items() if k != "_pending_events"}


# actor / may_moderate / then
DELETE_TABLE: list[tuple[str, bool, bool | type[Exception]]] = [
    ("author", False, True),
    ("author", True, True),
    ("stranger", True, True),  # the channel owner or a moderator
    ("stranger", False, Forbidden),
]


@pytest.mark.parametrize(("actor", "may_moderate", "then"), DELETE_TABLE)
def test_delete_permissions(actor: str, may_moderate: bool, then: bool | type[Exception]) -> None:
    author_id = uuid4()
    message = make_message(author_id)
    by = author_id if actor == "author" else uuid4()
    if then is Forbidden:
        with pytest.raises(Forbidden):
            message.delete(by, may_moderate=may_moderate)
        assert message.collect_events() == []
        assert not message.is_deleted
    else:
        assert message.delete(by, may_moderate=may_moderate) is True
        [deleted] = message.collect_events()
        assert type(deleted).__qualname__ == "ChatMessage.Deleted"
        assert deleted.deleted_by == by  # type: ignore[attr-defined]
        assert deleted.stream_id == message.stream_id  # type: ignore[attr-defined]
        assert deleted.channel_id == message.channel_id  # type: ignore[attr-defined]
        assert message.is_deleted
        assert message.deleted_by == by
        assert message.deleted_at == deleted.timestamp


def test_second_delete_returns_false_and_records_nothing() -> None:
    author_id = uuid4()
    message = make_message(author_id)
    assert message.delete(author_id, may_moderate=False) is True
    assert message.delete(uuid4(), may_moderate=True) is False
    assert event_names(message.collect_events()) == ["ChatMessage.Deleted"]
    assert message.deleted_by == author_id  # the first deleter stays on record


def test_a_stranger_is_refused_even_when_already_deleted() -> None:
    author_id = uuid4()
    message = make_message(author_id)
    message.delete(author_id, may_moderate=False)
    message.collect_events()
    with pytest.raises(Forbidden):
        message.delete(uuid4(), may_moderate=False)


def test_sent_is_version_2_and_upcasts_v1_with_no_badges() -> None:
    assert ChatMessage.Sent.class_version == 2
    state: dict[str, Any] = {"content": "old", "username": "u"}
    ChatMessage.Sent.upcast_v1_v2(state)
    assert state == {"content": "old", "username": "u", "badges": []}


@pytest.mark.parametrize("content", ["\u200b", " \u200b\u200b ", "\u202e", "\u2066 \u2069"])
def test_invisible_only_content_is_refused(content: str) -> None:
    with pytest.raises(Invalid):
        clean_content(content)


def test_bidi_overrides_are_stripped_and_emoji_joiners_kept() -> None:
    assert clean_content("a\u202eb\u2066c") == "abc"
    family = "\U0001f468\u200d\U0001f469\u200d\U0001f467"
    assert clean_content(family) == family
