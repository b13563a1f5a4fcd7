"""k6's samples over Prometheus remote write, aggregated inside k6: the lean way to collect a run.

k6's CSV output writes some thirteen rows per request, which costs a load generator about a fifth of its
requests per second. Its `experimental-prometheus-rw` output instead aggregates inside k6 and pushes, once a
second, every series' cumulative counters and native histograms (trends) to a receiver in the worker
(receiver.py), which turns consecutive pushes into the same per-second, per-endpoint and per-scenario figures
the CSV reader builds (ingest.py). `prometheus_remote_pb2` is generated from `prometheus_remote.proto`
(`make proto`).
"""
