"""Celery agents (built in the Celery issue)."""
