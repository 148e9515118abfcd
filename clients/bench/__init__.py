"""Benchmarks of the running stack: `adplatform bench serve` measures ServeAd (see serve.py)."""
