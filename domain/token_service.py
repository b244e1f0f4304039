"""Commands and queries on bearer tokens: issue, revoke, list, and authenticate a request."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from eventsourcing.utils import get_topic

from domain.access import Grant, Principal
from domain.permissions import Target, allowed
from domain.service import Service, principal_ids
from domain.token import LABEL_MAX, NOT_VALID, IssuedToken, Token, TokenInfo, parse
from domain.values import Actor, ActorKind, DomainError, NotFound, Unauthenticated

PAGE = 1000


class TokenService(Service):
    """Who holds which bearer token; the HTTP entry point asks `authenticate` on each request."""

    def issue_token(
        self, who: Actor, actor: Actor, expires_at: datetime | None = None, label: str = ""
    ) -> IssuedToken:
        """A new token for `who` (an admin's command). Its text is returned once and never
        stored: only its digest is."""
        by = self._authorize("issue_token", actor, Target("the platform's access"))
        if who.kind is ActorKind.SYSTEM:
            raise DomainError("the system acts on its own and holds no token")
        now = self.clock.now()
        if expires_at is not None and expires_at <= now:
            raise DomainError(f"the token would expire at {expires_at.isoformat()}, in the past")
        if len(label) > LABEL_MAX:
            raise DomainError(f"a token's label is at most {LABEL_MAX} characters")
        token, issued = Token.issue(who, by, now, expires_at, label)
        self.save(token)
        return issued

    def revoke_token(self, token_id: UUID, reason: str, actor: Actor) -> None:
        """Revoke a token: from now on every request presenting it is unauthenticated."""
        by = self._authorize("revoke_token", actor, Target("the platform's access"))
        token = self._get(Token, token_id)
        token.revoke(reason, by, self.clock.now())
        self.save(token)

    def tokens(self, viewer: Actor) -> list[TokenInfo]:
        """Every token ever issued, the oldest first, without their secrets."""
        self._authorize("tokens", viewer, Target("the platform's access"))
        topic = get_topic(Token.Issued)
        ids: list[UUID] = []
        start: int | None = None
        while True:
            page = self.recorder.select_notifications(
                start, PAGE, topics=[topic], inclusive_of_start=start is None
            )
            ids += [UUID(str(n.originator_id)) for n in page]
            if len(page) < PAGE:
                break
            start = page[-1].id
        loaded = self._load_many(ids)
        return [loaded[i].info for i in ids if isinstance(loaded.get(i), Token)]

    def authenticate(self, text: str) -> Actor:
        """The principal a token's text names, when it is a live token (Unauthenticated
        otherwise, with the same words whatever was wrong). The principal's grants are read
        by each command, so a revoked role is refused at once, token or not."""
        token_id, secret = parse(text)
        return self._token(token_id).check(secret, self.clock.now())

    def session_principal(self, token_id: UUID, opened: datetime) -> Actor:
        """The principal of a portal session opened at `opened` with this token (the session
        cookie holds the token's id, signed by the portal, never its secret): Unauthenticated
        once the token is revoked or expired, or its holder logged out since, so a copied
        cookie dies with the session it came from."""
        return self._token(token_id).holds_session(opened, self.clock.now())

    def end_sessions(self, token_id: UUID) -> None:
        """Log out: every portal session opened with this token until now ends, wherever
        its cookie went. The session is the authority: the token must still hold."""
        token = self._token(token_id)
        token.end_sessions(self.clock.now())
        self.save(token)

    def _token(self, token_id: UUID) -> Token:
        try:
            return self._get(Token, token_id)
        except NotFound:
            raise Unauthenticated(NOT_VALID) from None

    def own_grants(self, actor: Actor) -> list[Grant]:
        """The roles the actor's principal holds now (what the portal shows it); Forbidden
        when it holds none."""
        loaded = self._load_many(principal_ids(actor))
        principal = loaded.get(Principal.id_for(actor)) if principal_ids(actor) else None
        grants = list(principal.grants) if isinstance(principal, Principal) else []
        allowed("own_grants", actor, grants)
        return sorted(grants, key=str)
