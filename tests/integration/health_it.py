#!/usr/bin/env python3
"""The worker's probes (issue 15 item 3): /healthz, /livez, /readyz and /metrics of a real
joytify-worker against the real stack.

1. slow clients: 40 raw sockets from 127.0.0.1 (the prober's own address), each sending a
   request line and then one header line every 5 s, never ending its request, reconnecting as
   soon as the worker closes it, for 30 s. Meanwhile /healthz is asked every second with a 3 s
   timeout (a probe's): every one is answered 200 (counted, answered == asked), and /metrics
   shows the slow connections were cut. Before the fix, 32 such clients held every connection
   and every probe timed out.
2. stuck loop: a worker with --liveness-timeout 5 and the test hook JT_TEST_STALL_FILE (its poll
   loop sleeps while that file exists, as a loop stuck in a call would). With the file, /livez
   and /healthz turn 503 ("main loop stuck") while /metrics and /readyz still answer 200; without
   it, 200 again; the worker then stops with exit code 0.
3. servers down: the stack's Kafka stopped, a worker started with --startup-wait 300 stays up,
   /livez 200 and /readyz 503 "starting: Kafka unreachable"; Kafka started again, /readyz turns
   200. Then the database stopped: /readyz turns 503 "MongoDB unreachable" (the background
   check), and 200 once it is back. Every server is restarted in a finally block.

Usage: health_it.py [--only 1,2,3]; under ctest (labels integration, security) with the jt_stack
fixture's environment. Exit 0 when everything holds, 1 otherwise.
"""

import argparse
import http.client
import os
import re
import socket
import sys
import tempfile
import time

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import it_fleet  # noqa: E402

it_fleet.require_venv(__file__)

from it_fleet import fail, log, wait_until  # noqa: E402

PROBE_TIMEOUT_S = 3
SLOW_CLIENTS = 40
FLOOD_S = 30


def metrics_port(worker, timeout_s=60):
    """The port from the worker's "serving /metrics ... (port N)" line."""
    def port():
        m = re.search(r"serving /metrics.*\(port (\d+)\)", worker.log_text())
        if not m and not worker.running():
            fail(f"{worker.name} exited {worker.popen.returncode} before serving its metrics\n"
                 f"{worker.log_tail()}")
        return int(m.group(1)) if m else None
    return wait_until(f"{worker.name}'s metrics port in its log", port, timeout_s,
                      on_timeout=worker.log_tail)


def get(port, path, timeout_s=PROBE_TIMEOUT_S):
    """(status, body) of GET path, or (None, why) when no answer came within timeout_s."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout_s)
    try:
        conn.request("GET", path)
        r = conn.getresponse()
        return r.status, r.read().decode("utf-8", "replace")
    except (OSError, http.client.HTTPException) as e:
        return None, f"{type(e).__name__}: {e}"
    finally:
        conn.close()


def wait_status(port, path, status, timeout_s, worker, body_start=""):
    """Waits until GET path answers status with a body starting with body_start; returns the
    body."""
    def check():
        st, body = get(port, path)
        return body if st == status and body.startswith(body_start) else None
    return wait_until(f"GET {path} answering {status} {body_start!r}", check, timeout_s,
                      interval_s=0.5,
                      on_timeout=lambda: f"last: {get(port, path)}\n{worker.log_tail()}")


def start_worker(fleet, scen, *extra, env=None):
    name = f"worker {len(scen.workers) + 1}"
    argv = [fleet.worker_path, "--group", scen.group, *scen.target_args(),
            "--metrics-addr", "127.0.0.1:0", *extra]
    w = fleet.start(name, argv, env=env)
    scen.workers.append(w)
    return w


# --- 1. slow clients -------------------------------------------------------------------------


class SlowClient:
    """A socket that sends a request line, then one header line every 5 s, and never the blank
    line that would end its request; reconnects when the server closes it."""

    def __init__(self, port):
        self.port = port
        self.sock = None
        self.next_line = 0
        self.connects = 0

    def tick(self, now):
        if self.sock is not None and self._closed_by_server():
            self.sock.close()
            self.sock = None
        if self.sock is None:
            try:
                self.sock = socket.create_connection(("127.0.0.1", self.port), timeout=2)
                self.sock.sendall(b"GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\n")
                self.sock.setblocking(False)
                self.connects += 1
                self.next_line = now + 5
            except OSError:
                self.close()
            return
        if now >= self.next_line:
            try:
                self.sock.send(b"X-Slow: 1\r\n")
                self.next_line = now + 5
            except OSError:
                self.close()

    def _closed_by_server(self):
        try:
            return self.sock.recv(1) == b""
        except BlockingIOError:
            return False
        except OSError:
            return True

    def close(self):
        if self.sock is not None:
            self.sock.close()
            self.sock = None


def cut_total(port):
    st, body = get(port, "/metrics", timeout_s=10)
    if st != 200:
        fail(f"GET /metrics: expected 200, got {st}: {body[:300]}")
    return sum(int(m.group(1)) for m in
               re.finditer(r'^joytify_http_connections_cut_total\{reason="[a-z_]+"\} (\d+)$', body,
                           re.M))


def scenario_slow_clients(fleet, n):
    scen = it_fleet.Scenario(fleet, "health", n)
    w = start_worker(fleet, scen)
    port = metrics_port(w)
    wait_status(port, "/healthz", 200, 60, w)
    clients = [SlowClient(port) for _ in range(SLOW_CLIENTS)]
    asked = answered = 0
    failures = []
    try:
        t0 = time.monotonic()
        next_probe = t0 + 2  # every client connected first
        while time.monotonic() - t0 < FLOOD_S + 2:
            now = time.monotonic()
            for c in clients:
                c.tick(now)
            if now >= next_probe:
                next_probe = now + 1
                asked += 1
                st, body = get(port, "/healthz")
                if st == 200:
                    answered += 1
                elif len(failures) < 5:
                    failures.append(f"t={now - t0:.1f}s: {st} {body.strip()[:120]}")
            time.sleep(0.1)
        connects = sum(c.connects for c in clients)
    finally:
        for c in clients:
            c.close()
    log(f"1. {SLOW_CLIENTS} slow clients for {FLOOD_S} s ({connects} connections): {answered} of "
        f"{asked} probes of /healthz answered 200 within {PROBE_TIMEOUT_S} s")
    if asked < FLOOD_S // 2 or answered != asked:
        fail(f"probes during the slow-client flood: expected all of {asked} answered 200, got "
             f"{answered}; first failures: {failures}")
    cuts = cut_total(port)
    log(f"1. joytify_http_connections_cut_total (all reasons): {cuts}")
    if cuts < SLOW_CLIENTS:
        fail(f"slow connections cut: expected at least {SLOW_CLIENTS}, got {cuts}")
    scen.expect_workers_alive()
    scen.stop_workers()


# --- 2. stuck loop -------------------------------------------------------------------------


def scenario_stuck_loop(fleet, n):
    scen = it_fleet.Scenario(fleet, "health", n)
    stall = os.path.join(tempfile.mkdtemp(prefix="jt-health-"), "stall")
    w = start_worker(fleet, scen, "--liveness-timeout", "5", "--kafka-timeout", "3",
                     "--mongo-timeout", "3", env={"JT_TEST_STALL_FILE": stall})
    port = metrics_port(w)
    try:
        for path in ("/livez", "/healthz", "/readyz"):
            wait_status(port, path, 200, 60, w)
        open(stall, "w").close()
        t0 = time.monotonic()
        body = wait_status(port, "/livez", 503, 30, w, "main loop stuck")
        log(f"2. loop stalled: /livez 503 after {time.monotonic() - t0:.1f} s: {body.strip()}")
        for path, want in (("/healthz", 503), ("/metrics", 200), ("/readyz", 200)):
            st, body = get(port, path)
            log(f"2. while stalled: GET {path}: {st}")
            if st != want:
                fail(f"GET {path} while the loop is stuck: expected {want}, got {st} "
                     f"{body[:200]!r}\n{w.log_tail()}")
        os.unlink(stall)
        wait_status(port, "/livez", 200, 30, w)
        wait_status(port, "/healthz", 200, 30, w)
        log("2. loop running again: /livez and /healthz 200")
    finally:
        if os.path.exists(stall):
            os.unlink(stall)
        os.rmdir(os.path.dirname(stall))
    scen.expect_workers_alive()
    scen.stop_workers()


# --- 3. servers down -------------------------------------------------------------------------


def scenario_servers_down(fleet, n):
    scen = it_fleet.Scenario(fleet, "health", n)
    kafka = it_fleet.StackServer.from_env("kafka")
    mongo = it_fleet.StackServer.from_env("mongo")
    try:
        log(f"3. kafka stopped: {kafka.stop()}")
        w = start_worker(fleet, scen, "--startup-wait", "300", "--kafka-timeout", "2",
                         "--mongo-timeout", "5")
        port = metrics_port(w)
        body = wait_status(port, "/readyz", 503, 60, w, "starting: Kafka unreachable")
        log(f"3. broker down at start: /readyz 503 {body.strip()!r}")
        time.sleep(5)  # a few start-up tries later: still up, still not ready, alive
        if not w.running():
            fail(f"worker with the broker down: expected running (--startup-wait 300), got exit "
                 f"{w.popen.returncode}\n{w.log_tail()}")
        for path, want in (("/readyz", 503), ("/livez", 200)):
            st, body = get(port, path)
            if st != want:
                fail(f"GET {path} with the broker down at start: expected {want}, got {st} "
                     f"{body[:200]!r}")
        log(f"3. kafka restarted in {kafka.start():.0f} s")
        wait_status(port, "/readyz", 200, 180, w)
        log("3. broker up: /readyz 200")

        log(f"3. mongo stopped: {mongo.stop()}")
        body = wait_status(port, "/readyz", 503, 60, w, "MongoDB unreachable")
        log(f"3. database down: /readyz 503 {body.strip()!r}")
        st, body = get(port, "/livez")
        if st != 200:
            fail(f"GET /livez with the database down: expected 200, got {st} {body[:200]!r}")
        log(f"3. mongo restarted in {mongo.start():.0f} s")
        wait_status(port, "/readyz", 200, 120, w)
        log("3. database up: /readyz 200")
    finally:
        if not kafka.running():
            kafka.start()
        if not mongo.running():
            mongo.start()
    scen.expect_workers_alive()
    scen.stop_workers()


SCENARIOS = {1: scenario_slow_clients, 2: scenario_stuck_loop, 3: scenario_servers_down}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--only", default="1,2,3", help="scenarios to run, e.g. 1,3")
    args = ap.parse_args()
    only = [int(x) for x in args.only.split(",")]

    def body(fleet, client, dbs):
        for n in only:
            log(f"--- scenario {n}: {SCENARIOS[n].__name__}")
            SCENARIOS[n](fleet, n)
            dbs.append(it_fleet.Scenario(fleet, "health", n).db)

    return it_fleet.run_main("health_it", body)


if __name__ == "__main__":
    sys.exit(main())
