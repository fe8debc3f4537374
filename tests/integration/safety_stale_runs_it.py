#!/usr/bin/env python3
"""Stale and forged control messages (issue 20) on the real stack: the built joytify-producer
and joytify-worker against a month of playbacks in the scenario's own database and topics.

Scenario 1 (the one seen on the local stack): an earlier run of stats-M left its 4 shard tasks
and a FINALIZE in the stats topic, unconsumed; the ledger was then dropped (what `generate
--drop` does) and the same job id run again with 10 ranges. Two workers then consume it all.
Expected: the job finishes once its own 10 ranges are done, every opted-in user with an entry
is notified exactly once, one JOB_FINISHED, one chained cleanup job whose id is the minute of
the statistics job's recorded finalizedAt, and the earlier run's 5 messages are dead letters
saying they belong to another run (the ledger counts none of them).
Scenario 2: a forged FINALIZE carrying the right run nonce (read from the ledger) for a running
job none of whose shards is done: dead-lettered as a FINALIZE of an incomplete job; the job
stays running, no notification, no JOB_FINISHED.
Scenario 4 (issue 13 item 2, the worker's side): a statistics job sent while its month was
whole, its tasks still waiting when a cleanup job cutting into the month is recorded in the
ledger (`cleanup --retention-days 7`). The worker refuses every shard on its own: the job is
marked failed with the reason, the shards are dead letters, and every stats document is byte
for byte as it was (the stored entries of the month were not recomputed from what is left).
Scenario 5: the same forged FINALIZE saying test mode for a job made for the application's
collections: refused for that reason (a task must agree with its job's testMode, month, cutoff).
Scenario 3: a cleanup task (v1, as any version of the fleet can read it) of a job missing from
the ledger, over playbacks long past retention: dead-lettered at the first attempt (jt-attempts
1) saying so, nothing deleted.
"""

import argparse
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
from it_fleet import PREVIOUS_MONTH_RETENTION, Scenario, fail, log, wait_until  # noqa: E402
from it_stats import db_handle, report  # noqa: E402

RETENTION = "75"  # > the age of the previous month's first day, so its month stays whole


def scenario_old_run_then_same_job(fleet, client, dbs):
    sc = Scenario(fleet, "stale", 1)
    dbs.append(sc.db)
    db = db_handle(client, sc.db)
    year, month = S.previous_month()
    data = S.MonthData(year, month)
    data.load(db)
    job = S.job_id_stats(year, month)

    # Run 1: tasks sent, never consumed.
    rc, out = sc.producer("stats", "--month", data.label, "--users-per-task", "10",
                          *PREVIOUS_MONTH_RETENTION)
    if rc != 0:
        fail(f"run 1: expected exit 0, actual {rc}")
    first = S.ledger(db, job)
    # Its FINALIZE, as the worker that finished it would have sent it (a v1 task when the
    # fleet had no run nonces).
    S.produce_one(fleet, sc.topic["stats"], f"{job}/finalize",
                  S.stats_task(fleet, job, "FINALIZE", data.label, int(first["createdAt"]),
                               nonce=first.get("runNonce")))
    # The dataset regenerated: the ledger dropped, the same job id run again, 10 ranges.
    db.jobs.delete_many({})
    rc, out = sc.producer("stats", "--month", data.label, "--users-per-task", "4",
                          *PREVIOUS_MONTH_RETENTION)
    if rc != 0 or "10 task(s) sent" not in out:
        fail(f"run 2: expected exit 0 and 10 tasks sent, actual {rc}: {out}")
    second = S.ledger(db, job)
    if first.get("runNonce") and first.get("runNonce") == second.get("runNonce"):
        fail(f"run nonce: expected a new one for the new ledger entry, actual the same "
             f"{second.get('runNonce')}")

    sc.start_worker("--retention-days", RETENTION)
    sc.start_worker("--retention-days", RETENTION)
    entry = S.wait_state(db, job, ("finished", "failed"), 120, fleet)
    # Let the workers drain what is left (the stale messages, the chained cleanup).
    wait_until("the stats topic consumed", lambda: sc.caught_up("stats"), 60)
    problems = []
    if entry["state"] != "finished" or entry.get("tasksDone") != 10:
        problems.append(f"ledger: expected finished with 10 tasks done, actual "
                        f"{entry['state']} with {entry.get('tasksDone')}")
    problems += S.notification_problems(data, db, job)
    finished = S.events(fleet, sc, job, "JOB_FINISHED")
    if len(finished) != 1:
        problems.append(f"JOB_FINISHED of {job}: expected 1, actual {len(finished)}")
    cleanups = list(db.jobs.find({"kind": "cleanup"}))
    fin_at = entry.get("finalizedAt")
    want_id = (time.strftime("cleanup-%Y-%m-%dT%H%MZ", time.gmtime(int(fin_at) / 1000))
               if fin_at is not None else "(no finalizedAt)")
    if [c["_id"] for c in cleanups] != [want_id]:
        problems.append(f"chained cleanup jobs: expected exactly [{want_id}] (the minute of the "
                        f"recorded finalizedAt), actual {[c['_id'] for c in cleanups]}")
    stale = [(k, h) for k, h in S.dead_letters(fleet, sc)
             if "another run" in h.get("jt-error", "")]
    if len(stale) != 5:
        problems.append(f"dead letters of the earlier run: expected 5 (4 ranges + FINALIZE) "
                        f"saying 'another run', actual {len(stale)}: "
                        f"{S.dead_letters(fleet, sc)}")
    report(problems, "an earlier run's tasks and FINALIZE, the ledger dropped, the same job run "
           "again: finished once, everyone notified once, one cleanup job")
    sc.stop_workers()


def scenario_forged_finalize(fleet, client, dbs, n=2, test_mode=False):
    """A forged FINALIZE with the run's nonce; with test_mode, it also claims its job (made for
    the application's collections) is a test-mode one."""
    sc = Scenario(fleet, "forged", n)
    dbs.append(sc.db)
    db = db_handle(client, sc.db)
    year, month = S.previous_month()
    data = S.MonthData(year, month, users=10)
    data.load(db)
    job = S.job_id_stats(year, month)
    # The job's tasks go to a topic no worker reads: the job stays incomplete.
    parked = sc.target_args()
    parked[parked.index("--stats-topic") + 1] = sc.topic["stats"] + ".parked"
    rc, out = fleet.run("joytify-producer stats",
                        [fleet.producer_path, "stats", "--month", data.label, "--users-per-task", "4",
                         *PREVIOUS_MONTH_RETENTION, *parked])
    if rc != 0:
        fail(f"producer: expected exit 0, actual {rc}")
    entry = S.ledger(db, job)
    S.start_assigned_worker(sc, "--retention-days", RETENTION)  # it creates the topics
    S.produce_one(fleet, sc.topic["stats"], f"{job}/finalize",
                  S.stats_task(fleet, job, "FINALIZE", data.label, int(entry["createdAt"]),
                               nonce=entry.get("runNonce"), test_mode=test_mode))
    wait_until("the forged FINALIZE handled", lambda: sc.caught_up("stats"), 60,
               on_timeout=fleet.logs)
    after = S.ledger(db, job)
    problems = []
    if after["state"] != "running":
        problems.append(f"ledger state: expected running, actual {after['state']}")
    for coll in ("notifications", "test-notifications"):
        if db[coll].count_documents({}) != 0:
            problems.append(f"{coll}: expected none, actual {db[coll].count_documents({})}")
    if S.events(fleet, sc, job, "JOB_FINISHED"):
        problems.append("JOB_FINISHED: expected none, actual some")
    dl = S.dead_letters(fleet, sc)
    want = "test mode on, its job was made with off" if test_mode else "tasks done"
    if len(dl) != 1 or want not in dl[0][1].get("jt-error", ""):
        problems.append(f"DLQ: expected the FINALIZE with a reason saying {want!r}, actual {dl}")
    report(problems, "a forged FINALIZE (right nonce" + (", test mode flipped" if test_mode
                                                          else "") +
           ") of a running job finalizes nothing")
    sc.stop_workers()


def scenario_cleanup_of_unknown_job(fleet, client, dbs):
    sc = Scenario(fleet, "unknown", 3)
    dbs.append(sc.db)
    db = db_handle(client, sc.db)
    now = int(time.time() * 1000)
    old = [{"user": ObjectId(), "song": ObjectId(), "artist": ObjectId(), "state": "completed",
            "duration": 60, "createdAt": DatetimeMS(now - (100 + i % 5) * S.DAY_MS)}
           for i in range(50)]
    db.playbacks.insert_many(old)
    job = "cleanup-2026-01-05T0400Z"
    S.start_assigned_worker(sc)  # it creates the topics
    S.produce_one(fleet, sc.topic["cleanup"], f"{job}/20260101T0000",
                  S.cleanup_task(fleet, job, f"{job}/20260101T0000", now - 120 * S.DAY_MS,
                                 now - 90 * S.DAY_MS, now - 90 * S.DAY_MS))
    wait_until("the task dead-lettered", lambda: S.dead_letters(fleet, sc), 60,
               on_timeout=fleet.logs)
    dl = S.dead_letters(fleet, sc)
    problems = []
    left = db.playbacks.count_documents({})
    if left != 50:
        problems.append(f"playbacks: expected all 50 kept, actual {left}")
    if len(dl) != 1 or dl[0][1].get("jt-attempts") != "1" or \
            "no ledger entry" not in dl[0][1].get("jt-error", ""):
        problems.append(f"DLQ: expected the task at its first attempt with 'no ledger entry', "
                        f"actual {dl}")
    report(problems, "a cleanup task of a job missing from the ledger deletes nothing")
    sc.stop_workers()


def scenario_month_cut_since(fleet, client, dbs):
    from bson import BSON
    sc = Scenario(fleet, "cut", 4)
    dbs.append(sc.db)
    db = db_handle(client, sc.db)
    year, month = S.previous_month()
    data = S.MonthData(year, month, users=12)
    # The app's own entries of the month, as it keeps them incrementally.
    for st in data.stats:
        st["stats"] = [{"summary": {"month": month, "year": year, "totalDuration": 999.0},
                        "createdAt": S.DatetimeMS(data.start + 3 * S.DAY_MS)}]
    data.load(db)
    job = S.job_id_stats(year, month)
    rc, out = sc.producer("stats", "--month", data.label, "--users-per-task", "4",
                          *PREVIOUS_MONTH_RETENTION)
    if rc != 0:
        fail(f"producer stats: expected exit 0 (the month is whole now), actual {rc}: {out}")
    # A cleanup job recorded in the ledger with a cutoff inside the month (its tasks are not
    # run here: the ledger saying it may have run is enough).
    rc, out = sc.producer("cleanup", "--retention-days", "7")
    if rc != 0:
        fail(f"producer cleanup --retention-days 7: expected exit 0, actual {rc}: {out}")
    before = {str(d["user"]): BSON.encode(d) for d in db.stats.find({})}
    S.start_assigned_worker(sc, "--topics", "stats", "--retention-days", RETENTION)
    entry = S.wait_state(db, job, ("finished", "failed"), 60, fleet)
    wait_until("the stats topic consumed", lambda: sc.caught_up("stats"), 60)
    problems = []
    if entry["state"] != "failed" or "cutoff" not in (entry.get("lastFailure") or {}).get(
            "reason", ""):
        problems.append(f"ledger: expected failed with a reason naming the cleanup cutoff, "
                        f"actual {entry['state']}: {entry.get('lastFailure')}")
    after = {str(d["user"]): BSON.encode(d) for d in db.stats.find({})}
    changed = [u for u in before if after.get(u) != before[u]]
    if changed or set(after) != set(before):
        problems.append(f"stats documents: expected byte for byte as before, actual "
                        f"{len(changed)} changed")
    dl = [h for _, h in S.dead_letters(fleet, sc)]
    if len(dl) != 3 or not all("no entry written" in h.get("jt-error", "") for h in dl):
        problems.append(f"DLQ: expected the 3 ranges refused ('no entry written'), actual {dl}")
    if len(S.events(fleet, sc, job, "JOB_FAILED")) != 1:
        problems.append("JOB_FAILED: expected exactly 1")
    report(problems, "shards of a month a recorded cleanup cut into since: refused by the "
           "worker, the job failed, every stats document byte for byte as it was")
    sc.stop_workers()


SCENARIOS = {1: scenario_old_run_then_same_job, 2: scenario_forged_finalize,
             3: scenario_cleanup_of_unknown_job, 4: scenario_month_cut_since,
             5: lambda f, c, d: scenario_forged_finalize(f, c, d, n=5, test_mode=True)}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--only", default="2,5,3,4,1", help="scenarios to run, e.g. 1,3")
    args = ap.parse_args()

    def body(fleet, client, dbs):
        for n in [int(x) for x in args.only.split(",") if x.strip()]:
            SCENARIOS[n](fleet, client, dbs)
        log("all scenarios passed")

    return it_fleet.run_main("safety_stale_runs_it", body)


if __name__ == "__main__":
    sys.exit(main())
