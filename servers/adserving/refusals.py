"""Refusals: which failures of a batched statement blame its rows, not the database.

A batch (batches.Batcher) shares one statement between many requests. When MySQL refuses
the statement for what one row holds (a value too long for its column, a duplicate key, a
value it cannot parse or the driver cannot encode) the batch is split to find that row and
only its request fails. When MySQL is out of reach (OperationalError, a lost connection)
every request of the batch fails with UNAVAILABLE and is retried, as the rows are not at
fault. MySQL's unmapped data errors (an impossible date, say) arrive as OperationalError;
their codes are listed so that they blame their row too.
"""

from __future__ import annotations

from sqlalchemy.exc import DataError, IntegrityError, OperationalError, ProgrammingError

# _ROW_ERROR_CODES are MySQL errors about a value that the driver reports as OperationalError.
_ROW_ERROR_CODES = frozenset(
    {
        1267,  # illegal mix of collations (a text MySQL cannot compare)
        1292,  # truncated incorrect value (an impossible date or number)
        1300,  # invalid character string
        1366,  # incorrect string value (a character the column's charset lacks)
    }
)


def blames_rows(error: BaseException) -> bool:
    """blames_rows is true when error is about what some row holds, so splitting can find it."""
    if isinstance(error, IntegrityError | DataError | ProgrammingError):
        return True
    if isinstance(error, OperationalError):
        code = error.orig.args[0] if error.orig is not None and error.orig.args else None
        return code in _ROW_ERROR_CODES
    # Raised while rendering or encoding a row (a lone surrogate, an impossible number).
    return isinstance(error, ValueError | TypeError)
