#!/usr/bin/env python3
"""The notifier's web console (`joytify-notifier serve`, issue 18) in headless Chromium, on the
real stack while a real job runs (the built joytify-producer, joytify-worker and
joytify-notifier):

- a statistics job is sent with no worker running: the jobs page shows it at 0 %; a worker
  starts and the page's progress bar advances; one range's stats document holds data the worker
  must not overwrite, so the job fails: the page shows it failed with the reason, the job's page
  its tasks, failure and the Discord message posted, the dead-letter page the task decoded
  (error, attempts, original topic/partition/offset), the workers page the member and the lag;
- the document is repaired; a replay through the page with a wrong token is refused (403), a
  POST without the page's CSRF token or from another Origin too, a console started without
  --admin-token-file has no action (404) and no button; with the token the page's replay runs
  `joytify-producer replay --dlq` and the job finishes: its bar reaches 100 %; a dead letter of
  another job is discarded from the dead-letter page and shown handled;
- a ledger entry whose id and failure reason carry markup: the text shows, no element is made
  and no script runs (label security);
- a screenshot of each page in build/test-artifacts/ (copies in docs/screenshots/).
Skipped (77) when chromium or chromedriver is missing."""

import json
import os
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import it_fleet  # noqa: E402

it_fleet.require_venv(__file__)

import it_browser  # noqa: E402
import it_notifier  # noqa: E402
import it_safety as S  # noqa: E402
from it_fleet import PREVIOUS_MONTH_RETENTION, Scenario, fail, log, wait_until  # noqa: E402
from it_stats import db_handle, report  # noqa: E402

TOKEN = "it-admin-token-0123456789abcdef"
MARKUP_ID = "<img src=x onerror=alert(1)>"
MARKUP_REASON = "<script>window.pwned=1</script><b>bold</b> & \"quoted\""


def serve(fleet, sc, name, *extra):
    """joytify-notifier serve on a free loopback port for the scenario; returns (proc, base URL)."""
    argv = [it_notifier.notifier_path(fleet), "serve", "--listen", "127.0.0.1:0",
            *sc.target_args(), "--workers-group", sc.group, "--notifier-group",
            f"{sc.group}.notifier", "--brokers", fleet.brokers, "--mongo-uri", fleet.mongo_uri,
            "--producer-path", fleet.producer_path, *extra]
    p = fleet.start(name, argv)
    port = wait_until(f"{name} to listen", lambda: _port(p), 60,
                      on_timeout=lambda: fleet.logs([p]))
    return p, f"http://127.0.0.1:{port}"


def _port(p):
    if not p.running():
        fail(f"{p.name} exited: {p.log_tail()}")
    for line in p.log_text().splitlines():
        if "console on http://" in line and "(port " in line:
            return int(line.split("(port ")[1].split(")")[0])
    return None


def http(url, method="GET", headers=None):
    """(status, parsed JSON or text) of a request from outside the browser."""
    req = urllib.request.Request(url, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=20) as r:
            status, body = r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        status, body = e.code, e.read().decode()
    try:
        return status, json.loads(body)
    except ValueError:
        return status, body


def bar_of(b, job):
    """The job's progress bar value on the page shown, or None when its row is not there."""
    return b.run("const r = [...document.querySelectorAll('tr[data-job]')]"
                 ".find((tr) => tr.dataset.job === arguments[0]);"
                 "return r ? r.querySelector('progress').value : null;", job)


def row_text(b, job):
    return b.run("const r = [...document.querySelectorAll('tr[data-job]')]"
                 ".find((tr) => tr.dataset.job === arguments[0]);"
                 "return r ? r.textContent : '';", job)


def shot(fleet, b, name):
    b.screenshot(os.path.join(fleet.build_dir, "test-artifacts", "web-console",
                              f"web-console-{name}.png"))


def watch_job_fail(fleet, sc, db, b, base, job, victim):
    """The job sent with no worker shows at 0 %; a worker starts; the bar advances; the job
    fails with the reason shown. Returns the bar values seen."""
    b.get(base + "/")
    wait_until("the job on the jobs page at 0 %", lambda: bar_of(b, job) == 0, 30,
               on_timeout=lambda: b.run("return document.body.textContent"))
    seen = [0]
    sc.start_worker("--retention-days", "75", "--max-attempts", "2")
    deadline = time.monotonic() + 90
    while "failed" not in row_text(b, job):
        v = bar_of(b, job)
        if v is not None and v != seen[-1]:
            seen.append(v)
        if time.monotonic() > deadline:
            fail(f"the job's row: expected failed, actual {row_text(b, job)!r}; ledger "
                 f"{S.ledger(db, job)}\n{fleet.logs()}")
        time.sleep(0.2)
    if bar_of(b, job) != seen[-1]:
        seen.append(bar_of(b, job))
    problems = []
    if len(seen) < 2 or seen != sorted(seen) or seen[-1] <= 0:
        problems.append(f"the bar: expected to advance from 0, actual values {seen}")
    if str(victim) not in row_text(b, job):
        problems.append(f"the row: expected the failure reason naming {victim}, actual "
                        f"{row_text(b, job)!r}")
    report(problems, f"jobs page: the bar advanced {seen} and the job failed with its reason")


def check_pages(fleet, sc, b, base, job, victim):
    """The job's page (tasks, failure, the Discord message), workers, dead letters."""
    b.get(base + "/job?id=" + urllib.parse.quote(job, safe=""))
    wait_until("the job's page with its tasks, failure and posted message", lambda: b.run(
        "return document.querySelectorAll('#tasks tr').length > 1 && "
        "document.querySelector('.failure') !== null && "
        "document.querySelector('#posts').textContent.includes('JOB_FAILED')"), 40,
        on_timeout=lambda: b.run("return document.body.textContent"))
    text = b.run("return document.querySelector('.failure').textContent")
    if str(victim) not in text:
        fail(f"job page failure: expected the reason naming {victim}, actual {text!r}")
    b.get(base + "/workers")
    wait_until("the workers page with the member and the lag", lambda: b.run(
        "return document.querySelectorAll('#members tr').length > 1 && "
        "document.querySelectorAll('#lag tr').length > 1"), 30,
        on_timeout=lambda: b.run("return document.body.textContent"))
    b.get(base + "/dlq")
    wait_until("the dead letter decoded", lambda: b.run(
        "return [...document.querySelectorAll('#dead-letters tr')].slice(1)"
        ".map((tr) => tr.textContent).join('\\n')"), 30)
    rows = b.run("return [...document.querySelectorAll('#dead-letters tr')].slice(1)"
                 ".map((tr) => [...tr.cells].map((c) => c.textContent))")
    row = rows[0]
    problems = []
    if len(rows) != 1 or row[1] != job or not row[4].isdigit() or int(row[4]) < 1:
        problems.append(f"dead letters: expected one of {job} with its attempts, actual {rows}")
    if not row[5].startswith(sc.topic["stats"] + " / "):
        problems.append(f"dead letter original: expected {sc.topic['stats']} / P / O, actual "
                        f"{row[5]!r}")
    if str(victim) not in row[3]:
        problems.append(f"dead letter error: expected it to name {victim}, actual {row[3]!r}")
    report(problems, "job, workers and dead-letter pages show the tasks, the failure, the post, "
           "the member and lag, the dead letter decoded")
    shot(fleet, b, "dlq")


def check_refusals(fleet, sc, db, b, base, job):
    """A wrong token through the page, a missing CSRF token, another Origin, a GET, another
    Host: refused, and the job still failed."""
    b.get(base + "/job?id=" + urllib.parse.quote(job, safe=""))
    wait_until("the replay button", lambda: b.find_all("button.replay"), 30)
    csrf = b.run("return document.querySelector('meta[name=\"csrf-token\"]').content")
    b.type_into("#admin-token", "not-the-token-0123456789")
    b.click("button.replay")
    wait_until("the refusal shown", lambda: "refused (HTTP 403)" in b.run(
        "return document.getElementById('action-result').textContent"), 20)
    url = f"{base}/api/action/replay?job={urllib.parse.quote(job, safe='')}"
    host = base.split("//")[1]
    cases = [("no CSRF token", "POST", {"X-Admin-Token": TOKEN, "Origin": base}, 403),
             ("another Origin", "POST", {"X-Admin-Token": TOKEN, "X-CSRF-Token": csrf,
                                         "Origin": "http://evil.example"}, 403),
             ("no token", "POST", {"X-CSRF-Token": csrf, "Origin": base}, 403),
             ("a GET", "GET", {"X-Admin-Token": TOKEN, "X-CSRF-Token": csrf}, 405),
             ("another Host", "POST", {"X-Admin-Token": TOKEN, "X-CSRF-Token": csrf,
                                       "Origin": "http://evil.example:80",
                                       "Host": "evil.example:80"}, 421)]
    problems = []
    for what, method, headers, want in cases:
        status, body = http(url, method, headers)
        if status != want:
            problems.append(f"{what}: expected HTTP {want}, actual {status} {body}")
    time.sleep(2)
    if S.ledger(db, job)["state"] != "failed":
        problems.append(f"after the refusals: expected the job still failed, actual "
                        f"{S.ledger(db, job)['state']}")
    status, _ = http(base + "/", headers={"Host": f"attacker.example:{host.split(':')[1]}"})
    if status != 421:
        problems.append(f"a page through another Host name: expected 421, actual {status}")
    report(problems, "replay refused without the right token, CSRF token, Origin, method, Host")


def check_read_only(fleet, sc, b, job):
    """A console without --admin-token-file: no action, no button, no CSRF token."""
    ro, base = serve(fleet, sc, "console (read-only)")
    b.get(base + "/job?id=" + urllib.parse.quote(job, safe=""))
    wait_until("the read-only job page", lambda: b.find_all("#tasks"), 30)
    problems = []
    if b.find_all("button") or b.find_all("#admin") or b.find_all('meta[name="csrf-token"]'):
        problems.append("read-only page: expected no button, admin bar or CSRF token")
    url = f"{base}/api/action/replay?job={urllib.parse.quote(job, safe='')}"
    status, _ = http(url, "POST", {"X-Admin-Token": TOKEN, "Origin": base})
    if status != 404:
        problems.append(f"read-only console's replay: expected HTTP 404, actual {status}")
    ro.stop()
    report(problems, "without --admin-token-file: read-only, the action endpoints answer 404")


def replay_through_page(fleet, sc, db, b, base, job, victim):
    """The document repaired, the token typed, the page's replay: the job finishes, 100 %."""
    db.stats.update_one({"user": victim}, {"$set": {"stats": []}})
    b.get(base + "/job?id=" + urllib.parse.quote(job, safe=""))
    wait_until("the replay button", lambda: b.find_all("button.replay"), 30)
    b.type_into("#admin-token", TOKEN)
    b.click("button.replay")
    wait_until("the replay to end", lambda: "ended, exit" in b.run(
        "return document.getElementById('action-state').textContent"), 60,
        on_timeout=lambda: b.run("return document.getElementById('admin').textContent"))
    state = b.run("return document.getElementById('action-state').textContent")
    output = b.run("return document.getElementById('action-output').textContent")
    if "exit 0" not in state:
        fail(f"the replay through the page: expected exit 0, actual {state!r}: {output}")
    S.wait_state(db, job, ("finished",), 90, fleet)
    b.get(base + "/")
    wait_until("the job's bar at 100 % and finished", lambda: bar_of(b, job) == 100 and
               "finished" in row_text(b, job), 30, on_timeout=lambda: row_text(b, job))
    if "console action replay job " + job not in fleet.procs[0].log_text() and not any(
            "console action replay job " + job in p.log_text() for p in fleet.procs):
        fail("the replay: expected it logged by the console, actual no log line")
    log(f"replay through the page with the token: exit 0, {job} finished at 100 %")


def discard_through_page(fleet, sc, b, base):
    """A dead letter of another job discarded from the DLQ page: handled, nothing re-sent."""
    headers = {"jt-original-topic": sc.topic["stats"], "jt-original-partition": "0",
               "jt-original-offset": "999", "jt-error": "left for the discard test",
               "jt-attempts": "3"}
    argv = ["kcat", "-P", "-b", fleet.brokers, "-t", sc.topic["dlq"], "-k", "discard-me/0000"]
    for k, v in headers.items():
        argv += ["-H", f"{k}={v}"]
    r = subprocess.run(argv, input=b"not a task", stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, timeout=30)
    if r.returncode != 0:
        fail(f"kcat -P: exit {r.returncode}: {r.stdout.decode('utf-8', 'replace')}")
    b.get(base + "/dlq")
    wait_until("the new dead letter with its Discard button", lambda: b.find_all("button.discard"),
               30, on_timeout=lambda: b.run("return document.body.textContent"))
    b.click("button.discard")
    wait_until("the discard to end", lambda: b.run(
        "const t = document.getElementById('action-state').textContent;"
        "return t.startsWith('discard ') && t.includes('ended, exit')"), 60,
        on_timeout=lambda: b.run("return document.getElementById('admin').textContent"))
    state = b.run("return document.getElementById('action-state').textContent")
    if "discard partition" not in state or "exit 0" not in state:
        output = b.run("return document.getElementById('action-output').textContent")
        fail(f"the discard through the page: expected exit 0, actual {state!r}: {output}")
    wait_until("the dead letter shown handled", lambda: b.run(
        "return [...document.querySelectorAll('#dead-letters tr')].slice(1)"
        ".every((tr) => tr.cells[8].textContent === '' && tr.cells[7].textContent === 'handled')"),
        30, on_timeout=lambda: b.run("return document.getElementById('content').textContent"))
    log("discard through the page with the token: exit 0, the dead letter handled")


def check_markup(fleet, db, b, base):
    """A job id and a reason carrying markup show as text: no element, no script."""
    now = S.DatetimeMS(int(time.time() * 1000))
    db.jobs.insert_one({"_id": MARKUP_ID, "kind": "stats", "state": "failed",
                        "taskIds": [MARKUP_ID + "/0000"], "tasksTotal": 1, "failures": 1,
                        "lastFailure": {"reason": MARKUP_REASON, "task": MARKUP_ID + "/0000",
                                        "at": now},
                        "createdAt": now, "updatedAt": now, "failedAt": now})
    b.get(base + "/")
    wait_until("the markup job's row", lambda: MARKUP_ID in row_text(b, MARKUP_ID), 30)
    problems = []
    count = ("return {img: document.querySelectorAll('img').length, "
             "b: document.querySelectorAll('main b').length, "
             "scripts: document.querySelectorAll('script').length, pwned: window.pwned || 0, "
             "title: (document.getElementById('job-id') || {}).textContent || null}")
    got = b.run(count)
    if got != {"img": 0, "b": 0, "scripts": 1, "pwned": 0, "title": None}:
        problems.append(f"jobs page: expected no element made from the markup, actual {got}")
    if MARKUP_REASON not in row_text(b, MARKUP_ID):
        problems.append(f"jobs page: expected the reason as text, actual {row_text(b, MARKUP_ID)!r}")
    shot(fleet, b, "jobs")
    b.get(base + "/job?id=" + urllib.parse.quote(MARKUP_ID, safe=""))
    wait_until("the markup job's page", lambda: b.find_all(".failure"), 30)
    got = b.run(count)
    if got != {"img": 0, "b": 0, "scripts": 1, "pwned": 0, "title": MARKUP_ID}:
        problems.append(f"job page: expected the id as text and no element, actual {got}")
    if b.alert_text() is not None:
        problems.append(f"an alert opened: {b.alert_text()!r}")
    status, html = http(base + "/job?id=" + urllib.parse.quote(MARKUP_ID, safe=""))
    if "&lt;img src=x onerror=alert(1)&gt;" not in html or "<img" in html:
        problems.append("the server's HTML: expected the id escaped, actual "
                        f"{html[html.find('<title>'):html.find('</title>') + 8]!r}")
    report(problems, "a job id and a reason carrying markup show as text; no element, no script")


def main():
    ok, why = it_browser.available()
    if not ok:
        log(f"web_console_it: SKIP: {why}")
        return 77

    def body(fleet, client, dbs):
        year, month = S.previous_month()
        data = S.MonthData(year, month)
        sc = Scenario(fleet, "web", 1)
        dbs.append(sc.db)
        db = db_handle(client, sc.db)
        data.load(db)
        job = S.job_id_stats(year, month)
        victim = data.users[3]["_id"]
        db.stats.update_one({"user": victim}, {"$set": {"stats": "not an array"}})
        token_file = os.path.join(fleet.logdir, "admin-token")
        with open(os.open(token_file, os.O_WRONLY | os.O_CREAT, 0o600), "w") as f:
            f.write(TOKEN + "\n")
        _, base = serve(fleet, sc, "console", "--admin-token-file", token_file)
        it_notifier.start_notifier(fleet, sc, "--sink", os.path.join(fleet.logdir, "posts.md"))
        b = it_browser.Browser(fleet.logdir)
        try:
            rc, _ = sc.producer("stats", "--month", data.label, "--users-per-task", "8",
                                *PREVIOUS_MONTH_RETENTION)
            if rc != 0:
                fail(f"producer stats: expected exit 0, actual {rc}")
            watch_job_fail(fleet, sc, db, b, base, job, victim)
            check_pages(fleet, sc, b, base, job, victim)
            check_refusals(fleet, sc, db, b, base, job)
            check_read_only(fleet, sc, b, job)
            replay_through_page(fleet, sc, db, b, base, job, victim)
            discard_through_page(fleet, sc, b, base)
            b.get(base + "/job?id=" + urllib.parse.quote(job, safe=""))
            wait_until("the job's page finished", lambda: "finished" in row_text(b, job), 30)
            shot(fleet, b, "job")
            b.get(base + "/workers")
            wait_until("the workers page", lambda: len(b.find_all("#members tr")) > 1, 30)
            shot(fleet, b, "workers")
            check_markup(fleet, db, b, base)
        finally:
            b.close()
        sc.stop_workers()

    return it_fleet.run_main("web_console_it", body)


if __name__ == "__main__":
    sys.exit(main())
