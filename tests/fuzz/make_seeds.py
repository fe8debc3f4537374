#!/usr/bin/env python3
"""Writes the generated seeds of the fuzz corpora (tests/fuzz/corpus/NAME/seed-*): valid
messages of every schema version in schemas/ (encoded with fastavro, an implementation
independent of ours) in the framing of fuzz_avro.h, the golden status events of
tests/golden/notifier/events.json, and the text seeds of the other targets. Hand-written and
crash inputs live beside them under other names and are left alone.

Run with the venv's Python (deploy/local/install-deps): ~/.cache/joytify/venv/bin/python
tests/fuzz/make_seeds.py. Deterministic: running it again rewrites the same files."""
import hashlib
import json
import pathlib
import struct
import sys

import fastavro
from fastavro.schema import fingerprint, to_parsing_canonical_form

FUZZ = pathlib.Path(__file__).resolve().parent
ROOT = FUZZ.parent.parent
CORPUS = FUZZ / "corpus"

OID_A, OID_B = "6543a1b2c3d4e5f601234567", "6543a1b2c3d4e5f60123ffff"
T0 = 1793505725000

STATS = [
    dict(job_id="stats-2026-10", task_id="stats-2026-10/0007", kind="RANGE", shard=7,
         shard_count=16, month="2026-10", test_mode=False, run_id=None, run_nonce="n-1",
         user_from=OID_A, user_to=OID_B, parent_task_id=None, continuation_seq=0,
         resume_after_user=None, users_so_far=0, with_entry_so_far=0, bad_rows_so_far=0,
         notified_so_far=0, time_budget_s=0, created_at=T0),
    dict(job_id="test-stats-2026-10", task_id="test-stats-2026-10/0003+c2", kind="RANGE",
         shard=3, shard_count=4, month="2026-10", test_mode=True, run_id="run-x",
         run_nonce="abc", user_from=None, user_to=OID_A, parent_task_id="test-stats-2026-10/0003",
         continuation_seq=2, resume_after_user=OID_A, users_so_far=2000, with_entry_so_far=1500,
         bad_rows_so_far=3, notified_so_far=1499, time_budget_s=60, created_at=T0),
    dict(job_id="stats-2026-10", task_id="stats-2026-10/finalize", kind="FINALIZE", shard=-1,
         shard_count=16, month="2026-10", test_mode=False, run_id=None, run_nonce=None,
         user_from=None, user_to=None, parent_task_id=None, continuation_seq=0,
         resume_after_user=None, users_so_far=0, with_entry_so_far=0, bad_rows_so_far=0,
         notified_so_far=0, time_budget_s=0, created_at=T0),
    dict(job_id="stats-2026-09", task_id="stats-2026-09/0000", kind="SHARD", shard=0,
         shard_count=1, month="2026-09", test_mode=False, run_id=None, run_nonce=None,
         user_from=None, user_to=None, parent_task_id=None, continuation_seq=0,
         resume_after_user=None, users_so_far=0, with_entry_so_far=0, bad_rows_so_far=0,
         notified_so_far=0, time_budget_s=0, created_at=0),
]

CLEANUP = [
    dict(job_id="cleanup-2026-11-23T0400Z", task_id="cleanup-2026-11-23T0400Z/0003",
         range_start=T0 - 86400000 * 90, range_end=T0 - 86400000 * 89, cutoff=T0 - 86400000 * 60,
         retention_days=60, batch_size=10000, batch_delay_ms=100, time_budget_s=60,
         test_mode=False, triggered_by="schedule", parent_task_id=None, continuation_seq=0,
         resume_after_id=None, deleted_so_far=0, run_nonce="n-2", created_at=T0,
         resume_from=None, found=-1),
    dict(job_id="test-cleanup-x", task_id="test-cleanup-x/0000.c1", range_start=0,
         range_end=86400000, cutoff=86400000, retention_days=7, batch_size=1, batch_delay_ms=0,
         time_budget_s=1, test_mode=True, triggered_by="monthly-stats",
         parent_task_id="test-cleanup-x/0000", continuation_seq=1, resume_after_id=OID_A,
         deleted_so_far=123456, run_nonce=None, created_at=T0, resume_from=43200000,
         found=999999),
]

STATUS = [
    dict(job_id="stats-2026-10", task_id="stats-2026-10/0001", type="TASK_PROGRESS",
         job_kind="STATS", timestamp=T0, worker_id="worker-a/1", test_mode=False, tasks_total=16,
         tasks_done=3, users_processed=1200, progress_done=1200, progress_total=5000),
    dict(job_id="cleanup-2026-11-23T0400Z", task_id=None, type="JOB_STARTED", job_kind="CLEANUP",
         timestamp=T0, test_mode=False, tasks_total=30, progress_total=1000000),
    dict(job_id="cleanup-2026-11-23T0400Z", task_id="cleanup-2026-11-23T0400Z/0003",
         type="TASK_FAILED", job_kind="CLEANUP", timestamp=T0, worker_id="w",
         test_mode=True, error_message="boom `x`\nline", error_stack="at x\nat y"),
]


def write(name, label, data):
    d = CORPUS / name
    d.mkdir(parents=True, exist_ok=True)
    (d / f"seed-{label}").write_bytes(data)


def schemas(kind):
    out = []
    for path in sorted((ROOT / "schemas").glob(f"{kind}.v*.avsc")):
        raw = json.loads(path.read_text())
        out.append((path.name, raw, fastavro.parse_schema(raw)))
    return out


def fill(raw_schema, record):
    """The record with only the schema's fields, absent ones null (unions) or 0/"" ."""
    out = {}
    for f in raw_schema["fields"]:
        if f["name"] in record:
            out[f["name"]] = record[f["name"]]
        elif isinstance(f["type"], list):
            out[f["name"]] = None
        elif f["type"] == "boolean":
            out[f["name"]] = False
        elif f["type"] == "string":
            out[f["name"]] = ""
        else:
            out[f["name"]] = 0
    return out


def avro_seeds(name, kind, records):
    import io
    for index, (file, raw, parsed) in enumerate(schemas(kind)):
        pcf = to_parsing_canonical_form(parsed)
        fp = bytes.fromhex(fingerprint(pcf, "CRC-64-AVRO"))
        for i, rec in enumerate(records):
            rec = fill(raw, rec)
            if "kind" in rec and rec["kind"] not in raw["fields"][2]["type"]["symbols"]:
                continue
            buf = io.BytesIO()
            fastavro.schemaless_writer(buf, parsed, rec)
            datum = buf.getvalue()
            v = file.split(".")[1]
            write(name, f"{v}-{i}", bytes([index]) + datum)
            # the whole single-object message (header checks): high bit set, then the message
            write(name, f"{v}-{i}-raw", b"\x80" + b"\xc3\x01" + fp + datum)


def golden_events():
    doc = json.loads((ROOT / "tests/golden/notifier/events.json").read_text())
    events, foreign = [], []
    for e in doc["events"]:
        if "event" in e:
            events.append((e["name"], e["event"]))
        elif "foreign" in e:
            foreign.append((e["name"], e["foreign"]))
    return events, foreign


def text_seeds(name, items):
    for text in items:
        data = text if isinstance(text, bytes) else text.encode()
        write(name, hashlib.sha1(data).hexdigest()[:12], data)


def main():
    # The seed-* files are this script's: rewritten from scratch, so that a removed seed goes.
    for old in CORPUS.glob("*/seed-*"):
        old.unlink()
    avro_seeds("stats_task", "stats_task", STATS)
    avro_seeds("cleanup_task", "cleanup_task", CLEANUP)
    events, foreign = golden_events()
    avro_seeds("status_event", "status_event", STATUS + [e for _, e in events])
    avro_seeds("notifier_message", "status_event", [e for _, e in events] + STATUS)
    for i, (_, doc) in enumerate(foreign):
        write("notifier_message", f"foreign-{i}", b"\xff" + json.dumps(doc, indent=1).encode())
    write("notifier_message", "foreign-array", b"\xff" + b'[1, "two", {"x": [null, true, 1e5]}]')
    write("notifier_message", "foreign-deep", b"\xff" + b"[" * 200 + b"]" * 200)
    write("notifier_message", "foreign-ticks", b"\xff" + b'{"AlarmName": "a```b", "NewStateValue": "ALARM"}')

    text_seeds("cron", ["0 2 1 * *", "0 4 * * 1", "*/15 * * * *", "10-40/10 0-23/2 1,15 JAN-DEC MON-FRI",
                        "0 0 13 * 5", "0 0 29 2 *", "@yearly", "@hourly", "@midnight",
                        "59 23 31 12 7", "0 0 * * sun,SAT", "5 4 * * *\x00\x00\x00\x00\x00\x00\x00\x80"])
    text_seeds("iso_time", ["2026-11-23T04:00:00Z", "2026-11-23T04:00Z", "2026-02-28T23:59:59+00:00",
                            "2024-02-29T00:00:00Z", "0000-01-01T00:00:00Z", "9999-12-31T23:59:59Z",
                            "1970-01-01T00:00:00Z", "2026-02-30T00:00:00Z"])
    text_seeds("options", [
        "--brokers\n127.0.0.1:9092\n-X\nacks=all\n-X\nlinger.ms=5",
        "--mongo-uri=mongodb://app:S3cretPassw0rd@db:27017/x\n--db\nx\n--write-concern\n2",
        "--write-concern\nmajority\n--write-timeout\n600000\n--retention-days\n60",
        "--batch-size=0", "--count\n-1000\n--wide\n-9223372036854775808\n-f\nrest\nargs",
        "--token\nsupersecretvalue\n--count\n99999", "-t\nsupersecretvalue\n--nope",
        "--log-level\ndebug\n--task-partitions\n1024\n--replication-factor\n16",
        "-k\nkey=value\n-k\n=\n-k\nnoequals", "--time-budget\n86400\n--max-ranges\n2\n--range-hours\n8784",
        "--\n--count\nx", "-n", "--mongo-uri"])
    text_seeds("uri_redact", [
        "mongodb://app:S3cretPassw0rd@db.example.com:27017/joytify?authSource=admin",
        "mongodb://app:S3cr/etPassword@host/db", "mongodb://app:pa@ss@word1@host/db",
        "mongodb://app:p%40ss%2Fw0rdXY@h1:27017,h2:27018/?replicaSet=rs0",
        "mongodb+srv://user:longpassword123@cluster0.example.net/db?retryWrites=true",
        "mongodb://h/?tls=true&tlsCertificateKeyFilePassword=keyfilesecret",
        "mongodb://AKIDEXAMPLE:awssecretkey@h/?authMechanism=MONGODB-AWS&authMechanismProperties=AWS_SESSION_TOKEN:sessiontoken123",
        "mongodb://127.0.0.1:27017", "mongodb://user@host/db", "not a uri", "mongodb://:@/",
        "mongodb://u:p@[::1]:27017/?w=majority&wtimeoutMS=1000"])
    text_seeds("webhook_headers", [
        b"\x00\xc8\x00" + b"content-type: application/json\r\n\r\n" + b'{"id": "1234567890123456789"}',
        b"\x01\xad\x00" + b"retry-after: 2\r\nx-ratelimit-remaining: 0\r\nx-ratelimit-reset-after: 1.5\r\n\r\n"
        + b'{"message": "You are being rate limited.", "retry_after": 1.234, "global": false}',
        b"\x01\xf4\x00" + b"\r\n" + b"<html>bad gateway</html>",
        b"\x01\x90\x00" + b"\r\n" + b'{"message": "Invalid Form Body", "code": 50035}',
        b"\x01\x94\x00" + b"\r\n" + b'{"message": "Unknown Webhook", "code": 10015}',
        b"\x01\x2d\x00" + b"location: https://discord.com/api/webhooks/1/fuzzTOKENfuzzTOKENfuzz\r\n\r\n",
        b"\x00\xc8\xe3" + b"\r\n" + b"x" * 3000,
        b"Uhttps://discord.com/api/webhooks/123456/fuzzTOKENfuzzTOKENfuzz?thread_id=9",
        b"Uhttp://127.0.0.1:8080/api/webhooks/1/abcdefghijk/", b"Uhttps://host/x",
    ])
    return 0


if __name__ == "__main__":
    sys.exit(main())
