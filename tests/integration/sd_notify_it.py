#!/usr/bin/env python3
"""Supervision and probes of the three daemons on the real stack (issue 19 items 2 and 3), with
systemd's notification protocol played by a unix datagram socket (systemd is not PID 1 here):
each program runs with NOTIFY_SOCKET and WATCHDOG_USEC set, as a Type=notify unit with
WatchdogSec would run it.

1. worker, broker down at start: the stack's Kafka stopped, a worker with --startup-wait sends
   STATUS lines and watchdog pings but no READY=1; Kafka started again, READY=1 arrives (after
   the restart began), WATCHDOG=1 keeps coming at least every WATCHDOG_USEC; a stalled loop
   (JT_TEST_STALL_FILE) stops the pings and they resume with it; SIGTERM sends STOPPING=1.
2. notifier: READY=1 and the watchdog; /livez and /readyz 200; /metrics has the process series
   and the posting series, which count a post retried once after a 500 from a fake Discord:
   posts_total{posted} 1, webhook_errors_total{server} 1, one post_wait_seconds observation.
3. scheduler (`joytify-producer schedule --metrics-addr`): READY=1, the watchdog, /livez and
   /readyz 200, /metrics with the next fire time of both schedules (in the future, on the
   cron's minute) and the process series; STOPPING=1 at SIGTERM.

Usage: sd_notify_it.py [--only 1,2,3]; under ctest (label integration) with the jt_stack
fixture's environment. Exit 0 when everything holds, 1 otherwise.
"""

import argparse
import os
import re
import socket
import sys
import tempfile
import threading
import time

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import it_fleet  # noqa: E402

it_fleet.require_venv(__file__)

import health_it  # noqa: E402  (metrics_port, get, wait_status)
import it_notifier  # noqa: E402
from it_fleet import fail, log, wait_until  # noqa: E402

WATCHDOG_S = 2.0  # WATCHDOG_USEC the programs get: a ping every second or so


class NotifySocket:
    """A unix datagram socket that collects every notification with its arrival time."""

    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="jt-notify-")
        self.path = os.path.join(self.dir, "notify")
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(self.path)
        self.sock.settimeout(0.2)
        self.lock = threading.Lock()
        self.got = []  # (monotonic time, {key: value})
        self.closed = False
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self):
        while not self.closed:
            try:
                data = self.sock.recv(4096)
            except socket.timeout:
                continue
            except OSError:
                return
            fields = dict(line.split("=", 1) for line in data.decode().splitlines() if "=" in line)
            with self.lock:
                self.got.append((time.monotonic(), fields))

    def env(self):
        return {"NOTIFY_SOCKET": self.path, "WATCHDOG_USEC": str(int(WATCHDOG_S * 1e6))}

    def times(self, key, since=0.0):
        with self.lock:
            return [t for t, f in self.got if key in f and t >= since]

    def statuses(self):
        with self.lock:
            return [f["STATUS"] for _, f in self.got if "STATUS" in f]

    def close(self):
        self.closed = True
        self.thread.join(2)
        self.sock.close()
        os.unlink(self.path)
        os.rmdir(self.dir)


def expect_pings(ns, since, seconds, what):
    """WATCHDOG=1 keeps coming for `seconds`: none of the gaps reaches WATCHDOG_USEC."""
    time.sleep(seconds)
    pings = [since] + ns.times("WATCHDOG", since)
    gaps = [b - a for a, b in zip(pings, pings[1:])] + [time.monotonic() - pings[-1]]
    if len(pings) < 3 or max(gaps) >= WATCHDOG_S:
        fail(f"{what}: expected WATCHDOG=1 at least every {WATCHDOG_S} s for {seconds} s, actual "
             f"{len(pings) - 1} pings, longest gap {max(gaps):.1f} s")
    log(f"{what}: {len(pings) - 1} watchdog pings in {seconds} s, longest gap {max(gaps):.1f} s")


def wait_ready(ns, proc, timeout_s):
    return wait_until(f"READY=1 from {proc.name}", lambda: ns.times("READY") or
                      (not proc.running() and fail(f"{proc.name} exited {proc.popen.returncode}"
                                                   f"\n{proc.log_tail()}")),
                      timeout_s, on_timeout=proc.log_tail)[0]


def expect_stopping(ns, proc):
    proc.stop(30)
    if not ns.times("STOPPING"):
        fail(f"{proc.name}: expected STOPPING=1 after SIGTERM, actual notifications "
             f"{ns.statuses()}")
    log(f"{proc.name}: STOPPING=1, last status {ns.statuses()[-1]!r}")


def sample(body, series):
    m = re.search(r"^" + re.escape(series) + r" (\S+)$", body, re.M)
    return m.group(1) if m else None


def expect_samples(body, want, what):
    """want: {series: value, or None for "present"}."""
    for series, value in want.items():
        got = sample(body, series)
        if got is None or (value is not None and float(got) != float(value)):
            fail(f"{what}: {series}: expected {value if value is not None else 'a sample'}, "
                 f"actual {got}\n--- /metrics ---\n{body}")


PROCESS_SERIES = {s: None for s in ("process_cpu_seconds_total", "process_resident_memory_bytes",
                                    "process_start_time_seconds", "process_open_fds")}


def expect_probes(port, proc):
    for path in ("/livez", "/readyz"):
        health_it.wait_status(port, path, 200, 60, proc)
    log(f"{proc.name}: /livez and /readyz 200")


# --- 1. the worker, with the broker down at start --------------------------------------------


def scenario_worker(fleet, n):
    scen = it_fleet.Scenario(fleet, "sdnotify", n)
    kafka = it_fleet.StackServer.from_env("kafka")
    ns = NotifySocket()
    stall = os.path.join(ns.dir, "stall")
    try:
        log(f"1. kafka stopped: {kafka.stop()}")
        w = health_it.start_worker(fleet, scen, "--startup-wait", "300", "--kafka-timeout", "2",
                                   "--mongo-timeout", "5",
                                   env=dict(ns.env(), JT_TEST_STALL_FILE=stall))
        wait_until("a 'starting: Kafka unreachable' status",
                   lambda: any("Kafka unreachable" in s for s in ns.statuses()), 60,
                   on_timeout=w.log_tail)
        time.sleep(6)  # a few start-up tries
        if ns.times("READY"):
            fail(f"worker with the broker down: expected no READY=1, actual {ns.statuses()}")
        log(f"1. broker down: no READY=1; status {ns.statuses()[-1]!r}, "
            f"{len(ns.times('WATCHDOG'))} watchdog pings meanwhile")
        restart_began = time.monotonic()
        log(f"1. kafka restarted in {kafka.start():.0f} s")
        ready = wait_ready(ns, w, 180)
        if ready < restart_began:
            fail("worker: READY=1 came before the broker was started again")
        log(f"1. READY=1 {ready - restart_began:.1f} s after the restart began; status "
            f"{ns.statuses()[-1]!r}")
        expect_pings(ns, time.monotonic(), 6, "1. worker running")
        open(stall, "w").close()
        time.sleep(1)  # the round in progress may still ping
        stalled_at = time.monotonic()
        time.sleep(3 * WATCHDOG_S)
        if ns.times("WATCHDOG", stalled_at):
            fail(f"worker with its loop stalled: expected no WATCHDOG=1 for {3 * WATCHDOG_S} s, "
                 f"actual {len(ns.times('WATCHDOG', stalled_at))}")
        log(f"1. loop stalled: no watchdog ping for {3 * WATCHDOG_S:.0f} s")
        os.unlink(stall)
        expect_pings(ns, time.monotonic(), 4, "1. loop going round again")
        w.stopped = True
        expect_stopping(ns, w)
    finally:
        if not kafka.running():
            kafka.start()
        if os.path.exists(stall):
            os.unlink(stall)
        ns.close()
    return scen.db


# --- 2. the notifier -------------------------------------------------------------------------


def scenario_notifier(fleet, n):
    from fake_discord import FakeDiscord
    scen = it_fleet.Scenario(fleet, "sdnotify", n)
    ns = NotifySocket()
    fake = FakeDiscord()
    try:
        # start_notifier passes its own environment on top of ours: NOTIFY_SOCKET through ours.
        os.environ.update(ns.env())
        try:
            p = it_notifier.start_notifier(fleet, scen, "--metrics-addr", "127.0.0.1:0",
                                           webhook=fake.url, name="notifier")
        finally:
            for k in ns.env():
                os.environ.pop(k)
        wait_ready(ns, p, 60)
        log(f"2. notifier READY=1; status {ns.statuses()[-1]!r}")
        port = health_it.metrics_port(p)
        expect_probes(port, p)
        _, body = health_it.get(port, "/metrics")
        expect_samples(body, dict(PROCESS_SERIES, **{
            'joytify_notifier_posts_total{outcome="posted"}': 0,
            'joytify_notifier_webhook_errors_total{class="server"}': 0,
            "joytify_notifier_post_wait_seconds_count": 0}), "notifier at start")
        fake.push("500")  # the first request fails, the retry posts
        job = f"stats-{scen.db}"
        it_notifier.publish(fleet, scen, [it_notifier.stats_outcome(job, int(time.time() * 1000))])
        it_notifier.wait_outcomes(fake, 1, "the outcome", [p], fleet)

        def counted():
            _, text = health_it.get(port, "/metrics")
            return text if sample(text, 'joytify_notifier_posts_total{outcome="posted"}') == "1" \
                else None
        body = wait_until("the post counted in /metrics", counted, 30)
        expect_samples(body, {'joytify_notifier_webhook_errors_total{class="server"}': 1,
                              "joytify_notifier_post_wait_seconds_count": 1,
                              'joytify_notifier_posts_total{outcome="failed"}': 0},
                       "notifier after a post retried once")
        log("2. /metrics: posted 1, webhook errors {server} 1, one wait observed")
        expect_pings(ns, time.monotonic(), 4, "2. notifier running")
        expect_stopping(ns, p)
    finally:
        fake.close()
        ns.close()
    return scen.db


# --- 3. the scheduler ------------------------------------------------------------------------


def scenario_scheduler(fleet, n):
    scen = it_fleet.Scenario(fleet, "sdnotify", n)
    ns = NotifySocket()
    try:
        argv = [fleet.producer_path, "schedule", *scen.target_args(), "--metrics-addr",
                "127.0.0.1:0"]
        p = fleet.start("scheduler", argv, env=ns.env())
        wait_ready(ns, p, 60)
        log(f"3. scheduler READY=1; status {ns.statuses()[-1]!r}")
        port = health_it.metrics_port(p)
        expect_probes(port, p)
        now = time.time()

        def both_next():
            _, text = health_it.get(port, "/metrics")
            return text if all(sample(text, f'joytify_schedule_next_fire_timestamp_seconds'
                                            f'{{schedule="{s}"}}') for s in ("stats", "cleanup")) \
                else None
        body = wait_until("the next fire times in /metrics", both_next, 30)
        expect_samples(body, PROCESS_SERIES, "scheduler")
        for s in ("stats", "cleanup"):
            nxt = float(sample(body, f'joytify_schedule_next_fire_timestamp_seconds{{schedule="{s}"}}'))
            if nxt % 60 != 0 or not now - 120 < nxt < now + 40 * 86400:
                fail(f"scheduler: next {s} fire {nxt}: expected a whole minute within 40 days "
                     f"of now ({now:.0f})\n{body}")
            log(f"3. next {s} fire {time.strftime('%Y-%m-%dT%H:%MZ', time.gmtime(nxt))}")
        expect_pings(ns, time.monotonic(), 4, "3. scheduler running")
        expect_stopping(ns, p)
    finally:
        ns.close()
    return scen.db


SCENARIOS = {1: scenario_worker, 2: scenario_notifier, 3: scenario_scheduler}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--only", default="1,2,3", help="scenarios to run, e.g. 2,3")
    args = ap.parse_args()

    def body(fleet, client, dbs):
        for n in [int(x) for x in args.only.split(",")]:
            log(f"--- scenario {n}: {SCENARIOS[n].__name__}")
            dbs.append(SCENARIOS[n](fleet, n))

    return it_fleet.run_main("sd_notify_it", body)


if __name__ == "__main__":
    sys.exit(main())
