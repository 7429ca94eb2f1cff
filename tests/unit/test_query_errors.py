"""The generic mapping of a query value that does not hold: 422 problem+json naming the
parameter, for any type a route declares (a boolean with junk, an integer out of range, a
value that is not a number), with the app's own exception handlers; a bad header stays 400.
The routes of the service are checked the same way over real HTTP in
tests/integration/test_frontend_api.py."""

from __future__ import annotations

from typing import Annotated

from litestar import Litestar, get
from litestar.params import FromQuery, HeaderParameter, QueryParameter
from litestar.testing import AsyncTestClient

from read_api.errors import EXCEPTION_HANDLERS, PROBLEM
from read_api.paging import Before, Cursor, Limit, page_cursor


@get("/things")
async def things(flag: FromQuery[bool] = False, limit: Limit = 20, cursor: Cursor = None,
                 before: Before = None) -> dict[str, object]:
    return {"flag": flag, "limit": limit, "cursor": page_cursor(cursor, before)}


@get("/count")
async def count(n: Annotated[int, QueryParameter(ge=1)],
                x_n: Annotated[int | None, HeaderParameter(name="x-n")] = None,
                include_all: Annotated[bool, QueryParameter(name="includeAll")] = False) -> int:
    return n


APP = Litestar([things, count], exception_handlers=EXCEPTION_HANDLERS)


async def test_query_values_that_do_not_hold_are_422_naming_the_parameter() -> None:
    async with AsyncTestClient(APP) as client:
        cases = [("/things?flag=maybe", "flag"), ("/things?limit=0", "limit"),
                 ("/things?limit=101", "limit"), ("/things?cursor=abc", "cursor"),
                 ("/things?before=-1", "before"), ("/things?cursor=3&before=4", "cursor"),
                 ("/count", "n"), ("/count?n=0", "n"),
                ("/count?n=1&includeAll=maybe", "includeAll")]  # as sent, not as in Python
        for url, field in cases:
            r = await client.get(url)
            assert r.status_code == 422, (url, r.text)
            assert r.headers["content-type"].startswith(PROBLEM)
            body = r.json()
            assert body["field"] == field and body["type"] == "/problems/invalid", (url, body)
            assert field in body["detail"]
        ok = await client.get("/things?flag=true&limit=100&before=7")
        assert ok.json() == {"flag": True, "limit": 100, "cursor": 7}
        # A header is not a value the client picked from the API's description: 400.
        r = await client.get("/count?n=1", headers={"x-n": "many"})
        assert r.status_code == 400, r.text
