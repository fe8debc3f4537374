#!/usr/bin/env python3
"""Statistics range tasks on the real stack (issue 14): every user's entry equals the oracle
whatever the ranges, a task that outlives its time budget hands the rest of its range to
continuations, a task stopped by SIGTERM or killed by SIGKILL mid-range is resumed after its
checkpoint with nothing counted twice, and 2 and 4 workers get equal task counts.

The dataset is worker_stats_it's (80 users with skewed playbacks, stale and earlier entries;
the oracle is tests/tools/stats_oracle.py); each scenario has its own database, topics and group.
  1. the oracle at --users-per-task 1, 7 and 80 (range reads) and 7 (per-user reads);
  2. one range, a 1-second task budget and slow chunks (--chunk-users 5 --chunk-delay-ms 300):
     continuations +c1, +c2, ... each resuming after the last user done; figures exact;
  3. SIGTERM mid-range: the worker exits 0 and leaves a checkpoint; a new worker resumes after
     it (its log says so), entries and figures exact, each notification once;
  4. SIGKILL mid-range: the same from the last checkpoint;
  5. 16 ranges on 8 partitions: 2 workers finish 8 each, 4 workers 4 each;
  6. one range that runs longer than max.poll.interval.ms (10 s, session 6 s): it runs once, no
     eviction from the group, entries exact;
  7. one range delivered twice at once (two task threads): the second run waits for the first's
     hold on the range, the job finishes, nothing counted twice;
  8. a continuation forged with the run's nonce, resuming past the range with made-up figures:
     refused (DLQ), the figures exact.
Exit 0 when everything holds, 1 with the differences otherwise.
"""

import os
import subprocess
import sys
import tempfile
import time

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import it_fleet  # noqa: E402

it_fleet.require_venv(__file__)

import worker_stats_it as ws  # noqa: E402
from it_fleet import (PREVIOUS_MONTH_RETENTION, AvroDecoder, AvroEncoder, Scenario,  # noqa: E402
                      fail, log, read_topic, status_decoder, wait_until)
from it_stats import db_handle, report  # noqa: E402

WAIT_S = 240


class Run:
    """One scenario: the dataset loaded into its own database, the oracle's entries."""

    def __init__(self, fleet, client, oracle, name, n, partitions=6):
        self.fleet, self.oracle = fleet, oracle
        self.sc = Scenario(fleet, name, n, partitions=partitions)
        self.db = db_handle(client, self.sc.db)
        now_s = int(time.time())
        self.year, self.month = ws.previous_complete_month(now_s)
        self.month_text = f"{self.year:04d}-{self.month:02d}"
        self.job_id = f"stats-{self.month_text}"
        self.ds = ws.Dataset(self.year, self.month)
        self.ds.load(self.db)
        self.expected = self.ds.expected_entries(oracle)

    def send(self, *extra):
        rc, out = self.sc.producer("stats", "--month", self.month_text, *extra,
                                   *PREVIOUS_MONTH_RETENTION)
        if rc != 0:
            fail(f"{self.sc.db}: joytify-producer stats {' '.join(extra)}: expected exit 0, "
                 f"actual {rc}\n{out}")
        return out

    def worker(self, *extra):
        return self.sc.start_worker("--retention-days", str(ws.RETENTION_DAYS), "--topics",
                                    "stats", *extra)

    def finished(self):
        def done():
            self.sc.expect_workers_alive()
            job = self.db.jobs.find_one({"_id": self.job_id}) or {}
            if job.get("state") == "failed":
                fail(f"{self.job_id} failed: {job.get('lastFailure')}\n{self.fleet.logs()}")
            return job if job.get("state") == "finished" else None
        return wait_until(f"{self.sc.db}: {self.job_id} finished", done, WAIT_S,
                          on_timeout=self.fleet.logs)

    def check(self, label):
        """Entries against the oracle, JOB_FINISHED's figures, each notification once."""
        problems, with_entry = ws.check_entries(self.ds, self.db, self.expected)
        events = self.sc.status_events(status_decoder(self.fleet.source_dir))
        fin = ws.events_of(events, self.job_id, "JOB_FINISHED")
        notified = self.ds.opted_in & self.ds.has_month
        if len(fin) != 1:
            problems.append(f"expected one JOB_FINISHED, actual {len(fin)}")
        else:
            want = {"users_processed": len(self.ds.has_month), "users_updated": len(notified)}
            got = {k: fin[0].get(k) for k in want}
            if got != want:
                problems.append(f"JOB_FINISHED figures: expected {want}, actual {got}")
            problems += ws.check_notifications(self.ds, self.db,
                                               ws.ObjectId(fin[0]["notification_id"]))
        report(problems, f"{label}: {len(self.ds.users)} users against the oracle ({with_entry} "
                         f"entries), users_processed {len(self.ds.has_month)}, users_updated "
                         f"{len(notified)}, each notification once")
        return events

    def checkpoint(self):
        job = self.db.jobs.find_one({"_id": self.job_id}) or {}
        return next(iter((job.get("progress") or {}).values()), None)


def scenario_oracle(fleet, client, oracle, dbs):
    cases = [("1", "range"), ("7", "range"), ("80", "range"), ("7", "per-user")]
    for i, (upt, reads) in enumerate(cases):
        r = Run(fleet, client, oracle, "sr", 10 + i)
        dbs.append(r.sc.db)
        r.send("--users-per-task", upt, "--shards", "4096")
        tasks = len(r.db.jobs.find_one({"_id": r.job_id})["taskIds"])
        want = -(-len(r.ds.users) // int(upt))
        if tasks != want:
            fail(f"--users-per-task {upt}: expected {want} ranges, actual {tasks}")
        r.worker("--playback-reads", reads, "--chunk-users", "3")
        r.worker("--playback-reads", reads, "--chunk-users", "3")
        r.finished()
        r.check(f"scenario 1: --users-per-task {upt} ({tasks} ranges), --playback-reads {reads}")
        r.sc.stop_workers()


def scenario_continuations(fleet, client, oracle, dbs):
    r = Run(fleet, client, oracle, "sr", 20)
    dbs.append(r.sc.db)
    r.send("--users-per-task", "1000", "--task-budget", "1")
    w = r.worker("--chunk-users", "5", "--chunk-delay-ms", "300")
    r.finished()
    events = r.check("scenario 2: one range, 1 s budget")
    conts = sorted({e["task_id"] for e in events if "+c" in (e.get("task_id") or "")})
    if len(conts) < 2:
        fail(f"scenario 2: expected at least 2 continuations (16 chunks of 0.3 s, 1 s budget), "
             f"actual {conts}")
    resumes = [ln for ln in w.log_text().splitlines() if "resumes after user" in ln]
    if len(resumes) < len(conts):
        fail(f"scenario 2: expected each of the {len(conts)} continuations to resume after a "
             f"user, actual log lines: {resumes}")
    result = next(iter(r.db.jobs.find_one({"_id": r.job_id})["results"].values()))
    if result.get("continuations") != len(conts) or result.get("users") != len(r.ds.users):
        fail(f"scenario 2: expected the range's result to say {len(conts)} continuations and "
             f"{len(r.ds.users)} users, actual {result}")
    log(f"ok  scenario 2: {len(conts)} continuations ({', '.join(c.split('/')[-1] for c in conts)}"
        f"), each resuming after the last user done")
    r.sc.stop_workers()


def scenario_interrupted(fleet, client, oracle, dbs, n, how):
    r = Run(fleet, client, oracle, "sr", n)
    dbs.append(r.sc.db)
    r.send("--users-per-task", "1000", "--task-budget", "600")
    w = r.worker("--chunk-users", "5", "--chunk-delay-ms", "400")
    cp = wait_until(f"scenario {how}: a checkpoint after 3 chunks",
                    lambda: (c := r.checkpoint()) and c.get("users", 0) >= 15 and c, WAIT_S,
                    on_timeout=fleet.logs)
    t = time.monotonic()
    if how == "SIGTERM":
        w.stopped = True
        w.stop(30)
        log(f"    worker exited 0 {time.monotonic() - t:.1f} s after SIGTERM")
    else:
        w.stopped = True
        w.kill()
    cp = r.checkpoint()
    if not cp or cp.get("users", 0) >= len(r.ds.users):
        fail(f"{how}: expected a checkpoint part-way through the range, actual {cp}")
    w2 = r.worker()
    r.finished()
    r.check(f"scenario {how}: stopped after {cp['users']} users, resumed by a new worker")
    if f"resumes after user {cp['afterUser']}" not in w2.log_text() and how == "SIGTERM":
        fail(f"{how}: expected the new worker to resume after user {cp['afterUser']}; its log:"
             f"\n{w2.log_tail()}")
    if "resumes after user" not in w2.log_text():
        fail(f"{how}: expected the new worker to resume after a checkpoint; its log:\n"
             f"{w2.log_tail()}")
    r.sc.stop_workers()


def scenario_long_task(fleet, client, oracle, dbs):
    """One range that runs longer than max.poll.interval.ms: the loop keeps polling."""
    r = Run(fleet, client, oracle, "sr", 23)
    dbs.append(r.sc.db)
    r.send("--users-per-task", "1000", "--task-budget", "600")
    t = time.monotonic()
    w = r.worker("--chunk-users", "3", "--chunk-delay-ms", "500", "-X", "session.timeout.ms=6000",
                 "-X", "max.poll.interval.ms=10000")
    r.finished()
    took = time.monotonic() - t
    events = r.check(f"scenario 6: one range of {took:.0f} s with max.poll.interval.ms 10000")
    evicted = [ln for ln in w.log_text().splitlines()
               if "MAXPOLL" in ln or "maximum poll interval" in ln]
    starts = [e for e in events if e["type"] == "TASK_STARTED" and e.get("job_id") == r.job_id]
    if evicted or len(starts) != 1 or took < 10:
        fail(f"scenario 6: expected a task over 10 s run once with no eviction, actual "
             f"{took:.0f} s, {len(starts)} TASK_STARTED, eviction lines: {evicted}")
    log(f"ok  scenario 6: the {took:.0f} s task ran once, no eviction from the group")
    r.sc.stop_workers()


def produce_to(fleet, topic, partition, key, value):
    """One message onto an explicit partition (kcat -p)."""
    with tempfile.NamedTemporaryFile(prefix="jt-task-", delete=False) as f:
        f.write(value)
    try:
        subprocess.run(["kcat", "-P", "-q", "-b", fleet.brokers, "-t", topic, "-p",
                        str(partition), "-k", key, f.name], check=True, timeout=30)
    finally:
        os.unlink(f.name)


def scenario_duplicate(fleet, client, oracle, dbs):
    """The same range delivered twice at once (a redelivered parent next to its continuation, a
    task still running on a partition revoked from its worker): the second run waits for the
    first's lease instead of colliding with it; the job finishes, nothing counted twice."""
    r = Run(fleet, client, oracle, "sr", 24, partitions=4)
    dbs.append(r.sc.db)
    r.send("--users-per-task", "1000", "--task-budget", "600")
    m = read_topic(fleet.brokers, r.sc.topic["stats"])[0]
    produce_to(fleet, r.sc.topic["stats"], (m.partition + 1) % 4, m.key.decode(), m.value)
    # 40 chunks of 0.2 s: the copy fetched with it starts long before the first run ends.
    w = r.worker("--concurrency", "2", "--chunk-users", "2", "--chunk-delay-ms", "200")
    r.finished()
    r.check("scenario 7: one range delivered twice at once, two task threads")
    text = w.log_text()
    if "held by another run" not in text and "further on" not in text:
        fail(f"scenario 7: expected the second run to wait for the first's hold on the range, "
             f"actual no such line in the worker log:\n{w.log_tail()}")
    log("ok  scenario 7: the second run waited for the range's holder; finished once, exact")
    r.sc.stop_workers()


def scenario_forged_continuation(fleet, client, oracle, dbs):
    """Continuations forged with the run's nonce, resuming past the range with made-up figures:
    refused (DLQ) whenever they arrive, the range computed by its own task, the figures exact.
    One waits behind the real task on the range's own partition, so it runs after the range's
    result is recorded (a check of the recorded result before the task's own bounds skipped it
    unseen); the other is on another partition and may run first, with no checkpoint yet."""
    r = Run(fleet, client, oracle, "sr", 25, partitions=4)
    dbs.append(r.sc.db)
    r.send("--users-per-task", "40", "--task-budget", "600")
    schema = os.path.join(fleet.source_dir, "schemas", "stats_task.v3.avsc")
    msgs = read_topic(fleet.brokers, r.sc.topic["stats"])
    t = AvroDecoder(schema).decode(msgs[0].value)
    forged = []
    for seq, partition in ((1, msgs[0].partition), (2, (msgs[0].partition + 1) % 4)):
        f = dict(t, task_id=f"{t['task_id']}+c{seq}", parent_task_id=t["task_id"],
                 continuation_seq=seq, resume_after_user="ffffffffffffffffffffffff",
                 users_so_far=12345, with_entry_so_far=777, notified_so_far=555)
        produce_to(fleet, r.sc.topic["stats"], partition, f["task_id"],
                   AvroEncoder(schema).encode(f))
        forged.append(f["task_id"])
    r.worker()
    r.finished()
    r.check("scenario 8: forged continuations next to the job's tasks")
    dead = {d.key.decode() for d in read_topic(fleet.brokers, r.sc.topic["dlq"]) if d.key}
    if not set(forged) <= dead:
        fail(f"scenario 8: expected both forged continuations {forged} in the DLQ, "
             f"actual keys {sorted(dead)}")
    log("ok  scenario 8: both forged continuations were refused (DLQ), the one after the "
        "range's result too; the figures stayed exact")
    r.sc.stop_workers()


def scenario_even(fleet, client, oracle, dbs):
    for n, workers in ((30, 2), (31, 4)):
        r = Run(fleet, client, oracle, "sr", n, partitions=8)
        dbs.append(r.sc.db)
        ws_ = [r.worker() for _ in range(workers)]
        # Every worker in the group with its share of the 8 partitions before the job exists.
        wait_until(f"{workers} workers assigned their partitions",
                   lambda: all("rebalance assigned" in w.log_text() for w in ws_) and
                   sum(w.log_text().count("rebalance assigned") for w in ws_) >= workers, 60,
                   on_timeout=fleet.logs)
        time.sleep(3)
        r.send("--users-per-task", "5")
        r.finished()
        events = r.sc.status_events(status_decoder(fleet.source_dir))
        per = {}
        for e in events:
            if e["type"] == "TASK_FINISHED" and e.get("job_id") == r.job_id:
                per[e.get("worker_id")] = per.get(e.get("worker_id"), 0) + 1
        want = [16 // workers] * workers
        if sorted(per.values()) != want:
            fail(f"scenario 5: 16 ranges on 8 partitions, {workers} workers: expected "
                 f"{want} tasks each, actual {per}")
        log(f"ok  scenario 5: {workers} workers finished {sorted(per.values())} ranges")
        r.sc.stop_workers()


def main():
    only = sys.argv[sys.argv.index("--only") + 1].split(",") if "--only" in sys.argv else None

    def body(fleet, client, dbs):
        oracle = ws.load_oracle(fleet.source_dir)
        steps = {"oracle": lambda: scenario_oracle(fleet, client, oracle, dbs),
                 "continuations": lambda: scenario_continuations(fleet, client, oracle, dbs),
                 "sigterm": lambda: scenario_interrupted(fleet, client, oracle, dbs, 21,
                                                         "SIGTERM"),
                 "sigkill": lambda: scenario_interrupted(fleet, client, oracle, dbs, 22,
                                                         "SIGKILL"),
                 "long": lambda: scenario_long_task(fleet, client, oracle, dbs),
                 "duplicate": lambda: scenario_duplicate(fleet, client, oracle, dbs),
                 "forged": lambda: scenario_forged_continuation(fleet, client, oracle, dbs),
                 "even": lambda: scenario_even(fleet, client, oracle, dbs)}
        for name, step in steps.items():
            if only is None or name in only:
                step()

    return it_fleet.run_main("stats_ranges_it", body)


if __name__ == "__main__":
    sys.exit(main())
