"""Subscriptions: each user's subscription to a channel, its tier, status and renewal date."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from projections.base import Projection
from projections.ports import Database, EventEnvelope, Tx

SUBSCRIPTION_TYPES = ("Subscription.Started", "Subscription.TierChanged",
                      "Subscription.Cancelled", "Subscription.Expired", "Subscription.Renewed",
                      "Subscription.Restarted")


class Subscriptions(Projection):
    """One row per (user, channel) subscription, updated in place."""

    name = "subscriptions"
    types = SUBSCRIPTION_TYPES
    tables = ("subscriptions",)
    ddl = [
        """CREATE TABLE IF NOT EXISTS subscriptions (
            id TEXT PRIMARY KEY,
            user_id TEXT NOT NULL,
            channel_id TEXT NOT NULL,
            tier TEXT NOT NULL,
            status TEXT NOT NULL,
            start_date TEXT NOT NULL,
            renewal_date TEXT,
            updated_at TEXT NOT NULL
        )""",
        "CREATE INDEX IF NOT EXISTS subscriptions_user ON subscriptions (user_id)",
        "CREATE INDEX IF NOT EXISTS subscriptions_channel ON subscriptions (channel_id, status)",
    ]

    def apply(self, tx: Tx, events: Sequence[EventEnvelope]) -> None:
        for e in events:
            d, sid, ts = e.data, e.aggregate_id, e.timestamp
            if e.type == "Subscription.Started":
                tx.execute(
                    "INSERT INTO subscriptions (id, user_id, channel_id, tier, status, "
                    "start_date, renewal_date, updated_at) VALUES (?, ?, ?, ?, 'ACTIVE', ?, ?, ?) "
                    "ON CONFLICT (id) DO NOTHING",
                    (sid, d["user_id"], d["channel_id"], d["tier"], ts, d["renewal_date"], ts))
                continue
            sets: dict[str, Any] = {"updated_at": ts}
            if e.type == "Subscription.TierChanged":
                sets["tier"] = d["tier"]
            elif e.type == "Subscription.Cancelled":
                sets["status"] = "CANCELLED"
            elif e.type == "Subscription.Expired":
                sets["status"] = "EXPIRED"
            elif e.type == "Subscription.Renewed":
                sets["renewal_date"] = d["renewal_date"]
            elif e.type == "Subscription.Restarted":
                sets.update(tier=d["tier"], status="ACTIVE", renewal_date=d["renewal_date"],
                            start_date=ts)
            assignments = ", ".join(f"{column} = ?" for column in sets)
            tx.execute(f"UPDATE subscriptions SET {assignments} WHERE id = ?",
                       (*sets.values(), sid))


def subscription_view(row: dict[str, Any]) -> dict[str, Any]:
    return {"id": row["id"], "userId": row["user_id"], "channelId": row["channel_id"],
            "tier": row["tier"], "status": row["status"], "startDate": row["start_date"],
            "renewalDate": row["renewal_date"], "updatedAt": row["updated_at"]}


def due_subscriptions(db: Database, now: datetime, limit: int = 500) -> list[str]:
    """Ids of subscriptions, active or cancelled, whose renewal date has come."""
    rows = db.fetch_all(
        "SELECT id, renewal_date FROM subscriptions WHERE status IN ('ACTIVE', 'CANCELLED') "
        "AND renewal_date <= ? ORDER BY renewal_date LIMIT ?", (now.isoformat(), limit))
    # Renewal dates are written in UTC, so comparing the text selects them; the parsed
    # dates confirm it.
    return [r["id"] for r in rows if datetime.fromisoformat(r["renewal_date"]) <= now]


def list_subscriptions(db: Database, user_id: str) -> list[dict[str, Any]]:
    rows = db.fetch_all("SELECT * FROM subscriptions WHERE user_id = ? ORDER BY start_date DESC",
                        (user_id,))
    return [subscription_view(r) for r in rows]
