#!/usr/bin/env python3
"""The whole pipeline on the real stack, as an operator watches it: generated data, two
joytify-workers, the notifier writing to its --sink, the monthly statistics job and the cleanup
job it chains, and `joytify-notifier watch` in a pseudo-terminal (script(1)): its progress bars
reach 100 % for both jobs, it exits by itself (--until-done), and without a terminal it prints
JSON lines that end at 100 %. The sink then holds both outcome messages with the figures the
database shows (users with an entry for the month; playbacks deleted). Runs under the project
venv (pymongo)."""

import datetime
import json
import os
import re
import shlex
import subprocess
import sys

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import it_fleet  # noqa: E402

it_fleet.require_venv(__file__)

import it_notifier as nt  # noqa: E402
from it_fleet import PREVIOUS_MONTH_RETENTION, Scenario, fail, log, wait_until  # noqa: E402

USERS = 30
PER_USER = 40
ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")


def month_and_first():
    today = datetime.datetime.now(datetime.timezone.utc).date()
    first = today.replace(day=1)
    prev = first - datetime.timedelta(days=1)
    return f"{prev.year:04d}-{prev.month:02d}", prev.year, prev.month, \
        first.strftime("%Y-%m-%dT00:00Z")


def figure(block, label):
    m = re.search(r"\*\*" + re.escape(label) + r"\*\*: ([0-9,]+)", block)
    if not m:
        fail(f"expected '{label}' in the message\n{block}")
    return int(m.group(1).replace(",", ""))


def body(fleet, client, dbs):
    s = Scenario(fleet, "pipeline", 1)
    dbs.append(s.db)
    db = client[s.db]
    month, year, mon, first = month_and_first()
    loadtest = os.path.join(fleet.build_dir, "loadtest", "joytify-loadtest")
    rc, out = fleet.run("generate", [loadtest, "generate", "--users", str(USERS),
                                     "--playbacks-per-user", str(PER_USER), "--seed", "5",
                                     "--now", first, "--drop", "--db", s.db, "--mongo-uri",
                                     fleet.mongo_uri], timeout_s=120)
    if rc != 0:
        fail(f"generate: expected exit 0, actual {rc}")
    before = db.playbacks.count_documents({})
    sink = os.path.join(fleet.logdir, "pipeline-sink.md")
    n = nt.start_notifier(fleet, s, "--sink", sink)
    for _ in range(2):
        s.start_worker()
    rc, out = s.producer("stats", "--month", month, "--shards", "4", *PREVIOUS_MONTH_RETENTION)
    if rc != 0:
        fail(f"producer stats: expected exit 0, actual {rc}")
    job = f"stats-{month}"

    watch = [nt.notifier_path(fleet), "watch", *s.target_args()[2:], "--brokers", fleet.brokers,
             "--job", job, "--until-done", "--timeout", "240", "--interval", "200"]
    log(f"$ script -qfec '{' '.join(watch)}' /dev/null")
    r = subprocess.run(["script", "-qfec", shlex.join(watch), "/dev/null"],
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=300,
                       env=dict(os.environ, TERM="xterm", COLUMNS="200"))
    tty = r.stdout.decode("utf-8", "replace")
    if r.returncode != 0:
        fail(f"watch in a terminal: expected exit 0, actual {r.returncode}\n{tty[-3000:]}\n"
             + fleet.logs())
    if "\x1b[" not in tty:
        fail("watch in a terminal: expected redrawn bars (ANSI cursor moves), actual none")
    lines = [ANSI.sub("", l).strip() for l in tty.replace("\r", "\n").split("\n")]
    final = {}
    for line in lines:
        m = re.match(r"^(\S+)\s+(shards|ranges)\s", line)
        if m:
            final[m.group(1)] = line
    cleanup_jobs = [j for j in final if j.startswith("cleanup-")]
    if job not in final or len(cleanup_jobs) != 1:
        fail(f"watch in a terminal: expected bars for {job} and its cleanup job, actual "
             f"{list(final)}\n{tty[-3000:]}")
    for j, line in final.items():
        if "100%" not in line or not line.endswith("finished") or "█" not in line:
            fail(f"watch in a terminal: expected {j}'s last bar full, 100 %, finished, actual "
                 f"{line!r}")
    log("watch in a terminal, last frame:\n  " + "\n  ".join(final.values()))

    r = subprocess.run(watch, stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=120)
    rows = [json.loads(l) for l in r.stdout.decode().splitlines() if l.strip()]
    last = {}
    for row in rows:
        last[row["job"]] = row
    if r.returncode != 0 or set(last) != {job, cleanup_jobs[0]} or \
            any(v["percent"] != 100 or v["state"] != "finished" for v in last.values()):
        fail(f"watch without a terminal: expected JSON lines ending at 100 % finished for both "
             f"jobs, exit 0, actual exit {r.returncode}: {last}")
    workers = set(w for v in last.values() for w in v["workers"])
    log(f"watch as JSON lines: {len(rows)} lines; workers involved: {sorted(workers)}")

    def messages():
        try:
            with open(sink, encoding="utf-8") as f:
                parts = [b for b in re.split(r"(?m)^## ", f.read()) if b.strip()]
        except OSError:
            return None
        return parts if len(parts) >= 2 else None

    got = wait_until("both outcome messages in the sink", messages, 60,
                     on_timeout=lambda: fleet.logs([n]))
    stats_msg = next((b for b in got if b.startswith("📊 Monthly Statistics Processed")), None)
    cleanup_msg = next((b for b in got if b.startswith("🧹 Playback Data Cleanup Completed")),
                       None)
    if not stats_msg or not cleanup_msg or len(got) != 2:
        fail(f"sink: expected the statistics and cleanup messages once each, actual {got}")
    with_entry = db.stats.count_documents({"stats": {"$elemMatch": {
        "summary.month": mon, "summary.year": year}}})
    deleted = before - db.playbacks.count_documents({})
    if figure(stats_msg, "Users Processed") != with_entry or with_entry == 0:
        fail(f"sink: expected Users Processed {with_entry}, actual\n{stats_msg}")
    if figure(cleanup_msg, "Records Deleted") != deleted or deleted == 0:
        fail(f"sink: expected Records Deleted {deleted}, actual\n{cleanup_msg}")
    n.stop()
    s.stop_workers()
    log(f"sink: statistics ({with_entry} users) and cleanup ({deleted} playbacks) messages")


if __name__ == "__main__":
    sys.exit(it_fleet.run_main("notifier_pipeline_it", body))
