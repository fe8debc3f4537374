#!/usr/bin/env python3
"""The month's notification as the original made it, on the real stack: the built
joytify-producer emits `stats --month M --users-per-task 4` (several ranges) for the previous
complete month, a joytify-worker runs it and its chained cleanup, and the notifications
collection, every user's `notifications` array and the job's JOB_FINISHED are compared with
what the original Lambda would have left. Each scenario has its own database, topics and group.

Scenario 1 (no entries): users, some opted in, with playbacks and stored entries of other months
only: no notification document, JOB_FINISHED notifications_created 0, users_updated 0 and no
notification_id, nobody's notifications changed.
Scenario 2 (entries, nobody opted in): the original inserted the notification as soon as a user
had an entry: one document, notifications_created 1, users_updated 0.
Scenario 3 (the Lambda's notification reused): the notifications collection holds the original
Lambda's notification of the month (type monthlyStatistic, created on the 1st of the next month
at 02:00:05 by a driver: its ObjectId embeds that second) and some of the opted-in users with an
entry have it already (one viewed). Decoys that must not be taken: the Lambda's of the month
before, one of another type created earlier in the window, the fleet's own notification of the
month before made during the window by a catch-up (its id hashed from the job id
`stats-<M-1>`, as jt_job_ids_notification_oid does), and one created the month after. The job
makes no notification document, gives the Lambda's to the other opted-in users with an entry
only, keeps the flags of those who had it, reports notifications_created 0, users_updated = the
others, notification_id = the Lambda's, and the ledger records it as reused.
Scenario 4 (the same job run again on a dropped ledger): the job's own notification is made and
given; then the ledger is dropped and the producer runs the same job id again: nothing is made or
added twice and the second JOB_FINISHED says notifications_created 0, users_updated 0.
In every scenario the reported counts match the database: users_updated is the number of users
whose notifications array changed, notifications_created the number of new documents.
JT_IT_ONLY=2,3 runs those scenarios only. Runs under the project venv (pymongo, fastavro): see
it_fleet.require_venv. Exit 0 when everything holds, 1 with the differences otherwise.
"""

import os
import random
import sys
import time

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import it_fleet  # noqa: E402

it_fleet.require_venv(__file__)

from bson import ObjectId  # noqa: E402

from it_fleet import PREVIOUS_MONTH_RETENTION, fail, log, wait_until  # noqa: E402
from it_stats import add_months, db_handle, month_start_ms, report  # noqa: E402

SEED = 20261207
USERS_PER_TASK = 4
DAY_MS = 86400 * 1000
RETENTION_DAYS = 75  # the chained cleanup's cutoff never reaches into the month
WAIT_JOB_S = 90
WORKER_ARGS = ("--range-hours", "240", "--batch-delay-ms", "0", "--retention-days",
               str(RETENTION_DAYS))


def previous_complete_month(now_s):
    t = time.gmtime(now_s)
    return add_months(t.tm_year, t.tm_mon, -1)


def ms_to_dt(ms):
    from bson.datetime_ms import DatetimeMS
    return DatetimeMS(ms)


def fleet_notification_id(job_id):
    """jt_job_ids_notification_oid: FNV-1a 64, then FNV-1a 32 from another basis: 12 bytes."""
    h64, h32 = 14695981039346656037, 2166136261 ^ 0x5BD1E995
    for b in job_id.encode():
        h64 = ((h64 ^ b) * 1099511628211) & (2**64 - 1)
        h32 = ((h32 ^ b) * 16777619) & (2**32 - 1)
    return ObjectId(h64.to_bytes(8, "big") + h32.to_bytes(4, "big"))


def driver_id(rng, at_ms):
    """An ObjectId as a driver makes it at at_ms: that second, then random bytes."""
    return ObjectId((at_ms // 1000).to_bytes(4, "big") + rng.randbytes(8))


class Month:
    def __init__(self, year, month):
        self.year, self.month = year, month
        self.text = f"{year:04d}-{month:02d}"
        self.start = month_start_ms(year, month)
        self.end = month_start_ms(*add_months(year, month, 1))
        self.next_end = month_start_ms(*add_months(year, month, 2))
        self.prev_start = month_start_ms(*add_months(year, month, -1))


def make_users(rng, m, specs):
    """Users from specs [(opted_in, has_entry, had)], had: None or the Lambda notification's
    entry the user holds already. Every user has playbacks of the month before; those with an
    entry also of the month, and some a stored entry of the month before."""
    base = (m.prev_start // 1000).to_bytes(4, "big")

    def oid():
        return ObjectId(base + rng.randbytes(8))

    users, playbacks, stats = [], [], []
    for i, (opted_in, has_entry, had) in enumerate(specs):
        u = oid()
        notes = [{"id": oid(), "viewed": True, "read": True}] if i % 3 == 0 else []
        if had:
            notes.append(dict(had))
        users.append({"_id": u, "email": f"n{i}@example.test", "username": f"n{i}",
                      "notifications": notes,
                      "userPreferences": {"notifications": {
                          "monthlyStatistic": opted_in, "followingArtistUpdate": True,
                          "systemAnnouncement": False}}})
        song, artist = oid(), oid()
        for k in range(3):
            playbacks.append({"user": u, "song": song, "artist": artist, "state": "completed",
                              "duration": 60.0 + k,
                              "createdAt": ms_to_dt(m.prev_start + (k + 1) * DAY_MS),
                              "updatedAt": ms_to_dt(m.prev_start + (k + 1) * DAY_MS)})
            if has_entry:
                playbacks.append({"user": u, "song": song, "artist": artist,
                                  "state": "completed", "duration": 30.0 + k,
                                  "createdAt": ms_to_dt(m.start + (k + 2) * DAY_MS),
                                  "updatedAt": ms_to_dt(m.start + (k + 2) * DAY_MS)})
        if i % 2 == 0:
            at = m.prev_start + 9 * DAY_MS
            stats.append({"user": u, "stats": [{
                "songs": [{"song": song, "totalDuration": 183.0}],
                "artists": [{"artist": artist, "totalDuration": 183.0}],
                "peakHour": [{"hour": 0, "totalDuration": 183.0, "utilization": 5.08}],
                "summary": {"month": time.gmtime(at / 1000).tm_mon,
                            "year": time.gmtime(at / 1000).tm_year, "totalDuration": 183.0,
                            "growthPercentage": 0.0, "topArtist": "Unknown Artist",
                            "topArtistTotalPlaybackTime": 183.0},
                "createdAt": ms_to_dt(at), "updatedAt": ms_to_dt(at)}],
                "createdAt": ms_to_dt(at), "updatedAt": ms_to_dt(at)})
    return users, playbacks, stats


def load(db, users, playbacks, stats, notifications):
    db.users.insert_many(users)
    db.playbacks.insert_many(playbacks)
    if stats:
        db.stats.insert_many(stats)
    if notifications:
        db.notifications.insert_many(notifications)


def snapshot(db):
    return ({d["_id"]: d.get("notifications") for d in db.users.find({}, {"notifications": 1})},
            {d["_id"]: d for d in db.notifications.find({})})


def run_job(sc, db, m, decoder, what):
    """The month's job through a new worker until it and its chained cleanup are finished; its
    JOB_FINISHED (the last one)."""
    job_id = f"stats-{m.text}"
    rc, out = sc.producer("stats", "--month", m.text, "--users-per-task", str(USERS_PER_TASK),
                          *PREVIOUS_MONTH_RETENTION)
    if rc != 0:
        fail(f"{what}: joytify-producer stats: expected exit 0, actual {rc}: {out}")
    sc.start_worker(*WORKER_ARGS)

    def done():
        sc.expect_workers_alive()
        failed = list(db.jobs.find({"state": "failed"}, {"_id": 1, "lastFailure": 1}))
        if failed:
            fail(f"{what}: job(s) failed: {failed}\n{sc.fleet.logs()}")
        job = db.jobs.find_one({"_id": job_id}, {"state": 1})
        cleanup = list(db.jobs.find({"kind": "cleanup"}, {"state": 1}))
        return job and job.get("state") == "finished" and cleanup and \
            all(c.get("state") == "finished" for c in cleanup)

    wait_until(f"{what}: {job_id} and its cleanup job finished", done, WAIT_JOB_S,
               on_timeout=sc.fleet.logs)
    sc.stop_workers()
    finished = [e for e in sc.status_events(decoder)
                if e["job_id"] == job_id and e["type"] == "JOB_FINISHED"]
    if not finished:
        fail(f"{what}: expected a JOB_FINISHED of {job_id}, actual none")
    return job_id, finished[-1]


def check_counts(before, after, fin, what):
    """The reported counts against the database: users whose notifications changed, new
    notification documents."""
    users_before, notes_before = before
    users_after, notes_after = after
    changed = sum(1 for u, n in users_after.items() if users_before.get(u) != n)
    new_docs = [i for i in notes_after if i not in notes_before]
    problems = []
    if fin.get("users_updated") != changed:
        problems.append(f"users_updated: expected {changed} (users whose notifications array "
                        f"changed), actual {fin.get('users_updated')}")
    if fin.get("notifications_created") != len(new_docs):
        problems.append(f"notifications_created: expected {len(new_docs)} (new notification "
                        f"documents {[str(i) for i in new_docs]}), actual "
                        f"{fin.get('notifications_created')}")
    gone = [str(i) for i in notes_before if notes_after.get(i) != notes_before[i]]
    if gone:
        problems.append(f"notification documents changed or removed: expected none, actual {gone}")
    return problems


def scenario_no_entries(fleet, client, dbs, decoder, m, rng):
    sc = it_fleet.Scenario(fleet, "sn", 1)
    db = db_handle(client, sc.db)
    dbs.append(sc.db)
    users, playbacks, stats = make_users(rng, m, [(i % 2 == 0, False, None) for i in range(10)])
    load(db, users, playbacks, stats, [])
    before = snapshot(db)
    job_id, fin = run_job(sc, db, m, decoder, "scenario 1")
    after = snapshot(db)
    problems = check_counts(before, after, fin, "scenario 1")
    want = {"users_processed": 0, "users_updated": 0, "notifications_created": 0,
            "notification_id": None}
    got = {k: fin.get(k) for k in want}
    if got != want:
        problems.append(f"JOB_FINISHED of {job_id}: expected {want}, actual {got}")
    if after[1]:
        problems.append(f"notifications collection: expected no document, actual "
                        f"{[(str(i), d.get('type')) for i, d in after[1].items()]}")
    if before[0] != after[0]:
        problems.append("users' notifications: expected unchanged, actual changed")
    report(problems, f"scenario 1: {m.text} without entries: no notification document, "
                     "notifications_created 0, users_updated 0, no notification_id")


def scenario_nobody_opted_in(fleet, client, dbs, decoder, m, rng):
    sc = it_fleet.Scenario(fleet, "sn", 2)
    db = db_handle(client, sc.db)
    dbs.append(sc.db)
    users, playbacks, stats = make_users(rng, m, [(False, i % 3 != 2, None) for i in range(9)])
    load(db, users, playbacks, stats, [])
    before = snapshot(db)
    job_id, fin = run_job(sc, db, m, decoder, "scenario 2")
    after = snapshot(db)
    problems = check_counts(before, after, fin, "scenario 2")
    docs = list(after[1].values())
    if len(docs) != 1 or docs[0].get("type") != "monthlyStatistic" or \
            fin.get("notification_id") != str(docs[0]["_id"]):
        problems.append(f"notifications collection: expected one monthlyStatistic document, the "
                        f"JOB_FINISHED's notification_id {fin.get('notification_id')}, actual "
                        f"{[(str(d['_id']), d.get('type')) for d in docs]}")
    want = {"users_processed": 6, "users_updated": 0, "notifications_created": 1}
    got = {k: fin.get(k) for k in want}
    if got != want:
        problems.append(f"JOB_FINISHED of {job_id}: expected {want}, actual {got}")
    report(problems, f"scenario 2: {m.text} with 6 entries and nobody opted in: the notification "
                     "made (as the original), notifications_created 1, users_updated 0")


def scenario_lambda_reused(fleet, client, dbs, decoder, m, rng):
    sc = it_fleet.Scenario(fleet, "sn", 3)
    db = db_handle(client, sc.db)
    dbs.append(sc.db)
    lambda_at = m.end + 2 * 3600 * 1000 + 5000  # the 1st of the next month, 02:00:05
    lambda_id = driver_id(rng, lambda_at)
    prev_job = f"stats-{add_months(m.year, m.month, -1)[0]:04d}-" \
               f"{add_months(m.year, m.month, -1)[1]:02d}"
    decoys = [
        # the Lambda's of the month before
        {"_id": driver_id(rng, m.start + 2 * 3600 * 1000 + 3000), "type": "monthlyStatistic",
         "createdAt": ms_to_dt(m.start + 2 * 3600 * 1000 + 3000)},
        # another type, earlier in the window
        {"_id": driver_id(rng, m.end + 3600 * 1000), "type": "followingArtistUpdate",
         "createdAt": ms_to_dt(m.end + 3600 * 1000)},
        # the fleet's own of the month before, made in the window by a catch-up
        {"_id": fleet_notification_id(prev_job), "type": "monthlyStatistic",
         "createdAt": ms_to_dt(m.end + 1800 * 1000)},
        # the month after's
        {"_id": driver_id(rng, m.next_end + 2 * 3600 * 1000), "type": "monthlyStatistic",
         "createdAt": ms_to_dt(m.next_end + 2 * 3600 * 1000)},
    ]
    lambda_doc = {"_id": lambda_id, "type": "monthlyStatistic",
                  "createdAt": ms_to_dt(lambda_at), "updatedAt": ms_to_dt(lambda_at)}
    specs = []
    for i in range(16):
        opted_in, has_entry = i % 4 != 3, i % 5 != 4
        had = None
        if opted_in and has_entry and i % 2 == 0:
            had = {"id": lambda_id, "viewed": i == 0, "read": False}
        specs.append((opted_in, has_entry, had))
    users, playbacks, stats = make_users(rng, m, specs)
    load(db, users, playbacks, stats, decoys + [lambda_doc])
    before = snapshot(db)
    job_id, fin = run_job(sc, db, m, decoder, "scenario 3")
    after = snapshot(db)
    problems = check_counts(before, after, fin, "scenario 3")
    eligible = [u["_id"] for u, (o, e, _) in zip(users, specs) if o and e]
    had = {u["_id"] for u, (_, _, h) in zip(users, specs) if h}
    want = {"users_processed": sum(1 for _, e, _ in specs if e),
            "users_updated": len(eligible) - len(had), "notifications_created": 0,
            "notification_id": str(lambda_id)}
    got = {k: fin.get(k) for k in want}
    if got != want:
        problems.append(f"JOB_FINISHED of {job_id}: expected {want}, actual {got}")
    if set(after[1]) != set(before[1]):
        problems.append(f"notifications collection: expected the {len(before[1])} documents as "
                        f"seeded (no second notification of {m.text}), actual "
                        f"{[(str(i), d.get('type')) for i, d in after[1].items()]}")
    for u, (o, e, h) in zip(users, specs):
        entries = [n for n in after[0][u["_id"]] or [] if n.get("id") == lambda_id]
        if o and e:
            want_e = [h] if h else [{"id": lambda_id, "viewed": False, "read": False}]
        else:
            want_e = []
        if entries != want_e:
            problems.append(f"user {u['username']} (opted in {o}, entry {e}, had it {bool(h)}): "
                            f"expected {want_e}, actual {entries}")
        others = [n for n in after[0][u["_id"]] or [] if n.get("id") != lambda_id]
        if others != [n for n in before[0][u["_id"]] or [] if n.get("id") != lambda_id]:
            problems.append(f"user {u['username']}: other notifications changed")
    note = (db.jobs.find_one({"_id": job_id}) or {}).get("notification") or {}
    if note.get("id") != lambda_id or note.get("reused") is not True:
        problems.append(f"ledger {job_id}: expected notification {{id: {lambda_id}, reused: "
                        f"true}}, actual {note}")
    report(problems, f"scenario 3: the Lambda's notification of {m.text} reused (decoys of the "
                     "month before, another type, the fleet's hashed id, the month after left "
                     f"alone): no second document, {len(had)} users who had it untouched, "
                     f"users_updated {len(eligible) - len(had)}, notifications_created 0")


def scenario_rerun(fleet, client, dbs, decoder, m, rng):
    sc = it_fleet.Scenario(fleet, "sn", 4)
    db = db_handle(client, sc.db)
    dbs.append(sc.db)
    specs = [(i % 3 != 0, i % 4 != 3, None) for i in range(12)]
    users, playbacks, stats = make_users(rng, m, specs)
    load(db, users, playbacks, stats, [])
    eligible = sum(1 for o, e, _ in specs if o and e)
    before = snapshot(db)
    job_id, fin = run_job(sc, db, m, decoder, "scenario 4, first run")
    after = snapshot(db)
    problems = check_counts(before, after, fin, "scenario 4, first run")
    want = {"users_updated": eligible, "notifications_created": 1,
            "notification_id": str(fleet_notification_id(job_id))}
    got = {k: fin.get(k) for k in want}
    if got != want:
        problems.append(f"first JOB_FINISHED of {job_id}: expected {want}, actual {got}")
    report(problems, f"scenario 4: first run made the job's own notification for {eligible} users")

    db.jobs.drop()
    before = after
    # A new worker: a process announces a job id once (task.c's ring of announced jobs).
    job_id, fin2 = run_job(sc, db, m, decoder, "scenario 4, run again on a dropped ledger")
    after = snapshot(db)
    problems = check_counts(before, after, fin2, "scenario 4, second run")
    want = {"users_updated": 0, "notifications_created": 0,
            "notification_id": str(fleet_notification_id(job_id))}
    got = {k: fin2.get(k) for k in want}
    if got != want:
        problems.append(f"second JOB_FINISHED of {job_id}: expected {want}, actual {got}")
    if len(after[1]) != 1:
        problems.append(f"notifications collection: expected one document, actual {len(after[1])}")
    report(problems, "scenario 4: the same job run again on a dropped ledger: nothing made or "
                     "added twice, notifications_created 0, users_updated 0")


def main():
    def body(fleet, client, dbs):
        t0 = time.monotonic()
        m = Month(*previous_complete_month(time.time()))
        decoder = it_fleet.status_decoder(fleet.source_dir)
        rng = random.Random(SEED)
        only = os.environ.get("JT_IT_ONLY", "")  # e.g. "3": one scenario, for a post-mortem
        for name, scenario in (("1", scenario_no_entries), ("2", scenario_nobody_opted_in),
                               ("3", scenario_lambda_reused), ("4", scenario_rerun)):
            if only and name not in only.split(","):
                continue
            t = time.monotonic()
            scenario(fleet, client, dbs, decoder, m, rng)
            log(f"    scenario {name}: {time.monotonic() - t:.1f} s")
        log(f"total {time.monotonic() - t0:.1f} s")

    return it_fleet.run_main("stats_notification_it", body)


if __name__ == "__main__":
    sys.exit(main())
