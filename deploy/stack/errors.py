"""StackError: a bring-up problem explained in one line for the person running the stack."""


class StackError(Exception):
    """StackError names what is wrong (busy port, unreachable server, no Java) and the fix."""
