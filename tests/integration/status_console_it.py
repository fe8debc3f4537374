#!/usr/bin/env python3
"""The operator's console on the command line (issue 18 items 1 and 3) against the real stack:
the built joytify-producer and joytify-worker.

1. status: a real statistics job sent with no worker running (running 0/3, its 3 tasks shown
   as lag on the task topic from the broker's offsets, the group empty), plus ledger entries
   written the way producer and worker write them: finished, finalizing (with its finalize
   claim), failed (with its reason) and stuck (running, no progress for 2 h). Exit codes: 0
   with only healthy jobs, 1 with a failed or a stuck job (--job picks one), 2 for an unknown
   --job and a bad --since, 75 for an unreachable broker (the message names it). --json is parsed and
   every figure checked; the text table shows the failure reason. Then a worker runs the job
   to its end: finished 3/3, lag 0, the worker listed as a member while it runs.
2. DLQ: three undecodable tasks of three jobs a, b, c, dead-lettered by a real worker into one
   DLQ partition. `replay --dlq --list [--json] [--filter-job]` decodes them (job, key, kind,
   error, attempts, original topic, partition and offset, headers) and moves nothing; b is
   discarded and c re-sent by partition and offset (its copy lands on the task topic), both
   show as handled, a second try of c is a no-op, and a full `replay --dlq` re-sends a only
   (b and c, past its place, are skipped by their marks); status counts no pending dead
   letter. An offset the DLQ does not hold: exit 2.

Usage: status_console_it.py [--only 1,2]
"""

import json
import os
import sys
import time

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import it_fleet  # noqa: E402

it_fleet.require_venv(__file__)

from bson import ObjectId  # noqa: E402
from bson.datetime_ms import DatetimeMS  # noqa: E402

import it_safety as S  # noqa: E402
from it_fleet import PREVIOUS_MONTH_RETENTION, Scenario, fail, log, read_topic, wait_until  # noqa: E402
from it_stats import db_handle  # noqa: E402

HOUR_MS = 3600 * 1000


def expect(what, expected, actual):
    if expected != actual:
        fail(f"{what}: expected {expected!r}, actual {actual!r}")


def status(sc, *args):
    return sc.producer("status", "--group", sc.group, *args, timeout_s=90)


def status_json(sc, *args, rc_expected=0):
    rc, out = status(sc, "--json", *args)
    expect(f"status --json {' '.join(args)}: exit code", rc_expected, rc)
    start = out.find("{")
    if start < 0:
        fail(f"status --json printed no JSON:\n{out}")
    try:
        return json.JSONDecoder().raw_decode(out[start:])[0]
    except ValueError as e:
        fail(f"status --json: not JSON ({e}):\n{out}")


def ledger_entry(job_id, state, now, **extra):
    """An entry as jt_jobs_claim and the worker leave it (taskIds and params as small as allowed)."""
    doc = {"_id": job_id, "kind": "cleanup", "testMode": False, "runNonce": "0" * 32,
           "params": {"cutoff": DatetimeMS(now - 60 * 86400 * 1000)}, "taskIds": [f"{job_id}/0001"],
           "tasksTotal": 1, "tasksDone": 0, "state": state, "createdAt": DatetimeMS(now - 60000),
           "updatedAt": DatetimeMS(now - 30000), "tasksSentAt": DatetimeMS(now - 59000)}
    doc.update(extra)
    return doc


def write_ledger(db, stamp, now):
    finished, finalizing, failed, stuck = (f"cleanup-{n}-{stamp}" for n in
                                           ("finished", "finalizing", "failed", "stuck"))
    db.jobs.insert_many([
        ledger_entry(finished, "finished", now, tasksDone=1, finishedAt=DatetimeMS(now - 1000),
                     results={"0001": {"found": 7, "deleted": 7}}),
        ledger_entry(finalizing, "finalizing", now, tasksDone=1, finalizeBy="worker@host/42",
                     finalizeUntil=DatetimeMS(now + 120000),
                     results={"0001": {"found": 5, "deleted": 5}}),
        ledger_entry(failed, "failed", now, failedAt=DatetimeMS(now - 2000), failures=1,
                     lastFailure={"reason": "stats field of user 64 is not an array",
                                  "task": f"{failed}/0001", "at": DatetimeMS(now - 2000)},
                     progress={"0001": {"resumeFrom": DatetimeMS(now), "deleted": 3}}),
        ledger_entry(stuck, "running", now - 2 * HOUR_MS,
                     progressAt=DatetimeMS(now - 2 * HOUR_MS)),
    ])
    return finished, finalizing, failed, stuck


def check_jobs(view, stats_job, names):
    finished, finalizing, failed, stuck = names
    jobs = {j["id"]: j for j in view["jobs"]}
    for job in (stats_job, *names):
        if job not in jobs:
            fail(f"status --json: expected job {job}, actual {sorted(jobs)}")
    s = jobs[stats_job]
    expect("stats job state/tasks", ("running", 0, 3, False),
           (s["state"], s["tasksDone"], s["tasksTotal"], s["stuck"]))
    expect("finished job", ("finished", 7, "playbacks deleted"),
           (jobs[finished]["state"], jobs[finished]["records"], jobs[finished]["recordsUnit"]))
    expect("finalizing job's finalize claim", ("finalizing", "worker@host/42"),
           (jobs[finalizing]["state"], (jobs[finalizing]["finalize"] or {}).get("by")))
    f = jobs[failed]
    expect("failed job", ("failed", 1, "stats field of user 64 is not an array", 3),
           (f["state"], f["failures"], (f["lastFailure"] or {}).get("reason"), f["records"]))
    expect("stuck job", ("running", True), (jobs[stuck]["state"], jobs[stuck]["stuck"]))
    expect("failed and stuck counts", (1, 1), (view["failed"], view["stuck"]))


def check_lag(view, sc, tasks):
    rows = [r for r in view["lag"] if r["topic"] == sc.topic["stats"]]
    expect("lag rows of the stats topic (one per partition)", sc.partitions, len(rows))
    expect("lag of the stats topic with no worker (every task)", tasks,
           sum(r["lag"] for r in rows))
    expect("committed offsets with no worker ever", [None] * sc.partitions,
           [r["committed"] for r in rows])
    expect("group members with no worker", [], view["group"]["members"])
    if len(view["schedules"]) != 2 or not all(len(s["next"]) == 3 for s in view["schedules"]):
        fail(f"schedules: expected stats and cleanup with 3 fire times each, actual "
             f"{view['schedules']}")


def exit_codes(sc, fleet, names):
    finished, _, failed, stuck = names
    expect("status --job (finished) exit", 0, status(sc, "--job", finished)[0])
    expect("status --job (failed) exit", 1, status(sc, "--job", failed)[0])
    expect("status --job (stuck) exit", 1, status(sc, "--job", stuck)[0])
    expect("status --job (stuck) --stuck-after 3h exit", 0,
           status(sc, "--job", stuck, "--stuck-after", "3h")[0])
    rc, out = status(sc, "--job", "no-such-job")
    expect("status --job (unknown) exit", 2, rc)
    if "no ledger entry" not in out:
        fail(f"status --job no-such-job: expected 'no ledger entry', actual:\n{out}")
    expect("status --since 5x exit", 2, status(sc, "--since", "5x")[0])
    rc, out = status(sc, "--brokers", "127.0.0.1:9", "--kafka-timeout", "2")
    expect("status with no broker: exit (75: ask again later)", 75, rc)
    if "cannot reach Kafka at 127.0.0.1:9" not in out:
        fail(f"status with no broker: expected 'cannot reach Kafka at 127.0.0.1:9', actual:\n{out}")
    rc, out = status(sc)
    expect("status (text) with a failed job: exit", 1, rc)
    for text in ("JOBS", "WORKERS", "LAG", "DEAD LETTERS", "SCHEDULE", "STUCK",
                 "stats field of user 64 is not an array", "finalizing: worker@host/42"):
        if text not in out:
            fail(f"status text: expected {text!r} in:\n{out}")


def scenario_status(fleet, client, dbs):
    sc = Scenario(fleet, "console", 1)
    dbs.append(sc.db)
    db = db_handle(client, sc.db)
    year, month = S.previous_month()
    db.users.insert_many([{"_id": ObjectId(), "username": f"u{i}"} for i in range(6)])
    rc, _ = sc.producer("stats", "--month", f"{year:04d}-{month:02d}", "--users-per-task", "2",
                        *PREVIOUS_MONTH_RETENTION)
    expect("producer stats exit", 0, rc)
    stats_job = S.job_id_stats(year, month)
    view = status_json(sc)
    expect("status with one running job and no worker: failed/stuck", (0, 0),
           (view["failed"], view["stuck"]))
    check_lag(view, sc, 3)
    rc, out = status(sc)
    log("status (text) with a job in progress:\n" + out)
    expect("status (text) with a running job: exit", 0, rc)
    names = write_ledger(db, it_fleet.RUN_STAMP, int(time.time() * 1000))
    check_jobs(status_json(sc, rc_expected=1), stats_job, names)
    exit_codes(sc, fleet, names)
    worker = sc.start_worker(*PREVIOUS_MONTH_RETENTION)
    S.wait_state(db, stats_job, ("finished", "failed"), 120, fleet)
    view = status_json(sc, "--job", stats_job)
    job = view["jobs"][0]
    expect("stats job after the worker ran", ("finished", 3, 3, 6),
           (job["state"], job["tasksDone"], job["tasksTotal"], job["records"]))
    wait_until("the worker's commits (lag 0)",
               lambda: status_json(sc, "--job", stats_job)["totalLag"] == 0, 60)
    # A member's assignment is empty while the group rebalances: ask until it settles.
    seen = []

    def member_holds_stats():
        seen[:] = status_json(sc, "--job", stats_job)["group"]["members"]
        return any(sc.topic["stats"] in m["partitions"] for m in seen)

    wait_until("the worker listed as a member holding the stats topic's partitions",
               member_holds_stats, 60, interval_s=1,
               on_timeout=lambda: f"members: {seen}")
    worker.stop()


def dlq_list(sc, *args):
    rc, out = sc.producer("replay", "--dlq", "--list", "--json", "--dlq-topic", sc.topic["dlq"],
                          "--stats-topic", sc.topic["stats"], *args)
    expect(f"replay --dlq --list --json {' '.join(args)}: exit", 0, rc)
    return json.JSONDecoder().raw_decode(out[out.find("{"):])[0]


def make_dead_letters(fleet, sc, jobs):
    w = S.start_assigned_worker(sc)
    for job in jobs:
        S.produce_one(fleet, sc.topic["stats"], f"{job}/0001", b"\x00not an avro task")
    wait_until(f"{len(jobs)} tasks dead-lettered",
               lambda: len(S.dead_letters(fleet, sc)) == len(jobs), 90,
               on_timeout=lambda: fleet.logs([w]))
    sc.stop_workers()


def check_listed(fleet, sc, jobs):
    listed = dlq_list(sc)
    msgs = {m["job"]: m for m in listed["messages"]}
    expect("dead letters listed by job", sorted(jobs), sorted(msgs))
    expect("dead letters in the order sent (one partition)", jobs,
           [m["job"] for m in sorted(listed["messages"], key=lambda m: m["offset"])])
    originals = {m.key.decode(): m for m in read_topic(fleet.brokers, sc.topic["stats"])}
    for job, m in msgs.items():
        orig = originals[f"{job}/0001"]
        expect(f"{job}: key, kind, handled", (f"{job}/0001", "stats", False),
               (m["key"], m["kind"], m["handled"]))
        expect(f"{job}: original topic/partition/offset",
               (sc.topic["stats"], orig.partition, orig.offset),
               (m["original"]["topic"], m["original"]["partition"], m["original"]["offset"]))
        if not m["error"] or m["attempts"] is None or "jt-error" not in m["headers"]:
            fail(f"{job}: expected an error, attempts and a jt-error header, actual {m}")
    expect("--filter-job lists one", [jobs[0]],
           [m["job"] for m in dlq_list(sc, "--filter-job", jobs[0])["messages"]])
    rc, out = sc.producer("replay", "--dlq", "--list", "--dlq-topic", sc.topic["dlq"])
    if rc != 0 or "error:" not in out or "header jt-original-topic" not in out:
        fail(f"replay --dlq --list (text): expected exit 0 with errors and headers, actual "
             f"{rc}:\n{out}")
    return msgs


def replay_one(sc, m, *extra):
    return sc.producer("replay", "--dlq", "--dlq-topic", sc.topic["dlq"], "--partition",
                       str(m["partition"]), "--offset", str(m["offset"]), *extra)


def copies(fleet, sc, job):
    return len([m for m in read_topic(fleet.brokers, sc.topic["stats"])
                if m.key == f"{job}/0001".encode()])


def scenario_dlq(fleet, client, dbs):
    """Three dead letters a, b, c in one DLQ partition: b discarded and c re-sent one by one
    leave a pending before them, so the full replay must send a and skip the two marks."""
    sc = Scenario(fleet, "console", 2, partitions=1)
    dbs.append(sc.db)
    a, b, c = jobs = [f"dlq-{n}-{it_fleet.RUN_STAMP}" for n in "abc"]
    make_dead_letters(fleet, sc, jobs)
    msgs = check_listed(fleet, sc, jobs)
    rc, out = replay_one(sc, msgs[b], "--discard")
    if rc != 0 or "discarded" not in out:
        fail(f"discard: expected exit 0 and 'discarded', actual {rc}:\n{out}")
    rc, out = replay_one(sc, msgs[c])
    if rc != 0 or "re-sent" not in out:
        fail(f"replay one: expected exit 0 and 're-sent', actual {rc}:\n{out}")
    expect("copies of c's task (original and replayed)", 2, copies(fleet, sc, c))
    expect("copies of b's task (discarded: the original only)", 1, copies(fleet, sc, b))
    expect("handled after discarding b and re-sending c", {a: False, b: True, c: True},
           {m["job"]: m["handled"] for m in dlq_list(sc)["messages"]})
    rc, out = replay_one(sc, msgs[c])
    if rc != 0 or "already handled" not in out:
        fail(f"replay one again: expected exit 0 and 'already handled', actual {rc}:\n{out}")
    rc, out = sc.producer("replay", "--dlq", "--dlq-topic", sc.topic["dlq"])
    if rc != 0 or "re-sent 1," not in out or "passed 2 replayed or discarded" not in out:
        fail(f"full replay: expected a re-sent and the 2 handled ones passed, actual "
             f"{rc}:\n{out}")
    expect("copies after the full replay (a, b, c)", (2, 1, 2),
           (copies(fleet, sc, a), copies(fleet, sc, b), copies(fleet, sc, c)))
    view = status_json(sc)
    expect("status: dead letters total and pending", (3, 0),
           (view["deadLetters"]["total"],
            sum(not m["handled"] for m in view["deadLetters"]["messages"])))
    rc, out = replay_one(sc, dict(msgs[a], offset=999))
    expect("replay one at an offset the DLQ does not hold: exit", 2, rc)


SCENARIOS = {1: scenario_status, 2: scenario_dlq}


def main():
    import argparse
    ap = argparse.ArgumentParser()
    ap.add_argument("--only", default="1,2")
    chosen = [int(x) for x in ap.parse_args().only.split(",")]

    def body(fleet, client, dbs):
        for i in chosen:
            log(f"--- scenario {i}")
            SCENARIOS[i](fleet, client, dbs)

    return it_fleet.run_main("status_console_it", body)


if __name__ == "__main__":
    sys.exit(main())
