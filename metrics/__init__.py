"""Prometheus collectors and exporter (built in the metrics issue)."""
