#!/usr/bin/env python3
"""The app push after a statistics job (issue 16 item 1, worker/app_push.c) against the real
stack and a fake app API on 127.0.0.1 (fake_app_api.py): joytify-producer stats, joytify-worker
with --app-api-url and JT_APP_API_KEY, then what the fake received, the ledger and the events.

1. batches: --app-push-batch 4, the first request answered 500 and the second 429 (Retry-After
   1): every batch carries the key in X-API-Key and {notificationId (= JOB_FINISHED's
   notification_id), userIds, type monthlyStatistic, month}; the acknowledged batches hold 4
   users each but the last and cover exactly the users given the notification, each once; the
   two refused requests were retried; JOB_FINISHED says users_pushed = all of them,
   push_failures 0; the ledger's push is done. Then the job re-finalized (the ledger set back to
   finalizing under a dead worker's lapsed claim, the stats topic replayed: a finalizer that died
   after recording the push done): JOB_FINISHED again with the recorded figures, no request.
2. kill: the fake holds the second batch; the worker is SIGKILLed while it waits, its finalize
   lease is made to lapse (the ledger's finalizeUntil set to now: what two minutes would do),
   a second worker takes the FINALIZE over and resumes after the recorded batch: every user is
   pushed at least once, no user of the recorded batch twice, one JOB_FINISHED, the job
   finished once.
3. refused: a 401 whose body quotes the key across the 120 bytes of it that are quoted: one
   request, the job still finishes, users_pushed 0 and push_failures = every user; no part of
   the key is in a log line or in the ledger's push.error.
4. redirect: a 308: one request, never followed (no request to /moved/...), the job finishes
   with every user counted as not pushed.
5. not configured: one info line "app push: not configured (--app-api-url), skipped", no
   request, JOB_FINISHED without users_pushed / push_failures.
6. the command line: --app-api-key=KEY is refused (exit 2) without showing the key, and an
   http URL to a host that is not loopback is refused (exit 2) naming only scheme and host.
7. a 500 for ever: --app-push-retry-for 2 ends batch 1's retries after a few requests (not the
   100 --app-push-attempts allows), the push fails with the reason, the job finishes.
Finally the key appears in no output of any program. Runs under the project venv (pymongo,
fastavro). Usage: stats_push_it.py [--only 1,2,...] (scenario numbers; all by default). Exit 0
when everything holds, 1 with the differences otherwise."""

import os
import signal
import sys
import time

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import it_fleet  # noqa: E402

it_fleet.require_venv(__file__)

from bson import ObjectId  # noqa: E402
from bson.datetime_ms import DatetimeMS  # noqa: E402

from fake_app_api import FakeAppApi  # noqa: E402
from it_fleet import PREVIOUS_MONTH_RETENTION, fail, log, wait_until  # noqa: E402
from it_stats import add_months, db_handle, month_start_ms  # noqa: E402

KEY = "jt-app-key-9Fq2Zr7Lx4Wm8Kd3"
USERS = 22
BATCH = 4
WAIT_JOB_S = 60
# The chained cleanup job must not reach into the month (its first day can be 62 days old).
WORKER_ARGS = ("--range-hours", "240", "--batch-delay-ms", "0", "--retention-days", "75",
               "-X", "session.timeout.ms=6000", "-X", "heartbeat.interval.ms=1000")


def previous_month():
    t = time.gmtime()
    return add_months(t.tm_year, t.tm_mon, -1)


class Job:
    """One scenario's data and statistics job: USERS users, some opted in, some with playbacks
    in the month, some holding another notification already."""

    def __init__(self, fleet, client, dbs, n):
        self.fleet = fleet
        self.sc = it_fleet.Scenario(fleet, "push", n)
        dbs.append(self.sc.db)
        self.db = db_handle(client, self.sc.db)
        year, month = previous_month()
        self.month = f"{year:04d}-{month:02d}"
        self.job_id = f"stats-{self.month}"
        start = month_start_ms(year, month)
        users, playbacks = [], []
        self.notified = set()
        for i in range(USERS):
            u = ObjectId()
            doc = {"_id": u, "username": f"user{i}", "notifications": [],
                   "userPreferences": {"notifications": {"monthlyStatistic": i % 4 != 3}}}
            if i % 5 == 2:
                doc["notifications"].append({"id": ObjectId(), "viewed": False, "read": False})
            users.append(doc)
            if i % 6 != 5:
                for k in range(2):
                    at = start + (i + 1) * 3600000 + k * 60000
                    playbacks.append({"user": u, "song": ObjectId(), "artist": ObjectId(),
                                      "state": "completed", "duration": 30 + k,
                                      "createdAt": DatetimeMS(at), "updatedAt": DatetimeMS(at)})
                if i % 4 != 3:
                    self.notified.add(str(u))
        self.db.users.insert_many(users)
        self.db.playbacks.insert_many(playbacks)

    def produce(self):
        rc, _ = self.sc.producer("stats", "--month", self.month, "--users-per-task", "6",
                                 *PREVIOUS_MONTH_RETENTION)
        if rc != 0:
            fail(f"joytify-producer stats: expected exit 0, actual {rc}")

    def worker(self, *extra, env=None):
        return self.sc.start_worker(*WORKER_ARGS, *extra, env=env)

    def entry(self):
        return self.db.jobs.find_one({"_id": self.job_id}) or {}

    def wait_finished(self, timeout_s=WAIT_JOB_S):
        def finished():
            self.sc.expect_workers_alive()
            state = self.entry().get("state")
            if state == "failed":
                fail(f"job {self.job_id} failed: {self.entry().get('lastFailure')}\n"
                     f"{self.fleet.logs()}")
            return state == "finished"
        wait_until(f"job {self.job_id} finished", finished, timeout_s,
                   on_timeout=self.fleet.logs)

    def finished_events(self):
        dec = it_fleet.status_decoder(self.fleet.source_dir)
        return [e for e in self.sc.status_events(dec)
                if e["job_id"] == self.job_id and e["type"] == "JOB_FINISHED"]

    def one_finished(self):
        evs = self.finished_events()
        if len(evs) != 1:
            fail(f"{self.job_id}: expected one JOB_FINISHED, actual {len(evs)}: {evs}")
        return evs[0]

    def expect_event(self, pushed, failures):
        ev = self.one_finished()
        got = (ev.get("users_pushed"), ev.get("push_failures"))
        if got != (pushed, failures):
            fail(f"JOB_FINISHED (users_pushed, push_failures): expected {(pushed, failures)}, "
                 f"actual {got}")
        log(f"ok  JOB_FINISHED users_pushed={got[0]} push_failures={got[1]}")
        return ev

    def expect_push(self, **want):
        push = self.entry().get("push") or {}
        got = {k: push.get(k) for k in want}
        if got != want:
            fail(f"ledger push of {self.job_id}: expected {want}, actual {push}")
        return push


def key_env(url=None):
    env = {"JT_APP_API_KEY": KEY}
    if url:
        env["JT_APP_API_URL"] = url
    return env


def check_bodies(job, requests, nid, what):
    problems = []
    for r in requests:
        if r["key"] != KEY:
            problems.append(f"request {r['path']}: X-API-Key expected the key, actual "
                            f"{'none' if r['key'] is None else 'another value'}")
        if r["content_type"] != "application/json":
            problems.append(f"Content-Type expected application/json, actual {r['content_type']}")
        b = r["body"] or {}
        if (b.get("notificationId"), b.get("type"), b.get("month")) != (nid, "monthlyStatistic",
                                                                        job.month):
            problems.append(f"body expected notificationId {nid}, type monthlyStatistic, month "
                            f"{job.month}, actual {b}")
        if not 1 <= len(b.get("userIds") or []) <= BATCH:
            problems.append(f"userIds expected 1..{BATCH}, actual {b.get('userIds')}")
    if problems:
        fail(f"{what}: " + "; ".join(problems[:5]))


def scenario_batches(fleet, client, dbs, fake):
    job = Job(fleet, client, dbs, 1)
    fake.push("500", ("429", 1))
    before = len(fake.snapshot())
    job.produce()
    w = job.worker("--app-api-url", fake.url, "--app-push-batch", str(BATCH), env=key_env())
    job.wait_finished()
    ev = job.expect_event(len(job.notified), 0)
    reqs = fake.snapshot()[before:]
    check_bodies(job, reqs, ev["notification_id"], "scenario 1")
    acked = [r["body"]["userIds"] for r in reqs if r["acked"]]
    sizes = [len(a) for a in acked]
    want_sizes = [BATCH] * (len(job.notified) // BATCH) + (
        [len(job.notified) % BATCH] if len(job.notified) % BATCH else [])
    if sizes != want_sizes:
        fail(f"scenario 1: acknowledged batch sizes expected {want_sizes}, actual {sizes}")
    flat = [u for a in acked for u in a]
    if sorted(flat) != sorted(job.notified):
        fail(f"scenario 1: pushed users expected exactly the {len(job.notified)} notified, once "
             f"each; actual {len(flat)} pushes, {len(set(flat))} distinct, missing "
             f"{sorted(job.notified - set(flat))[:3]}, extra {sorted(set(flat) - job.notified)[:3]}")
    if flat != sorted(flat):
        fail("scenario 1: expected the batches in _id order")
    statuses = [r["status"] for r in reqs]
    if statuses[:3] != [500, 429, 200] or len(reqs) != len(acked) + 2:
        fail(f"scenario 1: expected 500, 429, then every batch 200 once, actual {statuses}")
    # The retries of a batch carry its Idempotency-Key; every batch has its own.
    idem = [r.get("idempotency_key") for r in reqs]
    if not idem[0] or idem[0] != idem[1] or idem[1] != idem[2] or len(set(idem[2:])) != len(acked):
        fail(f"scenario 1: expected one Idempotency-Key per batch, the same on its retries, "
             f"actual {idem}")
    gap = reqs[2]["t"] - reqs[1]["t"]
    if gap < 0.95:
        fail(f"scenario 1: expected the retry after the 429 to wait its Retry-After (1 s), "
             f"actual {gap:.2f} s")
    db_notified = {str(d["_id"]) for d in job.db.users.find(
        {"notifications.id": ObjectId(ev["notification_id"])}, {"_id": 1})}
    if db_notified != job.notified:
        fail(f"scenario 1: test bug: users with the notification {len(db_notified)}, expected "
             f"{len(job.notified)}")
    job.expect_push(done=True, batches=len(acked), users=len(job.notified), failedUsers=0)
    if "attempt 1 of 5: HTTP 500" not in w.log_text():
        fail(f"scenario 1: expected the 500 logged as attempt 1 of 5\n{w.log_tail()}")
    job.sc.stop_workers()
    log(f"ok  scenario 1: {len(acked)} batches {sizes} cover the {len(job.notified)} notified "
        f"users once each; 500 and 429 retried ({gap:.1f} s after the 429); the key in every "
        "request")

    # A finalizer that died after recording the push done but before JOB_FINISHED: the ledger
    # set back to finalizing under a dead worker's lapsed claim, the stats topic replayed. The
    # redelivered FINALIZE finishes the job again and posts nothing.
    job.db.jobs.update_one({"_id": job.job_id}, {"$set": {
        "state": "finalizing", "finalizeBy": "dead-worker/1",
        "finalizeUntil": DatetimeMS(int(time.time() * 1000))}})
    before = len(fake.snapshot())
    rc, _ = job.sc.replay_stopped_group("--topic", job.sc.topic["stats"], "--group",
                                        job.sc.group, "--to-offset", "beginning")
    if rc != 0:
        fail(f"joytify-producer replay: expected exit 0, actual {rc}")
    job.worker("--app-api-url", fake.url, "--app-push-batch", str(BATCH), env=key_env())
    wait_until("the replayed FINALIZE finishing the job again",
               lambda: len(job.finished_events()) >= 2 and job.entry().get("state") == "finished",
               WAIT_JOB_S, on_timeout=fleet.logs)
    again = fake.snapshot()[before:]
    second = job.finished_events()[1]
    if again or (second.get("users_pushed"), second.get("push_failures")) != (len(job.notified), 0):
        fail(f"scenario 1, re-finalized: expected no request and JOB_FINISHED with the recorded "
             f"figures ({len(job.notified)}, 0), actual {len(again)} request(s), "
             f"({second.get('users_pushed')}, {second.get('push_failures')})")
    job.sc.stop_workers()
    log("ok  scenario 1, re-finalized after the push was recorded done: no request, "
        f"JOB_FINISHED again with users_pushed {second.get('users_pushed')}")


def scenario_kill(fleet, client, dbs, fake):
    job = Job(fleet, client, dbs, 2)
    fake.push("ok", ("hold", 40))
    before = len(fake.snapshot())
    job.produce()
    args = ("--app-api-url", fake.url, "--app-push-batch", str(BATCH))
    w1 = job.worker(*args, env=key_env())
    wait_until("the second batch held by the fake API",
               lambda: len(fake.snapshot()) - before >= 2, WAIT_JOB_S, on_timeout=fleet.logs)
    time.sleep(0.3)
    w1.popen.send_signal(signal.SIGKILL)
    w1.popen.wait(timeout=10)
    w1.stopped = True
    entry = job.entry()
    push = entry.get("push") or {}
    if push.get("batches") != 1 or push.get("done"):
        fail(f"scenario 2: at the kill, expected batch 1 recorded and the push not done, actual "
             f"{push}")
    first = fake.snapshot()[before]["body"]["userIds"]
    log(f"worker 1 SIGKILLed holding batch 2; ledger push {push}")
    # The dead worker's finalize claim lapses after its lease (2 minutes): the test makes it
    # lapse now instead of waiting.
    job.db.jobs.update_one({"_id": job.job_id, "state": "finalizing"},
                           {"$set": {"finalizeUntil": DatetimeMS(int(time.time() * 1000))}})
    w2 = job.worker(*args, env=key_env())
    job.wait_finished(WAIT_JOB_S + 30)
    ev = job.expect_event(len(job.notified), 0)
    reqs = fake.snapshot()[before:]
    check_bodies(job, reqs, ev["notification_id"], "scenario 2")
    pushed = [u for r in reqs for u in (r["body"] or {}).get("userIds", [])]
    missing = job.notified - set(pushed)
    if missing:
        fail(f"scenario 2: expected every notified user pushed at least once, missing "
             f"{sorted(missing)}")
    again = [u for u in first if pushed.count(u) != 1]
    if again:
        fail(f"scenario 2: users of batch 1 (acknowledged and recorded before the kill) posted "
             f"more than once: {again}")
    # Batch 2, held when worker 1 died, is posted again by worker 2 with the same key.
    held = fake.snapshot()[before + 1]
    again_key = [r for r in reqs[2:] if r["body"] and r["body"].get("userIds", [None])[0] ==
                 held["body"]["userIds"][0]]
    if not held.get("idempotency_key") or not again_key or \
            again_key[0].get("idempotency_key") != held["idempotency_key"]:
        fail(f"scenario 2: expected batch 2 posted again with its Idempotency-Key "
             f"{held.get('idempotency_key')}, actual {[r.get('idempotency_key') for r in reqs]}")
    if "app push resumes after batch 1" not in w2.log_text():
        fail(f"scenario 2: expected worker 2 to resume after batch 1\n{w2.log_tail()}")
    job.expect_push(done=True, users=len(job.notified), failedUsers=0)
    if job.entry().get("state") != "finished":
        fail("scenario 2: expected the job finished")
    job.sc.stop_workers()
    log(f"ok  scenario 2: kill mid-push; worker 2 resumed after batch 1; {len(pushed)} user "
        f"pushes for {len(job.notified)} users, batch 1's once each; one JOB_FINISHED")


def scenario_refused(fleet, client, dbs, fake, n, action, what):
    job = Job(fleet, client, dbs, n)
    fake.push(action)
    before = len(fake.snapshot())
    job.produce()
    w = job.worker("--app-push-batch", str(BATCH), env=key_env(fake.url))
    job.wait_finished()
    job.expect_event(0, len(job.notified))
    reqs = fake.snapshot()[before:]
    if len(reqs) != 1 or reqs[0]["path"] != "/api/notifications/socket":
        fail(f"scenario {n}: expected one request to the push endpoint (nothing followed), "
             f"actual {[(r['method'], r['path'], r['status']) for r in reqs]}")
    push = job.expect_push(done=True, users=0, failedBatches=1, failedUsers=len(job.notified))
    # The 401 quotes the key across the 120 bytes of an answer that are quoted: no part of it
    # may be left (the answer is scrubbed whole, then cut).
    if KEY[:8] in str(push.get("error")) or what not in str(push.get("error")):
        fail(f"scenario {n}: expected push.error saying {what!r} without the key, actual "
             f"{push.get('error')!r}")
    if KEY[:8] in w.log_text():
        fail(f"scenario {n}: the key's first 8 characters in the worker's log\n{w.log_tail()}")
    if "app push failed: batch 1: " + what not in w.log_text():
        fail(f"scenario {n}: expected the failure logged\n{w.log_tail()}")
    job.sc.stop_workers()
    log(f"ok  scenario {n}: {what}: one request, job finished, {len(job.notified)} users not "
        f"pushed; push.error {push.get('error')!r}")


def scenario_not_configured(fleet, client, dbs, fake):
    job = Job(fleet, client, dbs, 5)
    before = len(fake.snapshot())
    job.produce()
    w = job.worker(env={"JT_APP_API_KEY": KEY})
    job.wait_finished()
    ev = job.expect_event(None, None)
    lines = [ln for ln in w.log_text().splitlines() if "app push" in ln]
    if len(lines) != 1 or "app push: not configured (--app-api-url), skipped" not in lines[0]:
        fail(f"scenario 5: expected one line saying the push is not configured, actual {lines}")
    if len(fake.snapshot()) != before or "push" in job.entry():
        fail("scenario 5: expected no request and no push in the ledger")
    job.sc.stop_workers()
    log(f"ok  scenario 5: not configured: {lines[0].strip()!r}, no request, no figures in "
        f"{ev['job_id']}'s JOB_FINISHED")


def scenario_command_line(fleet):
    rc, out = fleet.run("worker --app-api-key", [fleet.worker_path, f"--app-api-key={KEY}"],
                        timeout_s=30)
    if rc != 2 or KEY in out or "JT_APP_API_KEY" not in out:
        fail(f"scenario 6: --app-api-key=KEY: expected exit 2 naming JT_APP_API_KEY without "
             f"the key, actual exit {rc}")
    rc, out = fleet.run("worker http url", [fleet.worker_path, "--app-api-url",
                                            "http://app.example.com/api/notifications/socket"],
                        timeout_s=30, env=key_env())
    if rc != 2 or "must be https (got http://app.example.com)" not in out or \
            "/api/notifications" in out:
        fail(f"scenario 6: an http URL: expected exit 2 naming scheme and host only, actual "
             f"exit {rc}")
    log("ok  scenario 6: the key refused on the command line, an http URL refused")


def scenario_retry_bound(fleet, client, dbs, fake):
    """An app that answers 500 for ever: --app-push-retry-for ends the batch's retries long
    before --app-push-attempts would, the push fails (reported) and the job finishes."""
    job = Job(fleet, client, dbs, 7)
    fake.push(*[("status", 500, "down")] * 60)
    before = len(fake.snapshot())
    job.produce()
    w = job.worker("--app-push-batch", str(BATCH), "--app-push-attempts", "100",
                   "--app-push-retry-for", "2", "--retry-backoff-ms", "300",
                   "--retry-backoff-max-ms", "600", env=key_env(fake.url))
    job.wait_finished()
    reqs = fake.snapshot()[before:]
    fake.clear_script()
    if not 2 <= len(reqs) <= 10:
        fail(f"scenario 7: expected the retries of batch 1 bounded by 2 s (a few requests, not "
             f"100), actual {len(reqs)} requests")
    push = job.expect_push(done=True, users=0, failedBatches=1, failedUsers=len(job.notified))
    if "retries stopped after" not in str(push.get("error")):
        fail(f"scenario 7: expected push.error to say the retries stopped, actual "
             f"{push.get('error')!r}")
    job.sc.stop_workers()
    log(f"ok  scenario 7: a 500 for ever: {len(reqs)} requests in --app-push-retry-for 2 s, the "
        f"push failed ({push.get('error')!r}), the job finished")


SCENARIOS = {
    6: lambda f, c, d, fake: scenario_command_line(f),
    1: scenario_batches,
    2: scenario_kill,
    3: lambda f, c, d, fake: scenario_refused(
        f, c, d, fake, 3, ("status", 401, f'{{"error": "{"x" * 82} invalid API key {KEY}"}}'),
        "HTTP 401 from http://127.0.0.1"),
    4: lambda f, c, d, fake: scenario_refused(f, c, d, fake, 4, ("redirect", 308),
                                              "HTTP 308 from http://127.0.0.1"),
    5: scenario_not_configured,
    7: scenario_retry_bound,
}


def body(fleet, client, dbs):
    t0 = time.monotonic()
    only = [int(a) for a in sys.argv[2].split(",")] if sys.argv[1:2] == ["--only"] else SCENARIOS
    fake = FakeAppApi()
    try:
        for n in only:
            SCENARIOS[n](fleet, client, dbs, fake)
    finally:
        fake.close()
    leaks = [p.name for p in fleet.procs if KEY in p.log_text()]
    if leaks:
        fail(f"the key appears in the output of {leaks}")
    log(f"ok  the key in no output of {len(fleet.procs)} programs  "
        f"[{time.monotonic() - t0:.1f} s]")


if __name__ == "__main__":
    sys.exit(it_fleet.run_main("stats_push_it", body))
