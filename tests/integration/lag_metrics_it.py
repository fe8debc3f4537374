#!/usr/bin/env python3
"""joytify_consumer_lag follows the partitions a worker holds (issue 19 item 2: the alerts
JoytifyJobStuck and JoytifyLagNotDraining sum it over the workers). One worker holds both
partitions of each task topic and exports their lag; a second worker joins the group and takes
some of them; the first one then stops exporting the partitions it gave up. Before the fix a
revoked partition's series stayed at its last value for ever: counted twice in the sum, and a
frozen non-zero lag kept both alerts firing after the work was done.

Runs under the project venv (pymongo), in the jt_stack fixture's environment."""

import os
import re
import sys

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import it_fleet  # noqa: E402

it_fleet.require_venv(__file__)

import health_it  # noqa: E402  (metrics_port, get, start_worker)
from it_fleet import fail, log, wait_until  # noqa: E402

SERIES = re.compile(r'^joytify_consumer_lag\{topic="([^"]+)",partition="(\d+)"\} ', re.M)


def lag_series(port):
    """The (topic, partition) pairs of the worker's joytify_consumer_lag series."""
    status, body = health_it.get(port, "/metrics")
    if status != 200:
        fail(f"GET /metrics: expected 200, actual {status} {body[:200]}")
    return {(t, int(p)) for t, p in SERIES.findall(body)}


def body(fleet, client, dbs):
    s = it_fleet.Scenario(fleet, "lag", 1, partitions=2)
    dbs.append(s.db)
    want = {(s.topic[k], p) for k in ("stats", "cleanup") for p in (0, 1)}
    w1 = health_it.start_worker(fleet, s)
    p1 = health_it.metrics_port(w1)
    wait_until("the first worker to export the lag of all four partitions",
               lambda: lag_series(p1) == want, 60,
               on_timeout=lambda: f"{sorted(lag_series(p1))}\n{w1.log_tail()}")
    w2 = health_it.start_worker(fleet, s)
    p2 = health_it.metrics_port(w2)
    wait_until("the second worker to take some partitions", lambda: lag_series(p2), 90,
               on_timeout=lambda: f"{sorted(lag_series(p2))}\n{w2.log_tail()}")

    def split():
        a, b = lag_series(p1), lag_series(p2)
        return (a, b) if a and b and not a & b and a | b == want else None
    try:
        a, b = wait_until("each partition's lag exported by one worker only", split, 30,
                          on_timeout=lambda: f"first {sorted(lag_series(p1))}, second "
                                             f"{sorted(lag_series(p2))}\n{w1.log_tail()}")
    finally:
        s.stop_workers()
    log(f"ok   lag series split between the workers: {sorted(a)} and {sorted(b)}")


if __name__ == "__main__":
    sys.exit(it_fleet.run_main("lag_metrics_it", body))
