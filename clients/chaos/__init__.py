"""`adplatform chaos`: a fault-injection run under load that checks the platform's books.

plan (which faults, in what order), windows (traffic per fault), books (the invariants) and
render (the tables) are pure; traffic, inject and evidence do the I/O; run ties them together.
"""
