#!/usr/bin/env python3
"""joytify-loadtest bench at a small scale on the real stack (no timing assertions): it exits 0,
every run of a job left the same final state (the guard's verdict in report.md and results.csv),
the fingerprints it compared are the database's (the last cleanup run's playbacks counted again
here), every variant has its row, and the report, the CSV and the three PNG plots are written;
`--jobs cleanup` runs that job alone; `--reuse-data` generates again a dataset a cleanup ran
on and keeps one the statistics job alone left whole. The cost columns: users and the fleet's database
requests, requests and users documents read per user (from the workers' counters: empty when the
worker does not export them, never a made-up number), the workers' peak RSS; the plots' value
axes start at zero, time_by_workers draws the floor, the baseline and ideal scaling, and
cost_per_user.png is drawn.
Runs under the project venv (pymongo)."""

import csv
import os
import subprocess
import sys
import tempfile

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import it_fleet  # noqa: E402

it_fleet.require_venv(__file__)

from it_fleet import fail, log  # noqa: E402


COST_COLUMNS = ["users", "playbacks_per_user", "history_months", "db_requests",
                "db_requests_per_user", "users_read_per_user", "users_per_task",
                "playback_reads"]


def exported(metric):
    """Whether this tree's worker exports the metric (its name in the metrics module)."""
    path = os.path.join(it_fleet.env("JT_SOURCE_DIR"), "common", "jt_metrics.c")
    with open(path, encoding="utf-8") as f:
        return metric in f.read()


def check_costs(rows):
    header = list(rows[0])
    if header[:10] != ["job", "variant", "workers", "seconds", "documents", "documents_per_s",
                       "peak_rss_mb", "cpu_s", "state_ok", "state"] or \
            header[10:] != COST_COLUMNS:
        fail(f"results.csv: expected the old columns in place then {COST_COLUMNS}, actual "
             f"{header}")
    counted = {"db_requests": exported("joytify_db_requests_total"),
               "users_read_per_user": exported("joytify_users_read_total")}
    for x in rows:
        fleet_row = x["variant"] == "fleet"
        if x["users"] != "50" or x["playbacks_per_user"] != "100" or x["history_months"] != "0":
            fail(f"results.csv {x['job']} {x['variant']}: expected users 50, 100 playbacks per "
                 f"user, no history, actual {x['users']}, {x['playbacks_per_user']}, "
                 f"{x['history_months']}")
        if x["users_per_task"] != "20" or x["playback_reads"] != "per-user":
            fail(f"results.csv {x['job']} {x['variant']}: expected users_per_task 20 (given) and "
                 f"playback_reads per-user (the default), actual {x['users_per_task']}, "
                 f"{x['playback_reads']}")
        for col, known in counted.items():
            want_number = fleet_row and known
            if (x[col] != "") != want_number:
                fail(f"results.csv {x['job']} {x['variant']} {x['workers']}: expected "
                     f"{col} {'a number' if want_number else 'empty'}, actual {x[col]!r}")
        if fleet_row and x["db_requests"] != "":
            want = int(x["db_requests"]) / 50
            if int(x["db_requests"]) <= 0 or abs(float(x["db_requests_per_user"]) - want) > 1e-6:
                fail(f"results.csv {x['job']} fleet {x['workers']}: expected db_requests > 0 "
                     f"and db_requests_per_user = db_requests / 50 = {want}, actual "
                     f"{x['db_requests']}, {x['db_requests_per_user']}")
        if fleet_row and float(x["peak_rss_mb"]) <= 0:
            fail(f"results.csv {x['job']} fleet {x['workers']}: expected the workers' peak RSS, "
                 f"actual {x['peak_rss_mb']}")
    log(f"results.csv: cost columns {COST_COLUMNS}; requests counted: {counted}")


def check_plots(out):
    """Every plot in plots.gp and cost_per_user.gp starts its value axes at zero; the time plot
    has its reference lines."""
    for name in ("plots.gp", "cost_per_user.gp"):
        with open(os.path.join(out, name), encoding="utf-8") as f:
            script = f.read()
        for part in script.split("set output ")[1:]:
            png = part.split("\n", 1)[0]
            if "set yrange [0:*]" not in part:
                fail(f"{name}, {png}: expected its value axis from zero (set yrange [0:*])\n"
                     f"{part}")
            if "y2" in part and "set y2range [0:*]" not in part:
                fail(f"{name}, {png}: expected its second value axis from zero\n{part}")
    with open(os.path.join(out, "plots.gp"), encoding="utf-8") as f:
        script = f.read()
    for needle in ("statistics floor", "statistics baseline", "statistics, ideal",
                   "cleanup floor", "cleanup baseline", "cleanup, ideal"):
        if needle not in script:
            fail(f"plots.gp: expected the reference line {needle!r}\n{script}")


def body(fleet, client, dbs):
    db = f"jt_it_bench_{os.getpid()}"
    dbs.append(db)
    out = tempfile.mkdtemp(prefix="jt-bench-", dir=fleet.logdir)
    argv = [os.path.join(fleet.build_dir, "loadtest", "joytify-loadtest"), "bench", "--users",
            "50", "--playbacks-per-user", "100", "--workers", "1,2", "--shards", "4", "--out", out,
            "--users-per-task", "20",
            "--db", db, "--brokers", fleet.brokers, "--mongo-uri", fleet.mongo_uri]
    log("$ " + " ".join(argv))
    r = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=540)
    text = r.stdout.decode("utf-8", "replace")
    log(text)
    if r.returncode != 0:
        fail(f"bench: expected exit 0, actual {r.returncode}")
    with open(os.path.join(out, "results.csv"), encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    got = [(x["job"], x["variant"], x["workers"]) for x in rows]
    want = [("insert", "raw", "0"), ("generate", "generator", "0"), ("stats", "fleet", "1"),
            ("stats", "fleet", "2"), ("stats", "floor", "0"), ("stats", "baseline", "0"),
            ("cleanup", "floor", "0"), ("cleanup", "baseline", "0"), ("cleanup", "fleet", "1"),
            ("cleanup", "fleet", "2")]
    if got != want:
        fail(f"results.csv: expected rows {want}, actual {got}")
    for job in ("stats", "cleanup"):
        states = {x["state"] for x in rows if x["job"] == job}
        if len(states) != 1 or any(x["state_ok"] != "yes" for x in rows if x["job"] == job):
            fail(f"results.csv: expected one final state for every {job} run, actual {states}")
    stats_state = next(x["state"] for x in rows if x["job"] == "stats")
    if not stats_state.startswith("entries 50 ") or "notified 0 " in stats_state:
        fail(f"expected 50 users with an entry and some notified, actual {stats_state!r}")
    last = rows[-1]["state"]
    left = client[db].playbacks.count_documents({})
    if f"playbacks {left} (0 older than the cutoff)" not in last:
        fail(f"the guard's last state {last!r} does not match the database: {left} playbacks")
    if left != 5000 - int(rows[-1]["documents"]) or int(rows[-1]["documents"]) == 0:
        fail(f"expected deleted + left = 5000 generated, actual {rows[-1]['documents']} + {left}")
    with open(os.path.join(out, "report.md"), encoding="utf-8") as f:
        report = f.read()
    for needle in ("every run of a job left the same state", "| fleet, 2 workers |",
                   "## Targets", "worker peak RSS ≤ 64 MB"):
        if needle not in report:
            fail(f"report.md: expected {needle!r}\n{report}")
    check_costs(rows)
    check_plots(out)
    for png in ("time_by_workers.png", "throughput.png", "rss.png", "cost_per_user.png"):
        with open(os.path.join(out, png), "rb") as f:
            head = f.read(8)
        if head != b"\x89PNG\r\n\x1a\n" or os.path.getsize(os.path.join(out, png)) < 2000:
            fail(f"{png}: expected a PNG plot, actual {head!r}")
    log(f"bench: {len(rows)} rows, one final state per job, report and plots in {out}")

    # --reuse-data after runs that deleted playbacks: the dataset is not whole, so it is
    # generated again; the statistics job alone leaves it whole.
    out3 = tempfile.mkdtemp(prefix="jt-bench-stats-", dir=fleet.logdir)
    argv3 = [a if a != out else out3 for a in argv] + ["--jobs", "stats", "--reuse-data"]
    argv3[argv3.index("1,2")] = "1"
    r = subprocess.run(argv3, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=540)
    text3 = r.stdout.decode("utf-8", "replace")
    log(text3)
    with open(os.path.join(out3, "results.csv"), encoding="utf-8") as f:
        rows3 = list(csv.DictReader(f))
    got3 = [(x["job"], x["variant"], x["workers"]) for x in rows3]
    want3 = [("insert", "raw", "0"), ("generate", "generator", "0"), ("stats", "fleet", "1"),
             ("stats", "floor", "0"), ("stats", "baseline", "0")]
    if r.returncode != 0 or got3 != want3 or f"holds {left} playbacks, not 5000" not in text3:
        fail(f"bench --jobs stats --reuse-data after a cleanup: expected exit 0, 'holds {left} "
             f"playbacks, not 5000' and rows {want3}, actual {r.returncode}, {got3}")
    log("bench --reuse-data: a dataset a cleanup ran on is generated again")

    # One job alone (a full-scale run split over two sittings), on the kept dataset: its rows,
    # no generation, the other's targets named as not measured, and the same guard.
    out2 = tempfile.mkdtemp(prefix="jt-bench-cleanup-", dir=fleet.logdir)
    argv2 = [a if a != out else out2 for a in argv] + ["--jobs", "cleanup", "--reuse-data"]
    argv2[argv2.index("1,2")] = "1"
    r = subprocess.run(argv2, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=540)
    text2 = r.stdout.decode("utf-8", "replace")
    log(text2)
    with open(os.path.join(out2, "results.csv"), encoding="utf-8") as f:
        rows2 = list(csv.DictReader(f))
    got2 = [(x["job"], x["variant"], x["workers"]) for x in rows2]
    want2 = [("insert", "raw", "0"), ("cleanup", "floor", "0"), ("cleanup", "baseline", "0"),
             ("cleanup", "fleet", "1")]
    if r.returncode != 0 or got2 != want2 or "--reuse-data: keeping the dataset" not in text2:
        fail(f"bench --jobs cleanup --reuse-data: expected exit 0, the dataset kept and rows "
             f"{want2}, actual {r.returncode}, {got2}")
    if {x["state"] for x in rows2 if x["job"] == "cleanup"} != {last}:
        fail(f"bench --jobs cleanup: expected every run to end in {last!r}, actual "
             f"{[x['state'] for x in rows2]}")
    with open(os.path.join(out2, "report.md"), encoding="utf-8") as f:
        report2 = f.read()
    if "statistics, 1 worker ≤ 1.1 × the floor: not measured in this run" not in report2:
        fail(f"bench --jobs cleanup: expected the statistics targets not measured\n{report2}")
    if "kept from an earlier bench's generation" not in report2:
        fail(f"bench --jobs cleanup --reuse-data: expected the report to say the dataset was "
             f"kept\n{report2}")
    rc = subprocess.run(argv2[:-2] + ["bogus"], stdout=subprocess.DEVNULL,
                        stderr=subprocess.DEVNULL).returncode
    if rc != 2:
        fail(f"bench --jobs bogus: expected exit 2, actual {rc}")
    log("bench --jobs cleanup --reuse-data: the dataset kept, its rows only, the same final "
        "state, statistics targets not measured; a bad --jobs exits 2")


if __name__ == "__main__":
    sys.exit(it_fleet.run_main("loadtest_bench_it", body))
