#!/usr/bin/env python3
"""Cleanup ranges resume where they were left (issue 14, item 4), against the real stack. Each
scenario has its own database, topics and consumer group (it_fleet.Scenario) and runs the built
joytify-producer `cleanup` and joytify-worker.

1. continuations: playbacks in the days before the cutoff, a job with --time-budget 1 and small
   slow batches, so that each range with playbacks needs several continuations. Expected: every
   continuation task on the cleanup topic carries resume_from (past range_start, growing with
   continuation_seq) and the range's found; the worker's log says each continuation resumes
   there; the worker sent exactly two counts per range whatever the continuations (one at the
   range's first start, one when it is done: joytify_db_requests_total{command="aggregate"},
   which count_documents sends); find, delete and aggregate requests are counted at all; the
   figures are exact (JOB_FINISHED and each ledger result: found = deleted = what was there,
   remaining 0); old playbacks gone, recent ones kept.
2. SIGTERM mid-range: one worker stopped while its range is half deleted. Expected: the ledger
   holds the range's checkpoint progress.<key> = {resumeFrom, deleted} with every playback
   before resumeFrom gone, every one from it still there, deleted = what is gone; a second
   worker resumes at resumeFrom (its log), counts once (at the end); figures exact.
3. SIGKILL mid-range: one worker killed while its range is half deleted, a second one finishes.
   Expected: figures exact, every old playback gone, recent ones kept.

Usage: cleanup_resume_it.py [--only 1,2,3]; under ctest (labels integration;safety) with the
jt_stack fixture's environment. Exit 0 when everything holds, 1 otherwise.
"""

import glob
import os
import re
import sys
import urllib.request

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import it_fleet  # noqa: E402

it_fleet.require_venv(__file__)

from bson.datetime_ms import DatetimeMS  # noqa: E402

from it_fleet import fail, log, wait_until  # noqa: E402
import it_safety  # noqa: E402
from it_safety import insert_playbacks, now_ms, spread, wait_in_group  # noqa: E402

DAY_MS = 86400 * 1000
HOUR_MS = 3600 * 1000
WAIT_S = 180
# A killed worker's partitions move to another within seconds (the broker's minimum timeout).
FAST_GROUP = ("-X", "session.timeout.ms=6000", "-X", "heartbeat.interval.ms=1000")


def ms(v):
    """A createdAt or resumeFrom as read back (DatetimeMS or datetime) in milliseconds."""
    if isinstance(v, DatetimeMS):
        return int(v)
    return int(v.timestamp() * 1000)


def task_decoders(fleet):
    """{fingerprint: decoder} for every published cleanup task schema."""
    out = {}
    for path in sorted(glob.glob(os.path.join(fleet.source_dir, "schemas",
                                              "cleanup_task.v*.avsc"))):
        d = it_fleet.AvroDecoder(path)
        out[d.fingerprint] = d
    return out


def tasks_sent(fleet, sc):
    decs = task_decoders(fleet)
    out = []
    for m in it_fleet.read_topic(fleet.brokers, sc.topic["cleanup"]):
        dec = decs.get(m.value[2:10])
        if not dec:
            fail(f"cleanup task {m.key!r}: fingerprint {m.value[2:10].hex()} of no "
                 f"schemas/cleanup_task.v*.avsc")
        out.append(dec.decode(m.value, f"{sc.topic['cleanup']}/{m.partition}/{m.offset}"))
    return out


def requests(worker):
    """{command: count} of the worker's joytify_db_requests_total."""
    m = re.search(r"metrics on http://([^/\s]+)/metrics", worker.log_text())
    if not m:
        fail(f"{worker.name}: no metrics address in its log\n{worker.log_tail()}")
    body = urllib.request.urlopen(f"http://{m.group(1)}/metrics", timeout=10).read().decode()
    found = {c: int(float(v)) for c, v in
             re.findall(r'^joytify_db_requests_total\{command="([^"]+)"\} (\S+)$', body, re.M)}
    if not found:
        fail(f"{worker.name}: expected joytify_db_requests_total series in /metrics, actual none")
    return found


def start_job(sc, *extra):
    rc, out = sc.producer("cleanup", "--range-hours", "24", *extra, timeout_s=120)
    if rc != 0:
        fail(f"joytify-producer cleanup: expected exit 0, actual {rc}\n{out}")


def wait_finished(fleet, sc, db):
    def finished():
        sc.expect_workers_alive()
        jobs = list(db.jobs.find({"kind": "cleanup"}))
        bad = [j for j in jobs if j.get("state") == "failed"]
        if bad:
            fail(f"cleanup job failed: {[(j['_id'], j.get('lastFailure')) for j in bad]}\n"
                 f"{fleet.logs()}")
        return jobs[0] if len(jobs) == 1 and jobs[0].get("state") == "finished" else None
    return wait_until("the cleanup job finished", finished, WAIT_S,
                      on_timeout=lambda: fleet.logs())


def expect_exact(fleet, sc, db, job, old_ids, recent_ids):
    """The job's figures (ledger results and JOB_FINISHED) say exactly what was deleted, and
    the database agrees."""
    n = len(old_ids)
    results = job.get("results", {})
    tot = {k: sum(r.get(k, 0) for r in results.values()) for k in ("found", "deleted",
                                                                    "remaining")}
    for key, r in results.items():
        if r.get("found") != r.get("deleted") or r.get("remaining") != 0:
            fail(f"ledger result {key}: expected found = deleted and remaining 0, actual {r}")
    if tot != {"found": n, "deleted": n, "remaining": 0}:
        fail(f"ledger results of {job['_id']}: expected found {n}, deleted {n}, remaining 0, "
             f"actual {tot} ({results})")
    dec = it_fleet.status_decoder(fleet.source_dir)
    ends = [e for e in sc.status_events(dec) if e["type"] == "JOB_FINISHED"
            and e["job_id"] == job["_id"]]
    if len(ends) != 1:
        fail(f"JOB_FINISHED of {job['_id']}: expected 1, actual {len(ends)}")
    got = (ends[0]["records_deleted"], ends[0]["total_records_found"],
           ends[0]["remaining_records"])
    if got != (n, n, 0):
        fail(f"JOB_FINISHED of {job['_id']}: expected deleted/found/remaining {(n, n, 0)}, "
             f"actual {got}")
    left = db.playbacks.count_documents({"_id": {"$in": old_ids}})
    kept = db.playbacks.count_documents({"_id": {"$in": recent_ids}})
    if left or kept != len(recent_ids):
        fail(f"playbacks: expected the {n} old ones gone and the {len(recent_ids)} recent ones "
             f"kept, actual {left} old left, {kept} recent kept")
    log(f"figures exact: {n} found, {n} deleted, 0 remaining; recent playbacks kept")


def continuations(fleet, client, dbs, n):
    """Scenario 1: several continuations per range, two counts per range."""
    sc = it_fleet.Scenario(fleet, "cresume", n, partitions=2)
    dbs.append(sc.db)
    db = client[sc.db]
    t = now_ms()
    cutoff = t - 60 * DAY_MS
    old = insert_playbacks(db, "old", spread(500, cutoff - 40 * HOUR_MS, cutoff - HOUR_MS))
    recent = insert_playbacks(db, "recent", spread(50, cutoff + HOUR_MS, t - HOUR_MS))
    w = sc.start_worker("--topics", "cleanup")
    wait_in_group(sc, w)
    before = requests(w)
    start_job(sc, "--batch-size", "25", "--batch-delay-ms", "250", "--time-budget", "1")
    job = wait_finished(fleet, sc, db)
    after = requests(w)
    expect_exact(fleet, sc, db, job, old, recent)

    tasks = tasks_sent(fleet, sc)
    conts = [tk for tk in tasks if tk["continuation_seq"] > 0]
    log(f"{len(tasks)} cleanup tasks on the topic, {len(conts)} continuations")
    if len(conts) < 2:
        fail(f"expected a range needing several continuations, actual {len(conts)} "
             f"continuations: make the batches slower")
    delta = {c: after.get(c, 0) - before.get(c, 0) for c in after}
    ranges = job.get("tasksTotal", 0)
    log(f"database requests of the job: {delta}")
    if delta.get("aggregate") != 2 * ranges:
        fail(f"count requests (aggregate): expected 2 per range = {2 * ranges} for {ranges} "
             f"ranges and {len(conts)} continuations, actual {delta.get('aggregate')}")
    for c in ("find", "delete", "aggregate"):
        if after.get(c, 0) <= 0:
            fail(f"joytify_db_requests_total{{command=\"{c}\"}}: expected > 0, actual "
                 f"{after.get(c)}")
    found = job.get("found", {})
    last = {}
    for tk in sorted(conts, key=lambda x: (x["parent_task_id"], x["continuation_seq"])):
        tid, root = tk["task_id"], tk["parent_task_id"]
        key = root[len(tk["job_id"]) + 1:]
        rf = tk.get("resume_from")
        if rf is None or rf <= tk["range_start"]:
            fail(f"continuation {tid}: expected resume_from past range_start "
                 f"{tk['range_start']} (the point reached), actual {rf}")
        if rf < last.get(root, rf):
            fail(f"continuation {tid}: expected resume_from >= the previous one's "
                 f"{last[root]}, actual {rf}")
        last[root] = rf
        if tk.get("found") != found.get(key):
            fail(f"continuation {tid}: expected found {found.get(key)} (ledger found.{key}), "
                 f"actual {tk.get('found')}")
        if f"task={tid} resumes at {rf} " not in w.log_text():
            fail(f"continuation {tid}: expected the worker's log to say it resumes at {rf}, "
                 f"actual none\n{w.log_tail()}")
    log(f"every continuation resumed where its range was left: "
        f"{[(tk['task_id'], tk['resume_from']) for tk in conts]}")

    sc.stop_workers()


def half_deleted(sc, db, n):
    def progressed():
        sc.expect_workers_alive()
        left = db.playbacks.count_documents({"label": "old"})
        return left if n * 0.2 <= n - left <= n * 0.7 else None
    return wait_until("the range partly deleted", progressed, WAIT_S, interval_s=0.1,
                      on_timeout=lambda: sc.fleet.logs())


def interrupted(fleet, client, dbs, n, kill):
    """Scenarios 2 and 3: a worker stopped (SIGTERM) or killed mid-range, a second finishes."""
    sc = it_fleet.Scenario(fleet, "cresume", n, partitions=1)
    dbs.append(sc.db)
    db = client[sc.db]
    t = now_ms()
    cutoff = t - 60 * DAY_MS
    count = 1200
    old = insert_playbacks(db, "old", spread(count, cutoff - 20 * HOUR_MS, cutoff - HOUR_MS))
    recent = insert_playbacks(db, "recent", spread(30, cutoff + HOUR_MS, t - HOUR_MS))
    w1 = sc.start_worker("--topics", "cleanup", *FAST_GROUP)
    wait_in_group(sc, w1)
    start_job(sc, "--batch-size", "30", "--batch-delay-ms", "150", "--time-budget", "600")
    left = half_deleted(sc, db, count)
    if kill:
        w1.kill()
        w1.stopped = True
        log(f"worker 1 SIGKILLed with about {left} of {count} playbacks left")
    else:
        w1.stopped = True
        w1.stop(30)
        log(f"worker 1 stopped (SIGTERM) with {left} of {count} playbacks left")
        job = db.jobs.find_one({"kind": "cleanup"})
        gone = count - db.playbacks.count_documents({"label": "old"})
        progress = job.get("progress", {})
        cps = [(k, p) for k, p in progress.items() if p.get("deleted")]
        if len(cps) != 1:
            fail(f"ledger of {job['_id']}: expected one range checkpoint progress.<key> = "
                 f"{{resumeFrom, deleted}} after SIGTERM, actual {progress!r}")
        key, cp = cps[0]
        resume = ms(cp["resumeFrom"])
        before = db.playbacks.count_documents({"label": "old",
                                               "createdAt": {"$lt": DatetimeMS(resume)}})
        from_it = db.playbacks.count_documents({"label": "old",
                                                "createdAt": {"$gte": DatetimeMS(resume)}})
        expect_from = sum(1 for x in spread(count, cutoff - 20 * HOUR_MS, cutoff - HOUR_MS)
                          if x >= resume)
        if cp["deleted"] != gone or before != 0 or from_it != expect_from:
            fail(f"checkpoint {key} {cp}: expected deleted = {gone} (gone from the database), "
                 f"no playback before resumeFrom and all {expect_from} from it, actual "
                 f"{before} before, {from_it} from it")
        log(f"checkpoint {key}: resumeFrom {resume}, deleted {cp['deleted']}: exact")
    w2 = sc.start_worker("--topics", "cleanup", *FAST_GROUP)
    job = wait_finished(fleet, sc, db)
    expect_exact(fleet, sc, db, job, old, recent)
    if not kill:
        if f"resumes at {resume} " not in w2.log_text():
            fail(f"worker 2: expected to resume the range at the checkpoint {resume}, actual "
                 f"log:\n{w2.log_tail()}")
        agg = requests(w2).get("aggregate", 0)
        if agg != 1:
            fail(f"worker 2: expected 1 count request (the range's end; found was in the "
                 f"ledger), actual {agg}")
        log("worker 2 resumed at the checkpoint and counted once")
    sc.stop_workers()


SCENARIOS = {1: continuations,
             2: lambda f, c, d, n: interrupted(f, c, d, n, kill=False),
             3: lambda f, c, d, n: interrupted(f, c, d, n, kill=True)}
NAMES = {1: "continuations resume at the point reached, two counts per range",
         2: "SIGTERM mid-range: a checkpoint, then a new worker resumes there",
         3: "SIGKILL mid-range: figures exact"}


def main():
    return it_safety.run_scenarios("cleanup_resume_it", SCENARIOS, NAMES.__getitem__,
                                   datetime_conversion="DATETIME_MS")


if __name__ == "__main__":
    sys.exit(main())
