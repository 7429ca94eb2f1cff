"""Health checks and the operators' view of the projections."""

from __future__ import annotations

import msgspec


class Liveness(msgspec.Struct, rename="camel", kw_only=True):
    status: str


class TaskState(msgspec.Struct, rename="camel", kw_only=True):
    """A supervised task of this process."""

    name: str
    state: str
    runs: int
    failures: int
    last_error: str | None
    failing_seconds: float


class Readiness(msgspec.Struct, rename="camel", kw_only=True):
    """`status` ok (200) or unavailable (503); `checks` names each check with `ok` or
    what is wrong; `projections` the positions of the projectors this process runs."""

    status: str
    checks: dict[str, str]
    head: int
    projections: dict[str, int]
    last_errors: dict[str, str]
    stalled: list[str]
    tasks: list[TaskState]


class ProjectionLag(msgspec.Struct, rename="camel", kw_only=True):
    name: str
    position: int
    head: int
    lag_events: int
    lag_seconds: float
    updated_at: str | None
    last_error: str | None
    stalled: bool


class RelayLag(msgspec.Struct, rename="camel", kw_only=True):
    position: int
    lag_events: int
    lag_seconds: float
    stalled: bool


class ProjectionsStatus(msgspec.Struct, rename="camel", kw_only=True):
    """Each projection's position and lag, and the relay's."""

    head: int
    projections: list[ProjectionLag]
    relay: RelayLag
    stall_s: float
    stalled: list[str]
