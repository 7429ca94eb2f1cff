"""structlog set-up: JSON lines in production, readable console in development, and the
request id (bound per request in contextvars) on every line.

No line may hold a secret, in either format: tracebacks are rendered as plain text without
local variables (the console renderer's default shows every frame's locals, so a failed
request printed its raw body, password and all), and `redact` masks secret-named fields and
anything shaped like a token or a stream key wherever it appears in a line."""

from __future__ import annotations

import logging
import re
import sys
from typing import Any

import structlog

REDACTED = "[redacted]"
# Field names whose value is a secret whatever it looks like.
_SECRET_KEY = re.compile(
    r"pass(word)?|secret|token|authorization|cookie|stream_?key|api_?key|credential|"
    r"^body$|^raw$|^payload$", re.IGNORECASE)
# Secrets inside free text (exception messages, URLs, tracebacks): JWTs, our stream keys,
# bearer credentials, `token=` query parameters and JSON/form fields named like secrets.
_SECRET_TEXT = re.compile(
    r"eyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]*"
    r"|live_[A-Za-z0-9_-]{16,}"
    r"|(?i:bearer)\s+[A-Za-z0-9._~+/=-]{8,}"
    # `name=value`, quoted or not; a password may hold spaces, so unquoted it runs to the
    # end of the line (or the next `&`), a token, key or secret to the next space
    r"|(?i:(?:token|key|secret|password)=)(?:'(?:[^'\\]|\\.)*'|\"(?:[^\"\\]|\\.)*\")"
    r"|(?i:password=)[^&\n'\"]+"
    r"|(?i:(?:token|key|secret)=)[^&\s'\"]+"
    # `"name": "value"` (JSON) and `'name': 'value'` (a Python dict's repr)
    r"|(?i:[\"'](?:password|token|stream_?key|secret)[\"']\s*:\s*)"
    r"(?:\"(?:[^\"\\]|\\.)*\"|'(?:[^'\\]|\\.)*')")


def _scrub(value: str) -> str:
    return _SECRET_TEXT.sub(lambda m: _mask(m.group()), value)


def scrub_text(value: str) -> str:
    """`value` with whatever looks like a token, a JWT or a stream key masked."""
    return _scrub(value)


def secret_name(key: str) -> bool:
    """Whether a field of this name holds a secret whatever its value looks like."""
    return bool(_SECRET_KEY.search(key))


def _mask(found: str) -> str:
    """Keeps what names the secret (`token=`, `"password": `), masks the secret itself
    (what follows the first `=` or `:`, whatever the secret itself holds)."""
    if found.startswith(("eyJ", "live_")):
        return REDACTED
    if found.lower().startswith("bearer"):
        return f"Bearer {REDACTED}"
    cut = min((i for i in (found.find("="), found.find(":")) if i >= 0), default=-1)
    if cut < 0:
        return REDACTED
    return f"{found[:cut + 1]}{'' if found[cut] == '=' else ' '}{REDACTED}"


def _clean(value: Any, depth: int = 0) -> Any:
    if isinstance(value, str):
        return _scrub(value)
    if depth > 4:
        return value
    if isinstance(value, dict):
        return {k: REDACTED if isinstance(k, str) and _SECRET_KEY.search(k) and v
                else _clean(v, depth + 1) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(_clean(v, depth + 1) for v in value)
    if isinstance(value, (bytes, bytearray)):
        return REDACTED  # raw bytes are bodies or frames: never worth a secret in the log
    return value


def redact(_logger: Any, _method: str, event_dict: dict[str, Any]) -> dict[str, Any]:
    """A structlog processor: secret-named fields masked, secrets in any text masked.
    Runs after the traceback is formatted, so it also cleans the traceback's text."""
    for key, value in list(event_dict.items()):
        if _SECRET_KEY.search(key) and value and key != "event":
            event_dict[key] = REDACTED
        else:
            event_dict[key] = _clean(value)
    return event_dict


def configure_logging(*, json_logs: bool, level: str = "INFO") -> None:
    """Both formats render tracebacks as plain text (no locals) and redact secrets."""
    shared: list[structlog.types.Processor] = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]
    renderer: structlog.types.Processor = (
        structlog.processors.JSONRenderer() if json_logs
        else structlog.dev.ConsoleRenderer(colors=sys.stderr.isatty(),
                                           exception_formatter=structlog.dev.plain_traceback)
    )
    # The traceback becomes text first, so `redact` sees it and the console renderer
    # prints that text instead of rendering frames (and their locals) itself.
    finish: list[structlog.types.Processor] = [structlog.processors.format_exc_info, redact]
    structlog.configure(
        processors=[*shared, *finish, renderer],
        wrapper_class=structlog.make_filtering_bound_logger(
            logging.getLevelNamesMapping().get(level.upper(), logging.INFO)),
        logger_factory=structlog.PrintLoggerFactory(file=sys.stderr),
        cache_logger_on_first_use=False,
    )
    # Route the standard library's loggers (uvicorn, aio-pika, psycopg) through structlog,
    # cleaned the same way (uvicorn logs an application's traceback itself).
    formatter = structlog.stdlib.ProcessorFormatter(
        processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, *finish,
                    renderer],
        foreign_pre_chain=[*shared, structlog.stdlib.add_logger_name])
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(formatter)
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for noisy in ("aio_pika", "aiormq", "psycopg.pool"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
