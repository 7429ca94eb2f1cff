"""How far each projection (and the relay) has got: position, head, lag in events and in
seconds, last error, and whether it is stalled. What `aethex projections list` prints, the
admin endpoint returns and `/health/ready` checks.

Stalled: the projection has work (the store's head lies beyond its tracking position, and
the oldest event it has not applied is older than the threshold) and its tracking row has
not moved for longer than the threshold either. Both come from the database, so any
process can tell, whichever process runs the projector; the second condition keeps a
projector that is busy catching up on an old backlog from looking stalled."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from projections import tracking
from projections.base import Projection
from projections.ports import Database, EventLog


def _lag_seconds(store: EventLog, position: int, head: int, now: datetime) -> float:
    """The age of the oldest event not yet processed (0 when caught up)."""
    if position >= head:
        return 0.0
    events, _ = store.read(position, 1)
    if not events:
        return 0.0
    return max(0.0, round((now - datetime.fromisoformat(events[0].timestamp)).total_seconds(), 3))


def _seconds_since(iso: str | None, now: datetime) -> float | None:
    if not iso:
        return None
    try:
        then = datetime.fromisoformat(iso)
    except ValueError:
        return None
    return (now - then).total_seconds()


def is_stalled(lag_seconds: float, since_update: float | None, stall_s: float) -> bool:
    """Work waiting longer than `stall_s`, and no progress for longer than `stall_s`."""
    return lag_seconds > stall_s and (since_update is None or since_update > stall_s)


def projection_status(store: EventLog, db: Database, projections: Sequence[Projection],
                      *, stall_s: float = 30.0) -> dict[str, Any]:
    """`{"head": N, "projections": [...], "relay": {...}, "stalled": [...]}`, JSON-ready."""
    head = store.head()
    now = datetime.now(UTC)
    rows = tracking.rows(db)
    out = []
    for p in projections:
        row = rows.get(p.name, {})
        position = int(row.get("position") or 0)
        lag_s = _lag_seconds(store, position, head, now)
        updated_at = row.get("updated_at") or None
        out.append({
            "name": p.name,
            "position": position,
            "head": head,
            "lagEvents": max(0, head - position),
            "lagSeconds": lag_s,
            "updatedAt": updated_at,
            "lastError": row.get("last_error"),
            "stalled": is_stalled(lag_s, _seconds_since(updated_at, now), stall_s),
        })
    relay_row = db.fetch_one("SELECT position FROM relay_position WHERE name = 'relay'")
    relay = int(relay_row["position"]) if relay_row else 0
    # The relay saves its position at most every 0.1 s while it publishes, so work older
    # than the threshold left unpublished is a stall on its own.
    relay_lag_s = _lag_seconds(store, relay, head, now)
    return {
        "head": head,
        "projections": out,
        "relay": {"position": relay, "lagEvents": max(0, head - relay),
                  "lagSeconds": relay_lag_s, "stalled": relay_lag_s > stall_s},
        "stallS": stall_s,
        "stalled": [p["name"] for p in out if p["stalled"]],
    }
