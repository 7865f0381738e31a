"""The server's Prometheus metrics, kept in plain dicts and written out by hand at scrape time.

The hot path only adds to counters (a dict item per label set, no locks: one event loop per
process owns them); the text exposition (version 0.0.4) is built when `/metrics` is scraped.
With `--workers N` each worker is a process with its own counters: scrape each one, or run
one worker per container.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Iterable

__all__ = ["LATENCY_BUCKETS", "Histogram", "Metrics"]

#: Upper bounds (seconds) of the request latency histogram: 50 µs to 5 s.
LATENCY_BUCKETS = (
    0.00005,
    0.0001,
    0.00025,
    0.0005,
    0.001,
    0.0025,
    0.005,
    0.01,
    0.025,
    0.05,
    0.1,
    0.25,
    0.5,
    1.0,
    2.5,
    5.0,
)


def _label_value(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _labels(pairs: Iterable[tuple[str, str]]) -> str:
    inner = ",".join(f'{k}="{_label_value(v)}"' for k, v in pairs)
    return "{" + inner + "}" if inner else ""


def _number(value: float) -> str:
    if value == int(value) and abs(value) < 1e15:
        return str(int(value))
    return repr(float(value))


class _Series:
    """One label set of a histogram: a count per bucket (non-cumulative, the last one +Inf;
    summed at scrape), the sum and the count of the observations."""

    __slots__ = ("counts", "n", "total")

    def __init__(self, buckets: int):
        self.counts = [0] * (buckets + 1)
        self.total = 0.0
        self.n = 0


class Histogram:
    """A histogram per label set."""

    __slots__ = ("buckets", "series")

    def __init__(self, buckets: tuple[float, ...] = LATENCY_BUCKETS):
        self.buckets = buckets
        self.series: dict[tuple[str, ...], _Series] = {}

    def observe(self, labels: tuple[str, ...], seconds: float) -> None:
        s = self.series.get(labels)
        if s is None:
            s = self.series[labels] = _Series(len(self.buckets))
        s.counts[bisect_left(self.buckets, seconds)] += 1
        s.total += seconds
        s.n += 1

    def count(self, labels: tuple[str, ...]) -> int:
        s = self.series.get(labels)
        return 0 if s is None else s.n


class Metrics:
    """Every metric the server exports (see docs/server.md, Metrics).

    Attributes:
        latency: `skewless_http_request_duration_seconds{route, code}`.
        requests: `skewless_http_requests_total{route, code}`.
        values: `skewless_served_values_total{view, status}` (one per value served).
        errors: `skewless_errors_total{code}` (every error response, by its error code).
        redis_errors: `skewless_redis_errors_total{code}` (lookups that failed on Redis).
        reloads: `skewless_manifest_reloads_total{result}` (`ok` or `failed`).
    """

    def __init__(self) -> None:
        self.latency = Histogram()
        self.requests: dict[tuple[str, str], int] = {}
        self.values: dict[tuple[str, str], int] = {}
        self.errors: dict[str, int] = {}
        self.redis_errors: dict[str, int] = {}
        self.reloads: dict[str, int] = {"ok": 0, "failed": 0}

    def request(self, route: str, code: int, seconds: float) -> None:
        key = (route, str(code))
        self.latency.observe(key, seconds)
        self.requests[key] = self.requests.get(key, 0) + 1

    def render(
        self,
        *,
        staleness: dict[str, float],
        freshness: dict[str, float],
        log_dropped: int,
        log_calls: int,
        redis_up: bool | None,
        in_flight: int,
        manifest_sha: str,
        manifest_loaded_at: float,
    ) -> str:
        """The text exposition of every metric (staleness etc. as read at scrape time)."""
        out: list[str] = []

        def header(name: str, kind: str, doc: str) -> None:
            out.append(f"# HELP {name} {doc}")
            out.append(f"# TYPE {name} {kind}")

        name = "skewless_http_request_duration_seconds"
        header(name, "histogram", "Time from request received to response sent, by route.")
        for labels, series in sorted(self.latency.series.items()):
            counts, total, n = series.counts, series.total, series.n
            base = [("route", labels[0]), ("code", labels[1])]
            running = 0
            for bound, c in zip(self.latency.buckets, counts, strict=False):
                running += c
                out.append(f"{name}_bucket{_labels([*base, ('le', repr(bound))])} {running}")
            running += counts[-1]
            out.append(f"{name}_bucket{_labels([*base, ('le', '+Inf')])} {running}")
            out.append(f"{name}_sum{_labels(base)} {_number(total)}")
            out.append(f"{name}_count{_labels(base)} {n}")

        name = "skewless_http_requests_total"
        header(name, "counter", "HTTP requests answered, by route and status code.")
        for (route, code), n in sorted(self.requests.items()):
            out.append(f"{name}{_labels([('route', route), ('code', code)])} {n}")

        name = "skewless_served_values_total"
        header(name, "counter", "Feature values served, by feature view and status.")
        for (view, status), n in sorted(self.values.items()):
            out.append(f"{name}{_labels([('view', view), ('status', status)])} {n}")

        name = "skewless_errors_total"
        header(name, "counter", "Error responses, by error code.")
        for code, n in sorted(self.errors.items()):
            out.append(f"{name}{_labels([('code', code)])} {n}")

        name = "skewless_redis_errors_total"
        header(name, "counter", "Lookups that failed on Redis, by error code.")
        for code, n in sorted(self.redis_errors.items()):
            out.append(f"{name}{_labels([('code', code)])} {n}")

        name = "skewless_view_staleness_seconds"
        header(name, "gauge", "Seconds since the feature view's served generation was loaded.")
        for view, age in sorted(staleness.items()):
            out.append(f"{name}{_labels([('view', view)])} {_number(age)}")

        name = "skewless_view_freshness_sla_seconds"
        header(name, "gauge", "The feature view's freshness SLA (meta.skewless.freshness).")
        for view, sla in sorted(freshness.items()):
            out.append(f"{name}{_labels([('view', view)])} {_number(sla)}")

        name = "skewless_feature_log_dropped_total"
        header(name, "counter", "Served calls the feature log dropped (its queue was full).")
        out.append(f"{name} {log_dropped}")
        name = "skewless_feature_log_calls_total"
        header(name, "counter", "Served calls queued for the feature log.")
        out.append(f"{name} {log_calls}")

        name = "skewless_redis_up"
        header(name, "gauge", "1 when Redis answered the scrape's read, 0 when it did not.")
        out.append(f"{name} {0 if not redis_up else 1}")

        name = "skewless_http_requests_in_flight"
        header(name, "gauge", "Feature requests being served now.")
        out.append(f"{name} {in_flight}")

        name = "skewless_manifest_reloads_total"
        header(name, "counter", "Manifest reloads, by result (ok, failed).")
        for result, n in sorted(self.reloads.items()):
            out.append(f"{name}{_labels([('result', result)])} {n}")

        name = "skewless_manifest_info"
        header(name, "gauge", "The manifest served (sha256) and when it was loaded (value).")
        out.append(f"{name}{_labels([('sha256', manifest_sha)])} {_number(manifest_loaded_at)}")
        return "\n".join(out) + "\n"
