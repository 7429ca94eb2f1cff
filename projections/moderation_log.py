"""The moderation log: every moderation action in a channel, newest first by log
position: bans, timeouts, unbans, deletions by the owner or a moderator, moderator grants and
revokes, filter changes, resolved reports. It also keeps who moderates each channel, to tell
a moderator's deletion from an author deleting their own message."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from projections.base import Projection, dumps, loads
from projections.ports import Database, EventEnvelope, Tx

MODERATION_TYPES = ("Channel.Created", "Channel.ModeratorGranted", "Channel.ModeratorRevoked",
                    "Channel.UserBanned", "Channel.UserUnbanned", "Channel.FiltersChanged",
                    "ChatMessage.Deleted", "Report.Resolved", "Channel.BotTokenIssued")
_LOG = ("INSERT INTO moderation_log (position, channel_id, action, actor_id, user_id, "
        "message_id, details, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?) "
        "ON CONFLICT (position) DO NOTHING")
_FILTER_FIELDS = ("blocked_terms", "default_profanity", "block_links", "slow_mode_s",
                  "followers_only", "follow_min_age_s")


class ModerationLog(Projection):
    """One row per moderation action; staff rows per channel (owner and moderators)."""

    name = "moderation_log"
    types = MODERATION_TYPES
    tables = ("moderation_log", "moderation_staff", "moderation_bots")
    ddl = [
        """CREATE TABLE IF NOT EXISTS moderation_log (
            position BIGINT PRIMARY KEY,
            channel_id TEXT NOT NULL,
            action TEXT NOT NULL,
            actor_id TEXT,
            user_id TEXT,
            message_id TEXT,
            details TEXT NOT NULL,
            created_at TEXT NOT NULL
        )""",
        "CREATE INDEX IF NOT EXISTS moderation_log_channel ON moderation_log "
        "(channel_id, position)",
        """CREATE TABLE IF NOT EXISTS moderation_staff (
            channel_id TEXT NOT NULL,
            user_id TEXT NOT NULL,
            role TEXT NOT NULL,
            PRIMARY KEY (channel_id, user_id)
        )""",
        # Bot tokens (those with chat:moderate are staff too): their actions are logged
        # under the token's name.
        """CREATE TABLE IF NOT EXISTS moderation_bots (
            token_id TEXT PRIMARY KEY,
            channel_id TEXT NOT NULL,
            name TEXT NOT NULL
        )""",
    ]

    def _owner(self, tx: Tx, channel_id: str) -> str | None:
        row = tx.fetch_one("SELECT user_id FROM moderation_staff WHERE channel_id = ? AND "
                           "role = 'owner'", (channel_id,))
        return row["user_id"] if row else None

    def apply(self, tx: Tx, events: Sequence[EventEnvelope]) -> None:
        for e in events:
            d, cid = e.data, e.aggregate_id

            def log(action: str, actor: str | None, user: str | None = None,
                    message: str | None = None, details: dict[str, Any] | None = None,
                    channel: str = cid, e: EventEnvelope = e) -> None:
                bot = tx.fetch_one("SELECT name FROM moderation_bots WHERE token_id = ?",
                                   (actor,)) if actor else None
                if bot is not None:
                    details = {**(details or {}), "actorName": bot["name"], "actorKind": "bot"}
                tx.execute(_LOG, (e.position, channel, action, actor, user, message,
                                  dumps(details or {}), e.timestamp))

            if e.type == "Channel.BotTokenIssued":
                tx.execute("INSERT INTO moderation_bots (token_id, channel_id, name) VALUES "
                           "(?, ?, ?) ON CONFLICT (token_id) DO NOTHING",
                           (d["token_id"], cid, d["name"]))
                if "chat:moderate" in d.get("scopes", ()):
                    tx.execute("INSERT INTO moderation_staff (channel_id, user_id, role) "
                               "VALUES (?, ?, 'bot') ON CONFLICT (channel_id, user_id) "
                               "DO NOTHING", (cid, d["token_id"]))
            elif e.type == "Channel.Created":
                tx.execute("INSERT INTO moderation_staff (channel_id, user_id, role) VALUES "
                           "(?, ?, 'owner') ON CONFLICT (channel_id, user_id) DO NOTHING",
                           (cid, d["owner_id"]))
            elif e.type == "Channel.ModeratorGranted":
                tx.execute("INSERT INTO moderation_staff (channel_id, user_id, role) VALUES "
                           "(?, ?, 'moderator') ON CONFLICT (channel_id, user_id) DO NOTHING",
                           (cid, d["user_id"]))
                log("moderator.granted", self._owner(tx, cid), d["user_id"])
            elif e.type == "Channel.ModeratorRevoked":
                tx.execute("DELETE FROM moderation_staff WHERE channel_id = ? AND user_id = ? "
                           "AND role = 'moderator'", (cid, d["user_id"]))
                log("moderator.revoked", self._owner(tx, cid), d["user_id"])
            elif e.type == "Channel.UserBanned":
                until = d.get("until")
                log("user.timed_out" if until else "user.banned", d["by"], d["user_id"],
                    details={"until": until, "reason": d.get("reason", "")})
            elif e.type == "Channel.UserUnbanned":
                log("user.unbanned", d["by"], d["user_id"])
            elif e.type == "Channel.FiltersChanged":
                log("filters.changed", d["by"],
                    details={k: d[k] for k in _FILTER_FIELDS if k in d})
            elif e.type == "Report.Resolved":
                log("report.resolved", d["by"], channel=d["channel_id"],
                    details={"reportId": e.aggregate_id, "action": d["action"],
                             "note": d.get("note", "")})
            elif e.type == "ChatMessage.Deleted":
                staff = tx.fetch_one("SELECT role FROM moderation_staff WHERE channel_id = ? "
                                     "AND user_id = ?", (d["channel_id"], d["deleted_by"]))
                if staff is not None:
                    log("message.deleted", d["deleted_by"], message=e.aggregate_id,
                        details={"streamId": d["stream_id"]}, channel=d["channel_id"])


def log_entry_view(row: dict[str, Any]) -> dict[str, Any]:
    """A log entry as the API shows it; `id` is its position (the cursor)."""
    details = loads(row["details"]) or {}
    return {"id": row["position"], "channelId": row["channel_id"], "action": row["action"],
            "actorId": row["actor_id"], "actorName": details.get("actorName"),
            "userId": row["user_id"],
            "messageId": row["message_id"], "details": details,
            "createdAt": row["created_at"]}


def moderation_log(db: Database, channel_id: str, *, before: int | None,
                   limit: int) -> tuple[list[dict[str, Any]], int | None]:
    """Newest first; `before` is the cursor (a position) from the previous page."""
    sql = "SELECT * FROM moderation_log WHERE channel_id = ?"
    params: list[Any] = [channel_id]
    if before is not None:
        sql += " AND position < ?"
        params.append(before)
    rows = db.fetch_all(sql + " ORDER BY position DESC LIMIT ?", (*params, limit + 1))
    items = [log_entry_view(r) for r in rows[:limit]]
    return items, (items[-1]["id"] if len(rows) > limit else None)
