"""The OpenAPI document is one a client generator can build on (scripts/openapi/check.py's
rules, here without npm): every 2xx JSON answer typed, unique lowerCamelCase operation ids,
problem answers documented, the bearer scheme on every route that needs a token; and the
checker fails a route that breaks them."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import msgspec
import pytest
from litestar import Litestar, Request, get, post
from litestar.di import NamedDependency, Provide
from litestar.exceptions import ImproperlyConfiguredException
from litestar.openapi import OpenAPIConfig
from litestar.params import FromQuery, JSONBody

from read_api.deps import provide_principal
from read_api.openapi import BEARER, openapi_extras, problems
from scripts.openapi.check import build_app, check, document_problems, untyped, validate_spec


@pytest.fixture(scope="module")
def app_document(tmp_path_factory: pytest.TempPathFactory) -> Iterator[
        tuple[Litestar, dict[str, Any], list[str]]]:
    app, services = build_app(str(tmp_path_factory.mktemp("openapi")))
    try:
        doc, found = check(app)
        yield app, doc, found
    finally:
        services.close()


def test_the_document_is_valid_openapi(
        app_document: tuple[Litestar, dict[str, Any], list[str]]) -> None:
    _, doc, _ = app_document
    validate_spec(doc)
    assert "bearerAuth" in doc["components"]["securitySchemes"]


def test_every_route_keeps_the_contract(
        app_document: tuple[Litestar, dict[str, Any], list[str]]) -> None:
    _, _, found = app_document
    assert found == [], "\n".join(found)


def test_answers_are_the_declared_structs(
        app_document: tuple[Litestar, dict[str, Any], list[str]]) -> None:
    """A sample: the schema names the fields the route sends, camelCase, null where null."""
    _, doc, _ = app_document
    login = doc["paths"]["/api/auth/login"]["post"]
    assert login["operationId"] == "logIn"
    schema = login["responses"]["200"]["content"]["application/json"]["schema"]
    session = doc["components"]["schemas"][schema["$ref"].rsplit("/", 1)[1]]
    assert set(session["required"]) == {"user", "token", "tokenType", "expiresIn"}
    follow = doc["paths"]["/api/users/{user_id}/follow"]["post"]
    assert follow["security"] == [{"bearerAuth": []}]
    assert {"401", "403", "404"} <= set(follow["responses"])
    assert "application/problem+json" in follow["responses"]["404"]["content"]


async def _principal(request: Request[Any, Any, Any]) -> str:
    return "someone"


class Thing(msgspec.Struct, rename="camel"):
    thing_id: str


@get("/typed", operation_id="getThing", responses=problems(404), sync_to_thread=False)
def typed() -> Thing:
    return Thing("1")


@get("/untyped", operation_id="getUntyped", responses=problems(404), sync_to_thread=False)
def untyped_route() -> dict[str, Any]:
    return {"thingId": "1"}


@get("/list", operation_id="listUntyped", responses=problems(), sync_to_thread=False)
def untyped_list() -> list[dict[str, Any]]:
    return []


@get("/anonymous", sync_to_thread=False)
def no_operation_id() -> Thing:
    return Thing("1")


@get("/shouting", operation_id="GetShouting", responses=problems(), sync_to_thread=False)
def shouting() -> Thing:
    return Thing("1")


@get("/twice", operation_id="getThing", responses=problems(), sync_to_thread=False)
def duplicate() -> Thing:
    return Thing("1")


@post("/token", operation_id="postWithToken", responses=problems(auth=True),
      dependencies={"principal": Provide(_principal)})
async def token_route(principal: NamedDependency[str]) -> Thing:
    return Thing(principal)


@post("/token-ok", operation_id="postWithBearer", responses=problems(auth=True),
      security=BEARER, dependencies={"principal": Provide(_principal)})
async def token_route_ok(principal: NamedDependency[str]) -> Thing:
    return Thing(principal)


@post("/set-up", operation_id="postSetUp", responses=problems(auth=True), security=BEARER,
      dependencies={"principal": Provide(provide_principal),
                    "identities": Provide(_principal)})
async def set_up_route(principal: NamedDependency[Any]) -> Thing:
    return Thing("1")


@post("/body", operation_id="postBody", responses=problems(), sync_to_thread=False)
def body_route(data: JSONBody[Thing], page: FromQuery[int] = 1) -> Thing:
    return data


@get("/no-errors", operation_id="getNoErrors", sync_to_thread=False)
def no_errors() -> Thing:
    return Thing("1")


def _found(*handlers: Any) -> list[str]:
    app = Litestar(route_handlers=list(handlers),
                   openapi_config=OpenAPIConfig(title="t", version="1", **openapi_extras()))
    return check(app)[1]


def test_a_typed_route_passes() -> None:
    assert _found(typed, token_route_ok) == []


def test_the_checker_fails_an_untyped_route() -> None:
    """The check can fail: a route answering `dict[str, Any]` (which a generated client sees
    as `{[key: string]: unknown}`) is caught, and so is a list of them."""
    found = _found(typed, untyped_route, untyped_list)
    assert any(line.startswith("GET /untyped: 200 answer is untyped") for line in found), found
    assert any(line.startswith("GET /list: 200 answer is untyped (array of") for line in found)
    assert not any(line.startswith("GET /typed") for line in found)


def test_the_checker_fails_bad_operation_ids_missing_bearer_and_undocumented_errors() -> None:
    found = "\n".join(_found(typed, no_operation_id, shouting, token_route, no_errors,
                             set_up_route, body_route))
    assert "GET /anonymous: operationId" in found  # the framework's generated id
    assert "GET /shouting: operationId 'GetShouting' is not lowerCamelCase" in found
    assert "POST /token: needs a token but security is not" in found
    assert "GET /no-errors: documents no problem+json answer" in found
    assert "POST /body: takes query parameters but documents no 422" in found
    assert "POST /body: takes a JSON body but documents no 415, 422" in found
    assert "POST /set-up: needs a set-up account (provide_principal: 403 before " \
        "onboarding) but documents no 403" in found


def test_the_checker_fails_a_duplicated_operation_id() -> None:
    """Litestar refuses two handlers with one id; a document with them fails the check."""
    with pytest.raises(ImproperlyConfiguredException):
        _found(typed, duplicate)
    op = {"operationId": "getThing", "responses": {
        "200": {"content": {"application/json": {"schema": {"type": "string"}}}},
        "404": {"content": {"application/problem+json": {"schema": {}}}}}}
    doc = {"paths": {"/a": {"get": op}, "/b": {"get": op}},
           "components": {"securitySchemes": {"bearerAuth": {}}}}
    assert document_problems(doc) == [
        "GET /a: operationId 'getThing' is used 2 times",
        "GET /b: operationId 'getThing' is used 2 times"]


def test_untyped_tells_typed_schemas_from_unknown_maps() -> None:
    doc: dict[str, Any] = {"components": {"schemas": {
        "Thing": {"type": "object", "properties": {"id": {"type": "string"}}},
        "Bag": {"type": "object", "additionalProperties": {}}}}}
    assert untyped(doc, {"$ref": "#/components/schemas/Thing"}) is None
    assert untyped(doc, {"$ref": "#/components/schemas/Bag"}) == "an object without properties"
    assert untyped(doc, None) == "no schema"
    assert untyped(doc, {"type": "array", "items": {"$ref": "#/components/schemas/Thing"}}) \
        is None
    assert untyped(doc, {"oneOf": [{"$ref": "#/components/schemas/Thing"},
                                   {"type": "null"}]}) is None
    assert untyped(doc, {"type": "string"}) is None


def test_check_script_is_executable() -> None:
    script = Path(__file__).resolve().parents[2] / "scripts" / "check_openapi"
    assert script.stat().st_mode & 0o111


async def test_the_integration_client_fails_an_answer_off_its_schema(
        app_document: tuple[Litestar, dict[str, Any], list[str]]) -> None:
    """The integration suite's response check (tests/integration/contract.py) can fail: an
    answer missing a declared field, or with a field of the wrong type, raises, and so does
    a problem answer with a status the route does not document."""
    from tests.integration.contract import ContractCheck

    _, doc, _ = app_document
    user = {"id": "u", "email": "a@example.com", "username": "ada", "displayName": "Ada",
            "createdAt": "2026-01-01T00:00:00+00:00"}
    answers = {"/api/auth/login": {"user": user, "token": "t", "tokenType": "Bearer",
                                   "expiresIn": 3600},
               "/api/auth/register": {"user": user, "token": "t", "tokenType": "Bearer",
                                      "expiresIn": "3600", "position": 1},
               "/api/users/u/follow": {"userId": "u", "following": True}}
    problem = {"type": "/problems/conflict", "title": "Conflict", "status": 409,
               "detail": "d", "instance": "/api/users/u/ignore"}

    def serve(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/schema/openapi.json":
            return httpx.Response(200, json=doc)
        if request.url.path.endswith("/ignore"):  # 409 is not one of ignoreUser's answers
            return httpx.Response(409, json=problem,
                                  headers={"content-type": "application/problem+json"})
        status = 201 if request.url.path.endswith("register") else 200
        return httpx.Response(status, json=answers[request.url.path])

    async with httpx.AsyncClient(base_url="http://test", transport=httpx.MockTransport(serve)
                                 ) as client:
        client.event_hooks["response"].append(ContractCheck(client))
        assert (await client.post("/api/auth/login")).status_code == 200
        with pytest.raises(AssertionError, match="at expiresIn: '3600' is not of type"):
            await client.post("/api/auth/register")
        with pytest.raises(AssertionError, match="'position' is a required property"):
            await client.post("/api/users/u/follow")
        with pytest.raises(AssertionError, match="answered 409, which its operation "
                                                 "'ignoreUser' does not document"):
            await client.post("/api/users/u/ignore")
