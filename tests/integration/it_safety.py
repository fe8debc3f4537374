"""Helpers shared by the data-safety tests (import after it_fleet.require_venv: needs bson): a
small seeded month of playbacks, tasks encoded as a producer of any version would write them,
the ledger and the dead-letter queue as the tests read them, the checks of a finished
statistics job (every opted-in user with an entry notified exactly once), and the main of a
script of numbered scenarios."""

import argparse
import os
import random
import time

from bson import ObjectId
from bson.datetime_ms import DatetimeMS  # noqa: F401 (also for the tests)

import it_fleet
from it_fleet import fail, log, read_topic, wait_until
from it_stats import add_months, month_start_ms

DAY_MS = 86400 * 1000


def previous_month(now_s=None):
    t = time.gmtime(now_s if now_s is not None else time.time())
    return add_months(t.tm_year, t.tm_mon, -1)


class MonthData:
    """users users, each with a stats document and `per_user` playbacks in (year, month); every
    user but one in five opted in to the monthly statistic."""

    def __init__(self, year, month, users=40, per_user=6, seed=2026):
        rng = random.Random(seed)
        ts = (month_start_ms(year, month) // 1000).to_bytes(4, "big")

        def oid():  # the same seed, the same ids: two databases of the same data compare
            return ObjectId(ts + rng.randbytes(8))

        self.year, self.month = year, month
        self.label = f"{year:04d}-{month:02d}"
        self.start = month_start_ms(year, month)
        self.end = month_start_ms(*add_months(year, month, 1))
        self.users, self.playbacks, self.stats = [], [], []
        self.opted_in = set()
        for i in range(users):
            u = oid()
            opted = i % 5 != 4
            if opted:
                self.opted_in.add(u)
            self.users.append({"_id": u, "email": f"s{i}@example.test", "username": f"s{i}",
                               "notifications": [],
                               "userPreferences": {"notifications": {"monthlyStatistic": opted}}})
            self.stats.append({"user": u, "stats": [], "createdAt": DatetimeMS(self.start),
                               "updatedAt": DatetimeMS(self.start)})
            for k in range(per_user):
                at = self.start + rng.randrange(self.end - self.start)
                self.playbacks.append({"_id": oid(), "user": u, "song": oid(), "artist": oid(),
                                       "state": "completed", "duration": 30 + (i * 7 + k) % 300,
                                       "createdAt": DatetimeMS(at),
                                       "updatedAt": DatetimeMS(at + 1000)})

    def load(self, db):
        db.users.insert_many(self.users)
        db.stats.insert_many(self.stats)
        db.playbacks.insert_many(self.playbacks)


def job_id_stats(year, month):
    return f"stats-{year:04d}-{month:02d}"


def encoder(fleet, name):
    return it_fleet.AvroEncoder(os.path.join(fleet.source_dir, "schemas", name))


def stats_task(fleet, job_id, kind, month, created_ms, nonce=None, shard=-1, shard_count=1,
               task_id=None, version=None, test_mode=False):
    """A stats task as a producer or worker writes it: v2 with its run nonce, or v1 (no nonce:
    what a fleet before run nonces wrote) when version is 1 or, by default, nonce is None."""
    v = version or (2 if nonce else 1)
    rec = {"job_id": job_id, "task_id": task_id or f"{job_id}/finalize", "kind": kind,
           "shard": shard, "shard_count": shard_count, "month": month, "test_mode": test_mode,
           "run_id": None, "created_at": created_ms}
    if v == 2:
        rec["run_nonce"] = nonce
    return encoder(fleet, f"stats_task.v{v}.avsc").encode(rec)


def cleanup_task(fleet, job_id, task_id, start_ms, end_ms, cutoff_ms, retention_days=60,
                 nonce=None, version=None):
    v = version or (2 if nonce else 1)
    rec = {"job_id": job_id, "task_id": task_id, "range_start": start_ms, "range_end": end_ms,
           "cutoff": cutoff_ms, "retention_days": retention_days, "batch_size": 1000,
           "batch_delay_ms": 0, "time_budget_s": 60, "test_mode": False,
           "triggered_by": "manual", "parent_task_id": None, "continuation_seq": 0,
           "resume_after_id": None, "deleted_so_far": 0,
           "created_at": int(time.time() * 1000)}
    if v == 2:
        rec["run_nonce"] = nonce
    return encoder(fleet, f"cleanup_task.v{v}.avsc").encode(rec)


def dead_letters(fleet, scenario):
    """[(key, {header: value})] of the scenario's DLQ (kcat's JSON envelope: headers intact
    whatever commas their values hold)."""
    import json
    import subprocess
    argv = ["kcat", "-C", "-q", "-e", "-J", "-b", fleet.brokers, "-t", scenario.topic["dlq"],
            "-o", "beginning"]
    r = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=30)
    if r.returncode != 0:
        fail(f"{' '.join(argv)}: exit {r.returncode}: {r.stderr.decode('utf-8', 'replace')}")
    out = []
    for line in r.stdout.decode("utf-8", "replace").splitlines():
        if not line.strip():
            continue
        m = json.loads(line)
        h = m.get("headers") or []
        out.append((m.get("key"), {h[i]: h[i + 1] for i in range(0, len(h) - 1, 2)}))
    return out


def ledger(db, job_id):
    return db.jobs.find_one({"_id": job_id})


def wait_state(db, job_id, states, timeout_s, fleet):
    return it_fleet.wait_until(
        f"job {job_id} in state {states}",
        lambda: (ledger(db, job_id) or {}).get("state") in states and ledger(db, job_id),
        timeout_s, on_timeout=lambda: f"ledger: {ledger(db, job_id)}\n{fleet.logs()}")


def notification_problems(data, db, job_id):
    """Every opted-in user with an entry of the month holds the job's notification exactly once
    (unviewed), nobody else holds it, and exactly one notification document exists."""
    problems = []
    docs = list(db.notifications.find({}))
    if len(docs) != 1 or docs[0].get("type") != "monthlyStatistic":
        problems.append(f"notifications: expected exactly one monthlyStatistic document, actual "
                        f"{[(str(d['_id']), d.get('type')) for d in docs]}")
        return problems
    nid = docs[0]["_id"]
    with_entry = set()
    for d in db.stats.find({}):
        if any(data.start <= int(e["createdAt"]) < data.end for e in d.get("stats") or []):
            with_entry.add(d["user"])
    for u in db.users.find({}):
        got = [n for n in u.get("notifications") or [] if n.get("id") == nid]
        want = 1 if u["_id"] in data.opted_in and u["_id"] in with_entry else 0
        if len(got) != want:
            problems.append(f"user {u['_id']}: expected the notification {want} time(s), "
                            f"actual {len(got)}")
    missing = {u["_id"] for u in data.users} - with_entry
    if missing:
        problems.append(f"{len(missing)} user(s) with playbacks in the month have no entry")
    return problems


def events(fleet, scenario, job_id, type_):
    dec = it_fleet.status_decoder(fleet.source_dir)
    return [e for e in scenario.status_events(dec) if e["job_id"] == job_id
            and e["type"] == type_]


def produce_one(fleet, topic, key, value):
    it_fleet.produce(fleet.brokers, topic, key, [value])


def read_messages(fleet, topic):
    return read_topic(fleet.brokers, topic)


def start_assigned_worker(scenario, *args):
    """A worker of the scenario, once it holds partitions (it has created the scenario's topics,
    which kcat cannot)."""
    w = scenario.start_worker(*args)
    it_fleet.wait_until(f"{w.name} assigned partitions",
                        lambda: "rebalance assigned" in w.log_text() or not w.running(), 60)
    if not w.running():
        fail(f"{w.name} exited: {w.log_tail()}")
    return w


def now_ms():
    return int(time.time() * 1000)


def insert_playbacks(db, label, times):
    """Playbacks created at each of times (ms), labelled; returns their ids."""
    docs = [{"_id": ObjectId(), "label": label, "createdAt": DatetimeMS(t)} for t in times]
    if docs:
        db.playbacks.insert_many(docs)
    return [d["_id"] for d in docs]


def spread(n, start, end):
    """n times from start, evenly spaced, before end."""
    return [start + (end - start) * i // n for i in range(n)]


def wait_in_group(sc, worker, timeout_s=90):
    """Waits until the worker has joined its consumer group."""
    wait_until(f"{worker.name} in its group", lambda: "in group" in worker.log_text(), timeout_s,
               on_timeout=lambda: sc.fleet.logs([worker]))


def run_scenarios(name, scenarios, describe, **client_kwargs):
    """The main of a script of numbered scenarios: --only 1,2,... (default: all), each logged as
    "--- scenario i: describe(i)" and run as scenarios[i](fleet, client, dbs, i) within
    it_fleet.run_main (client_kwargs passed on)."""
    ap = argparse.ArgumentParser()
    ap.add_argument("--only", default=",".join(str(i) for i in sorted(scenarios)))
    args = ap.parse_args()
    chosen = [int(x) for x in args.only.split(",")]

    def body(fleet, client, dbs):
        for i in chosen:
            log(f"--- scenario {i}: {describe(i)}")
            scenarios[i](fleet, client, dbs, i)

    return it_fleet.run_main(name, body, **client_kwargs)
