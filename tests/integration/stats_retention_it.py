#!/usr/bin/env python3
"""Statistics are never recomputed from partial data: the producer side.

A cleanup deletes every playback before its cutoff. A statistics job for a month that starts
before now - retention, or before the cutoff of a cleanup job in the ledger, would replace the
stored entries with figures from what is left, so the built joytify-producer refuses it: exit 2,
the reason on stderr (the month, the bound or cutoff, the cleanup job), no ledger entry, no task
on the topic. Checked for a month three months back, for the previous month once a real
`joytify-producer cleanup --retention-days 7` is in the ledger (also with --run-id, and on a dry
run), while the previous month without such a cleanup is accepted, a cleanup of the other mode
(test mode) does not count, and the scheduler's stats fire for an old month sends nothing and
logs why.

Runs under the project venv (pymongo): see it_fleet.require_venv. Exit 0 when everything holds.
"""

import calendar
import json
import os
import subprocess
import sys
import time

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import it_fleet  # noqa: E402

it_fleet.require_venv(__file__)

from it_fleet import fail, log, wait_until  # noqa: E402

DAY_MS = 24 * 3600 * 1000
SHARDS = 3


def month_back(n):
    """("YYYY-MM", start in ms) of the month n months before the current UTC month."""
    t = time.gmtime()
    y, m = t.tm_year, t.tm_mon - n
    while m < 1:
        y, m = y - 1, m + 12
    return f"{y:04d}-{m:02d}", calendar.timegm((y, m, 1, 0, 0, 0)) * 1000


def topic_messages(fleet, topic):
    """Every message of topic; [] when the topic does not exist (nothing was ever sent)."""
    r = subprocess.run(["kcat", "-L", "-J", "-b", fleet.brokers, "-t", topic],
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=30)
    if r.returncode != 0:
        fail(f"kcat -L -t {topic}: exit {r.returncode}: {r.stderr.decode('utf-8', 'replace')}")
    meta = json.loads(r.stdout)
    if not any(t["topic"] == topic and not t.get("error") for t in meta.get("topics", [])):
        return []
    return it_fleet.read_topic(fleet.brokers, topic)


def expect_refused(sc, db, args, want_texts, what):
    """joytify-producer ARGS exits 2 naming want_texts, writes no stats ledger entry and sends no
    task."""
    jobs_before = sorted(j["_id"] for j in db.jobs.find({"kind": "stats"}, {"_id": 1}))
    tasks_before = len(topic_messages(sc.fleet, sc.topic["stats"]))
    rc, out = sc.producer(*args)
    if rc != 2:
        fail(f"{what}: expected exit 2 (refused), actual {rc}\n{out}")
    for text in ["refused", *want_texts]:
        if text not in out:
            fail(f"{what}: expected the reason to name \"{text}\", actual output:\n{out}")
    jobs_after = sorted(j["_id"] for j in db.jobs.find({"kind": "stats"}, {"_id": 1}))
    if jobs_after != jobs_before:
        fail(f"{what}: expected no new stats ledger entry, actual {jobs_before} -> {jobs_after}")
    tasks_after = len(topic_messages(sc.fleet, sc.topic["stats"]))
    if tasks_after != tasks_before:
        fail(f"{what}: expected no task sent, actual {tasks_after - tasks_before} new task(s) on "
             f"{sc.topic['stats']}")
    log(f"ok   {what}: refused, nothing written or sent")


def old_month_is_refused(fleet, client, dbs):
    sc = it_fleet.Scenario(fleet, "retention", 1)
    dbs.append(sc.db)
    db = client[sc.db]
    month, start = month_back(3)
    expect_refused(sc, db, ["stats", "--month", month, "--shards", str(SHARDS)],
                   [f"month {month}", "60 days of retention"], f"stats --month {month}")
    expect_refused(sc, db, ["stats", "--month", month, "--shards", str(SHARDS), "--run-id", "r2"],
                   [f"month {month}"], f"stats --month {month} --run-id r2")
    expect_refused(sc, db, ["stats", "--month", month, "--shards", str(SHARDS), "--dry-run"],
                   [f"month {month}"], f"stats --month {month} --dry-run")


def month_after_a_cleanup_is_refused(fleet, client, dbs):
    sc = it_fleet.Scenario(fleet, "retention", 2)
    dbs.append(sc.db)
    db = client[sc.db]
    month, start = month_back(1)
    # The previous month starts up to 62 days back: keep the retention bound out of the way on
    # the last days of a long month, so that only the ledger decides below.
    keep = [] if start >= time.time() * 1000 - 59 * DAY_MS else ["--retention-days", "70"]
    # One range per user (issue 14: ranges of user ids, not hash shards): SHARDS tasks.
    db.users.insert_many([{"name": f"user {i}"} for i in range(SHARDS)])
    base = ["stats", "--month", month, "--users-per-task", "1", *keep]

    rc, out = sc.producer(*base)
    if rc != 0:
        fail(f"stats --month {month} with no cleanup in the ledger: expected exit 0, actual {rc}"
             f"\n{out}")
    sent = len(topic_messages(fleet, sc.topic["stats"]))
    if sent != SHARDS or not db.jobs.find_one({"_id": f"stats-{month}"}):
        fail(f"stats --month {month}: expected {SHARDS} tasks and a ledger entry, actual {sent} "
             f"task(s), entry {db.jobs.find_one({'_id': f'stats-{month}'})}")
    log(f"ok   stats --month {month} accepted while no cleanup reaches into it")

    rc, out = sc.producer("cleanup", "--retention-days", "7")
    if rc != 0:
        fail(f"cleanup --retention-days 7: expected exit 0, actual {rc}\n{out}")
    cleanup = db.jobs.find_one({"kind": "cleanup"})
    if not cleanup or cleanup["params"]["cutoff"].timestamp() * 1000 <= start:
        fail(f"expected a cleanup ledger entry with a cutoff after {month} starts, actual "
             f"{cleanup}")
    cutoff_iso = cleanup["params"]["cutoff"].strftime("%Y-%m-%dT%H:%M")
    names = [f"month {month}", cleanup["_id"], cutoff_iso]
    expect_refused(sc, db, [*base, "--run-id", "again"], names,
                   f"stats --month {month} --run-id again after {cleanup['_id']}")
    expect_refused(sc, db, base, names, f"stats --month {month} again after {cleanup['_id']}")
    expect_refused(sc, db, [*base, "--dry-run"], names, f"stats --month {month} --dry-run")

    # The cleanup deleted live playbacks only: the test-mode month is still whole.
    rc, out = sc.producer(*base, "--test-mode")
    if rc != 0 or not db.jobs.find_one({"_id": f"test-stats-{month}"}):
        fail(f"stats --month {month} --test-mode after a live cleanup: expected exit 0 and a "
             f"ledger entry, actual {rc}\n{out}")
    log(f"ok   stats --month {month} --test-mode accepted: a live cleanup does not count")


def scheduler_skips_an_old_month(fleet, client, dbs):
    sc = it_fleet.Scenario(fleet, "retention", 3)
    dbs.append(sc.db)
    db = client[sc.db]
    month, _ = month_back(4)
    fire = month_back(3)[0] + "-01T02:00:00Z"
    argv = [fleet.producer_path, "schedule", *sc.target_args(), "--clock",
            month_back(3)[0] + "-01T03:00Z", "--cleanup-cron", "0 4 1 1 *",
            "--shards", str(SHARDS)]
    sched = fleet.start("joytify-producer schedule", argv)
    try:
        wait_until("the scheduler's stats fire to be refused (or sent)",
                   lambda: ("not retried" in sched.log_text() or not sched.running()
                            or db.jobs.find_one({"kind": "stats"})), 60,
                   on_timeout=lambda: sched.log_tail())
        time.sleep(1)  # a second fire would come within the next 100 ms loops
    finally:
        sched.stop()
    out = sched.log_text()
    for text in [f"stats schedule fires for {fire}", f"month {month}", "refused", "not retried"]:
        if text not in out:
            fail(f"scheduler: expected its log to say \"{text}\", actual:\n{out}")
    if out.count("refused, nothing sent") != 1:
        fail(f"scheduler: expected the old month refused once (not retried), actual "
             f"{out.count('refused, nothing sent')} times\n{out}")
    if db.jobs.find_one({"kind": "stats"}) or topic_messages(fleet, sc.topic["stats"]):
        fail("scheduler: expected no stats ledger entry and no task for the old month, actual "
             f"{db.jobs.find_one({'kind': 'stats'})}")
    log(f"ok   scheduler fire {fire} for {month}: refused, logged, nothing sent")


def body(fleet, client, dbs):
    old_month_is_refused(fleet, client, dbs)
    month_after_a_cleanup_is_refused(fleet, client, dbs)
    scheduler_skips_an_old_month(fleet, client, dbs)


def main():
    return it_fleet.run_main("stats_retention_it", body)


if __name__ == "__main__":
    sys.exit(main())
