"""The beat schedule (built in the scheduler issue)."""
