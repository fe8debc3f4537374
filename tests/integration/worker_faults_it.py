#!/usr/bin/env python3
"""Fault tests of the worker fleet against the real stack: the built joytify-producer starts a
monthly statistics job (which chains its cleanup job) and joytify-worker processes share it while
the test kills workers, adds one, or takes the database away. Every scenario uses its own
database, topics and consumer group (it_fleet.Scenario); the data is seeded and small, so a clean
run takes seconds.

Reference: dataset A (80 users x 30-40 playbacks of the month, stored entries of the month
before, ~3,000 playbacks due for cleanup) in its own database, one worker, `stats` in 6 ranges of users:
the final state is checked against expectations (every entry against tests/tools/stats_oracle.py,
the notification once per opted-in user with an entry, exactly the playbacks older than the
cutoff deleted) and kept as the clean result the fault scenarios must reproduce.

Scenario 1 (idempotency under crashes): dataset A in another database; two workers run the same
jobs while a third is SIGKILLed at seeded random points (4-6 times) and restarted. Then the
final state equals the reference's in every db-independent value: every user's stats entries
(canonical Extended JSON), the notifications collection (ids derive from the job id; the
creation times derive from the job's creation and are not compared), every user's notifications
array, the remaining playbacks' ids, the jobs' figures; exactly one notification document, one
JOB_FINISHED per job, nothing in the DLQ, every ledger result recorded once.

Scenario 2 (scaling): 100 users in 12 ranges, a cleanup of 24 ranges throttled (small batches
with a delay) so that a range takes ~1 s; three workers: their ids all appear in TASK_FINISHED
events; then a fourth joins mid-job: the job completes, each task's result is recorded once
(tasksDone == tasksTotal, one result per task key), the figures are exact (records_deleted ==
the playbacks inserted older than the cutoff), the fourth worker was assigned partitions (the
test says whether it also finished a task: assignment may give it only idle partitions).

Scenario 3 (a database outage is a wait, not attempts; issue 13 item 5): dataset A in a third
database, two workers with --max-attempts 2 --retry-backoff-max-ms 5000 and a throttled cleanup
(~15 s); as soon as the producer has started the job, the MongoDB-compatible server of the stack
is stopped (SIGTERM to its process group, as `stack down` does, then restarted 60 s later with
`stack up`, always, in a finally block). The job completes with the reference's result
(compared as in scenario 1), the workers logged that they waited out the outage (no attempt
spent: with 2 attempts, a fleet that counted the outage's failures dead-letters the tasks and
fails the jobs) and none exited, the DLQ stays empty.
Scenario 4 (a broker restart mid-job): as scenario 3 with the Kafka broker stopped for 20 s and
restarted: the same final state, nothing in the DLQ.

Workers get -X session.timeout.ms=6000 (the broker's minimum) so that the partitions of a killed
worker move on within seconds rather than librdkafka's default 45 s.

Usage: worker_faults_it.py [--only 1,2,3] [--seed N]; under ctest (label fault) with the
jt_stack fixture's environment, including JT_STACK_STATE_DIR and JT_KAFKA_CONTROLLER_PORT for
the database restart. Runs under the project venv (pymongo, fastavro): see it_fleet.require_venv.
Exit 0 when everything holds, 1 with the differences otherwise.
"""

import argparse
import os
import random
import re
import sys
import time

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import it_fleet  # noqa: E402

it_fleet.require_venv(__file__)

from bson import ObjectId  # noqa: E402
from bson.datetime_ms import DatetimeMS  # noqa: E402

from it_fleet import PREVIOUS_MONTH_RETENTION, fail, log, wait_until  # noqa: E402
from it_stats import (add_months, canonical, db_handle, first_difference, load_oracle,  # noqa: E402
                      month_start_ms, report)

SEED = 20261107
DAY_MS = 86400 * 1000
HOUR_MS = 3600 * 1000
RETENTION_DAYS = int(PREVIOUS_MONTH_RETENTION[1])  # the producer's and every worker's
WAIT_JOB_S = 100
# worker/stats_finalize.c FINALIZE_LEASE_MS: a kill during the statistics job's finalize step
# leaves its claim to lapse before another worker takes the step over.
STATS_FINALIZE_LEASE_S = 120
# Every worker: a killed member's partitions move on after 6 s, offsets commit twice a second.
# And the retention of the producer: the previous month is whole (its first day can be 62 days
# back), so the workers' own partial-month check accepts its shards.
FAST_GROUP = ("-X", "session.timeout.ms=6000", "-X", "heartbeat.interval.ms=1000",
              *PREVIOUS_MONTH_RETENTION)


# --- data ----------------------------------------------------------------------------------------


class Dataset:
    """Seeded users, musicians, stored entries and playbacks: `users` users with 30-40 playbacks
    of the month each (every tenth without), and `old` playbacks spread over [old_from, old_to)
    days before now, all due for cleanup. No playback lies within a day of now - RETENTION_DAYS, so the
    cutoffs of runs a few minutes apart select the same playbacks."""

    def __init__(self, year, month, now_ms, seed, users=80, old=3000, old_from=90, old_to=63):
        rng = random.Random(seed)
        self.year, self.month = year, month
        self.start = month_start_ms(year, month)
        self.end = month_start_ms(*add_months(year, month, 1))
        self.prev_start = month_start_ms(*add_months(year, month, -1))
        cutoff = now_ms - RETENTION_DAYS * DAY_MS
        self.guard = (cutoff - DAY_MS, cutoff + DAY_MS)
        ts = ((now_ms - 200 * DAY_MS) // 1000).to_bytes(4, "big")

        def oid():
            return ObjectId(ts + rng.randbytes(8))

        self.artists = [oid() for _ in range(30)]
        self.musicians, self.names = [], {}
        for r, a in enumerate(self.artists):
            if r % 7 == 3:
                continue  # no musicians document: "Unknown Artist"
            self.musicians.append({"_id": a, "name": f"Artist {r} Ø", "bio": "test"})
            self.names[str(a)] = f"Artist {r} Ø"
        self.songs = [(oid(), rng.choice(self.artists)) for _ in range(150)]
        song_w = [1 / (r + 1) for r in range(len(self.songs))]

        self.users, self.stats_docs, self.playbacks = [], [], []
        self.opted_in, self.has_month, self.prev_total = set(), set(), {}
        for i in range(users):
            u = oid()
            doc = {"_id": u, "email": f"user{i}@example.test", "username": f"user{i}",
                   "notifications": []}
            pref = i % 5 != 3
            doc["userPreferences"] = {"notifications": {"monthlyStatistic": pref}}
            if pref:
                self.opted_in.add(u)
            if i % 4 == 1:
                doc["notifications"].append({"id": oid(), "viewed": True, "read": False})
            self.users.append(doc)
            if i % 10 != 9:
                self.has_month.add(u)
                for k in range(rng.randint(30, 40)):
                    at = self.draw(rng, self.start, self.end)
                    self.add(oid(), u, rng.choices(self.songs, song_w)[0], k, rng, at)
            if i % 3 == 0:
                total = rng.randint(600, 50000) if i % 2 else round(rng.uniform(600, 50000), 3)
                song, artist = rng.choice(self.songs)
                at = self.prev_start + rng.randrange(20) * DAY_MS
                self.stats_docs.append({"user": u, "stats": [{
                    "songs": [{"song": song, "totalDuration": float(total)}],
                    "artists": [{"artist": artist, "totalDuration": float(total)}],
                    "peakHour": [{"hour": 3, "totalDuration": float(total), "utilization": 1.5}],
                    "summary": {"month": time.gmtime(at / 1000).tm_mon,
                                "year": time.gmtime(at / 1000).tm_year, "totalDuration": total,
                                "growthPercentage": 0.0, "topArtist": "Stored",
                                "topArtistTotalPlaybackTime": 1.0},
                    "createdAt": DatetimeMS(at), "updatedAt": DatetimeMS(at + 60000)}],
                    "createdAt": DatetimeMS(at), "updatedAt": DatetimeMS(at)})
                self.prev_total[u] = total
        lo, hi = now_ms - int(old_from * DAY_MS), now_ms - int(old_to * DAY_MS)
        for k in range(old):
            u = self.users[rng.randrange(users)]["_id"]
            self.add(oid(), u, rng.choices(self.songs, song_w)[0], k, rng, self.draw(rng, lo, hi))

    def draw(self, rng, lo, hi):
        while True:
            at = lo + rng.randrange(hi - lo)
            if not self.guard[0] <= at < self.guard[1]:
                return at

    def add(self, pid, user, song_artist, k, rng, at):
        duration = 30 + k % 300 if rng.random() < 0.5 else round(rng.uniform(0.5, 420), 3)
        self.playbacks.append({"_id": pid, "user": user, "song": song_artist[0],
                               "artist": song_artist[1],
                               "state": "completed" if k % 2 else "playing",
                               "duration": duration, "createdAt": DatetimeMS(at),
                               "updatedAt": DatetimeMS(at + 1000), "_at": at})

    def load(self, db):
        db.users.insert_many(self.users)
        db.musicians.insert_many(self.musicians)
        db.stats.insert_many(self.stats_docs)
        db.playbacks.insert_many([{k: v for k, v in p.items() if k != "_at"}
                                  for p in self.playbacks])

    def older_than(self, cutoff):
        return {p["_id"] for p in self.playbacks if p["_at"] < cutoff}

    def expected_entries(self, oracle):
        """{user: canonical entry of the month} from the oracle."""
        rows = {}
        for p in self.playbacks:
            if self.start <= p["_at"] < self.end:
                rows.setdefault(p["user"], []).append(
                    {"user": str(p["user"]), "song": str(p["song"]), "artist": str(p["artist"]),
                     "duration": p["duration"], "createdAt": p["_at"]})
        return {u: oracle.entry_for(r, self.year, self.month, self.prev_total.get(u), self.names)
                for u, r in rows.items()}


# --- running a job -------------------------------------------------------------------------------


class Run:
    """One scenario's database, topics, group and job: start it, wait for it, read what it left."""

    def __init__(self, ctx, label, n, ds, shards, partitions=6):
        self.ctx, self.label, self.ds, self.shards = ctx, label, ds, shards
        self.sc = it_fleet.Scenario(ctx.fleet, "wf", n, partitions=partitions)
        self.db = db_handle(ctx.client, self.sc.db)
        ctx.client.drop_database(self.sc.db)
        ctx.dbs.append(self.sc.db)
        self.job_id = f"stats-{ds.year:04d}-{ds.month:02d}"
        self.t0 = None

    def load(self):
        t = time.monotonic()
        self.ds.load(self.db)
        log(f"[{self.label}] dataset in {self.sc.db}: {len(self.ds.users)} users, "
            f"{len(self.ds.playbacks)} playbacks  [{time.monotonic() - t:.1f} s]")

    def start_job(self):
        self.t0 = time.monotonic()
        rc, _ = self.sc.producer("stats", "--month", f"{self.ds.year:04d}-{self.ds.month:02d}",
                                 "--users-per-task", str(-(-len(self.ds.users) // self.shards)),
                                 *PREVIOUS_MONTH_RETENTION)
        if rc != 0:
            fail(f"[{self.label}] joytify-producer stats: expected exit 0, actual {rc}")

    def elapsed(self):
        return time.monotonic() - self.t0

    def jobs(self):
        return {d["_id"]: d for d in self.db.jobs.find({})}

    def cleanup_jobs(self, jobs=None):
        return [d for d in (jobs or self.jobs()).values() if d.get("kind") == "cleanup"]

    def done(self, extra_context=lambda: ""):
        """The stats job and its cleanup job finished (fails at once on a failed job or a
        worker that died on its own)."""
        self.sc.expect_workers_alive()
        jobs = self.jobs()
        failed = [j for j, d in jobs.items() if d.get("state") == "failed"]
        if failed:
            fail(f"[{self.label}] job(s) {failed} failed; ledger {self.ledger_summary(jobs)}\n"
                 f"{extra_context()}\n{self.ctx.fleet.logs()}")
        stats = jobs.get(self.job_id)
        cleanup = self.cleanup_jobs(jobs)
        return bool(stats and stats.get("state") == "finished" and cleanup and
                    all(c.get("state") == "finished" for c in cleanup))

    def ledger_summary(self, jobs=None):
        return {j: f"{d.get('state')} {d.get('tasksDone', 0)}/{d.get('tasksTotal')}"
                for j, d in (jobs or self.jobs()).items()}

    def wait_done(self, timeout_s=WAIT_JOB_S, extra_context=lambda: ""):
        wait_until(f"[{self.label}] {self.job_id} and its cleanup job finished",
                   lambda: self.done(extra_context), timeout_s, interval_s=0.2,
                   on_timeout=lambda: f"ledger {self.ledger_summary()}\n{extra_context()}\n"
                                      f"{self.ctx.fleet.logs()}")
        t = self.elapsed()
        # Redeliveries of tasks whose offsets a killed worker never committed may still be
        # running: the group must reach the end of both task topics before the state is read.
        wait_until(f"[{self.label}] the group at the end of both task topics",
                   lambda: self.sc.caught_up("stats") and self.sc.caught_up("cleanup"), 60,
                   interval_s=0.5, on_timeout=self.ctx.fleet.logs)
        return t

    def events(self):
        return self.sc.status_events(self.ctx.decoder)

    def snapshot(self):
        """Everything the job left, in db-independent values."""
        db = self.db
        stats, dup = {}, []
        for d in db.stats.find({}):
            if d["user"] in stats:
                dup.append(str(d["user"]))
            stats[d["user"]] = canonical(d.get("stats"))
        notes = [canonical({k: v for k, v in d.items() if k not in ("createdAt", "updatedAt")})
                 for d in db.notifications.find({}).sort("_id", 1)]
        user_notes = {d["_id"]: canonical(d.get("notifications"))
                      for d in db.users.find({}, {"notifications": 1})}
        left = sorted(d["_id"] for d in db.playbacks.find({}, {"_id": 1}))
        events = self.events()
        jobs = self.jobs()
        cleanup = self.cleanup_jobs(jobs)
        finished = {}
        for e in events:
            if e["type"] == "JOB_FINISHED":
                finished.setdefault(e["job_id"], []).append(e)
        figures = {}
        for job, evs in finished.items():
            kind = "stats" if job == self.job_id else "cleanup"
            keys = (("users_processed", "users_updated", "notifications_created",
                     "notification_id", "month", "cleanup_triggered") if kind == "stats" else
                    ("records_deleted", "total_records_found", "remaining_records",
                     "completion_percentage", "triggered_by"))
            figures[kind] = [{k: e.get(k) for k in keys} for e in evs]
        return {"stats": stats, "dup_stats": dup, "notifications": notes,
                "user_notifications": user_notes, "playbacks": left, "events": events,
                "jobs": jobs, "cleanup": cleanup, "finished": finished, "figures": figures,
                "dlq": it_fleet.read_topic(self.ctx.fleet.brokers, self.sc.topic["dlq"])}


def ledger_problems(label, snap):
    """Each job: finished, tasksDone == tasksTotal == the number of results, one per task key."""
    problems = []
    for job, d in snap["jobs"].items():
        ids = list(d.get("taskIds") or [])
        keys = sorted(t[len(job) + 1:] for t in ids)
        results = sorted((d.get("results") or {}).keys())
        if d.get("state") != "finished" or d.get("tasksDone") != d.get("tasksTotal") or \
                d.get("tasksTotal") != len(ids) or results != keys:
            problems.append(f"{label} ledger {job}: expected state finished, tasksDone == "
                            f"tasksTotal == {len(ids)} and one result per task key; actual state "
                            f"{d.get('state')}, tasksDone {d.get('tasksDone')}, tasksTotal "
                            f"{d.get('tasksTotal')}, result keys {len(results)} "
                            f"(missing {sorted(set(keys) - set(results))[:5]}, unexpected "
                            f"{sorted(set(results) - set(keys))[:5]})")
    return problems


def once_problems(label, snap):
    """One notification document, one JOB_FINISHED per job, no DLQ message, one stats document
    per user, the ledger's results once."""
    problems = ledger_problems(label, snap)
    if len(snap["notifications"]) != 1:
        problems.append(f"{label}: expected exactly one notification document, actual "
                        f"{snap['notifications']}")
    for job in list(snap["jobs"]):
        evs = snap["finished"].get(job, [])
        if len(evs) != 1:
            problems.append(f"{label}: expected one JOB_FINISHED of {job}, actual {len(evs)}: "
                            + "; ".join(f"{e['worker_id']} at {e['timestamp']} "
                                        f"(partition {e['_partition']} offset {e['_offset']})"
                                        for e in evs))
    if snap["dlq"]:
        problems.append(f"{label}: expected an empty DLQ, actual {len(snap['dlq'])} message(s): "
                        f"{[m.key for m in snap['dlq']][:10]}")
    if snap["dup_stats"]:
        problems.append(f"{label}: users with two stats documents: {snap['dup_stats'][:5]}")
    if len(snap["cleanup"]) != 1:
        problems.append(f"{label}: expected one cleanup job, actual "
                        f"{[c['_id'] for c in snap['cleanup']]}")
    return problems


def same_as_reference(label, ref, got):
    """got's final state against the reference's, value by value."""
    problems = []
    users = sorted(set(ref["stats"]) | set(got["stats"]))
    for u in users:
        if u not in got["stats"] or u not in ref["stats"]:
            problems.append(f"{label} user {u}: stats document in the reference "
                            f"{u in ref['stats']}, here {u in got['stats']}")
            continue
        d = first_difference(ref["stats"][u], got["stats"][u], f"user {u} stats")
        if d:
            problems.append(f"{label} {d}")
    if got["notifications"] != ref["notifications"]:
        problems.append(f"{label} notifications collection: expected {ref['notifications']}, "
                        f"actual {got['notifications']}")
    for u in sorted(set(ref["user_notifications"]) | set(got["user_notifications"])):
        a, b = ref["user_notifications"].get(u), got["user_notifications"].get(u)
        if a != b:
            problems.append(f"{label} user {u} notifications: expected {a}, actual {b}")
    if got["playbacks"] != ref["playbacks"]:
        r, g = set(ref["playbacks"]), set(got["playbacks"])
        problems.append(f"{label} remaining playbacks: expected the reference's {len(r)}, actual "
                        f"{len(g)} ({len(r - g)} missing, {len(g - r)} more)")
    if got["figures"] != ref["figures"]:
        problems.append(f"{label} JOB_FINISHED figures: expected {ref['figures']}, actual "
                        f"{got['figures']}")
    return problems


class Context:
    def __init__(self, fleet, client, oracle, seed):
        self.fleet, self.client, self.oracle, self.seed = fleet, client, oracle, seed
        self.decoder = it_fleet.status_decoder(fleet.source_dir)
        self.dbs = []
        now = time.time()
        t = time.gmtime(now)
        self.year, self.month = add_months(t.tm_year, t.tm_mon, -1)  # previous complete month
        self.now_ms = int(now * 1000)
        self.reference = None
        self.timings = {}

    def dataset_a(self):
        return Dataset(self.year, self.month, self.now_ms, self.seed)


# --- the reference run ---------------------------------------------------------------------------

# Dataset A's cleanup: ranges of ~100 playbacks deleted 50 at a time, ~1 s a range here.
WORKER_A = ("--batch-size", "50", "--batch-delay-ms", "40", *FAST_GROUP)
# The reference run: ranges of 4 days, one batch each.
WORKER_REF = ("--range-hours", "96", "--batch-delay-ms", "0", *FAST_GROUP)
# The worker killed in scenario 1 logs each task it starts: its last line says where it died.
VICTIM = ("--log-level", "debug")


def reference(ctx):
    """Dataset A, one worker: checked against expectations, kept as the clean result."""
    if ctx.reference:
        return ctx.reference
    t0 = time.monotonic()
    ds = ctx.dataset_a()
    run = Run(ctx, "reference", 1, ds, shards=6)
    run.load()
    run.start_job()
    run.sc.start_worker(*WORKER_REF)
    took = run.wait_done()
    run.sc.stop_workers()
    snap = run.snapshot()
    problems = once_problems("reference", snap)

    expected = ds.expected_entries(ctx.oracle)
    if set(expected) != ds.has_month:
        fail("test bug: the oracle's users differ from the users given playbacks in the month")
    start, end = ds.start, ds.end
    for doc in ds.users:
        u = doc["_id"]
        entries = snap["stats"].get(u) or []
        month = [e for e in entries
                 if start <= int(e["createdAt"]["$date"]["$numberLong"]) < end]
        if u in expected:
            if len(month) != 1:
                problems.append(f"reference user {u}: expected one entry of the month, actual "
                                f"{len(month)}")
            else:
                d = first_difference(expected[u], month[0], f"reference user {u} entry")
                if d:
                    problems.append(d)
        elif month:
            problems.append(f"reference user {u}: no playback in the month, actual an entry")
    nid = snap["finished"].get(run.job_id, [{}])[0].get("notification_id")
    for doc in ds.users:
        u = doc["_id"]
        mine = [n for n in snap["user_notifications"].get(u) or []
                if n.get("id") == {"$oid": nid}]
        want = 1 if (u in ds.opted_in and u in ds.has_month) else 0
        if len(mine) != want:
            problems.append(f"reference user {u}: expected {want} entry of notification {nid}, "
                            f"actual {len(mine)}")
    cutoff = snap["cleanup"][0]["params"]["cutoff"] if snap["cleanup"] else None
    if cutoff is not None:
        cutoff = int(cutoff)
        old = ds.older_than(cutoff)
        want_left = sorted(p["_id"] for p in ds.playbacks if p["_id"] not in old)
        if snap["playbacks"] != want_left or not old:
            problems.append(f"reference: expected the {len(want_left)} playbacks at or after the "
                            f"cutoff left and {len(old)} older ones deleted, actual "
                            f"{len(snap['playbacks'])} left")
        fig = snap["figures"].get("cleanup", [{}])[0]
        if fig.get("records_deleted") != len(old):
            problems.append(f"reference cleanup: expected records_deleted {len(old)}, actual "
                            f"{fig.get('records_deleted')}")
    report(problems, f"reference: dataset A, one worker: {len(expected)} entries against the "
                     f"oracle, notification {nid} once per opted-in user with an entry, the "
                     f"cleanup job ({snap['cleanup'][0]['tasksTotal'] if snap['cleanup'] else '?'}"
                     f" ranges) deleted exactly the playbacks older than its cutoff; job "
                     f"{took:.1f} s")
    ctx.reference = snap
    ctx.timings["reference"] = time.monotonic() - t0
    return snap


# --- scenario 1: idempotency under crashes -------------------------------------------------------


def scenario_crashes(ctx):
    ref = reference(ctx)
    t0 = time.monotonic()
    rng = random.Random(ctx.seed + 1)
    run = Run(ctx, "scenario 1", 2, ctx.dataset_a(), shards=6)
    run.load()
    run.sc.start_worker(*WORKER_A)
    run.sc.start_worker(*WORKER_A)
    victim = run.sc.start_worker(*WORKER_A, *VICTIM)
    run.start_job()
    timeline = []

    def context():
        return "kills (s after the job started; the victim's last log line):\n  " + \
            "\n  ".join(timeline) if timeline else "no kill yet"

    kills = rng.randint(4, 6)
    delays = [rng.uniform(0.2, 2.0) for _ in range(kills)]
    log(f"[scenario 1] {kills} SIGKILLs of the third worker, each {[round(d, 2) for d in delays]}"
        " s after it was assigned partitions")
    for k, delay in enumerate(delays):
        # A life: join, be assigned partitions (the previous victim's move on after its session
        # timed out), work for `delay` seconds, die.
        limit = time.monotonic() + 20
        while not assigned(victim) and time.monotonic() < limit and not run.done(context):
            time.sleep(0.05)
        deadline = time.monotonic() + delay
        while time.monotonic() < deadline and not run.done(context):
            time.sleep(0.02)
        if run.done(context):
            log(f"[scenario 1] both jobs finished before kill {k + 1}")
            break
        ledger = run.ledger_summary()
        victim.kill()
        victim.stopped = True
        last = [ln for ln in victim.log_text().splitlines() if ln.strip()][-1:] or ["(empty log)"]
        timeline.append(f"kill {k + 1} at {run.elapsed():.2f} s (pid {victim.pid}, "
                        f"{'assigned' if assigned(victim) else 'never assigned'}, +{delay:.2f} s)"
                        f", ledger {ledger}; last line: {last[0][:200]}")
        log(f"[scenario 1] {timeline[-1]}")
        victim = run.sc.start_worker(*WORKER_A, *VICTIM)
    # A kill may land in the finalize step (the faster the shards, the likelier): its claim
    # lapses first.
    took = run.wait_done(timeout_s=WAIT_JOB_S + STATS_FINALIZE_LEASE_S, extra_context=context)
    run.sc.stop_workers()
    snap = run.snapshot()
    log(f"[scenario 1] jobs finished {took:.1f} s after the start")
    problems = once_problems("scenario 1", snap) + same_as_reference("scenario 1", ref, snap)
    if problems:
        problems.append(context())
    report(problems, f"scenario 1: {len(timeline)} SIGKILLs of a worker at seeded random points "
                     "and restarts: stats entries of every user, the notification document, "
                     "every user's notifications, the remaining playbacks and the jobs' figures "
                     "equal the clean run's; one notification, one JOB_FINISHED per job, empty "
                     "DLQ, each ledger result recorded once")
    redone = sum(1 for e in snap["events"] if e["type"] == "TASK_FINISHED") - \
        sum(1 for e in ref["events"] if e["type"] == "TASK_FINISHED")
    log(f"    ({redone} task(s) finished again after a kill: redeliveries counted once)")
    ctx.timings["scenario 1"] = time.monotonic() - t0


# --- scenario 2: scaling -------------------------------------------------------------------------


def assigned(proc):
    """Whether a worker's log shows a non-empty partition assignment."""
    return any("rebalance assigned:" in ln and not ln.rstrip().endswith("nothing")
               for ln in proc.log_text().splitlines())


def worker_id_of(events, proc):
    """The worker_id (host/pid) of proc in events, or None."""
    for e in events:
        w = e.get("worker_id") or ""
        if w.endswith(f"/{proc.pid}"):
            return w
    return None


def scenario_scaling(ctx):
    t0 = time.monotonic()
    # 100 users in 12 shards; 2,400 playbacks due for cleanup over 21.5 days before the cutoff:
    # ~22 ranges of ~110, deleted 10 at a time with 100 ms pauses: ~1 s a range, so the job is
    # still under way when the fourth worker joins (a range delete takes milliseconds here).
    ds = Dataset(ctx.year, ctx.month, ctx.now_ms, ctx.seed + 2, users=100, old=2400,
                 old_from=RETENTION_DAYS + 23.5, old_to=RETENTION_DAYS + 2)
    run = Run(ctx, "scenario 2", 3, ds, shards=12)
    run.load()
    args = ("--batch-size", "10", "--batch-delay-ms", "100", *FAST_GROUP)
    workers = [run.sc.start_worker(*args) for _ in range(3)]
    wait_until("[scenario 2] each of the three workers assigned partitions",
               lambda: all(assigned(w) for w in workers), 30, on_timeout=ctx.fleet.logs)
    run.start_job()

    def finishers():
        evs = [e for e in run.events() if e["type"] == "TASK_FINISHED"]
        return evs, {w.pid for w in workers if worker_id_of(evs, w)}

    wait_until("[scenario 2] TASK_FINISHED events from all three workers",
               lambda: len(finishers()[1]) == 3 or run.done(), 60, interval_s=0.3,
               on_timeout=lambda: f"finishers {finishers()[1]}\n{ctx.fleet.logs()}")
    evs, pids = finishers()
    if len(pids) != 3:
        fail(f"[scenario 2] expected TASK_FINISHED events from all 3 workers, actual from pids "
             f"{sorted(pids)} of {[w.pid for w in workers]} before the jobs finished")
    log(f"ok  [scenario 2] TASK_FINISHED worker_id values cover all three workers "
        f"({len(evs)} tasks at {run.elapsed():.1f} s)")

    def cleanup_under_way():
        c = run.cleanup_jobs()
        return bool(c) and c[0].get("tasksDone", 0) >= 2

    # The fourth joins while the cleanup job has most of its ranges to go.
    wait_until("[scenario 2] the cleanup job under way (2 ranges done)", cleanup_under_way, 60,
               interval_s=0.2, on_timeout=lambda: f"ledger {run.ledger_summary()}")
    state = run.ledger_summary()
    c = run.cleanup_jobs()[0]
    if c["tasksTotal"] - c.get("tasksDone", 0) < 8:
        fail(f"[scenario 2] test bug: the cleanup job is nearly done ({state}) before the fourth "
             "worker could join; slow the cleanup ranges down")
    fourth = run.sc.start_worker(*args)
    joined = run.elapsed()
    log(f"[scenario 2] a fourth worker started at {joined:.1f} s; ledger then {state}")
    took = run.wait_done()
    run.sc.stop_workers()
    snap = run.snapshot()

    problems = once_problems("scenario 2", snap)
    cleanup = snap["cleanup"]
    if cleanup:
        cutoff = int(cleanup[0]["params"]["cutoff"])
        old = ds.older_than(cutoff)
        fig = snap["figures"].get("cleanup", [{}])[0]
        want = {"records_deleted": len(old), "total_records_found": len(old),
                "remaining_records": 0}
        got = {k: fig.get(k) for k in want}
        if got != want:
            problems.append(f"scenario 2 cleanup JOB_FINISHED: expected {want} (the playbacks "
                            f"inserted older than the cutoff), actual {got}")
        left = set(snap["playbacks"])
        if left & old or len(left) != len(ds.playbacks) - len(old):
            problems.append(f"scenario 2: expected {len(ds.playbacks) - len(old)} playbacks left, "
                            f"none older than the cutoff; actual {len(left)}, "
                            f"{len(left & old)} older")
        ranges = cleanup[0]["tasksTotal"]
        if not 20 <= ranges <= 26:
            problems.append(f"scenario 2: expected ~24 cleanup ranges, actual {ranges}")
        sums = {"found": 0, "deleted": 0}
        for r in (cleanup[0].get("results") or {}).values():
            for k in sums:
                sums[k] += int(r.get(k, 0))
        if sums != {"found": len(old), "deleted": len(old)}:
            problems.append(f"scenario 2 ledger results: expected found and deleted summing to "
                            f"{len(old)}, actual {sums}")
    stats_fig = snap["figures"].get("stats", [{}])[0]
    if stats_fig.get("users_processed") != len(ds.has_month):
        problems.append(f"scenario 2 stats JOB_FINISHED: expected users_processed "
                        f"{len(ds.has_month)}, actual {stats_fig.get('users_processed')}")
    with_entry = sum(1 for s in snap["stats"].values()
                     if any(ds.start <= int(e["createdAt"]["$date"]["$numberLong"]) < ds.end
                            for e in s or []))
    if with_entry != len(ds.has_month):
        problems.append(f"scenario 2: expected {len(ds.has_month)} users with an entry of the "
                        f"month, actual {with_entry}")
    if not assigned(fourth):
        problems.append(f"scenario 2: the fourth worker (pid {fourth.pid}) logged no partition "
                        f"assignment\n{fourth.log_tail()}")
    report(problems, f"scenario 2: stats (12 shards) and cleanup "
                     f"({cleanup[0]['tasksTotal'] if cleanup else '?'} ranges) with 3 workers, "
                     f"a 4th joining at {joined:.1f} s: completed at {took:.1f} s, every task's "
                     "result recorded once (tasksDone == tasksTotal, one per key), figures exact, "
                     "one JOB_FINISHED per job, the 4th worker assigned partitions")
    fin = [e for e in snap["events"] if e["type"] == "TASK_FINISHED"]
    per = {}
    for w in workers + [fourth]:
        wid = worker_id_of(fin, w)
        per[w.name] = sum(1 for e in fin if e.get("worker_id") == wid) if wid else 0
    lines = [ln.split("rebalance assigned: ", 1)[1] for ln in fourth.log_text().splitlines()
             if "rebalance assigned: " in ln]
    cleanup_per = {}
    for w in workers + [fourth]:
        wid = worker_id_of(fin, w)
        cleanup_per[w.name] = sum(1 for e in fin if e.get("worker_id") == wid and
                                  e.get("job_kind") == "CLEANUP") if wid else 0
    log(f"    TASK_FINISHED per worker: {per} (cleanup ranges: {cleanup_per}); the 4th "
        f"worker's assignments: {lines}")
    idle = [n for n, c in cleanup_per.items() if not c]
    if idle:
        log(f"    NOTE: {idle} finished no cleanup range: the assignor balances the number of "
            "partitions over both task topics, not the work of the running job")
    if not per[fourth.name]:
        log("    NOTE: the fourth worker finished no task (its partitions held no remaining task)")
    ctx.timings["scenario 2"] = time.monotonic() - t0
    ctx.scaling_per_worker = per


# --- scenario 3: the database away for 20 s ------------------------------------------------------

OUTAGE_S = 60
BROKER_OUTAGE_S = 20


def outage_scenario(ctx, label, n, server_name, outage_s):
    """A job under way, one server of the stack stopped for outage_s and restarted: the job ends
    as the clean run did, no attempt spent on the outage (--max-attempts 2), no dead letter."""
    ref = reference(ctx)
    t0 = time.monotonic()
    server = it_fleet.StackServer.from_env(server_name)
    run = Run(ctx, label, n, ctx.dataset_a(), shards=6)
    run.load()
    # The cleanup job throttled to ~300 batches of 10 with 100 ms pauses (15 s or more with two
    # workers), so that the outage cannot miss the jobs: the statistics job alone takes about a
    # second, less than the test's reaction on a loaded machine (CI saw it finish, and the
    # cleanup too, before a database stopped on the first TASK_FINISHED event).
    args = ("--max-attempts", "2", "--retry-backoff-max-ms", "5000", "--batch-size", "10",
            "--batch-delay-ms", "100", *FAST_GROUP)
    workers = [run.sc.start_worker(*args) for _ in range(2)]
    wait_until(f"[{label}] both workers assigned partitions",
               lambda: all(assigned(w) for w in workers), 30, on_timeout=ctx.fleet.logs)
    run.start_job()
    try:
        # At once: the producer has written the ledger and sent the tasks; the workers are on
        # the statistics job, its finalization or the cleanup job.
        state = run.ledger_summary()
        if run.done():
            fail(f"[{label}] test bug: both jobs finished ({state}) before the {server_name} "
                 "server could be stopped; slow the cleanup ranges down")
        how = server.stop()
        stopped_at = run.elapsed()
        log(f"[{label}] {server_name} stopped at {stopped_at:.1f} s ({how}); ledger then {state}")
        down_until = time.monotonic() + outage_s
        while time.monotonic() < down_until:
            run.sc.expect_workers_alive()
            time.sleep(0.5)
    finally:
        restart = server.start()
    log(f"[{label}] {server_name} restarted at {run.elapsed():.1f} s after {outage_s} s down "
        f"({restart:.1f} s to answer)")
    took = run.wait_done(timeout_s=WAIT_JOB_S + 60)
    run.sc.expect_workers_alive()
    waits = {w.name: len(re.findall(r"waiting out an outage", w.log_text()))
             for w in run.sc.workers}
    run.sc.stop_workers()
    snap = run.snapshot()
    problems = once_problems(label, snap) + same_as_reference(label, ref, snap)
    if server_name == "mongo" and not sum(waits.values()):
        problems.append(f"{label}: expected the workers to log that they waited out the outage, "
                        f"actual none\n{ctx.fleet.logs(run.sc.workers)}")
    report(problems, f"{label}: {server_name} stopped mid-job for {outage_s} s and restarted, "
                     f"--max-attempts 2: the jobs completed at {took:.1f} s with the clean run's "
                     f"result, both workers alive, outage waits logged {waits}, nothing in the "
                     f"DLQ")
    ctx.timings[label] = time.monotonic() - t0


def scenario_db_outage(ctx):
    outage_scenario(ctx, "scenario 3", 4, "mongo", OUTAGE_S)


def scenario_broker_restart(ctx):
    outage_scenario(ctx, "scenario 4", 5, "kafka", BROKER_OUTAGE_S)


SCENARIOS = {1: scenario_crashes, 2: scenario_scaling, 3: scenario_db_outage,
             4: scenario_broker_restart}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--only", default="1,2,3,4", help="scenarios to run, e.g. 1,3")
    ap.add_argument("--seed", type=int, default=SEED)
    ap.add_argument("--keep-logs", action="store_true", help="keep the program logs")
    args = ap.parse_args()
    chosen = [int(s) for s in args.only.split(",") if s.strip()]

    def body(fleet, client, dbs):
        ctx = Context(fleet, client, load_oracle(fleet.source_dir), args.seed)
        log(f"worker_faults_it: seed {args.seed}, month {ctx.year:04d}-{ctx.month:02d}, "
            f"scenarios {chosen}")
        try:
            for n in chosen:
                SCENARIOS[n](ctx)
        finally:
            dbs.extend(ctx.dbs)
        if args.keep_logs:
            fleet.keep_logs()
        log("timings: " + ", ".join(f"{k} {v:.1f} s" for k, v in ctx.timings.items()))

    return it_fleet.run_main("worker_faults_it", body)


if __name__ == "__main__":
    sys.exit(main())
