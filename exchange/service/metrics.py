"""Prometheus metrics of one process, in its own registry (no global singletons).

The engine-step histogram is counted by hand (a bisect into a list, no lock) and exposed by a
custom collector: prometheus_client's Histogram takes a lock per observation, which would cost
a sizeable fraction of a microsecond-scale engine step.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Callable, Iterator, Sequence

from prometheus_client import CollectorRegistry, Gauge, generate_latest
from prometheus_client.core import CounterMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.registry import Collector

#: Engine step bucket bounds in nanoseconds (2 us .. 5 ms).
STEP_BUCKETS_NS = (2_000, 5_000, 10_000, 20_000, 50_000, 100_000, 200_000, 500_000, 1_000_000, 5_000_000)


class StepHistogram(Collector):
    """Engine step times, and the command/batch counters, as plain ints read when scraped."""

    def __init__(self) -> None:
        self.counts = [0] * (len(STEP_BUCKETS_NS) + 1)
        self.sum_ns = 0
        self.commands = 0
        self.batches = 0

    def observe_many(self, step_ns: Sequence[int]) -> None:
        counts = self.counts
        for ns in step_ns:
            counts[bisect_left(STEP_BUCKETS_NS, ns)] += 1
        self.sum_ns += sum(step_ns)

    def collect(self) -> Iterator[Metric]:
        buckets, running = [], 0
        for bound, count in zip((*STEP_BUCKETS_NS, None), self.counts, strict=True):
            running += count
            buckets.append(("+Inf" if bound is None else repr(bound / 1e9), running))
        family = HistogramMetricFamily("exchange_engine_step_seconds", "Engine time per command")
        family.add_metric([], buckets, self.sum_ns / 1e9)
        yield family
        yield CounterMetricFamily("exchange_commands", "Commands handled by the engine", self.commands)
        yield CounterMetricFamily("exchange_batches", "Batches taken by the engine task", self.batches)


class HubCounters(Collector):
    """The WebSocket hub's own counters, read when scraped (the hub stays free of metrics code)."""

    def __init__(self, read: Callable[[], tuple[int, int]]) -> None:
        self.read = read

    def collect(self) -> Iterator[CounterMetricFamily]:
        frames, evicted = self.read()
        yield CounterMetricFamily("exchange_ws_frames", "Frames queued for WebSocket subscribers", frames)
        yield CounterMetricFamily("exchange_ws_evicted", "Slow WebSocket consumers closed", evicted)


class Metrics:
    def __init__(
        self,
        queue_depth: Callable[[], int],
        ws_connections: Callable[[], int],
        hub_counters: Callable[[], tuple[int, int]] = lambda: (0, 0),
    ) -> None:
        self.registry = CollectorRegistry()
        self.step = StepHistogram()
        self.registry.register(self.step)
        depth = Gauge("exchange_queue_depth", "Commands waiting for the engine", registry=self.registry)
        depth.set_function(lambda: float(queue_depth()))
        ws = Gauge("exchange_ws_connections", "Open WebSocket connections", registry=self.registry)
        ws.set_function(lambda: float(ws_connections()))
        self.registry.register(HubCounters(hub_counters))

    def observe_batch(self, batch_size: int, step_ns: Sequence[int]) -> None:
        step = self.step
        step.batches += 1
        step.commands += batch_size
        step.observe_many(step_ns)

    def render(self) -> bytes:
        return generate_latest(self.registry)
