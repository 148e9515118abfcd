"""The Ad Manager: applies campaign instructions from Kafka to MySQL."""
