#!/usr/bin/env python3
"""joytify-notifier run against a fake Discord (tests/integration/fake_discord.py, loopback) and
the real Kafka and database of the stack:

1. golden: every outcome kind of tests/golden/notifier/events.json, published as status events
   (plus a progress event, which makes no message, and bytes that are neither an event nor
   JSON, which are skipped), is posted once with exactly the golden payload; a second notifier
   in another group without a webhook writes exactly the golden Markdown to its --sink.
2. storm: 429s (with retry_after and rate-limit headers), 500s, a connection reset and a
   response slower than --http-timeout before the first success: every outcome is still
   posted exactly once, and no request came before Discord's retry_after had passed.
3. refusals: a webhook answering 404 stops the notifier (exit 1) without losing the outcome;
   restarted, a 400 for that outcome is logged and skipped, and the next outcome is posted.
4. progress messages: one message per running job, posted once with ?wait=true and then
   edited in place (PATCH on its id) at most once per --progress-interval, ending at 100%.
5. original style: `run --message-style original` posts every golden kind as its
   NAME.original.json: the original Lambda's plain Markdown `content`, no embed.
The webhook token appears in no output. Runs under the project venv (pymongo, fastavro)."""

import json
import os
import re
import sys
import time

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import it_fleet  # noqa: E402

it_fleet.require_venv(__file__)

import it_notifier as nt  # noqa: E402
from it_fleet import Scenario, fail, log, wait_until  # noqa: E402

RECEIVED_RE = re.compile(r"(🕐 \*\*Received At\*\*: )[^\n]*")


def mask_received(text):
    """A foreign message's time is when it reached the topic: not known in advance."""
    return RECEIVED_RE.sub(r"\1<time>", text)


def mask_payload(payload):
    p = json.loads(json.dumps(payload))
    if "content" in p:
        p["content"] = mask_received(p["content"])
    for e in p.get("embeds") or []:
        e["description"] = mask_received(e.get("description", ""))
        if "Received At" in e["description"]:
            e["timestamp"] = "<time>"
    return p


def golden(fleet, client, dbs, fake):
    s = Scenario(fleet, "notifier", 1)
    dbs.append(s.db)
    tz, entries = nt.golden_events(fleet)
    events = [e["event"] for e in entries if "event" in e]
    foreign = [e for e in entries if "foreign" in e]
    n = nt.start_notifier(fleet, s, webhook=fake.url, timezone=tz)
    nt.publish(fleet, s, events + [{"job_id": "stats-2026-10", "task_id": "stats-2026-10/0003",
                                    "type": "TASK_PROGRESS", "job_kind": "STATS",
                                    "timestamp": 1793505700000, "progress_done": 5,
                                    "progress_total": 10}])
    for e in foreign:
        nt.publish_raw(fleet, s, "alarm", [json.dumps(e["foreign"]).encode()])
    nt.publish_raw(fleet, s, "junk", [b"\x00\x01 not an event, not JSON"])
    nt.wait_outcomes(fake, len(entries), "golden", [n], fleet)
    time.sleep(1.0)  # anything extra would show now
    posts = nt.outcome_posts(fake)
    if len(posts) != len(entries):
        fail(f"golden: expected {len(entries)} messages, actual {len(posts)}: "
             f"{[t for _, t, _ in posts]}")
    for e in entries:
        want = mask_payload(json.loads(nt.golden_file(fleet, e["name"], "json")))
        matches = [p for _, _, p in posts if mask_payload(p) == want]
        if len(matches) != 1:
            near = [p for _, t, p in posts if t == want["embeds"][0]["title"]]
            fail(f"golden {e['name']}: expected exactly one posted payload equal to "
                 f"{e['name']}.json, actual {len(matches)}\nexpected {json.dumps(want, indent=1)}"
                 f"\nsame title: {json.dumps(near, indent=1, ensure_ascii=False)}")
    reqs, _, _ = fake.snapshot()
    if any("wait=true" not in r["query"] for r in reqs if r["method"] == "POST"):
        fail("golden: expected every POST with ?wait=true (to learn the message id)")
    n.stop()
    if "neither a status event" not in n.log_text():
        fail(f"golden: expected a warning about the junk message\n{n.log_tail()}")
    nt.expect_no_token(fake, [n], "golden")
    log(f"golden: {len(entries)} payloads equal to their golden files")

    sink = os.path.join(fleet.logdir, "sink.md")
    m = nt.start_notifier(fleet, s, "--sink", sink, group_suffix="sink", timezone=tz,
                          name="notifier (sink)")

    def blocks():
        try:
            with open(sink, encoding="utf-8") as f:
                text = f.read()
        except OSError:
            return None
        parts = ["## " + b for b in re.split(r"(?m)^## ", text) if b.strip()]
        return parts if len(parts) >= len(entries) else None

    got = wait_until("the sink's messages", blocks, 60, on_timeout=lambda: fleet.logs([m]))
    m.stop()
    got = sorted(mask_received(b.strip("\n")) for b in got)
    want = sorted(mask_received(nt.golden_file(fleet, e["name"], "md").strip("\n"))
                  for e in entries)
    if got != want:
        for g, w in zip(got, want):
            if g != w:
                fail(f"golden sink: expected\n{w}\nactual\n{g}")
        fail(f"golden sink: expected {len(want)} messages, actual {len(got)}")
    log(f"golden: the sink holds the {len(entries)} golden Markdown messages")


def storm(fleet, client, dbs, fake):
    s = Scenario(fleet, "notifier", 2)
    dbs.append(s.db)
    fake.push(("429", 0.4), "500", ("429", 0.3), "reset", ("slow", 3.5, "500"), "500",
              ("429", 0.6), "ok", "500", ("429", 0.2), "reset")
    jobs = [f"stats-storm-{i}" for i in range(6)]
    n = nt.start_notifier(fleet, s, webhook=fake.url)
    nt.publish(fleet, s, [nt.stats_outcome(j, 1793505725000 + i) for i, j in enumerate(jobs)])
    nt.wait_outcomes(fake, len(jobs), "storm", [n], fleet, timeout_s=90)
    time.sleep(1.0)
    n.stop()
    nt.expect_each_once(fake, jobs, "storm")
    reqs, _, _ = fake.snapshot()
    for i, r in enumerate(reqs[:-1]):
        if isinstance(r["action"], tuple) and r["action"][0] == "429":
            gap = reqs[i + 1]["t"] - r["t"]
            if gap < r["action"][1]:
                fail(f"storm: expected the request after a 429 with retry_after "
                     f"{r['action'][1]} s to come at least that late, actual {gap:.3f} s")
    text = n.log_text()
    for needle in ("429", "HTTP 500"):
        if needle not in text:
            fail(f"storm: expected the retries to be logged ({needle})\n{n.log_tail()}")
    nt.expect_no_token(fake, [n], "storm")
    log(f"storm: {len(reqs)} requests for {len(jobs)} messages, retry_after honoured")


def refusals(fleet, client, dbs, fake):
    s = Scenario(fleet, "notifier", 3)
    dbs.append(s.db)
    fake.push("404")
    n = nt.start_notifier(fleet, s, webhook=fake.url)
    nt.publish(fleet, s, [nt.stats_outcome("stats-refused", 1793505725000)])
    try:
        rc = n.popen.wait(timeout=60)
    except Exception:  # noqa: BLE001
        fail(f"refusals: expected the notifier to stop on a 404\n{n.log_tail()}")
    if rc != 1 or "deleted or the URL is wrong" not in n.log_text():
        fail(f"refusals: expected exit 1 saying the webhook is gone, actual {rc}\n{n.log_tail()}")
    if nt.outcome_posts(fake):
        fail("refusals: expected nothing posted after the 404")
    posts = client[s.db]["notifier_posts"]
    if posts.count_documents({"state": {"$in": ["posted", "rejected"]}}):
        fail(f"refusals: expected no record after the 404, actual {list(posts.find())}")
    fake.push("400")
    m = nt.start_notifier(fleet, s, webhook=fake.url, name="notifier (restarted)")
    wait_until("the refused outcome recorded as rejected",
               lambda: posts.count_documents({"state": "rejected"}) == 1, 60,
               on_timeout=lambda: fleet.logs([m]))
    nt.publish(fleet, s, [nt.stats_outcome("stats-after", 1793505726000)])
    wait_until("the next outcome posted", lambda: nt.outcome_posts(fake), 60,
               on_timeout=lambda: fleet.logs([m]))
    wait_until("both records", lambda: posts.count_documents({}) == 2, 30)
    m.stop()
    nt.expect_each_once(fake, ["stats-after"], "refusals")
    states = {d["job"]: d["state"] for d in posts.find()}
    if states != {"stats-refused": "rejected", "stats-after": "posted"}:
        fail(f"refusals: expected records rejected/posted, actual {states}")
    if "refused the message for good" not in m.log_text():
        fail(f"refusals: expected the 400 logged\n{m.log_tail()}")
    nt.expect_no_token(fake, [n, m], "refusals")
    log("refusals: 404 stops without loss; 400 logged and skipped; next outcome posted")


def progress(fleet, client, dbs, fake):
    s = Scenario(fleet, "notifier", 4)
    dbs.append(s.db)
    n = nt.start_notifier(fleet, s, "--progress-messages", "--progress-interval", "1",
                          webhook=fake.url)
    job, t0 = "stats-progress", int(time.time() * 1000)
    nt.publish(fleet, s, [{"job_id": job, "type": "JOB_STARTED", "job_kind": "STATS",
                           "timestamp": t0, "tasks_total": 3}])
    for i in range(3):
        task = f"{job}/{i:04d}"
        time.sleep(1.2)
        nt.publish(fleet, s, [
            {"job_id": job, "task_id": task, "type": "TASK_STARTED", "job_kind": "STATS",
             "timestamp": t0 + 1000 * i + 100, "worker_id": f"w/{i % 2}", "progress_done": 0,
             "progress_total": 20},
            {"job_id": job, "task_id": task, "type": "TASK_PROGRESS", "job_kind": "STATS",
             "timestamp": t0 + 1000 * i + 500, "worker_id": f"w/{i % 2}", "progress_done": 10,
             "progress_total": 20},
            {"job_id": job, "task_id": task, "type": "TASK_FINISHED", "job_kind": "STATS",
             "timestamp": t0 + 1000 * i + 900, "worker_id": f"w/{i % 2}", "progress_done": 20,
             "progress_total": 20}])
    nt.publish(fleet, s, [nt.stats_outcome(job, t0 + 4000, users=60)])
    nt.wait_outcomes(fake, 1, "progress", [n], fleet)
    time.sleep(1.5)
    n.stop()
    reqs, created, messages = fake.snapshot()
    progress_posts = [(mid, p) for mid, p in created if (nt.title_of(p) or "").startswith(
        ("⏳", "🔄", "✅ Monthly Statistics:"))]
    if len(progress_posts) != 1:
        fail(f"progress: expected one progress message, actual "
             f"{[nt.title_of(p) for _, p in progress_posts]}")
    mid = progress_posts[0][0]
    edits = [r for r in reqs if r["method"] == "PATCH"]
    if not edits or any(not r["path"].endswith(f"/messages/{mid}") for r in edits):
        fail(f"progress: expected edits of message {mid}, actual "
             f"{[r['path'] for r in edits]}")
    final = messages[mid]["embeds"][0]
    if "100%" not in final["description"] or "finished" not in final["title"] or \
            "60 / 60" not in final["description"]:
        fail(f"progress: expected the message to end at 100 %, finished, 60 / 60 users, "
             f"actual {json.dumps(final, ensure_ascii=False)}")
    times = [r["t"] for r in reqs if r["method"] == "PATCH" or
             (r["method"] == "POST" and r["status"] == 200 and
              nt.title_of(json.loads(r["raw"])).startswith(("⏳", "🔄")))]
    close = [b - a for a, b in zip(times[:-2], times[1:-1]) if b - a < 0.9]
    if close:
        fail(f"progress: expected at most one edit per --progress-interval (1 s) before the "
             f"final one, actual gaps {close}")
    nt.expect_each_once(fake, [job], "progress")
    nt.expect_no_token(fake, [n], "progress")
    log(f"progress: one message, {len(edits)} edits in place, ends at 100 %")


def original(fleet, client, dbs, fake):
    s = Scenario(fleet, "notifier", 5)
    dbs.append(s.db)
    tz, entries = nt.golden_events(fleet)
    n = nt.start_notifier(fleet, s, "--message-style", "original", webhook=fake.url, timezone=tz)
    nt.publish(fleet, s, [e["event"] for e in entries if "event" in e])
    for e in entries:
        if "foreign" in e:
            nt.publish_raw(fleet, s, "alarm", [json.dumps(e["foreign"]).encode()])
    nt.wait_outcomes(fake, len(entries), "original", [n], fleet)
    time.sleep(1.0)  # anything extra would show now
    n.stop()
    posts = [p for _, _, p in nt.outcome_posts(fake)]
    if len(posts) != len(entries):
        fail(f"original: expected {len(entries)} messages, actual {len(posts)}")
    embedded = [p for p in posts if "embeds" in p or not p.get("content")]
    if embedded:
        fail(f"original: expected content and no embeds in every post, actual "
             f"{json.dumps(embedded[0], ensure_ascii=False)}")
    for e in entries:
        want = mask_payload(json.loads(nt.golden_file(fleet, e["name"], "original.json")))
        matches = [p for p in posts if mask_payload(p) == want]
        if len(matches) != 1:
            fail(f"original {e['name']}: expected exactly one posted payload equal to "
                 f"{e['name']}.original.json, actual {len(matches)}\nexpected "
                 f"{json.dumps(want, indent=1, ensure_ascii=False)}\nposted "
                 f"{json.dumps(posts, indent=1, ensure_ascii=False)}")
    if "original style" not in n.log_text():
        fail(f"original: expected the style in the start line\n{n.log_tail()}")
    nt.expect_no_token(fake, [n], "original")
    log(f"original: {len(entries)} content payloads equal to their .original.json golden files")


def body(fleet, client, dbs):
    nt.run_cases(fleet, client, dbs, [("golden", golden), ("storm", storm),
                                      ("refusals", refusals), ("progress", progress),
                                      ("original", original)])


if __name__ == "__main__":
    sys.exit(it_fleet.run_main("notifier_it", body))
