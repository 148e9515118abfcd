"""Servicer tests: each server's gRPC servicer in this process, over the stack's MariaDB.

A failure here points at one servicer and the libraries under it: no Envoy, no other server
process, no Kafka on the path of the calls.
"""
