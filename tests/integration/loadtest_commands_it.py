#!/usr/bin/env python3
"""`joytify-loadtest floor`, `baseline` and `capacity` on the real stack, on generated data.

floor stats reads exactly the month's playbacks (the count the database gives); baseline stats
finds the users with an entry for the month (after two entries are planted), creates one
notification and adds it once to the opted-in ones among them; baseline cleanup (batch mode:
cursor over _ids, bulks of deleteOne) and floor cleanup (one deleteMany) each delete exactly the
playbacks older than the cutoff, in their own database; capacity reports the users that fit in
the storage limit; wrong arguments exit 2.

Runs under the project venv (pymongo): see it_fleet.require_venv.
"""

import datetime
import os
import re
import sys

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import it_fleet  # noqa: E402

it_fleet.require_venv(__file__)

from it_fleet import fail, log  # noqa: E402

NOW = "2026-11-01T00:00Z"
AT = "2026-11-30T00:00Z"  # the cleanups' clock: cutoff 2026-10-01
OCT = (datetime.datetime(2026, 10, 1), datetime.datetime(2026, 11, 1))


def main():
    def body(fleet, client, dbs):
        lt = os.path.join(fleet.build_dir, "loadtest", "joytify-loadtest")
        dbs.extend(f"jt_it_lc_{os.getpid()}_{k}" for k in "ab")
        for name in dbs:
            client.drop_database(name)
            rc, out = fleet.run("generate", [lt, "generate", "--db", name, "--users", "20",
                                             "--playbacks-per-user", "100", "--seed", "3",
                                             "--now", NOW])
            if rc != 0:
                fail(f"generate: exit {rc}")
        a, b = (client[n] for n in dbs)
        month_n = a.playbacks.count_documents({"createdAt": {"$gte": OCT[0], "$lt": OCT[1]}})
        rc, out = fleet.run("floor stats", [lt, "floor", "stats", "--db", dbs[0], "--month",
                                            "2026-10"])
        if rc != 0 or f": {month_n} playbacks read" not in out:
            fail(f"floor stats: expected exit 0 and {month_n} playbacks read, actual {rc}: {out}")

        users = [u["_id"] for u in a.users.find({}, {"_id": 1}).sort("_id", 1).limit(2)]
        opted = a.users.count_documents(
            {"_id": {"$in": users}, "userPreferences.notifications.monthlyStatistic": True})
        a.stats.update_many({"user": {"$in": users}}, {"$push": {"stats": {
            "summary": {"month": 10, "year": 2026}, "createdAt": OCT[0] + datetime.timedelta(1)}}})
        rc, out = fleet.run("baseline stats", [lt, "baseline", "stats", "--db", dbs[0],
                                               "--month", "2026-10"])
        want = f"usersProcessed 2, usersUpdated {opted}, notificationsCreated 1"
        notified = a.users.count_documents({"notifications.0": {"$exists": True}})
        if rc != 0 or want not in out or notified != opted or \
                a.notifications.count_documents({"type": "monthlyStatistic"}) != 1:
            fail(f"baseline stats: expected '{want}', one notification, {opted} users notified; "
                 f"actual exit {rc}, {notified} notified: {out}")

        cutoff = datetime.datetime(2026, 10, 1)
        for db, name, cmd, extra in ((a, dbs[0], "baseline", ["--batch-size", "100",
                                                              "--batch-delay-ms", "0"]),
                                     (b, dbs[1], "floor", [])):
            old = db.playbacks.count_documents({"createdAt": {"$lt": cutoff}})
            total = db.playbacks.count_documents({})
            rc, out = fleet.run(f"{cmd} cleanup", [lt, cmd, "cleanup", "--db", name, "--at", AT,
                                                   *extra])
            left_old = db.playbacks.count_documents({"createdAt": {"$lt": cutoff}})
            if rc != 0 or not re.search(rf"\b{old}\b", out) or left_old != 0 or \
                    db.playbacks.count_documents({}) != total - old:
                fail(f"{cmd} cleanup: expected exit 0, {old} deleted, none older left, "
                     f"{total - old} kept; actual exit {rc}, {left_old} older left: {out}")
            if cmd == "baseline" and "processingMode batch" not in out:
                fail(f"baseline cleanup of {old} with batches of 100: expected batch mode: {out}")
        log("ok  floor stats reads the month; baseline stats notifies the users with an entry; "
            "baseline (batch mode) and floor cleanup delete exactly what is older than the cutoff")

        rc, out = fleet.run("capacity", [lt, "capacity", "--db", dbs[1]])
        if rc != 0 or not re.search(r"^active +\d+ +\d+ +\d+$", out, re.M):
            fail(f"capacity: expected exit 0 and an 'active' row, actual {rc}: {out}")
        for bad in (["floor"], ["floor", "both"], ["baseline", "stats", "--month", "2026-13"],
                    ["capacity", "--storage-limit-mb", "0"]):
            rc, out = fleet.run("bad", [lt, *bad, "--db", dbs[1]])
            if rc != 2:
                fail(f"joytify-loadtest {' '.join(bad)}: expected exit 2, actual {rc}: {out}")
        log("ok  capacity projects users at the limit; bad arguments exit 2")

    return it_fleet.run_main("loadtest_commands_it", body)


if __name__ == "__main__":
    sys.exit(main())
