#!/usr/bin/env python3
"""Test mode end to end (issue 16 item 4): a worker fleet running a test-mode statistics job and
its chained cleanup touches only `test-users`, `test-stats`, `test-playbacks`,
`test-notifications` and the ledger entries of test jobs.

One database holds both sets of collections, made by `joytify-loadtest generate` without and
with --test-mode (other seeds, two months of stats history each). A live `stats` job runs first
with two workers, so that the live side has its own ledger entries, notification, entries and a
cleanup cutoff. Then every collection is read as raw BSON, `joytify-producer stats --test-mode`
runs on the same two workers, and once the test job and its chained test cleanup are finished:
- every collection that is not test-* (users, stats, playbacks, notifications, musicians, the
  live ledger entries, anything else) is byte for byte the same document set, with the same
  indexes, and no collection appeared but test-* ones;
- every new ledger entry is a test job's (`test-` id, testMode true);
- the test collections changed as the job says: one notification id added, once, to every
  opted-in test user with an entry of the month and to no one else, and it is a
  `monthlyStatistic` document of `test-notifications`; every test user with playbacks in the month has exactly one entry
  of it; the test playbacks older than the test cleanup's cutoff are gone and every younger one is
  unchanged byte for byte.
If a test-mode step wrote a non-test collection, the first differing documents are printed.

Runs under the project venv (pymongo): see it_fleet.require_venv. Exit 0 when everything holds.
"""

import calendar
import datetime
import os
import sys
import time

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import it_fleet  # noqa: E402

it_fleet.require_venv(__file__)

from bson.codec_options import CodecOptions  # noqa: E402
from bson.datetime_ms import DatetimeMS  # noqa: E402
from bson.json_util import dumps  # noqa: E402
from bson.raw_bson import RawBSONDocument  # noqa: E402

from it_fleet import PREVIOUS_MONTH_RETENTION, fail, log, wait_until  # noqa: E402
from it_safety import previous_month  # noqa: E402
from it_stats import month_start_ms, add_months  # noqa: E402

TEST_COLLECTIONS = ("test-users", "test-stats", "test-playbacks", "test-notifications")
WORKER_RETENTION = "70"  # the chained cleanups never reach into the previous month
USERS, PER_USER = 60, 40
RAW = CodecOptions(document_class=RawBSONDocument)


def generate(fleet, db, seed, *extra):
    loadtest = os.path.join(fleet.build_dir, "loadtest", "joytify-loadtest")
    rc, out = fleet.run(f"generate {' '.join(extra) or 'live'}",
                        [loadtest, "generate", "--db", db, "--users", str(USERS),
                         "--playbacks-per-user", str(PER_USER), "--artists", "20", "--songs",
                         "120", "--seed", str(seed), "--history-months", "2", *extra],
                        timeout_s=180)
    if rc != 0:
        fail(f"joytify-loadtest generate {' '.join(extra)}: expected exit 0, actual {rc}\n{out}")


def raw_docs(db, name, query=None):
    """{_id as Extended JSON: raw BSON bytes} of a collection (query: a filter)."""
    coll = db.get_collection(name, codec_options=RAW)
    return {dumps(d["_id"]): d.raw for d in coll.find(query or {})}


def indexes(db, name):
    return sorted(dumps(ix) for ix in db[name].list_indexes())


def snapshot_live(db):
    """Every non-test collection's documents (the ledger: only entries of live jobs) and
    indexes, raw."""
    snap = {}
    for name in sorted(db.list_collection_names()):
        if name.startswith("test-"):
            continue
        query = {"testMode": {"$ne": True}} if name == "jobs" else None
        snap[name] = (raw_docs(db, name, query), indexes(db, name))
    return snap


def compare_live(before, after):
    problems = []
    if sorted(before) != sorted(after):
        problems.append(f"non-test collections: expected {sorted(before)}, actual {sorted(after)}")
    for name in sorted(set(before) & set(after)):
        (docs_b, ix_b), (docs_a, ix_a) = before[name], after[name]
        if ix_b != ix_a:
            problems.append(f"{name}: indexes changed: expected {ix_b}, actual {ix_a}")
        for key in sorted(set(docs_b) | set(docs_a)):
            b, a = docs_b.get(key), docs_a.get(key)
            if b != a:
                show = (lambda raw: dumps(RawBSONDocument(raw)) if raw else "(absent)")
                problems.append(f"{name} {key}: expected {show(b)[:600]}, actual "
                                f"{show(a)[:600]}")
        log(f"     {name}: {len(docs_b)} document(s), {len(ix_b)} index(es) compared")
    return problems


def wait_finished(fleet, sc, db, stats_id, test_mode):
    def done():
        sc.expect_workers_alive()
        failed = [d["_id"] for d in db.jobs.find({"state": "failed"}, {"_id": 1})]
        if failed:
            fail(f"job(s) failed: {failed}\n{fleet.logs()}")
        entry = db.jobs.find_one({"_id": stats_id})
        if not entry or entry.get("state") != "finished":
            return None
        cleanups = list(db.jobs.find({"kind": "cleanup", "testMode": test_mode}))
        return cleanups if cleanups and all(c.get("state") == "finished" for c in cleanups) \
            else None
    jobs = wait_until(f"{stats_id} and its chained cleanup to be finished", done, 120,
                      on_timeout=fleet.logs)
    # Every task handled (a late duplicate included) before the collections are read.
    wait_until("the workers at the end of both task topics",
               lambda: sc.caught_up("stats") and sc.caught_up("cleanup"), 60,
               on_timeout=fleet.logs)
    return jobs


def notification_ids(db):
    """{test user id: [notification ids in its notifications]}."""
    return {u["_id"]: [n.get("id") for n in u.get("notifications") or []]
            for u in db["test-users"].find({}, {"notifications": 1})}


def check_test_side(db, before_playbacks, before_user_notes, month, stats_id, cleanup):
    problems = []
    y, m = month
    start, end = month_start_ms(y, m), month_start_ms(*add_months(y, m, 1))
    entry = db.jobs.find_one({"_id": stats_id})
    # The job's notification: the one id added to test users (created by the job, or an
    # existing one of the month reused), which must be a test notification.
    added = {n for u, ids in notification_ids(db).items()
             for n in ids[len(before_user_notes.get(u, [])):]}
    if len(added) != 1:
        problems.append(f"test-users: expected one notification id added, actual {added}")
        return problems
    nid = added.pop()
    doc = db["test-notifications"].find_one({"_id": nid})
    if not doc or doc.get("type") != "monthlyStatistic":
        problems.append(f"test-notifications: expected the monthlyStatistic document {nid}, "
                        f"actual {doc}")

    with_month = set()
    for p in db["test-playbacks"].find({"createdAt": {"$gte": DatetimeMS(start),
                                                      "$lt": DatetimeMS(end)}}, {"user": 1}):
        with_month.add(p["user"])
    entries = {}
    for doc in db["test-stats"].find({}):
        n = sum(1 for e in doc.get("stats", []) if start <= ms(e.get("createdAt")) < end)
        entries[doc["user"]] = n
    # The cleanup ran after the statistics: users counted from the playbacks kept in the month
    # (all of them: the cutoff is before the month).
    for u in with_month:
        if entries.get(u) != 1:
            problems.append(f"test-stats of user {u}: expected one entry of {y:04d}-{m:02d}, "
                            f"actual {entries.get(u, 0)}")
    notified = 0
    for user in db["test-users"].find({}):
        got = [n for n in user.get("notifications") or [] if n.get("id") == nid]
        opted = ((user.get("userPreferences") or {}).get("notifications") or {}).get(
            "monthlyStatistic") is True
        want = 1 if opted and user["_id"] in with_month else 0
        if len(got) != want or (got and (got[0].get("viewed") or got[0].get("read"))):
            problems.append(f"test-users {user['_id']}: expected the notification {want} time(s) "
                            f"unread, actual {got}")
        notified += len(got)
    if notified == 0:
        problems.append("test-users: expected some users notified, actual none")

    cutoff = ms(cleanup["params"]["cutoff"])
    after = raw_docs(db, "test-playbacks")
    older = {k for k, raw in before_playbacks.items()
             if ms(RawBSONDocument(raw)["createdAt"]) < cutoff}
    if not older:
        problems.append(f"test bug: no test playback older than the test cleanup's cutoff "
                        f"{cleanup['params']['cutoff']}")
    left = older & set(after)
    if left:
        problems.append(f"test-playbacks: {len(left)} older than the cutoff are still there")
    for k, raw in before_playbacks.items():
        if k not in older and after.get(k) != raw:
            problems.append(f"test-playbacks {k}: expected unchanged (younger than the cutoff), "
                            f"actual {'changed' if k in after else 'deleted'}")
    if set(after) - set(before_playbacks):
        problems.append("test-playbacks: documents appeared")
    log(f"     test side: notification {nid} to {notified} user(s), {len(with_month)} user(s) "
        f"with an entry of {y:04d}-{m:02d}, {len(older)} test playback(s) older than the cutoff "
        f"deleted, {len(after)} kept; job {entry['_id']}")
    return problems


def ms(value):
    """A BSON date (a naive UTC datetime as pymongo decodes it, or DatetimeMS) as
    milliseconds; -1 when missing."""
    if value is None:
        return -1
    if isinstance(value, datetime.datetime):
        return calendar.timegm(value.utctimetuple()) * 1000 + value.microsecond // 1000
    return int(value)


def body(fleet, client, dbs):
    sc = it_fleet.Scenario(fleet, "testmode", 1)
    dbs.append(sc.db)
    db = client[sc.db]
    month = previous_month()
    label = f"{month[0]:04d}-{month[1]:02d}"
    generate(fleet, sc.db, 11)
    generate(fleet, sc.db, 12, "--test-mode")
    for name in TEST_COLLECTIONS[:3] + ("users", "stats", "playbacks"):
        if db[name].count_documents({}) == 0:
            fail(f"test bug: generate left {name} empty")

    worker_args = ("--batch-delay-ms", "0", "--retention-days", WORKER_RETENTION)
    sc.start_worker(*worker_args)
    sc.start_worker(*worker_args)
    t0 = time.monotonic()
    rc, out = sc.producer("stats", "--users-per-task", "20", *PREVIOUS_MONTH_RETENTION)
    if rc != 0:
        fail(f"live stats: expected exit 0, actual {rc}\n{out}")
    wait_finished(fleet, sc, db, f"stats-{label}", False)
    log(f"ok   the live job stats-{label} and its cleanup finished  "
        f"[{time.monotonic() - t0:.1f} s]")

    live_before = snapshot_live(db)
    test_playbacks_before = raw_docs(db, "test-playbacks")
    user_notes_before = notification_ids(db)
    jobs_before = {j["_id"] for j in db.jobs.find({}, {"_id": 1})}

    t1 = time.monotonic()
    rc, out = sc.producer("stats", "--test-mode", "--users-per-task", "20",
                          *PREVIOUS_MONTH_RETENTION)
    if rc != 0:
        fail(f"stats --test-mode: expected exit 0, actual {rc}\n{out}")
    stats_id = f"test-stats-{label}"
    cleanups = wait_finished(fleet, sc, db, stats_id, True)
    log(f"ok   {stats_id} and its chained test cleanup finished  [{time.monotonic() - t1:.1f} s]")
    sc.stop_workers()

    problems = compare_live(live_before, snapshot_live(db))
    new_jobs = [j for j in db.jobs.find({}) if j["_id"] not in jobs_before]
    for j in new_jobs:
        if not j["_id"].startswith("test-") or j.get("testMode") is not True:
            problems.append(f"ledger: expected only test jobs to appear, actual {j['_id']} "
                            f"(testMode {j.get('testMode')})")
    if not any(j["kind"] == "cleanup" for j in new_jobs):
        problems.append(f"ledger: expected the chained test cleanup, actual {[j['_id'] for j in new_jobs]}")
    if problems:
        fail("test mode touched live data:\n  " + "\n  ".join(problems[:30]))
    log(f"ok   every non-test collection byte for byte unchanged; new ledger entries "
        f"{sorted(j['_id'] for j in new_jobs)}")

    cleanup = next(c for c in cleanups if c["_id"] not in jobs_before)
    problems = check_test_side(db, test_playbacks_before, user_notes_before, month, stats_id,
                               cleanup)
    if problems:
        fail("test collections: \n  " + "\n  ".join(problems[:30]))
    log("ok   the test collections changed as the test job and its cleanup say")


if __name__ == "__main__":
    sys.exit(it_fleet.run_main("test_mode_isolation_it", body))
