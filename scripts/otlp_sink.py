"""A local OTLP/HTTP trace receiver for benchmarks: decodes every export (protobuf, with
the OpenTelemetry definitions) and counts spans by service, printing the counts when it
stops (SIGINT/SIGTERM). Nothing is kept, so a long run costs no memory.

  .venv/bin/python scripts/otlp_sink.py --port 4318 &
  AETHEX_OTLP_ENDPOINT=http://127.0.0.1:4318 scripts/bench-sio --target ours ...
"""

from __future__ import annotations

import argparse
import contextlib
import gzip
import json
import signal
import sys
import threading
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--port", type=int, default=4318)
    args = p.parse_args()
    spans: Counter[str] = Counter()
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            if self.headers.get("Content-Encoding") == "gzip":
                body = gzip.decompress(body)
            request = ExportTraceServiceRequest.FromString(body)
            with lock:
                for rs in request.resource_spans:
                    service = next((a.value.string_value for a in rs.resource.attributes
                                    if a.key == "service.name"), "?")
                    spans[service] += sum(len(ss.spans) for ss in rs.scope_spans)
            self.send_response(200)
            self.send_header("Content-Type", "application/x-protobuf")
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *a: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", args.port), Handler)
    signal.signal(signal.SIGTERM, lambda *_: threading.Thread(target=server.shutdown).start())
    print(f"otlp sink on http://127.0.0.1:{args.port}", file=sys.stderr, flush=True)
    with contextlib.suppress(KeyboardInterrupt):
        server.serve_forever()
    print(json.dumps({"spans": dict(spans), "total": sum(spans.values())}), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
