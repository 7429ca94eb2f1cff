"""Following users and channels, shared by their routes: one way to follow, unfollow and
page through followers, whatever is followed."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal

from commands.bus import CommandBus
from commands.follow import FollowTarget
from commands.unfollow import UnfollowTarget
from infra.identity.auth import Principal
from projections.base import page_limit
from projections.follows import list_followers
from read_api.deps import parse_id
from read_api.reads import ReadModels

Kind = Literal["user", "channel"]


async def set_following(commands: CommandBus, principal: Principal, kind: Kind, target: str,
                        following: bool) -> dict[str, Any]:
    """Follows or unfollows; doing it twice changes nothing (position 0)."""
    target_id = parse_id(target, kind)
    if following:
        position = await commands.execute(FollowTarget(
            actor_id=principal.user_id, target_kind=kind, target_id=target_id))
    else:
        position = await commands.execute(UnfollowTarget(
            actor_id=principal.user_id, target_kind=kind, target_id=target_id))
    return {f"{kind}Id": str(target_id), "following": following, "position": position}


async def followers_page(reads: ReadModels, kind: Kind, target: str, read_models: Sequence[str],
                         *, cursor: int | None, limit: int, after: int | None) -> dict[str, Any]:
    """Who follows it, most recent first; `nextCursor` goes back as `cursor`."""
    target_id = parse_id(target, kind)
    await reads.caught_up(read_models, after)
    items, next_cursor = await reads.query(
        list_followers, kind, str(target_id), cursor=cursor, limit=page_limit(limit))
    return {"items": items, "nextCursor": next_cursor}
