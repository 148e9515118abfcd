"""Spark jobs: the streaming feedback writer, KPIs, the archive and the bill report."""
