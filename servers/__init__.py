"""The platform's servers: domain logic in plain modules, thin gRPC, Kafka and SQL glue."""
