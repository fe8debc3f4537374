#!/usr/bin/env python3
"""joytify-notifier against a hostile webhook and hostile numbers (issue 15, items 4 and 5), on
the real stack with the fake Discord of fake_discord.py (loopback):

1. http refused: DISCORD_WEBHOOK_URL=http://example.com/... stops `run` at start with exit 2,
   naming only the scheme and host (neither the path nor the token in any output).
2. redirects: each of 301, 302, 307 and 308 stops the notifier (exit 1, like a 404) after one
   request, with nothing posted, no request to where the redirect pointed, no record of a post
   and the consumer group's committed offset short of the outcome; restarted against a webhook
   that answers, the same outcome is posted exactly once and the offset moves past it.
3. 408 and 425: retried with backoff like a 5xx; the outcome is posted exactly once, its offset
   stored.
4. hostile numbers: status events with counts of INT64_MAX (two tasks whose sum overflows, a
   rate of INT64_MAX users in a millisecond, an ETA of 10^35 s) and timestamps of INT64_MIN,
   -1 and INT64_MAX, read by `watch` (JSON lines and a terminal) and by `run
   --progress-messages` against a webhook whose answers carry X-RateLimit-Remaining: 1e300,
   X-RateLimit-Reset-After: 1e300 and Retry-After: nan. The programs come from the sanitizer
   build (JT_SANITIZED_BUILD_DIR, float-cast-overflow included), where any overflow aborts:
   none may, the counts show saturated, and the out-of-range events are refused with the
   field named.
The webhook token appears in no output. Runs under the project venv (pymongo, fastavro)."""

import json
import os
import re
import shlex
import subprocess
import sys
import time

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import it_fleet  # noqa: E402

it_fleet.require_venv(__file__)

import it_notifier as nt  # noqa: E402
from it_fleet import Scenario, fail, group_offsets, log, wait_until  # noqa: E402

INT64_MAX = 2**63 - 1
INT64_MIN = -2**63
SANITIZER_ENV = {"ASAN_OPTIONS": "detect_leaks=0:abort_on_error=1",
                 "UBSAN_OPTIONS": "print_stacktrace=1:halt_on_error=1"}
ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")


def committed(fleet, s, group):
    """{partition: (committed offset or None, log end)} of group on the scenario's status topic."""
    return group_offsets(fleet, s.topic["status"], group)


def behind(rows):
    """Messages the group has not committed past, over every partition."""
    return sum(end - (c or 0) for c, end in rows.values())


def notifier_group(s):
    return f"{s.group}.notifier"


def expect_exit(p, want, what, timeout_s=60):
    try:
        rc = p.popen.wait(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        fail(f"{what}: expected {p.name} to exit {want} within {timeout_s} s, actual still "
             f"running\n{p.log_tail()}")
    if rc != want:
        fail(f"{what}: expected exit {want}, actual {rc}\n{p.log_tail()}")


# --- 1. http refused ---------------------------------------------------------------------------

def refused_http(fleet, client, dbs, fake):
    s = Scenario(fleet, "nwebhook", 1)
    dbs.append(s.db)
    for url, host in ((f"http://example.com/api/webhooks/4242/{fake.token}", "http://example.com"),
                      (f"http://10.1.2.3:8080/api/webhooks/4242/{fake.token}", "http://10.1.2.3")):
        argv = [nt.notifier_path(fleet), "run", *s.target_args(), "--group",
                notifier_group(s), "--brokers", fleet.brokers, "--mongo-uri", fleet.mongo_uri]
        rc, out = fleet.run("notifier (http webhook)", argv, timeout_s=30,
                            env={"DISCORD_WEBHOOK_URL": url})
        if rc != 2:
            fail(f"http refused: expected exit 2 for an http webhook off loopback, actual {rc}")
        if host not in out or "https" not in out:
            fail(f"http refused: expected the error to name {host} and https, actual {out!r}")
        if fake.token in out or "/webhooks/4242" in out:
            fail(f"http refused: expected neither the path nor the token in the output, actual "
                 f"{out!r}")
    log("http refused: exit 2 naming scheme and host only, for a name and an address")


# --- 2. redirects ------------------------------------------------------------------------------

def redirect_case(code, n_scenario):
    def case(fleet, client, dbs, fake):
        s = Scenario(fleet, "nwebhook", n_scenario)
        dbs.append(s.db)
        job = f"stats-redirect-{code}"
        fake.push(("redirect", code))
        n = nt.start_notifier(fleet, s, webhook=fake.url, name=f"notifier ({code})")
        nt.publish(fleet, s, [nt.stats_outcome(job, 1793505725000)])
        expect_exit(n, 1, f"HTTP {code}")
        text = n.log_text()
        if f"HTTP {code}" not in text or "redirect" not in text:
            fail(f"HTTP {code}: expected the log to name the status and the redirect, actual\n"
                 f"{n.log_tail()}")
        reqs, _, _ = fake.snapshot()
        if len(reqs) != 1 or any(r["path"].startswith("/moved") for r in reqs):
            fail(f"HTTP {code}: expected exactly one request and none to the redirect's "
                 f"target, actual {[(r['method'], r['path'][:24], r['status']) for r in reqs]}")
        if nt.outcome_posts(fake):
            fail(f"HTTP {code}: expected nothing posted, actual {nt.outcome_posts(fake)}")
        posts = client[s.db]["notifier_posts"]
        done = list(posts.find({"state": {"$in": ["posted", "rejected"]}}))
        if done:
            fail(f"HTTP {code}: expected no record of a post, actual {done}")
        rows = committed(fleet, s, notifier_group(s))
        if behind(rows) != 1:
            fail(f"HTTP {code}: expected the outcome's offset not committed (1 message behind), "
                 f"actual {behind(rows)} behind: {rows}")
        nt.expect_no_token(fake, [n], f"HTTP {code}")
        log(f"HTTP {code}: stopped with exit 1 after one request; nothing posted, offset kept")

        m = nt.start_notifier(fleet, s, webhook=fake.url, name=f"notifier ({code}, restarted)")
        nt.wait_outcomes(fake, 1, f"after {code}", [m], fleet)
        time.sleep(1.0)
        m.stop()
        nt.expect_each_once(fake, [job], f"HTTP {code}, restarted")
        rows = committed(fleet, s, notifier_group(s))
        if behind(rows) != 0:
            fail(f"HTTP {code}, restarted: expected the offset committed past the outcome, "
                 f"actual {behind(rows)} behind: {rows}")
        if posts.count_documents({"state": "posted"}) != 1:
            fail(f"HTTP {code}, restarted: expected one posted record, actual "
                 f"{list(posts.find())}")
        nt.expect_no_token(fake, [m], f"HTTP {code}, restarted")
        log(f"HTTP {code}: restarted, the outcome posted exactly once, offset committed")
    return case


# --- 3. 408 and 425 ----------------------------------------------------------------------------

def retry_case(code, n_scenario):
    def case(fleet, client, dbs, fake):
        s = Scenario(fleet, "nwebhook", n_scenario)
        dbs.append(s.db)
        job = f"stats-retry-{code}"
        fake.push(str(code), str(code))
        n = nt.start_notifier(fleet, s, webhook=fake.url, name=f"notifier ({code})")
        nt.publish(fleet, s, [nt.stats_outcome(job, 1793505725000)])
        nt.wait_outcomes(fake, 1, f"after two {code}", [n], fleet)
        time.sleep(1.0)
        if not n.running():
            fail(f"HTTP {code}: expected the notifier still running, actual exit "
                 f"{n.popen.returncode}\n{n.log_tail()}")
        n.stop()
        nt.expect_each_once(fake, [job], f"HTTP {code}")
        reqs, _, _ = fake.snapshot()
        if [r["status"] for r in reqs] != [code, code, 200]:
            fail(f"HTTP {code}: expected requests answered {code}, {code}, 200, actual "
                 f"{[r['status'] for r in reqs]}")
        if f"HTTP {code}" not in n.log_text() or "retrying" not in n.log_text():
            fail(f"HTTP {code}: expected the retries logged\n{n.log_tail()}")
        rows = committed(fleet, s, notifier_group(s))
        if behind(rows) != 0:
            fail(f"HTTP {code}: expected the offset committed, actual {behind(rows)} behind")
        nt.expect_no_token(fake, [n], f"HTTP {code}")
        log(f"HTTP {code}: retried twice, then posted exactly once; offset committed")
    return case


# --- 4. hostile numbers ------------------------------------------------------------------------

def sanitized_notifier(fleet):
    """The notifier of the sanitizer build, where undefined behaviour aborts; the normal one
    (with a loud note) when that build is missing."""
    d = os.environ.get("JT_SANITIZED_BUILD_DIR", "")
    path = os.path.join(d, "notifier", "joytify-notifier") if d else ""
    if path and os.access(path, os.X_OK):
        log(f"hostile numbers: using the sanitizer build's notifier {path}")
        return path
    log(f"hostile numbers: NOTE: no sanitizer build at {d or '(JT_SANITIZED_BUILD_DIR unset)'}; "
        f"using the normal build, where an overflow goes unnoticed (tests/run builds both)")
    return nt.notifier_path(fleet)


def task_ev(job, task, type_, ts, done, total):
    return {"job_id": job, "task_id": task, "type": type_, "job_kind": "STATS", "timestamp": ts,
            "worker_id": "w/1", "progress_done": done, "progress_total": total}


def hostile_events(t0):
    """(phase 1: running jobs, phase 2: their ends). stats-huge-sum: two tasks of INT64_MAX
    users each (the sum overflows); stats-huge-rate: one user of INT64_MAX done in 1 ms of a
    job of INT64_MAX tasks (rate and ETA beyond int64); stats-bad-time: timestamps out of
    range, refused."""
    a, b, c = "stats-huge-sum", "stats-huge-rate", "stats-bad-time"
    phase1 = [
        {"job_id": a, "type": "JOB_STARTED", "job_kind": "STATS", "timestamp": t0,
         "tasks_total": 2},
        task_ev(a, f"{a}/0001", "TASK_PROGRESS", t0 + 1, INT64_MAX, INT64_MAX),
        task_ev(a, f"{a}/0002", "TASK_PROGRESS", t0 + 1, INT64_MAX, INT64_MAX),
        {"job_id": b, "type": "JOB_STARTED", "job_kind": "STATS", "timestamp": t0,
         "tasks_total": 2**31 - 1},
        task_ev(b, f"{b}/0001", "TASK_PROGRESS", t0 + 1, 1, INT64_MAX),
        {"job_id": c, "type": "JOB_STARTED", "job_kind": "STATS", "timestamp": INT64_MIN,
         "tasks_total": 1},
        task_ev(c, f"{c}/0001", "TASK_PROGRESS", -1, 5, 10),
        task_ev(c, f"{c}/0001", "TASK_PROGRESS", INT64_MAX, 6, 10),
    ]
    # No cleanup chained: watch --until-done would wait for it.
    outcome = dict(nt.stats_outcome(a, t0 + 2), users_processed=INT64_MAX,
                   users_updated=INT64_MAX, notifications_created=INT64_MAX,
                   execution_ms=INT64_MAX, cleanup_triggered=False)
    phase2 = [
        task_ev(a, f"{a}/0001", "TASK_FINISHED", t0 + 2, INT64_MAX, INT64_MAX),
        task_ev(a, f"{a}/0002", "TASK_FINISHED", t0 + 2, INT64_MAX, INT64_MAX),
        outcome,
        dict(nt.stats_outcome(b, t0 + 3), execution_ms=INT64_MAX, cleanup_triggered=False),
        dict(nt.stats_outcome(c, INT64_MAX), cleanup_triggered=False),
    ]
    return phase1, phase2


def expect_alive(procs, what):
    for p in procs:
        text = p.log_text()
        if "runtime error" in text or "Sanitizer" in text:
            fail(f"{what}: expected no sanitizer report from {p.name}, actual\n{p.log_tail()}")
        if not p.running() and p.popen.returncode != 0:
            fail(f"{what}: expected {p.name} alive or ended with 0, actual exit "
                 f"{p.popen.returncode}\n{p.log_tail()}")


def hostile_numbers(fleet, client, dbs, fake):
    s = Scenario(fleet, "nwebhook", 20)
    dbs.append(s.db)
    notifier = sanitized_notifier(fleet)
    t0 = int(time.time() * 1000)
    phase1, phase2 = hostile_events(t0)
    hostile = {"X-RateLimit-Remaining": "1e300", "X-RateLimit-Reset-After": "1e300",
               "Retry-After": "nan"}
    fake.push(("429body", {"retry_after": -1, "global": False},
               {"Retry-After": "nan", "X-RateLimit-Remaining": "-1"}),
              *[("headers", hostile, "ok")] * 200)

    # run: its own group, the sanitizer build, the hostile webhook
    argv = [notifier, "run", *s.target_args(), "--group", notifier_group(s), "--max-age", "0",
            "--claim-lease", "2", "--http-timeout", "2", "--retry-backoff-max-ms", "1000",
            "--progress-messages", "--progress-interval", "1", "--brokers", fleet.brokers,
            "--mongo-uri", fleet.mongo_uri]
    s.create_topics()
    run = fleet.start("notifier run (sanitized)", argv,
                      env=dict(SANITIZER_ENV, DISCORD_WEBHOOK_URL=fake.url))
    wait_until("run to start", lambda: "notifier in group" in run.log_text() or
               not run.running(), 90)
    watch_argv = [notifier, "watch", *s.target_args()[2:], "--brokers", fleet.brokers, "--since",
                  "0", "--until-done", "--timeout", "120", "--interval", "50"]
    watch = fleet.start("notifier watch --json (sanitized)", [*watch_argv, "--json"],
                        env=SANITIZER_ENV)
    tty = fleet.start("notifier watch in a terminal (sanitized)",
                      ["script", "-qfec", shlex.join(watch_argv), "/dev/null"],
                      env=dict(SANITIZER_ENV, TERM="xterm", COLUMNS="250"))
    procs = [run, watch, tty]

    nt.publish(fleet, s, phase1)

    def watched_running():
        rows = [json.loads(l) for l in watch.log_text().splitlines() if l.startswith("{")]
        by_job = {r["job"]: r for r in rows}
        a, b = by_job.get("stats-huge-sum"), by_job.get("stats-huge-rate")
        return a and b and a["done"] == INT64_MAX and a["total"] == INT64_MAX and \
            b["eta_s"] is not None and by_job

    def progress_running():
        _, created, messages = fake.snapshot()
        texts = [json.dumps(p, ensure_ascii=False) for p in messages.values()]
        return any("9,223,372,036,854,775,807 / 9,223,372,036,854,775,807" in t for t in texts)

    def check():
        expect_alive(procs, "hostile numbers")

    wait_until("watch to show the running jobs' huge counts",
               lambda: check() or watched_running(), 60, on_timeout=lambda: fleet.logs(procs))
    wait_until("run's progress message to show the huge counts",
               lambda: check() or progress_running(), 60, on_timeout=lambda: fleet.logs(procs))
    by_job = watched_running()
    log(f"watch while running: {json.dumps(by_job['stats-huge-sum'])}\n"
        f"  {json.dumps(by_job['stats-huge-rate'])}")
    if "stats-bad-time" in by_job:
        fail(f"hostile numbers: expected the out-of-range events refused, actual shown by "
             f"watch: {by_job['stats-bad-time']}")

    nt.publish(fleet, s, phase2)
    expect_exit(watch, 0, "watch --json --until-done", timeout_s=60)
    expect_exit(tty, 0, "watch in a terminal --until-done", timeout_s=60)
    nt.wait_outcomes(fake, 2, "hostile numbers", [run], fleet)
    time.sleep(2.0)
    check()
    run.stop()
    expect_alive(procs, "hostile numbers")

    rows = [json.loads(l) for l in watch.log_text().splitlines() if l.startswith("{")]
    last = {r["job"]: r for r in rows}
    if set(last) != {"stats-huge-sum", "stats-huge-rate"} or \
            last["stats-huge-sum"]["state"] != "finished" or \
            any(r["state"] != "finished" for r in last.values()):
        fail(f"hostile numbers: expected watch to end with stats-huge-sum and stats-huge-rate "
             f"finished, actual {last}")
    frames = ANSI.sub("", tty.log_text())
    if "9,223,372,036,854,775,807/9,223,372,036,854,775,807" not in frames.replace(" ", ""):
        fail(f"hostile numbers: expected the terminal to show the saturated counts, actual\n"
             f"{frames[-2000:]}")
    posts = {job: title for job, title, _ in nt.outcome_posts(fake)}
    if set(posts) != {"stats-huge-sum", "stats-huge-rate"}:
        fail(f"hostile numbers: expected outcomes of stats-huge-sum and stats-huge-rate "
             f"(stats-bad-time's refused), actual {posts}")
    desc = next(p for job, _, p in nt.outcome_posts(fake)
                if job == "stats-huge-sum")["embeds"][0]["description"]
    if "9,223,372,036,854,775,807" not in desc:
        fail(f"hostile numbers: expected the outcome to show 9,223,372,036,854,775,807 users, "
             f"actual {desc!r}")
    text = run.log_text()
    if "timestamp must be" not in text:
        fail(f"hostile numbers: expected run to log the refused timestamps\n{run.log_tail()}")
    nt.expect_no_token(fake, procs, "hostile numbers")
    reqs, _, _ = fake.snapshot()
    log(f"hostile numbers: watch (JSON and terminal) and run --progress-messages survived "
        f"counts of INT64_MAX, timestamps of INT64_MIN/-1/INT64_MAX and {len(reqs)} answers "
        f"with X-RateLimit-Remaining: 1e300; the timestamps refused with the field named")


def body(fleet, client, dbs):
    only = os.environ.get("JT_IT_ONLY", "")
    cases = [("http refused", refused_http)]
    cases += [(f"redirect {c}", redirect_case(c, 2 + i))
              for i, c in enumerate((301, 302, 307, 308))]
    cases += [(f"retry {c}", retry_case(c, 10 + i)) for i, c in enumerate((408, 425))]
    cases += [("hostile numbers", hostile_numbers)]
    nt.run_cases(fleet, client, dbs, [c for c in cases if only in c[0]])


if __name__ == "__main__":
    sys.exit(it_fleet.run_main("notifier_webhook_it", body))
