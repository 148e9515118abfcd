"""Kafka clients shared by the servers: a no-loss publisher and consumer settings."""
