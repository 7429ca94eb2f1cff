"""Traces with OpenTelemetry, exported as OTLP over HTTP to `AETHEX_OTLP_ENDPOINT`.

Off unless that is set: `ON` stays False, the SDK is never imported, and every hook on the
chat path is one test of that flag. On, one chat message is one trace across processes:
the request (or socket event) and the group-commit batch on the API node, then the relay's
publish and the projector's transaction in their own processes. The context crosses
processes twice: in the stored event (a `traceparent` beside its fields, written by
`stamp` at save time, so a replay can show where an event came from) and in the AMQP
headers of each relayed message. Where one piece of work serves several traces at once
(the relay publishing a run of events, a projector applying it), it gets a span in each of
those traces (`spans`), so every sampled message's trace holds all three processes; the
AMQP message carries the relay's span of each trace it holds (`aethex-traces`).
"""

from __future__ import annotations

import contextlib
import os
import socket
from collections.abc import Iterable, Iterator, Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.trace import SpanContext, Tracer

    from infra.settings import Settings

# The key of the trace context in a stored event's JSON and in AMQP headers (W3C).
TRACE_KEY = "traceparent"
# AMQP header: the publisher's span in each trace a relayed message holds, space-separated.
TRACES_KEY = "aethex-traces"
MAX_LINKS = 64  # a span links to at most this many other traces (the SDK's limit is 128)

ON = False
_tracer: Tracer | None = None
_provider: TracerProvider | None = None


def start_tracing(settings: Settings, role: str) -> bool:
    """Exports this process's spans when `AETHEX_OTLP_ENDPOINT` is set; `role` names the
    process (`api`, `relay`, `projector`, ...) as its `service.name`."""
    global ON, _tracer, _provider
    if not settings.otlp_endpoint:
        return False
    from opentelemetry import trace
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor
    from opentelemetry.sdk.trace.sampling import ParentBased, TraceIdRatioBased

    stop_tracing()
    resource = Resource.create({
        "service.name": f"aethex-{role}",
        "service.namespace": settings.namespace,
        "service.version": settings.version,
        "service.instance.id": settings.node_id or f"{socket.gethostname()}-{os.getpid()}",
        "deployment.environment.name": settings.deployment,
    })
    endpoint = settings.otlp_endpoint.rstrip("/")
    if not endpoint.endswith("/v1/traces"):
        endpoint += "/v1/traces"
    _provider = TracerProvider(resource=resource, sampler=ParentBased(
        TraceIdRatioBased(settings.otlp_sample_ratio)))
    _provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter(endpoint=endpoint,
                                                                     timeout=5)))
    _tracer = _provider.get_tracer("aethex")
    if not isinstance(trace.get_tracer_provider(), TracerProvider):
        trace.set_tracer_provider(_provider)  # for libraries that trace themselves
    ON = True
    return True


def stop_tracing() -> None:
    """Sends what is buffered and stops exporting."""
    global ON, _tracer, _provider
    ON = False
    if _provider is not None:
        _provider.shutdown()
    _tracer = _provider = None


def flush(timeout_s: float = 5.0) -> None:
    if _provider is not None:
        _provider.force_flush(int(timeout_s * 1000))


def parse(traceparent: str | None) -> SpanContext | None:
    """The remote span context a `traceparent` names; None when absent or malformed."""
    if not traceparent or not isinstance(traceparent, str):
        return None
    parts = traceparent.split("-")
    if len(parts) != 4 or parts[0] != "00" or len(parts[1]) != 32 or len(parts[2]) != 16:
        return None
    from opentelemetry.trace import SpanContext, TraceFlags

    try:
        trace_id, span_id, flags = int(parts[1], 16), int(parts[2], 16), int(parts[3], 16)
    except ValueError:
        return None
    if not trace_id or not span_id:
        return None
    return SpanContext(trace_id, span_id, is_remote=True, trace_flags=TraceFlags(flags))


def format_context(ctx: SpanContext) -> str:
    return f"00-{ctx.trace_id:032x}-{ctx.span_id:016x}-{int(ctx.trace_flags):02x}"


def current() -> str | None:
    """The current span's context as a `traceparent`; None when off or outside a span."""
    if not ON:
        return None
    from opentelemetry import trace

    ctx = trace.get_current_span().get_span_context()
    return format_context(ctx) if ctx.is_valid else None


@contextlib.contextmanager
def span(name: str, *, parents: Iterable[str | None] = (), kind: str = "internal",
         attributes: Mapping[str, Any] | None = None) -> Iterator[Any]:
    """A span, current inside the block. With `parents` (traceparents, None skipped), it is
    the child of the first and links to the others (at most MAX_LINKS); without, the child
    of the current span. Yields None when tracing is off."""
    if not ON or _tracer is None:
        yield None
        return
    from opentelemetry import trace
    from opentelemetry.trace import Link, SpanKind

    seen: set[str] = set()
    contexts = []
    for p in parents:
        if p and p not in seen:
            seen.add(p)
            c = parse(p)
            if c is not None:
                contexts.append(c)
                if len(contexts) > MAX_LINKS:
                    break
    context = trace.set_span_in_context(trace.NonRecordingSpan(contexts[0])) \
        if contexts else None
    links = [Link(c) for c in contexts[1:]]
    with _tracer.start_as_current_span(
            name, context=context, kind=getattr(SpanKind, kind.upper()), links=links,
            attributes=dict(attributes or {})) as s:
        yield s


@contextlib.contextmanager
def within(traceparent: str | None) -> Iterator[None]:
    """Makes `traceparent` the current context inside the block, without a span of its
    own: work that a span began, ended on another thread (the group commit's finishing
    thread), makes its spans that span's children."""
    if not ON or traceparent is None:
        yield
        return
    from opentelemetry import context, trace

    parsed = parse(traceparent)
    if parsed is None:
        yield
        return
    token = context.attach(trace.set_span_in_context(trace.NonRecordingSpan(parsed)))
    try:
        yield
    finally:
        context.detach(token)


@contextlib.contextmanager
def spans(name: str, *, parents: Iterable[str | None], kind: str = "internal",
          attributes: Mapping[str, Any] | None = None) -> Iterator[dict[str, str]]:
    """One span in each trace among `parents` (traceparents; None and repeats skipped; at
    most MAX_LINKS), each the child of its parent, all covering the block: work done for
    several traces at once shows in each of them. Yields {parent: the span's traceparent};
    nothing when tracing is off."""
    if not ON or _tracer is None:
        yield {}
        return
    from opentelemetry import trace
    from opentelemetry.trace import SpanKind, Status, StatusCode

    made: dict[str, str] = {}
    opened = []
    for p in dict.fromkeys(p for p in parents if p):
        if len(opened) >= MAX_LINKS:
            break
        c = parse(p)
        if c is None:
            continue
        span_ = _tracer.start_span(
            name, context=trace.set_span_in_context(trace.NonRecordingSpan(c)),
            kind=getattr(SpanKind, kind.upper()), attributes=dict(attributes or {}))
        opened.append(span_)
        made[p] = format_context(span_.get_span_context())
    try:
        yield made
    except BaseException as e:
        for span_ in opened:
            span_.record_exception(e)
            span_.set_status(Status(StatusCode.ERROR, type(e).__name__))
        raise
    finally:
        for span_ in opened:
            span_.end()


def message_headers(traces: list[str]) -> dict[str, str] | None:
    """AMQP headers for a relayed message holding these traces (the relay's span in each)."""
    if not traces:
        return None
    return {TRACE_KEY: traces[0], TRACES_KEY: " ".join(traces)}


def header_traces(headers: Mapping[str, Any] | None) -> list[str]:
    """The traces a received message's headers name (its publisher's span in each)."""
    if not headers:
        return []
    many = headers.get(TRACES_KEY)
    if isinstance(many, str) and many:
        return many.split()
    one = headers.get(TRACE_KEY)
    return [one] if isinstance(one, str) and one else []


def server_span(name: str, headers: Iterable[tuple[bytes, bytes]],
                attributes: Mapping[str, Any] | None = None) -> Any:
    """A request's span, continuing a trace its caller sent in a `traceparent` header."""
    parent = None
    for key, value in headers:
        if key == b"traceparent":
            parent = value.decode("latin-1")
            break
    return span(name, parents=(parent,), kind="server", attributes=attributes)


def stamp(events: Iterable[Any]) -> None:
    """Writes the current context into domain events about to be stored. The library
    stores an event's attributes as its JSON; it hands an attribute no method parameter
    names to nobody, so stored events stay readable by `eventsourcing` itself."""
    tp = current()
    if tp is not None:
        for event in events:
            object.__setattr__(event, TRACE_KEY, tp)
