"""Turning k6's outputs into results.

The overall summary comes from k6's own `--summary-export` (so p90/p95/p99 are
exactly k6's). Time series, per-endpoint and per-scenario stats and failed-request
samples come from k6's CSV sample stream, read incrementally while k6 runs: only
the samples of the last few seconds are held in memory, so memory stays flat
however long the run is.
"""

from __future__ import annotations

import csv
import dataclasses
import math
import re
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO, TypeVar
from urllib.parse import urlsplit

import orjson
from hdrh.histogram import HdrHistogram

from runs.engine.k6_codes import error_meaning
from runs.engine.secrets import mask_url

# Samples can arrive a little out of order (k6 flushes its CSV buffer once a
# second); a second is closed once samples this many seconds newer are seen.
OPEN_WINDOW_S = 2
READ_CHUNK_BYTES = 1 << 20
WANTED_PREFIXES = (
    "http_req_duration,", "http_req_failed,", "vus,", "iterations,", "iteration_duration,", "dropped_iterations,",
)  # fmt: skip
HDR_MAX_US = 3_600_000_000  # one hour
ENDPOINT_OVERFLOW = "(other endpoints)"
MAX_SCENARIOS = 20  # scenarios with a row and series of their own; a script names them, so the rest share one
SCENARIO_OVERFLOW = "(other scenarios)"
SETUP_TEARDOWN = "(setup and teardown)"  # k6 tags the samples of setup() and teardown() with no scenario
MAX_FAILURE_REASONS = 50
FAILURE_REASON_OVERFLOW = ("", "", "(other reasons)")
SAMPLE_URLS_PER_REASON = 3
FAILURE_SERIES = 5  # reasons drawn over time; the rest are summed as "other"
ENDPOINT_SERIES = 5  # the busiest endpoints drawn as p95 over time
ENDPOINT_SERIES_TRACKED = 20  # endpoints (method + name) whose per-second p95 is kept; later ones have none
# k6 times six phases of every request: six CSV rows in a row, http_req_blocked … http_req_receiving.
# Reading them all would cost about a sixth of the ingester's throughput, so a fast run's phases come from
# a sample: the start of each chunk read, sized so that about TIMING_BYTES_PER_S of every second of the
# run is parsed (some 500 requests); a run slower than that is read whole. One match per request.
SAMPLED_PHASES = ("blocked", "connecting", "tls_handshaking", "sending", "waiting", "receiving")  # as TIMING_PHASES
_REST_OF_ROW = r",[^\n]*\n"
TIMING_ROWS = re.compile(
    r"\nhttp_req_blocked,(\d+),([\d.]+)"
    + "".join(_REST_OF_ROW + rf"http_req_{phase},\d+,([\d.]+)" for phase in SAMPLED_PHASES[1:])
    + ","  # a value cut short by the end of the text lacks its comma and is not read
)
TIMING_BYTES_PER_S = 1 << 20
ALL_REQUESTS = "__all__"  # the run-wide histogram's key beside the endpoints'
MAX_ORIGINS = 1000  # distinct origins counted for the busiest one (a script cannot grow this without end)
MAX_REMEMBERED_URLS = 4096  # URLs whose origin is remembered while a run is read (a run requests the same few again)


K = TypeVar("K")
V = TypeVar("V")


def capped_entry(table: dict[K, V], key: K, cap: int, overflow: K, make: Callable[[K], V]) -> V:
    """`table[key]`, made by `make(key)` while the table has fewer than `cap` entries; after that, the overflow entry."""
    entry = table.get(key)
    if entry is None:
        if len(table) >= cap:
            key = overflow
            entry = table.get(key)
        if entry is None:
            entry = table[key] = make(key)
    return entry


def percentile(sorted_values: list[float], pct: float) -> float:
    """k6's own percentile: linear interpolation between closest ranks."""
    if not sorted_values:
        return 0.0
    index = pct * (len(sorted_values) - 1)
    low, high = sorted_values[math.floor(index)], sorted_values[math.ceil(index)]
    return low + (high - low) * (index - math.floor(index))


@dataclass
class SecondBucket:
    requests: int = 0
    failed: int = 0
    iterations: int = 0
    vus: int = 0
    statuses: Counter[str] = field(default_factory=Counter)
    dropped: int = 0
    failure_reasons: Counter[int] = field(default_factory=Counter)  # index into the ingester's reasons
    durations_ms: list[float] | None = field(default_factory=list)
    p50_ms: float = 0.0
    p90_ms: float = 0.0
    p95_ms: float = 0.0
    p99_ms: float = 0.0
    timing_sums_ms: list[float] = field(default_factory=lambda: [0.0] * len(SAMPLED_PHASES))
    timing_samples: int = 0  # requests whose phases were read
    # Durations of the tracked endpoints while the second is open (by the ingester's index), then their p95.
    endpoint_durations_ms: dict[int, list[float]] = field(default_factory=dict)
    endpoint_p95_ms: dict[int, float] = field(default_factory=dict)

    def close(self) -> None:
        values = sorted(self.durations_ms or ())
        self.p50_ms, self.p90_ms, self.p95_ms, self.p99_ms = (percentile(values, p) for p in (0.5, 0.9, 0.95, 0.99))
        self.endpoint_p95_ms = {i: percentile(sorted(v), 0.95) for i, v in self.endpoint_durations_ms.items()}
        self.durations_ms = None  # closed: percentiles are final
        self.endpoint_durations_ms = {}

    def provisional(self) -> SecondBucket:
        """A closed copy of a second still open (its percentiles so far), for live progress."""
        copy = dataclasses.replace(
            self,
            durations_ms=list(self.durations_ms or ()),
            endpoint_durations_ms={i: list(v) for i, v in self.endpoint_durations_ms.items()},
        )
        copy.close()
        return copy

    def point(self, t_s: int) -> dict[str, Any]:
        return {
            "t": t_s,
            "rps": self.requests,
            "error_rate": round(self.failed / self.requests, 6) if self.requests else 0.0,
            "p50_ms": round(self.p50_ms, 3),
            "p90_ms": round(self.p90_ms, 3),
            "p95_ms": round(self.p95_ms, 3),
            "p99_ms": round(self.p99_ms, 3),
            "vus": self.vus,
            "iterations": self.iterations,
            "dropped_iterations": self.dropped,
            "statuses": dict(self.statuses),
            **{f"{phase}_ms": self.timing_mean_ms(index) for index, phase in enumerate(SAMPLED_PHASES)},
            "timing_samples": self.timing_samples,
        }

    def timing_mean_ms(self, phase: int) -> float:
        return round(self.timing_sums_ms[phase] / self.timing_samples, 3) if self.timing_samples else 0.0


def new_histogram() -> HdrHistogram:
    return HdrHistogram(1, HDR_MAX_US, 3)


def new_second_histogram() -> HdrHistogram:
    """A second's durations to two significant digits: what a per-second line needs, at a fraction of the size."""
    return HdrHistogram(1, HDR_MAX_US, 2)


# A second's durations kept as they are up to this many (k6's own percentile on them when merged, exactly);
# beyond, a histogram, whose nearest-rank percentile is then as close as the values are dense.
EXACT_SECOND_VALUES = 100


def encoded_values(values_ms: Iterable[float]) -> str | list[float]:
    """A second's durations for merging: the values themselves when few, else an encoded histogram."""
    values = list(values_ms)
    if len(values) <= EXACT_SECOND_VALUES:
        return [round(value, 3) for value in values]
    histogram = new_second_histogram()
    for value_ms in values:
        record_ms(histogram, value_ms)
    return histogram.encode().decode()


def histogram_us(value_ms: float) -> int:
    """A duration as the run's HDR histograms hold it: whole microseconds within their range."""
    return min(HDR_MAX_US, max(1, round(value_ms * 1000)))


def record_ms(histogram: HdrHistogram, value_ms: float) -> None:
    histogram.record_value(histogram_us(value_ms))


def request_stats(count: int, failed: int, histogram: HdrHistogram) -> dict[str, Any]:
    """Error rate and latency percentiles (ms, from a histogram of microseconds) of `count` requests."""

    def pct_ms(pct: float) -> float:
        return round(histogram.get_value_at_percentile(pct) / 1000, 3) if count else 0.0

    return {
        "error_rate": round(failed / count, 6) if count else 0.0,
        "p50_ms": pct_ms(50),
        "p95_ms": pct_ms(95),
        "p99_ms": pct_ms(99),
        "max_ms": round(histogram.get_max_value() / 1000, 3) if count else 0.0,
    }


@dataclass
class EndpointStats:
    name: str
    method: str
    status: str
    count: int = 0
    failed: int = 0
    histogram: HdrHistogram = field(default_factory=new_histogram)

    @property
    def key(self) -> str:
        """How comparisons match an endpoint across runs (runs/engine/compare.py)."""
        return f"{self.method} {self.name} {self.status}".strip()

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "method": self.method,
            "status": self.status,
            "count": self.count,
            "failed": self.failed,
            **request_stats(self.count, self.failed, self.histogram),
        }


@dataclass(slots=True)
class ScenarioSecond:
    requests: int = 0
    failed: int = 0
    iterations: int = 0
    busy_ms: float = 0.0  # iteration time the scenario's VUs spent in this second
    durations_ms: list[float] | None = field(default_factory=list)
    p95_ms: float = 0.0

    def close(self) -> None:
        self.p95_ms = percentile(sorted(self.durations_ms or ()), 0.95)
        self.durations_ms = None  # closed: the percentile is final


@dataclass
class ScenarioStats:
    """One scenario's share of the run: the samples whose `scenario` tag names it."""

    name: str
    requests: int = 0
    failed: int = 0
    iterations: int = 0
    first_second: int | None = None
    last_second: int = 0
    histogram: HdrHistogram = field(default_factory=new_histogram)
    seconds: dict[int, ScenarioSecond] = field(default_factory=dict)

    def request(self, second: int, duration_ms: float, closed_before: int) -> None:
        self.requests += 1
        if self.first_second is None or second < self.first_second:
            self.first_second = second
        if second > self.last_second:
            self.last_second = second
        bucket = self.seconds.get(second) or self._second(second, closed_before)
        bucket.requests += 1
        if bucket.durations_ms is not None:
            bucket.durations_ms.append(duration_ms)
        record_ms(self.histogram, duration_ms)

    def requests_at(
        self, second: int, requests: int, durations_ms: list[float], weights_us: list[tuple[int, int]], closed_before: int
    ) -> None:
        """Many requests of one second at once (a remote-write push): their durations (or a scaled sample of
        them), and the same as (µs, count) for the run's histogram."""
        self.requests += requests
        if self.first_second is None or second < self.first_second:
            self.first_second = second
        self.last_second = max(self.last_second, second)
        bucket = self.seconds.get(second) or self._second(second, closed_before)
        bucket.requests += requests
        if bucket.durations_ms is not None:
            bucket.durations_ms.extend(durations_ms)
        for value_us, count in weights_us:
            self.histogram.record_value(value_us, count)

    def failure(self, second: int, closed_before: int, count: int = 1) -> None:
        self.failed += count
        (self.seconds.get(second) or self._second(second, closed_before)).failed += count

    def iteration(self, second: int, closed_before: int, count: int = 1) -> None:
        self.iterations += count
        (self.seconds.get(second) or self._second(second, closed_before)).iterations += count

    def iteration_time(self, second: int, duration_ms: float, closed_before: int, run_start: int, count: int = 1) -> None:
        """Little's law by the second: the iteration time spent in a second is how many VUs were busy in it
        (k6's `vus` is one number for the whole test). k6 stamps an iteration with the whole second it ended
        in; taken to end in the middle of it, its time is credited to each second it overlapped."""
        end_ms, start_ms = 500.0, 500.0 - duration_ms  # from the start of `second`
        while end_ms > start_ms and second >= run_start:
            busy_ms = (end_ms - max(start_ms, 0.0)) * count
            (self.seconds.get(second) or self._second(second, closed_before)).busy_ms += busy_ms
            end_ms, start_ms, second = 1000.0, start_ms + 1000.0, second - 1

    def _second(self, second: int, closed_before: int) -> ScenarioSecond:
        bucket = self.seconds.get(second)
        if bucket is None:
            bucket = self.seconds[second] = ScenarioSecond(durations_ms=None if second < closed_before else [])
        return bucket

    def close(self, second: int | None = None) -> None:
        """Close one second (its p95 is then final), or every second still open."""
        buckets = self.seconds.values() if second is None else [self.seconds.get(second)]
        for bucket in buckets:
            if bucket is not None and bucket.durations_ms is not None:
                bucket.close()

    def as_dict(self, seconds: range) -> dict[str, Any]:
        """Totals over the run, and a column per measure over `seconds` (the run's, so scenarios line up)."""
        active_s = self.last_second - self.first_second + 1 if self.first_second is not None else 0
        buckets = [self.seconds.get(second) or ScenarioSecond(durations_ms=None) for second in seconds]
        busy_vus = [round(bucket.busy_ms / 1000, 2) for bucket in buckets]
        return {
            "name": self.name,
            "requests": self.requests,
            "failed": self.failed,
            **request_stats(self.requests, self.failed, self.histogram),
            "active_s": active_s,
            "rps": round(self.requests / active_s, 3) if active_s else 0.0,
            "iterations": self.iterations,
            "busy_vus_max": max(busy_vus, default=0.0),
            "timeseries": {
                "t": [second - seconds.start for second in seconds],
                "requests": [bucket.requests for bucket in buckets],
                "errors": [bucket.failed for bucket in buckets],
                "p95_ms": [round(bucket.p95_ms, 3) for bucket in buckets],
                "iterations": [bucket.iterations for bucket in buckets],
                "busy_vus": busy_vus,
            },
        }


@dataclass
class FailureReason:
    status: str
    error_code: str
    error: str
    index: int
    first_seen_s: int
    count: int = 0
    sample_urls: list[str] = field(default_factory=list)

    @property
    def label(self) -> str:
        """What a person reads first: k6's message, else the HTTP status."""
        if self.error:
            return f"{self.error} ({self.error_code})" if self.error_code else self.error
        return f"HTTP {self.status}" if self.status and self.status != "0" else "unknown failure"

    def as_dict(self) -> dict[str, Any]:
        return {
            "status": self.status,
            "error_code": self.error_code,
            "message": self.label,
            "meaning": error_meaning(self.error_code, self.status),
            "count": self.count,
            "first_seen_s": self.first_seen_s,
            "sample_urls": self.sample_urls,
        }


class SampleIngester:
    """Reads k6's CSV output as it grows; `poll()` often, `finish()` once k6 has exited."""

    def __init__(
        self,
        path: Path,
        *,
        max_endpoints: int,
        max_failed_samples: int,
        max_scenarios: int = MAX_SCENARIOS,
        keep_second_histograms: bool = False,
    ) -> None:
        self.path = path
        # A segment of a split run keeps each second's durations as histograms, so that the segments' seconds
        # can be merged (runs/engine/merge.py); a whole run keeps only the percentiles.
        self.second_histograms: dict[int, dict[str, Any]] | None = {} if keep_second_histograms else None
        self.max_endpoints = max_endpoints
        self.max_failed_samples = max_failed_samples
        self.max_scenarios = max_scenarios
        self._file: BinaryIO | None = None
        self._pending = b""
        self._bytes_read = 0
        self._columns: dict[str, int] | None = None
        self.first_second: int | None = None
        self.newest_second = 0
        self.seconds: dict[int, SecondBucket] = {}
        self.endpoints: dict[tuple[str, str, str], EndpointStats] = {}
        self.scenarios: dict[str, ScenarioStats] = {}
        self.failure_reasons: dict[tuple[str, str, str], FailureReason] = {}
        self.failure_samples: list[dict[str, Any]] = []
        self.samples_read = 0
        self.late_samples = 0
        self.total_requests = 0
        self.total_failed = 0
        self.total_iterations = 0
        self.max_vus_seen = 0
        self.origin_requests: Counter[str] = Counter()  # at most MAX_ORIGINS distinct origins
        self._origin_of: dict[str, str | None] = {}
        self._series_endpoints: dict[tuple[str, str], int] = {}  # (method, name) → index, ENDPOINT_SERIES_TRACKED at most
        self._series_requests: list[int] = []  # requests of each tracked endpoint
        self._closed_before = 0  # every second below this is closed

    # --- reading -------------------------------------------------------------

    def poll(self) -> None:
        if self._file is None:
            if not self.path.exists():
                return
            self._file = open(self.path, "rb")
        while chunk := self._file.read(READ_CHUNK_BYTES):
            self._consume(chunk)
        self._close_old_seconds()

    def finish(self) -> None:
        self.poll()
        if self._pending:
            self._consume(b"\n", final=True)
        if self._file is not None:
            self._file.close()
            self._file = None
        for second in sorted(self.seconds):
            self._close_second(second)
        for scenario in self.scenarios.values():
            scenario.close()  # a second with only a scenario's iteration time in it
        self._closed_before = self.newest_second + 1

    def _consume(self, chunk: bytes, *, final: bool = False) -> None:
        data = self._pending + chunk
        cut = data.rfind(b"\n") + 1
        last_request = data.rfind(b"\nhttp_reqs,", 0, cut)
        if not final and last_request >= 0 and data.find(b"\nhttp_req_receiving,", last_request, cut) < 0:
            cut = last_request + 1  # a request's rows are read together, so its phases are one piece (TIMING_ROWS)
        self._pending = data[cut:]
        self._bytes_read += cut
        text = data[:cut].decode("utf-8", "replace")
        lines = text.splitlines()
        if self._columns is None and lines:
            self._columns = {name: index for index, name in enumerate(lines.pop(0).split(","))}
        self.samples_read += len(lines)
        for line in lines:
            if line.startswith(WANTED_PREFIXES):
                self._row(line.split(",") if '"' not in line else next(csv.reader([line])))
        self._sample_timings(text)

    def _sample_timings(self, text: str) -> None:
        """Adds the request phases of the chunk's first requests (see TIMING_BYTES_PER_S) to their seconds."""
        span_s = self.newest_second - (self.first_second or self.newest_second) + 1
        share = min(1.0, TIMING_BYTES_PER_S * span_s / max(self._bytes_read, 1))
        for second, *phases_ms in TIMING_ROWS.findall("\n" + text[: math.ceil(len(text) * share)]):
            bucket = self.seconds.get(int(second))
            if bucket is not None:
                bucket.timing_samples += 1
                sums = bucket.timing_sums_ms
                for index, value in enumerate(phases_ms):
                    sums[index] += float(value)

    # --- aggregation ---------------------------------------------------------

    def _row(self, row: list[str]) -> None:
        col = self._columns
        assert col is not None
        second = int(row[col["timestamp"]])
        bucket = self._bucket(second)
        metric, value = row[0], float(row[col["metric_value"]])
        if metric == "vus":
            bucket.vus = max(bucket.vus, int(value))
            self.max_vus_seen = max(self.max_vus_seen, int(value))
            return
        if metric == "dropped_iterations":
            bucket.dropped += int(value)
            return
        name = row[col["scenario"]] or SETUP_TEARDOWN
        scenario = self.scenarios.get(name) or self._scenario(name)
        if metric == "http_req_duration":
            self._duration(bucket, row, col, value)
            scenario.request(second, value, self._closed_before)
        elif metric == "http_req_failed":
            if value >= 0.5:
                self._failed(bucket, row, col, second)
                scenario.failure(second, self._closed_before)
        elif metric == "iterations":
            bucket.iterations += 1
            self.total_iterations += 1
            scenario.iteration(second, self._closed_before)
        else:
            scenario.iteration_time(second, value, self._closed_before, self.first_second or second)

    def _bucket(self, second: int) -> SecondBucket:
        if self.first_second is None:
            self.first_second = second
        if second > self.newest_second:
            self.newest_second = second
        bucket = self.seconds.get(second)
        if bucket is None:
            bucket = self.seconds[second] = SecondBucket()
        if second < self._closed_before:
            self.late_samples += 1
        return bucket

    def _duration(self, bucket: SecondBucket, row: list[str], col: dict[str, int], value_ms: float) -> None:
        status = row[col["status"]]
        bucket.requests += 1
        self.total_requests += 1
        bucket.statuses[status] += 1
        name, method = row[col["name"]], row[col["method"]]
        series = self._endpoint_series_index(method, name)  # counted even when the second is already closed
        if bucket.durations_ms is not None:
            bucket.durations_ms.append(value_ms)
            if series is not None:
                bucket.endpoint_durations_ms.setdefault(series, []).append(value_ms)
        endpoint = self._endpoint(name, method, status)
        endpoint.count += 1
        self._count_origin(row[col["url"]])
        endpoint.histogram.record_value(min(HDR_MAX_US, max(1, round(value_ms * 1000))))

    def _failed(self, bucket: SecondBucket, row: list[str], col: dict[str, int], second: int) -> None:
        self._count_failed(
            bucket, second, method=row[col["method"]], name=row[col["name"]], status=row[col["status"]],
            error_code=row[col["error_code"]], error=row[col["error"]], url=row[col["url"]],
        )  # fmt: skip

    def _count_failed(
        self,
        bucket: SecondBucket,
        second: int,
        *,
        method: str,
        name: str,
        status: str,
        error_code: str,
        error: str,
        url: str,
        failed: int = 1,
    ) -> dict[str, Any] | None:
        """`failed` requests of one endpoint, status and error in `second`; the failure sample kept for them, if
        one still was."""
        bucket.failed += failed
        self.total_failed += failed
        self._endpoint(name, method, status).failed += failed
        reason = self._failure_reason(status, error_code, error, second)
        reason.count += failed
        bucket.failure_reasons[reason.index] += failed
        url = mask_url(url)  # a credential in the query string is not kept
        if len(reason.sample_urls) < SAMPLE_URLS_PER_REASON and url not in reason.sample_urls:
            reason.sample_urls.append(url)
        if len(self.failure_samples) >= self.max_failed_samples:
            return None
        sample = {"t": second - (self.first_second or second), "url": url, "method": method, "status": status}
        self.failure_samples.append({**sample, "error_code": error_code, "error": error})
        return self.failure_samples[-1]

    def _count_origin(self, url: str, requests: int = 1) -> None:
        """Requests to the origin of `url`, while fewer than MAX_ORIGINS origins are counted."""
        if (origin := self._origin(url)) and (origin in self.origin_requests or len(self.origin_requests) < MAX_ORIGINS):
            self.origin_requests[origin] += requests

    def _origin(self, url: str) -> str | None:
        if url not in self._origin_of:
            if len(self._origin_of) >= MAX_REMEMBERED_URLS:
                self._origin_of.clear()
            self._origin_of[url] = url_origin(url)
        return self._origin_of[url]

    def _endpoint_series_index(self, method: str, name: str, requests: int = 1) -> int | None:
        key = (method, name)
        index = self._series_endpoints.get(key)
        if index is None and len(self._series_endpoints) < ENDPOINT_SERIES_TRACKED:
            index = self._series_endpoints[key] = len(self._series_endpoints)
            self._series_requests.append(0)
        if index is not None:
            self._series_requests[index] += requests
        return index

    def _failure_reason(self, status: str, error_code: str, error: str, second: int) -> FailureReason:
        def make(key: tuple[str, str, str]) -> FailureReason:
            first_s = second - (self.first_second or second)
            return FailureReason(*key, index=len(self.failure_reasons), first_seen_s=first_s)

        reasons = self.failure_reasons
        return capped_entry(reasons, (status, error_code, error), MAX_FAILURE_REASONS, FAILURE_REASON_OVERFLOW, make)

    def _endpoint(self, name: str, method: str, status: str) -> EndpointStats:
        overflow = (ENDPOINT_OVERFLOW, "", "")
        return capped_entry(self.endpoints, (name, method, status), self.max_endpoints, overflow, lambda key: EndpointStats(*key))

    def _scenario(self, name: str) -> ScenarioStats:
        return capped_entry(self.scenarios, name, self.max_scenarios, SCENARIO_OVERFLOW, ScenarioStats)

    def _close_old_seconds(self) -> None:
        horizon = self.newest_second - OPEN_WINDOW_S
        for second in range(max(self._closed_before, self.first_second or horizon), horizon):
            self._close_second(second)
        self._closed_before = max(self._closed_before, horizon)

    def _close_second(self, second: int) -> None:
        bucket = self.seconds.get(second)
        if self.second_histograms is not None and bucket is not None and bucket.durations_ms is not None:
            self.second_histograms[second] = self._encoded_second(second, bucket)
        if bucket is not None and bucket.durations_ms is not None:
            bucket.close()
        for scenario in self.scenarios.values():
            scenario.close(second)

    def _encoded_second(self, second: int, bucket: SecondBucket) -> dict[str, Any]:
        scenarios = {name: s.seconds[second].durations_ms for name, s in self.scenarios.items() if second in s.seconds}
        return {
            "all": encoded_values(bucket.durations_ms or ()),
            "endpoints": {str(i): encoded_values(values) for i, values in bucket.endpoint_durations_ms.items()},
            "scenarios": {name: encoded_values(values) for name, values in scenarios.items() if values},
        }

    # --- output --------------------------------------------------------------

    def timeseries(self) -> list[dict[str, Any]]:
        if self.first_second is None:
            return []
        empty = SecondBucket(durations_ms=None)
        return [
            self.seconds.get(second, empty).point(second - self.first_second)
            for second in range(self.first_second, self.newest_second + 1)
        ]

    def live_points(self, after_t: int) -> list[dict[str, Any]]:
        """Points of the seconds after `after_t` that are (almost certainly) complete, for live progress.

        A second counts as complete once a newer one has samples; percentiles of
        seconds not yet closed are provisional.
        """
        if self.first_second is None:
            return []
        start = max(self.first_second, self.first_second + after_t + 1)
        return [self._live_point(second) for second in range(start, self._complete_before())]

    def _complete_before(self) -> int:
        """Seconds before this one are complete: in k6's CSV, a second is whole once a newer one has samples."""
        return self.newest_second

    def _live_point(self, second: int) -> dict[str, Any]:
        bucket = self.seconds.get(second) or SecondBucket(durations_ms=None)
        t_s = second - (self.first_second or second)
        return (bucket if bucket.durations_ms is None else bucket.provisional()).point(t_s)

    def totals(self) -> dict[str, int]:
        return {"requests": self.total_requests, "failed": self.total_failed, "iterations": self.total_iterations}

    def busiest_origin(self) -> str | None:
        """The origin (scheme, host, port) the run sent the most requests to: what the test was about."""
        top = self.origin_requests.most_common(1)
        return top[0][0] if top else None

    def histograms(self) -> dict[str, str]:
        """Every endpoint's request durations and all of them together, as encoded HDR histograms (a few
        hundred bytes each): what comparisons test distributions on."""
        merged = new_histogram()
        encoded = {}
        for endpoint in self.endpoints.values():
            if endpoint.count:
                merged.add(endpoint.histogram)
                encoded[endpoint.key] = endpoint.histogram.encode().decode()
        if merged.get_total_count():
            encoded[ALL_REQUESTS] = merged.encode().decode()
        return encoded

    def endpoint_stats(self) -> list[dict[str, Any]]:
        stats = sorted(self.endpoints.values(), key=lambda e: e.count, reverse=True)
        return [endpoint.as_dict() for endpoint in stats]

    def scenario_stats(self) -> list[dict[str, Any]]:
        """Each scenario by name (setup/teardown and the overflow last), its series over the run's seconds."""
        seconds = range(self.first_second, self.newest_second + 1) if self.first_second is not None else range(0)
        named = sorted(self.scenarios.values(), key=lambda s: (s.name in (SETUP_TEARDOWN, SCENARIO_OVERFLOW), s.name))
        return [scenario.as_dict(seconds) for scenario in named]

    def failures(self) -> dict[str, Any]:
        """Why requests failed: each distinct (status, k6 error code, message), and the top ones per second."""
        reasons = sorted(self.failure_reasons.values(), key=lambda r: r.count, reverse=True)
        return {
            "total": self.total_failed,
            "by_reason": [reason.as_dict() for reason in reasons],
            "over_time": self._failures_over_time(reasons[:FAILURE_SERIES]),
            "samples": self.failure_samples,
        }

    def _failures_over_time(self, top: list[FailureReason]) -> dict[str, Any]:
        if self.first_second is None or not top:
            return {"t": [], "series": []}
        seconds = range(self.first_second, self.newest_second + 1)
        buckets = [self.seconds.get(second) for second in seconds]
        series = [
            {"label": reason.label, "counts": [bucket.failure_reasons[reason.index] if bucket else 0 for bucket in buckets]}
            for reason in top
        ]
        shown = {reason.index for reason in top}
        other = [sum(n for i, n in bucket.failure_reasons.items() if i not in shown) if bucket else 0 for bucket in buckets]
        if any(other):
            series.append({"label": "other reasons", "counts": other})
        return {"t": [second - self.first_second for second in seconds], "series": series}

    def endpoint_series(self) -> dict[str, Any]:
        """p95 per second of the busiest tracked endpoints (method + name, every status together)."""
        if self.first_second is None or not self._series_endpoints:
            return {"t": [], "series": [], "tracked": 0, "endpoints": 0}
        seconds = range(self.first_second, self.newest_second + 1)
        busiest = sorted(self._series_endpoints.items(), key=lambda item: self._series_requests[item[1]], reverse=True)
        empty = SecondBucket(durations_ms=None)
        series = [
            {
                "label": f"{method} {name}".strip(),
                "requests": self._series_requests[index],
                "p95_ms": [_rounded(self.seconds.get(s, empty).endpoint_p95_ms.get(index)) for s in seconds],
            }
            for (method, name), index in busiest[:ENDPOINT_SERIES]
        ]
        names = {(e.method, e.name) for e in self.endpoints.values() if e.name != ENDPOINT_OVERFLOW}
        return {
            "t": [second - self.first_second for second in seconds],
            "series": series,
            "tracked": len(self._series_endpoints),
            "endpoints": len(names),
        }

    def ingest_info(self) -> dict[str, Any]:
        return {"samples": self.samples_read, "late_samples": self.late_samples, "endpoints": len(self.endpoints)}

    def notes(self) -> list[str]:
        """What the run's log should say about how its samples were read (nothing, when all went well)."""
        return []


def _rounded(value_ms: float | None) -> float | None:
    """None stays None: a second in which an endpoint had no request is a gap in its line, not 0 ms."""
    return None if value_ms is None else round(value_ms, 3)


# --- k6's summary export --------------------------------------------------------


def url_origin(url: str) -> str | None:
    """scheme://host[:port] of a request URL (no credentials, path or query), or None when it has no host."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return None
    host = f"[{parts.hostname}]" if ":" in parts.hostname else parts.hostname
    return f"{parts.scheme}://{host}" + (f":{port}" if port else "")


TREND_KEYS = {"avg": "avg", "min": "min", "med": "med", "max": "max", "p(90)": "p90", "p(95)": "p95", "p(99)": "p99"}


def read_summary(path: Path) -> dict[str, Any] | None:
    """k6's `--summary-export` document, or None when k6 wrote none."""
    try:
        return orjson.loads(path.read_bytes())
    except (FileNotFoundError, orjson.JSONDecodeError):
        return None


def summary_metrics(summary: dict[str, Any]) -> dict[str, Any]:
    metrics = summary.get("metrics", {})
    out: dict[str, Any] = {name: _metric(values) for name, values in metrics.items()}
    out.setdefault("http_reqs", {"count": 0, "rate": 0.0})
    out.setdefault("http_req_failed", {"rate": 0.0, "passes": 0, "fails": 0})
    out.setdefault("http_req_duration", {key: 0.0 for key in TREND_KEYS.values()})
    out.setdefault("iterations", {"count": 0, "rate": 0.0})
    return out


def _metric(values: dict[str, Any]) -> dict[str, Any]:
    if "passes" in values:
        # A rate metric. `passes` counts true samples: for http_req_failed
        # those are the failed requests, for checks the passing ones.
        total = values["passes"] + values["fails"]
        return {"rate": values["passes"] / total if total else 0.0, "passes": values["passes"], "fails": values["fails"]}
    return {TREND_KEYS.get(key, key): value for key, value in values.items() if key != "thresholds"}


def summary_thresholds(summary: dict[str, Any]) -> list[dict[str, Any]]:
    """Every threshold with pass/fail. In k6's export `true` means the threshold was crossed."""
    rows = []
    for metric, values in summary.get("metrics", {}).items():
        for expression, crossed in values.get("thresholds", {}).items():
            rows.append({"metric": metric, "expression": expression, "ok": not crossed})
    return sorted(rows, key=lambda row: (row["metric"], row["expression"]))


def metric_tags(name: str) -> dict[str, str]:
    """The tags a submetric selects: `http_req_duration{scenario:browse, status:200}` → {"scenario": "browse", "status": "200"}."""
    if "{" not in name or not name.endswith("}"):
        return {}
    pairs = (part.split(":", 1) for part in name[name.index("{") + 1 : -1].split(",") if ":" in part)
    return {key.strip(): value.strip().strip("\"'`") for key, value in pairs}


def without_tag(metric: str, tag: str) -> str:
    """A submetric's name without one of its tags: `http_reqs{scenario:buy,status:200}` → `http_reqs{status:200}`."""
    tags = [f"{key}:{value}" for key, value in metric_tags(metric).items() if key != tag]
    return metric.split("{", 1)[0] + ("{" + ",".join(tags) + "}" if tags else "")


def summary_checks(summary: dict[str, Any]) -> tuple[list[dict[str, Any]], list[str]]:
    """Every check (with its group path) and every group path, walking the group tree."""
    checks: list[dict[str, Any]] = []
    groups: list[str] = []
    stack = [summary.get("root_group", {})]
    while stack:
        group = stack.pop()
        if group.get("path"):
            groups.append(group["path"])
        for check in group.get("checks", {}).values():
            total = check["passes"] + check["fails"]
            checks.append(
                {
                    "name": check["name"],
                    "group": group.get("path", ""),
                    "passes": check["passes"],
                    "fails": check["fails"],
                    "rate": round(check["passes"] / total, 6) if total else 0.0,
                }
            )
        stack.extend(group.get("groups", {}).values())
    return checks, sorted(groups)


def group_tree(checks: list[dict[str, Any]], paths: Iterable[str]) -> list[dict[str, Any]]:
    """The top-level groups, each with its checks and the groups nested in it, as the script nested them.

    Built from k6's group paths (`::outer::inner`) and each check's group, so the flat lists stored before
    groups were a tree give the same tree. A group's passes and fails count the checks in its subgroups too;
    its rate is None when it has no checks at all. Checks outside any group are the ones with group "".
    """
    nodes: dict[str, dict[str, Any]] = {}

    def node(path: str) -> dict[str, Any]:
        if path not in nodes:
            parent, _, name = path.rpartition("::")
            nodes[path] = {"name": name, "path": path, "passes": 0, "fails": 0, "rate": None, "checks": [], "groups": []}
            if parent:
                node(parent)["groups"].append(nodes[path])
        return nodes[path]

    for path in sorted({*paths, *(check["group"] for check in checks)} - {""}):
        node(path)
    for check in checks:
        if check["group"]:
            node(check["group"])["checks"].append({key: check[key] for key in ("name", "passes", "fails", "rate")})
    roots = [group for path, group in nodes.items() if not path.rpartition("::")[0]]
    for group in roots:
        _count_checks(group)
    return roots


def _count_checks(group: dict[str, Any]) -> tuple[int, int]:
    passes, fails = sum(c["passes"] for c in group["checks"]), sum(c["fails"] for c in group["checks"])
    for child in group["groups"]:
        child_passes, child_fails = _count_checks(child)
        passes, fails = passes + child_passes, fails + child_fails
    group["passes"], group["fails"] = passes, fails
    group["rate"] = round(passes / (passes + fails), 6) if passes + fails else None
    return passes, fails


def group_rows(groups: list[dict[str, Any]], checks: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The group tree as table rows, depth first: the checks outside any group, then each group (with the
    totals of everything in it) followed by its own checks and its subgroups."""
    rows = [_tree_row("check", 0, check) for check in checks if not check["group"]]

    def walk(group: dict[str, Any], depth: int) -> None:
        rows.append(_tree_row("group", depth, group))
        rows.extend(_tree_row("check", depth + 1, check) for check in group["checks"])
        for child in group["groups"]:
            walk(child, depth + 1)

    for group in groups:
        walk(group, 0)
    return rows


def _tree_row(kind: str, depth: int, item: dict[str, Any]) -> dict[str, Any]:
    return {"kind": kind, "depth": depth, **{key: item[key] for key in ("name", "passes", "fails", "rate")}}


def scenario_summaries(
    scenarios: list[dict[str, Any]], thresholds: list[dict[str, Any]], spec: dict[str, Any]
) -> list[dict[str, Any]]:
    """Each scenario with its executor (when the run's stored options tell it) and the thresholds set on its
    submetrics (`http_req_duration{scenario:checkout}`)."""
    return [
        {
            "name": scenario["name"],
            "executor": scenario_executor(spec, scenario["name"]),
            **scenario,
            "thresholds": [t for t in thresholds if metric_tags(t["metric"]).get("scenario") == scenario["name"]],
        }
        for scenario in scenarios
    ]


def scenario_executor(spec: dict[str, Any], name: str) -> str | None:
    """A scenario's executor, as the run's checked options name it (`scenarios`: name → executor); for a run
    stored before those were kept, the only executor when the options had one."""
    named = spec.get("scenarios")
    if isinstance(named, dict) and name in named:
        return str(named[name])
    executors = spec.get("executors") or []
    return str(executors[0]) if len(executors) == 1 and name not in (SETUP_TEARDOWN, SCENARIO_OVERFLOW) else None


# --- what the page shows beside the headline numbers ---------------------------

# k6's request phases, in the order a request goes through them.
TIMING_PHASES = (
    ("http_req_blocked", "Blocked (waiting for a connection)"),
    ("http_req_connecting", "Connecting (TCP)"),
    ("http_req_tls_handshaking", "TLS handshake"),
    ("http_req_sending", "Sending"),
    ("http_req_waiting", "Waiting (time to first byte)"),
    ("http_req_receiving", "Receiving"),
)
BUILTIN_METRICS = {
    "vus", "vus_max", "iterations", "iteration_duration", "dropped_iterations", "data_sent", "data_received",
    "checks", "http_reqs", "http_req_duration", "http_req_failed", "group_duration",
    *(name for name, _ in TIMING_PHASES),
}  # fmt: skip
BUILTIN_PREFIXES = ("ws_", "grpc_", "browser_", "webvitals_")
# What each kind of custom metric shows.
CUSTOM_KEYS = {
    "trend": ("avg", "min", "med", "p90", "p95", "p99", "max"),
    "rate": ("rate", "passes", "fails"),
    "counter": ("count", "rate"),
    "gauge": ("value", "min", "max"),
}


# A scenario's per-second columns, as every surface draws them.
SCENARIO_SERIES = (
    ("requests", "Requests per second"),
    ("errors", "Failed requests per second"),
    ("p95_ms", "p95 latency (ms)"),
    ("iterations", "Iterations per second"),
    ("busy_vus", "Busy VUs (from iteration time)"),
)


def request_timings(metrics: dict[str, Any]) -> list[dict[str, Any]]:
    """Where request time went, phase by phase (avg and p95 in ms), as k6 measured it."""
    return [
        {"metric": name, "label": label, "avg_ms": metrics[name].get("avg"), "p95_ms": metrics[name].get("p95")}
        for name, label in TIMING_PHASES
        if name in metrics
    ]


def custom_metrics(metrics: dict[str, Any], thresholds: Iterable[dict[str, Any]] = ()) -> list[dict[str, Any]]:
    """Every metric the script defined itself (Trend, Rate, Counter, Gauge) with the values of its type and
    the thresholds set on it; a submetric (`cart_time{step:pay}`) is a row of its own, after its metric."""
    set_on: dict[str, list[dict[str, Any]]] = {}
    for threshold in thresholds:
        set_on.setdefault(threshold["metric"], []).append({"expression": threshold["expression"], "ok": threshold["ok"]})
    rows = []
    for name, values in sorted(metrics.items(), key=lambda item: (item[0].split("{", 1)[0], item[0])):
        base = name.split("{", 1)[0]
        if base in BUILTIN_METRICS or base.startswith(BUILTIN_PREFIXES):
            continue
        kind = _metric_type(values)
        shown = {key: values.get(key) for key in CUSTOM_KEYS[kind]}
        rows.append({"name": name, "type": kind, "values": shown, "thresholds": set_on.get(name, [])})
    return rows


def _metric_type(values: dict[str, Any]) -> str:
    if "passes" in values:
        return "rate"
    if "count" in values:
        return "counter"
    if "avg" in values or "p90" in values:
        return "trend"
    return "gauge"
