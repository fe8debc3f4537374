#!/usr/bin/env python3
"""A statistics shard writes only the month's entry of each user, and the stats collection has
one document per user, against the real stack.

Scenario 1 (concurrent app writes): 40 users with many playbacks in the previous complete UTC
month, stored entries of other months, and every shape a stats document takes before a shard
(the month's entry missing, present once, present twice (drift), no document, no `stats`
field, an empty array, a stale entry of a user without playbacks, nothing of the month). While
`joytify-producer stats --shards 1` and one worker run, a writer thread keeps $push-ing entries
of far-future months and $set-ing `appField` on those documents, recording each write. After the
job: every write of the writer is there, each user with playbacks has exactly one entry of the
month (the recomputed one), a user without playbacks none, and the entries are in chronological
order (the stored ones around the month's, the writer's after them).
Scenario 2 (duplicates): a stats collection with two documents for one user, with no index and
with a non-unique `user_1`: `joytify-producer stats` fails naming the user and saying to merge
the documents; both documents are still there (and the old index too).
Scenario 3 (upgrade): an existing non-unique `user_1` index is replaced by a unique one.
Scenario 4: a user whose `stats` is not an array: the shard refuses, naming the user, and the
document stays as it was.

Runs under the project venv (pymongo, fastavro): see it_fleet.require_venv. Exit 0 when
everything holds, 1 with the differences otherwise.
"""

import os
import random
import sys
import threading
import time

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import it_fleet  # noqa: E402

it_fleet.require_venv(__file__)

from bson import ObjectId  # noqa: E402
from bson.datetime_ms import DatetimeMS  # noqa: E402

from it_fleet import PREVIOUS_MONTH_RETENTION, fail, log, wait_until  # noqa: E402
from it_stats import (add_months, db_handle, month_start_ms, report,  # noqa: E402
                      stats_docs_by_user)

SEED = 20261302
USERS = 40
PLAYBACKS = 600  # per user with playbacks: one shard of 40 users reads for seconds
DAY_MS = 86400 * 1000
RETENTION_DAYS = 75  # > the age of the previous month's first day (worker_stats_it.py)
WAIT_JOB_S = 180
MIN_OVERLAP_WRITES = 20
FUTURE_MS = 400 * DAY_MS  # the writer's entries: months after everything else

# The shape of user i's stats document before the shard, by i % 8.
SHAPES = ["missing month entry", "one month entry", "two month entries (drift)",
          "no stats document", "no stats field", "empty stats array",
          "no playbacks, stale month entry", "no playbacks, other months only"]


def previous_complete_month(now_s):
    t = time.gmtime(now_s)
    return add_months(t.tm_year, t.tm_mon, -1)


class Dataset:
    def __init__(self, year, month):
        rng = random.Random(SEED)
        self.start = month_start_ms(year, month)
        self.end = month_start_ms(*add_months(year, month, 1))
        prev_start = month_start_ms(*add_months(year, month, -1))
        ts = (month_start_ms(*add_months(year, month, -2)) // 1000).to_bytes(4, "big")

        def oid():
            return ObjectId(ts + rng.randbytes(8))

        self.artists = [oid() for _ in range(10)]
        self.songs = [(oid(), rng.choice(self.artists)) for _ in range(50)]
        self.users, self.stats_docs, self.playbacks = [], [], []
        self.shape, self.stored, self.first_at, self.total = {}, {}, {}, {}
        for i in range(USERS):
            u = oid()
            shape = i % 8
            self.shape[u] = shape
            self.users.append({"_id": u, "email": f"user{i}@example.test", "notifications": []})
            if shape < 6:
                times = sorted(self.start + rng.randrange(self.end - self.start)
                               for _ in range(PLAYBACKS))
                self.first_at[u], self.total[u] = times[0], 0
                for k, at in enumerate(times):
                    song, artist = rng.choice(self.songs)
                    duration = 30 + k % 200
                    self.total[u] += duration
                    self.playbacks.append({"_id": oid(), "user": u, "song": song,
                                           "artist": artist, "state": "completed",
                                           "duration": duration, "createdAt": DatetimeMS(at),
                                           "updatedAt": DatetimeMS(at + 1000)})
            before = [self.entry(f"b{i}", prev_start + 3 * DAY_MS),
                      self.entry(f"c{i}", prev_start + 9 * DAY_MS)]
            after = [self.entry(f"a{i}", self.end + 2 * DAY_MS)]
            month_entries = []
            if shape in (1, 6):
                month_entries = [self.entry(f"m{i}", self.start + 4 * DAY_MS)]
            elif shape == 2:
                month_entries = [self.entry(f"m{i}", self.start + 4 * DAY_MS),
                                 self.entry(f"n{i}", self.start + 20 * DAY_MS)]
            if shape in (3, 4, 5):
                self.stored[u] = ([], [])
            else:
                self.stored[u] = (before, after)
            doc = {"user": u, "createdAt": DatetimeMS(prev_start),
                   "updatedAt": DatetimeMS(prev_start)}
            if shape == 3:
                continue
            if shape != 4:
                doc["stats"] = [] if shape == 5 else before + month_entries + after
            self.stats_docs.append(doc)

    @staticmethod
    def entry(tag, created_ms):
        return {"tag": tag, "summary": {"totalDuration": 1.0, "topArtist": "Stored"},
                "createdAt": DatetimeMS(created_ms), "updatedAt": DatetimeMS(created_ms)}

    def load(self, db):
        db.users.insert_many(self.users, ordered=False)
        db.stats.insert_many(self.stats_docs, ordered=False)
        db.playbacks.insert_many(self.playbacks, ordered=False)


class Writer(threading.Thread):
    """The app meanwhile: $push of a far-future month's entry and $set of appField, in turns,
    on every user's stats document, each write recorded once acknowledged."""

    def __init__(self, db, users, future_ms):
        super().__init__(daemon=True)
        self.db, self.users, self.future_ms = db, users, future_ms
        self.stop = threading.Event()
        self.pushed = {u: [] for u in users}  # user -> tags pushed, in order
        self.app_field = {}  # user -> last value set
        self.writes = 0
        self.error = None

    def run(self):
        seq = 0
        try:
            while not self.stop.is_set():
                for u in self.users:
                    seq += 1
                    if seq % 2:
                        tag = f"w{seq}"
                        r = self.db.stats.update_one({"user": u}, {"$push": {"stats": Dataset.entry(
                            tag, self.future_ms + seq)}})
                        if r.matched_count == 1:
                            self.pushed[u].append(tag)
                    else:
                        r = self.db.stats.update_one({"user": u}, {"$set": {"appField": seq}})
                        if r.matched_count == 1:
                            self.app_field[u] = seq
                    self.writes += 1
        except Exception as e:  # noqa: BLE001 - reported by the main thread
            self.error = e


def check_entries(ds, db, writer):
    docs, problems = stats_docs_by_user(db)
    for i, doc in enumerate(ds.users):
        u = doc["_id"]
        shape = ds.shape[u]
        what = f"user {i} ({u}, {SHAPES[shape]})"
        d = docs.get(u)
        if d is None:
            problems.append(f"{what}: expected a stats document, actual none")
            continue
        if writer.app_field.get(u) is not None and d.get("appField") != writer.app_field[u]:
            problems.append(f"{what}: expected appField {writer.app_field[u]} (the writer's last "
                            f"$set), actual {d.get('appField')!r}: a concurrent write was lost")
        stats = d.get("stats") or []
        tags = [e.get("tag") for e in stats]
        lost = [t for t in writer.pushed.get(u, []) if t not in tags]
        if lost:
            problems.append(f"{what}: {len(lost)} of the writer's {len(writer.pushed[u])} pushed "
                            f"entries lost ({lost[:5]}...): expected every one kept")
        in_month = [e for e in stats if ds.start <= int(e["createdAt"]) < ds.end]
        before, after = ds.stored[u]
        month_tags = [None] if shape < 6 else []
        want = [e["tag"] for e in before] + month_tags + [e["tag"] for e in after] + \
            writer.pushed.get(u, [])
        if tags != want:
            problems.append(f"{what}: entries (by tag, None = the month's) expected {want}, "
                            f"actual {tags}")
        created = [int(e["createdAt"]) for e in stats]
        if created != sorted(created):
            problems.append(f"{what}: entries expected in chronological order by createdAt, "
                            f"actual {created}")
        if shape >= 6:
            if in_month:
                problems.append(f"{what}: expected no entry of the month, actual {len(in_month)}")
            continue
        if len(in_month) != 1:
            problems.append(f"{what}: expected exactly one entry of the month, actual "
                            f"{len(in_month)}")
            continue
        e = in_month[0]
        got = (int(e["createdAt"]), (e.get("summary") or {}).get("totalDuration"))
        want_e = (ds.first_at[u], float(ds.total[u]))
        if got != want_e:
            problems.append(f"{what}: the month's entry (createdAt, summary.totalDuration) "
                            f"expected {want_e}, actual {got}")
    return problems


def scenario_concurrent_writes(fleet, client, dbs, year, month):
    month_text = f"{year:04d}-{month:02d}"
    job_id = f"stats-{month_text}"
    sc = it_fleet.Scenario(fleet, "sew", 1)
    dbs.append(sc.db)
    client.drop_database(sc.db)
    db = db_handle(client, sc.db)
    ds = Dataset(year, month)
    ds.load(db)
    log(f"dataset in {sc.db}: {USERS} users ({', '.join(SHAPES)} by user index mod 8), "
        f"{len(ds.playbacks)} playbacks in {month_text}")

    rc, _ = sc.producer("stats", "--month", month_text, "--shards", "1",
                          *PREVIOUS_MONTH_RETENTION)
    if rc != 0:
        fail(f"joytify-producer stats: expected exit 0, actual {rc}")
    writer = Writer(db, [u["_id"] for u in ds.users if ds.shape[u["_id"]] != 3],
                    ds.end + FUTURE_MS)
    writer.start()
    sc.start_worker("--range-hours", "240", "--batch-delay-ms", "0", "--retention-days",
                    str(RETENTION_DAYS))
    writes_at_start = writer.writes

    def shard_done():
        sc.expect_workers_alive()
        if writer.error:
            fail(f"the writer thread failed: {writer.error!r}")
        if db.jobs.find_one({"state": "failed"}):
            fail(f"job failed\n{fleet.logs()}")
        d = db.jobs.find_one({"_id": job_id}, {"state": 1})
        return d and d.get("state") == "finished"

    try:
        wait_until(f"ledger job {job_id} finished", shard_done, WAIT_JOB_S, on_timeout=fleet.logs)
    finally:
        writer.stop.set()
        writer.join(30)
    overlap = writer.writes - writes_at_start
    log(f"the writer made {writer.writes} writes, {overlap} of them while the job ran")
    if overlap < MIN_OVERLAP_WRITES:
        fail(f"test setup: expected at least {MIN_OVERLAP_WRITES} writes while the job ran, "
             f"actual {overlap}: the shard was too quick to overlap (more playbacks?)")
    sc.stop_workers()
    report(check_entries(ds, db, writer),
           f"scenario 1: {USERS} users' stats documents after a shard with {overlap} concurrent "
           "app writes: every write kept, one entry of the month each, chronological order")


def stats_indexes(db):
    return {ix["name"]: ix for ix in db.stats.list_indexes()}


def scenario_duplicates(fleet, client, dbs, year, month, n, with_index):
    month_text = f"{year:04d}-{month:02d}"
    sc = it_fleet.Scenario(fleet, "sew", n)
    dbs.append(sc.db)
    client.drop_database(sc.db)
    db = db_handle(client, sc.db)
    dup, other = ObjectId(), ObjectId()
    db.stats.insert_many([{"user": dup, "stats": [], "which": 1},
                          {"user": other, "stats": []},
                          {"user": dup, "stats": [], "which": 2}])
    label = "with a non-unique user_1 index" if with_index else "without an index"
    if with_index:
        db.stats.create_index("user", name="user_1")
    rc, out = sc.producer("stats", "--month", month_text, "--shards", "1",
                          *PREVIOUS_MONTH_RETENTION)
    problems = []
    if rc == 0 or str(dup) not in out or "merge" not in out:
        problems.append(f"joytify-producer stats on a stats collection with two documents for "
                        f"user {dup} ({label}): expected a failure naming {dup} and saying to "
                        f"merge them, actual exit {rc}: {out.strip()}")
    left = sorted(d.get("which") for d in db.stats.find({"user": dup}))
    if left != [1, 2]:
        problems.append(f"user {dup}'s stats documents: expected both kept (which 1 and 2), "
                        f"actual {left}")
    ix = stats_indexes(db)
    if with_index and ("user_1" not in ix or ix["user_1"].get("unique")):
        problems.append(f"stats indexes: expected the non-unique user_1 kept, actual {ix}")
    report(problems, f"scenario 2: duplicate stats documents {label}: the producer refuses "
                     "naming the user, both documents kept")


def scenario_upgrade(fleet, client, dbs, year, month):
    month_text = f"{year:04d}-{month:02d}"
    sc = it_fleet.Scenario(fleet, "sew", 4)
    dbs.append(sc.db)
    client.drop_database(sc.db)
    db = db_handle(client, sc.db)
    db.stats.insert_many([{"user": ObjectId(), "stats": []} for _ in range(3)])
    db.stats.create_index("user", name="user_1")
    rc, out = sc.producer("stats", "--month", month_text, "--shards", "1",
                          *PREVIOUS_MONTH_RETENTION)
    ix = stats_indexes(db)
    if rc != 0 or "user_1" not in ix or ix["user_1"].get("unique") is not True or \
            dict(ix["user_1"]["key"]) != {"user": 1} or db.stats.count_documents({}) != 3:
        fail(f"joytify-producer stats with a non-unique stats user_1 index: expected exit 0, "
             f"user_1 {{user: 1}} unique, 3 documents; actual exit {rc}, indexes {ix}, "
             f"{db.stats.count_documents({})} documents\n{out}")
    log("ok  scenario 3: a non-unique stats user_1 index replaced by a unique one")


def scenario_not_an_array(fleet, client, dbs, year, month):
    month_text = f"{year:04d}-{month:02d}"
    sc = it_fleet.Scenario(fleet, "sew", 5)
    dbs.append(sc.db)
    client.drop_database(sc.db)
    db = db_handle(client, sc.db)
    u = ObjectId()
    at = month_start_ms(year, month) + DAY_MS
    db.users.insert_one({"_id": u, "email": "odd@example.test"})
    db.playbacks.insert_one({"user": u, "song": ObjectId(), "artist": ObjectId(), "duration": 60,
                             "createdAt": DatetimeMS(at), "updatedAt": DatetimeMS(at)})
    db.stats.insert_one({"user": u, "stats": "kept as is", "appField": 1})
    before = db.stats.find_one({"user": u})
    rc, _ = sc.producer("stats", "--month", month_text, "--shards", "1",
                          *PREVIOUS_MONTH_RETENTION)
    if rc != 0:
        fail(f"joytify-producer stats: expected exit 0, actual {rc}")
    w = sc.start_worker("--retention-days", str(RETENTION_DAYS))
    wait_until(f"the worker to refuse user {u}'s stats document (a `stats` that is not an array)",
               lambda: str(u) in w.log_text() and "expected an array" in w.log_text(),
               WAIT_JOB_S, on_timeout=fleet.logs)
    sc.stop_workers()
    after = db.stats.find_one({"user": u})
    if after != before:
        fail(f"user {u}'s stats document with a non-array `stats`: expected unchanged {before}, "
             f"actual {after}")
    log(f"ok  scenario 4: a `stats` that is not an array: the task refused naming user {u}, the "
        "document unchanged")


def main():
    def body(fleet, client, dbs):
        year, month = previous_complete_month(time.time())
        scenario_concurrent_writes(fleet, client, dbs, year, month)
        scenario_duplicates(fleet, client, dbs, year, month, 2, with_index=False)
        scenario_duplicates(fleet, client, dbs, year, month, 3, with_index=True)
        scenario_upgrade(fleet, client, dbs, year, month)
        scenario_not_an_array(fleet, client, dbs, year, month)

    return it_fleet.run_main("safety_entry_writes_it", body)


if __name__ == "__main__":
    sys.exit(main())
