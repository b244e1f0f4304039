"""Sending statements to the Transparency Database's batch endpoint: a batch at a time, with a
bounded back-off on answers that may pass (429, 5xx, no answer), and a statement whose puid the
database already holds counted as sent (an earlier run, or a retry after a lost answer)."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from ntd.transparency.statements import Statement

LOOPBACK = frozenset({"localhost", "127.0.0.1", "::1"})
BACKOFF_CAP = 30.0
"""The longest wait between two attempts, in seconds."""
TIMEOUT = 60.0
"""Seconds one call may take: a batch of 100 is written in one transaction there."""
DUPLICATE = "The identifier given is not unique within this platform."
"""The single endpoint's answer (422) to a puid it already holds, word for word."""


class SubmitFailed(Exception):
    """The database refused a batch, or kept failing; the message says which and why."""


@dataclass
class Submission:
    """What a run sent: statements created, statements the database already held, calls made."""

    created: int = 0
    already: int = 0
    calls: int = 0


def check_url(url: str) -> str:
    """The endpoint, refused unless https (the token must not travel in clear) or loopback."""
    try:
        parts = urlsplit(url)
        hostname = parts.hostname
    except ValueError:
        raise ValueError(f"{url!r} is not a URL") from None
    if parts.scheme == "https" and hostname:
        return url
    if parts.scheme == "http" and hostname in LOOPBACK:
        return url
    raise ValueError(f"{url!r} is not an https:// URL (the token would travel in clear)")


def submit(
    batches: Iterable[list[Statement]],
    url: str,
    token: str,
    retries: int = 5,
    backoff: float = 1.0,
    sleep: Callable[[float], None] = time.sleep,
) -> Submission:
    """Post every batch to the batch endpoint at `url`; SubmitFailed at the first batch the
    database refuses (what was sent before it stays sent: a rerun skips it as duplicates)."""
    done = Submission()
    for number, batch in enumerate(batches, 1):
        pending = [s.public() for s in batch]
        while pending:
            status, answer = _post(url, token, {"statements": pending}, retries, backoff, sleep)
            done.calls += 1
            if status == 201:
                done.created += len(pending)
                break
            held = duplicates(status, answer) & {s["puid"] for s in pending}
            if not held:
                raise SubmitFailed(f"batch {number}: {_refusal(status, answer, pending)}")
            done.already += len(held)
            pending = [s for s in pending if s["puid"] not in held]
    return done


def duplicates(status: int, answer: Any) -> set[str]:
    """The puids a 422 answer says the database already holds: the batch endpoint lists them
    in errors.existing_puids, the single endpoint names one with its duplicate message."""
    if status != 422 or not isinstance(answer, dict):
        return set()
    errors = answer.get("errors")
    if isinstance(errors, dict) and isinstance(errors.get("existing_puids"), list):
        return {str(p) for p in errors["existing_puids"]}
    existing = answer.get("existing")
    if answer.get("message") == DUPLICATE and isinstance(existing, dict) and "puid" in existing:
        return {str(existing["puid"])}
    return set()


def _post(
    url: str,
    token: str,
    body: dict[str, Any],
    retries: int,
    backoff: float,
    sleep: Callable[[float], None],
) -> tuple[int, Any]:
    """The database's answer to one call, retried while it may pass: 429, 5xx or no answer."""
    data = json.dumps(body).encode()
    last = ""
    for attempt in range(retries + 1):
        if attempt:
            sleep(min(BACKOFF_CAP, backoff * 2 ** (attempt - 1)))
        try:
            status, answer = _call(url, token, data)
        except (urllib.error.URLError, TimeoutError, ConnectionError) as error:
            last = f"no answer ({getattr(error, 'reason', error)})"
            continue
        if status == 429 or status >= 500:
            last = _refusal(status, answer)
            continue
        return status, answer
    raise SubmitFailed(f"{url} still failing after {retries + 1} attempts: {last}")


def _call(url: str, token: str, data: bytes) -> tuple[int, Any]:
    request = urllib.request.Request(
        url,
        data=data,
        method="POST",
        headers={
            "Authorization": f"Bearer {token}",
            "Accept": "application/json",
            "Content-Type": "application/json",
        },
    )
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT) as response:  # noqa: S310 (checked)
            return response.status, _json(response.read())
    except urllib.error.HTTPError as error:
        with error:
            return error.code, _json(error.read())


def _json(raw: bytes) -> Any:
    try:
        return json.loads(raw) if raw else None
    except ValueError:
        return raw[:200].decode("utf-8", "replace")


def _refusal(status: int, answer: Any, sent: list[dict[str, Any]] | None = None) -> str:
    """The answer in one line: its status and the database's first complaint, naming the
    statement by its puid where the batch endpoint names it by position (`statement_3`)."""
    if status == 401:
        return "the database refused the token (401 Unauthorized)"
    detail = ""
    if isinstance(answer, dict):
        detail = str(answer.get("message") or "")
        errors = answer.get("errors")
        if not detail and isinstance(errors, dict) and errors:
            where, what = next(iter(errors.items()))
            detail = f"{_named(str(where), sent or [])}: {what}"
    elif answer:
        detail = str(answer)
    return f"answered {status}" + (f": {detail[:300]}" if detail else "")


def _named(where: str, sent: list[dict[str, Any]]) -> str:
    position = where.removeprefix("statement_")
    if position.isdigit() and int(position) < len(sent):
        return f"statement {sent[int(position)].get('puid')}"
    return where
