"""The board: schema access, lifecycle, ranking and agent state. Imports no Celery."""
