"""k6's samples over Prometheus remote write, aggregated inside k6: the lean way to collect a run.

k6's CSV output writes some thirteen rows per request, which costs a load generator about a fifth of its
requests per second. Its `experimental-prometheus-rw` output instead aggregates inside k6 and pushes, once a
second, every series' cumulative counters and native histograms (trends) to a receiver in the worker
(receiver.py), which turns consecutive pushes into the same per-second, per-endpoint and per-scenario figures
the CSV reader builds (ingest.py). `prometheus_remote_pb2` is generated from `prometheus_remote.proto`
(`make proto`).
"""

# What a reader of a lean run's endpoint table should know, on every surface that shows one.
PERCENTILES_NOTE = (
    "Percentiles per endpoint and per second are read from k6's histograms (buckets 9 % wide: within one"
    " bucket of the exact value); the run's summary figures are k6's own."
)
