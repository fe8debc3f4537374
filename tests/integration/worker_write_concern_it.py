#!/usr/bin/env python3
"""The programs' own writes carry the write concern, seen on the wire.

A proxy (wire_proxy.py) between the programs and the local server decodes every OP_MSG they
send. The built joytify-producer emits a cleanup job through it (ledger entry, send claim) and a
joytify-worker runs the job through it (deleteMany of the playbacks, the ledger's result and
state, the found counts): every write command must carry writeConcern {w: "majority",
wtimeout: 10000}, the defaults of --write-concern and --write-timeout. Then the same with
--write-concern 1 --write-timeout 2500 on both programs. The playbacks due are gone at the end
each time (the writes did their work).

Runs under the project venv (pymongo): see it_fleet.require_venv. Exit 0 when everything holds.
"""

import datetime
import os
import re
import sys
import time

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import it_fleet  # noqa: E402

it_fleet.require_venv(__file__)

from bson import ObjectId  # noqa: E402

from it_fleet import fail, log, wait_until  # noqa: E402
from wire_proxy import WireProxy  # noqa: E402

PLAYBACKS = 60


def run_case(fleet, client, dbs, n, extra, want):
    sc = it_fleet.Scenario(fleet, "wirewc", n)
    dbs.append(sc.db)
    db = client[sc.db]
    old = datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(days=100)
    db.playbacks.insert_many([{"user": ObjectId(), "song": ObjectId(), "state": "completed",
                               "duration": 30 + i, "createdAt": old + datetime.timedelta(minutes=i)}
                              for i in range(PLAYBACKS)])
    m = re.match(r"mongodb://([^:/]+):(\d+)", fleet.mongo_uri)
    proxy = WireProxy(m.group(1), int(m.group(2))).start()
    uri = f"mongodb://127.0.0.1:{proxy.port}/?serverSelectionTimeoutMS=5000"
    try:
        rc, out = fleet.run("joytify-producer cleanup",
                            [fleet.producer_path, "cleanup", *sc.target_args(), "--mongo-uri",
                             uri, *extra])
        if rc != 0:
            fail(f"cleanup through the proxy: expected exit 0, actual {rc}\n{out}")
        sc.start_worker("--mongo-uri", uri, *extra)
        wait_until("the cleanup job finished and its playbacks deleted",
                   lambda: (db.jobs.find_one({"kind": "cleanup", "state": "finished"})
                            and db.playbacks.count_documents({}) == 0),
                   90, on_timeout=lambda: fleet.logs())
        sc.stop_workers()
    finally:
        proxy.stop()
    writes = [w for w in proxy.writes if w[1] == sc.db]
    kinds = {w[0] for w in writes}
    for kind in ("insert", "update", "delete"):
        if kind not in kinds:
            fail(f"{extra or 'defaults'}: expected the programs to send {kind} commands, actual "
                 f"only {sorted(kinds)}")
    bad = [w for w in writes if w[2] != want]
    if bad or proxy.compressed:
        fail(f"{extra or 'defaults'}: expected every write command with writeConcern {want}, "
             f"actual {len(bad)} of {len(writes)} without it (and {proxy.compressed} compressed "
             f"messages), e.g. " + "; ".join(f"{w[0]} on {w[1]}: {w[2]}" for w in bad[:6]))
    log(f"ok   {extra or 'defaults'}: {len(writes)} write commands "
        f"({', '.join(sorted(kinds))}), each with writeConcern {want}")


def body(fleet, client, dbs):
    run_case(fleet, client, dbs, 1, [], {"w": "majority", "wtimeout": 10000})
    run_case(fleet, client, dbs, 2, ["--write-concern", "1", "--write-timeout", "2500"],
             {"w": 1, "wtimeout": 2500})


def main():
    return it_fleet.run_main("worker_write_concern_it", body)


if __name__ == "__main__":
    sys.exit(main())
