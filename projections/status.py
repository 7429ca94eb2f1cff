"""How far each projection (and the relay) has got: position, head, lag in events and in
seconds, last error. What `aethex projections list` prints and the admin endpoint returns."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from infra.database import Database
from infra.event_store import EventStore
from projections.base import Projection


def _lag_seconds(store: EventStore, position: int, head: int, now: datetime) -> float:
    """The age of the oldest event not yet processed (0 when caught up)."""
    if position >= head:
        return 0.0
    events, _ = store.read(position, 1)
    if not events:
        return 0.0
    return max(0.0, round((now - datetime.fromisoformat(events[0].timestamp)).total_seconds(), 3))


def projection_status(store: EventStore, db: Database,
                      projections: Sequence[Projection]) -> dict[str, Any]:
    """`{"head": N, "projections": [...], "relay": {...}}`, JSON-ready."""
    head = store.head()
    now = datetime.now(UTC)
    rows = {r["name"]: r for r in db.fetch_all(
        "SELECT name, position, updated_at, last_error FROM projection_tracking")}
    out = []
    for p in projections:
        row = rows.get(p.name, {})
        position = int(row.get("position") or 0)
        out.append({
            "name": p.name,
            "position": position,
            "head": head,
            "lagEvents": max(0, head - position),
            "lagSeconds": _lag_seconds(store, position, head, now),
            "updatedAt": row.get("updated_at") or None,
            "lastError": row.get("last_error"),
        })
    relay_row = db.fetch_one("SELECT position FROM relay_position WHERE name = 'relay'")
    relay = int(relay_row["position"]) if relay_row else 0
    return {
        "head": head,
        "projections": out,
        "relay": {"position": relay, "lagEvents": max(0, head - relay),
                  "lagSeconds": _lag_seconds(store, relay, head, now)},
    }
