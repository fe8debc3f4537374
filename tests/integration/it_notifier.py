"""Helpers for the notifier's integration tests: the golden events, publishing status events,
starting joytify-notifier against a scenario and a fake Discord, and reading what it posted."""

import copy
import json
import os

import it_fleet
from it_fleet import fail, log, wait_until

GOLDEN_DIR = None


def golden_dir(fleet):
    return os.path.join(fleet.source_dir, "tests", "golden", "notifier")


def golden_events(fleet):
    """(timezone, [entries]) of tests/golden/notifier/events.json."""
    with open(os.path.join(golden_dir(fleet), "events.json"), encoding="utf-8") as f:
        doc = json.load(f)
    return doc["timezone"], doc["events"]


def golden_file(fleet, name, ext):
    with open(os.path.join(golden_dir(fleet), f"{name}.{ext}"), encoding="utf-8") as f:
        return f.read()


def full_event(partial):
    """A status event record with every optional field present (fastavro needs them all)."""
    ev = {"job_id": None, "task_id": None, "type": None, "job_kind": None, "timestamp": 0,
          "worker_id": None, "test_mode": False}
    for k in ("tasks_total", "tasks_done", "users_processed", "users_updated",
              "notifications_created", "notification_id", "month", "records_deleted",
              "total_records_found", "remaining_records", "completion_percentage",
              "was_timeout_stopped", "processing_mode", "batch_size", "cutoff_date",
              "triggered_by", "cleanup_triggered", "execution_ms", "progress_done",
              "progress_total", "error_message", "error_stack", "users_pushed",
              "push_failures"):
        ev[k] = None
    ev.update(partial)
    return ev


def publish(fleet, scenario, events, encoder=None):
    """Publishes status events (dicts, see full_event) to the scenario's status topic, keyed by
    job id, in order per job."""
    encoder = encoder or it_fleet.status_encoder(fleet.source_dir)
    by_key = {}
    for ev in events:
        by_key.setdefault(ev["job_id"], []).append(encoder.encode(full_event(ev)))
    for key, values in by_key.items():
        it_fleet.produce(fleet.brokers, scenario.topic["status"], key, values)


def publish_raw(fleet, scenario, key, values):
    it_fleet.produce(fleet.brokers, scenario.topic["status"], key, values)


def notifier_path(fleet):
    path = os.path.join(fleet.build_dir, "notifier", "joytify-notifier")
    if not os.access(path, os.X_OK):
        fail(f"{path}: expected a built program, actual missing (build first)")
    return path


def start_notifier(fleet, scenario, *extra, webhook=None, group_suffix="notifier",
                   timezone="Asia/Taipei", name="notifier"):
    """joytify-notifier run on the scenario's status topic, its own group, the webhook (given
    through DISCORD_WEBHOOK_URL, never on the logged command line) or the sink in extra."""
    argv = [notifier_path(fleet), "run", *scenario.target_args(), "--group",
            f"{scenario.group}.{group_suffix}", "--timezone", timezone, "--max-age", "0",
            "--claim-lease", "2", "--http-timeout", "2", "--retry-backoff-max-ms", "1000",
            "--brokers", fleet.brokers, "--mongo-uri", fleet.mongo_uri, *extra]
    env = {"DISCORD_WEBHOOK_URL": webhook} if webhook else {"DISCORD_WEBHOOK_URL": ""}
    scenario.create_topics()  # the notifier only reads: it creates none (nor can kcat)
    p = fleet.start(name, argv, env=env)
    wait_until(f"{name} to start", lambda: "notifier in group" in p.log_text() or
               not p.running(), 60)
    return p


def job_of(payload):
    """The job id a posted payload is about: its "Job" field, without the backticks."""
    for e in payload.get("embeds") or []:
        for f in e.get("fields") or []:
            if f.get("name") == "Job":
                return f.get("value", "").strip("`")
    return None


def title_of(payload):
    embeds = payload.get("embeds") or []
    return embeds[0].get("title") if embeds else None


def outcome_posts(fake):
    """Created messages that are outcomes (not progress messages): [(job, title, payload)]."""
    _, created, _ = fake.snapshot()
    out = []
    for _, p in created:
        t = title_of(p) or ""
        if t.startswith(("⏳", "🔄", "✅ Monthly Statistics:", "✅ Playback Data Cleanup:",
                         "🚨 Monthly Statistics:", "🚨 Playback Data Cleanup:")):
            continue
        out.append((job_of(p), t, p))
    return out


def expect_each_once(fake, jobs, what):
    """Each job of jobs has exactly one outcome message, and nothing else was posted."""
    posts = outcome_posts(fake)
    counts = {}
    for job, _, _ in posts:
        counts[job] = counts.get(job, 0) + 1
    twice = {j: c for j, c in counts.items() if c > 1}
    missing = sorted(set(jobs) - set(counts))
    extra = sorted(set(counts) - set(jobs))
    if twice or missing or extra:
        fail(f"{what}: expected each of {len(jobs)} outcomes posted exactly once, actual: "
             f"posted more than once {twice}, missing {missing}, unexpected {extra}")
    log(f"{what}: {len(jobs)} outcomes, each posted exactly once")


def expect_no_token(fake, procs, what):
    for p in procs:
        text = p.log_text()
        if fake.token in text:
            line = next(l for l in text.splitlines() if fake.token in l)
            fail(f"{what}: the webhook token must appear in no output, actual in {p.name}'s: "
                 f"{line!r}")


def wait_outcomes(fake, n, what, procs, fleet, timeout_s=60):
    return wait_until(f"{n} outcome messages ({what})",
                      lambda: len(outcome_posts(fake)) >= n and outcome_posts(fake),
                      timeout_s, on_timeout=lambda: fleet.logs(procs))


def stats_outcome(job_id, ts, users=10):
    return {"job_id": job_id, "type": "JOB_FINISHED", "job_kind": "STATS", "timestamp": ts,
            "worker_id": "w/1", "users_processed": users, "users_updated": users - 1,
            "notifications_created": 1, "notification_id": "6543a1b2c3d4e5f601234567",
            "month": "2026-10", "cleanup_triggered": True, "execution_ms": 1234}


def copy_events(events):
    return copy.deepcopy(events)


def run_cases(fleet, client, dbs, cases):
    """Runs each (name, case) with a fresh fake Discord: case(fleet, client, dbs, fake)."""
    from fake_discord import FakeDiscord
    for name, case in cases:
        fake = FakeDiscord()
        try:
            log(f"--- {name}")
            case(fleet, client, dbs, fake)
        finally:
            fake.close()
