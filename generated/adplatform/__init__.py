"""Code generated from protos/."""
