"""Refusals: which failures of a batched statement blame its rows, not the database.

A batch (batches.Batcher) shares one statement between many requests. When MySQL refuses
the statement for what a row holds (a value too long for its column, a duplicate key, a
value it cannot parse or the driver cannot encode) the batch is split to find that row and
only its request fails. When MySQL is out of reach (servers.storage.faults.is_transient:
restarting, failing over, locked, a lost connection) every request of the batch fails with
UNAVAILABLE and is retried, as the rows are not at fault.
"""

from __future__ import annotations

from sqlalchemy.exc import DBAPIError

from servers.storage.faults import is_transient


def blames_rows(error: BaseException) -> bool:
    """blames_rows is true when error is about what some row holds, so splitting can find it."""
    if isinstance(error, DBAPIError):
        return not is_transient(error)
    # Raised while rendering or encoding a row (a lone surrogate, an impossible number).
    return isinstance(error, ValueError | TypeError)
