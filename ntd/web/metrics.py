"""Prometheus text exposition, written by hand (no client library): requests by route
template, method and status, a latency histogram per route, and how far the read side and the
relay trail the event store where that is cheap to know.

Counters live in each worker process: with `--workers N` a scrape sees one worker's figures
(label `pid` tells them apart), as with any per-process exporter."""

from __future__ import annotations

import os
import threading
from collections import defaultdict
from collections.abc import Iterator

import structlog

from ntd.bootstrap import Ntd

log = structlog.get_logger("ntd.web")
BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
"""Latency bucket bounds in seconds (Prometheus's defaults)."""
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


class Metrics:
    """What this worker has answered, by route template, method and status."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._requests: dict[tuple[str, str, int], int] = defaultdict(int)
        self._buckets: dict[tuple[str, str], list[int]] = {}
        self._sums: dict[tuple[str, str], float] = defaultdict(float)

    def observe(self, method: str, route: str, status: int, seconds: float) -> None:
        with self._lock:
            self._requests[(method, route, status)] += 1
            counts = self._buckets.setdefault((method, route), [0] * (len(BUCKETS) + 1))
            for i, bound in enumerate(BUCKETS):
                if seconds <= bound:
                    counts[i] += 1
            counts[-1] += 1
            self._sums[(method, route)] += seconds

    def render(self, ntd: Ntd | None = None) -> str:
        """The exposition text; with `ntd`, the store gauges too."""
        lines = list(self._request_lines())
        if ntd is not None:
            lines += list(_store_lines(ntd))
        return "\n".join(lines) + "\n"

    def _request_lines(self) -> Iterator[str]:
        pid = os.getpid()
        with self._lock:
            requests = dict(self._requests)
            buckets = {k: list(v) for k, v in self._buckets.items()}
            sums = dict(self._sums)
        yield "# HELP ntd_http_requests_total HTTP requests answered, by route template and status."
        yield "# TYPE ntd_http_requests_total counter"
        for (method, route, status), count in sorted(requests.items()):
            labels = _labels(pid=pid, method=method, route=route, status=status)
            yield f"ntd_http_requests_total{{{labels}}} {count}"
        yield "# HELP ntd_http_request_duration_seconds Time to answer, by route template."
        yield "# TYPE ntd_http_request_duration_seconds histogram"
        for (method, route), counts in sorted(buckets.items()):
            base = _labels(pid=pid, method=method, route=route)
            for bound, count in zip((*map(str, BUCKETS), "+Inf"), counts, strict=True):
                yield f'ntd_http_request_duration_seconds_bucket{{{base},le="{bound}"}} {count}'
            yield f"ntd_http_request_duration_seconds_sum{{{base}}} {sums[(method, route)]:.6f}"
            yield f"ntd_http_request_duration_seconds_count{{{base}}} {counts[-1]}"


def _store_lines(ntd: Ntd) -> Iterator[str]:
    """Events stored, and the lag of the embedded projections or of the relay."""
    stored = ntd.app.recorder.max_notification_id() or 0
    yield "# HELP ntd_events_stored The event store's last notification id."
    yield "# TYPE ntd_events_stored gauge"
    yield f"ntd_events_stored {stored}"
    if ntd.settings.feed == "log":
        position = ntd.read_store.position()
        yield "# HELP ntd_projection_lag_events Events stored but not yet in the read models."
        yield "# TYPE ntd_projection_lag_events gauge"
        yield f"ntd_projection_lag_events {max(0, stored - position)}"
        return
    relayed = _relay_position(ntd)
    if relayed is not None:
        yield "# HELP ntd_relay_lag_events Events stored but not yet published to Kafka."
        yield "# TYPE ntd_relay_lag_events gauge"
        yield f"ntd_relay_lag_events {max(0, stored - relayed)}"


def _relay_position(ntd: Ntd) -> int | None:
    """The relay's stored position (a short connection of its own), None when unknown."""
    from consumers.relay import RelayConfig
    from consumers.relay_store import SqlRelayPositions

    settings = ntd.settings
    try:
        if settings.event_store == "sqlite":
            positions = SqlRelayPositions.sqlite(str(settings.data_dir / "events.db"))
        else:
            positions = SqlRelayPositions.postgres(settings.events_dsn, settings.events_schema)
        try:
            return positions.load(RelayConfig.name)
        finally:
            positions.close()
    except Exception as error:  # a metric must never fail the scrape
        log.warning("relay position unknown", error=type(error).__name__)
        return None


def _labels(**values: object) -> str:
    return ",".join(f'{k}="{_escape(str(v))}"' for k, v in values.items())


def _escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
