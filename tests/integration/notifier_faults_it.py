#!/usr/bin/env python3
"""joytify-notifier killed with SIGKILL and restarted, against a fake Discord (fake_discord.py)
and the real stack; every outcome must be posted exactly once:

1. after posting and recording a stream of outcomes but before any offset was committed
   (-X auto.commit.interval.ms=600000): the restarted notifier reads them all again and posts
   none twice, then posts the outcomes published after it came back;
2. while waiting out a 429's retry_after: the restarted notifier takes the lapsed claim over
   (--claim-lease 2) and posts the outcome once;
3. while a request hangs (it then fails with 500): the same.

The window this cannot close is the few milliseconds between Discord creating a message and the
notifier recording it (Discord's webhooks take no idempotency key): a kill there would post the
message again after the lease; posts.h says so. Runs under the project venv."""

import os
import sys
import time

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import it_fleet  # noqa: E402

it_fleet.require_venv(__file__)

import it_notifier as nt  # noqa: E402
from it_fleet import Scenario, fail, log, wait_until  # noqa: E402

# A killed member holds its partitions until its session times out: keep that short.
FAST_SESSION = ["-X", "session.timeout.ms=6000"]
NO_COMMIT = ["-X", "auto.commit.interval.ms=600000", *FAST_SESSION]


def kill(p):
    p.popen.kill()
    p.popen.wait(timeout=10)
    log(f"SIGKILL {p.name} (pid {p.pid})")


def redelivered(fleet, client, dbs, fake):
    s = Scenario(fleet, "notifierkill", 1)
    dbs.append(s.db)
    posts = client[s.db]["notifier_posts"]
    first = [f"stats-kill-a{i}" for i in range(10)]
    n = nt.start_notifier(fleet, s, *NO_COMMIT, webhook=fake.url, name="notifier 1")
    nt.publish(fleet, s, [nt.stats_outcome(j, 1793505725000 + i) for i, j in enumerate(first)])
    wait_until("10 outcomes posted and recorded",
               lambda: posts.count_documents({"state": "posted"}) == 10, 60,
               on_timeout=lambda: fleet.logs([n]))
    kill(n)
    m = nt.start_notifier(fleet, s, *FAST_SESSION, webhook=fake.url, name="notifier 2")
    wait_until("the 10 redelivered outcomes recognised",
               lambda: m.log_text().count("posted before, not again") >= 10, 60,
               on_timeout=lambda: fleet.logs([m]))
    second = [f"stats-kill-b{i}" for i in range(10)]
    nt.publish(fleet, s, [nt.stats_outcome(j, 1793505735000 + i) for i, j in enumerate(second)])
    nt.wait_outcomes(fake, 20, "after the restart", [m], fleet)
    time.sleep(1.0)
    m.stop()
    nt.expect_each_once(fake, first + second, "kill after posting, before the commit")
    nt.expect_no_token(fake, [n, m], "redelivered")


def mid_wait(fleet, client, dbs, fake, n_scenario, action, what):
    s = Scenario(fleet, "notifierkill", n_scenario)
    dbs.append(s.db)
    job = f"stats-kill-{n_scenario}"
    fake.push(action)
    n = nt.start_notifier(fleet, s, *NO_COMMIT, webhook=fake.url, name="notifier 1")
    nt.publish(fleet, s, [nt.stats_outcome(job, 1793505725000)])
    wait_until(f"the first request ({what})", lambda: fake.snapshot()[0], 60,
               on_timeout=lambda: fleet.logs([n]))
    time.sleep(0.5)
    kill(n)
    if nt.outcome_posts(fake):
        fail(f"{what}: expected nothing posted before the kill")
    m = nt.start_notifier(fleet, s, *FAST_SESSION, webhook=fake.url, name="notifier 2")
    nt.wait_outcomes(fake, 1, what, [m], fleet)
    time.sleep(2.0)
    m.stop()
    nt.expect_each_once(fake, [job], f"kill {what}")
    if "stopped while posting it" not in m.log_text():
        fail(f"{what}: expected the restarted notifier to say it took a lapsed claim over\n"
             f"{m.log_tail()}")
    nt.expect_no_token(fake, [n, m], what)


def body(fleet, client, dbs):
    cases = [("kill after posting, before the offset commit", redelivered),
             ("kill while waiting out a 429",
              lambda *a: mid_wait(*a, 2, ("429", 30), "during a 429 wait")),
             ("kill during a hanging request",
              lambda *a: mid_wait(*a, 3, ("slow", 4, "500"), "during a hanging request"))]
    nt.run_cases(fleet, client, dbs, cases)


if __name__ == "__main__":
    sys.exit(it_fleet.run_main("notifier_faults_it", body))
