"""Faults: telling a database that is out of reach from a record the database refuses.

A consumer that applies records must retry the first kind (nothing is wrong with the record:
MySQL is restarting, failing over, locked or unreachable) and set the second kind aside (the
record can never be applied: retrying it would stop every record behind it). PyMySQL files
any server error it does not know under OperationalError, so the class alone does not tell:
the MySQL error number does. Pure: no I/O.
"""

from __future__ import annotations

from sqlalchemy.exc import DBAPIError, DisconnectionError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError

# Server errors that say "not now" rather than "never" (MySQL and MariaDB numbers).
TRANSIENT_SERVER_ERRORS = frozenset(
    {
        1040,  # too many connections
        1044,  # access denied to the database: credentials are an operator's fix, not the record's
        1045,  # access denied for the user
        1053,  # server shutdown in progress
        1077,  # normal shutdown
        1078,  # got signal, aborting
        1079,  # shutdown complete
        1080,  # forcing close of a thread
        1152,  # aborted connection
        1154,  # read error from the connection pipe
        1155,  # fcntl() error
        1156,  # packets out of order
        1157,  # couldn't uncompress a packet
        1158,  # read error on the network
        1159,  # read timeout on the network
        1160,  # write error on the network
        1161,  # write timeout on the network
        1203,  # the user has too many connections
        1205,  # lock wait timeout
        1213,  # deadlock: the transaction was rolled back, so retrying it is right
        1290,  # read-only (a replica, or a primary during failover)
        1317,  # query interrupted
        1836,  # running in read-only mode
        1927,  # connection killed
        1969,  # query timeout (max_statement_time)
        3024,  # query execution interrupted, maximum statement execution time exceeded
        4031,  # disconnected by the server for inactivity
    }
)
CLIENT_ERRORS = range(2000, 3000)  # CR_*: the client could not reach or lost the server


def is_transient(error: BaseException) -> bool:
    """is_transient is true when error says MySQL is unavailable, not that the work is wrong."""
    if isinstance(error, (DisconnectionError, PoolTimeoutError)):
        return True
    if not isinstance(error, DBAPIError):
        return False
    if error.connection_invalidated:
        return True
    number = mysql_error_number(error)
    return number is not None and (number in TRANSIENT_SERVER_ERRORS or number in CLIENT_ERRORS)


def mysql_error_number(error: DBAPIError) -> int | None:
    """mysql_error_number is the server's or client's error number under a DBAPI error."""
    args = getattr(error.orig, "args", ())
    if args and isinstance(args[0], int):
        return args[0]
    return None
