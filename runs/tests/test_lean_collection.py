"""The lean collection (k6's remote-write pushes into the worker's receiver) against independent truths:
the target's own count of what it served and failed, k6's own summary of the same run, and the latency the
target was told to add. Also what the receiver does with pushes that are not k6's."""

from __future__ import annotations

import http.client
import math
import socket
import time
from collections.abc import Iterator
from typing import Any

import cramjam
import pytest
from hdrh.histogram import HdrHistogram

from runs.cli_output import format_summary
from runs.demo_target import DemoTarget, TargetProfile
from runs.engine.remotewrite import PERCENTILES_NOTE, ingest
from runs.engine.remotewrite.ingest import HistogramState, RemoteWriteIngester, ReplayedPushes, spread_ms
from runs.engine.remotewrite.prometheus_remote_pb2 import BucketSpan, Histogram, Label, Sample, TimeSeries, WriteRequest
from runs.engine.remotewrite.receiver import MAX_PUSH_BYTES, Receiver
from runs.engine.results import ALL_REQUESTS
from runs.engine.secrets import MASK
from runs.models import Run, RunResult
from runs.pipeline import run_create_from_script, run_execute
from runs.selectors import run_result

pytestmark = pytest.mark.django_db(transaction=True)

PROFILE = TargetProfile(latency_min_ms=20, latency_max_ms=40, error_rate=0.1)

SCRIPT = """
import http from 'k6/http';
export const options = { vus: 4, duration: '3s' };
export default function () {
  http.get('TARGET/items', { tags: { name: 'items' } });
  http.post('TARGET/cart', '{}');
  http.get('http://127.0.0.1:CLOSED/nothing');
}
"""


def within_truth(shown_ms: float, true_ms: float, overhead_ms: float = 3.0, bucket: float = 0.09) -> bool:
    return true_ms * (1 - bucket) <= shown_ms <= (true_ms + overhead_ms) * (1 + bucket)


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def target() -> Iterator[DemoTarget]:
    server = DemoTarget(PROFILE).start()
    yield server
    server.stop()


def run_script(target: DemoTarget, settings: Any, collection: str, refused_port: int | None = None) -> dict[str, Any]:
    settings.RUN_POST_STAGES = []
    settings.K6_SAMPLE_COLLECTION = collection
    script = SCRIPT.replace("TARGET", target.url).replace("CLOSED", str(refused_port or closed_port()))
    run = run_execute(run_create_from_script("tests", script.encode(), "lean.js").pk)
    assert run.status == "done", run.error
    return run_result(run)


def test_lean_collection_counts_what_the_target_served_and_k6_summed(target: DemoTarget, settings: Any) -> None:
    doc = run_script(target, settings, "lean")
    own = doc["metrics"]  # k6's own summary of this run
    ingest = RunResult.objects.get(run_id=doc["id"]).ingest
    assert ingest["collection"] == "lean" and ingest["pushes"] >= 3 and ingest["refused_pushes"] == 0
    assert doc["k6"]["collection"] == "lean"
    # k6 names its outputs as it starts: the receiver's secret path is masked in the log like a credential.
    log = Run.objects.get(pk=doc["id"]).log
    assert "Prometheus remote write (http://127.0.0.1:" in log and f"/write/{MASK})" in log

    served, failed_by_target = target.errors.count, target.errors.failed
    iterations = own["iterations"]["count"]
    requests = own["http_reqs"]["count"]
    assert requests == served + iterations  # each iteration's third request never reached a server
    points = doc["timeseries"]
    assert sum(p["rps"] for p in points) == requests
    assert sum(p["iterations"] for p in points) == iterations == sum(s["iterations"] for s in doc["scenarios"])
    assert sum(e["count"] for e in doc["endpoints"]) == requests
    assert sum(e["failed"] for e in doc["endpoints"]) == own["http_req_failed"]["passes"] == failed_by_target + iterations

    reasons = {(r["status"], r["error_code"]): r["count"] for r in doc["failures"]["by_reason"]}
    assert reasons == {("500", "1500"): failed_by_target, ("0", "1212"): iterations}
    refused = next(r for r in doc["failures"]["by_reason"] if r["error_code"] == "1212")
    assert refused["sample_urls"][0].endswith("/nothing")
    sample = doc["failures"]["samples"][0]
    assert sample["count"] >= 1 and sample["method"] in ("GET", "POST")

    endpoints = {(e["method"], e["name"], e["status"]): e for e in doc["endpoints"]}
    items = endpoints[("GET", "items", "200")]
    # Against the latency the target adds (uniform 20–40 ms, plus up to a few ms of loopback and Python):
    # within one histogram bucket (9 %) of that.
    for key, pct in (("p50_ms", 0.5), ("p95_ms", 0.95)):
        assert within_truth(items[key], PROFILE.true_percentile_ms(pct)), key
    stored = RunResult.objects.get(run_id=doc["id"]).histograms  # what comparisons test distributions on
    assert HdrHistogram.decode(stored[ALL_REQUESTS]).get_total_count() == requests
    # The run's seconds carry every request's phases: their weighted mean is k6's own average.
    weighted_ms = sum(p["waiting_ms"] * p["timing_samples"] for p in points) / sum(p["timing_samples"] for p in points)
    assert sum(p["timing_samples"] for p in points) == requests
    assert weighted_ms == pytest.approx(own["http_req_waiting"]["avg"], rel=0.01)
    # The busiest second's p95 sits where the target puts it.
    busiest = max(points, key=lambda p: p["rps"])
    assert within_truth(busiest["p95_ms"], PROFILE.true_percentile_ms(0.95))


def test_detailed_collection_shows_the_same_endpoints_and_reasons(target: DemoTarget, settings: Any) -> None:
    port = closed_port()
    lean = run_script(target, settings, "lean", port)
    detailed = run_script(target, settings, "detailed", port)
    assert "pushes" not in RunResult.objects.get(run_id=detailed["id"]).ingest
    assert (lean["k6"]["collection"], detailed["k6"]["collection"]) == ("lean", "detailed")
    # Where percentiles come from buckets, every surface with an endpoint table says so (the CLI here; the run
    # page, the HTML report and the PDF render the same `collection_note`).
    assert PERCENTILES_NOTE in format_summary(lean) and PERCENTILES_NOTE not in format_summary(detailed)

    def shape(doc: dict[str, Any]) -> tuple[set[Any], set[Any]]:
        endpoints = {(e["method"], e["name"], e["status"]) for e in doc["endpoints"]}
        return endpoints, {(r["status"], r["error_code"], r["message"]) for r in doc["failures"]["by_reason"]}

    assert shape(lean) == shape(detailed)
    for doc in (lean, detailed):
        assert sum(p["rps"] for p in doc["timeseries"]) == doc["metrics"]["http_reqs"]["count"]


# --- the receiver --------------------------------------------------------------


def push(receiver: Receiver, body: bytes, path: str | None = None, length: int | None = None) -> int:
    connection = http.client.HTTPConnection("127.0.0.1", receiver.port, timeout=5)
    headers = {"Content-Length": str(len(body) if length is None else length), "Content-Encoding": "snappy"}
    connection.request("POST", path or f"/write/{receiver.token}", body=body, headers=headers)
    status = connection.getresponse().status
    connection.close()
    return status


def one_series_push() -> bytes:
    series = TimeSeries(labels=[Label(name="__name__", value="k6_vus")], samples=[Sample(value=7, timestamp=1_700_000_000_000)])
    return bytes(cramjam.snappy.compress_raw(WriteRequest(timeseries=[series]).SerializeToString()))


def test_the_receiver_takes_k6s_pushes_and_refuses_everything_else() -> None:
    with Receiver() as receiver:
        assert push(receiver, one_series_push(), path="/write/not-the-token") == 404
        assert push(receiver, b"not snappy at all") == 400
        assert push(receiver, bytes(cramjam.snappy.compress_raw(b"\xff\xff\xff"))) == 400
        assert push(receiver, b"", length=MAX_PUSH_BYTES + 1) == 413
        assert receiver.drain() == [] and receiver.refused == 3
        assert push(receiver, one_series_push()) == 204
        ((arrived_s, request),) = receiver.drain()
        assert request.timeseries[0].samples[0].value == 7 and abs(arrived_s - time.time()) < 5


def test_two_receivers_listen_on_ports_of_their_own(settings: Any) -> None:
    with Receiver() as first, Receiver() as second:
        first_port, last_port = settings.REMOTE_WRITE_PORTS
        assert first.port != second.port and first.token != second.token
        assert all(first_port <= r.port <= last_port for r in (first, second))


# --- reading a native histogram ----------------------------------------------------


def test_a_native_histograms_spans_and_deltas_become_bucket_counts() -> None:
    histogram = Histogram(
        count_int=9,
        sum=0.5,
        schema=3,
        positive_spans=[BucketSpan(offset=-2, length=2), BucketSpan(offset=1, length=1)],
        positive_deltas=[3, -1, 2],
    )
    state = HistogramState.read(histogram)
    assert state.buckets == {-2: 3, -1: 2, 1: 4} and state.count == 9
    low_ms, high_ms = state.bounds_ms(0)
    assert high_ms == pytest.approx(1000) and low_ms == pytest.approx(1000 / 2 ** (1 / 8))
    before = HistogramState(buckets={-2: 1, 1: 4})
    grown = state.new_since(before)
    assert [(round(low, 3), count) for low, _, count in grown] == [
        (round(state.bounds_ms(-2)[0], 3), 2),
        (round(state.bounds_ms(-1)[0], 3), 2),
    ]


def test_a_buckets_observations_are_spread_inside_it() -> None:
    values = spread_ms(10.0, 11.0, 4)
    assert len(values) == 4 and all(10.0 < v < 11.0 for v in values) and values == sorted(values)


def test_k6_reaches_its_receiver_where_the_policy_blocks_loopback(settings: Any) -> None:
    """The receiver listens on loopback, which production's target policy refuses to k6 (its --blacklist-ip
    and, as root, the kernel's rules for k6's user): the receiver's ports are exempt from the rules alone."""
    settings.RUN_POST_STAGES = []
    settings.ALLOW_LOOPBACK_TARGETS = False
    script = "import { sleep } from 'k6';\nexport const options = { vus: 2, duration: '2s' };\nexport default function () { sleep(0.1); }\n"
    run = run_execute(run_create_from_script("tests", script.encode(), "idle.js").pk)
    assert run.status == "done", run.error
    doc = run_result(run)
    ingest = RunResult.objects.get(run=run).ingest
    assert ingest["collection"] == "lean" and ingest["pushes"] >= 2
    assert sum(p["iterations"] for p in doc["timeseries"]) == doc["metrics"]["iterations"]["count"] > 10
    assert max(p["vus"] for p in doc["timeseries"]) == 2


# --- pushes no k6 would send, and more series than are followed ----------------------------


def duration_series(url: str, histogram: Histogram) -> TimeSeries:
    pairs = {"__name__": "k6_http_req_duration_seconds", "method": "GET", "name": url, "status": "200", "url": url}
    return TimeSeries(labels=[Label(name=k, value=v) for k, v in sorted(pairs.items())], histograms=[histogram])


def one_bucket(count: int, *, offset: int = -40, schema: int = 3) -> Histogram:
    return Histogram(
        count_int=count, sum=0.03 * count, schema=schema,
        positive_spans=[BucketSpan(offset=offset, length=1)], positive_deltas=[count],
    )  # fmt: skip


def test_series_no_k6_would_push_are_left_out_and_said() -> None:
    hostile = [
        Histogram(count_int=5, schema=3, positive_spans=[BucketSpan(offset=0, length=1_000_000)], positive_deltas=[5]),
        one_bucket(5, offset=2**30),  # a bucket past every float
        one_bucket(5, schema=40),
        one_bucket(20_000_000),  # more than any k6 process observes in a second
        Histogram(count_int=1, sum=math.nan, schema=3, positive_spans=[BucketSpan(offset=-40, length=1)], positive_deltas=[1]),
    ]
    series = [duration_series(f"http://x/{i}", h) for i, h in enumerate(hostile)]
    pushed = ReplayedPushes(WriteRequest(timeseries=[*series, duration_series("http://x/ok", one_bucket(7))]))
    ingester = RemoteWriteIngester(pushed, max_endpoints=10, max_failed_samples=5)
    ingester.finish()
    assert ingester.total_requests == 7 and ingester.unreadable_series == 5
    assert ingester.notes() == [f"5 series of k6's samples could not be read: {ingest.MISSING}"]
    # The one readable series sits in its bucket: 2^(-41/8) to 2^(-40/8) s.
    p50 = ingester.endpoint_stats()[0]["p50_ms"]
    assert 2 ** (-41 / 8) * 1000 < p50 <= 2 ** (-40 / 8) * 1000


def test_series_past_the_limit_are_counted_out_and_said(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ingest, "MAX_SERIES", 3)
    first = WriteRequest(timeseries=[duration_series(f"http://x/{i}", one_bucket(2)) for i in range(5)])
    later = WriteRequest(timeseries=[duration_series(f"http://x/{i}", one_bucket(3)) for i in range(5)])
    ingester = RemoteWriteIngester(ReplayedPushes(first, later), max_endpoints=10, max_failed_samples=5)
    ingester.finish()
    assert ingester.total_requests == 3 * 3  # three series followed, each 3 requests in all
    assert [p["rps"] for p in ingester.timeseries()] == [6, 3]
    assert ingester.untracked_series == 4
    assert "more than 3 distinct series" in ingester.notes()[0]


def test_with_every_receiver_port_taken_the_run_is_read_from_csv(target: DemoTarget, settings: Any) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = int(taken.getsockname()[1])
        settings.REMOTE_WRITE_PORTS = (port, port)
        doc = run_script(target, settings, "lean")
    assert "pushes" not in RunResult.objects.get(run_id=doc["id"]).ingest  # read the detailed way, nothing lost
    assert sum(p["rps"] for p in doc["timeseries"]) == doc["metrics"]["http_reqs"]["count"] > 0


def test_an_older_push_read_late_counts_nothing_twice() -> None:
    pushes = [WriteRequest(timeseries=[duration_series("http://x/a", one_bucket(count))]) for count in (5, 3, 8)]
    ingester = RemoteWriteIngester(ReplayedPushes(*pushes), max_endpoints=10, max_failed_samples=5)
    ingester.finish()
    assert ingester.total_requests == 8 and [p["rps"] for p in ingester.timeseries()] == [5, 0, 3]


def test_a_push_of_very_many_requests_is_spread_scaled_and_counted_exactly(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ingest, "SPREAD_VALUES", 1000)
    two_buckets = Histogram(
        count_int=90_000,
        sum=0.0,
        schema=3,
        positive_spans=[BucketSpan(offset=-40, length=1), BucketSpan(offset=7, length=1)],
        positive_deltas=[80_000, -70_000],
    )  # fmt: skip: 80,000 at ~30 ms, 10,000 at ~55 ms
    ingester = RemoteWriteIngester(
        ReplayedPushes(WriteRequest(timeseries=[duration_series("http://x/a", two_buckets)])),
        max_endpoints=10,
        max_failed_samples=5,
    )
    ingester.poll()
    values = ingester.seconds[ingester.newest_second].durations_ms or []
    assert len(values) == 1000 and sum(v > 40 for v in values) == 111  # the same shape, a ninth above 40 ms
    ingester.finish()
    (point,) = ingester.timeseries()
    assert point["rps"] == 90_000 and ingester.endpoint_stats()[0]["count"] == 90_000
    assert 2 ** (-41 / 8) * 1000 < point["p50_ms"] <= 2 ** (-40 / 8) * 1000 < 2 ** (-34 / 8) * 1000 < point["p95_ms"]


def test_each_push_is_the_next_second_and_k6s_last_one_a_partial_second_of_its_own() -> None:
    counts = (10, 30, 60, 100, 110)  # cumulative: 10, 20, 30, 40 and a last 10 sent as k6 stopped
    pushes = [WriteRequest(timeseries=[duration_series("http://x/a", one_bucket(count))]) for count in counts]
    # a push late by 0.4 s, one early by 0.3 s, a second with nothing to send, k6's last push 0.25 s later
    ingester = RemoteWriteIngester(
        ReplayedPushes(*pushes, arrivals_s=[0.0, 1.4, 2.1, 4.0, 4.25]), max_endpoints=10, max_failed_samples=5
    )
    ingester.finish()
    assert [p["rps"] for p in ingester.timeseries()] == [10, 20, 30, 0, 40, 10]
