"""Code generated from protos/adplatform/v1."""
