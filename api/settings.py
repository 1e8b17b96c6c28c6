"""The API server's settings: the board's (``board/settings.py``, which holds the token and rate
settings that auth.py and limits.py read) plus the server's own, read once at
the edge (``serve``) and passed down. Every field is ``PHOENIX_<NAME>`` in the environment too."""

from __future__ import annotations

from pydantic import Field

from phoenix_board.board.settings import Settings

DEFAULT_PORT = 8470


class ApiSettings(Settings):
    api_host: str = Field(default="127.0.0.1", description="Where `serve` listens; 0.0.0.0 for every interface.")
    api_port: int = Field(default=DEFAULT_PORT, ge=1, le=65535, description="Where `serve` listens.")
    api_pool_size: int = Field(default=8, ge=1, le=200,
                               description="Connections in each of the server's two pools (operator and agent).")
    api_max_depth: int = Field(default=8, ge=1, le=50, description="Deepest selection a query may make.")
    api_max_cost: int = Field(
        default=5000, ge=1, le=1_000_000,
        description="Most fields a query may ask for, each list field counted once per item it may return.")
    api_max_aliases: int = Field(default=30, ge=1, le=1000, description="Most aliased fields in one query.")
    api_wait_max_seconds: float = Field(default=300.0, gt=0, le=3600,
                                        description="Longest createTask(waitSeconds) wait.")
