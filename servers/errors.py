"""Domain errors: what can go wrong in the business rules, independent of any transport.

The gRPC layer (servers/status.py) maps them to status codes and structured details in one
place: ValidationError to INVALID_ARGUMENT with field violations, NotFoundError to NOT_FOUND
with the resource, UnavailableError and ResourceExhaustedError to UNAVAILABLE and
RESOURCE_EXHAUSTED with a retry delay. docs/errors.md shows the shapes clients see.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

# DEFAULT_RETRY_AFTER is how long, in seconds, a client should wait before retrying a
# request refused for a passing reason (a broker or database briefly out of reach).
DEFAULT_RETRY_AFTER = 1.0


class DomainError(Exception):
    """DomainError is the base of every error the pure domain raises."""


@dataclass(frozen=True, slots=True)
class FieldViolation:
    """FieldViolation is one wrong input: its field path ("date_range.start") and why."""

    field: str
    description: str


class ValidationError(DomainError):
    """ValidationError says which input field is wrong and why; nothing was changed.

    `ValidationError(field, message)` names one field; `ValidationError.of(violations)` names
    several at once. `field` and `message` are always the first violation's.
    """

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message
        self.violations: tuple[FieldViolation, ...] = (FieldViolation(field, message),)

    @classmethod
    def of(cls, violations: Sequence[FieldViolation]) -> ValidationError:
        """of is one error naming every violation; its text joins them with "; "."""
        if not violations:
            raise ValueError("a ValidationError needs at least one violation")
        first = violations[0]
        error = cls(first.field, first.description)
        error.violations = tuple(violations)
        error.args = ("; ".join(f"{v.field}: {v.description}" for v in violations),)
        return error


class NotFoundError(DomainError):
    """NotFoundError says that no thing of this kind has this key (an unknown campaign id)."""

    def __init__(self, kind: str, key: str) -> None:
        super().__init__(f"{kind} {key!r} not found")
        self.kind = kind
        self.key = key


class UnavailableError(DomainError):
    """UnavailableError says a service the request needs (Kafka, MySQL) is out of reach; retry.

    retry_after is the suggested wait in seconds before the same request is sent again.
    """

    def __init__(self, message: str, *, retry_after: float = DEFAULT_RETRY_AFTER) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class ResourceExhaustedError(DomainError):
    """ResourceExhaustedError says the platform is at a limit (too many requests); retry later.

    retry_after is the suggested wait in seconds before the same request is sent again.
    """

    def __init__(self, message: str, *, retry_after: float = DEFAULT_RETRY_AFTER) -> None:
        super().__init__(message)
        self.retry_after = retry_after
