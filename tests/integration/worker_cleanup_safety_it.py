#!/usr/bin/env python3
"""Cleanup safety against the real stack (issue 13, items 1 and 7): a worker never deletes
playbacks it must keep, whatever task it is given or however wrong its clock, and odd dates never
break a cleanup job. Each scenario has its own database, topics and consumer group
(it_fleet.Scenario) and runs the built joytify-worker (and joytify-producer).

1. forged retention: a cleanup task published by hand (schemas/cleanup_task.v1.avsc, fastavro)
   with retention_days=1 whose range covers days 20 to 2 before now. The worker (default
   --retention-days 60) sends it to the DLQ with the reason; every playback in the range is
   still there.
2. worker retention: a worker with --retention-days 90 and a task of retention 60 (a producer
   configured differently) whose range reaches 70 days back: DLQ, nothing deleted; a task of
   retention 100 reaching 95 days back: the longer retention counts, DLQ, nothing deleted.
3. clock skew: a worker whose clock is 10 days ahead (libfaketime, FAKETIME=+10d) and a task a
   producer with the same clock would send (cutoff = real now - 50 days): by that clock the
   range is outside retention, by the database server's it is 10 days inside. The worker
   refuses it (DLQ, reason naming both clocks), deletes nothing, logs an error line and exports
   joytify_clock_skew_seconds > 0.
4. odd dates: playbacks dated 0001-01-01, 1970-01-01, 9999-12-31 (and INT64_MIN/INT64_MAX when
   the server stores them: MongoDB does, the local SecantusDB refuses dates outside years
   1-9999), with createdAt missing, null, a string or a number, plus normal old and recent ones.
   `joytify-producer cleanup` + a worker: the producer succeeds, the job finishes, its ledger
   entry is small (at most --max-ranges tasks), every dated playback older than the cutoff is
   gone and the others are all there.

Usage: worker_cleanup_safety_it.py [--only 1,2,3,4]; under ctest (labels integration;safety)
with the jt_stack fixture's environment. Exit 0 when everything holds, 1 otherwise.
"""

import glob
import os
import re
import subprocess
import sys
import urllib.request

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import it_fleet  # noqa: E402

it_fleet.require_venv(__file__)

import bson  # noqa: E402
from bson import ObjectId  # noqa: E402
from bson.datetime_ms import DatetimeMS  # noqa: E402

from it_fleet import fail, log, wait_until  # noqa: E402
import it_safety  # noqa: E402
from it_safety import insert_playbacks, now_ms, spread, wait_in_group  # noqa: E402

DAY_MS = 86400 * 1000
WAIT_S = 90


def present(db, ids):
    return db.playbacks.count_documents({"_id": {"$in": list(ids)}})


def cleanup_task(job_id, task_id, start, end, cutoff, retention):
    return {"job_id": job_id, "task_id": task_id, "range_start": start, "range_end": end,
            "cutoff": cutoff, "retention_days": retention, "batch_size": 100,
            "batch_delay_ms": 0, "time_budget_s": 60, "test_mode": False,
            "triggered_by": "manual", "parent_task_id": None, "continuation_seq": 0,
            "resume_after_id": None, "deleted_so_far": 0, "created_at": now_ms()}


def dlq(fleet, sc):
    """[(key, {header: value})] of the scenario's DLQ."""
    argv = ["kcat", "-C", "-q", "-e", "-b", fleet.brokers, "-t", sc.topic["dlq"], "-o",
            "beginning", "-f", "%k\t%h\n"]
    r = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=30)
    if r.returncode != 0:
        return []
    out = []
    for line in r.stdout.decode("utf-8", "replace").splitlines():
        key, _, hdrs = line.partition("\t")
        # kcat joins headers with ',': split only before a header name (a reason has commas)
        h = dict(kv.split("=", 1) for kv in re.split(r",(?=jt-[a-z-]+=)", hdrs) if "=" in kv)
        out.append((key, h))
    return out


def wait_dead_letter(fleet, sc, key, reasons, db, guarded):
    """Waits for the task `key` in the DLQ and checks its jt-error header holds every reason;
    fails at once when any of the playbacks `guarded` is deleted meanwhile."""
    def found():
        sc.expect_workers_alive()
        n = present(db, guarded)
        if n != len(guarded):
            fail(f"task {key}: expected refused with all {len(guarded)} playbacks it reaches "
                 f"kept, actual {len(guarded) - n} deleted\n{fleet.logs(size=1500)}")
        return [h for k, h in dlq(fleet, sc) if k == key]
    hdrs = wait_until(f"task {key} in the DLQ {sc.topic['dlq']}", found, WAIT_S,
                      on_timeout=lambda: fleet.logs())[0]
    error = hdrs.get("jt-error", "")
    log(f"DLQ {key}: {error}")
    for r in reasons:
        if r not in error:
            fail(f"DLQ {key}: jt-error expected to contain {r!r}, actual {error!r}")


def publish(fleet, sc, task, db):
    """Publishes task as a replay of a job the ledger knows (its entry exists): nothing but the
    worker's own checks stands between it and the playbacks."""
    db.jobs.insert_one({"_id": task["job_id"], "kind": "cleanup", "state": "running",
                        "tasksTotal": 1, "tasksDone": 0, "taskIds": [task["task_id"]],
                        "createdAt": DatetimeMS(now_ms())})
    enc = it_fleet.AvroEncoder(os.path.join(fleet.source_dir, "schemas",
                                            "cleanup_task.v1.avsc"))
    it_fleet.produce(fleet.brokers, sc.topic["cleanup"], task["task_id"], [enc.encode(task)])


def expect_kept(db, what, ids):
    n = present(db, ids)
    if n != len(ids):
        fail(f"{what}: expected all {len(ids)} playbacks kept, actual {n} left "
             f"({len(ids) - n} deleted)")
    log(f"{what}: all {n} kept")


def forged_retention(fleet, client, dbs, n):
    """Scenario 1: a task with retention_days=1 over the last days."""
    sc = it_fleet.Scenario(fleet, "csafe", n, partitions=1)
    dbs.append(sc.db)
    db = client[sc.db]
    t = now_ms()
    ids = insert_playbacks(db, "recent", spread(40, t - 20 * DAY_MS, t - 2 * DAY_MS))
    w = sc.start_worker("--topics", "cleanup")
    wait_in_group(sc, w)
    key = "cleanup-forged-r1/20261101T0000"
    publish(fleet, sc, cleanup_task("cleanup-forged-r1", key, t - 20 * DAY_MS, t - 2 * DAY_MS,
                                    t - 2 * DAY_MS, 1), db)
    wait_dead_letter(fleet, sc, key, ["asks for a 1-day retention", "keeps 60 days",
                                      "nothing deleted"], db, ids)
    expect_kept(db, "playbacks of the last 20 days after a task of retention 1", ids)
    sc.stop_workers()


def worker_retention(fleet, client, dbs, n):
    """Scenario 2: a worker keeping 90 days, a task of retention 60 reaching 70 days back."""
    sc = it_fleet.Scenario(fleet, "csafe", n, partitions=1)
    dbs.append(sc.db)
    db = client[sc.db]
    t = now_ms()
    ids = insert_playbacks(db, "kept by the worker", spread(30, t - 85 * DAY_MS, t - 70 * DAY_MS))
    w = sc.start_worker("--topics", "cleanup", "--retention-days", "90")
    wait_in_group(sc, w)
    key = "cleanup-forged-r60/20260901T0000"
    publish(fleet, sc, cleanup_task("cleanup-forged-r60", key, t - 85 * DAY_MS,
                                    t - 70 * DAY_MS, t - 70 * DAY_MS, 60), db)
    wait_dead_letter(fleet, sc, key, ["asks for a 60-day retention", "keeps 90 days",
                                      "nothing deleted"], db, ids)
    expect_kept(db, "playbacks 70-85 days old after a task of retention 60", ids)
    # A task keeping more than the worker is held to its own: 100 days, range to 95 days back.
    key = "cleanup-forged-r100/20260801T0000"
    older = insert_playbacks(db, "95-99 days old", spread(10, t - 99 * DAY_MS, t - 95 * DAY_MS))
    publish(fleet, sc, cleanup_task("cleanup-forged-r100", key, t - 99 * DAY_MS,
                                    t - 95 * DAY_MS, t - 95 * DAY_MS, 100), db)
    wait_dead_letter(fleet, sc, key, ["inside the 100-day retention window", "worker 90 days",
                                      "nothing deleted"], db, older)
    expect_kept(db, "playbacks 95-99 days old after a task of retention 100", older)
    sc.stop_workers()


def faketime_preload(fleet):
    """LD_PRELOAD for a process with a faked clock: the shim (faketime_c11_shim.c: without it
    librdkafka's waits last as long as the clock is moved ahead), then libfaketime."""
    paths = sorted(glob.glob("/usr/lib/*/faketime/libfaketime.so.1") +
                   glob.glob("/usr/lib/faketime/libfaketime.so.1"))
    if not paths:
        fail("libfaketime.so.1 not found (Debian package libfaketime; deploy/local/install-deps "
             "installs it)")
    shim = os.path.join(fleet.build_dir, "tests", "integration", "libjt_faketime_c11.so")
    if not os.path.exists(shim):
        fail(f"{shim}: expected the built shim (target jt_faketime_c11), actual missing")
    return f"{shim} {paths[0]}"


def metric(worker, name):
    m = re.search(r"metrics on http://([^/\s]+)/metrics", worker.log_text())
    if not m:
        fail(f"{worker.name}: no metrics address in its log\n{worker.log_tail()}")
    body = urllib.request.urlopen(f"http://{m.group(1)}/metrics", timeout=10).read().decode()
    v = re.search(rf"^{name} (\S+)$", body, re.M)
    return float(v.group(1)) if v else None


def clock_skew(fleet, client, dbs, n):
    """Scenario 3: a worker 10 days ahead."""
    sc = it_fleet.Scenario(fleet, "csafe", n, partitions=1)
    dbs.append(sc.db)
    db = client[sc.db]
    t = now_ms()
    inside = insert_playbacks(db, "inside the real retention",
                              spread(30, t - 59 * DAY_MS, t - 51 * DAY_MS))
    argv = [fleet.worker_path, "--group", sc.group, *sc.target_args(), "--topics", "cleanup",
            "--max-attempts", "4", "--retry-backoff-ms", "200"]
    w = fleet.start("worker +10d", argv, env={
        "LD_PRELOAD": faketime_preload(fleet), "FAKETIME": "+10d",
        "FAKETIME_DONT_FAKE_MONOTONIC": "1"})
    sc.workers.append(w)
    wait_in_group(sc, w)
    # What a producer with the same clock sends: cutoff = (now + 10 d) - 60 d.
    key = "cleanup-skewed/20261001T0000"
    publish(fleet, sc, cleanup_task("cleanup-skewed", key, t - 60 * DAY_MS, t - 50 * DAY_MS,
                                    t - 50 * DAY_MS, 60), db)
    wait_dead_letter(fleet, sc, key, ["differs from the database server's", "--max-clock-skew",
                                      "nothing deleted"], db, inside)
    expect_kept(db, "playbacks 51-59 days old (inside the 60-day retention by the server's "
                "clock) after a worker 10 days ahead", inside)
    if "clock skew: this host's clock" not in w.log_text():
        fail(f"{w.name}: expected an error line about the clock skew at start, actual log:\n"
             f"{w.log_tail()}")
    skew = metric(w, "joytify_clock_skew_seconds")
    if skew is None or skew < 9 * 86400:
        fail(f"joytify_clock_skew_seconds: expected about 864000 (10 days), actual {skew}")
    log(f"joytify_clock_skew_seconds {skew}")
    sc.stop_workers()


def odd_dates(fleet, client, dbs, n):
    """Scenario 4: odd createdAt values and a real cleanup job."""
    sc = it_fleet.Scenario(fleet, "csafe", n, partitions=2)
    dbs.append(sc.db)
    db = client[sc.db]
    t = now_ms()
    cutoff = t - 60 * DAY_MS
    gone, kept = [], []
    year1, epoch, year9999 = -62135596800000, 0, 253402300799000
    gone += insert_playbacks(db, "0001-01-01", [year1, year1 + 1])
    gone += insert_playbacks(db, "1970-01-01", [epoch, epoch, epoch + 1])
    gone += insert_playbacks(db, "old", spread(40, cutoff - 5 * DAY_MS, cutoff - 1000))
    kept += insert_playbacks(db, "recent", spread(20, cutoff + DAY_MS, t - 1000))
    kept += insert_playbacks(db, "9999-12-31", [year9999])
    for label, when, bucket in (("INT64_MIN", -2**63, gone), ("INT64_MIN+1", -2**63 + 1, gone),
                                ("INT64_MAX", 2**63 - 1, kept)):
        try:
            bucket += insert_playbacks(db, label, [when])
        except Exception as e:  # noqa: BLE001 (the server's refusal, whatever its class)
            log(f"{label}: the server refuses to store it ({str(e)[:80]}): not in this run")
    odd = [{"label": "missing"}, {"label": "null", "createdAt": None},
           {"label": "string", "createdAt": "2001-01-01T00:00:00Z"},
           {"label": "number", "createdAt": 5}, {"label": "long", "createdAt": bson.Int64(-5)},
           {"label": "double", "createdAt": 1.5}, {"label": "bool", "createdAt": False}]
    for d in odd:
        d["_id"] = ObjectId()
    db.playbacks.insert_many(odd)
    kept += [d["_id"] for d in odd]

    w = sc.start_worker("--topics", "cleanup")
    wait_in_group(sc, w)
    rc, out = sc.producer("cleanup", "--range-hours", "24", "--batch-delay-ms", "0",
                          timeout_s=120)
    if rc != 0:
        fail(f"joytify-producer cleanup: expected exit 0, actual {rc}\n{out}")
    m = re.search(r"job (cleanup-\S+)", out) or re.search(r"(cleanup-\d{4}-\d\d-\d\dT\d{4}Z)", out)
    job_id = m.group(1) if m else None

    def finished():
        sc.expect_workers_alive()
        jobs = list(db.jobs.find({"kind": "cleanup"}))
        bad = [j for j in jobs if j.get("state") == "failed"]
        if bad:
            fail(f"cleanup job failed: {[(j['_id'], j.get('error')) for j in bad]}\n"
                 f"{fleet.logs()}")
        return jobs if jobs and all(j.get("state") == "finished" for j in jobs) else None

    jobs = wait_until(f"cleanup job {job_id} finished", finished, WAIT_S * 2,
                      on_timeout=lambda: fleet.logs())
    for j in jobs:
        size = len(bson.encode(j))
        log(f"ledger {j['_id']}: {j.get('tasksTotal')} tasks, {size} bytes")
        if j.get("tasksTotal", 0) > 400 or size > 1024 * 1024:
            fail(f"ledger entry {j['_id']}: expected at most 400 tasks and 1 MB, actual "
                 f"{j.get('tasksTotal')} tasks, {size} bytes")
    left = present(db, gone)
    if left:
        labels = sorted({d["label"] for d in db.playbacks.find({"_id": {"$in": gone}})})
        fail(f"dated playbacks older than the cutoff: expected all {len(gone)} deleted, actual "
             f"{left} left ({labels})")
    log(f"all {len(gone)} dated playbacks older than the cutoff deleted")
    expect_kept(db, "recent playbacks, 9999-12-31 and those without a date", kept)
    dead = dlq(fleet, sc)
    if dead:
        fail(f"DLQ: expected empty, actual {dead}")
    sc.stop_workers()


SCENARIOS = {1: forged_retention, 2: worker_retention, 3: clock_skew, 4: odd_dates}


def main():
    return it_safety.run_scenarios("worker_cleanup_safety_it", SCENARIOS,
                                   lambda i: SCENARIOS[i].__doc__.strip(),
                                   datetime_conversion="DATETIME_MS")


if __name__ == "__main__":
    sys.exit(main())
