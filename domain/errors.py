"""Domain errors. The read API maps each kind to one HTTP status, once.

Every error carries a stable `code`: its kind's, or a narrower one from a subclass
(`Banned`, `TooLong`) or from the raise site (`code=`). Transports decide what a client
sees from the code and the type alone, so a message can be reworded without changing
what any client is told."""

from __future__ import annotations


class DomainError(Exception):
    """Base of every refusal the domain or a command handler can give."""

    code = "domain_error"

    def __init__(self, message: str, *, field: str | None = None,
                 code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field
        if code is not None:  # else the class's
            self.code = code


class NotFound(DomainError):
    """An id that names nothing (or nothing the caller may see)."""

    code = "not_found"


class Forbidden(DomainError):
    """The caller is known but may not do this."""

    code = "forbidden"


class Banned(Forbidden):
    """The user is banned, or timed out, from the channel's chat."""

    code = "banned"


class Unauthenticated(DomainError):
    """No valid credentials were presented."""

    code = "unauthenticated"


class Conflict(DomainError):
    """The command contradicts the current state: an illegal transition or a taken name."""

    code = "conflict"


class TooLarge(DomainError):
    """The content is larger than allowed (an upload over its size or pixel limit)."""

    code = "too_large"


class ConcurrentChange(Conflict):
    """Another writer saved the same aggregate first; the whole save was refused, so the
    command can simply be decided again on the fresh state."""


class RateLimited(DomainError):
    """Too many attempts in too short a time; `retry_after_s` says when to try again."""

    code = "rate_limited"

    def __init__(self, message: str, *, retry_after_s: float = 1.0,
                 field: str | None = None, code: str | None = None) -> None:
        super().__init__(message, field=field, code=code)
        self.retry_after_s = retry_after_s


class Invalid(DomainError):
    """The command's content breaks a rule (too long, empty, badly formed)."""

    code = "invalid"


class TooLong(Invalid):
    """Text longer than its limit."""

    code = "too_long"
