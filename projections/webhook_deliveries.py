"""The delivery log the owner reads: one row per delivery (not per attempt), with its
attempt count, last status, latency and next retry, built from the sender's
`WebhookAttempts.Recorded` batches. It stays small: each subscription keeps its newest
`KEEP` deliveries, and a deleted subscription's go with it. A batch of events is applied
as one upsert of each subscription's newest `KEEP` rows of it: an older row of the batch
would be written only to be deleted by the trim in the same transaction."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from domain.webhook_attempts import attempt_row, delivered_group
from projections.base import Projection
from projections.ports import Database, EventEnvelope, Tx
from projections.webhook_feed import delivery_id

KEEP = 200

_UPSERT = (
    "INSERT INTO webhook_deliveries (delivery_id, webhook_id, channel_id, position, "
    "event_type, attempts, last_status, last_latency_ms, outcome, next_retry_at, note, "
    "first_seen, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
    "ON CONFLICT (delivery_id) DO UPDATE SET attempts = excluded.attempts, "
    "last_status = excluded.last_status, last_latency_ms = excluded.last_latency_ms, "
    "outcome = excluded.outcome, next_retry_at = excluded.next_retry_at, "
    "note = excluded.note, updated_at = excluded.updated_at")


class WebhookDeliveries(Projection):
    name = "webhook_deliveries"
    types = ("WebhookAttempts.Recorded", "Channel.WebhookDeleted")
    tables = ("webhook_deliveries",)
    ddl = [
        """CREATE TABLE IF NOT EXISTS webhook_deliveries (
            delivery_id TEXT PRIMARY KEY,
            webhook_id TEXT NOT NULL,
            channel_id TEXT NOT NULL,
            position BIGINT NOT NULL,
            event_type TEXT NOT NULL,
            attempts INTEGER NOT NULL,
            last_status INTEGER,
            last_latency_ms INTEGER,
            outcome TEXT NOT NULL,
            next_retry_at TEXT,
            note TEXT NOT NULL,
            first_seen BIGINT NOT NULL,
            updated_at TEXT NOT NULL
        )""",
        "CREATE INDEX IF NOT EXISTS webhook_deliveries_by_hook ON webhook_deliveries "
        "(webhook_id, first_seen)",
    ]

    def apply(self, tx: Tx, events: Sequence[EventEnvelope]) -> None:
        # Rows by webhook, then by delivery id: a later attempt of a delivery replaces an
        # earlier one of the same batch, as the upsert would.
        rows: dict[str, dict[str, tuple[Any, ...]]] = {}

        def write() -> None:
            for webhook_id, found in rows.items():
                newest = sorted(found.values(), key=lambda r: r[11], reverse=True)[:KEEP]
                tx.executemany(_UPSERT, newest)
                tx.execute(  # keep the newest KEEP of each
                    "DELETE FROM webhook_deliveries WHERE webhook_id = ? AND first_seen < ("
                    "SELECT first_seen FROM webhook_deliveries WHERE webhook_id = ? "
                    "ORDER BY first_seen DESC LIMIT 1 OFFSET ?)", (webhook_id, webhook_id,
                                                                   KEEP - 1))
            rows.clear()

        for e in events:
            if e.type == "Channel.WebhookDeleted":
                write()  # what came before the deletion goes with it
                tx.execute("DELETE FROM webhook_deliveries WHERE webhook_id = ?",
                           (e.data["webhook_id"],))
                continue
            for values in e.data["delivered"]:
                g = delivered_group(values)
                found = rows.setdefault(g["webhook_id"], {})
                # Only a group's newest KEEP can be among its subscription's newest.
                pairs = sorted(zip(g["positions"], g["latencies_ms"], strict=True),
                               reverse=True)[:KEEP]
                for position, latency_ms in pairs:
                    did = delivery_id(g["webhook_id"], position)
                    found[did] = (did, g["webhook_id"], g["channel_id"], position,
                                  g["event_type"], 1, g["status"], latency_ms, "delivered",
                                  None, g["note"] or "", position, e.timestamp)
            for values in e.data["attempts"]:
                a = attempt_row(values)
                rows.setdefault(a["webhook_id"], {})[a["delivery_id"]] = (
                    a["delivery_id"], a["webhook_id"], a["channel_id"], a["position"],
                    a["event_type"], a["attempt"], a["status"], a["latency_ms"],
                    a["outcome"], a["next_retry_at"], a["note"] or "",
                    # newest first: by the event, a ping by when it was sent
                    a["position"] or e.position, e.timestamp)
        write()


def delivery_view(row: dict[str, Any]) -> dict[str, Any]:
    return {"id": row["delivery_id"], "webhookId": row["webhook_id"],
            "eventType": row["event_type"], "position": row["position"],
            "attempts": row["attempts"], "lastStatus": row["last_status"],
            "lastLatencyMs": row["last_latency_ms"], "outcome": row["outcome"],
            "nextRetryAt": row["next_retry_at"], "note": row["note"],
            "updatedAt": row["updated_at"]}


def deliveries(db: Database, webhook_id: str, *, before: int | None,
               limit: int) -> tuple[list[dict[str, Any]], int | None]:
    """Newest first; `before` is the cursor from the previous page."""
    sql = "SELECT * FROM webhook_deliveries WHERE webhook_id = ?"
    params: list[Any] = [webhook_id]
    if before is not None:
        sql += " AND first_seen < ?"
        params.append(before)
    rows = db.fetch_all(sql + " ORDER BY first_seen DESC LIMIT ?", (*params, limit + 1))
    more = len(rows) > limit
    rows = rows[:limit]
    return [delivery_view(r) for r in rows], (int(rows[-1]["first_seen"]) if more else None)


def delivery(db: Database, webhook_id: str, delivery_id: str) -> dict[str, Any] | None:
    return db.fetch_one("SELECT * FROM webhook_deliveries WHERE webhook_id = ? AND "
                        "delivery_id = ?", (webhook_id, delivery_id))
