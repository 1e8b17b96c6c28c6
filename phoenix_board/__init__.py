"""Phoenix Board: a task board for fleets of software agents."""

__version__ = "0.1.0"
