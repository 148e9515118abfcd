"""The local stack: MariaDB, Kafka, the Hive metastore, the gRPC servers and Envoy as processes.

`adplatform stack up | down | status | env`; state, logs and PIDs live under the run directory.
"""
