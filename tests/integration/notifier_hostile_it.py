#!/usr/bin/env python3
"""Hostile input on the status and task topics (issue 15, items 2, 6 and 7), against the real
stack and a fake Discord (fake_discord.py):

1. foreign JSON: a 20 KB array nested 2,000 deep, 64 KB nested 2,000 deep, 1 MB nested 2,000
   deep, one of the topic's largest size and a backlog of 1 MB messages, published on the status
   topic. joytify-notifier posts each as a bounded message, its peak RSS (VmHWM) stays under
   64 MiB (the pod's limit in deploy/k8s) and it stores every offset. Pretty-printing the first
   took 80 MB and the second 254 MB;
2. a status event of a schema the notifier does not know (a writer schema one version newer than
   the newest published, made by this test)
   followed by a known one in the same partition: nothing is posted and no offset passes it,
   /metrics says one held partition, a restarted notifier holds it again, and once the schema is
   put in --schema-dir both outcomes are posted, in order, and the offsets move on;
3. job ids and task keys with ESC [2J and CR: the notifier's log, `watch` on a terminal (a pty)
   and as JSON lines, the worker's dead-letter log and `replay --dlq` show them escaped, never
   raw; a task whose Kafka key names a job fails no job.

Every program is started under `prlimit --as` so that an unbounded one fails rather than takes
the shared machine's memory. Runs under the project venv."""

import json
import os
import pty
import re
import select
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import it_fleet  # noqa: E402

it_fleet.require_venv(__file__)

import it_notifier as nt  # noqa: E402
from it_fleet import Scenario, fail, group_offsets, log, wait_until  # noqa: E402

LIMIT_KIB = 64 * 1024
AS_LIMIT = str(3 * 1024 ** 3)  # address space: the programs map a few hundred MiB normally
# The broker's default message.max.bytes (1048588) less the record batch's own bytes.
TOPIC_MAX_MESSAGE = 1048000
FOREIGN_TITLE = "📢 Status Notification"


def vm_hwm_kib(pid):
    with open(f"/proc/{pid}/status", encoding="ascii") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    return -1


def nested(depth, size):
    """"[[[...0,0,0...]]]": depth levels, padded with 0 items to about size bytes."""
    pad = max(0, (size - 2 * depth) // 2)
    return b"[" * depth + b",".join([b"0"] * pad) + b"]" * depth


def produce_large(fleet, topic, key, values):
    """kcat -P of values, each one message, allowed up to the broker's default maximum."""
    with tempfile.TemporaryDirectory(prefix="jt-produce-") as d:
        paths = []
        for i, v in enumerate(values):
            paths.append(os.path.join(d, f"{i:06d}"))
            with open(paths[-1], "wb") as f:
                f.write(v)
        argv = ["kcat", "-P", "-q", "-b", fleet.brokers, "-t", topic, "-k", key,
                "-X", "message.max.bytes=1048588", *paths]
        r = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=120)
        if r.returncode != 0:
            fail(f"kcat -P to {topic}: exit {r.returncode}: {r.stderr.decode('utf-8', 'replace')}")


def start_limited_notifier(fleet, s, *extra, webhook, name="notifier"):
    """nt.start_notifier under prlimit --as (prlimit execs the notifier: same pid)."""
    argv = ["prlimit", f"--as={AS_LIMIT}", "--", nt.notifier_path(fleet), "run",
            *s.target_args(), "--group", f"{s.group}.notifier", "--timezone", "UTC",
            "--max-age", "0", "--claim-lease", "2", "--http-timeout", "2",
            "--retry-backoff-max-ms", "1000", "--brokers", fleet.brokers, "--mongo-uri",
            fleet.mongo_uri, *extra]
    s.create_topics()
    p = fleet.start(name, argv, env={"DISCORD_WEBHOOK_URL": webhook})
    wait_until(f"{name} to start", lambda: "notifier in group" in p.log_text() or
               not p.running(), 60)
    if not p.running():
        fail(f"{name}: expected running, actual exited {p.popen.returncode}\n{p.log_tail()}")
    return p


def notifier_offsets(fleet, s):
    """{partition: (committed or None, log end)} of the notifier's group on the status topic."""
    return group_offsets(fleet, s.topic["status"], f"{s.group}.notifier", require_rows=False)


def foreign_posts(fake):
    return [p for _, _, p in nt.outcome_posts(fake) if nt.title_of(p) == FOREIGN_TITLE]


# --- 1. foreign JSON ---------------------------------------------------------------------------


def foreign_memory(fleet, client, dbs, fake):
    s = Scenario(fleet, "hostile", 1, partitions=1)
    dbs.append(s.db)
    inputs = [("20 KB nested 2,000 deep", nested(2000, 20 * 1024)),
              ("64 KB nested 2,000 deep", nested(2000, 64 * 1024)),
              ("1 MB nested 2,000 deep", nested(2000, 1000 * 1000)),
              ("the topic's largest message", nested(2000, TOPIC_MAX_MESSAGE))]
    backlog = 12
    n = start_limited_notifier(fleet, s, webhook=fake.url)
    base = vm_hwm_kib(n.pid)
    log(f"notifier started: peak RSS {base} KiB")
    peak = base
    for what, doc in inputs:
        before = len(foreign_posts(fake))
        produce_large(fleet, s.topic["status"], "foreign", [doc])

        def posted():
            nonlocal peak
            if n.running():
                peak = vm_hwm_kib(n.pid)
            if peak > LIMIT_KIB or not n.running():
                return True
            return len(foreign_posts(fake)) > before
        wait_until(f"{what} posted", posted, 120, on_timeout=lambda: fleet.logs([n]))
        log(f"{what} ({len(doc):,} bytes): notifier peak RSS {peak} KiB (limit {LIMIT_KIB} KiB)")
        if not n.running():
            fail(f"{what}: expected the notifier running, actual exited {n.popen.returncode}\n"
                 f"{n.log_tail()}")
        if peak > LIMIT_KIB:
            fail(f"{what} ({len(doc):,} bytes): expected the notifier's peak RSS under "
                 f"{LIMIT_KIB} KiB, actual {peak} KiB")
    # A backlog of large messages: the consumer's prefetch is bounded too.
    produce_large(fleet, s.topic["status"], "foreign",
                  [nested(2000, 1000 * 1000) for _ in range(backlog)])
    total = len(inputs) + backlog
    wait_until(f"{total} foreign messages posted",
               lambda: len(foreign_posts(fake)) >= total or not n.running(), 300,
               on_timeout=lambda: fleet.logs([n]))
    peak = vm_hwm_kib(n.pid) if n.running() else peak
    log(f"after a backlog of {backlog} messages of 1 MB: peak RSS {peak} KiB")
    if peak > LIMIT_KIB:
        fail(f"backlog: expected the notifier's peak RSS under {LIMIT_KIB} KiB, actual {peak} KiB")
    posts = foreign_posts(fake)
    desc = posts[0]["embeds"][0]["description"]
    if "nested 2000 deep" not in desc or "[\n" not in desc:
        fail(f"expected the message to show the JSON re-indented with its size, actual "
             f"{desc[:300]!r}")
    n.stop()
    offsets = notifier_offsets(fleet, s)
    if any(c is None or c < end for c, end in offsets.values()):
        fail(f"expected every offset committed (committed, end): {offsets}")
    log(f"{total} foreign messages posted, offsets committed {offsets}, peak RSS {peak} KiB")


# --- 2. unknown schema -------------------------------------------------------------------------


def newer_schema(fleet, directory):
    """status_event.v(N+1).avsc: the newest published version N with one more optional field (a
    newer writer than this build knows, compatible)."""
    versions = it_fleet.schema_versions(fleet.source_dir, "status_event")
    with open(versions[-1], encoding="utf-8") as f:
        schema = json.load(f)
    schema["fields"].append({"name": "shard_note", "type": ["null", "string"], "default": None})
    path = os.path.join(directory, f"status_event.v{len(versions) + 1}.avsc")
    with open(path, "w", encoding="utf-8") as f:
        json.dump(schema, f)
    return path


def metrics_of(p):
    m = re.search(r"/metrics on port (\d+)", p.log_text())
    if not m:
        fail(f"{p.name}: expected its /metrics port in the log\n{p.log_tail()}")
    with urllib.request.urlopen(f"http://127.0.0.1:{m.group(1)}/metrics", timeout=5) as r:
        text = r.read().decode()
    values = {}
    for line in text.splitlines():
        if line.startswith("joytify_notifier_"):
            name, value = line.split()
            values[name] = float(value)
    return values


def expect_metrics(p, held, events, what):
    got = metrics_of(p)
    want = {"joytify_notifier_held_partitions": held,
            "joytify_notifier_unknown_schema_events_total": events}
    if any(got.get(k) != v for k, v in want.items()):
        fail(f"{what}: expected /metrics {want}, actual {got}")
    log(f"{what}: /metrics {got}")


def unknown_schema(fleet, client, dbs, fake):
    s = Scenario(fleet, "hostile", 2, partitions=1)
    dbs.append(s.db)
    newer_dir = tempfile.mkdtemp(prefix="jt-schema-newer-")
    learn_dir = tempfile.mkdtemp(prefix="jt-schema-dir-")
    try:
        v2 = newer_schema(fleet, newer_dir)
        newer = it_fleet.AvroEncoder(v2)
        a, b = "stats-unknown-a", "stats-unknown-b"
        n = start_limited_notifier(fleet, s, "--schema-dir", learn_dir, webhook=fake.url,
                                   name="notifier 1")
        nt.publish(fleet, s, [dict(nt.stats_outcome(a, 1793505725000), shard_note="v2")],
                   encoder=newer)
        nt.publish(fleet, s, [nt.stats_outcome(b, 1793505726000)])
        wait_until("the unknown schema held twice",
                   lambda: n.log_text().count("of a schema this notifier does not know") >= 2,
                   60, on_timeout=lambda: fleet.logs([n]))
        time.sleep(1.0)
        if nt.outcome_posts(fake):
            fail(f"expected nothing posted while the partition waits at the unknown event, "
                 f"actual {[(j, t) for j, t, _ in nt.outcome_posts(fake)]}")
        expect_metrics(n, 1, 1, "held")
        n.stop()
        offsets = notifier_offsets(fleet, s)
        committed = offsets[0][0]
        if committed not in (None, 0):
            fail(f"expected no offset past the unknown event (offset 0) committed, actual "
                 f"{committed}")
        log(f"after a stop: committed offset {committed}, log end {offsets[0][1]}")
        m = start_limited_notifier(fleet, s, "--schema-dir", learn_dir, webhook=fake.url,
                                   name="notifier 2")
        wait_until("the restarted notifier holding it again",
                   lambda: "of a schema this notifier does not know" in m.log_text(), 60,
                   on_timeout=lambda: fleet.logs([m]))
        expect_metrics(m, 1, 1, "held again after a restart")
        shutil.copy(v2, learn_dir)
        nt.wait_outcomes(fake, 2, "after the schema was learnt", [m], fleet)
        order = [job for job, _, _ in nt.outcome_posts(fake)]
        if order != [a, b]:
            fail(f"expected the outcomes of {a} then {b}, actual {order}")
        wait_until("the partition released",
                   lambda: metrics_of(m).get("joytify_notifier_held_partitions") == 0, 30)
        if "learnt the writer schema" not in m.log_text():
            fail(f"expected the notifier to say it learnt the schema\n{m.log_tail()}")
        m.stop()
        offsets = notifier_offsets(fleet, s)
        if offsets[0][0] != offsets[0][1]:
            fail(f"expected every offset committed once both were posted, actual {offsets}")
        log(f"posted {order} once the schema was learnt; offsets {offsets}")
    finally:
        shutil.rmtree(newer_dir, ignore_errors=True)
        shutil.rmtree(learn_dir, ignore_errors=True)


# --- 3. escapes --------------------------------------------------------------------------------

EVIL = "evil\x1b[2J\rjob"
EVIL_ESCAPED = "evil\\x1b[2J\\rjob"


def expect_escaped(text, what):
    if "\x1b[2J" in text or "evil\r" in text:
        at = text.find("\x1b[2J") if "\x1b[2J" in text else text.find("evil\r")
        fail(f"{what}: expected no raw ESC [2J or CR from the wire, actual "
             f"{text[max(0, at - 80):at + 40]!r}")
    if EVIL_ESCAPED not in text:
        fail(f"{what}: expected the id escaped as {EVIL_ESCAPED!r}, actual\n{text[-2000:]!r}")
    log(f"{what}: escaped as {EVIL_ESCAPED!r}")


def watch_argv(fleet, s):
    """joytify-notifier watch of the scenario's topics until its jobs ended."""
    topics = [a for k in s.KINDS for a in (f"--{k}-topic", s.topic[k])]
    return [nt.notifier_path(fleet), "watch", *topics, "--task-partitions", str(s.partitions),
            "--since", "0", "--until-done", "--timeout", "60", "--interval", "100",
            "--brokers", fleet.brokers]


def watch_on_pty(fleet, s):
    """joytify-notifier watch on a terminal (a pty) until the job ended; its raw output."""
    argv = watch_argv(fleet, s)
    master, slave = pty.openpty()
    p = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=slave, stderr=slave)
    os.close(slave)
    out = b""
    try:
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            ready, _, _ = select.select([master], [], [], 0.5)
            if ready:
                try:
                    chunk = os.read(master, 65536)
                except OSError:
                    break
                if not chunk:
                    break
                out += chunk
            elif p.poll() is not None:
                break
    finally:
        if p.poll() is None:
            p.kill()
        p.wait(timeout=10)
        os.close(master)
    return p.returncode, out.decode("utf-8", "replace")


def escapes(fleet, client, dbs, fake):
    s = Scenario(fleet, "hostile", 3, partitions=1)
    dbs.append(s.db)
    n = start_limited_notifier(fleet, s, webhook=fake.url)
    nt.publish(fleet, s, [{"job_id": EVIL, "type": "JOB_STARTED", "job_kind": "STATS",
                           "timestamp": 1793505720000, "tasks_total": 1, "test_mode": False},
                          {"job_id": EVIL, "type": "JOB_FAILED", "job_kind": "STATS",
                           "timestamp": 1793505725000, "worker_id": "w\x1b]0;pwned\x07/1",
                           "error_message": "boom", "test_mode": False}])
    nt.wait_outcomes(fake, 1, "the failure of the evil job", [n], fleet)
    wait_until("the post logged", lambda: "posted (message" in n.log_text(), 30)
    n.stop()
    expect_escaped(n.log_text(), "notifier log")

    rc, out = fleet.run("watch --json", watch_argv(fleet, s), 90)
    lines = [json.loads(l) for l in out.splitlines() if l.startswith("{")]
    jobs = {l["job"] for l in lines}
    if jobs != {EVIL_ESCAPED} or "\\u001b" in out or "\x1b" in out:
        fail(f"watch --json: expected job {EVIL_ESCAPED!r} only and no ESC, actual jobs {jobs}, "
             f"output {out[-1000:]!r}")
    if any("\x1b" in w or "\x07" in w for l in lines for w in l.get("workers", [])):
        fail(f"watch --json: expected worker ids escaped, actual {lines[-1].get('workers')}")
    log(f"watch --json: job {EVIL_ESCAPED!r}, workers {lines[-1].get('workers')} (exit {rc})")

    rc, out = watch_on_pty(fleet, s)
    expect_escaped(out, f"watch on a terminal (exit {rc})")

    # The worker: a task that does not decode, whose Kafka key names a job with ESC and CR in
    # it, is dead-lettered with the key escaped in the log and fails no job.
    victim = "stats-2026-10"
    key = f"{victim}\x1b[2J\r/0001"
    it_fleet.produce(fleet.brokers, s.topic["stats"], key, [b"\xc3\x01garbage that is no task"])
    w = s.start_worker()
    wait_until("the task dead-lettered", lambda: "dead-lettered" in w.log_text(), 90,
               on_timeout=lambda: fleet.logs([w]))
    s.stop_workers()
    text = w.log_text()
    if "\x1b[2J" in text or "\r" in text:
        fail(f"worker log: expected the key escaped, actual raw ESC or CR\n{text[-1500:]!r}")
    if "key=stats-2026-10\\x1b[2J\\r/0001" not in text:
        fail(f"worker log: expected key=stats-2026-10\\x1b[2J\\r/0001, actual\n{text[-1500:]}")
    decoder = it_fleet.status_decoder(fleet.source_dir)
    charged = [ev for ev in s.status_events(decoder)
               if ev["type"] == "JOB_FAILED" and ev["job_id"].startswith(victim)]
    if charged:
        fail(f"expected no job failed for a task that did not decode, actual {charged}")
    log("worker log: the key escaped; no job charged with the undecodable task")

    # replay --dlq prints the DLQ's headers, any producer's bytes: escaped too.
    argv = ["kcat", "-P", "-q", "-b", fleet.brokers, "-t", s.topic["dlq"], "-k", key,
            "-H", f"jt-original-topic={s.topic['stats']}", "-H", "jt-error=boom\x1b[2J\r",
            "-H", "jt-attempts=1"]
    r = subprocess.run(argv, input=b"x", stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       timeout=30)
    if r.returncode != 0:
        fail(f"kcat -P to the DLQ: exit {r.returncode}: {r.stderr.decode('utf-8', 'replace')}")
    rc, out = fleet.run("replay --dlq --dry-run",
                        [fleet.producer_path, "replay", "--dlq", "--dlq-topic", s.topic["dlq"],
                         "--dry-run", "--brokers", fleet.brokers], 90)
    if rc != 0 or "\x1b" in out or "\r" in out or 'error="boom\\x1b[2J\\r"' not in out:
        fail(f"replay --dlq --dry-run: expected exit 0 and error=\"boom\\x1b[2J\\r\", no raw "
             f"ESC or CR, actual exit {rc}: {out[-1500:]!r}")
    log("replay --dlq: the DLQ's error header escaped")


def body(fleet, client, dbs):
    if not shutil.which("prlimit"):
        fail("prlimit is not installed (Debian package util-linux)")
    cases = [("foreign JSON in bounded memory", foreign_memory),
             ("a status event of an unknown schema is held", unknown_schema),
             ("wire strings escaped in logs and watch", escapes)]
    only = os.environ.get("JT_HOSTILE_CASES")
    if only:
        cases = [c for c in cases if any(o in c[0] for o in only.split(","))]
    nt.run_cases(fleet, client, dbs, cases)


if __name__ == "__main__":
    sys.exit(it_fleet.run_main("notifier_hostile_it", body))
