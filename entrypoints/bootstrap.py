"""The composition root: the one place that picks adapters (SQLite or PostgreSQL,
in-process bus or RabbitMQ) from settings and wires them into handlers and workers."""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Callable
from typing import Any, TypeVar

import structlog

from commands.bus import retrying
from commands.chat_refusals import RefusalTally
from commands.group_commit import GroupCommitter
from commands.ingest_lifecycle import IngestConfig, IngestLifecycle
from commands.ports import Begun
from commands.send_message import MessageSent, SendMessage, start_sending
from commands.slow_mode import LastSent, SlowModeClock
from commands.subscribers import SubscriberCache
from commands.webhooks import WebhookRules
from domain.errors import DomainError
from entrypoints.handlers import caught_up_recent, command_bus
from entrypoints.observability import TracedGroupCommitter, trace_commands
from infra.analytics.posthog import PostHogSink
from infra.eventstore.event_store import EventStore
from infra.eventstore.log_watcher import LogWatcher
from infra.identity.auth import Argon2Hasher, Authenticator, LocalTokens
from infra.identity.authenticators import build_authenticator, open_storage
from infra.messaging.bus import EventBus, InProcessBus, LiveHandler
from infra.messaging.rabbitmq import RabbitBus
from infra.observability import metrics, tracing
from infra.readstore.database import Database, PostgresDatabase, SqliteDatabase
from infra.readstore.schema_lock import schema_lock
from infra.runtime.supervisor import Supervisor
from infra.settings import Settings, SettingsError, postgres_params
from infra.shared_state.presence import MemoryPresence, Presence, RedisPresence
from infra.shared_state.rate_limit import ChatRateLimiter
from infra.shared_state.slow_mode import RedisLastSent
from infra.storage.objects import Storage
from infra.storage.recordings import DiskRecordings, RecordingStore, S3Recordings
from infra.webhooks.delivery import Poster
from infra.webhooks.secret_box import SecretBox
from projections import webhook_feed
from projections.base import Projection, migrate
from projections.registry import all_projections
from projections.stream_status import latest_open_stream
from read_api.async_ports import Identities
from read_api.consistency import PositionBoard
from read_api.operations import ProcessState
from read_api.reads import Aggregates, ReadModels
from read_api.services import Services as ApiServices
from workers.product_events import ProductEvents
from workers.projector import ProjectorRunner
from workers.reconnect_grace import ReconnectGrace
from workers.relay import Relay
from workers.subscription_sweeper import SubscriptionSweeper
from workers.thumbnailer import Thumbnailer
from workers.vod_publisher import VodPublisher
from workers.webhook_sender import Policy, WebhookSender

log = structlog.get_logger(__name__)
T = TypeVar("T")
WEBHOOKS = "webhooks"  # the webhook sender's name in AETHEX_WORKERS
PRODUCT_EVENTS = "product_events"  # PostHog's, when AETHEX_POSTHOG_KEY is set


def open_read_db(settings: Settings) -> Database:
    if settings.database_url:
        return PostgresDatabase(settings.database_url, settings.namespace,
                                max_size=settings.database_pool_size,
                                wait_s=settings.database_wait_s)
    return SqliteDatabase(settings.var / "read.sqlite")


def open_presence(settings: Settings) -> Presence:
    if settings.redis_url:
        return RedisPresence(settings.redis_url, settings.namespace, settings.presence_ttl_s)
    return MemoryPresence(settings.presence_ttl_s)


def open_bus(settings: Settings, supervisor: Supervisor | None = None) -> EventBus:
    if settings.rabbitmq_url:
        return RabbitBus(settings.rabbitmq_url, settings.namespace, supervisor)
    return InProcessBus()


def open_recordings(settings: Settings) -> RecordingStore:
    """The archive bucket when one is set (or the uploads' bucket), else nginx's disk."""
    bucket = settings.s3_archive_bucket or settings.s3_bucket
    if bucket:
        return S3Recordings(bucket, endpoint_url=settings.s3_endpoint_url,
                            region=settings.s3_region, access_key_id=settings.s3_access_key_id,
                            secret_access_key=settings.s3_secret_access_key,
                            public_url=settings.s3_archive_public_url)
    return DiskRecordings(settings.ingest_vod_template)


class Services(ApiServices):
    """Everything a process needs, built from settings; `start` runs the chosen workers."""

    def __init__(self, settings: Settings) -> None:
        if settings.require_services and not (settings.database_url and settings.rabbitmq_url):
            raise SettingsError("services are required but AETHEX_DATABASE_URL or "
                                "AETHEX_RABBITMQ_URL is not set")
        self.settings = settings
        try:  # before any table is made: a production process without it must not start
            self.secret_box = SecretBox(settings.webhook_key())
        except ValueError as e:
            raise SettingsError(f"AETHEX_WEBHOOK_SECRET_KEY: {e}") from None
        self.projections: list[Projection] = all_projections()
        with schema_lock(settings):  # processes starting together take turns at the DDL
            self.db = open_read_db(settings)  # first: it creates the PostgreSQL schema
            self.store = EventStore(settings.eventsourcing_env())
            migrate(self.db, self.projections, extra=webhook_feed.DDL)
        # Every long-running task of this process runs under it (infra/runtime/supervisor.py).
        self.supervisor = Supervisor(backoff_max_s=settings.restart_backoff_max_s,
                                     stall_s=settings.stall_s)
        self.bus = open_bus(settings, self.supervisor)
        self.hasher = Argon2Hasher()
        self.tokens = LocalTokens(
            settings.signing_key(), issuer=settings.jwt_issuer, audience=settings.jwt_audience,
            ttl_s=settings.access_token_ttl_s)
        self.authenticator: Authenticator = build_authenticator(settings, self.tokens, self.store)
        self.storage: Storage = open_storage(settings)
        self.positions = PositionBoard(self.db)
        self.ingest = IngestLifecycle(self.store, IngestConfig(
            ingest_playback_template=settings.ingest_playback_template,
            mux_playback_template=settings.mux_playback_template,
            cloudflare_playback_template=settings.cloudflare_playback_template,
            reconnect_grace_s=settings.ingest_reconnect_grace_s,
            mux_thumbnail_template=settings.mux_thumbnail_template,
            cloudflare_thumbnail_template=settings.cloudflare_thumbnail_template,
            cloudflare_recording_timeout_s=settings.cloudflare_recording_timeout_s),
            functools.partial(latest_open_stream, self.db))
        self.presence = open_presence(settings)
        self.rate_limiter = ChatRateLimiter(settings.chat_rate_limit, settings.redis_url,
                                            settings.namespace)
        # slow mode: shared by every node when there is Redis
        self.last_sent: SlowModeClock = (
            RedisLastSent(settings.redis_url, settings.namespace) if settings.redis_url
            else LastSent())
        self.subscribers = SubscriberCache()  # the subscriber badge
        # Refused chat sends, counted here and recorded as events now and then
        # (workers/chat_refusal_recorder.py): the failed-message rate's other half.
        self.refusals = RefusalTally()
        # Told of every batch of messages as soon as its transaction has committed (on the
        # group commit's finishing thread): the API node pushes them to its rooms from there.
        self.chat_listeners: list[Callable[[list[MessageSent]], None]] = []
        # Traced only when tracing is on (entrypoints/observability.py), so off costs nothing.
        committer = TracedGroupCommitter if tracing.ON else GroupCommitter
        self.chat: GroupCommitter[SendMessage, MessageSent | DomainError] = committer(
            self._send_batch,
            window_s=settings.group_commit_window_ms / 1000.0,
            max_batch=settings.group_commit_max_batch, name="chat-group-commit",
            on_batch=metrics.count_chat_batch)
        recent = caught_up_recent(
            self.db, lambda: self.positions.positions(("chat_history",))["chat_history"],
            self.store.head, settings.read_wait_timeout_s)
        self.commands = command_bus(self.store, self.hasher, self.chat, recent, self.ingest,
                                    on_command=lambda name: metrics.COMMANDS.labels(name).inc(),
                                    box=self.secret_box, webhook_rules=WebhookRules(
                                        limit=settings.webhooks_per_channel,
                                        allow_insecure=settings.webhook_allow_private))
        if tracing.ON:
            trace_commands(self.commands, batched=(SendMessage,))
        self.reads = ReadModels(self.db, self.positions, wait_s=settings.read_wait_timeout_s)
        self.aggregates = Aggregates(self.store, self.store.head)
        self.identities = Identities(self.authenticator)
        self.process = ProcessState(
            self.store, self.db, self.projections, stall_s=settings.stall_s,
            supervisor=self.supervisor, chat_alive=lambda: self.chat.alive,
            bus_state=self._bus_state, runners=lambda: self.runners,
            runs_relay=lambda: self.relay is not None)
        self.relay: Relay | None = None
        self.webhook_sender: WebhookSender | None = None
        self.product_events: ProductEvents | None = None
        self.posthog: PostHogSink | None = None
        self.runners: dict[str, ProjectorRunner] = {}
        self.started = False

    def _send_batch(self, cmds: list[SendMessage],
                    ) -> Begun[list[MessageSent | DomainError]]:
        """Decides the batch and begins its save; the function returned (run by the group
        commit's finishing thread) waits for the save, counts refusals and hands what was
        stored to the live push."""
        def failed() -> None:  # the whole batch failed (the store): every send in it did
            for cmd in cmds:
                self.refusals.note(cmd.stream_id, "error")

        try:
            saving = start_sending(cmds, self.store, last_sent=self.last_sent,
                                   subscribers=self.subscribers)
        except Exception:
            failed()
            raise

        def finish() -> list[MessageSent | DomainError]:
            try:
                results = saving()
            except Exception:
                failed()
                raise
            sent = [r for r in results if isinstance(r, MessageSent)]
            if len(sent) < len(results):  # only a refusal costs anything here
                for cmd, result in zip(cmds, results, strict=True):
                    if isinstance(result, DomainError):
                        self.refusals.note(cmd.stream_id, result.code)
            if sent:
                for listener in list(self.chat_listeners):
                    try:
                        listener(sent)
                    except Exception:  # a listener must not fail the senders: stored
                        log.exception("chat.listener_failed")
            return results
        return Begun(finish, ready=saving.ready)

    def _bus_state(self) -> str:
        connection = getattr(self.bus, "connection", None)
        if connection is not None:
            return "ok" if not connection.is_closed else "error: closed"
        return "ok" if self.started else "error: not started"

    def projection(self, name: str) -> Projection:
        for p in self.projections:
            if p.name == name:
                return p
        raise KeyError(name)

    async def run(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """Runs blocking work (the event store, the read database) off the event loop,
        decided again after a lost race. Commands go through `commands` instead."""
        return await retrying(fn, *args, **kwargs)

    def log_watcher(self, role: str = "relay") -> LogWatcher:
        """Wakes a reader of the log; `role` names its leader lock (one per role)."""
        if self.settings.database_url:
            channel = getattr(self.store.app.recorder, "channel_name", None)
            params = {**postgres_params(self.settings.database_url),
                      "application_name": f"aethex.{self.settings.namespace}.{role}"}
            return LogWatcher(params, channel, lock_key=f"{self.settings.namespace}.{role}")
        return LogWatcher()

    async def start(self, *, live: LiveHandler | None = None,
                    workers: list[str] | None = None) -> None:
        """Connects the bus and starts the relay and projectors this process runs, each
        under the supervisor."""
        self.positions.bind_loop()
        self.spawn("group-commit-writer", self.chat.watch)
        await self.bus.connect()
        if live is not None:
            await self.bus.subscribe_live(live)
        wanted = workers if workers is not None else [
            w for w in ["relay", *(f"projector:{p.name}" for p in self.projections),
                        ReconnectGrace.name, SubscriptionSweeper.name, WEBHOOKS,
                        VodPublisher.name, Thumbnailer.name,
                        *([PRODUCT_EVENTS] if self.settings.posthog_key else [])]
            if self.settings.runs_worker(w)]
        for name in wanted:
            if name.startswith("projector:"):
                runner = ProjectorRunner(
                    self.projection(name.split(":", 1)[1]), self.store, self.db, self.bus,
                    batch_size=self.settings.projector_batch_size,
                    on_position=self.positions.moved)
                self.runners[runner.name] = runner
                self.spawn(name, runner.run)
        if "relay" in wanted:
            self.relay = Relay(self.store, self.bus, self.db, self.log_watcher(),
                               batch_size=self.settings.relay_batch_size)
            self.spawn("relay", self.relay.run)
        if ReconnectGrace.name in wanted:  # ingest: safe on any number of nodes
            grace = ReconnectGrace(self.store, self.db)
            self.spawn(grace.name, grace.run)
        if VodPublisher.name in wanted:  # media: needs ffmpeg and the recordings' disk
            vods = VodPublisher(self.store, self.db, open_recordings(self.settings),
                                self.storage, work_dir=self.settings.var / "media")
            self.spawn(vods.name, vods.run)
        if Thumbnailer.name in wanted:
            thumbnails = Thumbnailer(
                self.store, self.db, self.storage,
                interval_s=self.settings.ingest_thumbnail_interval_s,
                source_template=self.settings.ingest_internal_playback_template)
            self.spawn(thumbnails.name, thumbnails.run)
        if SubscriptionSweeper.name in wanted:  # as safe on any number of nodes
            sweeper = SubscriptionSweeper(self.store, self.db,
                                          poll_s=self.settings.subscription_sweep_s)
            self.spawn(sweeper.name, sweeper.run)
        if WEBHOOKS in wanted:  # one sender at a time across processes (a leader lock)
            s = self.settings
            self.webhook_sender = WebhookSender(
                self.store, self.db, self.log_watcher("webhooks"), self.secret_box,
                Poster(timeout_s=s.webhook_timeout_s, allow_private=s.webhook_allow_private),
                Policy(timeout_s=s.webhook_timeout_s, retry_base_s=s.webhook_retry_base_s,
                       retry_max_s=s.webhook_retry_max_s, give_up_s=s.webhook_give_up_s),
                batch_size=s.webhook_batch_size,
                # lowered only in `aethex webhooks`, where nothing latency-bound shares its loop
                cpu_policy=s.webhook_cpu if workers == [WEBHOOKS] else "normal",
                cpu_share=s.webhook_cpu_share)
            self.spawn(WEBHOOKS, self.webhook_sender.run)
        if PRODUCT_EVENTS in wanted:  # one at a time across processes (a leader lock)
            if not self.settings.posthog_key:
                raise SettingsError("the product-events worker needs AETHEX_POSTHOG_KEY")
            self.posthog = PostHogSink(self.settings.posthog_key, self.settings.posthog_host)
            self.product_events = ProductEvents(
                self.store, self.db, self.log_watcher(PRODUCT_EVENTS), self.posthog.send,
                batch_size=self.settings.posthog_batch_size)
            self.spawn(PRODUCT_EVENTS, self.product_events.run)
        self.started = True
        log.info("services.started", production=self.settings.production, workers=wanted)

    def spawn(self, name: str, run: Callable[[asyncio.Event], Any]) -> None:
        """Runs `run(stopping)` under the supervisor: restarted whenever it fails."""
        stopping = self.supervisor.stopping
        self.supervisor.spawn(name, lambda: run(stopping))

    async def stop(self) -> None:
        await self.supervisor.stop(timeout=5)
        if self.webhook_sender is not None:
            await self.webhook_sender.poster.close()
            self.webhook_sender.close()
        if self.posthog is not None:
            await asyncio.to_thread(self.posthog.close)
        await self.bus.close()
        await self.presence.close()
        self.started = False

    def close(self) -> None:
        """Releases the store, the committer and the database (after `stop`)."""
        self.chat.close()
        self.store.close()
        self.db.close()
