#!/usr/bin/env python3
"""`joytify-producer stats` cuts the users into contiguous _id ranges (issue 14, items 1 and 5),
on the real stack: the built producer, the tasks it leaves on the topic (decoded with the v3
schema), the users collection and the job ledger.

Scenarios, each with its own database and topics:
  1. K users (and two ids that are not ObjectIds) with --users-per-task k: ceil(K/k) RANGE tasks
     whose ranges chain from the lowest id to the highest, every user of the collection in exactly
     one range (counted by the server per range), k per range but the last; the ledger keeps the
     plan; the tasks spread evenly over the topic's partitions (task i on partition i % P).
  2. 16 tasks on a 12-partition topic: every partition gets one or two (a key hash put them on 7).
  3. A re-send of a job whose producer died before it finished (the ledger's claim lapsed, no
     tasksSentAt) after users were added sends exactly the same ranges; sending it again then
     sends nothing; another --users-per-task is refused (exit 2, --run-id).
  4. --shards caps the number of ranges (the users per range grow), in test mode (test-users).
  5. Zero users: one range from the lowest to the highest id.
  6. Cleanup tasks are placed the same way (task i of the ledger's taskIds on partition i % P).
"""

import datetime
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import it_fleet  # noqa: E402

it_fleet.require_venv(__file__)

from bson import ObjectId  # noqa: E402

from it_fleet import AvroDecoder, Scenario, fail, log, read_topic  # noqa: E402

MONTH = "2026-10"
RETENTION = ("--retention-days", "36500")  # a fixed month: keep the retention guard out of it


def stats_decoder(fleet):
    return AvroDecoder(os.path.join(fleet.source_dir, "schemas", "stats_task.v3.avsc"))


def insert_users(client, db, n, coll="users"):
    ids = [ObjectId() for _ in range(n)]
    if ids:
        client[db][coll].insert_many([{"_id": i, "name": f"user {i}"} for i in ids])
    return ids


def tasks_of(fleet, sc, job_id, since=None):
    """The job's tasks on the stats topic (after the offsets in since), decoded, by task id."""
    dec = stats_decoder(fleet)
    out = []
    for m in read_topic(fleet.brokers, sc.topic["stats"]):
        if since and m.offset < since.get(m.partition, 0):
            continue
        t = dec.decode(m.value, f"{sc.topic['stats']}/{m.partition}/{m.offset}")
        if t["job_id"] != job_id:
            continue
        if m.key.decode() != t["task_id"]:
            fail(f"task {t['task_id']}: expected key = task id, actual key {m.key!r}")
        out.append(dict(t, _partition=m.partition))
    return sorted(out, key=lambda t: t["task_id"])


def end_offsets(fleet, sc):
    ends = {}
    for m in read_topic(fleet.brokers, sc.topic["stats"]):
        ends[m.partition] = m.offset + 1
    return ends


def expect_ranges(client, db, coll, tasks, job_id, users, per):
    """The tasks are job_id/0000.. with chained ranges covering every ObjectId user once; each
    range holds per users but the last."""
    n = len(tasks)
    want_n = max(1, -(-len(users) // per))
    if n != want_n:
        fail(f"{job_id}: expected {want_n} range tasks ({len(users)} users, {per} per task), "
             f"actual {n}: {[t['task_id'] for t in tasks]}")
    for i, t in enumerate(tasks):
        want = {"task_id": f"{job_id}/{i:04d}", "kind": "RANGE", "shard": i, "shard_count": n,
                "month": MONTH, "parent_task_id": None, "continuation_seq": 0}
        got = {k: t[k] for k in want}
        if got != want:
            fail(f"task {i}: expected {want}, actual {got}")
    if tasks[0]["user_from"] is not None or tasks[-1]["user_to"] is not None:
        fail(f"{job_id}: expected the first range from the lowest id and the last to the highest, "
             f"actual first from {tasks[0]['user_from']}, last to {tasks[-1]['user_to']}")
    for a, b in zip(tasks, tasks[1:]):
        if a["user_to"] is None or a["user_to"] != b["user_from"]:
            fail(f"{job_id}: expected range {a['task_id']} to end where {b['task_id']} starts, "
                 f"actual to {a['user_to']}, next from {b['user_from']}")
    counts = []
    seen = {}
    for t in tasks:
        q = {}
        if t["user_from"]:
            q["$gte"] = ObjectId(t["user_from"])
        if t["user_to"]:
            q["$lt"] = ObjectId(t["user_to"])
        if not q:
            q["$type"] = "objectId"
        found = [d["_id"] for d in client[db][coll].find({"_id": q}, {"_id": 1})]
        counts.append(len(found))
        for u in found:
            if u in seen:
                fail(f"user {u}: expected in one range, actual in {seen[u]} and {t['task_id']}")
            seen[u] = t["task_id"]
    missing = [u for u in users if u not in seen]
    if missing or len(seen) != len(users):
        fail(f"{job_id}: expected the ranges' union to be the {len(users)} users, actual "
             f"{len(seen)} users, missing {missing[:5]}")
    want_counts = [per] * (n - 1) + [len(users) - per * (n - 1)]
    if counts != want_counts:
        fail(f"{job_id}: users per range expected {want_counts}, actual {counts}")
    log(f"{job_id}: {n} ranges, users per range {counts}")


def expect_even_placement(tasks, partitions):
    per = [0] * partitions
    for i, t in enumerate(tasks):
        if t["_partition"] != i % partitions:
            fail(f"task {t['task_id']}: expected on partition {i % partitions} (i % "
                 f"{partitions}), actual {t['_partition']}")
        per[t["_partition"]] += 1
    if len(tasks) >= partitions and max(per) - min(per) > 1:
        fail(f"tasks per partition: expected to differ by at most 1, actual {per}")
    log(f"tasks per partition: {per}")


def expect_rc(rc, want, out, what):
    if rc != want:
        fail(f"{what}: expected exit {want}, actual {rc}; output:\n{out}")


def expect_in(text, out, what):
    if text not in out:
        fail(f"{what}: expected the output to contain {text!r}, actual:\n{out}")


def ledger(client, sc, job_id):
    doc = client[sc.db]["jobs"].find_one({"_id": job_id})
    if not doc:
        fail(f"{sc.db}.jobs: expected the entry {job_id}, actual none")
    return doc


def stages(plan):
    """The stage names of an explain plan, outermost first."""
    out = []
    while isinstance(plan, dict) and plan.get("stage"):
        out.append(plan["stage"])
        plan = plan.get("inputStage")
    return out


def expect_index_pass(client, db):
    """The producer's pass (jt_stats_plan_make) as the server plans it: an IXSCAN of _id_ and no
    in-memory sort; covered (no FETCH) where the server says so (MongoDB does, the local server
    reads each document)."""
    r = client[db].command("explain", {"find": "users", "filter": {}, "projection": {"_id": 1},
                                       "sort": {"_id": 1}, "hint": {"_id": 1},
                                       "batchSize": 50000}, verbosity="queryPlanner")
    got = stages(r["queryPlanner"]["winningPlan"])
    if "IXSCAN" not in got or "SORT" in got:
        fail(f"the users pass: expected an IXSCAN of _id_ and no SORT stage, actual {got}")
    log(f"users pass plan: {got} ({'covered' if 'FETCH' not in got else 'fetches documents'})")


def scenario_cover_and_spread(fleet, client, dbs):
    sc = Scenario(fleet, "ranges", 1, partitions=4)
    dbs.append(sc.db)
    users = insert_users(client, sc.db, 23)
    client[sc.db]["users"].insert_many([{"_id": "legacy-user"}, {"_id": 42}])
    rc, out = sc.producer("stats", "--month", MONTH, *RETENTION, "--users-per-task", "5")
    expect_rc(rc, 0, out, "stats --users-per-task 5")
    expect_in("2 user id(s) are not ObjectIds", out, "stats with two ids not ObjectIds")
    expect_in("5 task(s) sent", out, "stats --users-per-task 5")
    tasks = tasks_of(fleet, sc, f"stats-{MONTH}")
    expect_ranges(client, sc.db, "users", tasks, f"stats-{MONTH}", users, 5)
    for t in tasks:
        if t["time_budget_s"] != 30:
            fail(f"task {t['task_id']}: time_budget_s expected 30 (--task-budget default), "
                 f"actual {t['time_budget_s']}")
    expect_even_placement(tasks, 4)
    expect_index_pass(client, sc.db)
    params = ledger(client, sc, f"stats-{MONTH}")["params"]
    want = {"month": MONTH, "usersPerTask": 5, "tasks": 5,
            "bounds": [t["user_from"] for t in tasks[1:]]}
    if params != want:
        fail(f"ledger params: expected {want}, actual {params}")


def scenario_sixteen_on_twelve(fleet, client, dbs):
    sc = Scenario(fleet, "ranges", 2, partitions=12)
    dbs.append(sc.db)
    users = insert_users(client, sc.db, 32)
    rc, out = sc.producer("stats", "--month", MONTH, *RETENTION, "--users-per-task", "2",
                          "--task-budget", "12")
    expect_rc(rc, 0, out, "stats, 16 tasks on 12 partitions")
    tasks = tasks_of(fleet, sc, f"stats-{MONTH}")
    expect_ranges(client, sc.db, "users", tasks, f"stats-{MONTH}", users, 2)
    expect_even_placement(tasks, 12)
    if {t["time_budget_s"] for t in tasks} != {12}:
        fail(f"time_budget_s: expected 12 (--task-budget 12), actual "
             f"{sorted({t['time_budget_s'] for t in tasks})}")


def scenario_resend_same_ranges(fleet, client, dbs):
    sc = Scenario(fleet, "ranges", 3, partitions=3)
    dbs.append(sc.db)
    job = f"stats-{MONTH}"
    users = insert_users(client, sc.db, 12)
    rc, out = sc.producer("stats", "--month", MONTH, *RETENTION, "--users-per-task", "5")
    expect_rc(rc, 0, out, "first send")
    first = tasks_of(fleet, sc, job)
    expect_ranges(client, sc.db, "users", first, job, users, 5)
    # What a producer killed between the ledger and tasksSentAt leaves: a lapsed claim.
    client[sc.db]["jobs"].update_one(
        {"_id": job}, {"$unset": {"tasksSentAt": ""},
                       "$set": {"claimedBy": "producer@crashed/1",
                                "claimUntil": datetime.datetime(2000, 1, 1)}})
    added = insert_users(client, sc.db, 20)
    since = end_offsets(fleet, sc)
    rc, out = sc.producer("stats", "--month", MONTH, *RETENTION, "--users-per-task", "5")
    expect_rc(rc, 0, out, "re-send after a crash, users added")
    expect_in("read from the job's ledger entry", out, "re-send")
    again = tasks_of(fleet, sc, job, since)
    keys = ("task_id", "shard", "shard_count", "user_from", "user_to")
    if [{k: t[k] for k in keys} for t in again] != [{k: t[k] for k in keys} for t in first]:
        fail(f"re-send: expected the same ranges as the first send "
             f"{[(t['user_from'], t['user_to']) for t in first]}, actual "
             f"{[(t['user_from'], t['user_to']) for t in again]}")
    log(f"re-send after adding {len(added)} users: the same {len(again)} ranges")
    rc, out = sc.producer("stats", "--month", MONTH, *RETENTION, "--users-per-task", "5")
    expect_rc(rc, 0, out, "third send")
    expect_in("already exists", out, "third send")
    rc, out = sc.producer("stats", "--month", MONTH, *RETENTION, "--users-per-task", "7")
    expect_rc(rc, 2, out, "other --users-per-task")
    expect_in("--run-id", out, "other --users-per-task")
    # A separate run plans afresh over every user now there.
    rc, out = sc.producer("stats", "--month", MONTH, *RETENTION, "--users-per-task", "5",
                          "--run-id", "r2")
    expect_rc(rc, 0, out, "--run-id r2")
    expect_ranges(client, sc.db, "users", tasks_of(fleet, sc, f"{job}-run-r2"), f"{job}-run-r2",
                  users + added, 5)


def scenario_shards_cap(fleet, client, dbs):
    sc = Scenario(fleet, "ranges", 4, partitions=3)
    dbs.append(sc.db)
    job = f"test-stats-{MONTH}"
    users = insert_users(client, sc.db, 40, coll="test-users")
    insert_users(client, sc.db, 9)  # the live users: not read in test mode
    rc, out = sc.producer("stats", "--month", MONTH, *RETENTION, "--users-per-task", "2",
                          "--shards", "4", "--test-mode")
    expect_rc(rc, 0, out, "stats --shards 4 --test-mode")
    tasks = tasks_of(fleet, sc, job)
    expect_ranges(client, sc.db, "test-users", tasks, job, users, 10)
    expect_even_placement(tasks, 3)


def scenario_zero_users(fleet, client, dbs):
    sc = Scenario(fleet, "ranges", 5, partitions=3)
    dbs.append(sc.db)
    job = f"stats-{MONTH}"
    rc, out = sc.producer("stats", "--month", MONTH, *RETENTION)
    expect_rc(rc, 0, out, "stats with no users")
    tasks = tasks_of(fleet, sc, job)
    got = [(t["task_id"], t["user_from"], t["user_to"], t["shard_count"]) for t in tasks]
    if got != [(f"{job}/0000", None, None, 1)]:
        fail(f"no users: expected one task over every id [{job}/0000, null, null, 1], actual {got}")
    params = ledger(client, sc, job)["params"]
    if params != {"month": MONTH, "usersPerTask": 2000, "tasks": 1, "bounds": []}:
        fail(f"no users: ledger params expected one task and no bounds, actual {params}")


def scenario_cleanup_placement(fleet, client, dbs):
    sc = Scenario(fleet, "ranges", 6, partitions=5)
    dbs.append(sc.db)
    now = datetime.datetime.now(datetime.timezone.utc)
    client[sc.db]["playbacks"].insert_many(
        [{"user": ObjectId(), "createdAt": now - datetime.timedelta(days=d, hours=1)}
         for d in range(8, 20)])
    rc, out = sc.producer("cleanup", "--retention-days", "7", "--range-hours", "24")
    expect_rc(rc, 0, out, "cleanup of 12 old days")
    entry = client[sc.db]["jobs"].find_one({"kind": "cleanup"})
    ids = entry["taskIds"] if entry else []
    where = {m.key.decode(): m.partition for m in read_topic(fleet.brokers, sc.topic["cleanup"])}
    if len(ids) < 5 or sorted(where) != sorted(ids):
        fail(f"cleanup: expected at least 5 tasks, each on the topic once, actual ledger {ids}, "
             f"topic {sorted(where)}")
    expect_even_placement([{"task_id": t, "_partition": where[t]} for t in ids], 5)


def body(fleet, client, dbs):
    for step in (scenario_cover_and_spread, scenario_sixteen_on_twelve,
                 scenario_resend_same_ranges, scenario_shards_cap, scenario_zero_users,
                 scenario_cleanup_placement):
        log(f"--- {step.__name__}")
        step(fleet, client, dbs)


if __name__ == "__main__":
    sys.exit(it_fleet.run_main("producer_ranges_it", body))
