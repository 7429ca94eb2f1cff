"""Liveness (the process answers) and readiness (its stores and bus answer, its workers
run, and the projectors it runs make progress)."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Response, get
from litestar.di import NamedDependency

from projections.lag import projection_status
from read_api.services import Services


def _probe_store(services: NamedDependency[Services]) -> int:
    return services.store.head()


def _probe_db(services: NamedDependency[Services]) -> None:
    services.db.fetch_one("SELECT 1 AS ok")


def _status(services: NamedDependency[Services]) -> dict[str, Any]:
    return projection_status(services.store, services.db, services.projections,
                             stall_s=services.settings.stall_s)


class HealthController(Controller):
    path = "/health"
    tags = ["health"]
    include_in_schema = True

    @get("/live")
    async def live(self) -> dict[str, str]:
        return {"status": "ok"}

    @get("/ready")
    async def ready(self, services: NamedDependency[Services]) -> Response[dict[str, Any]]:
        """503 when a store or the bus does not answer, the chat writer thread is gone, a
        supervised task has kept failing for longer than AETHEX_STALL_S, or a projector
        (or the relay) this process runs is stalled. `stalled` lists every stalled
        projection whichever process runs it; those of other processes are reported
        without failing this node, which can still take writes and live chat."""
        checks: dict[str, str] = {}
        head = 0
        for name, probe in (("eventStore", _probe_store), ("readModels", _probe_db)):
            try:
                result = await services.run(probe, services)
                if name == "eventStore":
                    head = int(result or 0)
                checks[name] = "ok"
            except Exception as e:
                checks[name] = f"error: {type(e).__name__}"
        connection = getattr(services.bus, "connection", None)
        if connection is not None:
            checks["bus"] = "ok" if not connection.is_closed else "error: closed"
        else:
            checks["bus"] = "ok" if services.started else "error: not started"
        checks["chatWriter"] = "ok" if services.chat.alive else "error: stopped"
        failing = services.supervisor.failing()
        checks["workers"] = "ok" if not failing else f"failing: {', '.join(failing)}"
        stalled: list[str] = []
        if checks["eventStore"] == checks["readModels"] == "ok":
            try:
                status = await services.run(_status, services)
                stalled = list(status["stalled"])
                if status["relay"]["stalled"]:
                    stalled.append("relay")
                mine = [n for n in stalled if n in services.runners
                        or (n == "relay" and services.relay is not None)]
                checks["projectors"] = "ok" if not mine else f"stalled: {', '.join(mine)}"
            except Exception as e:
                checks["projectors"] = f"error: {type(e).__name__}"
        ok = all(v == "ok" for v in checks.values())
        body = {
            "status": "ok" if ok else "unavailable",
            "checks": checks,
            "head": head,
            "projections": {n: r.position for n, r in services.runners.items()},
            "lastErrors": {n: r.last_error for n, r in services.runners.items()
                           if r.last_error is not None},
            "stalled": stalled,
            "tasks": services.supervisor.status(),
        }
        return Response(body, status_code=200 if ok else 503)
