"""User normalisers, unique-name claims and the event catalogue."""

from __future__ import annotations

from uuid import NAMESPACE_URL, uuid4, uuid5

import pytest
from eventsourcing.utils import resolve_topic

from domain.catalogue import (
    EVENT_CLASSES,
    SECRET_FIELDS,
    TOPIC_BY_TYPE,
    TYPE_BY_TOPIC,
    topics_for,
)
from domain.errors import Invalid
from domain.unique_name import UniqueName
from domain.user import User, clean_display_name, normalise_email, normalise_username
from domain.webhook_receipt import WebhookReceipt


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("abc", "abc"),
        ("Alice", "alice"),
        ("  Bob_42  ", "bob_42"),
        ("___", "___"),
        ("a" * 25, "a" * 25),
        ("ABC_def_123", "abc_def_123"),
    ],
)
def test_normalise_username_accepts(raw: str, expected: str) -> None:
    assert normalise_username(raw) == expected


@pytest.mark.parametrize(
    "raw",
    ["", "ab", "  ab  ", "a" * 26, "al-ice", "al ice", "al.ice", "élise", "bob!", "a\nbc"],
)
def test_normalise_username_refuses(raw: str) -> None:
    with pytest.raises(Invalid) as info:
        normalise_username(raw)
    assert info.value.field == "username"


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("a@b.co", "a@b.co"),
        ("  Alice@Example.COM ", "alice@example.com"),
        ("first.last+tag@sub.example.org", "first.last+tag@sub.example.org"),
        ("x@" + "d" * 249 + ".io", "x@" + "d" * 249 + ".io"),  # 254 characters
    ],
)
def test_normalise_email_accepts(raw: str, expected: str) -> None:
    assert normalise_email(raw) == expected


@pytest.mark.parametrize(
    "raw",
    [
        "",
        "alice",
        "alice@",
        "@example.com",
        "alice@example",
        "al ice@example.com",
        "alice@@example.com",
        "alice@exa mple.com",
        "x@" + "d" * 250 + ".io",  # 255 characters
    ],
)
def test_normalise_email_refuses(raw: str) -> None:
    with pytest.raises(Invalid) as info:
        normalise_email(raw)
    assert info.value.field == "email"


@pytest.mark.parametrize(
    ("raw", "fallback", "expected"),
    [
        (None, "Alice", "Alice"),
        ("", "Alice", "Alice"),
        ("   ", "Alice", "Alice"),
        ("  Ali  ", "Alice", "Ali"),
        ("x" * 50, "Alice", "x" * 50),
    ],
)
def test_clean_display_name(raw: str | None, fallback: str, expected: str) -> None:
    assert clean_display_name(raw, fallback) == expected


def test_display_name_over_50_is_invalid() -> None:
    with pytest.raises(Invalid) as info:
        clean_display_name("x" * 51, "Alice")
    assert info.value.field == "displayName"


def test_user_registered_event() -> None:
    user = User(email="a@b.co", username="abc", display_name="A", password_hash="h")
    [event] = user.collect_events()
    assert type(event).__qualname__ == "User.Registered"
    assert (event.email, event.username, event.password_hash) == ("a@b.co", "abc", "h")  # type: ignore[attr-defined]
    assert user.password_hash == "h"


# -- unique names -------------------------------------------------------------------------

def test_unique_name_ids_are_case_insensitive() -> None:
    assert UniqueName.create_id("email", "Alice@Example.com") == UniqueName.create_id(
        "email", "alice@example.com"
    )
    # casefold, not lower: the German sharp s folds to "ss"
    assert UniqueName.create_id("username", "STRASSE") == UniqueName.create_id(
        "username", "straße"
    )


def test_unique_name_ids_are_deterministic_and_kind_scoped() -> None:
    expected = uuid5(NAMESPACE_URL, "/aethex/unique/slug/my-channel")
    assert UniqueName.create_id("slug", "my-channel") == expected
    assert UniqueName.create_id("slug", "My-Channel") == expected
    assert UniqueName.create_id("username", "my-channel") != expected
    assert UniqueName.create_id("slug", "my-channel2") != expected


def test_claim_uses_the_derived_id_and_stores_the_folded_name() -> None:
    owner = uuid4()
    claim = UniqueName.claim("email", "Bob@Example.COM", owner)
    assert claim.id == UniqueName.create_id("email", "bob@example.com")
    assert (claim.kind, claim.name, claim.owner_id) == ("email", "bob@example.com", owner)
    [event] = claim.collect_events()
    assert type(event).__qualname__ == "UniqueName.Claimed"
    assert event.originator_version == 1


def test_two_claims_on_the_same_name_collide() -> None:
    a = UniqueName.claim("slug", "Foo", uuid4())
    b = UniqueName.claim("slug", "FOO", uuid4())
    assert a.id == b.id


# -- catalogue ----------------------------------------------------------------------------

def test_catalogue_names_every_event_type_once() -> None:
    assert set(EVENT_CLASSES) == {
        "User.Registered",
        "Channel.Created", "Channel.Updated", "Channel.StreamKeyRotated", "Channel.WentLive",
        "Channel.WentOffline", "Channel.ModeratorGranted", "Channel.ModeratorRevoked",
        "Stream.Created", "Stream.Started", "Stream.Ended", "Stream.Archived",
        "Stream.ViewerCountSampled",
        # prepared streams, channel art
        "Stream.Discarded", "Channel.StreamPrepared", "Channel.PreparedStreamDiscarded",
        "Channel.ImageChanged",
        "ChatMessage.Sent", "ChatMessage.Deleted",
        "UniqueName.Claimed",
        # identity, profiles, follows, subscriptions
        "User.ProfileUpdated", "User.UsernameChanged", "User.EmailChanged",
        "User.ExternalIdentityLinked", "User.Onboarded", "User.Deleted",
        "UniqueName.Released", "UniqueName.Reclaimed",
        "Follow.Followed", "Follow.Unfollowed", "Follow.Refollowed",
        "Subscription.Started", "Subscription.TierChanged", "Subscription.Cancelled",
        "Subscription.Expired", "Subscription.Renewed", "Subscription.Restarted",
        # ingest
        "Stream.PlaybackAssigned", "Stream.IngestDisconnected", "Stream.IngestReconnected",
        "Stream.RecordingReady", "StreamKeyClaim.Claimed", "WebhookReceipt.Received",
        "Stream.IngestStarting", "Stream.ThumbnailChanged", "Stream.VodPublished",
        "Stream.IngestRefused",
        # moderation
        "Channel.UserBanned", "Channel.UserUnbanned", "Channel.FiltersChanged",
        "Report.Filed", "Report.Resolved", "Ignore.Started", "Ignore.Stopped", "Ignore.Restarted",
        # integrations: outbound webhooks and bot tokens
        "Channel.WebhookCreated", "Channel.WebhookChanged", "Channel.WebhookSecretRotated",
        "Channel.WebhookDisabled", "Channel.WebhookDeleted", "Channel.WebhookPingRequested",
        "Channel.WebhookRedeliveryRequested", "Channel.BotTokenIssued",
        "Channel.BotTokenRevoked", "WebhookAttempts.Recorded",
        # analytics: refused chat sends, counted
        "ChatRefusals.Counted",
    }
    assert {TYPE_BY_TOPIC[t] for t in TOPIC_BY_TYPE.values()} == set(TOPIC_BY_TYPE)
    assert TOPIC_BY_TYPE["Stream.Started"] == "domain.stream:Stream.Started"


def test_topics_for() -> None:
    assert topics_for(["ChatMessage.Sent", "Stream.Ended"]) == [
        "domain.chat:ChatMessage.Sent", "domain.stream:Stream.Ended"
    ]
    with pytest.raises(KeyError):
        topics_for(["No.Such"])


def test_former_topics_name_and_filter_their_event_type() -> None:
    former = "domain.clerk_receipt:ClerkWebhookReceipt.Received"
    assert TYPE_BY_TOPIC[former] == "WebhookReceipt.Received"
    assert topics_for(["WebhookReceipt.Received"]) == [
        "domain.webhook_receipt:WebhookReceipt.Received", former]
    assert resolve_topic(former) is WebhookReceipt.Received
    assert resolve_topic("domain.clerk_receipt:ClerkWebhookReceipt") is WebhookReceipt


def test_secret_fields() -> None:
    assert {"stream_key", "password_hash", "sealed_secret", "token_hash"} == SECRET_FIELDS
