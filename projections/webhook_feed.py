"""What the webhook sender keeps of the log: the subscriptions (`webhook_targets`, with how
far each has been delivered) and the bodies of the events some subscription wants
(`webhook_payloads`, one row per event however many subscriptions want it, dropped once
every subscription of its channel is past it). Written with the sender's tracking
position in one transaction, so a restart neither skips nor invents an event.

Payloads are built from the event alone, so the same event always gives the same body
(a redelivery, a retry after a restart).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from uuid import NAMESPACE_URL, uuid5

from domain.integrations import EVENT_TYPES
from projections.base import dumps, loads
from projections.ports import Database, EventEnvelope, Tx

NAME = "webhook_sender"  # its row in the tracking table
VIEWERS_EVERY_S = 10.0  # at most one stream.viewers per channel (so per subscription)

DDL = [
    """CREATE TABLE IF NOT EXISTS webhook_targets (
        id TEXT PRIMARY KEY,
        channel_id TEXT NOT NULL,
        url TEXT NOT NULL,
        event_types TEXT NOT NULL,
        enabled BOOLEAN NOT NULL,
        secret_version INTEGER NOT NULL DEFAULT 0,
        delivered_upto BIGINT NOT NULL,
        head_attempts INTEGER NOT NULL DEFAULT 0,
        head_first_at DOUBLE PRECISION,
        head_next_at DOUBLE PRECISION
    )""",
    """CREATE TABLE IF NOT EXISTS webhook_payloads (
        position BIGINT PRIMARY KEY,
        channel_id TEXT NOT NULL,
        event_type TEXT NOT NULL,
        body TEXT NOT NULL
    )""",
    "CREATE INDEX IF NOT EXISTS webhook_payloads_channel ON webhook_payloads "
    "(channel_id, position)",
]

_TARGET_EVENTS = ("Channel.WebhookCreated", "Channel.WebhookChanged",
                  "Channel.WebhookSecretRotated", "Channel.WebhookDisabled",
                  "Channel.WebhookDeleted", "Channel.WebhookPingRequested",
                  "Channel.WebhookRedeliveryRequested")
_SOURCES = ("Stream.Started", "Stream.Ended", "Stream.Archived", "Stream.ViewerCountSampled",
            "ChatMessage.Sent", "ChatMessage.Deleted", "Follow.Followed", "Follow.Refollowed",
            "Subscription.Started", "Channel.UserBanned", "Channel.UserUnbanned")
SOURCE_TYPES = _TARGET_EVENTS + _SOURCES


def delivery_id(webhook_id: str, position: int) -> str:
    """The `webhook-id` of an event's delivery to one subscription: the same on every
    attempt and redelivery, so receivers can drop copies."""
    return "msg_" + uuid5(NAMESPACE_URL, f"{webhook_id}/{position}").hex


def payload_of(e: EventEnvelope) -> tuple[str, dict[str, Any]] | None:
    """The outbound event type and data of a stored event; None for events no webhook
    carries. docs/webhooks.md shows each."""
    d = e.data
    if e.type == "Stream.Started":
        return "stream.online", {"streamId": e.aggregate_id, "startedAt": e.timestamp}
    if e.type == "Stream.Ended":
        return "stream.offline", {"streamId": e.aggregate_id, "endedAt": e.timestamp,
                                  "durationSeconds": d.get("duration_s")}
    if e.type == "Stream.Archived":
        return "stream.archived", {"streamId": e.aggregate_id, "vodUrl": d.get("vod_url"),
                                   "recordingPath": d.get("recording_path")}
    if e.type == "Stream.ViewerCountSampled":
        return "stream.viewers", {"streamId": e.aggregate_id, "count": d["count"]}
    if e.type == "ChatMessage.Sent":
        return "chat.message.sent", {
            "messageId": e.aggregate_id, "streamId": d["stream_id"],
            "user": {"id": d["author_id"], "username": d["username"],
                     "displayName": d["display_name"], "badges": d.get("badges", [])},
            "content": d["content"], "createdAt": e.timestamp}
    if e.type == "ChatMessage.Deleted":
        return "chat.message.deleted", {"messageId": e.aggregate_id,
                                        "streamId": d["stream_id"],
                                        "deletedBy": d["deleted_by"]}
    if e.type in ("Follow.Followed", "Follow.Refollowed"):
        if d.get("target_kind") != "channel":
            return None
        return "channel.followed", {"userId": d["follower_id"], "followedAt": e.timestamp}
    if e.type == "Subscription.Started":
        return "channel.subscribed", {"userId": d["user_id"], "tier": d["tier"],
                                      "renewalDate": d["renewal_date"]}
    if e.type == "Channel.UserBanned":
        return "moderation.user_banned", {"userId": d["user_id"], "by": d["by"],
                                          "until": d.get("until"),
                                          "reason": d.get("reason", "")}
    if e.type == "Channel.UserUnbanned":
        return "moderation.user_unbanned", {"userId": d["user_id"], "by": d["by"]}
    return None


def body_of(event_type: str, position: int, channel_id: str, timestamp: str,
            data: dict[str, Any]) -> str:
    return dumps({"type": event_type, "version": EVENT_TYPES.get(event_type, 1),
                  "timestamp": timestamp, "channelId": channel_id, "position": position,
                  "data": data})


def ping_body(webhook_id: str, channel_id: str, timestamp: str) -> str:
    return dumps({"type": "webhook.ping", "version": 1, "timestamp": timestamp,
                  "channelId": channel_id, "position": 0, "data": {"webhookId": webhook_id}})


@dataclass
class Target:
    """A subscription as the sender holds it."""

    id: str
    channel_id: str
    url: str
    event_types: frozenset[str]
    enabled: bool
    secret_version: int
    delivered_upto: int
    head_attempts: int = 0
    head_first_at: float | None = None
    head_next_at: float | None = None


@dataclass
class Request:
    """A one-off delivery the owner asked for: a ping, or an event's delivery again."""

    webhook_id: str
    delivery_id: str
    position: int  # 0: a ping


@dataclass
class Applied:
    """What a batch changed, for the sender's memory: new payloads (position, channel,
    type, body), subscriptions whose queue must be read again, requests."""

    payloads: list[tuple[int, str, str, str]] = field(default_factory=list)
    reset: set[str] = field(default_factory=set)
    requests: list[Request] = field(default_factory=list)


def load_targets(db: Database | Tx) -> dict[str, Target]:
    return {r["id"]: Target(id=r["id"], channel_id=r["channel_id"], url=r["url"],
                            event_types=frozenset(loads(r["event_types"])),
                            enabled=bool(r["enabled"]), secret_version=r["secret_version"],
                            delivered_upto=int(r["delivered_upto"]),
                            head_attempts=r["head_attempts"],
                            head_first_at=r["head_first_at"], head_next_at=r["head_next_at"])
            for r in db.fetch_all("SELECT * FROM webhook_targets")}


def apply(tx: Tx, events: Sequence[EventEnvelope], targets: dict[str, Target],
          viewers_at: dict[str, float]) -> Applied:
    """Applies a batch to the tables and to `targets` (the sender's copy), in the caller's
    transaction; `viewers_at` is when each channel last had a stream.viewers (by the
    events' own time, so a replay decides the same)."""
    out = Applied()
    for e in events:
        if e.type in _TARGET_EVENTS:
            _target_event(tx, e, targets, out)
            continue
        found = payload_of(e)
        if found is None or e.channel_id is None:
            continue
        event_type, data = found
        if not any(t.enabled and t.channel_id == e.channel_id and event_type in t.event_types
                   for t in targets.values()):
            continue
        if event_type == "stream.viewers":
            at = datetime.fromisoformat(e.timestamp).timestamp()
            if at - viewers_at.get(e.channel_id, 0.0) < VIEWERS_EVERY_S:
                continue
            viewers_at[e.channel_id] = at
        out.payloads.append((e.position, e.channel_id, event_type,
                             body_of(event_type, e.position, e.channel_id, e.timestamp, data)))
    if out.payloads:
        tx.executemany("INSERT INTO webhook_payloads (position, channel_id, event_type, body) "
                       "VALUES (?, ?, ?, ?) ON CONFLICT (position) DO NOTHING", out.payloads)
    return out


def _target_event(tx: Tx, e: EventEnvelope, targets: dict[str, Target], out: Applied) -> None:
    d, wid = e.data, str(e.data["webhook_id"])
    target = targets.get(wid)
    if e.type == "Channel.WebhookCreated":
        targets[wid] = Target(id=wid, channel_id=e.aggregate_id, url=d["url"],
                              event_types=frozenset(d["event_types"]), enabled=True,
                              secret_version=0, delivered_upto=e.position)
        tx.execute("INSERT INTO webhook_targets (id, channel_id, url, event_types, enabled, "
                   "delivered_upto) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO NOTHING",
                   (wid, e.aggregate_id, d["url"], dumps(d["event_types"]), True, e.position))
        out.reset.add(wid)
        return
    if target is None:
        return
    if e.type == "Channel.WebhookDeleted":
        del targets[wid]
        tx.execute("DELETE FROM webhook_targets WHERE id = ?", (wid,))
        out.reset.add(wid)
    elif e.type == "Channel.WebhookChanged":
        if d.get("url") is not None:
            target.url = d["url"]
        if d.get("event_types") is not None:
            target.event_types = frozenset(d["event_types"])
        if d.get("enabled") is not None:
            if d["enabled"] and not target.enabled:
                # Back on: from now, not what happened while it was off.
                target.delivered_upto = e.position
                target.head_attempts, target.head_first_at, target.head_next_at = 0, None, None
            target.enabled = bool(d["enabled"])
        _save(tx, target)
        out.reset.add(wid)
    elif e.type == "Channel.WebhookSecretRotated":
        target.secret_version += 1
        _save(tx, target)
    elif e.type == "Channel.WebhookDisabled":
        target.enabled = False
        _save(tx, target)
        out.reset.add(wid)
    elif e.type == "Channel.WebhookPingRequested":
        out.requests.append(Request(wid, d["delivery_id"], 0))
    elif e.type == "Channel.WebhookRedeliveryRequested":
        out.requests.append(Request(wid, d["delivery_id"], int(d["position"])))


def _save(tx: Tx, t: Target) -> None:
    tx.execute("UPDATE webhook_targets SET url = ?, event_types = ?, enabled = ?, "
               "secret_version = ?, delivered_upto = ?, head_attempts = ?, head_first_at = ?, "
               "head_next_at = ? WHERE id = ?",
               (t.url, dumps(sorted(t.event_types)), t.enabled, t.secret_version,
                t.delivered_upto, t.head_attempts, t.head_first_at, t.head_next_at, t.id))


def save_progress(tx: Tx, targets: Iterable[Target]) -> None:
    """How far each subscription got, and its head's retry state."""
    tx.executemany("UPDATE webhook_targets SET delivered_upto = ?, head_attempts = ?, "
                   "head_first_at = ?, head_next_at = ? WHERE id = ?",
                   [(t.delivered_upto, t.head_attempts, t.head_first_at, t.head_next_at, t.id)
                    for t in targets])


def pending(db: Database, target: Target, after: int, limit: int) -> list[dict[str, Any]]:
    """The subscription's next events after `after`, in position order."""
    types = sorted(target.event_types)
    marks = ",".join("?" for _ in types)
    return db.fetch_all(
        "SELECT position, event_type, body FROM webhook_payloads WHERE channel_id = ? AND "
        f"position > ? AND event_type IN ({marks}) ORDER BY position LIMIT ?",
        (target.channel_id, after, *types, limit))


def payload_at(db: Database, channel_id: str, position: int) -> dict[str, Any] | None:
    return db.fetch_one("SELECT position, event_type, body FROM webhook_payloads "
                        "WHERE channel_id = ? AND position = ?", (channel_id, position))


def prune(tx: Tx, upto: int) -> int:
    """Drops payloads every subscription of their channel has passed (all of a channel's
    with no subscription left), up to `upto` (what has been read of the log)."""
    return tx.execute(
        "DELETE FROM webhook_payloads WHERE position <= ? AND position <= COALESCE("
        "(SELECT MIN(t.delivered_upto) FROM webhook_targets t WHERE t.enabled AND "
        "t.channel_id = webhook_payloads.channel_id), ?)", (upto, upto))

