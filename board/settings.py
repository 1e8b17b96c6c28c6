"""Configuration, read once at the edge (the command line, a worker's start) and passed down.

Every field can be set as ``PHOENIX_<NAME>`` in the environment or in a ``.env`` file, and, below
those, as ``<name> = ...`` in the user's config file (``config_path()``: the XDG config folder's
``phoenix-board/config.toml``), which is how one board (``data_dir``) is reached from any folder.
"""

from __future__ import annotations

import os
from pathlib import Path

from psycopg.conninfo import conninfo_to_dict
from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict, TomlConfigSettingsSource

from phoenix_board.board import constants


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="PHOENIX_", env_file=".env", extra="ignore")

    database_url: str | None = Field(
        default=None,
        description="PostgreSQL URL. Unset: an embedded PostgreSQL is started under data_dir.",
    )
    agent_database_url: str | None = Field(
        default=None,
        description="The login `up` gives its pools (agent role only). Unset: up makes one on its embedded server.")
    database_read_url: str | None = Field(
        default=None,
        description="A streaming replica of database_url for commands that only read (listings, show, "
                    "queue status, the exporter's board figures). Unset: they read the primary.",
    )
    data_dir: Path = Field(default=Path(".phoenix"),
                           description="The board's folder: embedded servers' data, logs, the running up's record.")
    embedded_servers: bool = Field(
        default=False, description="Let a command with no database or broker URL start this board's embedded "
                                   "servers for itself; otherwise only up, migrate and db start do.")
    auto_migrate: bool | None = Field(
        default=None,
        description="Apply pending migrations when a command opens the board. Unset: only when the login may "
                    "write the schema (superuser, owner member, CREATEROLE); others never try.")
    schema_wait_seconds: float = Field(
        default=300.0, ge=0, le=86_400,
        description="How long pools, beat, exporter and relay wait for a pending migration before failing.")
    pool_min_size: int = Field(default=1, ge=0, le=100)
    pool_max_size: int = Field(default=10, ge=1, le=500)
    thread_pool_connections: int = Field(
        default=10, ge=1, le=500,
        description="Database connections one process of `workers --pool threads` shares among all its agents.")
    database_pooled: bool = Field(
        default=False,
        description="database_url reaches PostgreSQL through a pooler in transaction mode (PgBouncer): agents set "
                    "their role per transaction only and use no server-side prepared statements.")
    lease_seconds: float = Field(default=constants.LEASE_SECONDS, gt=0, le=constants.LEASE_MAX_SECONDS)
    role_prefix: str = Field(default="phoenix", pattern=r"^[a-z][a-z0-9_]{0,40}$",
                             description="Names of the owner, agent and monitor roles: <prefix>_owner, ...")
    hormone_half_life_seconds: float = Field(default=constants.HORMONE_HALF_LIFE_SECONDS, gt=0)
    task_retention_days: float = Field(
        default=constants.TASK_RETENTION_DAYS, ge=0, le=36_500,
        description=f"Days a finished task (complete, failed, cancelled) and its history are kept before the beat "
                    f"deletes them; 0 keeps them for ever; at least {constants.TASK_RETENTION_MIN_DAYS:g} otherwise.")
    agent_decommission_after_seconds: float = Field(
        default=constants.AGENT_DECOMMISSION_AFTER_SECONDS, ge=0, le=315_360_000,
        description="Seconds after its last heartbeat that the beat decommissions an agent; 0 never does.")

    redis_url: str | None = Field(
        default=None,
        description="Celery broker (Redis or Valkey). Unset: the embedded Valkey under data_dir.",
    )
    queue_prefix: str = Field(default="phoenix", pattern=r"^[a-z][a-z0-9_.-]{0,40}$",
                              description="Prefix of the Celery queues, so boards can share a broker.")
    work_budget_seconds: float = Field(default=30.0, gt=0, le=3600,
                                       description="How long a woken agent keeps claiming before it yields.")
    idle_poll_seconds: float = Field(default=2.0, gt=0, le=300,
                                     description="How often a worker checks for claimable work nobody woke it for.")
    heartbeat_seconds: float = Field(default=5.0, gt=0, le=300)
    task_events: bool = Field(default=False,
                              description="Workers send Celery task events (celery events, Flower, celery-exporter).")

    pause_alert_seconds: float = Field(
        default=3600.0, gt=0, le=30 * 86400,
        description="TeamPausedTooLong fires for a team paused longer than this (docs/concepts/flow-control.md).")
    prometheus_url: str | None = Field(default=None,
                                       description="Prometheus whose alerts `doctor` shows (alerts.yml is their one definition).")
    # the beat jobs' periods (PHOENIX_BEAT_<JOB>_SECONDS) are read with the jobs' table: scheduler/jobs.py
    metrics_port: int = Field(default=9464, ge=1, le=65535)
    worker_metrics_port: int = Field(default=9465, ge=0, le=65535,
                                     description="Where `workers` serves its agents' own metrics; 0: nowhere.")

    # the HTTP API's tokens and limits (api/auth.py, api/limits.py)
    api_public_read: bool = Field(default=False,
                                  description="Let requests without a token read and subscribe, as a reader token would.")
    api_token_cache_seconds: float = Field(
        default=5.0, ge=0, le=300,
        description="How long a server trusts a token it checked; a revocation or expiry takes effect within this.")
    api_rate_per_second: float = Field(default=50.0, gt=0, le=100_000,
                                       description="Requests per second one token (or one address without a token) may make.")
    api_rate_burst: int = Field(default=100, ge=1, le=1_000_000,
                                description="Requests a token may make at once above its rate before 429.")
    api_max_body_bytes: int = Field(default=1_000_000, ge=1024, le=100_000_000,
                                    description="Largest request body the API accepts (413 above).")
    api_max_subscriptions: int = Field(default=20, ge=1, le=100_000,
                                       description="Open subscriptions one token may hold at once.")

    # Celery queue names: configuration, so that every part derives them alike
    def board_queue(self) -> str:
        return f"{self.queue_prefix}.board"

    def team_queue(self, team: str) -> str:
        return f"{self.queue_prefix}.team.{team}"

    def beat_queue(self) -> str:
        return f"{self.queue_prefix}.beat"

    @classmethod
    def settings_customise_sources(cls, settings_cls: type[BaseSettings], init_settings: PydanticBaseSettingsSource,
                                   env_settings: PydanticBaseSettingsSource, dotenv_settings: PydanticBaseSettingsSource,
                                   file_secret_settings: PydanticBaseSettingsSource) -> tuple[PydanticBaseSettingsSource, ...]:
        # the user's config file ranks below the environment and .env: a default, not an override
        return (init_settings, env_settings, dotenv_settings, TomlConfigSettingsSource(settings_cls, config_path()),
                file_secret_settings)

    @field_validator("data_dir")
    @classmethod
    def _expand_home(cls, value: Path) -> Path:
        return value.expanduser()

    @field_validator("task_retention_days")
    @classmethod
    def _retention_floor(cls, value: float) -> float:
        # shorter would delete interactions that live figures still read (constants.py says which)
        if 0 < value < constants.TASK_RETENTION_MIN_DAYS:
            raise ValueError(f"must be 0 (keep for ever) or at least {constants.TASK_RETENTION_MIN_DAYS:g} days")
        return value

    @field_validator("database_url", "agent_database_url", "database_read_url")
    @classmethod
    def _check_url(cls, value: str | None) -> str | None:
        if value:
            try:
                conninfo_to_dict(value)  # a postgresql:// URL or a "host=... dbname=..." string
            except Exception as exc:
                raise ValueError(f"not a PostgreSQL URL or connection string: {exc}") from None
        return value or None


def config_path() -> Path:
    """The user's config file: ``$XDG_CONFIG_HOME/phoenix-board/config.toml`` (``~/.config`` when unset)."""
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "phoenix-board" / "config.toml"
