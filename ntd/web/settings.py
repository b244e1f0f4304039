"""The portal's own settings (body cap, rate limits, sessions, pool), from NTD_WEB_* variables
with defaults that suit one machine; the stores come from ntd.config.Settings as for the CLI."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

from ntd.config import positive_int

WEB_VARIABLES = {
    "NTD_SESSION_SECRET": "signs the portal's session cookies (default: a random key kept in "
    "DATA_DIR/session.key, mode 0600, shared by the workers of one machine)",
    "NTD_WEB_MAX_BODY": "largest request body in bytes (default 2000000); larger is 413",
    "NTD_WEB_RATE": "API requests per token per minute, per worker (default 600); more is 429",
    "NTD_WEB_LOGIN_ATTEMPTS": "failed logins per client per 5 minutes, per worker (default 10)",
    "NTD_WEB_SESSION_HOURS": "how long a portal login lasts (default 8)",
    "NTD_WEB_SECURE_COOKIES": "`1` to mark cookies Secure (behind HTTPS; default 0)",
    "NTD_WEB_POOL": "wired systems per worker, each up to 5 PostgreSQL connections (default 4)",
}
"""What `ntd serve` reads besides ntd.config.VARIABLES."""


@dataclass(frozen=True)
class WebSettings:
    """Limits and session settings of the portal."""

    max_body_bytes: int = 2_000_000
    """A 300-listing notice is some 100 kB of JSON; a CSV of 300 listings less."""
    rate_per_minute: int = 600
    login_attempts: int = 10
    login_window_seconds: float = 300.0
    session_hours: float = 8.0
    session_secret: str | None = None
    secure_cookies: bool = False
    pool_size: int = 4
    """Wired systems per worker: each holds up to five store connections on PostgreSQL (event
    store 1 + 1 spare, batch reader, read models, policy view)."""
    read_wait_seconds: float = 3.0
    """How long a read with `min_version` waits for the read model before answering 503."""

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> WebSettings:
        """Read the NTD_WEB_* variables; a wrong value raises ConfigError naming it."""
        env = os.environ if environ is None else environ
        return cls(
            max_body_bytes=positive_int(env, "NTD_WEB_MAX_BODY", cls.max_body_bytes),
            rate_per_minute=positive_int(env, "NTD_WEB_RATE", cls.rate_per_minute),
            login_attempts=positive_int(env, "NTD_WEB_LOGIN_ATTEMPTS", cls.login_attempts),
            session_hours=positive_int(env, "NTD_WEB_SESSION_HOURS", int(cls.session_hours)),
            session_secret=env.get("NTD_SESSION_SECRET") or None,
            secure_cookies=env.get("NTD_WEB_SECURE_COOKIES", "0").strip() in ("1", "true", "yes"),
            pool_size=positive_int(env, "NTD_WEB_POOL", cls.pool_size),
        )
