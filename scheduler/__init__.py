"""The beat: its schedule and periodic jobs."""
