#!/usr/bin/env python3
"""joytify-worker running a monthly statistics job end to end against the real stack: the built
joytify-producer emits `stats --month M --users-per-task 16` (5 ranges of users), two joytify-worker processes share it, and
everything they leave is checked against independent expectations.

Scenario 1 (entries): a seeded dataset (80 users, a catalogue of artists and songs with skewed
popularity, some artists without a `musicians` document, playbacks of the month at skewed hours
with mixed int32/double durations and the month's exact boundaries, playbacks of the month
before and older, stored entries of earlier and later months, stale entries of the month to be
replaced, users without a stats document). For EVERY user the stats document is compared with
tests/tools/stats_oracle.py (imported: its entry_for on the same playbacks): the month's entry
field by field in canonical Extended JSON (types, order, rounding, createdAt/updatedAt), exactly
one entry for the month, every other month's entry unchanged and in place.
Scenario 2 (notifications): one `monthlyStatistic` notification whose _id is the notification_id
of the job's single JOB_FINISHED; {id, viewed:false, read:false} exactly once for each opted-in
user with an entry, nothing for the others; the event's users_processed/users_updated. Then the
producer run again (same job id: nothing sent), and the stats topic replayed to the beginning
with a user's notification marked viewed: nothing changes, no second JOB_FINISHED. Then a
finalizer that died holding the ledger's finalize claim (its lease lapses 8 s later) and the
topic replayed again: the FINALIZE task waits for the lease without spending attempts, then the
recovered finalization adds nothing twice, keeps the viewed flag, starts no second cleanup job.
Scenario 3 (chained cleanup): the cleanup job the finalization starts carries triggered_by
"monthly-stats-notification" (the original's value) in JOB_STARTED and JOB_FINISHED; playbacks
older than its cutoff are gone, the others intact, records_deleted matches.

The month is the previous complete UTC month. Its first day can be 62 days old (on Aug 31, say),
so the workers run the chained cleanup with a retention of 75 days: its cutoff never reaches into
the month, and the replayed month reads the same playbacks as the first run. Each scenario part uses its own database, topics and
consumer group (it_fleet.Scenario). Runs under the project venv (pymongo, fastavro): see
it_fleet.require_venv. Exit 0 when everything holds, 1 with the differences otherwise.
"""

import json
import os
import random
import sys
import time

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import it_fleet  # noqa: E402

it_fleet.require_venv(__file__)

from bson import Int64, ObjectId  # noqa: E402

from it_fleet import PREVIOUS_MONTH_RETENTION, fail, log, wait_until  # noqa: E402
from it_stats import (add_months, canonical, db_handle, first_difference, load_oracle,  # noqa: E402
                      month_start_ms, report, stats_docs_by_user)

SEED = 20261025
USERS_PER_TASK = 16
TASKS = 5  # USERS / USERS_PER_TASK ranges
USERS = 80
DAY_MS = 86400 * 1000
RETENTION_DAYS = 75  # > the age of the previous month's first day (see above)
WAIT_JOB_S = 120
WAIT_REPLAY_S = 60
CHAINED_BY = "monthly-stats-notification"  # the original's triggeredBy of the chained cleanup


def previous_complete_month(now_s):
    t = time.gmtime(now_s)
    return add_months(t.tm_year, t.tm_mon, -1)


def ms_to_dt(ms):
    # pymongo stores a datetime exactly to the millisecond; naive datetimes are UTC.
    from bson.datetime_ms import DatetimeMS
    return DatetimeMS(ms)


# --- the dataset -----------------------------------------------------------------------------


class Dataset:
    """Seeded, repeatable test data for month (year, month), plus what the test expects."""

    def __init__(self, year, month, seed=SEED):
        rng = random.Random(seed)
        self.year, self.month = year, month
        self.start = month_start_ms(year, month)
        self.end = month_start_ms(*add_months(year, month, 1))
        self.prev_start = month_start_ms(*add_months(year, month, -1))
        self.prev2_start = month_start_ms(*add_months(year, month, -2))
        self.old_start = month_start_ms(*add_months(year, month, -3))
        ts = (self.prev2_start // 1000).to_bytes(4, "big")

        def oid():
            return ObjectId(ts + rng.randbytes(8))

        # Catalogue: artists by popularity rank; ranks 0, 4, 9, ... have no musicians document.
        self.artists = [oid() for _ in range(40)]
        names = ["Nina Arclight", "The Velvet Static", "Sigur Rós Tribute", "Beyoncé Covers",
                 "Kofi & the Tides", "Marta Ødegård", "Quiet Engines", "DJ Ümlaut"]
        self.unknown = {a for r, a in enumerate(self.artists) if r % 5 == 0 or r == 9}
        self.musicians = []
        self.names = {}
        for r, a in enumerate(self.artists):
            if a in self.unknown:
                continue
            name = names[r % len(names)] + ("" if r < len(names) else f" {r}")
            self.musicians.append({"_id": a, "name": name, "bio": "test"})
            self.names[str(a)] = name
        self.songs = []  # (song, artist) by popularity rank
        artist_w = [1 / (r + 1) ** 1.1 for r in range(len(self.artists))]
        for _ in range(240):
            self.songs.append((oid(), rng.choices(self.artists, artist_w)[0]))
        self.song_w = [1 / (r + 1) ** 1.2 for r in range(len(self.songs))]
        hour_w = [1, 1, 0.5, 0.3, 0.2, 0.2, 0.5, 1, 2, 2, 2, 2,
                  3, 2, 2, 2, 3, 4, 6, 8, 9, 8, 5, 3]

        self.users, self.stats_docs, self.playbacks = [], [], []
        self.stored = {}  # user -> stored stats entries (in order) before the job
        self.opted_in, self.has_month = set(), set()
        self.user_index = {}
        self.stale_users, self.prev_entry_users = set(), set()
        for i in range(USERS):
            u = oid()
            self.user_index[u] = i
            doc = {"_id": u, "email": f"user{i}@example.test", "username": f"user{i}",
                   "notifications": []}
            if i == 7:
                pass  # no userPreferences at all: not opted in
            else:
                pref = i % 5 != 3
                doc["userPreferences"] = {"notifications": {
                    "monthlyStatistic": pref, "followingArtistUpdate": True,
                    "systemAnnouncement": i % 2 == 0}}
                if pref:
                    self.opted_in.add(u)
            if i % 4 == 1:
                doc["notifications"].append({"id": oid(), "viewed": True, "read": False})
            if i == 13:
                del doc["notifications"]  # the $push must create the array
            self.users.append(doc)

            in_month = i % 10 != 9
            playbacks = []
            if in_month:
                self.has_month.add(u)
                fav = [s for s in self.songs if s[1] == rng.choice(self.artists[:12])] or \
                    self.songs[:3]
                n = 400 if i == 2 else rng.randint(1, 60)
                for k in range(n):
                    song, artist = rng.choice(fav) if rng.random() < 0.5 else \
                        rng.choices(self.songs, self.song_w)[0]
                    day = rng.randrange((self.end - self.start) // DAY_MS)
                    hour = rng.choices(range(24), hour_w)[0]
                    at = self.start + day * DAY_MS + hour * 3600000 + rng.randrange(3600000)
                    playbacks.append((song, artist, self.duration(rng, k), at))
                if i == 4:  # exact ties: two songs and two artists with equal totals
                    a1, a2 = sorted(self.artists[30:32])
                    s1, s2 = oid(), oid()
                    playbacks = [(s1, a1, 100, self.start + 5 * DAY_MS),
                                 (s2, a2, 60.5, self.start + 6 * DAY_MS),
                                 (s2, a2, 39.5, self.start + 6 * DAY_MS),
                                 (self.songs[0][0], a2, 1.25, self.start + 7 * DAY_MS),
                                 (self.songs[0][0], a1, 1.25, self.start + 7 * DAY_MS)]
                if i == 10:  # the month's first millisecond is in it
                    playbacks.append((self.songs[1][0], self.songs[1][1], 42.0, self.start))
                if i == 11:  # and its last
                    playbacks.append((self.songs[2][0], self.songs[2][1], 17, self.end - 1))
            if i == 12 or i == 19:  # the neighbours' boundaries are not
                playbacks.append((self.songs[3][0], self.songs[3][1], 99.0, self.start - 1))
                playbacks.append((self.songs[3][0], self.songs[3][1], 77.0, self.end))
            if i % 2 == 0 or i % 20 == 9:  # the month before
                for k in range(rng.randint(1, 15)):
                    song, artist = rng.choices(self.songs, self.song_w)[0]
                    at = self.prev_start + rng.randrange(self.start - self.prev_start)
                    playbacks.append((song, artist, self.duration(rng, k), at))
            if i % 8 == 3:  # older still: due for cleanup
                for k in range(rng.randint(1, 6)):
                    song, artist = rng.choices(self.songs, self.song_w)[0]
                    at = self.old_start + rng.randrange(self.prev2_start - self.old_start)
                    playbacks.append((song, artist, self.duration(rng, k), at))
            for k, (song, artist, duration, at) in enumerate(playbacks):
                self.playbacks.append({
                    "_id": oid(), "user": u, "song": song, "artist": artist,
                    "state": "completed" if k % 2 == 0 else "playing", "duration": duration,
                    "createdAt": ms_to_dt(at), "updatedAt": ms_to_dt(at + 1000),
                    "_at": at})

            # Stored entries, in the app's (chronological) order.
            entries = []
            if i % 4 == 0:
                entries.append(self.entry(rng, self.prev2_start + 3 * DAY_MS, 5000.5))
            if i % 3 == 0:
                total = 0 if i == 0 else (Int64(7200) if i == 6 else
                                          rng.randint(600, 90000) if i % 2 == 0 else
                                          round(rng.uniform(600, 90000), 3))
                entries.append(self.entry(rng, self.prev_start + rng.randrange(20) * DAY_MS,
                                          total))
                self.prev_entry_users.add(u)
            if i % 7 == 1:  # stale entries of the month: replaced, or removed without playback
                entries.append(self.entry(rng, self.start + 4 * DAY_MS, 12.0))
                if i == 8:
                    entries.append(self.entry(rng, self.start + 20 * DAY_MS, 34.0))
                self.stale_users.add(u)
            if i % 6 == 5:  # the current month's entry, kept after the month's
                entries.append(self.entry(rng, self.end + 2 * DAY_MS, 321.0))
            if entries or i % 11 == 10:
                self.stats_docs.append({"user": u, "stats": entries,
                                        "createdAt": ms_to_dt(self.old_start),
                                        "updatedAt": ms_to_dt(self.old_start)})
            self.stored[u] = entries

    @staticmethod
    def duration(rng, k):
        # The app's driver stores whole numbers as int32, others as doubles.
        return 30 + k % 300 if rng.random() < 0.5 else round(rng.uniform(0.5, 420), 3)

    def entry(self, rng, created_ms, total):
        song, artist = rng.choice(self.songs)
        return {"songs": [{"song": song, "totalDuration": float(total)}],
                "artists": [{"artist": artist, "totalDuration": float(total)}],
                "peakHour": [{"hour": 3, "totalDuration": float(total), "utilization": 1.5}],
                "summary": {"month": time.gmtime(created_ms / 1000).tm_mon,
                            "year": time.gmtime(created_ms / 1000).tm_year,
                            "totalDuration": total, "growthPercentage": 0.0,
                            "topArtist": "Stored Artist", "topArtistTotalPlaybackTime": 1.0},
                "createdAt": ms_to_dt(created_ms), "updatedAt": ms_to_dt(created_ms + 60000)}

    def load(self, db):
        db.users.insert_many(self.users, ordered=False)
        db.musicians.insert_many(self.musicians, ordered=False)
        if self.stats_docs:
            db.stats.insert_many(self.stats_docs, ordered=False)
        db.playbacks.insert_many([{k: v for k, v in p.items() if k != "_at"}
                                  for p in self.playbacks], ordered=False)

    def expected_entries(self, oracle):
        """{user: canonical entry} from the oracle, on the same playbacks and stored totals."""
        start, end = oracle.month_range_ms(self.year, self.month)
        by_user = {}
        for p in self.playbacks:
            row = {"user": str(p["user"]), "song": str(p["song"]), "artist": str(p["artist"]),
                   "duration": p["duration"], "createdAt": p["_at"]}
            if oracle.accepted(row, start, end):
                by_user.setdefault(p["user"], []).append(row)
        out = {}
        for u, rows in by_user.items():
            prev = None
            for e in self.stored[u]:
                at = int(e["createdAt"])
                if self.prev_start <= at < self.start:
                    prev = e["summary"]["totalDuration"]
                    prev = int(prev) if isinstance(prev, int) else prev
            out[u] = oracle.entry_for(rows, self.year, self.month, prev, self.names)
        return out


# --- checks ------------------------------------------------------------------------------------


def check_entries(ds, db, expected):
    """Every user's stats document against the oracle and the stored entries."""
    docs, problems = stats_docs_by_user(db)
    stats_with_month = 0
    for doc in ds.users:
        u = doc["_id"]
        i = ds.user_index[u]
        stored = ds.stored[u]
        d = docs.get(u)
        actual = d["stats"] if d else None
        if u not in expected:
            # No playback in the month: the document is as it was (or still absent), less any
            # stale entry of the month (drift: it counted playbacks that are not there).
            kept = [e for e in stored if not ds.start <= int(e["createdAt"]) < ds.end]
            want = [canonical(e) for e in kept] if (stored or i % 11 == 10) else None
            got = [canonical(e) for e in actual] if actual is not None else None
            if want != got:
                problems.append(f"user {i} ({u}), no playback in the month: stats expected "
                                f"unchanged {json.dumps(want)[:300]}, actual {json.dumps(got)[:300]}")
            continue
        if actual is None:
            problems.append(f"user {i} ({u}): expected a stats document with the month's entry, "
                            "actual none")
            continue
        in_month = [e for e in actual if ds.start <= int(e["createdAt"]) < ds.end]
        if len(in_month) != 1:
            problems.append(f"user {i} ({u}): expected exactly one entry of the month, actual "
                            f"{len(in_month)}")
            continue
        stats_with_month += 1
        diff = first_difference(expected[u], canonical(in_month[0]))
        if diff:
            problems.append(f"user {i} ({u}) against the oracle: {diff}")
        before = [e for e in stored if int(e["createdAt"]) < ds.start]
        after = [e for e in stored if int(e["createdAt"]) >= ds.end]
        want = [canonical(e) for e in before] + [expected[u]] + [canonical(e) for e in after]
        got = [canonical(e) for e in actual]
        if want != got:
            problems.append(f"user {i} ({u}): expected the other months' entries unchanged around "
                            f"the month's (earlier ones, the month, later ones: "
                            f"{len(before)}+1+{len(after)} entries), actual {len(got)} entries: "
                            f"{first_difference(want, got, 'stats') or 'order differs'}")
    return problems, stats_with_month


def events_of(events, job_id, type_=None):
    return [e for e in events if e["job_id"] == job_id and (type_ is None or e["type"] == type_)]


def notifications_by_user(ds, db, nid):
    """{user: [entries with id nid]} for every test user."""
    out = {}
    for d in db.users.find({}, {"notifications": 1}):
        out[d["_id"]] = [n for n in d.get("notifications") or [] if n.get("id") == nid]
    return out


def check_notifications(ds, db, nid, viewed_user=None, label=""):
    problems = []
    docs = list(db.notifications.find({}))
    if len(docs) != 1 or docs[0]["_id"] != nid or docs[0].get("type") != "monthlyStatistic":
        problems.append(f"{label}notifications collection: expected exactly one document "
                        f"{{_id: {nid}, type: monthlyStatistic}}, actual "
                        f"{[(str(d['_id']), d.get('type')) for d in docs]}")
    per_user = notifications_by_user(ds, db, nid)
    for doc in ds.users:
        u = doc["_id"]
        i = ds.user_index[u]
        got = per_user.get(u, [])
        if u in ds.opted_in and u in ds.has_month:
            want = [{"id": nid, "viewed": u == viewed_user, "read": False}]
        else:
            want = []
        if got != want:
            problems.append(f"{label}user {i} ({u}, opted in {u in ds.opted_in}, entry "
                            f"{u in ds.has_month}): notification entries expected {want}, actual "
                            f"{got}")
        others = [n for n in doc.get("notifications", [])]
        kept = [n for n in (db.users.find_one({"_id": u}).get("notifications") or [])
                if n.get("id") != nid]
        if kept != others:
            problems.append(f"{label}user {i}: other notifications expected {others}, actual {kept}")
    return problems


# --- the test ----------------------------------------------------------------------------------


def job_state(db, job_id):
    d = db.jobs.find_one({"_id": job_id}, {"state": 1})
    return d.get("state") if d else None


def run(fleet, oracle, client):
    t0 = time.monotonic()
    year, month = previous_complete_month(time.time())
    month_text = f"{year:04d}-{month:02d}"
    job_id = f"stats-{month_text}"
    decoder = it_fleet.status_decoder(fleet.source_dir)
    sc = it_fleet.Scenario(fleet, "ws", 1)
    db = db_handle(client, sc.db)
    client.drop_database(sc.db)

    ds = Dataset(year, month)
    ds.load(db)
    expected = ds.expected_entries(oracle)
    log(f"dataset in {sc.db}: {len(ds.users)} users ({len(ds.opted_in)} opted in, "
        f"{len(ds.has_month)} with playbacks in {month_text}, {len(ds.stale_users)} with a stale "
        f"entry of the month, {len(ds.prev_entry_users)} with the month before's entry), "
        f"{len(ds.musicians)} musicians of {len(ds.artists)} artists, {len(ds.playbacks)} "
        f"playbacks; oracle: {len(expected)} entries  [{time.monotonic() - t0:.1f} s]")
    if set(expected) != ds.has_month:
        fail("test bug: the oracle's users differ from the users given playbacks in the month")

    # Scenario 1: the job, two workers, every entry against the oracle.
    t1 = time.monotonic()
    rc, out = sc.producer("stats", "--month", month_text, "--users-per-task", str(USERS_PER_TASK),
                          *PREVIOUS_MONTH_RETENTION)
    if rc != 0:
        fail(f"joytify-producer stats: expected exit 0, actual {rc}")
    worker_args = ("--range-hours", "240", "--batch-delay-ms", "0", "--retention-days",
                   str(RETENTION_DAYS))
    sc.start_worker(*worker_args)
    sc.start_worker(*worker_args)

    def stats_done():
        sc.expect_workers_alive()
        failed = list(db.jobs.find({"state": "failed"}, {"_id": 1}))
        if failed:
            fail(f"job(s) failed: {[d['_id'] for d in failed]}\n{fleet.logs()}")
        if job_state(db, job_id) != "finished":
            return None
        cleanup = list(db.jobs.find({"kind": "cleanup"}))
        return cleanup if cleanup and all(c.get("state") == "finished" for c in cleanup) else None

    cleanup_jobs = wait_until(f"ledger jobs {job_id} and its cleanup job to be finished",
                              stats_done, WAIT_JOB_S, on_timeout=fleet.logs)
    log(f"ok  {job_id} and the chained cleanup job finished  [{time.monotonic() - t1:.1f} s]")

    problems, with_entry = check_entries(ds, db, expected)
    report(problems, f"scenario 1: {len(ds.users)} users' stats documents against the oracle "
                     f"({with_entry} entries of {month_text}, {len(ds.stale_users)} stale ones "
                     "replaced, other months unchanged)")

    # Scenario 2: the notification, once per opted-in user with an entry; the job's figures.
    events = sc.status_events(decoder)
    finished = events_of(events, job_id, "JOB_FINISHED")
    if len(finished) != 1:
        fail(f"status events of {job_id}: expected one JOB_FINISHED, actual {len(finished)}: "
             f"{finished}")
    fin = finished[0]
    if not fin.get("notification_id"):
        fail(f"JOB_FINISHED of {job_id}: expected a notification_id, actual {fin}")
    nid = ObjectId(fin["notification_id"])
    notified = ds.opted_in & ds.has_month
    want = {"users_processed": len(ds.has_month), "users_updated": len(notified),
            "notifications_created": 1, "month": month_text, "cleanup_triggered": True,
            "job_kind": "STATS", "test_mode": False}
    got = {k: fin.get(k) for k in want}
    if got != want:
        fail(f"JOB_FINISHED of {job_id}: expected {want}, actual {got}")
    report(check_notifications(ds, db, nid),
           f"scenario 2: one monthlyStatistic notification {nid} (= JOB_FINISHED "
           f"notification_id), pushed once to the {len(notified)} opted-in users with an entry, "
           f"to none of the other {len(ds.users) - len(notified)}; users_processed "
           f"{len(ds.has_month)}, users_updated {len(notified)}")

    # Scenario 3: the chained cleanup job.
    if len(cleanup_jobs) != 1:
        fail(f"ledger: expected one cleanup job, actual {[c['_id'] for c in cleanup_jobs]}")
    cjob = cleanup_jobs[0]
    cid = cjob["_id"]
    if (cjob.get("params") or {}).get("triggeredBy") != CHAINED_BY:
        fail(f"ledger {cid}: expected params.triggeredBy {CHAINED_BY}, actual {cjob.get('params')}")
    started = events_of(events, cid, "JOB_STARTED")
    cfin = events_of(events, cid, "JOB_FINISHED")
    if len(started) != 1 or len(cfin) != 1:
        fail(f"status events of {cid}: expected one JOB_STARTED and one JOB_FINISHED, actual "
             f"{len(started)} and {len(cfin)}")
    for ev in started + cfin:
        if ev.get("triggered_by") != CHAINED_BY or ev.get("job_kind") != "CLEANUP":
            fail(f"{ev['type']} of {cid}: expected triggered_by {CHAINED_BY}, job_kind CLEANUP, "
                 f"actual {ev.get('triggered_by')!r}, {ev.get('job_kind')}")
    cutoff = started[0].get("cutoff_date")
    if cutoff is None or cfin[0].get("cutoff_date") != cutoff:
        fail(f"{cid}: expected the same cutoff_date in JOB_STARTED and JOB_FINISHED, actual "
             f"{cutoff} and {cfin[0].get('cutoff_date')}")
    job_created = int(db.jobs.find_one({"_id": job_id})["createdAt"])
    want_cutoff = (job_created // 60000 * 60000) - RETENTION_DAYS * DAY_MS
    if abs(cutoff - want_cutoff) > 120000:
        fail(f"{cid}: expected cutoff ~ the stats job's creation minute - {RETENTION_DAYS} days "
             f"({want_cutoff}), actual {cutoff}")
    old = {p["_id"] for p in ds.playbacks if p["_at"] < cutoff}
    keep = {p["_id"] for p in ds.playbacks if p["_at"] >= cutoff}
    left = {d["_id"] for d in db.playbacks.find({}, {"_id": 1})}
    if left != keep:
        fail(f"{cid} (cutoff {cutoff}): expected the {len(keep)} playbacks at or after the cutoff "
             f"to remain and the {len(old)} older ones gone; actual {len(left & old)} older ones "
             f"left, {len(keep - left)} newer ones missing, {len(left - keep - old)} unknown")
    if cfin[0].get("records_deleted") != len(old) or not old:
        fail(f"JOB_FINISHED of {cid}: expected records_deleted {len(old)} (> 0), actual "
             f"{cfin[0].get('records_deleted')}")
    log(f"ok  scenario 3: cleanup job {cid} triggered_by {CHAINED_BY} (JOB_STARTED, "
        f"JOB_FINISHED), {len(old)} playbacks older than the cutoff deleted, {len(keep)} kept")
    t_s1 = time.monotonic() - t1

    # Scenario 2, continued: the same job again changes nothing.
    t2 = time.monotonic()
    sc.stop_workers()
    viewed = next(d["_id"] for d in ds.users if d["_id"] in notified)
    notes = db.users.find_one({"_id": viewed})["notifications"]
    for n in notes:
        if n.get("id") == nid:
            n["viewed"] = True
    db.users.update_one({"_id": viewed}, {"$set": {"notifications": notes}})
    rc, out = sc.producer("stats", "--month", month_text, "--users-per-task", str(USERS_PER_TASK),
                          *PREVIOUS_MONTH_RETENTION)
    if rc != 0 or f"job {job_id} already exists" not in out or "nothing sent" not in out:
        fail(f"joytify-producer stats, second time: expected exit 0 and 'job {job_id} already "
             f"exists ... nothing sent', actual exit {rc}: {out}")

    def replay_and_rerun(what):
        rc, out = sc.replay_stopped_group("--topic", sc.topic["stats"], "--group", sc.group,
                                          "--to-offset", "beginning")
        if rc != 0:
            fail(f"joytify-producer replay: expected exit 0, actual {rc}")
        shard_ids = list(db.jobs.find_one({"_id": job_id})["taskIds"])
        if len(shard_ids) != TASKS:
            fail(f"ledger {job_id}: expected {TASKS} taskIds, actual {shard_ids}")
        w = sc.start_worker(*worker_args)

        def rerun_done():
            # Each shard is handled again: a finished job's shard does nothing (no events), a
            # recorded shard of an unfinished job only sends the FINALIZE again.
            sc.expect_workers_alive()
            seen = all(t in w.log_text() for t in shard_ids)
            return seen and sc.caught_up("stats")

        wait_until(f"{what}: every shard handled again and the group at the end of the stats "
                   "topic", rerun_done, WAIT_REPLAY_S, interval_s=0.5, on_timeout=fleet.logs)
        sc.stop_workers()
        return sc.status_events(decoder)

    events = replay_and_rerun("replay 1")
    problems = check_notifications(ds, db, nid, viewed_user=viewed, label="after the replay: ")
    finished = events_of(events, job_id, "JOB_FINISHED")
    if len(finished) != 1:
        problems.append(f"status events of {job_id}: expected still one JOB_FINISHED after the "
                        f"replay, actual {len(finished)}")
    if job_state(db, job_id) != "finished":
        problems.append(f"ledger {job_id}: expected state finished, actual {job_state(db, job_id)}")
    p2, _ = check_entries(ds, db, expected)
    problems += ["after the replay: " + p for p in p2]
    report(problems, "scenario 2: producer run again sends nothing; stats topic replayed with "
                     f"user {ds.user_index[viewed]}'s notification viewed: entries identical, still "
                     "one notification, viewed:true kept, nobody notified twice, one JOB_FINISHED")

    # A finalizer that died holding the claim: the replayed FINALIZE waits (without spending
    # attempts: --max-attempts 4 would run out) until the claim's lease lapses, then takes over.
    lapse_s = 8
    db.jobs.update_one({"_id": job_id}, {"$set": {
        "state": "finalizing", "finalizeBy": "dead-worker/1",
        "finalizeUntil": ms_to_dt(int(time.time() * 1000) + lapse_s * 1000)}})
    t_claim = time.monotonic()
    events = replay_and_rerun("replay 2 (a dead worker's finalize claim)")
    problems = check_notifications(ds, db, nid, viewed_user=viewed,
                                   label="after the recovered finalization: ")
    if not any("being finalized by another worker" in p.log_text() for p in fleet.procs):
        problems.append("worker logs: expected the FINALIZE task to wait for the other worker's "
                        "claim ('being finalized by another worker'), actual no such line")
    if time.monotonic() - t_claim < lapse_s:
        problems.append(f"the recovered finalization ended {time.monotonic() - t_claim:.1f} s "
                        f"after the replay: expected after the claim lapsed ({lapse_s} s)")
    finished = events_of(events, job_id, "JOB_FINISHED")
    if len(finished) != 2 or finished[1].get("notification_id") != str(nid) or \
            finished[1].get("users_processed") != len(ds.has_month):
        problems.append(f"status events of {job_id}: expected a second JOB_FINISHED (the "
                        f"recovered finalization) with notification_id {nid} and users_processed "
                        f"{len(ds.has_month)}, actual {[(e.get('notification_id'), e.get('users_processed')) for e in finished]}")
    if job_state(db, job_id) != "finished":
        problems.append(f"ledger {job_id}: expected state finished, actual {job_state(db, job_id)}")
    cjobs = [c["_id"] for c in db.jobs.find({"kind": "cleanup"}, {"_id": 1})]
    if cjobs != [cid] or len(events_of(events, cid, "JOB_STARTED")) != 1:
        problems.append(f"expected the one cleanup job {cid} started once, actual ledger {cjobs}, "
                        f"{len(events_of(events, cid, 'JOB_STARTED'))} JOB_STARTED")
    report(problems, "scenario 2: a dead worker's finalize claim: the FINALIZE task waited for "
                     "it to lapse, then finalized adding nothing twice (viewed:true kept, one "
                     "notification), starting no second cleanup job")
    if len(finished) == 2:
        log(f"    (the recovered JOB_FINISHED says users_updated "
            f"{finished[1].get('users_updated')}; the first said {fin.get('users_updated')})")
    log(f"timings: scenarios 1+3 {t_s1:.1f} s, scenario 2 re-runs {time.monotonic() - t2:.1f} s, "
        f"total {time.monotonic() - t0:.1f} s")
    return sc


def main():
    def body(fleet, client, dbs):
        sc = run(fleet, load_oracle(fleet.source_dir), client)
        dbs.append(sc.db)

    return it_fleet.run_main("worker_stats_it", body)


if __name__ == "__main__":
    sys.exit(main())
