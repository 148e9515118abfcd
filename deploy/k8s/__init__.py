"""Kubernetes manifests of the platform's own services (deploy/k8s/README.md)."""
