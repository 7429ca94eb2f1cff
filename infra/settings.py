"""One typed settings object, read from environment variables.

With nothing set, everything is embedded (SQLite under ./var, in-process bus).
Setting the PostgreSQL, RabbitMQ and Redis URLs switches each part to its service.
"""

from __future__ import annotations

import os
import re
import secrets
from collections.abc import Mapping
from pathlib import Path
from typing import Literal
from urllib.parse import unquote, urlparse

import msgspec

PREFIX = "AETHEX_"
# A CSP source that names an origin: http(s)://host[:port], or https://*.domain.
ORIGIN = re.compile(r"https?://(\*\.)?[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)*(:[0-9]{1,5})?")


class SettingsError(ValueError):
    """An environment variable holds a value that cannot be used."""


class Settings(msgspec.Struct, frozen=True, kw_only=True):
    """Every knob of the service. Field `x` is read from `AETHEX_X`."""

    host: str = "127.0.0.1"
    port: int = 8000
    data_dir: str = "./var"
    database_url: str | None = None
    rabbitmq_url: str | None = None
    redis_url: str | None = None
    namespace: str = "aethex"
    jwt_secret: str | None = None
    jwt_issuer: str = "aethex-live"
    jwt_audience: str = "aethex-live"
    access_token_ttl_s: int = 3600
    log_format: Literal["console", "json", "auto"] = "auto"
    log_level: str = "INFO"
    group_commit_window_ms: float = 2.0
    group_commit_max_batch: int = 1000
    aggregate_cache: int = 10000
    read_wait_timeout_s: float = 2.0
    database_wait_s: float = 3.0
    database_pool_size: int = 10
    json_max_depth: int = 64
    relay_batch_size: int = 2000
    projector_batch_size: int = 2000
    workers: str = "all"
    require_services: bool = False
    # supervision and health
    stall_s: float = 30.0
    restart_backoff_max_s: float = 5.0
    health_port: int = 0
    # chat and presence
    node_id: str = ""
    presence_ttl_s: float = 30.0
    presence_heartbeat_s: float = 10.0
    viewer_sample_s: float = 3.0
    chat_rate_limit: str = "20 per 30 seconds"
    chat_history_size: int = 50
    chat_refusals_flush_s: float = 10.0
    ws_max_queue: int = 1000
    ws_coalesce_ms: float = 10.0
    ws_room_writes_per_s: float = 10000.0
    typing_interval_s: float = 2.0
    cors_origins: str = "*"
    web_dir: str = ""  # the web client's folder; empty: the repository's web/
    # Origins the pages may load playlists, segments and recordings from beyond those of
    # the ingest providers in use (a CDN in front of nginx, a provider's custom domain).
    web_media_origins: str = ""
    # identity and uploads
    oidc_issuer: str | None = None
    oidc_audience: str | None = None
    oidc_jwks_url: str | None = None
    oidc_leeway_s: int = 30
    oidc_jwks_refresh_s: float = 30.0
    clerk_webhook_secret: str | None = None
    s3_bucket: str | None = None
    s3_endpoint_url: str | None = None
    s3_region: str = "auto"
    s3_access_key_id: str | None = None
    s3_secret_access_key: str | None = None
    s3_public_url: str | None = None
    s3_archive_bucket: str | None = None  # recordings and VODs; unset: s3_bucket
    s3_archive_public_url: str | None = None
    upload_avatar_max_bytes: int = 2 * 1024 * 1024
    upload_banner_max_bytes: int = 8 * 1024 * 1024
    upload_max_pixels: int = 40_000_000
    # sign-in: failed logins allowed (moving windows) before 429, and how long an
    # account's existence is trusted between checks
    login_failures_per_account: str = "10 per 15 minutes"
    login_failures_per_address: str = "50 per 15 minutes"
    account_check_ttl_s: float = 5.0
    # operators
    operator_token: str | None = None
    # ingest: the plan's streamingConfig, webhooks and the reconnect grace
    ingest_provider: Literal["nginx-rtmp", "mux", "cloudflare"] = "nginx-rtmp"
    ingest_rtmp_url: str = "rtmp://127.0.0.1:1935/live"
    ingest_nginx_push_url: str = "rtmp://127.0.0.1:1935/hls"
    ingest_playback_template: str = "http://127.0.0.1:8080/hls/{playback_id}.m3u8"
    ingest_vod_template: str = "http://127.0.0.1:8080/recordings/{recording}"
    ingest_qualities: str = "source"
    ingest_reconnect_grace_s: float = 10.0
    ingest_thumbnail_interval_s: float = 30.0
    # A publisher far above the top rendition: `cap` (the ladder's renditions cap what
    # viewers get) or `refuse` (nginx drops it, measured on its statistics page)
    ingest_over_bitrate: Literal["cap", "refuse"] = "cap"
    ingest_max_bitrate_kbps: int = 0  # 0: ingest_max_bitrate_factor x the top rendition
    ingest_max_bitrate_factor: float = 2.0
    ingest_nginx_stat_url: str | None = None
    ingest_internal_playback_template: str | None = None  # where the media worker reads HLS
    subscription_sweep_s: float = 60.0
    ingest_hook_token: str | None = None
    mux_webhook_secret: str | None = None
    mux_playback_template: str = "https://stream.mux.com/{playback_id}.m3u8"
    mux_thumbnail_template: str = "https://image.mux.com/{playback_id}/thumbnail.jpg"
    cloudflare_webhook_secret: str | None = None  # video webhooks: Webhook-Signature HMAC
    cloudflare_notification_secret: str | None = None  # live inputs: cf-webhook-auth
    cloudflare_playback_template: str = (
        "https://videodelivery.net/{playback_id}/manifest/video.m3u8")
    cloudflare_thumbnail_template: str = (
        "https://videodelivery.net/{playback_id}/thumbnails/thumbnail.jpg")
    cloudflare_recording_timeout_s: float = 0.0
    webhook_tolerance_s: int = 300
    # outbound webhooks (docs/webhooks.md) and bot tokens
    webhook_secret_key: str | None = None
    webhook_allow_private: bool = False
    webhooks_per_channel: int = 20
    webhook_timeout_s: float = 5.0
    webhook_retry_base_s: float = 5.0
    webhook_retry_max_s: float = 3600.0
    webhook_give_up_s: float = 86400.0
    webhook_batch_size: int = 2000
    # The sender's CPU priority when it is a process of its own (`aethex webhooks`):
    # "idle" (SCHED_IDLE), "low" (nice 10) or "normal"; inside `serve` it is always normal.
    webhook_cpu: Literal["idle", "low", "normal"] = "idle"
    # The most of one core the sender uses (its whole process's CPU time); 0: no cap.
    webhook_cpu_share: float = 0.0
    # observability (docs/observability.md): each part is off until configured
    environment: str = ""
    release: str = ""
    sentry_dsn: str | None = None
    otlp_endpoint: str | None = None
    otlp_sample_ratio: float = 1.0
    posthog_key: str | None = None
    posthog_host: str = "https://us.i.posthog.com"
    posthog_batch_size: int = 500
    probe_email: str = "probe@aethex.invalid"
    probe_password: str | None = None

    def __post_init__(self) -> None:
        # It names a PostgreSQL schema (unquoted in search_path) and RabbitMQ objects.
        if not re.fullmatch(r"[a-z_][a-z0-9_]{0,62}", self.namespace):
            raise SettingsError("AETHEX_NAMESPACE must be 1-63 of a-z, 0-9 and _, "
                                "not starting with a digit")
        from infra.ingest.ladder import parse_qualities

        try:
            ladder = parse_qualities(self.ingest_qualities)
        except ValueError as e:
            raise SettingsError(f"AETHEX_INGEST_QUALITIES: {e}") from None
        if self.ingest_over_bitrate == "refuse":
            if not self.ingest_nginx_stat_url:
                raise SettingsError("AETHEX_INGEST_OVER_BITRATE=refuse needs "
                                    "AETHEX_INGEST_NGINX_STAT_URL (nginx's rtmp_stat page)")
            if not ladder and self.ingest_max_bitrate_kbps <= 0:
                raise SettingsError("AETHEX_INGEST_OVER_BITRATE=refuse needs a limit: "
                                    "renditions in AETHEX_INGEST_QUALITIES or "
                                    "AETHEX_INGEST_MAX_BITRATE_KBPS")
        if self.web_dir and not (Path(self.web_dir) / "pages").is_dir():
            raise SettingsError(f"AETHEX_WEB_DIR={self.web_dir!r} is not the web client's "
                                "folder (it has no pages/ folder)")
        if self.sentry_dsn is not None:
            check_sentry_dsn(self.sentry_dsn)
        if self.otlp_endpoint is not None:
            check_http_url("AETHEX_OTLP_ENDPOINT", self.otlp_endpoint)
        if not 0.0 <= self.otlp_sample_ratio <= 1.0:
            raise SettingsError("AETHEX_OTLP_SAMPLE_RATIO must lie between 0 and 1")
        if self.posthog_key is not None:
            check_http_url("AETHEX_POSTHOG_HOST", self.posthog_host)
        for origin in self.extra_media_origins():
            if not ORIGIN.fullmatch(origin):
                raise SettingsError(
                    f"AETHEX_WEB_MEDIA_ORIGINS: {origin!r} is not an origin (scheme://host"
                    "[:port], or https://*.domain for its subdomains), comma separated")
        if self.database_pool_size < 1:
            raise SettingsError("AETHEX_DATABASE_POOL_SIZE must be at least 1")
        if not self.chat_refusals_flush_s > 0:
            raise SettingsError("AETHEX_CHAT_REFUSALS_FLUSH_S must be a number of seconds "
                                "above 0")

    def extra_media_origins(self) -> list[str]:
        """AETHEX_WEB_MEDIA_ORIGINS as a list."""
        return [o.strip() for o in self.web_media_origins.split(",") if o.strip()]

    def max_ingest_kbps(self) -> float | None:
        """The most a publisher may send before it is refused (None: no limit)."""
        from infra.ingest.ladder import parse_qualities

        if self.ingest_max_bitrate_kbps > 0:
            return float(self.ingest_max_bitrate_kbps)
        ladder = parse_qualities(self.ingest_qualities)
        if not ladder:
            return None
        return self.ingest_max_bitrate_factor * ladder[0].bandwidth / 1000

    @property
    def production(self) -> bool:
        """True when the event store is PostgreSQL (the production topology)."""
        return self.database_url is not None

    @property
    def json_logs(self) -> bool:
        if self.log_format == "auto":
            return self.production
        return self.log_format == "json"

    @property
    def deployment(self) -> str:
        """The environment errors and traces are tagged with."""
        return self.environment or ("production" if self.production else "development")

    @property
    def version(self) -> str:
        """The release errors and traces are tagged with: set, else the package's."""
        if self.release:
            return self.release
        from importlib.metadata import PackageNotFoundError, version

        try:
            return f"aethex-live@{version('aethex-live')}"
        except PackageNotFoundError:
            return "aethex-live@unknown"

    @property
    def var(self) -> Path:
        return Path(self.data_dir)

    def runs_worker(self, name: str) -> bool:
        """Whether this process runs the named background worker (relay, projector:x)."""
        wanted = {w.strip() for w in self.workers.split(",") if w.strip()}
        if "none" in wanted:
            return False
        if "all" in wanted:
            return True
        return name in wanted or (name.startswith("projector:") and "projectors" in wanted)

    def signing_key(self) -> str:
        """The local JWT key: from settings, else a key generated once under data_dir."""
        if self.jwt_secret:
            return self.jwt_secret
        return _key_file(self.var / "jwt.key")

    def webhook_key(self) -> str:
        """The key that seals webhook signing secrets: from settings (required in
        production, where several processes must share it), else generated once under
        data_dir as the JWT key is."""
        if self.webhook_secret_key:
            return self.webhook_secret_key
        if self.production:
            raise SettingsError("AETHEX_WEBHOOK_SECRET_KEY must be set in production mode: "
                                "it seals the webhook signing secrets, so that the database "
                                "alone cannot sign")
        return _key_file(self.var / "webhook.key")

    def eventsourcing_env(self) -> dict[str, str]:
        """The `eventsourcing` library's settings for the event store.

        With an aggregate cache, loading an aggregate again (a stream and its channel for
        every chat batch) reads only the events saved since, from any process, instead of
        its whole history; the library hands out copies, so a refused command cannot spoil
        the cached state. On PostgreSQL a large batch of events is appended by COPY
        (`infra/eventstore/pg_recorder.py`)."""
        cache = ({"AGGREGATE_CACHE_MAXSIZE": str(self.aggregate_cache),
                  "AGGREGATE_CACHE_FASTFORWARD": "y"} if self.aggregate_cache > 0 else {})
        if self.database_url is None:
            self.var.mkdir(parents=True, exist_ok=True)
            return {
                **cache,
                "PERSISTENCE_MODULE": "eventsourcing.sqlite",
                "SQLITE_DBNAME": str(self.var / "events.sqlite"),
                "SQLITE_LOCK_TIMEOUT": "10",
            }
        pg = postgres_params(self.database_url)
        return {
            **cache,
            "PERSISTENCE_MODULE": "eventsourcing.postgres",
            "POSTGRES_DBNAME": pg["dbname"],
            "POSTGRES_HOST": pg["host"],
            "POSTGRES_PORT": pg["port"],
            "POSTGRES_USER": pg["user"],
            "POSTGRES_PASSWORD": pg["password"],
            "POSTGRES_SCHEMA": self.namespace,
            "POSTGRES_POOL_SIZE": str(max(1, self.database_pool_size // 2)),
            "POSTGRES_MAX_OVERFLOW": str(max(1, self.database_pool_size)),
            "POSTGRES_LOCK_TIMEOUT": "10",
            # How long to connect, and to wait for a pooled connection: a request's wait
            # when the database is away (then 503), not the library's 30 s.
            "POSTGRES_CONNECT_TIMEOUT": str(max(1, round(self.database_wait_s))),
            "APPLICATION_RECORDER_TOPIC": "infra.eventstore.pg_recorder:CopyingRecorder",
        }


def _key_file(path: Path) -> str:
    """A random key kept in `path`, made on first use (readable by its owner only)."""
    if path.exists():
        return path.read_text().strip()
    path.parent.mkdir(parents=True, exist_ok=True)
    key = secrets.token_urlsafe(48)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:  # another process made it first
        return path.read_text().strip()
    with os.fdopen(fd, "w") as f:
        f.write(key)
    return key


def check_http_url(name: str, url: str) -> None:
    """An http(s) URL with a host, or a SettingsError naming the variable."""
    try:
        parsed = urlparse(url)
        port = parsed.port  # raises on a port that is not a number
    except ValueError as e:
        raise SettingsError(f"{name} is not a valid URL ({e}): {url!r}") from None
    if parsed.scheme not in {"http", "https"} or not parsed.hostname:
        raise SettingsError(f"{name} must be an http:// or https:// URL with a host, "
                            f"not {url!r}")
    if port == 0:
        raise SettingsError(f"{name} has port 0: {url!r}")


def check_sentry_dsn(dsn: str) -> None:
    """A Sentry DSN as the SDK reads it: `https://KEY@HOST/PROJECT_ID`. The SDK's own
    check comes only when it starts sending; a typo must stop the process at start."""
    check_http_url("AETHEX_SENTRY_DSN", dsn)
    parsed = urlparse(dsn)
    project = parsed.path.rstrip("/").rsplit("/", 1)[-1]
    if not parsed.username:
        raise SettingsError("AETHEX_SENTRY_DSN has no public key (the part before @): "
                            "it looks like https://KEY@HOST/PROJECT_ID")
    if not project.isdigit():
        raise SettingsError("AETHEX_SENTRY_DSN must end in a numeric project id: "
                            "https://KEY@HOST/PROJECT_ID")


def postgres_params(url: str) -> dict[str, str]:
    """Splits a postgresql:// URL into the parts libpq and `eventsourcing` take."""
    parsed = urlparse(url)
    if parsed.scheme not in {"postgres", "postgresql"}:
        raise SettingsError(
            f"AETHEX_DATABASE_URL must be a postgresql:// URL, not {parsed.scheme!r}")
    return {
        "host": parsed.hostname or "127.0.0.1",
        "port": str(parsed.port or 5432),
        "user": unquote(parsed.username or "postgres"),
        "password": unquote(parsed.password or ""),
        "dbname": (parsed.path or "/postgres").lstrip("/") or "postgres",
    }


def load_settings(environ: Mapping[str, str] | None = None, **overrides: object) -> Settings:
    """Reads `AETHEX_*` variables; explicit keyword overrides win."""
    environ = os.environ if environ is None else environ
    raw: dict[str, object] = {}
    for field in msgspec.structs.fields(Settings):
        value = environ.get(PREFIX + field.name.upper())
        if value is not None and value != "":
            raw[field.name] = value
    raw.update({k: v for k, v in overrides.items() if v is not None})
    try:
        return msgspec.convert(raw, Settings, strict=False)
    except msgspec.ValidationError as e:
        raise SettingsError(f"invalid setting: {e}") from None
