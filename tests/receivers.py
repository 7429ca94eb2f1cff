"""Real HTTP servers on loopback that capture what an SDK sends and decode it the way the
service behind it would: Sentry envelopes, OTLP trace exports (protobuf or JSON), PostHog
batches. Tests assert on what was decoded, never on the SDKs' insides."""

from __future__ import annotations

import gzip
import json
import threading
import time
import zlib
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class Captured:
    """One request as it arrived: path, headers and the body, decompressed."""

    def __init__(self, path: str, headers: dict[str, str], body: bytes) -> None:
        self.path = path
        self.headers = headers
        self.body = body


class CapturingServer:
    """A threaded HTTP server that keeps every POST and answers `answer(path)`."""

    def __init__(self, answer: Callable[[str], tuple[int, str, bytes]] | None = None) -> None:
        self.requests: list[Captured] = []
        self._lock = threading.Lock()
        self._answer = answer or (lambda path: (200, "application/json", b"{}"))
        captured, lock, answer_of = self.requests, self._lock, self._answer

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                encoding = (self.headers.get("Content-Encoding") or "").lower()
                if encoding == "gzip":
                    body = gzip.decompress(body)
                elif encoding == "deflate":
                    body = zlib.decompress(body)
                with lock:
                    captured.append(Captured(self.path, {k.lower(): v for k, v in
                                                         self.headers.items()}, body))
                status, content_type, payload = answer_of(self.path)
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def __enter__(self) -> CapturingServer:
        self.thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.server.shutdown()
        self.server.server_close()

    def snapshot(self) -> list[Captured]:
        with self._lock:
            return list(self.requests)

    def wait_for(self, condition: Callable[[], Any], timeout: float = 20.0,
                 what: str = "the expected requests") -> Any:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = condition()
            if found:
                return found
            time.sleep(0.05)
        raise AssertionError(f"timed out waiting for {what}; got {len(self.snapshot())} "
                             f"requests: {[r.path for r in self.snapshot()]}")


# -- Sentry -----------------------------------------------------------------------------


def sentry_envelope(body: bytes) -> tuple[dict[str, Any], list[tuple[dict[str, Any], bytes]]]:
    """An envelope as Sentry reads it: a JSON header line, then items, each a JSON header
    line and a payload (`length` bytes, or up to the next newline)."""
    header_line, _, rest = body.partition(b"\n")
    header = json.loads(header_line)
    items = []
    while rest.strip():
        item_line, _, rest = rest.partition(b"\n")
        item = json.loads(item_line)
        length = item.get("length")
        if length is None:
            payload, _, rest = rest.partition(b"\n")
        else:
            payload, rest = rest[:length], rest[length + 1:]
        items.append((item, payload))
    return header, items


def sentry_events(server: CapturingServer) -> list[dict[str, Any]]:
    """Every error event in the envelopes the server received (`/api/<project>/envelope/`)."""
    events = []
    for r in server.snapshot():
        if not r.path.endswith("/envelope/"):
            continue
        _, items = sentry_envelope(r.body)
        events += [json.loads(payload) for item, payload in items if item["type"] == "event"]
    return events


# -- OTLP -------------------------------------------------------------------------------


class Span:
    """One decoded span with the resource (the process) that sent it."""

    def __init__(self, service: str, instance: str, trace_id: str, span_id: str,
                 parent_id: str, name: str, kind: int, links: list[tuple[str, str]],
                 attributes: dict[str, Any]) -> None:
        self.service, self.instance = service, instance
        self.trace_id, self.span_id, self.parent_id = trace_id, span_id, parent_id
        self.name, self.kind, self.links, self.attributes = name, kind, links, attributes

    def __repr__(self) -> str:
        return (f"Span({self.service} {self.name!r} {self.trace_id[:8]}/{self.span_id} "
                f"<- {self.parent_id})")


def _value(v: Any) -> Any:
    which = v.WhichOneof("value")
    return getattr(v, which) if which else None


def otlp_spans(server: CapturingServer) -> list[Span]:
    """Every span of the OTLP/HTTP exports received at `/v1/traces`, decoded with the
    OpenTelemetry protobuf definitions (JSON bodies are read as the OTLP JSON mapping)."""
    from google.protobuf import json_format
    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
        ExportTraceServiceRequest,
    )

    spans = []
    for r in server.snapshot():
        if r.path != "/v1/traces":
            continue
        request = ExportTraceServiceRequest()
        if "json" in r.headers.get("content-type", ""):
            json_format.Parse(r.body, request)
        else:
            request.ParseFromString(r.body)
        for rs in request.resource_spans:
            resource = {a.key: _value(a.value) for a in rs.resource.attributes}
            for ss in rs.scope_spans:
                for s in ss.spans:
                    spans.append(Span(
                        resource.get("service.name", ""),
                        resource.get("service.instance.id", ""),
                        s.trace_id.hex(), s.span_id.hex(), s.parent_span_id.hex(), s.name,
                        s.kind, [(link.trace_id.hex(), link.span_id.hex()) for link in s.links],
                        {a.key: _value(a.value) for a in s.attributes}))
    return spans
