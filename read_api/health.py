"""Liveness (the process answers) and readiness (its stores and bus answer, its workers
run, and the projectors it runs make progress)."""

from __future__ import annotations

from litestar import Controller, Response, get
from litestar.di import NamedDependency
from litestar.openapi import ResponseSpec

from read_api.openapi import problems
from read_api.operations import ProcessState
from read_api.views.operations import Liveness, Readiness

# Not ready is the readiness answer itself, with every check, not a problem.
NOT_READY = {503: ResponseSpec(data_container=Readiness, generate_examples=False,
                               description="Not ready: which checks fail")}


class HealthController(Controller):
    path = "/health"
    tags = ["health"]
    include_in_schema = True

    @get("/live", operation_id="getLiveness", responses=problems())
    async def live(self) -> Liveness:
        return {"status": "ok"}

    @get("/ready", operation_id="getReadiness", responses={**problems(), **NOT_READY})
    async def ready(self, process: NamedDependency[ProcessState]) -> Response[Readiness]:
        """503 when a store or the bus does not answer, the chat writer threads are gone, a
        supervised task has kept failing for longer than AETHEX_STALL_S, or a projector
        (or the relay) this process runs is stalled. `stalled` lists every stalled
        projection whichever process runs it; those of other processes are reported
        without failing this node, which can still take writes and live chat."""
        checks: dict[str, str] = {}
        head = 0
        try:
            head = await process.head()
            checks["eventStore"] = "ok"
        except Exception as e:
            checks["eventStore"] = f"error: {type(e).__name__}"
        try:
            await process.probe_read_models()
            checks["readModels"] = "ok"
        except Exception as e:
            checks["readModels"] = f"error: {type(e).__name__}"
        checks["bus"] = process.bus()
        checks["chatWriter"] = "ok" if process.chat_writer_alive() else "error: stopped"
        failing = process.supervisor.failing()
        checks["workers"] = "ok" if not failing else f"failing: {', '.join(failing)}"
        stalled: list[str] = []
        if checks["eventStore"] == checks["readModels"] == "ok":
            try:
                status = await process.projections()
                stalled = list(status["stalled"])
                if status["relay"]["stalled"]:
                    stalled.append("relay")
                runners = process.runners()
                mine = [n for n in stalled if n in runners
                        or (n == "relay" and process.runs_relay())]
                checks["projectors"] = "ok" if not mine else f"stalled: {', '.join(mine)}"
            except Exception as e:
                checks["projectors"] = f"error: {type(e).__name__}"
        ok = all(v == "ok" for v in checks.values())
        body = {
            "status": "ok" if ok else "unavailable",
            "checks": checks,
            "head": head,
            "projections": {n: r.position for n, r in process.runners().items()},
            "lastErrors": {n: r.last_error for n, r in process.runners().items()
                           if r.last_error is not None},
            "stalled": stalled,
            "tasks": process.supervisor.status(),
        }
        return Response(body, status_code=200 if ok else 503)
