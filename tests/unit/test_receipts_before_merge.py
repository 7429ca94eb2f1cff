"""Receipts stored before Clerk's and the ingest providers' became one aggregate still load.

`tests/fixtures/receipts_before_merge.sqlite` was written by that code (see the README
next to it): two Clerk deliveries, stored as `ClerkWebhookReceipt.Received` (v1) under
`domain.clerk_receipt`, and one Mux notification as `WebhookReceipt.Received` v1.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from uuid import NAMESPACE_URL, UUID, uuid5

import pytest

from commands.ingest_lifecycle import IngestConfig, IngestLifecycle
from commands.ports import IngestSignal
from commands.sync_external_user import SyncExternalUser, sync_external_user
from domain.user import User, external_user_id
from domain.webhook_receipt import WebhookReceipt
from infra.eventstore.envelope import EventEnvelope
from infra.eventstore.event_store import EventStore
from workers.replay import ReplayError, import_events, to_stored_event

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "receipts_before_merge.sqlite"
ISS = "https://issuer.example"
OLD_TOPIC = "domain.clerk_receipt:ClerkWebhookReceipt.Received"


@pytest.fixture
def old_store(tmp_path: Path) -> Iterator[EventStore]:
    copy = tmp_path / "events.sqlite"
    shutil.copy(FIXTURE, copy)  # the committed file stays as it was written
    es = EventStore({"PERSISTENCE_MODULE": "eventsourcing.sqlite", "SQLITE_DBNAME": str(copy)})
    try:
        yield es
    finally:
        es.close()


def redeliver(store: EventStore, delivery_id: str, change: str = "created") -> bool:
    return sync_external_user(SyncExternalUser(
        delivery_id=delivery_id, change=change,  # type: ignore[arg-type]
        issuer=ISS, subject="user_before", email="before@example.com"), store).duplicate


def test_the_fixture_holds_what_the_former_code_stored(old_store: EventStore) -> None:
    receipt_id = uuid5(NAMESPACE_URL, "/aethex/webhooks/clerk/msg_before_1")
    [raw] = old_store.app.recorder.select_events(receipt_id)
    state = json.loads(raw.state)
    assert raw.topic == OLD_TOPIC and "class_version" not in state
    assert state["originator_topic"] == "domain.clerk_receipt:ClerkWebhookReceipt"
    assert {"delivery_id", "event_type", "clerk_user_id"} <= state.keys()


def test_a_clerk_receipt_stored_before_loads_as_a_webhook_receipt(
        old_store: EventStore) -> None:
    receipt_id = WebhookReceipt.create_id("clerk", "msg_before_1")
    assert receipt_id == uuid5(NAMESPACE_URL, "/aethex/webhooks/clerk/msg_before_1")
    receipt = old_store.get(receipt_id, WebhookReceipt)
    assert (receipt.provider, receipt.event_id, receipt.event_type, receipt.subject,
            receipt.outcome) == ("clerk", "msg_before_1", "user.created", "user_before",
                                 "handled")
    assert receipt.channel_id is None and receipt.stream_id is None
    assert receipt.received_at == receipt.created_on and receipt.received_at.tzinfo


def test_a_redelivery_of_a_webhook_received_before_is_a_duplicate(
        old_store: EventStore) -> None:
    head = old_store.head()
    user = old_store.get(external_user_id(ISS, "user_before"), User)
    assert redeliver(old_store, "msg_before_1")
    assert redeliver(old_store, "msg_before_2", "updated")
    assert old_store.head() == head
    assert old_store.get(user.id, User).version == user.version


def test_new_clerk_receipts_share_the_ids_and_the_log(old_store: EventStore) -> None:
    head = old_store.head()
    assert not redeliver(old_store, "msg_after_1", "updated")
    assert redeliver(old_store, "msg_after_1", "updated")
    receipt_id = uuid5(NAMESPACE_URL, "/aethex/webhooks/clerk/msg_after_1")
    [raw] = old_store.app.recorder.select_events(receipt_id)
    assert raw.topic == "domain.webhook_receipt:WebhookReceipt.Received"
    assert json.loads(raw.state)["class_version"] == 2

    envelopes, _ = old_store.read(0, 100, types=["WebhookReceipt.Received"])
    assert [(e.data["provider"], e.data["event_id"], e.schema_version) for e in envelopes] == [
        ("clerk", "msg_before_1", 2), ("clerk", "msg_before_2", 2),
        ("mux", "evt_before_1", 2), ("clerk", "msg_after_1", 2)]
    assert {e.type for e in envelopes} == {"WebhookReceipt.Received"}
    before = envelopes[0].data
    assert before["subject"] == "user_before" and before["outcome"] == "handled"
    assert before["received_at"] == envelopes[0].timestamp
    assert envelopes[-1].position > head
    everything, _ = old_store.read(0, 100)
    # A read filtered by type finds the receipts stored under the former topic too.
    assert old_store.read(0, 100, types=["WebhookReceipt.Received"])[0] == [
        e for e in everything if e.type == "WebhookReceipt.Received"]
    assert [e.type for e in everything].count("WebhookReceipt.Received") == 4


def test_an_ingest_receipt_stored_at_version_1_loads_and_stops_a_redelivery(
        old_store: EventStore) -> None:
    receipt = old_store.get(WebhookReceipt.create_id("mux", "evt_before_1"), WebhookReceipt)
    assert (receipt.provider, receipt.subject, receipt.outcome) == (
        "mux", None, "ignored: no stream is live on this channel")
    assert receipt.received_at == datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
    assert receipt.channel_id == UUID("00000000-0000-4000-8000-000000000001")
    lifecycle = IngestLifecycle(old_store, IngestConfig("", "", "", 30.0), lambda _: None)
    head = old_store.head()
    outcome = lifecycle.apply(IngestSignal(provider="mux", event_id="evt_before_1",
                                           event_type="video.live_stream.idle",
                                           kind="disconnected"))
    assert outcome.duplicate and old_store.head() == head


EXPORT = FIXTURE.with_name("export_before_merge.jsonl")


def test_an_export_written_before_the_merge_imports_and_its_receipts_still_count(
        tmp_path: Path) -> None:
    """`export_before_merge.jsonl` is what that code's `aethex events export` wrote of the
    fixture: it names `ClerkWebhookReceipt.Received` and holds version-1 receipts. Imported
    now, the receipts are today's (provider, subject), and redeliveries are duplicates."""
    lines = EXPORT.read_bytes().splitlines()
    assert b'"type":"ClerkWebhookReceipt.Received","schema_version":1' in lines[4]
    copy = EventStore({"PERSISTENCE_MODULE": "eventsourcing.sqlite",
                       "SQLITE_DBNAME": str(tmp_path / "copy.sqlite")})
    try:
        assert import_events(copy, lines) == (8, 8)
        clerk = copy.get(WebhookReceipt.create_id("clerk", "msg_before_1"), WebhookReceipt)
        assert (clerk.provider, clerk.event_id, clerk.subject, clerk.event_type) == (
            "clerk", "msg_before_1", "user_before", "user.created")
        mux = copy.get(WebhookReceipt.create_id("mux", "evt_before_1"), WebhookReceipt)
        assert (mux.subject, mux.received_at) == (None, datetime(2024, 5, 1, 12, 0, tzinfo=UTC))
        assert redeliver(copy, "msg_before_2", "updated")
        head = copy.head()
        assert not redeliver(copy, "msg_after_1", "updated") and copy.head() > head
        user = copy.get(external_user_id(ISS, "user_before"), User)
        assert user.display_name == "Before Again"
    finally:
        copy.close()


def test_an_export_newer_than_the_code_is_refused() -> None:
    line = json.loads(EXPORT.read_bytes().splitlines()[-1])
    line["schema_version"] = 99
    with pytest.raises(ReplayError, match="newer"):
        to_stored_event(EventEnvelope(**line), None)  # type: ignore[arg-type]
