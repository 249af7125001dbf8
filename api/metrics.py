"""Prometheus metrics, one registry per app (tests build many apps)."""
from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, ProcessCollector, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

_LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.0075, 0.01, 0.015, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10)


class Metrics:
    content_type = CONTENT_TYPE_LATEST

    def __init__(self) -> None:
        r = self.registry = CollectorRegistry()
        self.requests = Counter("nlp_guard_http_requests", "HTTP requests", ["method", "route", "status"], registry=r)
        self.latency = Histogram("nlp_guard_http_request_duration_seconds", "HTTP request latency",
                                 ["method", "route"], buckets=_LATENCY_BUCKETS, registry=r)
        self.decisions = Counter("nlp_guard_decisions", "Screening decisions", ["endpoint", "decision"], registry=r)
        self.violations = Counter("nlp_guard_violations", "Violations by category", ["category"], registry=r)
        self.contact_blocks = Counter("nlp_guard_contact_policy_blocks", "Contact-gate blocks by rule", ["rule"],
                                      registry=r)
        self.batch_size = Histogram("nlp_guard_batch_size", "Items per micro-batch", ["batcher"],
                                    buckets=(1, 2, 4, 8, 16, 32, 64, 128, 256), registry=r)
        self.model_ready = Gauge("nlp_guard_ready", "1 once the guard (and model) are loaded", registry=r)
        self.errors = Counter("nlp_guard_unhandled_errors", "Unexpected exceptions (answered 503)", registry=r)
        ProcessCollector(registry=r)  # process_cpu_seconds_total etc.: bench_api's server CPU per check

    def decision(self, endpoint: str, d: dict) -> None:
        self.decisions.labels(endpoint, d["decision"]).inc()
        for v in d.get("violations", []):
            self.violations.labels(v["category"]).inc()

    def render(self) -> bytes:
        return generate_latest(self.registry)
