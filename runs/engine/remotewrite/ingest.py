"""k6's remote-write pushes turned into the figures the CSV reader keeps (runs/engine/results.py).

Every push carries, for each series k6 saw since the last one, its value since the start of the run:
counters and gauges as numbers, trends as native histograms (schema 3: a bucket is 2^(1/8) ≈ 9 % wide).
The difference between two pushes of a series is what happened in between (k6 flushes on a fixed one-second
period), credited to the second the push arrived in. A histogram's new observations are spread evenly (on a
log scale) across their buckets, which is how Prometheus reads a quantile from one; the run's headline
percentiles stay k6's own (--summary-export).
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from runs.engine.remotewrite.prometheus_remote_pb2 import Histogram, WriteRequest
from runs.engine.results import (
    SAMPLED_PHASES,
    SETUP_TEARDOWN,
    SampleIngester,
    ScenarioStats,
    SecondBucket,
    histogram_us,
)

DURATION = "k6_http_req_duration_seconds"
FAILED = "k6_http_req_failed_rate"
ITERATIONS = "k6_iterations_total"
ITERATION_DURATION = "k6_iteration_duration_seconds"
DROPPED = "k6_dropped_iterations_total"
VUS = "k6_vus"
PHASES = {f"k6_http_req_{phase}_seconds": index for index, phase in enumerate(SAMPLED_PHASES)}
READ = {DURATION, FAILED, ITERATIONS, ITERATION_DURATION, DROPPED, VUS, *PHASES}  # checks, data, custom: k6's summary
ZERO_BUCKET = None  # the key of a histogram's zero bucket (values ≤ its zero threshold) beside the bucket indexes
HDR_PARTS = 8  # a bucket's new observations enter the run's HDR histograms as this many spread values, weighted
# k6 warns past 100,000 time series (tag combinations): the figures follow that many, and say when there were more.
MAX_SERIES = 100_000
# What a push may claim, far above what k6 sends (a bucket is ~9 % wide: some 2,000 cover every float; one k6
# process observes well under a million requests a second): series beyond are not k6's and are not read.
MAX_BUCKETS = 4096
MAX_NEW_OBSERVATIONS = 1_000_000  # new request durations in one push, all series together
# A push's request durations are spread as at most this many values, every bucket scaled alike (percentiles
# are the same); the counts stay exact. Bounds the reader's memory and CPU at any request rate.
SPREAD_VALUES = 50_000

SeriesKey = tuple[str, tuple[tuple[str, str], ...]]
MISSING = (
    "their requests count in the series' next readable push, a second or more later (or nowhere if none came);"
    " k6's summary is whole."
)


@dataclass
class HistogramState:
    """A native histogram as pushed: cumulative count, sum (seconds) and counts by bucket index."""

    schema: int = 3
    zero_threshold_s: float = 0.0
    count: int = 0
    sum_s: float = 0.0
    buckets: dict[int | None, int] = field(default_factory=dict)

    @classmethod
    def read(cls, histogram: Histogram, *, with_buckets: bool = True) -> HistogramState:
        """The histogram's totals and, `with_buckets`, its counts by bucket; UnreadableSeries when it is not one
        k6 could have sent."""
        if not -4 <= histogram.schema <= 8 or not 0 <= histogram.zero_threshold < 1 or histogram.count_float:
            raise UnreadableSeries("not an integer native histogram of a standard schema")
        _finite(histogram.sum)
        state = cls(histogram.schema, histogram.zero_threshold, histogram.count_int, histogram.sum)
        if with_buckets:
            state.buckets = _bucket_counts(histogram)
        return state

    def new_since(self, before: HistogramState | None) -> list[tuple[float, float, int]]:
        """(low ms, high ms, observations) of each bucket that grew since `before`."""
        grown = []
        for index, count in self.buckets.items():
            added = count - (before.buckets.get(index, 0) if before else 0)
            if added > 0:
                grown.append((*self.bounds_ms(index), added))
        return grown

    def bounds_ms(self, index: int | None) -> tuple[float, float]:
        if index is None:
            return 0.0, self.zero_threshold_s * 1000
        base = 2 ** (2**-self.schema)
        return base ** (index - 1) * 1000, base**index * 1000


class UnreadableSeries(ValueError):
    """A series no k6 would push: it is left out of the figures and counted."""


def _finite(value: float) -> float:
    if not math.isfinite(value):  # a stale marker is a NaN: k6 sends none here (its stale markers are off)
        raise UnreadableSeries("a value that is not a number")
    return value


def _bucket_counts(histogram: Histogram) -> dict[int | None, int]:
    spans, deltas = histogram.positive_spans, histogram.positive_deltas
    if sum(span.length for span in spans) != len(deltas) or len(deltas) > MAX_BUCKETS:
        raise UnreadableSeries("bucket spans and deltas do not match")
    largest_index = 1000 * 2.0**histogram.schema  # 2^(index / 2^schema) seconds stays a finite float
    buckets: dict[int | None, int] = {ZERO_BUCKET: histogram.zero_count_int} if histogram.zero_count_int else {}
    index, count, remaining = 0, 0, iter(deltas)
    for span in spans:
        index += span.offset  # the first span's offset is an index, the others' a gap after the previous span
        for _ in range(span.length):
            count += next(remaining)
            if count < 0 or abs(index) > largest_index:
                raise UnreadableSeries("a bucket out of range")
            buckets[index] = count
            index += 1
    return buckets


def spread_scaled_ms(grown: list[tuple[float, float, int]], scale: float) -> list[float]:
    """The observations of `grown`, spread inside their buckets, `scale` of them (rounded so that the running
    total stays within one value of the scaled running count: the distribution keeps its shape)."""
    values: list[float] = []
    total = 0
    for low_ms, high_ms, count in grown:
        kept = round((total + count) * scale) - round(total * scale)
        total += count
        if kept > 0:
            values += spread_ms(low_ms, high_ms, kept)
    return values


def spread_ms(low_ms: float, high_ms: float, count: int) -> list[float]:
    """`count` values evenly spaced on a log scale inside (low, high]: a bucket's observations, as a quantile
    over the bucket is read."""
    if low_ms <= 0:
        return [high_ms * (index + 0.5) / count for index in range(count)]
    ratio = high_ms / low_ms
    return [low_ms * ratio ** ((index + 0.5) / count) for index in range(count)]


def weighted_ms(grown: Iterable[tuple[float, float, int]]) -> list[tuple[float, int]]:
    """The same observations as at most HDR_PARTS values per bucket, each with its count."""
    weighted = []
    for low_ms, high_ms, count in grown:
        parts = min(count, HDR_PARTS)
        for part, value_ms in enumerate(spread_ms(low_ms, high_ms, parts)):
            weighted.append((value_ms, count // parts + (1 if part < count % parts else 0)))
    return weighted


def weighted_us(grown: Iterable[tuple[float, float, int]]) -> list[tuple[int, int]]:
    """`weighted_ms` as the run's HDR histograms take it."""
    return [(histogram_us(value_ms), count) for value_ms, count in weighted_ms(grown)]


class PushSource(Protocol):
    """Where the pushes come from: the run's receiver (receiver.py), or pushes replayed (`ReplayedPushes`)."""

    refused: int

    def drain(self) -> list[tuple[float, WriteRequest]]: ...

    def settle(self) -> None: ...


class ReplayedPushes:
    """Pushes received already, one a second from REPLAY_START_S (or at the given seconds after it): a run read
    again, a benchmark."""

    REPLAY_START_S = 1_800_000_000.0  # an epoch second: the ingester's seconds are the wall clock's

    def __init__(self, *requests: WriteRequest, arrivals_s: list[float] | None = None) -> None:
        arrivals_s = arrivals_s or [float(second) for second in range(len(requests))]
        self.pushes = [(self.REPLAY_START_S + at_s, request) for at_s, request in zip(arrivals_s, requests, strict=True)]
        self.refused = 0

    def drain(self) -> list[tuple[float, WriteRequest]]:
        taken, self.pushes = self.pushes, []
        return taken

    def settle(self) -> None:
        return


class RemoteWriteIngester(SampleIngester):
    """What `SampleIngester` builds from k6's CSV, built from the pushes `receiver` took; `poll()` often,
    `finish()` once k6 has exited (k6 pushes what it still holds as it stops)."""

    def __init__(self, receiver: PushSource, **limits: Any) -> None:
        super().__init__(Path(os.devnull), **limits)
        self.receiver = receiver
        self.pushes_read = 0
        self.unreadable_series = 0
        self.untracked_series = 0  # pushed series left out past MAX_SERIES (each push counts them again)
        self._last_push_s: float | None = None
        self._last_second: int | None = None
        self._histograms: dict[SeriesKey, HistogramState] = {}
        self._values: dict[SeriesKey, float] = {}
        self._requests_so_far: dict[tuple[tuple[str, str], ...], int] = {}  # by labels: what a failure rate is of
        self._failed_so_far: dict[tuple[tuple[str, str], ...], int] = {}

    def poll(self) -> None:
        for arrived_s, request in self.receiver.drain():
            self._push(arrived_s, request)
        self._close_old_seconds()

    def finish(self) -> None:
        self.receiver.settle()  # k6's last push may still be being read
        super().finish()

    def ingest_info(self) -> dict[str, Any]:
        return {
            **super().ingest_info(),
            "collection": "lean",
            "pushes": self.pushes_read,
            "refused_pushes": self.receiver.refused,
            "unreadable_series": self.unreadable_series,
            "untracked_series": self.untracked_series,
        }

    def notes(self) -> list[str]:
        notes = []
        if self.untracked_series:
            notes.append(
                f"k6 sent more than {MAX_SERIES:,} distinct series (tag combinations, one per URL unless requests carry"
                " a `name` tag): requests in the later ones are missing from the per-second, endpoint and scenario"
                " figures; the summary's totals are k6's own and complete."
            )
        if self.receiver.refused:
            notes.append(f"{self.receiver.refused} pushes of k6's samples could not be read: {MISSING}")
        if self.unreadable_series:
            notes.append(f"{self.unreadable_series} series of k6's samples could not be read: {MISSING}")
        return notes

    def _complete_before(self) -> int:
        """A push holds a whole second: live as soon as it came."""
        return self.newest_second + 1

    # --- one push --------------------------------------------------------------

    def _push(self, arrived_s: float, request: WriteRequest) -> None:
        second = self._push_second(arrived_s)
        self.pushes_read += 1
        bucket = self._bucket(second)
        durations: list[tuple[SeriesKey, dict[str, str], HistogramState, list[tuple[float, float, int]]]] = []
        rates: list[tuple[SeriesKey, dict[str, str], float]] = []
        budget = MAX_NEW_OBSERVATIONS
        for series in request.timeseries:
            self.samples_read += 1
            labels = {label.name: label.value for label in series.labels}
            name = labels.pop("__name__", "")
            if name not in READ:
                continue
            key = (name, tuple(sorted(labels.items())))
            if not self._tracked(key):
                self.untracked_series += 1
                continue
            try:
                if series.histograms:
                    budget -= self._histogram(key, labels, series.histograms[-1], budget, second, bucket, durations)
                elif series.samples and name == FAILED:
                    rates.append((key, labels, min(1.0, max(0.0, _finite(series.samples[-1].value)))))
                elif series.samples:
                    self._number(key, labels, _finite(series.samples[-1].value), second, bucket)
            except UnreadableSeries:
                self.unreadable_series += 1
        self._durations(second, bucket, durations)
        for (_, label_key), labels, rate in rates:  # after the push's durations: a rate is of their count
            failed = round(rate * self._requests_so_far.get(label_key, 0))
            added = failed - self._failed_so_far.get(label_key, 0)
            if added > 0:
                self._failed_so_far[label_key] = failed
                self._failures(second, bucket, labels, added)

    def _tracked(self, key: SeriesKey) -> bool:
        """Whether the series' figures are followed: every series up to MAX_SERIES, then only those already
        followed (each one's last push is kept, to take the next one's difference from)."""
        if key[0] == VUS or key in self._histograms or key in self._values or key[1] in self._failed_so_far:
            return True
        return len(self._histograms) + len(self._values) + len(self._failed_so_far) < MAX_SERIES

    def _push_second(self, arrived_s: float) -> int:
        """The second a push's news belongs to. k6 flushes on a fixed one-second period, so each push is the
        next second, or the one after a gap when k6 had nothing to send (a push a little late or early does
        not land in its neighbour's second); the push k6 sends as it stops, a fraction of a second after the
        last, is the run's last, partial second (as the CSV's last second is). Series are stamped with their
        newest sample, which a quiet series makes older than the push: the arrival is the clock."""
        if self._last_push_s is None or self._last_second is None:
            second = int(arrived_s)
        else:
            second = self._last_second + max(1, round(arrived_s - self._last_push_s))
        self._last_push_s, self._last_second = arrived_s, second
        return second

    def _number(self, key: SeriesKey, labels: dict[str, str], value: float, second: int, bucket: SecondBucket) -> None:
        name = key[0]
        if name == VUS:
            bucket.vus = max(bucket.vus, int(value))
            self.max_vus_seen = max(self.max_vus_seen, int(value))
            return
        added = round(value - self._values.get(key, 0.0))
        if added <= 0:
            return  # nothing new (or an older push: counters only grow)
        self._values[key] = value
        if name == DROPPED:
            bucket.dropped += added
            return
        bucket.iterations += added
        self.total_iterations += added
        self._scenario_of(labels).iteration(second, self._closed_before, added)

    def _histogram(
        self,
        key: SeriesKey,
        labels: dict[str, str],
        histogram: Histogram,
        budget: int,
        second: int,
        bucket: SecondBucket,
        durations: list[tuple[SeriesKey, dict[str, str], HistogramState, list[tuple[float, float, int]]]],
    ) -> int:
        """Reads one pushed histogram; request durations are kept in `durations` for the push's second. Returns
        how many new observations it spent of the push's `budget`."""
        name = key[0]
        state = HistogramState.read(histogram, with_buckets=name not in PHASES)
        before = self._histograms.get(key)
        if before is not None and state.count <= before.count:
            return 0  # nothing new (or an older push: a histogram only grows)
        grown = state.new_since(before)
        spent = sum(count for *_, count in grown)
        if spent > budget:
            raise UnreadableSeries(f"more than {MAX_NEW_OBSERVATIONS:,} new observations in one push")
        self._histograms[key] = state  # only once read whole: an unreadable push leaves the last good one
        if name == DURATION:
            durations.append((key, labels, state, grown))
        elif name in PHASES:
            phase = PHASES[name]
            bucket.timing_sums_ms[phase] += (state.sum_s - (before.sum_s if before else 0.0)) * 1000
            if phase == 0:
                bucket.timing_samples += state.count - (before.count if before else 0)
        elif name == ITERATION_DURATION:
            scenario = self._scenario_of(labels)
            start = self.first_second or second
            for value_ms, count in weighted_ms(grown):
                scenario.iteration_time(second, value_ms, self._closed_before, start, count)
        return spent

    def _durations(
        self,
        second: int,
        bucket: SecondBucket,
        durations: list[tuple[SeriesKey, dict[str, str], HistogramState, list[tuple[float, float, int]]]],
    ) -> None:
        """The push's requests, every series' durations spread with the same scale (SPREAD_VALUES)."""
        total = sum(count for *_, grown in durations for *_, count in grown)
        scale = min(1.0, SPREAD_VALUES / total) if total else 1.0
        for key, labels, state, grown in durations:
            self._requests_so_far[key[1]] = state.count
            self._requests(second, bucket, labels, grown, scale)

    def _requests(
        self, second: int, bucket: SecondBucket, labels: dict[str, str], grown: list[tuple[float, float, int]], scale: float
    ) -> None:
        requests = sum(count for *_, count in grown)
        if not requests:
            return
        durations_ms = spread_scaled_ms(grown, scale)
        weights = weighted_us(grown)
        status, method, name = labels.get("status", ""), labels.get("method", ""), labels.get("name", "")
        bucket.requests += requests
        self.total_requests += requests
        bucket.statuses[status] += requests
        series = self._endpoint_series_index(method, name, requests)
        if bucket.durations_ms is not None:
            bucket.durations_ms.extend(durations_ms)
            if series is not None:
                bucket.endpoint_durations_ms.setdefault(series, []).extend(durations_ms)
        endpoint = self._endpoint(name, method, status)
        endpoint.count += requests
        for value_us, count in weights:
            endpoint.histogram.record_value(value_us, count)
        self._count_origin(labels.get("url", ""), requests)
        self._scenario_of(labels).requests_at(second, requests, durations_ms, weights, self._closed_before)

    def _failures(self, second: int, bucket: SecondBucket, labels: dict[str, str], failed: int) -> None:
        fields = {tag: labels.get(tag, "") for tag in ("method", "name", "status", "error_code", "error", "url")}
        if (sample := self._count_failed(bucket, second, failed=failed, **fields)) is not None:
            sample["count"] = failed  # one sample stands for a tag set's failures in one push
        self._scenario_of(labels).failure(second, self._closed_before, failed)

    def _scenario_of(self, labels: dict[str, str]) -> ScenarioStats:
        return self._scenario(labels.get("scenario") or SETUP_TEARDOWN)
