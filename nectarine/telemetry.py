"""Prometheus metrics for the service: requests and latencies per route, answers by confidence band,
handoffs, feedback, tickets, rate-limited requests, and the time to the first streamed event.

Each app gets its own registry (tests build several apps in one process). With several worker
processes, set ``PROMETHEUS_MULTIPROC_DIR`` to an empty folder (``nectarine serve --workers N``
does): every worker writes its values there and ``/metrics`` adds them up.
"""

from __future__ import annotations

import os

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram, generate_latest

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.15, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)


def confidence_band(confidence: float, threshold: float = 0.6) -> str:
    """``high`` / ``medium`` / ``low``: the same bands the panel's confidence hint shows."""
    return "high" if confidence >= 0.75 else "medium" if confidence >= threshold else "low"


class ServiceMetrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.collectors: list = []  # custom collectors (the sync status): read at render time, in either mode
        r = self.registry
        self.requests = Counter("nectarine_http_requests_total", "HTTP requests by route, method and status",
                                ["route", "method", "status"], registry=r)
        self.latency = Histogram("nectarine_http_request_seconds", "Time to the response's start, by route",
                                 ["route", "method"], buckets=LATENCY_BUCKETS, registry=r)
        self.answers = Counter("nectarine_answers_total", "Answers by confidence band and answerer", ["band", "answerer"], registry=r)
        self.handoffs = Counter("nectarine_handoffs_total", "Answers that recommended a support ticket, by reason", ["reason"], registry=r)
        self.feedback = Counter("nectarine_feedback_total", "Thumbs up and down", ["verdict"], registry=r)
        self.tickets = Counter("nectarine_tickets_total", "Ticket drafts and submissions, by priority", ["event", "priority"], registry=r)
        self.rate_limited = Counter("nectarine_rate_limited_total", "Requests refused with 429, by limit", ["limit"], registry=r)
        self.first_event = Histogram("nectarine_chat_first_event_seconds", "Time from a /v1/chat request to its first text event",
                                     buckets=LATENCY_BUCKETS, registry=r)

    def observe(self, method: str, route: str, status: int, seconds: float) -> None:
        self.requests.labels(route, method, str(status)).inc()
        self.latency.labels(route, method).observe(seconds)

    def answered(self, answer) -> None:
        self.answers.labels(confidence_band(answer.confidence), answer.answerer).inc()
        if answer.handoff_recommended:
            reason = (answer.handoff_reason or "other").split(":")[0].split(" (")[0]
            self.handoffs.labels(reason).inc()

    def add_collector(self, collector) -> None:
        """A collector whose figures are read when /metrics is (not counted per process): shown with several workers too."""
        self.registry.register(collector)
        self.collectors.append(collector)

    def render(self) -> tuple[bytes, str]:
        if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
            from prometheus_client import multiprocess

            registry = CollectorRegistry()
            multiprocess.MultiProcessCollector(registry)  # the workers' counters, added up
            for collector in self.collectors:  # read from shared state (the index folder), the same in every worker
                registry.register(collector)
            return generate_latest(registry), CONTENT_TYPE_LATEST
        return generate_latest(self.registry), CONTENT_TYPE_LATEST
