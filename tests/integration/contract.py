"""Every JSON success answer the tests receive must match the schema the OpenAPI document
declares for its route and status: a route whose declared Struct lies (a field missing,
null where the document says it never is, a number sent as text) fails the test that
called it, not a frontend later. A problem answer must be one of the statuses the route
documents.

The document is the server's own `/schema/openapi.json`, fetched once per client; answers
are checked with jsonschema against the operation's schema for that status (components
resolved inside the document)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import httpx
from jsonschema import Draft202012Validator

SCHEMA_PATH = "/schema/openapi.json"
PROBLEM = "application/problem+json"
_PARAM = re.compile(r"\{[^}/]+\}")


@dataclass
class _Route:
    pattern: re.Pattern[str]
    static: int  # characters outside parameters: the most specific template wins
    operations: dict[str, dict[str, Any]]


@dataclass
class Contract:
    """The document's success schemas, by method, path and status."""

    doc: dict[str, Any]
    routes: list[_Route] = field(default_factory=list)
    operations: dict[tuple[str, str], tuple[str, dict[str, Any]] | None] = field(
        default_factory=dict)
    validators: dict[tuple[str, str, str], Draft202012Validator | None] = field(
        default_factory=dict)

    def __post_init__(self) -> None:
        for template, item in self.doc.get("paths", {}).items():
            regex = "".join(
                re.escape(part) if i % 2 == 0 else "[^/]+"
                for i, part in enumerate(_split(template)))
            self.routes.append(_Route(re.compile(regex + "/?"), len(_PARAM.sub("", template)),
                                      item))
        self.routes.sort(key=lambda r: -r.static)

    def operation(self, method: str, path: str) -> tuple[str, dict[str, Any]] | None:
        """The route template and operation a request reached, if the document has it."""
        key = (method, path)
        if key not in self.operations:
            route = next((r for r in self.routes if r.pattern.fullmatch(path)), None)
            op = route.operations.get(method) if route else None
            self.operations[key] = (route.pattern.pattern, op) if route and op else None
        return self.operations[key]

    def _validator(self, method: str, path: str, status: str,
                   media: str) -> Draft202012Validator | None:
        found = self.operation(method, path)
        if found is None:
            return None
        template, op = found
        key = (template + " " + method, status, media)
        if key not in self.validators:
            self.validators[key] = None
            body = ((op.get("responses", {}).get(status) or {}).get("content") or {}).get(media)
            if body and body.get("schema"):
                # The schema beside the document's components, so its $refs resolve.
                schema = {**body["schema"], "components": self.doc.get("components", {})}
                self.validators[key] = Draft202012Validator(schema)
        return self.validators[key]

    def check_problem(self, method: str, path: str, status: int) -> None:
        """A problem answer the route does not document is a lie of the document (the
        router's own 404 and 405, for paths and methods no route has, are no route's)."""
        found = self.operation(method.lower(), path)
        if found is None:
            return
        documented = found[1].get("responses", {})
        if str(status) not in documented:
            raise AssertionError(
                f"{method} {path} answered {status}, which its operation "
                f"{found[1].get('operationId')!r} does not document "
                f"(it documents {', '.join(sorted(documented))})")

    def check(self, method: str, path: str, status: int, answer: Any,
              media: str = "application/json") -> None:
        validator = self._validator(method.lower(), path, str(status), media)
        if validator is None:
            return
        errors = sorted(validator.iter_errors(answer), key=lambda e: list(e.absolute_path))
        if errors:
            where = "/".join(str(p) for p in errors[0].absolute_path) or "(the answer)"
            raise AssertionError(
                f"{method} {path} answered {status} off its documented schema at {where}: "
                f"{errors[0].message}; answer: {str(answer)[:500]}")


def _split(template: str) -> list[str]:
    """`/a/{x}/b` -> ['/a/', '{x}', '/b']: literal and parameter parts, alternating."""
    parts: list[str] = []
    last = 0
    for m in _PARAM.finditer(template):
        parts += [template[last:m.start()], m.group()]
        last = m.end()
    return [*parts, template[last:]]


class ContractCheck:
    """An httpx response hook: checks each 2xx JSON answer against the document."""

    def __init__(self, client: httpx.AsyncClient) -> None:
        self.client = client
        self.contract: Contract | None = None

    async def __call__(self, response: httpx.Response) -> None:
        request = response.request
        media = response.headers.get("content-type", "").partition(";")[0].strip()
        success = 200 <= response.status_code < 300 and media == "application/json"
        problem = response.status_code >= 400 and media == PROBLEM
        if not (success or problem) or request.url.path.startswith("/schema"):
            return
        if self.contract is None:
            doc = await self.client.get(SCHEMA_PATH)
            if doc.status_code != 200:
                return
            self.contract = Contract(doc.json())
        await response.aread()
        if problem:
            self.contract.check_problem(request.method, request.url.path, response.status_code)
        self.contract.check(request.method, request.url.path, response.status_code,
                            response.json(), media)
