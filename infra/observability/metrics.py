"""Process-wide Prometheus metrics: the counters and histograms the hot paths bump.

They live in a registry of our own (not prometheus-client's global one) so that what
`/metrics` shows is exactly ours plus the process collector, and tests can read values
from it. Gauges that describe state (lag, positions, WebSocket connections) are not
here: `read_api/metrics.py` computes them when scraped, so no hot path pays for them.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Histogram, ProcessCollector

REGISTRY = CollectorRegistry(auto_describe=True)
ProcessCollector(registry=REGISTRY)

COMMANDS = Counter(
    "aethex_commands", "Commands handled, by command handler", ["command"], registry=REGISTRY)
EVENTS_APPENDED = Counter(
    "aethex_events_appended", "Events appended to the event store by this process",
    registry=REGISTRY)
EVENTS_RELAYED = Counter(
    "aethex_events_relayed", "Events the relay published to the bus", registry=REGISTRY)
EVENTS_PROJECTED = Counter(
    "aethex_events_projected", "Events applied to a read model, by projection", ["projection"],
    registry=REGISTRY)
GROUP_COMMIT_BATCH = Histogram(
    "aethex_group_commit_batch_size", "Commands saved together in one group commit",
    ["writer"], buckets=(1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000), registry=REGISTRY)
REQUEST_LATENCY = Histogram(
    "aethex_http_request_duration_seconds", "HTTP request latency, by route template",
    ["method", "route", "status"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0),
    registry=REGISTRY)
TASK_FAILURES = Counter(
    "aethex_task_failures", "Supervised tasks that failed (or returned early), by task and "
    "error type", ["task", "error"], registry=REGISTRY)
TASK_RESTARTS = Counter(
    "aethex_task_restarts", "Supervised tasks restarted after a failure, by task", ["task"],
    registry=REGISTRY)

WEBHOOK_ATTEMPTS = Counter(
    "aethex_webhook_attempts", "Outbound webhook delivery attempts, by outcome (delivered, "
    "retrying, refused, failed)", ["outcome"], registry=REGISTRY)
WEBHOOK_LATENCY = Histogram(
    "aethex_webhook_attempt_duration_seconds", "How long a receiver took to answer a "
    "delivery attempt (or to fail), by outcome", ["outcome"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0),
    registry=REGISTRY)


def count_chat_batch(size: int) -> None:
    """The chat group committer's batch hook: one batch of `size` SendMessage commands."""
    GROUP_COMMIT_BATCH.labels("chat").observe(size)
    COMMANDS.labels("send_message").inc(size)
