#!/usr/bin/env python3
"""--log-format json on the real stack (issue 19 item 5): a worker runs a statistics job and the
notifier posts its outcome to a fake Discord, both with JT_LOG_FORMAT=json. Every log line is one
JSON object with time, level, program and message; the worker's task lines carry the job, the
task, the topic and the partition of the task they are about, the notifier's post line the job,
the status topic and its partition. Runs under the project venv (pymongo)."""

import json
import os
import re
import sys

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import it_fleet  # noqa: E402

it_fleet.require_venv(__file__)

import it_notifier as nt  # noqa: E402
from fake_discord import FakeDiscord  # noqa: E402
from it_fleet import PREVIOUS_MONTH_RETENTION, Scenario, fail, log, wait_until  # noqa: E402
from it_safety import MonthData, previous_month  # noqa: E402

# libmongoc's own handler prints this before the programs install theirs: the one text line.
MONGOC_EARLY = re.compile(r"^\d{4}/\d\d/\d\d \d\d:\d\d:\d\d\.\d+: \[\d+\]: +WARNING: +mongoc: ")


def json_lines(proc, what):
    """Every line of proc's log as a dict; fails on a line that is not one JSON object."""
    docs = []
    for line in proc.log_text().splitlines():
        if MONGOC_EARLY.match(line):
            continue
        try:
            doc = json.loads(line)
        except ValueError:
            fail(f"{what}: expected one JSON object per line, actual {line!r}")
        missing = {"time", "level", "program", "message"} - doc.keys()
        if not isinstance(doc, dict) or missing:
            fail(f"{what}: expected time, level, program and message, actual {line!r}")
        docs.append(doc)
    return docs


def expect_fields(doc, want, what):
    got = {k: doc.get(k) for k in want}
    if got != want:
        fail(f"{what}: expected the fields {want}, actual {got} in {json.dumps(doc)}")


def body(fleet, client, dbs):
    s = Scenario(fleet, "logjson", 1, partitions=2)
    dbs.append(s.db)
    db = client[s.db]
    y, m = previous_month()
    month = f"{y:04d}-{m:02d}"
    data = MonthData(y, m, users=6, per_user=3)
    db.users.insert_many(data.users)
    db.stats.insert_many(data.stats)
    db.playbacks.insert_many(data.playbacks)
    env = {"JT_LOG_FORMAT": "json"}
    fake = FakeDiscord()
    try:
        argv = [nt.notifier_path(fleet), "run", *s.target_args(), "--group", s.group + ".n",
                "--max-age", "0", "--brokers", fleet.brokers, "--mongo-uri", fleet.mongo_uri]
        s.create_topics()  # the notifier only reads: it creates none
        n = fleet.start("notifier", argv, env={"DISCORD_WEBHOOK_URL": fake.url, **env})
        wait_until("the notifier to start", lambda: "notifier in group" in n.log_text() or
                   not n.running(), 60)
        w = s.start_worker("--log-level", "debug", "--chunk-delay-ms", "0", env=env)
        rc, out = s.producer("stats", "--month", month, "--users-per-task", "3",
                             *PREVIOUS_MONTH_RETENTION)
        if rc != 0:
            fail(f"producer stats: expected exit 0, actual {rc}\n{out}")
        job = f"stats-{month}"
        nt.wait_outcomes(fake, 1, "the statistics outcome", [n, w], fleet, timeout_s=120)
        s.stop_workers()
        n.stop()
    finally:
        fake.close()

    worker = json_lines(w, "worker")
    started = [d for d in worker if re.search(r"^job=\S+ task=\S+ started$", d["message"])]
    if len(started) < 2:
        fail(f"worker: expected a started line per task, actual {len(started)}\n{w.log_tail()}")
    for d in started:
        task = d["message"].split()[1][len("task="):]
        expect_fields(d, {"job": job, "task": task, "topic": s.topic["stats"]}, "worker task line")
        if d.get("partition") not in (0, 1):
            fail(f"worker task line: expected partition 0 or 1, actual {json.dumps(d)}")
    done = [d for d in worker if " done: " in d["message"]]
    if not done or any(d.get("job") != job for d in done):
        fail(f"worker: expected the done lines with the job field, actual {done}")
    outside = [d for d in worker if d["message"].startswith("worker ")]
    if not outside or any("job" in d or "topic" in d for d in outside):
        fail(f"worker: expected no task fields on the start line, actual {outside}")
    log(f"ok   worker: {len(worker)} JSON lines; {len(started)} task lines with job, task, topic "
        "and partition")

    notifier = json_lines(n, "notifier")
    # (the statistics job's outcome, and the cleanup job it chains if it has ended by then)
    posted = [d for d in notifier if ": posted (message " in d["message"]]
    if not any(d["message"].startswith(f"job={job} ") for d in posted):
        fail(f"notifier: expected the {job} posted line, actual {posted}\n{n.log_tail()}")
    for d in posted:
        expect_fields(d, {"job": d["message"].split()[0][len("job="):],
                          "topic": s.topic["status"]}, "notifier post line")
        if d.get("partition") not in (0, 1):
            fail(f"notifier post line: expected the partition, actual {json.dumps(d)}")
    log(f"ok   notifier: {len(notifier)} JSON lines; {len(posted)} post line(s) with job, topic "
        "and partition")

    scheduler_lines(fleet, client, dbs)


def scheduler_lines(fleet, client, dbs):
    """The scheduler (a systemd unit: its stdout and stderr both go to the journal) reports a
    fire's job in JSON lines too, not in the one-shot command's text."""
    s = Scenario(fleet, "logjson", 2)
    dbs.append(s.db)
    client[s.db].users.insert_many([{"name": f"user {i}"} for i in range(2)])
    argv = [fleet.producer_path, "schedule", *s.target_args(), "--clock", "2026-11-07T03:00Z",
            "--cleanup-cron", "off", "--users-per-task", "1", "--retention-days", "36500"]
    sched = fleet.start("joytify-producer schedule", argv, env={"JT_LOG_FORMAT": "json"})
    try:
        wait_until("the statistics fire to be sent",
                   lambda: "job stats-2026-10: " in sched.log_text() or not sched.running(), 60,
                   on_timeout=lambda: sched.log_tail())
    finally:
        sched.stop()
    lines = json_lines(sched, "scheduler")
    if not any(d["message"].startswith("job stats-2026-10: 2 task(s) sent") for d in lines):
        fail(f"scheduler: expected the sent line as JSON, actual\n{sched.log_text()}")
    log(f"ok   scheduler: {len(lines)} JSON lines, the fire's report among them")


if __name__ == "__main__":
    sys.exit(it_fleet.run_main("log_format_it", body))
