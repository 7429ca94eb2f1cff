"""Domain errors. The read API maps each kind to one HTTP status, once."""

from __future__ import annotations


class DomainError(Exception):
    """Base of every refusal the domain or a command handler can give."""

    code = "domain_error"

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field


class NotFound(DomainError):
    """An id that names nothing (or nothing the caller may see)."""

    code = "not_found"


class Forbidden(DomainError):
    """The caller is known but may not do this."""

    code = "forbidden"


class Unauthenticated(DomainError):
    """No valid credentials were presented."""

    code = "unauthenticated"


class Conflict(DomainError):
    """The command contradicts the current state: an illegal transition or a taken name."""

    code = "conflict"


class Invalid(DomainError):
    """The command's content breaks a rule (too long, empty, badly formed)."""

    code = "invalid"
