#!/usr/bin/env python3
"""Cross-checks the C Avro codec (common/jt_avro*, through jt_avro_tool) against fastavro, an
independent implementation, in both directions:

  * every schema (published, test-only, and a set of tricky ones): fastavro's Parsing Canonical
    Form and CRC-64-AVRO fingerprint equal ours, byte for byte;
  * every message type, hand-written and seeded random records: the single-object message our
    C code encodes equals C3 01 + fingerprint + fastavro's schemaless_writer output, and what
    fastavro writes decodes in C to the same values;
  * schema resolution across implementations: fastavro writes StatsTask v2 (test-only schema)
    and a C v1 reader reads it; C writes v1 and fastavro reads it with the v2 reader schema.

Runs under the Python that has fastavro: $JT_PYTHON if set, else the venv that
deploy/local/install-deps makes in ${JOYTIFY_CACHE_DIR:-~/.cache/joytify}/venv (it re-executes
itself there). Exit 0 when everything agrees, 1 with the differences otherwise.
"""

import argparse
import glob
import io
import json
import os
import random
import struct
import subprocess
import sys
import tempfile

REEXEC_MARK = "JT_AVRO_CROSSCHECK_REEXEC"


def target_python():
    if os.environ.get("JT_PYTHON"):
        return os.environ["JT_PYTHON"], "JT_PYTHON"
    cache = os.environ.get("JOYTIFY_CACHE_DIR") or os.path.join(
        os.path.expanduser("~"), ".cache", "joytify")
    return os.path.join(cache, "venv", "bin", "python"), "the joytify venv"


def ensure_fastavro():
    """Returns the fastavro module, re-executing under the configured Python first."""
    if not os.environ.get(REEXEC_MARK):
        python, origin = target_python()
        if not os.path.exists(python):
            sys.exit(f"avro_crosscheck: FAIL: no Python at {python} ({origin}). Run "
                     "deploy/local/install-deps, or set JT_PYTHON to a Python with fastavro "
                     "(python3 -m venv V && V/bin/pip install fastavro).")
        os.environ[REEXEC_MARK] = "1"
        os.execv(python, [python, os.path.abspath(__file__)] + sys.argv[1:])
    try:
        import fastavro  # noqa: F401
        import fastavro.schema  # noqa: F401
    except ImportError as e:
        sys.exit(f"avro_crosscheck: FAIL: fastavro is not installed in {sys.executable} ({e}). "
                 "Run deploy/local/install-deps, or: "
                 f"{sys.executable} -m pip install fastavro")
    return fastavro


fastavro = ensure_fastavro()
from fastavro.schema import fingerprint, to_parsing_canonical_form  # noqa: E402

TYPES = ["stats_task", "cleanup_task", "status_event"]
failures = []


def fail(what):
    failures.append(what)
    print("FAIL:", what)


def lines_of(data):
    """Output lines. Not str.splitlines(): that also splits at U+2028, which JSON keeps raw."""
    return data.decode().split("\n")[:-1] if data else []


def tool(args, stdin=b""):
    r = subprocess.run([ARGS.tool] + args, input=stdin, capture_output=True, timeout=120)
    if r.returncode < 0:
        fail(f"jt_avro_tool {' '.join(args)} died of signal {-r.returncode}: "
             f"{r.stderr.decode(errors='replace')}")
    return r


# Schemas whose canonical form is easy to get wrong: namespaces, references, stripping.
TRICKY_SCHEMAS = [
    {"type": "record", "name": "R", "namespace": "a.b", "doc": "d\u00e9j\u00e0 \"vu\"",
     "fields": [
         {"name": "e", "type": {"type": "enum", "name": "E", "symbols": ["X", "Y"],
                                "default": "X"}},
         {"name": "f", "type": {"type": "fixed", "name": "c.F", "size": 16,
                                "logicalType": "decimal", "precision": 4}},
         {"name": "g", "type": {"type": "record", "name": "G", "namespace": "c",
                                "fields": [{"name": "h", "type": "a.b.E"},
                                           {"name": "i", "type": "F"}]}},
         {"name": "j", "type": ["null", "E", {"type": "array", "items": "c.G"}],
          "default": None},
         {"name": "k", "type": {"type": "map", "values": "c.F"}},
         {"name": "l", "type": {"type": "long", "logicalType": "timestamp-micros"},
          "aliases": ["ll"], "order": "descending"},
         {"name": "m", "type": {"type": "string", "avro.java.string": "String"}},
         {"name": "n", "type": {"type": "bytes", "logicalType": "decimal", "precision": 9,
                                "scale": 2}},
         {"name": "o", "type": ["null", "float", "double", "boolean", "bytes"]},
     ]},
    {"type": "record", "name": "LinkedList", "fields": [
        {"name": "value", "type": "int"},
        {"name": "next", "type": ["null", "LinkedList"]}]},
    {"type": "error", "name": "Failure", "namespace": "x", "fields": [
        {"name": "message", "type": "string"}]},
    ["null", "string", {"type": "map", "values": {"type": "array", "items": "long"}}],
    {"type": "enum", "name": "y.Sym", "namespace": "ignored.because.dotted", "symbols": ["A"]},
]


def check_canonical(files):
    for path in files:
        with open(path, encoding="utf-8") as f:
            schema = json.load(f)
        want_pcf = to_parsing_canonical_form(schema)
        want_fp = fingerprint(want_pcf, "CRC-64-AVRO")
        got_pcf = tool(["pcf", path]).stdout.decode().rstrip("\n")
        got_fp = tool(["fingerprint", path]).stdout.decode().strip()
        name = os.path.basename(path)
        if got_pcf != want_pcf:
            fail(f"{name}: canonical form differs\n  fastavro: {want_pcf}\n  ours:     {got_pcf}")
        if got_fp != want_fp:
            fail(f"{name}: fingerprint differs: fastavro {want_fp}, ours {got_fp}")
        print(f"ok  canonical form + fingerprint {want_fp}  {name}")


def header(schema_json):
    fp = fingerprint(to_parsing_canonical_form(schema_json), "CRC-64-AVRO")
    return b"\xc3\x01" + bytes.fromhex(fp)


def fastavro_message(schema_json, parsed, record):
    buf = io.BytesIO()
    fastavro.schemaless_writer(buf, parsed, record)
    return header(schema_json) + buf.getvalue()


# ---- random records ------------------------------------------------------------------------

ALPHABET = ("abcXYZ019 _-/.:\"\\\t\n\r\x01\x1f\x7f"
            "\u00e9\u00fc\u00df\u20ac\u4e2d\u6587\u0416\u2028\ufeff\U0001f3b5\U0010fffd")


def rand_string(rng):
    return "".join(rng.choice(ALPHABET) for _ in range(rng.choice([0, 1, 3, 10, 40, 200])))


def rand_value(rng, t):
    if isinstance(t, list):
        return rand_value(rng, rng.choice(t))
    if isinstance(t, dict):
        kind = t["type"]
        if kind == "enum":
            return rng.choice(t["symbols"])
        if kind in ("record", "array", "map", "fixed"):
            raise ValueError(f"no generator for {kind} (not in our message schemas)")
        t = kind  # primitive with a logical type
    if t == "null":
        return None
    if t == "boolean":
        return rng.random() < 0.5
    if t == "int":
        return rng.choice([0, 1, -1, 63, 64, -64, -65, 2**31 - 1, -2**31,
                           rng.randint(-2**31, 2**31 - 1)])
    if t == "long":
        return rng.choice([0, -1, 2**63 - 1, -2**63, 1793491200000,
                           rng.randint(-2**63, 2**63 - 1), rng.randint(-1000, 1000)])
    if t == "double":
        return rng.choice([0.0, -0.0, 1.5, 100.0, 5e-324, 1.7976931348623157e308,
                           rng.uniform(-1e6, 1e6), rng.random() * 100])
    if t == "string":
        return rand_string(rng)
    raise ValueError(f"no generator for {t}")


def rand_record(rng, schema):
    return {f["name"]: rand_value(rng, f["type"]) for f in schema["fields"]}


SAMPLES = {
    "stats_task": [
        {"job_id": "stats-2026-10", "task_id": "stats-2026-10/0007", "kind": "SHARD",
         "shard": 7, "shard_count": 16, "month": "2026-10", "test_mode": False,
         "run_id": None, "created_at": 1793491200000},
        {"job_id": "test-stats-2026-10", "task_id": "test-stats-2026-10/finalize",
         "kind": "FINALIZE", "shard": -1, "shard_count": 16, "month": "2026-10",
         "test_mode": True, "run_id": "rerun-1", "created_at": 1793491200123},
    ],
    "cleanup_task": [
        {"job_id": "cleanup-2026-11-23T0400Z", "task_id": "cleanup-2026-11-23T0400Z/0003",
         "range_start": 1787443200000, "range_end": 1787529600000, "cutoff": 1788753600000,
         "retention_days": 60, "batch_size": 10000, "batch_delay_ms": 100,
         "time_budget_s": 60, "test_mode": False, "triggered_by": "schedule",
         "parent_task_id": None, "continuation_seq": 0, "resume_after_id": None,
         "deleted_so_far": 0, "created_at": 1795407600000},
        {"job_id": "cleanup-2026-11-23T0400Z", "task_id": "cleanup-2026-11-23T0400Z/0003.c1",
         "range_start": 1787443200000, "range_end": 1787529600000, "cutoff": 1788753600000,
         "retention_days": 60, "batch_size": 10000, "batch_delay_ms": 100,
         "time_budget_s": 60, "test_mode": False, "triggered_by": "monthly-stats",
         "parent_task_id": "cleanup-2026-11-23T0400Z/0003", "continuation_seq": 1,
         "resume_after_id": "65f1c0ffee0123456789abcd", "deleted_so_far": 123456,
         "created_at": 1795407660000},
    ],
    "status_event": [
        {"job_id": "cleanup-2026-11-23T0400Z", "task_id": "cleanup-2026-11-23T0400Z/0003",
         "type": "TASK_PROGRESS", "job_kind": "CLEANUP", "timestamp": 1795407601000,
         "worker_id": "worker-a", "test_mode": False, "progress_done": 50000,
         "progress_total": 120000},
        {"job_id": "stats-2026-10", "type": "JOB_FINISHED", "job_kind": "STATS",
         "timestamp": 1793494572000, "test_mode": False, "tasks_total": 17, "tasks_done": 17,
         "users_processed": 5000, "users_updated": 4980, "notifications_created": 1,
         "notification_id": "65f1c0ffee0123456789abcd", "month": "2026-10",
         "cleanup_triggered": True, "execution_ms": 3372},
        {"job_id": "cleanup-2026-11-23T0400Z", "type": "JOB_FAILED", "job_kind": "CLEANUP",
         "timestamp": 1795408000000, "test_mode": True, "error_message": "boom \u00e9",
         "error_stack": "at x\n  at y", "completion_percentage": 41.67,
         "was_timeout_stopped": False, "processing_mode": "batch", "batch_size": 10000,
         "cutoff_date": 1788753600000, "triggered_by": "manual", "records_deleted": 1,
         "total_records_found": 3, "remaining_records": 2},
    ],
}


def full_record(schema, record):
    """The record as the reader sees it: absent fields at their defaults."""
    out = {}
    for f in schema["fields"]:
        out[f["name"]] = record[f["name"]] if f["name"] in record else f.get("default")
    return out


def check_datums(rounds):
    rng = random.Random(20261001)
    for typ in TYPES:
        versions = sorted(glob.glob(os.path.join(ARGS.schemas, f"{typ}.v*.avsc")),
                          key=lambda p: int(p.rsplit(".v", 1)[1].split(".")[0]))
        path = versions[-1]  # the reader: our encoder writes with it
        with open(path, encoding="utf-8") as f:
            schema = json.load(f)
        parsed = fastavro.parse_schema(schema)
        records = [full_record(schema, r) for r in SAMPLES[typ]]
        records += [rand_record(rng, schema) for _ in range(rounds)]

        # C encodes -> must equal fastavro's bytes.
        lines = "".join(json.dumps(r) + "\n" for r in records).encode()
        out = lines_of(tool(["encode", typ, "--hex"], lines).stdout)
        if len(out) != len(records):
            fail(f"{typ}: encode printed {len(out)} lines for {len(records)} records")
        bad = 0
        for rec, got in zip(records, out):
            want = fastavro_message(schema, parsed, rec).hex()
            if got != want:
                bad += 1
                if bad <= 3:
                    fail(f"{typ}: C encoding differs for {json.dumps(rec)[:300]}\n"
                         f"  fastavro: {want}\n  ours:     {got}")
        # fastavro encodes -> C decodes to the same values.
        hexes = "".join(fastavro_message(schema, parsed, r).hex() + "\n" for r in records)
        out = lines_of(tool(["decode", typ, "--hex"], hexes.encode()).stdout)
        if len(out) != len(records):
            fail(f"{typ}: decode printed {len(out)} lines for {len(records)} records")
        for rec, got in zip(records, out):
            if json.loads(got) != json.loads(json.dumps(rec)):
                bad += 1
                if bad <= 6:
                    fail(f"{typ}: C decoding differs\n  wrote: {json.dumps(rec)[:300]}\n"
                         f"  read:  {got[:300]}")
        print(f"{'ok ' if not bad else 'BAD'} {typ}: {len(records)} records both ways "
              f"({bad} differences)")


def check_resolution():
    v1_path = os.path.join(ARGS.schemas, "stats_task.v1.avsc")
    v2_path = os.path.join(ARGS.test_schemas, "stats_task.v9.avsc")
    with open(v1_path, encoding="utf-8") as f:
        v1 = json.load(f)
    with open(v2_path, encoding="utf-8") as f:
        v2 = json.load(f)
    p1, p2 = fastavro.parse_schema(v1), fastavro.parse_schema(v2)
    rec2 = dict(SAMPLES["stats_task"][0], priority=9, requested_by="ops")

    # fastavro writes v2; a C program that only reads v1 (but knows v2 as a writer) drops the
    # new fields.
    msg = fastavro_message(v2, p2, rec2)
    r = tool(["decode", "stats_task", "--schema", v2_path, "--reader", "stats_task:1"], msg)
    want = {k: v for k, v in rec2.items() if k not in ("priority", "requested_by")}
    if r.returncode != 0 or json.loads(r.stdout) != want:
        fail(f"v2 (fastavro) -> v1 (C): got {r.stdout!r} {r.stderr!r}, want {want}")
    else:
        print("ok  StatsTask v2 written by fastavro, read by a C v1 reader")

    # C writes v1; fastavro reads it with v2 as the reader: defaults fill the new fields.
    r = tool(["encode", "stats_task", "--reader", "stats_task:1"],
             json.dumps(SAMPLES["stats_task"][0]).encode())
    if r.returncode != 0 or r.stdout[:10] != header(v1):
        fail(f"v1 encode by C: rc {r.returncode}, header {r.stdout[:10].hex()}, {r.stderr!r}")
        return
    got = fastavro.schemaless_reader(io.BytesIO(r.stdout[10:]), p1, p2)
    got["created_at"] = int(got["created_at"].timestamp() * 1000)
    want = dict(SAMPLES["stats_task"][0], priority=5, requested_by=None)
    if got != want:
        fail(f"v1 (C) -> v2 (fastavro): got {got}, want {want}")
    else:
        print("ok  StatsTask v1 written by C, read by fastavro with the v2 reader")

    # And C on both sides, v1 -> v2 reader, for completeness.
    r2 = tool(["decode", "stats_task", "--schema", v2_path], r.stdout)
    if r2.returncode != 0 or json.loads(r2.stdout) != want:
        fail(f"v1 (C) -> v2 (C): got {r2.stdout!r} {r2.stderr!r}")
    else:
        print("ok  StatsTask v1 written by C, read by a C v2 reader")


def main():
    published = sorted(glob.glob(os.path.join(ARGS.schemas, "*.avsc")))
    test_only = sorted(glob.glob(os.path.join(ARGS.test_schemas, "*.avsc")))
    if not published:
        fail(f"no schemas in {ARGS.schemas}")
    with tempfile.TemporaryDirectory() as tmp:
        tricky = []
        for i, s in enumerate(TRICKY_SCHEMAS):
            p = os.path.join(tmp, f"tricky{i}.avsc")
            with open(p, "w", encoding="utf-8") as f:
                json.dump(s, f, indent=3, ensure_ascii=(i % 2 == 0))
            tricky.append(p)
        check_canonical(published + test_only + tricky)
    check_datums(ARGS.rounds)
    check_resolution()
    if failures:
        print(f"avro_crosscheck: {len(failures)} failure(s)")
        return 1
    print("avro_crosscheck: C and fastavro agree")
    return 0


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tool", required=True, help="path of the jt_avro_tool binary")
    ap.add_argument("--schemas", required=True, help="the published schemas/ directory")
    ap.add_argument("--test-schemas", required=True, help="tests/unit/schemas")
    ap.add_argument("--rounds", type=int, default=500, help="random records per type")
    ARGS = ap.parse_args()
    sys.exit(main())
