"""The OpenAPI document's contract for client generators, checked on the app itself:
every 2xx (and 3xx) JSON answer has a real schema (not `{[key: string]: unknown}`),
every operation has a unique lowerCamelCase id and documents its problem answers, and
every route that needs a token says so with the bearer scheme.

    python -m scripts.openapi.check --out DIR   # writes DIR/openapi.json, validates it

`scripts/check_openapi` runs this, then generates TypeScript from the document and
compiles it; tests/unit/test_openapi.py runs the same rules without npm."""

from __future__ import annotations

import argparse
import json
import re
import sys
import tempfile
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from litestar import Litestar
from litestar.handlers import HTTPRouteHandler
from litestar.routes import HTTPRoute

BEARER_SCHEME = "bearerAuth"
PROBLEM_MEDIA = "application/problem+json"
OPERATION_ID = re.compile(r"[a-z]+(?:[A-Z0-9][a-z0-9]*)*")
METHODS = ("get", "put", "post", "delete", "patch", "head", "options", "trace")
# Dependencies that make a route need a token (or take one when given).
TOKEN_DEPENDENCIES = ("principal",)
OPTIONAL_TOKEN_DEPENDENCIES = ("viewer",)


def build_app(data_dir: str) -> tuple[Litestar, Any]:
    """The embedded app over a fresh data directory, not started (nothing listens)."""
    from entrypoints.app import create_app
    from entrypoints.bootstrap import Services
    from infra.settings import load_settings

    services = Services(load_settings({}, data_dir=data_dir))
    return create_app(services), services


def document(app: Litestar) -> dict[str, Any]:
    return app.openapi_schema.to_schema()


def operations(doc: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    for path, item in doc.get("paths", {}).items():
        for method in METHODS:
            if isinstance(item.get(method), dict):
                yield path, method, item[method]


def _resolve(doc: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    seen = 0
    while "$ref" in schema and seen < 20:
        ref = schema["$ref"]
        if not ref.startswith("#/"):
            return schema
        node: Any = doc
        for part in ref[2:].split("/"):
            node = node.get(part, {}) if isinstance(node, dict) else {}
        schema = node if isinstance(node, dict) else {}
        seen += 1
    return schema


def untyped(doc: dict[str, Any], schema: dict[str, Any] | None) -> str | None:
    """Why a success schema would come out as an unknown map in a client, or None."""
    if not schema:
        return "no schema"
    schema = _resolve(doc, schema)
    if not schema:
        return "a $ref to nothing"
    for combinator in ("oneOf", "anyOf", "allOf"):
        if combinator in schema:
            reasons = [untyped(doc, s) for s in schema[combinator]
                       if _resolve(doc, s).get("type") != "null"]
            bad = [r for r in reasons if r]
            return f"{combinator} member: {bad[0]}" if bad else None
    kind = schema.get("type")
    if kind == "array":
        reason = untyped(doc, schema.get("items"))
        return f"array of {reason}" if reason else None
    if (kind == "object" or kind is None) and not schema.get("properties"):
        return "an object without properties"
    return None


def _problem_statuses(op: dict[str, Any]) -> list[str]:
    return [status for status, response in op.get("responses", {}).items()
            if status[:1] in ("4", "5") and PROBLEM_MEDIA in (response.get("content") or {})]


def document_problems(doc: dict[str, Any]) -> list[str]:
    """What the document alone shows is wrong, one line each."""
    out: list[str] = []
    ids = Counter(op.get("operationId") for _, _, op in operations(doc))
    schemes = doc.get("components", {}).get("securitySchemes", {})
    if BEARER_SCHEME not in schemes:
        out.append(f"components.securitySchemes has no {BEARER_SCHEME}")
    for path, method, op in operations(doc):
        where = f"{method.upper()} {path}"
        op_id = op.get("operationId")
        if not op_id:
            out.append(f"{where}: no operationId")
        elif not OPERATION_ID.fullmatch(op_id):
            out.append(f"{where}: operationId {op_id!r} is not lowerCamelCase")
        elif ids[op_id] > 1:
            out.append(f"{where}: operationId {op_id!r} is used {ids[op_id]} times")
        responses = op.get("responses", {})
        # A redirect with a body (nginx-rtmp's on_publish) is a success too.
        successes = {s: r for s, r in responses.items() if s[:1] in ("2", "3")}
        if not successes:
            out.append(f"{where}: no success response")
        for status, response in successes.items():
            content = response.get("content") or {}
            for media, body in content.items():
                if media != "application/json":
                    continue
                reason = untyped(doc, body.get("schema"))
                if reason:
                    out.append(f"{where}: {status} answer is untyped ({reason})")
        if not _problem_statuses(op):
            out.append(f"{where}: documents no problem+json answer")
        requirements = op.get("security") or []
        if any(BEARER_SCHEME in r for r in requirements) and "401" not in responses:
            out.append(f"{where}: takes a bearer token but documents no 401")
        # What the framework answers on its own (read_api/errors.py, read_api/requests.py):
        # a query value that does not hold is 422; a JSON body route refuses another
        # media type with 415 and an invalid body with 422.
        if any(p.get("in") == "query" for p in op.get("parameters", [])) \
                and "422" not in responses:
            out.append(f"{where}: takes query parameters but documents no 422")
        body = (op.get("requestBody") or {}).get("content") or {}
        if "application/json" in body:
            missing = [s for s in ("415", "422") if s not in responses]
            if missing:
                out.append(f"{where}: takes a JSON body but documents no {', '.join(missing)}")
    return out


def route_problems(app: Litestar, doc: dict[str, Any]) -> list[str]:
    """What the routes' dependencies say the document must show: a route that needs a
    token requires the bearer scheme; one that takes a token when given offers it; one
    that needs a set-up account (`provide_principal`) documents its 403."""
    from read_api.deps import provide_principal

    out: list[str] = []
    for route in app.routes:
        if not isinstance(route, HTTPRoute):
            continue
        for handler in route.route_handlers:
            if not isinstance(handler, HTTPRouteHandler) or not handler.resolve_include_in_schema():
                continue
            dependencies = handler.resolve_dependencies()
            needs = any(name in dependencies for name in TOKEN_DEPENDENCIES)
            set_up = any(getattr(dependencies.get(name), "dependency", None) is provide_principal
                         for name in TOKEN_DEPENDENCIES)
            takes = any(name in dependencies for name in OPTIONAL_TOKEN_DEPENDENCIES)
            if not (needs or takes):
                continue
            for method in handler.http_methods:
                op = doc.get("paths", {}).get(route.path_format, {}).get(method.lower())
                if op is None:
                    continue
                where = f"{method} {route.path_format}"
                requirements = op.get("security") or []
                bearer = [r for r in requirements if BEARER_SCHEME in r]
                if needs and (not bearer or len(bearer) != len(requirements)):
                    out.append(f"{where}: needs a token but security is not "
                               f"[{{{BEARER_SCHEME!r}: []}}]")
                elif takes and not bearer:
                    out.append(f"{where}: takes a token but security does not offer "
                               f"{BEARER_SCHEME}")
                if set_up and "403" not in op.get("responses", {}):
                    out.append(f"{where}: needs a set-up account (provide_principal: 403 "
                               "before onboarding) but documents no 403")
    return out


def check(app: Litestar) -> tuple[dict[str, Any], list[str]]:
    doc = document(app)
    return doc, document_problems(doc) + route_problems(app, doc)


def validate_spec(doc: dict[str, Any]) -> None:
    """Raises when the document is not valid OpenAPI."""
    from openapi_spec_validator import validate

    validate(json.loads(json.dumps(doc)))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, required=True,
                        help="directory to write openapi.json into")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="aethex-openapi-") as data_dir:
        app, services = build_app(data_dir)
        try:
            doc, problems = check(app)
        finally:
            services.close()
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "openapi.json").write_text(json.dumps(doc, indent=2, sort_keys=True) + "\n")
    validate_spec(doc)
    count = sum(1 for _ in operations(doc))
    for line in problems:
        print(f"openapi: {line}", file=sys.stderr)
    if problems:
        print(f"openapi: {len(problems)} problem(s) in {count} operations", file=sys.stderr)
        return 1
    print(f"openapi: {count} operations, every answer typed and every error documented")
    return 0


if __name__ == "__main__":
    sys.exit(main())
