#!/usr/bin/env python3
"""The statistics job on the real stack against entries written out by hand.

Three users with hand-made playbacks in October 2026 (the same ones as the unit test
tests/unit/test_stats_compute.c, where the arithmetic of each figure is explained): the built
joytify-producer starts `stats --month 2026-10`, one joytify-worker processes it, and every
user's stats document must equal, field by field and type by type, the entries written below:
ties ordered by id, hours 0/12/23 at the month's both ends, rounding half away from zero
(-3.125 -> -3.13, 0.125 -> 0.13, 1.275 in binary -> 1.27), exact sums of fractional durations,
"Unknown Artist" for an artist without a musicians document, the previous month's stored entry
kept in front and used for the growth. Playbacks just outside the month count for nothing.
Only user A is opted in to monthly statistics: only A gets the notification. The producer has
created the indexes the fleet's queries use. Then a well-formed stats task with an impossible
month (2026-13) goes to the DLQ with its reason and the original topic, the worker stays up,
and the entries are unchanged.

Runs under the project venv (pymongo): see it_fleet.require_venv. Exit 0 when everything holds.
"""

import io
import os
import subprocess
import sys
import time

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import it_fleet  # noqa: E402

it_fleet.require_venv(__file__)

from bson import ObjectId  # noqa: E402
from bson.datetime_ms import DatetimeMS  # noqa: E402

from it_fleet import fail, log, wait_until  # noqa: E402
from it_stats import canonical, db_handle, first_difference  # noqa: E402

OCT = 1790812800000  # 2026-10-01T00:00:00Z
NOV = 1793491200000  # 2026-11-01T00:00:00Z
SEP = 1788220800000  # 2026-09-01T00:00:00Z
WAIT_JOB_S = 120


def at(day, h=0, m=0, s=0, ms=0):
    """2026-10-DD HH:MM:SS.mmm UTC in milliseconds."""
    return OCT + ((((day - 1) * 24 + h) * 60 + m) * 60 + s) * 1000 + ms


S = {n: ObjectId(f"6500000000000000000000{x}") for n, x in
     [(1, "01"), (2, "02"), (3, "04"), (4, "03"), (5, "05"), (6, "06"), (7, "07"), (8, "08"),
      (9, "09"), (10, "0a")]}
R = {n: ObjectId(f"6400000000000000000000{x}") for n, x in
     [(1, "03"), (2, "02"), (3, "01"), (4, "04"), (5, "05"), (6, "06"), (7, "07")]}
MUSICIANS = [(1, "Air"), (2, "Daft Punk"), (3, "Beyoncé"), (5, "Röyksopp"), (6, "Sigur Rós"),
             (7, "")]  # R4 has no document

USERS = {
    "A": {"_id": ObjectId("660000000000000000000001"), "opted_in": True, "prev": 800.0,
          "plays": [(1, 1, 200, OCT), (2, 1, 100, at(1, 0, 59, 59, 999)),
                    (3, 2, 300, at(15, 23)), (4, 3, 150.5, NOV - 1), (4, 3, 149.5, at(20, 12, 30)),
                    (1, 1, 999, OCT - 1), (1, 1, 999, NOV)]},  # outside the month
    "B": {"_id": ObjectId("660000000000000000000002"), "opted_in": False, "prev": 3200.0,
          "plays": [(5, 4, 1000, at(2, 5)), (5, 4, 1000, at(3, 5, 59, 59)), (6, 5, 600, at(3, 6)),
                    (7, 5, 500, at(4, 23, 30))]},
    "C": {"_id": ObjectId("660000000000000000000003"), "opted_in": None, "prev": None,
          "plays": [(8, 6, 100.1, at(10, 0, 10)), (8, 6, 200.2, at(11, 23, 10)),
                    (8, 6, 300.3, at(12, 0, 20)), (9, 7, 4.5, at(13, 7)), (10, 7, 45.9, at(14, 8))]},
}


def song(n, total):
    return {"song": {"$oid": str(S[n])}, "totalDuration": {"$numberDouble": total}}


def artist(n, total):
    return {"artist": {"$oid": str(R[n])}, "totalDuration": {"$numberDouble": total}}


def hour(h, total, util):
    return {"hour": {"$numberInt": str(h)}, "totalDuration": {"$numberDouble": total},
            "utilization": {"$numberDouble": util}}


def summary(total, growth, top, top_total):
    return {"month": {"$numberInt": "10"}, "year": {"$numberInt": "2026"},
            "totalDuration": {"$numberDouble": total},
            "growthPercentage": {"$numberDouble": growth}, "topArtist": top,
            "topArtistTotalPlaybackTime": {"$numberDouble": top_total}}


EXPECTED = {
    "A": {"songs": [song(4, "300.0"), song(3, "300.0"), song(1, "200.0"), song(2, "100.0")],
          "artists": [artist(3, "300.0"), artist(2, "300.0"), artist(1, "300.0")],
          "peakHour": [hour(0, "300.0", "8.33"), hour(12, "149.5", "4.15"),
                       hour(23, "450.5", "12.51")],
          "summary": summary("900.0", "12.5", "Beyoncé", "300.0"),
          "createdAt": {"$date": {"$numberLong": str(OCT)}},
          "updatedAt": {"$date": {"$numberLong": str(NOV - 1)}}},
    "B": {"songs": [song(5, "2000.0"), song(6, "600.0"), song(7, "500.0")],
          "artists": [artist(4, "2000.0"), artist(5, "1100.0")],
          "peakHour": [hour(5, "2000.0", "55.56"), hour(6, "600.0", "16.67"),
                       hour(23, "500.0", "13.89")],
          "summary": summary("3100.0", "-3.13", "Unknown Artist", "2000.0"),
          "createdAt": {"$date": {"$numberLong": str(at(2, 5))}},
          "updatedAt": {"$date": {"$numberLong": str(at(4, 23, 30))}}},
    "C": {"songs": [song(8, "600.6"), song(10, "45.9"), song(9, "4.5")],
          "artists": [artist(6, "600.6"), artist(7, "50.4")],
          "peakHour": [hour(0, "400.4", "11.12"), hour(7, "4.5", "0.13"), hour(8, "45.9", "1.27"),
                       hour(23, "200.2", "5.56")],
          "summary": summary("651.0", "0.0", "Sigur Rós", "600.6"),
          "createdAt": {"$date": {"$numberLong": str(at(10, 0, 10))}},
          "updatedAt": {"$date": {"$numberLong": str(at(14, 8))}}},
}


def prev_entry(total):
    return {"songs": [], "artists": [], "peakHour": [],
            "summary": {"month": 9, "year": 2026, "totalDuration": total, "growthPercentage": 0.0,
                        "topArtist": "Air", "topArtistTotalPlaybackTime": 1.0},
            "createdAt": DatetimeMS(SEP + 86400000), "updatedAt": DatetimeMS(SEP + 2 * 86400000)}


def load(db):
    db.musicians.insert_many([{"_id": R[n], "name": name} for n, name in MUSICIANS])
    k = 0
    for name, u in USERS.items():
        doc = {"_id": u["_id"], "username": f"golden-{name}", "notifications": []}
        if u["opted_in"] is not None:
            doc["userPreferences"] = {"notifications": {"monthlyStatistic": u["opted_in"]}}
        db.users.insert_one(doc)
        if u["prev"] is not None:
            db.stats.insert_one({"user": u["_id"], "stats": [prev_entry(u["prev"])]})
        for s, r, duration, t in u["plays"]:
            k += 1
            db.playbacks.insert_one({"_id": ObjectId(f"67{k:022x}"), "user": u["_id"],
                                     "song": S[s], "artist": R[r], "duration": duration,
                                     "state": "completed", "createdAt": DatetimeMS(t),
                                     "updatedAt": DatetimeMS(t)})


def check(db):
    problems = []
    for name, u in USERS.items():
        doc = db.stats.find_one({"user": u["_id"]})
        if not doc:
            problems.append(f"user {name}: expected a stats document, actual none")
            continue
        entries = doc.get("stats", [])
        want_len = 2 if u["prev"] is not None else 1
        if len(entries) != want_len:
            problems.append(f"user {name}: expected {want_len} entries, actual {len(entries)}")
            continue
        if u["prev"] is not None and canonical(entries[0]) != canonical(prev_entry(u["prev"])):
            problems.append(f"user {name}: the September entry changed: {canonical(entries[0])}")
        diff = first_difference(EXPECTED[name], canonical(entries[-1]), f"user {name}")
        if diff:
            problems.append(diff)
    notified = {d["_id"] for d in db.users.find({"notifications.0": {"$exists": True}})}
    if notified != {USERS["A"]["_id"]}:
        problems.append(f"notified users: expected only A, actual {sorted(map(str, notified))}")
    return problems


def impossible_month_task(fleet, job_id):
    """A stats task, single-object encoded, valid in every field but its month."""
    import fastavro
    enc = it_fleet.AvroDecoder(os.path.join(fleet.source_dir, "schemas", "stats_task.v1.avsc"))
    buf = io.BytesIO()
    fastavro.schemaless_writer(buf, enc.schema, {
        "job_id": job_id, "task_id": f"{job_id}/0000", "kind": "SHARD", "shard": 0,
        "shard_count": 1, "month": "2026-13", "test_mode": False, "run_id": None,
        "created_at": int(time.time() * 1000)})
    return b"\xc3\x01" + enc.fingerprint + buf.getvalue()


def dlq_headers(brokers, topic):
    """The headers of every message of the DLQ topic, as dicts (kcat's %h: k=v,k=v)."""
    r = subprocess.run(["kcat", "-C", "-q", "-e", "-b", brokers, "-t", topic, "-o", "beginning",
                        "-f", "%h\n"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=30)
    out = []
    for line in r.stdout.decode("utf-8", "replace").splitlines():
        out.append(dict(kv.split("=", 1) for kv in line.split(",") if "=" in kv))
    return out


def bad_month_goes_to_the_dlq(fleet, sc, db):
    before = check(db)
    value = impossible_month_task(fleet, "stats-2026-13")
    r = subprocess.run(["kcat", "-P", "-b", fleet.brokers, "-t", sc.topic["stats"], "-k",
                        "stats-2026-13/0000"], input=value, stderr=subprocess.PIPE, timeout=30)
    if r.returncode != 0:
        fail(f"kcat -P: exit {r.returncode}: {r.stderr.decode()}")

    def dead_lettered():
        sc.expect_workers_alive()
        hs = [h for h in dlq_headers(fleet.brokers, sc.topic["dlq"])
              if "month" in h.get("jt-error", "")]
        return hs[0] if hs else None

    h = wait_until("the impossible-month task in the DLQ", dead_lettered, 60,
                   on_timeout=fleet.logs)
    if h.get("jt-original-topic") != sc.topic["stats"] or "2026-13" not in h.get("jt-error", ""):
        fail(f"DLQ headers: expected jt-original-topic {sc.topic['stats']} and an error naming "
             f"2026-13, actual {h}")
    if check(db) != before or db.jobs.find_one({"_id": "stats-2026-13"}):
        fail("the impossible-month task changed the database")
    log(f"ok  a stats task for month 2026-13: DLQ ({h.get('jt-error')}), worker up, nothing "
        "changed")


def main():
    def body(fleet, client, dbs):
        sc = it_fleet.Scenario(fleet, "wg", 1)
        db = db_handle(client, sc.db)
        client.drop_database(sc.db)
        dbs.append(sc.db)
        load(db)
        # 2026-10 is fixed and falls behind the default 60-day retention as time passes.
        rc, out = sc.producer("stats", "--month", "2026-10", "--shards", "2",
                              "--retention-days", "36500")
        if rc != 0:
            fail(f"joytify-producer stats --month 2026-10: expected exit 0, actual {rc}: {out}")
        sc.start_worker("--retention-days", "36500")  # the chained cleanup deletes nothing

        def finished():
            sc.expect_workers_alive()
            job = db.jobs.find_one({"_id": "stats-2026-10"})
            if job and job.get("state") == "failed":
                fail(f"stats-2026-10 failed\n{fleet.logs()}")
            return job if job and job.get("state") == "finished" else None

        wait_until("ledger stats-2026-10 finished", finished, WAIT_JOB_S, on_timeout=fleet.logs)
        problems = check(db)
        for coll, names in (("playbacks", {"user_1_createdAt_1", "createdAt_1"}),
                            ("stats", {"user_1"})):
            have = set(db[coll].index_information())
            if not names <= have:
                problems.append(f"indexes of {coll}: expected {sorted(names)} made by the "
                                f"producer, actual {sorted(have)}")
        if problems:
            fail("the hand-written entries differ:\n  " + "\n  ".join(problems))
        bad_month_goes_to_the_dlq(fleet, sc, db)
        log("ok  3 users' October 2026 entries equal the hand-written ones (ties by id, hour and "
            "month boundaries, rounding, exact sums, Unknown Artist, growth); only A notified")

    return it_fleet.run_main("worker_stats_golden_it", body)


if __name__ == "__main__":
    sys.exit(main())
