"""The beat tests use the workers tests' broker: an embedded Valkey per test."""

from tests.workers.conftest import valkey  # noqa: F401 - a fixture
