"""Domain errors: what can go wrong in the business rules, independent of any transport.

The gRPC layer maps them to status codes in one place: ValidationError to INVALID_ARGUMENT,
NotFoundError to NOT_FOUND.
"""

from __future__ import annotations


class DomainError(Exception):
    """DomainError is the base of every error the pure domain raises."""


class ValidationError(DomainError):
    """ValidationError says which input field is wrong and why; nothing was changed."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


class NotFoundError(DomainError):
    """NotFoundError says that no thing of this kind has this key (an unknown campaign id)."""

    def __init__(self, kind: str, key: str) -> None:
        super().__init__(f"{kind} {key!r} not found")
        self.kind = kind
        self.key = key


class UnavailableError(DomainError):
    """UnavailableError says a service the request needs (Kafka, MySQL) is out of reach; retry."""
