"""From ingest signals to commands: the one place where nginx-rtmp hooks and provider
webhooks become GoLive / EndStream / IngestConnected / IngestDisconnected / StoreRecording,
each run as the system, and where every accepted notification is recorded once.

The receipt (WebhookReceipt.Received) is saved in the same transaction as the command's
events, so a redelivered notification either finds its receipt (a duplicate: nothing else
happens) or collides with it on save and changes nothing. A notification about a live
input that no channel has bound is acknowledged and leaves nothing behind: providers send
every input of an account, and a receipt for each would only grow the log.

Each provider's own lifecycle is followed: nginx-rtmp's disconnect starts our reconnect
grace; Mux keeps a disconnected live stream open for its `reconnect_window` and ends it with
`idle`, so no timer of ours runs; Cloudflare ends a live video `recording.timeoutSeconds`
after the input disconnects (0 by default), which is the grace it gets here.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from uuid import UUID, uuid4

import msgspec
import structlog
from eventsourcing.domain import Aggregate

from commands.actors import SystemActor
from commands.end_stream import EndStream, end_stream
from commands.ingest_connected import IngestConnected, IngestResult, ingest_connected
from commands.ingest_disconnected import IngestDisconnected, ingest_disconnected
from commands.playback import PlaybackPlan
from commands.ports import Begun, IngestSignal, Store
from commands.store_recording import StoreRecording, store_recording
from domain.channel import Channel
from domain.errors import Conflict, DomainError, NotFound
from domain.stream import Stream
from domain.unique_name import UniqueName
from domain.webhook_receipt import WebhookReceipt

log = structlog.get_logger(__name__)


class Outcome(msgspec.Struct, frozen=True, kw_only=True):
    """What a notification did, as the webhook route answers it."""

    duplicate: bool
    outcome: str
    channel_id: UUID | None = None
    stream_id: UUID | None = None
    status: str | None = None
    position: int = 0


class _Raced(Exception):
    """A save lost an optimistic-concurrency race; decide again."""


class _WithReceipt:
    """A Store that adds the receipt (and any claims) to the first save it makes."""

    def __init__(self, inner: Store, extras: Callable[[tuple[Aggregate, ...]], list[Aggregate]]
                 ) -> None:
        self.inner = inner
        self.extras = extras
        self.saved = False
        self.save_attempted = False

    def get(self, aggregate_id: UUID, kind: Any, *, what: str | None = None) -> Any:
        return self.inner.get(aggregate_id, kind, what=what)

    def find(self, aggregate_id: UUID, kind: Any) -> Any:
        return self.inner.find(aggregate_id, kind)

    def _with_extras(self, aggregates: tuple[Aggregate, ...]) -> tuple[Aggregate, ...]:
        self.save_attempted = True
        if self.saved:
            return aggregates
        self.saved = True
        return (*aggregates, *self.extras(aggregates))

    def save(self, *aggregates: Aggregate) -> int:
        return self.inner.save(*self._with_extras(aggregates))

    def save_each(self, *aggregates: Aggregate) -> list[int]:
        return self.inner.save_each(*self._with_extras(aggregates))[:len(aggregates)]

    def start_save_each(self, *aggregates: Aggregate) -> Begun[list[int]]:
        saving = self.inner.start_save_each(*self._with_extras(aggregates))
        return Begun(lambda: saving()[:len(aggregates)], ready=saving.ready)


def binding_id(provider: str, external_id: str) -> UUID:
    """The claim binding a provider's live input (Mux live stream, Cloudflare input) to a
    channel."""
    return UniqueName.create_id(f"ingest-{provider}", external_id)


def asset_id_claim(provider: str, asset_id: str) -> UUID:
    return UniqueName.create_id(f"asset-{provider}", asset_id)


@dataclass(frozen=True)
class IngestConfig:
    """Where each provider's playback and thumbnails are (templates of their addresses)
    and how long a dropped ingest may take to come back before the stream ends."""

    ingest_playback_template: str
    mux_playback_template: str
    cloudflare_playback_template: str
    reconnect_grace_s: float
    mux_thumbnail_template: str | None = None
    cloudflare_thumbnail_template: str | None = None
    cloudflare_recording_timeout_s: float = 0.0

    def grace_for(self, provider: str) -> float | None:
        """Our grace after a disconnect; None where the provider ends the stream itself."""
        if provider == "mux":
            return None
        if provider == "cloudflare":
            return self.cloudflare_recording_timeout_s
        return self.reconnect_grace_s


class IngestLifecycle:
    """Applies ingest signals to the event store (blocking; run it off the event loop)."""

    def __init__(self, store: Store, config: IngestConfig,
                 latest_open_stream: Callable[[UUID], UUID | None]) -> None:
        self.store = store
        self.config = config
        # The read model's answer: the channel's newest stream not yet archived.
        self.latest_open_stream = latest_open_stream

    def plan(self, provider: str, playback_id: str | None, *, ready: bool = True
             ) -> PlaybackPlan:
        c = self.config
        template = {"mux": c.mux_playback_template,
                    "cloudflare": c.cloudflare_playback_template}.get(
                        provider, c.ingest_playback_template)
        thumbnail = {"mux": c.mux_thumbnail_template,
                     "cloudflare": c.cloudflare_thumbnail_template}.get(provider)
        return PlaybackPlan(provider=provider, hls_template=template, playback_id=playback_id,
                            thumbnail_template=thumbnail, ready=ready)

    def channel_of(self, signal: IngestSignal) -> UUID | None:
        if signal.external_id:
            claim = self.store.find(binding_id(signal.provider, signal.external_id), UniqueName)
            if claim is not None:
                return claim.owner_id
        if signal.channel_hint:  # Mux passthrough set to our channel id
            try:
                channel_id = UUID(signal.channel_hint)
            except ValueError:
                return None
            if self.store.find(channel_id, Channel) is not None:
                return channel_id
        return None

    def stream_of(self, signal: IngestSignal, channel_id: UUID) -> UUID | None:
        """The stream a recording belongs to: by the asset the provider named while live,
        else the channel's current stream, else its latest one not yet archived."""
        if signal.asset_id:
            claim = self.store.find(asset_id_claim(signal.provider, signal.asset_id),
                                    UniqueName)
            if claim is not None:
                return claim.owner_id
        channel = self.store.get(channel_id, Channel)
        if channel.current_stream_id is not None:
            return channel.current_stream_id
        return self.latest_open_stream(channel_id)

    def apply(self, signal: IngestSignal, *, channel_id: UUID | None = None,
              stream_id: UUID | None = None, attempts: int = 5) -> Outcome:
        """Runs the signal's command with its receipt; a duplicate changes nothing. A save
        that loses a race with another writer of the same stream (a viewer-count sample,
        the grace worker) is decided again on fresh state."""
        for attempt in range(attempts):
            try:
                return self._apply_once(signal, channel_id, stream_id)
            except _Raced:
                if attempt == attempts - 1:
                    raise Conflict("the stream kept changing; retry the notification") \
                        from None
        raise AssertionError("unreachable")

    def _apply_once(self, signal: IngestSignal, channel_id: UUID | None,
                    stream_id: UUID | None) -> Outcome:
        receipt_id = WebhookReceipt.create_id(signal.provider, signal.event_id)
        if self.store.find(receipt_id, WebhookReceipt) is not None:
            return Outcome(duplicate=True, outcome="duplicate")
        received_at = datetime.now(UTC)
        channel_id = channel_id or self.channel_of(signal)
        if channel_id is None and stream_id is None:
            # Not ours (another product's input on the same account, or not bound yet):
            # answered so the provider stops retrying, and nothing is recorded.
            log.info("ingest.unbound", provider=signal.provider, type=signal.event_type)
            return Outcome(duplicate=False, outcome="ignored: no channel is bound to this input")

        def receipt(outcome: str, sid: UUID | None) -> WebhookReceipt:
            return WebhookReceipt.record(
                provider=signal.provider, event_id=signal.event_id,
                event_type=signal.event_type, received_at=received_at,
                channel_id=channel_id, stream_id=sid, outcome=outcome)

        def extras(aggregates: tuple[Aggregate, ...]) -> list[Aggregate]:
            stream = next((a for a in aggregates if isinstance(a, Stream)), None)
            out: list[Aggregate] = [receipt(f"applied: {signal.kind}",
                                            stream.id if stream else stream_id)]
            if (stream is not None and signal.kind in ("starting", "connected")
                    and signal.asset_id
                    and self.store.find(asset_id_claim(signal.provider, signal.asset_id),
                                        UniqueName) is None):
                out.append(UniqueName.claim(f"asset-{signal.provider}", signal.asset_id,
                                            stream.id))
            return out

        store = _WithReceipt(self.store, extras)
        try:
            result = self._decide(signal, store, channel_id, stream_id)
        except DomainError as e:
            if store.save_attempted:  # lost a race: maybe with a duplicate delivery
                if self.store.find(receipt_id, WebhookReceipt) is not None:
                    return Outcome(duplicate=True, outcome="duplicate")
                if isinstance(e, Conflict):
                    raise _Raced from e
                raise
            # The notification is valid but changes nothing now (an ended stream, an
            # unknown input): acknowledge it so the provider stops retrying, and keep why.
            result = IngestResult(stream=None, position=0, outcome=f"ignored: {e.message}")
        stream = result.stream
        position = result.position
        if not store.saved:
            try:
                position = self.store.save(receipt(result.outcome,
                                                   stream.id if stream else stream_id))
            except Conflict:
                return Outcome(duplicate=True, outcome="duplicate")
        log.info("ingest.signal", provider=signal.provider, type=signal.event_type,
                 outcome=result.outcome, channel_id=str(channel_id) if channel_id else None,
                 stream_id=str(stream.id) if stream else None)
        return Outcome(duplicate=False, outcome=result.outcome, channel_id=channel_id,
                       stream_id=stream.id if stream else stream_id,
                       status=stream.status.value if stream else None, position=position)

    def _decide(self, signal: IngestSignal, store: Store, channel_id: UUID | None,
                stream_id: UUID | None) -> IngestResult:
        actor = SystemActor(f"ingest:{signal.provider}")
        if signal.kind == "ignored":
            return IngestResult(stream=None, position=0, outcome="ignored")
        if stream_id is None and channel_id is None:
            raise NotFound("no channel is bound to this live input", field="input")
        if signal.kind in ("starting", "connected", "ended") and channel_id is None:
            raise NotFound("this notification names no channel", field="input")
        if signal.kind in ("starting", "connected"):
            assert channel_id is not None  # checked just above; narrows the type
            return ingest_connected(IngestConnected(
                actor_id=actor, channel_id=channel_id,
                playback=self.plan(signal.provider, signal.playback_id,
                                   ready=signal.kind == "connected")), store)
        if signal.kind == "disconnected":
            return ingest_disconnected(IngestDisconnected(
                actor_id=actor, provider=signal.provider,
                grace_s=self.config.grace_for(signal.provider),
                provider_window_s=signal.provider_window_s,
                channel_id=channel_id, stream_id=stream_id), store)
        if signal.kind == "ended":
            assert channel_id is not None  # checked above
            current = store.get(channel_id, Channel).current_stream_id
            if current is None:
                return IngestResult(stream=None, position=0, outcome="no live stream")
            ended = end_stream(EndStream(actor_id=actor, stream_id=current), store)
            return IngestResult(stream=ended.stream, position=ended.position, outcome="ended")
        target = stream_id or (self.stream_of(signal, channel_id) if channel_id else None)
        if target is None:
            raise NotFound("no stream of this channel awaits a recording", field="input")
        return store_recording(StoreRecording(
            actor_id=actor, stream_id=target, recording_path=signal.recording_path,
            vod_url=signal.vod_url, final=signal.kind == "final_recording",
            thumbnail_url=signal.thumbnail_url), store)


def nginx_event_id(call: str) -> str:
    """nginx-rtmp never retries a hook and sends no id: each call is its own notification."""
    return f"{call}:{uuid4()}"


class ApplySignal(msgspec.Struct, frozen=True, kw_only=True):
    """The command a provider's notification becomes: apply `signal`, to the channel or
    stream the receiver already knows it is about, if it knows."""

    signal: IngestSignal
    channel_id: UUID | None = None
    stream_id: UUID | None = None


def apply_signal(cmd: ApplySignal, lifecycle: IngestLifecycle) -> Outcome:
    return lifecycle.apply(cmd.signal, channel_id=cmd.channel_id, stream_id=cmd.stream_id)
