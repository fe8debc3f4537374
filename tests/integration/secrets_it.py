#!/usr/bin/env python3
"""MongoDB credentials never leak through a program's real error paths (issue 15, item 1).

Every program that takes --mongo-uri (joytify-producer stats/cleanup/schedule, joytify-worker,
joytify-notifier run, joytify-loadtest generate/capacity/baseline/floor/bench) is run with
connection strings holding secrets the old redaction printed: a password with '/', a password
with '@', tlsCertificateKeyFilePassword and sslClientCertificateKeyPassword values, an
authMechanismProperties AWS_SESSION_TOKEN, options the driver refuses or ignores. Each points at
a closed port or a host that does not resolve, so the program fails; the test asserts that no
secret (as meant, as written, percent-decoded, or a piece of it) is in stdout or stderr, that
the program exits non-zero, and that the error is still clear: it names the host (when the
string lets anyone tell the host apart) and says what failed.

The worker checks Kafka before MongoDB, so it needs the fixture's broker (JT_KAFKA_BROKERS);
the other programs fail on MongoDB before they touch Kafka. Standard library only.

    secrets_it.py [--build-dir DIR]     (default: $JT_BUILD_DIR, as ctest sets it)
"""

import argparse
import concurrent.futures
import os
import subprocess
import sys

DEAD = "127.0.0.1:1"  # nothing listens on port 1: refused at once
BAD_HOST = "no-such-host.invalid"  # RFC 2606: never resolves

# name, URI, secrets (none may appear), host shown in the error (None: cannot be told apart
# from the user info, the error then says so), what the error must say.
CASES = [
    ("password with '/'",
     f"mongodb://app:S3cr/et9x@{DEAD}",
     ["S3cr/et9x", "S3cr", "/et9x", "et9x@"],
     DEAD, "not a valid MongoDB connection string"),
    ("password with '@'",
     f"mongodb://app:p@ssW0rd7@{DEAD}/db",
     ["p@ssW0rd7", "ssW0rd7", "p@ss"],
     DEAD, "percent-encode '@' as %40"),
    ("tlsCertificateKeyFilePassword",
     f"mongodb://app:Us3rPw%2F42@{DEAD}/?tlsCertificateKeyFilePassword=TlsKeyPw%2F77",
     ["Us3rPw%2F42", "Us3rPw/42", "TlsKeyPw%2F77", "TlsKeyPw/77", "TlsKeyPw"],
     DEAD, "cannot reach MongoDB"),
    ("authMechanismProperties AWS_SESSION_TOKEN",
     f"mongodb://AKIAEXAMPLEKEY:AwsSecretKey%2B1@{DEAD}/?authMechanism=MONGODB-AWS"
     "&authMechanismProperties=AWS_SESSION_TOKEN:FQoGZXIvYXdzEJr%2F%2FSessTok",
     ["AKIAEXAMPLEKEY", "AwsSecretKey", "FQoGZXIvYXdzEJr", "SessTok"],
     DEAD, "cannot reach MongoDB"),
    ("host that does not resolve",
     f"mongodb://app:BadH0st%40Pw@{BAD_HOST}:27017/?sslClientCertificateKeyPassword=SslKeyPw55",
     ["BadH0st@Pw", "BadH0st%40Pw", "SslKeyPw55"],
     BAD_HOST, "cannot reach MongoDB"),
    ("conflicting secret options (the driver refuses, quoting both)",
     f"mongodb://app:OptPw123x@{DEAD}/?sslClientCertificateKeyPassword=ConflictA1"
     "&tlsCertificateKeyFilePassword=ConflictB2",
     ["OptPw123x", "ConflictA1", "ConflictB2"],
     DEAD, "not a valid MongoDB connection string"),
    ("raw '&' in a secret option (the driver warns about the tail)",
     f"mongodb://app:AmpPw999@{DEAD}/?tlsCertificateKeyFilePassword=Amp1&%23Tail9zz=x",
     ["AmpPw999", "Tail9zz"],
     DEAD, "cannot reach MongoDB"),
    ("password with ':' (the driver refuses, quoting it)",
     f"mongodb://app:Col:on55Pw@{DEAD}",
     ["Col:on55Pw", "on55Pw"],
     DEAD, "must not have unescaped chars"),
]


def programs(build, brokers):
    producer = os.path.join(build, "producer", "joytify-producer")
    worker = os.path.join(build, "worker", "joytify-worker")
    notifier = os.path.join(build, "notifier", "joytify-notifier")
    loadtest = os.path.join(build, "loadtest", "joytify-loadtest")
    dead_kafka = ["--brokers", DEAD, "--kafka-timeout", "1"]
    return [
        ("joytify-producer stats", [producer, "stats"] + dead_kafka),
        ("joytify-producer cleanup", [producer, "cleanup"] + dead_kafka),
        ("joytify-producer schedule", [producer, "schedule"] + dead_kafka),
        ("joytify-worker", [worker, "--brokers", brokers]),
        ("joytify-notifier run", [notifier, "run", "--webhook-url",
                                  "https://127.0.0.1:9/api/webhooks/1/hook"] + dead_kafka),
        ("joytify-loadtest generate", [loadtest, "generate", "--users", "10"]),
        ("joytify-loadtest capacity", [loadtest, "capacity"]),
        ("joytify-loadtest baseline", [loadtest, "baseline", "stats"]),
        ("joytify-loadtest floor", [loadtest, "floor", "stats"]),
        ("joytify-loadtest bench", [loadtest, "bench"]),
    ]


def run(argv, uri):
    env = dict(os.environ)
    env.pop("JT_MONGO_URI", None)  # the URI under test comes from the command line
    try:
        p = subprocess.run(argv + ["--mongo-uri", uri, "--mongo-timeout", "1"], env=env,
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=90,
                           stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired as e:
        out = (e.stdout or b"") + (e.stderr or b"")
        return None, out.decode("utf-8", "replace")
    return p.returncode, (p.stdout + p.stderr).decode("utf-8", "replace")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build-dir", default=os.environ.get("JT_BUILD_DIR"))
    ap.add_argument("--brokers", default=os.environ.get("JT_KAFKA_BROKERS"))
    args = ap.parse_args()
    if not args.build_dir or not args.brokers:
        print("FAIL: JT_BUILD_DIR and JT_KAFKA_BROKERS must be set: run through ctest "
              "(fixture jt_stack)", flush=True)
        return 1
    jobs = [(prog, argv, case) for prog, argv in programs(args.build_dir, args.brokers)
            for case in CASES]
    # Four at a time: each waits about a second for a server that is not there.
    with concurrent.futures.ThreadPoolExecutor(max_workers=4) as pool:
        results = list(pool.map(lambda j: run(j[1], j[2][1]), jobs))
    failures = []
    runs = len(jobs)
    for (prog, _, (name, uri, secrets, host, says)), (rc, out) in zip(jobs, results):
        last = out.strip().splitlines()[-1] if out.strip() else "(no output)"
        problems = []
        for s in secrets:
            if s in out:
                problems.append(f"shows the secret {s!r} (expected it nowhere)")
        if rc is None:
            problems.append("did not exit within 90 s (expected a prompt failure)")
        elif rc == 0:
            problems.append("exited 0 (expected a failure)")
        if host and host not in out:
            problems.append(f"does not name the host {host} (expected it in the error)")
        if says not in out:
            problems.append(f"does not say {says!r}")
        print(f"[{'ok' if not problems else 'FAIL'}] {prog} / {name}: exit {rc}: {last}",
              flush=True)
        for p in problems:
            print(f"       {p}", flush=True)
        if problems:
            failures.append((prog, name, problems, out))
    print(f"{runs} runs ({len(CASES)} connection strings x {runs // len(CASES)} programs), "
          f"{len(failures)} failed", flush=True)
    if failures:
        prog, name, problems, out = failures[0]
        print(f"\nfirst failure, {prog} / {name}, full output:\n{out}", flush=True)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
