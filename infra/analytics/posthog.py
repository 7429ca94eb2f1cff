"""Product events to PostHog with the maintained `posthog` package.

The client queues captures and posts them in batches from its own thread; `send` queues a
batch of ours, waits until the client has posted it (its `flush`), and raises when the
client reported a failure for any of them (after its own retries), so the caller keeps its
position and sends the batch again. Each capture carries a stable `uuid` (the event's id),
so a batch sent twice is one set of events to PostHog.
"""

from __future__ import annotations

import threading
from typing import Any

import msgspec


class ProductEvent(msgspec.Struct, frozen=True):
    """One capture: what happened, to whom (a distinct id: our user id), when, and a
    stable id."""

    event: str
    distinct_id: str
    timestamp: str
    uuid: str
    properties: dict[str, Any]


class PostHogUnavailable(ConnectionError):
    """PostHog did not take a batch (after the client's retries): send it again later."""


class PostHogSink:
    """Sends product events to the PostHog project `key` at `host`."""

    def __init__(self, key: str, host: str, *, timeout_s: float = 10.0,
                 max_retries: int = 3) -> None:
        from posthog import Posthog

        self.timeout_s = timeout_s
        self._lock = threading.Lock()
        self._errors: list[str] = []
        self.client = Posthog(
            key, host=host, on_error=self._on_error, timeout=timeout_s, max_retries=max_retries,
            flush_at=250, flush_interval=0.5, disable_geoip=True,
            enable_exception_autocapture=False, enable_local_evaluation=False)

    def _on_error(self, error: Exception, batch: Any) -> None:
        with self._lock:
            self._errors.append(f"{type(error).__name__}: {error}")

    def send(self, events: list[ProductEvent]) -> None:
        """Blocks until PostHog has taken `events`; raises PostHogUnavailable if not."""
        with self._lock:
            self._errors.clear()
        for e in events:
            self.client.capture(e.event, distinct_id=e.distinct_id, properties=e.properties,
                                timestamp=e.timestamp, uuid=e.uuid)
        self.client.flush(self.timeout_s * 4)  # the client retries within this
        with self._lock:
            errors = list(self._errors)
        if errors:
            raise PostHogUnavailable(f"PostHog refused {len(errors)} batch(es): {errors[0]}")

    def close(self) -> None:
        self.client.shutdown()
