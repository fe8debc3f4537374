#!/usr/bin/env python3
"""The worker's poll loop never waits for a task (issue 14 item 2): tasks run on worker threads
while the loop keeps polling, so a task longer than max.poll.interval.ms keeps its worker in the
group. The long-running vehicle is a cleanup task throttled by `joytify-producer cleanup
--batch-size 1 --batch-delay-ms 1000` over seeded playbacks: one playback per batch, a second
between batches, so a task of N playbacks runs about N seconds (--time-budget 300: no
continuation, the task runs whole).

1. long task: a worker with -X session.timeout.ms=6000 -X max.poll.interval.ms=10000 and one
   task of ~24 s. The job finishes, its figures equal the seeded count, the worker log holds no
   eviction line ("max.poll.interval", "Application maximum poll interval", "leaving group"),
   and the task started once (one TASK_STARTED on the status topic).
2. concurrency: --concurrency 2 and three tasks of ~12 s on a 12-partition topic: two of them
   ran at once (their TASK_STARTED..TASK_FINISHED intervals overlap); the figures are exact.
3. stop: SIGTERM while a task of ~24 s runs: the worker exits 0 (the time it took is printed,
   not asserted: the bound is a generous timeout), then a new worker completes the job with exact
   figures.

Usage: worker_poll_loop_it.py [--only 1,2,3]; under ctest (label integration) with the jt_stack
fixture's environment. Exit 0 when everything holds, 1 otherwise.
"""

import argparse
import os
import re
import signal
import sys
import time

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import it_fleet  # noqa: E402

it_fleet.require_venv(__file__)

from bson import ObjectId  # noqa: E402
from bson.datetime_ms import DatetimeMS  # noqa: E402

from it_fleet import fail, log, wait_until  # noqa: E402

HOUR_MS = 3600 * 1000
DAY_MS = 24 * HOUR_MS
WAIT_S = 180
EVICTION = ("max.poll.interval", "Application maximum poll interval", "leaving group")
# 1 s between batches of one playback: a task of N playbacks runs about N seconds.
THROTTLE = ("--range-hours", "24", "--batch-size", "1", "--batch-delay-ms", "1000",
            "--time-budget", "300")


def seed(db, groups, per_group):
    """per_group playbacks in each of `groups` consecutive 24-hour windows, the first window
    starting at the oldest playback (the cleanup plan starts its windows there), all well before
    the 60-day cutoff; spread over 20 hours of the window so that each batch holds one. Returns
    the ids."""
    base = (int(time.time() * 1000) - 65 * DAY_MS) // HOUR_MS * HOUR_MS
    docs = []
    for g in range(groups):
        start = base + g * DAY_MS
        docs += [{"_id": ObjectId(), "label": f"window{g}",
                  "createdAt": DatetimeMS(start + 20 * HOUR_MS * i // per_group)}
                 for i in range(per_group)]
    db.playbacks.insert_many(docs)
    return [d["_id"] for d in docs]


def start_job(sc):
    rc, out = sc.producer("cleanup", *THROTTLE, timeout_s=120)
    if rc != 0:
        fail(f"joytify-producer cleanup: expected exit 0, actual {rc}\n{out}")
    m = re.search(r"(cleanup-\d{4}-\d\d-\d\dT\d{4}Z)", out)
    if not m:
        fail(f"joytify-producer cleanup: no job id in its output\n{out}")
    log(f"job {m.group(1)}")
    return m.group(1)


def wait_started(sc, worker):
    wait_until(f"{worker.name} in its group", lambda: "in group" in worker.log_text(), 60,
               on_timeout=lambda: sc.fleet.logs([worker]))


def job_events(sc, decoder, job_id):
    return [e for e in sc.status_events(decoder) if e["job_id"] == job_id]


def wait_finished(sc, db, decoder, job_id):
    """Waits for the job's JOB_FINISHED; fails at once on JOB_FAILED or a dead worker."""
    def finished():
        sc.expect_workers_alive()
        evs = job_events(sc, decoder, job_id)
        bad = [e for e in evs if e["type"] == "JOB_FAILED"]
        if bad:
            fail(f"job {job_id}: expected finished, actual failed: {bad[0].get('error_message')}"
                 f"\n{sc.fleet.logs()}")
        return evs if any(e["type"] == "JOB_FINISHED" for e in evs) else None
    return wait_until(f"job {job_id} finished", finished, WAIT_S, interval_s=1,
                      on_timeout=lambda: sc.fleet.logs(size=4000))


def expect_figures(what, db, evs, ids):
    """The JOB_FINISHED figures and the collection both say every seeded playback went."""
    fin = [e for e in evs if e["type"] == "JOB_FINISHED"]
    if len(fin) != 1:
        fail(f"{what}: expected one JOB_FINISHED, actual {len(fin)}")
    got = (fin[0].get("records_deleted"), fin[0].get("total_records_found"))
    if got != (len(ids), len(ids)):
        fail(f"{what}: expected records_deleted and total_records_found {len(ids)}, actual "
             f"{got}")
    left = db.playbacks.count_documents({"_id": {"$in": ids}})
    if left:
        fail(f"{what}: expected all {len(ids)} seeded playbacks deleted, actual {left} left")
    log(f"ok  {what}: {len(ids)} found, {len(ids)} deleted, none left")


def long_tasks(evs, at_least):
    """{task_id: [TASK_STARTED events]} of the tasks that found at least `at_least` playbacks."""
    out = {}
    for e in evs:
        if e["type"] == "TASK_STARTED" and (e.get("progress_total") or 0) >= at_least:
            out.setdefault(e["task_id"], []).append(e)
    return out


def long_task(fleet, client, dbs):
    """Scenario 1: one task of ~24 s under max.poll.interval.ms=10000."""
    sc = it_fleet.Scenario(fleet, "pollA", 1, partitions=3)
    dbs.append(sc.db)
    db = client[sc.db]
    decoder = it_fleet.status_decoder(fleet.source_dir)
    ids = seed(db, 1, 24)
    w = sc.start_worker("--topics", "cleanup", "-X", "session.timeout.ms=6000", "-X",
                        "max.poll.interval.ms=10000")
    wait_started(sc, w)
    job_id = start_job(sc)
    evs = wait_finished(sc, db, decoder, job_id)
    text = w.log_text()
    # CONFWARN: the producer, which also gets every -X, says it ignores max.poll.interval.ms.
    evicted = [line for line in text.splitlines()
               if any(s in line for s in EVICTION) and "CONFWARN" not in line]
    if evicted:
        fail("[scenario 1] expected no eviction from the group during a 24 s task "
             f"(max.poll.interval.ms 10000), actual:\n" + "\n".join(evicted[:5]))
    log("ok  [scenario 1] no eviction line in the worker log")
    started = long_tasks(evs, 24)
    if len(started) != 1 or len(next(iter(started.values()))) != 1:
        fail("[scenario 1] expected the long task started once (one TASK_STARTED), actual "
             f"{ {t: len(v) for t, v in started.items()} }")
    log(f"ok  [scenario 1] the long task started once: {next(iter(started))}")
    expect_figures("[scenario 1]", db, evs, ids)
    sc.stop_workers()


def concurrency(fleet, client, dbs):
    """Scenario 2: --concurrency 2, three tasks of ~12 s; two ran at once."""
    sc = it_fleet.Scenario(fleet, "pollB", 2, partitions=12)
    dbs.append(sc.db)
    db = client[sc.db]
    decoder = it_fleet.status_decoder(fleet.source_dir)
    ids = seed(db, 3, 12)
    w = sc.start_worker("--topics", "cleanup", "--concurrency", "2")
    wait_started(sc, w)
    job_id = start_job(sc)
    evs = wait_finished(sc, db, decoder, job_id)
    started = long_tasks(evs, 12)
    finished = {e["task_id"]: e["timestamp"] for e in evs if e["type"] == "TASK_FINISHED"}
    spans = {t: (v[0]["timestamp"], finished.get(t)) for t, v in started.items()}
    log(f"[scenario 2] task spans (ms since the first start): "
        + ", ".join(f"{t.split('/')[-1]} {a - min(s[0] for s in spans.values())}.."
                    f"{(b or 0) - min(s[0] for s in spans.values())}"
                    for t, (a, b) in sorted(spans.items())))
    if len(spans) != 3 or any(b is None for _, b in spans.values()):
        fail(f"[scenario 2] expected 3 long tasks started and finished, actual {spans}")
    parts = {m.key.decode(): m.partition
             for m in it_fleet.read_topic(fleet.brokers, sc.topic["cleanup"]) if m.key}
    if len({parts.get(t) for t in spans}) < 2:
        fail(f"[scenario 2] setup: the 3 long tasks all hashed to one partition {parts}; "
             "no two can run at once")
    overlaps = [(a, b) for a in spans for b in spans
                if a < b and parts.get(a) != parts.get(b)
                and spans[a][0] < spans[b][1] and spans[b][0] < spans[a][1]]
    if not overlaps:
        fail(f"[scenario 2] expected two tasks running at once with --concurrency 2, actual "
             f"none overlap: {spans}")
    log(f"ok  [scenario 2] ran at once: {overlaps[0][0]} and {overlaps[0][1]}")
    expect_figures("[scenario 2]", db, evs, ids)
    sc.stop_workers()


def stop_mid_task(fleet, client, dbs):
    """Scenario 3: SIGTERM during a ~24 s task; a new worker completes the job."""
    sc = it_fleet.Scenario(fleet, "pollC", 3, partitions=3)
    dbs.append(sc.db)
    db = client[sc.db]
    decoder = it_fleet.status_decoder(fleet.source_dir)
    ids = seed(db, 1, 24)
    w = sc.start_worker("--topics", "cleanup")
    wait_started(sc, w)
    job_id = start_job(sc)
    wait_until("the long task deleting", lambda: db.playbacks.count_documents(
        {"_id": {"$in": ids}}) <= len(ids) - 3, 60, on_timeout=lambda: fleet.logs([w]))
    t0 = time.monotonic()
    w.popen.send_signal(signal.SIGTERM)
    w.stopped = True
    w.stop(timeout_s=30)
    took = time.monotonic() - t0
    left = db.playbacks.count_documents({"_id": {"$in": ids}})
    log(f"ok  [scenario 3] worker exited 0 {took:.1f} s after SIGTERM, {left} of {len(ids)} "
        "playbacks left")
    if left == 0:
        fail("[scenario 3] setup: the task finished before SIGTERM; nothing was interrupted")
    sc.start_worker("--topics", "cleanup")
    evs = wait_finished(sc, db, decoder, job_id)
    expect_figures("[scenario 3]", db, evs, ids)
    sc.stop_workers()


SCENARIOS = {1: long_task, 2: concurrency, 3: stop_mid_task}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--only", default="1,2,3")
    args = ap.parse_args()
    only = [int(x) for x in args.only.split(",")]

    def body(fleet, client, dbs):
        for n in only:
            SCENARIOS[n](fleet, client, dbs)
    return it_fleet.run_main("worker_poll_loop_it", body)


if __name__ == "__main__":
    sys.exit(main())
