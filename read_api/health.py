"""Liveness (the process answers) and readiness (its stores and bus answer)."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Response, get
from litestar.di import NamedDependency

from infra.bootstrap import Services


def _probe_store(services: NamedDependency[Services]) -> int:
    return services.store.head()


def _probe_db(services: NamedDependency[Services]) -> None:
    services.db.fetch_one("SELECT 1 AS ok")


class HealthController(Controller):
    path = "/health"
    tags = ["health"]
    include_in_schema = True

    @get("/live")
    async def live(self) -> dict[str, str]:
        return {"status": "ok"}

    @get("/ready")
    async def ready(self, services: NamedDependency[Services]) -> Response[dict[str, Any]]:
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
        ok = all(v == "ok" for v in checks.values())
        body = {
            "status": "ok" if ok else "unavailable",
            "checks": checks,
            "head": head,
            "projections": {n: r.position for n, r in services.runners.items()},
        }
        return Response(body, status_code=200 if ok else 503)
