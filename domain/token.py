"""Token: a bearer credential of one principal, for the HTTP API and the portal's login.

The secret is shown once, when the token is issued, and stored only as its SHA-256 digest:
the secret is 256 random bits, so a fast digest is as strong as a slow one and each request
checks it in microseconds. A token is its own aggregate, named by a random id carried in the
token's text, so checking one reads one short history; its events are internal (never
published), being credentials.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import datetime
from uuid import UUID, uuid4

from pydantic import Field

from domain.values import (
    Actor,
    AlreadyDone,
    AwareDatetime,
    EventSourced,
    Frozen,
    Unauthenticated,
)

PREFIX = "ntd_"
SECRET_BYTES = 32
LABEL_MAX = 200


class IssuedToken(Frozen):
    """A token as its holder receives it, once: `text` is the only copy of the secret."""

    token_id: UUID
    text: str
    principal: Actor
    expires_at: AwareDatetime | None = None


class TokenInfo(Frozen):
    """A token as `ntd tokens list` shows it: everything but the secret."""

    token_id: UUID
    principal: Actor
    label: str
    issued_at: AwareDatetime
    issued_by: Actor
    expires_at: AwareDatetime | None
    revoked_at: AwareDatetime | None


NOT_VALID = "not a valid token"
"""What every refused token is told, whatever is wrong with it: a stolen token that was
revoked tells its holder nothing, not even that it once was real."""


class TokenLapsed(Unauthenticated):
    """A real token that no longer holds; its reason is for the log, never for the caller."""

    def __init__(self, reason: str) -> None:
        super().__init__(NOT_VALID)
        self.reason = reason


def digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def parse(text: str) -> tuple[UUID, str]:
    """The token id and secret in a token's text; Unauthenticated when it is not one."""
    body = text.strip().removeprefix(PREFIX) if text.strip().startswith(PREFIX) else ""
    ident, _, secret = body.partition("_")
    try:
        if len(ident) != 32 or not secret or len(secret) > 100:
            raise ValueError(ident)
        return UUID(hex=ident), secret
    except ValueError:
        raise Unauthenticated(NOT_VALID) from None


class Token(EventSourced):
    """A principal's bearer token: issued, then maybe revoked; it may expire."""

    def __init__(
        self, actor: Actor, principal: Actor, digest: str, label: str, expires_at: datetime | None
    ) -> None:
        self.issued_by = actor
        self.principal = principal
        self.digest = digest
        self.label = label
        self.expires_at = expires_at
        self.revoked_at: datetime | None = None
        self.sessions_ended_at: datetime | None = None

    class Issued(EventSourced.Created):
        principal: Actor
        digest: str = Field(pattern=r"^[0-9a-f]{64}$")
        label: str = Field(default="", max_length=LABEL_MAX)
        expires_at: AwareDatetime | None = None

    class Revoked(EventSourced.Event):
        reason: str = Field(min_length=1, max_length=2000)

        def apply(self, token: Token) -> None:
            token.revoked_at = self.timestamp

    class SessionsEnded(EventSourced.Event):
        """Its holder logged out: portal sessions opened with it before now are over."""

        def apply(self, token: Token) -> None:
            token.sessions_ended_at = self.timestamp

    @classmethod
    def issue(
        cls, who: Actor, by: Actor, at: datetime, expires_at: datetime | None, label: str
    ) -> tuple[Token, IssuedToken]:
        """A new token for `who` and its text (the secret's only copy)."""
        token_id, secret = uuid4(), secrets.token_urlsafe(SECRET_BYTES)
        token = cls.start(
            cls.Issued,
            token_id,
            by,
            at,
            principal=who.principal,
            digest=digest(secret),
            label=label,
            expires_at=expires_at,
        )
        text = f"{PREFIX}{token_id.hex}_{secret}"
        return token, IssuedToken(
            token_id=token_id, text=text, principal=who.principal, expires_at=expires_at
        )

    def revoke(self, reason: str, by: Actor, at: datetime) -> None:
        if self.revoked_at is not None:
            raise AlreadyDone(f"token {self.id} was revoked on {self.revoked_at:%Y-%m-%d %H:%M}")
        self.record(self.Revoked, by, at, reason=reason)

    def end_sessions(self, at: datetime) -> None:
        """Log out everywhere: a session cookie copied before now no longer opens a page."""
        self.holds(at)
        self.record(self.SessionsEnded, self.principal, at)

    def check(self, secret: str, at: datetime) -> Actor:
        """The principal, when the secret is this token's and the token still holds."""
        if not hmac.compare_digest(self.digest, digest(secret)):
            raise Unauthenticated(NOT_VALID)
        return self.holds(at)

    def holds(self, at: datetime) -> Actor:
        """The principal, while the token is neither revoked nor expired."""
        if self.revoked_at is not None or (self.expires_at is not None and at >= self.expires_at):
            raise TokenLapsed("revoked" if self.revoked_at is not None else "expired")
        return self.principal

    def holds_session(self, opened: datetime, at: datetime) -> Actor:
        """The principal of a portal session opened at `opened`, while the token holds and
        its holder has not logged out since."""
        principal = self.holds(at)
        if self.sessions_ended_at is not None and opened <= self.sessions_ended_at:
            raise TokenLapsed("logged out")
        return principal

    @property
    def info(self) -> TokenInfo:
        return TokenInfo(
            token_id=self.id,
            principal=self.principal,
            label=self.label,
            issued_at=self.created_on,
            issued_by=self.issued_by,
            expires_at=self.expires_at,
            revoked_at=self.revoked_at,
        )
