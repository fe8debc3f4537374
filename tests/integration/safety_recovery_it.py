#!/usr/bin/env python3
"""Every job ends, and a failed job can be finished (issue 13 item 4), on the real stack: the
built joytify-producer, joytify-worker and joytify-notifier (writing its messages to a file).

Clean run: a month of playbacks (MonthData) in one database; `stats` with 4 ranges and one
worker: finished; its final state is kept (every user's stats entries, every user's
notifications, the notification documents, the chained cleanup job).
Broken run: the same data in a second database, except that one user's stats document holds a
`stats` field that is not an array (data the worker must not overwrite). Its shard fails for
good: the job is marked failed in the ledger with the reason, one JOB_FAILED is sent and the
notifier posts the failure message, the shard is in the DLQ. The operator then repairs the
document and runs `joytify-producer replay --dlq --filter-job JOB`: the replayed shard re-opens
the job, records its result, the job finalizes once (one notification document, each opted-in
user once, one chained cleanup job, one JOB_FINISHED) and the notifier posts the success. The
final state equals the clean run's; the ledger keeps the failure (failures 1, reopens 1).
Broken run 2: the same, with the failure in the job's FINALIZE instead (one opted-in user's
`notifications` is not an array, so adding the notification is refused until it is repaired):
the FINALIZE spends its attempts, fails the job, and its replay finishes it the same way.

Usage: safety_recovery_it.py [--only shard,finalize]
"""

import argparse
import os
import sys

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import it_fleet  # noqa: E402

it_fleet.require_venv(__file__)

import it_notifier  # noqa: E402
import it_safety as S  # noqa: E402
from it_fleet import PREVIOUS_MONTH_RETENTION, Scenario, fail, log, wait_until  # noqa: E402
from it_stats import canonical, db_handle, report  # noqa: E402

RETENTION = "75"


def final_state(db):
    users = {str(u["_id"]): canonical(u.get("notifications")) for u in db.users.find({})}
    stats = {str(d["user"]): canonical(d.get("stats")) for d in db.stats.find({})}
    notes = sorted((str(d["_id"]), d.get("type")) for d in db.notifications.find({}))
    cleanups = sorted(c["_id"].split("-")[0] for c in db.jobs.find({"kind": "cleanup"}))
    return {"users": users, "stats": stats, "notifications": notes, "cleanups": cleanups}


def run_clean(fleet, client, dbs, data):
    sc = Scenario(fleet, "recover", 1)
    dbs.append(sc.db)
    db = db_handle(client, sc.db)
    data.load(db)
    job = S.job_id_stats(data.year, data.month)
    sc.start_worker("--retention-days", RETENTION)
    rc, _ = sc.producer("stats", "--month", data.label, "--users-per-task", "8", *PREVIOUS_MONTH_RETENTION)
    if rc != 0:
        fail(f"clean run: producer exit {rc}")
    entry = S.wait_state(db, job, ("finished", "failed"), 90, fleet)
    if entry["state"] != "finished":
        fail(f"clean run: expected finished, actual {entry['state']}: {entry.get('lastFailure')}")
    problems = S.notification_problems(data, db, job)
    report(problems, "clean run: finished, everyone notified once")
    sc.stop_workers()
    # Stats documents are compared by user: the ids are the same data's.
    return final_state(db)


def run_broken(fleet, client, dbs, data, clean, where, n):
    """where: "shard" (a stats document the shard must not overwrite) or "finalize" (a user
    document the FINALIZE cannot add the notification to)."""
    sc = Scenario(fleet, "recover", n)
    dbs.append(sc.db)
    db = db_handle(client, sc.db)
    data.load(db)
    job = S.job_id_stats(data.year, data.month)
    victim = data.users[3]["_id"]
    if victim not in data.opted_in:
        fail("test bug: the victim must be opted in")
    if where == "shard":
        db.stats.update_one({"user": victim}, {"$set": {"stats": "not an array"}})
    else:
        db.users.update_one({"_id": victim}, {"$set": {"notifications": "not an array"}})
    sink = os.path.join(fleet.logdir, f"messages-{where}.md")
    notifier = it_notifier.start_notifier(fleet, sc, "--sink", sink)
    sc.start_worker("--retention-days", RETENTION, "--max-attempts", "2")
    rc, _ = sc.producer("stats", "--month", data.label, "--users-per-task", "8", *PREVIOUS_MONTH_RETENTION)
    if rc != 0:
        fail(f"broken run ({where}): producer exit {rc}")
    entry = S.wait_state(db, job, ("finished", "failed"), 90, fleet)
    problems = []
    reason = (entry.get("lastFailure") or {}).get("reason", "")
    if entry["state"] != "failed" or (where == "shard" and str(victim) not in reason):
        fail(f"broken run ({where}): expected the job failed with the reason, actual "
             f"{entry['state']}: {entry.get('lastFailure')}")
    wait_until("the task in the DLQ", lambda: S.dead_letters(fleet, sc), 30)
    wait_until("the failure posted", lambda: os.path.exists(sink) and
               "Monthly Statistics Processing Failed" in open(sink, encoding="utf-8").read(), 30,
               on_timeout=lambda: fleet.logs([notifier]))
    failed = S.events(fleet, sc, job, "JOB_FAILED")
    if len(failed) != 1:
        problems.append(f"JOB_FAILED: expected 1, actual {len(failed)}")
    elif not isinstance(failed[0].get("execution_ms"), int) or failed[0]["execution_ms"] < 0:
        # Issue 16 item 6: the failure carries its execution time, as the original's did.
        problems.append("JOB_FAILED execution_ms: expected the time from the job's creation to "
                        f"its failure, actual {failed[0].get('execution_ms')!r}")
    elif "⏱️ **Execution Time**" not in open(sink, encoding="utf-8").read():
        problems.append("the failure message: expected its Execution Time line, actual none")
    if where == "shard" and db.stats.find_one({"user": victim})["stats"] != "not an array":
        problems.append("the non-array stats field was overwritten")
    report(problems, f"broken run ({where}): the task failed for good, the job failed with the "
           "reason, JOB_FAILED once, the failure posted, the bad document untouched")

    # The operator repairs the document, then replays the job's dead letters.
    if where == "shard":
        db.stats.update_one({"user": victim}, {"$set": {"stats": []}})
    else:
        db.users.update_one({"_id": victim}, {"$set": {"notifications": []}})
    rc, out = fleet.run("joytify-producer replay",
                        [fleet.producer_path, "replay", "--dlq", "--filter-job", job,
                         "--dlq-topic", sc.topic["dlq"], "--brokers", fleet.brokers])
    if rc != 0 or "re-sent 1" not in out:
        fail(f"replay --dlq: expected exit 0 and 're-sent 1', actual {rc}: {out}")
    entry = S.wait_state(db, job, ("finished",), 90, fleet)
    wait_until("the success posted", lambda: "Monthly Statistics Processed Successfully" in
               open(sink, encoding="utf-8").read(), 30, on_timeout=lambda: fleet.logs([notifier]))
    wait_until("the chained cleanup job", lambda: db.jobs.count_documents({"kind": "cleanup"}),
               30)
    problems = S.notification_problems(data, db, job)
    got = final_state(db)
    for k in ("users", "stats", "notifications", "cleanups"):
        if got[k] != clean[k]:
            diff = [u for u in set(got[k]) | set(clean[k])
                    if (got[k].get(u) if isinstance(got[k], dict) else None) !=
                    (clean[k].get(u) if isinstance(clean[k], dict) else None)] \
                if isinstance(got[k], dict) else (got[k], clean[k])
            problems.append(f"final {k}: expected the clean run's, actual differs ({diff})")
    if len(S.events(fleet, sc, job, "JOB_FINISHED")) != 1:
        problems.append("JOB_FINISHED: expected exactly 1")
    if entry.get("failures") != 1 or entry.get("reopens") != 1:
        problems.append(f"ledger: expected failures 1 and reopens 1, actual "
                        f"{entry.get('failures')} and {entry.get('reopens')}")
    text = open(sink, encoding="utf-8").read()
    if text.count("Monthly Statistics Processing Failed") != 1 or \
            text.count("Monthly Statistics Processed Successfully") != 1:
        problems.append(f"notifier: expected one failure and one success message, actual:\n"
                        f"{text[:2000]}")
    report(problems, f"broken run ({where}), after the repair and `replay --dlq --filter-job`: "
           "re-opened, finished once, the clean run's final state, the success posted")
    sc.stop_workers()
    notifier.stop()


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--only", default="shard,finalize", help="broken runs: shard, finalize")
    args = ap.parse_args()

    def body(fleet, client, dbs):
        year, month = S.previous_month()
        clean = run_clean(fleet, client, dbs, S.MonthData(year, month, users=30))
        for n, where in enumerate(args.only.split(","), start=2):
            run_broken(fleet, client, dbs, S.MonthData(year, month, users=30), clean,
                       where.strip(), n)
        log("all scenarios passed")

    return it_fleet.run_main("safety_recovery_it", body)


if __name__ == "__main__":
    sys.exit(main())
