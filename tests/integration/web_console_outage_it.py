#!/usr/bin/env python3
"""The notifier's web console (`joytify-notifier serve`, issue 18) while the Kafka broker is
stopped: what an on-call engineer sees when the console is opened because Kafka is down.

A ledger entry is written; the console answers with the broker up; the broker is stopped
(StackServer, restarted in a finally block) and the console is asked again a few times:
- it keeps running (librdkafka 2.0 aborted it on its group requests to a dropped broker:
  rd_kafka_enq_once_del_source_return: Assertion `eonce->refcnt > 0');
- each /api/jobs answers within 6 s (the server answers one request at a time: with the
  broker's 15 s per call a poll held every page for 45 s) with the ledger's job and an error in
  the broker sections;
- a page (/) asked while /api/jobs runs is answered within 8 s as well."""

import json
import os
import sys
import threading
import time
import urllib.error
import urllib.request

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import it_fleet  # noqa: E402

it_fleet.require_venv(__file__)

from it_fleet import Scenario, StackServer, fail, log, wait_until  # noqa: E402
from it_stats import db_handle  # noqa: E402
from web_console_it import serve  # noqa: E402
from bson.datetime_ms import DatetimeMS  # noqa: E402

ANSWER_S = 6


def get(url, timeout_s=60):
    """(status, body text, seconds) of a GET."""
    t0 = time.monotonic()
    try:
        with urllib.request.urlopen(url, timeout=timeout_s) as r:
            status, body = r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        status, body = e.code, e.read().decode()
    except OSError as e:
        status, body = None, str(e)
    return status, body, time.monotonic() - t0


def check_jobs(p, base, job, broker_up):
    status, body, took = get(base + "/api/jobs")
    log(f"/api/jobs (broker {'up' if broker_up else 'stopped'}): {status} in {took:.1f} s")
    if not p.running():
        fail(f"the console exited while the broker was "
             f"{'up' if broker_up else 'stopped'}: {p.log_tail()}")
    if status != 200 or took > ANSWER_S:
        fail(f"/api/jobs: expected 200 within {ANSWER_S} s, actual {status} in {took:.1f} s")
    view = json.loads(body)
    if [j["id"] for j in view["jobs"]] != [job] or view["jobsError"]:
        fail(f"/api/jobs: expected the ledger's job {job}, actual {view['jobs']} "
             f"(error {view['jobsError']})")
    if broker_up == bool(view["group"]["error"]):
        fail(f"/api/jobs: expected a group error only with the broker stopped, actual "
             f"{view['group']['error']!r}")


def page_during_jobs(p, base):
    """/ asked while /api/jobs runs: answered within 8 s."""
    worker = threading.Thread(target=get, args=(base + "/api/jobs",))
    worker.start()
    time.sleep(0.3)
    status, _, took = get(base + "/")
    worker.join()
    log(f"/ during /api/jobs: {status} in {took:.1f} s")
    if status != 200 or took > ANSWER_S + 2:
        fail(f"/: expected 200 within {ANSWER_S + 2} s, actual {status} in {took:.1f} s")


def main():
    def body(fleet, client, dbs):
        sc = Scenario(fleet, "outage", 1)
        dbs.append(sc.db)
        db = db_handle(client, sc.db)
        job = "stats-2026-10"
        now = int(time.time() * 1000)
        db.jobs.insert_one({"_id": job, "kind": "stats", "state": "running", "tasksDone": 1,
                            "tasksTotal": 3, "createdAt": DatetimeMS(now), "updatedAt": DatetimeMS(now)})
        p, base = serve(fleet, sc, "console")
        check_jobs(p, base, job, broker_up=True)
        kafka = StackServer.from_env("kafka")
        log(f"kafka stopped: {kafka.stop()}")
        try:
            for _ in range(4):
                check_jobs(p, base, job, broker_up=False)
            page_during_jobs(p, base)
            time.sleep(3)
            check_jobs(p, base, job, broker_up=False)
        finally:
            log(f"kafka restarted in {kafka.start():.1f} s")

        def broker_seen():
            if not p.running():
                fail(f"the console exited around the broker's restart: {p.log_tail()}")
            status, text, _ = get(base + "/api/jobs")
            return status == 200 and not json.loads(text)["group"]["error"]

        wait_until("the console to see the broker again", broker_seen, 60)

    return it_fleet.run_main("web_console_outage_it", body)


if __name__ == "__main__":
    sys.exit(main())
