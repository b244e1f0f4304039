"""How long ntd waits for the services it depends on (Kafka, PostgreSQL): NTD_CONNECT_TIMEOUT."""

from __future__ import annotations

import os
from collections.abc import Mapping

from consumers.reach import DEFAULT_CONNECT_TIMEOUT
from ntd.config import positive_int

SERVICE_VARIABLES = {
    "NTD_CONNECT_TIMEOUT": "seconds a command waits for Kafka or PostgreSQL before it says which"
    f" is away; a worker retries instead (default {DEFAULT_CONNECT_TIMEOUT})",
}
"""What ntd reads about reaching its services, besides ntd.config.VARIABLES."""


def connect_timeout(environ: Mapping[str, str] | None = None) -> int:
    """NTD_CONNECT_TIMEOUT in seconds (a wrong value raises ConfigError naming it)."""
    env = os.environ if environ is None else environ
    return positive_int(env, "NTD_CONNECT_TIMEOUT", DEFAULT_CONNECT_TIMEOUT)
